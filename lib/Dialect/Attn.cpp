//===- Attn.cpp - attn dialect, attributes and op verifiers ---------------===//

#include "attn/Dialect/Attn.h"
#include "attn/Dialect/Masks.h"
#include "attn/Support/Format.h"

#include "mlir/IR/Builders.h"
#include "mlir/IR/DialectImplementation.h"
#include "llvm/ADT/TypeSwitch.h"
#include "llvm/Support/FormatVariadic.h"

#include <cmath>

using namespace mlir;
using namespace mlir::attn;
using ::attn::formatShape;

#include "attn/Dialect/AttnDialect.cpp.inc"
#include "attn/Dialect/AttnEnums.cpp.inc"

#define GET_ATTRDEF_CLASSES
#include "attn/Dialect/AttnAttrs.cpp.inc"

#define GET_OP_CLASSES
#include "attn/Dialect/AttnOps.cpp.inc"

void AttnDialect::initialize() {
  addAttributes<
#define GET_ATTRDEF_LIST
#include "attn/Dialect/AttnAttrs.cpp.inc"
      >();
  addOperations<
#define GET_OP_LIST
#include "attn/Dialect/AttnOps.cpp.inc"
      >();
}

/// Largest head dim (D and Dv) the compiler supports.
static constexpr int64_t kMaxHeadDim = 256;

static std::string formatDim(int64_t d) {
  return ShapedType::isDynamic(d) ? std::string("?") : std::to_string(d);
}

/// True when two dims are known to disagree (dynamic dims agree with
/// anything; they are checked at run time).
static bool mismatch(int64_t a, int64_t b) {
  return !ShapedType::isDynamic(a) && !ShapedType::isDynamic(b) && a != b;
}

static bool isStorageType(Type t) { return t.isF32() || t.isF16() || t.isBF16(); }

//===----------------------------------------------------------------------===//
// AttentionOp
//===----------------------------------------------------------------------===//

double AttentionOp::getEffectiveScale() {
  if (std::optional<double> s = toDouble(getScale()))
    return *s;
  int64_t d = getQuery().getType().getShape()[3];
  return 1.0 / std::sqrt(static_cast<double>(d));
}

int64_t AttentionOp::getGroupSize() {
  return getQuery().getType().getShape()[1] / getKey().getType().getShape()[1];
}

LogicalResult AttentionOp::verify() {
  auto q = cast<RankedTensorType>(getQuery().getType());
  auto k = cast<RankedTensorType>(getKey().getType());
  auto v = cast<RankedTensorType>(getValue().getType());

  // 1. Ranks and element types of Q, K, V.
  for (auto [name, t] : {std::pair<StringRef, RankedTensorType>{"query", q},
                         {"key", k},
                         {"value", v}}) {
    if (t.getRank() != 4)
      return emitOpError() << name << " must have rank 4 ([B, H, S, D]), got "
                           << t;
    if (!isStorageType(t.getElementType()))
      return emitOpError() << name << " element type must be f32, f16 or "
                           << "bf16, got " << t.getElementType();
  }
  if (k.getElementType() != q.getElementType() ||
      v.getElementType() != q.getElementType())
    return emitOpError() << "query, key and value must share one element "
                         << "type, got " << q.getElementType() << ", "
                         << k.getElementType() << ", " << v.getElementType();

  ArrayRef<int64_t> qs = q.getShape(), ks = k.getShape(), vs = v.getShape();
  // 2. Static heads and head dims (the code is specialized on them).
  for (auto [name, t] : {std::pair<StringRef, ArrayRef<int64_t>>{"query", qs},
                         {"key", ks},
                         {"value", vs}})
    if (ShapedType::isDynamic(t[1]) || ShapedType::isDynamic(t[3]))
      return emitOpError() << name << " heads and head dim must be static, got "
                           << formatShape(t);

  // 3. Agreement between operands.
  if (mismatch(ks[0], qs[0]) || mismatch(vs[0], qs[0]))
    return emitOpError() << "batch sizes differ: query " << formatDim(qs[0])
                         << ", key " << formatDim(ks[0]) << ", value "
                         << formatDim(vs[0]);
  if (ks[3] != qs[3])
    return emitOpError() << "key head dim (" << ks[3]
                         << ") must match query head dim (" << qs[3] << ")";
  if (vs[1] != ks[1])
    return emitOpError() << "value heads (" << vs[1]
                         << ") must match key heads (" << ks[1] << ")";
  if (mismatch(vs[2], ks[2]))
    return emitOpError() << "value sequence length (" << vs[2]
                         << ") must match key sequence length (" << ks[2]
                         << ")";
  if (ks[1] <= 0 || qs[1] % ks[1] != 0)
    return emitOpError() << "query heads (" << qs[1]
                         << ") must be a multiple of key/value heads ("
                         << ks[1] << ")";
  if (qs[3] > kMaxHeadDim || vs[3] > kMaxHeadDim || qs[3] <= 0 || vs[3] <= 0)
    return emitOpError() << "head dims must be in [1, " << kMaxHeadDim
                         << "], got D = " << qs[3] << ", Dv = " << vs[3];

  // 4. Attributes.
  std::optional<double> scale = toDouble(getScale());
  std::optional<double> softcap = toDouble(getSoftcap());
  if (scale && !(*scale > 0.0 && std::isfinite(*scale)))
    return emitOpError() << "scale must be positive and finite, got " << *scale;
  if (softcap && !(*softcap > 0.0 && std::isfinite(*softcap)))
    return emitOpError() << "softcap must be positive and finite, got "
                         << *softcap;
  // The kernels fold these into f32 constants (the Q pre-scale and the
  // soft-cap factor).
  auto isNormalF32 = [](double x) { return std::isnormal(float(x)); };
  double effectiveScale = getEffectiveScale();
  if (!isNormalF32(softcap ? effectiveScale / *softcap : effectiveScale) ||
      (softcap && !isNormalF32(*softcap)))
    return emitOpError() << "scale " << effectiveScale << " and softcap "
                         << (softcap ? *softcap : 0.0)
                         << " are out of range: the Q pre-scale (scale, or "
                         << "scale/softcap) and softcap must be finite normal "
                         << "f32 numbers";
  if (std::optional<ArrayRef<int64_t>> w = getWindow()) {
    if (w->size() != 2)
      return emitOpError() << "window must have two entries (left, right), got "
                           << w->size();
    if ((*w)[0] < -1 || (*w)[1] < -1 || (*w)[0] > kMaxWindow ||
        (*w)[1] > kMaxWindow)
      return emitOpError() << "window entries must be in [-1, " << kMaxWindow
                           << "] (-1 = unbounded), got (" << (*w)[0] << ", "
                           << (*w)[1] << ")";
  }

  // 5. The mask operand, broadcastable to [B, Hq, Sq, Sk].
  SmallVector<int64_t> full = {qs[0], qs[1], qs[2], ks[2]};
  if (Value mask = getMask()) {
    auto m = cast<RankedTensorType>(mask.getType());
    if (m.getRank() != 4)
      return emitOpError() << "mask must have rank 4 (broadcastable to [B, Hq, "
                           << "Sq, Sk]), got " << m;
    Type et = m.getElementType();
    if (!et.isInteger(1) && !isStorageType(et))
      return emitOpError() << "mask element type must be i1 (keep) or f32, "
                           << "f16, bf16 (additive bias), got " << et;
    static constexpr StringLiteral dimNames[] = {"B", "Hq", "Sq", "Sk"};
    for (int64_t i = 0; i < 4; ++i) {
      int64_t d = m.getShape()[i];
      if (d != 1 && mismatch(d, full[i]))
        return emitOpError() << "mask dim " << i << " (" << formatDim(d)
                             << ") must be 1 or " << dimNames[i] << " ("
                             << formatDim(full[i]) << ")";
    }
  }

  // 6. Results.
  auto o = cast<RankedTensorType>(getOutput().getType());
  auto lse = cast<RankedTensorType>(getLse().getType());
  SmallVector<int64_t> oShape = {qs[0], qs[1], qs[2], vs[3]};
  if (o.getRank() != 4 || o.getElementType() != q.getElementType() ||
      llvm::any_of(llvm::zip(o.getShape(), oShape), [](auto p) {
        return std::get<0>(p) != std::get<1>(p);
      }))
    return emitOpError() << "output must be [B, Hq, Sq, Dv] = "
                         << formatShape(oShape) << " of " << q.getElementType()
                         << ", got " << o;
  ArrayRef<int64_t> lseShape(oShape.data(), 3);
  if (lse.getShape() != lseShape || !lse.getElementType().isF32())
    return emitOpError() << "lse must be [B, Hq, Sq] = " << formatShape(lseShape)
                         << " of f32, got " << lse;
  return success();
}

//===----------------------------------------------------------------------===//
// Tile ops
//===----------------------------------------------------------------------===//

/// Checks that `value` (a memref named `name`) has the static 2-D/1-D shape
/// `expected`, where kDynamic entries mean "any".
static LogicalResult checkShape(Operation *op, StringRef name, Value value,
                                ArrayRef<int64_t> expected) {
  auto t = cast<MemRefType>(value.getType());
  bool ok = t.getRank() == static_cast<int64_t>(expected.size()) &&
            t.hasStaticShape();
  for (auto [got, want] : llvm::zip(t.getShape(), expected))
    ok &= ShapedType::isDynamic(want) || got == want;
  if (ok)
    return success();
  return op->emitOpError() << "expects " << name << " of static shape "
                           << formatShape(expected) << ", got " << t;
}

static LogicalResult checkRank(Operation *op, StringRef name, Value value,
                               int64_t rank) {
  auto t = cast<MemRefType>(value.getType());
  if (t.getRank() == rank)
    return success();
  return op->emitOpError() << "expects " << name << " of rank " << rank
                           << ", got " << t;
}

/// Checks that memref `value` holds f32, f16 or bf16 elements.
static LogicalResult checkStorageType(Operation *op, StringRef name,
                                      Value value) {
  Type t = cast<MemRefType>(value.getType()).getElementType();
  if (isStorageType(t))
    return success();
  return op->emitOpError() << "expects " << name
                           << " of f32, f16 or bf16 elements, got " << t;
}

/// Verifies the state buffers shared by the tile ops: m is [BM] (and l, of
/// the same type by AllTypesMatch), acc is [Dv, BM] with Dv = `valueDim`.
static LogicalResult verifyState(Operation *op, Value rowMax, Value acc,
                                 int64_t valueDim) {
  int64_t bm = cast<MemRefType>(rowMax.getType()).getShape()[0];
  if (failed(checkShape(op, "row_max", rowMax, {ShapedType::kDynamic})) ||
      failed(checkShape(op, "acc", acc, {valueDim, bm})))
    return failure();
  return success();
}

/// The head dim (dim 3) of a rank-4 operand must be static: the tile code is
/// specialized on it.
static LogicalResult checkStaticHeadDim(Operation *op, StringRef name,
                                        Value value) {
  auto t = cast<MemRefType>(value.getType());
  if (!ShapedType::isDynamic(t.getShape()[3]))
    return success();
  return op->emitOpError() << "expects " << name << " with a static head dim, "
                           << "got " << t;
}

/// A staged tile (see the tile ops' description) is a rank-2 static
/// `[rows, ≥ headDim]` memref of `elementType` with exactly `rows` rows.
static LogicalResult checkStagedTile(Operation *op, StringRef name,
                                     Value staged, Type elementType,
                                     int64_t rows, int64_t headDim) {
  auto t = cast<MemRefType>(staged.getType());
  if (t.getRank() != 2 || !t.hasStaticShape() || t.getShape()[0] != rows ||
      t.getShape()[1] < headDim || t.getElementType() != elementType)
    return op->emitOpError()
           << "expects " << name << " of static shape [" << rows << ", >= "
           << headDim << "] and " << elementType << " elements, got " << t;
  return success();
}

LogicalResult TileInitOp::verify() {
  if (failed(checkRank(*this, "query", getQuery(), 4)) ||
      failed(checkStorageType(*this, "query", getQuery())) ||
      failed(checkStaticHeadDim(*this, "query", getQuery())))
    return failure();
  auto q = cast<MemRefType>(getQuery().getType());
  int64_t bm = cast<MemRefType>(getRowMax().getType()).getShape()[0];
  if (failed(checkShape(*this, "q_tile", getQTile(), {q.getShape()[3], bm})))
    return failure();
  if (Value staged = getStagedQuery();
      staged && failed(checkStagedTile(*this, "staged_query", staged,
                                       q.getElementType(), bm,
                                       q.getShape()[3])))
    return failure();
  return verifyState(*this, getRowMax(), getAcc(),
                     ShapedType::kDynamic);
}

LogicalResult TileUpdateOp::verify() {
  if (failed(checkRank(*this, "key", getKey(), 4)) ||
      failed(checkRank(*this, "value", getValue(), 4)))
    return failure();
  if (failed(checkStorageType(*this, "key", getKey())) ||
      failed(checkStorageType(*this, "value", getValue())) ||
      failed(checkStaticHeadDim(*this, "key", getKey())) ||
      failed(checkStaticHeadDim(*this, "value", getValue())))
    return failure();
  Type keyType = cast<MemRefType>(getKey().getType()).getElementType();
  Type valueType = cast<MemRefType>(getValue().getType()).getElementType();
  if (keyType != valueType)
    return emitOpError() << "expects key and value of one element type, got "
                         << keyType << " and " << valueType;
  if (Value mask = getMask()) {
    if (failed(checkRank(*this, "mask", mask, 4)))
      return failure();
    if (!getMasked())
      return emitOpError() << "with a mask operand must be `masked` (the mask "
                           << "is only evaluated on masked tiles)";
    Type m = cast<MemRefType>(mask.getType()).getElementType();
    if (!m.isInteger(1) && !isStorageType(m))
      return emitOpError() << "expects a mask of i1 (keep) or f32, f16, bf16 "
                           << "(bias) elements, got " << m;
  }
  int64_t d = cast<MemRefType>(getKey().getType()).getShape()[3];
  int64_t dv = cast<MemRefType>(getValue().getType()).getShape()[3];
  int64_t bm = cast<MemRefType>(getRowMax().getType()).getShape()[0];
  if (failed(checkShape(*this, "q_tile", getQTile(), {d, bm})) ||
      failed(checkShape(*this, "scores", getScores(),
                        {ShapedType::kDynamic, bm})))
    return failure();
  if (!getStagedKey() != !getStagedValue())
    return emitOpError() << "expects staged key and value tiles together";
  if (getStagedKey()) {
    int64_t bn = cast<MemRefType>(getScores().getType()).getShape()[0];
    if (failed(checkStagedTile(*this, "staged_key", getStagedKey(), keyType,
                               bn, d)) ||
        failed(checkStagedTile(*this, "staged_value", getStagedValue(),
                               valueType, bn, dv)))
      return failure();
  }
  return verifyState(*this, getRowMax(), getAcc(), dv);
}

LogicalResult TileFinalizeOp::verify() {
  if (failed(checkRank(*this, "output", getOutput(), 4)) ||
      failed(checkRank(*this, "lse", getLse(), 3)) ||
      failed(checkStorageType(*this, "output", getOutput())) ||
      failed(checkStaticHeadDim(*this, "output", getOutput())))
    return failure();
  Type lseType = cast<MemRefType>(getLse().getType()).getElementType();
  if (!lseType.isF32())
    return emitOpError() << "expects lse of f32 elements, got " << lseType;
  int64_t dv = cast<MemRefType>(getOutput().getType()).getShape()[3];
  return verifyState(*this, getRowMax(), getAcc(), dv);
}
