//===- SweepTest.cpp - numerical sweep of the CPU backend -----------------===//
//
// Runs the CPU backend over odd shapes, every mask kind, grouping and storage
// type, and checks each case against the fp64 reference with FlashAttention's
// rule max|out − ref| ≤ 2·max|naive_same_precision − ref| + floor, on O and on
// LSE. The cases are a fixed covering design: case i takes sequence pair
// i mod 7, mask i mod 8 and dtype i mod 3 (so every (sequence, mask, dtype)
// triple appears once in 168 cases) and head dims / grouping from i / 3.
//
//===----------------------------------------------------------------------===//

#include "TestProblems.h"

#include "gtest/gtest.h"

#include <cmath>

using namespace attn;

namespace {

struct SweepCase {
  int index;
  AttentionProblem problem;
  double keep = 0.5; ///< keep probability of a bool mask
  std::string name;
};

constexpr std::pair<int64_t, int64_t> kSeqLens[] = {
    {1, 1}, {1, 147}, {113, 203}, {127, 513}, {1023, 1024}, {1024, 1023},
    {239, 1}};
constexpr std::pair<int64_t, int64_t> kHeadDims[] = {
    {32, 32}, {59, 59}, {64, 64}, {111, 111}, {128, 128}, {256, 256}, {64, 48}};
constexpr std::pair<int64_t, int64_t> kHeads[] = {{1, 1}, {4, 4}, {8, 2}, {6, 1}};
constexpr const char *kMaskNames[] = {
    "none",   "causal_tl", "causal_br", "window",
    "window_causal_br", "bool",      "bias",      "softcap_rows_masked"};
constexpr ElementType kTypes[] = {ElementType::F32, ElementType::F16,
                                  ElementType::BF16};

SweepCase makeCase(int i) {
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

class Sweep : public ::testing::TestWithParam<int> {};

TEST_P(Sweep, MatchesReference) {
  SweepCase c = makeCase(GetParam());
  auto kernel = CpuKernel::compile(c.problem, {});
  ASSERT_TRUE(!!kernel) << llvm::toString(kernel.takeError());
  HostInputs in = test::makeInputs(c.problem, 1000 + c.index, c.keep);
  auto out = runCpu(**kernel, in);
  ASSERT_TRUE(!!out) << llvm::toString(out.takeError());
  for (float x : out->o)
    ASSERT_FALSE(std::isnan(x)) << "NaN in O";
  for (float x : out->lse)
    ASSERT_FALSE(std::isnan(x)) << "NaN in LSE";
  auto report = checkOutputs(in, *out);
  ASSERT_TRUE(!!report) << llvm::toString(report.takeError());
  EXPECT_TRUE(report->o.ok) << "O: max err " << report->o.maxErr << " > bound "
                            << report->o.bound;
  EXPECT_TRUE(report->lse.ok) << "LSE: max err " << report->lse.maxErr
                              << " > bound " << report->lse.bound;
}

INSTANTIATE_TEST_SUITE_P(CpuBackend, Sweep, ::testing::Range(0, 168),
                         [](const ::testing::TestParamInfo<int> &info) {
                           return makeCase(info.param).name;
                         });

/// The sweep must contain rows with no visible key (O = 0, LSE = −inf).
TEST(SweepDesign, CoversFullyMaskedRows) {
  bool found = false;
  for (int i = 0; i < 168 && !found; ++i) {
    AttentionProblem p = makeCase(i).problem;
    found = p.causal == AttentionProblem::Causal::BottomRight &&
            p.q[2] > p.k[2];
  }
  EXPECT_TRUE(found);
}

} // namespace
