//===- HostAttention.cpp - run and check attention on host arrays ---------===//

#include "attn/JIT/HostAttention.h"

#include <chrono>
#include <cmath>

using llvm::Expected;

namespace attn {

void roundInPlace(ElementType type, std::vector<float> &values) {
  for (float &x : values)
    x = roundTo(type, x);
}

namespace {

HostTensor toHost(const std::array<int64_t, 4> &shape,
                  const std::vector<float> &values) {
  return {std::vector<int64_t>(shape.begin(), shape.end()),
          std::vector<double>(values.begin(), values.end())};
}

struct ReferenceInputs {
  HostTensor q, k, v;
  MaskOperand mask;
  AttentionConfig config;
};

ReferenceInputs toReference(const HostInputs &in) {
  const AttentionProblem &p = in.problem;
  ReferenceInputs r{toHost(p.q, in.q), toHost(p.k, in.k), toHost(p.v, in.v),
                    {}, {}};
  if (p.mask != AttentionProblem::Mask::None)
    r.mask = {p.mask == AttentionProblem::Mask::Keep ? MaskKind::Keep
                                                     : MaskKind::Bias,
              toHost(p.maskShape, in.mask)};
  r.config.scale = p.scale ? *p.scale : 1.0 / std::sqrt(double(p.q[3]));
  r.config.causal = p.causal == AttentionProblem::Causal::None
                        ? CausalKind::None
                        : p.causal == AttentionProblem::Causal::TopLeft
                              ? CausalKind::TopLeft
                              : CausalKind::BottomRight;
  r.config.windowLeft = p.windowLeft;
  r.config.windowRight = p.windowRight;
  r.config.softcap = p.softcap ? *p.softcap : 0.0;
  return r;
}

HostOutputs toFloat(const HostTensor &o, const HostTensor &lse) {
  return {std::vector<float>(o.data.begin(), o.data.end()),
          std::vector<float>(lse.data.begin(), lse.data.end())};
}

} // namespace

std::vector<uint8_t> maskStorage(const HostInputs &in) {
  std::vector<uint8_t> mask;
  if (in.problem.mask == AttentionProblem::Mask::Keep)
    for (float m : in.mask)
      mask.push_back(m != 0.0f);
  else if (in.problem.mask == AttentionProblem::Mask::Bias)
    mask = toStorage(in.problem.biasType, in.mask);
  return mask;
}

Expected<HostOutputs> runCpu(const CpuKernel &kernel, const HostInputs &in,
                             int64_t repeat, std::vector<double> *times) {
  // Shapes come from the inputs (they may differ from the kernel's in its
  // dynamic dims); the kernel checks them.
  const AttentionProblem &p = in.problem;
  if (p.dtype != kernel.getProblem().dtype || p.mask != kernel.getProblem().mask)
    return llvm::createStringError(
        "inputs do not match the kernel's element type or mask kind");
  std::vector<uint8_t> q = toStorage(p.dtype, in.q), k = toStorage(p.dtype, in.k),
                       v = toStorage(p.dtype, in.v), mask = maskStorage(in);
  int64_t rows = p.q[0] * p.q[1] * p.q[2];
  std::vector<uint8_t> o(rows * p.v[3] * (p.dtype == ElementType::F32 ? 4 : 2));
  HostOutputs out;
  out.lse.resize(rows);
  AttentionBuffers buffers;
  buffers.q = q.data();
  buffers.k = k.data();
  buffers.v = v.data();
  buffers.mask = mask.empty() ? nullptr : mask.data();
  buffers.o = o.data();
  buffers.lse = out.lse.data();
  buffers.qShape = p.q;
  buffers.kShape = p.k;
  buffers.vShape = p.v;
  buffers.maskShape = p.maskShape;
  for (int64_t i = 0; i <= repeat; ++i) {
    auto start = std::chrono::steady_clock::now();
    if (llvm::Error e = kernel.run(buffers))
      return std::move(e);
    if (i > 0 && times)
      times->push_back(std::chrono::duration<double, std::milli>(
                           std::chrono::steady_clock::now() - start)
                           .count());
  }
  out.o = fromStorage(p.dtype, o);
  return out;
}

Expected<HostOutputs> runReference(const HostInputs &in) {
  ReferenceInputs r = toReference(in);
  HostTensor o, lse;
  if (llvm::Error e = referenceAttention(r.q, r.k, r.v, r.mask, r.config, o, lse))
    return std::move(e);
  return toFloat(o, lse);
}

Expected<CheckReport> checkOutputs(const HostInputs &in,
                                   const HostOutputs &out) {
  ReferenceInputs r = toReference(in);
  return checkAttention(in.problem.dtype, r.q, r.k, r.v, r.mask, r.config,
                        std::vector<double>(out.o.begin(), out.o.end()),
                        std::vector<double>(out.lse.begin(), out.lse.end()));
}

Expected<AttentionProblem::Causal> parseCausalFlag(llvm::StringRef value) {
  if (value == "top-left")
    return AttentionProblem::Causal::TopLeft;
  if (value == "bottom-right")
    return AttentionProblem::Causal::BottomRight;
  return llvm::createStringError(
      "--causal expects top-left or bottom-right, got '" + value + "'");
}

Expected<std::pair<int64_t, int64_t>> parseWindowFlag(llvm::StringRef value) {
  auto [l, r] = value.split(',');
  int64_t left, right;
  if (l.getAsInteger(10, left) || r.getAsInteger(10, right) || left < -1 ||
      right < -1)
    return llvm::createStringError("--window expects L,R with integers >= -1 "
                                   "(-1 = unbounded), got '" +
                                   value + "'");
  return std::make_pair(left, right);
}

double attentionFlops(const AttentionProblem &p) {
  // Q·Kᵀ and P·V: 2·B·Hq·Sq·Sk·(D + Dv), i.e. 4·B·Hq·Sq·Sk·D when Dv = D.
  double flops =
      2.0 * double(p.q[0]) * p.q[1] * p.q[2] * p.k[2] * (p.q[3] + p.v[3]);
  return p.causal == AttentionProblem::Causal::None ? flops : flops / 2;
}

} // namespace attn
