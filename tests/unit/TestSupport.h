// Test helpers the unit tests share: fresh random seeds that a failure can
// replay, an llvm::Error as text, the relative error of two outputs, and
// f32 host tensors for the kernels' entry points.
#ifndef TESSEL_TESTS_UNIT_TESTSUPPORT_H
#define TESSEL_TESTS_UNIT_TESTSUPPORT_H

#include "kernels/Lightning.h"
#include "kernels/Reference.h"

#include "llvm/Support/Error.h"

#include <cstdint>
#include <cstdlib>
#include <random>
#include <string>
#include <vector>

namespace tessel::test {

/// A fresh seed per run; TESSEL_TEST_SEED=<n> replays a failure.
inline uint64_t freshSeed() {
  if (const char *s = std::getenv("TESSEL_TEST_SEED"))
    return std::strtoull(s, nullptr, 10);
  std::random_device rd;
  return (uint64_t(rd()) << 32) ^ rd();
}

/// "" for success, else the error's text.
inline std::string errorText(llvm::Error err) {
  return err ? llvm::toString(std::move(err)) : "";
}

/// `n` samples of N(0, 1).
inline std::vector<float> normals(std::mt19937_64 &rng, size_t n) {
  std::normal_distribution<float> dist(0.0f, 1.0f);
  std::vector<float> x(n);
  for (float &e : x)
    e = dist(rng);
  return x;
}

/// An f32 host tensor over `data` (dense unless `strides` are given, in
/// elements).
inline TensorRef f32Tensor(void *data, std::vector<int64_t> shape,
                           std::vector<int64_t> strides = {}) {
  TensorRef r;
  r.data = data;
  r.dtype = DType::f32;
  r.shape = std::move(shape);
  r.strides = std::move(strides);
  return r;
}

/// ‖a − b‖ / ‖b‖ in double precision.
inline double relDiff(const std::vector<float> &a, const std::vector<float> &b) {
  return reference::relativeError(std::vector<double>(a.begin(), a.end()),
                                  std::vector<double>(b.begin(), b.end()));
}

} // namespace tessel::test

#endif // TESSEL_TESTS_UNIT_TESTSUPPORT_H
