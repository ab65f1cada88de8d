// Links only Attn::Runtime (no MLIR/LLVM): loads the CUDA driver if there is
// one and lists the GPUs, or prints why it cannot; round-trips a kernel
// bundle through the runtime's writer and reader. Without a GPU this is a
// link/ABI test: it exits 0 either way, and 1 only if the bundle round trip
// fails.

#include "attn-rt/Bundle.h"
#include "attn-rt/Runtime.h"

#include <cstdio>

int main() {
  using namespace attn::rt;

  Result<const Driver *> driver = Driver::get();
  if (!driver.ok()) {
    std::printf("runtime_consumer: no usable CUDA driver (%s): %s\n",
                Driver::getDefaultLibraryPath().c_str(),
                driver.getMessage().c_str());
  } else {
    Result<int> count = (*driver)->getDeviceCount();
    std::printf("runtime_consumer: CUDA driver %s, version %d, %d device(s)\n",
                (*driver)->getLibraryPath().c_str(), (*driver)->getVersion(),
                count.ok() ? *count : -1);
    if (!count.ok())
      std::printf("runtime_consumer: %s\n", count.getMessage().c_str());
    for (int i = 0; count.ok() && i < *count; ++i) {
      Result<DeviceInfo> info = (*driver)->getDeviceInfo(i);
      std::printf("runtime_consumer: %s\n",
                  info.ok() ? info->describe().c_str()
                            : info.getMessage().c_str());
    }
  }

  Bundle bundle;
  bundle.metadata.kernelName = "attn_fwd";
  bundle.metadata.target = "sm_80";
  bundle.metadata.dtype = ScalarType::F16;
  bundle.metadata.launch.grid = {4, 2, 1};
  bundle.metadata.launch.block = {128, 1, 1};
  bundle.metadata.problem = {{"batch", 1}, {"head_dim", 64}};
  bundle.metadata.args = {
      {"q", ArgKind::Pointer, ScalarType::F16, {1, 2, 256, 64}},
      {"scale", ArgKind::F32, ScalarType::F32, {}}};
  bundle.metadata.options = {{"q_tile", 64}};
  bundle.metadata.compilerName = "attn";
  bundle.metadata.compilerVersion = "0.1";
  bundle.metadata.created = "2026-01-01T00:00:00Z";
  bundle.cubin = {0x7f, 'E', 'L', 'F', 0, 1, 2, 3};
  Result<std::string> bytes = serializeBundle(bundle);
  if (!bytes.ok()) {
    std::fprintf(stderr, "runtime_consumer: %s\n", bytes.getMessage().c_str());
    return 1;
  }
  Result<Bundle> parsed = parseBundle(*bytes, "consumer.attnb");
  if (!parsed.ok() || parsed->cubin != bundle.cubin ||
      parsed->metadata.kernelName != "attn_fwd" ||
      parsed->metadata.args.size() != 2) {
    std::fprintf(stderr, "runtime_consumer: bundle round trip failed: %s\n",
                 parsed.ok() ? "contents differ" : parsed.getMessage().c_str());
    return 1;
  }
  std::printf("runtime_consumer: bundle round trip ok (%zu bytes)\n",
              bytes->size());
  return 0;
}
