//===- Pipelines.cpp - named lowering pipelines ---------------------------===//

#include "attn/Pipelines/Pipelines.h"
#include "attn/Transforms/Passes.h"

#include "mlir/Conversion/Passes.h"
#include "mlir/Dialect/Bufferization/Pipelines/Passes.h"
#include "mlir/Dialect/Bufferization/Transforms/Passes.h"
#include "mlir/Dialect/Func/IR/FuncOps.h"
#include "mlir/Dialect/GPU/IR/GPUDialect.h"
#include "mlir/Dialect/GPU/Transforms/Passes.h"
#include "mlir/Dialect/MemRef/Transforms/Passes.h"
#include "mlir/Dialect/SCF/Transforms/Passes.h"
#include "mlir/Pass/PassRegistry.h"
#include "mlir/Transforms/Passes.h"

using namespace mlir;
using namespace mlir::attn;

void mlir::attn::buildLowerToCpuPipeline(OpPassManager &pm,
                                         const CpuPipelineOptions &options) {
  // 1. Semantic op → tiled online-softmax form (on buffers).
  AttnTileOptions tile;
  tile.qTile = options.qTile;
  tile.kTile = options.kTile;
  pm.addPass(createAttnTile(tile));
  pm.addPass(createCanonicalizerPass());

  // 2. Tensors → buffers at function boundaries, then free what the
  //    attention allocated once it has been copied out.
  bufferization::OneShotBufferizePassOptions bufferize;
  bufferize.bufferizeFunctionBoundaries = true;
  bufferize.functionBoundaryTypeConversion =
      bufferization::LayoutMapOption::IdentityLayoutMap;
  pm.addPass(bufferization::createOneShotBufferizePass(bufferize));
  bufferization::BufferDeallocationPipelineOptions dealloc;
  bufferization::buildBufferDeallocationPipeline(pm, dealloc);

  // 3. Tile ops → vector code; work items → OpenMP worksharing loop.
  pm.addPass(createAttnLowerTilesToVector());
  pm.addPass(createCanonicalizerPass());
  pm.addPass(createCSEPass());
  // The OpenMP lowering frees each work item's allocas at the end of its
  // iteration (stacksave/stackrestore), also with one thread.
  pm.addPass(createForallToParallelLoopPass());
  ConvertSCFToOpenMPPassOptions openmp;
  openmp.numThreads = options.numThreads;
  pm.addPass(createConvertSCFToOpenMPPass(openmp));

  // 4. Everything → LLVM dialect.
  pm.addPass(memref::createExpandStridedMetadataPass());
  pm.addPass(createLowerAffinePass());
  pm.addPass(createFinalizeMemRefToLLVMConversionPass());
  pm.addPass(createSCFToControlFlowPass());
  pm.addPass(createConvertVectorToLLVMPass());
  pm.addPass(createConvertToLLVMPass());
  pm.addPass(createReconcileUnrealizedCastsPass());
  pm.addPass(createCanonicalizerPass());
}

void mlir::attn::buildLowerToPtxPipeline(OpPassManager &pm,
                                         const PtxPipelineOptions &options) {
  // 1. One kernel per attention function, running the tiled online softmax
  //    (tiles, stages and shared memory from the chip's table or options).
  AttnMapToGpuOptions map;
  map.chip = options.chip;
  map.blockM = options.blockM;
  map.blockN = options.blockN;
  map.stages = options.stages;
  pm.addPass(createAttnMapToGpu(map));
  buildGpuKernelsToPtxPipeline(pm, options);
}

void mlir::attn::buildGpuKernelsToPtxPipeline(
    OpPassManager &pm, const PtxPipelineOptions &options) {
  // 1. Q/K/V tiles through the cp.async ring, tile ops → MMA fragments.
  pm.addPass(createAttnStageSharedMemory());
  pm.addPass(createAttnLowerTilesToMma());
  //    Then share the kernels' repeated constants and index math. No
  //    canonicalizer, here or after the NVVM conversion: on these large
  //    unrolled kernels it took ~20% of spec → PTX, and LLVM does the
  //    same folding (the PTX differs only in instruction order; same size,
  //    same registers after ptxas, measured for D = 64/128/256).
  pm.addPass(createCSEPass());
  // 2. The NVVM target: PTX ISA 8.0 (LLVM rejects the default 6.0 for
  //    sm_80+) and the toolkit's libdevice for math functions (tanh for the
  //    soft-cap; exp2 and log are emitted as PTX instructions), named
  //    explicitly so that the result does not depend on the environment.
  GpuNVVMAttachTargetOptions target;
  target.chip = options.chip;
  target.features = "+ptx80";
  target.linkLibs.push_back(ATTN_CUDA_LIBDEVICE);
  pm.addPass(createGpuNVVMAttachTarget(target));
  // 3. Kernel bodies → NVVM/LLVM dialect in one conversion (the upstream
  //    nvgpu, scf, gpu and nvvm lowerings each walked the whole unrolled
  //    kernel: 14 ms against 8 at D = 128, same PTX). The kernels' views are
  //    reinterpret_casts and memref.views, which the LLVM lowering takes
  //    directly: no -expand-strided-metadata/-lower-affine.
  OpPassManager &kernels = pm.nest<gpu::GPUModuleOp>();
  kernels.addPass(createAttnConvertKernelsToNvvm());
  kernels.addPass(createReconcileUnrealizedCastsPass());
  // 4. PTX text in a gpu.binary (a short LLVM pipeline for these kernels
  //    instead of O2).
  AttnSerializeToPtxOptions serialize;
  serialize.toolkit = ATTN_CUDA_TOOLKIT;
  pm.addPass(createAttnSerializeToPtx(serialize));
}

void mlir::attn::registerPipelines() {
  PassPipelineRegistration<PtxPipelineOptions>(
      "attn-lower-to-ptx",
      "Lower attn.attention functions to tensor-core GPU kernels and PTX",
      buildLowerToPtxPipeline);
  PassPipelineRegistration<CpuPipelineOptions>(
      "attn-lower-to-cpu",
      "Lower attn.attention to LLVM dialect code for the host CPU (the entry "
      "point of attn-run and the JIT)",
      buildLowerToCpuPipeline);
}
