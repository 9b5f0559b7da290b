// Host-side 16-bit floats: bf16 and f16 encode/decode with round-to-nearest-
// even, as the GPU converts them. Used by the interpreter, the references and
// the host entry points.
#ifndef TESSEL_RUNTIME_HALF_H
#define TESSEL_RUNTIME_HALF_H

#include <cmath>
#include <cstdint>
#include <cstring>

namespace tessel {

inline uint16_t floatToBF16Bits(float x) {
  uint32_t bits;
  std::memcpy(&bits, &x, 4);
  if (std::isnan(x))
    return static_cast<uint16_t>((bits >> 16) | 0x40);
  uint32_t lsb = (bits >> 16) & 1;
  bits += 0x7fff + lsb;
  return static_cast<uint16_t>(bits >> 16);
}

inline float bf16BitsToFloat(uint16_t h) {
  uint32_t bits = static_cast<uint32_t>(h) << 16;
  float x;
  std::memcpy(&x, &bits, 4);
  return x;
}

inline uint16_t floatToF16Bits(float x) {
  _Float16 h = static_cast<_Float16>(x);
  uint16_t bits;
  std::memcpy(&bits, &h, 2);
  return bits;
}

inline float f16BitsToFloat(uint16_t bits) {
  _Float16 h;
  std::memcpy(&h, &bits, 2);
  return static_cast<float>(h);
}

/// Rounds a double to the nearest bf16 (through f32, as the GPU's fp32->bf16
/// conversion sees it).
inline double roundToBF16(double x) {
  return bf16BitsToFloat(floatToBF16Bits(static_cast<float>(x)));
}

/// Rounds a double straight to the nearest f16.
inline double roundToF16(double x) {
  return static_cast<double>(static_cast<_Float16>(x));
}

} // namespace tessel

#endif // TESSEL_RUNTIME_HALF_H
