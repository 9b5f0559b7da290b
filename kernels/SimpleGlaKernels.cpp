// Simple GLA's own kernel: the gate gradient. The forward and the dq, dk,
// dv sweeps are Lightning's with per-token gates (ChunkSweep::block); what
// the gates add to the backward is dL/dg_t = Σ_{s ≥ t} (q_s·dq_s − k_s·dk_s)
// (docs/writing-a-variant.md), a reverse running sum over the sequence.
// Non-causal attention splits it (GatePart): the anti-causal half's
// decays e^(b_j − b_i) carry b with the other sign, so ∂L/∂b_t = r_c − r_a
// with r = q·dq − k·dk of each half; the causal sweeps' r_c is stored per
// row first, and after the anti-causal sweeps add theirs, r_a = r − r_c.
#include "kernels/ChunkedAttention.h"

namespace tessel::kernels {

llvm::Expected<Kernel> buildSimpleGlaGateGradient(const LightningSpec &spec,
                                                  const PassConfig &cfg) {
  return buildSimpleGlaGatePart(spec, cfg, GatePart::Whole);
}

llvm::Expected<Kernel> buildSimpleGlaGatePart(const LightningSpec &spec,
                                              const PassConfig &cfg,
                                              GatePart part) {
  if (auto err = validateSpec(spec)) return std::move(err);
  if (auto err = validateConfig(cfg, "PassConfig")) return std::move(err);
  if (part != GatePart::Whole && (spec.finalState || spec.initialState))
    return llvm::createStringError(
        "a non-causal gate gradient takes no states (non-causal attention "
        "has none)");
  const int D = spec.d, DP = padToPow2(D), C = 16;
  const DType T = spec.dtype;
  KernelBuilder kb("simple_gla_dgates_d" + std::to_string(D) + "_e" +
                   std::to_string(spec.e) + "_" + dtypeName(T) +
                   (spec.finalState ? "_sn" : "") +
                   (spec.varlen ? "_varlen" : "") +
                   (part == GatePart::CausalRows    ? "_causal_rows"
                    : part == GatePart::NonCausal ? "_noncausal"
                                                  : "") +
                   "_w" + std::to_string(cfg.numWarps));
  Tile q = kb.ptrArg("q", T), k = kb.ptrArg("k", T), dq = kb.ptrArg("dq", T),
       dk = kb.ptrArg("dk", T), dg = kb.ptrArg("d_gates", DType::f32);
  Tile sN = spec.finalState ? kb.ptrArg("final_state", DType::f32) : Tile();
  Tile dsN = spec.finalState ? kb.ptrArg("d_final_state", DType::f32) : Tile();
  Tile n = kb.scalarArg("n", DType::i32);
  Tile heads = kb.scalarArg("heads", DType::i32);
  Tile cu = spec.varlen ? kb.ptrArg("cu_seqlens", DType::i32) : Tile();
  Strides sq = strideArgs(kb, "q"), sk = strideArgs(kb, "k"),
          sdq = strideArgs(kb, "dq"), sdk = strideArgs(kb, "dk"),
          sdg = strideArgs(kb, "d_gates");
  Tile bh = programId(0);
  Tile b = (bh / heads).to(DType::i64), h = (bh % heads).to(DType::i64);
  // A varlen batch: b is the packed sequence, rows [first, end) of batch 0.
  Tile first = spec.varlen ? load(cu + bh / heads) : Tile();
  Tile end = spec.varlen ? load(cu + bh / heads + 1) : n;
  auto base = [&](const Tile &ptr, const Strides &st) {
    return spec.varlen ? ptr + h * st.head : ptr + b * st.batch + h * st.head;
  };
  Tile qB = base(q, sq), kB = base(k, sk), dqB = base(dq, sdq),
       dkB = base(dk, sdk), dgB = base(dg, sdg);
  Tile rows = arange(0, C), cols = arange(0, DP);
  // With dS_N: every term of ⟨S_N, dS_N⟩ carries e^(b_{N−1}), so ∂L/∂b_{N−1}
  // gains ⟨S_N, dS_N⟩ (the k·dk terms hold the rest of dS_N's share) and,
  // through the running sum, so does every dg_t.
  Tile acc0 = zeros({}, DType::f32);
  if (spec.finalState) {
    const int EP = padToPow2(spec.e);
    Tile ecols = arange(0, EP);
    Tile base = bh.to(DType::i64) * (int64_t(D) * spec.e);
    auto dotted = kb.forRange(0, (D + C - 1) / C, {acc0}, [&](Tile blk, auto carried) {
      Tile r = blk * C + rows;
      Tile m = column(r < D) & row(ecols < spec.e);
      Tile at = base + column(r * spec.e) + row(ecols);
      Tile prod = load(sN + at, m, 0.0) * load(dsN + at, m, 0.0);
      return std::vector<Tile>{carried[0] + sum(sum(prod, 1), 0)};
    });
    acc0 = dotted[0];
  }
  Tile numBlocks = cdiv(spec.varlen ? end - first : n, C);
  kb.forRange(0, numBlocks, {acc0}, [&](Tile blk, auto carried) {
    Tile acc = carried[0]; // Σ ∂L/∂b over the rows after this block (and S_N)
    Tile r = (numBlocks - 1 - blk) * C + rows;
    if (spec.varlen)
      r = first + r;
    Tile live = r < end;
    Tile m = column(live) & row(cols < D);
    Tile r64 = r.to(DType::i64);
    auto tile = [&](const Tile &bp, const Strides &st) {
      return load(bp + column(r64 * st.row) + row(cols), m, 0.0).to(DType::f32);
    };
    Tile dLdb = sum(tile(qB, sq) * tile(dqB, sdq), 1) -
                sum(tile(kB, sk) * tile(dkB, sdk), 1); // [C]
    Tile dgPtrs = dgB + r64 * sdg.row;
    if (part == GatePart::CausalRows) {
      store(dgPtrs, dLdb, live); // r_c, summed by the NonCausal pass
      return std::vector<Tile>{acc};
    }
    if (part == GatePart::NonCausal) // r_c − (r − r_c)
      dLdb = 2.0 * load(dgPtrs, live, 0.0) - dLdb;
    store(dgPtrs, cumsum(dLdb, 0, false, /*reverse=*/true) + acc, live);
    return std::vector<Tile>{acc + sum(dLdb, 0)};
  });
  return kb.finish();
}

} // namespace tessel::kernels
