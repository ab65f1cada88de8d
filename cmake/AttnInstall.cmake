# `cmake --install` rules and the CMake package (find_package(Attn)).
#
# Included from the top-level CMakeLists.txt after every target is defined.
# The libraries are built with add_mlir_library / add_llvm_library, whose own
# install rules put them into LLVM's and MLIR's export sets; those rules are
# switched off (DISABLE_INSTALL / BUILDTREE_ONLY) and the libraries are
# installed here instead, into two export sets of our own:
#
#   AttnRuntimeTargets  Attn::Runtime (+ attn-bundle-info, attn-bundle-run):
#                       the MLIR-free GPU runtime; needs nothing but libc/libdl.
#   AttnTargets         Attn::C (C API), Attn::Compiler (C++ API), Attn::JIT,
#                       Attn::Pipelines, Attn::Transforms, Attn::Dialect,
#                       Attn::Reference, Attn::Support, Attn::CudaTarget and
#                       Attn::GpuJIT (when built) and the tools; they link
#                       MLIR's and LLVM's exported targets (libMLIR.so,
#                       libLLVM.so, libMLIRExecutionEngineShared.so), which
#                       AttnConfig.cmake finds again with find_dependency.
#
# Layout under the prefix:
#   include/attn/**, include/attn-rt/**,  public headers, generated *.h.inc
#   include/attn-c/**
#   lib/libAttn*.a                        static libraries
#   lib/cmake/Attn/                       AttnConfig.cmake, version, targets
#   bin/                                  attn-opt, attn-run, attn-bundle-info,
#                                         attn-bundle-run, attn-bench-cpu

include(CMakePackageConfigHelpers)

set(ATTN_INSTALL_INCLUDEDIR include)
set(ATTN_INSTALL_LIBDIR lib${LLVM_LIBDIR_SUFFIX})
set(ATTN_INSTALL_BINDIR bin)
set(ATTN_INSTALL_CMAKEDIR ${ATTN_INSTALL_LIBDIR}/cmake/Attn)

# Library target -> exported name (Attn::<name>). The same names are
# available inside this build as ALIAS targets, so that code written against
# the package also builds as part of this project.
set(ATTN_COMPILER_LIBRARIES
  AttnSupport AttnReference AttnDialect AttnTransforms AttnPipelines AttnJIT
  AttnCompiler AttnC)
if(TARGET AttnCudaTarget)
  list(APPEND ATTN_COMPILER_LIBRARIES AttnCudaTarget AttnGpuJIT)
endif()
foreach(lib ${ATTN_COMPILER_LIBRARIES} AttnRuntime)
  string(REGEX REPLACE "^Attn" "" export_name ${lib})
  set_target_properties(${lib} PROPERTIES EXPORT_NAME ${export_name})
  add_library(Attn::${export_name} ALIAS ${lib})
endforeach()

# --- Libraries ---------------------------------------------------------------

install(TARGETS AttnRuntime
  EXPORT AttnRuntimeTargets
  ARCHIVE DESTINATION ${ATTN_INSTALL_LIBDIR} COMPONENT attn
  LIBRARY DESTINATION ${ATTN_INSTALL_LIBDIR} COMPONENT attn
  RUNTIME DESTINATION ${ATTN_INSTALL_BINDIR} COMPONENT attn
  INCLUDES DESTINATION ${ATTN_INSTALL_INCLUDEDIR})

install(TARGETS ${ATTN_COMPILER_LIBRARIES}
  EXPORT AttnTargets
  ARCHIVE DESTINATION ${ATTN_INSTALL_LIBDIR} COMPONENT attn
  LIBRARY DESTINATION ${ATTN_INSTALL_LIBDIR} COMPONENT attn
  RUNTIME DESTINATION ${ATTN_INSTALL_BINDIR} COMPONENT attn
  INCLUDES DESTINATION ${ATTN_INSTALL_INCLUDEDIR})

# --- Tools -------------------------------------------------------------------

# LLVM gives its executables the install RPATH $ORIGIN/../lib only; libMLIR.so
# lives in the LLVM we built against (not in a default search directory on
# Debian), so the installed tools also search there.
set(ATTN_LLVM_TOOLS attn-opt attn-run)
foreach(optional attn-bench-cpu attn-compile)
  if(TARGET ${optional})
    list(APPEND ATTN_LLVM_TOOLS ${optional})
  endif()
endforeach()
foreach(tool ${ATTN_LLVM_TOOLS})
  set_property(TARGET ${tool} APPEND PROPERTY INSTALL_RPATH "${LLVM_LIBRARY_DIR}")
endforeach()
install(TARGETS ${ATTN_LLVM_TOOLS}
  EXPORT AttnTargets
  RUNTIME DESTINATION ${ATTN_INSTALL_BINDIR} COMPONENT attn)
install(TARGETS attn-bundle-info attn-bundle-run
  EXPORT AttnRuntimeTargets
  RUNTIME DESTINATION ${ATTN_INSTALL_BINDIR} COMPONENT attn)

# --- Headers -----------------------------------------------------------------

set(ATTN_HEADER_EXCLUDES)
if(NOT TARGET AttnCudaTarget)
  list(APPEND ATTN_HEADER_EXCLUDES PATTERN "Target" EXCLUDE)
endif()
install(DIRECTORY ${PROJECT_SOURCE_DIR}/include/attn
  DESTINATION ${ATTN_INSTALL_INCLUDEDIR} COMPONENT attn
  FILES_MATCHING PATTERN "*.h" ${ATTN_HEADER_EXCLUDES})
# TableGen output the headers include (AttnOps.h.inc, Passes.h.inc, ...).
install(DIRECTORY ${PROJECT_BINARY_DIR}/include/attn
  DESTINATION ${ATTN_INSTALL_INCLUDEDIR} COMPONENT attn
  FILES_MATCHING PATTERN "*.h.inc"
  PATTERN "CMakeFiles" EXCLUDE)
install(DIRECTORY ${PROJECT_SOURCE_DIR}/runtime/include/attn-rt
  DESTINATION ${ATTN_INSTALL_INCLUDEDIR} COMPONENT attn
  FILES_MATCHING PATTERN "*.h")
install(DIRECTORY ${PROJECT_SOURCE_DIR}/include/attn-c
  DESTINATION ${ATTN_INSTALL_INCLUDEDIR} COMPONENT attn
  FILES_MATCHING PATTERN "*.h")

# --- Package -----------------------------------------------------------------

install(EXPORT AttnRuntimeTargets
  NAMESPACE Attn::
  DESTINATION ${ATTN_INSTALL_CMAKEDIR} COMPONENT attn)
install(EXPORT AttnTargets
  NAMESPACE Attn::
  DESTINATION ${ATTN_INSTALL_CMAKEDIR} COMPONENT attn)

# Substituted into AttnConfig.cmake: where MLIR was found (a hint for
# find_dependency), the LLVM version the libraries were compiled against,
# the OpenMP runtime the JIT loads (an absolute path into that LLVM, compiled
# into libAttnJIT.a) and whether the CUDA target is part of the package.
set(ATTN_BUILD_LLVM_VERSION ${LLVM_PACKAGE_VERSION})
set(ATTN_BUILD_LLVM_VERSION_MAJOR ${LLVM_VERSION_MAJOR})
if(TARGET AttnCudaTarget)
  set(ATTN_PACKAGE_HAS_CUDA_TARGET ON)
else()
  set(ATTN_PACKAGE_HAS_CUDA_TARGET OFF)
endif()
configure_package_config_file(
  ${CMAKE_CURRENT_LIST_DIR}/AttnConfig.cmake.in
  ${PROJECT_BINARY_DIR}/cmake/AttnConfig.cmake
  INSTALL_DESTINATION ${ATTN_INSTALL_CMAKEDIR}
  PATH_VARS ATTN_INSTALL_INCLUDEDIR ATTN_INSTALL_BINDIR)
# 0.x: a minor version may break the API.
write_basic_package_version_file(
  ${PROJECT_BINARY_DIR}/cmake/AttnConfigVersion.cmake
  VERSION ${PROJECT_VERSION}
  COMPATIBILITY SameMinorVersion)
install(FILES
  ${PROJECT_BINARY_DIR}/cmake/AttnConfig.cmake
  ${PROJECT_BINARY_DIR}/cmake/AttnConfigVersion.cmake
  DESTINATION ${ATTN_INSTALL_CMAKEDIR} COMPONENT attn)
