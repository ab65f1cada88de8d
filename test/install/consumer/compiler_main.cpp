// Uses the installed C++ embedding API (attn/JIT/Compiler.h, Attn::Compiler):
// compiles a GQA spec with sizes chosen at launch, launches it on [B, S, H,
// D] buffers (explicit strides) and checks the output against the fp64
// reference. Exits 0 only if the check passes.

#include "attn/JIT/Compiler.h"
#include "attn/JIT/HostAttention.h"

#include <cstdio>
#include <random>

int main() {
  attn::AttentionSpec spec;
  spec.numQueryHeads = 4, spec.numKvHeads = 2;
  spec.headDim = spec.valueHeadDim = 32;
  spec.causal = attn::AttentionProblem::Causal::BottomRight;
  llvm::Expected<std::shared_ptr<const attn::Kernel>> kernel =
      attn::Compiler().compile(spec);
  if (!kernel) {
    std::fprintf(stderr, "compiler_consumer: %s\n",
                 llvm::toString(kernel.takeError()).c_str());
    return 1;
  }

  // The problem of this launch, with inputs in BHSD order for the reference.
  const int64_t b = 2, sq = 19, sk = 41, d = 32;
  attn::HostInputs in;
  in.problem.q = {b, 4, sq, d};
  in.problem.k = in.problem.v = {b, 2, sk, d};
  in.problem.causal = spec.causal;
  std::mt19937 rng(7);
  std::uniform_real_distribution<float> dist(-1.0f, 1.0f);
  for (auto [values, count] : {std::pair{&in.q, b * 4 * sq * d},
                               {&in.k, b * 2 * sk * d},
                               {&in.v, b * 2 * sk * d}})
    for (int64_t i = 0; i < count; ++i)
      values->push_back(dist(rng));

  // The same tensors stored [B, S, H, D].
  auto toBshd = [&](const std::vector<float> &bhsd, int64_t h, int64_t s) {
    std::vector<float> bshd(bhsd.size());
    for (int64_t i = 0; i < int64_t(bhsd.size()); ++i) {
      int64_t x = i % d, r = i / d, si = r % s, hi = r / s % h, bi = r / s / h;
      bshd[((bi * s + si) * h + hi) * d + x] = bhsd[i];
    }
    return bshd;
  };
  std::vector<float> q = toBshd(in.q, 4, sq), k = toBshd(in.k, 2, sk),
                     v = toBshd(in.v, 2, sk), o(q.size());
  attn::HostOutputs out;
  out.lse.resize(b * 4 * sq);
  attn::LaunchArgs args;
  args.q = q.data(), args.k = k.data(), args.v = v.data();
  args.o = o.data(), args.lse = out.lse.data();
  args.batch = b, args.querySeqLen = sq, args.keySeqLen = sk;
  args.qStrides = args.oStrides = {{sq * 4 * d, d, 4 * d, 1}};
  args.kStrides = args.vStrides = {{sk * 2 * d, d, 2 * d, 1}};
  if (llvm::Error e = (*kernel)->launch(args)) {
    std::fprintf(stderr, "compiler_consumer: %s\n",
                 llvm::toString(std::move(e)).c_str());
    return 1;
  }
  // O back to BHSD for the check.
  out.o.resize(o.size());
  for (int64_t i = 0; i < int64_t(o.size()); ++i) {
    int64_t x = i % d, r = i / d, si = r % sq, hi = r / sq % 4, bi = r / sq / 4;
    out.o[i] = o[((bi * sq + si) * 4 + hi) * d + x];
  }
  llvm::Expected<attn::CheckReport> report = attn::checkOutputs(in, out);
  if (!report) {
    std::fprintf(stderr, "compiler_consumer: %s\n",
                 llvm::toString(report.takeError()).c_str());
    return 1;
  }
  std::printf("compiler_consumer: GQA causal on BSHD buffers: O err %.3g "
              "(bound %.3g) %s\n",
              report->o.maxErr, report->o.bound,
              report->ok() ? "ok" : "FAILED");
  return report->ok() ? 0 : 1;
}
