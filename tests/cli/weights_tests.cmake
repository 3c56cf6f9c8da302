# Tests of 'clattn run --weights/--heatmap' and 'clattn heatmap', included from
# run_tests.cmake (which defines _npy, _out, _qkv and the cli_npy fixture).
#
# png_check decodes each PNG far enough to trust it (chunk CRCs, IHDR, the zlib stream and
# its Adler-32, the image size); weights_check recomputes the weights in double precision.

set(_cli_src "${PROJECT_SOURCE_DIR}/src/cli")
add_executable(png_check png_check.c)
add_executable(weights_check weights_check.c "${_cli_src}/npy.c" "${_cli_src}/npy_header.c")
foreach(_tool png_check weights_check)
  target_include_directories(${_tool} PRIVATE "${_cli_src}")
  target_link_libraries(${_tool} PRIVATE clattn_build_flags)
  if(UNIX AND NOT APPLE)
    target_link_libraries(${_tool} PRIVATE m)
  endif()
endforeach()

set(_qk --q "${_npy}/q.npy" --k "${_npy}/k.npy")
set(_w "${_out}/weights")
file(MAKE_DIRECTORY "${_w}")

# check_after(NAME FIXTURE COMMAND ...): a checker run once FIXTURE's test has written its files.
function(clattn_weights_check name fixture)
  add_test(NAME ${name} COMMAND ${ARGN})
  set_tests_properties(${name} PROPERTIES LABELS cli FIXTURES_REQUIRED "cli_npy;${fixture}"
                       ENVIRONMENT "${CLATTN_CLI_LSAN}")
endfunction()

# --- clattn heatmap --------------------------------------------------------------------------
clattn_cli_test(cli_heatmap_help RC 0 ARGS heatmap --help
  STDOUT "usage: clattn heatmap.*--head B,H.*--mode 0..3" STDERR_NOT ".")
clattn_cli_test(cli_heatmap_unknown_option RC 2 ARGS heatmap --v "${_npy}/v.npy"
  STDERR "clattn heatmap: unknown option '--v'.*usage: clattn heatmap" STDOUT_NOT ".")
clattn_cli_test(cli_heatmap RC 0
  ARGS heatmap ${_qk} --causal top-left --head 1,2 --out "${_w}/heatmap.png"
       --weights "${_w}/heatmap_w.npy"
  CACHE cli_run FIXTURES_REQUIRED cli_npy FIXTURES_SETUP cli_heatmap
  STDOUT "wrote [^\n]*heatmap_w\\.npy: float32 \\(2, 4, 19, 23\\)\nwrote [^\n]*heatmap\\.png: heatmap of batch 1, head 2\n$"
  STDERR_NOT ".")
# 23 keys: 12-pixel cells make the plot 276 pixels wide, plus the colour bar.
clattn_weights_check(cli_heatmap_png cli_heatmap
  png_check "${_w}/heatmap.png" 300 2048 200 2048)
clattn_weights_check(cli_heatmap_weights cli_heatmap
  weights_check "${_w}/heatmap_w.npy" "${_npy}/q.npy" "${_npy}/k.npy" 3 bhsd top-left)
clattn_cli_test(cli_heatmap_mode0 RC 0
  ARGS heatmap ${_qk} --mode 0 --out "${_w}/heatmap0.png" --weights "${_w}/heatmap0_w.npy"
  CACHE cli_run FIXTURES_REQUIRED cli_npy FIXTURES_SETUP cli_heatmap_mode0 STDERR_NOT ".")
clattn_weights_check(cli_heatmap_mode0_png cli_heatmap_mode0
  png_check "${_w}/heatmap0.png" 300 2048 200 2048)
clattn_weights_check(cli_heatmap_mode0_weights cli_heatmap_mode0
  weights_check "${_w}/heatmap0_w.npy" "${_npy}/q.npy" "${_npy}/k.npy" 0)
clattn_cli_test(cli_heatmap_needs_out RC 2 ARGS heatmap ${_qk}
  CACHE cli_run FIXTURES_REQUIRED cli_npy
  STDERR "^clattn heatmap: --out: this option is required\n$" STDOUT_NOT ".")
clattn_cli_test(cli_heatmap_bad_head RC 2
  ARGS heatmap ${_qk} --head 2,0 --out "${_w}/bad_head.png"
  CACHE cli_run FIXTURES_REQUIRED cli_npy NO_FILE "${_w}/bad_head.png"
  STDERR "--head: 2,0 is outside the 2 batches and 4 query heads" STDOUT_NOT ".")
clattn_cli_test(cli_heatmap_bad_mode RC 2
  ARGS heatmap ${_qk} --mode 4 --out "${_w}/bad_mode.png"
  CACHE cli_run FIXTURES_REQUIRED cli_npy NO_FILE "${_w}/bad_mode.png"
  STDERR "--mode: expected 0, 1, 2 or 3, got '4'" STDOUT_NOT ".")

# --- clattn run --weights / --heatmap ---------------------------------------------------------
clattn_cli_test(cli_run_weights RC 0
  ARGS run ${_qkv} --causal bottom-right --out "${_w}/run_o.npy"
       --weights "${_w}/run_w.npy" --weights-mode 2 --heatmap "${_w}/run.png"
       --heatmap-head 0,3
  CACHE cli_run FIXTURES_REQUIRED cli_npy FIXTURES_SETUP cli_run_weights
  COMPARE "${_w}/run_o.npy" "${_npy}/exp_causal_br.npy" RTOL 1e-4 ATOL 1e-5
  STDOUT "wrote [^\n]*run_o\\.npy.*wrote [^\n]*run_w\\.npy: float32 \\(2, 4, 19, 23\\).*wrote [^\n]*run\\.png: heatmap of batch 0, head 3"
  STDERR_NOT ".")
clattn_weights_check(cli_run_weights_values cli_run_weights
  weights_check "${_w}/run_w.npy" "${_npy}/q.npy" "${_npy}/k.npy" 2 bhsd bottom-right)
clattn_weights_check(cli_run_weights_png cli_run_weights
  png_check "${_w}/run.png" 300 2048 200 2048)
# bshd inputs: the weights are still (B, Hq, Sq, Skv).
clattn_cli_test(cli_run_weights_bshd RC 0
  ARGS run --q "${_npy}/q_bshd.npy" --k "${_npy}/k_bshd.npy" --v "${_npy}/v_bshd.npy"
       --layout bshd --causal bottom-right --out "${_w}/run_bshd_o.npy"
       --weights "${_w}/run_bshd_w.npy"
  CACHE cli_run FIXTURES_REQUIRED cli_npy FIXTURES_SETUP cli_run_weights_bshd STDERR_NOT ".")
clattn_weights_check(cli_run_weights_bshd_values cli_run_weights_bshd
  weights_check "${_w}/run_bshd_w.npy" "${_npy}/q_bshd.npy" "${_npy}/k_bshd.npy" 3 bshd bottom-right)
clattn_cli_test(cli_run_weights_bad_mode RC 2
  ARGS run ${_qkv} --out "${_w}/bad_o.npy" --weights "${_w}/bad_w.npy" --weights-mode x
  CACHE cli_run FIXTURES_REQUIRED cli_npy NO_FILE "${_w}/bad_o.npy" "${_w}/bad_w.npy"
  STDERR "^clattn run: --weights-mode: expected 0, 1, 2 or 3, got 'x'\n$" STDOUT_NOT ".")
clattn_cli_test(cli_run_heatmap_same_as_out RC 2
  ARGS run ${_qkv} --out "${_w}/same.npy" --heatmap "${_w}/same.npy"
  CACHE cli_run FIXTURES_REQUIRED cli_npy NO_FILE "${_w}/same.npy"
  STDERR "--heatmap: is the same file as --out" STDOUT_NOT ".")
clattn_cli_test(cli_run_heatmap_bad_head RC 2
  ARGS run ${_qkv} --out "${_w}/hh_o.npy" --heatmap "${_w}/hh.png" --heatmap-head 0,x
  CACHE cli_run FIXTURES_REQUIRED cli_npy NO_FILE "${_w}/hh_o.npy" "${_w}/hh.png"
  STDERR "--heatmap-head: expected B,H" STDOUT_NOT ".")
include(grid_tests.cmake)
