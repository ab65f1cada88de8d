/* Embedding attn from C: compiles three attention specs for the host CPU,
 * runs them on this program's own buffers and checks them against a naive
 * attention written here in C (double precision on the same rounded inputs).
 *
 *   1. f32 multi-head attention, sizes chosen at launch, Q/K/V/O stored
 *      [B, S, H, D] (strided), as many models keep them;
 *   2. f16 grouped-query attention (8 query heads, 2 KV heads), causal
 *      (bottom-right), compiled for fixed sizes;
 *   3. bf16 with an additive bias mask broadcast over batch and heads, and
 *      D != Dv.
 *
 * Exits 0 when every kernel matches, 1 otherwise; built with -std=c99
 * -Wall -Werror -pedantic and run by ctest (attn-c-example). */

#include "attn-c/Attn.h"

#include <inttypes.h>
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

/* --- 16-bit formats (round to nearest even; inputs here are finite) ---- */

static uint32_t floatBits(float x) {
  uint32_t u;
  memcpy(&u, &x, sizeof u);
  return u;
}

static float bitsFloat(uint32_t u) {
  float x;
  memcpy(&x, &u, sizeof x);
  return x;
}

static uint16_t toBf16(float x) {
  uint32_t u = floatBits(x);
  return (uint16_t)((u + 0x7fffu + ((u >> 16) & 1u)) >> 16);
}

static float fromBf16(uint16_t h) { return bitsFloat((uint32_t)h << 16); }

static float fromF16(uint16_t h) {
  /* Exact: every f16 is a float. */
  int exponent = (h >> 10) & 0x1f;
  float mantissa = (float)(h & 0x3ff);
  float value = exponent == 0 ? ldexpf(mantissa, -24)
                              : ldexpf(1024.0f + mantissa, exponent - 25);
  return (h & 0x8000) ? -value : value;
}

static uint16_t toF16(float x) {
  /* Values here are in (-2, 2): normal or subnormal f16, never overflow. */
  uint16_t sign = x < 0 ? 0x8000 : 0;
  float a = fabsf(x);
  int exponent;
  uint16_t bits;
  if (a < ldexpf(1.0f, -14)) {
    bits = (uint16_t)nearbyintf(ldexpf(a, 24)); /* subnormal */
  } else {
    frexpf(a, &exponent); /* a = m * 2^exponent, m in [0.5, 1) */
    bits = (uint16_t)(((exponent + 14) << 10) +
                      (int)nearbyintf(ldexpf(a, 11 - exponent)) - 1024);
  }
  return (uint16_t)(sign | bits);
}

/* --- Tensors ------------------------------------------------------------ */

typedef struct {
  attn_dtype dtype;
  size_t count;
  void *data;    /* storage: float or 16-bit patterns */
  double *value; /* the stored values, exactly */
} Tensor;

static int elementBytes(attn_dtype t) { return t == ATTN_F32 ? 4 : 2; }

static float load(const Tensor *t, size_t i) {
  if (t->dtype == ATTN_F32)
    return ((const float *)t->data)[i];
  return t->dtype == ATTN_F16 ? fromF16(((const uint16_t *)t->data)[i])
                              : fromBf16(((const uint16_t *)t->data)[i]);
}

static void store(Tensor *t, size_t i, float x) {
  if (t->dtype == ATTN_F32)
    ((float *)t->data)[i] = x;
  else
    ((uint16_t *)t->data)[i] = t->dtype == ATTN_F16 ? toF16(x) : toBf16(x);
}

static unsigned rngState = 12345u;

static float uniform(void) {
  rngState = rngState * 1664525u + 1013904223u;
  return (float)(rngState >> 8) / 8388608.0f - 1.0f; /* [-1, 1) */
}

/* A tensor of `count` random values in `dtype` (NULL values if count = 0). */
static Tensor randomTensor(attn_dtype dtype, size_t count) {
  Tensor t;
  size_t i;
  t.dtype = dtype;
  t.count = count;
  t.data = calloc(count ? count : 1, (size_t)elementBytes(dtype));
  t.value = calloc(count ? count : 1, sizeof(double));
  for (i = 0; i < count; ++i) {
    store(&t, i, uniform());
    t.value[i] = load(&t, i);
  }
  return t;
}

static void freeTensor(Tensor *t) {
  free(t->data);
  free(t->value);
}

/* --- One case ------------------------------------------------------------ */

typedef struct {
  const char *name;
  attn_spec spec;
  int64_t b, sq, sk;
  int bshd;         /* Q, K, V, O stored [B, S, H, D] */
  double tolerance; /* on O; LSE is checked to 1e-3 */
} Case;

/* Element offset of [b, h, s, d] in a buffer of `heads` heads, `seq`
   positions and head dim `dim`, stored BHSD or BSHD; the launch strides. */
static size_t offset(const Case *c, int64_t heads, int64_t seq, int64_t dim,
                     int64_t b, int64_t h, int64_t s, int64_t d) {
  if (c->bshd)
    return (size_t)(((b * seq + s) * heads + h) * dim + d);
  return (size_t)(((b * heads + h) * seq + s) * dim + d);
}

static void strides(const Case *c, int64_t heads, int64_t seq, int64_t dim,
                    int64_t out[4]) {
  out[0] = heads * seq * dim;
  out[1] = c->bshd ? dim : seq * dim;
  out[2] = c->bshd ? heads * dim : dim;
  out[3] = 1;
}

static int runCase(attn_compiler *compiler, const Case *c) {
  const attn_spec *spec = &c->spec;
  int64_t hq = spec->num_query_heads, hkv = spec->num_kv_heads;
  int64_t d = spec->head_dim, dv = spec->value_head_dim;
  int64_t b = c->b, sq = c->sq, sk = c->sk;
  int64_t qStrides[4], kStrides[4], vStrides[4], oStrides[4];
  int64_t maskShape[4], bi, h, i, j, e;
  size_t maskCount = 1;
  double scale = spec->scale != 0 ? spec->scale : 1.0 / sqrt((double)d);
  double maxErr = 0, maxLseErr = 0;
  attn_kernel *kernel = NULL;
  attn_launch_args args;
  attn_status status;
  Tensor q, k, v, o, mask;
  float *lse;
  double *scores;
  int ok;

  for (i = 0; i < 4; ++i) {
    int64_t full[4];
    full[0] = b, full[1] = hq, full[2] = sq, full[3] = sk;
    maskShape[i] = spec->mask_shape[i] == ATTN_DYNAMIC_SIZE
                       ? full[i]
                       : spec->mask_shape[i];
    maskCount *= (size_t)maskShape[i];
  }
  q = randomTensor(spec->dtype, (size_t)(b * hq * sq * d));
  k = randomTensor(spec->dtype, (size_t)(b * hkv * sk * d));
  v = randomTensor(spec->dtype, (size_t)(b * hkv * sk * dv));
  o = randomTensor(spec->dtype, (size_t)(b * hq * sq * dv));
  mask = randomTensor(spec->bias_dtype,
                      spec->mask == ATTN_MASK_BIAS ? maskCount : 0);
  lse = calloc((size_t)(b * hq * sq) + 1, sizeof(float));
  scores = calloc((size_t)sk + 1, sizeof(double));

  status = attn_compile(compiler, spec, &kernel);
  if (status != ATTN_STATUS_OK) {
    fprintf(stderr, "%s: attn_compile: %s: %s\n", c->name,
            attn_status_name(status), attn_last_error_message());
    ok = 0;
    goto done;
  }
  strides(c, hq, sq, d, qStrides);
  strides(c, hkv, sk, d, kStrides);
  strides(c, hkv, sk, dv, vStrides);
  strides(c, hq, sq, dv, oStrides);
  attn_launch_args_init(&args);
  args.q = q.data, args.k = k.data, args.v = v.data, args.o = o.data;
  args.mask = spec->mask == ATTN_MASK_BIAS ? mask.data : NULL;
  args.lse = lse;
  args.batch = b, args.query_seq_len = sq, args.key_seq_len = sk;
  args.q_strides = qStrides, args.k_strides = kStrides;
  args.v_strides = vStrides, args.o_strides = oStrides;
  status = attn_kernel_launch(kernel, &args);
  if (status != ATTN_STATUS_OK) {
    fprintf(stderr, "%s: attn_kernel_launch: %s: %s\n", c->name,
            attn_status_name(status), attn_last_error_message());
    ok = 0;
    goto done;
  }

  /* The naive attention: softmax(scale * q.k + bias) . v per query row. */
  for (bi = 0; bi < b; ++bi)
    for (h = 0; h < hq; ++h)
      for (i = 0; i < sq; ++i) {
        int64_t kvh = h / (hq / hkv);
        double m = -INFINITY, l = 0;
        for (j = 0; j < sk; ++j) {
          double s = 0;
          int visible =
              spec->causal != ATTN_CAUSAL_BOTTOM_RIGHT || j <= i + sk - sq;
          for (e = 0; e < d; ++e)
            s += q.value[offset(c, hq, sq, d, bi, h, i, e)] *
                 k.value[offset(c, hkv, sk, d, bi, kvh, j, e)];
          s *= scale;
          if (spec->mask == ATTN_MASK_BIAS) {
            int64_t at[4];
            at[0] = maskShape[0] == 1 ? 0 : bi;
            at[1] = maskShape[1] == 1 ? 0 : h;
            at[2] = maskShape[2] == 1 ? 0 : i;
            at[3] = maskShape[3] == 1 ? 0 : j;
            s += mask.value[((at[0] * maskShape[1] + at[1]) * maskShape[2] +
                             at[2]) *
                                maskShape[3] +
                            at[3]];
          }
          scores[j] = visible ? s : -INFINITY;
          if (scores[j] > m)
            m = scores[j];
        }
        for (j = 0; j < sk; ++j)
          l += scores[j] == -INFINITY ? 0 : exp(scores[j] - m);
        for (e = 0; e < dv; ++e) {
          double out = 0, err;
          for (j = 0; j < sk; ++j)
            if (scores[j] != -INFINITY)
              out += exp(scores[j] - m) / l *
                     v.value[offset(c, hkv, sk, dv, bi, kvh, j, e)];
          err = fabs(out - load(&o, offset(c, hq, sq, dv, bi, h, i, e)));
          if (err > maxErr || err != err)
            maxErr = err;
        }
        {
          double err = fabs(m + log(l) - lse[(bi * hq + h) * sq + i]);
          if (err > maxLseErr || err != err)
            maxLseErr = err;
        }
      }
  ok = maxErr <= c->tolerance && maxLseErr <= 1e-3;
  printf("%-34s max|O - ref| %.2e (tolerance %.0e)  max|LSE - ref| %.2e  %s\n",
         c->name, maxErr, c->tolerance, maxLseErr, ok ? "ok" : "FAILED");

done:
  attn_kernel_destroy(kernel);
  freeTensor(&q);
  freeTensor(&k);
  freeTensor(&v);
  freeTensor(&o);
  freeTensor(&mask);
  free(lse);
  free(scores);
  return ok;
}

/* A case with the spec's defaults but these types, heads and head dims,
   launched with these sizes on BHSD buffers. */
static Case makeCase(const char *name, attn_dtype dtype, int64_t hq,
                     int64_t hkv, int64_t d, int64_t dv, int64_t b, int64_t sq,
                     int64_t sk, double tolerance) {
  Case c;
  c.name = name;
  attn_spec_init(&c.spec);
  c.spec.dtype = dtype;
  c.spec.num_query_heads = hq, c.spec.num_kv_heads = hkv;
  c.spec.head_dim = d, c.spec.value_head_dim = dv;
  c.b = b, c.sq = sq, c.sk = sk;
  c.bshd = 0;
  c.tolerance = tolerance;
  return c;
}

int main(void) {
  attn_compiler *compiler;
  Case cases[3];
  int failures = 0;
  size_t n;

  if (attn_compiler_create(NULL, &compiler) != ATTN_STATUS_OK) {
    fprintf(stderr, "attn_compiler_create: %s\n", attn_last_error_message());
    return 1;
  }

  /* 1. f32 MHA, B/Sq/Sk at launch, [B, S, H, D] buffers. */
  cases[0] = makeCase("f32 MHA dynamic sizes, BSHD", ATTN_F32, 4, 4, 64, 64, 2,
                      37, 53, 1e-4);
  cases[0].bshd = 1;

  /* 2. f16 GQA, causal bottom-right, static sizes. */
  cases[1] =
      makeCase("f16 GQA 8/2 causal", ATTN_F16, 8, 2, 64, 64, 1, 33, 70, 1e-3);
  cases[1].spec.causal = ATTN_CAUSAL_BOTTOM_RIGHT;
  cases[1].spec.batch = 1;
  cases[1].spec.query_seq_len = 33;
  cases[1].spec.key_seq_len = 70;

  /* 3. bf16, bias [1, 1, Sq, Sk] broadcast over B and H, D = 48, Dv = 32. */
  cases[2] = makeCase("bf16 bias mask, D != Dv", ATTN_BF16, 2, 2, 48, 32, 2, 29,
                      41, 8e-3);
  cases[2].spec.mask = ATTN_MASK_BIAS;
  cases[2].spec.mask_shape[2] = ATTN_DYNAMIC_SIZE; /* Sq */
  cases[2].spec.mask_shape[3] = ATTN_DYNAMIC_SIZE; /* Sk */

  for (n = 0; n < sizeof cases / sizeof cases[0]; ++n)
    failures += !runCase(compiler, &cases[n]);
  attn_compiler_destroy(compiler);
  printf("attn C example: %s\n", failures ? "FAILED" : "all kernels match");
  return failures ? 1 : 0;
}
