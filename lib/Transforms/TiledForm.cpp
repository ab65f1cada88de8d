//===- TiledForm.cpp - one work item of the tiled online softmax ---------===//
//
// The work item shared by -attn-tile (CPU) and -attn-map-to-gpu, and the
// matcher the GPU passes use to find it again in a kernel.
//
//===----------------------------------------------------------------------===//

#include "attn/Transforms/TiledForm.h"

#include "attn/Dialect/Attn.h"

#include "mlir/IR/Matchers.h"

using namespace mlir;
using namespace mlir::attn;

void mlir::attn::buildTiledWorkItem(ImplicitLocOpBuilder &b, AttentionOp op,
                                    const TiledOperands &operands,
                                    const KeyBand &band, Value batch,
                                    Value head, Value queryTile,
                                    const TileState &state,
                                    bool versionFullTiles) {
  int64_t bm = cast<MemRefType>(state.rowMax.getType()).getShape()[0];
  int64_t bn = cast<MemRefType>(state.scores.getType()).getShape()[0];
  Value sq = operands.queryLength, sk = operands.keyLength;
  Value c1 = arith::ConstantIndexOp::create(b, 1);
  Value cBM = arith::ConstantIndexOp::create(b, bm);
  Value cBN = arith::ConstantIndexOp::create(b, bn);
  Value q0 = arith::MulIOp::create(b, queryTile, cBM);
  // Query head h reads KV head h / (Hq / Hkv): no K/V copies for GQA/MQA.
  Value hkv = arith::DivUIOp::create(
      b, head, arith::ConstantIndexOp::create(b, op.getGroupSize()));

  // 1. Key-tile range [kLo, kHi) of the band for rows [q0, qLast]: keys
  //    outside it are masked for every row.
  Value rows = arith::MinSIOp::create(b, cBM, arith::SubIOp::create(b, sq, q0));
  Value qLast =
      arith::SubIOp::create(b, arith::AddIOp::create(b, q0, rows), c1);
  auto [kLo, kHi] = band.keyTileRange(b, b.getLoc(), q0, qLast, sk, cBN);

  // 2. The Q tile and the reset state. Q is pre-scaled by the softmax
  //    scale; with a soft-cap by scale / c, and tile_update applies
  //    c·tanh(·).
  double scale = op.getEffectiveScale();
  std::optional<double> softcap = toDouble(op.getSoftcap());
  double qScale = softcap ? scale / *softcap : scale;
  TileInitOp::create(b, operands.query, batch, head, q0,
                     /*staged_query=*/Value(), state.qTile, state.rowMax,
                     state.rowSum, state.acc, b.getF64FloatAttr(qScale));

  // 3. One online-softmax step per key tile; with versioning, tiles inside
  //    Sk that the band keeps for every row skip the element predicate.
  auto update = [&](OpBuilder &ob, Location l, Value k0, bool masked) {
    TileUpdateOp::create(ob, l, state.qTile, operands.key, operands.value,
                         operands.mask, /*staged_key=*/Value(),
                         /*staged_value=*/Value(), state.scores, state.rowMax,
                         state.rowSum, state.acc, batch, head, hkv, q0, k0, sq,
                         op.getCausalAttr(), op.getWindowAttr(),
                         op.getSoftcapAttr(),
                         masked ? ob.getUnitAttr() : UnitAttr());
  };
  scf::ForOp::create(
      b, kLo, kHi, c1, ValueRange{},
      [&](OpBuilder &fb, Location l, Value kt, ValueRange) {
        ImplicitLocOpBuilder lb(l, fb);
        Value k0 = arith::MulIOp::create(lb, kt, cBN);
        if (operands.mask || !versionFullTiles) {
          update(lb, l, k0, /*masked=*/true);
          scf::YieldOp::create(lb);
          return;
        }
        Value kEndTile = arith::AddIOp::create(lb, k0, cBN);
        Value full =
            arith::CmpIOp::create(lb, arith::CmpIPredicate::sle, kEndTile, sk);
        if (band.lo)
          full = arith::AndIOp::create(
              lb, full,
              arith::CmpIOp::create(
                  lb, arith::CmpIPredicate::sge, k0,
                  arith::AddIOp::create(lb, qLast, *band.lo)));
        if (band.hi)
          full = arith::AndIOp::create(
              lb, full,
              arith::CmpIOp::create(lb, arith::CmpIPredicate::sle,
                                    arith::SubIOp::create(lb, kEndTile, c1),
                                    arith::AddIOp::create(lb, q0, *band.hi)));
        scf::IfOp::create(
            lb, full,
            [&](OpBuilder &tb, Location tl) {
              update(tb, tl, k0, /*masked=*/false);
              scf::YieldOp::create(tb, tl);
            },
            [&](OpBuilder &eb, Location el) {
              update(eb, el, k0, /*masked=*/true);
              scf::YieldOp::create(eb, el);
            });
        scf::YieldOp::create(lb);
      });

  // 4. O = acc / l and LSE for the rows of this tile.
  TileFinalizeOp::create(b, state.rowMax, state.rowSum, state.acc,
                         operands.output, operands.lse, batch, head, q0);
}

FailureOr<TiledKernel> mlir::attn::matchTiledKernel(gpu::GPUFuncOp kernel) {
  SmallVector<TileInitOp> inits;
  SmallVector<TileUpdateOp> updates;
  SmallVector<TileFinalizeOp> finals;
  kernel.walk([&](Operation *op) {
    if (auto i = dyn_cast<TileInitOp>(op))
      inits.push_back(i);
    else if (auto u = dyn_cast<TileUpdateOp>(op))
      updates.push_back(u);
    else if (auto f = dyn_cast<TileFinalizeOp>(op))
      finals.push_back(f);
  });
  if (inits.empty() && updates.empty() && finals.empty())
    return TiledKernel{};
  if (inits.size() != 1 || updates.size() != 1 || finals.size() != 1)
    return kernel.emitError()
           << "expects one attn.tile_init, attn.tile_update and "
           << "attn.tile_finalize per kernel, got " << inits.size() << ", "
           << updates.size() << " and " << finals.size();
  TiledKernel t{inits[0], dyn_cast<scf::ForOp>(updates[0]->getParentOp()),
                updates[0], finals[0]};
  Block *block = t.init->getBlock();
  if (!t.loop || t.loop.getNumRegionIterArgs() != 0 ||
      t.loop->getBlock() != block || t.finalize->getBlock() != block ||
      !t.init->isBeforeInBlock(t.loop) || !t.loop->isBeforeInBlock(t.finalize))
    return t.update.emitError()
           << "expects the update directly in an scf.for without results "
           << "between attn.tile_init and attn.tile_finalize";
  // The GPU passes address global tensors through flat row-major views
  // (getFlatView, getLinearIndex): other layouts would be read wrongly.
  for (Operation *op : {t.init.getOperation(), t.update.getOperation(),
                        t.finalize.getOperation()})
    for (Value v : op->getOperands()) {
      auto type = dyn_cast<MemRefType>(v.getType());
      if (type && !type.getMemorySpace() && !type.getLayout().isIdentity())
        return op->emitError()
               << "expects memrefs with the identity layout (contiguous, "
               << "row-major), got " << type;
    }
  if (t.update.getRowMax() != t.init.getRowMax() ||
      t.finalize.getRowMax() != t.init.getRowMax() ||
      t.update.getRowSum() != t.init.getRowSum() ||
      t.finalize.getRowSum() != t.init.getRowSum() ||
      t.update.getAcc() != t.init.getAcc() ||
      t.finalize.getAcc() != t.init.getAcc())
    return t.update.emitError()
           << "expects the tile ops to share one online-softmax state";
  return t;
}

void mlir::attn::buildIfThen(ImplicitLocOpBuilder &b, Value cond,
                             llvm::function_ref<void()> body) {
  scf::IfOp::create(b, cond, [&](OpBuilder &ib, Location) {
    OpBuilder::InsertionGuard g(b);
    b.setInsertionPoint(ib.getInsertionBlock(), ib.getInsertionPoint());
    body();
    scf::YieldOp::create(b);
  });
}

bool mlir::attn::isFullTile(Value tensor, Value row0, int64_t tileRows) {
  int64_t rows = cast<MemRefType>(tensor.getType()).getShape()[2];
  APInt step;
  return !ShapedType::isDynamic(rows) && rows % tileRows == 0 &&
         matchPattern(row0, m_Op<arith::MulIOp>(matchers::m_Any(),
                                                m_ConstantInt(&step))) &&
         step.getSExtValue() % tileRows == 0;
}
