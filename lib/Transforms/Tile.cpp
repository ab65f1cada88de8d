//===- Tile.cpp - attn.attention → tiled online-softmax form --------------===//
//
// Implements -attn-tile: every attn.attention becomes FlashAttention-2's
// tiled online softmax,
//
//   scf.forall (b, h, qt) in (B, Hq, ceil(Sq / BM)) {      // work items
//     attn.tile_init                                      // Q tile, m, l, acc
//     scf.for kt in [kLo, kHi) {                          // non-empty key tiles
//       scf.if (tile fully kept) attn.tile_update
//       else                     attn.tile_update {masked}
//     }
//     attn.tile_finalize                                  // O = acc / l, LSE
//   }
//
//===----------------------------------------------------------------------===//

#include "attn/Dialect/Masks.h"
#include "attn/Transforms/Passes.h"
#include "attn/Transforms/TiledForm.h"
#include "attn/Transforms/Utils.h"

#include "mlir/IR/ImplicitLocOpBuilder.h"
#include "mlir/IR/PatternMatch.h"
#include "mlir/Transforms/WalkPatternRewriteDriver.h"

#include <cmath>

#define DEBUG_TYPE "attn-tile"

namespace mlir::attn {
#define GEN_PASS_DEF_ATTNTILE
#include "attn/Transforms/Passes.h.inc"
} // namespace mlir::attn

using namespace mlir;
using namespace mlir::attn;

namespace {


int64_t roundUp(int64_t x, int64_t m) { return (x + m - 1) / m * m; }

Value dimOf(ImplicitLocOpBuilder &b, Value memref, int64_t i) {
  return getDimValue(b, b.getLoc(), memref, i);
}

/// Emits `cf.assert(a == b)` unless both sizes are static (the verifier has
/// then already checked them).
void assertSameSize(ImplicitLocOpBuilder &b, Value a, Value c,
                    const Twine &what) {
  if (getConstantIntValue(a) && getConstantIntValue(c))
    return;
  Value eq = arith::CmpIOp::create(b, arith::CmpIPredicate::eq, a, c);
  cf::AssertOp::create(b, eq, ("attn.attention: " + what).str());
}

/// Largest tile option accepted (tiles are staged in per-work-item scratch).
constexpr int64_t kMaxTile = 4096;

/// Query tile BM for `op`: a multiple of the vector width, no larger than
/// needed for a short static Sq (decoding).
int64_t queryTileRows(AttentionOp op, int64_t qTile, int64_t vectorWidth) {
  int64_t sq = op.getQuery().getType().getShape()[2];
  if (ShapedType::isDynamic(sq))
    return qTile;
  return std::min(qTile, std::max(vectorWidth, roundUp(sq, vectorWidth)));
}

/// Key tile BN: no larger than a static Sk (a single key tile then covers
/// the keys without padding).
int64_t keyTileColumns(AttentionOp op, int64_t kTile) {
  int64_t sk = op.getKey().getType().getShape()[2];
  if (ShapedType::isDynamic(sk))
    return kTile;
  return std::min(kTile, std::max<int64_t>(sk, 1));
}

struct TileAttention : OpRewritePattern<AttentionOp> {
  TileAttention(MLIRContext *ctx, int64_t qTile, int64_t kTile,
                int64_t vectorWidth)
      : OpRewritePattern(ctx), qTile(qTile), kTile(kTile),
        vectorWidth(vectorWidth) {}

  LogicalResult matchAndRewrite(AttentionOp op,
                                PatternRewriter &rewriter) const override {
    ImplicitLocOpBuilder b(op.getLoc(), rewriter);
    auto qType = cast<RankedTensorType>(op.getQuery().getType());
    ArrayRef<int64_t> qs = qType.getShape();
    int64_t headDim = qs[3];
    int64_t valueDim =
        cast<RankedTensorType>(op.getValue().getType()).getShape()[3];

    int64_t bm = queryTileRows(op, qTile, vectorWidth);
    int64_t bn = keyTileColumns(op, kTile);

    // Operands as buffers, results as fresh buffers. Q, K and V are read
    // through any row strides (only the head dimension must be contiguous,
    // for vector loads): a function taking BSHD or padded buffers then
    // bufferizes to a memref.cast instead of a copy into a dense buffer.
    auto toBuffer = [&](Value tensor, bool strided) -> Value {
      if (!tensor)
        return {};
      auto t = cast<RankedTensorType>(tensor.getType());
      int64_t dyn = ShapedType::kDynamic;
      MemRefLayoutAttrInterface layout;
      if (strided)
        layout =
            StridedLayoutAttr::get(b.getContext(), dyn, {dyn, dyn, dyn, 1});
      return bufferization::ToBufferOp::create(
          b, MemRefType::get(t.getShape(), t.getElementType(), layout), tensor,
          /*read_only=*/true);
    };
    Value q = toBuffer(op.getQuery(), true), k = toBuffer(op.getKey(), true),
          v = toBuffer(op.getValue(), true),
          mask = toBuffer(op.getMask(), false);

    Value batch = dimOf(b, q, 0), sq = dimOf(b, q, 2), sk = dimOf(b, k, 2);
    assertSameSize(b, batch, dimOf(b, k, 0), "key batch != query batch");
    assertSameSize(b, batch, dimOf(b, v, 0), "value batch != query batch");
    assertSameSize(b, sk, dimOf(b, v, 2), "value length != key length");
    if (mask) {
      Value full[] = {batch, dimOf(b, q, 1), sq, sk};
      static constexpr StringLiteral names[] = {"B", "Hq", "Sq", "Sk"};
      for (int64_t i = 0; i < 4; ++i) {
        Value d = dimOf(b, mask, i);
        if (getConstantIntValue(d) == 1 ||
            (getConstantIntValue(d) && getConstantIntValue(full[i])))
          continue;
        Value one = arith::ConstantIndexOp::create(b, 1);
        Value ok = arith::OrIOp::create(
            b, arith::CmpIOp::create(b, arith::CmpIPredicate::eq, d, one),
            arith::CmpIOp::create(b, arith::CmpIPredicate::eq, d, full[i]));
        cf::AssertOp::create(b, ok,
                             ("attn.attention: mask dim " + Twine(i) +
                              " must be 1 or " + names[i])
                                 .str());
      }
    }

    auto oTensorType = cast<RankedTensorType>(op.getOutput().getType());
    auto lseTensorType = cast<RankedTensorType>(op.getLse().getType());
    SmallVector<Value> dynSizes;
    if (ShapedType::isDynamic(qs[0]))
      dynSizes.push_back(batch);
    if (ShapedType::isDynamic(qs[2]))
      dynSizes.push_back(sq);
    Value o = memref::AllocOp::create(
        b,
        MemRefType::get(oTensorType.getShape(), oTensorType.getElementType()),
        dynSizes, b.getI64IntegerAttr(64));
    Value lse = memref::AllocOp::create(
        b,
        MemRefType::get(lseTensorType.getShape(),
                        lseTensorType.getElementType()),
        dynSizes, b.getI64IntegerAttr(64));

    // The causal/window band, shared by every work item.
    KeyBand band = KeyBand::build(b, b.getLoc(), op.getCausalAttr(),
                                  op.getWindowAttr(), sq, sk);

    Value cBM = arith::ConstantIndexOp::create(b, bm);
    Value numQTiles = arith::CeilDivSIOp::create(b, sq, cBM);
    Value numHeads = arith::ConstantIndexOp::create(b, qs[1]);
    TiledOperands operands{q, k, v, mask, o, lse, sq, sk};

    auto f32 = b.getF32Type();
    SmallVector<OpFoldResult> ubs = {batch, numHeads, numQTiles};
    scf::ForallOp::create(
        b, ubs, ValueRange{}, std::nullopt,
        [&](OpBuilder &nested, Location loc, ValueRange ivs) {
          // scf.forall is an automatic allocation scope: the allocas below
          // live for one work item.
          ImplicitLocOpBuilder ib(loc, nested);
          auto allocaF32 = [&](ArrayRef<int64_t> shape) -> Value {
            return memref::AllocaOp::create(ib, MemRefType::get(shape, f32),
                                            ib.getI64IntegerAttr(64));
          };
          TileState state{allocaF32({headDim, bm}), allocaF32({bm}),
                          allocaF32({bm}), allocaF32({valueDim, bm}),
                          allocaF32({bn, bm})};
          buildTiledWorkItem(ib, op, operands, band, ivs[0], ivs[1], ivs[2],
                             state, /*versionFullTiles=*/true);
          scf::InParallelOp::create(ib);
        });

    Value oTensor = bufferization::ToTensorOp::create(
        b, oTensorType, o, /*restrict=*/true, /*writable=*/true);
    Value lseTensor = bufferization::ToTensorOp::create(
        b, lseTensorType, lse, /*restrict=*/true, /*writable=*/true);
    rewriter.replaceOp(op, {oTensor, lseTensor});
    return success();
  }

  int64_t qTile, kTile, vectorWidth;
};

} // namespace

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
  Value rows =
      arith::MinSIOp::create(b, cBM, arith::SubIOp::create(b, sq, q0));
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
        Value full = arith::CmpIOp::create(lb, arith::CmpIPredicate::sle,
                                           kEndTile, sk);
        if (band.lo)
          full = arith::AndIOp::create(
              lb, full,
              arith::CmpIOp::create(
                  lb, arith::CmpIPredicate::sge, k0,
                  arith::AddIOp::create(lb, qLast, *band.lo)));
        if (band.hi)
          full = arith::AndIOp::create(
              lb, full,
              arith::CmpIOp::create(
                  lb, arith::CmpIPredicate::sle,
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
      !t.init->isBeforeInBlock(t.loop) ||
      !t.loop->isBeforeInBlock(t.finalize))
    return t.update.emitError()
           << "expects the update directly in an scf.for without results "
           << "between attn.tile_init and attn.tile_finalize";
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

namespace {

struct AttnTilePass : mlir::attn::impl::AttnTileBase<AttnTilePass> {
  using AttnTileBase::AttnTileBase;

  void runOnOperation() override {
    if (vectorWidth <= 0 || qTile <= 0 || qTile % vectorWidth != 0 ||
        qTile > kMaxTile || kTile <= 0 || kTile > kMaxTile) {
      getOperation()->emitError()
          << "attn-tile: q-tile (" << qTile.getValue()
          << ") must be a positive multiple of vector-width ("
          << vectorWidth.getValue() << ") and k-tile (" << kTile.getValue()
          << ") positive, both at most " << kMaxTile;
      return signalPassFailure();
    }
    RewritePatternSet patterns(&getContext());
    patterns.add<TileAttention>(&getContext(), qTile, kTile, vectorWidth);
    walkAndApplyPatterns(getOperation(), std::move(patterns));
  }
};

} // namespace
