//===- Float16.h - Half and bfloat16 conversions ----------------*- C++ -*-===//
//
// Bit-exact conversions between float32 and the 16-bit storage formats the
// compiler supports (IEEE binary16 "f16" and bfloat16 "bf16"), plus the
// element-type enum used throughout the project.
//
// All float -> 16-bit conversions round to nearest, ties to even. Values too
// large for the target format become infinity of the same sign, NaN stays NaN
// (always quiet; the sign and the top payload bits are kept) and values below
// the smallest subnormal become (signed) zero.
//
//===----------------------------------------------------------------------===//

#ifndef ATTN_SUPPORT_FLOAT16_H
#define ATTN_SUPPORT_FLOAT16_H

#include "llvm/ADT/StringRef.h"

#include <cstdint>
#include <optional>
#include <vector>

namespace attn {

/// Converts to IEEE binary16 bits (round to nearest even; handles subnormals,
/// overflow to infinity, infinities and NaN).
uint16_t floatToHalf(float value);
/// Converts IEEE binary16 bits to float (exact).
float halfToFloat(uint16_t bits);

/// Converts to bfloat16 bits (round to nearest even; NaN stays a quiet NaN).
uint16_t floatToBFloat16(float value);
/// Converts bfloat16 bits to float (exact).
float bfloat16ToFloat(uint16_t bits);

/// Rounds `value` to the nearest binary16 value, returned as float.
float roundToHalf(float value);
/// Rounds `value` to the nearest bfloat16 value, returned as float.
float roundToBFloat16(float value);

/// Element type of a tensor in storage.
enum class ElementType { F32, F16, BF16 };

/// Returns "f32", "f16" or "bf16".
llvm::StringRef toString(ElementType type);
/// Parses "f32", "f16" or "bf16"; std::nullopt for anything else.
std::optional<ElementType> parseElementType(llvm::StringRef name);
/// Rounds `value` to the precision of `type` (identity for F32).
float roundTo(ElementType type, float value);

/// Raw storage bytes of `values` in `type` (f16/bf16 as 16-bit patterns),
/// and back.
std::vector<uint8_t> toStorage(ElementType type,
                               const std::vector<float> &values);
std::vector<float> fromStorage(ElementType type,
                               const std::vector<uint8_t> &bytes);

} // namespace attn

#endif // ATTN_SUPPORT_FLOAT16_H
