#!/usr/bin/env bash
# Lowers every Lightning kernel at the configuration heuristicConfig picks
# (B=8, N=8192, H=16 on 132 SMs) for D = E = 64, 128 and 256, on sm_90a and
# sm_80 — and the chained split (opt-in, TESSEL_SPLIT=chained) at 64 and 128,
# where it runs — assembles it with `ptxas -v`, prints registers and spills,
# and exits 1 when any kernel has a stack frame or spills.
# Usage: ptxas_no_spills.sh <tessel> <ptxas> <scratch dir>
set -uo pipefail
tessel=$1 ptxas=$2 dir=$3
status=0
# check <kernel> <D = E> <arch>: one line, status 1 on a frame or spills.
check() {
  local kernel=$1 d=$2 arch=$3 out="$dir/$1-$2-$3"
  rm -rf "$out"
  if ! TESSEL_DUMP_IR="$out" "$tessel" compile "$kernel" --dk $d --dv $d \
       --heuristic-for 8,8192,16 --arch $arch --aligned > /dev/null 2>&1; then
    echo "$kernel D=E=$d $arch: compile failed"; status=1; return
  fi
  local info regs frame
  info=$("$ptxas" -v -arch=$arch "$out"/*.ptx -o "$out/k.cubin" 2>&1)
  regs=$(echo "$info" | grep -o "Used [0-9]* registers")
  frame=$(echo "$info" | grep -o "[0-9]* bytes stack frame, [0-9]* bytes spill stores, [0-9]* bytes spill loads")
  echo "$kernel D=E=$d $arch: $regs, $frame"
  if [ "$frame" != "0 bytes stack frame, 0 bytes spill stores, 0 bytes spill loads" ]; then
    status=1
  fi
}
for d in 64 128 256; do
  for kernel in lightning_fwd lightning_bwd_dq lightning_bwd_dk lightning_bwd_dv lightning_bwd_dkdv; do
    for arch in sm_90a sm_80; do
      check $kernel $d $arch
    done
  done
done
for d in 64 128; do
  for arch in sm_90a sm_80; do
    check lightning_fwd_chained $d $arch
  done
done
exit $status
