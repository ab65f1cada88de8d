//===- Pipelines.cpp - named lowering pipelines ---------------------------===//

#include "attn/Pipelines/Pipelines.h"
#include "attn/Transforms/Passes.h"

#include "mlir/Conversion/Passes.h"
#include "mlir/Dialect/Bufferization/Pipelines/Passes.h"
#include "mlir/Dialect/Bufferization/Transforms/Passes.h"
#include "mlir/Dialect/Func/IR/FuncOps.h"
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

void mlir::attn::registerPipelines() {
  PassPipelineRegistration<CpuPipelineOptions>(
      "attn-lower-to-cpu",
      "Lower attn.attention to LLVM dialect code for the host CPU (the entry "
      "point of attn-run and the JIT)",
      buildLowerToCpuPipeline);
}
