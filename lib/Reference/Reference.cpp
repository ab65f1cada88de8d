//===- Reference.cpp - Reference attention implementations ----------------===//

#include "attn/Reference/Reference.h"
#include "attn/Support/Format.h"

#include "llvm/ADT/Twine.h"
#include "llvm/Support/FormatVariadic.h"
#include "llvm/Support/MathExtras.h"

#include <algorithm>
#include <cmath>
#include <cstdio>
#include <limits>
#include <string>

using namespace llvm;

namespace attn {

namespace {

/// Validated problem sizes.
struct Dims {
  int64_t b, hq, sq, d, hkv, sk, dv;
  /// Element strides of the mask for [B, Hq, Sq, Sk] indices; 0 where the
  /// mask broadcasts.
  int64_t maskStride[4] = {0, 0, 0, 0};
};

Error makeError(const Twine &message) {
  return createStringError(inconvertibleErrorCode(), message.str());
}

std::string formatDouble(double value) {
  char buffer[32];
  std::snprintf(buffer, sizeof(buffer), "%g", value);
  return buffer;
}


/// Checks that `t` is a rank-4 tensor whose data matches its shape.
Error checkTensor(StringRef name, StringRef layout, const HostTensor &t) {
  if (t.shape.size() != 4)
    return makeError(name + " must have rank 4 (" + layout + ") but has rank " +
                     Twine(t.shape.size()) + " (shape " + formatShape(t.shape) +
                     ")");
  int64_t count = 1;
  for (int64_t dim : t.shape) {
    if (dim < 0)
      return makeError(name + " has a negative dimension (shape " +
                       formatShape(t.shape) + ")");
    if (MulOverflow(count, dim, count))
      return makeError(name + " shape " + formatShape(t.shape) +
                       " overflows the element count");
  }
  if (static_cast<int64_t>(t.data.size()) != count)
    return makeError(name + " has " + Twine(t.data.size()) +
                     " values but its shape " + formatShape(t.shape) +
                     " needs " + Twine(count));
  return Error::success();
}

Expected<Dims> validate(const HostTensor &q, const HostTensor &k,
                        const HostTensor &v, const MaskOperand &mask,
                        const AttentionConfig &cfg) {
  if (Error err = checkTensor("Q", "[B, Hq, Sq, D]", q))
    return std::move(err);
  if (Error err = checkTensor("K", "[B, Hkv, Sk, D]", k))
    return std::move(err);
  if (Error err = checkTensor("V", "[B, Hkv, Sk, Dv]", v))
    return std::move(err);
  Dims dims;
  dims.b = q.shape[0];
  dims.hq = q.shape[1];
  dims.sq = q.shape[2];
  dims.d = q.shape[3];
  dims.hkv = k.shape[1];
  dims.sk = k.shape[2];
  dims.dv = v.shape[3];
  if (k.shape[0] != dims.b)
    return makeError("K has batch " + Twine(k.shape[0]) + " but Q has batch " +
                     Twine(dims.b));
  if (v.shape[0] != dims.b)
    return makeError("V has batch " + Twine(v.shape[0]) + " but Q has batch " +
                     Twine(dims.b));
  if (k.shape[3] != dims.d)
    return makeError("K has head dim " + Twine(k.shape[3]) +
                     " but Q has head dim " + Twine(dims.d));
  if (v.shape[1] != dims.hkv)
    return makeError("V has " + Twine(v.shape[1]) + " heads but K has " +
                     Twine(dims.hkv));
  if (v.shape[2] != dims.sk)
    return makeError("V has " + Twine(v.shape[2]) + " keys but K has " +
                     Twine(dims.sk));
  if (dims.hkv == 0)
    return makeError("K has 0 heads (needs at least 1)");
  if (dims.hq % dims.hkv != 0)
    return makeError("Q has " + Twine(dims.hq) +
                     " heads, which is not a multiple of K's " +
                     Twine(dims.hkv) + " heads");

  if (mask.kind != MaskKind::None) {
    const HostTensor &m = mask.values;
    if (Error err = checkTensor("mask", "[B, Hq, Sq, Sk]", m))
      return std::move(err);
    const int64_t full[4] = {dims.b, dims.hq, dims.sq, dims.sk};
    const char *names[4] = {"B", "Hq", "Sq", "Sk"};
    int64_t stride = 1;
    for (int i = 3; i >= 0; --i) {
      if (m.shape[i] != 1 && m.shape[i] != full[i])
        return makeError("mask dimension " + Twine(i) + " (" + names[i] +
                         ") is " + Twine(m.shape[i]) + " but must be 1 or " +
                         Twine(full[i]) + " (mask shape " +
                         formatShape(m.shape) + ")");
      dims.maskStride[i] = m.shape[i] == 1 ? 0 : stride;
      stride *= m.shape[i];
    }
  }

  if (!std::isfinite(cfg.scale))
    return makeError("scale must be finite, got " + formatDouble(cfg.scale));
  if (!(cfg.softcap >= 0.0) || !std::isfinite(cfg.softcap))
    return makeError("softcap must be finite and >= 0 (0 = none), got " +
                     formatDouble(cfg.softcap));
  // Windows are key counts; bounding them keeps the band arithmetic of
  // isKept (i + Sk − Sq ± window) far from int64 overflow.
  constexpr int64_t maxWindow = (int64_t(1) << 31) - 1;
  if (cfg.windowLeft < -1 || cfg.windowLeft > maxWindow)
    return makeError("windowLeft must be -1 (unbounded) or in [0, " +
                     Twine(maxWindow) + "], got " + Twine(cfg.windowLeft));
  if (cfg.windowRight < -1 || cfg.windowRight > maxWindow)
    return makeError("windowRight must be -1 (unbounded) or in [0, " +
                     Twine(maxWindow) + "], got " + Twine(cfg.windowRight));
  return dims;
}

/// The attention loop nest shared by the reference (T = double, no rounding)
/// and the naive implementation (T = float, rounding with `round`). The
/// inputs are already converted to T.
template <typename T, typename RoundFn>
void attentionImpl(const Dims &dims, const std::vector<T> &q,
                   const std::vector<T> &k, const std::vector<T> &v,
                   MaskKind maskKind, const std::vector<T> &maskValues,
                   const AttentionConfig &cfg, RoundFn round, HostTensor &o,
                   HostTensor &lse) {
  const T negInf = -std::numeric_limits<T>::infinity();
  const T scale = static_cast<T>(cfg.scale);
  const T softcap = static_cast<T>(cfg.softcap);
  const int64_t group = dims.hq / dims.hkv;
  const int64_t sq = dims.sq, sk = dims.sk, d = dims.d, dv = dims.dv;

  o.shape = {dims.b, dims.hq, sq, dv};
  o.data.assign(static_cast<size_t>(dims.b * dims.hq * sq * dv), 0.0);
  lse.shape = {dims.b, dims.hq, sq};
  lse.data.assign(static_cast<size_t>(dims.b * dims.hq * sq), 0.0);

  std::vector<T> scores(static_cast<size_t>(sk));
  std::vector<char> kept(static_cast<size_t>(sk));
  std::vector<T> acc(static_cast<size_t>(dv));

  for (int64_t b = 0; b < dims.b; ++b) {
    for (int64_t h = 0; h < dims.hq; ++h) {
      const int64_t kvHead = b * dims.hkv + h / group;
      const T *kBase = k.data() + kvHead * sk * d;
      const T *vBase = v.data() + kvHead * sk * dv;
      for (int64_t i = 0; i < sq; ++i) {
        const int64_t row = (b * dims.hq + h) * sq + i;
        const T *qRow = q.data() + row * d;
        const int64_t maskRow = b * dims.maskStride[0] +
                                h * dims.maskStride[1] + i * dims.maskStride[2];
        T maxScore = negInf;
        for (int64_t j = 0; j < sk; ++j) {
          bool keep = isKept(cfg, i, j, sq, sk);
          if (keep && maskKind == MaskKind::Keep)
            keep = maskValues[maskRow + j * dims.maskStride[3]] != T(0);
          kept[j] = keep;
          if (!keep)
            continue;
          const T *kRow = kBase + j * d;
          T dot = 0;
          for (int64_t x = 0; x < d; ++x)
            dot += qRow[x] * kRow[x];
          T s = round(scale * dot);
          if (cfg.softcap > 0.0)
            s = round(softcap * std::tanh(s / softcap));
          if (maskKind == MaskKind::Bias)
            s = round(s + maskValues[maskRow + j * dims.maskStride[3]]);
          scores[j] = s;
          maxScore = std::max(maxScore, s);
        }

        double *oRow = o.data.data() + row * dv;
        if (maxScore == negInf) {
          // No kept element (or all -inf): O = 0, LSE = -inf.
          lse.data[row] = -std::numeric_limits<double>::infinity();
          continue;
        }
        T sum = 0;
        for (int64_t j = 0; j < sk; ++j) {
          if (!kept[j])
            continue;
          scores[j] = std::exp(scores[j] - maxScore);
          sum += scores[j];
        }
        std::fill(acc.begin(), acc.end(), T(0));
        for (int64_t j = 0; j < sk; ++j) {
          if (!kept[j])
            continue;
          const T p = round(scores[j] / sum);
          const T *vRow = vBase + j * dv;
          for (int64_t x = 0; x < dv; ++x)
            acc[x] += p * vRow[x];
        }
        for (int64_t x = 0; x < dv; ++x)
          oRow[x] = static_cast<double>(round(acc[x]));
        lse.data[row] = static_cast<double>(maxScore + std::log(sum));
      }
    }
  }
}

} // namespace

bool isKept(const AttentionConfig &cfg, int64_t i, int64_t j, int64_t sq,
            int64_t sk) {
  const int64_t diag = i + sk - sq; // Bottom-right aligned diagonal.
  if (cfg.causal == CausalKind::TopLeft && j > i)
    return false;
  if (cfg.causal == CausalKind::BottomRight && j > diag)
    return false;
  if (cfg.windowLeft >= 0 && j < diag - cfg.windowLeft)
    return false;
  if (cfg.windowRight >= 0 && j > diag + cfg.windowRight)
    return false;
  return true;
}

Error referenceAttention(const HostTensor &q, const HostTensor &k,
                         const HostTensor &v, const MaskOperand &mask,
                         const AttentionConfig &cfg, HostTensor &o,
                         HostTensor &lse) {
  Expected<Dims> dims = validate(q, k, v, mask, cfg);
  if (!dims)
    return dims.takeError();
  static const std::vector<double> noMask;
  attentionImpl<double>(
      *dims, q.data, k.data, v.data, mask.kind,
      mask.kind == MaskKind::None ? noMask : mask.values.data, cfg,
      [](double x) { return x; }, o, lse);
  return Error::success();
}

Error naiveAttention(ElementType t, const HostTensor &q, const HostTensor &k,
                     const HostTensor &v, const MaskOperand &mask,
                     const AttentionConfig &cfg, HostTensor &o,
                     HostTensor &lse) {
  Expected<Dims> dims = validate(q, k, v, mask, cfg);
  if (!dims)
    return dims.takeError();
  auto round = [t](float x) { return roundTo(t, x); };
  auto convert = [&](const std::vector<double> &values, bool doRound) {
    std::vector<float> result(values.size());
    for (size_t i = 0; i < values.size(); ++i) {
      float f = static_cast<float>(values[i]);
      result[i] = doRound ? round(f) : f;
    }
    return result;
  };
  std::vector<float> qf = convert(q.data, true);
  std::vector<float> kf = convert(k.data, true);
  std::vector<float> vf = convert(v.data, true);
  std::vector<float> maskf;
  if (mask.kind != MaskKind::None)
    // Keep masks are only compared with zero: keep them exact so that tiny
    // nonzero values still keep their element.
    maskf = convert(mask.values.data, mask.kind == MaskKind::Bias);
  if (t == ElementType::F32)
    attentionImpl<float>(
        *dims, qf, kf, vf, mask.kind, maskf, cfg, [](float x) { return x; }, o,
        lse);
  else
    attentionImpl<float>(*dims, qf, kf, vf, mask.kind, maskf, cfg, round, o,
                         lse);
  return Error::success();
}

namespace {
double elementError(double a, double b) {
  if (a == b || (std::isnan(a) && std::isnan(b)))
    return 0.0;
  double diff = std::fabs(a - b);
  return std::isnan(diff) ? std::numeric_limits<double>::infinity() : diff;
}
} // namespace

ErrorCheck checkAgainstReference(ArrayRef<double> out, ArrayRef<double> ref,
                                 ArrayRef<double> naive, double floor) {
  const double inf = std::numeric_limits<double>::infinity();
  if (out.size() != ref.size() || naive.size() != ref.size())
    return {inf, inf, inf, false};
  double maxErr = 0.0, naiveErr = 0.0;
  for (size_t i = 0; i < ref.size(); ++i) {
    maxErr = std::max(maxErr, elementError(out[i], ref[i]));
    naiveErr = std::max(naiveErr, elementError(naive[i], ref[i]));
  }
  // An infinite bound (the naive implementation overflowed) proves nothing:
  // such a check fails rather than accepting any output.
  double bound = 2.0 * naiveErr + floor;
  return {maxErr, naiveErr, bound, std::isfinite(bound) && maxErr <= bound};
}

double errorFloor(ElementType type) {
  switch (type) {
  case ElementType::F32:
    return 1e-5;
  case ElementType::F16:
    return 1e-4;
  case ElementType::BF16:
    return 1e-3;
  }
  llvm_unreachable("unknown element type");
}

std::string formatCheckReport(const CheckReport &report, ElementType t) {
  std::string text;
  for (auto [name, c] :
       {std::pair<StringRef, ErrorCheck>{"O", report.o}, {"LSE", report.lse}})
    text += formatv("check {0}: max|out-ref| = {1:E2}, bound {2:E2} (2 x "
                    "naive {3} {4:E2} + floor {5:E0}): {6}\n",
                    name, c.maxErr, c.bound, toString(t), c.naiveErr,
                    errorFloor(t), c.ok ? "ok" : "FAILED")
                .str();
  return text;
}

llvm::Expected<CheckReport>
checkAttention(ElementType t, const HostTensor &q, const HostTensor &k,
               const HostTensor &v, const MaskOperand &mask,
               const AttentionConfig &cfg, ArrayRef<double> o,
               ArrayRef<double> lse) {
  HostTensor ref, refLse, naive, naiveLse;
  if (llvm::Error e = referenceAttention(q, k, v, mask, cfg, ref, refLse))
    return std::move(e);
  if (llvm::Error e = naiveAttention(t, q, k, v, mask, cfg, naive, naiveLse))
    return std::move(e);
  double floor = errorFloor(t);
  return CheckReport{
      checkAgainstReference(o, ref.data, naive.data, floor),
      checkAgainstReference(lse, refLse.data, naiveLse.data, floor)};
}

} // namespace attn
