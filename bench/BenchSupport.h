//===- BenchSupport.h - what the benchmark programs share -------*- C++ -*-===//

#ifndef ATTN_BENCH_BENCHSUPPORT_H
#define ATTN_BENCH_BENCHSUPPORT_H

#include <algorithm>
#include <chrono>
#include <ctime>
#include <string>
#include <vector>

namespace attn::bench {

inline double millisecondsSince(std::chrono::steady_clock::time_point start) {
  return std::chrono::duration<double, std::milli>(
             std::chrono::steady_clock::now() - start)
      .count();
}

/// The upper median (the middle element for odd sizes); `values` must not
/// be empty.
inline double median(std::vector<double> values) {
  std::sort(values.begin(), values.end());
  return values[values.size() / 2];
}

/// "2026-11-25 00:44 UTC", for the header of a results table.
inline std::string currentDate() {
  std::time_t now = std::time(nullptr);
  char text[32];
  std::strftime(text, sizeof(text), "%Y-%m-%d %H:%M UTC", std::gmtime(&now));
  return text;
}

} // namespace attn::bench

#endif // ATTN_BENCH_BENCHSUPPORT_H
