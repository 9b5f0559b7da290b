// ldmatrix reads of mma.sync operand fragments (see OperandFragments.h).
// Fragment register order is that of the dot-operand linear layouts
// (dialect/LinearLayout.cpp): element e of A repetition (i, k) is register
// e + 8·(k + nK·i), of B repetition (j, k) register e + 4·(k + nK·j).
#include "lowering/ToLLVM/OperandFragments.h"

#include "lowering/SharedMemory.h"
#include "lowering/ToLLVM/Utility.h"
#include "mlir/Dialect/Arith/IR/Arith.h"
#include "mlir/Dialect/LLVMIR/NVVMDialect.h"

using namespace mlir;

namespace tessel::lowering {

namespace {

std::pair<tile::DotOperandAttr, bool> operandTarget(Attribute layout) {
  if (auto t = dyn_cast_or_null<tile::TransAttr>(layout))
    return {dyn_cast<tile::DotOperandAttr>(t.getParent()), true};
  return {dyn_cast_or_null<tile::DotOperandAttr>(layout), false};
}

} // namespace

SmallVector<Value> packFragmentWords(OpBuilder &b, Location loc,
                                     ValueRange elems) {
  SmallVector<Value> regs;
  Type elem = elems[0].getType();
  if (elem.isF32()) {
    for (Value v : elems)
      regs.push_back(NVVM::ConvertFloatToTF32Op::create(
          b, loc, b.getI32Type(), v, NVVM::FPRoundingMode::RNA,
          NVVM::SaturationMode::NONE, false));
    return regs;
  }
  auto vecTy = VectorType::get({2}, elem);
  for (size_t i = 0; i < elems.size(); i += 2) {
    Value v = LLVM::UndefOp::create(b, loc, vecTy);
    v = LLVM::InsertElementOp::create(b, loc, v, elems[i], i32Const(b, loc, 0));
    v = LLVM::InsertElementOp::create(b, loc, v, elems[i + 1],
                                      i32Const(b, loc, 1));
    regs.push_back(elem.isBF16()
                       ? Value(LLVM::BitcastOp::create(b, loc, b.getI32Type(), v))
                       : v);
  }
  return regs;
}

bool OperandFragments::applies(RankedTensorType staged, Attribute operand) {
  auto [dot, transposed] = operandTarget(operand);
  if (!dot || dot.getBitWidth() != 16 || staged.getRank() != 2)
    return false;
  Type elem = staged.getElementType();
  if (!elem.isBF16() && !elem.isF16())
    return false;
  auto mma = cast<tile::MmaAttr>(dot.getParent());
  int64_t rows = staged.getDimSize(transposed ? 1 : 0);
  int64_t cols = staged.getDimSize(transposed ? 0 : 1);
  if (dot.getOpIdx() == 0)
    return rows >= 16 && cols >= 16;
  return rows >= 16 && cols >= 8 &&
         cols >= 8 * (int64_t)mma.getWarpsPerCTA()[1];
}

OperandFragments::OperandFragments(OpBuilder &b, Location loc, Value base,
                                   RankedTensorType staged, Attribute operand)
    : b_(b), loc_(loc), base_(base), elem_(staged.getElementType()),
      placement_(stagingPlacement(staged, operand)) {
  auto [dot, transposed] = operandTarget(operand);
  transposed_ = transposed;
  opIdx_ = dot.getOpIdx();
  auto mma = cast<tile::MmaAttr>(dot.getParent());
  // The operand's rows and columns (M×K for A, K×N for B).
  rows_ = staged.getDimSize(transposed ? 1 : 0);
  cols_ = staged.getDimSize(transposed ? 0 : 1);
  wm_ = mma.getWarpsPerCTA()[0];
  wn_ = mma.getWarpsPerCTA()[1];
  if (opIdx_ == 0) {
    numTiles_ = std::max<int64_t>(1, rows_ / (16 * wm_));
    numK_ = cols_ / 16;
  } else {
    numTiles_ = std::max<int64_t>(1, cols_ / (8 * wn_));
    numK_ = rows_ / 16;
  }
  auto [lane, warp] = laneAndWarp(b, loc);
  lane_ = lane;
  lane8_ = arith::RemUIOp::create(b, loc, lane, c(8));
  group_ = arith::DivUIOp::create(b, loc, lane, c(8));
  warpM_ = arith::RemUIOp::create(b, loc, warp, c(wm_));
  warpN_ = arith::RemUIOp::create(
      b, loc, arith::DivUIOp::create(b, loc, warp, c(wm_)), c(wn_));
}

Value OperandFragments::c(int64_t v) { return i32Const(b_, loc_, v); }

Value OperandFragments::address(Value row, Value col) {
  // Operand element (row, col) is staged at [row][col], or at [col][row]
  // when the staged tile is the operand's transpose.
  if (transposed_)
    std::swap(row, col);
  Value idx = sharedIndex(b_, loc_, {row, col}, placement_);
  return LLVM::GEPOp::create(b_, loc_, base_.getType(), elem_, base_,
                             ValueRange{idx});
}

SmallVector<Value> OperandFragments::ldmatrix(Value address, int num,
                                              bool trans) {
  Type i32 = b_.getI32Type();
  SmallVector<Type> words(num, i32);
  auto resTy = LLVM::LLVMStructType::getLiteral(b_.getContext(), words);
  auto shape = NVVM::LdStMatrixShapeAttr::get(b_.getContext(), 8, 8);
  auto ld = NVVM::LdMatrixOp::create(
      b_, loc_, resTy, address, num,
      trans ? NVVM::MMALayout::col : NVVM::MMALayout::row, shape,
      NVVM::LdStMatrixEltType::B16);
  SmallVector<Value> out;
  auto vecTy = VectorType::get({2}, elem_);
  for (int w = 0; w < num; ++w) {
    Value word = LLVM::ExtractValueOp::create(b_, loc_, ld, w);
    Value v = LLVM::BitcastOp::create(b_, loc_, vecTy, word);
    out.push_back(LLVM::ExtractElementOp::create(b_, loc_, v, c(0)));
    out.push_back(LLVM::ExtractElementOp::create(b_, loc_, v, c(1)));
  }
  return out;
}

SmallVector<Value> OperandFragments::loadA(int64_t i, int64_t k) {
  // Matrix q of a 16×16 A fragment covers rows 8·(q % 2), columns
  // 8·(q / 2); lane l addresses row l % 8 of matrix l / 8. Staged
  // transposed, the lane's 16-byte row runs along M instead of K and the
  // .trans flag hands each lane its (row, column pair) all the same.
  auto add = [&](Value x, Value y) { return arith::AddIOp::create(b_, loc_, x, y); };
  auto mask = [&](Value v) {
    return arith::AndIOp::create(b_, loc_, v, c(rows_ - 1));
  };
  Value mInFrag = arith::MulIOp::create(
      b_, loc_, arith::RemUIOp::create(b_, loc_, group_, c(2)), c(8));
  Value kInFrag = arith::MulIOp::create(
      b_, loc_, arith::DivUIOp::create(b_, loc_, group_, c(2)), c(8));
  Value m0 = add(arith::MulIOp::create(b_, loc_, warpM_, c(16)),
                 c(i * 16 * wm_));
  if (transposed_)
    return ldmatrix(address(mask(add(m0, mInFrag)),
                            add(add(kInFrag, lane8_), c(k * 16))),
                    4, true);
  return ldmatrix(address(mask(add(add(m0, mInFrag), lane8_)),
                          add(kInFrag, c(k * 16))),
                  4, false);
}

SmallVector<Value> OperandFragments::loadB(int64_t j, int64_t k, int steps) {
  // A B fragment (16×8) is two 8x8 matrices along K; x4 reads two k-steps.
  // Staged as B (K×N): lanes address K rows, .trans. Staged as Bᵀ (N×K):
  // lanes address N rows, matrix q at K offset 8q, no .trans.
  auto add = [&](Value x, Value y) { return arith::AddIOp::create(b_, loc_, x, y); };
  int num = 2 * steps;
  Value n0 = arith::AndIOp::create(
      b_, loc_,
      add(arith::MulIOp::create(b_, loc_, warpN_, c(8)), c(j * 8 * wn_)),
      c(cols_ - 1));
  Value lane = num == 4 ? lane_ : Value(arith::RemUIOp::create(b_, loc_, lane_, c(16)));
  if (transposed_)
    return ldmatrix(
        address(add(c(k * 16),
                    arith::MulIOp::create(
                        b_, loc_, arith::DivUIOp::create(b_, loc_, lane, c(8)),
                        c(8))),
                add(n0, arith::RemUIOp::create(b_, loc_, lane, c(8)))),
        num, false);
  return ldmatrix(address(add(c(k * 16), lane), n0), num, true);
}

SmallVector<Value> OperandFragments::loadAll() {
  int64_t perFragment = opIdx_ == 0 ? 8 : 4;
  SmallVector<Value> out(perFragment * numTiles_ * numK_);
  for (int64_t t = 0; t < numTiles_; ++t)
    for (int64_t k = 0; k < numK_;) {
      int steps = opIdx_ == 0 ? 1 : (k + 1 < numK_ ? 2 : 1);
      SmallVector<Value> regs = opIdx_ == 0 ? loadA(t, k) : loadB(t, k, steps);
      for (int s = 0; s < steps; ++s)
        for (int64_t e = 0; e < perFragment; ++e)
          out[perFragment * (k + s + numK_ * t) + e] = regs[perFragment * s + e];
      k += steps;
    }
  return out;
}

} // namespace tessel::lowering
