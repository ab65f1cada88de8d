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
// The copies are unrolled: thread t copies chunk c = 8·(t mod 8) of rows
// r0 + 16j (r0 = t / 8, j < 4); copy j is valid iff 16j < Sq − q0 − r0.
// They read a view of Q's flat buffer that starts at the thread's first
// element, base + 64·r0 + c (element 0 when no copy is valid): copy j at
// 1024j, or at 0 (a valid address) when it is not valid.
// CHECK:           %[[TID:.+]] = gpu.thread_id x
// CHECK:           %[[R0:.+]] = arith.divui %[[TID]], %c8{{.*}} : index
// CHECK:           %[[CH:.+]] = arith.remui %[[TID]], %c8{{.*}} : index
// CHECK:           %[[C:.+]] = arith.muli %[[CH]], %c8{{.*}} : index
// CHECK:           %[[LEFT:.+]] = arith.subi %{{.+}}, %[[R0]] : index
// CHECK:           %[[V0:.+]] = arith.cmpi slt, %c0{{.*}}, %[[LEFT]] : index
// CHECK:           %[[FIRST:.+]] = arith.select %[[V0]], %{{.+}}, %c0{{.*}} : index
// CHECK:           %[[QT:.+]] = memref.reinterpret_cast %[[QF]] to offset: [%[[FIRST]]], sizes: [3080], strides: [1] : memref<?xf16> to memref<?xf16, strided<[1], offset: ?>>
// CHECK:           %[[N0:.+]] = arith.select %[[V0]], %c8{{.*}}, %c0{{.*}} : index
// CHECK:           nvgpu.device_async_copy %[[QT]][%c0{{.*}}], %[[QS]][%{{.+}}, %[[C]]], 8, %[[N0]] {bypassL1} : memref<?xf16, strided<[1], offset: ?>> to memref<64x72xf16, #gpu.address_space<workgroup>>
// CHECK:           %[[V1:.+]] = arith.cmpi slt, %c16{{.*}}, %[[LEFT]] : index
// CHECK:           %[[S1:.+]] = arith.select %[[V1]], %c1024{{.*}}, %c0{{.*}} : index
// CHECK:           %[[N1:.+]] = arith.select %[[V1]], %c8{{.*}}, %c0{{.*}} : index
// CHECK:           nvgpu.device_async_copy %[[QT]][%[[S1]]], %[[QS]][%{{.+}}, %[[C]]], 8, %[[N1]] {bypassL1}
// CHECK:           arith.cmpi slt, %c32{{.*}}, %[[LEFT]] : index
// CHECK:           nvgpu.device_async_copy %[[QT]]
// CHECK:           arith.cmpi slt, %c48{{.*}}, %[[LEFT]] : index
// CHECK:           nvgpu.device_async_copy %[[QT]]
// CHECK-NOT:       nvgpu.device_async_copy
// K and V (same row length) row by row, sharing the index computations.
// CHECK:           nvvm.cp.async.commit.group
// CHECK:           scf.if
// CHECK:             nvgpu.device_async_copy {{.*}}, %[[KS]]
// CHECK:             nvgpu.device_async_copy {{.*}}, %[[VS]]
// CHECK:             nvgpu.device_async_copy {{.*}}, %[[KS]]
// CHECK:             nvgpu.device_async_copy {{.*}}, %[[VS]]
// CHECK:             nvgpu.device_async_copy {{.*}}, %[[KS]]
// CHECK:             nvgpu.device_async_copy {{.*}}, %[[VS]]
// CHECK:             nvgpu.device_async_copy {{.*}}, %[[KS]]
// CHECK:             nvgpu.device_async_copy {{.*}}, %[[VS]]
// CHECK-NOT:         nvgpu.device_async_copy
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
// The update reads stage (kt − kLo) mod 3 of each ring (computed in 32
// bits): rows 64 · stage on, element offset 64 · stage · 72.
// CHECK:             %[[STEP32:.+]] = arith.index_castui %[[STEP]] : index to i32
// CHECK:             %[[STAGE32:.+]] = arith.remui %[[STEP32]], %c3_i32{{.*}} : i32
// CHECK:             %[[STAGE:.+]] = arith.index_castui %[[STAGE32]] : i32 to index
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

// Static lengths that are multiples of the tiles (Sq = Sk = 256, 64-row
// tiles starting at multiples of 64): every row of every tile is in range,
// so the copies have neither a row test nor a source size, and copy j reads
// the thread's view at the constant 1024j (an immediate of the address).
// CHECK-LABEL:   gpu.func @full_tiles
// CHECK:           %[[QS:.+]] = memref.view {{.*}}[%c18432{{.*}}][] : {{.*}} to memref<64x72xf16, #gpu.address_space<workgroup>>
// CHECK:           %[[TID:.+]] = gpu.thread_id x
// CHECK-NOT:       arith.cmpi
// CHECK:           %[[QT:.+]] = memref.reinterpret_cast %{{.+}} to offset: [%{{.+}}], sizes: [3080], strides: [1]
// CHECK-NOT:       arith.cmpi
// CHECK:           nvgpu.device_async_copy %[[QT]][%c0{{.*}}], %[[QS]][%{{.+}}, %{{.+}}], 8 {bypassL1}
// CHECK:           nvgpu.device_async_copy %[[QT]][%c1024{{.*}}], %[[QS]][%{{.+}}, %{{.+}}], 8 {bypassL1}
// CHECK:           nvgpu.device_async_copy %[[QT]][%c2048{{.*}}], %[[QS]][%{{.+}}, %{{.+}}], 8 {bypassL1}
// CHECK:           nvgpu.device_async_copy %[[QT]][%c3072{{.*}}], %[[QS]][%{{.+}}, %{{.+}}], 8 {bypassL1}
// CHECK:           nvvm.cp.async.commit.group
// CHECK:           scf.if
// CHECK-NOT:         arith.cmpi
// CHECK-COUNT-8:     nvgpu.device_async_copy {{.*}}, 8 {bypassL1}
// CHECK:           nvvm.cp.async.commit.group
gpu.module @kernels {
  gpu.func @full_tiles(%q: memref<2x8x256x64xf16>, %k: memref<2x2x256x64xf16>, %v: memref<2x2x256x64xf16>, %o: memref<2x8x256x64xf16>, %lse: memref<2x8x256xf32>, %lo: index, %hi: index) kernel attributes {attn.dynamic_shared_memory = 55296 : i64, attn.key_tile_cols = 64 : i64, attn.query_tile_rows = 64 : i64, attn.stages = 3 : i64} {
    %c1 = arith.constant 1 : index
    %c4 = arith.constant 4 : index
    %c64 = arith.constant 64 : index
    %c256 = arith.constant 256 : index
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
    attn.tile_init %q[%b, %h, %q0] into %qt state(%m, %l, %acc) {q_scale = 0.125 : f64} : memref<2x8x256x64xf16>, memref<64x64xf32>, memref<64xf32>, memref<64x64xf32>
    scf.for %kt = %lo to %hi step %c1 {
      %k0 = arith.muli %kt, %c64 : index
      attn.tile_update %qt, %k, %v scratch %s state(%m, %l, %acc) at(%b, %h, %hkv, %q0, %k0) query_length %c256 : memref<64x64xf32>, memref<2x2x256x64xf16>, memref<2x2x256x64xf16>, memref<64x64xf32>, memref<64xf32>, memref<64x64xf32>
    }
    attn.tile_finalize state(%m, %l, %acc) into %o, %lse at(%b, %h, %q0) : memref<64xf32>, memref<64x64xf32>, memref<2x8x256x64xf16>, memref<2x8x256xf32>
    gpu.return
  }
}

// -----

// D = 24 and Dv = 64: rows of different lengths, so the K and V tiles are
// copied one after the other (32 rows per pass of 4 chunks for K, 16 of 8
// for V). K's rows are padded to 32 halves: threads whose chunk starts at
// c = 24 have no rows to read and zero-fill theirs.
// CHECK-LABEL:   gpu.func @mixed_widths
// CHECK:           %[[KS:.+]] = memref.view {{.*}} to memref<192x40xf16, #gpu.address_space<workgroup>>
// CHECK:           %[[VS:.+]] = memref.view {{.*}} to memref<192x72xf16, #gpu.address_space<workgroup>>
// CHECK:           scf.for
// CHECK:             %[[TID:.+]] = gpu.thread_id x
// CHECK:             %[[KR0:.+]] = arith.divui %[[TID]], %c4{{.*}} : index
// CHECK:             %[[KC:.+]] = arith.muli {{.*}}, %c8{{.*}} : index
// CHECK:             %[[KROWS:.+]] = arith.subi %{{.+}}, %[[KR0]] : index
// CHECK:             %[[INROW:.+]] = arith.cmpi slt, %[[KC]], %c24{{.*}} : index
// CHECK:             %[[KLEFT:.+]] = arith.select %[[INROW]], %[[KROWS]], %c0{{.*}} : index
// CHECK:             arith.cmpi slt, %c0{{.*}}, %[[KLEFT]] : index
// CHECK:             nvgpu.device_async_copy {{.*}}, %[[KS]]
// CHECK:             arith.cmpi slt, %c32{{.*}}, %[[KLEFT]] : index
// CHECK:             nvgpu.device_async_copy {{.*}}, %[[KS]]
// CHECK:             arith.divui %{{.+}}, %c8{{.*}} : index
// CHECK-COUNT-4:     nvgpu.device_async_copy {{.*}}, %[[VS]]
// CHECK-NOT:         nvgpu.device_async_copy
// CHECK:             nvvm.cp.async.commit.group
gpu.module @kernels {
  gpu.func @mixed_widths(%q: memref<?x8x?x24xf16>, %k: memref<?x2x?x24xf16>, %v: memref<?x2x?x64xf16>, %o: memref<?x8x?x64xf16>, %lse: memref<?x8x?xf32>, %sq: index, %lo: index, %hi: index) kernel attributes {attn.dynamic_shared_memory = 43008 : i64, attn.key_tile_cols = 64 : i64, attn.query_tile_rows = 64 : i64, attn.stages = 3 : i64} {
    %c1 = arith.constant 1 : index
    %c4 = arith.constant 4 : index
    %c64 = arith.constant 64 : index
    %qt = memref.alloca() : memref<24x64xf32>
    %m = memref.alloca() : memref<64xf32>
    %l = memref.alloca() : memref<64xf32>
    %acc = memref.alloca() : memref<64x64xf32>
    %s = memref.alloca() : memref<64x64xf32>
    %x = gpu.block_id x
    %h = gpu.block_id y
    %b = gpu.block_id z
    %q0 = arith.muli %x, %c64 : index
    %hkv = arith.divui %h, %c4 : index
    attn.tile_init %q[%b, %h, %q0] into %qt state(%m, %l, %acc) {q_scale = 0.125 : f64} : memref<?x8x?x24xf16>, memref<24x64xf32>, memref<64xf32>, memref<64x64xf32>
    scf.for %kt = %lo to %hi step %c1 {
      %k0 = arith.muli %kt, %c64 : index
      attn.tile_update %qt, %k, %v scratch %s state(%m, %l, %acc) at(%b, %h, %hkv, %q0, %k0) query_length %sq {masked} : memref<24x64xf32>, memref<?x2x?x24xf16>, memref<?x2x?x64xf16>, memref<64x64xf32>, memref<64xf32>, memref<64x64xf32>
    }
    attn.tile_finalize state(%m, %l, %acc) into %o, %lse at(%b, %h, %q0) : memref<64xf32>, memref<64x64xf32>, memref<?x8x?x64xf16>, memref<?x8x?xf32>
    gpu.return
  }
}

// -----

// D = Dv = 256, 64 × 32 tiles, 2 stages: a thread would issue 16 copies of
// the Q tile (2048 chunks of 8 halves), more than the 8 that are unrolled,
// so Q goes through a loop; K and V (8 copies each) are unrolled in pairs.
// CHECK-LABEL:   gpu.func @wide_query
// CHECK:           %[[KS:.+]] = memref.view {{.*}} to memref<64x264xf16, #gpu.address_space<workgroup>>
// CHECK:           %[[VS:.+]] = memref.view {{.*}} to memref<64x264xf16, #gpu.address_space<workgroup>>
// CHECK:           %[[QS:.+]] = memref.view {{.*}}[%c67584{{.*}}][] : {{.*}} to memref<64x264xf16, #gpu.address_space<workgroup>>
// CHECK:           %[[TID:.+]] = gpu.thread_id x
// CHECK:           scf.for %{{.+}} = %[[TID]] to %c2048{{.*}} step %c128
// CHECK:             nvgpu.device_async_copy {{.*}}, %[[QS]]
// CHECK:           nvvm.cp.async.commit.group
// CHECK:           scf.if
// CHECK-NOT:         scf.for
// CHECK:             nvgpu.device_async_copy {{.*}}, %[[KS]]
// CHECK:             nvgpu.device_async_copy {{.*}}, %[[VS]]
// CHECK-COUNT-14:    nvgpu.device_async_copy
// CHECK-NOT:         nvgpu.device_async_copy
// CHECK:           nvvm.cp.async.commit.group
gpu.module @kernels {
  gpu.func @wide_query(%q: memref<?x8x?x256xf16>, %k: memref<?x2x?x256xf16>, %v: memref<?x2x?x256xf16>, %o: memref<?x8x?x256xf16>, %lse: memref<?x8x?xf32>, %sq: index, %lo: index, %hi: index) kernel attributes {attn.dynamic_shared_memory = 101376 : i64, attn.key_tile_cols = 32 : i64, attn.query_tile_rows = 64 : i64, attn.stages = 2 : i64} {
    %c1 = arith.constant 1 : index
    %c4 = arith.constant 4 : index
    %c32 = arith.constant 32 : index
    %c64 = arith.constant 64 : index
    %qt = memref.alloca() : memref<256x64xf32>
    %m = memref.alloca() : memref<64xf32>
    %l = memref.alloca() : memref<64xf32>
    %acc = memref.alloca() : memref<256x64xf32>
    %s = memref.alloca() : memref<32x64xf32>
    %x = gpu.block_id x
    %h = gpu.block_id y
    %b = gpu.block_id z
    %q0 = arith.muli %x, %c64 : index
    %hkv = arith.divui %h, %c4 : index
    attn.tile_init %q[%b, %h, %q0] into %qt state(%m, %l, %acc) {q_scale = 0.0625 : f64} : memref<?x8x?x256xf16>, memref<256x64xf32>, memref<64xf32>, memref<256x64xf32>
    scf.for %kt = %lo to %hi step %c1 {
      %k0 = arith.muli %kt, %c32 : index
      attn.tile_update %qt, %k, %v scratch %s state(%m, %l, %acc) at(%b, %h, %hkv, %q0, %k0) query_length %sq : memref<256x64xf32>, memref<?x2x?x256xf16>, memref<?x2x?x256xf16>, memref<32x64xf32>, memref<64xf32>, memref<256x64xf32>
    }
    attn.tile_finalize state(%m, %l, %acc) into %o, %lse at(%b, %h, %q0) : memref<64xf32>, memref<256x64xf32>, memref<?x8x?x256xf16>, memref<?x8x?xf32>
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
