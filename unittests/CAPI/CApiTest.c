/* The C API from C: every error path of attn-c/Attn.h (null handles and
 * pointers, uninitialized structs, out-of-range enums, an invalid spec, an
 * unknown target, bad launch arguments) returns its status and a one-line
 * message, and never crashes; a valid spec compiles and launches. The
 * numerical checks are examples/c/attention.c's. Exits 1 at the first
 * failed expectation. */

#include "attn-c/Attn.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

static int failures = 0;

/* Expects `status` and, unless NULL, a last error message containing
   `text`. */
static void expect(int line, attn_status got, attn_status want,
                   const char *text) {
  const char *message = attn_last_error_message();
  if (got != want) {
    fprintf(stderr, "line %d: status %s, expected %s (message: %s)\n", line,
            attn_status_name(got), attn_status_name(want), message);
    ++failures;
  } else if (text && !strstr(message, text)) {
    fprintf(stderr, "line %d: message \"%s\" lacks \"%s\"\n", line, message,
            text);
    ++failures;
  } else if (want == ATTN_STATUS_OK && message[0] != '\0') {
    fprintf(stderr, "line %d: message \"%s\" after success\n", line, message);
    ++failures;
  }
}

#define EXPECT(call, status, text) expect(__LINE__, (call), (status), (text))

static attn_status compileWith(attn_compiler *compiler, attn_spec *spec) {
  attn_kernel *kernel = NULL;
  attn_status status = attn_compile(compiler, spec, &kernel);
  attn_kernel_destroy(kernel);
  attn_spec_init(spec);
  return status;
}

int main(void) {
  attn_compiler *compiler = NULL;
  attn_compiler_options options;
  attn_kernel *kernel = NULL;
  attn_spec spec;
  attn_launch_args args;
  float q[2 * 4 * 32], k[2 * 3 * 32], v[2 * 3 * 32], o[2 * 4 * 32], lse[2 * 4];
  int64_t badStrides[4] = {128, 32, 1, 2};

  /* Compiler handles. */
  EXPECT(attn_compiler_create(NULL, NULL), ATTN_STATUS_INVALID_ARGUMENT,
         "compiler out-pointer is NULL");
  memset(&options, 0, sizeof options);
  EXPECT(attn_compiler_create(&options, &compiler),
         ATTN_STATUS_INVALID_ARGUMENT,
         "attn_compiler_options.struct_size is 0 but this library's is");
  attn_compiler_options_init(&options);
  options.num_threads = 1;
  EXPECT(attn_compiler_create(&options, &compiler), ATTN_STATUS_OK, NULL);
  attn_compiler_destroy(NULL);

  /* attn_compile's arguments. */
  attn_spec_init(&spec);
  EXPECT(attn_compile(NULL, &spec, &kernel), ATTN_STATUS_INVALID_ARGUMENT,
         "compiler is NULL");
  EXPECT(attn_compile(compiler, &spec, NULL), ATTN_STATUS_INVALID_ARGUMENT,
         "kernel out-pointer is NULL");
  EXPECT(attn_compile(compiler, NULL, &kernel), ATTN_STATUS_INVALID_ARGUMENT,
         "attn_spec pointer is NULL");
  spec.struct_size = 8;
  EXPECT(compileWith(compiler, &spec), ATTN_STATUS_INVALID_ARGUMENT,
         "initialize it with attn_spec_init()");

  /* Specs: enums, the verifier, targets. */
  spec.dtype = (attn_dtype)7;
  EXPECT(compileWith(compiler, &spec), ATTN_STATUS_INVALID_ARGUMENT,
         "attn_spec.dtype is 7, not an attn_dtype");
  spec.bias_dtype = (attn_dtype)-1;
  EXPECT(compileWith(compiler, &spec), ATTN_STATUS_INVALID_ARGUMENT,
         "attn_spec.bias_dtype is -1");
  spec.causal = (attn_causal)3;
  EXPECT(compileWith(compiler, &spec), ATTN_STATUS_INVALID_ARGUMENT,
         "is not one of its enum's values");
  spec.num_query_heads = 3, spec.num_kv_heads = 2;
  EXPECT(compileWith(compiler, &spec), ATTN_STATUS_INVALID_ARGUMENT,
         "query heads (3) must be a multiple of key/value heads (2)");
  spec.softcap = -5;
  EXPECT(compileWith(compiler, &spec), ATTN_STATUS_INVALID_ARGUMENT,
         "softcap must be positive and finite, got -5");
  spec.head_dim = -4;
  EXPECT(compileWith(compiler, &spec), ATTN_STATUS_INVALID_ARGUMENT,
         "headDim must not be negative, got -4");
  spec.target = "tpu";
  EXPECT(compileWith(compiler, &spec), ATTN_STATUS_INVALID_ARGUMENT,
         "unknown target 'tpu'");
  spec.target = "sm_80"; /* f32 with dynamic sizes */
  EXPECT(compileWith(compiler, &spec), ATTN_STATUS_UNSUPPORTED, NULL);
  /* CUDA kernels (f16, static sizes) are compiled and assembled without a
     GPU, also with ptxas --Ofast-compile=min. */
  spec.dtype = ATTN_F16;
  spec.batch = 1, spec.query_seq_len = 64, spec.key_seq_len = 64;
  spec.target = "sm_80";
  spec.gpu_fast_assemble = 1;
  EXPECT(compileWith(compiler, &spec), ATTN_STATUS_OK, NULL);

  /* A valid kernel: Hq = 4, Hkv = 2 (GQA), D = Dv = 32, B = 1, Sq = 2,
     Sk = 3 at launch, with a NULL target (the CPU). */
  spec.num_query_heads = 4, spec.num_kv_heads = 2;
  spec.head_dim = spec.value_head_dim = 32;
  spec.target = NULL;
  EXPECT(attn_compile(compiler, &spec, &kernel), ATTN_STATUS_OK, NULL);

  /* Launch arguments. */
  memset(q, 0, sizeof q), memset(k, 0, sizeof k), memset(v, 0, sizeof v);
  attn_launch_args_init(&args);
  args.q = q, args.k = k, args.v = v, args.o = o, args.lse = lse;
  args.batch = 1, args.query_seq_len = 2, args.key_seq_len = 3;
  EXPECT(attn_kernel_launch(NULL, &args), ATTN_STATUS_INVALID_ARGUMENT,
         "kernel is NULL");
  EXPECT(attn_kernel_launch(kernel, NULL), ATTN_STATUS_INVALID_ARGUMENT,
         "attn_launch_args pointer is NULL");
  args.struct_size = 0;
  EXPECT(attn_kernel_launch(kernel, &args), ATTN_STATUS_INVALID_ARGUMENT,
         "attn_launch_args.struct_size is 0");
  args.struct_size = sizeof args;
  args.v = NULL;
  EXPECT(attn_kernel_launch(kernel, &args), ATTN_STATUS_INVALID_ARGUMENT,
         "the V buffer is null but has 192 elements");
  args.v = v;
  args.query_seq_len = -3;
  EXPECT(attn_kernel_launch(kernel, &args), ATTN_STATUS_INVALID_ARGUMENT,
         "querySeqLen must be >= 0, got -3");
  args.query_seq_len = 2;
  args.o_strides = badStrides;
  EXPECT(attn_kernel_launch(kernel, &args), ATTN_STATUS_INVALID_ARGUMENT,
         "the head dim must be contiguous (stride 1)");
  args.o_strides = NULL;
  args.mask = q;
  EXPECT(attn_kernel_launch(kernel, &args), ATTN_STATUS_INVALID_ARGUMENT,
         "compiled without a mask");
  args.mask = NULL;

  /* Zero inputs: uniform attention over zero values gives O = 0 and
     LSE = ln(Sk). */
  EXPECT(attn_kernel_launch(kernel, &args), ATTN_STATUS_OK, NULL);
  if (o[0] != 0.0f || lse[0] < 1.0986f || lse[0] > 1.0987f) {
    fprintf(stderr, "unexpected output: O[0] = %g, LSE[0] = %g\n", o[0],
            lse[0]);
    ++failures;
  }

  attn_kernel_destroy(kernel);
  attn_kernel_destroy(NULL);
  attn_compiler_destroy(compiler);
  if (strcmp(attn_status_name((attn_status)42), "unknown status") != 0)
    ++failures;
  printf("attn C API test: %s\n", failures ? "FAILED" : "passed");
  return failures ? 1 : 0;
}
