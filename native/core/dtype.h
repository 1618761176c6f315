// Storage dtypes and scalar conversions (IEEE half, bfloat16 with round-to-nearest-even).
#pragma once
#include <cstddef>
#include <cstdint>
#include <cstring>
#include <string>

namespace wc {

enum class DType { F32, F16, BF16, F64, I8, U8, I16, I32, I64, BOOL, Unknown };

DType dtype_from_safetensors(const std::string& s);  // "F32" → F32; unknown → Unknown
const char* dtype_name(DType d);
size_t dtype_size(DType d);  // 0 for Unknown

inline float bf16_to_f32(uint16_t h) {
  uint32_t u = uint32_t(h) << 16;
  float f;
  std::memcpy(&f, &u, 4);
  return f;
}
inline uint16_t f32_to_bf16(float f) {
  uint32_t u;
  std::memcpy(&u, &f, 4);
  if ((u & 0x7fffffffu) > 0x7f800000u) return uint16_t((u >> 16) | 0x40);  // quiet NaN
  u += 0x7fffu + ((u >> 16) & 1u);
  return uint16_t(u >> 16);
}
float f16_to_f32(uint16_t h);
uint16_t f32_to_f16(float f);

// Convert n elements stored as `src_dtype` (F32/F16/BF16/F64) to f32.
void convert_to_f32(const void* src, DType src_dtype, size_t n, float* dst);

}  // namespace wc
