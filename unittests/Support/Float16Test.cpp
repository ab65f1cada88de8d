//===- Float16Test.cpp - Tests for half / bfloat16 conversions ------------===//

#include "attn/Support/Float16.h"

#include "llvm/ADT/bit.h"

#include "gtest/gtest.h"

#include <cmath>
#include <limits>

using namespace attn;

namespace {

float fromBits(uint32_t bits) { return llvm::bit_cast<float>(bits); }
uint32_t toBits(float f) { return llvm::bit_cast<uint32_t>(f); }

TEST(Float16Test, KnownHalfPatterns) {
  EXPECT_EQ(floatToHalf(0.0f), 0x0000);
  EXPECT_EQ(floatToHalf(-0.0f), 0x8000);
  EXPECT_EQ(floatToHalf(1.0f), 0x3c00);
  EXPECT_EQ(floatToHalf(-2.0f), 0xc000);
  EXPECT_EQ(floatToHalf(0.5f), 0x3800);
  EXPECT_EQ(floatToHalf(65504.0f), 0x7bff);
  EXPECT_EQ(floatToHalf(-65504.0f), 0xfbff);
  EXPECT_EQ(floatToHalf(std::ldexp(1.0f, -14)), 0x0400); // Smallest normal.
  EXPECT_EQ(floatToHalf(std::ldexp(1.0f, -24)), 0x0001); // Smallest subnormal.
  EXPECT_EQ(floatToHalf(std::ldexp(1023.0f, -24)), 0x03ff);
  EXPECT_EQ(floatToHalf(0.1f), 0x2e66);

  EXPECT_EQ(halfToFloat(0x3c00), 1.0f);
  EXPECT_EQ(halfToFloat(0x7bff), 65504.0f);
  EXPECT_EQ(halfToFloat(0x0001), std::ldexp(1.0f, -24));
  EXPECT_EQ(halfToFloat(0x03ff), std::ldexp(1023.0f, -24));
  EXPECT_EQ(halfToFloat(0x0400), std::ldexp(1.0f, -14));
  EXPECT_EQ(toBits(halfToFloat(0x8000)), 0x80000000u);
  EXPECT_EQ(halfToFloat(0x7c00), std::numeric_limits<float>::infinity());
  EXPECT_EQ(halfToFloat(0xfc00), -std::numeric_limits<float>::infinity());
}

TEST(Float16Test, HalfOverflowAndInfinity) {
  const float inf = std::numeric_limits<float>::infinity();
  EXPECT_EQ(floatToHalf(inf), 0x7c00);
  EXPECT_EQ(floatToHalf(-inf), 0xfc00);
  EXPECT_EQ(floatToHalf(1e6f), 0x7c00);
  EXPECT_EQ(floatToHalf(-1e6f), 0xfc00);
  EXPECT_EQ(floatToHalf(std::numeric_limits<float>::max()), 0x7c00);
  // 65519.99 rounds down to 65504; 65520 is the tie and rounds to even (inf).
  EXPECT_EQ(floatToHalf(65519.0f), 0x7bff);
  EXPECT_EQ(floatToHalf(std::nextafter(65520.0f, 0.0f)), 0x7bff);
  EXPECT_EQ(floatToHalf(65520.0f), 0x7c00);
}

TEST(Float16Test, HalfUnderflow) {
  // Half of the smallest subnormal is a tie: rounds to even (zero).
  EXPECT_EQ(floatToHalf(std::ldexp(1.0f, -25)), 0x0000);
  EXPECT_EQ(floatToHalf(-std::ldexp(1.0f, -25)), 0x8000);
  // Just above the tie rounds up to the smallest subnormal.
  EXPECT_EQ(floatToHalf(std::nextafter(std::ldexp(1.0f, -25), 1.0f)), 0x0001);
  // 1.5 * 2^-24 is a tie between subnormals 1 and 2: rounds to 2.
  EXPECT_EQ(floatToHalf(std::ldexp(3.0f, -25)), 0x0002);
  // 2.5 * 2^-24 ties between 2 and 3: rounds to 2.
  EXPECT_EQ(floatToHalf(std::ldexp(5.0f, -25)), 0x0002);
  EXPECT_EQ(floatToHalf(std::ldexp(1.0f, -30)), 0x0000);
  EXPECT_EQ(floatToHalf(std::numeric_limits<float>::denorm_min()), 0x0000);
  // Largest subnormal + half an ulp ties to even: the smallest normal.
  EXPECT_EQ(floatToHalf(std::ldexp(2047.0f, -25)), 0x0400);
}

TEST(Float16Test, HalfRoundToNearestEven) {
  // Between 1 and 1 + 2^-10, the midpoint ties to even (1.0).
  EXPECT_EQ(floatToHalf(1.0f + std::ldexp(1.0f, -11)), 0x3c00);
  // Between 1 + 2^-10 (odd) and 1 + 2^-9 (even): the midpoint rounds up.
  EXPECT_EQ(floatToHalf(1.0f + 3 * std::ldexp(1.0f, -11)), 0x3c02);
  // Slightly above the midpoint rounds up.
  EXPECT_EQ(floatToHalf(std::nextafter(1.0f + std::ldexp(1.0f, -11), 2.0f)),
            0x3c01);
  // Carry out of the mantissa bumps the exponent: 2 - 2^-12 -> 2.0.
  EXPECT_EQ(floatToHalf(2.0f - std::ldexp(1.0f, -12)), 0x4000);
  EXPECT_EQ(floatToHalf(2048.0f + 1.0f), 0x6800); // Tie at ulp 2: even.
  EXPECT_EQ(floatToHalf(2048.0f + 3.0f), 0x6802); // Tie: even is 2052.
}

TEST(Float16Test, HalfNaN) {
  const float nan = std::numeric_limits<float>::quiet_NaN();
  uint16_t h = floatToHalf(nan);
  EXPECT_EQ(h & 0x7c00, 0x7c00);
  EXPECT_NE(h & 0x03ff, 0);
  EXPECT_TRUE(std::isnan(halfToFloat(h)));
  // A signalling NaN whose payload is only in the low bits stays NaN.
  uint16_t s = floatToHalf(fromBits(0x7f800001u));
  EXPECT_EQ(s & 0x7c00, 0x7c00);
  EXPECT_NE(s & 0x03ff, 0);
  EXPECT_EQ(floatToHalf(fromBits(0xffc00000u)) & 0x8000, 0x8000);
  EXPECT_TRUE(std::isnan(halfToFloat(0x7e00)));
  EXPECT_TRUE(std::isnan(halfToFloat(0x7c01)));
  EXPECT_TRUE(std::isnan(roundToHalf(nan)));
}

TEST(Float16Test, AllHalfValuesRoundTrip) {
  for (uint32_t bits = 0; bits <= 0xffff; ++bits) {
    uint16_t h = static_cast<uint16_t>(bits);
    float f = halfToFloat(h);
    bool isNaN = (h & 0x7c00) == 0x7c00 && (h & 0x03ff) != 0;
    if (isNaN) {
      ASSERT_TRUE(std::isnan(f)) << "bits 0x" << std::hex << bits;
      uint16_t back = floatToHalf(f);
      ASSERT_EQ(back & 0x7c00, 0x7c00);
      ASSERT_NE(back & 0x03ff, 0);
      ASSERT_EQ(back & 0x8000, h & 0x8000);
      continue;
    }
    ASSERT_EQ(floatToHalf(f), h) << "bits 0x" << std::hex << bits;
    ASSERT_EQ(toBits(roundToHalf(f)), toBits(f));
  }
}

TEST(Float16Test, HalfRoundingIsNearest) {
  // Check the conversion against brute force on values between neighbouring
  // finite halves: the result must be one of the two neighbours, the nearer
  // one, and the even one on ties.
  for (uint32_t bits = 0; bits < 0x7bff; bits += 7) {
    float lo = halfToFloat(static_cast<uint16_t>(bits));
    float hi = halfToFloat(static_cast<uint16_t>(bits + 1));
    for (int step = 1; step < 8; ++step) {
      float x = lo + (hi - lo) * step / 8.0f;
      uint16_t h = floatToHalf(x);
      double dLo = static_cast<double>(x) - lo,
             dHi = hi - static_cast<double>(x);
      uint16_t expected;
      if (dLo < dHi)
        expected = static_cast<uint16_t>(bits);
      else if (dHi < dLo)
        expected = static_cast<uint16_t>(bits + 1);
      else
        expected = static_cast<uint16_t>((bits & 1) ? bits + 1 : bits);
      ASSERT_EQ(h, expected) << "x = " << x;
      ASSERT_EQ(floatToHalf(-x), expected | 0x8000);
    }
  }
}

TEST(BFloat16Test, KnownPatterns) {
  EXPECT_EQ(floatToBFloat16(1.0f), 0x3f80);
  EXPECT_EQ(floatToBFloat16(-2.0f), 0xc000);
  EXPECT_EQ(floatToBFloat16(0.0f), 0x0000);
  EXPECT_EQ(floatToBFloat16(-0.0f), 0x8000);
  EXPECT_EQ(floatToBFloat16(std::numeric_limits<float>::infinity()), 0x7f80);
  EXPECT_EQ(floatToBFloat16(-std::numeric_limits<float>::infinity()), 0xff80);
  EXPECT_EQ(bfloat16ToFloat(0x3f80), 1.0f);
  EXPECT_EQ(bfloat16ToFloat(0x4049), 3.140625f);
  EXPECT_EQ(floatToBFloat16(3.14159265f), 0x4049);
  // Largest float rounds to infinity; largest bf16 stays.
  EXPECT_EQ(floatToBFloat16(std::numeric_limits<float>::max()), 0x7f80);
  EXPECT_EQ(floatToBFloat16(bfloat16ToFloat(0x7f7f)), 0x7f7f);
  // Subnormals are kept.
  EXPECT_EQ(floatToBFloat16(fromBits(0x00010000u)), 0x0001);
}

TEST(BFloat16Test, RoundToNearestEven) {
  // 1 + 2^-8 is the tie between 1.0 (even) and 1 + 2^-7 (odd): down.
  EXPECT_EQ(floatToBFloat16(fromBits(0x3f808000u)), 0x3f80);
  // 1 + 3 * 2^-8 ties between odd 0x3f81 and even 0x3f82: up.
  EXPECT_EQ(floatToBFloat16(fromBits(0x3f818000u)), 0x3f82);
  // Just above / below a tie.
  EXPECT_EQ(floatToBFloat16(fromBits(0x3f808001u)), 0x3f81);
  EXPECT_EQ(floatToBFloat16(fromBits(0x3f817fffu)), 0x3f81);
  // Carry into the exponent.
  EXPECT_EQ(floatToBFloat16(fromBits(0x3fffc000u)), 0x4000);
  EXPECT_EQ(floatToBFloat16(fromBits(0xbf808000u)), 0xbf80);
}

TEST(BFloat16Test, NaN) {
  for (uint32_t bits : {0x7fc00000u, 0x7f800001u, 0xff800001u, 0x7fffffffu}) {
    uint16_t b = floatToBFloat16(fromBits(bits));
    EXPECT_EQ(b & 0x7f80, 0x7f80) << std::hex << bits;
    EXPECT_NE(b & 0x007f, 0) << std::hex << bits;
    EXPECT_EQ(b & 0x8000, (bits >> 16) & 0x8000);
    EXPECT_TRUE(std::isnan(bfloat16ToFloat(b)));
  }
}

TEST(BFloat16Test, AllValuesRoundTrip) {
  for (uint32_t bits = 0; bits <= 0xffff; ++bits) {
    uint16_t b = static_cast<uint16_t>(bits);
    float f = bfloat16ToFloat(b);
    if (std::isnan(f)) {
      ASSERT_TRUE(std::isnan(roundToBFloat16(f)));
      continue;
    }
    ASSERT_EQ(floatToBFloat16(f), b) << std::hex << bits;
  }
}

TEST(ElementTypeTest, NamesAndRounding) {
  EXPECT_EQ(toString(ElementType::F32), "f32");
  EXPECT_EQ(toString(ElementType::F16), "f16");
  EXPECT_EQ(toString(ElementType::BF16), "bf16");
  for (ElementType t : {ElementType::F32, ElementType::F16, ElementType::BF16})
    EXPECT_EQ(parseElementType(toString(t)), t);
  EXPECT_FALSE(parseElementType("f64").has_value());
  EXPECT_FALSE(parseElementType("F16").has_value());
  EXPECT_FALSE(parseElementType("").has_value());

  float x = 0.1f;
  EXPECT_EQ(roundTo(ElementType::F32, x), x);
  EXPECT_EQ(roundTo(ElementType::F16, x), halfToFloat(0x2e66));
  EXPECT_EQ(roundTo(ElementType::BF16, x), bfloat16ToFloat(0x3dcd));
  EXPECT_NE(roundTo(ElementType::F16, x), x);
  EXPECT_EQ(roundTo(ElementType::F16, 70000.0f),
            std::numeric_limits<float>::infinity());
  EXPECT_EQ(roundTo(ElementType::BF16, 70000.0f), 70144.0f);
}

} // namespace
