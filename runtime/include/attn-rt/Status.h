//===- Status.h - Errors as values for the GPU runtime ----------*- C++ -*-===//
//
// The runtime cannot use llvm::Error (it must not depend on LLVM) nor
// exceptions (the project builds with -fno-exceptions), so failures are
// returned as values: a Status for operations that produce nothing, a
// Result<T> for those that produce a T. An error is one line that says what
// failed and, where the runtime can tell, what to do about it, e.g.
//   no NVIDIA driver: cannot load libcuda.so.1 (libcuda.so.1: cannot open
//   shared object file: No such file or directory)
//
// Both types are [[nodiscard]]: ignoring an error is a compile-time warning.
//
//===----------------------------------------------------------------------===//

#ifndef ATTN_RT_STATUS_H
#define ATTN_RT_STATUS_H

#include <cassert>
#include <optional>
#include <string>
#include <utility>

namespace attn::rt {

/// Success, or an error message. A default-constructed Status is success.
class [[nodiscard]] Status {
public:
  Status() = default;

  /// An error; `message` must not be empty (the empty message is success).
  static Status error(std::string message) {
    assert(!message.empty() && "an error needs a message");
    Status status;
    status.message = std::move(message);
    return status;
  }

  bool ok() const { return message.empty(); }
  /// The error message; empty on success.
  const std::string &getMessage() const { return message; }

private:
  std::string message;
};

/// A T, or the error that prevented producing one. T may be move-only.
template <typename T> class [[nodiscard]] Result {
public:
  Result(T value) : value(std::move(value)) {}
  /// An error result; `error` must not be success.
  Result(Status error) : status(std::move(error)) {
    assert(!status.ok() && "a Result without a value needs an error");
  }

  bool ok() const { return value.has_value(); }
  const Status &getStatus() const { return status; }
  const std::string &getMessage() const { return status.getMessage(); }

  T &operator*() {
    assert(ok() && "no value in an error Result");
    return *value;
  }
  const T &operator*() const {
    assert(ok() && "no value in an error Result");
    return *value;
  }
  T *operator->() { return &**this; }
  const T *operator->() const { return &**this; }

private:
  std::optional<T> value;
  Status status;
};

} // namespace attn::rt

#endif // ATTN_RT_STATUS_H
