//===- Bundle.cpp - Reading and writing kernel bundles --------------------===//
//
// nlohmann::json is used without exceptions: under -fno-exceptions every
// exception it would throw aborts instead. So nothing here lets it throw:
// JSON is parsed with allow_exceptions = false, values are type-checked
// before they are read, and only validated (ASCII) strings are dumped.
//
//===----------------------------------------------------------------------===//

#include "attn-rt/Bundle.h"

#include <nlohmann/json.hpp>

#include <cerrno>
#include <cmath>
#include <cstdio>
#include <cstring>
#include <fcntl.h>
#include <limits>
#include <optional>
#include <set>
#include <unistd.h>

namespace attn::rt {

// Keeps the metadata's fields in the order they are written, which is the
// order of the format description in Bundle.h.
using Json = nlohmann::ordered_json;

namespace {

//===----------------------------------------------------------------------===//
// Spellings
//===----------------------------------------------------------------------===//

/// The metadata's name for each value of an enum.
template <typename Enum> struct Spelling {
  Enum value;
  const char *name;
};
constexpr Spelling<ScalarType> kScalarTypes[] = {
    {ScalarType::I8, "i8"},     {ScalarType::I32, "i32"},
    {ScalarType::I64, "i64"},   {ScalarType::F16, "f16"},
    {ScalarType::BF16, "bf16"}, {ScalarType::F32, "f32"},
    {ScalarType::F64, "f64"}};
constexpr Spelling<ArgKind> kArgKinds[] = {{ArgKind::Pointer, "pointer"},
                                           {ArgKind::I32, "i32"},
                                           {ArgKind::I64, "i64"},
                                           {ArgKind::F32, "f32"}};

template <typename Enum, size_t N>
const char *spell(const Spelling<Enum> (&spellings)[N], Enum value) {
  for (const Spelling<Enum> &spelling : spellings)
    if (spelling.value == value)
      return spelling.name;
  return "?"; // Not a value of the enum.
}

} // namespace

const char *toString(ScalarType type) { return spell(kScalarTypes, type); }
const char *toString(ArgKind kind) { return spell(kArgKinds, kind); }

namespace {

//===----------------------------------------------------------------------===//
// Binary framing
//===----------------------------------------------------------------------===//

constexpr std::string_view kMagic = "ATTNBNDL";

/// FNV-1a, 64-bit: enough to catch truncated and corrupted files (not a
/// defence against deliberate tampering).
uint64_t hashFnv1a64(std::string_view bytes) {
  uint64_t hash = 0xcbf29ce484222325ull;
  for (unsigned char byte : bytes) {
    hash ^= byte;
    hash *= 0x100000001b3ull;
  }
  return hash;
}

void appendLittleEndian(std::string &bytes, uint64_t value, size_t size) {
  for (size_t i = 0; i < size; ++i)
    bytes += static_cast<char>(value >> (8 * i));
}

uint64_t readLittleEndian(std::string_view bytes) {
  uint64_t value = 0;
  for (size_t i = bytes.size(); i-- > 0;)
    value = value << 8 | static_cast<unsigned char>(bytes[i]);
  return value;
}

/// Takes the fields of a bundle file in order. A length read from the file
/// is compared with what is left before anything is added to it, so that a
/// corrupt length cannot overflow an offset.
class FieldReader {
public:
  explicit FieldReader(std::string_view bytes) : bytes(bytes) {}

  /// The next `size` bytes, or nothing (and the reader is unchanged) if the
  /// file ends before them.
  std::optional<std::string_view> take(uint64_t size) {
    if (size > bytes.size() - offset)
      return std::nullopt;
    std::string_view field = bytes.substr(offset, size);
    offset += size;
    return field;
  }
  size_t getOffset() const { return offset; }

private:
  std::string_view bytes;
  size_t offset = 0;
};

//===----------------------------------------------------------------------===//
// Metadata rules
//===----------------------------------------------------------------------===//

bool isIdentifier(const std::string &text) {
  auto isLetter = [](char c) {
    return (c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z') || c == '_';
  };
  if (text.empty() || !isLetter(text[0]))
    return false;
  for (char c : text)
    if (!isLetter(c) && !(c >= '0' && c <= '9'))
      return false;
  return true;
}

bool isPrintableAscii(const std::string &text) {
  if (text.empty())
    return false;
  for (char c : text)
    if (c < 0x20 || c > 0x7e)
      return false;
  return true;
}

/// "sm_" then digits then optional lowercase letters ("sm_80", "sm_90a",
/// "sm_100f").
bool isChipName(const std::string &text) {
  if (text.rfind("sm_", 0) != 0)
    return false;
  const size_t firstDigit = 3;
  size_t i = firstDigit;
  while (i < text.size() && text[i] >= '0' && text[i] <= '9')
    ++i;
  if (i == firstDigit)
    return false;
  while (i < text.size() && text[i] >= 'a' && text[i] <= 'z')
    ++i;
  return i == text.size();
}

/// `text` as a JSON string literal: quoted, with control characters
/// escaped, so that a bad value keeps an error message on one line.
std::string quote(const std::string &text) {
  return Json(text).dump(-1, ' ', false, Json::error_handler_t::replace);
}

Status invalidField(const std::string &field, const std::string &rule) {
  return Status::error("metadata field '" + field + "' " + rule);
}

/// Checks what the JSON types do not: names, ranges, CUDA's launch limits.
/// Both the writer and the reader run it, so that whatever one accepts the
/// other does too.
Status verifyBundle(const Bundle &bundle) {
  const BundleMetadata &metadata = bundle.metadata;
  if (!isIdentifier(metadata.kernelName))
    return invalidField("kernel", "must be a C identifier, not " +
                                      quote(metadata.kernelName));
  if (!isChipName(metadata.target))
    return invalidField("target", "must name a chip like sm_80 or sm_90a, "
                                  "not " +
                                      quote(metadata.target));

  // CUDA's limits on every chip since compute capability 3.0; a zero
  // dimension is an empty problem (Kernel::launch launches nothing).
  const Dim3 &grid = metadata.launch.grid, &block = metadata.launch.block;
  if (grid.x > 0x7fffffffu || grid.y > 65535 || grid.z > 65535)
    return invalidField("grid", "must be [x, y, z] with x <= 2^31 - 1 and "
                                "y, z <= 65535, not [" +
                                    toString(grid) + "]");
  if (block.x < 1 || block.x > 1024 || block.y < 1 || block.y > 1024 ||
      block.z < 1 || block.z > 64 ||
      uint64_t(block.x) * block.y * block.z > 1024)
    return invalidField("block", "must be [x, y, z] with 1 <= x, y <= 1024, "
                                 "1 <= z <= 64 and x * y * z <= 1024, not [" +
                                     toString(block) + "]");

  std::vector<std::pair<const char *, std::string>> keys;
  for (const auto &[name, value] : metadata.problem)
    keys.push_back({"problem", name});
  for (const auto &[name, value] : metadata.options)
    keys.push_back({"options", name});
  for (const auto &[name, value] : metadata.semantics) {
    keys.push_back({"semantics", name});
    // JSON has no infinities or NaN.
    if (!std::isfinite(value))
      return invalidField("semantics." + name, "must be a finite number");
  }
  for (const auto &[field, key] : keys)
    if (!isIdentifier(key))
      return invalidField(field, "has the key " + quote(key) +
                                     ", which is not a C identifier");

  std::set<std::string> argNames;
  for (size_t i = 0; i < metadata.args.size(); ++i) {
    const KernelArg &arg = metadata.args[i];
    std::string field = "args[" + std::to_string(i) + "]";
    if (!isIdentifier(arg.name))
      return invalidField(field + ".name",
                          "must be a C identifier, not " + quote(arg.name));
    if (!argNames.insert(arg.name).second)
      return invalidField(field + ".name",
                          "repeats the argument name " + quote(arg.name));
    if (arg.kind != ArgKind::Pointer && !arg.shape.empty())
      return invalidField(field + ".shape", "is only allowed for pointers");
    for (int64_t dim : arg.shape)
      if (dim < 0)
        return invalidField(field + ".shape", "has the negative dimension " +
                                                  std::to_string(dim));
  }

  const struct {
    const char *field;
    const std::string &value;
  } texts[] = {{"compiler.name", metadata.compilerName},
               {"compiler.version", metadata.compilerVersion},
               {"created", metadata.created}};
  for (const auto &[field, value] : texts)
    if (!isPrintableAscii(value))
      return invalidField(field, "must be non-empty printable ASCII, not " +
                                     quote(value));

  if (bundle.cubin.empty())
    return Status::error("the cubin is empty");
  return Status();
}

//===----------------------------------------------------------------------===//
// Metadata as JSON
//===----------------------------------------------------------------------===//

Json toJson(const BundleMetadata &metadata) {
  auto dims = [](const Dim3 &d) { return Json::array({d.x, d.y, d.z}); };
  Json args = Json::array();
  for (const KernelArg &arg : metadata.args) {
    Json entry;
    entry["name"] = arg.name;
    entry["kind"] = toString(arg.kind);
    if (arg.kind == ArgKind::Pointer) {
      entry["element_type"] = toString(arg.elementType);
      entry["shape"] = arg.shape;
    }
    args.push_back(std::move(entry));
  }
  Json root;
  root["kernel"] = metadata.kernelName;
  root["target"] = metadata.target;
  root["dtype"] = toString(metadata.dtype);
  root["grid"] = dims(metadata.launch.grid);
  root["block"] = dims(metadata.launch.block);
  root["dynamic_shared_memory"] = metadata.launch.dynamicSharedMemory;
  root["problem"] = Json::object();
  for (const auto &[name, size] : metadata.problem)
    root["problem"][name] = size;
  root["args"] = std::move(args);
  root["options"] = Json::object();
  for (const auto &[name, value] : metadata.options)
    root["options"][name] = value;
  root["semantics"] = Json::object();
  for (const auto &[name, value] : metadata.semantics)
    root["semantics"][name] = value;
  root["compiler"]["name"] = metadata.compilerName;
  root["compiler"]["version"] = metadata.compilerVersion;
  root["created"] = metadata.created;
  return root;
}

/// nlohmann's description of the first syntax error in `text`, e.g.
///   parse error at line 1, column 12: syntax error while parsing value -
///   invalid literal; last read: '"kernel": x'
/// (json::parse without exceptions only says that there is one).
std::string describeSyntaxError(std::string_view text) {
  struct ErrorCollector : nlohmann::json_sax<Json> {
    bool null() override { return true; }
    bool boolean(bool) override { return true; }
    bool number_integer(number_integer_t) override { return true; }
    bool number_unsigned(number_unsigned_t) override { return true; }
    bool number_float(number_float_t, const string_t &) override {
      return true;
    }
    bool string(string_t &) override { return true; }
    bool binary(binary_t &) override { return true; }
    bool start_object(std::size_t) override { return true; }
    bool key(string_t &) override { return true; }
    bool end_object() override { return true; }
    bool start_array(std::size_t) override { return true; }
    bool end_array() override { return true; }
    bool parse_error(std::size_t, const std::string &,
                     const Json::exception &error) override {
      message = error.what();
      return false;
    }
    std::string message;
  } collector;
  Json::sax_parse(text.begin(), text.end(), &collector);
  // Drop the "[json.exception.parse_error.101] " prefix.
  size_t start = collector.message.find("] ");
  return start == std::string::npos ? collector.message
                                    : collector.message.substr(start + 2);
}

/// Converts metadata JSON to a BundleMetadata, checking that each field is
/// present and has the expected JSON type. It keeps the first error and
/// carries on with default values, so that the conversion reads as a plain
/// list of fields.
class MetadataReader {
public:
  BundleMetadata read(const Json &root);
  const std::string &getError() const { return error; }

private:
  /// A value in the metadata and its name in messages ("args[1].shape");
  /// the value is null when it is missing (the error is already recorded).
  struct Field {
    const Json *value;
    std::string path;
  };

  void fail(const std::string &message) {
    if (error.empty())
      error = message;
  }
  void failType(const Field &field, const std::string &expected) {
    fail("metadata field '" + field.path + "' must be " + expected);
  }

  Field member(const Json &object, const char *key,
               const std::string &objectPath = "");
  std::string readString(const Field &field);
  std::optional<int64_t> readInt64(const Field &field);
  unsigned readUnsigned(const Field &field);
  Dim3 readDim3(const Field &field);
  std::optional<double> readNumber(const Field &field);
  /// An object of values that `readValue` reads; `values` names them in the
  /// error for anything else ("integers").
  template <typename T>
  std::map<std::string, T>
  readMap(const Field &field, const char *values,
          std::optional<T> (MetadataReader::*readValue)(const Field &));
  std::vector<int64_t> readShape(const Field &field);
  template <typename Enum, size_t N>
  Enum readEnum(const Field &field, const Spelling<Enum> (&spellings)[N]);
  std::vector<KernelArg> readArgs(const Field &field);

  std::string error;
};

MetadataReader::Field MetadataReader::member(const Json &object,
                                             const char *key,
                                             const std::string &objectPath) {
  Field field{nullptr, objectPath.empty() ? key : objectPath + "." + key};
  if (!object.is_object()) {
    if (objectPath.empty())
      fail("metadata must be a JSON object");
    else
      failType({&object, objectPath}, "an object");
    return field;
  }
  auto it = object.find(key);
  if (it == object.end())
    fail("metadata has no field '" + field.path + "'");
  else
    field.value = &*it;
  return field;
}

std::string MetadataReader::readString(const Field &field) {
  if (!field.value)
    return {};
  if (!field.value->is_string()) {
    failType(field, "a string");
    return {};
  }
  return field.value->get_ref<const std::string &>();
}

std::optional<int64_t> MetadataReader::readInt64(const Field &field) {
  if (!field.value)
    return std::nullopt;
  if (field.value->is_number_unsigned() &&
      field.value->get<uint64_t>() <=
          uint64_t(std::numeric_limits<int64_t>::max()))
    return int64_t(field.value->get<uint64_t>());
  if (field.value->is_number_integer() && !field.value->is_number_unsigned())
    return field.value->get<int64_t>();
  failType(field, "a 64-bit integer");
  return std::nullopt;
}

unsigned MetadataReader::readUnsigned(const Field &field) {
  std::optional<int64_t> value = readInt64(field);
  if (!value)
    return 0;
  if (*value < 0 || *value > std::numeric_limits<unsigned>::max()) {
    failType(field, "an integer in [0, 2^32 - 1]");
    return 0;
  }
  return unsigned(*value);
}

Dim3 MetadataReader::readDim3(const Field &field) {
  if (!field.value)
    return {};
  if (!field.value->is_array() || field.value->size() != 3) {
    failType(field, "an array of 3 integers");
    return {};
  }
  unsigned dims[3];
  for (size_t i = 0; i < 3; ++i)
    dims[i] = readUnsigned(
        {&(*field.value)[i], field.path + "[" + std::to_string(i) + "]"});
  return {dims[0], dims[1], dims[2]};
}

std::optional<double> MetadataReader::readNumber(const Field &field) {
  if (!field.value)
    return std::nullopt;
  if (field.value->is_number())
    return field.value->get<double>();
  failType(field, "a number");
  return std::nullopt;
}

template <typename T>
std::map<std::string, T> MetadataReader::readMap(
    const Field &field, const char *values,
    std::optional<T> (MetadataReader::*readValue)(const Field &)) {
  std::map<std::string, T> map;
  if (!field.value)
    return map;
  if (!field.value->is_object()) {
    failType(field, std::string("an object of ") + values);
    return map;
  }
  for (const auto &[key, value] : field.value->items())
    if (std::optional<T> read =
            (this->*readValue)({&value, field.path + "." + key}))
      map[key] = *read;
  return map;
}

std::vector<int64_t> MetadataReader::readShape(const Field &field) {
  std::vector<int64_t> shape;
  if (!field.value)
    return shape;
  if (!field.value->is_array()) {
    failType(field, "an array of integers");
    return shape;
  }
  for (size_t i = 0; i < field.value->size(); ++i)
    shape.push_back(readInt64({&(*field.value)[i],
                               field.path + "[" + std::to_string(i) + "]"})
                        .value_or(0));
  return shape;
}

template <typename Enum, size_t N>
Enum MetadataReader::readEnum(const Field &field,
                              const Spelling<Enum> (&spellings)[N]) {
  std::string text = readString(field);
  for (const Spelling<Enum> &spelling : spellings)
    if (text == spelling.name)
      return spelling.value;
  if (field.value && field.value->is_string()) {
    std::string expected = "one of ";
    for (const Spelling<Enum> &spelling : spellings)
      expected += std::string(spelling.name) + ", ";
    failType(field, expected + "not " + quote(text));
  }
  return spellings[0].value;
}

std::vector<KernelArg> MetadataReader::readArgs(const Field &field) {
  std::vector<KernelArg> args;
  if (!field.value)
    return args;
  if (!field.value->is_array()) {
    failType(field, "an array of objects");
    return args;
  }
  for (size_t i = 0; i < field.value->size(); ++i) {
    const Json &entry = (*field.value)[i];
    std::string path = field.path + "[" + std::to_string(i) + "]";
    KernelArg arg;
    arg.name = readString(member(entry, "name", path));
    arg.kind = readEnum(member(entry, "kind", path), kArgKinds);
    if (arg.kind == ArgKind::Pointer) {
      arg.elementType =
          readEnum(member(entry, "element_type", path), kScalarTypes);
      arg.shape = readShape(member(entry, "shape", path));
    } else {
      for (const char *pointerOnly : {"element_type", "shape"})
        if (entry.contains(pointerOnly))
          fail("metadata field '" + path + "." + pointerOnly +
               "' is only allowed for pointers");
    }
    args.push_back(std::move(arg));
  }
  return args;
}

BundleMetadata MetadataReader::read(const Json &root) {
  BundleMetadata metadata;
  metadata.kernelName = readString(member(root, "kernel"));
  metadata.target = readString(member(root, "target"));
  metadata.dtype = readEnum(member(root, "dtype"), kScalarTypes);
  metadata.launch.grid = readDim3(member(root, "grid"));
  metadata.launch.block = readDim3(member(root, "block"));
  metadata.launch.dynamicSharedMemory =
      readUnsigned(member(root, "dynamic_shared_memory"));
  metadata.problem =
      readMap(member(root, "problem"), "integers", &MetadataReader::readInt64);
  metadata.args = readArgs(member(root, "args"));
  metadata.options =
      readMap(member(root, "options"), "integers", &MetadataReader::readInt64);
  if (root.contains("semantics"))
    metadata.semantics = readMap(member(root, "semantics"), "numbers",
                                 &MetadataReader::readNumber);
  Field compiler = member(root, "compiler");
  if (compiler.value) {
    metadata.compilerName =
        readString(member(*compiler.value, "name", compiler.path));
    metadata.compilerVersion =
        readString(member(*compiler.value, "version", compiler.path));
  }
  metadata.created = readString(member(root, "created"));
  return metadata;
}

//===----------------------------------------------------------------------===//
// Files
//===----------------------------------------------------------------------===//

/// Writes all of `bytes` to `fd`; returns 0 or the errno of the failure.
int writeAll(int fd, std::string_view bytes) {
  while (!bytes.empty()) {
    ssize_t written = ::write(fd, bytes.data(), bytes.size());
    if (written < 0) {
      if (errno == EINTR)
        continue;
      return errno;
    }
    bytes.remove_prefix(size_t(written));
  }
  return 0;
}

} // namespace

Result<std::string> serializeBundle(const Bundle &bundle) {
  if (Status status = verifyBundle(bundle); !status.ok())
    return Status::error("invalid bundle: " + status.getMessage());
  // Strict UTF-8 handling cannot fail: verifyBundle allows ASCII only.
  std::string metadata = toJson(bundle.metadata).dump(2);
  std::string bytes(kMagic);
  appendLittleEndian(bytes, kBundleFormatVersion, 4);
  appendLittleEndian(bytes, metadata.size(), 8);
  bytes += metadata;
  appendLittleEndian(bytes, bundle.cubin.size(), 8);
  bytes.append(reinterpret_cast<const char *>(bundle.cubin.data()),
               bundle.cubin.size());
  appendLittleEndian(bytes, hashFnv1a64(bytes), 8);
  return bytes;
}

Result<Bundle> parseBundle(std::string_view bytes,
                           const std::string &nameForErrors) {
  auto fail = [&](const std::string &message) {
    return Status::error(nameForErrors + ": " + message);
  };
  auto truncated = [&](const char *field) {
    return fail("truncated or corrupt: the file (" +
                std::to_string(bytes.size()) + " bytes) ends inside the " +
                field);
  };

  // The magic first, so that any other file is called what it is.
  std::string_view start = bytes.substr(0, kMagic.size());
  if (start != kMagic.substr(0, start.size()))
    return fail("not a kernel bundle (it does not start with \"ATTNBNDL\")");
  FieldReader reader(bytes);
  std::optional<std::string_view> magic = reader.take(kMagic.size());
  std::optional<std::string_view> version = reader.take(4);
  std::optional<std::string_view> metadataSize = reader.take(8);
  if (!magic || !version || !metadataSize)
    return truncated("header");
  uint64_t formatVersion = readLittleEndian(*version);
  if (formatVersion > kBundleFormatVersion)
    return fail("bundle format version " + std::to_string(formatVersion) +
                " is newer than this runtime reads (" +
                std::to_string(kBundleFormatVersion) +
                "): update the runtime to the compiler's version");
  if (formatVersion == 0)
    return fail("invalid bundle format version 0");

  std::optional<std::string_view> metadata =
      reader.take(readLittleEndian(*metadataSize));
  if (!metadata)
    return truncated("metadata");
  std::optional<std::string_view> cubinSize = reader.take(8);
  if (!cubinSize)
    return truncated("cubin length");
  std::optional<std::string_view> cubin =
      reader.take(readLittleEndian(*cubinSize));
  if (!cubin)
    return truncated("cubin");
  size_t hashedSize = reader.getOffset();
  std::optional<std::string_view> checksum = reader.take(8);
  if (!checksum)
    return truncated("checksum");
  if (reader.getOffset() != bytes.size())
    return fail(
        "corrupt: " + std::to_string(bytes.size() - reader.getOffset()) +
        " unexpected bytes after the checksum");
  uint64_t stored = readLittleEndian(*checksum);
  uint64_t computed = hashFnv1a64(bytes.substr(0, hashedSize));
  if (stored != computed) {
    char hashes[64];
    std::snprintf(hashes, sizeof(hashes),
                  "stored 0x%016llx, computed 0x%016llx",
                  static_cast<unsigned long long>(stored),
                  static_cast<unsigned long long>(computed));
    return fail(std::string("checksum mismatch (") + hashes +
                "): the file is corrupt");
  }

  Json root = Json::parse(metadata->begin(), metadata->end(), nullptr,
                          /*allow_exceptions=*/false);
  if (root.is_discarded())
    return fail("metadata is not valid JSON: " +
                describeSyntaxError(*metadata));
  MetadataReader metadataReader;
  Bundle bundle;
  bundle.metadata = metadataReader.read(root);
  if (!metadataReader.getError().empty())
    return fail(metadataReader.getError());
  bundle.cubin.assign(cubin->begin(), cubin->end());
  if (Status status = verifyBundle(bundle); !status.ok())
    return fail(status.getMessage());
  return bundle;
}

Result<Bundle> readBundle(const std::string &path) {
  auto fail = [&](int error) {
    return Status::error("cannot read " + path + ": " + std::strerror(error));
  };
  int fd = ::open(path.c_str(), O_RDONLY | O_CLOEXEC);
  if (fd < 0)
    return fail(errno);
  std::string bytes;
  char buffer[1 << 16];
  int error = 0;
  for (;;) {
    ssize_t count = ::read(fd, buffer, sizeof(buffer));
    if (count < 0 && errno == EINTR)
      continue;
    if (count < 0)
      error = errno;
    if (count <= 0)
      break;
    bytes.append(buffer, size_t(count));
  }
  ::close(fd);
  if (error)
    return fail(error);
  return parseBundle(bytes, path);
}

Status writeBundle(const std::string &path, const Bundle &bundle) {
  Result<std::string> bytes = serializeBundle(bundle);
  if (!bytes.ok())
    return Status::error("cannot write " + path + ": " + bytes.getMessage());

  std::string temporary = path + ".tmp." + std::to_string(::getpid());
  auto fail = [&](const std::string &step, int error) {
    ::unlink(temporary.c_str());
    return Status::error("cannot write " + path + ": " + step +
                         std::strerror(error));
  };
  int fd =
      ::open(temporary.c_str(), O_WRONLY | O_CREAT | O_TRUNC | O_CLOEXEC, 0666);
  if (fd < 0)
    return fail("", errno);
  // fsync before the rename: otherwise a crash can leave `path` naming a
  // file whose data never reached the disk.
  int error = writeAll(fd, *bytes);
  if (!error && ::fsync(fd) != 0)
    error = errno;
  if (::close(fd) != 0 && !error)
    error = errno;
  if (error)
    return fail("", error);
  if (::rename(temporary.c_str(), path.c_str()) != 0) {
    error = errno;
    return fail("rename from " + temporary + ": ", error);
  }
  return Status();
}

Result<LoadedBundle> LoadedBundle::load(const Driver &driver, int ordinal,
                                        const Bundle &bundle) {
  Result<Context> context = Context::create(driver, ordinal);
  if (!context.ok())
    return context.getStatus();
  Result<Module> module =
      Module::load(*context, bundle.cubin, bundle.metadata.target);
  if (!module.ok())
    return module.getStatus();
  Result<Kernel> kernel = module->getKernel(bundle.metadata.kernelName);
  if (!kernel.ok())
    return kernel.getStatus();
  return LoadedBundle{std::move(*context), std::move(*module),
                      std::move(*kernel)};
}

} // namespace attn::rt
