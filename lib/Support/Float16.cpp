//===- Float16.cpp - Half and bfloat16 conversions ------------------------===//

#include "attn/Support/Float16.h"

#include "llvm/ADT/bit.h"

#include <cstring>

namespace attn {

uint16_t floatToHalf(float value) {
  uint32_t x = llvm::bit_cast<uint32_t>(value);
  uint16_t sign = static_cast<uint16_t>((x >> 16) & 0x8000u);
  uint32_t absx = x & 0x7fffffffu;

  // Infinity or NaN.
  if (absx >= 0x7f800000u) {
    if (absx > 0x7f800000u) // NaN: keep the top payload bits, force quiet.
      return sign | 0x7e00u | static_cast<uint16_t>((absx >> 13) & 0x3ffu);
    return sign | 0x7c00u;
  }
  // 65520 (halfway between 65504 and 65536) and above round to infinity.
  if (absx >= 0x477ff000u)
    return sign | 0x7c00u;

  // Below 2^-14: the result is a half subnormal (or zero, or rounds up to the
  // smallest normal, which the encoding handles naturally).
  if (absx < 0x38800000u) {
    // 2^-25 is the tie between 0 and the smallest subnormal: ties to even (0).
    if (absx <= 0x33000000u)
      return sign;
    uint32_t exponent = absx >> 23;                     // 102 .. 112
    uint32_t mantissa = (absx & 0x7fffffu) | 0x800000u; // with hidden bit
    uint32_t shift = 126 - exponent;                    // 14 .. 24
    uint32_t result = mantissa >> shift;
    uint32_t rem = mantissa & ((1u << shift) - 1);
    uint32_t half = 1u << (shift - 1);
    if (rem > half || (rem == half && (result & 1u)))
      ++result;
    return sign | static_cast<uint16_t>(result);
  }

  // Normal range. A carry out of the mantissa correctly bumps the exponent.
  uint32_t exponent = (absx >> 23) - 127 + 15;
  uint32_t mantissa = absx & 0x7fffffu;
  uint32_t result = (exponent << 10) | (mantissa >> 13);
  uint32_t rem = mantissa & 0x1fffu;
  if (rem > 0x1000u || (rem == 0x1000u && (result & 1u)))
    ++result;
  return sign | static_cast<uint16_t>(result);
}

float halfToFloat(uint16_t bits) {
  uint32_t sign = static_cast<uint32_t>(bits & 0x8000u) << 16;
  uint32_t exponent = (bits >> 10) & 0x1fu;
  uint32_t mantissa = bits & 0x3ffu;
  uint32_t x;
  if (exponent == 0x1f) {
    x = sign | 0x7f800000u | (mantissa << 13);
  } else if (exponent != 0) {
    x = sign | ((exponent - 15 + 127) << 23) | (mantissa << 13);
  } else if (mantissa == 0) {
    x = sign;
  } else {
    // Subnormal: normalise the mantissa.
    int e = -1;
    do {
      ++e;
      mantissa <<= 1;
    } while ((mantissa & 0x400u) == 0);
    x = sign | static_cast<uint32_t>(127 - 15 - e) << 23 |
        ((mantissa & 0x3ffu) << 13);
  }
  return llvm::bit_cast<float>(x);
}

uint16_t floatToBFloat16(float value) {
  uint32_t x = llvm::bit_cast<uint32_t>(value);
  if ((x & 0x7fffffffu) > 0x7f800000u) // NaN: truncate and force quiet.
    return static_cast<uint16_t>((x >> 16) | 0x0040u);
  uint32_t lsb = (x >> 16) & 1u;
  // Overflow past the largest finite value carries into the infinity pattern.
  return static_cast<uint16_t>((x + 0x7fffu + lsb) >> 16);
}

float bfloat16ToFloat(uint16_t bits) {
  return llvm::bit_cast<float>(static_cast<uint32_t>(bits) << 16);
}

float roundToHalf(float value) { return halfToFloat(floatToHalf(value)); }

float roundToBFloat16(float value) {
  return bfloat16ToFloat(floatToBFloat16(value));
}

llvm::StringRef toString(ElementType type) {
  switch (type) {
  case ElementType::F32:
    return "f32";
  case ElementType::F16:
    return "f16";
  case ElementType::BF16:
    return "bf16";
  }
  return "<invalid element type>";
}

std::optional<ElementType> parseElementType(llvm::StringRef name) {
  if (name == "f32")
    return ElementType::F32;
  if (name == "f16")
    return ElementType::F16;
  if (name == "bf16")
    return ElementType::BF16;
  return std::nullopt;
}

float roundTo(ElementType type, float value) {
  switch (type) {
  case ElementType::F32:
    return value;
  case ElementType::F16:
    return roundToHalf(value);
  case ElementType::BF16:
    return roundToBFloat16(value);
  }
  return value;
}

std::vector<uint8_t> toStorage(ElementType type,
                               const std::vector<float> &values) {
  std::vector<uint8_t> bytes;
  if (type == ElementType::F32) {
    bytes.resize(values.size() * sizeof(float));
    std::memcpy(bytes.data(), values.data(), bytes.size());
    return bytes;
  }
  bytes.resize(values.size() * sizeof(uint16_t));
  auto *out = reinterpret_cast<uint16_t *>(bytes.data());
  for (size_t i = 0; i < values.size(); ++i)
    out[i] = type == ElementType::F16 ? floatToHalf(values[i])
                                      : floatToBFloat16(values[i]);
  return bytes;
}

std::vector<float> fromStorage(ElementType type,
                               const std::vector<uint8_t> &bytes) {
  size_t elementSize = type == ElementType::F32 ? 4 : 2;
  std::vector<float> values(bytes.size() / elementSize);
  if (type == ElementType::F32) {
    std::memcpy(values.data(), bytes.data(), bytes.size());
    return values;
  }
  const auto *in = reinterpret_cast<const uint16_t *>(bytes.data());
  for (size_t i = 0; i < values.size(); ++i)
    values[i] =
        type == ElementType::F16 ? halfToFloat(in[i]) : bfloat16ToFloat(in[i]);
  return values;
}

} // namespace attn
