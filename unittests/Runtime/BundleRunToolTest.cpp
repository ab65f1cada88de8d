//===- BundleRunToolTest.cpp - Tests for attn-bundle-run ------------------===//
//
// Runs the tool in a child process against the fake driver (FakeCuda.h),
// whose kernels do nothing and whose device memory is host memory: these
// tests check the command line, the errors, what reaches cuLaunchKernel and
// the files written, never numbers (the GPU sweep, test/e2e/gpu-sweep.test,
// checks those where a GPU is visible).
//
//===----------------------------------------------------------------------===//

#include "TestBundles.h"

#include "gtest/gtest.h"

#include <fstream>
#include <sstream>
#include <unistd.h>

using namespace attn::rt;
using attn::rt::test::contains;
using attn::rt::test::runCommand;
using attn::rt::test::TempDir;
using attn::rt::test::ToolRun;

namespace {

/// An attention bundle as attn-compile writes one, for the fake's device:
/// B = 1, Hq = Hkv = 2, Sq = Sk = 70, D = Dv = 64, f16, causal bottom-right.
/// Q, K, V and O have the same shape, so O.npy can be fed back as an input.
Bundle makeAttentionBundle() {
  Bundle bundle = attn::rt::test::makeTestBundle();
  BundleMetadata &m = bundle.metadata;
  m.launch.grid = {2, 2, 1};
  // Above the 48 KiB default: the launch opts in first.
  m.launch.dynamicSharedMemory = 73728;
  m.problem = {{"B", 1},   {"Hq", 2}, {"Hkv", 2}, {"Sq", 70},
               {"Sk", 70}, {"D", 64}, {"Dv", 64}};
  std::vector<int64_t> shape = {1, 2, 70, 64};
  m.args = {{"q", ArgKind::Pointer, ScalarType::F16, shape},
            {"k", ArgKind::Pointer, ScalarType::F16, shape},
            {"v", ArgKind::Pointer, ScalarType::F16, shape},
            {"o", ArgKind::Pointer, ScalarType::F16, shape},
            {"lse", ArgKind::Pointer, ScalarType::F32, {1, 2, 70}},
            {"sq", ArgKind::I64, ScalarType::F32, {}},
            {"sk", ArgKind::I64, ScalarType::F32, {}}};
  m.semantics = {{"scale", 0.125},
                 {"causal", 2},
                 {"window_left", -1},
                 {"window_right", -1},
                 {"softcap", 0}};
  // What the fake driver accepts as a cubin for its sm_80 device.
  std::string cubin = "\177ELFsm_80 attention";
  bundle.cubin.assign(cubin.begin(), cubin.end());
  return bundle;
}

/// A bundle with an i8 keep-mask argument of shape [1, 1, 70, 70] before O.
Bundle makeMaskedBundle() {
  Bundle bundle = makeAttentionBundle();
  std::vector<KernelArg> &args = bundle.metadata.args;
  args.insert(args.begin() + 3,
              {"mask", ArgKind::Pointer, ScalarType::I8, {1, 1, 70, 70}});
  return bundle;
}

class BundleRunToolTest : public ::testing::Test {
protected:
  void SetUp() override {
    ASSERT_TRUE(writeBundle(bundle, makeAttentionBundle()).ok());
  }

  /// Runs `attn-bundle-run arguments` on the fake driver (or, with
  /// `libcuda`, another driver library), logging its launches.
  ToolRun run(const std::string &arguments,
              const std::string &libcuda = ATTN_FAKE_CUDA) {
    return runCommand("ATTN_LIBCUDA='" + libcuda +
                      "' ATTN_FAKE_CUDA_LAUNCH_LOG='" + launchLog + "' '" +
                      ATTN_BUNDLE_RUN + "' " + arguments);
  }

  /// The launches the fake driver saw, one line each.
  std::string launches() const {
    std::ifstream file(launchLog);
    std::stringstream text;
    text << file.rdbuf();
    return text.str();
  }

  /// Expects exit status 2 and exactly `message` as the one line of output.
  void expectError(const ToolRun &result, const std::string &message) {
    EXPECT_EQ(result.exitCode, 2) << result.output;
    EXPECT_EQ(result.output, "attn-bundle-run: error: " + message + "\n");
  }

  TempDir dir;
  std::string bundle = dir.file("k.attnb"), launchLog = dir.file("launches");
};

/// The header of a .npy file (the dict numpy writes), or "" if unreadable.
std::string npyHeader(const std::string &path) {
  std::ifstream file(path, std::ios::binary);
  std::string bytes(128, '\0');
  file.read(bytes.data(), bytes.size());
  size_t end = bytes.find('}');
  return file && end != std::string::npos ? bytes.substr(10, end - 9) : "";
}

TEST_F(BundleRunToolTest, LaunchesAsTheMetadataSays) {
  ToolRun result =
      run("'" + bundle + "' --random 7 --repeat 3 --out '" + dir.file("o.npy") +
          "' --lse '" + dir.file("lse.npy") + "'");
  ASSERT_EQ(result.exitCode, 0) << result.output;
  // The output launch, then three timed ones, all with the metadata's grid,
  // block and dynamic shared memory.
  std::string launch = "grid 2 2 1 block 128 1 1 shared 73728\n";
  EXPECT_EQ(launches(), launch + launch + launch + launch);
  // The fake reports 1.5 ms per launch; FLOPs = 2·1·2·70·70·(64+64) / 2.
  EXPECT_EQ(result.output, "running on device 0 (Fake GPU), sm_80\n"
                           "time: median 1.500 ms over 3 runs, 0.0 TFLOP/s\n");
  EXPECT_EQ(npyHeader(dir.file("o.npy")),
            "{'descr': '<f4', 'fortran_order': False, 'shape': (1, 2, 70, "
            "64), }");
  EXPECT_EQ(npyHeader(dir.file("lse.npy")),
            "{'descr': '<f4', 'fortran_order': False, 'shape': (1, 2, 70), }");
}

TEST_F(BundleRunToolTest, CountsFlopsLikeBenchmarks) {
  // B = 1, H = 16, S = 1024, D = 128: 2·16·1024·1024·(128 + 128) FLOPs in
  // the fake's 1.5 ms are 5.7 TFLOP/s, half of that when causal.
  Bundle prefill = makeAttentionBundle();
  for (KernelArg &arg : prefill.metadata.args)
    if (arg.kind == ArgKind::Pointer)
      arg.shape = arg.name == "lse" ? std::vector<int64_t>{1, 16, 1024}
                                    : std::vector<int64_t>{1, 16, 1024, 128};
  const struct {
    double causal, windowLeft;
    const char *time;
  } cases[] = {
      {0, -1, "time: median 1.500 ms over 2 runs, 5.7 TFLOP/s\n"},
      {2, -1, "time: median 1.500 ms over 2 runs, 2.9 TFLOP/s\n"},
      {0, 64,
       "time: median 1.500 ms over 2 runs, 5.7 TFLOP/s (nominal: the window "
       "skips work the FLOP count includes)\n"},
  };
  for (const auto &c : cases) {
    prefill.metadata.semantics["causal"] = c.causal;
    prefill.metadata.semantics["window_left"] = c.windowLeft;
    ASSERT_TRUE(writeBundle(bundle, prefill).ok());
    ToolRun result = run("'" + bundle + "' --random 1 --repeat 2");
    EXPECT_EQ(result.exitCode, 0) << result.output;
    EXPECT_TRUE(contains(result.output, c.time)) << result.output;
  }
}

TEST_F(BundleRunToolTest, InputsFromFiles) {
  std::string o = dir.file("o.npy"), lse = dir.file("lse.npy");
  ASSERT_EQ(
      run("'" + bundle + "' --random 1 --out '" + o + "' --lse '" + lse + "'")
          .exitCode,
      0);
  // O has the shape of Q, K and V in this bundle.
  ToolRun result =
      run("'" + bundle + "' --q '" + o + "' --k '" + o + "' --v '" + o + "'");
  EXPECT_EQ(result.exitCode, 0) << result.output;

  expectError(
      run("'" + bundle + "' --q '" + o + "' --k '" + lse + "' --v '" + o + "'"),
      "--k " + lse +
          " has shape [1, 2, 70] but the bundle's k is [1, 2, 70, 64]");
  expectError(run("'" + bundle + "' --q '" + o + "' --k '" + o + "' --v '" +
                  dir.file("missing.npy") + "'"),
              "cannot open '" + dir.file("missing.npy") +
                  "': No such file or directory");
  expectError(run("'" + bundle + "' --q '" + o + "' --k '" + o + "' --v '" + o +
                  "' --mask '" + o + "'"),
              "--mask given, but the bundle takes no mask (see "
              "attn-bundle-run --help)");
}

TEST_F(BundleRunToolTest, MaskArgument) {
  ASSERT_TRUE(writeBundle(bundle, makeMaskedBundle()).ok());
  ToolRun result = run("'" + bundle + "' --random 3");
  EXPECT_EQ(result.exitCode, 0) << result.output;
  EXPECT_EQ(launches(), "grid 2 2 1 block 128 1 1 shared 73728\n");

  std::string o = dir.file("o.npy");
  ASSERT_EQ(run("'" + bundle + "' --random 1 --out '" + o + "'").exitCode, 0);
  std::string inputs = " --q '" + o + "' --k '" + o + "' --v '" + o + "'";
  expectError(run("'" + bundle + "'" + inputs),
              "the bundle takes a mask: give --mask M.npy (see "
              "attn-bundle-run --help)");
  expectError(run("'" + bundle + "'" + inputs + " --mask '" + o + "'"),
              "--mask " + o +
                  " has shape [1, 2, 70, 64] but the bundle's mask is [1, 1, "
                  "70, 70]");
}

TEST_F(BundleRunToolTest, CheckFailsWhenTheKernelWritesNothing) {
  // The fake's kernels write nothing, so O and LSE keep the NaN they start
  // as: --check must fail, and no output appears.
  ToolRun result = run("'" + bundle + "' --random 1 --check --out '" +
                       dir.file("o.npy") + "'");
  EXPECT_EQ(result.exitCode, 1) << result.output;
  EXPECT_TRUE(contains(result.output, "check O: max|out-ref| = INF"))
      << result.output;
  EXPECT_TRUE(contains(result.output, "): FAILED\ncheck LSE: "))
      << result.output;
  EXPECT_TRUE(contains(result.output,
                       "attn-bundle-run: check failed; no output written\n"))
      << result.output;
  EXPECT_EQ(dir.list(), (std::vector<std::string>{"k.attnb", "launches"}));
}

TEST_F(BundleRunToolTest, BundleErrors) {
  // One flipped byte in the cubin.
  std::fstream file(bundle, std::ios::in | std::ios::out | std::ios::binary);
  file.seekp(-12, std::ios::end);
  file.put('X');
  file.close();
  ToolRun result = run("'" + bundle + "' --random 1");
  EXPECT_EQ(result.exitCode, 2);
  EXPECT_TRUE(contains(result.output, "attn-bundle-run: error: " + bundle +
                                          ": checksum mismatch ("))
      << result.output;
  EXPECT_EQ(std::count(result.output.begin(), result.output.end(), '\n'), 1);

  Bundle unknown = makeAttentionBundle();
  unknown.metadata.args.push_back(
      {"alibi_slopes", ArgKind::Pointer, ScalarType::F32, {2}});
  ASSERT_TRUE(writeBundle(bundle, unknown).ok());
  expectError(run("'" + bundle + "' --random 1"),
              bundle + ": unknown kernel argument 'alibi_slopes' (pointer): "
                       "not an attention kernel of this runner");

  Bundle bad = makeAttentionBundle();
  bad.metadata.semantics["causal"] = 3;
  ASSERT_TRUE(writeBundle(bundle, bad).ok());
  expectError(run("'" + bundle + "' --random 1"),
              bundle + ": semantics has causal 3, window -1,-1, softcap 0 "
                       "(expected causal 0, 1 or 2, windows >= -1, softcap "
                       ">= 0)");

  Bundle lse = makeAttentionBundle();
  lse.metadata.args[4].shape = {1, 2, 71};
  ASSERT_TRUE(writeBundle(bundle, lse).ok());
  expectError(run("'" + bundle + "' --random 1"),
              bundle + ": argument 'lse' has shape [1, 2, 71], expected [1, "
                       "2, 70]");
  EXPECT_EQ(launches(), "") << "no launch for an invalid bundle";

  // A bundle from before the semantics were recorded runs, but cannot be
  // checked.
  Bundle old = makeAttentionBundle();
  old.metadata.semantics.clear();
  ASSERT_TRUE(writeBundle(bundle, old).ok());
  EXPECT_EQ(run("'" + bundle + "' --random 1").exitCode, 0);
  expectError(run("'" + bundle + "' --random 1 --check"),
              bundle + ": --check needs the semantics the bundle records, and "
                       "it has none (written by an older attn-compile): "
                       "compile it again");
}

TEST_F(BundleRunToolTest, DriverErrors) {
  ToolRun result =
      run("'" + bundle + "' --random 1", "/nonexistent/libcuda.so.1");
  EXPECT_EQ(result.exitCode, 2);
  EXPECT_TRUE(contains(result.output,
                       "attn-bundle-run: error: no NVIDIA driver: cannot load "
                       "/nonexistent/libcuda.so.1 ("))
      << result.output;
  EXPECT_EQ(std::count(result.output.begin(), result.output.end(), '\n'), 1);

  // A cubin for another chip than the fake's sm_80.
  Bundle hopper = makeAttentionBundle();
  hopper.metadata.target = "sm_90a";
  hopper.cubin[8] = '9';
  ASSERT_TRUE(writeBundle(bundle, hopper).ok());
  result = run("'" + bundle + "' --random 1");
  EXPECT_EQ(result.exitCode, 2);
  EXPECT_TRUE(contains(result.output, "the cubin was compiled for sm_90a but "
                                      "device 0 (Fake GPU) is sm_80"))
      << result.output;
}

TEST_F(BundleRunToolTest, BadCommandLines) {
  std::string k = "'" + bundle + "' ";
  const std::string help = " (see attn-bundle-run --help)";
  const std::pair<std::string, std::string> cases[] = {
      {"", "missing the bundle" + help},
      {"--random 1 " + k, "the bundle must come first, got '--random'" + help},
      {k, "give --q, --k and --v, or --random SEED" + help},
      {k + "--random 1 --q q.npy",
       "--random and --q/--k/--v exclude each other" + help},
      {k + "--random -1",
       "--random expects a non-negative integer seed, got '-1'" + help},
      {k + "--random 1 --repeat x",
       "--repeat expects a non-negative integer, got 'x'" + help},
      {k + "--random 1 --out o.npy --lse o.npy",
       "--out and --lse name the same file 'o.npy'" + help},
      {k + "--random 1 --bogus 2", "unknown flag '--bogus'" + help},
      {k + "--random 1 --check=yes", "--check takes no value (see --help)"},
      {"'" + dir.file("none.attnb") + "' --random 1",
       "cannot read " + dir.file("none.attnb") + ": No such file or directory"},
  };
  for (const auto &[arguments, message] : cases) {
    SCOPED_TRACE(arguments);
    expectError(run(arguments), message);
  }
  ToolRun usage = run("--help");
  EXPECT_EQ(usage.exitCode, 0);
  EXPECT_TRUE(contains(usage.output, "usage: attn-bundle-run K.attnb"))
      << usage.output;
  EXPECT_EQ(launches(), "");
}

TEST_F(BundleRunToolTest, NeedsOnlyTheCAndCxxLibraries) {
  // The runner is copied alone to GPU machines without LLVM: every library
  // it loads must be one that every Linux machine has.
  ToolRun result = runCommand(std::string("ldd '") + ATTN_BUNDLE_RUN + "'");
  ASSERT_EQ(result.exitCode, 0) << result.output;
  std::istringstream lines(result.output);
  for (std::string line; std::getline(lines, line);) {
    bool allowed = false;
    for (const char *library :
         {"linux-vdso.so", "libc.so", "libstdc++.so", "libm.so", "libgcc_s.so",
          "libdl.so", "libpthread.so", "librt.so", "ld-linux"})
      allowed |= contains(line, library);
    EXPECT_TRUE(allowed) << line;
  }
}

} // namespace
