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
