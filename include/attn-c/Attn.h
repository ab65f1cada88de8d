/*===- attn-c/Attn.h - the attn attention compiler as a C library ---------===*
 *
 * Plain C99: describe an attention at run time, compile it for the host CPU
 * or a CUDA chip, launch the kernel on your own buffers.
 *
 *   attn_compiler *compiler;
 *   attn_compiler_create(NULL, &compiler);
 *   attn_spec spec;
 *   attn_spec_init(&spec);                  (f32, 1 head, D = Dv = 64, CPU)
 *   spec.num_query_heads = 8; spec.num_kv_heads = 2;
 *   attn_kernel *kernel;
 *   if (attn_compile(compiler, &spec, &kernel) != ATTN_STATUS_OK)
 *     fprintf(stderr, "%s\n", attn_last_error_message());
 *   attn_launch_args args;
 *   attn_launch_args_init(&args);
 *   args.q = q; args.k = k; args.v = v; args.o = o; args.lse = lse;
 *   args.batch = 1; args.query_seq_len = 100; args.key_seq_len = 300;
 *   attn_kernel_launch(kernel, &args);
 *   attn_kernel_destroy(kernel);
 *   attn_compiler_destroy(compiler);
 *
 * Every function that can fail returns an attn_status; the reason is then
 * one line from attn_last_error_message() (per thread). Structs carry their
 * size in `struct_size`, set by their init function, so that later versions
 * can add fields: always initialize them with it.
 *
 * Tensors are Q [B, Hq, Sq, D], K [B, Hkv, Sk, D], V [B, Hkv, Sk, Dv],
 * O [B, Hq, Sq, Dv] (dtype elements; f16/bf16 as 16-bit patterns) and LSE
 * [B, Hq, Sq] (float, natural log). Q, K, V and O may be strided (see
 * attn_launch_args); the mask and LSE are dense.
 *
 *===----------------------------------------------------------------------===*/

#ifndef ATTN_C_ATTN_H
#define ATTN_C_ATTN_H

#include <stddef.h>
#include <stdint.h>

#ifdef __cplusplus
extern "C" {
#endif

/* A size (batch, Sq, Sk, or a full-size mask dim) given only at launch. */
#define ATTN_DYNAMIC_SIZE (-1)

typedef enum attn_status {
  ATTN_STATUS_OK = 0,
  /* A null handle or pointer, an uninitialized struct, an invalid spec (the
     dialect verifier's message) or launch arguments that do not fit the
     kernel. */
  ATTN_STATUS_INVALID_ARGUMENT = 1,
  /* A valid request the target cannot do (yet). */
  ATTN_STATUS_UNSUPPORTED = 2,
  /* Compiling or launching failed (JIT, CUDA driver, ...). */
  ATTN_STATUS_FAILED = 3
} attn_status;

typedef enum attn_dtype {
  ATTN_F32 = 0,
  ATTN_F16 = 1,
  ATTN_BF16 = 2
} attn_dtype;

typedef enum attn_mask_kind {
  ATTN_MASK_NONE = 0,
  ATTN_MASK_KEEP = 1, /* one byte per element: 1 keep, 0 mask out */
  ATTN_MASK_BIAS = 2  /* additive bias of bias_dtype */
} attn_mask_kind;

typedef enum attn_causal {
  ATTN_CAUSAL_NONE = 0,
  ATTN_CAUSAL_TOP_LEFT = 1,    /* key j visible to query i iff j <= i */
  ATTN_CAUSAL_BOTTOM_RIGHT = 2 /* iff j <= i + Sk - Sq */
} attn_causal;

/* What to compute, and for which target. */
typedef struct attn_spec {
  size_t struct_size; /* sizeof(attn_spec), set by attn_spec_init */
  attn_dtype dtype;
  int64_t num_query_heads, num_kv_heads; /* Hq % Hkv == 0 */
  int64_t head_dim, value_head_dim;      /* D, Dv */
  /* ATTN_DYNAMIC_SIZE (the default: taken from the launch) or the only size
     the kernel accepts. CUDA kernels need static sizes. */
  int64_t batch, query_seq_len, key_seq_len;
  /* The mask buffer is dense of shape mask_shape, broadcastable to
     [B, Hq, Sq, Sk]: each dim 1 or the full size (ATTN_DYNAMIC_SIZE where
     that size is dynamic). */
  attn_mask_kind mask;
  int64_t mask_shape[4];
  attn_dtype bias_dtype;
  double scale; /* 0: 1/sqrt(D) */
  attn_causal causal;
  /* Keys i + Sk - Sq - left <= j <= i + Sk - Sq + right; -1 = unbounded. */
  int64_t window_left, window_right;
  double softcap;         /* 0: none */
  const char *target;     /* "cpu" (NULL too) or a CUDA chip: "sm_80", ... */
  int64_t q_tile, k_tile; /* CPU tile sizes */
  /* CUDA: query rows per CTA (64, 128), keys per tile, K/V pipeline stages;
     0 = the chip's tile table. */
  int64_t gpu_block_m, gpu_block_n, gpu_stages;
  /* CUDA: nonzero assembles with ptxas --Ofast-compile=min (PTX -> cubin
     ~1/3 faster; the kernel's speed with it is not measured yet). */
  int gpu_fast_assemble;
} attn_spec;

/* One launch. Pointers are host memory for CPU kernels, device memory
   (CUdeviceptr) for CUDA kernels; a buffer may be NULL only when it has no
   elements. Strides point to 4 element counts (NULL: dense [B, H, S, D]);
   CPU kernels take any non-negative strides with stride 1 for the head dim
   (e.g. [B, S, H, D] buffers: {S*H*D, D, H*D, 1}), CUDA kernels dense
   buffers only, so far. */
typedef struct attn_launch_args {
  size_t struct_size; /* sizeof(attn_launch_args), set by the init function */
  const void *q, *k, *v, *mask;
  void *o;
  float *lse;
  int64_t batch, query_seq_len, key_seq_len;
  const int64_t *q_strides, *k_strides, *v_strides, *o_strides;
  void *stream; /* CUDA: a CUstream (NULL: the default stream) */
  int device;   /* CUDA: the device the stream and buffers belong to */
} attn_launch_args;

typedef struct attn_compiler_options {
  size_t struct_size;   /* sizeof(attn_compiler_options) */
  unsigned num_threads; /* CPU kernels' threads; 0 = all cores */
} attn_compiler_options;

typedef struct attn_compiler attn_compiler;
typedef struct attn_kernel attn_kernel;

/* Defaults: f32, Hq = Hkv = 1, D = Dv = 64, dynamic sizes, no mask, default
   scale, not causal, no window, no softcap, "cpu", CPU tiles 64 x 64, the
   chip's GPU tiles. */
void attn_spec_init(attn_spec *spec);
void attn_launch_args_init(attn_launch_args *args);
void attn_compiler_options_init(attn_compiler_options *options);

/* `options` may be NULL (defaults). Thread-safe: one compiler may compile
   on several threads at once. */
attn_status attn_compiler_create(const attn_compiler_options *options,
                                 attn_compiler **compiler);
void attn_compiler_destroy(attn_compiler *compiler); /* NULL is a no-op */

/* Validates and compiles `spec`; *kernel is set only on success. */
attn_status attn_compile(const attn_compiler *compiler, const attn_spec *spec,
                         attn_kernel **kernel);
/* Runs the kernel (CPU: returns when done; CUDA: queued on args->stream).
   A kernel may be launched from several threads at once. */
attn_status attn_kernel_launch(const attn_kernel *kernel,
                               const attn_launch_args *args);
void attn_kernel_destroy(attn_kernel *kernel); /* NULL is a no-op */

/* The message of the last failed call on this thread ("" if none); valid
   until the next call into attn on this thread. */
const char *attn_last_error_message(void);
/* "ok", "invalid argument", "unsupported", "failed". */
const char *attn_status_name(attn_status status);

#ifdef __cplusplus
}
#endif

#endif /* ATTN_C_ATTN_H */
