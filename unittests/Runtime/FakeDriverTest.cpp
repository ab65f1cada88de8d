//===- FakeDriverTest.cpp - The runtime against a stand-in driver ---------===//
//
// Runs contexts, modules, kernels, memory, streams and events against
// libAttnFakeCuda.so (FakeCuda.h), so that CI checks them, their error
// messages and their RAII without a GPU.
//
//===----------------------------------------------------------------------===//

#include "attn-rt/Bundle.h"
#include "attn-rt/Runtime.h"

#include "FakeCuda.h"

#include "gtest/gtest.h"

#include <dlfcn.h>
#include <optional>

using namespace attn::rt;

namespace {

/// The bytes the fake accepts as a cubin for its sm_80 device.
std::vector<uint8_t> fakeCubin(const std::string &chip = "sm_80") {
  std::string image = "\177ELF" + chip;
  return std::vector<uint8_t>(image.begin(), image.end());
}

template <typename T>
void expectError(const Result<T> &result, const std::string &expected) {
  ASSERT_FALSE(result.ok()) << "expected: " << expected;
  EXPECT_EQ(result.getMessage(), expected);
}
void expectError(const Status &status, const std::string &expected) {
  ASSERT_FALSE(status.ok()) << "expected: " << expected;
  EXPECT_EQ(status.getMessage(), expected);
}

/// The fake driver and a context on its device; afterwards, checks that
/// every resource was given back exactly once.
class FakeDriverTest : public testing::Test {
protected:
  void SetUp() override {
    Result<std::unique_ptr<Driver>> loaded = Driver::load(ATTN_FAKE_CUDA);
    ASSERT_TRUE(loaded.ok()) << loaded.getMessage();
    driver = std::move(*loaded);
    // The library Driver::load opened (RTLD_NOLOAD: never a second copy).
    void *library = dlopen(ATTN_FAKE_CUDA, RTLD_NOW | RTLD_NOLOAD);
    ASSERT_NE(library, nullptr) << dlerror();
    state = reinterpret_cast<FakeCudaState *(*)()>(
        dlsym(library, "fakeCudaState"))();
    Result<Context> created = Context::create(*driver, 0);
    ASSERT_TRUE(created.ok()) << created.getMessage();
    context.emplace(std::move(*created));
  }

  void TearDown() override {
    context.reset();
    if (!state)
      return;
    EXPECT_EQ(state->liveContexts, 0);
    EXPECT_EQ(state->liveModules, 0);
    EXPECT_EQ(state->liveAllocations, 0);
    EXPECT_EQ(state->liveStreams, 0);
    EXPECT_EQ(state->liveEvents, 0);
  }

  std::unique_ptr<Driver> driver;
  FakeCudaState *state = nullptr;
  std::optional<Context> context;
};

TEST_F(FakeDriverTest, DescribesTheDevice) {
  EXPECT_EQ(driver->getLibraryPath(), ATTN_FAKE_CUDA);
  EXPECT_EQ(driver->getVersion(), 12080);
  Result<int> count = driver->getDeviceCount();
  ASSERT_TRUE(count.ok());
  EXPECT_EQ(*count, 1);
  const DeviceInfo &info = context->getDevice();
  EXPECT_EQ(info.describe(), "device 0 (Fake GPU)");
  EXPECT_EQ(info.getChip(), "sm_80");
  EXPECT_EQ(info.multiprocessorCount, 108);
  EXPECT_EQ(info.totalMemory, size_t(80) << 30);
  EXPECT_EQ(info.maxSharedMemoryPerBlock, 49152);
  EXPECT_EQ(info.maxSharedMemoryPerBlockOptin, 166912);
  expectError(driver->getDeviceInfo(1),
              "cuDeviceGet failed: CUDA_ERROR_INVALID_DEVICE (invalid device "
              "ordinal): device 1");
  expectError(Context::create(*driver, 1),
              "cuDeviceGet failed: CUDA_ERROR_INVALID_DEVICE (invalid device "
              "ordinal): device 1");
}

TEST_F(FakeDriverTest, DriverThatSeesNoGpu) {
  state->initResult = 100; // CUDA_ERROR_NO_DEVICE
  Result<std::unique_ptr<Driver>> noDevice = Driver::load(ATTN_FAKE_CUDA);
  state->initResult = 0;
  expectError(noDevice,
              "cuInit failed: CUDA_ERROR_NO_DEVICE (no CUDA-capable device is "
              "detected): the NVIDIA driver sees no GPU (check nvidia-smi and "
              "CUDA_VISIBLE_DEVICES)");
}

TEST_F(FakeDriverTest, ContextsRetainThePrimaryContextOnce) {
  EXPECT_EQ(state->liveContexts, 1);
  {
    Context moved = std::move(*context);
    EXPECT_EQ(state->liveContexts, 1) << "a move retains nothing";
    EXPECT_TRUE(moved.makeCurrent().ok());
  }
  EXPECT_EQ(state->liveContexts, 0) << "released once, by the new owner";
}

TEST_F(FakeDriverTest, BuffersCopyFillAndCheckSizes) {
  Result<DeviceBuffer> buffer = DeviceBuffer::allocate(*context, 4096);
  ASSERT_TRUE(buffer.ok()) << buffer.getMessage();
  EXPECT_EQ(state->liveAllocations, 1);
  EXPECT_EQ(buffer->getSize(), 4096u);

  std::vector<uint8_t> in(4096), out(4096);
  for (size_t i = 0; i < in.size(); ++i)
    in[i] = uint8_t(i * 7);
  ASSERT_TRUE(buffer->copyFromHost(in.data(), in.size()).ok());
  ASSERT_TRUE(buffer->copyToHost(out.data(), out.size()).ok());
  EXPECT_EQ(in, out);
  ASSERT_TRUE(buffer->fill(0x5a).ok());
  Result<Stream> stream = Stream::create(*context);
  ASSERT_TRUE(stream.ok());
  ASSERT_TRUE(buffer->copyToHostAsync(out.data(), 100, *stream).ok());
  ASSERT_TRUE(stream->synchronize().ok());
  EXPECT_EQ(std::vector<uint8_t>(out.begin(), out.begin() + 100),
            std::vector<uint8_t>(100, 0x5a));
  ASSERT_TRUE(buffer->copyFromHostAsync(in.data(), 10, *stream).ok());

  expectError(buffer->copyToHost(out.data(), 4097),
              "cannot copy 4097 bytes (4.0 KiB) to or from a device buffer of "
              "4096 bytes (4.0 KiB)");
  expectError(DeviceBuffer::allocate(*context, 0),
              "cannot allocate an empty device buffer on device 0 (Fake GPU)");

  DeviceBuffer moved = std::move(*buffer);
  EXPECT_EQ(state->liveAllocations, 1) << "a move allocates nothing";
}

TEST_F(FakeDriverTest, OutOfMemoryNamesTheRequestAndWhatIsFree) {
  expectError(DeviceBuffer::allocate(*context, size_t(2) << 30),
              "cuMemAlloc failed: CUDA_ERROR_OUT_OF_MEMORY (out of memory): "
              "cannot allocate 2147483648 bytes (2.0 GiB) on device 0 (Fake "
              "GPU), which has 536870912 bytes (512.0 MiB) of 85899345920 "
              "bytes (80.0 GiB) free");
}

TEST_F(FakeDriverTest, ModuleErrorsExplainTheArchitecture) {
  expectError(Module::load(*context, fakeCubin("sm_90a"), "sm_90a"),
              "cuModuleLoadData failed: CUDA_ERROR_NO_BINARY_FOR_GPU (no "
              "kernel image is available for execution on the device): the "
              "cubin was compiled for sm_90a but device 0 (Fake GPU) is "
              "sm_80");
  // Right chip, yet no usable code: the driver predates the toolkit.
  expectError(Module::load(*context, fakeCubin("future!!"), "sm_80"),
              "cuModuleLoadData failed: CUDA_ERROR_NO_BINARY_FOR_GPU (no "
              "kernel image is available for execution on the device): the "
              "cubin was compiled for sm_80, which device 0 (Fake GPU) is: "
              "the driver is probably older than the CUDA toolkit that "
              "compiled it");
  expectError(Module::load(*context, {'P', 'T', 'X'}, "sm_80"),
              "cannot load 3 bytes on device 0 (Fake GPU): not a cubin (no "
              "ELF header)");

  Result<Module> module = Module::load(*context, fakeCubin(), "sm_80");
  ASSERT_TRUE(module.ok()) << module.getMessage();
  EXPECT_EQ(state->liveModules, 1);
  expectError(module->getKernel("attn_bwd"),
              "cuModuleGetFunction failed: CUDA_ERROR_NOT_FOUND (named symbol "
              "not found): kernel 'attn_bwd'");
}

TEST_F(FakeDriverTest, KernelsLaunchAndOptInToSharedMemory) {
  Result<Module> module = Module::load(*context, fakeCubin(), "sm_80");
  ASSERT_TRUE(module.ok()) << module.getMessage();
  Result<Kernel> kernel = module->getKernel("attn_fwd");
  ASSERT_TRUE(kernel.ok()) << kernel.getMessage();
  EXPECT_EQ(kernel->getName(), "attn_fwd");
  Result<Stream> stream = Stream::create(*context);
  Result<DeviceBuffer> buffer = DeviceBuffer::allocate(*context, 256);
  ASSERT_TRUE(stream.ok() && buffer.ok());
  DevicePtr address = buffer->getAddress();
  void *args[] = {&address};

  int launches = state->launches, attributeCalls = state->attributeCalls;
  LaunchConfig config{{8, 16, 2}, {128, 1, 1}, 100 * 1024};
  Status launched = kernel->launch(config, args, *stream);
  ASSERT_TRUE(launched.ok()) << launched.getMessage();
  EXPECT_EQ(state->launches, launches + 1);
  EXPECT_EQ(std::vector<unsigned>(state->grid, state->grid + 3),
            (std::vector<unsigned>{8, 16, 2}));
  EXPECT_EQ(std::vector<unsigned>(state->block, state->block + 3),
            (std::vector<unsigned>{128, 1, 1}));
  EXPECT_EQ(state->sharedMemory, 100u * 1024);
  EXPECT_EQ(state->firstArgument, address);
  EXPECT_EQ(state->dynamicSharedMemoryLimit, 100 * 1024);
  EXPECT_EQ(state->attributeCalls, attributeCalls + 1);

  // Within the default: no opt-in.
  config.dynamicSharedMemory = 48 * 1024;
  ASSERT_TRUE(kernel->launch(config, args, *stream).ok());
  EXPECT_EQ(state->attributeCalls, attributeCalls + 1);
  // Above it, again: every such launch opts in.
  config.dynamicSharedMemory = 166912;
  ASSERT_TRUE(kernel->launch(config, args, *stream).ok());
  EXPECT_EQ(state->attributeCalls, attributeCalls + 2);
  EXPECT_EQ(state->dynamicSharedMemoryLimit, 166912);

  config.dynamicSharedMemory = 200 * 1024;
  expectError(kernel->launch(config, args, *stream),
              "kernel 'attn_fwd' asks for 204800 bytes (200.0 KiB) of dynamic "
              "shared memory per block but device 0 (Fake GPU) allows at most "
              "166912 bytes (163.0 KiB)");
  EXPECT_EQ(state->launches, launches + 3);

  // An empty problem (a zero grid dimension): nothing is launched.
  config = {{0, 16, 2}, {128, 1, 1}, 1024};
  ASSERT_TRUE(kernel->launch(config, args, *stream).ok());
  EXPECT_EQ(state->launches, launches + 3);
}

TEST_F(FakeDriverTest, BundlesLoadWithTheirContextAndModule) {
  Bundle bundle;
  bundle.cubin = fakeCubin();
  bundle.metadata.target = "sm_80";
  bundle.metadata.kernelName = "attn_fwd";
  {
    Result<LoadedBundle> loaded = LoadedBundle::load(*driver, 0, bundle);
    ASSERT_TRUE(loaded.ok()) << loaded.getMessage();
    EXPECT_EQ(loaded->kernel.getName(), "attn_fwd");
    EXPECT_EQ(state->liveModules, 1);
  }
  EXPECT_EQ(state->liveModules, 0);
  bundle.metadata.kernelName = "attn_bwd";
  expectError(LoadedBundle::load(*driver, 0, bundle),
              "cuModuleGetFunction failed: CUDA_ERROR_NOT_FOUND (named symbol "
              "not found): kernel 'attn_bwd'");
}

/// Streams the caller owns (CUDA runtime, frameworks) are passed through.
TEST_F(FakeDriverTest, KernelsLaunchOnForeignStreams) {
  Result<Module> module = Module::load(*context, fakeCubin(), "sm_80");
  ASSERT_TRUE(module.ok()) << module.getMessage();
  Result<Kernel> kernel = module->getKernel("attn_fwd");
  Result<Stream> stream = Stream::create(*context);
  ASSERT_TRUE(kernel.ok() && stream.ok());
  DevicePtr address = 0x1234;
  void *args[] = {&address};
  LaunchConfig config{{1, 1, 1}, {32, 1, 1}, 0};
  ASSERT_TRUE(kernel->launch(config, args, stream->getHandle()).ok());
  EXPECT_EQ(state->stream, static_cast<void *>(stream->getHandle()));
  ASSERT_TRUE(
      kernel->launch(config, args, static_cast<CUstream_st *>(nullptr)).ok());
  EXPECT_EQ(state->stream, nullptr);
}

TEST_F(FakeDriverTest, EventsTimeAndUnknownErrorsKeepTheirNumber) {
  Result<Stream> stream = Stream::create(*context);
  Result<Event> start = Event::create(*context), end = Event::create(*context);
  ASSERT_TRUE(stream.ok() && start.ok() && end.ok());
  EXPECT_EQ(state->liveEvents, 2);
  ASSERT_TRUE(start->record(*stream).ok());
  // The fake's cuGetErrorName does not know CUDA_ERROR_NOT_READY.
  expectError(Event::getElapsedMs(*start, *end),
              "cuEventElapsedTime failed: CUDA error 600");
  ASSERT_TRUE(end->record(*stream).ok());
  ASSERT_TRUE(end->synchronize().ok());
  Result<float> ms = Event::getElapsedMs(*start, *end);
  ASSERT_TRUE(ms.ok()) << ms.getMessage();
  EXPECT_EQ(*ms, 1.5f);
}

} // namespace
