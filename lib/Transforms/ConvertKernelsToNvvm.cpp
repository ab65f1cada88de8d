//===- ConvertKernelsToNvvm.cpp - GPU kernels → LLVM/NVVM at once ------===//
//
// Implements -attn-convert-kernels-to-nvvm: what -convert-nvgpu-to-nvvm,
// -convert-scf-to-cf, -convert-gpu-to-nvvm and -convert-nvvm-to-llvm do to
// the kernels of -attn-lower-tiles-to-mma, as one dialect conversion:
//
//   1. one LLVM type converter with the NVVM address spaces (global 1,
//      shared 3) and nvgpu's async-copy tokens as i32;
//   2. the upstream patterns of the four passes and of the dialects the
//      kernels use (arith, with ceildivsi expanded as -convert-gpu-to-nvvm
//      does first; cf, memref, vector, math through libdevice);
//   3. NVVM ops stay legal unless they are written as inline PTX (those
//      without an LLVM intrinsic, such as nvvm.barrier.arrive with a thread
//      count);
//   4. a full conversion: an op the patterns do not cover is an error.
//
// The four passes each walk the whole unrolled kernel, and
// -convert-gpu-to-nvvm starts with a greedy rewrite of all of it; this
// pass walks it once. For the ops attn's kernels contain the PTX is the
// same as the four passes'. Not covered (they fail to legalize, loudly):
// what -convert-gpu-to-nvvm's greedy rewrite handles (gpu.global_id,
// 64-bit shuffles, n-D vector.from_elements), ub, func and index ops.
//
//===----------------------------------------------------------------------===//

#include "attn/Transforms/Passes.h"

#include "mlir/Conversion/ArithToLLVM/ArithToLLVM.h"
#include "mlir/Conversion/ControlFlowToLLVM/ControlFlowToLLVM.h"
#include "mlir/Conversion/GPUToNVVM/GPUToNVVMPass.h"
#include "mlir/Conversion/LLVMCommon/ConversionTarget.h"
#include "mlir/Conversion/LLVMCommon/TypeConverter.h"
#include "mlir/Conversion/MemRefToLLVM/MemRefToLLVM.h"
#include "mlir/Conversion/NVGPUToNVVM/NVGPUToNVVM.h"
#include "mlir/Conversion/NVVMToLLVM/NVVMToLLVM.h"
#include "mlir/Conversion/SCFToControlFlow/SCFToControlFlow.h"
#include "mlir/Conversion/VectorToLLVM/ConvertVectorToLLVM.h"
#include "mlir/Dialect/Arith/Transforms/Passes.h"
#include "mlir/Dialect/GPU/IR/GPUDialect.h"
#include "mlir/Dialect/LLVMIR/NVVMDialect.h"
#include "mlir/Dialect/NVGPU/IR/NVGPUDialect.h"
#include "mlir/Transforms/DialectConversion.h"

namespace mlir::attn {
#define GEN_PASS_DEF_ATTNCONVERTKERNELSTONVVM
#include "attn/Transforms/Passes.h.inc"
} // namespace mlir::attn

using namespace mlir;

namespace {

struct AttnConvertKernelsToNvvmPass
    : mlir::attn::impl::AttnConvertKernelsToNvvmBase<
          AttnConvertKernelsToNvvmPass> {
  void runOnOperation() override {
    gpu::GPUModuleOp module = getOperation();
    MLIRContext *ctx = &getContext();

    // 1. Types.
    LowerToLLVMOptions options(
        ctx, DataLayout(cast<DataLayoutOpInterface>(module.getOperation())));
    LLVMTypeConverter converter(ctx, options);
    configureGpuToNVVMTypeConverter(converter);
    converter.addConversion([&](nvgpu::DeviceAsyncTokenType) -> Type {
      return IntegerType::get(ctx, 32);
    });

    // 2. Patterns.
    RewritePatternSet patterns(ctx);
    arith::populateCeilFloorDivExpandOpsPatterns(patterns);
    populateSCFToControlFlowConversionPatterns(patterns);
    populateNVGPUToNVVMConversionPatterns(converter, patterns);
    arith::populateArithToLLVMConversionPatterns(converter, patterns);
    cf::populateControlFlowToLLVMConversionPatterns(converter, patterns);
    populateFinalizeMemRefToLLVMConversionPatterns(converter, patterns);
    populateVectorToLLVMConversionPatterns(converter, patterns);
    populateGpuToNVVMConversionPatterns(converter, patterns);
    populateLibDeviceConversionPatterns(converter, patterns);
    populateNVVMToLLVMConversionPatterns(patterns);

    // 3. and 4. Legality.
    LLVMConversionTarget target(*ctx);
    configureGpuToNVVMConversionLegality(target);
    target.addDynamicallyLegalDialect<NVVM::NVVMDialect>([](Operation *op) {
      auto ptx = dyn_cast<NVVM::BasicPtxBuilderInterface>(op);
      return !ptx || ptx.hasIntrinsic();
    });
    if (failed(applyFullConversion(module, target, std::move(patterns))))
      signalPassFailure();
  }
};

} // namespace
