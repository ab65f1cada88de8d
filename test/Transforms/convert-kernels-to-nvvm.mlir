// -attn-convert-kernels-to-nvvm: the ops of attn's GPU kernels (gpu, scf,
// nvgpu, arith, memref, vector, math) → LLVM and NVVM dialects, in one
// conversion.
//
// RUN: attn-opt %s -split-input-file -attn-convert-kernels-to-nvvm -verify-diagnostics | FileCheck %s
// RUN: attn-opt %s -split-input-file -attn-convert-kernels-to-nvvm -verify-diagnostics | FileCheck %s --check-prefix=GONE

// Nothing of the source dialects is left (gpu.module stays for the
// serializer).
// GONE-NOT: {{gpu\.func|gpu\.thread|gpu\.barrier|scf\.|nvgpu\.|arith\.|memref\.|vector\.|math\.}}

// A kernel with what the attention kernels use: thread ids, the dynamic
// shared memory and a view of it, ceildivsi, a loop of cp.async copies with
// a source size, commit/wait groups, a barrier, ldmatrix, vector extraction
// and the soft-cap's tanh.
// CHECK-LABEL: gpu.module @kernels
// The tanh becomes a call to libdevice.
// CHECK:         llvm.func @__nv_tanhf(f32) -> f32
// The kernel: memref arguments expanded to their descriptors' fields.
// CHECK:         llvm.func @copy_tanh(%{{.+}}: !llvm.ptr, %{{.+}}: !llvm.ptr, %{{.+}}: i64, %{{.+}}: i64, %{{.+}}: i64, %{{.+}}: !llvm.ptr, %{{.+}}: !llvm.ptr, %{{.+}}: i64, %{{.+}}: i64, %{{.+}}: i64, %[[N:.+]]: i64) attributes {{{.*}}gpu.kernel, nvvm.kernel}
// CHECK:           nvvm.read.ptx.sreg.tid.x : i32
// CHECK:           llvm.mlir.addressof @__dynamic_shmem__0 : !llvm.ptr<3>
// ceildivsi, expanded before its LLVM lowering.
// CHECK:           llvm.sdiv %[[N]], %{{.+}} : i64
// The loop, as branches.
// CHECK:           llvm.br ^[[HEAD:.+]](%{{.+}} : i64)
// CHECK:         ^[[HEAD]](%{{.+}}: i64):
// CHECK:           llvm.cond_br %{{.+}}, ^[[BODY:.+]], ^[[EXIT:.+]]
// CHECK:         ^[[BODY]]:
// 16-byte copy bypassing L1, with the source size in bytes.
// CHECK:           nvvm.cp.async.shared.global %{{.+}}, %{{.+}}, 16, cache =  cg, %{{.+}} : !llvm.ptr<3>, !llvm.ptr<1>, i32
// CHECK:         ^[[EXIT]]:
// CHECK-NEXT:      nvvm.cp.async.commit.group
// CHECK-NEXT:      nvvm.cp.async.wait.group 0
// CHECK-NEXT:      nvvm.barrier0
// CHECK:           nvvm.ldmatrix %{{.+}} {{{.*}}num = 4 : i32{{.*}}} : (!llvm.ptr<3>) -> !llvm.struct<(i32, i32, i32, i32)>
// CHECK:           llvm.extractelement
// CHECK:           llvm.fpext
// CHECK:           llvm.call @__nv_tanhf
// CHECK:           llvm.store %{{.+}}, %{{.+}} : f32, !llvm.ptr
// CHECK:           llvm.return
gpu.module @kernels {
  gpu.func @copy_tanh(%src: memref<?xf16>, %out: memref<?xf32>, %n: index) kernel {
    %c0 = arith.constant 0 : index
    %c1 = arith.constant 1 : index
    %c8 = arith.constant 8 : index
    %tid = gpu.thread_id x
    %smem = gpu.dynamic_shared_memory : memref<?xi8, #gpu.address_space<workgroup>>
    %tile = memref.view %smem[%c0][] : memref<?xi8, #gpu.address_space<workgroup>> to memref<16x16xf16, #gpu.address_space<workgroup>>
    %chunks = arith.ceildivsi %n, %c8 : index
    scf.for %i = %c0 to %chunks step %c1 {
      %t = nvgpu.device_async_copy %src[%i], %tile[%i, %c0], 8, %c8 {bypassL1} : memref<?xf16> to memref<16x16xf16, #gpu.address_space<workgroup>>
    }
    nvvm.cp.async.commit.group
    nvvm.cp.async.wait.group 0
    gpu.barrier
    %frag = nvgpu.ldmatrix %tile[%c0, %c0] {numTiles = 4 : i32, transpose = false} : memref<16x16xf16, #gpu.address_space<workgroup>> -> vector<4x2xf16>
    %h = vector.extract %frag[0, 0] : f16 from vector<4x2xf16>
    %x = arith.extf %h : f16 to f32
    %y = math.tanh %x : f32
    memref.store %y, %out[%tid] : memref<?xf32>
    gpu.return
  }
}

// -----

// NVVM ops without an LLVM intrinsic become inline PTX; the others stay.
// CHECK-LABEL: gpu.module @inline_ptx
// CHECK:         llvm.inline_asm has_side_effects asm_dialect = att "bar.arrive $0, $1;"
// CHECK:         nvvm.barrier0
gpu.module @inline_ptx {
  gpu.func @arrive(%id: i32, %n: i32) kernel {
    nvvm.barrier.arrive id = %id number_of_threads = %n
    gpu.barrier
    gpu.return
  }
}

// -----

// Ops the kernels never contain are not converted silently: affine.apply
// (the pipeline runs no -lower-affine) stops the conversion.
gpu.module @kernels {
  gpu.func @affine(%out: memref<?xf32>) kernel {
    %tid = gpu.thread_id x
    // expected-error @+1 {{failed to legalize operation 'affine.apply'}}
    %i = affine.apply affine_map<(d0) -> (d0 * 2)>(%tid)
    %c = arith.constant 1.0 : f32
    memref.store %c, %out[%i] : memref<?xf32>
    gpu.return
  }
}
