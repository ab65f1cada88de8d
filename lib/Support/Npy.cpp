//===- Npy.cpp - NumPy .npy reader and writer -----------------------------===//

#include "attn/Support/Npy.h"

#include "attn/Support/Float16.h"

#include "llvm/ADT/StringExtras.h"
#include "llvm/ADT/Twine.h"
#include "llvm/ADT/bit.h"
#include "llvm/Support/Endian.h"
#include "llvm/Support/FileSystem.h"
#include "llvm/Support/MathExtras.h"
#include "llvm/Support/MemoryBuffer.h"
#include "llvm/Support/Process.h"
#include "llvm/Support/raw_ostream.h"

#include <algorithm>
#include <cassert>
#include <optional>
#include <string>

using namespace llvm;

namespace attn {

namespace {

constexpr char kMagic[] = "\x93NUMPY";
constexpr size_t kMagicSize = 6;
/// numpy aligns the start of the data to this many bytes.
constexpr size_t kAlignment = 64;
/// Largest dimension accepted in a header; anything larger cannot be real.
constexpr int64_t kMaxDim = int64_t(1) << 48;
/// numpy's limit on the number of dimensions.
constexpr size_t kMaxRank = 64;

Error makeError(StringRef name, const Twine &message) {
  return createStringError(inconvertibleErrorCode(),
                           (name + ": " + message).str());
}

std::string formatShape(ArrayRef<int64_t> shape) {
  if (shape.empty())
    return "scalar";
  std::string result;
  for (size_t i = 0; i < shape.size(); ++i) {
    if (i)
      result += 'x';
    result += std::to_string(shape[i]);
  }
  return result;
}

/// Makes a header excerpt printable on one line.
std::string printable(StringRef text) {
  std::string result;
  for (char c : text.take_front(80)) {
    if (c == '\n')
      result += "\\n";
    else if (isPrint(c))
      result += c;
    else
      result += '?';
  }
  if (text.size() > 80)
    result += "...";
  return result;
}

/// Parser for the Python-literal dict in a .npy header, e.g.
///   {'descr': '<f4', 'fortran_order': False, 'shape': (2, 3), }
/// Only the subset numpy produces is accepted: string keys, string / bool /
/// tuple-of-int values, optional trailing commas, arbitrary spaces.
class HeaderParser {
public:
  HeaderParser(StringRef text) : text(text) {}

  /// On failure returns the reason (without the file name).
  std::optional<std::string> parse() {
    skipSpace();
    if (!consume('{'))
      return fail("expected '{'");
    skipSpace();
    while (!consume('}')) {
      std::string key;
      if (!parseString(key))
        return fail("expected a quoted key");
      skipSpace();
      if (!consume(':'))
        return fail("expected ':' after key '" + key + "'");
      skipSpace();
      if (key == "descr") {
        if (seenDescr)
          return fail("duplicate key 'descr'");
        seenDescr = true;
        if (peek() == '[') {
          structured = true;
          return std::nullopt; // Reported as an unsupported dtype.
        }
        if (!parseString(descr))
          return fail("expected a string for 'descr'");
      } else if (key == "fortran_order") {
        if (seenFortran)
          return fail("duplicate key 'fortran_order'");
        seenFortran = true;
        if (consumeWord("True"))
          fortranOrder = true;
        else if (consumeWord("False"))
          fortranOrder = false;
        else
          return fail("expected True or False for 'fortran_order'");
      } else if (key == "shape") {
        if (seenShape)
          return fail("duplicate key 'shape'");
        seenShape = true;
        if (auto err = parseShape())
          return err;
      } else {
        return fail("unexpected key '" + key + "'");
      }
      skipSpace();
      if (consume(','))
        skipSpace();
      else if (peek() != '}')
        return fail("expected ',' or '}'");
    }
    skipSpace();
    if (pos != text.size())
      return fail("unexpected text after '}'");
    if (!seenDescr)
      return std::string("missing key 'descr'");
    if (!seenFortran)
      return std::string("missing key 'fortran_order'");
    if (!seenShape)
      return std::string("missing key 'shape'");
    return std::nullopt;
  }

  std::string descr;
  bool structured = false;
  bool fortranOrder = false;
  std::vector<int64_t> shape;

private:
  std::optional<std::string> parseShape() {
    if (!consume('('))
      return fail("expected a tuple for 'shape'");
    skipSpace();
    while (!consume(')')) {
      if (peek() == '-')
        return std::string("negative dimension in 'shape'");
      if (!isDigit(peek()))
        return fail("expected an integer in 'shape'");
      int64_t value = 0;
      while (isDigit(peek())) {
        value = value * 10 + (text[pos++] - '0');
        if (value > kMaxDim)
          return "dimension too large in 'shape' (limit " +
                 std::to_string(kMaxDim) + ")";
      }
      consume('L'); // Python 2 long suffix, written by old numpy versions.
      if (shape.size() == kMaxRank)
        return "more than " + std::to_string(kMaxRank) +
               " dimensions in 'shape'";
      shape.push_back(value);
      skipSpace();
      if (consume(','))
        skipSpace();
      else if (peek() != ')')
        return fail("expected ',' or ')' in 'shape'");
    }
    return std::nullopt;
  }

  bool parseString(std::string &out) {
    char quote = peek();
    if (quote != '\'' && quote != '"')
      return false;
    size_t end = text.find(quote, pos + 1);
    if (end == StringRef::npos)
      return false;
    out = text.slice(pos + 1, end).str();
    pos = end + 1;
    return true;
  }

  bool consumeWord(StringRef word) {
    if (!text.substr(pos).starts_with(word))
      return false;
    pos += word.size();
    return true;
  }

  std::string fail(const std::string &what) const {
    return what + " at offset " + std::to_string(pos) + " in '" +
           printable(text) + "'";
  }
  char peek() const { return pos < text.size() ? text[pos] : '\0'; }
  bool consume(char c) {
    if (peek() != c)
      return false;
    ++pos;
    return true;
  }
  void skipSpace() {
    while (pos < text.size() && isSpace(text[pos]))
      ++pos;
  }

  StringRef text;
  size_t pos = 0;
  bool seenDescr = false, seenFortran = false, seenShape = false;
};

std::optional<NpyDType> dtypeFromDescr(StringRef descr) {
  if (descr == "<f2")
    return NpyDType::F16;
  if (descr == "<f4")
    return NpyDType::F32;
  if (descr == "<f8")
    return NpyDType::F64;
  // One-byte types have no byte order; numpy writes '|b1'.
  if (descr.size() == 3 && descr.ends_with("b1") &&
      StringRef("|<>=").contains(descr[0]))
    return NpyDType::Bool;
  return std::nullopt;
}

StringRef descrFor(NpyDType dtype) {
  switch (dtype) {
  case NpyDType::Bool:
    return "|b1";
  case NpyDType::F16:
    return "<f2";
  case NpyDType::F32:
    return "<f4";
  case NpyDType::F64:
    return "<f8";
  }
  return "?";
}

} // namespace

int64_t getElementSize(NpyDType dtype) {
  switch (dtype) {
  case NpyDType::Bool:
    return 1;
  case NpyDType::F16:
    return 2;
  case NpyDType::F32:
    return 4;
  case NpyDType::F64:
    return 8;
  }
  return 1;
}

StringRef toString(NpyDType dtype) {
  switch (dtype) {
  case NpyDType::Bool:
    return "bool";
  case NpyDType::F16:
    return "float16";
  case NpyDType::F32:
    return "float32";
  case NpyDType::F64:
    return "float64";
  }
  return "<invalid dtype>";
}

int64_t NpyArray::numElements() const {
  int64_t n = 1;
  for (int64_t d : shape)
    n *= d;
  return n;
}

std::vector<double> NpyArray::toDouble() const {
  int64_t n = numElements();
  assert(static_cast<int64_t>(data.size()) == n * getElementSize(dtype) &&
         "data size does not match shape");
  // Never read past the data, even for an inconsistent array.
  n = std::min<int64_t>(n, static_cast<int64_t>(data.size()) /
                               getElementSize(dtype));
  std::vector<double> result(n);
  const uint8_t *p = data.data();
  for (int64_t i = 0; i < n; ++i) {
    switch (dtype) {
    case NpyDType::Bool:
      result[i] = p[i] != 0 ? 1.0 : 0.0;
      break;
    case NpyDType::F16:
      result[i] = halfToFloat(
          support::endian::read16le(p + 2 * static_cast<size_t>(i)));
      break;
    case NpyDType::F32:
      result[i] = bit_cast<float>(
          support::endian::read32le(p + 4 * static_cast<size_t>(i)));
      break;
    case NpyDType::F64:
      result[i] = bit_cast<double>(
          support::endian::read64le(p + 8 * static_cast<size_t>(i)));
      break;
    }
  }
  return result;
}

std::vector<float> NpyArray::toFloat() const {
  std::vector<double> values = toDouble();
  return std::vector<float>(values.begin(), values.end());
}

NpyArray NpyArray::fromFloat(ArrayRef<int64_t> shape, ArrayRef<float> values) {
  NpyArray array;
  array.dtype = NpyDType::F32;
  array.shape.assign(shape.begin(), shape.end());
  assert(array.numElements() == static_cast<int64_t>(values.size()) &&
         "value count does not match shape");
  array.data.resize(values.size() * 4);
  for (size_t i = 0; i < values.size(); ++i)
    support::endian::write32le(array.data.data() + 4 * i,
                               bit_cast<uint32_t>(values[i]));
  return array;
}

Expected<NpyArray> parseNpy(StringRef bytes, StringRef name) {
  if (bytes.size() < kMagicSize || !bytes.starts_with(StringRef(kMagic, 6)))
    return makeError(name, "not a .npy file (bad magic)");
  if (bytes.size() < kMagicSize + 2)
    return makeError(name, "truncated header: file ends inside the preamble");
  unsigned major = static_cast<uint8_t>(bytes[6]);
  unsigned minor = static_cast<uint8_t>(bytes[7]);
  if (major < 1 || major > 3 || minor != 0)
    return makeError(name, "unsupported .npy format version " + Twine(major) +
                               "." + Twine(minor) +
                               " (expected 1.0, 2.0 or 3.0)");
  size_t lenSize = major == 1 ? 2 : 4;
  size_t headerStart = kMagicSize + 2 + lenSize;
  if (bytes.size() < headerStart)
    return makeError(name, "truncated header: file ends inside the preamble");
  const uint8_t *lenPtr = reinterpret_cast<const uint8_t *>(bytes.data()) + 8;
  uint64_t headerLen = major == 1 ? support::endian::read16le(lenPtr)
                                  : support::endian::read32le(lenPtr);
  if (bytes.size() - headerStart < headerLen)
    return makeError(name, "truncated header: header length is " +
                               Twine(headerLen) + " bytes, file has " +
                               Twine(bytes.size() - headerStart));
  StringRef header = bytes.substr(headerStart, headerLen);

  HeaderParser parser(header);
  if (std::optional<std::string> err = parser.parse())
    return makeError(name, "malformed header: " + *err);
  if (parser.structured)
    return makeError(name, "unsupported dtype: structured arrays are not "
                           "supported (expected float16, float32, float64 or "
                           "bool)");
  std::optional<NpyDType> dtype = dtypeFromDescr(parser.descr);
  if (!dtype) {
    StringRef d = parser.descr;
    if (d.size() == 3 && d[0] == '>' && dtypeFromDescr("<" + d.substr(1).str()))
      return makeError(name, "big-endian dtype '" + d +
                                 "' is not supported (convert with "
                                 "a.astype('<" +
                                 d.substr(1) + "'))");
    return makeError(name, "unsupported dtype '" + d +
                               "' (expected float16, float32, float64 or "
                               "bool)");
  }
  if (parser.fortranOrder)
    return makeError(name, "Fortran-order arrays are not supported (save "
                           "np.ascontiguousarray(a) instead)");

  NpyArray array;
  array.dtype = *dtype;
  array.shape = std::move(parser.shape);
  int64_t elementSize = getElementSize(*dtype);
  int64_t count = 1;
  for (int64_t d : array.shape)
    if (MulOverflow(count, d, count))
      return makeError(name, "shape " + formatShape(array.shape) +
                                 " overflows the element count");
  int64_t byteCount;
  if (MulOverflow(count, elementSize, byteCount))
    return makeError(name, "shape " + formatShape(array.shape) +
                               " overflows the byte count");

  uint64_t available = bytes.size() - headerStart - headerLen;
  if (available < static_cast<uint64_t>(byteCount))
    return makeError(name, "truncated data: header says " +
                               formatShape(array.shape) + " " +
                               toString(*dtype) + " (" + Twine(byteCount) +
                               " bytes), file has " + Twine(available));
  if (available > static_cast<uint64_t>(byteCount))
    return makeError(name, "trailing data: header says " +
                               formatShape(array.shape) + " " +
                               toString(*dtype) + " (" + Twine(byteCount) +
                               " bytes), file has " + Twine(available));
  const uint8_t *data =
      reinterpret_cast<const uint8_t *>(bytes.data()) + headerStart + headerLen;
  array.data.assign(data, data + byteCount);
  return array;
}

Expected<NpyArray> readNpy(StringRef path) {
  ErrorOr<std::unique_ptr<MemoryBuffer>> buffer =
      MemoryBuffer::getFile(path, /*IsText=*/false,
                            /*RequiresNullTerminator=*/false);
  if (std::error_code ec = buffer.getError())
    return createStringError(ec, "cannot open '%s': %s", path.str().c_str(),
                             ec.message().c_str());
  return parseNpy((*buffer)->getBuffer(), path);
}

Error writeNpy(StringRef path, const NpyArray &array) {
  if (array.shape.size() > kMaxRank)
    return makeError(
        path, "cannot write an array of rank " + Twine(array.shape.size()) +
                  " (numpy supports at most " + Twine(kMaxRank) + ")");
  for (int64_t d : array.shape)
    if (d < 0 || d > kMaxDim)
      return makeError(path, "cannot write an array with dimension " +
                                 Twine(d) + " (shape " +
                                 formatShape(array.shape) +
                                 "; dimensions must be in [0, 2^48])");
  int64_t expected = array.numElements() * getElementSize(array.dtype);
  if (static_cast<int64_t>(array.data.size()) != expected)
    return makeError(path, "cannot write: shape " + formatShape(array.shape) +
                               " " + toString(array.dtype) + " needs " +
                               Twine(expected) + " bytes of data, array has " +
                               Twine(array.data.size()));

  // Header in numpy's own format.
  std::string header = "{'descr': '" + descrFor(array.dtype).str() +
                       "', 'fortran_order': False, 'shape': (";
  for (size_t i = 0; i < array.shape.size(); ++i) {
    if (i)
      header += ", ";
    header += std::to_string(array.shape[i]);
  }
  if (array.shape.size() == 1)
    header += ',';
  header += "), }";
  // With at most 64 dimensions the header always fits version 1.0's 16-bit
  // length. Pad with spaces and end with '\n' so the data is aligned.
  const size_t preamble = kMagicSize + 2 + 2;
  size_t padded = alignTo(preamble + header.size() + 1, kAlignment);
  header.append(padded - preamble - header.size() - 1, ' ');
  header += '\n';
  assert(header.size() <= 0xffff && "header too long for version 1.0");

  std::string bytes(kMagic, kMagicSize);
  bytes += '\x01'; // Version 1.0.
  bytes += '\0';
  char len[2];
  support::endian::write16le(len, static_cast<uint16_t>(header.size()));
  bytes.append(len, 2);
  bytes += header;

  std::string tmp =
      (path + ".tmp." + Twine(sys::Process::getProcessId())).str();
  std::error_code ec;
  {
    raw_fd_ostream os(tmp, ec, sys::fs::OF_None);
    if (ec)
      return createStringError(ec, "cannot write '%s': %s", path.str().c_str(),
                               ec.message().c_str());
    os.write(bytes.data(), bytes.size());
    os.write(reinterpret_cast<const char *>(array.data.data()),
             array.data.size());
    os.close();
    if (os.has_error()) {
      ec = os.error();
      os.clear_error();
      sys::fs::remove(tmp);
      return createStringError(ec, "cannot write '%s': %s", path.str().c_str(),
                               ec.message().c_str());
    }
  }
  if ((ec = sys::fs::rename(tmp, path))) {
    sys::fs::remove(tmp);
    return createStringError(ec, "cannot write '%s': rename from '%s': %s",
                             path.str().c_str(), tmp.c_str(),
                             ec.message().c_str());
  }
  return Error::success();
}

Error writeNpyFiles(ArrayRef<std::pair<std::string, NpyArray>> files) {
  std::string suffix =
      ".partial." + std::to_string(sys::Process::getProcessId());
  auto removeAll = [&] {
    for (const auto &file : files)
      sys::fs::remove(file.first + suffix);
  };
  for (const auto &[path, array] : files)
    if (Error e = writeNpy(path + suffix, array)) {
      removeAll();
      return e;
    }
  for (const auto &file : files)
    if (std::error_code ec = sys::fs::rename(file.first + suffix, file.first)) {
      removeAll();
      return createStringError("cannot write '" + file.first +
                               "': " + ec.message());
    }
  return Error::success();
}

} // namespace attn
