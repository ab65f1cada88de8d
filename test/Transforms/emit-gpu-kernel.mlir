// -attn-emit-gpu-kernel: each attn.attention function becomes a tensor-core
// kernel (FlashAttention-2 forward, 4 warps × 16 query rows, 64-key tiles).
//
// RUN: attn-opt %s -split-input-file -attn-emit-gpu-kernel -verify-diagnostics | FileCheck %s --enable-var-scope

// D = Dv = 64: dynamic shared memory 64 rows · ((64 + 8) + (64 + 8)) halves
// = 18432 bytes (K, which stages Q first, and V; rows padded by 8 halves so
// that ldmatrix is free of bank conflicts); Q fragments stay in registers.
// CHECK:       module attributes {gpu.container_module}
// CHECK:         gpu.module @attn_kernels {
// Kernel ABI: Q, K, V, O, LSE pointers and Sq, Sk.
// CHECK-NEXT:      gpu.func @mha_causal_d64(%{{.+}}: !llvm.ptr, %{{.+}}: !llvm.ptr, %{{.+}}: !llvm.ptr, %{{.+}}: !llvm.ptr, %{{.+}}: !llvm.ptr, %{{.+}}: i64, %{{.+}}: i64) kernel attributes {attn.dynamic_shared_memory = 18432 : i64, attn.query_tile_rows = 64 : i64, known_block_size = array<i32: 128, 1, 1>}
// Each pointer is viewed as a 1-D memref (descriptor: offset 0, stride 1).
// CHECK-COUNT-4:   builtin.unrealized_conversion_cast %{{.+}} : !llvm.struct<(ptr, ptr, i64, array<1 x i64>, array<1 x i64>)> to memref<?xf16>
// CHECK:           %[[LSE:.+]] = builtin.unrealized_conversion_cast %{{.+}} : !llvm.struct<(ptr, ptr, i64, array<1 x i64>, array<1 x i64>)> to memref<?xf32>
// Work item (query tile, head, batch) = (block x, y, z).
// CHECK:           gpu.block_id  x
// CHECK:           gpu.block_id  y
// CHECK:           gpu.block_id  z
// CHECK:           %[[SMEM:.+]] = gpu.dynamic_shared_memory : memref<?xi8, #gpu.address_space<workgroup>>
// CHECK:           memref.view %[[SMEM]]{{.*}} to memref<64x72xf16, #gpu.address_space<workgroup>>
// CHECK:           memref.view %[[SMEM]]{{.*}} to memref<64x72xf16, #gpu.address_space<workgroup>>
// The Q tile arrives by 16-byte cp.async copies (8 halves, 0 outside Sq).
// CHECK:           nvgpu.device_async_copy %{{.+}}[%{{.+}}], %{{.+}}[%{{.+}}, %{{.+}}], 8, %{{.+}} : memref<?xf16> to memref<64x72xf16, #gpu.address_space<workgroup>>
// CHECK:           nvvm.cp.async.commit.group
// CHECK-NEXT:      nvvm.cp.async.wait.group 0
// Q fragments (A operands, 16x16): 64 / 16 = 4 ldmatrix.x4 before the loop.
// CHECK:           gpu.barrier
// CHECK-COUNT-4:   nvgpu.ldmatrix {{.*}} {numTiles = 4 : i32, transpose = false} : memref<64x72xf16, #gpu.address_space<workgroup>> -> vector<4x2xf16>
// The key loop carries m and l of rows g and g + 8 and the 64 / 8 = 8
// O accumulator fragments.
// CHECK:           scf.for {{.*}} iter_args({{.*}}) -> (f32, f32, f32, f32, vector<2x2xf32>, vector<2x2xf32>, vector<2x2xf32>, vector<2x2xf32>, vector<2x2xf32>, vector<2x2xf32>, vector<2x2xf32>, vector<2x2xf32>) {
// CHECK:             gpu.barrier
// S = Q·Kᵀ: K fragments by ldmatrix.x2 (no transpose), m16n8k16 MMAs.
// CHECK:             nvgpu.ldmatrix {{.*}} {numTiles = 2 : i32, transpose = false} : memref<64x72xf16, #gpu.address_space<workgroup>> -> vector<2x2xf16>
// CHECK:             nvgpu.mma.sync({{.*}}) {mmaShape = [16, 8, 16]} : (vector<4x2xf16>, vector<2x2xf16>, vector<2x2xf32>) -> vector<2x2xf32>
// Row maxima across the quad: shuffles xor 1 and 2.
// CHECK:             gpu.shuffle  xor %{{.+}}, %{{.+}}, %{{.+}} : f32
// P = exp2((S - m) * log2(e)).
// CHECK:             math.exp2
// P stays in registers: its A fragments are built from the S accumulators.
// CHECK:             vector.from_elements {{.*}} : vector<4x2xf16>
// V fragments by ldmatrix.x2.trans.
// CHECK:             nvgpu.ldmatrix {{.*}} {numTiles = 2 : i32, transpose = true} : memref<64x72xf16, #gpu.address_space<workgroup>> -> vector<2x2xf16>
// CHECK:             scf.yield
// Epilogue: O / l with predicated stores, LSE = m + ln l.
// CHECK:           math.log
// CHECK:           memref.store {{.*}} : memref<?xf16>
// CHECK:           memref.store {{.*}}, %[[LSE]]
// CHECK:           gpu.return
// The host function is replaced by the kernel.
// CHECK-NOT:     func.func @mha_causal_d64
func.func @mha_causal_d64(%q: tensor<?x8x?x64xf16>, %k: tensor<?x8x?x64xf16>, %v: tensor<?x8x?x64xf16>) -> (tensor<?x8x?x64xf16>, tensor<?x8x?xf32>) {
  %o, %lse = attn.attention %q, %k, %v {causal = #attn.causal<bottom_right>} : tensor<?x8x?x64xf16>, tensor<?x8x?x64xf16>, tensor<?x8x?x64xf16> -> tensor<?x8x?x64xf16>, tensor<?x8x?xf32>
  return %o, %lse : tensor<?x8x?x64xf16>, tensor<?x8x?xf32>
}

// -----

// D = Dv = 256: key tiles of 32 (S and P beside the 32 O accumulator
// fragments), and Q gets its own shared tile, its fragments reloaded inside
// the key loop: (64·264 Q + 32·264 K + 32·264 V) halves = 67584 bytes.
// CHECK-LABEL:     gpu.func @gqa_d256
// CHECK-SAME:      attn.dynamic_shared_memory = 67584 : i64
// CHECK-NOT:       nvgpu.ldmatrix
// CHECK:           scf.for
// CHECK:             nvgpu.ldmatrix {{.*}} {numTiles = 4 : i32, transpose = false}
func.func @gqa_d256(%q: tensor<1x8x?x256xf16>, %k: tensor<1x2x?x256xf16>, %v: tensor<1x2x?x256xf16>) -> (tensor<1x8x?x256xf16>, tensor<1x8x?xf32>) {
  %o, %lse = attn.attention %q, %k, %v : tensor<1x8x?x256xf16>, tensor<1x2x?x256xf16>, tensor<1x2x?x256xf16> -> tensor<1x8x?x256xf16>, tensor<1x8x?xf32>
  return %o, %lse : tensor<1x8x?x256xf16>, tensor<1x8x?xf32>
}

// -----

// Not supported yet: a clear error, no kernel.
func.func @bf16_not_yet(%q: tensor<1x8x16x64xbf16>, %k: tensor<1x8x16x64xbf16>, %v: tensor<1x8x16x64xbf16>) -> (tensor<1x8x16x64xbf16>, tensor<1x8x16xf32>) {
  // expected-error @+1 {{attn-emit-gpu-kernel: not supported yet by the GPU backend (one attn.attention per function, f16, no mask operand, no softcap)}}
  %o, %lse = attn.attention %q, %k, %v : tensor<1x8x16x64xbf16>, tensor<1x8x16x64xbf16>, tensor<1x8x16x64xbf16> -> tensor<1x8x16x64xbf16>, tensor<1x8x16xf32>
  return %o, %lse : tensor<1x8x16x64xbf16>, tensor<1x8x16xf32>
}
