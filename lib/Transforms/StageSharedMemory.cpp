//===- StageSharedMemory.cpp - Q/K/V tiles through a cp.async ring --------===//
//
// Implements -attn-stage-shared-memory: in each kernel of -attn-map-to-gpu,
// the tiles the tile ops read are copied global → shared memory ahead of
// use with 16-byte cp.async copies, and the copies become the ops' `staged`
// operands:
//
//   1. before attn.tile_init: the Q tile (its own commit group), then the
//      first `stages` − 1 key tiles of the band (K and V, one group per
//      tile); wait until the Q group is done, barrier
//   2. for each key tile kt: tile kt + stages − 1 into the buffer that
//      iteration kt − 1 released (one group per iteration, empty past the
//      band), wait until tile kt's group is done (stages − 1 may stay in
//      flight), barrier; attn.tile_update reads stage (kt − kLo) mod stages;
//      barrier (the stage is refilled by a later iteration)
//
// The layout is GpuKernelConfig's SharedLayout: rows padded by 8 halves
// (conflict-free ldmatrix), the Q tile in the K ring's last stage when its
// fragments then live in registers (a barrier after attn.tile_init releases
// it), else in its own tile.
//
//===----------------------------------------------------------------------===//

#include "attn/Transforms/GpuKernelConfig.h"
#include "attn/Transforms/Passes.h"
#include "attn/Transforms/TiledForm.h"
#include "attn/Transforms/Utils.h"

#include "mlir/Dialect/GPU/IR/GPUDialect.h"
#include "mlir/Dialect/LLVMIR/NVVMDialect.h"
#include "mlir/Dialect/NVGPU/IR/NVGPUDialect.h"
#include "mlir/IR/ImplicitLocOpBuilder.h"
#include "mlir/IR/Matchers.h"

#define DEBUG_TYPE "attn-stage-shared-memory"

namespace mlir::attn {
#define GEN_PASS_DEF_ATTNSTAGESHAREDMEMORY
#include "attn/Transforms/Passes.h.inc"
} // namespace mlir::attn

using namespace mlir;
using namespace mlir::attn;
using namespace mlir::attn::gpu_kernel;

namespace {

/// The kernel's tiled form (-attn-map-to-gpu), with the update at
/// k_begin = kt·BN of a loop of step 1 (the stage of key tile kt follows
/// from kt), or failure (reported).
FailureOr<TiledKernel> matchKeyTileLoop(gpu::GPUFuncOp kernel,
                                        int64_t &blockN) {
  FailureOr<TiledKernel> t = matchTiledKernel(kernel);
  if (failed(t))
    return failure();
  if (!t->init)
    return kernel.emitError() << "expects the tiled form of -attn-map-to-gpu "
                              << "(tile_init, a key loop, tile_finalize)";
  blockN = cast<MemRefType>(t->update.getScores().getType()).getShape()[0];
  APInt step, tile;
  if (!matchPattern(t->loop.getStep(), m_ConstantInt(&step)) || step != 1 ||
      !matchPattern(
          t->update.getKBegin(),
          m_Op<arith::MulIOp>(matchers::m_Val(t->loop.getInductionVar()),
                              m_ConstantInt(&tile))) ||
      tile != blockN)
    return t->update.emitError() << "expects k_begin = kt * " << blockN
                                 << " in a loop over key tiles kt of step 1";
  return t;
}

class Stager {
public:
  Stager(ImplicitLocOpBuilder &b, TiledKernel t, int64_t blockN, int64_t stages)
      : b(b), t(t), blockN(blockN), stages(stages),
        et(cast<MemRefType>(t.init.getQuery().getType()).getElementType()) {}

  LogicalResult stage(gpu::GPUFuncOp kernel);

private:
  Value idx(int64_t v) { return arith::ConstantIndexOp::create(b, v); }
  Value add(Value x, Value y) { return arith::AddIOp::create(b, x, y); }
  Value mul(Value x, Value y) { return arith::MulIOp::create(b, x, y); }
  Value lessThan(Value x, Value y) {
    return arith::CmpIOp::create(b, arith::CmpIPredicate::slt, x, y);
  }
  void commit() { NVVM::CpAsyncCommitGroupOp::create(b, b.getLoc()); }
  /// Waits until at most stages − 1 groups are in flight, then barrier.
  void waitAndSync() {
    NVVM::CpAsyncWaitGroupOp::create(b, b.getLoc(), stages - 1);
    gpu::BarrierOp::create(b);
  }
  Value view(Value smem, int64_t byteOffset, int64_t rows, int64_t cols) {
    auto ws = gpu::AddressSpaceAttr::get(b.getContext(),
                                         gpu::AddressSpace::Workgroup);
    return memref::ViewOp::create(
        b, MemRefType::get({rows, cols}, et, MemRefLayoutAttrInterface(), ws),
        smem, idx(byteOffset), ValueRange{});
  }

  /// smem[row0S + r][c] = global[batch, head, row0 + r, c] for r < tileRows
  /// and c < cols (the padded width), 0 outside [0, rowsValid) × [0, D);
  /// the copies read the flat view of `global`.
  void copyTile(Value global, Value batch, Value head, Value row0,
                Value rowsValid, Value smem, Value row0S, int64_t tileRows,
                int64_t cols);
  /// K and V rows of key tile `tile` into ring stage `stage`.
  void copyKeyTile(Value tile, Value stage);

  ImplicitLocOpBuilder &b;
  TiledKernel t;
  int64_t blockN, stages;
  Type et;
  int64_t dp = 0, dvp = 0; // D and Dv padded to the MMA's k granularity
  Value keyRing, valueRing, keyLength;
  llvm::DenseMap<Value, Value> flatViews; // of Q, K and V
};

void Stager::copyTile(Value global, Value batch, Value head, Value row0,
                      Value rowsValid, Value smem, Value row0S,
                      int64_t tileRows, int64_t cols) {
  int64_t rowLen = cast<MemRefType>(global.getType()).getShape()[3];
  // Row r of the tile is at base + r·rowLen of the flat buffer.
  Value base = getLinearIndex(b, b.getLoc(), global, {batch, head, row0});
  Value &flat = flatViews[global];
  if (!flat)
    flat = getFlatView(b, global);
  Value tid = gpu::ThreadIdOp::create(b, gpu::Dimension::x);
  // 16-byte copies (cp.async.cg: the tiles are read once per CTA, L2 is
  // where K/V are shared between CTAs): global addresses stay 16-byte
  // aligned (bases and rows are multiples of 8 elements); zero fill outside
  // the tile (source size 0, from a valid address). Rows of another length
  // (e.g. D = 59) go element by element.
  int64_t vec = rowLen % 8 == 0 ? 8 : 1;
  int64_t chunks = cols / vec;
  scf::ForOp::create(
      b, tid, idx(tileRows * chunks), idx(kThreads), ValueRange{},
      [&](OpBuilder &fb, Location, Value i, ValueRange) {
        OpBuilder::InsertionGuard g(b);
        b.setInsertionPoint(fb.getInsertionBlock(), fb.getInsertionPoint());
        Value r = arith::DivUIOp::create(b, i, idx(chunks));
        Value c = mul(arith::RemUIOp::create(b, i, idx(chunks)), idx(vec));
        Value valid = arith::AndIOp::create(b, lessThan(r, rowsValid),
                                            lessThan(c, idx(rowLen)));
        Value linear = add(base, add(mul(r, idx(rowLen)), c));
        Value safe = arith::SelectOp::create(b, valid, linear, idx(0));
        Value rS = add(row0S, r);
        if (vec == 8) {
          Value count = arith::SelectOp::create(b, valid, idx(8), idx(0));
          nvgpu::DeviceAsyncCopyOp::create(
              b, nvgpu::DeviceAsyncTokenType::get(b.getContext()), smem,
              ValueRange{rS, c}, flat, ValueRange{safe}, b.getIndexAttr(8),
              count, /*bypassL1=*/b.getUnitAttr());
        } else {
          auto ft = cast<FloatType>(et);
          Value zero = arith::ConstantFloatOp::create(
              b, ft, APFloat::getZero(ft.getFloatSemantics()));
          Value x = memref::LoadOp::create(b, flat, safe);
          x = arith::SelectOp::create(b, valid, x, zero);
          memref::StoreOp::create(b, x, smem, ValueRange{rS, c});
        }
        scf::YieldOp::create(b);
      });
}

void Stager::copyKeyTile(Value tile, Value stage) {
  Value k0 = mul(tile, idx(blockN));
  Value keysLeft = arith::SubIOp::create(b, keyLength, k0);
  Value row0S = mul(stage, idx(blockN));
  TileUpdateOp u = t.update;
  copyTile(u.getKey(), u.getBatch(), u.getKvHead(), k0, keysLeft, keyRing,
           row0S, blockN, dp);
  copyTile(u.getValue(), u.getBatch(), u.getKvHead(), k0, keysLeft, valueRing,
           row0S, blockN, dvp);
}

LogicalResult Stager::stage(gpu::GPUFuncOp kernel) {
  TileInitOp init = t.init;
  TileUpdateOp update = t.update;
  auto qType = cast<MemRefType>(init.getQuery().getType());
  int64_t blockM = cast<MemRefType>(init.getRowMax().getType()).getShape()[0];
  dp = roundUp(qType.getShape()[3], 16);
  dvp =
      roundUp(cast<MemRefType>(update.getValue().getType()).getShape()[3], 16);
  SharedLayout layout(et.getIntOrFloatBitWidth() / 8, dp, dvp,
                      {blockM, blockN, stages});
  auto planned =
      kernel->getAttrOfType<IntegerAttr>("attn.dynamic_shared_memory");
  if (!planned || planned.getInt() != layout.totalBytes)
    return kernel.emitError()
           << "expects attn.dynamic_shared_memory = " << layout.totalBytes
           << " (the shared-memory plan of -attn-map-to-gpu for these tiles)";

  // 1. The shared-memory buffers (GpuKernelConfig's SharedLayout).
  b.setInsertionPointToStart(&kernel.getBody().front());
  Value smem = gpu::DynamicSharedMemoryOp::create(
      b, MemRefType::get({ShapedType::kDynamic}, b.getI8Type(),
                         MemRefLayoutAttrInterface(),
                         gpu::AddressSpaceAttr::get(
                             b.getContext(), gpu::AddressSpace::Workgroup)));
  keyRing = view(smem, 0, layout.keyRingRows, layout.keyCols);
  valueRing =
      view(smem, layout.valueOffset, layout.valueRingRows, layout.valueCols);
  Value queryTile = view(smem, layout.queryOffset, blockM, layout.keyCols);

  // 2. Prologue: the Q tile, then tiles kLo .. kLo + stages − 2 of the band,
  //    one group each; the Q group is the oldest, done once at most
  //    stages − 1 groups are pending.
  b.setInsertionPoint(init);
  keyLength = memref::DimOp::create(b, update.getKey(), 2);
  Value q0 = init.getQBegin();
  Value rowsQ = arith::SubIOp::create(
      b, memref::DimOp::create(b, init.getQuery(), 2), q0);
  copyTile(init.getQuery(), init.getBatch(), init.getHead(), q0, rowsQ,
           queryTile, idx(0), blockM, dp);
  commit();
  Value kLo = t.loop.getLowerBound(), kHi = t.loop.getUpperBound();
  for (int64_t s = 0; s + 1 < stages; ++s) {
    Value tile = add(kLo, idx(s));
    buildIfThen(b, lessThan(tile, kHi), [&] { copyKeyTile(tile, idx(s)); });
    commit();
  }
  waitAndSync();
  init.getStagedQueryMutable().assign(queryTile);
  if (layout.queryInKeyRing) {
    // Q's buffer is the last stage's, refilled by the first iteration.
    b.setInsertionPointAfter(init);
    gpu::BarrierOp::create(b);
  }

  // 3. In the key loop: tile kt + stages − 1 into the stage iteration
  //    kt − 1 released, then wait for tile kt.
  b.setInsertionPointToStart(t.loop.getBody());
  Value kt = t.loop.getInductionVar();
  Value step = arith::SubIOp::create(b, kt, kLo);
  Value ahead = add(kt, idx(stages - 1));
  buildIfThen(b, lessThan(ahead, kHi), [&] {
    copyKeyTile(ahead, arith::RemUIOp::create(b, add(step, idx(stages - 1)),
                                              idx(stages)));
  });
  commit();
  waitAndSync();
  b.setInsertionPoint(update);
  Value row0 = mul(arith::RemUIOp::create(b, step, idx(stages)), idx(blockN));
  // The stage as rows [row0, row0 + blockN) of the ring: a reinterpret_cast
  // (what a subview becomes in -expand-strided-metadata, which would
  // otherwise have to run over the whole unrolled kernel).
  auto stageOf = [&](Value ring) {
    auto ringType = cast<MemRefType>(ring.getType());
    int64_t cols = ringType.getShape()[1];
    auto stageType = MemRefType::get(
        {blockN, cols}, et,
        StridedLayoutAttr::get(b.getContext(), ShapedType::kDynamic, {cols, 1}),
        ringType.getMemorySpace());
    return memref::ReinterpretCastOp::create(
        b, stageType, ring, OpFoldResult(mul(row0, idx(cols))),
        ArrayRef<OpFoldResult>{b.getIndexAttr(blockN), b.getIndexAttr(cols)},
        ArrayRef<OpFoldResult>{b.getIndexAttr(cols), b.getIndexAttr(1)});
  };
  update.getStagedKeyMutable().assign(stageOf(keyRing));
  update.getStagedValueMutable().assign(stageOf(valueRing));
  b.setInsertionPointAfter(update);
  gpu::BarrierOp::create(b);
  return success();
}

struct AttnStageSharedMemoryPass
    : mlir::attn::impl::AttnStageSharedMemoryBase<AttnStageSharedMemoryPass> {
  void runOnOperation() override {
    WalkResult result = getOperation().walk([&](gpu::GPUFuncOp kernel) {
      auto stages = kernel->getAttrOfType<IntegerAttr>("attn.stages");
      if (!stages)
        return WalkResult::advance();
      if (stages.getInt() < 1 || stages.getInt() > 4) {
        kernel.emitError() << "expects attn.stages in [1, 4], got "
                           << stages.getInt();
        return WalkResult::interrupt();
      }
      int64_t blockN = 0;
      FailureOr<TiledKernel> tiles = matchKeyTileLoop(kernel, blockN);
      if (failed(tiles))
        return WalkResult::interrupt();
      ImplicitLocOpBuilder b(kernel.getLoc(), kernel.getContext());
      Stager stager(b, *tiles, blockN, stages.getInt());
      return failed(stager.stage(kernel)) ? WalkResult::interrupt()
                                          : WalkResult::advance();
    });
    if (result.wasInterrupted())
      signalPassFailure();
  }
};

} // namespace
