// -attn-lower-tiles-to-mma: staged tile ops → warp-level tensor-core code
// (FlashAttention-2 forward: 4 warps × 16·mTiles query rows), the online
// softmax state carried by the key loop in registers.
//
// RUN: attn-opt %s -split-input-file -attn-lower-tiles-to-mma -verify-diagnostics | FileCheck %s --enable-var-scope

// f16, D = Dv = 64, bottom-right causal, 64 × 64 tiles (the form
// -attn-stage-shared-memory leaves, written with memref arguments).
// CHECK-LABEL:   gpu.func @causal_d64(
// CHECK-SAME:        %[[O:[^:]+]]: memref<?x8x?x64xf16>, %[[LSE:[^:]+]]: memref<?x8x?xf32>
// CHECK-SAME:        %[[QS:[^:]+]]: memref<64x72xf16, #gpu.address_space<workgroup>>, %[[KS:[^:]+]]: memref<64x72xf16, #gpu.address_space<workgroup>>, %[[VS:[^:]+]]: memref<64x72xf16, #gpu.address_space<workgroup>>
// The state buffers are gone.
// CHECK-NOT:       memref.alloca
// Q fragments (A operands, 16x16): 64 / 16 = 4 ldmatrix.x4 from the staged
// Q tile, kept in registers.
// CHECK-COUNT-4:   nvgpu.ldmatrix %[[QS]]{{.*}} {numTiles = 4 : i32, transpose = false} : memref<64x72xf16, #gpu.address_space<workgroup>> -> vector<4x2xf16>
// The key loop carries m and l of rows g and g + 8 and the 64 / 8 = 8
// O accumulator fragments of 4 f32 each: 2 + 2 + 32 scalars.
// CHECK:           %{{.+}}:36 = scf.for {{.*}} iter_args({{.*}}) -> ({{(f32, )+}}f32) {
// S = Q·Kᵀ: K fragments by ldmatrix.x2 (no transpose), m16n8k16 MMAs on
// f16 register pairs.
// CHECK:             nvgpu.ldmatrix %[[KS]]{{.*}} {numTiles = 2 : i32, transpose = false} : memref<64x72xf16, #gpu.address_space<workgroup>> -> vector<2x2xf16>
// CHECK:             nvvm.mma.sync A[{{.*}}]  B[{{.*}}]  C[{{.*}}]  {layoutA = #nvvm.mma_layout<row>, layoutB = #nvvm.mma_layout<col>, shape = #nvvm.shape<m = 16, n = 8, k = 16>} : (vector<2xf16>, vector<2xf16>, f32) -> !llvm.struct<(f32, f32, f32, f32)>
// Scores in log2 units: s · scale · log2(e) (tile_init's q_scale, 0.125,
// times log2(e)).
// CHECK:             %[[SCALE:.+]] = arith.constant 0.180336878 : f32
// CHECK-NEXT:        arith.mulf %{{.+}}, %[[SCALE]] : f32
// The causal band and the Sk tail only on the tiles they cut: one scf.if
// over the 8 · 4 = 32 scores of the thread.
// CHECK:             scf.if %{{.+}} -> (f32, f32, f32, f32, f32, f32, f32, f32, f32, f32, f32, f32, f32, f32, f32, f32, f32, f32, f32, f32, f32, f32, f32, f32, f32, f32, f32, f32, f32, f32, f32, f32) {
// CHECK-NEXT:          arith.cmpi slt, %{{.+}}, %{{.+}} : index
// CHECK:               arith.cmpi sle
// CHECK:               arith.select
// CHECK:             } else {
// CHECK-NEXT:          scf.yield
// Row maxima across the quad: shuffles xor 1 and 2.
// CHECK:             gpu.shuffle  xor %{{.+}}, %{{.+}}, %{{.+}} : f32
// α = exp2(m - m') and P = exp2(S - m') (m, m' and S in log2 units), as
// the PTX ex2.approx.ftz.f32 (no libdevice), one subtraction each.
// CHECK:             %[[DM:.+]] = arith.subf %{{.+}}, %{{.+}} : f32
// CHECK-NEXT:        llvm.call_intrinsic "llvm.nvvm.ex2.approx.ftz.f32"(%[[DM]]) : (f32) -> f32
// CHECK:             %[[DS:.+]] = arith.subf %{{.+}}, %{{.+}} : f32
// CHECK-NEXT:        llvm.call_intrinsic "llvm.nvvm.ex2.approx.ftz.f32"(%[[DS]]) : (f32) -> f32
// P stays in registers: its A-fragment registers are pairs of the S
// accumulators' exponentials, converted to f16.
// CHECK:             vector.from_elements {{.*}} : vector<2xf16>
// V fragments by ldmatrix.x2.trans.
// CHECK:             nvgpu.ldmatrix %[[VS]]{{.*}} {numTiles = 2 : i32, transpose = true} : memref<64x72xf16, #gpu.address_space<workgroup>> -> vector<2x2xf16>
// CHECK:             scf.yield
// CHECK-NOT:       attn.tile_
// Epilogue, per row: 1 / l by rcp.approx (l ≥ 1 once a key is kept), LSE =
// (m + lg2 l) · ln 2 (m in log2 units), then one branch on the row being
// inside Sq with the row's O · (1 / l) as 8 4-byte aligned pair stores into
// O's flat view (no column test: every 8-column tile is inside Dv = 64) and
// the quad leader's LSE store.
// CHECK:           llvm.call_intrinsic "llvm.nvvm.rcp.approx.ftz.f"({{.*}}) : (f32) -> f32
// CHECK:           %[[LG2:.+]] = llvm.call_intrinsic "llvm.nvvm.lg2.approx.f"({{.*}}) : (f32) -> f32
// CHECK:           %[[M2:.+]] = arith.addf %{{.+}}, %[[LG2]] : f32
// CHECK-NEXT:      arith.mulf %[[M2]], %cst{{.*}} : f32
// CHECK:           scf.if %{{[0-9]+}} {
// CHECK-NOT:         scf.if
// CHECK-COUNT-8:     vector.store %{{.+}}, %{{.+}}[%{{.+}}] {alignment = 4 : i64} : memref<?xf16>, vector<2xf16>
// CHECK-NOT:         vector.store
// CHECK:             scf.if %{{[0-9]+}} {
// CHECK:               memref.store %{{.+}}, %{{.+}}[%{{.+}}] : memref<?xf32>
// CHECK-NEXT:        }
// CHECK-NEXT:      }
// CHECK:           gpu.return
gpu.module @kernels {
  gpu.func @causal_d64(%q: memref<?x8x?x64xf16>, %k: memref<?x2x?x64xf16>, %v: memref<?x2x?x64xf16>, %o: memref<?x8x?x64xf16>, %lse: memref<?x8x?xf32>, %qs: memref<64x72xf16, #gpu.address_space<workgroup>>, %ks: memref<64x72xf16, #gpu.address_space<workgroup>>, %vs: memref<64x72xf16, #gpu.address_space<workgroup>>, %sq: index, %lo: index, %hi: index, %b: index, %h: index, %hkv: index, %q0: index) kernel {
    %c1 = arith.constant 1 : index
    %c64 = arith.constant 64 : index
    %qt = memref.alloca() : memref<64x64xf32>
    %m = memref.alloca() : memref<64xf32>
    %l = memref.alloca() : memref<64xf32>
    %acc = memref.alloca() : memref<64x64xf32>
    %s = memref.alloca() : memref<64x64xf32>
    attn.tile_init %q[%b, %h, %q0] staged(%qs : memref<64x72xf16, #gpu.address_space<workgroup>>) into %qt state(%m, %l, %acc) {q_scale = 0.125 : f64} : memref<?x8x?x64xf16>, memref<64x64xf32>, memref<64xf32>, memref<64x64xf32>
    scf.for %kt = %lo to %hi step %c1 {
      %k0 = arith.muli %kt, %c64 : index
      attn.tile_update %qt, %k, %v staged(%ks, %vs : memref<64x72xf16, #gpu.address_space<workgroup>>, memref<64x72xf16, #gpu.address_space<workgroup>>) scratch %s state(%m, %l, %acc) at(%b, %h, %hkv, %q0, %k0) query_length %sq {causal = #attn.causal<bottom_right>, masked} : memref<64x64xf32>, memref<?x2x?x64xf16>, memref<?x2x?x64xf16>, memref<64x64xf32>, memref<64xf32>, memref<64x64xf32>
    }
    attn.tile_finalize state(%m, %l, %acc) into %o, %lse at(%b, %h, %q0) : memref<64xf32>, memref<64x64xf32>, memref<?x8x?x64xf16>, memref<?x8x?xf32>
    gpu.return
  }
}

// -----

// 128 query rows: each warp owns two 16-row m-tiles. Q fragments (2 × 4)
// stay in registers; each K fragment feeds both m-tiles' MMAs; the loop
// carries m and l of 4 rows and 2 · 8 · 4 O accumulators (8 + 64 f32). An
// update without `masked` evaluates no band or tail predicate.
// CHECK-LABEL:   gpu.func @two_m_tiles
// CHECK-COUNT-8:   nvgpu.ldmatrix {{.*}} {numTiles = 4 : i32, transpose = false} : memref<128x72xf16, #gpu.address_space<workgroup>> -> vector<4x2xf16>
// CHECK:           %{{.+}}:72 = scf.for {{.*}} -> ({{(f32, )+}}f32) {
// CHECK-NOT:         scf.if
// CHECK:             nvgpu.ldmatrix {{.*}} {numTiles = 2 : i32, transpose = false}
// CHECK-NOT:         nvgpu.ldmatrix
// CHECK:             nvvm.mma.sync
// CHECK-NOT:         nvgpu.ldmatrix
// CHECK:             nvvm.mma.sync
// CHECK:             nvgpu.ldmatrix {{.*}} {numTiles = 2 : i32, transpose = false}
// CHECK-NOT:         scf.if
// CHECK:             scf.yield
gpu.module @kernels {
  gpu.func @two_m_tiles(%q: memref<?x8x?x64xf16>, %k: memref<?x8x?x64xf16>, %o: memref<?x8x?x64xf16>, %lse: memref<?x8x?xf32>, %qs: memref<128x72xf16, #gpu.address_space<workgroup>>, %ks: memref<64x72xf16, #gpu.address_space<workgroup>>, %sq: index, %lo: index, %hi: index, %b: index, %h: index, %q0: index) kernel {
    %c1 = arith.constant 1 : index
    %c64 = arith.constant 64 : index
    %qt = memref.alloca() : memref<64x128xf32>
    %m = memref.alloca() : memref<128xf32>
    %acc = memref.alloca() : memref<64x128xf32>
    %s = memref.alloca() : memref<64x128xf32>
    attn.tile_init %q[%b, %h, %q0] staged(%qs : memref<128x72xf16, #gpu.address_space<workgroup>>) into %qt state(%m, %m, %acc) {q_scale = 0.125 : f64} : memref<?x8x?x64xf16>, memref<64x128xf32>, memref<128xf32>, memref<64x128xf32>
    scf.for %kt = %lo to %hi step %c1 {
      %k0 = arith.muli %kt, %c64 : index
      attn.tile_update %qt, %k, %k staged(%ks, %ks : memref<64x72xf16, #gpu.address_space<workgroup>>, memref<64x72xf16, #gpu.address_space<workgroup>>) scratch %s state(%m, %m, %acc) at(%b, %h, %h, %q0, %k0) query_length %sq : memref<64x128xf32>, memref<?x8x?x64xf16>, memref<?x8x?x64xf16>, memref<64x128xf32>, memref<128xf32>, memref<64x128xf32>
    }
    attn.tile_finalize state(%m, %m, %acc) into %o, %lse at(%b, %h, %q0) : memref<128xf32>, memref<64x128xf32>, memref<?x8x?x64xf16>, memref<?x8x?xf32>
    gpu.return
  }
}

// -----

// D = Dv = 256: Q fragments (64 registers) would not fit beside the O
// accumulators, so they are reloaded from the staged Q tile in the loop.
// CHECK-LABEL:   gpu.func @d256_reloads_q
// CHECK-NOT:       nvgpu.ldmatrix
// CHECK:           scf.for
// CHECK:             nvgpu.ldmatrix {{.*}} {numTiles = 4 : i32, transpose = false} : memref<64x264xf16, #gpu.address_space<workgroup>>
gpu.module @kernels {
  gpu.func @d256_reloads_q(%q: memref<?x8x?x256xf16>, %k: memref<?x8x?x256xf16>, %o: memref<?x8x?x256xf16>, %lse: memref<?x8x?xf32>, %qs: memref<64x264xf16, #gpu.address_space<workgroup>>, %ks: memref<32x264xf16, #gpu.address_space<workgroup>>, %sq: index, %lo: index, %hi: index, %b: index, %h: index, %q0: index) kernel {
    %c1 = arith.constant 1 : index
    %c32 = arith.constant 32 : index
    %qt = memref.alloca() : memref<256x64xf32>
    %m = memref.alloca() : memref<64xf32>
    %acc = memref.alloca() : memref<256x64xf32>
    %s = memref.alloca() : memref<32x64xf32>
    attn.tile_init %q[%b, %h, %q0] staged(%qs : memref<64x264xf16, #gpu.address_space<workgroup>>) into %qt state(%m, %m, %acc) {q_scale = 0.0625 : f64} : memref<?x8x?x256xf16>, memref<256x64xf32>, memref<64xf32>, memref<256x64xf32>
    scf.for %kt = %lo to %hi step %c1 {
      %k0 = arith.muli %kt, %c32 : index
      attn.tile_update %qt, %k, %k staged(%ks, %ks : memref<32x264xf16, #gpu.address_space<workgroup>>, memref<32x264xf16, #gpu.address_space<workgroup>>) scratch %s state(%m, %m, %acc) at(%b, %h, %h, %q0, %k0) query_length %sq {masked} : memref<256x64xf32>, memref<?x8x?x256xf16>, memref<?x8x?x256xf16>, memref<32x64xf32>, memref<64xf32>, memref<256x64xf32>
    }
    attn.tile_finalize state(%m, %m, %acc) into %o, %lse at(%b, %h, %q0) : memref<64xf32>, memref<256x64xf32>, memref<?x8x?x256xf16>, memref<?x8x?xf32>
    gpu.return
  }
}

// -----

// A static Sk = 256, a multiple of the 64-key tiles: every key of a tile is
// inside Sk, so the tiles the causal band cuts test only the band (no Sk
// tail in the branch condition or per score).
// CHECK-LABEL:   gpu.func @full_key_tiles(
// CHECK:           scf.for
// CHECK:             %[[NOTAIL:.+]] = arith.constant false
// CHECK:             %[[EDGE:.+]] = arith.cmpi sgt
// CHECK-NEXT:        %[[CUT:.+]] = arith.ori %[[NOTAIL]], %[[EDGE]] : i1
// CHECK-NEXT:        scf.if %[[CUT]] -> (f32, {{.*}}) {
// CHECK-NOT:           arith.cmpi slt
// CHECK:               arith.cmpi sle
// CHECK:             } else {
gpu.module @kernels {
  gpu.func @full_key_tiles(%q: memref<?x8x?x64xf16>, %k: memref<?x2x256x64xf16>, %v: memref<?x2x256x64xf16>, %o: memref<?x8x?x64xf16>, %lse: memref<?x8x?xf32>, %qs: memref<64x72xf16, #gpu.address_space<workgroup>>, %ks: memref<64x72xf16, #gpu.address_space<workgroup>>, %vs: memref<64x72xf16, #gpu.address_space<workgroup>>, %sq: index, %lo: index, %hi: index, %b: index, %h: index, %hkv: index, %q0: index) kernel {
    %c1 = arith.constant 1 : index
    %c64 = arith.constant 64 : index
    %qt = memref.alloca() : memref<64x64xf32>
    %m = memref.alloca() : memref<64xf32>
    %l = memref.alloca() : memref<64xf32>
    %acc = memref.alloca() : memref<64x64xf32>
    %s = memref.alloca() : memref<64x64xf32>
    attn.tile_init %q[%b, %h, %q0] staged(%qs : memref<64x72xf16, #gpu.address_space<workgroup>>) into %qt state(%m, %l, %acc) {q_scale = 0.125 : f64} : memref<?x8x?x64xf16>, memref<64x64xf32>, memref<64xf32>, memref<64x64xf32>
    scf.for %kt = %lo to %hi step %c1 {
      %k0 = arith.muli %kt, %c64 : index
      attn.tile_update %qt, %k, %v staged(%ks, %vs : memref<64x72xf16, #gpu.address_space<workgroup>>, memref<64x72xf16, #gpu.address_space<workgroup>>) scratch %s state(%m, %l, %acc) at(%b, %h, %hkv, %q0, %k0) query_length %sq {causal = #attn.causal<top_left>, masked} : memref<64x64xf32>, memref<?x2x256x64xf16>, memref<?x2x256x64xf16>, memref<64x64xf32>, memref<64xf32>, memref<64x64xf32>
    }
    attn.tile_finalize state(%m, %l, %acc) into %o, %lse at(%b, %h, %q0) : memref<64xf32>, memref<64x64xf32>, memref<?x8x?x64xf16>, memref<?x8x?xf32>
    gpu.return
  }
}

// -----

// bf16 with a keep mask broadcast over batch and heads and a soft-cap. MMA
// operands are bf16 pairs packed in i32 registers (PTX's register type for
// bf16); s = c · log2(e) · tanh(s · scale / c) (30 · log2(e) = 43.2808...)
// with scale / c from tile_init; the
// mask is read through its flat view at (row, min(key, Sk − 1)).
// CHECK-LABEL:   gpu.func @bf16_keep_softcap(
// CHECK-SAME:        %[[MASK:[^:]+]]: memref<1x1x?x?xi1>
// CHECK:           %[[FLAT:.+]] = memref.reinterpret_cast %[[MASK]] to offset: [0], sizes: [%{{.+}}], strides: [1] : memref<1x1x?x?xi1> to memref<?xi1>
// CHECK:           scf.for
// CHECK:             llvm.bitcast %{{.+}} : vector<2xbf16> to i32
// CHECK:             nvvm.mma.sync {{.*}} multiplicandAPtxType = #nvvm.mma_type<bf16>, multiplicandBPtxType = #nvvm.mma_type<bf16>{{.*}} : (i32, i32, f32) -> !llvm.struct<(f32, f32, f32, f32)>
// CHECK:             %[[PRE:.+]] = arith.mulf %{{.+}}, %cst{{.*}} : f32
// CHECK:             %[[TANH:.+]] = math.tanh %[[PRE]] : f32
// CHECK-NEXT:        %[[CAP:.+]] = arith.constant 43.2808495 : f32
// CHECK-NEXT:        arith.mulf %[[TANH]], %[[CAP]] : f32
// CHECK:             %[[KEEP:.+]] = memref.load %[[FLAT]][%{{.+}}] : memref<?xi1>
// CHECK-NEXT:        arith.select %[[KEEP]]
// P is rounded to bf16 for the second MMA.
// CHECK:             arith.truncf %{{.+}} : f32 to bf16
gpu.module @kernels {
  gpu.func @bf16_keep_softcap(%q: memref<2x4x?x64xbf16>, %k: memref<2x2x?x64xbf16>, %mask: memref<1x1x?x?xi1>, %o: memref<2x4x?x64xbf16>, %lse: memref<2x4x?xf32>, %qs: memref<64x72xbf16, #gpu.address_space<workgroup>>, %ks: memref<64x72xbf16, #gpu.address_space<workgroup>>, %sq: index, %lo: index, %hi: index, %b: index, %h: index, %hkv: index, %q0: index) kernel {
    %c1 = arith.constant 1 : index
    %c64 = arith.constant 64 : index
    %qt = memref.alloca() : memref<64x64xf32>
    %m = memref.alloca() : memref<64xf32>
    %acc = memref.alloca() : memref<64x64xf32>
    %s = memref.alloca() : memref<64x64xf32>
    attn.tile_init %q[%b, %h, %q0] staged(%qs : memref<64x72xbf16, #gpu.address_space<workgroup>>) into %qt state(%m, %m, %acc) {q_scale = 0.0041666666666666666 : f64} : memref<2x4x?x64xbf16>, memref<64x64xf32>, memref<64xf32>, memref<64x64xf32>
    scf.for %kt = %lo to %hi step %c1 {
      %k0 = arith.muli %kt, %c64 : index
      attn.tile_update %qt, %k, %k mask(%mask : memref<1x1x?x?xi1>) staged(%ks, %ks : memref<64x72xbf16, #gpu.address_space<workgroup>>, memref<64x72xbf16, #gpu.address_space<workgroup>>) scratch %s state(%m, %m, %acc) at(%b, %h, %hkv, %q0, %k0) query_length %sq {masked, softcap = 30.0 : f64} : memref<64x64xf32>, memref<2x2x?x64xbf16>, memref<2x2x?x64xbf16>, memref<64x64xf32>, memref<64xf32>, memref<64x64xf32>
    }
    attn.tile_finalize state(%m, %m, %acc) into %o, %lse at(%b, %h, %q0) : memref<64xf32>, memref<64x64xf32>, memref<2x4x?x64xbf16>, memref<2x4x?xf32>
    gpu.return
  }
}

// -----

// An f16 additive bias, odd Dv = 59: the bias is widened to f32 and added
// after the scale; scores stay in natural units (a finfo.min bias times
// log2(e) would overflow), so each exp2 takes its difference times log2(e)
// and the LSE is m + lg2(l) · ln 2. O columns are stored one by one (no
// 4-byte aligned pairs when Dv is odd), 7 · 2 of them without a column
// test, then the last tile's (columns 56 + 2t + j) each under
// column + 1 ≤ 59.
// CHECK-LABEL:   gpu.func @bias_odd_dv
// CHECK:           scf.for
// CHECK:             %[[B:.+]] = memref.load %{{.+}}[%{{.+}}] : memref<?xf16>
// CHECK-NEXT:        %[[BF:.+]] = arith.extf %[[B]] : f16 to f32
// CHECK-NEXT:        arith.addf %{{.+}}, %[[BF]] : f32
// CHECK:             %[[D:.+]] = arith.subf %{{.+}}, %{{.+}} : f32
// CHECK-NEXT:        %[[LOG2E:.+]] = arith.constant 1.44269502 : f32
// CHECK-NEXT:        %[[E:.+]] = arith.mulf %[[D]], %[[LOG2E]] : f32
// CHECK-NEXT:        llvm.call_intrinsic "llvm.nvvm.ex2.approx.ftz.f32"(%[[E]]) : (f32) -> f32
// CHECK-NOT:       vector.store
// CHECK:           llvm.call_intrinsic "llvm.nvvm.rcp.approx.ftz.f"
// CHECK:           %[[LG2:.+]] = llvm.call_intrinsic "llvm.nvvm.lg2.approx.f"({{.*}}) : (f32) -> f32
// CHECK:           %[[LN:.+]] = arith.mulf %[[LG2]], %cst{{.*}} : f32
// CHECK-NEXT:      arith.addf %{{.+}}, %[[LN]] : f32
// CHECK:           scf.if %{{[0-9]+}} {
// CHECK-NOT:         scf.if
// CHECK-COUNT-14:    memref.store %{{.+}}, %{{.+}}[%{{.+}}] : memref<?xf16>
// CHECK-NOT:         memref.store
// CHECK:             %[[C59:.+]] = arith.constant 59 : index
// CHECK:             %[[IN:.+]] = arith.cmpi sle, %{{.+}}, %[[C59]] : index
// CHECK-NEXT:        scf.if %[[IN]] {
// CHECK-NEXT:          arith.addi
// CHECK-NEXT:          memref.store %{{.+}}, %{{.+}}[%{{.+}}] : memref<?xf16>
// CHECK:           gpu.return
gpu.module @kernels {
  gpu.func @bias_odd_dv(%q: memref<1x4x?x64xf16>, %k: memref<1x4x?x64xf16>, %v: memref<1x4x?x59xf16>, %mask: memref<1x4x?x?xf16>, %o: memref<1x4x?x59xf16>, %lse: memref<1x4x?xf32>, %qs: memref<64x72xf16, #gpu.address_space<workgroup>>, %ks: memref<64x72xf16, #gpu.address_space<workgroup>>, %sq: index, %lo: index, %hi: index, %b: index, %h: index, %q0: index) kernel {
    %c1 = arith.constant 1 : index
    %c64 = arith.constant 64 : index
    %qt = memref.alloca() : memref<64x64xf32>
    %m = memref.alloca() : memref<64xf32>
    %acc = memref.alloca() : memref<59x64xf32>
    %s = memref.alloca() : memref<64x64xf32>
    attn.tile_init %q[%b, %h, %q0] staged(%qs : memref<64x72xf16, #gpu.address_space<workgroup>>) into %qt state(%m, %m, %acc) {q_scale = 0.125 : f64} : memref<1x4x?x64xf16>, memref<64x64xf32>, memref<64xf32>, memref<59x64xf32>
    scf.for %kt = %lo to %hi step %c1 {
      %k0 = arith.muli %kt, %c64 : index
      attn.tile_update %qt, %k, %v mask(%mask : memref<1x4x?x?xf16>) staged(%ks, %ks : memref<64x72xf16, #gpu.address_space<workgroup>>, memref<64x72xf16, #gpu.address_space<workgroup>>) scratch %s state(%m, %m, %acc) at(%b, %h, %h, %q0, %k0) query_length %sq {masked} : memref<64x64xf32>, memref<1x4x?x64xf16>, memref<1x4x?x59xf16>, memref<64x64xf32>, memref<64xf32>, memref<59x64xf32>
    }
    attn.tile_finalize state(%m, %m, %acc) into %o, %lse at(%b, %h, %q0) : memref<64xf32>, memref<59x64xf32>, memref<1x4x?x59xf16>, memref<1x4x?xf32>
    gpu.return
  }
}

// -----

// Kernels without tile ops are left alone.
// CHECK-LABEL:   gpu.func @other
gpu.module @kernels {
  gpu.func @other() kernel {
    gpu.return
  }
}

// -----

gpu.module @kernels {
  gpu.func @not_staged(%q: memref<?x8x?x64xf16>, %o: memref<?x8x?x64xf16>, %lse: memref<?x8x?xf32>, %i: index) kernel {
    %c1 = arith.constant 1 : index
    %qt = memref.alloca() : memref<64x64xf32>
    %m = memref.alloca() : memref<64xf32>
    %acc = memref.alloca() : memref<64x64xf32>
    attn.tile_init %q[%i, %i, %i] into %qt state(%m, %m, %acc) {q_scale = 0.125 : f64} : memref<?x8x?x64xf16>, memref<64x64xf32>, memref<64xf32>, memref<64x64xf32>
    scf.for %kt = %i to %i step %c1 {
      // expected-error @+1 {{expects staged Q, K and V tiles (run -attn-stage-shared-memory first)}}
      attn.tile_update %qt, %q, %q scratch %acc state(%m, %m, %acc) at(%i, %i, %i, %i, %kt) query_length %i {masked} : memref<64x64xf32>, memref<?x8x?x64xf16>, memref<?x8x?x64xf16>, memref<64x64xf32>, memref<64xf32>, memref<64x64xf32>
    }
    attn.tile_finalize state(%m, %m, %acc) into %o, %lse at(%i, %i, %i) : memref<64xf32>, memref<64x64xf32>, memref<?x8x?x64xf16>, memref<?x8x?xf32>
    gpu.return
  }
}

// -----

gpu.module @kernels {
  gpu.func @no_loop(%q: memref<?x8x?x64xf16>, %o: memref<?x8x?x64xf16>, %lse: memref<?x8x?xf32>, %i: index) kernel {
    %qt = memref.alloca() : memref<64x64xf32>
    %m = memref.alloca() : memref<64xf32>
    %acc = memref.alloca() : memref<64x64xf32>
    attn.tile_init %q[%i, %i, %i] into %qt state(%m, %m, %acc) {q_scale = 0.125 : f64} : memref<?x8x?x64xf16>, memref<64x64xf32>, memref<64xf32>, memref<64x64xf32>
    // expected-error @+1 {{expects the update directly in an scf.for without results between attn.tile_init and attn.tile_finalize}}
    attn.tile_update %qt, %q, %q scratch %acc state(%m, %m, %acc) at(%i, %i, %i, %i, %i) query_length %i {masked} : memref<64x64xf32>, memref<?x8x?x64xf16>, memref<?x8x?x64xf16>, memref<64x64xf32>, memref<64xf32>, memref<64x64xf32>
    attn.tile_finalize state(%m, %m, %acc) into %o, %lse at(%i, %i, %i) : memref<64xf32>, memref<64x64xf32>, memref<?x8x?x64xf16>, memref<?x8x?xf32>
    gpu.return
  }
}

// -----

gpu.module @kernels {
  // expected-error @+1 {{expects one attn.tile_init, attn.tile_update and attn.tile_finalize per kernel, got 1, 0 and 0}}
  gpu.func @init_only(%q: memref<?x8x?x64xf16>, %i: index) kernel {
    %qt = memref.alloca() : memref<64x64xf32>
    %m = memref.alloca() : memref<64xf32>
    %acc = memref.alloca() : memref<64x64xf32>
    attn.tile_init %q[%i, %i, %i] into %qt state(%m, %m, %acc) {q_scale = 0.125 : f64} : memref<?x8x?x64xf16>, memref<64x64xf32>, memref<64xf32>, memref<64x64xf32>
    gpu.return
  }
}

// -----

gpu.module @kernels {
  gpu.func @separate_state(%q: memref<?x8x?x64xf16>, %o: memref<?x8x?x64xf16>, %lse: memref<?x8x?xf32>, %qs: memref<64x72xf16, #gpu.address_space<workgroup>>, %i: index) kernel {
    %c1 = arith.constant 1 : index
    %qt = memref.alloca() : memref<64x64xf32>
    %m = memref.alloca() : memref<64xf32>
    %m2 = memref.alloca() : memref<64xf32>
    %acc = memref.alloca() : memref<64x64xf32>
    attn.tile_init %q[%i, %i, %i] staged(%qs : memref<64x72xf16, #gpu.address_space<workgroup>>) into %qt state(%m, %m, %acc) {q_scale = 0.125 : f64} : memref<?x8x?x64xf16>, memref<64x64xf32>, memref<64xf32>, memref<64x64xf32>
    scf.for %kt = %i to %i step %c1 {
      // expected-error @+1 {{expects the tile ops to share one online-softmax state}}
      attn.tile_update %qt, %q, %q staged(%qs, %qs : memref<64x72xf16, #gpu.address_space<workgroup>>, memref<64x72xf16, #gpu.address_space<workgroup>>) scratch %acc state(%m2, %m2, %acc) at(%i, %i, %i, %i, %kt) query_length %i {masked} : memref<64x64xf32>, memref<?x8x?x64xf16>, memref<?x8x?x64xf16>, memref<64x64xf32>, memref<64xf32>, memref<64x64xf32>
    }
    attn.tile_finalize state(%m, %m, %acc) into %o, %lse at(%i, %i, %i) : memref<64xf32>, memref<64x64xf32>, memref<?x8x?x64xf16>, memref<?x8x?xf32>
    gpu.return
  }
}

// -----

// A strided Q (a slice of a larger buffer): the kernels read Q, K, V, O and
// LSE through flat row-major views, so other layouts are refused.
gpu.module @kernels {
  gpu.func @strided_q(%q: memref<?x8x?x64xf16, strided<[?, ?, 64, 1], offset: ?>>, %k: memref<?x8x?x64xf16>, %o: memref<?x8x?x64xf16>, %lse: memref<?x8x?xf32>, %qs: memref<64x72xf16, #gpu.address_space<workgroup>>, %i: index) kernel {
    %c1 = arith.constant 1 : index
    %qt = memref.alloca() : memref<64x64xf32>
    %m = memref.alloca() : memref<64xf32>
    %acc = memref.alloca() : memref<64x64xf32>
    // expected-error @+1 {{expects memrefs with the identity layout (contiguous, row-major), got 'memref<?x8x?x64xf16, strided<[?, ?, 64, 1], offset: ?>>'}}
    attn.tile_init %q[%i, %i, %i] staged(%qs : memref<64x72xf16, #gpu.address_space<workgroup>>) into %qt state(%m, %m, %acc) {q_scale = 0.125 : f64} : memref<?x8x?x64xf16, strided<[?, ?, 64, 1], offset: ?>>, memref<64x64xf32>, memref<64xf32>, memref<64x64xf32>
    scf.for %kt = %i to %i step %c1 {
      attn.tile_update %qt, %k, %k staged(%qs, %qs : memref<64x72xf16, #gpu.address_space<workgroup>>, memref<64x72xf16, #gpu.address_space<workgroup>>) scratch %acc state(%m, %m, %acc) at(%i, %i, %i, %i, %kt) query_length %i {masked} : memref<64x64xf32>, memref<?x8x?x64xf16>, memref<?x8x?x64xf16>, memref<64x64xf32>, memref<64xf32>, memref<64x64xf32>
    }
    attn.tile_finalize state(%m, %m, %acc) into %o, %lse at(%i, %i, %i) : memref<64xf32>, memref<64x64xf32>, memref<?x8x?x64xf16>, memref<?x8x?xf32>
    gpu.return
  }
}

// -----

// 32 query rows: not a whole number of 16-row tiles per warp.
gpu.module @kernels {
  gpu.func @rows_32(%q: memref<?x8x?x64xf16>, %o: memref<?x8x?x64xf16>, %lse: memref<?x8x?xf32>, %qs: memref<32x72xf16, #gpu.address_space<workgroup>>, %ks: memref<64x72xf16, #gpu.address_space<workgroup>>, %i: index) kernel {
    %c1 = arith.constant 1 : index
    %qt = memref.alloca() : memref<64x32xf32>
    %m = memref.alloca() : memref<32xf32>
    %acc = memref.alloca() : memref<64x32xf32>
    %s = memref.alloca() : memref<64x32xf32>
    // expected-error @+1 {{expects a query tile of 64 or 128 rows (one or two 16-row MMA tiles per warp), got 32}}
    attn.tile_init %q[%i, %i, %i] staged(%qs : memref<32x72xf16, #gpu.address_space<workgroup>>) into %qt state(%m, %m, %acc) {q_scale = 0.125 : f64} : memref<?x8x?x64xf16>, memref<64x32xf32>, memref<32xf32>, memref<64x32xf32>
    scf.for %kt = %i to %i step %c1 {
      attn.tile_update %qt, %q, %q staged(%ks, %ks : memref<64x72xf16, #gpu.address_space<workgroup>>, memref<64x72xf16, #gpu.address_space<workgroup>>) scratch %s state(%m, %m, %acc) at(%i, %i, %i, %i, %kt) query_length %i {masked} : memref<64x32xf32>, memref<?x8x?x64xf16>, memref<?x8x?x64xf16>, memref<64x32xf32>, memref<32xf32>, memref<64x32xf32>
    }
    attn.tile_finalize state(%m, %m, %acc) into %o, %lse at(%i, %i, %i) : memref<32xf32>, memref<64x32xf32>, memref<?x8x?x64xf16>, memref<?x8x?xf32>
    gpu.return
  }
}

// -----

// Key tiles of 24 keys: not a multiple of the MMA's 16.
gpu.module @kernels {
  gpu.func @keys_24(%q: memref<?x8x?x64xf16>, %o: memref<?x8x?x64xf16>, %lse: memref<?x8x?xf32>, %qs: memref<64x72xf16, #gpu.address_space<workgroup>>, %ks: memref<24x72xf16, #gpu.address_space<workgroup>>, %i: index) kernel {
    %c1 = arith.constant 1 : index
    %qt = memref.alloca() : memref<64x64xf32>
    %m = memref.alloca() : memref<64xf32>
    %acc = memref.alloca() : memref<64x64xf32>
    %s = memref.alloca() : memref<24x64xf32>
    attn.tile_init %q[%i, %i, %i] staged(%qs : memref<64x72xf16, #gpu.address_space<workgroup>>) into %qt state(%m, %m, %acc) {q_scale = 0.125 : f64} : memref<?x8x?x64xf16>, memref<64x64xf32>, memref<64xf32>, memref<64x64xf32>
    scf.for %kt = %i to %i step %c1 {
      // expected-error @+1 {{expects a key tile of a multiple of 16 keys up to 128, got 24}}
      attn.tile_update %qt, %q, %q staged(%ks, %ks : memref<24x72xf16, #gpu.address_space<workgroup>>, memref<24x72xf16, #gpu.address_space<workgroup>>) scratch %s state(%m, %m, %acc) at(%i, %i, %i, %i, %kt) query_length %i {masked} : memref<64x64xf32>, memref<?x8x?x64xf16>, memref<?x8x?x64xf16>, memref<24x64xf32>, memref<64xf32>, memref<64x64xf32>
    }
    attn.tile_finalize state(%m, %m, %acc) into %o, %lse at(%i, %i, %i) : memref<64xf32>, memref<64x64xf32>, memref<?x8x?x64xf16>, memref<?x8x?xf32>
    gpu.return
  }
}

// -----

// D = 59 staged in rows of 60 halves: narrower than the padded 64 the
// fragments read.
gpu.module @kernels {
  gpu.func @narrow_stage(%q: memref<?x8x?x59xf16>, %o: memref<?x8x?x59xf16>, %lse: memref<?x8x?xf32>, %qs: memref<64x60xf16, #gpu.address_space<workgroup>>, %ks: memref<64x60xf16, #gpu.address_space<workgroup>>, %i: index) kernel {
    %c1 = arith.constant 1 : index
    %qt = memref.alloca() : memref<59x64xf32>
    %m = memref.alloca() : memref<64xf32>
    %acc = memref.alloca() : memref<59x64xf32>
    %s = memref.alloca() : memref<64x64xf32>
    attn.tile_init %q[%i, %i, %i] staged(%qs : memref<64x60xf16, #gpu.address_space<workgroup>>) into %qt state(%m, %m, %acc) {q_scale = 0.125 : f64} : memref<?x8x?x59xf16>, memref<59x64xf32>, memref<64xf32>, memref<59x64xf32>
    scf.for %kt = %i to %i step %c1 {
      // expected-error @+1 {{expects staged tiles at least as wide as the head dims padded to 16 (64, 64)}}
      attn.tile_update %qt, %q, %q staged(%ks, %ks : memref<64x60xf16, #gpu.address_space<workgroup>>, memref<64x60xf16, #gpu.address_space<workgroup>>) scratch %s state(%m, %m, %acc) at(%i, %i, %i, %i, %kt) query_length %i {masked} : memref<59x64xf32>, memref<?x8x?x59xf16>, memref<?x8x?x59xf16>, memref<64x64xf32>, memref<64xf32>, memref<59x64xf32>
    }
    attn.tile_finalize state(%m, %m, %acc) into %o, %lse at(%i, %i, %i) : memref<64xf32>, memref<59x64xf32>, memref<?x8x?x59xf16>, memref<?x8x?xf32>
    gpu.return
  }
}
