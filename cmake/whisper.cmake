# whisper.cpp (the `whisper` engine), linked in process as static libraries.
#
# Where it comes from, first match wins:
#   1. -DPODFLEET_WHISPER_SOURCE=DIR: a whisper.cpp source tree (a git checkout, a release tarball);
#   2. an installed whisper.cpp (its CMake package `whisper`, e.g. Homebrew's or one built and
#      installed by hand), unless -DPODFLEET_WHISPER_SOURCE is given;
#   3. .deps/whisper.cpp, unpacked by scripts/setup from the npm package nodejs-whisper@0.3.1;
#   4. pkg-config's `whisper` (a distribution's package).
# With none of them the build goes on without the engine (a warning here; `--engine whisper`
# then says how to get it). -DPODFLEET_WHISPER=OFF leaves it out on purpose.
#
# A source tree is built for the machine that builds it (-march=native) but without AMX: on VMs
# that report AMX, ggml's AMX kernels die with SIGILL on q8_0 models (shared notes), and leaving
# them out keeps the AVX512 paths. -DPODFLEET_WHISPER_PORTABLE=ON (scripts/bundle) builds for other
# machines instead: ggml's backends become modules loaded at run time (GGML_BACKEND_DL, so ggml,
# whisper and parakeet are shared libraries, all written to the build's bin/), the CPU backend in
# every variant ggml knows for the architecture (GGML_CPU_ALL_VARIANTS; on x86-64: x64, sse42,
# sandybridge, ivybridge, piledriver, haswell, skylakex, cannonlake, cascadelake, icelake,
# cooperlake, zen4, alderlake and the AMX one, sapphirerapids, which scripts/bundle leaves out), of
# which the engines load the best this CPU runs (engines/ggml_device.h). It is always optimised
# (-O3, also in Debug and ASan builds) and never sanitized: it is third-party code, and an
# instrumented encoder is too slow to test with.
# Only the ggml and whisper libraries are built, no examples or tests.
#
# GPU: -DPODFLEET_WHISPER_CUDA=ON (toolkit found via CUDAToolkit, e.g. /usr/local/cuda; built for
# the visible GPU, or for -DCMAKE_CUDA_ARCHITECTURES where none is visible) and, on
# macOS, Metal (on by default there, as ggml does). Sets PODFLEET_HAVE_WHISPER and the target
# podfleet::whisper, and PODFLEET_HAVE_PARAKEET and podfleet::parakeet where the tree has Parakeet.
# A CUDA build defines PODFLEET_ENGINE_CUDA_RUNTIME (the toolkit's 1000 * major + 10 * minor),
# which the engines report so that the worker's driver preflight runs (worker/preflight.h).

option(PODFLEET_WHISPER "Build the whisper.cpp engine when its source or package is found" ON)
set(PODFLEET_WHISPER_SOURCE "" CACHE PATH "whisper.cpp source tree to build (default: .deps/whisper.cpp)")
option(PODFLEET_WHISPER_CUDA "Build whisper.cpp with CUDA" OFF)
option(PODFLEET_WHISPER_METAL "Build whisper.cpp with Metal (macOS)" ${APPLE})
# For other machines (scripts/bundle): every CPU variant as a module, chosen at run time.
option(PODFLEET_WHISPER_PORTABLE
       "Build whisper.cpp for other CPUs: ggml's backends as modules, every CPU variant" OFF)

set(PODFLEET_HAVE_WHISPER OFF)
set(PODFLEET_HAVE_PARAKEET OFF)

function(podfleet_build_whisper source)
  set(CMAKE_POLICY_DEFAULT_CMP0077 NEW)  # whisper.cpp's option()s take the values set here
  set(BUILD_SHARED_LIBS OFF)
  set(WHISPER_BUILD_TESTS OFF)
  set(WHISPER_BUILD_EXAMPLES OFF)
  set(WHISPER_BUILD_SERVER OFF)
  set(WHISPER_CURL OFF)
  set(WHISPER_SDL2 OFF)
  set(WHISPER_ALL_WARNINGS OFF)
  set(GGML_NATIVE ON)
  if(PODFLEET_WHISPER_PORTABLE)
    set(GGML_NATIVE OFF)
    set(BUILD_SHARED_LIBS ON)  # GGML_BACKEND_DL requires it
    set(GGML_BACKEND_DL ON)
    set(GGML_CPU_ALL_VARIANTS ON)
  endif()
  set(GGML_CUDA ${PODFLEET_WHISPER_CUDA})
  if(PODFLEET_WHISPER_CUDA AND NOT CMAKE_CUDA_COMPILER AND EXISTS /usr/local/cuda/bin/nvcc)
    set(CMAKE_CUDA_COMPILER /usr/local/cuda/bin/nvcc)  # the toolkit's usual home, often not on PATH
  endif()
  if(PODFLEET_WHISPER_CUDA AND NOT DEFINED CMAKE_CUDA_ARCHITECTURES)
    # ggml builds for the GPU it sees ("native"); without one, say which to build for.
    execute_process(COMMAND nvidia-smi -L RESULT_VARIABLE no_gpu OUTPUT_QUIET ERROR_QUIET)
    if(no_gpu)
      message(FATAL_ERROR "PODFLEET_WHISPER_CUDA: no GPU visible to build for; pass "
                          "-DCMAKE_CUDA_ARCHITECTURES, e.g. 90 (H100/H200), 89 (L4/L40S/RTX 4090), "
                          "86 (A10/A5000/RTX 3090), 80 (A100)")
    endif()
  endif()
  set(GGML_METAL ${PODFLEET_WHISPER_METAL})
  if(CCACHE_PROGRAM)
    set(CMAKE_C_COMPILER_LAUNCHER ${CCACHE_PROGRAM})
  endif()
  set(opt "-O3 -DNDEBUG")
  foreach(lang C CXX CUDA)  # CUDA too: nvcc's RelWithDebInfo default is -O2 -g
    foreach(config DEBUG RELEASE RELWITHDEBINFO MINSIZEREL)
      set(CMAKE_${lang}_FLAGS_${config} "${opt}")
    endforeach()
  endforeach()
  if(CMAKE_SYSTEM_PROCESSOR MATCHES "x86_64|AMD64|amd64" AND NOT MSVC)
    set(CMAKE_C_FLAGS "${CMAKE_C_FLAGS} -mno-amx-tile -mno-amx-int8 -mno-amx-bf16")
    set(CMAKE_CXX_FLAGS "${CMAKE_CXX_FLAGS} -mno-amx-tile -mno-amx-int8 -mno-amx-bf16")
  endif()
  add_subdirectory(${source} ${CMAKE_BINARY_DIR}/whisper.cpp EXCLUDE_FROM_ALL SYSTEM)
  if(TARGET ggml-cpu-sapphirerapids)
    # The AMX variant (the trap above; ggml builds it with -mamx-*, whatever the flags here): away
    # from bin/, where the engines look for the CPU modules and scripts/bundle copies them from.
    set_target_properties(ggml-cpu-sapphirerapids PROPERTIES
      LIBRARY_OUTPUT_DIRECTORY ${CMAKE_BINARY_DIR}/ggml-amx-unused)
  endif()
  # After the subdirectory, so only podfleet's own targets see these.
  if(PODFLEET_WHISPER_CUDA)
    find_package(CUDAToolkit REQUIRED)
    math(EXPR runtime "${CUDAToolkit_VERSION_MAJOR} * 1000 + ${CUDAToolkit_VERSION_MINOR} * 10")
    add_compile_definitions(PODFLEET_ENGINE_CUDA_RUNTIME=${runtime})
    message(STATUS "whisper.cpp: CUDA ${CUDAToolkit_VERSION} (engines declare runtime ${runtime})")
  endif()
  if(PODFLEET_WHISPER_METAL)
    add_compile_definitions(PODFLEET_ENGINE_METAL=1)
  endif()
endfunction()

if(PODFLEET_WHISPER)
  find_package(PkgConfig QUIET)
  set(default_source ${CMAKE_CURRENT_SOURCE_DIR}/.deps/whisper.cpp)
  if(NOT PODFLEET_WHISPER_SOURCE)
    find_package(whisper CONFIG QUIET)
  endif()
  if(PODFLEET_WHISPER_SOURCE)
    if(NOT EXISTS ${PODFLEET_WHISPER_SOURCE}/include/whisper.h)
      message(FATAL_ERROR "PODFLEET_WHISPER_SOURCE=${PODFLEET_WHISPER_SOURCE} is not a whisper.cpp tree")
    endif()
    podfleet_build_whisper(${PODFLEET_WHISPER_SOURCE})
    set(whisper_from "source ${PODFLEET_WHISPER_SOURCE}")
  elseif(whisper_FOUND)
    set(whisper_from "installed package ${whisper_DIR}")
  elseif(NOT EXISTS ${default_source}/include/whisper.h AND PKG_CONFIG_FOUND)
    pkg_check_modules(WHISPER_PC QUIET IMPORTED_TARGET whisper)
    if(WHISPER_PC_FOUND)
      add_library(podfleet::whisper ALIAS PkgConfig::WHISPER_PC)
      set(whisper_from "pkg-config whisper ${WHISPER_PC_VERSION}")
    endif()
  elseif(EXISTS ${default_source}/include/whisper.h)
    podfleet_build_whisper(${default_source})
    set(whisper_from "source ${default_source}")
  endif()
  if(TARGET whisper AND NOT TARGET podfleet::whisper)
    add_library(podfleet::whisper ALIAS whisper)
  endif()
  # Parakeet TDT (the `parakeet` engine) lives in the same tree since 1.9: a library of its own
  # beside whisper, on the same ggml (and so the same CPU, CUDA or Metal backends).
  if(TARGET parakeet AND NOT TARGET podfleet::parakeet)
    add_library(podfleet::parakeet ALIAS parakeet)
  elseif(whisper_FOUND AND NOT TARGET podfleet::parakeet)
    find_package(parakeet CONFIG QUIET)
    if(TARGET parakeet::parakeet)
      add_library(podfleet::parakeet ALIAS parakeet::parakeet)
    endif()
  endif()
  if(TARGET podfleet::whisper)
    set(PODFLEET_HAVE_WHISPER ON)
    message(STATUS "whisper.cpp: ${whisper_from}")
    if(TARGET podfleet::parakeet)
      set(PODFLEET_HAVE_PARAKEET ON)
    else()
      message(WARNING "whisper.cpp from ${whisper_from} has no parakeet library: building without "
                      "the parakeet engine")
    endif()
  else()
    message(WARNING "whisper.cpp not found: building without the whisper engine. Run scripts/setup, "
                    "or pass -DPODFLEET_WHISPER_SOURCE=DIR (or -DPODFLEET_WHISPER=OFF to silence this).")
  endif()
endif()
