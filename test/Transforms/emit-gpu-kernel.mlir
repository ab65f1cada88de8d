// -attn-emit-gpu-kernel: each attn.attention function becomes a tensor-core
// kernel (FlashAttention-2 forward, 4 warps × 16 query rows, key tiles
// streamed through a cp.async ring of shared-memory stages).
//
// RUN: attn-opt %s -split-input-file -attn-emit-gpu-kernel -verify-diagnostics | FileCheck %s --enable-var-scope
// RUN: attn-opt %s -split-input-file -attn-emit-gpu-kernel='chip=sm_86' -verify-diagnostics 2>/dev/null | FileCheck %s --check-prefix=SM86
// RUN: attn-opt %s -split-input-file -attn-emit-gpu-kernel='block-n=32 stages=1' -verify-diagnostics 2>/dev/null | FileCheck %s --check-prefix=OPTS
// RUN: attn-opt %s -split-input-file -attn-emit-gpu-kernel='block-m=128' -verify-diagnostics 2>/dev/null | FileCheck %s --check-prefix=BM128

// f16, D = Dv = 64 on sm_80: the table's 64-key tiles and 3 stages. The K
// ring is 3 · 64 rows (its last stage first holds the 64-row Q tile), the V
// ring 3 · 64 rows, each of 64 + 8 halves (rows padded by 8 halves so that
// ldmatrix is free of bank conflicts): 384 · 72 · 2 = 55296 bytes.
// CHECK:       module attributes {gpu.container_module}
// CHECK:         gpu.module @attn_kernels {
// Kernel ABI: Q, K, V, O, LSE pointers and Sq, Sk.
// CHECK-NEXT:      gpu.func @mha_causal_d64(%{{.+}}: !llvm.ptr, %{{.+}}: !llvm.ptr, %{{.+}}: !llvm.ptr, %{{.+}}: !llvm.ptr, %{{.+}}: !llvm.ptr, %{{.+}}: i64, %{{.+}}: i64) kernel attributes {attn.dynamic_shared_memory = 55296 : i64, attn.key_tile_cols = 64 : i64, attn.query_tile_rows = 64 : i64, attn.stages = 3 : i64, known_block_size = array<i32: 128, 1, 1>}
// Each pointer is viewed as a 1-D memref (descriptor: offset 0, stride 1).
// CHECK-COUNT-4:   builtin.unrealized_conversion_cast %{{.+}} : !llvm.struct<(ptr, ptr, i64, array<1 x i64>, array<1 x i64>)> to memref<?xf16>
// CHECK:           %[[LSE:.+]] = builtin.unrealized_conversion_cast %{{.+}} : !llvm.struct<(ptr, ptr, i64, array<1 x i64>, array<1 x i64>)> to memref<?xf32>
// Work item (query tile, head, batch) = (block x, y, z).
// CHECK:           gpu.block_id  x
// CHECK:           gpu.block_id  y
// CHECK:           gpu.block_id  z
// CHECK:           %[[SMEM:.+]] = gpu.dynamic_shared_memory : memref<?xi8, #gpu.address_space<workgroup>>
// K ring at 0, V ring after it (192 · 72 · 2 = 27648), Q in the K ring's last
// stage (rows 128.., byte 128 · 72 · 2 = 18432).
// CHECK:           %[[KS:.+]] = memref.view %[[SMEM]][%c0{{.*}}][] : {{.*}} to memref<192x72xf16, #gpu.address_space<workgroup>>
// CHECK:           %[[VS:.+]] = memref.view %[[SMEM]][%c27648{{.*}}][] : {{.*}} to memref<192x72xf16, #gpu.address_space<workgroup>>
// CHECK:           %[[QS:.+]] = memref.view %[[SMEM]][%c18432{{.*}}][] : {{.*}} to memref<64x72xf16, #gpu.address_space<workgroup>>
// Prologue: the Q tile by 16-byte cp.async copies (8 halves, 0 outside Sq)
// in its own group, then key tiles kLo and kLo + 1 (stages − 1 of them), one
// group each, issued only inside the band.
// CHECK:           nvgpu.device_async_copy %{{.+}}[%{{.+}}], %[[QS]][%{{.+}}, %{{.+}}], 8, %{{.+}} {bypassL1} : memref<?xf16> to memref<64x72xf16, #gpu.address_space<workgroup>>
// CHECK:           nvvm.cp.async.commit.group
// CHECK:           scf.if
// CHECK:             nvgpu.device_async_copy {{.*}}, %[[KS]]
// CHECK:             nvgpu.device_async_copy {{.*}}, %[[VS]]
// CHECK:           nvvm.cp.async.commit.group
// CHECK:           scf.if
// CHECK:           nvvm.cp.async.commit.group
// The Q group is the oldest of 3: done once at most 2 are pending.
// CHECK-NEXT:      nvvm.cp.async.wait.group 2
// CHECK-NEXT:      gpu.barrier
// Q fragments (A operands, 16x16): 64 / 16 = 4 ldmatrix.x4, then a barrier
// before the loop refills Q's stage.
// CHECK-COUNT-4:   nvgpu.ldmatrix %[[QS]]{{.*}} {numTiles = 4 : i32, transpose = false} : memref<64x72xf16, #gpu.address_space<workgroup>> -> vector<4x2xf16>
// CHECK-NEXT:      gpu.barrier
// The key loop carries m and l of rows g and g + 8 and the 64 / 8 = 8
// O accumulator fragments.
// CHECK:           scf.for {{.*}} iter_args({{.*}}) -> (f32, f32, f32, f32, vector<2x2xf32>, vector<2x2xf32>, vector<2x2xf32>, vector<2x2xf32>, vector<2x2xf32>, vector<2x2xf32>, vector<2x2xf32>, vector<2x2xf32>) {
// Tile kt + 2 goes into the stage freed by iteration kt − 1, then tile kt
// is waited for.
// CHECK:             scf.if
// CHECK:               nvgpu.device_async_copy {{.*}}, %[[KS]]
// CHECK:             nvvm.cp.async.commit.group
// CHECK-NEXT:        nvvm.cp.async.wait.group 2
// CHECK-NEXT:        gpu.barrier
// S = Q·Kᵀ: K fragments by ldmatrix.x2 (no transpose), m16n8k16 MMAs on
// f16 register pairs.
// CHECK:             nvgpu.ldmatrix %[[KS]]{{.*}} {numTiles = 2 : i32, transpose = false} : memref<192x72xf16, #gpu.address_space<workgroup>> -> vector<2x2xf16>
// CHECK:             nvvm.mma.sync A[{{.*}}]  B[{{.*}}]  C[{{.*}}]  {layoutA = #nvvm.mma_layout<row>, layoutB = #nvvm.mma_layout<col>, shape = #nvvm.shape<m = 16, n = 8, k = 16>} : (vector<2xf16>, vector<2xf16>, f32) -> !llvm.struct<(f32, f32, f32, f32)>
// s · scale (1/sqrt(64) = 0.125).
// CHECK:             arith.mulf %{{.+}}, %cst{{.*}} : f32
// The causal band and the Sk tail only on the tiles they cut: one scf.if
// over the 8 · 4 = 32 scores of the thread.
// CHECK:             scf.if %{{.+}} -> (f32, f32, f32, f32, f32, f32, f32, f32, f32, f32, f32, f32, f32, f32, f32, f32, f32, f32, f32, f32, f32, f32, f32, f32, f32, f32, f32, f32, f32, f32, f32, f32) {
// CHECK:               arith.select
// CHECK:             } else {
// CHECK-NEXT:          scf.yield
// Row maxima across the quad: shuffles xor 1 and 2.
// CHECK:             gpu.shuffle  xor %{{.+}}, %{{.+}}, %{{.+}} : f32
// P = exp2((S - m) * log2(e)), as the PTX ex2.approx.f32 (no libdevice).
// CHECK:             llvm.call_intrinsic "llvm.nvvm.ex2.approx.f32"({{.*}}) : (f32) -> f32
// P stays in registers: its A fragments are built from the S accumulators.
// CHECK:             vector.from_elements {{.*}} : vector<4x2xf16>
// V fragments by ldmatrix.x2.trans.
// CHECK:             nvgpu.ldmatrix %[[VS]]{{.*}} {numTiles = 2 : i32, transpose = true} : memref<192x72xf16, #gpu.address_space<workgroup>> -> vector<2x2xf16>
// The stage is refilled by the next iteration: a barrier first.
// CHECK:             gpu.barrier
// CHECK-NEXT:        scf.yield
// Epilogue: O / l as 32-bit pairs with predicated stores,
// LSE = m + ln l = m + lg2(l) * ln 2.
// CHECK:           %[[LG2:.+]] = llvm.call_intrinsic "llvm.nvvm.lg2.approx.f"({{.*}}) : (f32) -> f32
// CHECK:           arith.mulf %[[LG2]], %{{.+}} : f32
// CHECK:           llvm.bitcast %{{.+}} : vector<2xf16> to i32
// CHECK:           memref.store {{.*}} : memref<?xi32>
// CHECK:           memref.store {{.*}}, %[[LSE]]
// CHECK:           gpu.return
// The host function is replaced by the kernel.
// CHECK-NOT:     func.func @mha_causal_d64
// sm_86's table: 2 stages for D = 64 (less shared memory per CTA):
// 2 · 64 K + 2 · 64 V rows (Q in the second K stage) · 72 · 2 = 36864.
// SM86-LABEL:    gpu.func @mha_causal_d64
// SM86-SAME:     attn.dynamic_shared_memory = 36864 : i64, attn.key_tile_cols = 64 : i64, attn.query_tile_rows = 64 : i64, attn.stages = 2 : i64
// block-n=32 stages=1: one stage of 32 keys, lengthened to Q's 64 rows for
// K: (64 + 32) · 72 · 2 = 13824 bytes; each iteration waits for its own
// group.
// OPTS-LABEL:    gpu.func @mha_causal_d64
// OPTS-SAME:     attn.dynamic_shared_memory = 13824 : i64, attn.key_tile_cols = 32 : i64, attn.query_tile_rows = 64 : i64, attn.stages = 1 : i64
// OPTS:          scf.for
// OPTS:            nvvm.cp.async.wait.group 0
// block-m=128: each warp owns two 16-row m-tiles. The K ring's last stage
// is lengthened to the 128-row Q tile: (2 · 64 + 128) K + 3 · 64 V rows
// · 72 · 2 = 64512 bytes. Q fragments (2 m-tiles × 4) stay in registers;
// each K fragment feeds both m-tiles' MMAs; the loop carries m and l of 4
// rows and 2 · 8 O accumulators.
// BM128-LABEL:   gpu.func @mha_causal_d64
// BM128-SAME:    attn.dynamic_shared_memory = 64512 : i64, attn.key_tile_cols = 64 : i64, attn.query_tile_rows = 128 : i64, attn.stages = 3 : i64
// BM128-COUNT-8: nvgpu.ldmatrix {{.*}} {numTiles = 4 : i32, transpose = false} : memref<128x72xf16, #gpu.address_space<workgroup>> -> vector<4x2xf16>
// BM128:         scf.for {{.*}} -> (f32, f32, f32, f32, f32, f32, f32, f32, vector<2x2xf32>, vector<2x2xf32>, vector<2x2xf32>, vector<2x2xf32>, vector<2x2xf32>, vector<2x2xf32>, vector<2x2xf32>, vector<2x2xf32>, vector<2x2xf32>, vector<2x2xf32>, vector<2x2xf32>, vector<2x2xf32>, vector<2x2xf32>, vector<2x2xf32>, vector<2x2xf32>, vector<2x2xf32>) {
// BM128:           nvgpu.ldmatrix {{.*}} {numTiles = 2 : i32, transpose = false}
// BM128-NOT:       nvgpu.ldmatrix
// BM128:           nvvm.mma.sync
// BM128-NOT:       nvgpu.ldmatrix
// BM128:           nvvm.mma.sync
// BM128:           nvgpu.ldmatrix {{.*}} {numTiles = 2 : i32, transpose = false}
func.func @mha_causal_d64(%q: tensor<?x8x?x64xf16>, %k: tensor<?x8x?x64xf16>, %v: tensor<?x8x?x64xf16>) -> (tensor<?x8x?x64xf16>, tensor<?x8x?xf32>) {
  %o, %lse = attn.attention %q, %k, %v {causal = #attn.causal<bottom_right>} : tensor<?x8x?x64xf16>, tensor<?x8x?x64xf16>, tensor<?x8x?x64xf16> -> tensor<?x8x?x64xf16>, tensor<?x8x?xf32>
  return %o, %lse : tensor<?x8x?x64xf16>, tensor<?x8x?xf32>
}

// -----

// D = Dv = 256: key tiles of 32 (S and P beside the 32 O accumulator
// fragments), 2 stages, and Q gets its own shared tile, its fragments
// reloaded inside the key loop: (2 · 32 K + 2 · 32 V + 64 Q) rows of
// 256 + 8 halves = 101376 bytes.
// CHECK-LABEL:     gpu.func @gqa_d256
// CHECK-SAME:      attn.dynamic_shared_memory = 101376 : i64, attn.key_tile_cols = 32 : i64, attn.query_tile_rows = 64 : i64, attn.stages = 2 : i64
// CHECK-NOT:       nvgpu.ldmatrix
// CHECK:           scf.for
// CHECK:             nvgpu.ldmatrix {{.*}} {numTiles = 4 : i32, transpose = false}
// SM86-LABEL:      gpu.func @gqa_d256
// SM86-SAME:       attn.dynamic_shared_memory = 101376 : i64
func.func @gqa_d256(%q: tensor<1x8x?x256xf16>, %k: tensor<1x2x?x256xf16>, %v: tensor<1x2x?x256xf16>) -> (tensor<1x8x?x256xf16>, tensor<1x8x?xf32>) {
  %o, %lse = attn.attention %q, %k, %v : tensor<1x8x?x256xf16>, tensor<1x2x?x256xf16>, tensor<1x2x?x256xf16> -> tensor<1x8x?x256xf16>, tensor<1x8x?xf32>
  return %o, %lse : tensor<1x8x?x256xf16>, tensor<1x8x?xf32>
}

// -----

// bf16 with a keep mask broadcast over batch and heads and a soft-cap. The
// mask is a byte tensor argument between V and O. MMA operands are bf16
// pairs packed in i32 registers (PTX's register type for bf16).
// CHECK-LABEL:     gpu.func @bf16_keep_softcap(%{{.+}}: !llvm.ptr, %{{.+}}: !llvm.ptr, %{{.+}}: !llvm.ptr, %{{.+}}: !llvm.ptr, %{{.+}}: !llvm.ptr, %{{.+}}: !llvm.ptr, %{{.+}}: i64, %{{.+}}: i64)
// CHECK-COUNT-3:   to memref<?xbf16>
// CHECK-NEXT:      %[[POISON:.+]] = llvm.mlir.poison
// CHECK:           %[[MASK:.+]] = builtin.unrealized_conversion_cast %{{.+}} to memref<?xi8>
// CHECK:           scf.for
// CHECK:             llvm.bitcast %{{.+}} : vector<2xbf16> to i32
// CHECK:             nvvm.mma.sync {{.*}} multiplicandAPtxType = #nvvm.mma_type<bf16>, multiplicandBPtxType = #nvvm.mma_type<bf16>{{.*}} : (i32, i32, f32) -> !llvm.struct<(f32, f32, f32, f32)>
// s = c · tanh(s · scale / c): scale / c = 0.125 / 30, then · 30.
// CHECK:             %[[PRE:.+]] = arith.mulf %{{.+}}, %cst{{.*}} : f32
// CHECK:             %[[TANH:.+]] = math.tanh %[[PRE]] : f32
// CHECK-NEXT:        arith.mulf %[[TANH]], %cst{{.*}} : f32
// The mask element of (row, min(key, Sk − 1)); a 0 byte removes the key.
// CHECK:             %[[KEEP:.+]] = memref.load %[[MASK]][%{{.+}}] : memref<?xi8>
// CHECK:             arith.cmpi ne, %[[KEEP]], %c0_i8{{.*}} : i8
// CHECK-NEXT:        arith.select
// P is rounded to bf16 for the second MMA.
// CHECK:             arith.truncf %{{.+}} : f32 to bf16
// CHECK:           llvm.bitcast %{{.+}} : vector<2xbf16> to i32
func.func @bf16_keep_softcap(%q: tensor<2x4x?x64xbf16>, %k: tensor<2x2x?x64xbf16>, %v: tensor<2x2x?x64xbf16>, %m: tensor<1x1x?x?xi1>) -> (tensor<2x4x?x64xbf16>, tensor<2x4x?xf32>) {
  %o, %lse = attn.attention %q, %k, %v mask(%m : tensor<1x1x?x?xi1>) {softcap = 30.0} : tensor<2x4x?x64xbf16>, tensor<2x2x?x64xbf16>, tensor<2x2x?x64xbf16> -> tensor<2x4x?x64xbf16>, tensor<2x4x?xf32>
  return %o, %lse : tensor<2x4x?x64xbf16>, tensor<2x4x?xf32>
}

// -----

// An f16 additive bias per (head, row, key), odd Dv = 59: the bias is
// widened to f32 and added after the scale; O columns are stored one by one
// (no 4-byte aligned pairs when Dv is odd).
// CHECK-LABEL:     gpu.func @bias_odd_dv
// CHECK-COUNT-3:   to memref<?xf16>
// CHECK:           %[[BIAS:.+]] = builtin.unrealized_conversion_cast %{{.+}} to memref<?xf16>
// CHECK:           scf.for
// CHECK:             %[[B:.+]] = memref.load %[[BIAS]][%{{.+}}] : memref<?xf16>
// CHECK-NEXT:        %[[BF:.+]] = arith.extf %[[B]] : f16 to f32
// CHECK-NEXT:        arith.addf %{{.+}}, %[[BF]] : f32
// CHECK-NOT:       memref<?xi32>
// CHECK:           gpu.return
func.func @bias_odd_dv(%q: tensor<1x4x?x64xf16>, %k: tensor<1x4x?x64xf16>, %v: tensor<1x4x?x59xf16>, %m: tensor<1x4x?x?xf16>) -> (tensor<1x4x?x59xf16>, tensor<1x4x?xf32>) {
  %o, %lse = attn.attention %q, %k, %v mask(%m : tensor<1x4x?x?xf16>) : tensor<1x4x?x64xf16>, tensor<1x4x?x64xf16>, tensor<1x4x?x59xf16> -> tensor<1x4x?x59xf16>, tensor<1x4x?xf32>
  return %o, %lse : tensor<1x4x?x59xf16>, tensor<1x4x?xf32>
}

// -----

// Bad options: one error each, no kernel.
// RUN: not attn-opt %s -attn-emit-gpu-kernel='block-n=-16' 2>&1 | FileCheck %s --check-prefix=BADN
// BADN: error: block-n must be a multiple of 16 in [16, 128], got -16
// RUN: not attn-opt %s -attn-emit-gpu-kernel='block-n=24' 2>&1 | FileCheck %s --check-prefix=BADN24
// BADN24: error: block-n must be a multiple of 16 in [16, 128], got 24
// RUN: not attn-opt %s -attn-emit-gpu-kernel='block-m=96' 2>&1 | FileCheck %s --check-prefix=BADM
// BADM: error: block-m must be 64 or 128 (16 or 32 query rows per warp), got 96
// RUN: not attn-opt %s -attn-emit-gpu-kernel='stages=5' 2>&1 | FileCheck %s --check-prefix=BADSTAGES
// BADSTAGES: error: stages must be in [1, 4] (0 = the chip's default), got 5
// RUN: not attn-opt %s -attn-emit-gpu-kernel='chip=sm_75' 2>&1 | FileCheck %s --check-prefix=BADCHIP
// BADCHIP: error: unknown chip 'sm_75' (known: sm_80, sm_86, sm_89, sm_90, sm_90a)

// f32 has no tensor-core path: a clear error, no kernel.
func.func @f32_rejected(%q: tensor<1x8x16x64xf32>, %k: tensor<1x8x16x64xf32>, %v: tensor<1x8x16x64xf32>) -> (tensor<1x8x16x64xf32>, tensor<1x8x16xf32>) {
  // expected-error @+1 {{the GPU backend needs one attn.attention per function on f16 or bf16 (tensor cores), got 1 on 'f32'}}
  %o, %lse = attn.attention %q, %k, %v : tensor<1x8x16x64xf32>, tensor<1x8x16x64xf32>, tensor<1x8x16x64xf32> -> tensor<1x8x16x64xf32>, tensor<1x8x16xf32>
  return %o, %lse : tensor<1x8x16x64xf32>, tensor<1x8x16xf32>
}
