//===- Pipelines.h - named lowering pipelines -------------------*- C++ -*-===//
//
// The named pipelines are the only way tools and the JIT lower attn IR.
//
//===----------------------------------------------------------------------===//

#ifndef ATTN_PIPELINES_PIPELINES_H
#define ATTN_PIPELINES_PIPELINES_H

#include "mlir/Pass/PassManager.h"
#include "mlir/Pass/PassOptions.h"

namespace mlir::attn {

/// Options of `attn-lower-to-cpu`.
struct CpuPipelineOptions : public PassPipelineOptions<CpuPipelineOptions> {
  PassOptions::Option<int64_t> qTile{*this, "q-tile",
                                     llvm::cl::desc("query rows per work item"),
                                     llvm::cl::init(64)};
  PassOptions::Option<int64_t> kTile{
      *this, "k-tile", llvm::cl::desc("keys per online-softmax step"),
      llvm::cl::init(64)};
  PassOptions::Option<unsigned> numThreads{
      *this, "num-threads",
      llvm::cl::desc("threads running the work items (0 = all cores)"),
      llvm::cl::init(0)};
};

/// attn.attention (tensors) → LLVM dialect for the host CPU:
/// attn-tile → one-shot bufferization → attn-lower-tiles-to-vector →
/// scf.forall → OpenMP worksharing loop → LLVM.
void buildLowerToCpuPipeline(OpPassManager &pm,
                             const CpuPipelineOptions &options);

/// Options of `attn-lower-to-ptx`.
struct PtxPipelineOptions : public PassPipelineOptions<PtxPipelineOptions> {
  PassOptions::Option<std::string> chip{
      *this, "chip",
      llvm::cl::desc("target GPU (sm_80, sm_86, sm_89, sm_90, sm_90a)"),
      llvm::cl::init("sm_80")};
  PassOptions::Option<int64_t> blockM{
      *this, "block-m",
      llvm::cl::desc("query rows per CTA, 64 or 128 (0 = the chip's tile "
                     "table)"),
      llvm::cl::init(0)};
  PassOptions::Option<int64_t> blockN{
      *this, "block-n",
      llvm::cl::desc("keys per tile (0 = the chip's tile table)"),
      llvm::cl::init(0)};
  PassOptions::Option<int64_t> stages{
      *this, "stages",
      llvm::cl::desc("K/V shared-memory pipeline stages (0 = the chip's "
                     "tile table)"),
      llvm::cl::init(0)};
};

/// attn.attention functions → tensor-core GPU kernels → PTX in a gpu.binary
/// (an assembly object), through MLIR's NVVM conversions and
/// -attn-serialize-to-ptx (PTX ISA 8.0, libdevice from the CUDA toolkit for
/// tanh). It is -attn-map-to-gpu (with the chip and tile options) followed
/// by buildGpuKernelsToPtxPipeline.
void buildLowerToPtxPipeline(OpPassManager &pm,
                             const PtxPipelineOptions &options);

/// The second half of attn-lower-to-ptx: the kernels of -attn-map-to-gpu →
/// -attn-stage-shared-memory → -attn-lower-tiles-to-mma → PTX (tools that
/// need the kernels' launch attributes read them in between).
void buildGpuKernelsToPtxPipeline(OpPassManager &pm,
                                  const PtxPipelineOptions &options);

void registerPipelines();

} // namespace mlir::attn

#endif // ATTN_PIPELINES_PIPELINES_H
