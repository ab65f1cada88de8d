//===- GpuSweepTest.cpp - numerical sweep of the GPU backend --------------===//
//
// The sweep's cases (SweepCases.h) on the GPU: each is compiled into a
// kernel bundle for GPU 0's chip and run through the runtime, then checked
// against the fp64 reference like the CPU sweep. Cases in f32 run in f16
// (tensor cores take f16/bf16). Where no GPU is visible, each case is
// compiled for sm_80 and sm_90a instead (the JIT's static-length kernels,
// assembled, refused if they spill) and then skipped (the reason is
// printed).
//
//===----------------------------------------------------------------------===//

#include "SweepCases.h"

#include "attn/JIT/GpuKernel.h"

using namespace attn;
using namespace attn::test;

namespace {

SweepCase makeGpuCase(int i) {
  SweepCase c = makeCase(i);
  if (c.problem.dtype == ElementType::F32) {
    c.problem.dtype = ElementType::F16;
    c.name.replace(c.name.find("_f32_"), 5, "_f32asf16_");
  }
  return c;
}

class GpuSweep : public ::testing::TestWithParam<int> {};

TEST_P(GpuSweep, MatchesReference) {
  SweepCase c = makeGpuCase(GetParam());
  auto gpu = findFirstGpu();
  if (!gpu) {
    for (const char *chip : {"sm_80", "sm_90a"}) {
      auto bundle = compileGpuBundle(c.problem, chip);
      ASSERT_TRUE(!!bundle) << chip << ": "
                            << llvm::toString(bundle.takeError());
    }
    GTEST_SKIP() << "compiled for sm_80 and sm_90a, not run: "
                 << llvm::toString(gpu.takeError());
  }
  auto bundle = compileGpuBundle(c.problem, gpu->second.getChip());
  ASSERT_TRUE(!!bundle) << llvm::toString(bundle.takeError());
  HostInputs in = makeInputs(c.problem, 1000 + c.index, c.keep);
  auto out = runGpu(*gpu->first, *bundle, in);
  ASSERT_TRUE(!!out) << llvm::toString(out.takeError());
  expectMatchesReference(in, *out);
}

INSTANTIATE_TEST_SUITE_P(GpuBackend, GpuSweep, ::testing::Range(0, kSweepCases),
                         [](const ::testing::TestParamInfo<int> &info) {
                           return makeGpuCase(info.param).name;
                         });

} // namespace
