// DSL building: shapes and types of built ops, broadcasting, and errors that
// point at the kernel author's file and line.
#include "dsl/KernelBuilder.h"

#include "gtest/gtest.h"

#include <string>

using namespace tessel;
using namespace tessel::dsl;

namespace {

std::string errorOf(llvm::Expected<Kernel> kernel) {
  if (kernel)
    return "";
  return llvm::toString(kernel.takeError());
}

TEST(Dsl, BroadcastingAddBuildsSplatAndBroadcast) {
  KernelBuilder kb("bcast");
  Tile p = kb.ptrArg("p", DType::f32);
  Tile rows = arange(0, 16);
  Tile cols = arange(0, 32);
  Tile idx = column(rows) * 32 + row(cols);
  EXPECT_EQ(idx.shape(), (Shape{16, 32}));
  EXPECT_EQ(idx.dtype(), DType::i32);
  Tile x = load(p + idx);
  EXPECT_EQ(x.shape(), (Shape{16, 32}));
  Tile y = x * 2.0 + 1;
  EXPECT_EQ(y.dtype(), DType::f32);
  store(p + idx, y);
  auto kernel = kb.finish();
  ASSERT_TRUE(static_cast<bool>(kernel)) << llvm::toString(kernel.takeError());
  std::string ir = kernel->ir();
  EXPECT_NE(ir.find("tile.broadcast"), std::string::npos);
  EXPECT_NE(ir.find("tile.splat"), std::string::npos);
  EXPECT_NE(ir.find("tile.addptr"), std::string::npos);
}

TEST(Dsl, CumsumMistakesAreReportedAtTheAuthorsLine) {
  {
    KernelBuilder kb("cumsum_axis");
    int line = __LINE__ + 1;
    Tile c = cumsum(zeros({16, 8}, DType::f32), 2);
    EXPECT_FALSE(c.valid());
    std::string err = errorOf(kb.finish());
    EXPECT_NE(err.find("DslTest.cpp:" + std::to_string(line) + ":"),
              std::string::npos)
        << err;
    EXPECT_NE(err.find("cumsum: axis 2 is out of range for shape [16x8]"),
              std::string::npos)
        << err;
  }
  {
    KernelBuilder kb("cumsum_scalar");
    Tile s = cumsum(zeros({}, DType::f32), 0);
    EXPECT_FALSE(s.valid());
    std::string err = errorOf(kb.finish());
    EXPECT_NE(err.find("cumsum needs a tensor, got a scalar"), std::string::npos)
        << err;
  }
  {
    KernelBuilder kb("cumsum_mask");
    Tile m = cumsum(arange(0, 16) < 3, 0);
    EXPECT_FALSE(m.valid());
    std::string err = errorOf(kb.finish());
    EXPECT_NE(err.find("cumsum cannot sum i1"), std::string::npos) << err;
  }
}

TEST(Dsl, PromotesMixedFloatTypesToF32) {
  KernelBuilder kb("promote");
  Tile a = zeros({16}, DType::bf16);
  Tile b = zeros({16}, DType::f16);
  EXPECT_EQ((a + b).dtype(), DType::f32);
  Tile i = arange(0, 16);
  EXPECT_EQ((i + a).dtype(), DType::bf16);
  EXPECT_EQ((i.to(DType::i64) + i).dtype(), DType::i64);
  ASSERT_TRUE(static_cast<bool>(kb.finish()));
}

TEST(Dsl, DotShapeMistakeIsReportedAtTheAuthorsLine) {
  KernelBuilder kb("bad_dot");
  Tile a = zeros({16, 32}, DType::bf16);
  Tile b = zeros({16, 32}, DType::bf16);
  int line = __LINE__ + 1;
  Tile c = dot(a, b); // inner dimensions differ: 32 vs 16
  EXPECT_FALSE(c.valid());
  std::string err = errorOf(kb.finish());
  EXPECT_NE(err.find("DslTest.cpp:" + std::to_string(line) + ":"),
            std::string::npos)
      << err;
  EXPECT_NE(err.find("inner dimensions differ"), std::string::npos) << err;
  EXPECT_NE(err.find("bad_dot"), std::string::npos) << err;
}

TEST(Dsl, OperatorShapeMistakeIsReportedAtTheExpressionsLine) {
  KernelBuilder kb("bad_add");
  Tile a = zeros({16, 32}, DType::f32);
  Tile b = zeros({32, 16}, DType::f32);
  int line = __LINE__ + 1;
  Tile c = a + b;
  EXPECT_FALSE(c.valid());
  // Later ops on the poisoned value report nothing new.
  Tile d = exp(c) * 2.0;
  EXPECT_FALSE(d.valid());
  std::string err = errorOf(kb.finish());
  EXPECT_NE(err.find("DslTest.cpp:" + std::to_string(line) + ":"),
            std::string::npos)
      << err;
  EXPECT_NE(err.find("cannot broadcast [16x32] with [32x16]"),
            std::string::npos)
      << err;
  EXPECT_EQ(err.find('\n'), std::string::npos) << "one error, not a cascade: " << err;
}

TEST(Dsl, DtypeMistakeOnStoreIsReported) {
  KernelBuilder kb("bad_store");
  Tile p = kb.ptrArg("p", DType::bf16);
  Tile x = zeros({16}, DType::f32);
  int line = __LINE__ + 1;
  store(p + arange(0, 16), x);
  std::string err = errorOf(kb.finish());
  EXPECT_NE(err.find("DslTest.cpp:" + std::to_string(line) + ":"),
            std::string::npos)
      << err;
  EXPECT_NE(err.find("store: value of type f32 into pointers to bf16"),
            std::string::npos)
      << err;
}

TEST(Dsl, LoopCarriedTypeMismatchIsReported) {
  KernelBuilder kb("bad_loop");
  Tile acc = zeros({16, 16}, DType::f32);
  int line = __LINE__ + 1;
  kb.forRange(0, 4, {acc}, [&](Tile, std::vector<Tile> c) {
    return std::vector<Tile>{c[0].to(DType::bf16)};
  });
  std::string err = errorOf(kb.finish());
  EXPECT_NE(err.find("DslTest.cpp:" + std::to_string(line) + ":"),
            std::string::npos)
      << err;
  EXPECT_NE(err.find("loop-carried value 0 enters as tensor<16x16xf32> but "
                     "the body returns tensor<16x16xbf16>"),
            std::string::npos)
      << err;
}

TEST(Dsl, MaskMustBeBoolean) {
  KernelBuilder kb("bad_mask");
  Tile p = kb.ptrArg("p", DType::f32);
  Tile idx = arange(0, 16);
  load(p + idx, idx);
  std::string err = errorOf(kb.finish());
  EXPECT_NE(err.find("mask must be i1"), std::string::npos) << err;
}

TEST(Dsl, DuplicateArgumentNameIsReported) {
  KernelBuilder kb("dup");
  kb.ptrArg("x", DType::f32);
  kb.scalarArg("x", DType::i32);
  EXPECT_NE(errorOf(kb.finish()).find("duplicate argument name 'x'"),
            std::string::npos);
}

TEST(Dsl, IfThenNeedsAScalarCondition) {
  KernelBuilder kb("bad_if");
  Tile r = arange(0, 16);
  kb.ifThen(r < 3, [] {});
  EXPECT_NE(errorOf(kb.finish()).find("ifThen condition must be an i1 scalar"),
            std::string::npos);
}

} // namespace
