// Random valid chunk-loop kernels for the compiler fuzz tests.
#include "tests/support/RandomKernels.h"

#include "dsl/KernelBuilder.h"
#include "runtime/Half.h"

#include <algorithm>

namespace tessel::test {

using namespace tessel::dsl;

llvm::Expected<Kernel> randomKernel(std::mt19937_64 &rng, std::string &what,
                                    Dims &dims) {
  auto pick = [&](std::initializer_list<int> xs) {
    return *(xs.begin() + rng() % xs.size());
  };
  int C = pick({16, 32, 64}), D = pick({16, 32, 64, 128}),
      E = pick({16, 32, 64, 128});
  DType T = rng() % 4 == 0 ? DType::f32 : (rng() % 2 ? DType::bf16 : DType::f16);
  bool transK = rng() % 2, decay = rng() % 2, carry = rng() % 4 != 0,
       useP = rng() % 4 != 0, reduceRows = rng() % 3 == 0,
       transState = rng() % 3 == 0, roundState = rng() % 2;
  int stages = 1 + rng() % 3;
  dims = {C, D, E, T};
  what = "C" + std::to_string(C) + " D" + std::to_string(D) + " E" +
         std::to_string(E) + " " + dtypeName(T) + (transK ? " transK" : "") +
         (decay ? " decay" : "") + (carry ? " carry" : "") +
         (useP ? " P" : "") + (reduceRows ? " reduce" : "") +
         (transState ? " transState" : "") + (roundState ? " round" : "") +
         " stages" + std::to_string(stages);

  KernelBuilder kb("fuzz");
  kb.setNumStages(stages);
  Tile q = kb.ptrArg("q", T), k = kb.ptrArg("k", T), v = kb.ptrArg("v", T),
       o = kb.ptrArg("o", T);
  Tile n = kb.scalarArg("n", DType::i32);
  Tile rows = arange(0, C), dcols = arange(0, D), ecols = arange(0, E);
  Tile fi = rows.to(DType::f32);
  Tile mask = where(column(rows) >= row(rows), exp(-0.1 * (column(fi) - row(fi))), 0.0);
  Tile init = zeros(transState ? Shape{E, D} : Shape{D, E}, DType::f32);
  auto out = kb.forRange(0, cdiv(n, C), {init}, [&](Tile blk, std::vector<Tile> carried) {
    Tile state = carried[0];
    Tile r = blk * C + rows;
    Tile live = column(r < n);
    Tile qb = load(q + column(r) * D + row(dcols), live);
    // k stored as (C, D) and used transposed, or stored as (D, C).
    Tile kb_ = transK ? load(k + column(r) * D + row(dcols), live)
                      : load(k + row(r) * 1 + column(dcols) * n, row(r < n));
    Tile kT = transK ? trans(kb_) : kb_; // D × C
    Tile vb = load(v + column(r) * E + row(ecols), live);
    Tile scores = dot(qb, kT);
    if (decay)
      scores = scores * mask;
    Tile outTile = useP ? dot(scores.to(T), vb) : zeros({C, E}, DType::f32);
    Tile st = transState ? trans(state) : state; // D × E
    // Rounded straight from the (transposed) state, or after a scaling.
    Tile stOp = roundState ? st.to(T) : (st * 2.0).to(T);
    if (carry)
      outTile = outTile + dot(qb, stOp) * 0.5;
    if (reduceRows)
      outTile = outTile + column(sum(scores, 1));
    store(o + column(r) * E + row(ecols), outTile.to(T), live);
    Tile kd = (transK ? kb_ : trans(kb_)) * column(exp(-0.01 * fi)); // C × D
    Tile update = dot(trans(kd.to(T)), vb);                         // D × E
    if (transState)
      update = trans(update);
    return std::vector<Tile>{carry ? state * 0.9 + update : update};
  });
  store(o + column(arange(0, transState ? E : D)) * (transState ? D : E) +
            row(arange(0, transState ? D : E)),
        out[0].to(T));
  return kb.finish();
}

size_t outputElems(const Dims &dims, int64_t n) {
  return std::max<int64_t>(n * dims.E, int64_t(dims.D) * dims.E);
}

HostBuffer::HostBuffer(DType t, size_t elems, std::mt19937_64 &rng) : t(t) {
  std::normal_distribution<float> dist(0.0f, 0.5f);
  if (t == DType::f32) {
    full.resize(elems);
    for (float &x : full)
      x = dist(rng);
    return;
  }
  half.resize(elems);
  for (uint16_t &x : half)
    x = t == DType::bf16 ? floatToBF16Bits(dist(rng)) : floatToF16Bits(dist(rng));
}

LaunchArg HostBuffer::arg() {
  return t == DType::f32 ? LaunchArg::buffer(full.data(), full.size() * 4, t)
                         : LaunchArg::buffer(half.data(), half.size() * 2, t);
}

float HostBuffer::at(size_t i) const {
  if (t == DType::f32)
    return full[i];
  return t == DType::bf16 ? bf16BitsToFloat(half[i]) : f16BitsToFloat(half[i]);
}

} // namespace tessel::test
