//===- DriverTest.cpp - Tests for loading the driver and using a GPU ------===//
//
// Without a GPU (CI) the driver tests check the errors: no library, a
// library that is not a driver, the CUDA toolkit's stub. With a GPU and a
// driver they query the devices and use memory, streams and events (running
// a kernel needs a cubin, which is the compiler's part to test).
//
//===----------------------------------------------------------------------===//

#include "attn-rt/Runtime.h"

#include "TestBundles.h"

#include "gtest/gtest.h"

#include <cstdio>
#include <cstdlib>
#include <fstream>
#include <numeric>
#include <optional>
#include <unistd.h>

using namespace attn::rt;
using attn::rt::test::TempDir;

namespace {

constexpr const char *kToolkitStub = "/usr/local/cuda/lib64/stubs/libcuda.so";

/// Expects `result` to fail with a message that starts with `prefix`, on
/// one line.
template <typename T>
void expectErrorStartingWith(const Result<T> &result,
                             const std::string &prefix) {
  ASSERT_FALSE(result.ok()) << "expected an error starting with: " << prefix;
  EXPECT_EQ(result.getMessage().rfind(prefix, 0), 0u) << result.getMessage();
  EXPECT_EQ(result.getMessage().find('\n'), std::string::npos)
      << result.getMessage();
}

TEST(DriverTest, MissingLibraryIsNoDriver) {
  Result<std::unique_ptr<Driver>> driver =
      Driver::load("/nonexistent/libcuda.so.1");
  expectErrorStartingWith(driver,
                          "no NVIDIA driver: cannot load "
                          "/nonexistent/libcuda.so.1 (/nonexistent/"
                          "libcuda.so.1: cannot open shared object file: No "
                          "such file or directory)");
}

TEST(DriverTest, FileThatIsNotALibraryIsNoDriver) {
  TempDir dir;
  std::ofstream(dir.file("libcuda.so.1")) << "not an ELF file\n";
  expectErrorStartingWith(Driver::load(dir.file("libcuda.so.1")),
                          "no NVIDIA driver: cannot load " +
                              dir.file("libcuda.so.1") + " (");
}

TEST(DriverTest, LibraryWithoutTheDriverApiIsNotUsable) {
  // Any shared library will do; the C math library is on every machine.
  expectErrorStartingWith(Driver::load("libm.so.6"),
                          "no usable NVIDIA driver: libm.so.6 does not export "
                          "cuInit (it is not libcuda, or a driver older than "
                          "this runtime supports)");
}

TEST(DriverTest, ToolkitStubIsNotADriver) {
  if (access(kToolkitStub, R_OK) != 0)
    GTEST_SKIP() << kToolkitStub << " is not installed";
  // In a child process: once the stub is loaded, glibc would answer this
  // process's later dlopen("libcuda.so.1") with it (it has the driver's
  // soname), and the GPU tests below would wrongly see no driver.
  EXPECT_EXIT(
      {
        Result<std::unique_ptr<Driver>> driver = Driver::load(kToolkitStub);
        std::fprintf(stderr, "%s\n",
                     driver.ok() ? "loaded" : driver.getMessage().c_str());
        std::exit(driver.ok() ? 1 : 0);
      },
      testing::ExitedWithCode(0),
      std::string("^") + kToolkitStub +
          " is the CUDA toolkit's stub, not a driver: no NVIDIA driver is "
          "installed \\(cuInit returned CUDA_ERROR_STUB_LIBRARY\\)\n$");
}

TEST(DriverTest, DefaultLibraryPathFollowsTheEnvironment) {
  const char *saved = std::getenv("ATTN_LIBCUDA");
  std::optional<std::string> original;
  if (saved)
    original = saved;

  unsetenv("ATTN_LIBCUDA");
  EXPECT_EQ(Driver::getDefaultLibraryPath(), "libcuda.so.1");
  setenv("ATTN_LIBCUDA", "", 1);
  EXPECT_EQ(Driver::getDefaultLibraryPath(), "libcuda.so.1");
  setenv("ATTN_LIBCUDA", "/opt/driver/libcuda.so.1", 1);
  EXPECT_EQ(Driver::getDefaultLibraryPath(), "/opt/driver/libcuda.so.1");

  if (original)
    setenv("ATTN_LIBCUDA", original->c_str(), 1);
  else
    unsetenv("ATTN_LIBCUDA");
}

TEST(FormatTest, Bytes) {
  EXPECT_EQ(formatBytes(0), "0 bytes");
  EXPECT_EQ(formatBytes(1023), "1023 bytes");
  EXPECT_EQ(formatBytes(49152), "49152 bytes (48.0 KiB)");
  EXPECT_EQ(formatBytes(85899345920ull), "85899345920 bytes (80.0 GiB)");
  EXPECT_EQ(formatBytes(3ull << 50), "3377699720527872 bytes (3072.0 TiB)");
}

TEST(FormatTest, DeviceNames) {
  DeviceInfo info;
  info.ordinal = 1;
  info.name = "NVIDIA A100-SXM4-80GB";
  info.computeCapabilityMajor = 8;
  EXPECT_EQ(info.getChip(), "sm_80");
  info.computeCapabilityMajor = 10;
  EXPECT_EQ(info.getChip(), "sm_100");
  EXPECT_EQ(info.describe(), "device 1 (NVIDIA A100-SXM4-80GB)");
  EXPECT_EQ(toString(Dim3{128, 2, 1}), "128 x 2 x 1");
}

//===----------------------------------------------------------------------===//
// With a driver and a GPU
//===----------------------------------------------------------------------===//

/// Device 0 of the process-wide driver, or a skip saying why there is none.
class GpuTest : public testing::Test {
protected:
  void SetUp() override {
    Result<const Driver *> loaded = Driver::get();
    if (!loaded.ok())
      GTEST_SKIP() << loaded.getMessage();
    driver = *loaded;
    Result<int> count = driver->getDeviceCount();
    ASSERT_TRUE(count.ok()) << count.getMessage();
    if (*count == 0)
      GTEST_SKIP() << "the driver sees no CUDA device";
    Result<Context> created = Context::create(*driver, 0);
    ASSERT_TRUE(created.ok()) << created.getMessage();
    context.emplace(std::move(*created));
  }

  const Driver *driver = nullptr;
  std::optional<Context> context;
};

TEST_F(GpuTest, QueriesDevices) {
  EXPECT_GE(driver->getVersion(), 11000) << "CUDA 11 or newer";
  Result<int> count = driver->getDeviceCount();
  ASSERT_TRUE(count.ok()) << count.getMessage();
  for (int ordinal = 0; ordinal < *count; ++ordinal) {
    Result<DeviceInfo> info = driver->getDeviceInfo(ordinal);
    ASSERT_TRUE(info.ok()) << info.getMessage();
    EXPECT_EQ(info->ordinal, ordinal);
    EXPECT_FALSE(info->name.empty());
    EXPECT_GE(info->computeCapabilityMajor, 5) << info->getChip();
    EXPECT_GT(info->multiprocessorCount, 0);
    EXPECT_GT(info->totalMemory, size_t(1) << 30);
    EXPECT_EQ(info->maxSharedMemoryPerBlock, 48 * 1024);
    EXPECT_GE(info->maxSharedMemoryPerBlockOptin,
              info->maxSharedMemoryPerBlock);
  }
  expectErrorStartingWith(driver->getDeviceInfo(*count),
                          "cuDeviceGet failed: CUDA_ERROR_INVALID_DEVICE");
}

TEST_F(GpuTest, CopiesThroughDeviceMemory) {
  const size_t size = 1 << 20;
  Result<DeviceBuffer> buffer = DeviceBuffer::allocate(*context, size);
  ASSERT_TRUE(buffer.ok()) << buffer.getMessage();
  EXPECT_NE(buffer->getAddress(), 0u);
  EXPECT_EQ(buffer->getSize(), size);

  std::vector<uint8_t> in(size), out(size);
  std::iota(in.begin(), in.end(), uint8_t(0));
  ASSERT_TRUE(buffer->copyFromHost(in.data(), size).ok());
  ASSERT_TRUE(buffer->copyToHost(out.data(), size).ok());
  EXPECT_EQ(in, out);

  ASSERT_TRUE(buffer->fill(0xab).ok());
  ASSERT_TRUE(buffer->copyToHost(out.data(), size).ok());
  EXPECT_EQ(out, std::vector<uint8_t>(size, 0xab));

  Result<Stream> stream = Stream::create(*context);
  ASSERT_TRUE(stream.ok()) << stream.getMessage();
  ASSERT_TRUE(buffer->copyFromHostAsync(in.data(), size, *stream).ok());
  ASSERT_TRUE(buffer->copyToHostAsync(out.data(), size, *stream).ok());
  ASSERT_TRUE(stream->synchronize().ok());
  EXPECT_EQ(in, out);

  Status tooLarge = buffer->copyFromHost(in.data(), size + 1);
  ASSERT_FALSE(tooLarge.ok());
  EXPECT_EQ(tooLarge.getMessage(),
            "cannot copy 1048577 bytes (1.0 MiB) to or from a device buffer "
            "of 1048576 bytes (1.0 MiB)");
}

TEST_F(GpuTest, TimesWorkWithEvents) {
  Result<Stream> stream = Stream::create(*context);
  Result<Event> start = Event::create(*context), end = Event::create(*context);
  ASSERT_TRUE(stream.ok() && start.ok() && end.ok());
  Result<DeviceBuffer> buffer = DeviceBuffer::allocate(*context, 64 << 20);
  ASSERT_TRUE(buffer.ok()) << buffer.getMessage();
  std::vector<uint8_t> host(buffer->getSize(), 1);

  ASSERT_TRUE(start->record(*stream).ok());
  ASSERT_TRUE(
      buffer->copyFromHostAsync(host.data(), host.size(), *stream).ok());
  ASSERT_TRUE(end->record(*stream).ok());
  ASSERT_TRUE(end->synchronize().ok());
  Result<float> ms = Event::getElapsedMs(*start, *end);
  ASSERT_TRUE(ms.ok()) << ms.getMessage();
  EXPECT_GT(*ms, 0.0f);
}

TEST_F(GpuTest, OutOfMemoryNamesTheRequest) {
  size_t request = context->getDevice().totalMemory * 4;
  Result<DeviceBuffer> buffer = DeviceBuffer::allocate(*context, request);
  expectErrorStartingWith(buffer,
                          "cuMemAlloc failed: CUDA_ERROR_OUT_OF_MEMORY (out of "
                          "memory): cannot allocate " +
                              formatBytes(request) + " on " +
                              context->getDevice().describe() + ", which has ");
  expectErrorStartingWith(DeviceBuffer::allocate(*context, 0),
                          "cannot allocate an empty device buffer on device 0");
}

TEST_F(GpuTest, RejectsWhatIsNotACubin) {
  std::string device = context->getDevice().describe();
  expectErrorStartingWith(Module::load(*context, {}, "sm_80"),
                          "cannot load 0 bytes on " + device +
                              ": not a cubin (no ELF header)");
  std::string text = "this is not a cubin";
  expectErrorStartingWith(
      Module::load(*context, std::vector<uint8_t>(text.begin(), text.end()),
                   "sm_80"),
      "cannot load 19 bytes on " + device + ": not a cubin (no ELF header)");
}

} // namespace
