//===- ReferenceTest.cpp - Tests for the reference attention --------------===//

#include "attn/Reference/Reference.h"

#include "gtest/gtest.h"

#include <cmath>
#include <limits>
#include <random>
#include <string>

using namespace attn;

namespace {

const double kInf = std::numeric_limits<double>::infinity();

HostTensor tensor(std::vector<int64_t> shape, std::vector<double> data) {
  return HostTensor{std::move(shape), std::move(data)};
}

HostTensor filled(std::vector<int64_t> shape, double value) {
  int64_t n = 1;
  for (int64_t d : shape)
    n *= d;
  return HostTensor{std::move(shape), std::vector<double>(n, value)};
}

HostTensor randomTensor(std::vector<int64_t> shape, std::mt19937 &rng) {
  std::normal_distribution<double> dist(0.0, 1.0);
  HostTensor t = filled(std::move(shape), 0.0);
  for (double &x : t.data)
    x = dist(rng);
  return t;
}

/// V[0, 0, j, :] = {j, 10 * j}: makes averages easy to read.
HostTensor rampV(int64_t sk) {
  HostTensor v = filled({1, 1, sk, 2}, 0.0);
  for (int64_t j = 0; j < sk; ++j) {
    v.data[j * 2] = static_cast<double>(j);
    v.data[j * 2 + 1] = 10.0 * j;
  }
  return v;
}

struct Result {
  HostTensor o, lse;
};

Result run(const HostTensor &q, const HostTensor &k, const HostTensor &v,
           const AttentionConfig &cfg, const MaskOperand &mask = {}) {
  Result r;
  llvm::Error err = referenceAttention(q, k, v, mask, cfg, r.o, r.lse);
  EXPECT_FALSE(static_cast<bool>(err)) << llvm::toString(std::move(err));
  return r;
}

std::string errorOf(const HostTensor &q, const HostTensor &k,
                    const HostTensor &v, const AttentionConfig &cfg,
                    const MaskOperand &mask = {}) {
  HostTensor o, lse;
  llvm::Error err = referenceAttention(q, k, v, mask, cfg, o, lse);
  if (!err)
    return "<no error>";
  return llvm::toString(std::move(err));
}

AttentionConfig config(double scale = 1.0) {
  AttentionConfig cfg;
  cfg.scale = scale;
  return cfg;
}

/// Independent brute-force implementation used to cross-check indexing:
/// no max subtraction, direct formulas, everything recomputed per element.
void bruteForce(const HostTensor &q, const HostTensor &k, const HostTensor &v,
                const MaskOperand &mask, const AttentionConfig &cfg,
                std::vector<double> &o, std::vector<double> &lse) {
  int64_t b = q.shape[0], hq = q.shape[1], sq = q.shape[2], d = q.shape[3];
  int64_t hkv = k.shape[1], sk = k.shape[2], dv = v.shape[3];
  o.assign(b * hq * sq * dv, 0.0);
  lse.assign(b * hq * sq, 0.0);
  auto maskAt = [&](int64_t bi, int64_t h, int64_t i, int64_t j) {
    const auto &s = mask.values.shape;
    int64_t idx[4] = {s[0] == 1 ? 0 : bi, s[1] == 1 ? 0 : h, s[2] == 1 ? 0 : i,
                      s[3] == 1 ? 0 : j};
    return mask.values
        .data[((idx[0] * s[1] + idx[1]) * s[2] + idx[2]) * s[3] + idx[3]];
  };
  for (int64_t bi = 0; bi < b; ++bi)
    for (int64_t h = 0; h < hq; ++h) {
      int64_t kh = h / (hq / hkv);
      for (int64_t i = 0; i < sq; ++i) {
        double sum = 0;
        std::vector<double> acc(dv, 0.0);
        for (int64_t j = 0; j < sk; ++j) {
          bool keep = true;
          int64_t shift = sk - sq;
          if (cfg.causal == CausalKind::TopLeft)
            keep &= j <= i;
          if (cfg.causal == CausalKind::BottomRight)
            keep &= j <= i + shift;
          if (cfg.windowLeft >= 0)
            keep &= j >= i + shift - cfg.windowLeft;
          if (cfg.windowRight >= 0)
            keep &= j <= i + shift + cfg.windowRight;
          if (mask.kind == MaskKind::Keep)
            keep &= maskAt(bi, h, i, j) != 0;
          if (!keep)
            continue;
          double s = 0;
          for (int64_t x = 0; x < d; ++x)
            s += q.data[((bi * hq + h) * sq + i) * d + x] *
                 k.data[((bi * hkv + kh) * sk + j) * d + x];
          s *= cfg.scale;
          if (cfg.softcap > 0)
            s = cfg.softcap * std::tanh(s / cfg.softcap);
          if (mask.kind == MaskKind::Bias)
            s += maskAt(bi, h, i, j);
          double e = std::exp(s);
          sum += e;
          for (int64_t x = 0; x < dv; ++x)
            acc[x] += e * v.data[((bi * hkv + kh) * sk + j) * dv + x];
        }
        int64_t row = (bi * hq + h) * sq + i;
        lse[row] = sum > 0 ? std::log(sum) : -kInf;
        for (int64_t x = 0; x < dv; ++x)
          o[row * dv + x] = sum > 0 ? acc[x] / sum : 0.0;
      }
    }
}

void expectNear(const std::vector<double> &a, const std::vector<double> &b,
                double tol) {
  ASSERT_EQ(a.size(), b.size());
  for (size_t i = 0; i < a.size(); ++i) {
    if (a[i] == b[i])
      continue;
    ASSERT_NEAR(a[i], b[i], tol) << "index " << i;
  }
}

TEST(ReferenceTest, SingleKeyReturnsValueRow) {
  HostTensor q = tensor({1, 1, 2, 3}, {1, 2, 3, -1, 0.5, 2});
  HostTensor k = tensor({1, 1, 1, 3}, {0.5, -1, 2});
  HostTensor v = tensor({1, 1, 1, 4}, {7, -3, 0.25, 9});
  Result r = run(q, k, v, config(0.5));
  EXPECT_EQ(r.o.shape, (std::vector<int64_t>{1, 1, 2, 4}));
  EXPECT_EQ(r.lse.shape, (std::vector<int64_t>{1, 1, 2}));
  EXPECT_EQ(r.o.data, (std::vector<double>{7, -3, 0.25, 9, 7, -3, 0.25, 9}));
  // LSE of a single element is its score.
  EXPECT_DOUBLE_EQ(r.lse.data[0], 0.5 * (0.5 - 2 + 6));
  EXPECT_DOUBLE_EQ(r.lse.data[1], 0.5 * (-0.5 - 0.5 + 4));
}

TEST(ReferenceTest, EqualScoresAverage) {
  HostTensor q = tensor({1, 1, 1, 2}, {1, 1});
  HostTensor k = tensor({1, 1, 2, 2}, {1, 2, 2, 1}); // Both dots are 3.
  HostTensor v = tensor({1, 1, 2, 2}, {1, 10, 3, 30});
  Result r = run(q, k, v, config(1.0));
  EXPECT_DOUBLE_EQ(r.o.data[0], 2.0);
  EXPECT_DOUBLE_EQ(r.o.data[1], 20.0);
  EXPECT_DOUBLE_EQ(r.lse.data[0], std::log(2.0) + 3.0);
}

TEST(ReferenceTest, UniformLse) {
  // Every key has the same score s = scale * 4: LSE = log(Sk) + s.
  const int64_t sk = 7;
  HostTensor q = tensor({1, 1, 1, 2}, {2, 0});
  HostTensor k = filled({1, 1, sk, 2}, 0);
  for (int64_t j = 0; j < sk; ++j) {
    k.data[j * 2] = 2;
    k.data[j * 2 + 1] = static_cast<double>(j); // Multiplied by q's 0.
  }
  Result r = run(q, k, rampV(sk), config(0.25));
  EXPECT_DOUBLE_EQ(r.lse.data[0], std::log(7.0) + 1.0);
  EXPECT_DOUBLE_EQ(r.o.data[0], 3.0);
  EXPECT_DOUBLE_EQ(r.o.data[1], 30.0);
}

TEST(ReferenceTest, TwoKeysHandComputed) {
  HostTensor q = tensor({1, 1, 1, 1}, {1});
  HostTensor k = tensor({1, 1, 2, 1}, {0, 2});
  HostTensor v = tensor({1, 1, 2, 1}, {1, 5});
  Result r = run(q, k, v, config(0.5)); // Scores 0 and 1.
  double p1 = std::exp(1.0) / (1 + std::exp(1.0));
  EXPECT_NEAR(r.o.data[0], (1 - p1) * 1 + p1 * 5, 1e-14);
  EXPECT_NEAR(r.lse.data[0], std::log(1 + std::exp(1.0)), 1e-14);
}

TEST(ReferenceTest, LargeScoresAreStable) {
  HostTensor q = tensor({1, 1, 1, 1}, {1});
  HostTensor k = tensor({1, 1, 2, 1}, {1000, 999});
  HostTensor v = tensor({1, 1, 2, 1}, {1, 0});
  Result r = run(q, k, v, config(1.0));
  EXPECT_NEAR(r.o.data[0], 1 / (1 + std::exp(-1.0)), 1e-14);
  EXPECT_NEAR(r.lse.data[0], 1000 + std::log(1 + std::exp(-1.0)), 1e-10);
}

TEST(ReferenceTest, IsKeptPredicate) {
  AttentionConfig cfg = config();
  EXPECT_TRUE(isKept(cfg, 0, 5, 2, 6));
  cfg.causal = CausalKind::TopLeft;
  EXPECT_TRUE(isKept(cfg, 1, 1, 2, 4));
  EXPECT_FALSE(isKept(cfg, 1, 2, 2, 4));
  cfg.causal = CausalKind::BottomRight;
  EXPECT_TRUE(isKept(cfg, 0, 2, 2, 4));
  EXPECT_FALSE(isKept(cfg, 0, 3, 2, 4));
  EXPECT_TRUE(isKept(cfg, 1, 3, 2, 4));
  EXPECT_FALSE(isKept(cfg, 1, 0, 4, 2)); // j <= 1 + 2 - 4 = -1.
  EXPECT_TRUE(isKept(cfg, 2, 0, 4, 2));
  cfg.causal = CausalKind::None;
  cfg.windowLeft = 1;
  // Window relative to the bottom-right diagonal i + 2.
  EXPECT_FALSE(isKept(cfg, 0, 0, 2, 4));
  EXPECT_TRUE(isKept(cfg, 0, 1, 2, 4));
  EXPECT_TRUE(isKept(cfg, 0, 3, 2, 4)); // No right bound.
  cfg.windowRight = 0;
  EXPECT_FALSE(isKept(cfg, 0, 3, 2, 4));
  EXPECT_TRUE(isKept(cfg, 0, 2, 2, 4));
  cfg.windowLeft = -1;
  EXPECT_TRUE(isKept(cfg, 1, 0, 2, 4));
  EXPECT_FALSE(isKept(cfg, 0, 4, 2, 5)); // Diagonal of row 0 is 3.
  EXPECT_TRUE(isKept(cfg, 1, 4, 2, 5));
}

TEST(ReferenceTest, CausalTopLeftVsBottomRight) {
  // q = 0: uniform weights over kept keys, so O row i = mean of kept V rows.
  const int64_t sq = 2, sk = 4;
  HostTensor q = filled({1, 1, sq, 2}, 0.0);
  HostTensor k = filled({1, 1, sk, 2}, 1.0);
  HostTensor v = rampV(sk);

  AttentionConfig cfg = config();
  cfg.causal = CausalKind::TopLeft;
  Result tl = run(q, k, v, cfg);
  EXPECT_EQ(tl.o.data, (std::vector<double>{0, 0, 0.5, 5}));
  EXPECT_DOUBLE_EQ(tl.lse.data[0], 0.0);
  EXPECT_DOUBLE_EQ(tl.lse.data[1], std::log(2.0));

  cfg.causal = CausalKind::BottomRight;
  Result br = run(q, k, v, cfg);
  EXPECT_EQ(br.o.data, (std::vector<double>{1, 10, 1.5, 15}));
  EXPECT_DOUBLE_EQ(br.lse.data[0], std::log(3.0));
  EXPECT_DOUBLE_EQ(br.lse.data[1], std::log(4.0));

  // Sq > Sk with bottom-right alignment: the first rows see nothing.
  HostTensor q2 = filled({1, 1, 4, 2}, 0.0);
  HostTensor k2 = filled({1, 1, 2, 2}, 1.0);
  Result r2 = run(q2, k2, rampV(2), cfg);
  EXPECT_EQ(r2.o.data, (std::vector<double>{0, 0, 0, 0, 0, 0, 0.5, 5}));
  EXPECT_EQ(r2.lse.data[0], -kInf);
  EXPECT_EQ(r2.lse.data[1], -kInf);
  EXPECT_DOUBLE_EQ(r2.lse.data[2], 0.0);
  EXPECT_DOUBLE_EQ(r2.lse.data[3], std::log(2.0));
}

TEST(ReferenceTest, SlidingWindow) {
  const int64_t s = 5;
  HostTensor q = filled({1, 1, s, 1}, 0.0);
  HostTensor k = filled({1, 1, s, 1}, 0.0);
  AttentionConfig cfg = config();
  cfg.windowLeft = 1;
  cfg.windowRight = 0;
  Result r = run(q, k, rampV(s), cfg);
  // Row i keeps j in {i - 1, i}.
  EXPECT_EQ(r.o.data,
            (std::vector<double>{0, 0, 0.5, 5, 1.5, 15, 2.5, 25, 3.5, 35}));
  EXPECT_DOUBLE_EQ(r.lse.data[0], 0.0);
  EXPECT_DOUBLE_EQ(r.lse.data[4], std::log(2.0));

  // Window with Sq != Sk follows the bottom-right diagonal even with
  // top-left causal masking: Sq = 2, Sk = 4, diagonal of row i is i + 2.
  HostTensor q2 = filled({1, 1, 2, 1}, 0.0);
  HostTensor k2 = filled({1, 1, 4, 1}, 0.0);
  cfg.windowLeft = 2;
  cfg.windowRight = -1;
  Result r2 = run(q2, k2, rampV(4), cfg);
  // Row 0 keeps j >= 0 (all four keys), row 1 keeps j >= 1.
  EXPECT_EQ(r2.o.data, (std::vector<double>{1.5, 15, 2, 20}));
  cfg.causal = CausalKind::TopLeft;
  Result r3 = run(q2, k2, rampV(4), cfg);
  // Row 0 keeps j >= 0 and j <= 0; row 1 keeps j >= 1 and j <= 1.
  EXPECT_EQ(r3.o.data, (std::vector<double>{0, 0, 1, 10}));
}

TEST(ReferenceTest, GroupedQueryHeadMapping) {
  // Hq = 4, Hkv = 2: heads 0, 1 read KV head 0, heads 2, 3 read KV head 1.
  HostTensor q = filled({1, 4, 1, 1}, 1.0);
  HostTensor k = filled({1, 2, 1, 1}, 1.0);
  k.data[1] = 2.0;
  HostTensor v = tensor({1, 2, 1, 1}, {100, 200});
  Result r = run(q, k, v, config());
  EXPECT_EQ(r.o.data, (std::vector<double>{100, 100, 200, 200}));
  EXPECT_EQ(r.lse.data, (std::vector<double>{1, 1, 2, 2}));

  // Batches use their own KV heads too.
  HostTensor q2 = filled({2, 4, 1, 1}, 1.0);
  HostTensor k2 = filled({2, 2, 1, 1}, 1.0);
  HostTensor v2 = tensor({2, 2, 1, 1}, {1, 2, 3, 4});
  Result r2 = run(q2, k2, v2, config());
  EXPECT_EQ(r2.o.data, (std::vector<double>{1, 1, 2, 2, 3, 3, 4, 4}));
}

TEST(ReferenceTest, KeepMask) {
  HostTensor q = filled({1, 1, 2, 1}, 0.0);
  HostTensor k = filled({1, 1, 3, 1}, 0.0);
  MaskOperand mask;
  mask.kind = MaskKind::Keep;
  mask.values = tensor({1, 1, 2, 3}, {1, 0, 1, 0, 0.5, 0});
  Result r = run(q, k, rampV(3), config(), mask);
  EXPECT_EQ(r.o.data, (std::vector<double>{1, 10, 1, 10}));
  EXPECT_DOUBLE_EQ(r.lse.data[0], std::log(2.0));
  EXPECT_DOUBLE_EQ(r.lse.data[1], 0.0);

  // Broadcast over rows: [1, 1, 1, Sk].
  mask.values = tensor({1, 1, 1, 3}, {0, 1, 1});
  Result r2 = run(q, k, rampV(3), config(), mask);
  EXPECT_EQ(r2.o.data, (std::vector<double>{1.5, 15, 1.5, 15}));

  // Mask combined with causal masking.
  AttentionConfig cfg = config();
  cfg.causal = CausalKind::TopLeft;
  Result r3 = run(q, k, rampV(3), cfg, mask);
  EXPECT_EQ(r3.o.data, (std::vector<double>{0, 0, 1, 10}));
  EXPECT_EQ(r3.lse.data[0], -kInf);
}

TEST(ReferenceTest, BiasMask) {
  HostTensor q = filled({1, 1, 1, 1}, 0.0);
  HostTensor k = filled({1, 1, 2, 1}, 0.0);
  HostTensor v = tensor({1, 1, 2, 1}, {1, 5});
  MaskOperand mask;
  mask.kind = MaskKind::Bias;
  mask.values = tensor({1, 1, 1, 2}, {0, 1});
  Result r = run(q, k, v, config(), mask);
  double p1 = std::exp(1.0) / (1 + std::exp(1.0));
  EXPECT_NEAR(r.o.data[0], (1 - p1) + 5 * p1, 1e-14);
  EXPECT_NEAR(r.lse.data[0], std::log(1 + std::exp(1.0)), 1e-14);

  // -inf bias removes the element.
  mask.values = tensor({1, 1, 1, 2}, {-kInf, 3});
  Result r2 = run(q, k, v, config(), mask);
  EXPECT_EQ(r2.o.data[0], 5.0);
  EXPECT_DOUBLE_EQ(r2.lse.data[0], 3.0);

  // All -inf: O = 0, LSE = -inf, no NaN.
  mask.values = tensor({1, 1, 1, 2}, {-kInf, -kInf});
  Result r3 = run(q, k, v, config(), mask);
  EXPECT_EQ(r3.o.data[0], 0.0);
  EXPECT_EQ(r3.lse.data[0], -kInf);
}

TEST(ReferenceTest, FullyMaskedRowsAndEmptyKeys) {
  HostTensor q = filled({1, 2, 2, 3}, 1.0);
  HostTensor k = filled({1, 2, 4, 3}, 1.0);
  HostTensor v = filled({1, 2, 4, 2}, 1.0);
  MaskOperand mask;
  mask.kind = MaskKind::Keep;
  mask.values = filled({1, 2, 1, 1}, 0.0);
  mask.values.data[1] = 1.0; // Head 1 keeps everything, head 0 nothing.
  Result r = run(q, k, v, config(), mask);
  EXPECT_EQ(r.o.data, (std::vector<double>{0, 0, 0, 0, 1, 1, 1, 1}));
  EXPECT_EQ(r.lse.data[0], -kInf);
  EXPECT_EQ(r.lse.data[1], -kInf);
  EXPECT_DOUBLE_EQ(r.lse.data[2], 3 + std::log(4.0));

  // Sk = 0.
  HostTensor k0 = filled({1, 2, 0, 3}, 0.0);
  HostTensor v0 = filled({1, 2, 0, 2}, 0.0);
  Result r0 = run(q, k0, v0, config());
  EXPECT_EQ(r0.o.shape, (std::vector<int64_t>{1, 2, 2, 2}));
  EXPECT_EQ(r0.o.data, std::vector<double>(8, 0.0));
  EXPECT_EQ(r0.lse.data, std::vector<double>(4, -kInf));

  // Sq = 0 and B = 0 are empty outputs.
  Result rq = run(filled({1, 2, 0, 3}, 0.0), k, v, config());
  EXPECT_TRUE(rq.o.data.empty());
  EXPECT_EQ(rq.o.shape, (std::vector<int64_t>{1, 2, 0, 2}));
  Result rb = run(filled({0, 2, 2, 3}, 0.0), filled({0, 2, 4, 3}, 0.0),
                  filled({0, 2, 4, 2}, 0.0), config());
  EXPECT_TRUE(rb.lse.data.empty());
}

TEST(ReferenceTest, Softcap) {
  HostTensor q = tensor({1, 1, 1, 1}, {1});
  HostTensor k = tensor({1, 1, 2, 1}, {10, 0});
  HostTensor v = tensor({1, 1, 2, 1}, {1, 0});
  AttentionConfig cfg = config();
  cfg.softcap = 5.0;
  Result r = run(q, k, v, cfg);
  double s0 = 5.0 * std::tanh(2.0);
  EXPECT_NEAR(r.lse.data[0], std::log(std::exp(s0) + 1.0), 1e-14);
  EXPECT_NEAR(r.o.data[0], std::exp(s0) / (std::exp(s0) + 1.0), 1e-14);
  // Softcap applies before the bias.
  MaskOperand mask;
  mask.kind = MaskKind::Bias;
  mask.values = tensor({1, 1, 1, 2}, {100, 0});
  Result rb = run(q, k, v, cfg, mask);
  EXPECT_NEAR(rb.lse.data[0], s0 + 100 + std::log1p(std::exp(-s0 - 100)),
              1e-12);
}

TEST(ReferenceTest, MatchesBruteForce) {
  std::mt19937 rng(42);
  HostTensor q = randomTensor({2, 4, 5, 8}, rng);
  HostTensor k = randomTensor({2, 2, 7, 8}, rng);
  HostTensor v = randomTensor({2, 2, 7, 3}, rng);
  struct Case {
    CausalKind causal;
    int64_t left, right;
    double softcap;
    MaskKind maskKind;
    std::vector<int64_t> maskShape;
  };
  std::vector<Case> cases = {
      {CausalKind::None, -1, -1, 0, MaskKind::None, {}},
      {CausalKind::TopLeft, -1, -1, 0, MaskKind::None, {}},
      {CausalKind::BottomRight, 2, -1, 0, MaskKind::None, {}},
      {CausalKind::None, 1, 1, 0, MaskKind::Keep, {2, 1, 5, 7}},
      {CausalKind::BottomRight, -1, -1, 2.5, MaskKind::Bias, {1, 4, 1, 7}},
      {CausalKind::TopLeft, 3, 0, 1.0, MaskKind::Bias, {2, 4, 5, 7}},
  };
  for (const Case &c : cases) {
    AttentionConfig cfg = config(0.7);
    cfg.causal = c.causal;
    cfg.windowLeft = c.left;
    cfg.windowRight = c.right;
    cfg.softcap = c.softcap;
    MaskOperand mask;
    mask.kind = c.maskKind;
    if (c.maskKind != MaskKind::None) {
      mask.values = randomTensor(c.maskShape, rng);
      if (c.maskKind == MaskKind::Keep)
        for (double &x : mask.values.data)
          x = x > -0.5 ? 1.0 : 0.0;
    }
    Result r = run(q, k, v, cfg, mask);
    std::vector<double> o, lse;
    bruteForce(q, k, v, mask, cfg, o, lse);
    expectNear(r.o.data, o, 1e-12);
    expectNear(r.lse.data, lse, 1e-12);
    for (double x : r.o.data)
      ASSERT_FALSE(std::isnan(x));
  }
}

TEST(ReferenceTest, ValidationErrors) {
  HostTensor q = filled({2, 4, 3, 8}, 0.0);
  HostTensor k = filled({2, 2, 5, 8}, 0.0);
  HostTensor v = filled({2, 2, 5, 6}, 0.0);
  AttentionConfig cfg = config();
  auto contains = [](const std::string &msg, const std::string &part) {
    return msg.find(part) != std::string::npos;
  };
#define EXPECT_ERROR(call, part)                                               \
  do {                                                                         \
    std::string msg = call;                                                    \
    EXPECT_TRUE(contains(msg, part)) << msg;                                   \
  } while (0)

  EXPECT_EQ(errorOf(q, k, v, cfg), "<no error>");
  EXPECT_ERROR(errorOf(filled({4, 3, 8}, 0), k, v, cfg),
               "Q must have rank 4 ([B, Hq, Sq, D]) but has rank 3");
  EXPECT_ERROR(errorOf(q, filled({2, 2, 5, 8, 1}, 0), v, cfg),
               "K must have rank 4");
  EXPECT_ERROR(errorOf(q, k, filled({2, 2, 5}, 0), cfg), "V must have rank 4");
  HostTensor shortQ = q;
  shortQ.data.pop_back();
  EXPECT_ERROR(errorOf(shortQ, k, v, cfg),
               "Q has 191 values but its shape [2, 4, 3, 8] needs 192");
  HostTensor negK = tensor({2, -2, 5, 8}, {});
  EXPECT_ERROR(errorOf(q, negK, v, cfg), "K has a negative dimension");
  EXPECT_ERROR(errorOf(q, filled({3, 2, 5, 8}, 0), v, cfg),
               "K has batch 3 but Q has batch 2");
  EXPECT_ERROR(errorOf(q, k, filled({1, 2, 5, 6}, 0), cfg),
               "V has batch 1 but Q has batch 2");
  EXPECT_ERROR(errorOf(q, filled({2, 2, 5, 4}, 0), v, cfg),
               "K has head dim 4 but Q has head dim 8");
  EXPECT_ERROR(errorOf(q, k, filled({2, 1, 5, 6}, 0), cfg),
               "V has 1 heads but K has 2");
  EXPECT_ERROR(errorOf(q, k, filled({2, 2, 4, 6}, 0), cfg),
               "V has 4 keys but K has 5");
  EXPECT_ERROR(
      errorOf(q, filled({2, 3, 5, 8}, 0), filled({2, 3, 5, 6}, 0), cfg),
      "Q has 4 heads, which is not a multiple of K's 3 heads");
  EXPECT_ERROR(
      errorOf(q, filled({2, 0, 5, 8}, 0), filled({2, 0, 5, 6}, 0), cfg),
      "K has 0 heads");

  MaskOperand mask;
  mask.kind = MaskKind::Keep;
  mask.values = filled({2, 4, 3}, 1);
  EXPECT_ERROR(errorOf(q, k, v, cfg, mask),
               "mask must have rank 4 ([B, Hq, Sq, Sk]) but has rank 3");
  mask.values = filled({1, 2, 3, 5}, 1);
  EXPECT_ERROR(errorOf(q, k, v, cfg, mask),
               "mask dimension 1 (Hq) is 2 but must be 1 or 4");
  mask.kind = MaskKind::Bias;
  mask.values = filled({2, 1, 3, 4}, 1);
  EXPECT_ERROR(errorOf(q, k, v, cfg, mask),
               "mask dimension 3 (Sk) is 4 but must be 1 or 5");
  mask.values = filled({2, 1, 3, 5}, 1);
  mask.values.data.push_back(0);
  EXPECT_ERROR(errorOf(q, k, v, cfg, mask), "mask has 31 values");
  for (auto shape : std::vector<std::vector<int64_t>>{
           {1, 1, 1, 1}, {2, 4, 3, 5}, {1, 4, 1, 5}, {2, 1, 3, 1}}) {
    mask.values = filled(shape, 0.5);
    EXPECT_EQ(errorOf(q, k, v, cfg, mask), "<no error>");
  }
  // A None mask ignores its values.
  mask.kind = MaskKind::None;
  mask.values = filled({7}, 0.5);
  EXPECT_EQ(errorOf(q, k, v, cfg, mask), "<no error>");

  AttentionConfig bad = cfg;
  bad.scale = std::numeric_limits<double>::quiet_NaN();
  EXPECT_ERROR(errorOf(q, k, v, bad), "scale must be finite");
  bad = cfg;
  bad.softcap = -1;
  EXPECT_ERROR(errorOf(q, k, v, bad), "softcap must be finite and >= 0");
  bad = cfg;
  bad.windowLeft = -2;
  EXPECT_ERROR(errorOf(q, k, v, bad),
               "windowLeft must be -1 (unbounded) or in [0, 2147483647], "
               "got -2");
  bad = cfg;
  bad.windowRight = -5;
  EXPECT_ERROR(errorOf(q, k, v, bad), "windowRight must be -1");
  bad = cfg;
  bad.windowRight = std::numeric_limits<int64_t>::max();
  EXPECT_ERROR(errorOf(q, k, v, bad),
               "windowRight must be -1 (unbounded) or in [0, 2147483647], "
               "got 9223372036854775807");
#undef EXPECT_ERROR

  // naiveAttention validates the same way.
  HostTensor o, lse;
  llvm::Error err = naiveAttention(ElementType::F16, q, filled({3, 2, 5, 8}, 0),
                                   v, {}, cfg, o, lse);
  ASSERT_TRUE(static_cast<bool>(err));
  EXPECT_EQ(llvm::toString(std::move(err)), "K has batch 3 but Q has batch 2");
}

double maxAbsDiff(const std::vector<double> &a, const std::vector<double> &b) {
  double m = 0;
  for (size_t i = 0; i < a.size(); ++i)
    if (a[i] != b[i])
      m = std::max(m, std::fabs(a[i] - b[i]));
  return m;
}

TEST(NaiveAttentionTest, PrecisionMatchesStorageType) {
  std::mt19937 rng(7);
  // Inputs representable in half and bfloat16 alike would hide input
  // rounding; use plain N(0, 1) doubles.
  HostTensor q = randomTensor({1, 4, 33, 64}, rng);
  HostTensor k = randomTensor({1, 2, 47, 64}, rng);
  HostTensor v = randomTensor({1, 2, 47, 32}, rng);
  for (CausalKind causal : {CausalKind::None, CausalKind::BottomRight}) {
    AttentionConfig cfg = config(1.0 / 8.0);
    cfg.causal = causal;
    MaskOperand mask;
    Result ref = run(q, k, v, cfg, mask);

    std::vector<double> errors;
    for (ElementType t :
         {ElementType::F32, ElementType::F16, ElementType::BF16}) {
      HostTensor o, lse;
      llvm::Error err = naiveAttention(t, q, k, v, mask, cfg, o, lse);
      ASSERT_FALSE(static_cast<bool>(err)) << llvm::toString(std::move(err));
      EXPECT_EQ(o.shape, ref.o.shape);
      EXPECT_EQ(lse.shape, ref.lse.shape);
      double errO = maxAbsDiff(o.data, ref.o.data);
      double errLse = maxAbsDiff(lse.data, ref.lse.data);
      if (t == ElementType::F32) {
        EXPECT_LT(errO, 1e-5);
        EXPECT_LT(errLse, 1e-5);
      } else {
        EXPECT_GT(errO, 0.0) << toString(t).str();
        EXPECT_LT(errO, 1e-1) << toString(t).str();
        EXPECT_GT(errLse, 0.0) << toString(t).str();
        EXPECT_LT(errLse, 1e-1) << toString(t).str();
      }
      errors.push_back(errO);
    }
    // bf16 has 3 fewer mantissa bits than f16.
    EXPECT_LT(errors[0], errors[1]);
    EXPECT_LT(errors[1], errors[2]);
  }
}

TEST(NaiveAttentionTest, MasksAndEdgeCases) {
  std::mt19937 rng(3);
  HostTensor q = randomTensor({1, 2, 4, 8}, rng);
  HostTensor k = randomTensor({1, 1, 6, 8}, rng);
  HostTensor v = randomTensor({1, 1, 6, 4}, rng);
  MaskOperand mask;
  mask.kind = MaskKind::Bias;
  mask.values = randomTensor({1, 1, 4, 6}, rng);
  mask.values.data[0] = -kInf;
  for (double &x : mask.values.data)
    if (x < -1.2)
      x = -kInf;
  AttentionConfig cfg = config(0.35);
  cfg.softcap = 3.0;
  cfg.windowLeft = 2;
  Result ref = run(q, k, v, cfg, mask);
  for (ElementType t :
       {ElementType::F32, ElementType::F16, ElementType::BF16}) {
    HostTensor o, lse;
    ASSERT_FALSE(
        static_cast<bool>(naiveAttention(t, q, k, v, mask, cfg, o, lse)));
    double tol = t == ElementType::F32 ? 1e-5 : 1e-1;
    EXPECT_LT(maxAbsDiff(o.data, ref.o.data), tol);
    for (size_t i = 0; i < lse.data.size(); ++i) {
      ASSERT_FALSE(std::isnan(lse.data[i]));
      if (ref.lse.data[i] == -kInf)
        EXPECT_EQ(lse.data[i], -kInf);
      else
        EXPECT_NEAR(lse.data[i], ref.lse.data[i], tol);
    }
  }

  // Fully masked rows and Sk = 0.
  MaskOperand none;
  none.kind = MaskKind::Keep;
  none.values = filled({1, 1, 1, 1}, 0.0);
  HostTensor o, lse;
  ASSERT_FALSE(static_cast<bool>(
      naiveAttention(ElementType::F16, q, k, v, none, cfg, o, lse)));
  EXPECT_EQ(o.data, std::vector<double>(o.data.size(), 0.0));
  EXPECT_EQ(lse.data, std::vector<double>(lse.data.size(), -kInf));
  ASSERT_FALSE(static_cast<bool>(
      naiveAttention(ElementType::BF16, q, filled({1, 1, 0, 8}, 0),
                     filled({1, 1, 0, 4}, 0), {}, cfg, o, lse)));
  EXPECT_EQ(o.data, std::vector<double>(2 * 4 * 4, 0.0));
  EXPECT_EQ(lse.data, std::vector<double>(2 * 4, -kInf));
}

TEST(NaiveAttentionTest, OutputsAreRepresentable) {
  std::mt19937 rng(11);
  HostTensor q = randomTensor({1, 1, 3, 16}, rng);
  HostTensor k = randomTensor({1, 1, 5, 16}, rng);
  HostTensor v = randomTensor({1, 1, 5, 8}, rng);
  for (ElementType t : {ElementType::F16, ElementType::BF16}) {
    HostTensor o, lse;
    ASSERT_FALSE(static_cast<bool>(
        naiveAttention(t, q, k, v, {}, config(0.25), o, lse)));
    for (double x : o.data)
      EXPECT_EQ(static_cast<double>(roundTo(t, static_cast<float>(x))), x);
  }
}

TEST(CheckAgainstReferenceTest, Arithmetic) {
  std::vector<double> ref = {1.0, 2.0, -3.0, -kInf};
  std::vector<double> naive = {1.1, 2.0, -3.05, -kInf};
  std::vector<double> out = {1.0, 2.25, -3.0, -kInf};
  ErrorCheck c = checkAgainstReference(out, ref, naive, 0.0);
  EXPECT_DOUBLE_EQ(c.maxErr, 0.25);
  EXPECT_NEAR(c.naiveErr, 0.1, 1e-15);
  EXPECT_NEAR(c.bound, 0.2, 1e-15);
  EXPECT_FALSE(c.ok);

  c = checkAgainstReference(out, ref, naive, 0.05);
  EXPECT_NEAR(c.bound, 0.25, 1e-15);
  EXPECT_TRUE(c.ok); // 0.25 <= 0.25 (within rounding of the bound).

  c = checkAgainstReference(out, ref, naive, 0.1);
  EXPECT_TRUE(c.ok);

  // Exact match with a zero naive error and zero floor passes.
  c = checkAgainstReference(ref, ref, ref, 0.0);
  EXPECT_EQ(c.maxErr, 0.0);
  EXPECT_EQ(c.naiveErr, 0.0);
  EXPECT_EQ(c.bound, 0.0);
  EXPECT_TRUE(c.ok);

  // NaN or a wrong infinity in the output fails whatever the floor.
  std::vector<double> nanOut = out;
  nanOut[0] = std::numeric_limits<double>::quiet_NaN();
  c = checkAgainstReference(nanOut, ref, naive, 1e9);
  EXPECT_EQ(c.maxErr, kInf);
  EXPECT_FALSE(c.ok);
  std::vector<double> finiteLse = out;
  finiteLse[3] = 0.0;
  c = checkAgainstReference(finiteLse, ref, naive, 1e9);
  EXPECT_EQ(c.maxErr, kInf);
  EXPECT_FALSE(c.ok);

  // A naive result that overflowed gives an infinite bound: the check
  // fails instead of accepting anything (here even a NaN output).
  std::vector<double> overflowed = naive;
  overflowed[1] = kInf;
  c = checkAgainstReference(nanOut, ref, overflowed, 0.0);
  EXPECT_EQ(c.bound, kInf);
  EXPECT_FALSE(c.ok);
  c = checkAgainstReference(ref, ref, overflowed, 0.0);
  EXPECT_FALSE(c.ok);

  // Mismatched lengths.
  c = checkAgainstReference({1.0}, ref, naive, 1.0);
  EXPECT_FALSE(c.ok);

  // Empty inputs pass trivially.
  c = checkAgainstReference({}, {}, {}, 0.0);
  EXPECT_TRUE(c.ok);
  EXPECT_EQ(c.maxErr, 0.0);
}

} // namespace
