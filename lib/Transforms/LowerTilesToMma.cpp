//===- LowerTilesToMma.cpp - tile ops → tensor-core warp fragments --------===//
//
// Implements -attn-lower-tiles-to-mma: in each kernel whose tiles have been
// staged (-attn-stage-shared-memory), the tile ops become FlashAttention-2's
// warp-level code for sm_80-class tensor cores, and their memref state
// (m, l, acc) becomes values carried by the key loop in registers:
//
//   warp w owns query rows BM/4·w + [0, BM/4): one or two 16-row MMA tiles
//   (m-tiles); a thread holds rows g and g + 8 of each (g = lane / 4) and
//   columns 2t, 2t + 1 of every 8-column accumulator tile (t = lane mod 4)
//   1. attn.tile_init: Q fragments by ldmatrix.x4 from the staged Q tile,
//      kept in registers (or reloaded per key tile where they would take
//      more than 32 registers); m = −inf, l = 0, O = 0
//   2. attn.tile_update, per key tile:
//      a. S = Q·Kᵀ with mma.sync.m16n8k16 (K fragments by ldmatrix.x2; each
//         serves every m-tile of the warp)
//      b. S·scale, or c·tanh(S·scale/c) with a soft-cap c, in log2 units
//         (times log2e, folded into the constant) unless there is a bias;
//         the mask operand (bias added, keep applied) on every tile
//      c. `masked` updates: the band and Sk-tail predicates, only when the
//         tile is cut (a CTA-uniform scf.if; full tiles pay nothing); no
//         Sk tail when Sk is a static multiple of BN
//      d. the online softmax on the accumulator fragments: row max with
//         quad shuffles, P = exp2(S − m'), α = exp2(m − m') in log2 units
//         (a subtraction and one MUFU.EX2 each; else the difference times
//         log2e), l = α·l + rowsum P (per-thread partial sums)
//      e. O = α·O + P·V: P's accumulators repacked as A fragments (P never
//         leaves registers), V fragments by ldmatrix.x2.trans
//   3. attn.tile_finalize: l summed over the quad, O · (1 / l) by
//      rcp.approx (l ≥ 1 once a key is kept: exp2(0) for the row maximum)
//      and LSE = m + ln l ((m + log2 l)·ln 2 in log2 units); a row's
//      stores under one branch on the row, columns tested only on a tile
//      that reaches past Dv, O as 32-bit pairs when Dv is even; rows with
//      l = 0 get O = 0 and LSE = −inf.
//      (An IEEE 1 / l brings ptxas' rcp slow-path subroutine, and a branch
//      per store one block each: together 9–12% of ptxas' work at D = 128.)
//
//===----------------------------------------------------------------------===//

#include "attn/Dialect/Masks.h"
#include "attn/Transforms/GpuKernelConfig.h"
#include "attn/Transforms/Passes.h"
#include "attn/Transforms/TiledForm.h"
#include "attn/Transforms/Utils.h"

#include "mlir/Dialect/GPU/IR/GPUDialect.h"
#include "mlir/Dialect/LLVMIR/LLVMDialect.h"
#include "mlir/Dialect/LLVMIR/NVVMDialect.h"
#include "mlir/Dialect/NVGPU/IR/NVGPUDialect.h"
#include "mlir/IR/ImplicitLocOpBuilder.h"

#include <limits>

#define DEBUG_TYPE "attn-lower-tiles-to-mma"

namespace mlir::attn {
#define GEN_PASS_DEF_ATTNLOWERTILESTOMMA
#include "attn/Transforms/Passes.h.inc"
} // namespace mlir::attn

using namespace mlir;
using namespace mlir::attn;
using namespace mlir::attn::gpu_kernel;

namespace {

/// The tiled form of `kernel` with staged Q, K and V tiles.
FailureOr<TiledKernel> matchStagedKernel(gpu::GPUFuncOp kernel) {
  FailureOr<TiledKernel> t = matchTiledKernel(kernel);
  if (succeeded(t) && t->init &&
      (!t->init.getStagedQuery() || !t->update.getStagedKey()))
    return t->update.emitError()
           << "expects staged Q, K and V tiles (run -attn-stage-shared-memory "
           << "first)";
  return t;
}

/// A fragment's 32-bit registers, and one MMA tile's f32 accumulators.
using Registers = SmallVector<Value, 4>;
using Accumulators = std::array<Value, 4>;

class FragmentLowering {
public:
  FragmentLowering(ImplicitLocOpBuilder &b, TiledKernel tiles)
      : b(b), t(tiles),
        et(cast<MemRefType>(t.init.getQuery().getType()).getElementType()) {
    blockM = cast<MemRefType>(t.init.getRowMax().getType()).getShape()[0];
    blockN = cast<MemRefType>(t.update.getScores().getType()).getShape()[0];
    mTiles = blockM / (16 * kWarps);
    rowsPerThread = 2 * mTiles;
    d = cast<MemRefType>(t.init.getQuery().getType()).getShape()[3];
    dv = cast<MemRefType>(t.update.getValue().getType()).getShape()[3];
    dp = roundUp(d, 16);
    dvp = roundUp(dv, 16);
    Value mask = t.update.getMask();
    log2Units =
        !mask || cast<MemRefType>(mask.getType()).getElementType().isInteger(1);
  }

  /// Checks what the fragment layout needs of the tile shapes.
  LogicalResult checkShapes();
  void lower();

private:
  Value idx(int64_t v) { return arith::ConstantIndexOp::create(b, v); }
  Value f32(double v) {
    return arith::ConstantFloatOp::create(b, b.getF32Type(),
                                          APFloat(static_cast<float>(v)));
  }
  Value add(Value x, Value y) { return arith::AddIOp::create(b, x, y); }
  Value mul(Value x, Value y) { return arith::MulIOp::create(b, x, y); }
  Value div(Value x, int64_t y) { return arith::DivUIOp::create(b, x, idx(y)); }
  Value rem(Value x, int64_t y) { return arith::RemUIOp::create(b, x, idx(y)); }
  Value cmp(arith::CmpIPredicate p, Value x, Value y) {
    return arith::CmpIOp::create(b, p, x, y);
  }
  Value minIdx(Value x, Value y) { return arith::MinSIOp::create(b, x, y); }
  Value dim(Value memref, int64_t i) {
    return memref::DimOp::create(b, memref, i);
  }

  /// 2^x and log2 x (f32) as the PTX instructions ex2.approx.ftz.f32 and
  /// lg2.approx.f32, through their NVVM intrinsics, rather than math.exp2
  /// and math.log2, which become libdevice calls: a kernel without soft-cap
  /// needs nothing from libdevice, whose linking and optimization took 5–9%
  /// of the spec → cubin compile time. ex2.approx.ftz is one MUFU.EX2
  /// (without ftz ptxas scales subnormal results around it: 4 instructions
  /// per score); the probabilities it flushes to 0 are below 2^-126 of the
  /// row maximum's. The one log per row of the LSE needs no more than
  /// lg2.approx's 2^-22 relative error.
  Value intrinsic(StringRef name, Value x) {
    return LLVM::CallIntrinsicOp::create(b, x.getType(), b.getStringAttr(name),
                                         ValueRange{x})
        .getResult(0);
  }
  Value exp2(Value x) { return intrinsic("llvm.nvvm.ex2.approx.ftz.f32", x); }
  /// e^(x − y) for scores or maxima x, y in the kernel's units.
  Value expDiff(Value x, Value y) {
    Value diff = arith::SubFOp::create(b, x, y);
    return exp2(log2Units ? diff : arith::MulFOp::create(b, diff, f32(kLog2e)));
  }
  Value log2(Value x) { return intrinsic("llvm.nvvm.lg2.approx.f", x); }

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

  /// The 32-bit registers of an ldmatrix result (`vector<nx2xT>`): f16
  /// pairs as vector<2xf16>, bf16 pairs as i32, the register types PTX
  /// gives them. Extracted once per fragment, whatever uses it.
  Registers registers(Value fragment);
  /// Two elements of P as one A-fragment register.
  Value pack(Value lo, Value hi);

  /// D = A·B + C for one m16n8k16 tile as nvvm.mma.sync: A 4 registers, B
  /// 2, C and D 4 f32 accumulators (rows g, g, g + 8, g + 8; columns 2t,
  /// 2t + 1, 2t, 2t + 1), kept as scalars so that chained MMAs pass them on
  /// without vector packing.
  Accumulators mma(ArrayRef<Value> a, ArrayRef<Value> bRegs,
                   const Accumulators &c);

  /// The A fragment of Q for m-tile `mt` and k step `kk` from the staged Q
  /// tile: rows 16·mTiles·w + 16mt + lane%16, columns 16kk + 8·(lane/16).
  Registers loadQFragment(int64_t mt, int64_t kk);

  /// Step 2 for the update at the builder's insertion point, from the loop
  /// state (m, then l, then the O fragments); returns the next state.
  SmallVector<Value> lowerUpdate(ValueRange state);

  ImplicitLocOpBuilder &b;
  TiledKernel t;
  Type et;
  int64_t blockM, blockN, mTiles, rowsPerThread, d, dv, dp, dvp;
  /// Whether scores and the row maxima are in log2 units (times log2e,
  /// FlashAttention's fold into the scale: one subtraction per exp2, no
  /// multiplication). Not with an additive bias: f32's finfo.min, the
  /// padding convention, times log2e overflows to −inf, and the maximum
  /// and LSE of a fully padded row (−3.4e38) have no log2-unit value.
  bool log2Units;

  // Lane coordinates and the thread's query rows (absolute), set by lower().
  Value lane, t4, warpRow0;
  SmallVector<Value> rowOf;
  SmallVector<SmallVector<Registers>> qFrag; // [mt][kk] when in registers
  // Loop invariants of the update: the band, the last row of the tile, Sk,
  // and the mask operand's row indices.
  std::optional<KeyBand> band;
  Value qLast, keyLength;
  // The mask's flat view, the linear index of key 0 of each of the
  // thread's rows, and the stride of keys (0 when broadcast).
  Value maskFlat, maskKeyStride;
  SmallVector<Value> maskRowBase;
};

Registers FragmentLowering::registers(Value fragment) {
  Registers regs;
  int64_t n = cast<VectorType>(fragment.getType()).getShape()[0];
  for (int64_t i = 0; i < n; ++i) {
    Value pair = vector::ExtractOp::create(b, fragment, ArrayRef<int64_t>{i});
    if (et.isBF16())
      pair = LLVM::BitcastOp::create(b, b.getI32Type(), pair);
    regs.push_back(pair);
  }
  return regs;
}

Value FragmentLowering::pack(Value lo, Value hi) {
  Value pair = vector::FromElementsOp::create(b, VectorType::get({2}, et),
                                              ValueRange{lo, hi});
  return et.isBF16() ? LLVM::BitcastOp::create(b, b.getI32Type(), pair) : pair;
}

Accumulators FragmentLowering::mma(ArrayRef<Value> a, ArrayRef<Value> bRegs,
                                   const Accumulators &c) {
  Type f32Type = b.getF32Type();
  auto result = LLVM::LLVMStructType::getLiteral(
      b.getContext(), {f32Type, f32Type, f32Type, f32Type});
  NVVM::MMATypes type =
      et.isBF16() ? NVVM::MMATypes::bf16 : NVVM::MMATypes::f16;
  Value out = NVVM::MmaOp::create(
      b, result, a, bRegs, c, ArrayRef<int64_t>{16, 8, 16}, std::nullopt,
      std::nullopt, std::array<NVVM::MMATypes, 2>{type, type},
      std::array<NVVM::MMALayout, 2>{NVVM::MMALayout::row,
                                     NVVM::MMALayout::col});
  Accumulators d;
  for (int64_t i = 0; i < 4; ++i)
    d[i] = LLVM::ExtractValueOp::create(b, out, ArrayRef<int64_t>{i});
  return d;
}

Registers FragmentLowering::loadQFragment(int64_t mt, int64_t kk) {
  Value row = add(add(warpRow0, rem(lane, 16)), idx(16 * mt));
  Value col = add(idx(16 * kk), mul(div(lane, 16), idx(8)));
  return registers(nvgpu::LdMatrixOp::create(
      b, VectorType::get({4, 2}, et), t.init.getStagedQuery(),
      ValueRange{row, col}, /*transpose=*/false, /*numTiles=*/4));
}

LogicalResult FragmentLowering::checkShapes() {
  auto cols = [](Value tile) {
    return cast<MemRefType>(tile.getType()).getShape()[1];
  };
  if (blockM != 64 && blockM != 128)
    return t.init.emitError()
           << "expects a query tile of 64 or 128 rows (one "
           << "or two 16-row MMA tiles per warp), got " << blockM;
  if (blockN % 16 != 0 || blockN > 128)
    return t.update.emitError() << "expects a key tile of a multiple of 16 "
                                << "keys up to 128, got " << blockN;
  if (!et.isF16() && !et.isBF16())
    return t.init.emitError() << "expects f16 or bf16 tiles (tensor cores), "
                              << "got " << et;
  if (cols(t.init.getStagedQuery()) < dp ||
      cols(t.update.getStagedKey()) < dp ||
      cols(t.update.getStagedValue()) < dvp)
    return t.update.emitError()
           << "expects staged tiles at least as wide as the head dims padded "
           << "to 16 (" << dp << ", " << dvp << ")";
  return success();
}

SmallVector<Value> FragmentLowering::lowerUpdate(ValueRange state) {
  TileUpdateOp u = t.update;
  auto f32Type = b.getF32Type();
  auto fragB = VectorType::get({2, 2}, et);
  Value negInf = f32(-std::numeric_limits<double>::infinity());
  Value zeroF = f32(0.0);
  Accumulators zeroAcc = {zeroF, zeroF, zeroF, zeroF};
  int64_t oTiles = dvp / 8, nTiles = blockN / 8;
  bool qInRegisters = qFragmentsInRegisters(dp, blockM);
  ValueRange mOld = state.take_front(rowsPerThread);
  ValueRange lOld = state.slice(rowsPerThread, rowsPerThread);
  ValueRange oOld = state.drop_front(2 * rowsPerThread);
  Value k0 = u.getKBegin();

  // a. S = Q·Kᵀ: BN/8 n-tiles of 8 keys per m-tile; K fragment rows
  //    nt·8 + lane%8, columns 16kk + 8·((lane/8)%2). k steps outermost: a
  //    reloaded Q fragment is live for one step only.
  Value kRowOff = rem(lane, 8);
  Value kColOff = mul(rem(div(lane, 8), 2), idx(8));
  SmallVector<Accumulators> s(mTiles * nTiles, zeroAcc); // [mt][nt]
  for (int64_t kk = 0; kk < dp / 16; ++kk) {
    SmallVector<Registers> qf;
    for (int64_t mt = 0; mt < mTiles; ++mt)
      qf.push_back(qInRegisters ? qFrag[mt][kk] : loadQFragment(mt, kk));
    for (int64_t nt = 0; nt < nTiles; ++nt) {
      Registers kf = registers(nvgpu::LdMatrixOp::create(
          b, fragB, u.getStagedKey(),
          ValueRange{add(idx(nt * 8), kRowOff), add(idx(16 * kk), kColOff)},
          /*transpose=*/false, /*numTiles=*/2));
      for (int64_t mt = 0; mt < mTiles; ++mt)
        s[mt * nTiles + nt] = mma(qf[mt], kf, s[mt * nTiles + nt]);
    }
  }

  // b. Score e = ((mt·NT + nt)·2 + i)·2 + j is row r = 2mt + i, key
  //    k0 + 8nt + 2t + j: s·scale, or c·tanh(s·scale/c) with a soft-cap c
  //    (tile_init's q_scale is scale or scale/c), times log2e in log2
  //    units, then the mask operand.
  auto rowOfScore = [&](int64_t e) {
    return 2 * (e / (4 * nTiles)) + (e / 2) % 2;
  };
  double qScale = t.init.getQScale().convertToDouble();
  std::optional<double> softcap;
  if (FloatAttr c = u.getSoftcapAttr())
    softcap = c.getValueAsDouble();
  Value mask = u.getMask();
  Type maskType;
  if (mask)
    maskType = cast<MemRefType>(mask.getType()).getElementType();
  double unit = log2Units ? kLog2e : 1.0; // of the scores
  SmallVector<Value> sv, keys;
  for (int64_t e = 0; e < 4 * nTiles * mTiles; ++e) {
    int64_t tile = e / 4, i = (e / 2) % 2, j = e % 2;
    Value x = s[tile][2 * i + j];
    Value key = add(add(k0, idx(8 * (tile % nTiles) + j)), mul(t4, idx(2)));
    keys.push_back(key);
    if (softcap) {
      Value tanh =
          math::TanhOp::create(b, arith::MulFOp::create(b, x, f32(qScale)));
      x = arith::MulFOp::create(b, tanh, f32(*softcap * unit));
    } else {
      x = arith::MulFOp::create(b, x, f32(qScale * unit));
    }
    if (mask) {
      // Keys past Sk (masked below) read key Sk − 1.
      Value safeKey = minIdx(key, arith::SubIOp::create(b, keyLength, idx(1)));
      Value m =
          memref::LoadOp::create(b, maskFlat,
                                 ValueRange{add(maskRowBase[rowOfScore(e)],
                                                mul(safeKey, maskKeyStride))});
      if (maskType.isInteger(1)) {
        x = arith::SelectOp::create(b, m, x, negInf);
      } else {
        if (!maskType.isF32())
          m = arith::ExtFOp::create(b, f32Type, m);
        x = arith::AddFOp::create(b, x, m);
      }
    }
    sv.push_back(x);
  }

  // c. The band and tail predicates, only on tiles they cut: keys past Sk,
  //    or a band edge inside [k0, k0 + BN) for some row of the tile
  //    (j ≤ i + hi for all rows iff k0 + BN − 1 ≤ q0 + hi; j ≥ i + lo iff
  //    k0 ≥ qLast + lo).
  ValueRange scores = sv;
  scf::IfOp masked;
  if (u.getMasked()) {
    // Full key tiles (a static Sk that is a multiple of BN) need no tail
    // test.
    bool keysInRange = isFullTile(u.getKey(), k0, blockN);
    Value kEnd = add(k0, idx(blockN));
    Value partial = keysInRange
                        ? arith::ConstantIntOp::create(b, b.getI1Type(), 0)
                        : cmp(arith::CmpIPredicate::sgt, kEnd, keyLength);
    if (band->hi)
      partial = arith::OrIOp::create(b, partial,
                                     cmp(arith::CmpIPredicate::sgt,
                                         arith::SubIOp::create(b, kEnd, idx(1)),
                                         add(u.getQBegin(), *band->hi)));
    if (band->lo)
      partial = arith::OrIOp::create(
          b, partial,
          cmp(arith::CmpIPredicate::slt, k0, add(qLast, *band->lo)));
    masked = scf::IfOp::create(
        b, partial,
        [&](OpBuilder &ib, Location) {
          OpBuilder::InsertionGuard g(b);
          b.setInsertionPoint(ib.getInsertionBlock(), ib.getInsertionPoint());
          SmallVector<Value> out;
          for (auto [e, x] : llvm::enumerate(sv)) {
            Value key = keys[e];
            Value row = rowOf[rowOfScore(e)];
            Value keep = keysInRange
                             ? arith::ConstantIntOp::create(b, b.getI1Type(), 1)
                             : cmp(arith::CmpIPredicate::slt, key, keyLength);
            if (band->hi)
              keep = arith::AndIOp::create(
                  b, keep,
                  cmp(arith::CmpIPredicate::sle, key, add(row, *band->hi)));
            if (band->lo)
              keep = arith::AndIOp::create(
                  b, keep,
                  cmp(arith::CmpIPredicate::sge, key, add(row, *band->lo)));
            out.push_back(arith::SelectOp::create(b, keep, x, negInf));
          }
          scf::YieldOp::create(b, out);
        },
        [&](OpBuilder &eb, Location l) { scf::YieldOp::create(eb, l, sv); });
    scores = masked.getResults();
  }

  // d. Online softmax per row: m' = max(m, rowmax S), α = e^(m − m'),
  //    P = e^(S − m') (expDiff), l = α·l + rowsum P (per-thread partial
  //    sums: α is the same across the quad, so the quad sum is taken once,
  //    in the epilogue).
  SmallVector<Value> rowMax(mOld.begin(), mOld.end());
  for (auto [e, x] : llvm::enumerate(scores))
    rowMax[rowOfScore(e)] =
        arith::MaximumFOp::create(b, rowMax[rowOfScore(e)], x);
  SmallVector<Value> mUse(rowsPerThread), alpha(rowsPerThread),
      rowSum(rowsPerThread);
  for (int64_t r = 0; r < rowsPerThread; ++r) {
    rowMax[r] = quadReduce(rowMax[r], /*isMax=*/true);
    // A row with only −inf scores subtracts 0 (never −inf − −inf).
    Value isNegInf =
        arith::CmpFOp::create(b, arith::CmpFPredicate::OEQ, rowMax[r], negInf);
    mUse[r] = arith::SelectOp::create(b, isNegInf, zeroF, rowMax[r]);
    alpha[r] = expDiff(mOld[r], mUse[r]);
    rowSum[r] = arith::MulFOp::create(b, alpha[r], lOld[r]);
  }
  SmallVector<Value> p;
  for (auto [e, x] : llvm::enumerate(scores)) {
    int64_t r = rowOfScore(e);
    Value pe = expDiff(x, mUse[r]);
    rowSum[r] = arith::AddFOp::create(b, rowSum[r], pe);
    p.push_back(arith::TruncFOp::create(b, et, pe));
  }

  // e. O = α·O + P·V. P's A fragment of m-tile mt for keys 16kj..16kj+15 is
  //    the accumulators of n-tiles 2kj and 2kj+1 (8 values in order); V
  //    fragments by ldmatrix.trans at rows 16kj + lane%16, columns 8nv, each
  //    used by every m-tile.
  Value vRow = rem(lane, 16);
  SmallVector<Registers> pFrag; // [mt][kj]
  for (int64_t mt = 0; mt < mTiles; ++mt)
    for (int64_t kj = 0; kj < blockN / 16; ++kj) {
      ArrayRef<Value> vals =
          ArrayRef<Value>(p).slice(4 * nTiles * mt + 8 * kj, 8);
      Registers regs;
      for (int64_t r = 0; r < 4; ++r)
        regs.push_back(pack(vals[2 * r], vals[2 * r + 1]));
      pFrag.push_back(regs);
    }
  SmallVector<Value> next(rowMax);
  next.append(rowSum);
  SmallVector<Accumulators> o; // [mt][nv]; accumulator k is row 2mt + k/2
  for (int64_t mt = 0; mt < mTiles; ++mt)
    for (int64_t nv = 0; nv < oTiles; ++nv) {
      Accumulators acc;
      for (int64_t k = 0; k < 4; ++k)
        acc[k] = arith::MulFOp::create(b, oOld[(mt * oTiles + nv) * 4 + k],
                                       alpha[2 * mt + k / 2]);
      o.push_back(acc);
    }
  for (int64_t nv = 0; nv < oTiles; ++nv)
    for (int64_t kj = 0; kj < blockN / 16; ++kj) {
      Registers vf = registers(nvgpu::LdMatrixOp::create(
          b, fragB, u.getStagedValue(),
          ValueRange{add(idx(16 * kj), vRow), idx(8 * nv)},
          /*transpose=*/true, /*numTiles=*/2));
      for (int64_t mt = 0; mt < mTiles; ++mt)
        o[mt * oTiles + nv] =
            mma(pFrag[mt * (blockN / 16) + kj], vf, o[mt * oTiles + nv]);
    }
  for (const Accumulators &acc : o)
    next.append(acc.begin(), acc.end());
  return next;
}

void FragmentLowering::lower() {
  TileInitOp init = t.init;
  TileUpdateOp update = t.update;
  TileFinalizeOp finalize = t.finalize;

  // 1. Lane coordinates and rows (warp w owns rows q0 + 16·mTiles·w +
  //    [0, 16·mTiles); a thread rows g + 8r), then the Q fragments of
  //    tile_init.
  b.setInsertionPoint(init);
  Value tid = gpu::ThreadIdOp::create(b, gpu::Dimension::x);
  Value warp = div(tid, 32);
  lane = rem(tid, 32);
  Value g = div(lane, 4);
  t4 = rem(lane, 4);
  warpRow0 = mul(warp, idx(16 * mTiles));
  Value warpRow = add(init.getQBegin(), warpRow0);
  for (int64_t r = 0; r < rowsPerThread; ++r)
    rowOf.push_back(add(add(warpRow, g), idx(8 * r)));
  qFrag.resize(mTiles);
  if (qFragmentsInRegisters(dp, blockM))
    for (int64_t mt = 0; mt < mTiles; ++mt)
      for (int64_t kk = 0; kk < dp / 16; ++kk)
        qFrag[mt].push_back(loadQFragment(mt, kk));

  // 2. The update's loop invariants, then the key loop again, now carrying
  //    m of the thread's rows, then their l, then the O accumulators of
  //    m-tile 0, 1, ...
  scf::ForOp old = t.loop;
  b.setInsertionPoint(old);
  Value sq = update.getQueryLength();
  keyLength = dim(update.getKey(), 2);
  band = KeyBand::build(b, b.getLoc(), update.getCausalAttr(),
                        update.getWindowAttr(), sq, keyLength);
  qLast = arith::SubIOp::create(
      b, minIdx(add(update.getQBegin(), idx(blockM)), sq), idx(1));
  if (Value mask = update.getMask()) {
    // Rows past Sq (tail rows of the last query tile) read row Sq − 1; their
    // results are never stored. Size-1 dims are broadcast (index 0).
    ArrayRef<int64_t> ms = cast<MemRefType>(mask.getType()).getShape();
    Value lastRow = arith::SubIOp::create(b, sq, idx(1));
    maskFlat = getFlatView(b, mask);
    maskKeyStride = idx(ms[3] == 1 ? 0 : 1);
    for (Value row : rowOf)
      maskRowBase.push_back(
          getLinearIndex(b, b.getLoc(), mask,
                         {ms[0] == 1 ? idx(0) : update.getBatch(),
                          ms[1] == 1 ? idx(0) : update.getHead(),
                          ms[2] == 1 ? idx(0) : minIdx(row, lastRow)}));
  }
  SmallVector<Value> initState(rowsPerThread,
                               f32(-std::numeric_limits<double>::infinity()));
  initState.append(rowsPerThread, f32(0.0));
  initState.append(4 * mTiles * (dvp / 8), f32(0.0));
  auto loop = scf::ForOp::create(
      b, old.getLowerBound(), old.getUpperBound(), old.getStep(), initState,
      [](OpBuilder &, Location, Value, ValueRange) {});
  Block *body = loop.getBody();
  Block *oldBody = old.getBody();
  body->getOperations().splice(body->end(), oldBody->getOperations(),
                               oldBody->begin(), std::prev(oldBody->end()));
  old.getInductionVar().replaceAllUsesWith(loop.getInductionVar());
  b.setInsertionPoint(update);
  SmallVector<Value> next = lowerUpdate(loop.getRegionIterArgs());
  b.setInsertionPointToEnd(body);
  scf::YieldOp::create(b, next);

  // 3. O = acc · (1 / l), LSE = m + ln l (0 and −inf for rows with no
  //    key). With Dv even, each thread's two adjacent columns go out as one
  //    32-bit store (column 2t is even, so the pair is 4-byte aligned).
  b.setInsertionPoint(finalize);
  ValueRange fin = loop.getResults();
  Value out = finalize.getOutput(), lse = finalize.getLse();
  Value outFlat = getFlatView(b, out), lseFlat = getFlatView(b, lse);
  Value zeroF = f32(0.0);
  Value sqOut = dim(out, 2);
  int64_t oTiles = dvp / 8;
  for (int64_t r = 0; r < rowsPerThread; ++r) {
    int64_t mt = r / 2, i = r % 2;
    Value l = quadReduce(fin[rowsPerThread + r], /*isMax=*/false);
    Value m = fin[r];
    Value any = arith::CmpFOp::create(b, arith::CmpFPredicate::OGT, l, zeroF);
    Value inv = arith::SelectOp::create(
        b, any, intrinsic("llvm.nvvm.rcp.approx.ftz.f", l), zeroF);
    Value row = rowOf[r];
    Value rowOk = cmp(arith::CmpIPredicate::slt, row, sqOut);
    Value outRow = getLinearIndex(
        b, b.getLoc(), out, {finalize.getBatch(), finalize.getHead(), row});
    // m + ln l, as (m + log2 l)·ln 2 with m in log2 units.
    Value lg2 = log2(l), ln2 = f32(kLn2), lseOfRow;
    if (log2Units)
      lseOfRow =
          arith::MulFOp::create(b, arith::AddFOp::create(b, m, lg2), ln2);
    else
      lseOfRow =
          arith::AddFOp::create(b, m, arith::MulFOp::create(b, lg2, ln2));
    Value lseVal = arith::SelectOp::create(
        b, any, lseOfRow, f32(-std::numeric_limits<double>::infinity()));
    // The row's stores under one branch; only a tile that reaches past Dv
    // (8nv + 8 > Dv) tests its columns.
    buildIfThen(b, rowOk, [&] {
      auto storeIfColumn = [&](int64_t nv, Value column, int64_t width,
                               llvm::function_ref<void()> store) {
        if (8 * nv + 8 <= dv)
          return store();
        buildIfThen(
            b, cmp(arith::CmpIPredicate::sle, add(column, idx(width)), idx(dv)),
            store);
      };
      for (int64_t nv = 0; nv < oTiles; ++nv) {
        Value col = add(idx(8 * nv), mul(t4, idx(2)));
        SmallVector<Value> x(2);
        for (int64_t j = 0; j < 2; ++j)
          x[j] = arith::TruncFOp::create(
              b, et,
              arith::MulFOp::create(
                  b,
                  fin[2 * rowsPerThread + (mt * oTiles + nv) * 4 + 2 * i + j],
                  inv));
        if (dv % 2 == 0) {
          Value pair =
              vector::FromElementsOp::create(b, VectorType::get({2}, et), x);
          storeIfColumn(nv, col, 2, [&] {
            vector::StoreOp::create(b, pair, outFlat, add(outRow, col),
                                    /*nontemporal=*/false, llvm::MaybeAlign(4));
          });
          continue;
        }
        for (int64_t j = 0; j < 2; ++j) {
          Value cj = add(col, idx(j));
          storeIfColumn(nv, cj, 1, [&] {
            memref::StoreOp::create(b, x[j], outFlat, add(outRow, cj));
          });
        }
      }
      buildIfThen(b, cmp(arith::CmpIPredicate::eq, t4, idx(0)), [&] {
        memref::StoreOp::create(
            b, lseVal, lseFlat,
            getLinearIndex(b, b.getLoc(), lse,
                           {finalize.getBatch(), finalize.getHead(), row}));
      });
    });
  }

  // The state buffers are now unused placeholders.
  SmallVector<Value> buffers = {init.getQTile(), init.getRowMax(),
                                init.getRowSum(), init.getAcc(),
                                update.getScores()};
  finalize.erase();
  update.erase();
  old.erase();
  init.erase();
  for (Value buffer : buffers)
    if (buffer.use_empty())
      if (auto alloca = buffer.getDefiningOp<memref::AllocaOp>())
        alloca.erase();
}

struct AttnLowerTilesToMmaPass
    : mlir::attn::impl::AttnLowerTilesToMmaBase<AttnLowerTilesToMmaPass> {
  void runOnOperation() override {
    WalkResult result = getOperation().walk([&](gpu::GPUFuncOp kernel) {
      FailureOr<TiledKernel> tiles = matchStagedKernel(kernel);
      if (failed(tiles))
        return WalkResult::interrupt();
      if (!tiles->init)
        return WalkResult::advance();
      ImplicitLocOpBuilder b(tiles->update.getLoc(), kernel.getContext());
      FragmentLowering lowering(b, *tiles);
      if (failed(lowering.checkShapes()))
        return WalkResult::interrupt();
      lowering.lower();
      return WalkResult::advance();
    });
    if (result.wasInterrupted())
      signalPassFailure();
  }
};

} // namespace
