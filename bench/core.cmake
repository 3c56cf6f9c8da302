# clattn_bench_core: the measuring code bench_attention, bench_decode and `clattn bench` share
# (one implementation, no copies). Included from bench/CMakeLists.txt and from
# src/cli/CMakeLists.txt, whichever comes first defines the target, so the tool builds even
# with CLATTN_BUILD_BENCH=OFF.
#
# The comparison kernels (bench/kernels/*.cl) are embedded, so an installed `clattn bench`
# needs no source tree; CLATTN_BENCH_KERNEL_DIR still reads them from a directory instead.
if(TARGET clattn_bench_core)
  return()
endif()

set(_bench_dir "${CMAKE_CURRENT_LIST_DIR}")
set(_bench_kernels "${_bench_dir}/kernels/attention_naive.cl"
                   "${_bench_dir}/kernels/attention_unfused.cl")
set(_bench_embedded "${CMAKE_CURRENT_BINARY_DIR}/bench_kernels_embedded.c")
# The library's own embedding script; bench/embedded/sources.h renames its table.
add_custom_command(
  OUTPUT "${_bench_embedded}"
  COMMAND "${CMAKE_COMMAND}" -DOUTPUT=${_bench_embedded} "-DSOURCES=${_bench_kernels}"
          -P "${PROJECT_SOURCE_DIR}/cmake/embed_kernels.cmake"
  DEPENDS ${_bench_kernels} "${PROJECT_SOURCE_DIR}/cmake/embed_kernels.cmake"
  COMMENT "Embedding the benchmark's comparison kernels"
  VERBATIM)

add_library(clattn_bench_core STATIC
  "${_bench_dir}/bench_util.c"
  "${_bench_dir}/bench_cases.c"
  "${_bench_dir}/bench_measure.c"
  "${_bench_dir}/bench_paths.c"
  "${_bench_dir}/bench_report.c"
  "${_bench_dir}/bench_decode_case.c"
  "${_bench_dir}/bench_family.c"
  "${_bench_dir}/bench_layer.c"
  "${_bench_embedded}")
target_include_directories(clattn_bench_core PUBLIC "${_bench_dir}"
                           PRIVATE "${_bench_dir}/embedded")
# clock_gettime, sysconf
target_compile_definitions(clattn_bench_core PUBLIC _POSIX_C_SOURCE=200809L)
find_library(BENCH_LIBM m)
target_link_libraries(clattn_bench_core PUBLIC clattn::clattn clblast
                      $<$<BOOL:${BENCH_LIBM}>:${BENCH_LIBM}> PRIVATE clattn_build_flags)
