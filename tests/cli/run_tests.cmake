# Tests of 'clattn run' and of the .npy reader, included from CMakeLists.txt.
#
# make_npy_fixtures writes the inputs and the expected outputs (computed by the tool's own
# double-precision reference, src/cli/attention_ref.c) before any run test starts; npy_compare
# checks each output against its expectation. Neither needs Python or NumPy.

set(_cli_src "${PROJECT_SOURCE_DIR}/src/cli")
set(_npy "${CMAKE_CURRENT_BINARY_DIR}/npy")
set(_out "${CMAKE_CURRENT_BINARY_DIR}/run_out")
file(MAKE_DIRECTORY "${_npy}" "${_out}" "${CMAKE_CURRENT_BINARY_DIR}/npy_scratch")

add_executable(make_npy_fixtures make_npy_fixtures.c "${_cli_src}/npy.c"
               "${_cli_src}/npy_header.c" "${_cli_src}/half.c" "${_cli_src}/attention_ref.c")
add_executable(npy_compare npy_compare.c "${_cli_src}/npy.c" "${_cli_src}/npy_header.c")
add_executable(test_npy test_npy.c "${_cli_src}/npy.c" "${_cli_src}/npy_header.c"
               "${_cli_src}/half.c")
foreach(_tool make_npy_fixtures npy_compare test_npy)
  target_include_directories(${_tool} PRIVATE "${_cli_src}")
  target_link_libraries(${_tool} PRIVATE clattn_build_flags)
  if(UNIX AND NOT APPLE)
    target_link_libraries(${_tool} PRIVATE m)
  endif()
endforeach()
# test_npy uses the suite's assertion helpers (tests/support/check.h).
target_link_libraries(test_npy PRIVATE clattn_test_support)

add_test(NAME cli_npy_reader COMMAND test_npy "${CMAKE_CURRENT_BINARY_DIR}/npy_scratch")
add_test(NAME cli_run_fixtures COMMAND make_npy_fixtures "${_npy}")
set_tests_properties(cli_npy_reader cli_run_fixtures PROPERTIES
  LABELS cli
  ENVIRONMENT "${CLATTN_CLI_LSAN}")
set_tests_properties(cli_run_fixtures PROPERTIES FIXTURES_SETUP cli_npy)

set(_qkv --q "${_npy}/q.npy" --k "${_npy}/k.npy" --v "${_npy}/v.npy")

# clattn_cli_run_test(NAME EXPECTED [LSE] [RTOL r] [ATOL a] [INPUTS q k v] [ARGS ...])
# Runs 'clattn run' on the fixture inputs (q, k, v unless INPUTS names others) and compares
# its output with EXPECTED.npy, and with LSE its log-sum-exp with EXPECTED_lse.npy.
function(clattn_cli_run_test name expected)
  cmake_parse_arguments(R "LSE" "RTOL;ATOL" "INPUTS;ARGS" ${ARGN})
  if(NOT R_INPUTS)
    set(R_INPUTS q k v)
  endif()
  if(NOT R_RTOL)
    set(R_RTOL 1e-4)
  endif()
  if(NOT R_ATOL)
    set(R_ATOL 1e-5)
  endif()
  list(GET R_INPUTS 0 _q)
  list(GET R_INPUTS 1 _k)
  list(GET R_INPUTS 2 _v)
  set(_o "${_out}/${name}.npy")
  set(_args run --q "${_npy}/${_q}.npy" --k "${_npy}/${_k}.npy" --v "${_npy}/${_v}.npy"
            --out "${_o}" ${R_ARGS})
  set(_compare "${_o}" "${_npy}/${expected}.npy")
  if(R_LSE)
    list(APPEND _args --lse "${_out}/${name}_lse.npy")
    list(APPEND _compare "${_out}/${name}_lse.npy" "${_npy}/${expected}_lse.npy")
  endif()
  clattn_cli_test(${name} RC 0 ARGS ${_args} CACHE cli_run FIXTURES_REQUIRED cli_npy
    COMPARE ${_compare} RTOL ${R_RTOL} ATOL ${R_ATOL}
    STDOUT "^wrote [^\n]*${name}\\.npy: float32 \\(" STDERR_NOT ".")
endfunction()

# clattn_cli_run_error(NAME RC STDERR_REGEX ARGS...): 'clattn run ARGS --out ...' must exit
# with RC, say what STDERR_REGEX matches, print nothing on stdout and write no output.
function(clattn_cli_run_error name rc stderr)
  set(_o "${_out}/${name}.npy")
  set(_l "${_out}/${name}_lse.npy")
  clattn_cli_test(${name} RC ${rc} ARGS run ${ARGN} --out "${_o}" --lse "${_l}"
    CACHE cli_run FIXTURES_REQUIRED cli_npy STDERR "${stderr}" STDOUT_NOT "."
    NO_FILE "${_o}" "${_l}")
endfunction()

# --- results against the reference ----------------------------------------------------------
clattn_cli_run_test(cli_run_plain exp_plain)
clattn_cli_run_test(cli_run_lse exp_plain LSE)
clattn_cli_run_test(cli_run_bshd exp_plain_bshd LSE INPUTS q_bshd k_bshd v_bshd
  ARGS --layout bshd)
clattn_cli_run_test(cli_run_causal_top_left exp_causal_tl LSE ARGS --causal top-left)
clattn_cli_run_test(cli_run_causal_bottom_right exp_causal_br LSE ARGS --causal bottom-right)
clattn_cli_run_test(cli_run_causal_bshd exp_causal_br_bshd INPUTS q_bshd k_bshd v_bshd
  ARGS --layout=bshd --causal=bottom-right)
clattn_cli_run_test(cli_run_window exp_window LSE ARGS --window 3,2)
# An unbounded left side and a right side of 0 is the causal mask.
clattn_cli_run_test(cli_run_window_causal exp_causal_tl ARGS --window -1,0)
clattn_cli_run_test(cli_run_scale_softcap exp_scale_softcap LSE ARGS --scale 0.3 --softcap 2)
clattn_cli_run_test(cli_run_mask_heads exp_mask_heads LSE ARGS --mask "${_npy}/mask_heads.npy")
clattn_cli_run_test(cli_run_mask_bool exp_mask_bool LSE ARGS --mask "${_npy}/mask_bool.npy")
clattn_cli_run_test(cli_run_mask_rows exp_mask_rows LSE ARGS --mask "${_npy}/mask_rows.npy")
clattn_cli_run_test(cli_run_mask_f16 exp_mask_f16 LSE ARGS --mask "${_npy}/mask_f16.npy")
clattn_cli_run_test(cli_run_lens exp_lens LSE
  ARGS --kv-lens "${_npy}/kv_lens.npy" --q-lens "${_npy}/q_lens.npy")
clattn_cli_run_test(cli_run_lens_causal exp_lens_causal_br LSE
  ARGS --kv-lens "${_npy}/kv_lens.npy" --q-lens "${_npy}/q_lens.npy" --causal bottom-right)
# Storage types: float16 files straight through, float16 files widened to float32, and
# float32 files narrowed to bfloat16. The output is stored in the same type, hence the
# tolerances of its rounding.
clattn_cli_run_test(cli_run_f16 exp_f16 LSE INPUTS q16 k16 v16 ARGS --dtype f16
  RTOL 2e-3 ATOL 1e-3)
clattn_cli_run_test(cli_run_f16_inputs exp_f16 LSE INPUTS q16 k16 v16)
clattn_cli_run_test(cli_run_bf16 exp_bf16 LSE ARGS --dtype bf16 RTOL 1e-2 ATOL 1e-2)
clattn_cli_run_test(cli_run_device_flag exp_plain ARGS --device 0:0)

# --- wrong command lines and files: exit 2, the argument named, nothing written -------------
clattn_cli_run_error(cli_run_missing_q 2 "^clattn run: --q: this option is required\n$"
  --k "${_npy}/k.npy" --v "${_npy}/v.npy")
clattn_cli_run_error(cli_run_missing_file 2
  "^clattn run: --k: cannot open '[^']*does-not-exist\\.npy': No such file"
  --q "${_npy}/q.npy" --k "${_npy}/does-not-exist.npy" --v "${_npy}/v.npy")
clattn_cli_run_error(cli_run_not_npy 2 "^clattn run: --q: '[^']*text\\.npy': not a \\.npy file"
  --q "${_npy}/text.npy" --k "${_npy}/k.npy" --v "${_npy}/v.npy")
clattn_cli_run_error(cli_run_truncated 2 "^clattn run: --k: [^\n]*truncated data"
  --q "${_npy}/q.npy" --k "${_npy}/truncated.npy" --v "${_npy}/v.npy")
clattn_cli_run_error(cli_run_wrong_rank 2
  "^clattn run: --k: expected a 4-D \\(B, H, S, D\\) array, got shape \\(2, 3\\)\n$"
  --q "${_npy}/q.npy" --k "${_npy}/bad_rank.npy" --v "${_npy}/v.npy")
clattn_cli_run_error(cli_run_int_input 2 "^clattn run: --q: expected float32 or float16, got int32"
  --q "${_npy}/bad_dtype.npy" --k "${_npy}/k.npy" --v "${_npy}/v.npy")
clattn_cli_run_error(cli_run_unsupported_dtype 2 "^clattn run: --v: [^\n]*unsupported dtype '<f8'"
  --q "${_npy}/q.npy" --k "${_npy}/k.npy" --v "${_npy}/f64.npy")
clattn_cli_run_error(cli_run_big_endian 2 "^clattn run: --q: [^\n]*big-endian dtype '>f4'"
  --q "${_npy}/big_endian.npy" --k "${_npy}/k.npy" --v "${_npy}/v.npy")
clattn_cli_run_error(cli_run_fortran 2 "^clattn run: --q: [^\n]*fortran_order True"
  --q "${_npy}/fortran.npy" --k "${_npy}/k.npy" --v "${_npy}/v.npy")
clattn_cli_run_error(cli_run_head_dim_mismatch 2
  "^clattn run: --k: head dimension 12 does not match --q's 16\n$"
  --q "${_npy}/q.npy" --k "${_npy}/k_wrong_dim.npy" --v "${_npy}/v.npy")
clattn_cli_run_error(cli_run_heads_mismatch 2 "^clattn run: --v: 4 heads do not match --k's 2 heads"
  --q "${_npy}/q.npy" --k "${_npy}/k.npy" --v "${_npy}/q.npy")
clattn_cli_run_error(cli_run_kv_len_mismatch 2
  "^clattn run: --v: sequence length 19 does not match --k's 23"
  --q "${_npy}/q.npy" --k "${_npy}/k.npy" --v "${_npy}/v_short.npy")
# BHSD files read as BSHD: K's 23 "heads" do not divide Q's 19.
clattn_cli_run_error(cli_run_layout_mismatch 2 "^clattn run: --k: 23 heads do not divide --q's 19 heads"
  ${_qkv} --layout bshd)
clattn_cli_run_error(cli_run_mask_not_broadcastable 2
  "^clattn run: --mask: shape \\(3, 23\\) does not broadcast to \\(B, Hq, Sq, Skv\\) = \\(2, 4, 19, 23\\)"
  ${_qkv} --mask "${_npy}/mask_bad.npy")
clattn_cli_run_error(cli_run_mask_int 2
  "^clattn run: --mask: expected bool, uint8, float32 or float16, got int64"
  ${_qkv} --mask "${_npy}/kv_lens.npy")
clattn_cli_run_error(cli_run_kv_lens_range 2
  "^clattn run: --kv-lens: length 99 at index 1 is outside 0 \\.\\. 23"
  ${_qkv} --kv-lens "${_npy}/kv_lens_bad.npy")
clattn_cli_run_error(cli_run_q_lens_shape 2
  "^clattn run: --q-lens: expected a 1-D array of 2 lengths \\(one per batch\\), got shape \\(23,\\)"
  ${_qkv} --q-lens "${_npy}/mask_f16.npy")
clattn_cli_run_error(cli_run_q_lens_dtype 2 "^clattn run: --q-lens: expected int32 or int64, got float32"
  ${_qkv} --q-lens "${_npy}/lens_f32.npy")
clattn_cli_run_error(cli_run_bad_window 2 "^clattn run: --window: expected LEFT,RIGHT" ${_qkv} --window 3)
clattn_cli_run_error(cli_run_bad_window_value 2 "^clattn run: --window: expected LEFT,RIGHT"
  ${_qkv} --window=-2,0)
clattn_cli_run_error(cli_run_bad_dtype 2 "^clattn run: --dtype: expected f32, f16 or bf16, got 'f64'"
  ${_qkv} --dtype f64)
clattn_cli_run_error(cli_run_bad_layout 2 "^clattn run: --layout: expected bhsd or bshd, got 'hsbd'"
  ${_qkv} --layout hsbd)
clattn_cli_run_error(cli_run_bad_causal 2
  "^clattn run: --causal: expected top-left or bottom-right, got 'yes'" ${_qkv} --causal yes)
clattn_cli_run_error(cli_run_bad_scale 2 "^clattn run: --scale: expected a finite number, got 'abc'"
  ${_qkv} --scale abc)
clattn_cli_run_error(cli_run_zero_scale 2 "^clattn run: --scale: must not be 0" ${_qkv} --scale 0)
clattn_cli_run_error(cli_run_negative_softcap 2 "^clattn run: --softcap: must be positive"
  ${_qkv} --softcap -1)
clattn_cli_test(cli_run_lse_is_out RC 2
  ARGS run ${_qkv} --out "${_out}/cli_run_lse_is_out.npy" --lse "${_out}/cli_run_lse_is_out.npy"
  CACHE cli_run FIXTURES_REQUIRED cli_npy STDERR "^clattn run: --lse: is the same file as --out"
  NO_FILE "${_out}/cli_run_lse_is_out.npy")

# --- failures after the command line was right: exit 1, nothing written ---------------------
clattn_cli_run_error(cli_run_bad_device 1 "^clattn: CLATTN_DEVICE_NOT_FOUND: "
  ${_qkv} --device does-not-exist)
clattn_cli_test(cli_run_unwritable_out RC 1
  ARGS run ${_qkv} --out "${_out}/no-such-dir/o.npy"
  CACHE cli_run FIXTURES_REQUIRED cli_npy
  STDERR "^clattn run: --out: cannot create '[^']*no-such-dir/o\\.npy\\.clattn-tmp': No such file"
  NO_FILE "${_out}/no-such-dir/o.npy")

# --- attention weights and heatmaps -----------------------------------------------------------
include(weights_tests.cmake)

# --- the classic attention family: --score, --local, --hard -----------------------------------
include(family_tests.cmake)
