# -*- Python -*-
# lit configuration of the attn regression tests (see test/CMakeLists.txt;
# the site configuration lit.site.cfg.py is generated in the build tree).

import os
import shutil
import subprocess

import lit.formats
from lit.llvm import llvm_config
from lit.llvm.subst import ToolSubst

config.name = "ATTN"
config.test_format = lit.formats.ShTest(not llvm_config.use_lit_shell)

# .mlir: FileCheck-style IR tests; .test: shell-style tests (e.g. attn-run).
config.suffixes = [".mlir", ".test"]

config.test_source_root = os.path.dirname(__file__)
config.test_exec_root = os.path.join(config.attn_obj_root, "test")

config.excludes = [
    "CMakeLists.txt",
    "lit.cfg.py",
    "lit.site.cfg.py",
    "lit.site.cfg.py.in",
    "README.md",
    "Inputs",
    "examples",
]

llvm_config.with_system_environment(["HOME", "INCLUDE", "LIB", "TMP", "TEMP"])
# The tools cache compiled kernels (KernelCache); tests keep theirs in the
# build tree rather than in the user's ~/.cache/attn. Tests of the cache
# itself set ATTN_CACHE_DIR to their own %t.
config.environment["ATTN_CACHE_DIR"] = os.path.join(
    config.attn_obj_root, "test", "kernel-cache"
)

# FileCheck, not and count from the LLVM tools dir.
llvm_config.use_default_substitutions()

# %python: the interpreter CMake found, not the one that happens to run lit.
config.substitutions = [s for s in config.substitutions if s[0] != "%python"]
config.substitutions.append(("%python", '"%s"' % config.python_executable))
config.substitutions.append(
    ("%examples", os.path.join(config.attn_src_root, "examples"))
)
# For scripts that take the tools' directory (scripts/gpu-pack.sh).
config.substitutions.append(("%attn_tools_dir", config.attn_tools_dir))

# The tools under test: the build's bin dir comes first, so that a stale
# attn-opt elsewhere on PATH is never picked up.
llvm_config.with_environment("PATH", config.llvm_tools_dir, append_path=True)
llvm_config.with_environment("PATH", config.attn_tools_dir, append_path=True)
tool_dirs = [config.attn_tools_dir]
tools = [
    ToolSubst("attn-opt", unresolved="fatal"),
    # attn-run needs the JIT; tests that use it fail clearly if it is absent.
    ToolSubst("attn-run", unresolved="ignore"),
    ToolSubst("attn-bundle-info", unresolved="ignore"),
    ToolSubst("attn-bundle-run", unresolved="ignore"),
    # Built only with the CUDA toolkit (nvJitLink): feature cuda-toolkit.
    ToolSubst("attn-compile", unresolved="ignore"),
]
llvm_config.add_tool_substitutions(tools, tool_dirs)

# Features.
# cpu-jit: the host CPU backend is always built.
config.available_features.add("cpu-jit")
# cuda-toolkit: the GPU compiler (PTX → cubin with nvJitLink) is built; no GPU
# is needed.
if os.path.exists(os.path.join(config.attn_tools_dir, "attn-compile")):
    config.available_features.add("cuda-toolkit")
# libdevice: the toolkit's libdevice, for tests that link it (%cuda_toolkit
# is the toolkit's root).
if os.path.exists(
    os.path.join(config.cuda_toolkit, "nvvm", "libdevice", "libdevice.10.bc")
):
    config.available_features.add("libdevice")
    config.substitutions.append(("%cuda_toolkit", config.cuda_toolkit))


# cuda: only with a visible NVIDIA GPU.
def _has_cuda_gpu():
    smi = shutil.which("nvidia-smi")
    if not smi:
        return False
    try:
        out = subprocess.run(
            [smi, "-L"],
            stdout=subprocess.PIPE,
            stderr=subprocess.DEVNULL,
            timeout=30,
            check=False,
        )
    except (OSError, subprocess.SubprocessError):
        return False
    return out.returncode == 0 and b"GPU " in out.stdout


if _has_cuda_gpu():
    config.available_features.add("cuda")
