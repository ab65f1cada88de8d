// Uses the installed attn JIT: builds attention problems, compiles them for
// the host CPU, runs them on random inputs and checks the outputs against
// the fp64 reference; parses the generated IR back (dialect.cpp). Exits 0
// only if every check passes.

#include "attn/JIT/CpuKernel.h"
#include "attn/JIT/HostAttention.h"

#include "llvm/Support/Error.h"

#include <cstdio>
#include <random>
#include <string>

bool checkDialect(const attn::AttentionProblem &problem); // dialect.cpp

namespace {

std::vector<float> randomValues(size_t count, std::mt19937 &rng,
                                attn::ElementType type) {
  std::uniform_real_distribution<float> dist(-1.0f, 1.0f);
  std::vector<float> values(count);
  for (float &x : values)
    x = dist(rng);
  attn::roundInPlace(type, values);
  return values;
}

size_t elements(const std::array<int64_t, 4> &shape) {
  return size_t(shape[0] * shape[1] * shape[2] * shape[3]);
}

bool runOne(const char *name, const attn::AttentionProblem &problem,
            std::mt19937 &rng) {
  attn::HostInputs inputs;
  inputs.problem = problem;
  inputs.q = randomValues(elements(problem.q), rng, problem.dtype);
  inputs.k = randomValues(elements(problem.k), rng, problem.dtype);
  inputs.v = randomValues(elements(problem.v), rng, problem.dtype);

  attn::CpuCompileOptions options;
  options.qTile = 32;
  options.kTile = 32;
  llvm::Expected<std::unique_ptr<attn::CpuKernel>> kernel =
      attn::CpuKernel::compile(problem, options);
  if (!kernel) {
    std::fprintf(stderr, "%s: compile failed: %s\n", name,
                 llvm::toString(kernel.takeError()).c_str());
    return false;
  }
  llvm::Expected<attn::HostOutputs> outputs = attn::runCpu(**kernel, inputs);
  if (!outputs) {
    std::fprintf(stderr, "%s: run failed: %s\n", name,
                 llvm::toString(outputs.takeError()).c_str());
    return false;
  }
  llvm::Expected<attn::CheckReport> report =
      attn::checkOutputs(inputs, *outputs);
  if (!report) {
    std::fprintf(stderr, "%s: check failed: %s\n", name,
                 llvm::toString(report.takeError()).c_str());
    return false;
  }
  std::printf("%-28s O err %.3g (bound %.3g)  LSE err %.3g (bound %.3g)  %s\n",
              name, report->o.maxErr, report->o.bound, report->lse.maxErr,
              report->lse.bound, report->ok() ? "ok" : "FAILED");
  return report->ok();
}

} // namespace

int main() {
  std::mt19937 rng(1234);
  bool ok = true;

  // Grouped-query, causal (bottom-right), Sq != Sk, f32.
  attn::AttentionProblem gqa;
  gqa.dtype = attn::ElementType::F32;
  gqa.q = {1, 4, 37, 64};
  gqa.k = {1, 2, 53, 64};
  gqa.v = {1, 2, 53, 64};
  gqa.causal = attn::AttentionProblem::Causal::BottomRight;
  ok &= runOne("gqa-causal-f32", gqa, rng);
  ok &= checkDialect(gqa);

  // bf16 with a sliding window, soft-capping and D != Dv.
  attn::AttentionProblem window;
  window.dtype = attn::ElementType::BF16;
  window.q = {2, 2, 40, 32};
  window.k = {2, 2, 40, 32};
  window.v = {2, 2, 40, 48};
  window.windowLeft = 8;
  window.windowRight = 0;
  window.softcap = 30.0;
  ok &= runOne("window-softcap-bf16", window, rng);

  std::printf("jit_consumer: %s\n", ok ? "all checks passed" : "FAILED");
  return ok ? 0 : 1;
}
