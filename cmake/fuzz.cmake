# CLATTN_FUZZ=ON: checks that the compiler is clang with libFuzzer, and instruments every host
# target for it (the fuzz targets themselves link -fsanitize=fuzzer in tests/fuzz). A missing
# clang or libFuzzer stops the configuration here with the reason, never a silent skip.
if(NOT CMAKE_C_COMPILER_ID MATCHES "Clang")
  message(FATAL_ERROR "CLATTN_FUZZ needs clang (libFuzzer); the C compiler is "
                      "${CMAKE_C_COMPILER_ID} (${CMAKE_C_COMPILER}). Configure with "
                      "-DCMAKE_C_COMPILER=clang, e.g. the `fuzz` preset.")
endif()
if(NOT CLATTN_BUILD_TESTS)
  message(FATAL_ERROR "CLATTN_FUZZ needs CLATTN_BUILD_TESTS=ON (the targets live in tests/fuzz)")
endif()
include(CheckCSourceCompiles)
set(CMAKE_REQUIRED_FLAGS "-fsanitize=fuzzer")
check_c_source_compiles([[
#include <stddef.h>
#include <stdint.h>
int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);
int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size) { return (int)(size && data[0]); }
]] CLATTN_HAVE_LIBFUZZER)
unset(CMAKE_REQUIRED_FLAGS)
if(NOT CLATTN_HAVE_LIBFUZZER)
  message(FATAL_ERROR "CLATTN_FUZZ: ${CMAKE_C_COMPILER} cannot link -fsanitize=fuzzer; install "
                      "libFuzzer (Debian: the libclang-rt-NN-dev or libfuzzer-NN-dev package of "
                      "this clang)")
endif()
target_compile_options(clattn_build_flags INTERFACE -fsanitize=fuzzer-no-link)
