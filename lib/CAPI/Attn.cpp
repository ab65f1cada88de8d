//===- Attn.cpp - the C API over attn::Compiler ---------------------------===//
//
// A thin layer: C structs are translated into AttentionSpec / LaunchArgs,
// llvm::Errors into a status (from their std::errc) and a per-thread
// message. Nothing here validates what the C++ API validates.
//
//===----------------------------------------------------------------------===//

#include "attn-c/Attn.h"
#include "attn/JIT/Compiler.h"

#include <cmath>
#include <string>

struct attn_compiler {
  attn::Compiler compiler;
};

struct attn_kernel {
  std::shared_ptr<const attn::Kernel> kernel;
};

namespace {

thread_local std::string lastError;

attn_status fail(attn_status status, std::string message) {
  lastError = std::move(message);
  return status;
}

attn_status toStatus(llvm::Error error) {
  if (!error) {
    lastError.clear();
    return ATTN_STATUS_OK;
  }
  std::error_code code;
  std::string message;
  llvm::handleAllErrors(std::move(error), [&](const llvm::ErrorInfoBase &e) {
    if (!code)
      code = e.convertToErrorCode();
    message += (message.empty() ? "" : "; ") + e.message();
  });
  attn_status status = ATTN_STATUS_FAILED;
  if (code == std::errc::invalid_argument)
    status = ATTN_STATUS_INVALID_ARGUMENT;
  else if (code == std::errc::not_supported)
    status = ATTN_STATUS_UNSUPPORTED;
  return fail(status, std::move(message));
}

/// Rejects a null struct or one whose struct_size is not this library's
/// (uninitialized, or from a header of another version).
attn_status checkStruct(const void *object, size_t structSize, size_t expected,
                        const char *type, const char *init) {
  if (!object)
    return fail(ATTN_STATUS_INVALID_ARGUMENT,
                std::string(type) + " pointer is NULL");
  if (structSize != expected)
    return fail(ATTN_STATUS_INVALID_ARGUMENT,
                std::string(type) + ".struct_size is " +
                    std::to_string(structSize) + " but this library's is " +
                    std::to_string(expected) + ": initialize it with " + init +
                    "()");
  return ATTN_STATUS_OK;
}

llvm::Expected<attn::ElementType> toElementType(attn_dtype t,
                                                const char *field) {
  switch (t) {
  case ATTN_F32:
    return attn::ElementType::F32;
  case ATTN_F16:
    return attn::ElementType::F16;
  case ATTN_BF16:
    return attn::ElementType::BF16;
  }
  return llvm::createStringError(
      std::make_error_code(std::errc::invalid_argument),
      "attn_spec.%s is %d, not an attn_dtype", field, int(t));
}

llvm::Expected<attn::AttentionSpec> toSpec(const attn_spec &c) {
  attn::AttentionSpec s;
  llvm::Expected<attn::ElementType> dtype = toElementType(c.dtype, "dtype");
  if (!dtype)
    return dtype.takeError();
  llvm::Expected<attn::ElementType> bias =
      toElementType(c.bias_dtype, "bias_dtype");
  if (!bias)
    return bias.takeError();
  s.dtype = *dtype;
  s.biasType = *bias;
  if (c.mask < ATTN_MASK_NONE || c.mask > ATTN_MASK_BIAS ||
      c.causal < ATTN_CAUSAL_NONE || c.causal > ATTN_CAUSAL_BOTTOM_RIGHT)
    return llvm::createStringError(
        std::make_error_code(std::errc::invalid_argument),
        "attn_spec.mask (%d) or .causal (%d) is not one of its enum's values",
        int(c.mask), int(c.causal));
  s.numQueryHeads = c.num_query_heads;
  s.numKvHeads = c.num_kv_heads;
  s.headDim = c.head_dim;
  s.valueHeadDim = c.value_head_dim;
  s.batch = c.batch;
  s.querySeqLen = c.query_seq_len;
  s.keySeqLen = c.key_seq_len;
  s.mask = static_cast<attn::AttentionProblem::Mask>(c.mask);
  std::copy(c.mask_shape, c.mask_shape + 4, s.maskShape.begin());
  // 0 selects the default; any other value, NaN included, goes to the
  // verifier.
  if (c.scale != 0)
    s.scale = c.scale;
  s.causal = static_cast<attn::AttentionProblem::Causal>(c.causal);
  s.windowLeft = c.window_left;
  s.windowRight = c.window_right;
  if (c.softcap != 0)
    s.softcap = c.softcap;
  s.target = c.target ? c.target : "cpu";
  s.qTile = c.q_tile;
  s.kTile = c.k_tile;
  s.gpuTiles.blockM = c.gpu_block_m;
  s.gpuTiles.blockN = c.gpu_block_n;
  s.gpuTiles.stages = c.gpu_stages;
  s.gpuTiles.fastAssemble = c.gpu_fast_assemble != 0;
  return s;
}

attn::AttentionBuffers::Strides toStrides(const int64_t *strides) {
  if (!strides)
    return std::nullopt;
  return std::array<int64_t, 4>{strides[0], strides[1], strides[2], strides[3]};
}

} // namespace

// The enums are the C++ API's, value for value.
static_assert(int(attn::AttentionProblem::Mask::Keep) == ATTN_MASK_KEEP &&
              int(attn::AttentionProblem::Mask::Bias) == ATTN_MASK_BIAS);
static_assert(int(attn::AttentionProblem::Causal::TopLeft) ==
                  ATTN_CAUSAL_TOP_LEFT &&
              int(attn::AttentionProblem::Causal::BottomRight) ==
                  ATTN_CAUSAL_BOTTOM_RIGHT);

extern "C" {

void attn_spec_init(attn_spec *spec) {
  if (!spec)
    return;
  attn::AttentionSpec d;
  *spec = attn_spec{};
  spec->struct_size = sizeof(attn_spec);
  spec->dtype = ATTN_F32;
  spec->num_query_heads = d.numQueryHeads;
  spec->num_kv_heads = d.numKvHeads;
  spec->head_dim = d.headDim;
  spec->value_head_dim = d.valueHeadDim;
  spec->batch = d.batch;
  spec->query_seq_len = d.querySeqLen;
  spec->key_seq_len = d.keySeqLen;
  spec->mask = ATTN_MASK_NONE;
  std::copy(d.maskShape.begin(), d.maskShape.end(), spec->mask_shape);
  spec->bias_dtype = ATTN_F32;
  spec->causal = ATTN_CAUSAL_NONE;
  spec->window_left = d.windowLeft;
  spec->window_right = d.windowRight;
  spec->target = "cpu";
  spec->q_tile = d.qTile;
  spec->k_tile = d.kTile;
  spec->gpu_block_m = d.gpuTiles.blockM;
  spec->gpu_block_n = d.gpuTiles.blockN;
  spec->gpu_stages = d.gpuTiles.stages;
  spec->gpu_fast_assemble = d.gpuTiles.fastAssemble;
}

void attn_launch_args_init(attn_launch_args *args) {
  if (!args)
    return;
  *args = attn_launch_args{};
  args->struct_size = sizeof(attn_launch_args);
}

void attn_compiler_options_init(attn_compiler_options *options) {
  if (!options)
    return;
  *options = attn_compiler_options{};
  options->struct_size = sizeof(attn_compiler_options);
}

attn_status attn_compiler_create(const attn_compiler_options *options,
                                 attn_compiler **compiler) {
  if (!compiler)
    return fail(ATTN_STATUS_INVALID_ARGUMENT, "compiler out-pointer is NULL");
  attn::CompilerOptions o;
  if (options) {
    if (attn_status s = checkStruct(
            options, options->struct_size, sizeof(attn_compiler_options),
            "attn_compiler_options", "attn_compiler_options_init"))
      return s;
    o.numThreads = options->num_threads;
  }
  *compiler = new attn_compiler{attn::Compiler(o)};
  lastError.clear();
  return ATTN_STATUS_OK;
}

void attn_compiler_destroy(attn_compiler *compiler) { delete compiler; }

attn_status attn_compile(const attn_compiler *compiler, const attn_spec *spec,
                         attn_kernel **kernel) {
  if (!compiler || !kernel)
    return fail(ATTN_STATUS_INVALID_ARGUMENT,
                !compiler ? "compiler is NULL" : "kernel out-pointer is NULL");
  if (attn_status s =
          checkStruct(spec, spec ? spec->struct_size : 0, sizeof(attn_spec),
                      "attn_spec", "attn_spec_init"))
    return s;
  llvm::Expected<attn::AttentionSpec> converted = toSpec(*spec);
  if (!converted)
    return toStatus(converted.takeError());
  llvm::Expected<std::shared_ptr<const attn::Kernel>> compiled =
      compiler->compiler.compile(*converted);
  if (!compiled)
    return toStatus(compiled.takeError());
  *kernel = new attn_kernel{std::move(*compiled)};
  return toStatus(llvm::Error::success());
}

attn_status attn_kernel_launch(const attn_kernel *kernel,
                               const attn_launch_args *args) {
  if (!kernel)
    return fail(ATTN_STATUS_INVALID_ARGUMENT, "kernel is NULL");
  if (attn_status s = checkStruct(args, args ? args->struct_size : 0,
                                  sizeof(attn_launch_args), "attn_launch_args",
                                  "attn_launch_args_init"))
    return s;
  attn::LaunchArgs a;
  a.q = args->q, a.k = args->k, a.v = args->v, a.mask = args->mask;
  a.o = args->o, a.lse = args->lse;
  a.batch = args->batch;
  a.querySeqLen = args->query_seq_len;
  a.keySeqLen = args->key_seq_len;
  a.qStrides = toStrides(args->q_strides);
  a.kStrides = toStrides(args->k_strides);
  a.vStrides = toStrides(args->v_strides);
  a.oStrides = toStrides(args->o_strides);
  a.stream = args->stream;
  a.device = args->device;
  return toStatus(kernel->kernel->launch(a));
}

void attn_kernel_destroy(attn_kernel *kernel) { delete kernel; }

const char *attn_last_error_message(void) { return lastError.c_str(); }

const char *attn_status_name(attn_status status) {
  switch (status) {
  case ATTN_STATUS_OK:
    return "ok";
  case ATTN_STATUS_INVALID_ARGUMENT:
    return "invalid argument";
  case ATTN_STATUS_UNSUPPORTED:
    return "unsupported";
  case ATTN_STATUS_FAILED:
    return "failed";
  }
  return "unknown status";
}

} // extern "C"
