// -attn-lower-tiles-to-vector: the tile ops become scf loops over
// vector<16xf32> registers. The inputs are hand-written tile-form IR with
// BM = 16 (one vector of queries), BN = 8 keys, D = 32, Dv = 16.
//
// RUN: attn-opt %s -attn-lower-tiles-to-vector | FileCheck %s --enable-var-scope
//
// No tile op survives and the math ops without a vector instruction (tanh
// for the soft-cap, log for the LSE) are expanded into polynomials.
// RUN: attn-opt %s -attn-lower-tiles-to-vector | FileCheck %s --check-prefix=GLOBAL
// GLOBAL-NOT: attn.tile_
// GLOBAL-NOT: math.tanh
// GLOBAL-NOT: math.log
// GLOBAL-NOT: math.exp
//
// Element predicates (-inf selects) appear in `masked` updates only.
// RUN: attn-opt %s -attn-lower-tiles-to-vector | FileCheck %s --check-prefix=PRED --enable-var-scope
//
// Another vector width: 2 vectors of 8 queries per BM = 16 tile.
// RUN: attn-opt %s -attn-lower-tiles-to-vector='vector-width=8' | FileCheck %s --check-prefix=W8 --enable-var-scope
//
// The query tile (16 rows) must be a multiple of the vector width.
// RUN: not attn-opt %s -attn-lower-tiles-to-vector='vector-width=32' 2>&1 | FileCheck %s --check-prefix=ERR
// ERR: error: 'attn.tile_init' op query tile of 16 rows is not a multiple of the vector width (32)

//===----------------------------------------------------------------------===//
// attn.tile_init: q_tile[d][r] = q_scale * Q[b, h, q0 + r, d], m = -inf,
// l = 0, acc = 0.
//===----------------------------------------------------------------------===//

// CHECK-LABEL: func.func @tile_init_f16(
// CHECK-SAME:      %[[Q:[^:]+]]: memref<1x2x?x32xf16>, %[[B:[^:]+]]: index, %[[H:[^:]+]]: index, %[[Q0:[^:]+]]: index, %[[QT:[^:]+]]: memref<32x16xf32>, %[[M:[^:]+]]: memref<16xf32>, %[[L:[^:]+]]: memref<16xf32>, %[[ACC:[^:]+]]: memref<16x16xf32>)
// CHECK-DAG:     %[[ZEROV:.+]] = arith.constant dense<0.000000e+00> : vector<16xf32>
// CHECK-DAG:     %[[NEGINFV:.+]] = arith.constant dense<0xFF800000> : vector<16xf32>
// CHECK-DAG:     %[[ZERO:.+]] = arith.constant 0.000000e+00 : f32
// q_scale = 0.18033688011112042 rounded to f32.
// CHECK-DAG:     %[[QSCALE:.+]] = arith.constant 0.180336878 : f32
// CHECK-DAG:     %[[C1:.+]] = arith.constant 1 : index
// CHECK-DAG:     %[[C16:.+]] = arith.constant 16 : index
// CHECK-DAG:     %[[C32:.+]] = arith.constant 32 : index
// CHECK:         %[[SQ:.+]] = memref.dim %[[Q]], %{{.+}} : memref<1x2x?x32xf16>
// rows = min(Sq - q0, BM); rows past Sq are zero padding.
// CHECK-NEXT:    %[[REM:.+]] = arith.subi %[[SQ]], %[[Q0]] : index
// CHECK-NEXT:    %[[ROWS:.+]] = arith.minsi %[[REM]], %[[C16]] : index
// CHECK-NEXT:    %[[LASTROW:.+]] = arith.subi %[[SQ]], %[[C1]] : index
// CHECK-NEXT:    scf.for %[[R:.+]] = %{{.+}} to %[[C16]] step %[[C1]] {
// CHECK-NEXT:      %[[VALID:.+]] = arith.cmpi slt, %[[R]], %[[ROWS]] : index
// CHECK-NEXT:      %[[ROW0:.+]] = arith.addi %[[Q0]], %[[R]] : index
// CHECK-NEXT:      %[[ROW:.+]] = arith.minsi %[[ROW0]], %[[LASTROW]] : index
// CHECK-NEXT:      scf.for %[[D:.+]] = %{{.+}} to %[[C32]] step %[[C1]] {
// CHECK-NEXT:        %[[X:.+]] = memref.load %[[Q]][%[[B]], %[[H]], %[[ROW]], %[[D]]] : memref<1x2x?x32xf16>
// CHECK-NEXT:        %[[XF:.+]] = arith.extf %[[X]] : f16 to f32
// CHECK-NEXT:        %[[XS:.+]] = arith.mulf %[[XF]], %[[QSCALE]] : f32
// CHECK-NEXT:        %[[XV:.+]] = arith.select %[[VALID]], %[[XS]], %[[ZERO]] : f32
// Stored transposed: q_tile[d][r].
// CHECK-NEXT:        memref.store %[[XV]], %[[QT]][%[[D]], %[[R]]] : memref<32x16xf32>
// CHECK-NEXT:      }
// CHECK-NEXT:    }
// CHECK-NEXT:    vector.store %[[NEGINFV]], %[[M]][%{{.+}}] : memref<16xf32>, vector<16xf32>
// CHECK-NEXT:    vector.store %[[ZEROV]], %[[L]][%{{.+}}] : memref<16xf32>, vector<16xf32>
// CHECK-NEXT:    scf.for %[[E:.+]] = %{{.+}} to %[[C16]] step %[[C1]] {
// CHECK-NEXT:      vector.store %[[ZEROV]], %[[ACC]][%[[E]], %{{.+}}] : memref<16x16xf32>, vector<16xf32>
// CHECK-NEXT:    }
// CHECK-NEXT:    return
func.func @tile_init_f16(%q: memref<1x2x?x32xf16>, %b: index, %h: index, %q0: index, %qt: memref<32x16xf32>, %m: memref<16xf32>, %l: memref<16xf32>, %acc: memref<16x16xf32>) {
  attn.tile_init %q[%b, %h, %q0] into %qt state(%m, %l, %acc) {q_scale = 0.18033688011112042 : f64} : memref<1x2x?x32xf16>, memref<32x16xf32>, memref<16xf32>, memref<16x16xf32>
  return
}

//===----------------------------------------------------------------------===//
// attn.tile_update of a full tile (no `masked`): the whole online-softmax
// step, without any element predicate.
//===----------------------------------------------------------------------===//

// CHECK-LABEL: func.func @tile_update_full_tile(
// CHECK-SAME:      %[[QT:[^:]+]]: memref<32x16xf32>, %[[K:[^:]+]]: memref<1x2x?x32xf32>, %[[V:[^:]+]]: memref<1x2x?x16xf32>, %[[S:[^:]+]]: memref<8x16xf32>, %[[M:[^:]+]]: memref<16xf32>, %[[L:[^:]+]]: memref<16xf32>, %[[ACC:[^:]+]]: memref<16x16xf32>, %[[B:[^:]+]]: index, %[[H:[^:]+]]: index, %[[HKV:[^:]+]]: index, %[[Q0:[^:]+]]: index, %[[K0:[^:]+]]: index, %[[SQ:[^:]+]]: index)
// CHECK-DAG:     %[[C127:.+]] = arith.constant dense<127> : vector<16xi32>
// CHECK-DAG:     %[[C23:.+]] = arith.constant dense<23> : vector<16xi32>
// CHECK-DAG:     %[[LN2:.+]] = arith.constant dense<0.693147182> : vector<16xf32>
// CHECK-DAG:     %[[LOG2EV:.+]] = arith.constant dense<1.44269502> : vector<16xf32>
// CHECK-DAG:     %[[HALF:.+]] = arith.constant dense<5.000000e-01> : vector<16xf32>
// CHECK-DAG:     %[[MIN_EXP:.+]] = arith.constant dense<-1.260000e+02> : vector<16xf32>
// CHECK-DAG:     %[[MAX_EXP:.+]] = arith.constant dense<1.270000e+02> : vector<16xf32>
// CHECK-DAG:     %[[NEGINF:.+]] = arith.constant dense<0xFF800000> : vector<16xf32>
// CHECK-DAG:     %[[ZERO:.+]] = arith.constant dense<0.000000e+00> : vector<16xf32>
// CHECK-DAG:     %[[C0:.+]] = arith.constant 0 : index
// CHECK-DAG:     %[[C1:.+]] = arith.constant 1 : index
// CHECK-DAG:     %[[C7:.+]] = arith.constant 7 : index
// CHECK-DAG:     %[[C8:.+]] = arith.constant 8 : index
// CHECK-DAG:     %[[C32:.+]] = arith.constant 32 : index
// CHECK:         %[[SK:.+]] = memref.dim %[[K]], %{{.+}} : memref<1x2x?x32xf32>
// Keys k0 + j are clamped to Sk - 1, so that padding keys of a tail tile read
// valid memory.
// CHECK-NEXT:    %[[LASTKEY:.+]] = arith.subi %[[SK]], %[[C1]] : index
// CHECK-NEXT:    %[[KEY0:.+]] = arith.minsi %[[K0]], %[[LASTKEY]] : index
// 1. S^T[j] = sum_d K[k0 + j][d] * q_tile[d]: per d, one vector of 16 queries
//    times one broadcast K element for each of the 8 keys held in registers.
// CHECK:         %[[SC:.+]]:8 = scf.for %[[D:.+]] = %[[C0]] to %[[C32]] step %[[C1]] iter_args({{.*}}) -> (vector<16xf32>, vector<16xf32>, vector<16xf32>, vector<16xf32>, vector<16xf32>, vector<16xf32>, vector<16xf32>, vector<16xf32>) {
// CHECK-NEXT:      %[[QV:.+]] = vector.load %[[QT]][%[[D]], %[[C0]]] : memref<32x16xf32>, vector<16xf32>
// CHECK-NEXT:      %[[KE:.+]] = memref.load %[[K]][%[[B]], %[[HKV]], %[[KEY0]], %[[D]]] : memref<1x2x?x32xf32>
// CHECK-NEXT:      %[[KB:.+]] = vector.broadcast %[[KE]] : f32 to vector<16xf32>
// CHECK-NEXT:      vector.fma %[[KB]], %[[QV]], %{{.+}} : vector<16xf32>
// CHECK-COUNT-7:   vector.fma %{{.+}}, %[[QV]], %{{.+}} : vector<16xf32>
// CHECK-NEXT:      scf.yield
// CHECK-NEXT:    }
// A full tile has no element predicate: the raw scores go to the scratch.
// CHECK-NEXT:    vector.store %[[SC]]#0, %[[S]][%[[C0]], %[[C0]]] : memref<8x16xf32>, vector<16xf32>
// CHECK:         vector.store %[[SC]]#7, %[[S]][%[[C7]], %[[C0]]] : memref<8x16xf32>, vector<16xf32>
// 4. m' = max(m, max_j S[j]) (element-wise: queries are the vector lanes).
// CHECK-NEXT:    %[[MOLD:.+]] = vector.load %[[M]][%[[C0]]] : memref<16xf32>, vector<16xf32>
// CHECK-NEXT:    %[[LOLD:.+]] = vector.load %[[L]][%[[C0]]] : memref<16xf32>, vector<16xf32>
// CHECK-NEXT:    %[[MNEW:.+]] = scf.for %[[J:.+]] = %[[C0]] to %[[C8]] step %[[C1]] iter_args(%[[MACC:.+]] = %[[MOLD]]) -> (vector<16xf32>) {
// CHECK-NEXT:      %[[SJ:.+]] = vector.load %[[S]][%[[J]], %[[C0]]] : memref<8x16xf32>, vector<16xf32>
// CHECK-NEXT:      %[[MX:.+]] = arith.maximumf %[[MACC]], %[[SJ]] : vector<16xf32>
// CHECK-NEXT:      scf.yield %[[MX]] : vector<16xf32>
// CHECK-NEXT:    }
// A row whose scores are all -inf keeps m' = -inf; 0 is subtracted instead.
// CHECK-NEXT:    %[[ISNEGINF:.+]] = arith.cmpf oeq, %[[MNEW]], %[[NEGINF]] : vector<16xf32>
// CHECK-NEXT:    %[[MUSE:.+]] = arith.select %[[ISNEGINF]], %[[ZERO]], %[[MNEW]] : vector<16xi1>, vector<16xf32>
// alpha = exp(m - m') = exp2((m - m') * log2(e)), with exp2 as a polynomial:
// CHECK-NEXT:    %[[DM:.+]] = arith.subf %[[MOLD]], %[[MUSE]] : vector<16xf32>
// CHECK-NEXT:    %[[X:.+]] = arith.mulf %[[DM]], %[[LOG2EV]] : vector<16xf32>
//   x' = clamp(x, -126, 127)
// CHECK-NEXT:    %[[XLO:.+]] = arith.maximumf %[[X]], %[[MIN_EXP]] : vector<16xf32>
// CHECK-NEXT:    %[[XC:.+]] = arith.minimumf %[[XLO]], %[[MAX_EXP]] : vector<16xf32>
//   n = floor(x' + 1/2), f = (x' - n) * ln 2
// CHECK-NEXT:    %[[XH:.+]] = arith.addf %[[XC]], %[[HALF]] : vector<16xf32>
// CHECK-NEXT:    %[[N:.+]] = math.floor %[[XH]] : vector<16xf32>
// CHECK-NEXT:    %[[F0:.+]] = arith.subf %[[XC]], %[[N]] : vector<16xf32>
// CHECK-NEXT:    %[[F:.+]] = arith.mulf %[[F0]], %[[LN2]] : vector<16xf32>
//   2^f = sum_{k <= 7} f^k / k!, by Horner (7 fma)
// CHECK-NEXT:    %[[P1:.+]] = math.fma %{{.+}}, %[[F]], %{{.+}} : vector<16xf32>
// CHECK-NEXT:    %[[P2:.+]] = math.fma %[[P1]], %[[F]], %{{.+}} : vector<16xf32>
// CHECK-NEXT:    %[[P3:.+]] = math.fma %[[P2]], %[[F]], %{{.+}} : vector<16xf32>
// CHECK-NEXT:    %[[P4:.+]] = math.fma %[[P3]], %[[F]], %{{.+}} : vector<16xf32>
// CHECK-NEXT:    %[[P5:.+]] = math.fma %[[P4]], %[[F]], %[[HALF]] : vector<16xf32>
// CHECK-NEXT:    %[[P6:.+]] = math.fma %[[P5]], %[[F]], %{{.+}} : vector<16xf32>
// CHECK-NEXT:    %[[P7:.+]] = math.fma %[[P6]], %[[F]], %{{.+}} : vector<16xf32>
//   2^n from the exponent bits: bitcast((n + 127) << 23)
// CHECK-NEXT:    %[[NI:.+]] = arith.fptosi %[[N]] : vector<16xf32> to vector<16xi32>
// CHECK-NEXT:    %[[BIASED:.+]] = arith.addi %[[NI]], %[[C127]] : vector<16xi32>
// CHECK-NEXT:    %[[BITS:.+]] = arith.shli %[[BIASED]], %[[C23]] : vector<16xi32>
// CHECK-NEXT:    %[[POW2N:.+]] = arith.bitcast %[[BITS]] : vector<16xi32> to vector<16xf32>
// CHECK-NEXT:    %[[R:.+]] = arith.mulf %[[P7]], %[[POW2N]] : vector<16xf32>
//   exactly 0 below -126 (so masked keys contribute nothing)
// CHECK-NEXT:    %[[TINY:.+]] = arith.cmpf olt, %[[X]], %[[MIN_EXP]] : vector<16xf32>
// CHECK-NEXT:    %[[ALPHA:.+]] = arith.select %[[TINY]], %[[ZERO]], %[[R]] : vector<16xi1>, vector<16xf32>
// 5. P = exp2((S - m') * log2(e)) stored over S; l = alpha * l + rowsum(P).
// CHECK-NEXT:    %[[SUM:.+]] = scf.for %[[J:.+]] = %[[C0]] to %[[C8]] step %[[C1]] iter_args(%[[SACC:.+]] = %[[ZERO]]) -> (vector<16xf32>) {
// CHECK-NEXT:      %[[SJ:.+]] = vector.load %[[S]][%[[J]], %[[C0]]] : memref<8x16xf32>, vector<16xf32>
// CHECK-NEXT:      %[[DJ:.+]] = arith.subf %[[SJ]], %[[MUSE]] : vector<16xf32>
// CHECK-NEXT:      %[[XJ:.+]] = arith.mulf %[[DJ]], %[[LOG2EV]] : vector<16xf32>
// CHECK:           math.floor
// CHECK:           arith.shli %{{.+}}, %[[C23]] : vector<16xi32>
// CHECK:           %[[PJ:.+]] = arith.select %{{.+}}, %[[ZERO]], %{{.+}} : vector<16xi1>, vector<16xf32>
// CHECK-NEXT:      vector.store %[[PJ]], %[[S]][%[[J]], %[[C0]]] : memref<8x16xf32>, vector<16xf32>
// CHECK-NEXT:      %[[SNEXT:.+]] = arith.addf %[[SACC]], %[[PJ]] : vector<16xf32>
// CHECK-NEXT:      scf.yield %[[SNEXT]] : vector<16xf32>
// CHECK-NEXT:    }
// CHECK-NEXT:    %[[LNEW:.+]] = math.fma %[[ALPHA]], %[[LOLD]], %[[SUM]] : vector<16xf32>
// CHECK-NEXT:    vector.store %[[LNEW]], %[[L]][%[[C0]]] : memref<16xf32>, vector<16xf32>
// CHECK-NEXT:    vector.store %[[MNEW]], %[[M]][%[[C0]]] : memref<16xf32>, vector<16xf32>
// 6. acc[e] = alpha * acc[e] + sum_j V[k0 + j][e] * P[j], over the
//    min(Sk - k0, BN) keys inside Sk; the 16 rows of acc stay in registers.
// CHECK-NEXT:    %[[KREM:.+]] = arith.subi %[[SK]], %[[K0]] : index
// CHECK-NEXT:    %[[NKEYS:.+]] = arith.minsi %[[KREM]], %[[C8]] : index
// CHECK-NEXT:    %[[A0:.+]] = vector.load %[[ACC]][%[[C0]], %[[C0]]] : memref<16x16xf32>, vector<16xf32>
// CHECK-NEXT:    %[[A0S:.+]] = arith.mulf %[[ALPHA]], %[[A0]] : vector<16xf32>
// CHECK:         %[[AC:.+]]:16 = scf.for %[[J:.+]] = %[[C0]] to %[[NKEYS]] step %[[C1]] iter_args(%[[A0ARG:[^ ]+]] = %[[A0S]],
// CHECK-NEXT:      %[[PV:.+]] = vector.load %[[S]][%[[J]], %[[C0]]] : memref<8x16xf32>, vector<16xf32>
// CHECK-NEXT:      %[[KEY:.+]] = arith.addi %[[K0]], %[[J]] : index
// CHECK-NEXT:      %[[VE:.+]] = memref.load %[[V]][%[[B]], %[[HKV]], %[[KEY]], %[[C0]]] : memref<1x2x?x16xf32>
// CHECK-NEXT:      %[[VB:.+]] = vector.broadcast %[[VE]] : f32 to vector<16xf32>
// CHECK-NEXT:      vector.fma %[[VB]], %[[PV]], %[[A0ARG]] : vector<16xf32>
// CHECK-COUNT-15:  vector.fma %{{.+}}, %[[PV]], %{{.+}} : vector<16xf32>
// CHECK-NEXT:      scf.yield
// CHECK-NEXT:    }
// CHECK-NEXT:    vector.store %[[AC]]#0, %[[ACC]][%[[C0]], %[[C0]]] : memref<16x16xf32>, vector<16xf32>
// PRED-LABEL:  func.func @tile_update_full_tile(
// PRED:          %[[NEGINF:.+]] = arith.constant dense<0xFF800000> : vector<16xf32>
// PRED-NOT:      arith.select {{.*}}, %[[NEGINF]] :
// With W = 8, the 16 queries are 2 vectors: 8 keys x 2 vectors = 16 score
// accumulators, and every K element feeds two fma.
// W8-LABEL:    func.func @tile_update_full_tile(
// W8-NOT:        vector<16xf32>
// W8:            scf.for {{.*}} -> (vector<8xf32>, vector<8xf32>, vector<8xf32>, vector<8xf32>, vector<8xf32>, vector<8xf32>, vector<8xf32>, vector<8xf32>, vector<8xf32>, vector<8xf32>, vector<8xf32>, vector<8xf32>, vector<8xf32>, vector<8xf32>, vector<8xf32>, vector<8xf32>) {
// W8-NEXT:         %[[QV0:.+]] = vector.load %{{.+}} : memref<32x16xf32>, vector<8xf32>
// W8-NEXT:         %[[QV1:.+]] = vector.load %{{.+}} : memref<32x16xf32>, vector<8xf32>
// W8-NEXT:         %[[KE:.+]] = memref.load
// W8-NEXT:         %[[KB:.+]] = vector.broadcast %[[KE]] : f32 to vector<8xf32>
// W8-NEXT:         vector.fma %[[KB]], %[[QV0]], %{{.+}} : vector<8xf32>
// W8-NEXT:         vector.fma %[[KB]], %[[QV1]], %{{.+}} : vector<8xf32>
// W8-NOT:        vector<16xf32>
// W8:            return
func.func @tile_update_full_tile(%qt: memref<32x16xf32>, %k: memref<1x2x?x32xf32>, %v: memref<1x2x?x16xf32>, %s: memref<8x16xf32>, %m: memref<16xf32>, %l: memref<16xf32>, %acc: memref<16x16xf32>, %b: index, %h: index, %hkv: index, %q0: index, %k0: index, %sq: index) {
  attn.tile_update %qt, %k, %v scratch %s state(%m, %l, %acc) at(%b, %h, %hkv, %q0, %k0) query_length %sq {causal = #attn.causal<bottom_right>} : memref<32x16xf32>, memref<1x2x?x32xf32>, memref<1x2x?x16xf32>, memref<8x16xf32>, memref<16xf32>, memref<16x16xf32>
  return
}

//===----------------------------------------------------------------------===//
// Masked tiles: the band and tail predicates, applied to S^T in registers.
//===----------------------------------------------------------------------===//

// Bottom-right causal: key j is kept for query i iff j < Sk and
// j <= i + (Sk - Sq), i.e. i >= j - (Sk - Sq).
// CHECK-LABEL: func.func @tile_update_masked_causal_bottom_right(
// CHECK-SAME:      %[[K:[^:]+]]: memref<1x2x?x32xf32>, %{{[^:]+}}: memref<1x2x?x16xf32>, %[[S:[^:]+]]: memref<8x16xf32>, {{.*}}, %[[Q0:[^:]+]]: index, %[[K0:[^:]+]]: index, %[[SQ:[^:]+]]: index)
// CHECK-DAG:     %[[NEGINF:.+]] = arith.constant dense<0xFF800000> : vector<16xf32>
// CHECK-DAG:     %[[IOTA:.+]] = arith.constant dense<[0, 1, 2, 3, 4, 5, 6, 7, 8, 9, 10, 11, 12, 13, 14, 15]> : vector<16xi32>
// CHECK-DAG:     %[[C0:.+]] = arith.constant 0 : index
// CHECK-DAG:     %[[C7:.+]] = arith.constant 7 : index
// CHECK:         %[[SK:.+]] = memref.dim %[[K]], %{{.+}} : memref<1x2x?x32xf32>
// hi = Sk - Sq, clamped into [-Sq, Sk].
// CHECK:         %[[DIAG:.+]] = arith.subi %[[SK]], %[[SQ]] : index
// CHECK-NEXT:    %[[NEGSQ:.+]] = arith.subi %[[C0]], %[[SQ]] : index
// CHECK-NEXT:    %[[HI0:.+]] = arith.maxsi %[[DIAG]], %[[NEGSQ]] : index
// CHECK-NEXT:    %[[HI:.+]] = arith.minsi %[[HI0]], %[[SK]] : index
// The query positions of the 16 lanes: q0 + [0, 16).
// CHECK-NEXT:    %[[Q0I:.+]] = arith.index_cast %[[Q0]] : index to i32
// CHECK-NEXT:    %[[Q0V:.+]] = vector.broadcast %[[Q0I]] : i32 to vector<16xi32>
// CHECK-NEXT:    %[[LANES:.+]] = arith.addi %[[Q0V]], %[[IOTA]] : vector<16xi32>
// CHECK:         %[[SC:.+]]:8 = scf.for
// CHECK:           vector.fma
// CHECK:         }
// Key k0 + 0: inside Sk (broadcast to all lanes) and i >= (k0 + 0) - hi.
// CHECK-NEXT:    %[[IN0:.+]] = arith.cmpi slt, %[[K0]], %[[SK]] : index
// CHECK-NEXT:    %[[IN0V:.+]] = vector.broadcast %[[IN0]] : i1 to vector<16xi1>
// CHECK-NEXT:    %[[JH0:.+]] = arith.subi %[[K0]], %[[HI]] : index
// CHECK-NEXT:    %[[JH0I:.+]] = arith.index_cast %[[JH0]] : index to i32
// CHECK-NEXT:    %[[JH0V:.+]] = vector.broadcast %[[JH0I]] : i32 to vector<16xi32>
// CHECK-NEXT:    %[[BAND0:.+]] = arith.cmpi sge, %[[LANES]], %[[JH0V]] : vector<16xi32>
// CHECK-NEXT:    %[[KEEP0:.+]] = arith.andi %[[IN0V]], %[[BAND0]] : vector<16xi1>
// CHECK-NEXT:    %[[S0:.+]] = arith.select %[[KEEP0]], %[[SC]]#0, %[[NEGINF]] : vector<16xi1>, vector<16xf32>
// CHECK-NEXT:    vector.store %[[S0]], %[[S]][%[[C0]], %[[C0]]] : memref<8x16xf32>, vector<16xf32>
// ... and the same for keys k0 + 1 ... k0 + 7.
// CHECK:         %[[KJ7:.+]] = arith.addi %[[K0]], %[[C7]] : index
// CHECK-NEXT:    %[[IN7:.+]] = arith.cmpi slt, %[[KJ7]], %[[SK]] : index
// CHECK-NEXT:    %[[IN7V:.+]] = vector.broadcast %[[IN7]] : i1 to vector<16xi1>
// CHECK-NEXT:    %[[JH7:.+]] = arith.subi %[[KJ7]], %[[HI]] : index
// CHECK-NEXT:    %[[JH7I:.+]] = arith.index_cast %[[JH7]] : index to i32
// CHECK-NEXT:    %[[JH7V:.+]] = vector.broadcast %[[JH7I]] : i32 to vector<16xi32>
// CHECK-NEXT:    %[[BAND7:.+]] = arith.cmpi sge, %[[LANES]], %[[JH7V]] : vector<16xi32>
// CHECK-NEXT:    %[[KEEP7:.+]] = arith.andi %[[IN7V]], %[[BAND7]] : vector<16xi1>
// CHECK-NEXT:    %[[S7:.+]] = arith.select %[[KEEP7]], %[[SC]]#7, %[[NEGINF]] : vector<16xi1>, vector<16xf32>
// CHECK-NEXT:    vector.store %[[S7]], %[[S]][%[[C7]], %[[C0]]] : memref<8x16xf32>, vector<16xf32>
// PRED-LABEL:  func.func @tile_update_masked_causal_bottom_right(
// PRED:          %[[NEGINF:.+]] = arith.constant dense<0xFF800000> : vector<16xf32>
// PRED-COUNT-8:  arith.select {{.*}}, %[[NEGINF]] : vector<16xi1>, vector<16xf32>
// PRED-NOT:      arith.select {{.*}}, %[[NEGINF]] :
func.func @tile_update_masked_causal_bottom_right(%qt: memref<32x16xf32>, %k: memref<1x2x?x32xf32>, %v: memref<1x2x?x16xf32>, %s: memref<8x16xf32>, %m: memref<16xf32>, %l: memref<16xf32>, %acc: memref<16x16xf32>, %b: index, %h: index, %hkv: index, %q0: index, %k0: index, %sq: index) {
  attn.tile_update %qt, %k, %v scratch %s state(%m, %l, %acc) at(%b, %h, %hkv, %q0, %k0) query_length %sq {causal = #attn.causal<bottom_right>, masked} : memref<32x16xf32>, memref<1x2x?x32xf32>, memref<1x2x?x16xf32>, memref<8x16xf32>, memref<16xf32>, memref<16x16xf32>
  return
}

// A window (left 4, right 2) without causal mask: kept iff
// i + lo <= j <= i + hi with lo = (Sk - Sq) - 4 and hi = (Sk - Sq) + 2,
// i.e. j - hi <= i <= j - lo.
// CHECK-LABEL: func.func @tile_update_masked_window(
// CHECK-SAME:      %[[K:[^:]+]]: memref<1x2x?x32xf32>, {{.*}}, %[[K0:[^:]+]]: index, %[[SQ:[^:]+]]: index)
// CHECK-DAG:     %[[NEGINF:.+]] = arith.constant dense<0xFF800000> : vector<16xf32>
// CHECK-DAG:     %[[C2:.+]] = arith.constant 2 : index
// CHECK-DAG:     %[[C4:.+]] = arith.constant 4 : index
// CHECK:         %[[SK:.+]] = memref.dim %[[K]], %{{.+}} : memref<1x2x?x32xf32>
// CHECK:         %[[DIAG:.+]] = arith.subi %[[SK]], %[[SQ]] : index
// CHECK-NEXT:    %[[HI0:.+]] = arith.addi %[[DIAG]], %[[C2]] : index
// CHECK-NEXT:    %[[LO0:.+]] = arith.subi %[[DIAG]], %[[C4]] : index
// Both clamped into [-Sq, Sk].
// CHECK-NEXT:    %[[NEGSQ:.+]] = arith.subi %{{.+}}, %[[SQ]] : index
// CHECK-NEXT:    %[[LO1:.+]] = arith.maxsi %[[LO0]], %[[NEGSQ]] : index
// CHECK-NEXT:    %[[LO:.+]] = arith.minsi %[[LO1]], %[[SK]] : index
// CHECK-NEXT:    %[[HI1:.+]] = arith.maxsi %[[HI0]], %[[NEGSQ]] : index
// CHECK-NEXT:    %[[HI:.+]] = arith.minsi %[[HI1]], %[[SK]] : index
// CHECK-NEXT:    %[[Q0I:.+]] = arith.index_cast
// CHECK-NEXT:    %[[Q0V:.+]] = vector.broadcast %[[Q0I]]
// CHECK-NEXT:    %[[LANES:.+]] = arith.addi %[[Q0V]], %{{.+}} : vector<16xi32>
// CHECK:         %[[SC:.+]]:8 = scf.for
// CHECK:         }
// CHECK-NEXT:    %[[IN0:.+]] = arith.cmpi slt, %[[K0]], %[[SK]] : index
// CHECK-NEXT:    %[[IN0V:.+]] = vector.broadcast %[[IN0]] : i1 to vector<16xi1>
// i >= j - hi
// CHECK-NEXT:    %[[JH:.+]] = arith.subi %[[K0]], %[[HI]] : index
// CHECK-NEXT:    %[[JHI:.+]] = arith.index_cast %[[JH]] : index to i32
// CHECK-NEXT:    %[[JHV:.+]] = vector.broadcast %[[JHI]] : i32 to vector<16xi32>
// CHECK-NEXT:    %[[GE:.+]] = arith.cmpi sge, %[[LANES]], %[[JHV]] : vector<16xi32>
// CHECK-NEXT:    %[[KEEPA:.+]] = arith.andi %[[IN0V]], %[[GE]] : vector<16xi1>
// i <= j - lo
// CHECK-NEXT:    %[[JL:.+]] = arith.subi %[[K0]], %[[LO]] : index
// CHECK-NEXT:    %[[JLI:.+]] = arith.index_cast %[[JL]] : index to i32
// CHECK-NEXT:    %[[JLV:.+]] = vector.broadcast %[[JLI]] : i32 to vector<16xi32>
// CHECK-NEXT:    %[[LE:.+]] = arith.cmpi sle, %[[LANES]], %[[JLV]] : vector<16xi32>
// CHECK-NEXT:    %[[KEEP:.+]] = arith.andi %[[KEEPA]], %[[LE]] : vector<16xi1>
// CHECK-NEXT:    arith.select %[[KEEP]], %[[SC]]#0, %[[NEGINF]] : vector<16xi1>, vector<16xf32>
// PRED-LABEL:  func.func @tile_update_masked_window(
// PRED:          %[[NEGINF:.+]] = arith.constant dense<0xFF800000> : vector<16xf32>
// PRED-COUNT-8:  arith.select {{.*}}, %[[NEGINF]] : vector<16xi1>, vector<16xf32>
func.func @tile_update_masked_window(%qt: memref<32x16xf32>, %k: memref<1x2x?x32xf32>, %v: memref<1x2x?x16xf32>, %s: memref<8x16xf32>, %m: memref<16xf32>, %l: memref<16xf32>, %acc: memref<16x16xf32>, %b: index, %h: index, %hkv: index, %q0: index, %k0: index, %sq: index) {
  attn.tile_update %qt, %k, %v scratch %s state(%m, %l, %acc) at(%b, %h, %hkv, %q0, %k0) query_length %sq {masked, window = array<i64: 4, 2>} : memref<32x16xf32>, memref<1x2x?x32xf32>, memref<1x2x?x16xf32>, memref<8x16xf32>, memref<16xf32>, memref<16x16xf32>
  return
}

//===----------------------------------------------------------------------===//
// The mask operand.
//===----------------------------------------------------------------------===//

// An i1 keep mask broadcast over B and Hq (static size-1 dims index 0) with
// dynamic Sq and Sk dims (index 0 at run time when the dim is 1):
// S[j][r] = mask[0, 0, q0 + r, k0 + j] ? S[j][r] : -inf.
// CHECK-LABEL: func.func @tile_update_bool_mask(
// CHECK-SAME:      %[[MASK:[^:]+]]: memref<1x1x?x?xi1>, %[[S:[^:]+]]: memref<8x16xf32>, {{.*}}, %[[Q0:[^:]+]]: index, %[[K0:[^:]+]]: index, %[[SQ:[^:]+]]: index)
// CHECK-DAG:     %[[NEGINF_S:.+]] = arith.constant 0xFF800000 : f32
// CHECK-DAG:     %[[C0:.+]] = arith.constant 0 : index
// CHECK-DAG:     %[[C1:.+]] = arith.constant 1 : index
// CHECK-DAG:     %[[C8:.+]] = arith.constant 8 : index
// CHECK-DAG:     %[[C16:.+]] = arith.constant 16 : index
// After the tail predicate on S^T, the scores are revisited element-wise.
// CHECK:         %[[LASTQ:.+]] = arith.subi %[[SQ]], %[[C1]] : index
// CHECK-NEXT:    scf.for %[[R:.+]] = %[[C0]] to %[[C16]] step %[[C1]] {
// CHECK-NEXT:      %[[QROW:.+]] = arith.addi %[[Q0]], %[[R]] : index
// CHECK-NEXT:      %[[QROWC:.+]] = arith.minsi %[[QROW]], %[[LASTQ]] : index
// CHECK-NEXT:      %[[MSQ:.+]] = memref.dim %[[MASK]], %{{.+}} : memref<1x1x?x?xi1>
// CHECK-NEXT:      %[[MSQ1:.+]] = arith.cmpi eq, %[[MSQ]], %[[C1]] : index
// CHECK-NEXT:      %[[MQ:.+]] = arith.select %[[MSQ1]], %[[C0]], %[[QROWC]] : index
// CHECK-NEXT:      scf.for %[[J:.+]] = %[[C0]] to %[[C8]] step %[[C1]] {
// CHECK-NEXT:        %[[KEY:.+]] = arith.addi %[[K0]], %[[J]] : index
// CHECK-NEXT:        %[[KEYC:.+]] = arith.minsi %[[KEY]], %{{.+}} : index
// CHECK-NEXT:        %[[MSK:.+]] = memref.dim %[[MASK]], %{{.+}} : memref<1x1x?x?xi1>
// CHECK-NEXT:        %[[MSK1:.+]] = arith.cmpi eq, %[[MSK]], %[[C1]] : index
// CHECK-NEXT:        %[[MK:.+]] = arith.select %[[MSK1]], %[[C0]], %[[KEYC]] : index
// CHECK-NEXT:        %[[SV:.+]] = memref.load %[[S]][%[[J]], %[[R]]] : memref<8x16xf32>
// CHECK-NEXT:        %[[KEEP:.+]] = memref.load %[[MASK]][%[[C0]], %[[C0]], %[[MQ]], %[[MK]]] : memref<1x1x?x?xi1>
// CHECK-NEXT:        %[[SM:.+]] = arith.select %[[KEEP]], %[[SV]], %[[NEGINF_S]] : f32
// CHECK-NEXT:        memref.store %[[SM]], %[[S]][%[[J]], %[[R]]] : memref<8x16xf32>
// PRED-LABEL:  func.func @tile_update_bool_mask(
// PRED:          %[[NEGINF_S:.+]] = arith.constant 0xFF800000 : f32
// PRED:          arith.select {{.*}}, %[[NEGINF_S]] : f32
func.func @tile_update_bool_mask(%qt: memref<32x16xf32>, %k: memref<1x2x?x32xf32>, %v: memref<1x2x?x16xf32>, %mask: memref<1x1x?x?xi1>, %s: memref<8x16xf32>, %m: memref<16xf32>, %l: memref<16xf32>, %acc: memref<16x16xf32>, %b: index, %h: index, %hkv: index, %q0: index, %k0: index, %sq: index) {
  attn.tile_update %qt, %k, %v mask(%mask : memref<1x1x?x?xi1>) scratch %s state(%m, %l, %acc) at(%b, %h, %hkv, %q0, %k0) query_length %sq {masked} : memref<32x16xf32>, memref<1x2x?x32xf32>, memref<1x2x?x16xf32>, memref<8x16xf32>, memref<16xf32>, memref<16x16xf32>
  return
}

// An f16 additive bias [B, Hq, 1, Sk] (broadcast over queries), with a
// soft-cap c = 30 and static Sk = 8:
//   S = c * tanh(S), tanh being expanded into a clamped rational polynomial;
//   S += bias.
// CHECK-LABEL: func.func @tile_update_f16_bias_softcap(
// CHECK-SAME:      %[[BIAS:[^:]+]]: memref<2x4x1x8xf16>, %[[S:[^:]+]]: memref<8x16xf32>, {{.*}}, %[[B:[^:]+]]: index, %[[H:[^:]+]]: index, %{{[^:]+}}: index, %{{[^:]+}}: index, %[[K0:[^:]+]]: index, %{{[^:]+}}: index)
// CHECK-DAG:     %[[TANH_CLAMP:.+]] = arith.constant dense<7.99881172> : vector<16xf32>
// CHECK-DAG:     %[[CAP:.+]] = arith.constant dense<3.000000e+01> : vector<16xf32>
// CHECK-DAG:     %[[NEGINF:.+]] = arith.constant dense<0xFF800000> : vector<16xf32>
// CHECK-DAG:     %[[C0:.+]] = arith.constant 0 : index
// CHECK-DAG:     %[[C7:.+]] = arith.constant 7 : index
// CHECK-DAG:     %[[C8:.+]] = arith.constant 8 : index
// CHECK:         %[[SC:.+]]:8 = scf.for
// CHECK:         }
// tanh(S[0]): clamp, then p(x) / q(x).
// CHECK:         arith.cmpf ult, %[[SC]]#0, %[[TANH_CLAMP]] : vector<16xf32>
// CHECK:         %[[TANH:.+]] = arith.divf %{{.+}}, %{{.+}} : vector<16xf32>
// CHECK-NEXT:    %[[TANHS:.+]] = arith.select %{{.+}}, %{{.+}}, %[[TANH]] : vector<16xi1>, vector<16xf32>
// CHECK-NEXT:    %[[CAPPED:.+]] = arith.mulf %[[TANHS]], %[[CAP]] : vector<16xf32>
// Static Sk = 8: the tail predicate compares k0 + j with the constant.
// CHECK-NEXT:    %[[IN0:.+]] = arith.cmpi slt, %[[K0]], %[[C8]] : index
// CHECK-NEXT:    %[[IN0V:.+]] = vector.broadcast %[[IN0]] : i1 to vector<16xi1>
// CHECK-NEXT:    %[[S0:.+]] = arith.select %[[IN0V]], %[[CAPPED]], %[[NEGINF]] : vector<16xi1>, vector<16xf32>
// CHECK-NEXT:    vector.store %[[S0]], %[[S]][%[[C0]], %[[C0]]]
// The bias: indices [b, h, 0 (broadcast), min(k0 + j, Sk - 1)].
// CHECK:         scf.for %[[R:.+]] = %[[C0]] to
// CHECK-NEXT:      scf.for %[[J:.+]] = %[[C0]] to %[[C8]]
// CHECK-NEXT:        %[[KEY:.+]] = arith.addi %[[K0]], %[[J]] : index
// CHECK-NEXT:        %[[KEYC:.+]] = arith.minsi %[[KEY]], %[[C7]] : index
// CHECK-NEXT:        %[[SV:.+]] = memref.load %[[S]][%[[J]], %[[R]]] : memref<8x16xf32>
// CHECK-NEXT:        %[[BV:.+]] = memref.load %[[BIAS]][%[[B]], %[[H]], %[[C0]], %[[KEYC]]] : memref<2x4x1x8xf16>
// CHECK-NEXT:        %[[BF:.+]] = arith.extf %[[BV]] : f16 to f32
// CHECK-NEXT:        %[[SB:.+]] = arith.addf %[[SV]], %[[BF]] : f32
// CHECK-NEXT:        memref.store %[[SB]], %[[S]][%[[J]], %[[R]]] : memref<8x16xf32>
// PRED-LABEL:  func.func @tile_update_f16_bias_softcap(
// PRED:          %[[NEGINF:.+]] = arith.constant dense<0xFF800000> : vector<16xf32>
// PRED-COUNT-8:  arith.select {{.*}}, %[[NEGINF]] : vector<16xi1>, vector<16xf32>
// A float mask adds: no ninth vector select of -inf.
// PRED-NOT:      arith.select {{.*}}, %[[NEGINF]] : vector<16xi1>, vector<16xf32>
func.func @tile_update_f16_bias_softcap(%qt: memref<32x16xf32>, %k: memref<2x4x8x32xf32>, %v: memref<2x4x8x16xf32>, %bias: memref<2x4x1x8xf16>, %s: memref<8x16xf32>, %m: memref<16xf32>, %l: memref<16xf32>, %acc: memref<16x16xf32>, %b: index, %h: index, %hkv: index, %q0: index, %k0: index, %sq: index) {
  attn.tile_update %qt, %k, %v mask(%bias : memref<2x4x1x8xf16>) scratch %s state(%m, %l, %acc) at(%b, %h, %hkv, %q0, %k0) query_length %sq {masked, softcap = 30.0 : f64} : memref<32x16xf32>, memref<2x4x8x32xf32>, memref<2x4x8x16xf32>, memref<8x16xf32>, memref<16xf32>, memref<16x16xf32>
  return
}

//===----------------------------------------------------------------------===//
// attn.tile_finalize: for the rows inside Sq,
//   O = l > 0 ? acc / l : 0 (rounded once to f16),
//   LSE = l > 0 ? m + ln(l) : -inf.
//===----------------------------------------------------------------------===//

// CHECK-LABEL: func.func @tile_finalize_f16(
// PRED-LABEL:  func.func @tile_finalize_f16(
// CHECK-SAME:      %[[M:[^:]+]]: memref<16xf32>, %[[L:[^:]+]]: memref<16xf32>, %[[ACC:[^:]+]]: memref<16x16xf32>, %[[O:[^:]+]]: memref<1x8x?x16xf16>, %[[LSE:[^:]+]]: memref<1x8x?xf32>, %[[B:[^:]+]]: index, %[[H:[^:]+]]: index, %[[Q0:[^:]+]]: index)
// CHECK-DAG:     %[[NEGINF:.+]] = arith.constant 0xFF800000 : f32
// CHECK-DAG:     %[[ONE:.+]] = arith.constant 1.000000e+00 : f32
// CHECK-DAG:     %[[ZERO:.+]] = arith.constant 0.000000e+00 : f32
// CHECK-DAG:     %[[C0:.+]] = arith.constant 0 : index
// CHECK-DAG:     %[[C1:.+]] = arith.constant 1 : index
// CHECK-DAG:     %[[C16:.+]] = arith.constant 16 : index
// Only the min(BM, Sq - q0) rows inside Sq are stored.
// CHECK:         %[[SQ:.+]] = memref.dim %[[O]], %{{.+}} : memref<1x8x?x16xf16>
// CHECK-NEXT:    %[[REM:.+]] = arith.subi %[[SQ]], %[[Q0]] : index
// CHECK-NEXT:    %[[ROWS:.+]] = arith.minsi %[[REM]], %[[C16]] : index
// CHECK-NEXT:    scf.for %[[R:.+]] = %[[C0]] to %[[ROWS]] step %[[C1]] {
// CHECK-NEXT:      %[[ROW:.+]] = arith.addi %[[Q0]], %[[R]] : index
// CHECK-NEXT:      %[[LV:.+]] = memref.load %[[L]][%[[R]]] : memref<16xf32>
// CHECK-NEXT:      %[[MV:.+]] = memref.load %[[M]][%[[R]]] : memref<16xf32>
// CHECK-NEXT:      %[[ANY:.+]] = arith.cmpf ogt, %[[LV]], %[[ZERO]] : f32
// CHECK-NEXT:      %[[RCP:.+]] = arith.divf %[[ONE]], %[[LV]] : f32
// CHECK-NEXT:      %[[INV:.+]] = arith.select %[[ANY]], %[[RCP]], %[[ZERO]] : f32
// CHECK-NEXT:      scf.for %[[E:.+]] = %[[C0]] to %[[C16]] step %[[C1]] {
// CHECK-NEXT:        %[[A:.+]] = memref.load %[[ACC]][%[[E]], %[[R]]] : memref<16x16xf32>
// CHECK-NEXT:        %[[OV:.+]] = arith.mulf %[[A]], %[[INV]] : f32
// CHECK-NEXT:        %[[OH:.+]] = arith.truncf %[[OV]] : f32 to f16
// CHECK-NEXT:        memref.store %[[OH]], %[[O]][%[[B]], %[[H]], %[[ROW]], %[[E]]] : memref<1x8x?x16xf16>
// CHECK-NEXT:      }
// ln(l) is expanded into a polynomial (no math.log), then LSE = m + ln l.
// CHECK:           %[[LNL:.+]] = arith.select %{{.+}}, %[[NEGINF]], %{{.+}} : f32
// CHECK-NEXT:      %[[LSEV:.+]] = arith.addf %[[MV]], %[[LNL]] : f32
// CHECK-NEXT:      %[[LSEF:.+]] = arith.select %[[ANY]], %[[LSEV]], %[[NEGINF]] : f32
// CHECK-NEXT:      memref.store %[[LSEF]], %[[LSE]][%[[B]], %[[H]], %[[ROW]]] : memref<1x8x?xf32>
// CHECK-NEXT:    }
// CHECK-NEXT:    return
func.func @tile_finalize_f16(%m: memref<16xf32>, %l: memref<16xf32>, %acc: memref<16x16xf32>, %o: memref<1x8x?x16xf16>, %lse: memref<1x8x?xf32>, %b: index, %h: index, %q0: index) {
  attn.tile_finalize state(%m, %l, %acc) into %o, %lse at(%b, %h, %q0) : memref<16xf32>, memref<16x16xf32>, memref<1x8x?x16xf16>, memref<1x8x?xf32>
  return
}

// ----------------------------------------------------------------------------
// A bf16 output is rounded in integer code (to nearest even, NaN to the quiet
// NaN 0x7FC0), not by arith.truncf: hosts without native bf16 conversions
// would call __truncsfbf2, which the JIT does not have.
// CHECK-LABEL: func.func @tile_finalize_bf16(
// CHECK-NOT:     arith.truncf
// CHECK-DAG:     %[[C1I:.+]] = arith.constant 1 : i32
// CHECK-DAG:     %[[C16I:.+]] = arith.constant 16 : i32
// CHECK-DAG:     %[[QNAN:.+]] = arith.constant 32704 : i16
// CHECK-DAG:     %[[HALF:.+]] = arith.constant 32767 : i32
// CHECK:           %[[OV:.+]] = arith.mulf %{{.+}}, %{{.+}} : f32
// CHECK-NEXT:      %[[NAN:.+]] = arith.cmpf une, %[[OV]], %[[OV]] : f32
// CHECK-NEXT:      %[[BITS:.+]] = arith.bitcast %[[OV]] : f32 to i32
// CHECK-NEXT:      %[[HI:.+]] = arith.shrui %[[BITS]], %[[C16I]] : i32
// CHECK-NEXT:      %[[LSB:.+]] = arith.andi %[[HI]], %[[C1I]] : i32
// CHECK-NEXT:      %[[BIAS:.+]] = arith.addi %[[LSB]], %[[HALF]] : i32
// CHECK-NEXT:      %[[ROUND:.+]] = arith.addi %[[BITS]], %[[BIAS]] : i32
// CHECK-NEXT:      %[[TOP:.+]] = arith.shrui %[[ROUND]], %[[C16I]] : i32
// CHECK-NEXT:      %[[NARROW:.+]] = arith.trunci %[[TOP]] : i32 to i16
// CHECK-NEXT:      %[[SEL:.+]] = arith.select %[[NAN]], %[[QNAN]], %[[NARROW]] : i16
// CHECK-NEXT:      %[[OB:.+]] = arith.bitcast %[[SEL]] : i16 to bf16
// CHECK-NEXT:      memref.store %[[OB]], %{{.+}} : memref<1x8x?x16xbf16>
// CHECK-NOT:     arith.truncf
// CHECK:         return
func.func @tile_finalize_bf16(%m: memref<16xf32>, %l: memref<16xf32>, %acc: memref<16x16xf32>, %o: memref<1x8x?x16xbf16>, %lse: memref<1x8x?xf32>, %b: index, %h: index, %q0: index) {
  attn.tile_finalize state(%m, %l, %acc) into %o, %lse at(%b, %h, %q0) : memref<16xf32>, memref<16x16xf32>, memref<1x8x?x16xbf16>, memref<1x8x?xf32>
  return
}

// ----------------------------------------------------------------------------
// 16-bit K and V (bf16, D = 40, Dv = 16) are staged once per key tile into
// f32 buffers allocated at the start of the allocation scope: full vectors
// of 16 elements, then the row's tail (40 = 2·16 + 8) through a mask of 8
// lanes; the score loop then broadcasts f32 values from the stage.
// CHECK-LABEL: func.func @tile_update_bf16_staged(
// CHECK-SAME:      %[[QT:[^:]+]]: memref<40x16xf32>, %[[K:[^:]+]]: memref<1x2x?x40xbf16>, %[[V:[^:]+]]: memref<1x2x?x16xbf16>
// CHECK-DAG:     %[[VSTAGE:.+]] = memref.alloca() {alignment = 64 : i64} : memref<8x16xf32>
// CHECK-DAG:     %[[KSTAGE:.+]] = memref.alloca() {alignment = 64 : i64} : memref<8x40xf32>
// CHECK:         scf.for %[[J:.+]] = %{{.+}} to %{{.+}} step
// CHECK:           %[[K0:.+]] = vector.load %[[K]][{{.*}}] : memref<1x2x?x40xbf16>, vector<16xbf16>
// CHECK-NEXT:      %[[K0F:.+]] = arith.extf %[[K0]] : vector<16xbf16> to vector<16xf32>
// CHECK-NEXT:      vector.store %[[K0F]], %[[KSTAGE]][%[[J]], %{{.+}}] : memref<8x40xf32>, vector<16xf32>
// CHECK:           %[[TAIL:.+]] = vector.constant_mask [8] : vector<16xi1>
// CHECK-NEXT:      %[[KT:.+]] = vector.maskedload %[[K]][{{.*}}], %[[TAIL]], %{{.+}} : memref<1x2x?x40xbf16>, vector<16xi1>, vector<16xbf16> into vector<16xbf16>
// CHECK-NEXT:      %[[KTF:.+]] = arith.extf %[[KT]] : vector<16xbf16> to vector<16xf32>
// CHECK-NEXT:      vector.maskedstore %[[KSTAGE]][%[[J]], %{{.+}}], %[[TAIL]], %[[KTF]] : memref<8x40xf32>, vector<16xi1>, vector<16xf32>
// CHECK:         scf.for
// CHECK:           vector.load %[[V]][{{.*}}] : memref<1x2x?x16xbf16>, vector<16xbf16>
// CHECK:           vector.store %{{.+}}, %[[VSTAGE]]
// The score loop reads the staged keys.
// CHECK:         scf.for %[[D:.+]] = {{.*}} iter_args(
// CHECK:           memref.load %[[KSTAGE]][%{{.+}}, %[[D]]] : memref<8x40xf32>
// CHECK-NOT:       memref.load %[[K]]
// CHECK:         return
func.func @tile_update_bf16_staged(%qt: memref<40x16xf32>, %k: memref<1x2x?x40xbf16>, %v: memref<1x2x?x16xbf16>, %s: memref<8x16xf32>, %m: memref<16xf32>, %l: memref<16xf32>, %acc: memref<16x16xf32>, %b: index, %h: index, %hkv: index, %q0: index, %k0: index, %sq: index) {
  attn.tile_update %qt, %k, %v scratch %s state(%m, %l, %acc) at(%b, %h, %hkv, %q0, %k0) query_length %sq
      : memref<40x16xf32>, memref<1x2x?x40xbf16>, memref<1x2x?x16xbf16>, memref<8x16xf32>, memref<16xf32>, memref<16x16xf32>
  return
}
