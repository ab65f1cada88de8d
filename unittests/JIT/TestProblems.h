//===- TestProblems.h - random attention problems for tests -----*- C++ -*-===//

#ifndef ATTN_UNITTESTS_JIT_TESTPROBLEMS_H
#define ATTN_UNITTESTS_JIT_TESTPROBLEMS_H

#include "attn/JIT/HostAttention.h"

#include <random>

namespace attn::test {

inline std::vector<float> randomNormal(int64_t n, std::mt19937 &rng) {
  std::normal_distribution<float> normal(0.0f, 1.0f);
  std::vector<float> values(n);
  for (float &x : values)
    x = normal(rng);
  return values;
}

inline int64_t numElements(const std::array<int64_t, 4> &shape) {
  return shape[0] * shape[1] * shape[2] * shape[3];
}

/// Fills Q, K, V (and a mask when the problem has one) with N(0, 1) values
/// rounded to the problem's storage type; Keep masks keep each element with
/// probability `keep`.
inline HostInputs makeInputs(const AttentionProblem &p, unsigned seed,
                             double keep = 0.5) {
  std::mt19937 rng(seed);
  HostInputs in;
  in.problem = p;
  in.q = randomNormal(numElements(p.q), rng);
  in.k = randomNormal(numElements(p.k), rng);
  in.v = randomNormal(numElements(p.v), rng);
  roundInPlace(p.dtype, in.q);
  roundInPlace(p.dtype, in.k);
  roundInPlace(p.dtype, in.v);
  if (p.mask == AttentionProblem::Mask::Keep) {
    std::bernoulli_distribution keepDist(keep);
    in.mask.resize(numElements(p.maskShape));
    for (float &m : in.mask)
      m = keepDist(rng) ? 1.0f : 0.0f;
  } else if (p.mask == AttentionProblem::Mask::Bias) {
    in.mask = randomNormal(numElements(p.maskShape), rng);
  }
  return in;
}

} // namespace attn::test

#endif // ATTN_UNITTESTS_JIT_TESTPROBLEMS_H
