//===- BundleTest.cpp - Tests for reading and writing kernel bundles ------===//
//
// The file layout is re-implemented here from its description in Bundle.h
// (framing and FNV-1a), so the tests pin the format itself, and can build
// files the writer never would: a newer version, missing fields, wrong types.
//
//===----------------------------------------------------------------------===//

#include "attn-rt/Bundle.h"

#include "TestBundles.h"

#include "gtest/gtest.h"

#include <nlohmann/json.hpp>

#include <cmath>
#include <fstream>
#include <functional>
#include <sys/stat.h>

using namespace attn::rt;
using attn::rt::test::makeTestBundle;
using attn::rt::test::TempDir;
using Json = nlohmann::ordered_json;

namespace {

uint64_t fnv1a64(std::string_view bytes) {
  uint64_t hash = 14695981039346656037ull;
  for (unsigned char byte : bytes)
    hash = (hash ^ byte) * 1099511628211ull;
  return hash;
}

std::string littleEndian(uint64_t value, int size) {
  std::string bytes;
  for (int i = 0; i < size; ++i)
    bytes += static_cast<char>(value >> (8 * i));
  return bytes;
}

/// A bundle file with the given parts, framed as Bundle.h describes.
std::string frame(std::string_view metadata, std::string_view cubin,
                  uint32_t version = 1) {
  std::string bytes = "ATTNBNDL" + littleEndian(version, 4) +
                      littleEndian(metadata.size(), 8) + std::string(metadata) +
                      littleEndian(cubin.size(), 8) + std::string(cubin);
  return bytes + littleEndian(fnv1a64(bytes), 8);
}

std::string serialize(const Bundle &bundle) {
  Result<std::string> bytes = serializeBundle(bundle);
  EXPECT_TRUE(bytes.ok()) << bytes.getMessage();
  return bytes.ok() ? *bytes : std::string();
}

/// The test bundle's metadata as JSON, the way the writer emits it.
Json testMetadata() {
  std::string bytes = serialize(makeTestBundle());
  uint64_t size = 0;
  for (int i = 7; i >= 0; --i)
    size = size << 8 | static_cast<unsigned char>(bytes[12 + i]);
  return Json::parse(bytes.substr(20, size));
}

std::string testCubin() {
  std::vector<uint8_t> cubin = makeTestBundle().cubin;
  return std::string(cubin.begin(), cubin.end());
}

/// Expects `result` to be an error: one line, starting with `name`,
/// containing `expected`.
template <typename T>
void expectError(const Result<T> &result, const std::string &expected,
                 const std::string &name = "k.attnb") {
  ASSERT_FALSE(result.ok()) << "expected an error containing: " << expected;
  const std::string &message = result.getMessage();
  EXPECT_NE(message.find(expected), std::string::npos) << message;
  EXPECT_EQ(message.rfind(name + ": ", 0), 0u) << message;
  EXPECT_EQ(message.find('\n'), std::string::npos) << message;
}

void expectSameBundle(const Bundle &a, const Bundle &b) {
  const BundleMetadata &x = a.metadata, &y = b.metadata;
  EXPECT_EQ(x.kernelName, y.kernelName);
  EXPECT_EQ(x.target, y.target);
  EXPECT_EQ(x.dtype, y.dtype);
  EXPECT_EQ(toString(x.launch.grid), toString(y.launch.grid));
  EXPECT_EQ(toString(x.launch.block), toString(y.launch.block));
  EXPECT_EQ(x.launch.dynamicSharedMemory, y.launch.dynamicSharedMemory);
  EXPECT_EQ(x.problem, y.problem);
  ASSERT_EQ(x.args.size(), y.args.size());
  for (size_t i = 0; i < x.args.size(); ++i) {
    EXPECT_EQ(x.args[i].name, y.args[i].name);
    EXPECT_EQ(x.args[i].kind, y.args[i].kind);
    if (x.args[i].kind == ArgKind::Pointer) {
      EXPECT_EQ(x.args[i].elementType, y.args[i].elementType);
    }
    EXPECT_EQ(x.args[i].shape, y.args[i].shape);
  }
  EXPECT_EQ(x.options, y.options);
  EXPECT_EQ(x.semantics, y.semantics);
  EXPECT_EQ(x.compilerName, y.compilerName);
  EXPECT_EQ(x.compilerVersion, y.compilerVersion);
  EXPECT_EQ(x.created, y.created);
  EXPECT_EQ(a.cubin, b.cubin);
}

//===----------------------------------------------------------------------===//
// The format
//===----------------------------------------------------------------------===//

TEST(BundleFormatTest, ChecksumIsFnv1a64) {
  // Known answers of FNV-1a 64.
  EXPECT_EQ(fnv1a64(""), 0xcbf29ce484222325ull);
  EXPECT_EQ(fnv1a64("a"), 0xaf63dc4c8601ec8cull);
  EXPECT_EQ(fnv1a64("foobar"), 0x85944171f73967e8ull);
}

TEST(BundleFormatTest, WriterFollowsTheDocumentedLayout) {
  std::string bytes = serialize(makeTestBundle());
  Json metadata = testMetadata();
  EXPECT_EQ(bytes, frame(metadata.dump(2), testCubin()));
  EXPECT_EQ(metadata["kernel"], "attn_fwd");
  EXPECT_EQ(metadata["grid"], Json::array({8, 16, 2}));
  EXPECT_EQ(metadata["dynamic_shared_memory"], 49152);
  EXPECT_EQ(metadata["args"][0]["element_type"], "f16");
  EXPECT_EQ(metadata["args"][4]["shape"], Json::array({2, 16, 1024}));
  EXPECT_FALSE(metadata["args"][5].contains("shape")) << "a scalar argument";
  EXPECT_EQ(metadata["compiler"]["name"], "attn");
}

TEST(BundleFormatTest, RoundTripsThroughBytes) {
  Bundle bundle = makeTestBundle();
  Result<Bundle> parsed = parseBundle(serialize(bundle), "k.attnb");
  ASSERT_TRUE(parsed.ok()) << parsed.getMessage();
  expectSameBundle(bundle, *parsed);
}

TEST(BundleFormatTest, RoundTripsEmptyMapsAndArgumentLists) {
  Bundle bundle = makeTestBundle();
  bundle.metadata.problem.clear();
  bundle.metadata.options.clear();
  bundle.metadata.semantics.clear();
  bundle.metadata.args.clear();
  Result<Bundle> parsed = parseBundle(serialize(bundle), "k.attnb");
  ASSERT_TRUE(parsed.ok()) << parsed.getMessage();
  expectSameBundle(bundle, *parsed);
}

TEST(BundleFormatTest, SemanticsAreOptional) {
  Json metadata = testMetadata();
  EXPECT_EQ(metadata["semantics"]["scale"], 0.08838834764831845);
  metadata.erase("semantics");
  Result<Bundle> parsed =
      parseBundle(frame(metadata.dump(), testCubin()), "k.attnb");
  ASSERT_TRUE(parsed.ok()) << parsed.getMessage();
  EXPECT_TRUE(parsed->metadata.semantics.empty());
}

TEST(BundleFormatTest, IgnoresUnknownFields) {
  Json metadata = testMetadata();
  metadata["registers_per_thread"] = 168;
  metadata["args"][0]["alignment"] = 16;
  EXPECT_TRUE(parseBundle(frame(metadata.dump(), testCubin()), "k.attnb").ok());
}

//===----------------------------------------------------------------------===//
// Corrupt files
//===----------------------------------------------------------------------===//

TEST(BundleCorruptionTest, TruncatedFiles) {
  std::string bytes = serialize(makeTestBundle());
  size_t metadataEnd = 20 + testMetadata().dump(2).size();
  size_t cubinEnd = metadataEnd + 8 + testCubin().size();
  for (size_t size :
       {size_t(0), size_t(1), size_t(7), size_t(8), size_t(11), size_t(12),
        size_t(19), size_t(20), metadataEnd / 2 + 10, metadataEnd - 1,
        metadataEnd, metadataEnd + 4, metadataEnd + 8, cubinEnd - 100, cubinEnd,
        cubinEnd + 7}) {
    SCOPED_TRACE("truncated to " + std::to_string(size) + " bytes");
    expectError(parseBundle(bytes.substr(0, size), "k.attnb"),
                "truncated or corrupt: the file (" + std::to_string(size) +
                    " bytes) ends inside the ");
  }
  expectError(parseBundle(bytes.substr(0, 19), "k.attnb"),
              "ends inside the header");
  expectError(parseBundle(bytes.substr(0, metadataEnd - 1), "k.attnb"),
              "ends inside the metadata");
  expectError(parseBundle(bytes.substr(0, metadataEnd + 4), "k.attnb"),
              "ends inside the cubin length");
  expectError(parseBundle(bytes.substr(0, cubinEnd - 100), "k.attnb"),
              "ends inside the cubin");
  expectError(parseBundle(bytes.substr(0, cubinEnd + 7), "k.attnb"),
              "ends inside the checksum");
}

TEST(BundleCorruptionTest, FlippedByteIsAChecksumMismatch) {
  std::string bytes = serialize(makeTestBundle());
  size_t metadataEnd = 20 + testMetadata().dump(2).size();
  // In the metadata, in the cubin, in the checksum.
  for (size_t offset : {size_t(40), metadataEnd + 8 + 100, bytes.size() - 3}) {
    SCOPED_TRACE("byte " + std::to_string(offset) + " flipped");
    std::string corrupt = bytes;
    corrupt[offset] ^= 0x10;
    expectError(parseBundle(corrupt, "k.attnb"),
                "checksum mismatch (stored 0x");
  }
}

TEST(BundleCorruptionTest, AnySingleFlipOrTruncationIsAnError) {
  // Exhaustive over the whole file: the reader never accepts, nor crashes on,
  // a damaged bundle.
  std::string bytes = serialize(makeTestBundle());
  for (size_t offset = 0; offset < bytes.size(); ++offset) {
    std::string corrupt = bytes;
    corrupt[offset] ^= 0x01;
    EXPECT_FALSE(parseBundle(corrupt, "k.attnb").ok()) << "flip at " << offset;
    EXPECT_FALSE(parseBundle(bytes.substr(0, offset), "k.attnb").ok())
        << "truncated to " << offset;
  }
}

TEST(BundleCorruptionTest, CorruptLengths) {
  std::string bytes = serialize(makeTestBundle());
  // A metadata length of 2^64 - 1 must not overflow the reader's offsets.
  std::string huge = bytes;
  for (int i = 12; i < 20; ++i)
    huge[i] = '\xff';
  expectError(parseBundle(huge, "k.attnb"), "ends inside the metadata");
  expectError(parseBundle(bytes + "x", "k.attnb"),
              "corrupt: 1 unexpected bytes after the checksum");
}

TEST(BundleCorruptionTest, BadMagic) {
  std::string bytes = serialize(makeTestBundle());
  bytes[7] = 'X';
  expectError(parseBundle(bytes, "k.attnb"),
              "not a kernel bundle (it does not start with \"ATTNBNDL\")");
  expectError(parseBundle("\177ELF\2\1\1", "k.attnb"), "not a kernel bundle");
  expectError(parseBundle("ATTNX", "k.attnb"), "not a kernel bundle");
}

TEST(BundleCorruptionTest, NewerAndInvalidVersions) {
  std::string metadata = testMetadata().dump();
  expectError(parseBundle(frame(metadata, testCubin(), 2), "k.attnb"),
              "bundle format version 2 is newer than this runtime reads (1): "
              "update the runtime");
  expectError(parseBundle(frame(metadata, testCubin(), 0), "k.attnb"),
              "invalid bundle format version 0");
}

TEST(BundleCorruptionTest, JsonGarbage) {
  for (const char *text :
       {"", "{", "{\"kernel\": ", "not json", "{\"kernel\": \"a\",}",
        "{\"kernel\": \"a\"} trailing", "\xff\xfe{}", "[[[[[[[[[[[[[[[[",
        "{\"kernel\": \"tab\there\"}", "{\"x\": 1e999}"}) {
    SCOPED_TRACE(text);
    expectError(parseBundle(frame(text, testCubin()), "k.attnb"),
                "k.attnb: metadata is not valid JSON: ");
  }
  // The parser's own description says where and what.
  expectError(parseBundle(frame("{\"kernel\": x}", testCubin()), "k.attnb"),
              "metadata is not valid JSON: parse error at line 1, column 12: "
              "syntax error while parsing value - invalid literal; last read: "
              "'\"kernel\": x'");
}

//===----------------------------------------------------------------------===//
// Metadata fields
//===----------------------------------------------------------------------===//

/// Parses the test bundle with its metadata changed by `edit`.
Result<Bundle> parseEdited(const std::function<void(Json &)> &edit) {
  Json metadata = testMetadata();
  edit(metadata);
  return parseBundle(frame(metadata.dump(), testCubin()), "k.attnb");
}

/// An edit of the metadata and the error it must cause.
struct EditCase {
  std::function<void(Json &)> edit;
  const char *expected;
};

void expectEditErrors(const std::vector<EditCase> &cases) {
  for (const auto &[edit, expected] : cases) {
    SCOPED_TRACE(expected);
    expectError(parseEdited(edit), expected);
  }
}

TEST(BundleMetadataTest, MissingFields) {
  for (const char *field :
       {"kernel", "target", "dtype", "grid", "block", "dynamic_shared_memory",
        "problem", "args", "options", "compiler", "created"}) {
    SCOPED_TRACE(field);
    expectError(parseEdited([&](Json &m) { m.erase(field); }),
                std::string("metadata has no field '") + field + "'");
  }
  expectError(parseEdited([](Json &m) { m["compiler"].erase("version"); }),
              "metadata has no field 'compiler.version'");
  for (const char *field : {"name", "kind", "element_type", "shape"}) {
    SCOPED_TRACE(field);
    expectError(parseEdited([&](Json &m) { m["args"][2].erase(field); }),
                std::string("metadata has no field 'args[2].") + field + "'");
  }
}

TEST(BundleMetadataTest, WrongFieldTypes) {
  expectEditErrors({
      {[](Json &m) { m = Json::array(); }, "metadata must be a JSON object"},
      {[](Json &m) { m["kernel"] = 7; },
       "metadata field 'kernel' must be a string"},
      {[](Json &m) { m["created"] = nullptr; },
       "metadata field 'created' must be a string"},
      {[](Json &m) { m["dtype"] = "f8"; },
       "metadata field 'dtype' must be one of i8, i32, i64, f16, bf16, f32, "
       "f64, not \"f8\""},
      {[](Json &m) { m["grid"] = "8"; },
       "metadata field 'grid' must be an array of 3 integers"},
      {[](Json &m) {
         m["grid"] = Json::array({8, 16});
       },
       "metadata field 'grid' must be an array of 3 integers"},
      {[](Json &m) { m["grid"][1] = 1.5; },
       "metadata field 'grid[1]' must be a 64-bit integer"},
      {[](Json &m) { m["block"][0] = -1; },
       "metadata field 'block[0]' must be an integer in [0, 2^32 - 1]"},
      {[](Json &m) { m["dynamic_shared_memory"] = "48K"; },
       "metadata field 'dynamic_shared_memory' must be a 64-bit integer"},
      {[](Json &m) { m["dynamic_shared_memory"] = 1ll << 40; },
       "metadata field 'dynamic_shared_memory' must be an integer in [0, "
       "2^32 - 1]"},
      {[](Json &m) { m["problem"] = Json::array(); },
       "metadata field 'problem' must be an object of integers"},
      {[](Json &m) { m["problem"]["batch"] = true; },
       "metadata field 'problem.batch' must be a 64-bit integer"},
      {[](Json &m) { m["options"]["stages"] = 18446744073709551615ull; },
       "metadata field 'options.stages' must be a 64-bit integer"},
      {[](Json &m) { m["args"] = Json::object(); },
       "metadata field 'args' must be an array of objects"},
      {[](Json &m) { m["args"][0] = "q"; },
       "metadata field 'args[0]' must be an object"},
      {[](Json &m) { m["args"][1]["kind"] = "ptr"; },
       "metadata field 'args[1].kind' must be one of pointer, i32, i64, f32, "
       "not \"ptr\""},
      {[](Json &m) {
         m["args"][1]["shape"] = Json::array({2, "x"});
       },
       "metadata field 'args[1].shape[1]' must be a 64-bit integer"},
      {[](Json &m) { m["args"][5]["shape"] = Json::array(); },
       "metadata field 'args[5].shape' is only allowed for pointers"},
      {[](Json &m) { m["compiler"] = "attn"; },
       "metadata field 'compiler' must be an object"},
      {[](Json &m) { m["semantics"] = Json::array(); },
       "metadata field 'semantics' must be an object of numbers"},
      {[](Json &m) { m["semantics"]["causal"] = "bottom-right"; },
       "metadata field 'semantics.causal' must be a number"},
  });
}

TEST(BundleMetadataTest, InvalidValues) {
  expectEditErrors({
      {[](Json &m) { m["kernel"] = "2fast"; },
       "metadata field 'kernel' must be a C identifier, not \"2fast\""},
      {[](Json &m) { m["kernel"] = "a\nb"; },
       "metadata field 'kernel' must be a C identifier, not \"a\\nb\""},
      {[](Json &m) { m["target"] = "compute_80"; },
       "metadata field 'target' must name a chip like sm_80 or sm_90a"},
      {[](Json &m) { m["target"] = "sm_"; },
       "metadata field 'target' must name a chip"},
      {[](Json &m) { m["grid"][0] = 0x80000000u; },
       "metadata field 'grid' must be [x, y, z] with x <= 2^31 - 1 and "
       "y, z <= 65535, not [2147483648 x 16 x 2]"},
      {[](Json &m) { m["grid"][2] = 65536; }, "metadata field 'grid' must be"},
      {[](Json &m) {
         m["block"] = Json::array({1024, 2, 1});
       },
       "metadata field 'block' must be [x, y, z] with 1 <= x, y <= 1024, 1 <= "
       "z <= 64 and x * y * z <= 1024, not [1024 x 2 x 1]"},
      {[](Json &m) {
         m["block"] = Json::array({1, 1, 65});
       },
       "metadata field 'block' must be"},
      {[](Json &m) { m["problem"]["head dim"] = 64; },
       "metadata field 'problem' has the key \"head dim\", which is not a C "
       "identifier"},
      {[](Json &m) { m["semantics"]["soft cap"] = 30; },
       "metadata field 'semantics' has the key \"soft cap\", which is not a C "
       "identifier"},
      {[](Json &m) { m["args"][3]["name"] = "q"; },
       "metadata field 'args[3].name' repeats the argument name \"q\""},
      {[](Json &m) { m["args"][3]["name"] = ""; },
       "metadata field 'args[3].name' must be a C identifier, not \"\""},
      {[](Json &m) { m["args"][0]["shape"][2] = -1; },
       "metadata field 'args[0].shape' has the negative dimension -1"},
      {[](Json &m) { m["compiler"]["version"] = ""; },
       "metadata field 'compiler.version' must be non-empty printable ASCII"},
      {[](Json &m) { m["created"] = "2025-11-25\u00a0"; },
       "metadata field 'created' must be non-empty printable ASCII"},
  });
  expectError(parseBundle(frame(testMetadata().dump(), ""), "k.attnb"),
              "the cubin is empty");
}

TEST(BundleMetadataTest, WriterRejectsWhatTheReaderWould) {
  Bundle bundle = makeTestBundle();
  bundle.metadata.launch.block = {0, 1, 1};
  Result<std::string> bytes = serializeBundle(bundle);
  ASSERT_FALSE(bytes.ok());
  EXPECT_EQ(bytes.getMessage(),
            "invalid bundle: metadata field 'block' must be [x, y, z] with 1 "
            "<= x, y <= 1024, 1 <= z <= 64 and x * y * z <= 1024, not [0 x 1 "
            "x 1]");

  bundle = makeTestBundle();
  bundle.metadata.args[5].shape = {1};
  EXPECT_FALSE(serializeBundle(bundle).ok()) << "a scalar with a shape";
  bundle = makeTestBundle();
  bundle.cubin.clear();
  EXPECT_FALSE(serializeBundle(bundle).ok()) << "an empty cubin";
  bundle = makeTestBundle();
  bundle.metadata.semantics["scale"] = std::nan("");
  bytes = serializeBundle(bundle);
  ASSERT_FALSE(bytes.ok());
  EXPECT_EQ(bytes.getMessage(), "invalid bundle: metadata field "
                                "'semantics.scale' must be a finite number");
}

//===----------------------------------------------------------------------===//
// Files
//===----------------------------------------------------------------------===//

TEST(BundleFileTest, WritesAndReadsBack) {
  TempDir dir;
  std::string path = dir.file("k.attnb");
  Bundle bundle = makeTestBundle();
  Status written = writeBundle(path, bundle);
  ASSERT_TRUE(written.ok()) << written.getMessage();
  EXPECT_EQ(dir.list(), std::vector<std::string>{"k.attnb"})
      << "no temporary file is left behind";
  Result<Bundle> read = readBundle(path);
  ASSERT_TRUE(read.ok()) << read.getMessage();
  expectSameBundle(bundle, *read);

  // Overwriting replaces the file, again leaving nothing else.
  bundle.metadata.kernelName = "attn_fwd_v2";
  ASSERT_TRUE(writeBundle(path, bundle).ok());
  EXPECT_EQ(dir.list(), std::vector<std::string>{"k.attnb"});
  read = readBundle(path);
  ASSERT_TRUE(read.ok()) << read.getMessage();
  EXPECT_EQ(read->metadata.kernelName, "attn_fwd_v2");
}

TEST(BundleFileTest, WriteErrorsLeaveNothingBehind) {
  TempDir dir;
  std::string missingDir = dir.file("missing/k.attnb");
  Status status = writeBundle(missingDir, makeTestBundle());
  ASSERT_FALSE(status.ok());
  EXPECT_EQ(status.getMessage(),
            "cannot write " + missingDir + ": No such file or directory");

  std::ofstream(dir.file("file")) << "a regular file";
  status = writeBundle(dir.file("file/k.attnb"), makeTestBundle());
  ASSERT_FALSE(status.ok());
  EXPECT_NE(status.getMessage().find("Not a directory"), std::string::npos)
      << status.getMessage();

  // The temporary is written, but cannot replace a directory; it is removed.
  ASSERT_EQ(mkdir(dir.file("dir.attnb").c_str(), 0755), 0);
  status = writeBundle(dir.file("dir.attnb"), makeTestBundle());
  ASSERT_FALSE(status.ok());
  EXPECT_NE(status.getMessage().find("rename from " + dir.file("dir.attnb") +
                                     ".tmp."),
            std::string::npos)
      << status.getMessage();
  EXPECT_EQ(dir.list(), (std::vector<std::string>{"dir.attnb", "file"}));

  // An invalid bundle is not written at all.
  Bundle invalid = makeTestBundle();
  invalid.metadata.kernelName.clear();
  status = writeBundle(dir.file("invalid.attnb"), invalid);
  ASSERT_FALSE(status.ok());
  EXPECT_EQ(status.getMessage().rfind("cannot write " +
                                          dir.file("invalid.attnb") +
                                          ": invalid bundle: ",
                                      0),
            0u)
      << status.getMessage();
  EXPECT_EQ(dir.list(), (std::vector<std::string>{"dir.attnb", "file"}));
}

TEST(BundleFileTest, ReadErrors) {
  TempDir dir;
  Result<Bundle> missing = readBundle(dir.file("missing.attnb"));
  ASSERT_FALSE(missing.ok());
  EXPECT_EQ(missing.getMessage(), "cannot read " + dir.file("missing.attnb") +
                                      ": No such file or directory");
  Result<Bundle> directory = readBundle(dir.getPath());
  ASSERT_FALSE(directory.ok());
  EXPECT_EQ(directory.getMessage(),
            "cannot read " + dir.getPath() + ": Is a directory");

  std::ofstream(dir.file("text.attnb")) << "hello";
  expectError(readBundle(dir.file("text.attnb")), "not a kernel bundle",
              dir.file("text.attnb"));
}

} // namespace
