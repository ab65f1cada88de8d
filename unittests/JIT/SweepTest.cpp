//===- SweepTest.cpp - numerical sweep of the CPU backend -----------------===//
//
// Runs the CPU backend over the sweep's cases (SweepCases.h) and checks each
// against the fp64 reference with FlashAttention's rule
// max|out − ref| ≤ 2·max|naive_same_precision − ref| + floor, on O and LSE.
//
//===----------------------------------------------------------------------===//

#include "SweepCases.h"

using namespace attn;
using namespace attn::test;

namespace {

class Sweep : public ::testing::TestWithParam<int> {};

TEST_P(Sweep, MatchesReference) {
  SweepCase c = makeCase(GetParam());
  auto kernel = CpuKernel::compile(c.problem, {});
  ASSERT_TRUE(!!kernel) << llvm::toString(kernel.takeError());
  HostInputs in = makeInputs(c.problem, 1000 + c.index, c.keep);
  auto out = runCpu(**kernel, in);
  ASSERT_TRUE(!!out) << llvm::toString(out.takeError());
  expectMatchesReference(in, *out);
}

INSTANTIATE_TEST_SUITE_P(CpuBackend, Sweep, ::testing::Range(0, kSweepCases),
                         [](const ::testing::TestParamInfo<int> &info) {
                           return makeCase(info.param).name;
                         });

/// The sweep must contain rows with no visible key (O = 0, LSE = −inf).
TEST(SweepDesign, CoversFullyMaskedRows) {
  bool found = false;
  for (int i = 0; i < kSweepCases && !found; ++i) {
    AttentionProblem p = makeCase(i).problem;
    found =
        p.causal == AttentionProblem::Causal::BottomRight && p.q[2] > p.k[2];
  }
  EXPECT_TRUE(found);
}

} // namespace
