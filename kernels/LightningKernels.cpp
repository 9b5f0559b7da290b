// Lightning Attention-2 in the DSL. Block form (docs/design.md §1), block b of C
// rows (L = its real length, L < C only for the last block), λ = exp(-s):
//
//   O_b      = [(Q_b K_bᵀ) ⊙ M] V_b + Λ_q Q_b KV_b      M_ij = λ^(i−j), i ≥ j
//   KV_{b+1} = λ^L KV_b + (Λ_k K_b)ᵀ V_b               Λ_q = λ^(i+1), Λ_k = λ^(L−1−i)
//
// and backward, with G_b the gradient of KV_b swept in reverse:
//
//   dQ_b = [(dO_b V_bᵀ) ⊙ M] K_b + Λ_q dO_b KV_bᵀ
//   dK_b = [(dO_b V_bᵀ) ⊙ M]ᵀ Q_b + Λ_k V_b G_{b+1}ᵀ
//   dV_b = [(Q_b K_bᵀ) ⊙ M]ᵀ dO_b + Λ_k K_b G_{b+1}
//   G_b  = λ^L G_{b+1} + (Λ_q Q_b)ᵀ dO_b
//
// The scale multiplies q: it is applied to O, to dQ, to the intra part of dK
// and dV and to the (Λ_q Q)ᵀ dO term of G. The state is fp32 and becomes a
// 16-bit dot operand only inside dot(). The decay mask is applied by select,
// never by multiplying an overflowing λ^(i−j) by 0; rows past L get Λ = 0 by
// select as well.
#include "kernels/LightningKernels.h"

#include "kernels/ChunkedAttention.h"

namespace tessel::kernels {

using namespace dsl;

std::string PassConfig::str() const {
  return "C" + std::to_string(blockC) + "_W" + std::to_string(blockW) + "_w" +
         std::to_string(numWarps) +
         (stages > 1 ? "_p" + std::to_string(stages) : "");
}

const char *passName(LightningPass pass) {
  switch (pass) {
  case LightningPass::Forward: return "fwd";
  case LightningPass::BackwardDq: return "bwd_dq";
  case LightningPass::BackwardDk: return "bwd_dk";
  case LightningPass::BackwardDv: return "bwd_dv";
  }
  return "?";
}

PassConfig &LightningConfig::operator[](LightningPass pass) {
  switch (pass) {
  case LightningPass::Forward: return fwd;
  case LightningPass::BackwardDq: return dq;
  case LightningPass::BackwardDk: return dk;
  case LightningPass::BackwardDv: return dv;
  }
  return fwd;
}

const PassConfig &LightningConfig::operator[](LightningPass pass) const {
  return const_cast<LightningConfig &>(*this)[pass];
}

LightningConfig LightningConfig::uniform(int blockC, int blockW, int numWarps) {
  PassConfig p{blockC, blockW, numWarps};
  return {p, p, p, p};
}

std::string LightningConfig::str() const {
  auto one = [](const PassConfig &p) {
    return p.str() + (p.splits > 1 ? "_s" + std::to_string(p.splits) : "");
  };
  return "fwd:" + one(fwd) + " dq:" + one(dq) + " dk:" + one(dk) +
         " dv:" + one(dv);
}

std::string LightningSpec::str() const {
  return "d" + std::to_string(d) + "_e" + std::to_string(e) + "_" +
         dtypeName(dtype) + (initialState ? "_s0" : "") +
         (finalState ? "_sn" : "") + (gated ? "_gated" : "") + (varlen ? "_varlen" : "") +
         (anticausal ? "_anti" : "");
}

int padToPow2(int dim) {
  int p = 16;
  while (p < dim)
    p *= 2;
  return p;
}

int clampBlock(int block, int dim) {
  int padded = padToPow2(dim);
  return block < padded ? block : padded;
}

int columnBlocks(int block, int dim) {
  int width = clampBlock(block, dim);
  return (dim + width - 1) / width;
}

bool dkdvFused(const LightningSpec &spec, const PassConfig &cfg) {
  return columnBlocks(cfg.blockW, spec.d) == 1 &&
         columnBlocks(cfg.blockW, spec.e) == 1;
}

int dkdvPrograms(const LightningSpec &spec, const PassConfig &cfg) {
  return dkdvFused(spec, cfg) ? 1
                              : columnBlocks(cfg.blockW, spec.d) +
                                    columnBlocks(cfg.blockW, spec.e);
}

llvm::Error validateConfig(const PassConfig &c, llvm::StringRef where) {
  auto check = [&](int v, const char *name) -> llvm::Error {
    if (v < 16 || v > 256 || (v & (v - 1)) != 0)
      return llvm::createStringError(
          where.str() + "." + name +
          " must be a power of two in [16, 256], got " + std::to_string(v));
    return llvm::Error::success();
  };
  if (auto e = check(c.blockC, "blockC")) return e;
  if (auto e = check(c.blockW, "blockW")) return e;
  if (c.numWarps < 1 || c.numWarps > 16 || (c.numWarps & (c.numWarps - 1)))
    return llvm::createStringError(
        where.str() + ".numWarps must be 1, 2, 4, 8 or 16, got " +
        std::to_string(c.numWarps));
  if (c.stages < 1 || c.stages > 8)
    return llvm::createStringError(where.str() +
                                   ".stages must be in [1, 8], got " +
                                   std::to_string(c.stages));
  if (c.splits < 1 || c.splits > 4096)
    return llvm::createStringError(where.str() +
                                   ".splits must be in [1, 4096], got " +
                                   std::to_string(c.splits));
  return llvm::Error::success();
}

llvm::Error validateConfig(const LightningConfig &c) {
  for (auto [field, name] : {std::pair{&c.fwd, "fwd"}, {&c.dq, "dq"},
                             {&c.dk, "dk"}, {&c.dv, "dv"}})
    if (auto e = validateConfig(*field, std::string("LightningConfig.") + name))
      return e;
  return llvm::Error::success();
}

std::string kernelName(const char *pass, const LightningSpec &spec,
                       const PassConfig &cfg) {
  return std::string("lightning_") + pass + "_" + spec.str() + "_" + cfg.str();
}

llvm::Error validateSpec(const LightningSpec &spec) {
  for (int dim : {spec.d, spec.e})
    if (dim < 16 || dim > 256 || dim % 16 != 0)
      return llvm::createStringError(
          "Lightning head dimensions must be multiples of 16 in [16, 256], "
          "got d=" + std::to_string(spec.d) + ", e=" + std::to_string(spec.e));
  if (!isFloat(spec.dtype))
    return llvm::createStringError(std::string("Lightning dtype must be bf16, "
                                               "f16 or f32, got ") +
                                   dtypeName(spec.dtype));
  return llvm::Error::success();
}

namespace {

/// A gated (simple GLA) or variable-length kernel sweeps whole sequences:
/// the segment scan decays by a slope over segments of one length.
llvm::Error wholeSequences(const LightningSpec &spec, bool full) {
  if (spec.anticausal && (spec.initialState || spec.finalState))
    return llvm::createStringError(
        "an anti-causal kernel takes no states: non-causal attention has no "
        "state to start from or hand on");
  if (full || (!spec.gated && !spec.varlen && !spec.anticausal))
    return llvm::Error::success();
  return llvm::createStringError(
      std::string("a ") +
      (spec.gated      ? "simple GLA (gated)"
       : spec.varlen   ? "variable-length"
                       : "anti-causal") +
      " kernel sweeps whole sequences: its segment scan is not built yet");
}

} // namespace

namespace {

/// A sweep over the sequence and its two sequence-split halves.
enum class ForwardPart {
  /// One program per (b, h, column block) over the whole sequence.
  Full,
  /// Per segment: the state (or state-gradient) contribution of its rows
  /// from zero.
  SegmentStates,
  /// Per segment: outputs, from the segment's incoming state.
  SegmentOutputs,
  /// Per segment, all in one launch: the state contribution from zero, the
  /// incoming state handed on by the segment before through a flag (a
  /// chained scan), the next segment's handed on, then the outputs.
  SegmentChained,
};

/// What a segment program knows: its slot in the states buffer. Segment seg
/// of (b, h) owns slot bh·S + seg. A program that reads its incoming state
/// (SegmentOutputs) may follow a state pass run at a finer split, k fine
/// segments per segment: its state is then in fine slot (bh·S + seg)·k +
/// offset, the fine segment starting where it starts (offset 0, forward
/// scans) or ending where it ends (offset k − 1, reverse scans).
struct SegmentArgs {
  Tile states, segLen, slot;
  /// Pointers to rows `r`, columns `c` of this program's d×e slot.
  Tile ptrs(int d, int e, const Tile &r, const Tile &c) const {
    return states + slot.to(DType::i64) * (int64_t(d) * e) + column(r * e) +
           row(c);
  }
};

/// Declares the segment arguments (after the pass's pointers and ChunkSweep's
/// scalars) and restricts `cm` to segment programId(2).
SegmentArgs segmentArgs(KernelBuilder &kb, ChunkSweep &cm, Tile states,
                        ForwardPart part) {
  SegmentArgs a;
  a.states = states;
  a.segLen = kb.scalarArg("segment_len", DType::i32);
  Tile seg = programId(2);
  cm.segment(seg, a.segLen);
  a.slot = cm.bh * numPrograms(2) + seg;
  if (part == ForwardPart::SegmentOutputs) {
    Tile stride = kb.scalarArg("state_slot_stride", DType::i32);
    Tile offset = kb.scalarArg("state_slot_offset", DType::i32);
    a.slot = a.slot * stride + offset;
  }
  return a;
}

llvm::Expected<Kernel> buildForward(const LightningSpec &spec,
                                    const PassConfig &cfg, ForwardPart part) {
  if (auto err = validateSpec(spec)) return std::move(err);
  if (auto err = validateConfig(cfg, "PassConfig")) return std::move(err);
  const int D = spec.d, E = spec.e, BE = clampBlock(cfg.blockW, E);
  const int DP = padToPow2(D);
  const DType T = spec.dtype;
  const bool full = part == ForwardPart::Full;
  const bool chained = part == ForwardPart::SegmentChained;
  if (auto err = wholeSequences(spec, full)) return std::move(err);
  const bool outputs = part != ForwardPart::SegmentStates;
  // The whole sweep and the chained split take the caller's states; the
  // other split kernels read and write the states buffer instead.
  const bool ownStates = full || chained;

  const char *name = full      ? "fwd"
                     : chained ? "fwd_segment_chained"
                     : outputs ? "fwd_segment_outputs"
                               : "fwd_segment_states";
  LightningSpec named = spec;
  if (!ownStates)
    named.initialState = named.finalState = false;
  KernelBuilder kb(kernelName(name, named, cfg));
  kb.setNumStages(cfg.stages);
  Tile q = outputs ? kb.ptrArg("q", T) : Tile();
  Tile k = kb.ptrArg("k", T), v = kb.ptrArg("v", T);
  Tile o = outputs ? kb.ptrArg("o", T) : Tile();
  // Per-head slopes, or a simple GLA's per-token gates (ChunkSweep).
  Tile slopes = kb.ptrArg(spec.gated ? "gates" : "slopes", DType::f32);
  Tile s0 = ownStates && spec.initialState
                ? kb.ptrArg("initial_state", DType::f32)
                : Tile();
  Tile sN = ownStates && spec.finalState ? kb.ptrArg("final_state", DType::f32)
                                         : Tile();
  Tile states = full ? Tile() : kb.ptrArg("segment_states", DType::f32);
  Tile flags = chained ? kb.ptrArg("segment_flags", DType::i64) : Tile();
  ChunkSweep cm(kb, spec, cfg, slopes, columnBlocks(cfg.blockW, E));
  SegmentArgs seg = full      ? SegmentArgs{}
                    : chained ? segmentArgs(kb, cm, states, ForwardPart::SegmentStates)
                              : segmentArgs(kb, cm, states, part);
  Tile flagBase = chained ? kb.scalarArg("flag_base", DType::i64) : Tile();
  Strides sq = outputs ? strideArgs(kb, "q") : Strides{};
  Strides sk = strideArgs(kb, "k"), sv = strideArgs(kb, "v");
  Strides so = outputs ? strideArgs(kb, "o") : Strides{};

  Tile dcols = arange(0, DP);
  Tile dMask = dcols < D;
  Tile ecols = cm.colBlock * BE + arange(0, BE);
  Tile eMask = ecols < E;
  Tile qBase = outputs ? cm.base(q, sq) : Tile();
  Tile oBase = outputs ? cm.base(o, so) : Tile();
  Tile kBase = cm.base(k, sk), vBase = cm.base(v, sv);
  Tile stateMask = column(dMask) & row(eMask);

  // The sweep over `blocks` blocks from state `kv0`: each block's outputs
  // (intra-block plus the carried state's) when `withOutputs`, and the
  // state after the last block.
  auto sweep = [&](Tile kv0, Tile blocks, bool withOutputs) {
    auto out = kb.forRange(0, blocks, {kv0}, [&](Tile blk, auto carried) {
      Tile kv = carried[0];
      auto bl = cm.block(cm.order(blk, /*reverse=*/false));
      Tile ioMask = column(bl.rowMask) & row(eMask);
      Tile qkMask = column(bl.rowMask) & row(dMask);
      Tile kb_ = load(cm.ptrs(kBase, sk.row, bl.rowIdx, dcols), qkMask);
      Tile vb = load(cm.ptrs(vBase, sv.row, bl.rowIdx, ecols), ioMask);
      if (withOutputs) {
        Tile qb = load(cm.ptrs(qBase, sq.row, bl.rowIdx, dcols), qkMask);
        Tile scores = dot(qb, trans(kb_)) * bl.intraDecay;
        Tile intra = dot(scores.to(T), vb);
        Tile inter = dot(qb, kv.to(T)) * column(bl.qDecay);
        cm.storeOut(cm.ptrs(oBase, so.row, bl.rowIdx, ecols),
                    (intra + inter) * cm.scale, ioMask);
      }
      return std::vector<Tile>{kv * bl.blockDecay +
                               cm.weightedUpdate(kb_, vb, bl.kDecay)};
    });
    return out[0];
  };
  Tile zero = zeros({DP, BE}, DType::f32);

  if (chained) {
    // Segment s of chain c (this (b, h) and block of columns) hands S_(s+1)
    // = λ^len S_s + U_s to segment s + 1 through slot (s + 1) mod 2 of the
    // (b, h)'s two in `segment_states` and flag c, which counts the
    // incoming states handed on in this launch from flag_base. Segments
    // are grid z, so segment s − 1 starts before s (tile.wait_flag). Two
    // slots suffice: S_(s+2) is written after segment s + 1 has read
    // S_(s+1), which segment s wrote only after reading S_s.
    Tile segIdx = programId(2), segments = numPrograms(2);
    Tile notLast = segIdx < segments - 1;
    // U_s, from zero; the last segment's only feeds the final state.
    Tile u = sweep(zero, spec.finalState ? cm.numBlocks
                                         : where(notLast, cm.numBlocks, 0),
                   /*withOutputs=*/false);
    Tile flag = flags + programId(0);
    Tile notFirst = segIdx > 0;
    waitFlag(flag, where(notFirst, flagBase + segIdx.to(DType::i64),
                         scalar(0, DType::i64)));
    auto slotPtrs = [&](const Tile &index) {
      SegmentArgs ring = seg;
      ring.slot = cm.bh * 2 + index % 2;
      return ring.ptrs(D, E, dcols, ecols);
    };
    Tile kv0 = load(slotPtrs(segIdx), stateMask & notFirst);
    if (spec.initialState)
      kv0 = kv0 + load(cm.statePtrs(s0, D, E, dcols, ecols),
                       stateMask & eq(segIdx, 0));
    Tile len = (cm.end - cm.first).to(DType::f32);
    Tile next = kv0 * exp(-cm.s * len) + u;
    store(slotPtrs(segIdx + 1), next, stateMask & notLast);
    kb.ifThen(notLast, [&] {
      signalFlag(flag, flagBase + (segIdx + 1).to(DType::i64));
    });
    if (spec.finalState)
      store(cm.statePtrs(sN, D, E, dcols, ecols), next,
            stateMask & eq(segIdx, segments - 1));
    sweep(kv0, cm.numBlocks, /*withOutputs=*/true);
    return kb.finish();
  }

  Tile kv0 = part == ForwardPart::SegmentOutputs
                 ? load(seg.ptrs(D, E, dcols, ecols), stateMask)
             : full && spec.initialState
                 ? load(cm.statePtrs(s0, D, E, dcols, ecols), stateMask)
                 : zero;
  Tile out = sweep(kv0, cm.numBlocks, outputs);
  if (full && spec.finalState)
    store(cm.statePtrs(sN, D, E, dcols, ecols), out, stateMask);
  if (part == ForwardPart::SegmentStates)
    store(seg.ptrs(D, E, dcols, ecols), out, stateMask);
  return kb.finish();
}

} // namespace

llvm::Expected<Kernel> buildLightningForward(const LightningSpec &spec,
                                             const PassConfig &cfg) {
  return buildForward(spec, cfg, ForwardPart::Full);
}

llvm::Expected<Kernel> buildLightningSegmentStates(const LightningSpec &spec,
                                                   const PassConfig &cfg) {
  return buildForward(spec, cfg, ForwardPart::SegmentStates);
}

llvm::Expected<Kernel> buildLightningSegmentOutputs(const LightningSpec &spec,
                                                    const PassConfig &cfg) {
  return buildForward(spec, cfg, ForwardPart::SegmentOutputs);
}

llvm::Expected<Kernel> buildLightningSegmentChained(const LightningSpec &spec,
                                                    const PassConfig &cfg) {
  return buildForward(spec, cfg, ForwardPart::SegmentChained);
}

llvm::Expected<Kernel> buildLightningStateScan(const LightningSpec &spec,
                                               bool reverse) {
  if (auto err = validateSpec(spec)) return std::move(err);
  const int64_t DE = int64_t(spec.d) * spec.e;
  constexpr int kBlock = 1024;
  KernelBuilder kb(std::string("lightning_state_scan") +
                   (reverse ? "_reverse_" : "_") + spec.str());
  Tile states = kb.ptrArg("segment_states", DType::f32);
  Tile slopes = kb.ptrArg("slopes", DType::f32);
  // Forward: S0 in, S_N out. Reverse: dS_N in, dS0 out.
  bool hasIn = reverse ? spec.finalState : spec.initialState;
  bool hasOut = reverse ? spec.initialState : spec.finalState;
  Tile s0 = hasIn ? kb.ptrArg(reverse ? "d_final_state" : "initial_state",
                              DType::f32)
                  : Tile();
  Tile sN = hasOut ? kb.ptrArg(reverse ? "d_initial_state" : "final_state",
                               DType::f32)
                   : Tile();
  Tile n = kb.scalarArg("n", DType::i32);
  Tile heads = kb.scalarArg("heads", DType::i32);
  Tile segLen = kb.scalarArg("segment_len", DType::i32);
  Tile segments = kb.scalarArg("segments", DType::i32);

  Tile bh = programId(0);
  Tile s = load(slopes + bh % heads);
  Tile idx = programId(1) * kBlock + arange(0, kBlock);
  Tile mask = idx < DE;
  Tile own = bh.to(DType::i64) * DE + idx.to(DType::i64);
  Tile first = hasIn ? load(s0 + own, mask) : zeros({kBlock}, DType::f32);
  // In place: slot seg holds segment seg's contribution U_seg on entry and
  // its incoming state S_seg on exit; S_next = λ^len S_seg + U_seg, the
  // next segment being seg + 1 (forward) or seg − 1 (reverse, for the
  // gradient G swept from the end).
  auto out = kb.forRange(0, segments, {first}, [&](Tile i, auto carried) {
    Tile seg = reverse ? segments - 1 - i : i;
    Tile state = carried[0];
    Tile ptrs = states + (bh * segments + seg).to(DType::i64) * DE +
                idx.to(DType::i64);
    Tile contribution = load(ptrs, mask);
    store(ptrs, state, mask);
    // A refined state pass has S·k fine segments where fewer cover n: those
    // past the end hold zeros and must not decay (len 0, not negative).
    Tile len = maximum(minimum(n - seg * segLen, segLen), 0).to(DType::f32);
    return std::vector<Tile>{state * exp(-s * len) + contribution};
  });
  if (hasOut)
    store(sN + own, out[0], mask);
  return kb.finish();
}

namespace {

/// The spec a segment kernel is named by: its states come from the segment
/// buffer, not from the pass's state arguments.
LightningSpec segmentSpec(LightningSpec spec, ForwardPart part) {
  if (part != ForwardPart::Full)
    spec.initialState = spec.finalState = false;
  return spec;
}

const char *partSuffix(ForwardPart part) {
  return part == ForwardPart::Full            ? ""
         : part == ForwardPart::SegmentStates ? "_segment_states"
                                              : "_segment_outputs";
}

llvm::Expected<Kernel> buildDq(const LightningSpec &spec, const PassConfig &cfg,
                               ForwardPart part) {
  if (auto err = validateSpec(spec)) return std::move(err);
  if (auto err = validateConfig(cfg, "PassConfig")) return std::move(err);
  const int D = spec.d, E = spec.e, BD = clampBlock(cfg.blockW, D);
  const DType T = spec.dtype;
  const bool full = part == ForwardPart::Full;
  if (auto err = wholeSequences(spec, full)) return std::move(err);

  KernelBuilder kb(kernelName((std::string("bwd_dq") + partSuffix(part)).c_str(),
                              segmentSpec(spec, part), cfg));
  kb.setNumStages(cfg.stages);
  Tile k = kb.ptrArg("k", T), v = kb.ptrArg("v", T), dO = kb.ptrArg("do", T),
       dq = kb.ptrArg("dq", T);
  // Simple GLA: q for the gate-gradient terms q·dq (GateRows).
  const bool gateRows = full && spec.gated;
  Tile q = gateRows ? kb.ptrArg("q", T) : Tile();
  Tile slopes = kb.ptrArg(spec.gated ? "gates" : "slopes", DType::f32);
  Tile s0 = full && spec.initialState ? kb.ptrArg("initial_state", DType::f32)
                                      : Tile();
  // Simple GLA with dS_N: the gate gradient needs ⟨S_N, dS_N⟩, and this
  // sweep has S_N at its end (each program its rows dcols).
  const bool writesFinal = full && spec.gated && spec.finalState;
  Tile sN = writesFinal ? kb.ptrArg("final_state", DType::f32) : Tile();
  Tile states = full ? Tile() : kb.ptrArg("segment_states", DType::f32);
  ChunkSweep cm(kb, spec, cfg, slopes, columnBlocks(cfg.blockW, D));
  SegmentArgs seg = full ? SegmentArgs{} : segmentArgs(kb, cm, states, part);
  Strides sk = strideArgs(kb, "k"), sv = strideArgs(kb, "v"),
          sdo = strideArgs(kb, "do"), sdq = strideArgs(kb, "dq");
  Strides sq = gateRows ? strideArgs(kb, "q") : Strides{};
  GateRows rowsOut = gateRows ? GateRows::args(kb) : GateRows{};

  Tile dcols = cm.colBlock * BD + arange(0, BD);
  Tile dMask = dcols < D;
  Tile ecols = arange(0, padToPow2(E));
  Tile eMask = ecols < E;
  Tile kBase = cm.base(k, sk), vBase = cm.base(v, sv), doBase = cm.base(dO, sdo),
       dqBase = cm.base(dq, sdq);
  Tile qBase = gateRows ? cm.base(q, sq) : Tile();

  // KV[dcols, :] (BD × E): dq's columns only need these rows of the state.
  Tile kv0 = !full ? load(seg.ptrs(D, E, dcols, ecols), column(dMask) & row(eMask))
             : spec.initialState
                 ? load(cm.statePtrs(s0, D, E, dcols, ecols),
                        column(dMask) & row(eMask))
                 : zeros({BD, padToPow2(E)}, DType::f32);
  auto out = kb.forRange(0, cm.numBlocks, {kv0}, [&](Tile blk, auto carried) {
    Tile kv = carried[0];
    auto bl = cm.block(cm.order(blk, /*reverse=*/false));
    Tile kMask = column(bl.rowMask) & row(dMask);
    Tile vMask = column(bl.rowMask) & row(eMask);
    Tile kb_ = load(cm.ptrs(kBase, sk.row, bl.rowIdx, dcols), kMask);
    Tile vb = load(cm.ptrs(vBase, sv.row, bl.rowIdx, ecols), vMask);
    Tile dob = load(cm.ptrs(doBase, sdo.row, bl.rowIdx, ecols), vMask);

    Tile dScores = dot(dob, trans(vb)) * bl.intraDecay;
    Tile intra = dot(dScores.to(T), kb_);
    Tile inter = dot(dob, trans(kv).to(T)) * column(bl.qDecay);
    Tile dqb = (intra + inter) * cm.scale;
    cm.storeOut(cm.ptrs(dqBase, sdq.row, bl.rowIdx, dcols), dqb, kMask);
    if (gateRows)
      rowsOut.store(cm, bl, load(cm.ptrs(qBase, sq.row, bl.rowIdx, dcols), kMask),
                    dqb, /*negate=*/false);

    return std::vector<Tile>{kv * bl.blockDecay +
                             cm.weightedUpdate(kb_, vb, bl.kDecay)};
  });
  if (writesFinal)
    store(cm.statePtrs(sN, D, E, dcols, ecols), out[0],
          column(dMask) & row(eMask));
  return kb.finish();
}

} // namespace

llvm::Expected<Kernel> buildLightningBackwardDq(const LightningSpec &spec,
                                                const PassConfig &cfg) {
  return buildDq(spec, cfg, ForwardPart::Full);
}

llvm::Expected<Kernel> buildLightningDqSegmentOutputs(const LightningSpec &spec,
                                                      const PassConfig &cfg) {
  return buildDq(spec, cfg, ForwardPart::SegmentOutputs);
}

namespace {

/// The tensors of dk's sweep (v and dk absent for the segment state
/// gradients, which need only q and dO).
struct DkTensors {
  Tile q, v, dO, dk, dsN, ds0;
  Strides sq, sv, sdo, sdk;
  /// Simple GLA: k and the gate-gradient terms −k·dk (GateRows).
  Tile k;
  Strides sk;
  GateRows rows;
};

/// The tensors of dv's sweep.
struct DvTensors {
  Tile q, k, dO, dv, dsN;
  Strides sq, sk, sdo, sdv;
};

/// dk (or, for `SegmentStates`, the segment's state-gradient contribution)
/// for the D columns of program block cm.colBlock, swept from the last block.
void dkSweep(KernelBuilder &kb, const LightningSpec &spec, const PassConfig &cfg,
             ForwardPart part, const ChunkSweep &cm, const SegmentArgs &seg,
             const DkTensors &t) {
  const int D = spec.d, E = spec.e, BD = clampBlock(cfg.blockW, D);
  const DType T = spec.dtype;
  const bool full = part == ForwardPart::Full;
  const bool outputs = part != ForwardPart::SegmentStates;

  Tile dcols = cm.colBlock * BD + arange(0, BD);
  Tile dMask = dcols < D;
  Tile ecols = arange(0, padToPow2(E));
  Tile eMask = ecols < E;
  Tile stateMask = column(dMask) & row(eMask);
  Tile qBase = cm.base(t.q, t.sq), doBase = cm.base(t.dO, t.sdo);
  Tile vBase = outputs ? cm.base(t.v, t.sv) : Tile();
  Tile dkBase = outputs ? cm.base(t.dk, t.sdk) : Tile();
  const bool gateRows = full && spec.gated;
  Tile kBase = gateRows ? cm.base(t.k, t.sk) : Tile();

  // G[dcols, :] (BD × E), the gradient of the state after the current block.
  Tile g0 = part == ForwardPart::SegmentOutputs
                ? load(seg.ptrs(D, E, dcols, ecols), stateMask)
            : full && spec.finalState
                ? load(cm.statePtrs(t.dsN, D, E, dcols, ecols), stateMask)
                : zeros({BD, padToPow2(E)}, DType::f32);
  auto out = kb.forRange(0, cm.numBlocks, {g0}, [&](Tile i, auto carried) {
    Tile g = carried[0];
    auto bl = cm.block(cm.order(i, /*reverse=*/true));
    Tile qMask = column(bl.rowMask) & row(dMask);
    Tile vMask = column(bl.rowMask) & row(eMask);
    Tile qb = load(cm.ptrs(qBase, t.sq.row, bl.rowIdx, dcols), qMask);
    Tile dob = load(cm.ptrs(doBase, t.sdo.row, bl.rowIdx, ecols), vMask);
    if (outputs) {
      Tile vb = load(cm.ptrs(vBase, t.sv.row, bl.rowIdx, ecols), vMask);
      // The scale goes on the scores, so that the sum below folds into
      // one dot with the inter-block term as its accumulator.
      Tile dScores = dot(dob, trans(vb)) * (bl.intraDecay * cm.scale);
      Tile intra = dot(trans(dScores).to(T), qb);
      Tile inter = dot(vb, trans(g).to(T)) * column(bl.kDecay);
      Tile dkb = intra + inter;
      cm.storeOut(cm.ptrs(dkBase, t.sdk.row, bl.rowIdx, dcols), dkb, qMask);
      if (gateRows)
        t.rows.store(cm, bl,
                     load(cm.ptrs(kBase, t.sk.row, bl.rowIdx, dcols), qMask),
                     dkb, /*negate=*/true);
    }
    return std::vector<Tile>{g * bl.blockDecay +
                             cm.weightedUpdate(qb, dob, bl.qDecay * cm.scale)};
  });
  if (full && spec.initialState)
    store(cm.statePtrs(t.ds0, D, E, dcols, ecols), out[0], stateMask);
  if (part == ForwardPart::SegmentStates)
    store(seg.ptrs(D, E, dcols, ecols), out[0], stateMask);
}

/// dv for the E columns of program block cm.colBlock, swept from the last
/// block.
void dvSweep(KernelBuilder &kb, const LightningSpec &spec, const PassConfig &cfg,
             ForwardPart part, const ChunkSweep &cm, const SegmentArgs &seg,
             const DvTensors &t) {
  const int D = spec.d, E = spec.e, BE = clampBlock(cfg.blockW, E);
  const DType T = spec.dtype;
  const bool full = part == ForwardPart::Full;

  Tile dcols = arange(0, padToPow2(D));
  Tile dMask = dcols < D;
  Tile ecols = cm.colBlock * BE + arange(0, BE);
  Tile eMask = ecols < E;
  Tile qBase = cm.base(t.q, t.sq), kBase = cm.base(t.k, t.sk),
       doBase = cm.base(t.dO, t.sdo), dvBase = cm.base(t.dv, t.sdv);

  // G[:, ecols] (D × BE).
  Tile g0 = !full ? load(seg.ptrs(D, E, dcols, ecols), column(dMask) & row(eMask))
            : spec.finalState
                ? load(cm.statePtrs(t.dsN, D, E, dcols, ecols),
                       column(dMask) & row(eMask))
                : zeros({padToPow2(D), BE}, DType::f32);
  kb.forRange(0, cm.numBlocks, {g0}, [&](Tile i, auto carried) {
    Tile g = carried[0];
    auto bl = cm.block(cm.order(i, /*reverse=*/true));
    Tile ioMask = column(bl.rowMask) & row(eMask);
    Tile qkMask = column(bl.rowMask) & row(dMask);
    Tile qb = load(cm.ptrs(qBase, t.sq.row, bl.rowIdx, dcols), qkMask);
    Tile kb_ = load(cm.ptrs(kBase, t.sk.row, bl.rowIdx, dcols), qkMask);
    Tile dob = load(cm.ptrs(doBase, t.sdo.row, bl.rowIdx, ecols), ioMask);

    // Scaled before the dot so that intra + inter is one accumulation.
    Tile scores = dot(qb, trans(kb_)) * (bl.intraDecay * cm.scale);
    Tile intra = dot(trans(scores).to(T), dob);
    Tile inter = dot(kb_, g.to(T)) * column(bl.kDecay);
    cm.storeOut(cm.ptrs(dvBase, t.sdv.row, bl.rowIdx, ecols), intra + inter,
                ioMask);

    return std::vector<Tile>{g * bl.blockDecay +
                             cm.weightedUpdate(qb, dob, bl.qDecay * cm.scale)};
  });
}

/// dk and dv of one (b, h) in one reverse sweep, the whole of G (D × E) in
/// the one program (dkdvFused): each block's q, k, v and dO are loaded once,
/// the two intra-block score tiles (Q Kᵀ ⊙ M for dV, dO Vᵀ ⊙ M for dK) are
/// computed once, and G is updated once — where a dk program and a dv
/// program each compute their own G and one score tile of the two. The
/// block form of dK_b, dV_b and G_b is the file comment's, line by line.
void dkdvSweep(KernelBuilder &kb, const LightningSpec &spec, ForwardPart part,
               const ChunkSweep &cm, const SegmentArgs &seg, const DkTensors &tk,
               const DvTensors &tv) {
  const int D = spec.d, E = spec.e;
  const DType T = spec.dtype;
  const bool full = part == ForwardPart::Full;

  Tile dcols = arange(0, padToPow2(D)), ecols = arange(0, padToPow2(E));
  Tile dMask = dcols < D, eMask = ecols < E;
  Tile stateMask = column(dMask) & row(eMask);
  Tile qBase = cm.base(tk.q, tk.sq), kBase = cm.base(tv.k, tv.sk),
       vBase = cm.base(tk.v, tk.sv), doBase = cm.base(tk.dO, tk.sdo),
       dkBase = cm.base(tk.dk, tk.sdk), dvBase = cm.base(tv.dv, tv.sdv);

  // G after the last block: the segment's incoming gradient, dS_N, or 0.
  Tile g0 = !full ? load(seg.ptrs(D, E, dcols, ecols), stateMask)
            : spec.finalState
                ? load(cm.statePtrs(tk.dsN, D, E, dcols, ecols), stateMask)
                : zeros({padToPow2(D), padToPow2(E)}, DType::f32);
  auto out = kb.forRange(0, cm.numBlocks, {g0}, [&](Tile i, auto carried) {
    Tile g = carried[0];
    auto bl = cm.block(cm.order(i, /*reverse=*/true));
    Tile dRows = column(bl.rowMask) & row(dMask);
    Tile eRows = column(bl.rowMask) & row(eMask);
    Tile qb = load(cm.ptrs(qBase, tk.sq.row, bl.rowIdx, dcols), dRows);
    Tile kb_ = load(cm.ptrs(kBase, tv.sk.row, bl.rowIdx, dcols), dRows);
    Tile vb = load(cm.ptrs(vBase, tk.sv.row, bl.rowIdx, ecols), eRows);
    Tile dob = load(cm.ptrs(doBase, tk.sdo.row, bl.rowIdx, ecols), eRows);
    // G_(b+1) as a dot operand, once for both inter-block products.
    Tile g16 = g.to(T);
    // dV_b = [(Q_b K_bᵀ) ⊙ M]ᵀ dO_b + Λ_k K_b G_(b+1) (scaled scores, so
    // that the two terms are one accumulation).
    Tile scores = dot(qb, trans(kb_)) * (bl.intraDecay * cm.scale);
    Tile dvb = dot(trans(scores).to(T), dob) +
               dot(kb_, g16) * column(bl.kDecay);
    cm.storeOut(cm.ptrs(dvBase, tv.sdv.row, bl.rowIdx, ecols), dvb, eRows);
    // dK_b = [(dO_b V_bᵀ) ⊙ M]ᵀ Q_b + Λ_k V_b G_(b+1)ᵀ.
    Tile dScores = dot(dob, trans(vb)) * (bl.intraDecay * cm.scale);
    Tile dkb = dot(trans(dScores).to(T), qb) +
               dot(vb, trans(g16)) * column(bl.kDecay);
    cm.storeOut(cm.ptrs(dkBase, tk.sdk.row, bl.rowIdx, dcols), dkb, dRows);
    if (full && spec.gated)
      tk.rows.store(cm, bl, kb_, dkb, /*negate=*/true);
    // G_b = λ^L G_(b+1) + (Λ_q Q_b)ᵀ dO_b.
    return std::vector<Tile>{g * bl.blockDecay +
                             cm.weightedUpdate(qb, dob, bl.qDecay * cm.scale)};
  });
  if (full && spec.initialState)
    store(cm.statePtrs(tk.ds0, D, E, dcols, ecols), out[0], stateMask);
}

llvm::Expected<Kernel> buildDk(const LightningSpec &spec, const PassConfig &cfg,
                               ForwardPart part) {
  if (auto err = validateSpec(spec)) return std::move(err);
  if (auto err = validateConfig(cfg, "PassConfig")) return std::move(err);
  const DType T = spec.dtype;
  const bool full = part == ForwardPart::Full;
  if (auto err = wholeSequences(spec, full)) return std::move(err);
  const bool outputs = part != ForwardPart::SegmentStates;

  // The state-gradient contributions need only q and dO.
  KernelBuilder kb(kernelName(outputs ? (std::string("bwd_dk") + partSuffix(part)).c_str()
                                      : "bwd_segment_grad_states",
                              segmentSpec(spec, part), cfg));
  kb.setNumStages(cfg.stages);
  DkTensors t;
  t.q = kb.ptrArg("q", T);
  if (outputs) t.v = kb.ptrArg("v", T);
  t.dO = kb.ptrArg("do", T);
  if (outputs) t.dk = kb.ptrArg("dk", T);
  const bool gateRows = full && spec.gated;
  if (gateRows) t.k = kb.ptrArg("k", T);
  Tile slopes = kb.ptrArg(spec.gated ? "gates" : "slopes", DType::f32);
  if (full && spec.finalState) t.dsN = kb.ptrArg("d_final_state", DType::f32);
  if (full && spec.initialState)
    t.ds0 = kb.ptrArg("d_initial_state", DType::f32);
  Tile states = full ? Tile() : kb.ptrArg("segment_states", DType::f32);
  ChunkSweep cm(kb, spec, cfg, slopes, columnBlocks(cfg.blockW, spec.d));
  SegmentArgs seg = full ? SegmentArgs{} : segmentArgs(kb, cm, states, part);
  t.sq = strideArgs(kb, "q");
  if (outputs) t.sv = strideArgs(kb, "v");
  t.sdo = strideArgs(kb, "do");
  if (outputs) t.sdk = strideArgs(kb, "dk");
  if (gateRows) {
    t.sk = strideArgs(kb, "k");
    t.rows = GateRows::args(kb);
  }
  dkSweep(kb, spec, cfg, part, cm, seg, t);
  return kb.finish();
}

llvm::Expected<Kernel> buildDv(const LightningSpec &spec, const PassConfig &cfg,
                               ForwardPart part) {
  if (auto err = validateSpec(spec)) return std::move(err);
  if (auto err = validateConfig(cfg, "PassConfig")) return std::move(err);
  const DType T = spec.dtype;
  const bool full = part == ForwardPart::Full;
  if (auto err = wholeSequences(spec, full)) return std::move(err);

  KernelBuilder kb(kernelName((std::string("bwd_dv") + partSuffix(part)).c_str(),
                              segmentSpec(spec, part), cfg));
  kb.setNumStages(cfg.stages);
  DvTensors t;
  t.q = kb.ptrArg("q", T), t.k = kb.ptrArg("k", T), t.dO = kb.ptrArg("do", T),
  t.dv = kb.ptrArg("dv", T);
  Tile slopes = kb.ptrArg(spec.gated ? "gates" : "slopes", DType::f32);
  if (full && spec.finalState) t.dsN = kb.ptrArg("d_final_state", DType::f32);
  Tile states = full ? Tile() : kb.ptrArg("segment_states", DType::f32);
  ChunkSweep cm(kb, spec, cfg, slopes, columnBlocks(cfg.blockW, spec.e));
  SegmentArgs seg = full ? SegmentArgs{} : segmentArgs(kb, cm, states, part);
  t.sq = strideArgs(kb, "q"), t.sk = strideArgs(kb, "k"),
  t.sdo = strideArgs(kb, "do"), t.sdv = strideArgs(kb, "dv");
  dvSweep(kb, spec, cfg, part, cm, seg, t);
  return kb.finish();
}

/// dk and dv in one launch: the first columnBlocks(W, D) programs of each
/// (b, h) sweep dk's blocks of D, the next columnBlocks(W, E) dv's blocks of
/// E. Both sweeps read q and dO; as adjacent programs they run together and
/// those tiles come from DRAM once (separate launches read them twice).
llvm::Expected<Kernel> buildDkDv(const LightningSpec &spec, const PassConfig &cfg,
                                 ForwardPart part) {
  if (auto err = validateSpec(spec)) return std::move(err);
  if (auto err = validateConfig(cfg, "PassConfig")) return std::move(err);
  if (part == ForwardPart::SegmentStates)
    return llvm::createStringError(
        "buildDkDv: the segment state gradients are bwd_segment_grad_states");
  const DType T = spec.dtype;
  const bool full = part == ForwardPart::Full;
  if (auto err = wholeSequences(spec, full)) return std::move(err);

  KernelBuilder kb(kernelName((std::string("bwd_dkdv") + partSuffix(part)).c_str(),
                              segmentSpec(spec, part), cfg));
  kb.setNumStages(cfg.stages);
  Tile q = kb.ptrArg("q", T), k = kb.ptrArg("k", T), v = kb.ptrArg("v", T),
       dO = kb.ptrArg("do", T), dk = kb.ptrArg("dk", T), dv = kb.ptrArg("dv", T);
  Tile slopes = kb.ptrArg(spec.gated ? "gates" : "slopes", DType::f32);
  Tile dsN = full && spec.finalState ? kb.ptrArg("d_final_state", DType::f32)
                                     : Tile();
  Tile ds0 = full && spec.initialState
                 ? kb.ptrArg("d_initial_state", DType::f32)
                 : Tile();
  Tile states = full ? Tile() : kb.ptrArg("segment_states", DType::f32);
  const int dkBlocks = columnBlocks(cfg.blockW, spec.d);
  ChunkSweep cm(kb, spec, cfg, slopes, dkdvPrograms(spec, cfg));
  SegmentArgs seg = full ? SegmentArgs{} : segmentArgs(kb, cm, states, part);
  Strides sq = strideArgs(kb, "q"), sk = strideArgs(kb, "k"),
          sv = strideArgs(kb, "v"), sdo = strideArgs(kb, "do"),
          sdk = strideArgs(kb, "dk"), sdv = strideArgs(kb, "dv");
  GateRows rows = full && spec.gated ? GateRows::args(kb) : GateRows{};
  DkTensors tk{q, v, dO, dk, dsN, ds0, sq, sv, sdo, sdk, k, sk, rows};

  if (dkdvFused(spec, cfg)) {
    dkdvSweep(kb, spec, part, cm, seg, tk,
              DvTensors{q, k, dO, dv, dsN, sq, sk, sdo, sdv});
    return kb.finish();
  }
  kb.ifThen(cm.colBlock < dkBlocks, [&] {
    ChunkSweep dkBlock = cm;
    dkBlock.rowTiles();
    dkSweep(kb, spec, cfg, part, dkBlock, seg, tk);
  });
  kb.ifThen(cm.colBlock >= dkBlocks, [&] {
    ChunkSweep dvBlock = cm;
    dvBlock.colBlock = cm.colBlock - dkBlocks;
    dvBlock.rowTiles();
    dvSweep(kb, spec, cfg, part, dvBlock, seg,
            DvTensors{q, k, dO, dv, dsN, sq, sk, sdo, sdv});
  });
  return kb.finish();
}

} // namespace

llvm::Expected<Kernel> buildLightningBackwardDk(const LightningSpec &spec,
                                                const PassConfig &cfg) {
  return buildDk(spec, cfg, ForwardPart::Full);
}

llvm::Expected<Kernel> buildLightningSegmentGradStates(const LightningSpec &spec,
                                                       const PassConfig &cfg) {
  return buildDk(spec, cfg, ForwardPart::SegmentStates);
}

llvm::Expected<Kernel> buildLightningDkSegmentOutputs(const LightningSpec &spec,
                                                      const PassConfig &cfg) {
  return buildDk(spec, cfg, ForwardPart::SegmentOutputs);
}

llvm::Expected<Kernel> buildLightningBackwardDv(const LightningSpec &spec,
                                                const PassConfig &cfg) {
  return buildDv(spec, cfg, ForwardPart::Full);
}

llvm::Expected<Kernel> buildLightningDvSegmentOutputs(const LightningSpec &spec,
                                                      const PassConfig &cfg) {
  return buildDv(spec, cfg, ForwardPart::SegmentOutputs);
}

llvm::Expected<Kernel> buildLightningBackwardDkDv(const LightningSpec &spec,
                                                  const PassConfig &cfg) {
  return buildDkDv(spec, cfg, ForwardPart::Full);
}

llvm::Expected<Kernel> buildLightningDkDvSegmentOutputs(const LightningSpec &spec,
                                                        const PassConfig &cfg) {
  return buildDkDv(spec, cfg, ForwardPart::SegmentOutputs);
}

llvm::Expected<Kernel> buildLightningKernel(LightningPass pass,
                                            const LightningSpec &spec,
                                            const PassConfig &config) {
  switch (pass) {
  case LightningPass::Forward: return buildLightningForward(spec, config);
  case LightningPass::BackwardDq: return buildLightningBackwardDq(spec, config);
  case LightningPass::BackwardDk: return buildLightningBackwardDk(spec, config);
  case LightningPass::BackwardDv: return buildLightningBackwardDv(spec, config);
  }
  return llvm::createStringError("unknown Lightning pass");
}

} // namespace tessel::kernels
