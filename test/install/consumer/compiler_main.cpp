// Uses the installed C++ embedding API (attn/JIT/Compiler.h, Attn::Compiler):
// compiles several specs, launches each on [B, S, H, D] buffers (explicit
// strides) of its storage type and checks the outputs against the fp64
// reference. Exits 0 only if every check passes.

#include "attn/JIT/Compiler.h"
#include "attn/JIT/HostAttention.h"

#include <cstdio>
#include <random>

namespace {

using Shape = std::array<int64_t, 4>;

/// [B, S, H, D] strides of the [B, H, S, D] tensor `s`.
Shape bshdStrides(const Shape &s) {
  return {s[2] * s[1] * s[3], s[3], s[1] * s[3], 1};
}

/// Offset of element i of a dense [B, H, S, D] tensor in its BSHD buffer.
int64_t bshdOffset(const Shape &s, int64_t i) {
  int64_t d = i % s[3], r = i / s[3];
  int64_t x = r % s[2], h = r / s[2] % s[1], b = r / s[2] / s[1];
  Shape st = bshdStrides(s);
  return b * st[0] + h * st[1] + x * st[2] + d;
}

/// `dense` (BHSD storage bytes) rearranged to BSHD, or back.
std::vector<uint8_t> permute(const std::vector<uint8_t> &from, const Shape &s,
                             size_t bytes, bool toBshd) {
  std::vector<uint8_t> to(from.size());
  for (int64_t i = 0; i < s[0] * s[1] * s[2] * s[3]; ++i) {
    int64_t j = bshdOffset(s, i);
    std::copy_n(&from[(toBshd ? i : j) * bytes], bytes,
                &to[(toBshd ? j : i) * bytes]);
  }
  return to;
}

bool run(const char *name, const attn::AttentionSpec &spec, int64_t b,
         int64_t sq, int64_t sk, std::mt19937 &rng) {
  llvm::Expected<std::shared_ptr<const attn::Kernel>> kernel =
      attn::Compiler().compile(spec);
  if (!kernel) {
    std::fprintf(stderr, "%s: %s\n", name,
                 llvm::toString(kernel.takeError()).c_str());
    return false;
  }

  // The launch's problem, for the reference, and random inputs.
  attn::HostInputs in;
  attn::AttentionProblem &p = in.problem;
  p.dtype = spec.dtype;
  p.q = {b, spec.numQueryHeads, sq, spec.headDim};
  p.k = {b, spec.numKvHeads, sk, spec.headDim};
  p.v = {b, spec.numKvHeads, sk, spec.valueHeadDim};
  p.causal = spec.causal;
  p.windowLeft = spec.windowLeft, p.windowRight = spec.windowRight;
  p.softcap = spec.softcap;
  std::uniform_real_distribution<float> dist(-1.0f, 1.0f);
  for (auto [values, shape] :
       {std::pair{&in.q, &p.q}, {&in.k, &p.k}, {&in.v, &p.v}}) {
    values->resize((*shape)[0] * (*shape)[1] * (*shape)[2] * (*shape)[3]);
    for (float &x : *values)
      x = dist(rng);
    attn::roundInPlace(spec.dtype, *values);
  }

  size_t bytes = spec.dtype == attn::ElementType::F32 ? 4 : 2;
  Shape oShape = {b, spec.numQueryHeads, sq, spec.valueHeadDim};
  std::vector<uint8_t> q = permute(attn::toStorage(p.dtype, in.q), p.q, bytes,
                                   true),
                       k = permute(attn::toStorage(p.dtype, in.k), p.k, bytes,
                                   true),
                       v = permute(attn::toStorage(p.dtype, in.v), p.v, bytes,
                                   true),
                       o(oShape[0] * oShape[1] * oShape[2] * oShape[3] * bytes);
  attn::HostOutputs out;
  out.lse.resize(b * spec.numQueryHeads * sq);
  attn::LaunchArgs args;
  args.q = q.data(), args.k = k.data(), args.v = v.data();
  args.o = o.data(), args.lse = out.lse.data();
  args.batch = b, args.querySeqLen = sq, args.keySeqLen = sk;
  args.qStrides = bshdStrides(p.q), args.kStrides = bshdStrides(p.k);
  args.vStrides = bshdStrides(p.v), args.oStrides = bshdStrides(oShape);
  if (llvm::Error e = (*kernel)->launch(args)) {
    std::fprintf(stderr, "%s: %s\n", name,
                 llvm::toString(std::move(e)).c_str());
    return false;
  }
  out.o = attn::fromStorage(p.dtype, permute(o, oShape, bytes, false));
  llvm::Expected<attn::CheckReport> report = attn::checkOutputs(in, out);
  if (!report) {
    std::fprintf(stderr, "%s: %s\n", name,
                 llvm::toString(report.takeError()).c_str());
    return false;
  }
  std::printf("compiler_consumer: %-26s O err %.3g (bound %.3g) %s\n", name,
              report->o.maxErr, report->o.bound,
              report->ok() ? "ok" : "FAILED");
  return report->ok();
}

} // namespace

int main() {
  std::mt19937 rng(7);
  bool ok = true;

  // f32 GQA, causal, sizes chosen at launch.
  attn::AttentionSpec gqa;
  gqa.numQueryHeads = 4, gqa.numKvHeads = 2;
  gqa.headDim = gqa.valueHeadDim = 32;
  gqa.causal = attn::AttentionProblem::Causal::BottomRight;
  ok &= run("f32 GQA causal", gqa, 2, 19, 41, rng);

  // f16 MHA with a sliding window, compiled for fixed sizes.
  attn::AttentionSpec window;
  window.dtype = attn::ElementType::F16;
  window.numQueryHeads = window.numKvHeads = 2;
  window.headDim = window.valueHeadDim = 64;
  window.windowLeft = 8, window.windowRight = 0;
  window.batch = 1, window.querySeqLen = 50, window.keySeqLen = 50;
  ok &= run("f16 sliding window", window, 1, 50, 50, rng);

  // bf16 MQA with soft-capping and D != Dv.
  attn::AttentionSpec mqa;
  mqa.dtype = attn::ElementType::BF16;
  mqa.numQueryHeads = 4, mqa.numKvHeads = 1;
  mqa.headDim = 48, mqa.valueHeadDim = 24;
  mqa.softcap = 30.0;
  ok &= run("bf16 MQA softcap D != Dv", mqa, 3, 7, 33, rng);

  std::printf("compiler_consumer: %s\n", ok ? "all checks passed" : "FAILED");
  return ok ? 0 : 1;
}
