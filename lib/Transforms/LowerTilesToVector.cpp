//===- LowerTilesToVector.cpp - attn.tile_* → scf/vector for the CPU ------===//
//
// Implements -attn-lower-tiles-to-vector. Every tile op becomes explicit
// loops over vector<W x f32> registers. The layout is chosen so that the two
// matmuls of a key tile are register-blocked outer products that read K and
// V in place (one broadcast element times a vector of W queries):
//
//   Sᵀ[j][r]   += K[j][d] · q_tile[d][r]       (scores, keys × queries)
//   accᵀ[e][r] += V[j][e] · P[j][r]            (output, Dv × queries)
//
// and the online softmax reduces over keys, i.e. across vectors, so row
// max/sum are element-wise.
//
//===----------------------------------------------------------------------===//

#include "attn/Dialect/Masks.h"
#include "attn/Transforms/Passes.h"
#include "attn/Transforms/Utils.h"

#include "mlir/Dialect/Arith/Transforms/Passes.h"
#include "mlir/Dialect/Math/Transforms/Passes.h"
#include "mlir/IR/ImplicitLocOpBuilder.h"
#include "mlir/IR/PatternMatch.h"
#include "mlir/Transforms/GreedyPatternRewriteDriver.h"
#include "llvm/ADT/SetVector.h"
#include "llvm/Support/MathExtras.h"

#include <cmath>
#include <limits>

#define DEBUG_TYPE "attn-lower-tiles-to-vector"

namespace mlir::attn {
#define GEN_PASS_DEF_ATTNLOWERTILESTOVECTOR
#include "attn/Transforms/Passes.h.inc"
} // namespace mlir::attn

using namespace mlir;
using namespace mlir::attn;

namespace {


/// Per-work-item scratch limit: work items run on OpenMP worker threads,
/// whose stacks are a few MiB.
constexpr int64_t kMaxScratchBytes = 2 << 20;

/// Registers available for accumulators in one register block (of 32 zmm
/// registers, leave room for the loaded operand vectors and a broadcast).
constexpr int64_t kAccumulatorRegisters = 24;

/// Emits vector code for one tile op at the builder's insertion point.
class TileEmitter {
public:
  TileEmitter(ImplicitLocOpBuilder &b, int64_t width)
      : b(b), width(width), vecType(VectorType::get({width}, b.getF32Type())) {}

  Value idx(int64_t v) { return arith::ConstantIndexOp::create(b, v); }
  Value f32(double v) {
    return arith::ConstantFloatOp::create(b, b.getF32Type(),
                                          APFloat(static_cast<float>(v)));
  }
  Value splat(double v) {
    return arith::ConstantOp::create(
        b, DenseElementsAttr::get(vecType, b.getF32FloatAttr(v)));
  }
  Value negInf() { return splat(-std::numeric_limits<double>::infinity()); }
  Value dim(Value memref, int64_t i) {
    return getDimValue(b, b.getLoc(), memref, i);
  }
  Value add(Value x, Value y) { return arith::AddIOp::create(b, x, y); }
  Value sub(Value x, Value y) { return arith::SubIOp::create(b, x, y); }
  Value minIdx(Value x, Value y) { return arith::MinSIOp::create(b, x, y); }

  /// Loads one element of `memref` and extends it to f32.
  Value loadF32(Value memref, ValueRange indices) {
    Value x = memref::LoadOp::create(b, memref, indices);
    if (!x.getType().isF32())
      x = arith::ExtFOp::create(b, b.getF32Type(), x);
    return x;
  }
  Value loadVec(Value memref, ValueRange indices) {
    return vector::LoadOp::create(b, vecType, memref, indices);
  }
  void storeVec(Value v, Value memref, ValueRange indices) {
    vector::StoreOp::create(b, v, memref, indices);
  }
  Value broadcast(Value scalar) {
    return vector::BroadcastOp::create(b, vecType, scalar);
  }

  /// exp2 of a vector of f32 (LLVM has no vector exp2 instruction on x86 and
  /// would call libm once per lane):
  ///   1. x' = clamp(x, −126, 127)
  ///   2. n = floor(x' + ½), f = x' − n ∈ [−½, ½]
  ///   3. 2^f = Σ_{k≤7} (f·ln2)^k / k!  (Horner; truncation < 1e-8)
  ///   4. 2^n from the exponent bits: bitcast((n + 127) << 23)
  ///   5. exp2(x) = 2^f · 2^n, and exactly 0 for x < −126 (masked keys are
  ///      −inf and must contribute nothing).
  Value exp2(Value x) {
    Value xc = arith::MinimumFOp::create(
        b, arith::MaximumFOp::create(b, x, splat(-126.0)), splat(127.0));
    Value n = math::FloorOp::create(b, arith::AddFOp::create(b, xc, splat(0.5)));
    Value f = arith::MulFOp::create(b, arith::SubFOp::create(b, xc, n),
                                    splat(kLn2));
    Value p = splat(1.0 / 5040.0);
    for (double c : {1.0 / 720.0, 1.0 / 120.0, 1.0 / 24.0, 1.0 / 6.0, 0.5, 1.0,
                     1.0})
      p = math::FmaOp::create(b, p, f, splat(c));
    auto i32Vec = VectorType::get({width}, b.getI32Type());
    Value ni = arith::FPToSIOp::create(b, i32Vec, n);
    Value bits = arith::ShLIOp::create(
        b,
        arith::AddIOp::create(
            b, ni,
            arith::ConstantOp::create(
                b, DenseElementsAttr::get(i32Vec, b.getI32IntegerAttr(127)))),
        arith::ConstantOp::create(
            b, DenseElementsAttr::get(i32Vec, b.getI32IntegerAttr(23))));
    Value scale = arith::BitcastOp::create(b, vecType, bits);
    Value r = arith::MulFOp::create(b, p, scale);
    Value tiny = arith::CmpFOp::create(b, arith::CmpFPredicate::OLT, x,
                                       splat(-126.0));
    return arith::SelectOp::create(b, tiny, splat(0.0), r);
  }

  /// Calls `body(start, rows)` over [0, total) in register blocks of `block`
  /// rows: a loop over the full blocks and one statically sized remainder.
  void forEachBlock(int64_t total, int64_t block,
                    llvm::function_ref<void(Value, int64_t)> body) {
    int64_t full = total / block * block;
    if (full > 0) {
      scf::ForOp::create(b, idx(0), idx(full), idx(block), ValueRange{},
                         [&](OpBuilder &fb, Location l, Value iv, ValueRange) {
                           OpBuilder::InsertionGuard g(b);
                           b.setInsertionPoint(fb.getInsertionBlock(),
                                               fb.getInsertionPoint());
                           body(iv, block);
                           scf::YieldOp::create(b);
                         });
    }
    if (total > full)
      body(idx(full), total - full);
  }

  /// A loop `for iv in [lb, ub)` carrying `init`; `body` returns the new
  /// carried values.
  ValueRange loop(Value lb, Value ub, ValueRange init,
                  llvm::function_ref<SmallVector<Value>(Value, ValueRange)>
                      body) {
    auto forOp = scf::ForOp::create(
        b, lb, ub, idx(1), init,
        [&](OpBuilder &fb, Location l, Value iv, ValueRange carried) {
          OpBuilder::InsertionGuard g(b);
          b.setInsertionPoint(fb.getInsertionBlock(), fb.getInsertionPoint());
          SmallVector<Value> next = body(iv, carried);
          scf::YieldOp::create(b, next);
        });
    return forOp.getResults();
  }

  ImplicitLocOpBuilder &b;
  int64_t width;
  VectorType vecType;
};

int64_t dimSize(Value memref, int64_t i) {
  return cast<MemRefType>(memref.getType()).getShape()[i];
}

//===----------------------------------------------------------------------===//
// attn.tile_init
//===----------------------------------------------------------------------===//

void lowerInit(TileInitOp op, TileEmitter &e) {
  ImplicitLocOpBuilder &b = e.b;
  Value q = op.getQuery();
  int64_t headDim = dimSize(op.getQTile(), 0), bm = dimSize(op.getQTile(), 1);
  int64_t valueDim = dimSize(op.getAcc(), 0);
  Value sq = e.dim(q, 2);
  Value rows = e.minIdx(e.idx(bm), e.sub(sq, op.getQBegin()));
  Value lastRow = e.sub(sq, e.idx(1));
  Value qScale = e.f32(op.getQScale().convertToDouble());
  Value zero = e.f32(0.0);

  // 1. q_tile[d][r] = q_scale · Q[b, h, q0 + r, d], 0 for rows past Sq.
  e.loop(e.idx(0), e.idx(bm), {}, [&](Value r, ValueRange) {
    Value valid =
        arith::CmpIOp::create(b, arith::CmpIPredicate::slt, r, rows);
    Value row = e.minIdx(e.add(op.getQBegin(), r), lastRow);
    e.loop(e.idx(0), e.idx(headDim), {}, [&](Value d, ValueRange) {
      Value x = e.loadF32(q, {op.getBatch(), op.getHead(), row, d});
      x = arith::MulFOp::create(b, x, qScale);
      x = arith::SelectOp::create(b, valid, x, zero);
      memref::StoreOp::create(b, x, op.getQTile(), ValueRange{d, r});
      return SmallVector<Value>{};
    });
    return SmallVector<Value>{};
  });
  // 2. m = −inf, l = 0, acc = 0.
  for (int64_t c = 0; c < bm; c += e.width) {
    e.storeVec(e.negInf(), op.getRowMax(), {e.idx(c)});
    e.storeVec(e.splat(0.0), op.getRowSum(), {e.idx(c)});
  }
  e.loop(e.idx(0), e.idx(valueDim), {}, [&](Value d, ValueRange) {
    for (int64_t c = 0; c < bm; c += e.width)
      e.storeVec(e.splat(0.0), op.getAcc(), {d, e.idx(c)});
    return SmallVector<Value>{};
  });
}

//===----------------------------------------------------------------------===//
// attn.tile_update
//===----------------------------------------------------------------------===//

/// f32 scratch buffers of the tile updates, allocated once at the start of
/// their automatic allocation scope (the work item) rather than inside the
/// key-tile loop, and shared by the updates of one scope; `role` tells
/// buffers of the same shape apart (keys, values).
class StagingBuffers {
public:
  enum Role { Keys, Values };
  Value get(Operation *user, Role role, ArrayRef<int64_t> shape) {
    Operation *scope =
        user->getParentWithTrait<OpTrait::AutomaticAllocationScope>();
    Value &buffer = buffers[{scope, role, shape[0], shape[1]}];
    if (!buffer) {
      OpBuilder b(user->getContext());
      b.setInsertionPointToStart(&scope->getRegion(0).front());
      buffer = memref::AllocaOp::create(
          b, user->getLoc(), MemRefType::get(shape, b.getF32Type()),
          b.getI64IntegerAttr(64));
    }
    return buffer;
  }

private:
  llvm::DenseMap<std::tuple<Operation *, int, int64_t, int64_t>, Value>
      buffers;
};

class UpdateLowering {
public:
  UpdateLowering(TileUpdateOp op, TileEmitter &e, StagingBuffers &staging)
      : op(op), e(e), b(e.b), staging(staging) {
    headDim = dimSize(op.getQTile(), 0);
    bm = dimSize(op.getQTile(), 1);
    bn = dimSize(op.getScores(), 0);
    valueDim = dimSize(op.getAcc(), 0);
    cols = bm / e.width;
    blockRows = std::max<int64_t>(1, kAccumulatorRegisters / cols);
    sq = op.getQueryLength();
    sk = e.dim(op.getKey(), 2);
    lastKey = e.sub(sk, e.idx(1));
  }

  void run() {
    stageKeysAndValues();
    emitScores();
    if (op.getMask() && op.getMasked())
      emitMaskOperand();
    emitSoftmaxAndAccumulate();
  }

private:
  /// Index of key `k0 + j`, clamped into [0, Sk) so that padding keys of a
  /// tail tile read valid memory (their scores are masked to −inf).
  Value keyIndex(Value j) { return e.minIdx(e.add(op.getKBegin(), j), lastKey); }

  /// 0. For 16-bit storage types, convert the tile's K and V rows once into
  ///    f32 staging buffers ([BN, D] and [BN, Dv]) with vector loads, so that
  ///    the inner loops broadcast f32 values instead of converting an
  ///    element at every use. f32 tiles are read in place.
  void stageKeysAndValues() {
    if (cast<MemRefType>(op.getKey().getType()).getElementType().isF32())
      return;
    keyStage = staging.get(op, StagingBuffers::Keys, {bn, headDim});
    valueStage = staging.get(op, StagingBuffers::Values, {bn, valueDim});
    for (auto [src, dst, depth] :
         {std::tuple<Value, Value, int64_t>{op.getKey(), keyStage, headDim},
          {op.getValue(), valueStage, valueDim}}) {
      Type srcType = cast<MemRefType>(src.getType()).getElementType();
      auto srcVec = VectorType::get({e.width}, srcType);
      auto srcScalar = [&](double v) {
        return arith::ConstantOp::create(
            b, DenseElementsAttr::get(srcVec, b.getFloatAttr(srcType, v)));
      };
      e.loop(e.idx(0), e.idx(bn), {}, [&](Value j, ValueRange) {
        Value key = keyIndex(j);
        for (int64_t d = 0; d < depth; d += e.width) {
          SmallVector<Value> at = {op.getBatch(), op.getKvHead(), key,
                                   e.idx(d)};
          if (d + e.width <= depth) {
            Value x = vector::LoadOp::create(b, srcVec, src, at);
            e.storeVec(arith::ExtFOp::create(b, e.vecType, x), dst,
                       {j, e.idx(d)});
            continue;
          }
          // The row's tail: masked lanes are neither read nor written.
          Value mask = vector::ConstantMaskOp::create(
              b, VectorType::get({e.width}, b.getI1Type()),
              b.getDenseI64ArrayAttr({depth - d}));
          Value x = vector::MaskedLoadOp::create(b, srcVec, src, at, mask,
                                                 srcScalar(0.0));
          vector::MaskedStoreOp::create(
              b, dst, ValueRange{j, e.idx(d)}, mask,
              arith::ExtFOp::create(b, e.vecType, x));
        }
        return SmallVector<Value>{};
      });
    }
  }

  /// Element d of key `k0 + j` (`key` = its clamped index) as f32.
  Value keyElement(Value j, Value key, Value d) {
    if (keyStage)
      return memref::LoadOp::create(b, keyStage, ValueRange{j, d});
    return e.loadF32(op.getKey(), {op.getBatch(), op.getKvHead(), key, d});
  }

  /// Element `d` of value `k0 + j` as f32.
  Value valueElement(Value j, Value key, Value d) {
    if (valueStage)
      return memref::LoadOp::create(b, valueStage, ValueRange{j, d});
    return e.loadF32(op.getValue(), {op.getBatch(), op.getKvHead(), key, d});
  }

  /// Query positions q0 + c·W + [0, W) of vector `c`, as i32 lanes.
  Value queryLanes(int64_t c) {
    auto i32Vec = VectorType::get({e.width}, b.getI32Type());
    SmallVector<int32_t> iota(e.width);
    for (int64_t i = 0; i < e.width; ++i)
      iota[i] = static_cast<int32_t>(c * e.width + i);
    Value base = arith::IndexCastOp::create(b, b.getI32Type(), op.getQBegin());
    return arith::AddIOp::create(
        b, vector::BroadcastOp::create(b, i32Vec, base),
        arith::ConstantOp::create(b, DenseElementsAttr::get(
                                         i32Vec, ArrayRef<int32_t>(iota))));
  }

  /// 1. Sᵀ = K_tile · q_tile, then (2.) the soft-cap and (3.) the band and
  ///    tail predicates of masked tiles, applied while Sᵀ is in registers.
  void emitScores() {
    std::optional<KeyBand> band;
    SmallVector<Value> lanes;
    if (op.getMasked()) {
      band = KeyBand::build(b, b.getLoc(), op.getCausalAttr(),
                            op.getWindowAttr(), sq, sk);
      for (int64_t c = 0; c < cols; ++c)
        lanes.push_back(queryLanes(c));
    }
    std::optional<double> softcap = toDouble(op.getSoftcap());

    e.forEachBlock(bn, blockRows, [&](Value j0, int64_t rows) {
      SmallVector<Value> rowsInTile, keys;
      for (int64_t r = 0; r < rows; ++r) {
        rowsInTile.push_back(e.add(j0, e.idx(r)));
        keys.push_back(keyIndex(rowsInTile.back()));
      }
      SmallVector<Value> init(rows * cols, e.splat(0.0));
      ValueRange accs =
          e.loop(e.idx(0), e.idx(headDim), init, [&](Value d, ValueRange acc) {
            SmallVector<Value> qv, next;
            for (int64_t c = 0; c < cols; ++c)
              qv.push_back(e.loadVec(op.getQTile(), {d, e.idx(c * e.width)}));
            for (int64_t r = 0; r < rows; ++r) {
              Value kv = e.broadcast(keyElement(rowsInTile[r], keys[r], d));
              for (int64_t c = 0; c < cols; ++c)
                next.push_back(vector::FMAOp::create(b, kv, qv[c],
                                                     acc[r * cols + c]));
            }
            return next;
          });
      for (int64_t r = 0; r < rows; ++r) {
        Value j = e.add(j0, e.idx(r));
        Value kj = e.add(op.getKBegin(), j);
        for (int64_t c = 0; c < cols; ++c) {
          Value s = accs[r * cols + c];
          // 2. s = c·tanh(s), Q having been scaled by scale / c.
          if (softcap)
            s = arith::MulFOp::create(b, math::TanhOp::create(b, s),
                                      e.splat(*softcap));
          if (band)
            s = applyBand(s, kj, *band, lanes[c]);
          e.storeVec(s, op.getScores(), {j, e.idx(c * e.width)});
        }
      }
    });
  }

  /// 3. Keys past Sk and keys outside the band of query i become −inf.
  Value applyBand(Value s, Value kj, const KeyBand &band, Value lanes) {
    auto i32 = b.getI32Type();
    auto i32Vec = VectorType::get({e.width}, i32);
    auto toLanes = [&](Value v) {
      return vector::BroadcastOp::create(
          b, i32Vec, arith::IndexCastOp::create(b, i32, v));
    };
    Value inRange = arith::CmpIOp::create(b, arith::CmpIPredicate::slt, kj, sk);
    Value keep = vector::BroadcastOp::create(
        b, VectorType::get({e.width}, b.getI1Type()), inRange);
    // Kept iff i + lo ≤ j ≤ i + hi, i.e. j − hi ≤ i ≤ j − lo.
    if (band.hi)
      keep = arith::AndIOp::create(
          b, keep,
          arith::CmpIOp::create(b, arith::CmpIPredicate::sge, lanes,
                                toLanes(e.sub(kj, *band.hi))));
    if (band.lo)
      keep = arith::AndIOp::create(
          b, keep,
          arith::CmpIOp::create(b, arith::CmpIPredicate::sle, lanes,
                                toLanes(e.sub(kj, *band.lo))));
    return arith::SelectOp::create(b, keep, s, e.negInf());
  }

  /// 3'. The mask operand (broadcast over its size-1 dims): an i1 mask
  ///     removes keys, a float mask adds its bias.
  void emitMaskOperand() {
    Value mask = op.getMask();
    bool isKeep = cast<MemRefType>(mask.getType()).getElementType().isInteger(1);
    Value lastQuery = e.sub(sq, e.idx(1));
    auto broadcastIndex = [&](int64_t dimIdx, Value i) -> Value {
      int64_t d = dimSize(mask, dimIdx);
      if (d == 1)
        return e.idx(0);
      if (!ShapedType::isDynamic(d))
        return i;
      Value isOne = arith::CmpIOp::create(b, arith::CmpIPredicate::eq,
                                          e.dim(mask, dimIdx), e.idx(1));
      return arith::SelectOp::create(b, isOne, e.idx(0), i);
    };
    Value mb = broadcastIndex(0, op.getBatch());
    Value mh = broadcastIndex(1, op.getHead());
    Value negInf = e.f32(-std::numeric_limits<double>::infinity());
    e.loop(e.idx(0), e.idx(bm), {}, [&](Value r, ValueRange) {
      Value mq = broadcastIndex(2, e.minIdx(e.add(op.getQBegin(), r), lastQuery));
      e.loop(e.idx(0), e.idx(bn), {}, [&](Value j, ValueRange) {
        Value mk = broadcastIndex(3, keyIndex(j));
        Value s = memref::LoadOp::create(b, op.getScores(), ValueRange{j, r});
        Value m = memref::LoadOp::create(b, mask, ValueRange{mb, mh, mq, mk});
        if (isKeep) {
          s = arith::SelectOp::create(b, m, s, negInf);
        } else {
          if (!m.getType().isF32())
            m = arith::ExtFOp::create(b, b.getF32Type(), m);
          s = arith::AddFOp::create(b, s, m);
        }
        memref::StoreOp::create(b, s, op.getScores(), ValueRange{j, r});
        return SmallVector<Value>{};
      });
      return SmallVector<Value>{};
    });
  }

  /// 4.–6. The online-softmax update and acc += Vᵀ·P.
  void emitSoftmaxAndAccumulate() {
    SmallVector<Value> mOld, lOld;
    for (int64_t c = 0; c < cols; ++c) {
      mOld.push_back(e.loadVec(op.getRowMax(), {e.idx(c * e.width)}));
      lOld.push_back(e.loadVec(op.getRowSum(), {e.idx(c * e.width)}));
    }
    // 4. m' = max(m, rowmax(S)).
    ValueRange mNew = e.loop(e.idx(0), e.idx(bn), mOld, [&](Value j, ValueRange m) {
      SmallVector<Value> next;
      for (int64_t c = 0; c < cols; ++c)
        next.push_back(arith::MaximumFOp::create(
            b, m[c], e.loadVec(op.getScores(), {j, e.idx(c * e.width)})));
      return next;
    });
    // A row with only −inf scores keeps m' = −inf; subtract 0 instead so
    // that exp2 sees −inf (→ 0) rather than −inf − (−inf) (→ NaN).
    SmallVector<Value> mUse, alpha;
    for (int64_t c = 0; c < cols; ++c) {
      Value isNegInf = arith::CmpFOp::create(b, arith::CmpFPredicate::OEQ,
                                             mNew[c], e.negInf());
      mUse.push_back(arith::SelectOp::create(b, isNegInf, e.splat(0.0), mNew[c]));
      // α = exp2((m − m')·log2(e)).
      alpha.push_back(e.exp2(arith::MulFOp::create(
          b, arith::SubFOp::create(b, mOld[c], mUse[c]), e.splat(kLog2e))));
    }
    // 5. P = exp2((S − m')·log2(e)), stored over S; l = α·l + rowsum(P).
    //    Subtracting before scaling keeps huge finite scores (a finfo.min
    //    bias) exact: S − m' is 0 for the row maximum.
    SmallVector<Value> zeros(cols, e.splat(0.0));
    ValueRange sums = e.loop(e.idx(0), e.idx(bn), zeros, [&](Value j, ValueRange acc) {
      SmallVector<Value> next;
      for (int64_t c = 0; c < cols; ++c) {
        Value s = e.loadVec(op.getScores(), {j, e.idx(c * e.width)});
        Value p = e.exp2(arith::MulFOp::create(
            b, arith::SubFOp::create(b, s, mUse[c]), e.splat(kLog2e)));
        e.storeVec(p, op.getScores(), {j, e.idx(c * e.width)});
        next.push_back(arith::AddFOp::create(b, acc[c], p));
      }
      return next;
    });
    for (int64_t c = 0; c < cols; ++c) {
      Value l = math::FmaOp::create(b, alpha[c], lOld[c], sums[c]);
      e.storeVec(l, op.getRowSum(), {e.idx(c * e.width)});
      e.storeVec(mNew[c], op.getRowMax(), {e.idx(c * e.width)});
    }
    // 6. accᵀ[e] = α·accᵀ[e] + Σ_j V[j][e]·P[j], over the keys inside Sk.
    Value keysInTile = e.minIdx(e.idx(bn), e.sub(sk, op.getKBegin()));
    e.forEachBlock(valueDim, blockRows, [&](Value e0, int64_t rows) {
      SmallVector<Value> init;
      for (int64_t r = 0; r < rows; ++r)
        for (int64_t c = 0; c < cols; ++c)
          init.push_back(arith::MulFOp::create(
              b, alpha[c],
              e.loadVec(op.getAcc(), {e.add(e0, e.idx(r)), e.idx(c * e.width)})));
      ValueRange accs = e.loop(e.idx(0), keysInTile, init, [&](Value j, ValueRange acc) {
        SmallVector<Value> pv, next;
        for (int64_t c = 0; c < cols; ++c)
          pv.push_back(e.loadVec(op.getScores(), {j, e.idx(c * e.width)}));
        Value key = e.add(op.getKBegin(), j);
        for (int64_t r = 0; r < rows; ++r) {
          Value vb =
              e.broadcast(valueElement(j, key, e.add(e0, e.idx(r))));
          for (int64_t c = 0; c < cols; ++c)
            next.push_back(vector::FMAOp::create(b, vb, pv[c], acc[r * cols + c]));
        }
        return next;
      });
      for (int64_t r = 0; r < rows; ++r)
        for (int64_t c = 0; c < cols; ++c)
          e.storeVec(accs[r * cols + c], op.getAcc(),
                     {e.add(e0, e.idx(r)), e.idx(c * e.width)});
    });
  }

  TileUpdateOp op;
  TileEmitter &e;
  ImplicitLocOpBuilder &b;
  StagingBuffers &staging;
  Value keyStage, valueStage;
  int64_t headDim, bm, bn, valueDim, cols, blockRows;
  Value sq, sk, lastKey;
};

//===----------------------------------------------------------------------===//
// attn.tile_finalize
//===----------------------------------------------------------------------===//

void lowerFinalize(TileFinalizeOp op, TileEmitter &e) {
  ImplicitLocOpBuilder &b = e.b;
  Value out = op.getOutput();
  Type outType = cast<MemRefType>(out.getType()).getElementType();
  int64_t bm = dimSize(op.getAcc(), 1), valueDim = dimSize(op.getAcc(), 0);
  Value sq = e.dim(out, 2);
  Value rows = e.minIdx(e.idx(bm), e.sub(sq, op.getQBegin()));
  Value zero = e.f32(0.0), one = e.f32(1.0);
  e.loop(e.idx(0), rows, {}, [&](Value r, ValueRange) {
    Value row = e.add(op.getQBegin(), r);
    Value l = memref::LoadOp::create(b, op.getRowSum(), r);
    Value m = memref::LoadOp::create(b, op.getRowMax(), r);
    Value any = arith::CmpFOp::create(b, arith::CmpFPredicate::OGT, l, zero);
    // O = l > 0 ? acc / l : 0.
    Value inv = arith::SelectOp::create(
        b, any, arith::DivFOp::create(b, one, l), zero);
    e.loop(e.idx(0), e.idx(valueDim), {}, [&](Value d, ValueRange) {
      Value a = memref::LoadOp::create(b, op.getAcc(), ValueRange{d, r});
      Value o = arith::MulFOp::create(b, a, inv);
      if (outType != o.getType())
        o = arith::TruncFOp::create(b, outType, o);
      memref::StoreOp::create(b, o, out,
                              ValueRange{op.getBatch(), op.getHead(), row, d});
      return SmallVector<Value>{};
    });
    // LSE = l > 0 ? m + ln(l) : −inf.
    Value lse = arith::AddFOp::create(b, m, math::LogOp::create(b, l));
    lse = arith::SelectOp::create(
        b, any, lse, e.f32(-std::numeric_limits<double>::infinity()));
    memref::StoreOp::create(b, lse, op.getLse(),
                            ValueRange{op.getBatch(), op.getHead(), row});
    return SmallVector<Value>{};
  });
}

struct AttnLowerTilesToVectorPass
    : mlir::attn::impl::AttnLowerTilesToVectorBase<AttnLowerTilesToVectorPass> {
  using AttnLowerTilesToVectorBase::AttnLowerTilesToVectorBase;

  void runOnOperation() override {
    SmallVector<Operation *> tileOps;
    llvm::SmallSetVector<Operation *, 4> scopes;
    DenseSet<Operation *> before; // math ops and roundings of the input
    getOperation()->walk([&](Operation *op) {
      if (isa<TileInitOp, TileUpdateOp, TileFinalizeOp>(op)) {
        tileOps.push_back(op);
        scopes.insert(
            op->getParentWithTrait<OpTrait::AutomaticAllocationScope>());
      }
      if (isa<math::MathDialect>(op->getDialect()) || isa<arith::TruncFOp>(op))
        before.insert(op);
    });
    StagingBuffers staging;
    for (Operation *op : tileOps) {
      int64_t bm = 0;
      if (auto u = dyn_cast<TileUpdateOp>(op))
        bm = dimSize(u.getRowMax(), 0);
      if (auto i = dyn_cast<TileInitOp>(op))
        bm = dimSize(i.getRowMax(), 0);
      if (auto f = dyn_cast<TileFinalizeOp>(op))
        bm = dimSize(f.getRowMax(), 0);
      if (bm % vectorWidth != 0) {
        op->emitOpError() << "query tile of " << bm
                          << " rows is not a multiple of the vector width ("
                          << vectorWidth.getValue() << ")";
        return signalPassFailure();
      }
      OpBuilder builder(op);
      ImplicitLocOpBuilder b(op->getLoc(), builder);
      TileEmitter emitter(b, vectorWidth);

      if (auto init = dyn_cast<TileInitOp>(op))
        lowerInit(init, emitter);
      else if (auto update = dyn_cast<TileUpdateOp>(op))
        UpdateLowering(update, emitter, staging).run();
      else
        lowerFinalize(cast<TileFinalizeOp>(op), emitter);
      op->erase();
    }
    for (Operation *scope : scopes)
      if (failed(checkScratch(scope)))
        return signalPassFailure();
    // The tanh (soft-cap) and log (finalize) this pass emitted become
    // polynomials: vectorized, no libm calls. Its roundings to bf16
    // (finalize) become integer code: hosts without native bf16 conversions
    // (no AVX512-BF16) would otherwise call __truncsfbf2, which the JIT
    // cannot find (libgcc has it from GCC 13 on). Ops that were already in
    // the input are left alone.
    SmallVector<Operation *> created;
    getOperation()->walk([&](Operation *op) {
      if ((isa<math::MathDialect>(op->getDialect()) ||
           isa<arith::TruncFOp>(op)) &&
          !before.contains(op))
        created.push_back(op);
    });
    RewritePatternSet patterns(&getContext());
    populateMathPolynomialApproximationPatterns(patterns);
    arith::populateExpandBFloat16Patterns(patterns);
    GreedyRewriteConfig config;
    config.setStrictness(GreedyRewriteStrictness::ExistingAndNewOps);
    if (failed(applyOpPatternsGreedily(created, std::move(patterns), config)))
      return signalPassFailure();
    // Fold and hoist the constants of the emitted code (per function that
    // held tile ops).
    llvm::SmallSetVector<Operation *, 4> functions;
    for (Operation *scope : scopes)
      functions.insert(scope->hasTrait<OpTrait::IsIsolatedFromAbove>()
                           ? scope
                           : scope->getParentWithTrait<
                                 OpTrait::IsIsolatedFromAbove>());
    for (Operation *function : functions)
      if (failed(applyPatternsGreedily(function->getRegions().front(),
                                       FrozenRewritePatternSet())))
        return signalPassFailure();
  }

  /// The static stack allocations of one work item (its allocation scope)
  /// must fit the CPU backend's limit.
  LogicalResult checkScratch(Operation *scope) {
    uint64_t bytes = 0;
    scope->walk<WalkOrder::PreOrder>([&](Operation *op) {
      if (op != scope &&
          op->hasTrait<OpTrait::AutomaticAllocationScope>())
        return WalkResult::skip();
      if (auto alloca = dyn_cast<memref::AllocaOp>(op)) {
        MemRefType t = alloca.getType();
        uint64_t n = t.getElementTypeBitWidth() / 8;
        for (int64_t d : t.getShape())
          n = llvm::SaturatingMultiply<uint64_t>(
              n, ShapedType::isDynamic(d) ? 1 : uint64_t(d));
        bytes = llvm::SaturatingAdd(bytes, n);
      }
      return WalkResult::advance();
    });
    if (bytes <= uint64_t(kMaxScratchBytes))
      return success();
    return scope->emitError()
           << "attn-lower-tiles-to-vector: a work item needs "
           << llvm::divideCeil(bytes, uint64_t(1024)) << " KiB of scratch, more than "
           << "the " << kMaxScratchBytes / 1024 << " KiB the CPU backend "
           << "allows (work items run on threads with small stacks); use a "
           << "smaller q-tile or k-tile";
  }
};

} // namespace
