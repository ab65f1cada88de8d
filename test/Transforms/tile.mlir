// -attn-tile: attn.attention -> scf.forall over work items running the tiled
// online softmax (attn.tile_init / tile_update / tile_finalize).
//
// CHECK lines hold for every tile size; DEF lines for the default tiles
// (q-tile = k-tile = 64), SMALL lines for q-tile = 32, k-tile = 16.
// RUN: attn-opt %s -attn-tile | FileCheck %s --enable-var-scope --check-prefixes=CHECK,DEF
// RUN: attn-opt %s -attn-tile='q-tile=32 k-tile=16' | FileCheck %s --enable-var-scope --check-prefixes=CHECK,SMALL
//
// Invalid options: the query tile must be a positive multiple of the vector
// width (16), the key tile positive.
// RUN: not attn-opt %s -attn-tile='q-tile=24' 2>&1 | FileCheck %s --check-prefix=ERR
// RUN: not attn-opt %s -attn-tile='k-tile=0' 2>&1 | FileCheck %s --check-prefix=ERR-K
// RUN: not attn-opt %s -attn-tile='q-tile=0' 2>&1 | FileCheck %s --check-prefix=ERR-Q0
// RUN: not attn-opt %s -attn-tile='k-tile=4097' 2>&1 | FileCheck %s --check-prefix=ERR-BIG
// ERR-BIG: error: attn-tile: q-tile (64) must be a positive multiple of vector-width (16) and k-tile (4097) positive, both at most 4096
// ERR: error: attn-tile: q-tile (24) must be a positive multiple of vector-width (16) and k-tile (64) positive, both at most 4096
// ERR-K: error: attn-tile: q-tile (64) must be a positive multiple of vector-width (16) and k-tile (0) positive, both at most 4096
// ERR-Q0: error: attn-tile: q-tile (0) must be a positive multiple of vector-width (16) and k-tile (64) positive, both at most 4096
// ERR-NOT: attn.tile_

//===----------------------------------------------------------------------===//
// The whole structure, on GQA with a bottom-right causal mask:
// B = 2, Hq = 8, Hkv = 2, Sq = 100, Sk = 300, D = Dv = 64.
//===----------------------------------------------------------------------===//

// CHECK-LABEL: func.func @gqa_causal_bottom_right(
// CHECK-SAME:      %[[QT:[^:]+]]: tensor<2x8x100x64xf16>, %[[KT:[^:]+]]: tensor<2x2x300x64xf16>, %[[VT:[^:]+]]: tensor<2x2x300x64xf16>)
// Operands are read through buffers; Q, K and V with any row strides (a
// contiguous head dim), the mask dense.
// CHECK-NEXT:    %[[Q:.+]] = bufferization.to_buffer %[[QT]] read_only : tensor<2x8x100x64xf16> to memref<2x8x100x64xf16, strided<[?, ?, ?, 1], offset: ?>>
// CHECK-NEXT:    %[[K:.+]] = bufferization.to_buffer %[[KT]] read_only : tensor<2x2x300x64xf16> to memref<2x2x300x64xf16, strided<[?, ?, ?, 1], offset: ?>>
// CHECK-NEXT:    %[[V:.+]] = bufferization.to_buffer %[[VT]] read_only : tensor<2x2x300x64xf16> to memref<2x2x300x64xf16, strided<[?, ?, ?, 1], offset: ?>>
// B, Sq and Sk are static: constants, and no run-time check.
// CHECK-NEXT:    %[[B:.+]] = arith.constant 2 : index
// CHECK-NEXT:    %[[SQ:.+]] = arith.constant 100 : index
// CHECK-NEXT:    %[[SK:.+]] = arith.constant 300 : index
// CHECK-NOT:     cf.assert
// O [B, Hq, Sq, Dv] and LSE [B, Hq, Sq] are fresh buffers.
// CHECK:         %[[O:.+]] = memref.alloc() {alignment = 64 : i64} : memref<2x8x100x64xf16>
// CHECK-NEXT:    %[[LSE:.+]] = memref.alloc() {alignment = 64 : i64} : memref<2x8x100xf32>
// The band of a bottom-right causal mask: j <= i + hi with hi = Sk - Sq (= 200),
// no lower bound; hi is clamped into [-Sq, Sk] (a wider band keeps the same
// keys).
// CHECK-NEXT:    %[[DIAG:.+]] = arith.subi %[[SK]], %[[SQ]] : index
// CHECK-NEXT:    %[[Z:.+]] = arith.constant 0 : index
// CHECK-NEXT:    %[[NEGSQ:.+]] = arith.subi %[[Z]], %[[SQ]] : index
// CHECK-NEXT:    %[[HI0:.+]] = arith.maxsi %[[DIAG]], %[[NEGSQ]] : index
// CHECK-NEXT:    %[[HI:.+]] = arith.minsi %[[HI0]], %[[SK]] : index
// DEF-NEXT:      %[[BMO:.+]] = arith.constant 64 : index
// SMALL-NEXT:    %[[BMO:.+]] = arith.constant 32 : index
// ceil(Sq / BM) query tiles: ceil(100 / 64) = 2, or ceil(100 / 32) = 4.
// CHECK-NEXT:    %[[NQT:.+]] = arith.ceildivsi %[[SQ]], %[[BMO]] : index
// CHECK-NEXT:    %[[HQ:.+]] = arith.constant 8 : index
// One work item per (b, h, query tile) in (B, Hq, ceil(Sq / BM)).
// CHECK-NEXT:    scf.forall (%[[IB:[^ ,]+]], %[[IH:[^ ,]+]], %[[IQT:[^ ,)]+]]) in (%[[B]], %[[HQ]], %[[NQT]]) {
// Work-item state: q_tile [D, BM], m [BM], l [BM], acc [Dv, BM], scores [BN, BM].
// DEF-NEXT:          %[[QTILE:.+]] = memref.alloca() {alignment = 64 : i64} : memref<64x64xf32>
// DEF-NEXT:          %[[M:.+]] = memref.alloca() {alignment = 64 : i64} : memref<64xf32>
// DEF-NEXT:          %[[L:.+]] = memref.alloca() {alignment = 64 : i64} : memref<64xf32>
// DEF-NEXT:          %[[ACC:.+]] = memref.alloca() {alignment = 64 : i64} : memref<64x64xf32>
// DEF-NEXT:          %[[S:.+]] = memref.alloca() {alignment = 64 : i64} : memref<64x64xf32>
// SMALL-NEXT:        %[[QTILE:.+]] = memref.alloca() {alignment = 64 : i64} : memref<64x32xf32>
// SMALL-NEXT:        %[[M:.+]] = memref.alloca() {alignment = 64 : i64} : memref<32xf32>
// SMALL-NEXT:        %[[L:.+]] = memref.alloca() {alignment = 64 : i64} : memref<32xf32>
// SMALL-NEXT:        %[[ACC:.+]] = memref.alloca() {alignment = 64 : i64} : memref<64x32xf32>
// SMALL-NEXT:        %[[S:.+]] = memref.alloca() {alignment = 64 : i64} : memref<16x32xf32>
// CHECK-NEXT:        %[[C1:.+]] = arith.constant 1 : index
// DEF-NEXT:          %[[BM:.+]] = arith.constant 64 : index
// DEF-NEXT:          %[[BN:.+]] = arith.constant 64 : index
// SMALL-NEXT:        %[[BM:.+]] = arith.constant 32 : index
// SMALL-NEXT:        %[[BN:.+]] = arith.constant 16 : index
// q0 = qt * BM, the first query row of the tile.
// CHECK-NEXT:        %[[Q0:.+]] = arith.muli %[[IQT]], %[[BM]] : index
// Query head h reads KV head h / (Hq / Hkv) = h / 4 (no K/V copies).
// CHECK-NEXT:        %[[GROUP:.+]] = arith.constant 4 : index
// CHECK-NEXT:        %[[HKV:.+]] = arith.divui %[[IH]], %[[GROUP]] : index
// Key-tile range for the rows [q0, qLast], qLast = q0 + min(BM, Sq - q0) - 1:
// no lower bound, so kStart = 0; kEnd = min(Sk, qLast + (Sk - Sq) + 1);
// tiles [kStart / BN, kEnd > kStart ? ceil(kEnd / BN) : kStart / BN).
// CHECK-NEXT:        %[[REM:.+]] = arith.subi %[[SQ]], %[[Q0]] : index
// CHECK-NEXT:        %[[ROWS:.+]] = arith.minsi %[[BM]], %[[REM]] : index
// CHECK-NEXT:        %[[QEND:.+]] = arith.addi %[[Q0]], %[[ROWS]] : index
// CHECK-NEXT:        %[[QLAST:.+]] = arith.subi %[[QEND]], %[[C1]] : index
// CHECK-NEXT:        %[[Z:.+]] = arith.constant 0 : index
// CHECK-NEXT:        %[[ONE:.+]] = arith.constant 1 : index
// CHECK-NEXT:        %[[LASTKEPT:.+]] = arith.addi %[[QLAST]], %[[HI]] : index
// CHECK-NEXT:        %[[KEND0:.+]] = arith.addi %[[LASTKEPT]], %[[ONE]] : index
// CHECK-NEXT:        %[[KEND:.+]] = arith.minsi %[[SK]], %[[KEND0]] : index
// CHECK-NEXT:        %[[KLO:.+]] = arith.divui %[[Z]], %[[BN]] : index
// CHECK-NEXT:        %[[NONEMPTY:.+]] = arith.cmpi sgt, %[[KEND]], %[[Z]] : index
// CHECK-NEXT:        %[[KCEIL:.+]] = arith.ceildivsi %[[KEND]], %[[BN]] : index
// CHECK-NEXT:        %[[KHI:.+]] = arith.select %[[NONEMPTY]], %[[KCEIL]], %[[KLO]] : index
// q_scale = scale = 1 / sqrt(64) = 0.125.
// CHECK-NEXT:        attn.tile_init %[[Q]][%[[IB]], %[[IH]], %[[Q0]]] into %[[QTILE]] state(%[[M]], %[[L]], %[[ACC]]) {q_scale = 1.250000e-01 : f64} : memref<2x8x100x64xf16, strided<[?, ?, ?, 1], offset: ?>>
// CHECK-NEXT:        scf.for %[[KTILE:.+]] = %[[KLO]] to %[[KHI]] step %[[C1]] {
// k0 = kt * BN. The tile is full iff it lies inside Sk (k0 + BN <= Sk) and the
// first row keeps its last key (k0 + BN - 1 <= q0 + (Sk - Sq)).
// CHECK-NEXT:          %[[K0:.+]] = arith.muli %[[KTILE]], %[[BN]] : index
// CHECK-NEXT:          %[[KTEND:.+]] = arith.addi %[[K0]], %[[BN]] : index
// CHECK-NEXT:          %[[INSIDE:.+]] = arith.cmpi sle, %[[KTEND]], %[[SK]] : index
// CHECK-NEXT:          %[[FIRSTHI:.+]] = arith.addi %[[Q0]], %[[HI]] : index
// CHECK-NEXT:          %[[KTLAST:.+]] = arith.subi %[[KTEND]], %[[C1]] : index
// CHECK-NEXT:          %[[BELOW:.+]] = arith.cmpi sle, %[[KTLAST]], %[[FIRSTHI]] : index
// CHECK-NEXT:          %[[FULL:.+]] = arith.andi %[[INSIDE]], %[[BELOW]] : i1
// CHECK-NEXT:          scf.if %[[FULL]] {
// Full tile: no element predicate (`masked` absent).
// CHECK-NEXT:            attn.tile_update %[[QTILE]], %[[K]], %[[V]] scratch %[[S]] state(%[[M]], %[[L]], %[[ACC]]) at(%[[IB]], %[[IH]], %[[HKV]], %[[Q0]], %[[K0]]) query_length %[[SQ]] {causal = #attn.causal<bottom_right>} :
// CHECK-NEXT:          } else {
// Diagonal or tail tile: `masked`.
// CHECK-NEXT:            attn.tile_update %[[QTILE]], %[[K]], %[[V]] scratch %[[S]] state(%[[M]], %[[L]], %[[ACC]]) at(%[[IB]], %[[IH]], %[[HKV]], %[[Q0]], %[[K0]]) query_length %[[SQ]] {causal = #attn.causal<bottom_right>, masked} :
// CHECK-NEXT:          }
// CHECK-NEXT:        }
// CHECK-NEXT:        attn.tile_finalize state(%[[M]], %[[L]], %[[ACC]]) into %[[O]], %[[LSE]] at(%[[IB]], %[[IH]], %[[Q0]]) :
// CHECK-NEXT:    }
// The results are the O and LSE buffers as tensors.
// CHECK-NEXT:    %[[OT:.+]] = bufferization.to_tensor %[[O]] restrict writable : memref<2x8x100x64xf16> to tensor<2x8x100x64xf16>
// CHECK-NEXT:    %[[LSET:.+]] = bufferization.to_tensor %[[LSE]] restrict writable : memref<2x8x100xf32> to tensor<2x8x100xf32>
// CHECK-NEXT:    return %[[OT]], %[[LSET]]
// CHECK-NOT:     attn.attention
func.func @gqa_causal_bottom_right(%q: tensor<2x8x100x64xf16>, %k: tensor<2x2x300x64xf16>, %v: tensor<2x2x300x64xf16>) -> (tensor<2x8x100x64xf16>, tensor<2x8x100xf32>) {
  %o, %lse = attn.attention %q, %k, %v {causal = #attn.causal<bottom_right>} : tensor<2x8x100x64xf16>, tensor<2x2x300x64xf16>, tensor<2x2x300x64xf16> -> tensor<2x8x100x64xf16>, tensor<2x8x100xf32>
  return %o, %lse : tensor<2x8x100x64xf16>, tensor<2x8x100xf32>
}

//===----------------------------------------------------------------------===//
// Plain MHA (no causal/window mask): every key tile is visited and only the
// tail tile past Sk is masked. D = 64, Dv = 32.
//===----------------------------------------------------------------------===//

// CHECK-LABEL: func.func @mha_no_band(
// CHECK:         %[[SQ:.+]] = arith.constant 128 : index
// CHECK-NEXT:    %[[SK:.+]] = arith.constant 200 : index
// No band: no diagonal offset Sk - Sq, and no max/min against it.
// CHECK-NOT:     arith.subi %[[SK]], %[[SQ]]
// CHECK:         %[[NQT:.+]] = arith.ceildivsi %[[SQ]]
// CHECK-NEXT:    %[[HQ:.+]] = arith.constant 4 : index
// CHECK-NEXT:    scf.forall (%{{[^ ,]+}}, %[[IH:[^ ,]+]], %{{[^ ,)]+}}) in (%{{[^ ,]+}}, %[[HQ]], %[[NQT]]) {
// acc is [Dv, BM] = [32, BM].
// DEF:             memref.alloca() {alignment = 64 : i64} : memref<32x64xf32>
// SMALL:           memref.alloca() {alignment = 64 : i64} : memref<32x32xf32>
// MHA: group size Hq / Hkv = 4 / 4 = 1.
// CHECK:           arith.muli
// CHECK-NEXT:      %[[GROUP:.+]] = arith.constant 1 : index
// CHECK-NEXT:      %[[HKV:.+]] = arith.divui %[[IH]], %[[GROUP]] : index
// CHECK-NOT:       arith.maxsi
// Key tiles [0, ceil(Sk / BN)): kStart = 0 and kEnd = Sk.
// CHECK:           %[[Z:.+]] = arith.constant 0 : index
// CHECK-NEXT:      arith.constant 1 : index
// CHECK-NEXT:      %[[KLO:.+]] = arith.divui %[[Z]], %[[BN:.+]] : index
// CHECK-NEXT:      %[[NONEMPTY:.+]] = arith.cmpi sgt, %[[SK]], %[[Z]] : index
// CHECK-NEXT:      %[[KCEIL:.+]] = arith.ceildivsi %[[SK]], %[[BN]] : index
// CHECK-NEXT:      %[[KHI:.+]] = arith.select %[[NONEMPTY]], %[[KCEIL]], %[[KLO]] : index
// CHECK-NEXT:      attn.tile_init
// CHECK-NEXT:      scf.for %[[KTILE:.+]] = %[[KLO]] to %[[KHI]] step
// Full iff k0 + BN <= Sk, nothing else.
// CHECK-NEXT:        %[[K0:.+]] = arith.muli %[[KTILE]], %[[BN]] : index
// CHECK-NEXT:        %[[KTEND:.+]] = arith.addi %[[K0]], %[[BN]] : index
// CHECK-NEXT:        %[[INSIDE:.+]] = arith.cmpi sle, %[[KTEND]], %[[SK]] : index
// CHECK-NEXT:        scf.if %[[INSIDE]] {
// CHECK-NEXT:          attn.tile_update {{.*}} at(%{{[^ ,]+}}, %[[IH]], %[[HKV]], %{{[^ ,]+}}, %[[K0]]) query_length %[[SQ]] : memref
// CHECK-NEXT:        } else {
// CHECK-NEXT:          attn.tile_update {{.*}} at(%{{[^ ,]+}}, %[[IH]], %[[HKV]], %{{[^ ,]+}}, %[[K0]]) query_length %[[SQ]] {masked} : memref
// CHECK-NEXT:        }
// CHECK-NEXT:      }
// CHECK-NEXT:      attn.tile_finalize
func.func @mha_no_band(%q: tensor<1x4x128x64xf32>, %k: tensor<1x4x200x64xf32>, %v: tensor<1x4x200x32xf32>) -> (tensor<1x4x128x32xf32>, tensor<1x4x128xf32>) {
  %o, %lse = attn.attention %q, %k, %v : tensor<1x4x128x64xf32>, tensor<1x4x200x64xf32>, tensor<1x4x200x32xf32> -> tensor<1x4x128x32xf32>, tensor<1x4x128xf32>
  return %o, %lse : tensor<1x4x128x32xf32>, tensor<1x4x128xf32>
}

//===----------------------------------------------------------------------===//
// Top-left causal mask with a window and a soft-cap: both sides of the band,
// Sq = Sk = 256, D = Dv = 128.
//===----------------------------------------------------------------------===//

// CHECK-LABEL: func.func @top_left_causal_window_softcap(
// CHECK:         %[[SQ:.+]] = arith.constant 256 : index
// CHECK-NEXT:    %[[SK:.+]] = arith.constant 256 : index
// Band: hi = min(0 (top-left causal), (Sk - Sq) + 16 (window right)),
//       lo = (Sk - Sq) - 32 (window left).
// CHECK:         %[[CZERO:.+]] = arith.constant 0 : index
// CHECK-NEXT:    %[[CR:.+]] = arith.constant 16 : index
// CHECK-NEXT:    %[[DIAG:.+]] = arith.subi %[[SK]], %[[SQ]] : index
// CHECK-NEXT:    %[[WR:.+]] = arith.addi %[[DIAG]], %[[CR]] : index
// CHECK-NEXT:    %[[HI0:.+]] = arith.minsi %[[CZERO]], %[[WR]] : index
// CHECK-NEXT:    %[[CL:.+]] = arith.constant 32 : index
// CHECK-NEXT:    %[[LO0:.+]] = arith.subi %[[DIAG]], %[[CL]] : index
// Both clamped into [-Sq, Sk].
// CHECK-NEXT:    %[[Z:.+]] = arith.constant 0 : index
// CHECK-NEXT:    %[[NEGSQ:.+]] = arith.subi %[[Z]], %[[SQ]] : index
// CHECK-NEXT:    %[[LO1:.+]] = arith.maxsi %[[LO0]], %[[NEGSQ]] : index
// CHECK-NEXT:    %[[LO:.+]] = arith.minsi %[[LO1]], %[[SK]] : index
// CHECK-NEXT:    %[[HI1:.+]] = arith.maxsi %[[HI0]], %[[NEGSQ]] : index
// CHECK-NEXT:    %[[HI:.+]] = arith.minsi %[[HI1]], %[[SK]] : index
// CHECK:         scf.forall
// CHECK:           %[[C1:.+]] = arith.constant 1 : index
// CHECK:           %[[REM:.+]] = arith.subi %[[SQ]], %[[Q0:.+]] : index
// CHECK-NEXT:      %[[ROWS:.+]] = arith.minsi %[[BM:.+]], %[[REM]] : index
// CHECK-NEXT:      %[[QEND:.+]] = arith.addi %[[Q0]], %[[ROWS]] : index
// CHECK-NEXT:      %[[QLAST:.+]] = arith.subi %[[QEND]], %[[C1]] : index
// CHECK-NEXT:      %[[Z:.+]] = arith.constant 0 : index
// CHECK-NEXT:      %[[ONE:.+]] = arith.constant 1 : index
// kStart = max(0, q0 + lo): the first key any row of the tile keeps.
// CHECK-NEXT:      %[[FIRSTLO:.+]] = arith.addi %[[Q0]], %[[LO]] : index
// CHECK-NEXT:      %[[KSTART:.+]] = arith.maxsi %[[Z]], %[[FIRSTLO]] : index
// kEnd = min(Sk, qLast + hi + 1): one past the last key any row keeps.
// CHECK-NEXT:      %[[LASTHI:.+]] = arith.addi %[[QLAST]], %[[HI]] : index
// CHECK-NEXT:      %[[KEND0:.+]] = arith.addi %[[LASTHI]], %[[ONE]] : index
// CHECK-NEXT:      %[[KEND:.+]] = arith.minsi %[[SK]], %[[KEND0]] : index
// CHECK-NEXT:      %[[KLO:.+]] = arith.divui %[[KSTART]], %[[BN:.+]] : index
// CHECK-NEXT:      %[[NONEMPTY:.+]] = arith.cmpi sgt, %[[KEND]], %[[KSTART]] : index
// CHECK-NEXT:      %[[KCEIL:.+]] = arith.ceildivsi %[[KEND]], %[[BN]] : index
// CHECK-NEXT:      %[[KHI:.+]] = arith.select %[[NONEMPTY]], %[[KCEIL]], %[[KLO]] : index
// With a soft-cap c, Q is scaled by scale / c = 0.1 / 20 = 0.005 (and
// tile_update applies c * tanh).
// CHECK-NEXT:      attn.tile_init {{.*}} {q_scale = 5.000000e-03 : f64}
// CHECK-NEXT:      scf.for %[[KTILE:.+]] = %[[KLO]] to %[[KHI]] step %[[C1]] {
// Full iff inside Sk, k0 >= qLast + lo (the last row keeps the first key) and
// k0 + BN - 1 <= q0 + hi (the first row keeps the last key).
// CHECK-NEXT:        %[[K0:.+]] = arith.muli %[[KTILE]], %[[BN]] : index
// CHECK-NEXT:        %[[KTEND:.+]] = arith.addi %[[K0]], %[[BN]] : index
// CHECK-NEXT:        %[[INSIDE:.+]] = arith.cmpi sle, %[[KTEND]], %[[SK]] : index
// CHECK-NEXT:        %[[LASTLO:.+]] = arith.addi %[[QLAST]], %[[LO]] : index
// CHECK-NEXT:        %[[ABOVE:.+]] = arith.cmpi sge, %[[K0]], %[[LASTLO]] : index
// CHECK-NEXT:        %[[FULL0:.+]] = arith.andi %[[INSIDE]], %[[ABOVE]] : i1
// CHECK-NEXT:        %[[FIRSTHI:.+]] = arith.addi %[[Q0]], %[[HI]] : index
// CHECK-NEXT:        %[[KTLAST:.+]] = arith.subi %[[KTEND]], %[[C1]] : index
// CHECK-NEXT:        %[[BELOW:.+]] = arith.cmpi sle, %[[KTLAST]], %[[FIRSTHI]] : index
// CHECK-NEXT:        %[[FULL:.+]] = arith.andi %[[FULL0]], %[[BELOW]] : i1
// CHECK-NEXT:        scf.if %[[FULL]] {
// CHECK-NEXT:          attn.tile_update {{.*}} {causal = #attn.causal<top_left>, softcap = 2.000000e+01 : f64, window = array<i64: 32, 16>} :
// CHECK-NEXT:        } else {
// CHECK-NEXT:          attn.tile_update {{.*}} {causal = #attn.causal<top_left>, masked, softcap = 2.000000e+01 : f64, window = array<i64: 32, 16>} :
// CHECK-NEXT:        }
func.func @top_left_causal_window_softcap(%q: tensor<1x4x256x128xbf16>, %k: tensor<1x4x256x128xbf16>, %v: tensor<1x4x256x128xbf16>) -> (tensor<1x4x256x128xbf16>, tensor<1x4x256xf32>) {
  %o, %lse = attn.attention %q, %k, %v {causal = #attn.causal<top_left>, window = array<i64: 32, 16>, scale = 0.1 : f64, softcap = 20.0 : f64} : tensor<1x4x256x128xbf16>, tensor<1x4x256x128xbf16>, tensor<1x4x256x128xbf16> -> tensor<1x4x256x128xbf16>, tensor<1x4x256xf32>
  return %o, %lse : tensor<1x4x256x128xbf16>, tensor<1x4x256xf32>
}

//===----------------------------------------------------------------------===//
// Decoding (Sq = 1): the query tile shrinks to one vector (16 rows) whatever
// q-tile is. B = 4, GQA 32 / 8, D = Dv = 128, Sk = 4096.
//===----------------------------------------------------------------------===//

// CHECK-LABEL: func.func @decode_query_tile_shrinks(
// CHECK:         %[[B:.+]] = arith.constant 4 : index
// CHECK-NEXT:    %[[SQ:.+]] = arith.constant 1 : index
// CHECK-NEXT:    %[[SK:.+]] = arith.constant 4096 : index
// BM = max(16, roundUp(1, 16)) = 16: one work item per (b, h).
// CHECK:         %[[BMO:.+]] = arith.constant 16 : index
// CHECK-NEXT:    %[[NQT:.+]] = arith.ceildivsi %[[SQ]], %[[BMO]] : index
// CHECK-NEXT:    %[[HQ:.+]] = arith.constant 32 : index
// CHECK-NEXT:    scf.forall (%{{[^ ,]+}}, %[[IH:[^ ,]+]], %[[IQT:[^ ,)]+]]) in (%[[B]], %[[HQ]], %[[NQT]]) {
// q_tile [D, BM] = [128, 16], m and l [16], acc [Dv, BM] = [128, 16],
// scores [BN, 16].
// CHECK-NEXT:        memref.alloca() {alignment = 64 : i64} : memref<128x16xf32>
// CHECK-NEXT:        memref.alloca() {alignment = 64 : i64} : memref<16xf32>
// CHECK-NEXT:        memref.alloca() {alignment = 64 : i64} : memref<16xf32>
// CHECK-NEXT:        memref.alloca() {alignment = 64 : i64} : memref<128x16xf32>
// DEF-NEXT:          memref.alloca() {alignment = 64 : i64} : memref<64x16xf32>
// SMALL-NEXT:        memref.alloca() {alignment = 64 : i64} : memref<16x16xf32>
// CHECK-NEXT:        arith.constant 1 : index
// CHECK-NEXT:        %[[BM:.+]] = arith.constant 16 : index
// DEF-NEXT:          arith.constant 64 : index
// SMALL-NEXT:        arith.constant 16 : index
// CHECK-NEXT:        arith.muli %[[IQT]], %[[BM]] : index
// Group size 32 / 8 = 4.
// CHECK-NEXT:        %[[GROUP:.+]] = arith.constant 4 : index
// CHECK-NEXT:        arith.divui %[[IH]], %[[GROUP]] : index
// q_scale = 1 / sqrt(128) = 0.08838834764831845.
// CHECK:             attn.tile_init {{.*}} {q_scale = 0.088388347648318433 : f64} : memref<4x32x1x128xf16, strided<[?, ?, ?, 1], offset: ?>>, memref<128x16xf32>, memref<16xf32>, memref<128x16xf32>
func.func @decode_query_tile_shrinks(%q: tensor<4x32x1x128xf16>, %k: tensor<4x8x4096x128xf16>, %v: tensor<4x8x4096x128xf16>) -> (tensor<4x32x1x128xf16>, tensor<4x32x1xf32>) {
  %o, %lse = attn.attention %q, %k, %v {causal = #attn.causal<bottom_right>} : tensor<4x32x1x128xf16>, tensor<4x8x4096x128xf16>, tensor<4x8x4096x128xf16> -> tensor<4x32x1x128xf16>, tensor<4x32x1xf32>
  return %o, %lse : tensor<4x32x1x128xf16>, tensor<4x32x1xf32>
}

// A short prefill: Sq = 40 rounds up to 48 rows (3 vectors) with q-tile = 64,
// and stays at 32 with q-tile = 32. D = 32, so q_scale = 1/sqrt(32) =
// 0.17677669529663687.
// CHECK-LABEL: func.func @short_prefill_query_tile_rounds_to_vector_width(
// DEF:           %[[BM:.+]] = arith.constant 48 : index
// SMALL:         %[[BM:.+]] = arith.constant 32 : index
// CHECK:         arith.ceildivsi %{{.+}}, %[[BM]] : index
// DEF:           attn.tile_init {{.*}} {q_scale = 0.17677669529663687 : f64} : memref<1x2x40x32xf32, strided<[?, ?, ?, 1], offset: ?>>, memref<32x48xf32>, memref<48xf32>, memref<32x48xf32>
// SMALL:         attn.tile_init {{.*}} {q_scale = 0.17677669529663687 : f64} : memref<1x2x40x32xf32, strided<[?, ?, ?, 1], offset: ?>>, memref<32x32xf32>, memref<32xf32>, memref<32x32xf32>
func.func @short_prefill_query_tile_rounds_to_vector_width(%q: tensor<1x2x40x32xf32>, %k: tensor<1x2x40x32xf32>, %v: tensor<1x2x40x32xf32>) -> (tensor<1x2x40x32xf32>, tensor<1x2x40xf32>) {
  %o, %lse = attn.attention %q, %k, %v : tensor<1x2x40x32xf32>, tensor<1x2x40x32xf32>, tensor<1x2x40x32xf32> -> tensor<1x2x40x32xf32>, tensor<1x2x40xf32>
  return %o, %lse : tensor<1x2x40x32xf32>, tensor<1x2x40xf32>
}

//===----------------------------------------------------------------------===//
// A mask operand: every visited tile is `masked` (no scf.if), but the
// causal band still limits the key-tile range.
//===----------------------------------------------------------------------===//

// CHECK-LABEL: func.func @float_bias_every_tile_masked(
// CHECK-SAME:      %[[BIAST:[^:]+]]: tensor<1x4x100x300xf32>)
// CHECK:         %[[BIAS:.+]] = bufferization.to_buffer %[[BIAST]] read_only : tensor<1x4x100x300xf32> to memref<1x4x100x300xf32>
// Top-left causal: hi = 0, kEnd = min(Sk, qLast + 0 + 1).
// CHECK:         %[[SK:.+]] = arith.constant 300 : index
// Static mask dims: checked by the verifier, no run-time check.
// CHECK-NOT:     cf.assert
// CHECK:         %[[HI0:.+]] = arith.constant 0 : index
// CHECK:         %[[HI:.+]] = arith.minsi %{{.+}}, %[[SK]] : index
// CHECK:         %[[LASTHI:.+]] = arith.addi %{{.+}}, %[[HI]] : index
// CHECK-NEXT:    %[[KEND0:.+]] = arith.addi %[[LASTHI]], %{{.+}} : index
// CHECK-NEXT:    %[[KEND:.+]] = arith.minsi %[[SK]], %[[KEND0]] : index
// CHECK:         attn.tile_init
// CHECK-NEXT:    scf.for %[[KTILE:.+]] = %{{.+}} to %{{.+}} step %{{.+}} {
// CHECK-NEXT:      %[[K0:.+]] = arith.muli %[[KTILE]], %{{.+}} : index
// CHECK-NEXT:      attn.tile_update %{{[^ ,]+}}, %{{[^ ,]+}}, %{{[^ ,]+}} mask(%[[BIAS]] : memref<1x4x100x300xf32>) scratch {{.*}}, %[[K0]]) query_length %{{[^ ]+}} {causal = #attn.causal<top_left>, masked} :
// CHECK-NEXT:    }
// CHECK-NEXT:    attn.tile_finalize
// CHECK-NOT:     scf.if
// CHECK:         return
func.func @float_bias_every_tile_masked(%q: tensor<2x4x100x32xf32>, %k: tensor<2x4x300x32xf32>, %v: tensor<2x4x300x32xf32>, %bias: tensor<1x4x100x300xf32>) -> (tensor<2x4x100x32xf32>, tensor<2x4x100xf32>) {
  %o, %lse = attn.attention %q, %k, %v mask(%bias : tensor<1x4x100x300xf32>) {causal = #attn.causal<top_left>} : tensor<2x4x100x32xf32>, tensor<2x4x300x32xf32>, tensor<2x4x300x32xf32> -> tensor<2x4x100x32xf32>, tensor<2x4x100xf32>
  return %o, %lse : tensor<2x4x100x32xf32>, tensor<2x4x100xf32>
}

//===----------------------------------------------------------------------===//
// Dynamic B, Sq and Sk: sizes come from memref.dim and the agreement of the
// operands is checked at run time with cf.assert. MQA (Hkv = 1).
//===----------------------------------------------------------------------===//

// CHECK-LABEL: func.func @dynamic_dims_runtime_checks(
// CHECK:         %[[Q:.+]] = bufferization.to_buffer %{{.+}} : tensor<?x8x?x64xf16> to memref<?x8x?x64xf16, strided<[?, ?, ?, 1], offset: ?>>
// CHECK-NEXT:    %[[K:.+]] = bufferization.to_buffer %{{.+}} : tensor<?x1x?x64xf16> to memref<?x1x?x64xf16, strided<[?, ?, ?, 1], offset: ?>>
// CHECK-NEXT:    %[[V:.+]] = bufferization.to_buffer %{{.+}} : tensor<?x1x?x64xf16> to memref<?x1x?x64xf16, strided<[?, ?, ?, 1], offset: ?>>
// CHECK-NEXT:    %[[MASK:.+]] = bufferization.to_buffer %{{.+}} : tensor<?x1x?x?xi1> to memref<?x1x?x?xi1>
// B = dim(Q, 0), Sq = dim(Q, 2), Sk = dim(K, 2).
// CHECK:         %[[B:.+]] = memref.dim %[[Q]], %{{.+}} : memref<?x8x?x64xf16, strided<[?, ?, ?, 1], offset: ?>>
// CHECK:         %[[SQ:.+]] = memref.dim %[[Q]], %{{.+}} : memref<?x8x?x64xf16, strided<[?, ?, ?, 1], offset: ?>>
// CHECK:         %[[SK:.+]] = memref.dim %[[K]], %{{.+}} : memref<?x1x?x64xf16, strided<[?, ?, ?, 1], offset: ?>>
// B(K) == B(Q), B(V) == B(Q), Sk(V) == Sk(K).
// CHECK:         %[[KB:.+]] = memref.dim %[[K]], %{{.+}} : memref<?x1x?x64xf16, strided<[?, ?, ?, 1], offset: ?>>
// CHECK-NEXT:    %[[OK0:.+]] = arith.cmpi eq, %[[B]], %[[KB]] : index
// CHECK-NEXT:    cf.assert %[[OK0]], "attn.attention: key batch != query batch"
// CHECK:         %[[VB:.+]] = memref.dim %[[V]], %{{.+}} : memref<?x1x?x64xf16, strided<[?, ?, ?, 1], offset: ?>>
// CHECK-NEXT:    %[[OK1:.+]] = arith.cmpi eq, %[[B]], %[[VB]] : index
// CHECK-NEXT:    cf.assert %[[OK1]], "attn.attention: value batch != query batch"
// CHECK:         %[[VSK:.+]] = memref.dim %[[V]], %{{.+}} : memref<?x1x?x64xf16, strided<[?, ?, ?, 1], offset: ?>>
// CHECK-NEXT:    %[[OK2:.+]] = arith.cmpi eq, %[[SK]], %[[VSK]] : index
// CHECK-NEXT:    cf.assert %[[OK2]], "attn.attention: value length != key length"
// Each dynamic mask dim d must be 1 or the full dim: (d == 1) || (d == full).
// CHECK:         %[[MB:.+]] = memref.dim %[[MASK]], %{{.+}} : memref<?x1x?x?xi1>
// CHECK-DAG:     %[[MB_FULL:.+]] = arith.cmpi eq, %[[MB]], %[[B]] : index
// CHECK-DAG:     %[[MB_ONE:.+]] = arith.cmpi eq, %[[MB]], %{{.+}} : index
// CHECK:         %[[OK3:.+]] = arith.ori %[[MB_ONE]], %[[MB_FULL]] : i1
// CHECK-NEXT:    cf.assert %[[OK3]], "attn.attention: mask dim 0 must be 1 or B"
// Mask dim 1 is a static 1 (broadcast): nothing to check.
// CHECK-NOT:     mask dim 1
// CHECK:         %[[MQ:.+]] = memref.dim %[[MASK]], %{{.+}} : memref<?x1x?x?xi1>
// CHECK-DAG:     %[[MQ_FULL:.+]] = arith.cmpi eq, %[[MQ]], %[[SQ]] : index
// CHECK-DAG:     %[[MQ_ONE:.+]] = arith.cmpi eq, %[[MQ]], %{{.+}} : index
// CHECK:         %[[OK4:.+]] = arith.ori %[[MQ_ONE]], %[[MQ_FULL]] : i1
// CHECK-NEXT:    cf.assert %[[OK4]], "attn.attention: mask dim 2 must be 1 or Sq"
// CHECK:         %[[MK:.+]] = memref.dim %[[MASK]], %{{.+}} : memref<?x1x?x?xi1>
// CHECK-DAG:     %[[MK_FULL:.+]] = arith.cmpi eq, %[[MK]], %[[SK]] : index
// CHECK-DAG:     %[[MK_ONE:.+]] = arith.cmpi eq, %[[MK]], %{{.+}} : index
// CHECK:         %[[OK5:.+]] = arith.ori %[[MK_ONE]], %[[MK_FULL]] : i1
// CHECK-NEXT:    cf.assert %[[OK5]], "attn.attention: mask dim 3 must be 1 or Sk"
// O and LSE are allocated with the dynamic B and Sq.
// CHECK-NEXT:    %[[O:.+]] = memref.alloc(%[[B]], %[[SQ]]) {alignment = 64 : i64} : memref<?x8x?x64xf16>
// CHECK-NEXT:    %[[LSE:.+]] = memref.alloc(%[[B]], %[[SQ]]) {alignment = 64 : i64} : memref<?x8x?xf32>
// CHECK:         %[[NQT:.+]] = arith.ceildivsi %[[SQ]], %{{.+}} : index
// CHECK-NEXT:    %[[HQ:.+]] = arith.constant 8 : index
// CHECK-NEXT:    scf.forall (%{{[^ ,]+}}, %[[IH:[^ ,]+]], %{{[^ ,)]+}}) in (%[[B]], %[[HQ]], %[[NQT]]) {
// MQA: group size 8 / 1 = 8.
// CHECK:           %[[GROUP:.+]] = arith.constant 8 : index
// CHECK-NEXT:      arith.divui %[[IH]], %[[GROUP]] : index
// Without band, the key range is [0, ceil(Sk / BN)).
// CHECK:           arith.cmpi sgt, %[[SK]], %{{.+}} : index
// CHECK-NEXT:      arith.ceildivsi %[[SK]], %{{.+}} : index
// CHECK:           scf.for
// CHECK-NEXT:        arith.muli
// CHECK-NEXT:        attn.tile_update {{.*}} mask(%[[MASK]] : memref<?x1x?x?xi1>) {{.*}} query_length %[[SQ]] {masked} :
// CHECK-NEXT:      }
// CHECK-NEXT:      attn.tile_finalize state({{.*}}) into %[[O]], %[[LSE]]
// CHECK:         bufferization.to_tensor %[[O]] restrict writable : memref<?x8x?x64xf16> to tensor<?x8x?x64xf16>
// CHECK-NEXT:    bufferization.to_tensor %[[LSE]] restrict writable : memref<?x8x?xf32> to tensor<?x8x?xf32>
func.func @dynamic_dims_runtime_checks(%q: tensor<?x8x?x64xf16>, %k: tensor<?x1x?x64xf16>, %v: tensor<?x1x?x64xf16>, %m: tensor<?x1x?x?xi1>) -> (tensor<?x8x?x64xf16>, tensor<?x8x?xf32>) {
  %o, %lse = attn.attention %q, %k, %v mask(%m : tensor<?x1x?x?xi1>) : tensor<?x8x?x64xf16>, tensor<?x1x?x64xf16>, tensor<?x1x?x64xf16> -> tensor<?x8x?x64xf16>, tensor<?x8x?xf32>
  return %o, %lse : tensor<?x8x?x64xf16>, tensor<?x8x?xf32>
}

// A static mask dim against a dynamic full dim is checked at run time
// (Sk: 9 == 1 || 9 == Sk); static against static (Hq: 4 vs 4) and size-1
// dims are not.
// CHECK-LABEL: func.func @static_mask_dim_dynamic_key_length(
// CHECK:         %[[K:.+]] = bufferization.to_buffer %arg1
// CHECK:         %[[SK:.+]] = memref.dim %[[K]], %{{.+}} : memref<?x4x?x32xf32, strided<[?, ?, ?, 1], offset: ?>>
// CHECK:         cf.assert %{{.+}}, "attn.attention: value length != key length"
// CHECK-NOT:     mask dim 0
// CHECK-NOT:     mask dim 1
// CHECK-NOT:     mask dim 2
// CHECK:         %[[C9:.+]] = arith.constant 9 : index
// CHECK-DAG:     %[[FULL:.+]] = arith.cmpi eq, %[[C9]], %[[SK]] : index
// CHECK-DAG:     %[[ONE:.+]] = arith.cmpi eq, %[[C9]], %{{.+}} : index
// CHECK:         %[[OK:.+]] = arith.ori %[[ONE]], %[[FULL]] : i1
// CHECK-NEXT:    cf.assert %[[OK]], "attn.attention: mask dim 3 must be 1 or Sk"
// CHECK-NEXT:    memref.alloc(%{{[^ ,]+}}, %{{[^ ,)]+}}) {alignment = 64 : i64} : memref<?x4x?x32xf32>
// CHECK-NOT:     cf.assert
// CHECK:         return
func.func @static_mask_dim_dynamic_key_length(%q: tensor<?x4x?x32xf32>, %k: tensor<?x4x?x32xf32>, %v: tensor<?x4x?x32xf32>, %m: tensor<1x4x1x9xf32>) -> (tensor<?x4x?x32xf32>, tensor<?x4x?xf32>) {
  %o, %lse = attn.attention %q, %k, %v mask(%m : tensor<1x4x1x9xf32>) : tensor<?x4x?x32xf32>, tensor<?x4x?x32xf32>, tensor<?x4x?x32xf32> -> tensor<?x4x?x32xf32>, tensor<?x4x?xf32>
  return %o, %lse : tensor<?x4x?x32xf32>, tensor<?x4x?xf32>
}
