// Google Benchmark of the host side: where a cold start's time goes before
// the GPU runs anything. For the Lightning forward and dq kernels at the
// standard head size (D = E = 128, bf16, their heuristic configurations):
// building the tile IR with the DSL, the layout stage (canonicalization,
// layouts, pipelining, shared memory, barriers), the whole pipeline to PTX
// (LLVM's NVPTX back end included), ptxas; then a disk-cache hit, the
// interpreter's throughput on a small chunk loop, and — where a GPU is
// usable — the launch overhead of a tiny kernel. CTest runs every one once
// (`bench-smoke`), so the harness cannot rot; the GPU machine records them
// (`tessel-host-bench --benchmark_format=json`).
#include "dsl/KernelBuilder.h"
#include "kernels/LightningKernels.h"
#include "lowering/Pipeline.h"
#include "runtime/CudaDriver.h"
#include "runtime/Interpreter.h"
#include "runtime/KernelCache.h"
#include "runtime/Launch.h"
#include "runtime/Ptxas.h"

#include "benchmark/benchmark.h"
#include "llvm/Support/FileSystem.h"

#include <random>

using namespace tessel;
using namespace tessel::dsl;

namespace {

kernels::LightningSpec standardSpec() {
  kernels::LightningSpec spec;
  spec.d = spec.e = 128;
  spec.dtype = DType::bf16;
  return spec;
}

/// The heuristic configuration of `pass` at B16 N8192 H16 (132 SMs) but one
/// sweep, so the benchmarked kernel is the one a start-up compiles.
kernels::PassConfig standardConfig(kernels::LightningPass pass) {
  kernels::PassConfig c;
  bool fwd = pass == kernels::LightningPass::Forward;
  c.blockW = fwd ? 128 : 64;
  c.numWarps = fwd ? 8 : 4;
  c.stages = 3;
  return c;
}

Kernel buildOrDie(kernels::LightningPass pass) {
  auto k = kernels::buildLightningKernel(pass, standardSpec(),
                                         standardConfig(pass));
  if (!k) {
    llvm::errs() << llvm::toString(k.takeError()) << "\n";
    std::abort();
  }
  return std::move(*k);
}

lowering::TargetOptions target(kernels::LightningPass pass) {
  lowering::TargetOptions t;
  t.arch = "sm_90a";
  t.numWarps = standardConfig(pass).numWarps;
  return t;
}

/// Aligned pointers and multiple-of-16 integers, as the launcher specializes.
mlir::OwningOpRef<mlir::ModuleOp> specialized(const Kernel &k) {
  return lowering::specializeDivisibility(
      k.module(), llvm::SmallVector<bool>(k.args().size(), true));
}

void BM_BuildIR(benchmark::State &state, kernels::LightningPass pass) {
  for (auto _ : state) {
    Kernel k = buildOrDie(pass);
    benchmark::DoNotOptimize(k.id());
  }
}

void BM_LayoutStage(benchmark::State &state, kernels::LightningPass pass) {
  Kernel k = buildOrDie(pass);
  auto module = specialized(k);
  for (auto _ : state) {
    auto bytes = lowering::sharedMemoryBytes(*module, target(pass));
    if (!bytes)
      state.SkipWithError(llvm::toString(bytes.takeError()).c_str());
    else
      benchmark::DoNotOptimize(*bytes);
  }
}

void BM_CompileToPTX(benchmark::State &state, kernels::LightningPass pass) {
  Kernel k = buildOrDie(pass);
  auto module = specialized(k);
  for (auto _ : state) {
    auto compiled = lowering::compileToPTX(*module, target(pass));
    if (!compiled) {
      state.SkipWithError(llvm::toString(compiled.takeError()).c_str());
      break;
    }
    benchmark::DoNotOptimize(compiled->ptx.size());
  }
}

void BM_Ptxas(benchmark::State &state, kernels::LightningPass pass) {
  auto ptxas = findPtxas();
  if (!ptxas) {
    llvm::consumeError(ptxas.takeError());
    state.SkipWithError("no ptxas");
    return;
  }
  Kernel k = buildOrDie(pass);
  auto module = specialized(k);
  auto compiled = lowering::compileToPTX(*module, target(pass));
  if (!compiled) {
    state.SkipWithError(llvm::toString(compiled.takeError()).c_str());
    return;
  }
  for (auto _ : state) {
    auto cubin = assemblePtx(compiled->ptx, "sm_90a");
    if (!cubin) {
      state.SkipWithError(llvm::toString(cubin.takeError()).c_str());
      break;
    }
    benchmark::DoNotOptimize(cubin->cubin.size());
  }
}

/// A warm start: the key over the kernel's IR, then a hit on disk (the
/// entry is read and checked; memory is bypassed with a fresh cache).
void BM_DiskCacheHit(benchmark::State &state) {
  llvm::SmallString<128> dir;
  if (llvm::sys::fs::createUniqueDirectory("tessel-bench-cache", dir)) {
    state.SkipWithError("no temporary directory");
    return;
  }
  Kernel k = buildOrDie(kernels::LightningPass::Forward);
  std::string key = KernelCache::makeKey(k.ir(), "bench", "sm_90a",
                                         KernelCache::compilerVersion());
  {
    KernelCache cache(dir.str().str());
    if (auto err = cache.store(key, KernelBinary::ptx(std::string(100000, 'x')))) {
      state.SkipWithError(llvm::toString(std::move(err)).c_str());
      return;
    }
  }
  for (auto _ : state) {
    KernelCache cache(dir.str().str());
    std::string again = KernelCache::makeKey(k.ir(), "bench", "sm_90a",
                                             KernelCache::compilerVersion());
    auto hit = cache.lookup(again);
    if (!hit) {
      state.SkipWithError("cache miss");
      break;
    }
    benchmark::DoNotOptimize(hit->bytes.size());
  }
  llvm::sys::fs::remove_directories(dir);
}

/// A chunk loop (C = 32, D = E = 32, 4 blocks) on the interpreter;
/// items = multiply-adds of its dots.
void BM_InterpreterChunkLoop(benchmark::State &state) {
  const int C = 32, D = 32, E = 32, n = 128;
  KernelBuilder kb("bench_chunks");
  Tile q = kb.ptrArg("q", DType::f32), v = kb.ptrArg("v", DType::f32),
       o = kb.ptrArg("o", DType::f32);
  Tile rows = arange(0, C), dcols = arange(0, D), ecols = arange(0, E);
  kb.forRange(0, n / C, {zeros({D, E}, DType::f32)},
              [&](Tile blk, std::vector<Tile> carried) {
                Tile r = blk * C + rows;
                Tile qb = load(q + column(r) * D + row(dcols));
                Tile vb = load(v + column(r) * E + row(ecols));
                store(o + column(r) * E + row(ecols), dot(qb, carried[0]));
                return std::vector<Tile>{carried[0] + dot(trans(qb), vb)};
              });
  auto kernel = kb.finish();
  if (!kernel) {
    state.SkipWithError(llvm::toString(kernel.takeError()).c_str());
    return;
  }
  std::vector<float> qs(n * D, 0.5f), vs(n * E, 0.25f), os(n * E);
  std::vector<LaunchArg> args{LaunchArg::buffer(qs.data(), qs.size() * 4, DType::f32),
                              LaunchArg::buffer(vs.data(), vs.size() * 4, DType::f32),
                              LaunchArg::buffer(os.data(), os.size() * 4, DType::f32)};
  for (auto _ : state)
    if (auto err = interpret(*kernel, Grid{1}, args)) {
      state.SkipWithError(llvm::toString(std::move(err)).c_str());
      break;
    }
  state.SetItemsProcessed(state.iterations() * int64_t(n / C) *
                          (int64_t(C) * D * E + int64_t(D) * C * E));
}

/// One tiny kernel launched on the GPU again and again (compiled once):
/// what a call costs the host beyond the kernel itself.
void BM_GpuLaunchOverhead(benchmark::State &state) {
  if (!cudaAvailable()) {
    state.SkipWithError("no usable CUDA device");
    return;
  }
  KernelBuilder kb("bench_noop");
  Tile p = kb.ptrArg("p", DType::f32);
  store(p + arange(0, 32), zeros({32}, DType::f32));
  auto kernel = kb.finish();
  if (!kernel) {
    state.SkipWithError(llvm::toString(kernel.takeError()).c_str());
    return;
  }
  std::vector<float> buf(32);
  std::vector<LaunchArg> args{LaunchArg::buffer(buf.data(), buf.size() * 4, DType::f32)};
  for (auto _ : state)
    if (auto err = launch(*kernel, Grid{1}, args, Backend::Gpu)) {
      state.SkipWithError(llvm::toString(std::move(err)).c_str());
      break;
    }
}

using kernels::LightningPass;
BENCHMARK_CAPTURE(BM_BuildIR, fwd, LightningPass::Forward)->Unit(benchmark::kMillisecond);
BENCHMARK_CAPTURE(BM_BuildIR, dq, LightningPass::BackwardDq)->Unit(benchmark::kMillisecond);
BENCHMARK_CAPTURE(BM_LayoutStage, fwd, LightningPass::Forward)->Unit(benchmark::kMillisecond);
BENCHMARK_CAPTURE(BM_LayoutStage, dq, LightningPass::BackwardDq)->Unit(benchmark::kMillisecond);
BENCHMARK_CAPTURE(BM_CompileToPTX, fwd, LightningPass::Forward)->Unit(benchmark::kMillisecond);
BENCHMARK_CAPTURE(BM_CompileToPTX, dq, LightningPass::BackwardDq)->Unit(benchmark::kMillisecond);
BENCHMARK_CAPTURE(BM_Ptxas, fwd, LightningPass::Forward)->Unit(benchmark::kMillisecond);
BENCHMARK_CAPTURE(BM_Ptxas, dq, LightningPass::BackwardDq)->Unit(benchmark::kMillisecond);
BENCHMARK(BM_DiskCacheHit)->Unit(benchmark::kMicrosecond);
BENCHMARK(BM_InterpreterChunkLoop)->Unit(benchmark::kMillisecond);
BENCHMARK(BM_GpuLaunchOverhead)->Unit(benchmark::kMicrosecond);

} // namespace

BENCHMARK_MAIN();
