//===- MapToGpu.cpp - the tiled online softmax on the GPU grid ------------===//
//
// Implements -attn-map-to-gpu: every function computing one attn.attention
// becomes a `gpu.func` kernel (same name) in `gpu.module @attn_kernels`
// whose CTA runs one work item of the tiled online-softmax form
// (buildTiledWorkItem, shared with -attn-tile):
//
//   grid (ceil(Sq / BM), Hq, B): block (x, y, z) = (query tile, head, batch)
//   128 threads (4 warps) execute the work item's tile ops collectively
//   GQA by index: query head h reads KV head h / (Hq / Hkv)
//   the key loop (the causal/window band's key tiles) inside the CTA
//
// Kernel ABI: (Q, K, V, [mask], O, LSE: pointers; Sq, Sk: i64); each
// pointer is viewed as a dense memref of the operand's shape with
// B = the grid's z size and Sq, Sk from the arguments, or constants where
// the op's types fix them (a dynamic mask dim is the full size). The tile
// sizes and the cp.async depth come from the chip's table or the options; the
// kernel records them (and the shared memory that -attn-stage-shared-memory
// will lay out) as attributes.
//
//===----------------------------------------------------------------------===//

#include "attn/Transforms/GpuKernelConfig.h"
#include "attn/Transforms/Passes.h"
#include "attn/Transforms/TiledForm.h"

#include "mlir/Dialect/Func/IR/FuncOps.h"
#include "mlir/Dialect/GPU/IR/GPUDialect.h"
#include "mlir/Dialect/LLVMIR/LLVMDialect.h"

#define DEBUG_TYPE "attn-map-to-gpu"

namespace mlir::attn {
#define GEN_PASS_DEF_ATTNMAPTOGPU
#include "attn/Transforms/Passes.h.inc"
} // namespace mlir::attn

using namespace mlir;
using namespace mlir::attn;
using namespace mlir::attn::gpu_kernel;

namespace {

/// A dense memref of `type` over the buffer at `ptr` (a kernel parameter):
/// its LLVM descriptor (ptr, ptr, offset 0, sizes, row-major strides) cast
/// to the memref type, so that the kernel ABI is plain pointers. `sizes`
/// are the dims' index values.
Value memrefAt(ImplicitLocOpBuilder &b, Value ptr, MemRefType type,
               ArrayRef<Value> sizes) {
  auto i64 = b.getI64Type();
  int64_t rank = type.getRank();
  auto array = LLVM::LLVMArrayType::get(i64, rank);
  auto descType = LLVM::LLVMStructType::getLiteral(
      b.getContext(), {ptr.getType(), ptr.getType(), i64, array, array});
  Value desc = LLVM::PoisonOp::create(b, descType);
  auto set = [&](Value x, ArrayRef<int64_t> pos) {
    desc = LLVM::InsertValueOp::create(b, desc, x, pos);
  };
  auto toI64 = [&](Value x) { return arith::IndexCastOp::create(b, i64, x); };
  set(ptr, 0);
  set(ptr, 1);
  set(LLVM::ConstantOp::create(b, i64, b.getI64IntegerAttr(0)), 2);
  Value stride = arith::ConstantIndexOp::create(b, 1);
  for (int64_t i = rank - 1; i >= 0; --i) {
    set(toI64(sizes[i]), {3, i});
    set(toI64(stride), {4, i});
    if (i > 0)
      stride = arith::MulIOp::create(b, stride, sizes[i]);
  }
  return UnrealizedConversionCastOp::create(b, type, desc).getResult(0);
}

struct AttnMapToGpuPass : mlir::attn::impl::AttnMapToGpuBase<AttnMapToGpuPass> {
  using AttnMapToGpuBase::AttnMapToGpuBase;

  LogicalResult checkOptions(ModuleOp module) {
    if (!lookupChip(chip))
      return module.emitError()
             << "unknown chip '" << chip << "' (known: " << knownChips() << ")";
    if (blockN < 0 || (blockN != 0 && (blockN % 16 != 0 || blockN > 128)))
      return module.emitError() << "block-n must be a multiple of 16 in "
                                << "[16, 128], got " << int64_t(blockN);
    if (blockM != 0 && blockM != 64 && blockM != 128)
      return module.emitError() << "block-m must be 64 or 128 (16 or 32 query "
                                << "rows per warp), got " << int64_t(blockM);
    if (stages < 0 || stages > 4)
      return module.emitError() << "stages must be in [1, 4] (0 = the chip's "
                                << "default), got " << int64_t(stages);
    return success();
  }

  /// The kernel of `op` (the attention of `f`) in `gpuModule`, or failure
  /// (reported) when the chip cannot run it.
  LogicalResult mapFunction(func::FuncOp f, AttentionOp op,
                            gpu::GPUModuleOp gpuModule) {
    const ChipInfo &chipInfo = *lookupChip(chip);
    auto qType = cast<RankedTensorType>(op.getQuery().getType());
    Type et = qType.getElementType();
    if (!et.isF16() && !et.isBF16())
      return op.emitError() << "the GPU backend needs f16 or bf16 operands "
                            << "(tensor cores), got " << et;
    int64_t d = qType.getShape()[3];
    int64_t dv = op.getValue().getType().getShape()[3];
    int64_t dp = roundUp(d, 16), dvp = roundUp(dv, 16);
    TileConfig tiles = defaultTiles(chipInfo, dp, dvp);
    if (blockM)
      tiles.blockM = blockM;
    if (blockN)
      tiles.blockN = blockN;
    if (stages)
      tiles.stages = stages;
    SharedLayout layout(et.getIntOrFloatBitWidth() / 8, dp, dvp, tiles);
    if (layout.totalBytes > chipInfo.maxSharedBytes)
      return op.emitError() << "the kernel needs " << layout.totalBytes
                            << " bytes of shared memory (block-m "
                            << tiles.blockM << ", block-n " << tiles.blockN
                            << ", " << tiles.stages << " stages), more than "
                            << chip << "'s " << chipInfo.maxSharedBytes
                            << "; use fewer stages or a smaller block-n";

    OpBuilder kb(gpuModule.getBodyRegion());
    kb.setInsertionPointToEnd(gpuModule.getBody());
    Type ptr = LLVM::LLVMPointerType::get(kb.getContext());
    SmallVector<Type> params(op.getMask() ? 6 : 5, ptr);
    params.append(2, kb.getI64Type());
    auto kernel = gpu::GPUFuncOp::create(kb, f.getLoc(), f.getName(),
                                         kb.getFunctionType(params, {}));
    kernel->setAttr(gpu::GPUDialect::getKernelFuncAttrName(), kb.getUnitAttr());
    kernel.setKnownBlockSizeAttr(
        kb.getDenseI32ArrayAttr({int32_t(kThreads), 1, 1}));
    kernel->setAttr("attn.dynamic_shared_memory",
                    kb.getI64IntegerAttr(layout.totalBytes));
    kernel->setAttr("attn.query_tile_rows", kb.getI64IntegerAttr(tiles.blockM));
    kernel->setAttr("attn.key_tile_cols", kb.getI64IntegerAttr(tiles.blockN));
    kernel->setAttr("attn.stages", kb.getI64IntegerAttr(tiles.stages));

    Block &entry = kernel.getBody().front();
    ImplicitLocOpBuilder b(op.getLoc(), kb);
    b.setInsertionPointToStart(&entry);
    auto index = [&](Value x) {
      return arith::IndexCastOp::create(b, b.getIndexType(), x);
    };
    auto cst = [&](int64_t x) { return arith::ConstantIndexOp::create(b, x); };
    // A length the op's types fix is a constant of the kernel (its
    // argument then goes unused): LLVM folds the tail tests of full tiles.
    unsigned numArgs = entry.getNumArguments();
    auto kType = op.getKey().getType();
    int64_t staticB = qType.getShape()[0], staticSq = qType.getShape()[2],
            staticSk = kType.getShape()[2];
    auto size = [&](int64_t s, llvm::function_ref<Value()> dynamic) {
      return ShapedType::isDynamic(s) ? dynamic() : cst(s);
    };
    Value sq =
        size(staticSq, [&] { return index(entry.getArgument(numArgs - 2)); });
    Value sk =
        size(staticSk, [&] { return index(entry.getArgument(numArgs - 1)); });
    Value batches = size(
        staticB, [&] { return gpu::GridDimOp::create(b, gpu::Dimension::z); });
    int64_t hq = qType.getShape()[1];
    int64_t hkv = kType.getShape()[1];

    // 1. The operands as dense memrefs over the pointer arguments.
    auto view = [&](unsigned arg, ArrayRef<int64_t> shape, Type elementType,
                    ArrayRef<Value> sizes) {
      return memrefAt(b, entry.getArgument(arg),
                      MemRefType::get(shape, elementType), sizes);
    };
    unsigned arg = 0;
    TiledOperands operands;
    operands.query = view(arg++, {staticB, hq, staticSq, d}, et,
                          {batches, cst(hq), sq, cst(d)});
    operands.key = view(arg++, {staticB, hkv, staticSk, d}, et,
                        {batches, cst(hkv), sk, cst(d)});
    operands.value = view(arg++, {staticB, hkv, staticSk, dv}, et,
                          {batches, cst(hkv), sk, cst(dv)});
    if (auto maskType = dyn_cast_if_present<RankedTensorType>(
            op.getMask() ? op.getMask().getType() : Type())) {
      // A keep mask is one byte 0/1 per element (as i1 memrefs are stored);
      // a dynamic dim is the full size (the ABI passes no mask sizes).
      Value full[] = {batches, cst(hq), sq, sk};
      SmallVector<Value> sizes;
      for (auto [i, s] : llvm::enumerate(maskType.getShape()))
        sizes.push_back(ShapedType::isDynamic(s) ? full[i] : cst(s));
      operands.mask =
          view(arg++, maskType.getShape(), maskType.getElementType(), sizes);
    }
    operands.output = view(arg++, {staticB, hq, staticSq, dv}, et,
                           {batches, cst(hq), sq, cst(dv)});
    operands.lse = view(arg++, {staticB, hq, staticSq}, b.getF32Type(),
                        {batches, cst(hq), sq});
    operands.queryLength = sq;
    operands.keyLength = sk;

    // 2. The work item's state (placeholders for the register fragments of
    //    -attn-lower-tiles-to-mma) and its online softmax.
    auto state = [&](ArrayRef<int64_t> shape) -> Value {
      return memref::AllocaOp::create(b,
                                      MemRefType::get(shape, b.getF32Type()));
    };
    int64_t bm = tiles.blockM;
    TileState tileState{state({d, bm}), state({bm}), state({bm}),
                        state({dv, bm}), state({tiles.blockN, bm})};
    KeyBand band = KeyBand::build(b, b.getLoc(), op.getCausalAttr(),
                                  op.getWindowAttr(), sq, sk);
    buildTiledWorkItem(b, op, operands, band,
                       gpu::BlockIdOp::create(b, gpu::Dimension::z),
                       gpu::BlockIdOp::create(b, gpu::Dimension::y),
                       gpu::BlockIdOp::create(b, gpu::Dimension::x), tileState,
                       /*versionFullTiles=*/false);
    gpu::ReturnOp::create(b);
    return success();
  }

  void runOnOperation() override {
    ModuleOp module = getOperation();
    if (failed(checkOptions(module)))
      return signalPassFailure();
    SmallVector<func::FuncOp> funcs;
    module.walk([&](func::FuncOp f) {
      if (!f.getOps<AttentionOp>().empty())
        funcs.push_back(f);
    });
    if (funcs.empty())
      return;
    OpBuilder mb(module.getBodyRegion());
    mb.setInsertionPointToEnd(module.getBody());
    module->setAttr(gpu::GPUDialect::getContainerModuleAttrName(),
                    mb.getUnitAttr());
    auto gpuModule =
        gpu::GPUModuleOp::create(mb, module.getLoc(), "attn_kernels");
    for (func::FuncOp f : funcs) {
      auto ops = llvm::to_vector(f.getOps<AttentionOp>());
      if (ops.size() != 1) {
        ops[1].emitError() << "the GPU backend needs one attn.attention per "
                           << "function (one kernel each), got " << ops.size();
        return signalPassFailure();
      }
      if (failed(mapFunction(f, ops.front(), gpuModule)))
        return signalPassFailure();
      f.erase();
    }
  }
};

} // namespace
