//===- CpuKernelTest.cpp - the CPU JIT wrapper ----------------------------===//

#include "TestProblems.h"

#include "gtest/gtest.h"

#include <cmath>
#include <limits>
#include <thread>

using namespace attn;

namespace {

AttentionProblem smallProblem() {
  AttentionProblem p;
  p.q = {1, 2, 5, 16};
  p.k = {1, 1, 7, 16};
  p.v = {1, 1, 7, 8};
  return p;
}

std::string errorText(llvm::Error e) { return llvm::toString(std::move(e)); }

template <typename T>
std::string errorText(llvm::Expected<T> &e) {
  return llvm::toString(e.takeError());
}

TEST(CpuKernel, RunsAndMatchesReference) {
  AttentionProblem p = smallProblem();
  p.causal = AttentionProblem::Causal::BottomRight;
  auto kernel = CpuKernel::compile(p, {});
  ASSERT_TRUE(!!kernel) << errorText(kernel);
  HostInputs in = test::makeInputs(p, 1);
  auto out = runCpu(**kernel, in);
  ASSERT_TRUE(!!out) << errorText(out);
  auto report = checkOutputs(in, *out);
  ASSERT_TRUE(!!report) << errorText(report);
  EXPECT_TRUE(report->ok()) << report->o.maxErr << " " << report->lse.maxErr;
  EXPECT_LT(report->o.maxErr, 1e-5);
}

TEST(CpuKernel, VerifierErrorsAreReturned) {
  AttentionProblem p = smallProblem();
  p.q[1] = 3;
  p.k[1] = 2;
  p.v[1] = 2;
  auto kernel = CpuKernel::compile(p, {});
  ASSERT_FALSE(!!kernel);
  EXPECT_NE(errorText(kernel).find(
                "query heads (3) must be a multiple of key/value heads (2)"),
            std::string::npos);

  p = smallProblem();
  p.q[3] = 300;
  auto text = buildAttentionModuleText(p);
  ASSERT_FALSE(!!text);
  EXPECT_NE(errorText(text).find("key head dim (16) must match query head dim "
                                 "(300)"),
            std::string::npos);

  p = smallProblem();
  p.softcap = -1.0;
  text = buildAttentionModuleText(p);
  ASSERT_FALSE(!!text);
  EXPECT_NE(errorText(text).find("softcap must be positive"), std::string::npos);
}

TEST(CpuKernel, ModuleTextHasTheAttentionOp) {
  AttentionProblem p = smallProblem();
  p.windowLeft = 3;
  p.windowRight = 0;
  p.mask = AttentionProblem::Mask::Keep;
  p.maskShape = {1, 1, 5, 7};
  auto text = buildAttentionModuleText(p);
  ASSERT_TRUE(!!text) << errorText(text);
  EXPECT_NE(text->find("attn.attention"), std::string::npos);
  EXPECT_NE(text->find("window = array<i64: 3, 0>"), std::string::npos);
  EXPECT_NE(text->find("mask(%"), std::string::npos);
  EXPECT_NE(text->find("memref<1x1x5x7xi1>"), std::string::npos);
}

TEST(CpuKernel, RejectsMismatchedBuffers) {
  AttentionProblem p = smallProblem();
  auto kernel = CpuKernel::compile(p, {});
  ASSERT_TRUE(!!kernel) << errorText(kernel);
  HostInputs in = test::makeInputs(p, 2);
  std::vector<float> o(1000), lse(100);
  AttentionBuffers buffers;
  buffers.q = in.q.data();
  buffers.k = in.k.data();
  buffers.v = in.v.data();
  buffers.o = o.data();
  buffers.lse = lse.data();
  buffers.qShape = p.q;
  buffers.kShape = {1, 1, 9, 16};
  buffers.vShape = p.v;
  std::string message = errorText((*kernel)->run(buffers));
  EXPECT_NE(message.find("K has shape [1, 1, 9, 16] but the kernel was "
                         "compiled for [1, 1, 7, 16]"),
            std::string::npos)
      << message;

  buffers.kShape = p.k;
  buffers.v = nullptr;
  EXPECT_NE(errorText((*kernel)->run(buffers)).find("the V buffer is null"),
            std::string::npos);
}

TEST(CpuKernel, DynamicLengthsRunOnSeveralShapes) {
  AttentionProblem compiled = smallProblem();
  compiled.dynamicLengths = true;
  compiled.causal = AttentionProblem::Causal::TopLeft;
  auto kernel = CpuKernel::compile(compiled, {});
  ASSERT_TRUE(!!kernel) << errorText(kernel);
  for (auto [b, sq, sk] : {std::tuple<int64_t, int64_t, int64_t>{1, 5, 7},
                           {2, 33, 70},
                           {3, 1, 129}}) {
    AttentionProblem p = compiled;
    p.q = {b, 2, sq, 16};
    p.k = {b, 1, sk, 16};
    p.v = {b, 1, sk, 8};
    HostInputs in = test::makeInputs(p, 3);
    // runCpu takes the shapes of `in.problem`; the kernel is the dynamic one.
    auto out = runCpu(**kernel, in);
    ASSERT_TRUE(!!out) << errorText(out);
    auto report = checkOutputs(in, *out);
    ASSERT_TRUE(!!report) << errorText(report);
    EXPECT_TRUE(report->ok()) << "B=" << b << " Sq=" << sq << " Sk=" << sk
                              << " err " << report->o.maxErr;
  }
}

TEST(CpuKernel, EmptyKeysGiveZeroOutputAndNegInfLse) {
  AttentionProblem p = smallProblem();
  p.k[2] = p.v[2] = 0;
  auto kernel = CpuKernel::compile(p, {});
  ASSERT_TRUE(!!kernel) << errorText(kernel);
  HostInputs in = test::makeInputs(p, 4);
  auto out = runCpu(**kernel, in);
  ASSERT_TRUE(!!out) << errorText(out);
  for (float o : out->o)
    EXPECT_EQ(o, 0.0f);
  for (float l : out->lse)
    EXPECT_EQ(l, -std::numeric_limits<float>::infinity());
}

TEST(CpuKernel, OneThreadAndAllCoresAgreeBitwise) {
  AttentionProblem p = smallProblem();
  p.q = {2, 4, 150, 32};
  p.k = {2, 2, 90, 32};
  p.v = {2, 2, 90, 32};
  HostInputs in = test::makeInputs(p, 5);
  CpuCompileOptions sequential;
  sequential.numThreads = 1;
  auto a = CpuKernel::compile(p, sequential);
  auto b = CpuKernel::compile(p, {});
  ASSERT_TRUE(a && b);
  auto oa = runCpu(**a, in), ob = runCpu(**b, in);
  ASSERT_TRUE(oa && ob);
  EXPECT_EQ(oa->o, ob->o);
  EXPECT_EQ(oa->lse, ob->lse);
}

TEST(CpuKernel, TileSizesDoNotChangeTheResult) {
  AttentionProblem p = smallProblem();
  p.q = {1, 2, 100, 40};
  p.k = {1, 2, 77, 40};
  p.v = {1, 2, 77, 24};
  p.causal = AttentionProblem::Causal::BottomRight;
  HostInputs in = test::makeInputs(p, 6);
  for (auto [bm, bn] : {std::pair<int64_t, int64_t>{16, 8}, {32, 48}, {128, 64}}) {
    CpuCompileOptions options;
    options.qTile = bm;
    options.kTile = bn;
    auto kernel = CpuKernel::compile(p, options);
    ASSERT_TRUE(!!kernel) << errorText(kernel);
    auto out = runCpu(**kernel, in);
    ASSERT_TRUE(!!out);
    auto report = checkOutputs(in, *out);
    ASSERT_TRUE(!!report);
    EXPECT_TRUE(report->ok()) << bm << "x" << bn << " " << report->o.maxErr;
  }
  CpuCompileOptions bad;
  bad.qTile = 24;
  auto kernel = CpuKernel::compile(p, bad);
  ASSERT_FALSE(!!kernel);
  EXPECT_NE(errorText(kernel).find("multiple of vector-width"),
            std::string::npos);
}

/// Kernels compile and run concurrently from several threads (each compile
/// has its own MLIRContext and ExecutionEngine; runs share nothing).
TEST(CpuKernel, CompilesAndRunsFromSeveralThreads) {
  constexpr int kThreads = 4;
  std::vector<std::string> failures(kThreads);
  std::vector<std::thread> threads;
  for (int t = 0; t < kThreads; ++t)
    threads.emplace_back([t, &failures] {
      AttentionProblem p = smallProblem();
      p.q[2] = 20 + 7 * t; // a different kernel per thread
      p.causal = AttentionProblem::Causal::BottomRight;
      auto kernel = CpuKernel::compile(p, {});
      if (!kernel) {
        failures[t] = llvm::toString(kernel.takeError());
        return;
      }
      HostInputs in = test::makeInputs(p, 100 + t);
      for (int run = 0; run < 3; ++run) {
        auto out = runCpu(**kernel, in);
        if (!out) {
          failures[t] = llvm::toString(out.takeError());
          return;
        }
        auto report = checkOutputs(in, *out);
        if (!report || !report->ok()) {
          failures[t] = report ? "check failed" : llvm::toString(report.takeError());
          return;
        }
      }
    });
  for (std::thread &th : threads)
    th.join();
  for (int t = 0; t < kThreads; ++t)
    EXPECT_EQ(failures[t], "") << "thread " << t;
}

} // namespace
