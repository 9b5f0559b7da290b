// wgmma.mma_async for dots marked for it (see Wgmma.h).
//
// Shared operands are described by a 64-bit matrix descriptor: start
// address, leading and stride byte offsets (LBO, SBO) and the swizzle mode,
// each address field in 16-byte units. A tile staged swizzled
// (SharedPlacement) is a column of 64-element atoms, each R rows of 128
// bytes, R the staged tile's rows:
//   K-major (the staged rows run along M or N, its columns are K): an
//     instruction reads 8-row groups SBO = 1024 bytes apart, 32 bytes of K
//     each; LBO is unused (1). k-step s starts 32·(s % 4) bytes into the row
//     of atom s / 4.
//   MN-major (the staged rows are K): 64 M/N-columns per atom, atoms
//     LBO = 128·R bytes apart, 8-row K groups SBO = 1024 apart; k-step s
//     starts at row 16·s. The instruction's transpose flag says so.
// The hardware applies the swizzle to the address it computes, so an
// operand block starts at the unswizzled address of its first element.
//
// The instruction itself is inline PTX: NVVM's wgmma op has no register-A
// form (and lowers to inline PTX as well), and the wait must carry the
// accumulator values so that no use of them is scheduled before it.
#include "lowering/ToLLVM/Wgmma.h"

#include "lowering/SharedMemory.h"
#include "lowering/ToLLVM/OperandFragments.h"
#include "lowering/ToLLVM/Utility.h"
#include "mlir/Dialect/Arith/IR/Arith.h"
#include "mlir/Dialect/LLVMIR/NVVMDialect.h"

using namespace mlir;

namespace tessel::lowering {
namespace {

/// The most columns one wgmma instruction computes.
constexpr int64_t kMaxN = 256;

/// A staged operand's orientation: K-major when its staged columns are K.
bool isKMajor(const StagedOperand &op, unsigned opIdx) {
  bool transposed = isa<tile::TransAttr>(op.layout);
  // A staged as-is is M×K (K-major); B staged as-is is K×N (N-major).
  return opIdx == 0 ? !transposed : transposed;
}

bool stagedSwizzled(const StagedOperand &op) {
  return stagingPlacement(op.staged, op.layout).isSwizzled();
}

/// Descriptor of the operand block starting `offset` bytes into the tile
/// staged at `base` (R rows).
Value descriptor(OpBuilder &b, Location loc, Value base, Value offset,
                 bool kMajor, int64_t rows) {
  Type i64 = b.getI64Type();
  auto c = [&](int64_t v) {
    return arith::ConstantOp::create(b, loc, i64, b.getI64IntegerAttr(v));
  };
  Value addr = LLVM::PtrToIntOp::create(b, loc, i64, base);
  addr = arith::AddIOp::create(b, loc, addr, offset);
  Value start = arith::AndIOp::create(
      b, loc, arith::ShRUIOp::create(b, loc, addr, c(4)), c(0x3FFF));
  int64_t lbo = kMajor ? 1 : (128 * rows) >> 4;
  int64_t sbo = 1024 >> 4;
  int64_t high = (lbo << 16) | (sbo << 32) | (int64_t(1) << 62); // 128B swizzle
  return arith::OrIOp::create(b, loc, start, c(high));
}

/// Byte offset of the block of operand `op` (staged rows R) that starts at
/// M/N index `mn` and K index `k`.
int64_t blockOffset(bool kMajor, int64_t rows, int64_t mn, int64_t k) {
  if (kMajor)
    return 2 * ((k / kSwizzleAtomCols) * rows * kSwizzleAtomCols +
                mn * kSwizzleAtomCols + k % kSwizzleAtomCols);
  return 2 * ((mn / kSwizzleAtomCols) * rows * kSwizzleAtomCols +
              k * kSwizzleAtomCols);
}

/// `{$first, ..., $(first + n − 1)}`.
std::string operandList(int64_t first, int64_t n) {
  std::string s = "{";
  for (int64_t i = 0; i < n; ++i)
    s += (i ? ", $" : "$") + std::to_string(first + i);
  return s + "}";
}

/// Inline PTX whose first `tied.size()` results are `tied` passed through
/// (outputs "=f" tied to inputs) and whose further inputs are `extra`.
SmallVector<Value> tiedAsm(OpBuilder &b, Location loc, ValueRange tied,
                           ValueRange extra, StringRef extraConstraints,
                           const std::string &text) {
  int64_t n = tied.size();
  std::string constraints;
  for (int64_t i = 0; i < n; ++i)
    constraints += "=f,";
  for (int64_t i = 0; i < n; ++i)
    constraints += std::to_string(i) + ",";
  constraints += extraConstraints.str();
  if (constraints.back() == ',')
    constraints.pop_back();
  SmallVector<Value> operands(tied.begin(), tied.end());
  operands.append(extra.begin(), extra.end());
  auto resTy = LLVM::LLVMStructType::getLiteral(
      b.getContext(), SmallVector<Type>(n, b.getF32Type()));
  auto asmOp = LLVM::InlineAsmOp::create(
      b, loc, resTy, operands, text, constraints, /*has_side_effects=*/true,
      false, LLVM::tailcallkind::TailCallKind::None, nullptr, nullptr);
  SmallVector<Value> out;
  for (int64_t i = 0; i < n; ++i)
    out.push_back(LLVM::ExtractValueOp::create(b, loc, asmOp.getResult(0), i));
  return out;
}

} // namespace

bool wgmmaApplies(tile::DotOp dot, const std::optional<StagedOperand> &a,
                  const std::optional<StagedOperand> &b) {
  auto resTy = cast<RankedTensorType>(dot.getType());
  auto mma = dyn_cast<tile::MmaAttr>(resTy.getEncoding());
  if (!mma || !mma.getWgmma() || !resTy.getElementType().isF32())
    return false;
  Type in = dot.getA().getType().getElementType();
  if (!(in.isBF16() || in.isF16()) ||
      dot.getB().getType().getElementType() != in)
    return false;
  int64_t M = resTy.getDimSize(0), N = resTy.getDimSize(1),
          K = dot.getA().getType().getDimSize(1);
  int64_t wm = mma.getWarpsPerCTA()[0];
  if (M % (16 * wm) || N % 8 || K % 16)
    return false;
  if (!b || !stagedSwizzled(*b))
    return false;
  return !a || stagedSwizzled(*a);
}

SmallVector<Value> emitWgmma(OpBuilder &b, Location loc, tile::DotOp dot,
                             Value aBase, const std::optional<StagedOperand> &a,
                             ValueRange aRegs, Value bBase,
                             const StagedOperand &bOp, ValueRange acc,
                             bool wait) {
  auto resTy = cast<RankedTensorType>(dot.getType());
  auto mma = cast<tile::MmaAttr>(resTy.getEncoding());
  Type in = dot.getA().getType().getElementType();
  const char *ptxType = in.isBF16() ? "bf16" : "f16";
  int64_t M = resTy.getDimSize(0), N = resTy.getDimSize(1),
          K = dot.getA().getType().getDimSize(1);
  int64_t wm = mma.getWarpsPerCTA()[0];
  int64_t nM = M / (16 * wm), nN = N / 8, nK = K / 16;
  int64_t pieceN = std::min(N, kMaxN);
  Type i64 = b.getI64Type();
  auto c64 = [&](int64_t v) {
    return arith::ConstantOp::create(b, loc, i64, b.getI64IntegerAttr(v));
  };

  // Warpgroup g computes rows 64·g.. of each 16·wm-row block.
  Value warp = laneAndWarp(b, loc).second;
  Value group = arith::ExtUIOp::create(
      b, loc, i64, arith::DivUIOp::create(b, loc, warp, i32Const(b, loc, 4)));

  bool aKMajor = a && isKMajor(*a, 0);
  bool bKMajor = isKMajor(bOp, 1);
  int64_t aRows = a ? a->staged.getDimSize(0) : 0;
  int64_t bRows = bOp.staged.getDimSize(0);
  // How far warpgroup g's A block sits from warpgroup 0's.
  Value aGroupOffset;
  if (a)
    aGroupOffset = arith::MulIOp::create(
        b, loc, group, c64(blockOffset(aKMajor, aRows, 64, 0)));

  // One descriptor per operand and dot; each instruction adds its block's
  // offset (a multiple of 16 bytes, so it lands in the start-address field)
  // inside its own asm. Descriptors built per instruction in LLVM IR are
  // loop-invariant for the fixed staging buffers, and LLVM hoists them all
  // out of the loop: 18 of them held 36 registers across the forward's loop
  // and made it spill. ptxas, which sees the adds, rematerializes instead.
  Value aDesc = a ? descriptor(b, loc, aBase, aGroupOffset, aKMajor, aRows)
                  : Value();
  Value bDesc = descriptor(b, loc, bBase, c64(0), bKMajor, bRows);
  // The register-A fragments are packed before the fence: wgmma reads its
  // registers asynchronously, and ptxas inserts a warpgroup.arrive before
  // any wgmma whose registers were written after the last fence.
  SmallVector<Value> aWords;
  if (!a)
    for (int64_t i = 0; i < nM; ++i)
      for (int64_t s = 0; s < nK; ++s) {
        SmallVector<Value> words = packFragmentWords(
            b, loc, aRegs.slice(8 * (s + nK * i), 8));
        aWords.append(words.begin(), words.end());
      }
  auto offsetText = [](const char *reg, int64_t operand, int64_t bytes) {
    return std::string("\tadd.s64 ") + reg + ", $" + std::to_string(operand) +
           ", " + std::to_string(bytes >> 4) + ";\n";
  };

  Value one = i32Const(b, loc, 1);
  SmallVector<Value> out(acc.begin(), acc.end());
  NVVM::WgmmaFenceAlignedOp::create(b, loc);
  for (int64_t i = 0; i < nM; ++i) {
    for (int64_t n0 = 0; n0 < N; n0 += pieceN) {
      int64_t first = 4 * (nN * i + n0 / 8), count = pieceN / 2;
      SmallVector<Value> d(out.begin() + first, out.begin() + first + count);
      std::string shape = "wgmma.mma_async.sync.aligned.m64n" +
                          std::to_string(pieceN) + "k16.f32." + ptxType + "." +
                          ptxType + " " + operandList(0, count) + ", ";
      for (int64_t s = 0; s < nK; ++s) {
        int64_t bOffset = blockOffset(bKMajor, bRows, n0, 16 * s);
        // scale-d = 1: accumulate into d.
        std::string tail = " p, 1, 1, ";
        std::string text = "{\n\t.reg .pred p;\n\t.reg .b64 da, db;\n\t";
        if (a) {
          // Inputs are numbered after the outputs and the tied inputs.
          int64_t aOffset = blockOffset(aKMajor, aRows, 16 * wm * i, 16 * s);
          text += "setp.ne.b32 p, $" + std::to_string(2 * count + 2) +
                  ", 0;\n" + offsetText("da", 2 * count, aOffset) +
                  offsetText("db", 2 * count + 1, bOffset) + "\t" + shape +
                  "da, db," + tail + (aKMajor ? "0, " : "1, ") +
                  (bKMajor ? "0;" : "1;");
          d = tiedAsm(b, loc, d, {aDesc, bDesc, one}, "l,l,r", text + "\n}");
        } else {
          SmallVector<Value> extra(aWords.begin() + 4 * (s + nK * i),
                                   aWords.begin() + 4 * (s + nK * i) + 4);
          extra.push_back(bDesc);
          extra.push_back(one);
          text += "setp.ne.b32 p, $" + std::to_string(2 * count + 5) +
                  ", 0;\n" + offsetText("db", 2 * count + 4, bOffset) + "\t" +
                  shape + operandList(2 * count, 4) + ", db," + tail +
                  (bKMajor ? "0;" : "1;");
          d = tiedAsm(b, loc, d, extra, "r,r,r,r,l,r", text + "\n}");
        }
      }
      std::copy(d.begin(), d.end(), out.begin() + first);
    }
  }
  NVVM::WgmmaGroupSyncAlignedOp::create(b, loc);
  if (!wait)
    return out;
  return emitWgmmaWait(b, loc, out, 0);
}

SmallVector<Value> emitWgmmaWait(OpBuilder &b, Location loc, ValueRange values,
                                 int64_t pending) {
  return tiedAsm(b, loc, values, {}, "",
                 "wgmma.wait_group.sync.aligned " + std::to_string(pending) +
                     ";");
}

} // namespace tessel::lowering
