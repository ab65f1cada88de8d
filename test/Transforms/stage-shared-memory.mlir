// -attn-stage-shared-memory: the Q tile and a ring of K/V tiles go through
// shared memory by cp.async, and the tile ops read the staged copies.
//
// RUN: attn-opt %s -split-input-file -attn-stage-shared-memory -verify-diagnostics | FileCheck %s --enable-var-scope

// The tiled form of -attn-map-to-gpu (written with memref arguments): f16,
// D = Dv = 64, 64 × 64 tiles, 3 stages. Layout: the K ring of 3 · 64 rows
// (Q staged in its last stage, rows 128..191, byte 128 · 72 · 2 = 18432),
// then the V ring at 192 · 72 · 2 = 27648; 55296 bytes in all.
// CHECK-LABEL:   gpu.func @staged(
// CHECK-SAME:        %[[Q:[^:]+]]: memref<?x8x?x64xf16>, %[[K:[^:]+]]: memref<?x2x?x64xf16>, %[[V:[^:]+]]: memref<?x2x?x64xf16>
// Flat views of Q, K and V for the copies' linear indices (reinterpret
// casts, which the LLVM lowering takes without -expand-strided-metadata).
// CHECK-DAG:       %[[QF:.+]] = memref.reinterpret_cast %[[Q]] to offset: [0], sizes: [%{{.+}}], strides: [1] : memref<?x8x?x64xf16> to memref<?xf16>
// CHECK-DAG:       memref.reinterpret_cast %[[K]] to offset: [0], sizes: [%{{.+}}], strides: [1] : memref<?x2x?x64xf16> to memref<?xf16>
// CHECK-DAG:       memref.reinterpret_cast %[[V]] to offset: [0], sizes: [%{{.+}}], strides: [1] : memref<?x2x?x64xf16> to memref<?xf16>
// CHECK:           %[[SMEM:.+]] = gpu.dynamic_shared_memory : memref<?xi8, #gpu.address_space<workgroup>>
// CHECK:           %[[KS:.+]] = memref.view %[[SMEM]][%c0{{.*}}][] : {{.*}} to memref<192x72xf16, #gpu.address_space<workgroup>>
// CHECK:           %[[VS:.+]] = memref.view %[[SMEM]][%c27648{{.*}}][] : {{.*}} to memref<192x72xf16, #gpu.address_space<workgroup>>
// CHECK:           %[[QS:.+]] = memref.view %[[SMEM]][%c18432{{.*}}][] : {{.*}} to memref<64x72xf16, #gpu.address_space<workgroup>>
// Prologue: the Q tile by 16-byte cp.async copies (8 halves, zero fill
// outside Sq) from Q's flat view, in its own group; then key tiles kLo and
// kLo + 1 (stages − 1 of them), one group each, only inside the band.
// CHECK:           scf.for
// CHECK:             nvgpu.device_async_copy %[[QF]][%{{.+}}], %[[QS]][%{{.+}}, %{{.+}}], 8, %{{.+}} {bypassL1} : memref<?xf16> to memref<64x72xf16, #gpu.address_space<workgroup>>
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
// CHECK-NEXT:      attn.tile_init %[[Q]][{{.*}}] staged(%[[QS]] : memref<64x72xf16, #gpu.address_space<workgroup>>)
// Q's buffer is the K ring's last stage: released before the loop refills it.
// CHECK-NEXT:      gpu.barrier
// CHECK:           scf.for %[[KT:.+]] = %[[LO:[^ ]+]] to %[[HI:[^ ]+]] step
// Tile kt + 2 into the stage iteration kt − 1 released, then tile kt.
// CHECK:             %[[STEP:.+]] = arith.subi %[[KT]], %[[LO]] : index
// CHECK:             scf.if
// CHECK:               nvgpu.device_async_copy {{.*}}, %[[KS]]
// CHECK:               nvgpu.device_async_copy {{.*}}, %[[VS]]
// CHECK:             nvvm.cp.async.commit.group
// CHECK-NEXT:        nvvm.cp.async.wait.group 2
// CHECK-NEXT:        gpu.barrier
// The update reads stage (kt − kLo) mod 3 of each ring: rows 64 · stage on,
// element offset 64 · stage · 72.
// CHECK:             %[[STAGE:.+]] = arith.remui %[[STEP]], %c3{{.*}} : index
// CHECK:             %[[ROW:.+]] = arith.muli %[[STAGE]], %c64{{.*}} : index
// CHECK:             %[[KOFF:.+]] = arith.muli %[[ROW]], %c72{{.*}} : index
// CHECK:             %[[KT_S:.+]] = memref.reinterpret_cast %[[KS]] to offset: [%[[KOFF]]], sizes: [64, 72], strides: [72, 1]
// CHECK:             %[[VOFF:.+]] = arith.muli %[[ROW]], %c72{{.*}} : index
// CHECK:             %[[VT_S:.+]] = memref.reinterpret_cast %[[VS]] to offset: [%[[VOFF]]], sizes: [64, 72], strides: [72, 1]
// CHECK:             attn.tile_update {{.*}} staged(%[[KT_S]], %[[VT_S]] : memref<64x72xf16, strided<[72, 1], offset: ?>, #gpu.address_space<workgroup>>, memref<64x72xf16, strided<[72, 1], offset: ?>, #gpu.address_space<workgroup>>)
// The stage is refilled by a later iteration: a barrier first.
// CHECK-NEXT:        gpu.barrier
// CHECK-NEXT:      }
gpu.module @kernels {
  gpu.func @staged(%q: memref<?x8x?x64xf16>, %k: memref<?x2x?x64xf16>, %v: memref<?x2x?x64xf16>, %o: memref<?x8x?x64xf16>, %lse: memref<?x8x?xf32>, %sq: index, %lo: index, %hi: index) kernel attributes {attn.dynamic_shared_memory = 55296 : i64, attn.key_tile_cols = 64 : i64, attn.query_tile_rows = 64 : i64, attn.stages = 3 : i64} {
    %c1 = arith.constant 1 : index
    %c4 = arith.constant 4 : index
    %c64 = arith.constant 64 : index
    %qt = memref.alloca() : memref<64x64xf32>
    %m = memref.alloca() : memref<64xf32>
    %l = memref.alloca() : memref<64xf32>
    %acc = memref.alloca() : memref<64x64xf32>
    %s = memref.alloca() : memref<64x64xf32>
    %x = gpu.block_id x
    %h = gpu.block_id y
    %b = gpu.block_id z
    %q0 = arith.muli %x, %c64 : index
    %hkv = arith.divui %h, %c4 : index
    attn.tile_init %q[%b, %h, %q0] into %qt state(%m, %l, %acc) {q_scale = 0.125 : f64} : memref<?x8x?x64xf16>, memref<64x64xf32>, memref<64xf32>, memref<64x64xf32>
    scf.for %kt = %lo to %hi step %c1 {
      %k0 = arith.muli %kt, %c64 : index
      attn.tile_update %qt, %k, %v scratch %s state(%m, %l, %acc) at(%b, %h, %hkv, %q0, %k0) query_length %sq {masked} : memref<64x64xf32>, memref<?x2x?x64xf16>, memref<?x2x?x64xf16>, memref<64x64xf32>, memref<64xf32>, memref<64x64xf32>
    }
    attn.tile_finalize state(%m, %l, %acc) into %o, %lse at(%b, %h, %q0) : memref<64xf32>, memref<64x64xf32>, memref<?x8x?x64xf16>, memref<?x8x?xf32>
    gpu.return
  }
}

// -----

// D = 59 (rows not a multiple of 8 halves): element copies with zero fill
// up to the padded width 64. With 128 query rows and 2 stages of 32 keys,
// the K ring's last stage (row 32, byte 32 · 72 · 2 = 4608) is lengthened
// to Q's 128 rows: K 160 rows, V 64 rows, of 64 + 8 halves: 32256 bytes.
// CHECK-LABEL:   gpu.func @odd_head_dim
// CHECK:           memref.view %{{.+}}[%c0{{.*}}][] : {{.*}} to memref<160x72xf16, #gpu.address_space<workgroup>>
// CHECK:           memref.view %{{.+}}[%c23040{{.*}}][] : {{.*}} to memref<64x72xf16, #gpu.address_space<workgroup>>
// CHECK:           memref.view %{{.+}}[%c4608{{.*}}][] : {{.*}} to memref<128x72xf16, #gpu.address_space<workgroup>>
// CHECK:           memref.load {{.*}} : memref<?xf16>
// CHECK:           arith.select
// CHECK:           memref.store {{.*}} : memref<128x72xf16, #gpu.address_space<workgroup>>
// CHECK:           nvvm.cp.async.wait.group 1
// CHECK-NEXT:      gpu.barrier
// CHECK-NEXT:      attn.tile_init
// CHECK-NEXT:      gpu.barrier
// CHECK-NEXT:      scf.for
gpu.module @kernels {
  gpu.func @odd_head_dim(%q: memref<?x8x?x59xf16>, %k: memref<?x8x?x59xf16>, %v: memref<?x8x?x59xf16>, %o: memref<?x8x?x59xf16>, %lse: memref<?x8x?xf32>, %sq: index, %lo: index, %hi: index, %b: index, %h: index, %q0: index) kernel attributes {attn.dynamic_shared_memory = 32256 : i64, attn.stages = 2 : i64} {
    %c1 = arith.constant 1 : index
    %c32 = arith.constant 32 : index
    %qt = memref.alloca() : memref<59x128xf32>
    %m = memref.alloca() : memref<128xf32>
    %acc = memref.alloca() : memref<59x128xf32>
    %s = memref.alloca() : memref<32x128xf32>
    attn.tile_init %q[%b, %h, %q0] into %qt state(%m, %m, %acc) {q_scale = 0.125 : f64} : memref<?x8x?x59xf16>, memref<59x128xf32>, memref<128xf32>, memref<59x128xf32>
    scf.for %kt = %lo to %hi step %c1 {
      %k0 = arith.muli %kt, %c32 : index
      attn.tile_update %qt, %k, %v scratch %s state(%m, %m, %acc) at(%b, %h, %h, %q0, %k0) query_length %sq {masked} : memref<59x128xf32>, memref<?x8x?x59xf16>, memref<?x8x?x59xf16>, memref<32x128xf32>, memref<128xf32>, memref<59x128xf32>
    }
    attn.tile_finalize state(%m, %m, %acc) into %o, %lse at(%b, %h, %q0) : memref<128xf32>, memref<59x128xf32>, memref<?x8x?x59xf16>, memref<?x8x?xf32>
    gpu.return
  }
}

// -----

// Kernels without attn.stages (not from -attn-map-to-gpu) are left alone.
// CHECK-LABEL:   gpu.func @other
// CHECK-NOT:       gpu.dynamic_shared_memory
gpu.module @kernels {
  gpu.func @other() kernel {
    gpu.return
  }
}

// -----

gpu.module @kernels {
  // expected-error @+1 {{expects attn.dynamic_shared_memory = 55296 (the shared-memory plan of -attn-map-to-gpu for these tiles)}}
  gpu.func @wrong_plan(%q: memref<?x8x?x64xf16>, %k: memref<?x8x?x64xf16>, %o: memref<?x8x?x64xf16>, %lse: memref<?x8x?xf32>, %i: index) kernel attributes {attn.dynamic_shared_memory = 1024 : i64, attn.stages = 3 : i64} {
    %c1 = arith.constant 1 : index
    %c64 = arith.constant 64 : index
    %qt = memref.alloca() : memref<64x64xf32>
    %m = memref.alloca() : memref<64xf32>
    %acc = memref.alloca() : memref<64x64xf32>
    attn.tile_init %q[%i, %i, %i] into %qt state(%m, %m, %acc) {q_scale = 0.125 : f64} : memref<?x8x?x64xf16>, memref<64x64xf32>, memref<64xf32>, memref<64x64xf32>
    scf.for %kt = %i to %i step %c1 {
      %k0 = arith.muli %kt, %c64 : index
      attn.tile_update %qt, %k, %k scratch %acc state(%m, %m, %acc) at(%i, %i, %i, %i, %k0) query_length %i {masked} : memref<64x64xf32>, memref<?x8x?x64xf16>, memref<?x8x?x64xf16>, memref<64x64xf32>, memref<64xf32>, memref<64x64xf32>
    }
    attn.tile_finalize state(%m, %m, %acc) into %o, %lse at(%i, %i, %i) : memref<64xf32>, memref<64x64xf32>, memref<?x8x?x64xf16>, memref<?x8x?xf32>
    gpu.return
  }
}

// -----

gpu.module @kernels {
  gpu.func @not_key_tiles(%q: memref<?x8x?x64xf16>, %k: memref<?x8x?x64xf16>, %o: memref<?x8x?x64xf16>, %lse: memref<?x8x?xf32>, %i: index) kernel attributes {attn.dynamic_shared_memory = 55296 : i64, attn.stages = 3 : i64} {
    %c1 = arith.constant 1 : index
    %qt = memref.alloca() : memref<64x64xf32>
    %m = memref.alloca() : memref<64xf32>
    %acc = memref.alloca() : memref<64x64xf32>
    attn.tile_init %q[%i, %i, %i] into %qt state(%m, %m, %acc) {q_scale = 0.125 : f64} : memref<?x8x?x64xf16>, memref<64x64xf32>, memref<64xf32>, memref<64x64xf32>
    scf.for %kt = %i to %i step %c1 {
      // expected-error @+1 {{expects k_begin = kt * 64 in a loop over key tiles kt of step 1}}
      attn.tile_update %qt, %k, %k scratch %acc state(%m, %m, %acc) at(%i, %i, %i, %i, %kt) query_length %i {masked} : memref<64x64xf32>, memref<?x8x?x64xf16>, memref<?x8x?x64xf16>, memref<64x64xf32>, memref<64xf32>, memref<64x64xf32>
    }
    attn.tile_finalize state(%m, %m, %acc) into %o, %lse at(%i, %i, %i) : memref<64xf32>, memref<64x64xf32>, memref<?x8x?x64xf16>, memref<?x8x?xf32>
    gpu.return
  }
}

// -----

gpu.module @kernels {
  // expected-error @+1 {{expects the tiled form of -attn-map-to-gpu (tile_init, a key loop, tile_finalize)}}
  gpu.func @no_tiles() kernel attributes {attn.stages = 2 : i64} {
    gpu.return
  }
}

// -----

gpu.module @kernels {
  // expected-error @+1 {{expects attn.stages in [1, 4], got 7}}
  gpu.func @bad_stages() kernel attributes {attn.stages = 7 : i64} {
    gpu.return
  }
}
