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

/// The most 16-byte copies of one tile a thread issues unrolled; larger
/// tiles are copied by a loop (see Stager::copyTile).
constexpr int64_t kMaxUnrolledCopies = 8;

/// The row length (head dim) of a [B, H, S, D] Q/K/V memref.
int64_t rowLength(Value tensor) {
  return cast<MemRefType>(tensor.getType()).getShape()[3];
}

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

  /// A global tensor and the shared-memory buffer its tile goes to.
  struct TileCopy {
    Value global, smem;
  };
  /// For each copy: smem[row0S + r][c] = global[batch, head, row0 + r, c]
  /// for r < tileRows and c < cols (the padded width), 0 outside
  /// [0, rowsValid) × [0, D) (a null rowsValid: every row of the tile is
  /// in range); the copies read the flat view of `global`.
  /// The tensors have one row length; their rows are copied in turn (K and
  /// V share every index computation and none stays live for long).
  void copyTile(ArrayRef<TileCopy> copies, Value batch, Value head, Value row0,
                Value rowsValid, Value row0S, int64_t tileRows, int64_t cols);
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

void Stager::copyTile(ArrayRef<TileCopy> copies, Value batch, Value head,
                      Value row0, Value rowsValid, Value row0S,
                      int64_t tileRows, int64_t cols) {
  int64_t rowLen = rowLength(copies[0].global);
  assert(llvm::all_of(copies,
                      [&](const TileCopy &copy) {
                        return rowLength(copy.global) == rowLen;
                      }) &&
         "the tiles copied together have one row length");
  // Row r of a tile is at base + r·rowLen of the tensor's flat buffer.
  struct Source {
    Value flat, base;
  };
  SmallVector<Source> sources;
  for (const TileCopy &copy : copies) {
    Value &flat = flatViews[copy.global];
    if (!flat)
      flat = getFlatView(b, copy.global);
    sources.push_back({flat, getLinearIndex(b, b.getLoc(), copy.global,
                                            {batch, head, row0})});
  }
  Value tid = gpu::ThreadIdOp::create(b, gpu::Dimension::x);
  // 16-byte copies (cp.async.cg: the tiles are read once per CTA, L2 is
  // where K/V are shared between CTAs): global addresses stay 16-byte
  // aligned (bases and rows are multiples of 8 elements); zero fill outside
  // the tile (source size 0, from a valid address: the thread's first
  // element of the tile or element 0). Rows of another length (e.g.
  // D = 59) go element by element.
  int64_t vec = rowLen % 8 == 0 ? 8 : 1;
  int64_t chunks = cols / vec;
  auto asyncCopy = [&](Value smem, ValueRange dst, Value flat, Value src,
                       Value valid) {
    nvgpu::DeviceAsyncCopyOp::create(
        b, nvgpu::DeviceAsyncTokenType::get(b.getContext()), smem, dst, flat,
        ValueRange{src}, b.getIndexAttr(8),
        valid ? arith::SelectOp::create(b, valid, idx(8), idx(0)) : Value(),
        /*bypassL1=*/b.getUnitAttr());
  };
  int64_t rowsPerPass = kThreads / chunks;
  if (vec == 8 && kThreads % chunks == 0 && tileRows % rowsPerPass == 0 &&
      tileRows / rowsPerPass <= kMaxUnrolledCopies) {
    // Unrolled: thread tid copies chunk c = tid mod chunks of rows
    // r0 + j·rowsPerPass (r0 = tid / chunks), valid iff j·rowsPerPass <
    // rowsLeft = rowsValid − r0 (0 when c ≥ rowLen): per copy a compare
    // with a constant and a select of a constant offset, neither in full
    // tiles, where the offset is an immediate of the address (a 64-bit
    // offset selected and added to each base took ~7 SASS instructions per
    // copy). (A loop from tid in steps of kThreads hides its trip count
    // from ptxas, which unrolls it by 4 with a remainder: ~18 instructions
    // per copy instead of 6-10, and a third of ptxas' time at D = 64.) At
    // most kMaxUnrolledCopies per thread: the 16 of a 64 × 256 or
    // 128 × 128 Q tile made ptxas spill the D = 128, block-m = 128 kernels
    // and gave larger code than the loop.
    Value r0 = arith::DivUIOp::create(b, tid, idx(chunks));
    Value c = mul(arith::RemUIOp::create(b, tid, idx(chunks)), idx(vec));
    Value rowsLeft =
        rowsValid ? arith::SubIOp::create(b, rowsValid, r0) : Value();
    if (cols > rowLen)
      rowsLeft =
          arith::SelectOp::create(b, lessThan(c, idx(rowLen)),
                                  rowsLeft ? rowsLeft : idx(tileRows), idx(0));
    Value offset0 = add(mul(r0, idx(rowLen)), c);
    Value rS0 = add(row0S, r0);
    int64_t copiesPerThread = tileRows / rowsPerPass;
    // Each tensor as the flat run of its elements this thread reads, from
    // chunk 0 on (element 0 of the tensor when no chunk is valid): copy j
    // reads it at j·rowsPerPass·rowLen, a constant the address takes as
    // an immediate, or at 0 (a valid address) when it copies nothing.
    Value anyValid = rowsLeft ? lessThan(idx(0), rowsLeft) : Value();
    SmallVector<Value> threadViews;
    for (const Source &source : sources) {
      Value first = add(source.base, offset0);
      if (anyValid)
        first = arith::SelectOp::create(b, anyValid, first, idx(0));
      auto flatType = cast<MemRefType>(source.flat.getType());
      threadViews.push_back(memref::ReinterpretCastOp::create(
          b,
          MemRefType::get(
              {ShapedType::kDynamic}, et,
              StridedLayoutAttr::get(b.getContext(), ShapedType::kDynamic, {1}),
              flatType.getMemorySpace()),
          source.flat, OpFoldResult(first),
          ArrayRef<OpFoldResult>{b.getIndexAttr(
              (copiesPerThread - 1) * rowsPerPass * rowLen + vec)},
          ArrayRef<OpFoldResult>{b.getIndexAttr(1)}));
    }
    for (int64_t j = 0; j < copiesPerThread; ++j) {
      Value src = idx(j * rowsPerPass * rowLen), valid = anyValid;
      if (rowsLeft && j > 0) {
        valid = lessThan(idx(j * rowsPerPass), rowsLeft);
        src = arith::SelectOp::create(b, valid, src, idx(0));
      }
      Value rS = add(rS0, idx(j * rowsPerPass));
      for (auto [copy, threadView] : llvm::zip_equal(copies, threadViews))
        asyncCopy(copy.smem, {rS, c}, threadView, src, valid);
    }
    return;
  }
  scf::ForOp::create(
      b, tid, idx(tileRows * chunks), idx(kThreads), ValueRange{},
      [&](OpBuilder &fb, Location, Value i, ValueRange) {
        OpBuilder::InsertionGuard g(b);
        b.setInsertionPoint(fb.getInsertionBlock(), fb.getInsertionPoint());
        Value r = arith::DivUIOp::create(b, i, idx(chunks));
        Value c = mul(arith::RemUIOp::create(b, i, idx(chunks)), idx(vec));
        // Valid: inside the rows and the row length (null: always).
        Value valid = cols > rowLen ? lessThan(c, idx(rowLen)) : Value();
        if (rowsValid)
          valid = valid
                      ? arith::AndIOp::create(b, lessThan(r, rowsValid), valid)
                      : lessThan(r, rowsValid);
        Value offset = add(mul(r, idx(rowLen)), c);
        Value rS = add(row0S, r);
        for (auto [copy, source] : llvm::zip_equal(copies, sources)) {
          Value src = add(source.base, offset);
          if (valid)
            src = arith::SelectOp::create(b, valid, src, idx(0));
          if (vec == 8) {
            asyncCopy(copy.smem, {rS, c}, source.flat, src, valid);
            continue;
          }
          Value x = memref::LoadOp::create(b, source.flat, src);
          if (valid) {
            auto ft = cast<FloatType>(et);
            Value zero = arith::ConstantFloatOp::create(
                b, ft, APFloat::getZero(ft.getFloatSemantics()));
            x = arith::SelectOp::create(b, valid, x, zero);
          }
          memref::StoreOp::create(b, x, copy.smem, ValueRange{rS, c});
        }
        scf::YieldOp::create(b);
      });
}

void Stager::copyKeyTile(Value tile, Value stage) {
  Value k0 = mul(tile, idx(blockN));
  Value keysLeft = isFullTile(t.update.getKey(), k0, blockN)
                       ? Value()
                       : arith::SubIOp::create(b, keyLength, k0);
  Value row0S = mul(stage, idx(blockN));
  TileUpdateOp u = t.update;
  TileCopy key{u.getKey(), keyRing}, value{u.getValue(), valueRing};
  auto copy = [&](ArrayRef<TileCopy> copies, int64_t cols) {
    copyTile(copies, u.getBatch(), u.getKvHead(), k0, keysLeft, row0S, blockN,
             cols);
  };
  // The same row length means the same padded width (dp = dvp).
  if (rowLength(key.global) == rowLength(value.global))
    return copy({key, value}, dp);
  copy(key, dp);
  copy(value, dvp);
}

LogicalResult Stager::stage(gpu::GPUFuncOp kernel) {
  TileInitOp init = t.init;
  TileUpdateOp update = t.update;
  auto qType = cast<MemRefType>(init.getQuery().getType());
  int64_t blockM = cast<MemRefType>(init.getRowMax().getType()).getShape()[0];
  dp = roundUp(qType.getShape()[3], 16);
  dvp = roundUp(rowLength(update.getValue()), 16);
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
  Value rowsQ = isFullTile(init.getQuery(), q0, blockM)
                    ? Value()
                    : arith::SubIOp::create(
                          b, memref::DimOp::create(b, init.getQuery(), 2), q0);
  copyTile(TileCopy{init.getQuery(), queryTile}, init.getBatch(),
           init.getHead(), q0, rowsQ, idx(0), blockM, dp);
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
  // The stage of step s, s mod stages, computed in 32 bits (s counts key
  // tiles, far below 2^32). The 64-bit urem is what LLVM's SCEV rewrites as
  // s − stages·(s / stages); loop strength reduction then makes the stage's
  // shared-memory addresses induction variables of their own (with 3
  // stages at D = 64: 33 64-bit values updated per iteration, +6% SASS).
  auto stageIndex = [&](Value s) {
    Type i32 = b.getI32Type();
    Value s32 = arith::IndexCastUIOp::create(b, i32, s);
    return arith::IndexCastUIOp::create(
        b, b.getIndexType(),
        arith::RemUIOp::create(b, s32,
                               arith::ConstantIntOp::create(b, i32, stages)));
  };
  Value ahead = add(kt, idx(stages - 1));
  buildIfThen(b, lessThan(ahead, kHi), [&] {
    copyKeyTile(ahead, stageIndex(add(step, idx(stages - 1))));
  });
  commit();
  waitAndSync();
  b.setInsertionPoint(update);
  Value row0 = mul(stageIndex(step), idx(blockN));
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
