//===- EmitGpuKernel.cpp - attn.attention → a tensor-core GPU kernel ------===//
//
// Implements -attn-emit-gpu-kernel: every function computing one
// attn.attention on its arguments becomes a `gpu.func` kernel in a
// `gpu.module`, written as FlashAttention-2's forward pass on sm_80-class
// tensor cores:
//
//   grid (ceil(Sq / 64), Hq, B), 4 warps; warp w owns query rows 16w..16w+15;
//   key tiles of 64 (32 when Dv > 128)
//   1. Q tile → shared memory → ldmatrix.x4 fragments kept in registers
//   2. for each key tile of the causal/window band (the same KeyBand as the
//      CPU tiling): K, V tiles → shared memory;
//        S = Q·Kᵀ with mma.sync.m16n8k16 (K fragments by ldmatrix.x2),
//        element masks, row max / sum on the accumulator fragments with
//        shuffles inside each quad, P = exp2((S − m)·log2e),
//        O = α·O + P·V with P's accumulators repacked as A fragments
//        (P never leaves registers; V fragments by ldmatrix.x2.trans)
//   3. O / l and LSE = m + ln l, stored with row/column predication.
//
// Kernel ABI: (Q, K, V, O, LSE: pointers; Sq, Sk: i64) over dense
// [B, H, S, D] buffers (LSE f32 [B, Hq, Sq]). Dynamic shared memory: the
// kernel's `attn.dynamic_shared_memory` bytes, i.e.
// (rows_K·(Dp+8) + BN·(Dvp+8) [+ 64·(Dp+8) when Q is not kept in
// registers])·sizeof(T) with Dp, Dvp the head dims rounded up to 16 (rows
// padded by 8 halves against bank conflicts).
//
// Status: first version. f16 only (MLIR 22's nvgpu.mma.sync has no bf16),
// no mask operand or soft-cap yet (rejected with an error); tiles are loaded
// with 16-byte cp.async copies (element loads when D is not a multiple of 8)
// but not yet pipelined across key tiles. Checked by ptxas in CI; not yet
// run on a GPU.
//
//===----------------------------------------------------------------------===//

#include "attn/Dialect/Masks.h"
#include "attn/Transforms/Passes.h"

#include "mlir/Dialect/Func/IR/FuncOps.h"
#include "mlir/Dialect/GPU/IR/GPUDialect.h"
#include "mlir/Dialect/LLVMIR/LLVMDialect.h"
#include "mlir/Dialect/LLVMIR/NVVMDialect.h"
#include "mlir/Dialect/NVGPU/IR/NVGPUDialect.h"
#include "mlir/IR/ImplicitLocOpBuilder.h"

#include <limits>

#define DEBUG_TYPE "attn-emit-gpu-kernel"

namespace mlir::attn {
#define GEN_PASS_DEF_ATTNEMITGPUKERNEL
#include "attn/Transforms/Passes.h.inc"
} // namespace mlir::attn

using namespace mlir;
using namespace mlir::attn;

namespace {

constexpr int64_t kRowsPerWarp = 16, kWarps = 4, kBlockM = 64;

/// Shared-memory rows are padded by 8 halves (16 bytes): with a row stride
/// that is an odd number of 16-byte chunks modulo 8, the 8 row addresses of
/// one ldmatrix phase fall into 8 different bank groups (no conflicts), and
/// every row still starts 16-byte aligned as ldmatrix requires.
constexpr int64_t kRowPad = 8;
constexpr int64_t kThreads = 32 * kWarps;

int64_t roundUp(int64_t x, int64_t m) { return (x + m - 1) / m * m; }

class KernelEmitter {
public:
  KernelEmitter(ImplicitLocOpBuilder &b, AttentionOp op)
      : b(b), op(op), et(op.getQuery().getType().getElementType()) {
    ArrayRef<int64_t> qs = op.getQuery().getType().getShape();
    hq = qs[1];
    d = qs[3];
    hkv = op.getKey().getType().getShape()[1];
    dv = op.getValue().getType().getShape()[3];
    dp = roundUp(d, 16);
    dvp = roundUp(dv, 16);
    // Keys per tile: 64, or 32 when the O accumulators (Dv/8 fragments)
    // already take half of the registers, so that S and P fit beside them.
    blockN = dvp > 128 ? 32 : 64;
  }

  /// Q fragments stay in registers up to this padded head dim; above it
  /// (D = 256) they would not fit next to the O accumulators, so Q keeps its
  /// own shared-memory tile and its fragments are reloaded per key tile.
  static constexpr int64_t kMaxQInRegisters = 128;
  bool qInRegisters() const { return dp <= kMaxQInRegisters; }

  /// Rows of the K buffer: it also stages the Q tile when Q lives in
  /// registers.
  int64_t keyBufferRows() const {
    return qInRegisters() ? std::max(kBlockM, blockN) : blockN;
  }

  /// Dynamic shared memory bytes of the kernel: the K and V tiles, plus the
  /// Q tile when Q does not live in registers.
  int64_t sharedBytes() const {
    int64_t elems = keyBufferRows() * (dp + kRowPad) +
                    blockN * (dvp + kRowPad) +
                    (qInRegisters() ? 0 : kBlockM * (dp + kRowPad));
    return elems * et.getIntOrFloatBitWidth() / 8;
  }

  void emit(gpu::GPUFuncOp func);

private:
  Value idx(int64_t v) { return arith::ConstantIndexOp::create(b, v); }
  Value f32(double v) {
    return arith::ConstantFloatOp::create(b, b.getF32Type(),
                                          APFloat(static_cast<float>(v)));
  }
  Value add(Value x, Value y) { return arith::AddIOp::create(b, x, y); }
  Value mul(Value x, Value y) { return arith::MulIOp::create(b, x, y); }
  Value cmp(arith::CmpIPredicate p, Value x, Value y) {
    return arith::CmpIOp::create(b, p, x, y);
  }

  /// smem[r][c] = global[base + (row0 + r)·rowLen + c] for r < tileRows and
  /// c < cols (the padded width), 0 outside [0, rowsValid) × [0, rowLen).
  void loadTile(Value global, Value base, Value row0, Value rowsValid,
                int64_t rowLen, Value smem, int64_t tileRows, int64_t cols);

  /// Loop over i in [lb, ub) with `step`, body without carried values.
  void forLoop(Value lb, Value ub, Value step,
               llvm::function_ref<void(Value)> body) {
    scf::ForOp::create(b, lb, ub, step, ValueRange{},
                       [&](OpBuilder &fb, Location, Value iv, ValueRange) {
                         OpBuilder::InsertionGuard g(b);
                         b.setInsertionPoint(fb.getInsertionBlock(),
                                             fb.getInsertionPoint());
                         body(iv);
                         scf::YieldOp::create(b);
                       });
  }

  /// A 1-D memref view of the dense buffer at `ptr` (a kernel parameter):
  /// its LLVM descriptor (ptr, ptr, offset 0, size, stride 1) cast to the
  /// memref type, so that the kernel ABI is plain pointers. The size is not
  /// used (no bounds checks); it is set to the largest index.
  Value asMemRef(Value ptr, Type elementType) {
    auto i64 = b.getI64Type();
    auto array = LLVM::LLVMArrayType::get(i64, 1);
    auto descType = LLVM::LLVMStructType::getLiteral(
        b.getContext(), {ptr.getType(), ptr.getType(), i64, array, array});
    Value desc = LLVM::PoisonOp::create(b, descType);
    auto cst = [&](int64_t x) {
      return LLVM::ConstantOp::create(b, i64, b.getI64IntegerAttr(x));
    };
    desc = LLVM::InsertValueOp::create(b, desc, ptr, ArrayRef<int64_t>{0});
    desc = LLVM::InsertValueOp::create(b, desc, ptr, ArrayRef<int64_t>{1});
    desc = LLVM::InsertValueOp::create(b, desc, cst(0), ArrayRef<int64_t>{2});
    desc = LLVM::InsertValueOp::create(
        b, desc, cst(std::numeric_limits<int64_t>::max()),
        ArrayRef<int64_t>{3, 0});
    desc = LLVM::InsertValueOp::create(b, desc, cst(1), ArrayRef<int64_t>{4, 0});
    Type memref = MemRefType::get({ShapedType::kDynamic}, elementType);
    return UnrealizedConversionCastOp::create(b, memref, desc).getResult(0);
  }

  /// Reduces `x` over the 4 threads of a quad (the threads that hold one
  /// accumulator row) with shuffles xor 1 and 2.
  Value quadReduce(Value x, bool isMax) {
    for (int32_t offset : {1, 2}) {
      Value other =
          gpu::ShuffleOp::create(b, x, offset, 32, gpu::ShuffleMode::XOR)
              .getShuffleResult();
      x = isMax ? arith::MaximumFOp::create(b, x, other).getResult()
                : arith::AddFOp::create(b, x, other).getResult();
    }
    return x;
  }

  ImplicitLocOpBuilder &b;
  AttentionOp op;
  Type et;
  int64_t hq, hkv, d, dv, dp, dvp, blockN;
};

void KernelEmitter::loadTile(Value global, Value base, Value row0,
                             Value rowsValid, int64_t rowLen, Value smem,
                             int64_t tileRows, int64_t cols) {
  Value tid = gpu::ThreadIdOp::create(b, gpu::Dimension::x);
  // Rows of a multiple of 8 halves: 16-byte cp.async copies (global
  // addresses stay 16-byte aligned: bases and rows are multiples of 8
  // elements), zero-filled outside the tile (source size 0).
  if (rowLen % 8 == 0) {
    int64_t chunks = cols / 8;
    forLoop(tid, idx(tileRows * chunks), idx(kThreads), [&](Value i) {
      Value r = arith::DivUIOp::create(b, i, idx(chunks));
      Value c = mul(arith::RemUIOp::create(b, i, idx(chunks)), idx(8));
      Value valid = arith::AndIOp::create(
          b, cmp(arith::CmpIPredicate::slt, r, rowsValid),
          cmp(arith::CmpIPredicate::slt, c, idx(rowLen)));
      Value linear = add(base, add(mul(add(row0, r), idx(rowLen)), c));
      Value safe = arith::SelectOp::create(b, valid, linear, idx(0));
      Value count = arith::SelectOp::create(b, valid, idx(8), idx(0));
      nvgpu::DeviceAsyncCopyOp::create(
          b, nvgpu::DeviceAsyncTokenType::get(b.getContext()), smem,
          ValueRange{r, c}, global, ValueRange{safe}, b.getIndexAttr(8),
          count, /*bypassL1=*/UnitAttr());
    });
    NVVM::CpAsyncCommitGroupOp::create(b, b.getLoc());
    NVVM::CpAsyncWaitGroupOp::create(b, b.getLoc(), 0);
    return;
  }
  // Other rows (e.g. D = 59): element by element.
  Value zero = arith::ConstantFloatOp::create(
      b, cast<FloatType>(et),
      APFloat::getZero(cast<FloatType>(et).getFloatSemantics()));
  forLoop(tid, idx(tileRows * cols), idx(kThreads), [&](Value i) {
    Value r = arith::DivUIOp::create(b, i, idx(cols));
    Value c = arith::RemUIOp::create(b, i, idx(cols));
    Value valid = arith::AndIOp::create(
        b, cmp(arith::CmpIPredicate::slt, r, rowsValid),
        cmp(arith::CmpIPredicate::slt, c, idx(rowLen)));
    Value linear = add(base, add(mul(add(row0, r), idx(rowLen)), c));
    // Out-of-range elements read element 0 (valid memory) and store 0.
    Value safe = arith::SelectOp::create(b, valid, linear, idx(0));
    Value x = memref::LoadOp::create(b, global, safe);
    x = arith::SelectOp::create(b, valid, x, zero);
    memref::StoreOp::create(b, x, smem, ValueRange{r, c});
  });
}

void KernelEmitter::emit(gpu::GPUFuncOp func) {
  Block &entry = func.getBody().front();
  b.setInsertionPointToStart(&entry);
  Value q = asMemRef(entry.getArgument(0), et),
        k = asMemRef(entry.getArgument(1), et),
        v = asMemRef(entry.getArgument(2), et),
        o = asMemRef(entry.getArgument(3), et),
        lse = asMemRef(entry.getArgument(4), b.getF32Type()),
        sq = arith::IndexCastOp::create(b, b.getIndexType(),
                                        entry.getArgument(5)),
        sk = arith::IndexCastOp::create(b, b.getIndexType(),
                                        entry.getArgument(6));
  auto f32Type = b.getF32Type();
  auto acc = VectorType::get({2, 2}, f32Type);
  auto fragA = VectorType::get({4, 2}, et);
  auto fragB = VectorType::get({2, 2}, et);
  Value negInf = f32(-std::numeric_limits<double>::infinity());
  Value zeroF = f32(0.0);

  // Work item and lane coordinates.
  Value qt = gpu::BlockIdOp::create(b, gpu::Dimension::x);
  Value h = gpu::BlockIdOp::create(b, gpu::Dimension::y);
  Value bIdx = gpu::BlockIdOp::create(b, gpu::Dimension::z);
  Value tid = gpu::ThreadIdOp::create(b, gpu::Dimension::x);
  Value warp = arith::DivUIOp::create(b, tid, idx(32));
  Value lane = arith::RemUIOp::create(b, tid, idx(32));
  Value g = arith::DivUIOp::create(b, lane, idx(4));
  Value t = arith::RemUIOp::create(b, lane, idx(4));
  Value hk = arith::DivUIOp::create(b, h, idx(hq / hkv));
  Value q0 = mul(qt, idx(kBlockM));
  Value warpRow = add(q0, mul(warp, idx(kRowsPerWarp)));

  // Dense [B, H, S, D] bases.
  Value qBase = mul(mul(add(mul(bIdx, idx(hq)), h), sq), idx(d));
  Value kBase = mul(mul(add(mul(bIdx, idx(hkv)), hk), sk), idx(d));
  Value vBase = mul(mul(add(mul(bIdx, idx(hkv)), hk), sk), idx(dv));
  Value oRowBase = mul(add(mul(bIdx, idx(hq)), h), sq);

  // Shared memory: K (also stages Q once) and V tiles.
  auto ws = gpu::AddressSpaceAttr::get(b.getContext(),
                                       gpu::AddressSpace::Workgroup);
  Value smem = gpu::DynamicSharedMemoryOp::create(
      b, MemRefType::get({ShapedType::kDynamic}, b.getI8Type(),
                         MemRefLayoutAttrInterface(), ws));
  int64_t bytes = et.getIntOrFloatBitWidth() / 8;
  int64_t kRows = keyBufferRows();
  Value kS = memref::ViewOp::create(
      b,
      MemRefType::get({kRows, dp + kRowPad}, et, MemRefLayoutAttrInterface(),
                      ws),
      smem, idx(0), ValueRange{});
  Value vS = memref::ViewOp::create(
      b,
      MemRefType::get({blockN, dvp + kRowPad}, et,
                      MemRefLayoutAttrInterface(), ws),
      smem, idx(kRows * (dp + kRowPad) * bytes), ValueRange{});

  // 1. Q fragments: rows 16w + lane%16, k columns 16kk + 8·(lane/16); in
  //    registers for the whole key loop, or reloaded from Q's own tile.
  Value rowsQ = arith::SubIOp::create(b, sq, q0);
  Value qS = kS;
  if (!qInRegisters())
    qS = memref::ViewOp::create(
        b,
        MemRefType::get({kBlockM, dp + kRowPad}, et,
                        MemRefLayoutAttrInterface(), ws),
        smem,
        idx((kRows * (dp + kRowPad) + blockN * (dvp + kRowPad)) * bytes),
        ValueRange{});
  loadTile(q, qBase, q0, rowsQ, d, qS, kBlockM, dp);
  gpu::BarrierOp::create(b);
  Value qRow = add(mul(warp, idx(kRowsPerWarp)), arith::RemUIOp::create(b, lane, idx(16)));
  Value qColOff = mul(arith::DivUIOp::create(b, lane, idx(16)), idx(8));
  auto loadQFragment = [&](int64_t kk) -> Value {
    return nvgpu::LdMatrixOp::create(
        b, fragA, qS, ValueRange{qRow, add(idx(16 * kk), qColOff)},
        /*transpose=*/false, /*numTiles=*/4);
  };
  SmallVector<Value> qFrag;
  for (int64_t kk = 0; qInRegisters() && kk < dp / 16; ++kk)
    qFrag.push_back(loadQFragment(kk));

  // 2. The key-tile range of the band for this query tile.
  KeyBand band = KeyBand::build(b, b.getLoc(), op.getCausalAttr(),
                                op.getWindowAttr(), sq, sk);
  Value rows = arith::MinSIOp::create(b, idx(kBlockM), rowsQ);
  Value qLast = arith::SubIOp::create(b, add(q0, rows), idx(1));
  auto [kLo, kHi] =
      band.keyTileRange(b, b.getLoc(), q0, qLast, sk, idx(blockN));

  // Loop-carried state: m and l of rows g and g+8, and the O accumulators.
  int64_t oTiles = dvp / 8;
  SmallVector<Value> init = {negInf, negInf, zeroF, zeroF};
  Value zeroAcc = arith::ConstantOp::create(
      b, DenseElementsAttr::get(acc, b.getF32FloatAttr(0.0)));
  init.append(oTiles, zeroAcc);
  double scale = op.getEffectiveScale();
  Value log2e = f32(kLog2e);
  SmallVector<Value> rowOf = {add(warpRow, g), add(add(warpRow, g), idx(8))};

  auto loop = scf::ForOp::create(
      b, kLo, kHi, idx(1), init,
      [&](OpBuilder &fb, Location, Value kt, ValueRange state) {
        OpBuilder::InsertionGuard guard(b);
        b.setInsertionPoint(fb.getInsertionBlock(), fb.getInsertionPoint());
        Value k0 = mul(kt, idx(blockN));
        Value keysLeft = arith::SubIOp::create(b, sk, k0);
        // K and V tiles (the barrier first: the previous tile is consumed).
        gpu::BarrierOp::create(b);
        loadTile(k, kBase, k0, keysLeft, d, kS, blockN, dp);
        loadTile(v, vBase, k0, keysLeft, dv, vS, blockN, dvp);
        gpu::BarrierOp::create(b);

        // S = Q·Kᵀ: 8 n-tiles of 8 keys; K fragment rows nt·8 + lane%8,
        // columns 16kk + 8·((lane/8)%2).
        Value kRowOff = arith::RemUIOp::create(b, lane, idx(8));
        Value kColOff = mul(
            arith::RemUIOp::create(b, arith::DivUIOp::create(b, lane, idx(8)),
                                   idx(2)),
            idx(8));
        // k steps outermost: a reloaded Q fragment (D = 256) is live for one
        // step only.
        SmallVector<Value> s(blockN / 8, zeroAcc);
        for (int64_t kk = 0; kk < dp / 16; ++kk) {
          Value qf = qInRegisters() ? qFrag[kk] : loadQFragment(kk);
          for (int64_t nt = 0; nt < blockN / 8; ++nt) {
            Value kf = nvgpu::LdMatrixOp::create(
                b, fragB, kS,
                ValueRange{add(idx(nt * 8), kRowOff),
                           add(idx(16 * kk), kColOff)},
                /*transpose=*/false, /*numTiles=*/2);
            s[nt] = nvgpu::MmaSyncOp::create(b, qf, kf, s[nt],
                                             ArrayRef<int64_t>{16, 8, 16});
          }
        }

        // Scale and mask element (i, j) of n-tile nt: row g + 8i,
        // key k0 + 8nt + 2t + j; then the row maxima.
        SmallVector<Value> rowMax = {state[0], state[1]};
        SmallVector<SmallVector<Value>> sv(blockN / 8);
        for (int64_t nt = 0; nt < blockN / 8; ++nt)
          for (int64_t i = 0; i < 2; ++i)
            for (int64_t j = 0; j < 2; ++j) {
              Value x = vector::ExtractOp::create(b, s[nt],
                                                  ArrayRef<int64_t>{i, j});
              x = arith::MulFOp::create(b, x, f32(scale));
              Value key =
                  add(add(k0, idx(8 * nt + j)), mul(t, idx(2)));
              Value keep = cmp(arith::CmpIPredicate::slt, key, sk);
              if (band.hi)
                keep = arith::AndIOp::create(
                    b, keep,
                    cmp(arith::CmpIPredicate::sle, key, add(rowOf[i], *band.hi)));
              if (band.lo)
                keep = arith::AndIOp::create(
                    b, keep,
                    cmp(arith::CmpIPredicate::sge, key, add(rowOf[i], *band.lo)));
              x = arith::SelectOp::create(b, keep, x, negInf);
              sv[nt].push_back(x);
              rowMax[i] = arith::MaximumFOp::create(b, rowMax[i], x);
            }
        SmallVector<Value> next;
        SmallVector<Value> mUse(2), alpha(2), rowSum(2);
        for (int64_t i = 0; i < 2; ++i) {
          rowMax[i] = quadReduce(rowMax[i], /*isMax=*/true);
          // A row with only −inf scores subtracts 0 (never −inf − −inf).
          Value isNegInf = arith::CmpFOp::create(b, arith::CmpFPredicate::OEQ,
                                                 rowMax[i], negInf);
          mUse[i] = arith::SelectOp::create(b, isNegInf, zeroF, rowMax[i]);
          alpha[i] = math::Exp2Op::create(
              b, arith::MulFOp::create(
                     b, arith::SubFOp::create(b, state[i], mUse[i]), log2e));
          rowSum[i] = arith::MulFOp::create(b, alpha[i], state[2 + i]);
        }
        // P = exp2((S − m)·log2e); per-thread partial row sums.
        SmallVector<SmallVector<Value>> p(blockN / 8);
        for (int64_t nt = 0; nt < blockN / 8; ++nt)
          for (int64_t e = 0; e < 4; ++e) {
            int64_t i = e / 2;
            Value x = math::Exp2Op::create(
                b, arith::MulFOp::create(
                       b, arith::SubFOp::create(b, sv[nt][e], mUse[i]),
                       log2e));
            rowSum[i] = arith::AddFOp::create(b, rowSum[i], x);
            p[nt].push_back(arith::TruncFOp::create(b, et, x));
          }
        // O = α·O + P·V. P's A fragment for keys 16kj..16kj+15 is the
        // accumulators of n-tiles 2kj and 2kj+1; V fragments by
        // ldmatrix.trans at rows 16kj + lane%16, columns 8nv.
        Value vRow = arith::RemUIOp::create(b, lane, idx(16));
        SmallVector<Value> pFrag;
        for (int64_t kj = 0; kj < blockN / 16; ++kj) {
          SmallVector<Value> elems(p[2 * kj]);
          elems.append(p[2 * kj + 1]);
          pFrag.push_back(vector::FromElementsOp::create(b, fragA, elems));
        }
        Value alphaV = vector::FromElementsOp::create(
            b, acc, ValueRange{alpha[0], alpha[0], alpha[1], alpha[1]});
        next = {rowMax[0], rowMax[1], rowSum[0], rowSum[1]};
        for (int64_t nv = 0; nv < oTiles; ++nv) {
          Value c = arith::MulFOp::create(b, state[4 + nv], alphaV);
          for (int64_t kj = 0; kj < blockN / 16; ++kj) {
            Value vf = nvgpu::LdMatrixOp::create(
                b, fragB, vS, ValueRange{add(idx(16 * kj), vRow), idx(8 * nv)},
                /*transpose=*/true, /*numTiles=*/2);
            c = nvgpu::MmaSyncOp::create(b, pFrag[kj], vf, c,
                                         ArrayRef<int64_t>{16, 8, 16});
          }
          next.push_back(c);
        }
        scf::YieldOp::create(b, next);
      });

  // 3. O = acc / l, LSE = m + ln l (0 and −inf for rows with no key).
  ValueRange fin = loop.getResults();
  for (int64_t i = 0; i < 2; ++i) {
    Value l = quadReduce(fin[2 + i], /*isMax=*/false);
    Value m = fin[i];
    Value any = arith::CmpFOp::create(b, arith::CmpFPredicate::OGT, l, zeroF);
    Value inv = arith::SelectOp::create(
        b, any, arith::DivFOp::create(b, f32(1.0), l), zeroF);
    Value row = rowOf[i];
    Value rowOk = cmp(arith::CmpIPredicate::slt, row, sq);
    Value outRow = add(oRowBase, row);
    for (int64_t nv = 0; nv < oTiles; ++nv)
      for (int64_t j = 0; j < 2; ++j) {
        Value col = add(idx(8 * nv + j), mul(t, idx(2)));
        Value ok = arith::AndIOp::create(
            b, rowOk, cmp(arith::CmpIPredicate::slt, col, idx(dv)));
        Value x = vector::ExtractOp::create(b, fin[4 + nv],
                                            ArrayRef<int64_t>{i, j});
        x = arith::TruncFOp::create(b, et, arith::MulFOp::create(b, x, inv));
        scf::IfOp::create(b, ok, [&](OpBuilder &ib, Location l2) {
          memref::StoreOp::create(ib, l2, x, o,
                                  ValueRange{add(mul(outRow, idx(dv)), col)});
          scf::YieldOp::create(ib, l2);
        });
      }
    Value lseVal = arith::SelectOp::create(
        b, any, arith::AddFOp::create(b, m, math::LogOp::create(b, l)), negInf);
    Value writer = arith::AndIOp::create(
        b, rowOk, cmp(arith::CmpIPredicate::eq, t, idx(0)));
    scf::IfOp::create(b, writer, [&](OpBuilder &ib, Location l2) {
      memref::StoreOp::create(ib, l2, lseVal, lse, ValueRange{outRow});
      scf::YieldOp::create(ib, l2);
    });
  }
  gpu::ReturnOp::create(b);
}

struct AttnEmitGpuKernelPass
    : mlir::attn::impl::AttnEmitGpuKernelBase<AttnEmitGpuKernelPass> {
  using AttnEmitGpuKernelBase::AttnEmitGpuKernelBase;

  void runOnOperation() override {
    ModuleOp module = getOperation();
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
    auto gpuModule = gpu::GPUModuleOp::create(mb, module.getLoc(),
                                              "attn_kernels");
    for (func::FuncOp f : funcs) {
      auto ops = llvm::to_vector(f.getOps<AttentionOp>());
      AttentionOp op = ops.front();
      Type et = op.getQuery().getType().getElementType();
      if (ops.size() != 1 || !et.isF16() || op.getMask() || op.getSoftcap()) {
        op.emitError() << "attn-emit-gpu-kernel: not supported yet by the GPU "
                       << "backend (one attn.attention per function, f16, no "
                       << "mask operand, no softcap)";
        return signalPassFailure();
      }
      OpBuilder kb(gpuModule.getBodyRegion());
      Type ptr = LLVM::LLVMPointerType::get(kb.getContext());
      auto type = kb.getFunctionType(
          {ptr, ptr, ptr, ptr, ptr, kb.getI64Type(), kb.getI64Type()}, {});
      auto func = gpu::GPUFuncOp::create(kb, f.getLoc(), f.getName(), type);
      func->setAttr(gpu::GPUDialect::getKernelFuncAttrName(), kb.getUnitAttr());
      func.setKnownBlockSizeAttr(
          kb.getDenseI32ArrayAttr({int32_t(kThreads), 1, 1}));
      ImplicitLocOpBuilder b(op.getLoc(), kb);
      KernelEmitter emitter(b, op);
      func->setAttr("attn.dynamic_shared_memory",
                    kb.getI64IntegerAttr(emitter.sharedBytes()));
      func->setAttr("attn.query_tile_rows", kb.getI64IntegerAttr(kBlockM));
      emitter.emit(func);
      f.erase();
    }
  }
};

} // namespace
