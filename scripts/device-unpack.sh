# Sourced by the device-*.sh scripts on the GPU machine: unpacks the
# binaries carried in .carry/ (xz, by scripts/build-portable.sh) into
# /tmp/tessel-bin and starts from an empty kernel and tuning cache. The
# machine has python3 but not necessarily xz.
OUT=${OUT:-/tmp/tessel-out}
mkdir -p "$OUT" /tmp/tessel-bin
for f in .carry/*.xz; do
  name=$(basename "$f" .xz)
  python3 -c "import lzma,sys; open(sys.argv[2],'wb').write(lzma.open(sys.argv[1]).read())" "$f" "/tmp/tessel-bin/$name"
  chmod +x "/tmp/tessel-bin/$name"
done
export TESSEL_CACHE_DIR=/tmp/tessel-cache
rm -rf "$TESSEL_CACHE_DIR"
