//===- SweepCases.h - the numerical sweep's cases ----------------*- C++
//-*-===//
//
// Odd shapes, every mask kind, grouping and storage type, as a fixed covering
// design: case i takes sequence pair i mod 7, mask i mod 8 and dtype i mod 3
// (so every (sequence, mask, dtype) triple appears once in kSweepCases) and
// head dims / grouping from i / 3. The CPU backend runs all of them
// (SweepTest.cpp), the GPU backend all of them in its storage types
// (GpuSweepTest.cpp).
//
//===----------------------------------------------------------------------===//

#ifndef ATTN_UNITTESTS_JIT_SWEEPCASES_H
#define ATTN_UNITTESTS_JIT_SWEEPCASES_H

#include "TestProblems.h"

#include "gtest/gtest.h"

#include <cmath>
#include <string>

namespace attn::test {

constexpr int kSweepCases = 168;

struct SweepCase {
  int index;
  AttentionProblem problem;
  double keep = 0.5; ///< keep probability of a bool mask
  std::string name;
};

inline constexpr std::pair<int64_t, int64_t> kSeqLens[] = {
    {1, 1},       {1, 147},     {113, 203}, {127, 513},
    {1023, 1024}, {1024, 1023}, {239, 1}};
inline constexpr std::pair<int64_t, int64_t> kHeadDims[] = {
    {32, 32}, {59, 59}, {64, 64}, {111, 111}, {128, 128}, {256, 256}, {64, 48}};
inline constexpr std::pair<int64_t, int64_t> kHeads[] = {
    {1, 1}, {4, 4}, {8, 2}, {6, 1}};
inline constexpr const char *kMaskNames[] = {
    "none", "causal_tl", "causal_br",          "window", "window_causal_br",
    "bool", "bias",      "softcap_rows_masked"};
inline constexpr ElementType kTypes[] = {ElementType::F32, ElementType::F16,
                                         ElementType::BF16};

inline SweepCase makeCase(int i) {
  SweepCase c;
  c.index = i;
  AttentionProblem &p = c.problem;
  auto [sq, sk] = kSeqLens[i % 7];
  int mask = i % 8;
  p.dtype = kTypes[i % 3];
  auto [d, dv] = kHeadDims[(i / 3) % 7];
  auto [hq, hkv] = kHeads[(i / 3) % 4];
  // Keep the fp64 reference affordable on the longest sequences.
  int64_t batch = sq * sk > 100000 ? 1 : 2;
  if (sq * sk > 100000 && d > 128)
    hq = hkv = 1;
  p.q = {batch, hq, sq, d};
  p.k = {batch, hkv, sk, d};
  p.v = {batch, hkv, sk, dv};
  switch (mask) {
  case 1:
    p.causal = AttentionProblem::Causal::TopLeft;
    break;
  case 2:
    p.causal = AttentionProblem::Causal::BottomRight;
    break;
  case 3:
    p.windowLeft = 17;
    p.windowRight = 5;
    break;
  case 4:
    p.causal = AttentionProblem::Causal::BottomRight;
    p.windowLeft = 100;
    p.windowRight = 0;
    break;
  case 5:
    p.mask = AttentionProblem::Mask::Keep;
    p.maskShape = {batch, 1, sq, sk};
    c.keep = 0.2; // sparse enough that some short rows are fully masked
    break;
  case 6:
    p.mask = AttentionProblem::Mask::Bias;
    p.maskShape = {1, hq, sq, sk};
    break;
  case 7:
    // Soft-cap, a custom scale and a narrow causal window; with Sq > Sk the
    // first Sq − Sk rows see no key at all.
    p.softcap = 2.5;
    p.scale = 0.3;
    p.causal = AttentionProblem::Causal::BottomRight;
    p.windowLeft = 3;
    break;
  }
  c.name = "case" + std::to_string(i) + "_" + kMaskNames[mask] + "_" +
           toString(p.dtype).str() + "_B" + std::to_string(batch) + "_H" +
           std::to_string(hq) + "x" + std::to_string(hkv) + "_S" +
           std::to_string(sq) + "x" + std::to_string(sk) + "_D" +
           std::to_string(d) + "x" + std::to_string(dv);
  return c;
}

/// Checks `out` for `in` with FlashAttention's rule on O and LSE (no NaN
/// anywhere).
inline void expectMatchesReference(const HostInputs &in,
                                   const HostOutputs &out) {
  for (float x : out.o)
    ASSERT_FALSE(std::isnan(x)) << "NaN in O";
  for (float x : out.lse)
    ASSERT_FALSE(std::isnan(x)) << "NaN in LSE";
  auto report = checkOutputs(in, out);
  ASSERT_TRUE(!!report) << llvm::toString(report.takeError());
  EXPECT_TRUE(report->o.ok)
      << "O: max err " << report->o.maxErr << " > bound " << report->o.bound;
  EXPECT_TRUE(report->lse.ok) << "LSE: max err " << report->lse.maxErr
                              << " > bound " << report->lse.bound;
}

} // namespace attn::test

#endif // ATTN_UNITTESTS_JIT_SWEEPCASES_H
