// One decode step of Lightning (and simple GLA) per (b, h) and block of
// state columns: the recurrent form S ← λ S + kᵀ v, o = scale · q S for one
// new token, the state updated in place.
#include "kernels/ChunkedAttention.h"

namespace tessel::kernels {

llvm::Expected<Kernel> buildLightningDecode(const LightningSpec &spec,
                                            const PassConfig &cfg) {
  if (auto err = validateSpec(spec)) return std::move(err);
  if (auto err = validateConfig(cfg, "PassConfig")) return std::move(err);
  const int D = spec.d, E = spec.e, BE = clampBlock(cfg.blockW, E);
  const int64_t DE = int64_t(D) * E;
  const DType T = spec.dtype;
  LightningSpec named = spec;
  named.initialState = named.finalState = false; // the state is always in place
  KernelBuilder kb(kernelName("decode", named, cfg));
  Tile q = kb.ptrArg("q", T), k = kb.ptrArg("k", T), v = kb.ptrArg("v", T),
       o = kb.ptrArg("o", T);
  // Per-head slopes, or this token's gates (simple GLA) with their strides.
  Tile decay = kb.ptrArg(spec.gated ? "gates" : "slopes", DType::f32);
  Tile state = kb.ptrArg("state", DType::f32);
  Tile heads = kb.scalarArg("heads", DType::i32);
  Tile scale = kb.scalarArg("scale", DType::f32);
  Strides sg = spec.gated ? strideArgs(kb, "gates") : Strides{};
  Strides sq = strideArgs(kb, "q"), sk = strideArgs(kb, "k"),
          sv = strideArgs(kb, "v"), so = strideArgs(kb, "o");

  // Program bh · blocks + block: one (b, h) and its block of E columns, as
  // the sweeps order them.
  const int blocks = columnBlocks(cfg.blockW, E);
  Tile pid = programId(0);
  Tile bh = pid / blocks, colBlock = pid % blocks;
  Tile b = (bh / heads).to(DType::i64), h = bh % heads;
  Tile hh = h.to(DType::i64);
  Tile lambda = spec.gated ? exp(load(decay + b * sg.batch + hh * sg.head))
                           : exp(-load(decay + h));
  auto at = [&](const Tile &ptr, const Strides &st) {
    return ptr + b * st.batch + hh * st.head;
  };
  Tile dcols = arange(0, padToPow2(D));
  Tile dMask = dcols < D;
  Tile ecols = colBlock * BE + arange(0, BE);
  Tile eMask = ecols < E;
  Tile qt = load(at(q, sq) + dcols, dMask).to(DType::f32);
  Tile kt = load(at(k, sk) + dcols, dMask).to(DType::f32);
  Tile vt = load(at(v, sv) + ecols, eMask).to(DType::f32);

  // S ← λ S + kᵀ v, then o = scale · q S (the new token attends to itself,
  // M_tt = λ^0 = 1, as in the forward).
  Tile ptrs = state + bh.to(DType::i64) * DE + column(dcols * E) + row(ecols);
  Tile mask = column(dMask) & row(eMask);
  Tile next = load(ptrs, mask) * lambda + column(kt) * row(vt);
  store(ptrs, next, mask);
  store(at(o, so) + ecols, (sum(column(qt) * next, 0) * scale).to(T), eMask);
  return kb.finish();
}

} // namespace tessel::kernels
