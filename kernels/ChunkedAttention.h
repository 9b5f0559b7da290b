// The toolkit for chunked linear attention in the DSL: the pieces every
// Lightning and simple GLA kernel is built from, for writing a new variant
// (docs/writing-a-variant.md). A program sweeps the chunks of one (b, h)
// and one block of columns; ChunkSweep gives it its coordinates, the rows
// of each chunk with their tail mask, the chunk's decays — M (C × C, causal),
// Λ_q, Λ_k and λ^L of the block form in docs/design.md §1 — from a per-head
// slope or from per-token log-decays, pointers into (b, h, n, ·) tensors of
// either layout through their strides, and the state update.
#ifndef TESSEL_KERNELS_CHUNKEDATTENTION_H
#define TESSEL_KERNELS_CHUNKEDATTENTION_H

#include "dsl/KernelBuilder.h"
#include "kernels/LightningKernels.h"

#include <string>

namespace tessel::kernels {

// Kernels written with the toolkit read like the math: the DSL's ops
// (arange, column, where, dot, ...) unqualified.
using namespace dsl;

/// Row strides of one (b, h, n, ·) tensor, last dimension contiguous.
struct Strides {
  Tile batch, head, row;
};

inline Strides strideArgs(KernelBuilder &kb, const std::string &name) {
  return {kb.scalarArg(name + "_stride_b", DType::i64),
          kb.scalarArg(name + "_stride_h", DType::i64),
          kb.scalarArg(name + "_stride_n", DType::i64)};
}

/// One program's sweep over the chunks of its (b, h): the program's batch,
/// head and block of columns, the tiles that depend only on the row index
/// (causal and, for a per-head slope, decay masks), the rows it sweeps (the
/// whole sequence or one segment), each block's rows, tail mask and decays
/// (block(): per-head slopes, or per-token gates through their running
/// sum), pointer arithmetic over the (b, h, n, ·) views, and the state
/// update. Every Lightning and simple GLA kernel is written with it.
struct ChunkSweep {
  int C;
  DType T;
  Tile heads, n, scale, s, bh;
  Tile b, h;
  Tile colBlock;    // this program's block of columns
  Tile rows;        // [C] i32
  Tile fi;          // [C] f32 row index
  Tile causal;      // [C, C] i ≥ j (anti-causal: j > i)
  Tile intraDecay;  // [C, C] λ^(i−j) where i ≥ j, else 0 (not gated)
  Tile qDecay;      // [C] λ^(i+1) (not gated, causal)
  /// Anti-causal (LightningSpec::anticausal): row i takes the rows j > i,
  /// decayed from i to j — the causal sweep's mirror: blocks in the other
  /// order, M strictly upper, the roles of Λ_q and Λ_k swapped, and every
  /// output added to what the causal sweep stored (storeOut).
  bool anticausal = false;
  /// Gated (simple GLA): this (b, h)'s log-decays and their row stride.
  bool gated = false;
  Tile gatesBase, gatesRow;
  /// Variable-length batch (LightningSpec::varlen): b is the packed
  /// sequence's index, its rows are [cu_seqlens[b], cu_seqlens[b + 1]) of
  /// the one batch.
  bool varlen = false;
  /// The rows this program sweeps, [first, end): the whole sequence (first
  /// = 0, not materialized), one packed sequence of a varlen batch, or one
  /// segment under the sequence-split strategy.
  bool segmented = false;
  Tile first, end;
  Tile numBlocks;

  /// `blocksPerHead` programs share each (b, h), one per block of columns
  /// (columnBlocks). They are adjacent in launch order (programId(0) =
  /// bh · blocksPerHead + block), so they run together and the q and k tiles that all of them
  /// read come from DRAM once and from L2 for the others (H200, 4 warps,
  /// W = 64: DRAM-bound at 85 % when the blocks of a head ran a wave apart).
  /// `decay` is the slopes (H) or, for a gated spec, the gates (b, h, n),
  /// whose strides follow `scale`; a varlen spec's `cu_seqlens` follows
  /// them.
  ChunkSweep(KernelBuilder &kb, const LightningSpec &spec,
         const PassConfig &cfg, Tile decay, int blocksPerHead)
      : C(cfg.blockC), T(spec.dtype), anticausal(spec.anticausal),
        gated(spec.gated), varlen(spec.varlen) {
    n = kb.scalarArg("n", DType::i32);
    heads = kb.scalarArg("heads", DType::i32);
    scale = kb.scalarArg("scale", DType::f32);
    Tile pid = programId(0);
    bh = pid / blocksPerHead;
    colBlock = pid % blocksPerHead;
    b = bh / heads;
    h = bh % heads;
    if (gated) {
      Strides sg{kb.scalarArg("gates_stride_b", DType::i64),
                 kb.scalarArg("gates_stride_h", DType::i64),
                 kb.scalarArg("gates_stride_n", DType::i64)};
      gatesBase = base(decay, sg);
      gatesRow = sg.row;
    } else {
      s = load(decay + h);
    }
    rowTiles();
    end = n;
    if (varlen) {
      Tile cu = kb.ptrArg("cu_seqlens", DType::i32);
      segmented = true;
      first = load(cu + b);
      end = load(cu + b + 1);
    }
    numBlocks = cdiv(segmented ? end - first : n, C);
  }

  /// The tiles that depend only on the row index, built where this is
  /// called: a kernel of two sweeps (bwd_dkdv) builds them again inside
  /// each, so that neither sweep's registers hold them across the other.
  void rowTiles() {
    rows = arange(0, C);
    fi = rows.to(DType::f32);
    causal = anticausal ? row(rows) > column(rows) : column(rows) >= row(rows);
    if (gated)
      return; // per block, from the block's gates
    Tile distance = anticausal ? row(fi) - column(fi) : column(fi) - row(fi);
    intraDecay = where(causal, exp(-s * distance), 0.0);
    qDecay = exp(-s * (fi + 1.0));
  }

  /// The block a sweep visits at step i: a forward sweep (dq, the forward)
  /// goes from the first block, a `reverse` one (dk, dv) from the last; an
  /// anti-causal sweep goes the other way.
  Tile order(const Tile &i, bool reverse) const {
    return reverse != anticausal ? numBlocks - 1 - i : i;
  }

  /// Stores the f32 `value` to `ptrs` in the kernel's dtype; an anti-causal
  /// sweep adds it to what the causal sweep stored there, read through the
  /// software pipeline like the sweep's inputs (each block rewrites only
  /// its own rows, so no store touches what a later block reads).
  void storeOut(const Tile &ptrs, const Tile &value, const Tile &mask) const {
    if (anticausal)
      store(ptrs, (loadPipelined(ptrs, mask).to(DType::f32) + value).to(T),
            mask);
    else
      store(ptrs, value.to(T), mask);
  }

  /// Sweep only segment `seg` of `segLen` rows (a multiple of C); not for
  /// a varlen batch (its builders reject the split: wholeSequences).
  void segment(const Tile &seg, const Tile &segLen) {
    segmented = true;
    first = seg * segLen;
    end = minimum(first + segLen, n);
    numBlocks = cdiv(end - first, C);
  }

  /// Base pointer of this program's (b, h) slice (a varlen batch's one
  /// batch: its rows start at `first`).
  Tile base(const Tile &ptr, const Strides &st) const {
    if (varlen)
      return ptr + h.to(DType::i64) * st.head;
    return ptr + b.to(DType::i64) * st.batch + h.to(DType::i64) * st.head;
  }

  /// [rows × cols] pointers of a row-major slice with row stride `rowStride`.
  Tile ptrs(const Tile &base, const Tile &rowStride, const Tile &rowIdx,
            const Tile &cols) const {
    return base + column(rowIdx.to(DType::i64) * rowStride) + row(cols);
  }

  /// Pointers into this (b, h)'s d×e fp32 state, rows `r`, columns `c`.
  Tile statePtrs(const Tile &state, int d, int e, const Tile &r,
                 const Tile &c) const {
    return state + bh.to(DType::i64) * (int64_t(d) * e) + column(r * e) +
           row(c);
  }

  /// The per-block quantities: first row, real length and row mask.
  /// The decays: M = intraDecay, Λ_q = qDecay, Λ_k = kDecay and λ^L =
  /// blockDecay of the block form (the file comment).
  struct Block {
    Tile start, len, fLen, rowIdx, rowMask;
    Tile intraDecay, qDecay, kDecay, blockDecay;
  };
  Block block(const Tile &blk) const {
    Block bl;
    bl.start = segmented ? first + blk * C : blk * C;
    bl.len = minimum(end - bl.start, C);
    bl.fLen = bl.len.to(DType::f32);
    bl.rowIdx = bl.start + rows;
    bl.rowMask = rows < bl.len;
    if (gated) {
      // b_i = g_0 + … + g_i, the log-decay from the block's start through
      // row i (rows past L add 0): M_ij = e^(b_i − b_j), Λ_q = e^b, Λ_k =
      // e^(b_L − b), λ^L = e^(b_L). Every exponent is ≤ 0.
      Tile g = load(gatesBase + bl.rowIdx.to(DType::i64) * gatesRow,
                    bl.rowMask, 0.0);
      Tile cum = cumsum(g, 0);
      Tile total = sum(g, 0);
      // Anti-causal: M_ij = e^(b_j − b_i) for j > i, Λ_q = e^(b_L − b) (to
      // the block's end), Λ_k = e^b (from its start).
      bl.intraDecay = where(causal,
                            anticausal ? exp(row(cum) - column(cum))
                                       : exp(column(cum) - row(cum)),
                            0.0);
      Tile toStart = exp(cum), toEnd = where(bl.rowMask, exp(total - cum), 0.0);
      bl.qDecay = anticausal ? toEnd : toStart;
      bl.kDecay = anticausal ? where(bl.rowMask, toStart, 0.0) : toEnd;
      bl.blockDecay = exp(total);
      return bl;
    }
    bl.intraDecay = intraDecay;
    Tile toEnd = where(bl.rowMask, exp(-s * (bl.fLen - 1.0 - fi)), 0.0);
    bl.qDecay = anticausal ? toEnd : qDecay;
    bl.kDecay = anticausal ? where(bl.rowMask, qDecay, 0.0) : toEnd;
    bl.blockDecay = exp(-s * bl.fLen);
    return bl;
  }

  /// Σ_j w_j · a_jᵀ b_j over the block's rows j (aᵀ · diag(w) · b), the
  /// state update. The weights go on the narrower of a and b: that operand
  /// passes through registers and is staged again for the dot, the other is
  /// read where it was loaded.
  Tile weightedUpdate(const Tile &a, const Tile &b, const Tile &w) const {
    if (a.shape()[1] <= b.shape()[1])
      return dot(trans((a * column(w)).to(T)), b);
    return dot(trans(a), (b * column(w)).to(T));
  }
};

/// Simple GLA's gate-gradient terms r = q·dq − k·dk, per row, written by
/// the dq and dk sweeps while dq and dk are still fp32 (as fla's
/// chunk_bwd_dqkwg does): from the rounded bf16 outputs the two products
/// cancel to a few bits and the reverse running sum over the sequence
/// adds up the error (the d_gates check failed at gates in [−1, 0]). One
/// f32 row of (b, h, n) per part: a sweep's part is `offset` + its block of
/// columns, so that each column block writes its own and no two programs
/// add into one; buildSimpleGlaGateGradient sums the parts.
struct GateRows {
  Tile ptr;
  Strides st;
  Tile partStride, offset;

  static GateRows args(KernelBuilder &kb) {
    GateRows g;
    g.ptr = kb.ptrArg("gate_rows", DType::f32);
    g.st = strideArgs(kb, "gate_rows");
    g.partStride = kb.scalarArg("gate_rows_part_stride", DType::i64);
    g.offset = kb.scalarArg("gate_rows_offset", DType::i64);
    return g;
  }

  /// Stores Σ_cols a ⊙ grad of the block's rows (`negate`: its negation,
  /// the k·dk term) to this program's part.
  void store(const ChunkSweep &cm, const ChunkSweep::Block &bl, const Tile &a,
             const Tile &grad, bool negate) const {
    Tile part = offset + cm.colBlock.to(DType::i64) * partStride;
    Tile r = sum(a.to(DType::f32) * grad, 1);
    dsl::store(cm.base(ptr, st) + part + bl.rowIdx.to(DType::i64) * st.row,
               negate ? -r : r, bl.rowMask);
  }
};

} // namespace tessel::kernels

#endif // TESSEL_KERNELS_CHUNKEDATTENTION_H
