//===- EmitGpuKernel.cpp - attn.attention → a tensor-core GPU kernel ------===//
//
// Implements -attn-emit-gpu-kernel: every function computing one
// attn.attention on its arguments becomes a `gpu.func` kernel in a
// `gpu.module`, written as FlashAttention-2's forward pass on sm_80-class
// tensor cores:
//
//   grid (ceil(Sq / BM), Hq, B), 4 warps; warp w owns the BM/4 query rows
//   from BM/4·w (one or two 16-row MMA tiles); key tiles of BN keys (the
//   per-chip table below, or the pass options)
//   1. Q tile → shared memory → ldmatrix.x4 fragments kept in registers
//      (reloaded from shared memory per key tile when they would take more
//      than 32 registers: D > 128, or D > 64 with two m-tiles per warp)
//   2. for each key tile of the causal/window band (the same KeyBand as the
//      CPU tiling), with K and V tiles arriving through a `stages`-deep ring
//      of shared-memory buffers filled by cp.async (tile j + stages − 1 is
//      in flight while tile j is computed):
//        S = Q·Kᵀ with mma.sync.m16n8k16 (K fragments by ldmatrix.x2),
//        S·scale, soft-cap, the mask operand (every tile), the band and tail
//        masks (only tiles the band or Sk cuts: an scf.if skips them on full
//        tiles), row max / sum on the accumulator fragments with shuffles
//        inside each quad, P = exp2((S − m)·log2e),
//        O = α·O + P·V with P's accumulators repacked as A fragments
//        (P never leaves registers; V fragments by ldmatrix.x2.trans; each K
//        and V fragment serves every m-tile of the warp)
//   3. O / l and LSE = m + ln l, stored with row/column predication, O as
//      32-bit pairs when Dv is even.
//
// Kernel ABI: (Q, K, V, [mask], O, LSE: pointers; Sq, Sk: i64) over dense
// [B, H, S, D] buffers (LSE f32 [B, Hq, Sq]; the mask dense with its own
// broadcast shape, i8 0/1 for a keep mask). Dynamic shared memory: the
// kernel's `attn.dynamic_shared_memory` bytes.
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

/// 4 warps per CTA; each owns `mTiles` consecutive 16-row MMA tiles of the
/// query tile (block-m = 64·mTiles rows).
constexpr int64_t kWarps = 4;

/// Shared-memory rows are padded by 8 halves (16 bytes): with a row stride
/// that is an odd number of 16-byte chunks modulo 8, the 8 row addresses of
/// one ldmatrix phase fall into 8 different bank groups (no conflicts), and
/// every row still starts 16-byte aligned as ldmatrix requires. An XOR
/// swizzle (chunk c of row r at c ^ (r mod 8)) is conflict-free without the
/// 6–12% of padding, but its per-lane addresses are loop-invariant and not
/// affine, so LLVM hoists one register per distinct ldmatrix address out of
/// the key loop: measured +32 registers at D = 64, +77 at D = 128 (sm_80,
/// whole-program ptxas). Padding keeps every address base + immediate.
constexpr int64_t kRowPad = 8;
constexpr int64_t kThreads = 32 * kWarps;

int64_t roundUp(int64_t x, int64_t m) { return (x + m - 1) / m * m; }

/// What the kernel shape depends on per chip: the opt-in shared-memory limit
/// of one CTA and the default tiles per head-dim class.
struct ChipInfo {
  StringLiteral name;
  int64_t maxSharedBytes;
  /// Pipeline depth for head dims ≤ 64 (deeper rings pay off where a tile
  /// is cheap to compute and shared memory is plentiful).
  int64_t smallHeadStages;
};
constexpr ChipInfo kChips[] = {{"sm_80", 166912, 3},
                               {"sm_86", 101376, 2},
                               {"sm_89", 101376, 2},
                               {"sm_90", 232448, 3},
                               {"sm_90a", 232448, 3}};

const ChipInfo *lookupChip(StringRef name) {
  for (const ChipInfo &c : kChips)
    if (c.name == name)
      return &c;
  return nullptr;
}

/// The tile table: keys per tile and pipeline stages for a chip and the
/// padded head dims. 64-key tiles while the O accumulators (Dv/8 fragments
/// of 4 registers) leave room for S and P; 32 beyond D = 128.
struct TileConfig {
  int64_t blockM, blockN, stages;
};
TileConfig defaultTiles(const ChipInfo &chip, int64_t dp, int64_t dvp) {
  int64_t widest = std::max(dp, dvp);
  if (widest <= 64)
    return {64, 64, chip.smallHeadStages};
  if (widest <= 128)
    return {64, 64, 2};
  return {64, 32, 2};
}

class KernelEmitter {
public:
  KernelEmitter(ImplicitLocOpBuilder &b, AttentionOp op, TileConfig tiles)
      : b(b), op(op), et(op.getQuery().getType().getElementType()),
        blockM(tiles.blockM), blockN(tiles.blockN), stages(tiles.stages),
        mTiles(tiles.blockM / (16 * kWarps)) {
    ArrayRef<int64_t> qs = op.getQuery().getType().getShape();
    hq = qs[1];
    d = qs[3];
    hkv = op.getKey().getType().getShape()[1];
    dv = op.getValue().getType().getShape()[3];
    dp = roundUp(d, 16);
    dvp = roundUp(dv, 16);
  }

  /// Q fragments stay in registers while a warp's take at most 32 registers
  /// per thread (D ≤ 128 with one m-tile, D ≤ 64 with two); beyond that they
  /// would not fit next to the O accumulators, so Q keeps its own
  /// shared-memory tile and its fragments are reloaded per key tile.
  static constexpr int64_t kMaxQInRegisters = 128;
  bool qInRegisters() const { return dp * mTiles <= kMaxQInRegisters; }

  /// Rows of the K ring: `stages` tiles; when Q lives in registers it is
  /// staged once in the last stage's buffer (not yet in use then), which is
  /// lengthened to the rows of the Q tile if needed.
  int64_t keyRingRows() const {
    int64_t rows = stages * blockN;
    return qInRegisters() ? std::max(rows, (stages - 1) * blockN + blockM)
                          : rows;
  }

  /// Dynamic shared memory bytes: the K and V rings, plus the Q tile when Q
  /// does not live in registers.
  int64_t sharedBytes() const {
    int64_t elems = keyRingRows() * (dp + kRowPad) +
                    stages * blockN * (dvp + kRowPad) +
                    (qInRegisters() ? 0 : blockM * (dp + kRowPad));
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
  Value minIdx(Value x, Value y) { return arith::MinSIOp::create(b, x, y); }

  /// 2^x and ln x (f32) as the PTX instructions ex2.approx.f32 and
  /// lg2.approx.f32 (× ln 2), through their NVVM intrinsics, rather than
  /// math.exp2 and math.log, which become libdevice calls: a kernel without
  /// soft-cap needs nothing from libdevice, whose linking and optimization
  /// took 5–9% of the spec → cubin compile time. libdevice's __nv_exp2f is
  /// this same ex2.approx.f32; the one log per row of the LSE needs no more
  /// than lg2.approx's 2^-22 relative error.
  Value intrinsic(StringRef name, Value x) {
    return LLVM::CallIntrinsicOp::create(b, x.getType(), b.getStringAttr(name),
                                         ValueRange{x})
        .getResult(0);
  }
  Value exp2(Value x) { return intrinsic("llvm.nvvm.ex2.approx.f32", x); }
  Value log(Value x) {
    return arith::MulFOp::create(b, intrinsic("llvm.nvvm.lg2.approx.f", x),
                                 f32(kLn2));
  }
  Value workgroupView(Value smem, int64_t byteOffset, int64_t rows,
                      int64_t cols) {
    auto ws = gpu::AddressSpaceAttr::get(b.getContext(),
                                         gpu::AddressSpace::Workgroup);
    return memref::ViewOp::create(
        b, MemRefType::get({rows, cols}, et, MemRefLayoutAttrInterface(), ws),
        smem, idx(byteOffset), ValueRange{});
  }

  /// smem[row0S + r][c] = global[base + (row0 + r)·rowLen + c] for
  /// r < tileRows and c < cols (the padded width), 0 outside
  /// [0, rowsValid) × [0, rowLen). Rows of a multiple of 8 elements go by
  /// 16-byte cp.async copies that the caller commits and waits for; others
  /// (e.g. D = 59) element by element.
  void loadTile(Value global, Value base, Value row0, Value rowsValid,
                int64_t rowLen, Value smem, Value row0S, int64_t tileRows,
                int64_t cols);

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

  /// `body` under `cond`, without results.
  void ifThen(Value cond, llvm::function_ref<void()> body) {
    scf::IfOp::create(b, cond, [&](OpBuilder &ib, Location) {
      OpBuilder::InsertionGuard g(b);
      b.setInsertionPoint(ib.getInsertionBlock(), ib.getInsertionPoint());
      body();
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
    desc = LLVM::InsertValueOp::create(b, desc,
                                       cst(std::numeric_limits<int64_t>::max()),
                                       ArrayRef<int64_t>{3, 0});
    desc =
        LLVM::InsertValueOp::create(b, desc, cst(1), ArrayRef<int64_t>{4, 0});
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

  /// D = A·B + C for one m16n8k16 tile: A `vector<4x2xT>` (4 registers of
  /// two elements), B `vector<2x2xT>`, C and D `vector<2x2xf32>`, as
  /// nvvm.mma.sync (f16 pairs as vector<2xf16>, bf16 pairs as i32, the
  /// register types PTX gives them).
  Value mma(Value a, Value bFrag, Value c);

  ImplicitLocOpBuilder &b;
  AttentionOp op;
  Type et;
  int64_t hq, hkv, d, dv, dp, dvp, blockM, blockN, stages, mTiles;
};

Value KernelEmitter::mma(Value a, Value bFrag, Value c) {
  auto registers = [&](Value frag, int64_t n) {
    SmallVector<Value> regs;
    for (int64_t i = 0; i < n; ++i) {
      Value pair = vector::ExtractOp::create(b, frag, ArrayRef<int64_t>{i});
      if (et.isBF16())
        pair = LLVM::BitcastOp::create(b, b.getI32Type(), pair);
      regs.push_back(pair);
    }
    return regs;
  };
  SmallVector<Value> accum;
  for (int64_t i = 0; i < 2; ++i)
    for (int64_t j = 0; j < 2; ++j)
      accum.push_back(vector::ExtractOp::create(b, c, ArrayRef<int64_t>{i, j}));
  Type f32Type = b.getF32Type();
  auto result = LLVM::LLVMStructType::getLiteral(
      b.getContext(), {f32Type, f32Type, f32Type, f32Type});
  NVVM::MMATypes type =
      et.isBF16() ? NVVM::MMATypes::bf16 : NVVM::MMATypes::f16;
  Value out = NVVM::MmaOp::create(
      b, result, registers(a, 4), registers(bFrag, 2), accum,
      ArrayRef<int64_t>{16, 8, 16}, std::nullopt, std::nullopt,
      std::array<NVVM::MMATypes, 2>{type, type},
      std::array<NVVM::MMALayout, 2>{NVVM::MMALayout::row,
                                     NVVM::MMALayout::col});
  SmallVector<Value> elems;
  for (int64_t i = 0; i < 4; ++i)
    elems.push_back(LLVM::ExtractValueOp::create(b, out, ArrayRef<int64_t>{i}));
  return vector::FromElementsOp::create(b, c.getType(), elems);
}

void KernelEmitter::loadTile(Value global, Value base, Value row0,
                             Value rowsValid, int64_t rowLen, Value smem,
                             Value row0S, int64_t tileRows, int64_t cols) {
  Value tid = gpu::ThreadIdOp::create(b, gpu::Dimension::x);
  // 16-byte copies (cp.async.cg: the tiles are read once per CTA, L2 is
  // where K/V are shared between CTAs): global addresses stay 16-byte
  // aligned (bases and rows are multiples of 8 elements); zero fill outside
  // the tile (source size 0, from a valid address).
  int64_t vec = rowLen % 8 == 0 ? 8 : 1;
  int64_t chunks = cols / vec;
  Value zero;
  if (vec == 1)
    zero = arith::ConstantFloatOp::create(
        b, cast<FloatType>(et),
        APFloat::getZero(cast<FloatType>(et).getFloatSemantics()));
  forLoop(tid, idx(tileRows * chunks), idx(kThreads), [&](Value i) {
    Value r = arith::DivUIOp::create(b, i, idx(chunks));
    Value c = mul(arith::RemUIOp::create(b, i, idx(chunks)), idx(vec));
    Value valid =
        arith::AndIOp::create(b, cmp(arith::CmpIPredicate::slt, r, rowsValid),
                              cmp(arith::CmpIPredicate::slt, c, idx(rowLen)));
    Value linear = add(base, add(mul(add(row0, r), idx(rowLen)), c));
    Value safe = arith::SelectOp::create(b, valid, linear, idx(0));
    Value rS = add(row0S, r);
    if (vec == 8) {
      Value count = arith::SelectOp::create(b, valid, idx(8), idx(0));
      nvgpu::DeviceAsyncCopyOp::create(
          b, nvgpu::DeviceAsyncTokenType::get(b.getContext()), smem,
          ValueRange{rS, c}, global, ValueRange{safe}, b.getIndexAttr(8), count,
          /*bypassL1=*/b.getUnitAttr());
      return;
    }
    Value x = memref::LoadOp::create(b, global, safe);
    x = arith::SelectOp::create(b, valid, x, zero);
    memref::StoreOp::create(b, x, smem, ValueRange{rS, c});
  });
}

void KernelEmitter::emit(gpu::GPUFuncOp func) {
  Block &entry = func.getBody().front();
  b.setInsertionPointToStart(&entry);
  bool hasMask = static_cast<bool>(op.getMask());
  unsigned arg = 0;
  Value q = asMemRef(entry.getArgument(arg++), et),
        k = asMemRef(entry.getArgument(arg++), et),
        v = asMemRef(entry.getArgument(arg++), et);
  Value maskMem;
  Type maskType;
  if (hasMask) {
    maskType = op.getMask().getType().getElementType();
    // A keep mask is one byte per element (as i1 memrefs are stored).
    maskMem = asMemRef(entry.getArgument(arg++),
                       maskType.isInteger(1) ? b.getI8Type() : maskType);
  }
  Value oPtr = entry.getArgument(arg++);
  Value o = asMemRef(oPtr, et),
        lse = asMemRef(entry.getArgument(arg++), b.getF32Type()),
        sq = arith::IndexCastOp::create(b, b.getIndexType(),
                                        entry.getArgument(arg++)),
        sk = arith::IndexCastOp::create(b, b.getIndexType(),
                                        entry.getArgument(arg++));
  auto f32Type = b.getF32Type();
  auto acc = VectorType::get({2, 2}, f32Type);
  auto fragA = VectorType::get({4, 2}, et);
  auto fragB = VectorType::get({2, 2}, et);
  Value negInf = f32(-std::numeric_limits<double>::infinity());
  Value zeroF = f32(0.0);

  // Work item and lane coordinates. Warp w owns query rows
  // q0 + 16·mTiles·w + [0, 16·mTiles): m-tile mt is the 16 rows at
  // 16·mt; a thread holds rows g and g + 8 of each m-tile (its rows
  // r = 2·mt + i, i ∈ {0, 1}).
  Value qt = gpu::BlockIdOp::create(b, gpu::Dimension::x);
  Value h = gpu::BlockIdOp::create(b, gpu::Dimension::y);
  Value bIdx = gpu::BlockIdOp::create(b, gpu::Dimension::z);
  Value tid = gpu::ThreadIdOp::create(b, gpu::Dimension::x);
  Value warp = arith::DivUIOp::create(b, tid, idx(32));
  Value lane = arith::RemUIOp::create(b, tid, idx(32));
  Value g = arith::DivUIOp::create(b, lane, idx(4));
  Value t = arith::RemUIOp::create(b, lane, idx(4));
  Value hk = arith::DivUIOp::create(b, h, idx(hq / hkv));
  Value q0 = mul(qt, idx(blockM));
  Value warpRow0 = mul(warp, idx(16 * mTiles)); // within the query tile
  Value warpRow = add(q0, warpRow0);
  int64_t rowsPerThread = 2 * mTiles;
  SmallVector<Value> rowOf;
  for (int64_t r = 0; r < rowsPerThread; ++r)
    rowOf.push_back(add(add(warpRow, g), idx(8 * r)));

  // Dense [B, H, S, D] bases.
  Value qBase = mul(mul(add(mul(bIdx, idx(hq)), h), sq), idx(d));
  Value kBase = mul(mul(add(mul(bIdx, idx(hkv)), hk), sk), idx(d));
  Value vBase = mul(mul(add(mul(bIdx, idx(hkv)), hk), sk), idx(dv));
  Value oRowBase = mul(add(mul(bIdx, idx(hq)), h), sq);

  // Shared memory: the K ring (whose last stage also stages Q once when Q
  // lives in registers), the V ring, and Q's own tile otherwise.
  Value smem = gpu::DynamicSharedMemoryOp::create(
      b, MemRefType::get({ShapedType::kDynamic}, b.getI8Type(),
                         MemRefLayoutAttrInterface(),
                         gpu::AddressSpaceAttr::get(
                             b.getContext(), gpu::AddressSpace::Workgroup)));
  int64_t bytes = et.getIntOrFloatBitWidth() / 8;
  int64_t kRing = keyRingRows() * (dp + kRowPad) * bytes;
  int64_t vRing = stages * blockN * (dvp + kRowPad) * bytes;
  Value kS = workgroupView(smem, 0, keyRingRows(), dp + kRowPad);
  Value vS = workgroupView(smem, kRing, stages * blockN, dvp + kRowPad);
  Value qS =
      qInRegisters()
          ? workgroupView(smem, (stages - 1) * blockN * (dp + kRowPad) * bytes,
                          blockM, dp + kRowPad)
          : workgroupView(smem, kRing + vRing, blockM, dp + kRowPad);

  // 1. The Q tile, then the first stages − 1 key tiles of the band, each
  //    its own cp.async group.
  Value rowsQ = arith::SubIOp::create(b, sq, q0);
  KeyBand band = KeyBand::build(b, b.getLoc(), op.getCausalAttr(),
                                op.getWindowAttr(), sq, sk);
  Value rows = minIdx(idx(blockM), rowsQ);
  Value qLast = arith::SubIOp::create(b, add(q0, rows), idx(1));
  auto [kLo, kHi] =
      band.keyTileRange(b, b.getLoc(), q0, qLast, sk, idx(blockN));
  auto loadKeyTile = [&](Value tile, Value stage) {
    Value k0 = mul(tile, idx(blockN));
    Value keysLeft = arith::SubIOp::create(b, sk, k0);
    Value row0S = mul(stage, idx(blockN));
    loadTile(k, kBase, k0, keysLeft, d, kS, row0S, blockN, dp);
    loadTile(v, vBase, k0, keysLeft, dv, vS, row0S, blockN, dvp);
  };
  auto commit = [&]() { NVVM::CpAsyncCommitGroupOp::create(b, b.getLoc()); };
  loadTile(q, qBase, q0, rowsQ, d, qS, idx(0), blockM, dp);
  commit();
  for (int64_t s = 0; s + 1 < stages; ++s) {
    Value tile = add(kLo, idx(s));
    ifThen(cmp(arith::CmpIPredicate::slt, tile, kHi),
           [&] { loadKeyTile(tile, idx(s)); });
    commit();
  }
  // The Q group is the oldest: done when at most stages − 1 are pending.
  NVVM::CpAsyncWaitGroupOp::create(b, b.getLoc(), stages - 1);
  gpu::BarrierOp::create(b);

  // Q fragments of m-tile mt: rows 16·mTiles·w + 16mt + lane%16, k columns
  // 16kk + 8·(lane/16).
  Value qRow = add(warpRow0, arith::RemUIOp::create(b, lane, idx(16)));
  Value qColOff = mul(arith::DivUIOp::create(b, lane, idx(16)), idx(8));
  auto loadQFragment = [&](int64_t mt, int64_t kk) -> Value {
    return nvgpu::LdMatrixOp::create(
        b, fragA, qS,
        ValueRange{add(qRow, idx(16 * mt)), add(idx(16 * kk), qColOff)},
        /*transpose=*/false, /*numTiles=*/4);
  };
  SmallVector<SmallVector<Value>> qFrag(mTiles);
  if (qInRegisters()) {
    for (int64_t mt = 0; mt < mTiles; ++mt)
      for (int64_t kk = 0; kk < dp / 16; ++kk)
        qFrag[mt].push_back(loadQFragment(mt, kk));
    // Q's buffer is the last stage's, refilled by the first iteration.
    gpu::BarrierOp::create(b);
  }

  // The mask operand, dense with its broadcast shape: element (row, key)
  // at rowBase(row) + key·strideK, where a size-1 dim has stride 0 and a
  // full one the product of the (actual) sizes after it. A dynamic mask dim
  // is the full size (the ABI passes no mask sizes).
  Value maskStrideK;
  SmallVector<Value> maskRowBase;
  if (hasMask) {
    ArrayRef<int64_t> ms = op.getMask().getType().getShape();
    Value sizes[4] = {nullptr, idx(hq), sq, sk};
    Value strides[4];
    Value stride = idx(1);
    for (int i = 3; i >= 0; --i) {
      bool broadcast = ms[i] == 1;
      strides[i] = broadcast ? idx(0) : stride;
      if (!broadcast && i > 0)
        stride = mul(stride, sizes[i]);
    }
    maskStrideK = strides[3];
    // Rows past Sq (tail rows of the last query tile) read row Sq − 1; their
    // results are never stored.
    Value lastRow = arith::SubIOp::create(b, sq, idx(1));
    for (Value row : rowOf)
      maskRowBase.push_back(add(add(mul(bIdx, strides[0]), mul(h, strides[1])),
                                mul(minIdx(row, lastRow), strides[2])));
  }

  // Loop-carried state: m of the thread's rows, then their l, then the O
  // accumulators of m-tile 0, 1, ...
  int64_t oTiles = dvp / 8, nTiles = blockN / 8;
  SmallVector<Value> init(rowsPerThread, negInf);
  init.append(rowsPerThread, zeroF);
  Value zeroAcc = arith::ConstantOp::create(
      b, DenseElementsAttr::get(acc, b.getF32FloatAttr(0.0)));
  init.append(mTiles * oTiles, zeroAcc);
  double scale = op.getEffectiveScale();
  std::optional<double> softcap;
  if (FloatAttr c = op.getSoftcapAttr())
    softcap = c.getValueAsDouble();
  Value log2e = f32(kLog2e);

  auto loop = scf::ForOp::create(
      b, kLo, kHi, idx(1), init,
      [&](OpBuilder &fb, Location, Value kt, ValueRange state) {
        OpBuilder::InsertionGuard guard(b);
        b.setInsertionPoint(fb.getInsertionBlock(), fb.getInsertionPoint());
        ValueRange mOld = state.take_front(rowsPerThread);
        ValueRange lOld = state.slice(rowsPerThread, rowsPerThread);
        ValueRange oOld = state.drop_front(2 * rowsPerThread);
        Value k0 = mul(kt, idx(blockN));
        Value step = arith::SubIOp::create(b, kt, kLo);
        Value stage = arith::RemUIOp::create(b, step, idx(stages));
        Value stageRow = mul(stage, idx(blockN));

        // 2a. Tile kt + stages − 1 into the buffer freed by iteration kt − 1
        //     (one group per iteration, empty past the band), then wait for
        //     tile kt.
        Value ahead = add(kt, idx(stages - 1));
        ifThen(cmp(arith::CmpIPredicate::slt, ahead, kHi), [&] {
          loadKeyTile(ahead, arith::RemUIOp::create(
                                 b, add(step, idx(stages - 1)), idx(stages)));
        });
        commit();
        NVVM::CpAsyncWaitGroupOp::create(b, b.getLoc(), stages - 1);
        gpu::BarrierOp::create(b);

        // 2b. S = Q·Kᵀ: BN/8 n-tiles of 8 keys per m-tile; K fragment rows
        //     nt·8 + lane%8, columns 16kk + 8·((lane/8)%2), each used by
        //     every m-tile. k steps outermost: a reloaded Q fragment is
        //     live for one step only.
        Value kRowOff = add(stageRow, arith::RemUIOp::create(b, lane, idx(8)));
        Value kColOff =
            mul(arith::RemUIOp::create(
                    b, arith::DivUIOp::create(b, lane, idx(8)), idx(2)),
                idx(8));
        SmallVector<Value> s(mTiles * nTiles, zeroAcc); // [mt][nt]
        for (int64_t kk = 0; kk < dp / 16; ++kk) {
          SmallVector<Value> qf;
          for (int64_t mt = 0; mt < mTiles; ++mt)
            qf.push_back(qInRegisters() ? qFrag[mt][kk]
                                        : loadQFragment(mt, kk));
          for (int64_t nt = 0; nt < nTiles; ++nt) {
            Value kf = nvgpu::LdMatrixOp::create(
                b, fragB, kS,
                ValueRange{add(idx(nt * 8), kRowOff),
                           add(idx(16 * kk), kColOff)},
                /*transpose=*/false, /*numTiles=*/2);
            for (int64_t mt = 0; mt < mTiles; ++mt)
              s[mt * nTiles + nt] = mma(qf[mt], kf, s[mt * nTiles + nt]);
          }
        }

        // 2c. Score e = ((mt·NT + nt)·2 + i)·2 + j is row r = 2mt + i, key
        //     k0 + 8nt + 2t + j: s·scale, or c·tanh(s·scale/c) with a
        //     soft-cap c, then the mask operand (bias added, keep applied).
        auto rowOfScore = [&](int64_t e) {
          return 2 * (e / (4 * nTiles)) + (e / 2) % 2;
        };
        SmallVector<Value> sv, keys;
        for (int64_t e = 0; e < 4 * nTiles * mTiles; ++e) {
          int64_t tile = e / 4, i = (e / 2) % 2, j = e % 2;
          Value x =
              vector::ExtractOp::create(b, s[tile], ArrayRef<int64_t>{i, j});
          Value key =
              add(add(k0, idx(8 * (tile % nTiles) + j)), mul(t, idx(2)));
          keys.push_back(key);
          if (softcap) {
            x = arith::MulFOp::create(b, x, f32(scale / *softcap));
            x = arith::MulFOp::create(b, math::TanhOp::create(b, x),
                                      f32(*softcap));
          } else {
            x = arith::MulFOp::create(b, x, f32(scale));
          }
          if (hasMask) {
            // Keys past Sk (masked below) read key Sk − 1.
            Value safeKey = minIdx(key, arith::SubIOp::create(b, sk, idx(1)));
            Value m = memref::LoadOp::create(
                b, maskMem,
                ValueRange{add(maskRowBase[rowOfScore(e)],
                               mul(safeKey, maskStrideK))});
            if (maskType.isInteger(1)) {
              Value keep = cmp(arith::CmpIPredicate::ne, m,
                               arith::ConstantIntOp::create(b, 0, 8));
              x = arith::SelectOp::create(b, keep, x, negInf);
            } else {
              if (!maskType.isF32())
                m = arith::ExtFOp::create(b, f32Type, m);
              x = arith::AddFOp::create(b, x, m);
            }
          }
          sv.push_back(x);
        }

        // 2d. The band and tail masks, only on tiles they cut: keys past Sk,
        //     or a band edge inside [k0, k0 + BN) for some row of the tile
        //     (j ≤ i + hi for all rows iff k0 + BN − 1 ≤ q0 + hi; j ≥ i + lo
        //     iff k0 ≥ qLast + lo).
        Value kEnd = add(k0, idx(blockN));
        Value partial = cmp(arith::CmpIPredicate::sgt, kEnd, sk);
        if (band.hi)
          partial = arith::OrIOp::create(
              b, partial,
              cmp(arith::CmpIPredicate::sgt,
                  arith::SubIOp::create(b, kEnd, idx(1)), add(q0, *band.hi)));
        if (band.lo)
          partial = arith::OrIOp::create(
              b, partial,
              cmp(arith::CmpIPredicate::slt, k0, add(qLast, *band.lo)));
        auto masked = scf::IfOp::create(
            b, partial,
            [&](OpBuilder &ib, Location) {
              OpBuilder::InsertionGuard g2(b);
              b.setInsertionPoint(ib.getInsertionBlock(),
                                  ib.getInsertionPoint());
              SmallVector<Value> out;
              for (auto [e, x] : llvm::enumerate(sv)) {
                Value key = keys[e];
                Value row = rowOf[rowOfScore(e)];
                Value keep = cmp(arith::CmpIPredicate::slt, key, sk);
                if (band.hi)
                  keep = arith::AndIOp::create(
                      b, keep,
                      cmp(arith::CmpIPredicate::sle, key, add(row, *band.hi)));
                if (band.lo)
                  keep = arith::AndIOp::create(
                      b, keep,
                      cmp(arith::CmpIPredicate::sge, key, add(row, *band.lo)));
                out.push_back(arith::SelectOp::create(b, keep, x, negInf));
              }
              scf::YieldOp::create(b, out);
            },
            [&](OpBuilder &eb, Location l2) {
              scf::YieldOp::create(eb, l2, sv);
            });

        // 2e. Online softmax per row: m_new = max(m, rowmax S), α =
        //     exp2((m − m_new)·log2e), P = exp2((S − m_new)·log2e),
        //     l = α·l + rowsum P (per-thread partial sums: α is the same
        //     across the quad, so the quad sum is taken once, at the end).
        SmallVector<Value> rowMax(mOld.begin(), mOld.end());
        for (auto [e, x] : llvm::enumerate(masked.getResults()))
          rowMax[rowOfScore(e)] =
              arith::MaximumFOp::create(b, rowMax[rowOfScore(e)], x);
        SmallVector<Value> mUse(rowsPerThread), alpha(rowsPerThread),
            rowSum(rowsPerThread);
        for (int64_t r = 0; r < rowsPerThread; ++r) {
          rowMax[r] = quadReduce(rowMax[r], /*isMax=*/true);
          // A row with only −inf scores subtracts 0 (never −inf − −inf).
          Value isNegInf = arith::CmpFOp::create(b, arith::CmpFPredicate::OEQ,
                                                 rowMax[r], negInf);
          mUse[r] = arith::SelectOp::create(b, isNegInf, zeroF, rowMax[r]);
          alpha[r] = exp2(arith::MulFOp::create(
              b, arith::SubFOp::create(b, mOld[r], mUse[r]), log2e));
          rowSum[r] = arith::MulFOp::create(b, alpha[r], lOld[r]);
        }
        SmallVector<Value> p;
        for (auto [e, x] : llvm::enumerate(masked.getResults())) {
          int64_t r = rowOfScore(e);
          Value pe = exp2(arith::MulFOp::create(
              b, arith::SubFOp::create(b, x, mUse[r]), log2e));
          rowSum[r] = arith::AddFOp::create(b, rowSum[r], pe);
          p.push_back(arith::TruncFOp::create(b, et, pe));
        }

        // 2f. O = α·O + P·V. P's A fragment of m-tile mt for keys
        //     16kj..16kj+15 is the accumulators of n-tiles 2kj and 2kj+1
        //     (8 values in order); V fragments by ldmatrix.trans at rows
        //     16kj + lane%16, columns 8nv, each used by every m-tile.
        Value vRow = add(stageRow, arith::RemUIOp::create(b, lane, idx(16)));
        SmallVector<Value> pFrag; // [mt][kj]
        for (int64_t mt = 0; mt < mTiles; ++mt)
          for (int64_t kj = 0; kj < blockN / 16; ++kj)
            pFrag.push_back(vector::FromElementsOp::create(
                b, fragA,
                ArrayRef<Value>(p).slice(4 * nTiles * mt + 8 * kj, 8)));
        SmallVector<Value> next(rowMax);
        next.append(rowSum);
        SmallVector<Value> o(oOld.begin(), oOld.end()); // [mt][nv]
        for (int64_t mt = 0; mt < mTiles; ++mt) {
          Value alphaV = vector::FromElementsOp::create(
              b, acc,
              ValueRange{alpha[2 * mt], alpha[2 * mt], alpha[2 * mt + 1],
                         alpha[2 * mt + 1]});
          for (int64_t nv = 0; nv < oTiles; ++nv)
            o[mt * oTiles + nv] =
                arith::MulFOp::create(b, o[mt * oTiles + nv], alphaV);
        }
        for (int64_t nv = 0; nv < oTiles; ++nv)
          for (int64_t kj = 0; kj < blockN / 16; ++kj) {
            Value vf = nvgpu::LdMatrixOp::create(
                b, fragB, vS, ValueRange{add(idx(16 * kj), vRow), idx(8 * nv)},
                /*transpose=*/true, /*numTiles=*/2);
            for (int64_t mt = 0; mt < mTiles; ++mt)
              o[mt * oTiles + nv] =
                  mma(pFrag[mt * (blockN / 16) + kj], vf, o[mt * oTiles + nv]);
          }
        next.append(o);
        // This stage is refilled by the next iteration.
        gpu::BarrierOp::create(b);
        scf::YieldOp::create(b, next);
      });

  // 3. O = acc / l, LSE = m + ln l (0 and −inf for rows with no key). With
  //    Dv even, each thread's two adjacent columns go out as one 32-bit
  //    store (column 2t is even, so the pair is 4-byte aligned).
  ValueRange fin = loop.getResults();
  bool pairs = dv % 2 == 0;
  Value oPairs = pairs ? asMemRef(oPtr, b.getI32Type()) : Value();
  for (int64_t r = 0; r < rowsPerThread; ++r) {
    int64_t mt = r / 2, i = r % 2;
    Value l = quadReduce(fin[rowsPerThread + r], /*isMax=*/false);
    Value m = fin[r];
    Value any = arith::CmpFOp::create(b, arith::CmpFPredicate::OGT, l, zeroF);
    Value inv = arith::SelectOp::create(
        b, any, arith::DivFOp::create(b, f32(1.0), l), zeroF);
    Value row = rowOf[r];
    Value rowOk = cmp(arith::CmpIPredicate::slt, row, sq);
    Value outRow = mul(add(oRowBase, row), idx(dv));
    for (int64_t nv = 0; nv < oTiles; ++nv) {
      Value col = add(idx(8 * nv), mul(t, idx(2)));
      SmallVector<Value> x(2);
      for (int64_t j = 0; j < 2; ++j)
        x[j] = arith::TruncFOp::create(
            b, et,
            arith::MulFOp::create(b,
                                  vector::ExtractOp::create(
                                      b,
                                      fin[2 * rowsPerThread + mt * oTiles + nv],
                                      ArrayRef<int64_t>{i, j}),
                                  inv));
      if (pairs) {
        Value pair =
            vector::FromElementsOp::create(b, VectorType::get({2}, et), x);
        Value word = LLVM::BitcastOp::create(b, b.getI32Type(), pair);
        ifThen(arith::AndIOp::create(
                   b, rowOk, cmp(arith::CmpIPredicate::slt, col, idx(dv))),
               [&] {
                 memref::StoreOp::create(b, word, oPairs,
                                         ValueRange{arith::DivUIOp::create(
                                             b, add(outRow, col), idx(2))});
               });
        continue;
      }
      for (int64_t j = 0; j < 2; ++j) {
        Value cj = add(col, idx(j));
        ifThen(arith::AndIOp::create(
                   b, rowOk, cmp(arith::CmpIPredicate::slt, cj, idx(dv))),
               [&] {
                 memref::StoreOp::create(b, x[j], o,
                                         ValueRange{add(outRow, cj)});
               });
      }
    }
    Value lseVal = arith::SelectOp::create(
        b, any, arith::AddFOp::create(b, m, log(l)), negInf);
    Value writer = arith::AndIOp::create(
        b, rowOk, cmp(arith::CmpIPredicate::eq, t, idx(0)));
    ifThen(writer, [&] {
      memref::StoreOp::create(b, lseVal, lse, ValueRange{add(oRowBase, row)});
    });
  }
  gpu::ReturnOp::create(b);
}

struct AttnEmitGpuKernelPass
    : mlir::attn::impl::AttnEmitGpuKernelBase<AttnEmitGpuKernelPass> {
  using AttnEmitGpuKernelBase::AttnEmitGpuKernelBase;

  void runOnOperation() override {
    ModuleOp module = getOperation();
    const ChipInfo *chipInfo = lookupChip(chip);
    if (!chipInfo) {
      std::string known;
      for (const ChipInfo &c : kChips)
        known += (known.empty() ? "" : ", ") + c.name.str();
      module.emitError() << "unknown chip '" << chip << "' (known: " << known
                         << ")";
      return signalPassFailure();
    }
    if (blockN < 0 || (blockN != 0 && (blockN % 16 != 0 || blockN > 128))) {
      module.emitError() << "block-n must be a multiple "
                         << "of 16 in [16, 128], got " << int64_t(blockN);
      return signalPassFailure();
    }
    if (blockM != 0 && blockM != 64 && blockM != 128) {
      module.emitError() << "block-m must be 64 or 128 (16 or 32 query rows "
                         << "per warp), got " << int64_t(blockM);
      return signalPassFailure();
    }
    if (stages < 0 || stages > 4) {
      module.emitError() << "stages must be in [1, 4] "
                         << "(0 = the chip's default), got " << int64_t(stages);
      return signalPassFailure();
    }
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
      AttentionOp op = ops.front();
      Type et = op.getQuery().getType().getElementType();
      if (ops.size() != 1 || et.isF32()) {
        op.emitError() << "the GPU backend needs one "
                       << "attn.attention per function on f16 or bf16 "
                       << "(tensor cores), got " << ops.size() << " on " << et;
        return signalPassFailure();
      }
      int64_t dp = roundUp(op.getQuery().getType().getShape()[3], 16);
      int64_t dvp = roundUp(op.getValue().getType().getShape()[3], 16);
      TileConfig tiles = defaultTiles(*chipInfo, dp, dvp);
      if (blockM)
        tiles.blockM = blockM;
      if (blockN)
        tiles.blockN = blockN;
      if (stages)
        tiles.stages = stages;

      OpBuilder kb(gpuModule.getBodyRegion());
      Type ptr = LLVM::LLVMPointerType::get(kb.getContext());
      SmallVector<Type> params(op.getMask() ? 6 : 5, ptr);
      params.append(2, kb.getI64Type());
      auto func = gpu::GPUFuncOp::create(kb, f.getLoc(), f.getName(),
                                         kb.getFunctionType(params, {}));
      func->setAttr(gpu::GPUDialect::getKernelFuncAttrName(), kb.getUnitAttr());
      func.setKnownBlockSizeAttr(
          kb.getDenseI32ArrayAttr({int32_t(kThreads), 1, 1}));
      ImplicitLocOpBuilder b(op.getLoc(), kb);
      KernelEmitter emitter(b, op, tiles);
      if (emitter.sharedBytes() > chipInfo->maxSharedBytes) {
        op.emitError() << "the kernel needs " << emitter.sharedBytes()
                       << " bytes of shared memory "
                       << "(block-m " << tiles.blockM << ", block-n "
                       << tiles.blockN << ", " << tiles.stages
                       << " stages), more than " << chip << "'s "
                       << chipInfo->maxSharedBytes
                       << "; use fewer stages or a smaller block-n";
        func.erase();
        return signalPassFailure();
      }
      func->setAttr("attn.dynamic_shared_memory",
                    kb.getI64IntegerAttr(emitter.sharedBytes()));
      func->setAttr("attn.query_tile_rows", kb.getI64IntegerAttr(tiles.blockM));
      func->setAttr("attn.key_tile_cols", kb.getI64IntegerAttr(tiles.blockN));
      func->setAttr("attn.stages", kb.getI64IntegerAttr(tiles.stages));
      emitter.emit(func);
      f.erase();
    }
  }
};

} // namespace
