//===- GpuKernel.cpp - attention on the GPU through kernel bundles --------===//

#include "attn/JIT/GpuKernel.h"
#include "attn-rt/Runtime.h"
#include "attn/JIT/CpuKernel.h"
#include "attn/Pipelines/Pipelines.h"
#include "attn/Target/Cuda/PtxAssembler.h"
#include "attn/Transforms/Passes.h"

#include "mlir/Dialect/GPU/IR/GPUDialect.h"
#include "mlir/IR/BuiltinOps.h"
#include "mlir/IR/MLIRContext.h"
#include "mlir/Pass/PassManager.h"

#include "llvm/Support/FormatVariadic.h"
#include "llvm/Support/MathExtras.h"

#include <chrono>
#include <cmath>
#include <ctime>

using llvm::Expected;

namespace attn {

namespace {

rt::ScalarType scalarType(ElementType t) {
  switch (t) {
  case ElementType::F16:
    return rt::ScalarType::F16;
  case ElementType::BF16:
    return rt::ScalarType::BF16;
  case ElementType::F32:
    return rt::ScalarType::F32;
  }
  llvm_unreachable("unknown element type");
}

/// Milliseconds since `start`, which is then reset to now.
double lap(std::chrono::steady_clock::time_point &start) {
  auto now = std::chrono::steady_clock::now();
  double ms = std::chrono::duration<double, std::milli>(now - start).count();
  start = now;
  return ms;
}

std::string utcNow() {
  std::time_t now = std::time(nullptr);
  char text[32];
  std::strftime(text, sizeof(text), "%Y-%m-%dT%H:%M:%SZ", std::gmtime(&now));
  return text;
}

} // namespace

Expected<rt::Bundle> compileGpuBundle(const AttentionProblem &p,
                                      llvm::StringRef chip,
                                      const GpuTileOptions &tiles,
                                      GpuCompileTimes *times) {
  GpuCompileTimes ignored;
  if (!times)
    times = &ignored;
  auto start = std::chrono::steady_clock::now();
  std::string reason;
  if (!isGpuSupported(p, reason))
    return llvm::createStringError(
        "the GPU backend does not support this problem yet: " + reason);
  std::unique_ptr<mlir::MLIRContext> ctx = createAttnContext();
  Expected<mlir::OwningOpRef<mlir::ModuleOp>> built =
      buildAttentionModule(*ctx, p);
  if (!built)
    return built.takeError();
  mlir::OwningOpRef<mlir::ModuleOp> module = std::move(*built);
  times->buildIr = lap(start);

  // 1. The kernel, and its launch attributes before they are serialized.
  DiagnosticCollector diags(*ctx);
  mlir::PassManager emit(ctx.get());
  mlir::attn::AttnMapToGpuOptions mapOptions;
  mapOptions.chip = chip.str();
  mapOptions.blockM = tiles.blockM;
  mapOptions.blockN = tiles.blockN;
  mapOptions.stages = tiles.stages;
  emit.addPass(mlir::attn::createAttnMapToGpu(mapOptions));
  if (mlir::failed(emit.run(*module)))
    return diags.takeError("attn-map-to-gpu failed");
  rt::Bundle bundle;
  rt::BundleMetadata &m = bundle.metadata;
  int64_t queryTileRows = 0;
  module->walk([&](mlir::gpu::GPUFuncOp f) {
    m.kernelName = f.getName().str();
    auto attr = [&](llvm::StringRef name) -> int64_t {
      auto a = f->getAttrOfType<mlir::IntegerAttr>(name);
      return a ? a.getInt() : 0;
    };
    m.launch.dynamicSharedMemory = unsigned(attr("attn.dynamic_shared_memory"));
    queryTileRows = attr("attn.query_tile_rows");
    m.options = {{"q_tile", queryTileRows},
                 {"k_tile", attr("attn.key_tile_cols")},
                 {"stages", attr("attn.stages")}};
    if (std::optional<llvm::ArrayRef<int32_t>> block = f.getKnownBlockSize())
      m.launch.block = {unsigned((*block)[0]), unsigned((*block)[1]),
                        unsigned((*block)[2])};
  });

  // 2. PTX, then a cubin without spills.
  mlir::PassManager lower(ctx.get());
  // The attention IR was verified when built; verifying the ~3000-op
  // kernel after each of the pipeline's passes took ~15 ms (12% of spec →
  // PTX). -attn-serialize-to-ptx verifies the kernels once before it
  // translates them, and attn-opt (the lit tests) verifies after every pass.
  lower.enableVerifier(false);
  mlir::attn::PtxPipelineOptions options;
  options.chip = chip.str();
  mlir::attn::buildGpuKernelsToPtxPipeline(lower, options);
  if (mlir::failed(lower.run(*module)))
    return diags.takeError("attn-lower-to-ptx failed");
  std::string ptx;
  module->walk([&](mlir::gpu::BinaryOp binary) {
    for (mlir::Attribute a : binary.getObjects())
      ptx = mlir::cast<mlir::gpu::ObjectAttr>(a).getObject().getValue().str();
  });
  times->lowerToPtx = lap(start);
  Expected<CubinResult> cubin =
      assemblePtx(ptx, chip, AssembleOptions{tiles.fastAssemble});
  times->assemble = lap(start);
  if (!cubin)
    return cubin.takeError();
  if (cubin->spills())
    return llvm::createStringError(
        "the kernel spills registers on " + chip + " (" +
        llvm::Twine(cubin->spillStoreBytes) +
        " bytes of spill stores); not writing a slow kernel");
  bundle.cubin.assign(cubin->cubin.begin(), cubin->cubin.end());
  if (tiles.fastAssemble)
    m.options["fast_assemble"] = 1;

  // 3. Launch metadata: one CTA per (query tile, head, batch).
  if (queryTileRows <= 0)
    return llvm::createStringError(
        "the emitted kernel has no attn.query_tile_rows attribute");
  m.target = chip.str();
  m.dtype = scalarType(p.dtype);
  m.launch.grid = {unsigned(llvm::divideCeil(p.q[2], queryTileRows)),
                   unsigned(p.q[1]), unsigned(p.q[0])};
  m.problem = {{"B", p.q[0]},  {"Hq", p.q[1]}, {"Hkv", p.k[1]}, {"Sq", p.q[2]},
               {"Sk", p.k[2]}, {"D", p.q[3]},  {"Dv", p.v[3]}};
  auto tensor = [&](const char *name, rt::ScalarType t,
                    std::vector<int64_t> shape) {
    rt::KernelArg a;
    a.name = name;
    a.kind = rt::ArgKind::Pointer;
    a.elementType = t;
    a.shape = std::move(shape);
    return a;
  };
  rt::ScalarType et = m.dtype;
  m.args = {tensor("q", et, {p.q.begin(), p.q.end()}),
            tensor("k", et, {p.k.begin(), p.k.end()}),
            tensor("v", et, {p.v.begin(), p.v.end()})};
  if (p.mask != AttentionProblem::Mask::None)
    m.args.push_back(tensor("mask",
                            p.mask == AttentionProblem::Mask::Keep
                                ? rt::ScalarType::I8
                                : scalarType(p.biasType),
                            {p.maskShape.begin(), p.maskShape.end()}));
  m.args.push_back(tensor("o", et, {p.q[0], p.q[1], p.q[2], p.v[3]}));
  m.args.push_back(
      tensor("lse", rt::ScalarType::F32, {p.q[0], p.q[1], p.q[2]}));
  for (const char *name : {"sq", "sk"}) {
    rt::KernelArg a;
    a.name = name;
    a.kind = rt::ArgKind::I64;
    m.args.push_back(a);
  }
  m.options["warps"] = int64_t(m.launch.block.x / 32);
  // What the kernel computes, so that a runner (attn-bundle-run) can check
  // it without being told again; the scale resolved as the kernel uses it.
  m.semantics = {{"scale", p.scale.value_or(1.0 / std::sqrt(double(p.q[3])))},
                 {"causal", double(p.causal)},
                 {"window_left", double(p.windowLeft)},
                 {"window_right", double(p.windowRight)},
                 {"softcap", p.softcap.value_or(0.0)}};
  m.compilerName = "attn";
  m.compilerVersion = "0.1.0";
  m.created = utcNow();
  return bundle;
}

Expected<CacheKey> getGpuBundleCacheKey(const AttentionProblem &problem,
                                        llvm::StringRef chip,
                                        const GpuTileOptions &tiles) {
  Expected<std::string> spec = buildAttentionModuleText(problem);
  if (!spec)
    return spec.takeError();
  // attn-lower-to-ptx with these options is what compileGpuBundle runs (as
  // -attn-map-to-gpu, then buildGpuKernelsToPtxPipeline).
  std::string pipeline =
      getPipelineText(llvm::formatv("attn-lower-to-ptx {0} {1} {2} {3}", chip,
                                    tiles.blockM, tiles.blockN, tiles.stages)
                          .str(),
                      [&](mlir::OpPassManager &pm) {
                        mlir::attn::PtxPipelineOptions options;
                        options.chip = chip.str();
                        options.blockM = tiles.blockM;
                        options.blockN = tiles.blockN;
                        options.stages = tiles.stages;
                        mlir::attn::buildLowerToPtxPipeline(pm, options);
                      });
  CacheKey key("cuda-bundle");
  key.add("chip", chip)
      .add("pipeline", pipeline)
      .add("assembler", getAssemblerId(AssembleOptions{tiles.fastAssemble}))
      .add("spec", *spec);
  return key;
}

Expected<rt::Bundle> compileGpuBundleCached(const AttentionProblem &problem,
                                            llvm::StringRef chip,
                                            KernelCache &cache,
                                            const GpuTileOptions &tiles,
                                            CacheSource *source) {
  Expected<CacheKey> key = getGpuBundleCacheKey(problem, chip, tiles);
  if (!key)
    return key.takeError();
  Expected<CacheLookup> found =
      cache.getOrCompute(*key, [&]() -> Expected<std::string> {
        Expected<rt::Bundle> bundle = compileGpuBundle(problem, chip, tiles);
        if (!bundle)
          return bundle.takeError();
        rt::Result<std::string> bytes = rt::serializeBundle(*bundle);
        if (!bytes.ok())
          return llvm::createStringError(bytes.getStatus().getMessage());
        return std::move(*bytes);
      });
  if (!found)
    return found.takeError();
  if (source)
    *source = found->source;
  // The entry's checksum already held; this only fails if the bundle
  // format changed without the compiler id changing.
  std::string path = cache.getEntryPath(*key);
  rt::Result<rt::Bundle> bundle = rt::parseBundle(
      *found->bytes, path.empty() ? "cached kernel bundle" : path);
  if (!bundle.ok())
    return llvm::createStringError(bundle.getStatus().getMessage());
  return std::move(*bundle);
}

Expected<std::pair<const rt::Driver *, rt::DeviceInfo>> findFirstGpu() {
  rt::Result<const rt::Driver *> driver = rt::Driver::get();
  if (!driver.ok())
    return llvm::createStringError(driver.getStatus().getMessage());
  rt::Result<int> count = (*driver)->getDeviceCount();
  if (!count.ok())
    return llvm::createStringError(count.getStatus().getMessage());
  if (*count == 0)
    return llvm::createStringError("the NVIDIA driver sees no GPU");
  rt::Result<rt::DeviceInfo> info = (*driver)->getDeviceInfo(0);
  if (!info.ok())
    return llvm::createStringError(info.getStatus().getMessage());
  return std::make_pair(*driver, *info);
}

/// CUDA's limit on gridDim.y and gridDim.z.
constexpr int64_t kMaxGridYZ = 65535;

bool isGpuSupported(const AttentionProblem &p, std::string &reason) {
  if (p.dtype == ElementType::F32)
    reason = "tensor-core kernels take f16 or bf16 (got f32)";
  else if (p.q[1] > kMaxGridYZ || p.q[0] > kMaxGridYZ)
    reason = "the launch grid is (query tiles, Hq, B) and CUDA limits y and z "
             "to 65535 (Hq = " +
             std::to_string(p.q[1]) + ", B = " + std::to_string(p.q[0]) + ")";
  else if (p.dynamicLengths)
    reason = "kernels are compiled for static shapes";
  else
    return true;
  return false;
}

Expected<HostOutputs> runGpu(const rt::Driver &driver, const rt::Bundle &bundle,
                             const HostInputs &in, int64_t repeat,
                             std::vector<double> *times) {
  auto fail = [](const rt::Status &s) {
    return llvm::createStringError(s.getMessage());
  };
  const AttentionProblem &p = in.problem;
  rt::Result<rt::LoadedBundle> loaded =
      rt::LoadedBundle::load(driver, 0, bundle);
  if (!loaded.ok())
    return fail(loaded.getStatus());
  const rt::Context *ctx = &loaded->context;
  const rt::Kernel *kernel = &loaded->kernel;
  rt::Result<rt::Stream> stream = rt::Stream::create(*ctx);
  if (!stream.ok())
    return fail(stream.getStatus());

  // Device buffers (at least one byte: empty tensors are legal).
  int64_t rows = p.q[0] * p.q[1] * p.q[2];
  // Device buffers in kernel-parameter order: Q, K, V, [mask], O, LSE (at
  // least one byte each: empty tensors are legal); inputs are copied in.
  bool hasMask = p.mask != AttentionProblem::Mask::None;
  std::vector<std::vector<uint8_t>> host = {toStorage(p.dtype, in.q),
                                            toStorage(p.dtype, in.k),
                                            toStorage(p.dtype, in.v)};
  if (hasMask)
    host.push_back(maskStorage(in));
  size_t oBytes = size_t(rows * p.v[3]) * 2, lseBytes = size_t(rows) * 4;
  std::vector<size_t> sizes;
  for (const std::vector<uint8_t> &h : host)
    sizes.push_back(h.size());
  sizes.push_back(oBytes);
  sizes.push_back(lseBytes);
  std::vector<rt::DeviceBuffer> buffers;
  for (size_t i = 0; i < sizes.size(); ++i) {
    rt::Result<rt::DeviceBuffer> b =
        rt::DeviceBuffer::allocate(*ctx, std::max<size_t>(sizes[i], 1));
    if (!b.ok())
      return fail(b.getStatus());
    buffers.push_back(std::move(*b));
    if (i < host.size() && !host[i].empty())
      if (rt::Status s =
              buffers[i].copyFromHost(host[i].data(), host[i].size());
          !s.ok())
        return fail(s);
  }
  rt::DeviceBuffer &oBuffer = buffers[buffers.size() - 2];
  rt::DeviceBuffer &lseBuffer = buffers.back();

  // Kernel parameters: the buffers, then Sq and Sk.
  std::vector<rt::DevicePtr> ptrs;
  for (rt::DeviceBuffer &b : buffers)
    ptrs.push_back(b.getAddress());
  int64_t sq = p.q[2], sk = p.k[2];
  std::vector<void *> args;
  for (rt::DevicePtr &ptr : ptrs)
    args.push_back(&ptr);
  args.push_back(&sq);
  args.push_back(&sk);
  rt::Result<rt::Event> start = rt::Event::create(*ctx),
                        end = rt::Event::create(*ctx);
  if (!start.ok() || !end.ok())
    return fail(start.ok() ? end.getStatus() : start.getStatus());
  for (int64_t i = 0; i <= repeat; ++i) {
    if (rt::Status s = start->record(*stream); !s.ok())
      return fail(s);
    if (rt::Status s =
            kernel->launch(bundle.metadata.launch, args.data(), *stream);
        !s.ok())
      return fail(s);
    if (rt::Status s = end->record(*stream); !s.ok())
      return fail(s);
    if (rt::Status s = end->synchronize(); !s.ok())
      return fail(s);
    rt::Result<float> ms = rt::Event::getElapsedMs(*start, *end);
    if (!ms.ok())
      return fail(ms.getStatus());
    if (i > 0 && times)
      times->push_back(*ms);
  }
  std::vector<uint8_t> o(oBytes);
  HostOutputs out;
  out.lse.resize(rows);
  if (oBytes)
    if (rt::Status s = oBuffer.copyToHost(o.data(), oBytes); !s.ok())
      return fail(s);
  if (lseBytes)
    if (rt::Status s = lseBuffer.copyToHost(out.lse.data(), lseBytes); !s.ok())
      return fail(s);
  out.o = fromStorage(p.dtype, o);
  return out;
}

} // namespace attn
