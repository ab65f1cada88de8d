// -attn-map-to-gpu: each attn.attention function becomes a kernel whose CTA
// runs one work item of the tiled online softmax (tile_init, a loop of
// masked tile_updates over the band's key tiles, tile_finalize).
//
// RUN: attn-opt %s -split-input-file -attn-map-to-gpu -verify-diagnostics | FileCheck %s --enable-var-scope
// RUN: attn-opt %s -split-input-file -attn-map-to-gpu='chip=sm_86' -verify-diagnostics 2>/dev/null | FileCheck %s --check-prefix=SM86
// RUN: attn-opt %s -split-input-file -attn-map-to-gpu='block-n=32 stages=1' -verify-diagnostics 2>/dev/null | FileCheck %s --check-prefix=OPTS
// RUN: attn-opt %s -split-input-file -attn-map-to-gpu='block-m=128' -verify-diagnostics 2>/dev/null | FileCheck %s --check-prefix=BM128

// f16, D = Dv = 64, GQA 8/2 on sm_80: the table's 64 × 64 tiles and 3
// stages. The plan's shared memory is the K ring (3 · 64 rows, Q staged in
// its last stage) and the V ring (3 · 64 rows), rows of 64 + 8 halves:
// 384 · 72 · 2 = 55296 bytes.
// CHECK:       module attributes {gpu.container_module} {
// CHECK:         gpu.module @attn_kernels {
// Kernel ABI: Q, K, V, O, LSE pointers and Sq, Sk.
// CHECK-NEXT:      gpu.func @gqa_causal_d64(%[[QP:.+]]: !llvm.ptr, %{{.+}}: !llvm.ptr, %{{.+}}: !llvm.ptr, %{{.+}}: !llvm.ptr, %{{.+}}: !llvm.ptr, %[[SQ64:.+]]: i64, %[[SK64:.+]]: i64) kernel attributes {attn.dynamic_shared_memory = 55296 : i64, attn.key_tile_cols = 64 : i64, attn.query_tile_rows = 64 : i64, attn.stages = 3 : i64, known_block_size = array<i32: 128, 1, 1>}
// CHECK:           %[[SQ:.+]] = arith.index_cast %[[SQ64]] : i64 to index
// CHECK:           %[[SK:.+]] = arith.index_cast %[[SK64]] : i64 to index
// The batch is the grid's z size.
// CHECK:           %[[B:.+]] = gpu.grid_dim  z
// Each pointer is viewed as a dense memref: its descriptor with sizes
// (B, H, S, D) and row-major strides.
// CHECK:           llvm.insertvalue %[[QP]], %{{.+}}[0] : !llvm.struct<(ptr, ptr, i64, array<4 x i64>, array<4 x i64>)>
// CHECK:           %[[Q:.+]] = builtin.unrealized_conversion_cast %{{.+}} : !llvm.struct<(ptr, ptr, i64, array<4 x i64>, array<4 x i64>)> to memref<?x8x?x64xf16>
// CHECK:           %[[K:.+]] = builtin.unrealized_conversion_cast %{{.+}} to memref<?x2x?x64xf16>
// CHECK:           %[[V:.+]] = builtin.unrealized_conversion_cast %{{.+}} to memref<?x2x?x64xf16>
// CHECK:           %[[O:.+]] = builtin.unrealized_conversion_cast %{{.+}} to memref<?x8x?x64xf16>
// CHECK:           %[[LSE:.+]] = builtin.unrealized_conversion_cast %{{.+}} : !llvm.struct<(ptr, ptr, i64, array<3 x i64>, array<3 x i64>)> to memref<?x8x?xf32>
// The work item's state: placeholders for -attn-lower-tiles-to-mma.
// CHECK:           %[[QT:.+]] = memref.alloca() : memref<64x64xf32>
// CHECK:           %[[M:.+]] = memref.alloca() : memref<64xf32>
// CHECK:           %[[L:.+]] = memref.alloca() : memref<64xf32>
// CHECK:           %[[ACC:.+]] = memref.alloca() : memref<64x64xf32>
// CHECK:           %[[S:.+]] = memref.alloca() : memref<64x64xf32>
// Work item (query tile, head, batch) = block (x, y, z); KV head h / 4.
// CHECK:           %[[BX:.+]] = gpu.block_id  x
// CHECK:           %[[BY:.+]] = gpu.block_id  y
// CHECK:           %[[BZ:.+]] = gpu.block_id  z
// CHECK:           %[[Q0:.+]] = arith.muli %[[BX]], %{{.+}} : index
// CHECK:           %[[HKV:.+]] = arith.divui %[[BY]], %{{.+}} : index
// The band's key tiles [kLo, kHi), then the online softmax over them.
// CHECK:           attn.tile_init %[[Q]][%[[BZ]], %[[BY]], %[[Q0]]] into %[[QT]] state(%[[M]], %[[L]], %[[ACC]]) {q_scale = 1.250000e-01 : f64}
// CHECK:           scf.for %[[KT:.+]] = %{{.+}} to %{{.+}} step %{{.+}} {
// CHECK-NEXT:        %[[K0:.+]] = arith.muli %[[KT]], %{{.+}} : index
// Every update is masked: its lowering tests at run time which tiles the
// band or Sk cut.
// CHECK-NEXT:        attn.tile_update %[[QT]], %[[K]], %[[V]] scratch %[[S]] state(%[[M]], %[[L]], %[[ACC]]) at(%[[BZ]], %[[BY]], %[[HKV]], %[[Q0]], %[[K0]]) query_length %[[SQ]] {causal = #attn.causal<bottom_right>, masked}
// CHECK-NEXT:      }
// CHECK-NEXT:      attn.tile_finalize state(%[[M]], %[[L]], %[[ACC]]) into %[[O]], %[[LSE]] at(%[[BZ]], %[[BY]], %[[Q0]])
// CHECK-NEXT:      gpu.return
// The host function is replaced by the kernel.
// CHECK-NOT:     func.func @gqa_causal_d64
// sm_86's table: 2 stages for D = 64 (less shared memory per CTA):
// 2 · 64 K + 2 · 64 V rows (Q in the second K stage) · 72 · 2 = 36864.
// SM86-LABEL:    gpu.func @gqa_causal_d64
// SM86-SAME:     attn.dynamic_shared_memory = 36864 : i64, attn.key_tile_cols = 64 : i64, attn.query_tile_rows = 64 : i64, attn.stages = 2 : i64
// block-n=32 stages=1: one stage of 32 keys, lengthened to Q's 64 rows for
// K: (64 + 32) · 72 · 2 = 13824 bytes.
// OPTS-LABEL:    gpu.func @gqa_causal_d64
// OPTS-SAME:     attn.dynamic_shared_memory = 13824 : i64, attn.key_tile_cols = 32 : i64, attn.query_tile_rows = 64 : i64, attn.stages = 1 : i64
// OPTS:          memref.alloca() : memref<64x64xf32>
// OPTS:          memref.alloca() : memref<32x64xf32>
// block-m=128: the K ring's last stage is lengthened to the 128-row Q tile:
// (2 · 64 + 128) K + 3 · 64 V rows · 72 · 2 = 64512 bytes.
// BM128-LABEL:   gpu.func @gqa_causal_d64
// BM128-SAME:    attn.dynamic_shared_memory = 64512 : i64, attn.key_tile_cols = 64 : i64, attn.query_tile_rows = 128 : i64, attn.stages = 3 : i64
// BM128:         memref.alloca() : memref<64x128xf32>
func.func @gqa_causal_d64(%q: tensor<?x8x?x64xf16>, %k: tensor<?x2x?x64xf16>, %v: tensor<?x2x?x64xf16>) -> (tensor<?x8x?x64xf16>, tensor<?x8x?xf32>) {
  %o, %lse = attn.attention %q, %k, %v {causal = #attn.causal<bottom_right>} : tensor<?x8x?x64xf16>, tensor<?x2x?x64xf16>, tensor<?x2x?x64xf16> -> tensor<?x8x?x64xf16>, tensor<?x8x?xf32>
  return %o, %lse : tensor<?x8x?x64xf16>, tensor<?x8x?xf32>
}

// -----

// D = Dv = 256: key tiles of 32, 2 stages, and Q gets its own shared tile
// (its fragments would not fit in registers): (2 · 32 K + 2 · 32 V + 64 Q)
// rows of 256 + 8 halves = 101376 bytes, which sm_86 also has.
// CHECK-LABEL:     gpu.func @d256
// CHECK-SAME:      attn.dynamic_shared_memory = 101376 : i64, attn.key_tile_cols = 32 : i64, attn.query_tile_rows = 64 : i64, attn.stages = 2 : i64
// SM86-LABEL:      gpu.func @d256
// SM86-SAME:       attn.dynamic_shared_memory = 101376 : i64
func.func @d256(%q: tensor<1x8x?x256xf16>, %k: tensor<1x2x?x256xf16>, %v: tensor<1x2x?x256xf16>) -> (tensor<1x8x?x256xf16>, tensor<1x8x?xf32>) {
  %o, %lse = attn.attention %q, %k, %v : tensor<1x8x?x256xf16>, tensor<1x2x?x256xf16>, tensor<1x2x?x256xf16> -> tensor<1x8x?x256xf16>, tensor<1x8x?xf32>
  return %o, %lse : tensor<1x8x?x256xf16>, tensor<1x8x?xf32>
}

// -----

// Static B, Sq and Sk: constants of the kernel and of its memref types (the
// Sq and Sk arguments stay in the ABI, unused), no grid size read.
// CHECK-LABEL:     gpu.func @static_lengths(
// CHECK-SAME:      %{{.+}}: i64, %{{.+}}: i64) kernel
// CHECK-NOT:         gpu.grid_dim
// CHECK-NOT:         : i64 to index
// CHECK:             builtin.unrealized_conversion_cast %{{.+}} to memref<2x8x200x64xf16>
// CHECK-NOT:         gpu.grid_dim
// CHECK-NOT:         : i64 to index
// CHECK:             builtin.unrealized_conversion_cast %{{.+}} to memref<2x2x256x64xf16>
// CHECK:             builtin.unrealized_conversion_cast %{{.+}} to memref<2x8x200xf32>
// CHECK:             attn.tile_update {{.*}} query_length %c200{{.*}} {masked}
func.func @static_lengths(%q: tensor<2x8x200x64xf16>, %k: tensor<2x2x256x64xf16>, %v: tensor<2x2x256x64xf16>) -> (tensor<2x8x200x64xf16>, tensor<2x8x200xf32>) {
  %o, %lse = attn.attention %q, %k, %v : tensor<2x8x200x64xf16>, tensor<2x2x256x64xf16>, tensor<2x2x256x64xf16> -> tensor<2x8x200x64xf16>, tensor<2x8x200xf32>
  return %o, %lse : tensor<2x8x200x64xf16>, tensor<2x8x200xf32>
}

// -----

// A bf16 keep mask broadcast over batch and heads, and a soft-cap: the mask
// pointer comes between V and O, viewed with its static dims and the full
// Sq, Sk; Q is pre-scaled by scale / c = 0.125 / 30.
// CHECK-LABEL:     gpu.func @bf16_keep_softcap(%{{.+}}: !llvm.ptr, %{{.+}}: !llvm.ptr, %{{.+}}: !llvm.ptr, %{{.+}}: !llvm.ptr, %{{.+}}: !llvm.ptr, %{{.+}}: !llvm.ptr, %{{.+}}: i64, %{{.+}}: i64)
// CHECK:           %[[MASK:.+]] = builtin.unrealized_conversion_cast %{{.+}} to memref<1x1x?x?xi1>
// CHECK:           attn.tile_init {{.*}} {q_scale = 0.0041666666666666666 : f64}
// CHECK:           attn.tile_update {{.*}} mask(%[[MASK]] : memref<1x1x?x?xi1>) {{.*}} {masked, softcap = 3.000000e+01 : f64}
func.func @bf16_keep_softcap(%q: tensor<2x4x?x64xbf16>, %k: tensor<2x2x?x64xbf16>, %v: tensor<2x2x?x64xbf16>, %m: tensor<1x1x?x?xi1>) -> (tensor<2x4x?x64xbf16>, tensor<2x4x?xf32>) {
  %o, %lse = attn.attention %q, %k, %v mask(%m : tensor<1x1x?x?xi1>) {softcap = 30.0} : tensor<2x4x?x64xbf16>, tensor<2x2x?x64xbf16>, tensor<2x2x?x64xbf16> -> tensor<2x4x?x64xbf16>, tensor<2x4x?xf32>
  return %o, %lse : tensor<2x4x?x64xbf16>, tensor<2x4x?xf32>
}

// -----

// f32 has no tensor-core path: a clear error, no kernel.
func.func @f32_rejected(%q: tensor<1x8x16x64xf32>, %k: tensor<1x8x16x64xf32>, %v: tensor<1x8x16x64xf32>) -> (tensor<1x8x16x64xf32>, tensor<1x8x16xf32>) {
  // expected-error @+1 {{the GPU backend needs f16 or bf16 operands (tensor cores), got 'f32'}}
  %o, %lse = attn.attention %q, %k, %v : tensor<1x8x16x64xf32>, tensor<1x8x16x64xf32>, tensor<1x8x16x64xf32> -> tensor<1x8x16x64xf32>, tensor<1x8x16xf32>
  return %o, %lse : tensor<1x8x16x64xf32>, tensor<1x8x16xf32>
}

// -----

// One kernel per function: two attentions in one function are refused.
func.func @two(%q: tensor<1x8x16x64xf16>) -> (tensor<1x8x16x64xf16>, tensor<1x8x16x64xf16>) {
  %o, %lse = attn.attention %q, %q, %q : tensor<1x8x16x64xf16>, tensor<1x8x16x64xf16>, tensor<1x8x16x64xf16> -> tensor<1x8x16x64xf16>, tensor<1x8x16xf32>
  // expected-error @+1 {{the GPU backend needs one attn.attention per function (one kernel each), got 2}}
  %o2, %lse2 = attn.attention %q, %q, %q : tensor<1x8x16x64xf16>, tensor<1x8x16x64xf16>, tensor<1x8x16x64xf16> -> tensor<1x8x16x64xf16>, tensor<1x8x16xf32>
  return %o, %o2 : tensor<1x8x16x64xf16>, tensor<1x8x16x64xf16>
}

// -----

// More shared memory than the chip gives one CTA: D = 256 with 4 stages of
// 128 keys.
// RUN: not attn-opt %s -split-input-file -attn-map-to-gpu='block-n=128 stages=4' 2>&1 | FileCheck %s --check-prefix=SMEM
// SMEM: error: the kernel needs {{[0-9]+}} bytes of shared memory (block-m 64, block-n 128, 4 stages), more than sm_80's 166912; use fewer stages or a smaller block-n

// Bad options: one error each, no kernel.
// RUN: not attn-opt %s -attn-map-to-gpu='block-n=-16' 2>&1 | FileCheck %s --check-prefix=BADN
// BADN: error: block-n must be a multiple of 16 in [16, 128], got -16
// RUN: not attn-opt %s -attn-map-to-gpu='block-n=24' 2>&1 | FileCheck %s --check-prefix=BADN24
// BADN24: error: block-n must be a multiple of 16 in [16, 128], got 24
// RUN: not attn-opt %s -attn-map-to-gpu='block-m=96' 2>&1 | FileCheck %s --check-prefix=BADM
// BADM: error: block-m must be 64 or 128 (16 or 32 query rows per warp), got 96
// RUN: not attn-opt %s -attn-map-to-gpu='stages=5' 2>&1 | FileCheck %s --check-prefix=BADSTAGES
// BADSTAGES: error: stages must be in [1, 4] (0 = the chip's default), got 5
// RUN: not attn-opt %s -attn-map-to-gpu='chip=sm_75' 2>&1 | FileCheck %s --check-prefix=BADCHIP
// BADCHIP: error: unknown chip 'sm_75' (known: sm_80, sm_86, sm_89, sm_90, sm_90a)
func.func @d256_smem(%q: tensor<1x8x?x256xf16>) -> (tensor<1x8x?x256xf16>, tensor<1x8x?xf32>) {
  %o, %lse = attn.attention %q, %q, %q : tensor<1x8x?x256xf16>, tensor<1x8x?x256xf16>, tensor<1x8x?x256xf16> -> tensor<1x8x?x256xf16>, tensor<1x8x?xf32>
  return %o, %lse : tensor<1x8x?x256xf16>, tensor<1x8x?xf32>
}
