//===- BundleInfoToolTest.cpp - Tests for attn-bundle-info ----------------===//
//
// Runs the tool as a user would, in a child process, which also lets these
// tests set ATTN_LIBCUDA for Driver::get() and load the toolkit's stub
// without affecting this process (see DriverTest.cpp).
//
//===----------------------------------------------------------------------===//

#include "TestBundles.h"

#include "gtest/gtest.h"

#include <fstream>
#include <unistd.h>

using namespace attn::rt;
using attn::rt::test::contains;
using attn::rt::test::makeTestBundle;
using attn::rt::test::runCommand;
using attn::rt::test::TempDir;
using attn::rt::test::ToolRun;

namespace {

/// Runs `environment attn-bundle-info arguments`.
ToolRun runTool(const std::string &arguments,
                const std::string &environment = "") {
  return runCommand(environment + " '" + ATTN_BUNDLE_INFO + "' " + arguments);
}

TEST(BundleInfoToolTest, PrintsTheMetadata) {
  TempDir dir;
  ASSERT_TRUE(writeBundle(dir.file("k.attnb"), makeTestBundle()).ok());
  ToolRun run = runTool("'" + dir.file("k.attnb") + "'");
  EXPECT_EQ(run.exitCode, 0) << run.output;
  for (const char *line :
       {"  kernel                 attn_fwd\n",
        "  target                 sm_80\n", "  dtype                  f16\n",
        "  grid                   8 x 16 x 2\n",
        "  block                  128 x 1 x 1\n",
        "  dynamic shared memory  49152 bytes (48.0 KiB)\n",
        "  problem                batch=2 head_dim=128 kv_heads=4 kv_len=1024 "
        "q_heads=16 q_len=1024\n",
        "  options                k_tile=64 q_tile=128 stages=2\n",
        "  semantics              causal=2 scale=0.0883883476\n",
        "  cubin                  260 bytes\n",
        "  compiler               attn 0.1\n",
        "  created                2025-11-25T12:00:00Z\n",
        "    q                    pointer f16 [2, 16, 1024, 128]\n",
        "    scale                f32\n"})
    EXPECT_TRUE(contains(run.output, line)) << line << "in:\n" << run.output;
}

TEST(BundleInfoToolTest, InvalidBundleExitsWithTwo) {
  TempDir dir;
  std::ofstream(dir.file("bad.attnb")) << "garbage";
  ToolRun run = runTool("'" + dir.file("bad.attnb") + "'");
  EXPECT_EQ(run.exitCode, 2);
  EXPECT_EQ(run.output, "attn-bundle-info: " + dir.file("bad.attnb") +
                            ": not a kernel bundle (it does not start with "
                            "\"ATTNBNDL\")\n");
}

TEST(BundleInfoToolTest, BadCommandLinesExitWithTwo) {
  ToolRun run = runTool("");
  EXPECT_EQ(run.exitCode, 2);
  EXPECT_TRUE(contains(run.output, "usage: attn-bundle-info")) << run.output;
  run = runTool("--bogus");
  EXPECT_EQ(run.exitCode, 2);
  EXPECT_TRUE(contains(run.output, "unknown option '--bogus'")) << run.output;
  run = runTool("--help");
  EXPECT_EQ(run.exitCode, 0);
}

TEST(BundleInfoToolTest, DevicesWithoutADriver) {
  ToolRun run = runTool("--devices", "ATTN_LIBCUDA=/nonexistent/libcuda.so.1");
  EXPECT_EQ(run.exitCode, 2);
  EXPECT_TRUE(contains(run.output,
                       "attn-bundle-info: no NVIDIA driver: cannot load "
                       "/nonexistent/libcuda.so.1 ("))
      << run.output;
}

TEST(BundleInfoToolTest, DevicesWithTheToolkitStub) {
  const char *stub = "/usr/local/cuda/lib64/stubs/libcuda.so";
  if (access(stub, R_OK) != 0)
    GTEST_SKIP() << stub << " is not installed";
  ToolRun run = runTool("--devices", std::string("ATTN_LIBCUDA=") + stub);
  EXPECT_EQ(run.exitCode, 2);
  EXPECT_EQ(run.output, std::string("attn-bundle-info: ") + stub +
                            " is the CUDA toolkit's stub, not a driver: no "
                            "NVIDIA driver is installed (cuInit returned "
                            "CUDA_ERROR_STUB_LIBRARY)\n");
}

TEST(BundleInfoToolTest, DevicesOfTheFakeDriver) {
  ToolRun run =
      runTool("--devices", std::string("ATTN_LIBCUDA=") + ATTN_FAKE_CUDA);
  EXPECT_EQ(run.exitCode, 0) << run.output;
  EXPECT_EQ(run.output,
            std::string("driver ") + ATTN_FAKE_CUDA +
                " (CUDA 12.8)\n"
                "device 0 (Fake GPU)\n"
                "  chip                   sm_80\n"
                "  multiprocessors        108\n"
                "  memory                 85899345920 bytes (80.0 GiB)\n"
                "  shared memory/block    49152 bytes (48.0 KiB), opt-in "
                "166912 bytes (163.0 KiB)\n");
}

TEST(BundleInfoToolTest, LinksNeitherLlvmNorMlir) {
  ToolRun run = runCommand(std::string("ldd '") + ATTN_BUNDLE_INFO + "'");
  ASSERT_EQ(run.exitCode, 0) << run.output;
  EXPECT_FALSE(contains(run.output, "libLLVM")) << run.output;
  EXPECT_FALSE(contains(run.output, "libMLIR")) << run.output;
  EXPECT_FALSE(contains(run.output, "libcuda")) << run.output;
}

} // namespace
