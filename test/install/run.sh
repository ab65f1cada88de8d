#!/usr/bin/env bash
# Installs an attn build into a temporary prefix and builds and runs
# test/install/consumer against it, as a project outside the tree would:
#
#   run.sh BUILD_DIR SOURCE_DIR [CMAKE [NINJA [CXX]]]
#
# Steps: cmake --install; check the installed layout; run an installed tool;
# configure the consumer with only -DAttn_DIR=<prefix>/lib/cmake/Attn (and
# the path of the C example it builds); build it; run jit_consumer (JIT on
# the CPU, checked against the fp64 reference), runtime_consumer
# (Attn::Runtime alone), compiler_consumer (the C++ embedding API) and
# c_consumer (the C API, examples/c/attention.c). Stops at the first failing
# step and names it. The temporary directory is always removed.
set -uo pipefail

if (($# < 2)); then
  echo "usage: $0 BUILD_DIR SOURCE_DIR [CMAKE [NINJA [CXX]]]" >&2
  exit 2
fi
build=$(cd "$1" && pwd) || exit 2
source=$(cd "$2" && pwd) || exit 2
cmake=${3:-cmake}
ninja=${4:-ninja}
cxx=${5:-c++}

tmp=$(mktemp -d "${TMPDIR:-/tmp}/attn-install-test.XXXXXX") || {
  echo "install test: FAILED: cannot create a temporary directory" >&2
  exit 1
}
trap 'rm -rf "$tmp"' EXIT
prefix=$tmp/prefix

step() {
  local name=$1
  shift
  echo "=== install test: $name"
  echo "+ $*"
  "$@"
  local status=$?
  if ((status != 0)); then
    echo "install test: FAILED at step '$name' (exit status $status)" >&2
    exit 1
  fi
}

check_layout() {
  local missing=0 path
  for path in \
    lib/cmake/Attn/AttnConfig.cmake \
    lib/cmake/Attn/AttnConfigVersion.cmake \
    lib/cmake/Attn/AttnTargets.cmake \
    lib/cmake/Attn/AttnRuntimeTargets.cmake \
    lib/libAttnJIT.a lib/libAttnPipelines.a lib/libAttnTransforms.a \
    lib/libAttnDialect.a lib/libAttnSupport.a lib/libAttnReference.a \
    lib/libAttnRuntime.a lib/libAttnCompiler.a lib/libAttnC.a \
    include/attn/JIT/CpuKernel.h include/attn/JIT/HostAttention.h \
    include/attn/JIT/Compiler.h include/attn-c/Attn.h \
    include/attn/Dialect/AttnOps.h.inc include/attn/Dialect/AttnDialect.h.inc \
    include/attn/Dialect/AttnEnums.h.inc include/attn/Dialect/AttnAttrs.h.inc \
    include/attn/Transforms/Passes.h.inc \
    include/attn-rt/Runtime.h include/attn-rt/Bundle.h include/attn-rt/Status.h \
    bin/attn-opt bin/attn-run bin/attn-bundle-info; do
    if [[ ! -e $prefix/$path ]]; then
      echo "missing from the install: $path" >&2
      missing=1
    fi
  done
  if find "$prefix" -name '*.cpp.inc' -o -name CMakeLists.txt | grep -q .; then
    echo "build-only files were installed:" >&2
    find "$prefix" -name '*.cpp.inc' -o -name CMakeLists.txt >&2
    missing=1
  fi
  return $missing
}

step "install ($build -> $prefix)" \
  "$cmake" --install "$build" --prefix "$prefix"
step "installed layout" check_layout
# The installed tools find libMLIR.so (install RPATH) without the build tree.
step "installed attn-opt" \
  "$prefix/bin/attn-opt" "$source/examples/gqa-causal-prefill.mlir" \
  -attn-tile -o "$tmp/tiled.mlir"
step "configure the consumer" \
  "$cmake" -G Ninja -S "$source/test/install/consumer" -B "$tmp/build" \
  -DCMAKE_MAKE_PROGRAM="$ninja" -DCMAKE_CXX_COMPILER="$cxx" \
  -DAttn_DIR="$prefix/lib/cmake/Attn" \
  -DATTN_C_EXAMPLE="$source/examples/c/attention.c"
step "build the consumer" "$cmake" --build "$tmp/build"
step "run jit_consumer" "$tmp/build/jit_consumer"
step "run runtime_consumer" "$tmp/build/runtime_consumer"
step "run compiler_consumer" "$tmp/build/compiler_consumer"
step "run c_consumer" "$tmp/build/c_consumer"
echo "install test: passed"
