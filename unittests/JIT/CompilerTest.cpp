//===- CompilerTest.cpp - the embedding API (Compiler.h) ------------------===//
//
// Specs compiled for the CPU run on buffers in BHSD, BSHD and padded layouts
// and are checked against the fp64 reference; every error path of the spec,
// the compile and the launch has a case; CUDA specs are assembled (and
// launched only to see the error where no driver is present).
//
//===----------------------------------------------------------------------===//

#include "TestProblems.h"

#include "attn-rt/Bundle.h"
#include "attn-rt/Runtime.h"
#include "attn/JIT/Compiler.h"

#include "gtest/gtest.h"

#include <chrono>

#include <thread>

using namespace attn;

namespace {

using Causal = AttentionProblem::Causal;
using Mask = AttentionProblem::Mask;

/// The message and code of a failed call.
struct Failure {
  std::string message;
  std::error_code code;
};

Failure failure(llvm::Error e) {
  Failure f;
  llvm::handleAllErrors(std::move(e), [&](const llvm::ErrorInfoBase &info) {
    f.message = info.message();
    f.code = info.convertToErrorCode();
  });
  return f;
}

template <typename T> Failure failure(llvm::Expected<T> &e) {
  return failure(e.takeError());
}

/// Expects `e` to fail with `code` and a message containing `text`.
#define EXPECT_FAILS(e, errc, text)                                            \
  do {                                                                         \
    Failure f = failure(e);                                                    \
    EXPECT_EQ(f.code, std::make_error_code(errc)) << f.message;                \
    EXPECT_NE(f.message.find(text), std::string::npos) << f.message;           \
  } while (false)

size_t bytesOf(ElementType t) { return t == ElementType::F32 ? 4 : 2; }

/// Where a dense [B, H, S, D] tensor lives in a launch: its strides and the
/// size of the buffer they need.
struct Layout {
  enum Kind { BHSD, BSHD, Padded } kind;

  std::array<int64_t, 4> strides(const std::array<int64_t, 4> &s) const {
    switch (kind) {
    case BHSD:
      return denseStrides(s);
    case BSHD:
      return {s[2] * s[1] * s[3], s[3], s[1] * s[3], 1};
    case Padded: // rows padded by 5 elements, heads by one row
      return {s[1] * (s[2] + 1) * (s[3] + 5), (s[2] + 1) * (s[3] + 5), s[3] + 5,
              1};
    }
    return {};
  }
  int64_t elements(const std::array<int64_t, 4> &s) const {
    return s[0] * strides(s)[0];
  }
};

/// Calls f(dense, strided) with the element offsets of every [b, h, s, d]
/// in a dense array and in a buffer with `strides`.
template <typename F>
void forEachElement(const std::array<int64_t, 4> &s,
                    const std::array<int64_t, 4> &strides, F f) {
  int64_t i = 0;
  for (int64_t b = 0; b < s[0]; ++b)
    for (int64_t h = 0; h < s[1]; ++h)
      for (int64_t x = 0; x < s[2]; ++x)
        for (int64_t d = 0; d < s[3]; ++d)
          f(i++, b * strides[0] + h * strides[1] + x * strides[2] + d);
}

/// Launches `kernel` on `in` (shapes from in.problem) with Q, K, V and O in
/// `layout`, and checks the outputs against the fp64 reference.
void runAndCheck(const Kernel &kernel, const HostInputs &in, Layout layout) {
  const AttentionProblem &p = in.problem;
  size_t bytes = bytesOf(p.dtype);
  std::array<int64_t, 4> oShape = {p.q[0], p.q[1], p.q[2], p.v[3]};
  std::vector<uint8_t> buffers[4];
  const std::vector<float> *values[] = {&in.q, &in.k, &in.v};
  const std::array<int64_t, 4> *shapes[] = {&p.q, &p.k, &p.v, &oShape};
  for (int i = 0; i < 4; ++i) {
    // 0xff: NaN in every dtype, so a padding read would show.
    buffers[i].assign(layout.elements(*shapes[i]) * bytes, 0xff);
    if (i == 3)
      continue;
    std::vector<uint8_t> dense = toStorage(p.dtype, *values[i]);
    forEachElement(
        *shapes[i], layout.strides(*shapes[i]), [&](int64_t from, int64_t to) {
          std::copy_n(&dense[from * bytes], bytes, &buffers[i][to * bytes]);
        });
  }
  std::vector<uint8_t> mask;
  if (p.mask == Mask::Keep)
    for (float m : in.mask)
      mask.push_back(m != 0.0f);
  else if (p.mask == Mask::Bias)
    mask = toStorage(p.biasType, in.mask);
  HostOutputs out;
  out.lse.resize(p.q[0] * p.q[1] * p.q[2]);

  LaunchArgs args;
  args.q = buffers[0].data(), args.k = buffers[1].data();
  args.v = buffers[2].data(), args.o = buffers[3].data();
  args.mask = mask.empty() ? nullptr : mask.data();
  args.lse = out.lse.data();
  args.batch = p.q[0], args.querySeqLen = p.q[2], args.keySeqLen = p.k[2];
  args.qStrides = layout.strides(p.q), args.kStrides = layout.strides(p.k);
  args.vStrides = layout.strides(p.v), args.oStrides = layout.strides(oShape);
  llvm::Error e = kernel.launch(args);
  ASSERT_FALSE(!!e) << failure(std::move(e)).message;

  std::vector<uint8_t> o(test::numElements(oShape) * bytes);
  forEachElement(oShape, layout.strides(oShape), [&](int64_t to, int64_t from) {
    std::copy_n(&buffers[3][from * bytes], bytes, &o[to * bytes]);
  });
  out.o = fromStorage(p.dtype, o);
  auto report = checkOutputs(in, out);
  ASSERT_TRUE(!!report) << failure(report).message;
  EXPECT_TRUE(report->ok())
      << "O err " << report->o.maxErr << " (bound " << report->o.bound
      << "), LSE err " << report->lse.maxErr;
}

/// The problem a launch of `spec` with these sizes computes.
AttentionProblem problemOf(const AttentionSpec &spec, int64_t b, int64_t sq,
                           int64_t sk) {
  AttentionProblem p;
  p.dtype = spec.dtype;
  p.q = {b, spec.numQueryHeads, sq, spec.headDim};
  p.k = {b, spec.numKvHeads, sk, spec.headDim};
  p.v = {b, spec.numKvHeads, sk, spec.valueHeadDim};
  p.mask = spec.mask;
  p.biasType = spec.biasType;
  std::array<int64_t, 4> full = {b, spec.numQueryHeads, sq, sk};
  for (int i = 0; i < 4; ++i)
    p.maskShape[i] =
        spec.maskShape[i] == kDynamicSize ? full[i] : spec.maskShape[i];
  p.scale = spec.scale;
  p.causal = spec.causal;
  p.windowLeft = spec.windowLeft, p.windowRight = spec.windowRight;
  p.softcap = spec.softcap;
  return p;
}

AttentionSpec smallSpec() {
  AttentionSpec s;
  s.numQueryHeads = 4, s.numKvHeads = 2;
  s.headDim = 32, s.valueHeadDim = 24;
  return s;
}

std::shared_ptr<const Kernel> compileOrFail(const AttentionSpec &spec) {
  auto kernel = Compiler().compile(spec);
  if (!kernel) {
    ADD_FAILURE() << failure(kernel).message;
    return nullptr;
  }
  return *kernel;
}

// --- Valid specs on the CPU
// ---------------------------------------------------

struct CpuCase {
  const char *name;
  AttentionSpec spec;
  int64_t b, sq, sk;
};

class CompilerCpu : public ::testing::TestWithParam<CpuCase> {};

TEST_P(CompilerCpu, MatchesTheReferenceInEveryLayout) {
  const CpuCase &c = GetParam();
  std::shared_ptr<const Kernel> kernel = compileOrFail(c.spec);
  ASSERT_TRUE(kernel);
  EXPECT_EQ(kernel->getBundle(), nullptr);
  HostInputs in = test::makeInputs(problemOf(c.spec, c.b, c.sq, c.sk), 7);
  for (Layout::Kind layout : {Layout::BHSD, Layout::BSHD, Layout::Padded}) {
    SCOPED_TRACE("layout " + std::to_string(layout));
    runAndCheck(*kernel, in, {layout});
  }
}

std::vector<CpuCase> cpuCases() {
  std::vector<CpuCase> cases;
  AttentionSpec mha = smallSpec();
  mha.numKvHeads = 4;
  mha.valueHeadDim = 32;
  cases.push_back({"f32_mha_dynamic", mha, 2, 37, 53});

  AttentionSpec gqa = smallSpec();
  gqa.dtype = ElementType::F16;
  gqa.causal = Causal::BottomRight;
  gqa.batch = 1, gqa.querySeqLen = 33, gqa.keySeqLen = 70;
  cases.push_back({"f16_gqa_causal_static", gqa, 1, 33, 70});

  AttentionSpec bias = smallSpec();
  bias.dtype = ElementType::BF16;
  bias.mask = Mask::Bias;
  bias.biasType = ElementType::BF16;
  bias.maskShape = {1, kDynamicSize, kDynamicSize, kDynamicSize};
  cases.push_back({"bf16_bias_dv_ne_d", bias, 2, 29, 41});

  AttentionSpec keep = smallSpec();
  keep.mask = Mask::Keep;
  keep.maskShape = {kDynamicSize, 1, kDynamicSize, kDynamicSize};
  keep.batch = 2; // static batch, dynamic lengths; the mask's B is then 2
  cases.push_back({"f32_keep_mask_static_batch", keep, 2, 17, 40});

  AttentionSpec window = smallSpec();
  window.windowLeft = 8, window.windowRight = 0;
  window.softcap = 20.0;
  window.scale = 0.3;
  window.qTile = 16, window.kTile = 8;
  cases.push_back({"f32_window_softcap_small_tiles", window, 1, 45, 45});
  return cases;
}

INSTANTIATE_TEST_SUITE_P(Specs, CompilerCpu, ::testing::ValuesIn(cpuCases()),
                         [](const auto &info) { return info.param.name; });

TEST(Compiler, DynamicSizesChangeFromLaunchToLaunch) {
  AttentionSpec spec = smallSpec();
  spec.causal = Causal::TopLeft;
  std::shared_ptr<const Kernel> kernel = compileOrFail(spec);
  ASSERT_TRUE(kernel);
  for (auto [b, sq, sk] : {std::tuple<int64_t, int64_t, int64_t>{1, 1, 1},
                           {3, 64, 129},
                           {2, 100, 7}}) {
    SCOPED_TRACE(std::to_string(b) + "," + std::to_string(sq) + "," +
                 std::to_string(sk));
    runAndCheck(*kernel, test::makeInputs(problemOf(spec, b, sq, sk), 8),
                {Layout::BSHD});
  }
}

TEST(Compiler, ZeroSizesNeedNoBuffers) {
  std::shared_ptr<const Kernel> kernel = compileOrFail(smallSpec());
  ASSERT_TRUE(kernel);
  // No keys: O = 0 and LSE = -inf, K and V may be null.
  std::vector<float> o(4 * 3 * 24, 1.0f), lse(4 * 3, 0.0f), q(4 * 3 * 32, 0.5f);
  LaunchArgs args;
  args.q = q.data(), args.o = o.data(), args.lse = lse.data();
  args.batch = 1, args.querySeqLen = 3, args.keySeqLen = 0;
  llvm::Error e = kernel->launch(args);
  ASSERT_FALSE(!!e) << failure(std::move(e)).message;
  for (float x : o)
    EXPECT_EQ(x, 0.0f);
  for (float x : lse)
    EXPECT_EQ(x, -std::numeric_limits<float>::infinity());
  // Nothing at all.
  LaunchArgs empty;
  e = kernel->launch(empty);
  EXPECT_FALSE(!!e) << failure(std::move(e)).message;
}

TEST(Compiler, KernelsAreSharedAcrossThreads) {
  AttentionSpec spec = smallSpec();
  spec.causal = Causal::BottomRight;
  std::shared_ptr<const Kernel> kernel = compileOrFail(spec);
  ASSERT_TRUE(kernel);
  std::vector<std::thread> threads;
  for (int t = 0; t < 3; ++t)
    threads.emplace_back([&, t] {
      runAndCheck(*kernel,
                  test::makeInputs(problemOf(spec, 1, 20 + 9 * t, 31), 20 + t),
                  {Layout::BHSD});
    });
  for (std::thread &th : threads)
    th.join();
}

// --- Invalid specs
// ------------------------------------------------------------

llvm::Expected<std::shared_ptr<const Kernel>>
compileWith(llvm::function_ref<void(AttentionSpec &)> change) {
  AttentionSpec spec = smallSpec();
  change(spec);
  return Compiler().compile(spec);
}

/// A spec compiled before comes back as the same kernel from the cache's
/// memory layer; a disabled cache compiles again.
TEST(Compiler, CachedSpecsReturnTheSameKernel) {
  AttentionSpec spec;
  spec.dtype = ElementType::F16;
  spec.numQueryHeads = 2;
  spec.numKvHeads = 1;
  spec.batch = 1;
  spec.querySeqLen = 33;
  spec.keySeqLen = 47;
  spec.headDim = spec.valueHeadDim = 40;
  Compiler compiler;
  auto first = compiler.compile(spec);
  ASSERT_TRUE(!!first) << llvm::toString(first.takeError());
  auto start = std::chrono::steady_clock::now();
  auto again = compiler.compile(spec);
  double ms = std::chrono::duration<double, std::milli>(
                  std::chrono::steady_clock::now() - start)
                  .count();
  ASSERT_TRUE(!!again) << llvm::toString(again.takeError());
  EXPECT_EQ(first->get(), again->get());
  // Generous bound (a compile takes ~100 ms): a hit must not compile.
  EXPECT_LT(ms, 20.0);
  spec.kTile = 32; // other code: another kernel
  auto other = compiler.compile(spec);
  ASSERT_TRUE(!!other) << llvm::toString(other.takeError());
  EXPECT_NE(first->get(), other->get());
  CompilerOptions uncached;
  uncached.cache = &KernelCache::getDisabled();
  auto fresh = Compiler(uncached).compile(spec);
  ASSERT_TRUE(!!fresh) << llvm::toString(fresh.takeError());
  EXPECT_NE(other->get(), fresh->get());
}

TEST(CompilerErrors, UnknownTarget) {
  for (const char *target : {"gpu", "sm_", "sm_8x", "", "CPU"}) {
    auto k = compileWith([&](AttentionSpec &s) { s.target = target; });
    EXPECT_FAILS(k, std::errc::invalid_argument,
                 "unknown target '" + std::string(target) + "'");
  }
}

TEST(CompilerErrors, NegativeSizes) {
  auto k = compileWith([](AttentionSpec &s) { s.headDim = -8; });
  EXPECT_FAILS(k, std::errc::invalid_argument,
               "headDim must not be negative, got -8");
  k = compileWith([](AttentionSpec &s) { s.numKvHeads = -1; });
  EXPECT_FAILS(k, std::errc::invalid_argument,
               "numKvHeads must not be negative");
  k = compileWith([](AttentionSpec &s) { s.querySeqLen = -2; });
  EXPECT_FAILS(k, std::errc::invalid_argument,
               "querySeqLen must be >= 0 or kDynamicSize (-1), got -2");
  k = compileWith([](AttentionSpec &s) {
    s.mask = Mask::Keep;
    s.maskShape[2] = -7;
  });
  EXPECT_FAILS(k, std::errc::invalid_argument, "maskShape[2] must be >= 0");
}

/// The verifier's rules reach the user unchanged (one source of truth).
TEST(CompilerErrors, VerifierMessages) {
  auto k = compileWith([](AttentionSpec &s) { s.numQueryHeads = 3; });
  EXPECT_FAILS(k, std::errc::invalid_argument,
               "query heads (3) must be a multiple of key/value heads (2)");
  k = compileWith([](AttentionSpec &s) { s.headDim = 0; });
  EXPECT_FAILS(k, std::errc::invalid_argument, "head dims must be in [1, ");
  k = compileWith([](AttentionSpec &s) { s.valueHeadDim = 1000; });
  EXPECT_FAILS(k, std::errc::invalid_argument, "Dv = 1000");
  k = compileWith([](AttentionSpec &s) { s.scale = -1.0; });
  EXPECT_FAILS(k, std::errc::invalid_argument, "scale must be positive");
  k = compileWith([](AttentionSpec &s) { s.softcap = 0.0; });
  EXPECT_FAILS(k, std::errc::invalid_argument, "softcap must be positive");
  k = compileWith([](AttentionSpec &s) { s.windowLeft = -2; });
  EXPECT_FAILS(k, std::errc::invalid_argument, "window entries must be in");
  k = compileWith([](AttentionSpec &s) {
    s.mask = Mask::Bias;
    s.maskShape = {1, 3, 1, 1};
  });
  EXPECT_FAILS(k, std::errc::invalid_argument,
               "mask dim 1 (3) must be 1 or Hq");
  k = compileWith([](AttentionSpec &s) {
    s.querySeqLen = s.keySeqLen = s.batch = 4;
    s.mask = Mask::Keep;
    s.maskShape = {1, 1, 4, 5};
  });
  EXPECT_FAILS(k, std::errc::invalid_argument,
               "mask dim 3 (5) must be 1 or Sk");
}

TEST(CompilerErrors, BadTileSizesFailInThePipeline) {
  auto k = compileWith([](AttentionSpec &s) { s.qTile = 24; });
  Failure f = failure(k);
  EXPECT_NE(f.message.find("attn-lower-to-cpu failed: attn-tile: q-tile (24) "
                           "must be a positive multiple of vector-width"),
            std::string::npos)
      << f.message;
}

// --- Launch errors
// ------------------------------------------------------------

class LaunchErrors : public ::testing::Test {
protected:
  void SetUp() override {
    AttentionSpec spec = smallSpec();
    spec.batch = 2; // static; Sq and Sk dynamic
    kernel = compileOrFail(spec);
    ASSERT_TRUE(kernel);
    args.q = q.data(), args.k = k.data(), args.v = v.data();
    args.o = o.data(), args.lse = lse.data();
    args.batch = 2, args.querySeqLen = 5, args.keySeqLen = 6;
    llvm::Error e = kernel->launch(args);
    ASSERT_FALSE(!!e) << failure(std::move(e)).message;
  }

  std::shared_ptr<const Kernel> kernel;
  std::vector<float> q = std::vector<float>(2 * 4 * 5 * 32),
                     k = std::vector<float>(2 * 2 * 6 * 32),
                     v = std::vector<float>(2 * 2 * 6 * 24),
                     o = std::vector<float>(2 * 4 * 5 * 24),
                     lse = std::vector<float>(2 * 4 * 5);
  LaunchArgs args;
};

TEST_F(LaunchErrors, StaticSizeDiffers) {
  args.batch = 3;
  EXPECT_FAILS(kernel->launch(args), std::errc::invalid_argument,
               "batch is 3 but the kernel was compiled for 2");
}

TEST_F(LaunchErrors, NegativeSize) {
  args.keySeqLen = -1;
  EXPECT_FAILS(kernel->launch(args), std::errc::invalid_argument,
               "keySeqLen must be >= 0, got -1");
}

TEST_F(LaunchErrors, NullBuffers) {
  for (auto [name, pointer] :
       {std::pair<const char *, const void **>{"Q", &args.q},
        {"K", &args.k},
        {"V", &args.v}}) {
    const void *saved = *pointer;
    *pointer = nullptr;
    EXPECT_FAILS(kernel->launch(args), std::errc::invalid_argument,
                 "the " + std::string(name) + " buffer is null");
    *pointer = saved;
  }
  args.o = nullptr;
  EXPECT_FAILS(
      kernel->launch(args), std::errc::invalid_argument,
      "the O buffer is null but has 960 elements (shape [2, 4, 5, 24])");
  args.o = o.data();
  args.lse = nullptr;
  EXPECT_FAILS(kernel->launch(args), std::errc::invalid_argument,
               "the LSE buffer is null");
}

TEST_F(LaunchErrors, MaskWithoutMaskInTheSpec) {
  uint8_t mask = 1;
  args.mask = &mask;
  EXPECT_FAILS(kernel->launch(args), std::errc::invalid_argument,
               "compiled without a mask");
}

TEST_F(LaunchErrors, Strides) {
  args.kStrides = {{-1, 192, 32, 1}};
  EXPECT_FAILS(kernel->launch(args), std::errc::invalid_argument,
               "K stride -1 (dim 0) must be non-negative");
  args.kStrides = std::nullopt;
  args.oStrides = {{480, 120, 1, 5}};
  EXPECT_FAILS(kernel->launch(args), std::errc::invalid_argument,
               "O strides [480, 120, 1, 5]: the head dim must be contiguous");
}

TEST(CompilerErrors, MaskThatNoLongerBroadcasts) {
  AttentionSpec spec = smallSpec();
  spec.mask = Mask::Keep;
  spec.maskShape = {2, 1, 1, kDynamicSize}; // B = 2, while B is dynamic
  std::shared_ptr<const Kernel> kernel = compileOrFail(spec);
  ASSERT_TRUE(kernel);
  std::vector<float> buffer(4096);
  std::vector<uint8_t> mask(64, 1);
  LaunchArgs args;
  args.q = args.k = args.v = args.mask = mask.data();
  args.o = args.lse = buffer.data();
  args.batch = 3, args.querySeqLen = 2, args.keySeqLen = 4;
  EXPECT_FAILS(kernel->launch(args), std::errc::invalid_argument,
               "mask shape [2, 1, 1, 4] does not broadcast to [3, 4, 2, 4]");
}

// --- CUDA targets
// -------------------------------------------------------------

AttentionSpec cudaSpec() {
  AttentionSpec s;
  s.dtype = ElementType::F16;
  s.numQueryHeads = 8, s.numKvHeads = 2;
  s.headDim = s.valueHeadDim = 64;
  s.batch = 1, s.querySeqLen = 100, s.keySeqLen = 300;
  s.causal = Causal::BottomRight;
  s.target = "sm_80";
  return s;
}

#ifdef ATTN_HAVE_GPU_JIT
TEST(CompilerCuda, AssemblesABundle) {
  for (const char *chip : {"sm_80", "sm_90a"}) {
    AttentionSpec spec = cudaSpec();
    spec.target = chip;
    std::shared_ptr<const Kernel> kernel = compileOrFail(spec);
    ASSERT_TRUE(kernel);
    const rt::Bundle *bundle = kernel->getBundle();
    ASSERT_NE(bundle, nullptr);
    EXPECT_EQ(bundle->metadata.target, chip);
    EXPECT_GT(bundle->cubin.size(), 1000u);
  }
}

TEST(CompilerCuda, TileOptionsReachTheKernel) {
  AttentionSpec spec = cudaSpec();
  spec.gpuTiles.blockM = 64;
  spec.gpuTiles.blockN = 32;
  std::shared_ptr<const Kernel> kernel = compileOrFail(spec);
  ASSERT_TRUE(kernel);
  const std::map<std::string, int64_t> &options =
      kernel->getBundle()->metadata.options;
  EXPECT_EQ(options.at("q_tile"), 64);
  EXPECT_EQ(options.at("k_tile"), 32);
  EXPECT_EQ(options.count("fast_assemble"), 0u);
  spec.gpuTiles.fastAssemble = true;
  std::shared_ptr<const Kernel> fast = compileOrFail(spec);
  ASSERT_TRUE(fast);
  EXPECT_EQ(fast->getBundle()->metadata.options.at("fast_assemble"), 1);
  spec.gpuTiles.fastAssemble = false;
  spec.gpuTiles.blockM = 96;
  auto bad = Compiler().compile(spec);
  Failure f = failure(bad);
  EXPECT_NE(f.message.find("block-m must be 64 or 128"), std::string::npos)
      << f.message;
}

/// Masks reach the kernel as the parameter the bundle's metadata names.
TEST(CompilerCuda, MaskedBf16KernelsTakeTheMask) {
  AttentionSpec spec = cudaSpec();
  spec.dtype = ElementType::BF16;
  spec.mask = Mask::Keep;
  spec.maskShape = {1, 1, kDynamicSize, kDynamicSize};
  spec.softcap = 30.0;
  std::shared_ptr<const Kernel> kernel = compileOrFail(spec);
  ASSERT_TRUE(kernel);
  const std::vector<rt::KernelArg> &args = kernel->getBundle()->metadata.args;
  EXPECT_TRUE(llvm::any_of(args, [](const rt::KernelArg &a) {
    return a.name == "mask" && a.shape == std::vector<int64_t>{1, 1, 100, 300};
  }));
}

TEST(CompilerCuda, UnsupportedSpecs) {
  AttentionSpec spec = cudaSpec();
  spec.batch = kDynamicSize;
  auto k = Compiler().compile(spec);
  EXPECT_FAILS(k, std::errc::not_supported,
               "the CUDA backend does not support this spec yet");
}

TEST(CompilerCuda, LaunchChecksStridesThenNeedsADriver) {
  std::shared_ptr<const Kernel> kernel = compileOrFail(cudaSpec());
  ASSERT_TRUE(kernel);
  // Fake device addresses: launches below must fail before using them.
  LaunchArgs args;
  args.q = args.k = args.v = reinterpret_cast<void *>(0x1000);
  args.o = reinterpret_cast<void *>(0x1000);
  args.lse = reinterpret_cast<float *>(0x1000);
  args.batch = 1, args.querySeqLen = 100, args.keySeqLen = 300;
  args.qStrides = {{100 * 8 * 64, 64, 8 * 64, 1}};
  EXPECT_FAILS(
      kernel->launch(args), std::errc::not_supported,
      "CUDA kernels take dense [B, H, S, D] buffers so far: Q strides");
  args.qStrides = {{8 * 100 * 64, 100 * 64, 64, 1}}; // dense: accepted
  if (rt::Driver::get().ok())
    GTEST_SKIP() << "a CUDA driver is present; not launching on fake pointers";
  Failure f = failure(kernel->launch(args));
  EXPECT_FALSE(f.message.empty());
}
#else
TEST(CompilerCuda, NeedsTheCudaToolkit) {
  auto k = Compiler().compile(cudaSpec());
  EXPECT_FAILS(k, std::errc::not_supported, "built without the CUDA toolkit");
}
#endif

} // namespace
