# Tests of 'clattn run --score/--local/--hard', included from run_tests.cmake (which defines
# _out, clattn_cli_test's helpers and the npy_compare tool).
#
# make_family_fixtures writes small inputs (Q with q_dim = 6 features: fq; Q with K's D = 5:
# fq5), the weights, and the expected outputs computed in double precision from the
# formulas in clattn.h; hard_check checks that sampled rows are value rows.

set(_cli_src "${PROJECT_SOURCE_DIR}/src/cli")
set(_f "${CMAKE_CURRENT_BINARY_DIR}/family_npy")
set(_fo "${_out}/family")
file(MAKE_DIRECTORY "${_f}" "${_fo}")

add_executable(make_family_fixtures make_family_fixtures.c "${_cli_src}/npy.c"
               "${_cli_src}/npy_header.c")
add_executable(hard_check hard_check.c "${_cli_src}/npy.c" "${_cli_src}/npy_header.c")
foreach(_tool make_family_fixtures hard_check)
  target_include_directories(${_tool} PRIVATE "${_cli_src}")
  target_link_libraries(${_tool} PRIVATE clattn_build_flags)
  if(UNIX AND NOT APPLE)
    target_link_libraries(${_tool} PRIVATE m)
  endif()
endforeach()
add_test(NAME cli_family_fixtures COMMAND make_family_fixtures "${_f}")
set_tests_properties(cli_family_fixtures PROPERTIES LABELS cli FIXTURES_SETUP cli_family
                     ENVIRONMENT "${CLATTN_CLI_LSAN}")

# clattn_cli_family_test(NAME EXPECTED [LSE] [RTOL r] [ATOL a] [Q fq|fq5] [NO_K] [ARGS ...])
# Runs 'clattn run' on the family fixtures (Q: fq5 unless Q says otherwise; K fk unless
# NO_K; V fv) and compares O with EXPECTED.npy (and with LSE the log-sum-exp).
function(clattn_cli_family_test name expected)
  cmake_parse_arguments(F "LSE;NO_K" "RTOL;ATOL;Q" "ARGS" ${ARGN})
  if(NOT F_Q)
    set(F_Q fq5)
  endif()
  if(NOT F_RTOL)
    set(F_RTOL 1e-4)
  endif()
  if(NOT F_ATOL)
    set(F_ATOL 1e-5)
  endif()
  set(_o "${_fo}/${name}.npy")
  set(_args run --q "${_f}/${F_Q}.npy" --v "${_f}/fv.npy" --out "${_o}" ${F_ARGS})
  if(NOT F_NO_K)
    list(APPEND _args --k "${_f}/fk.npy")
  endif()
  set(_compare "${_o}" "${_f}/${expected}.npy")
  if(F_LSE)
    list(APPEND _args --lse "${_fo}/${name}_lse.npy")
    list(APPEND _compare "${_fo}/${name}_lse.npy" "${_f}/${expected}_lse.npy")
  endif()
  clattn_cli_test(${name} RC 0 ARGS ${_args} CACHE cli_run FIXTURES_REQUIRED cli_family
    COMPARE ${_compare} RTOL ${F_RTOL} ATOL ${F_ATOL}
    STDOUT "^wrote [^\n]*${name}\\.npy: float32 \\(" STDERR_NOT ".")
endfunction()

# clattn_cli_family_error(NAME STDERR_REGEX ARGS...): 'clattn run ARGS --out ...' on the
# family fixtures exits 2, says one line matching STDERR_REGEX, and writes nothing.
function(clattn_cli_family_error name stderr)
  set(_o "${_fo}/${name}.npy")
  clattn_cli_test(${name} RC 2 ARGS run ${ARGN} --out "${_o}"
    CACHE cli_run FIXTURES_REQUIRED cli_family STDERR "^clattn run: ${stderr}[^\n]*\n$"
    STDOUT_NOT "." NO_FILE "${_o}" "${_fo}/${name}_idx.npy" "${_fo}/${name}_lse.npy")
endfunction()

# --- score functions --------------------------------------------------------------------------
clattn_cli_family_test(cli_family_scaled exp_f_scaled LSE)
clattn_cli_family_test(cli_family_scaled_named exp_f_scaled ARGS --score scaled)
clattn_cli_family_test(cli_family_dot exp_f_dot LSE ARGS --score dot)
# dot is the scaled score with --scale 1.
clattn_cli_family_test(cli_family_dot_as_scale exp_f_dot ARGS --scale 1)
clattn_cli_family_test(cli_family_general exp_f_general LSE Q fq
  ARGS --score general --w "${_f}/fw.npy")
# W = identity: general is the scaled score (same default scale, 1/sqrt(D)).
clattn_cli_family_test(cli_family_general_identity exp_f_scaled LSE
  ARGS --score general --w "${_f}/fw_eye.npy")
# K, V and O in float16; Q stays float32 for CLBlast.
clattn_cli_family_test(cli_family_general_f16 exp_f_general Q fq RTOL 1e-2 ATOL 1e-2
  ARGS --score general --w "${_f}/fw.npy" --dtype f16)
clattn_cli_family_test(cli_family_additive exp_f_additive LSE Q fq
  ARGS --score additive --w1 "${_f}/fw1.npy" --w2 "${_f}/fw2.npy" --va "${_f}/fva.npy")
clattn_cli_family_test(cli_family_location exp_f_location LSE Q fq NO_K
  ARGS --score location --wa "${_f}/fwa.npy")

# --- local attention ----------------------------------------------------------------------------
clattn_cli_family_test(cli_family_local_m exp_f_local_m LSE ARGS --local m --window 2)
clattn_cli_family_test(cli_family_local_m_plain exp_f_local_m_plain LSE
  ARGS --local m --window 2 --no-gaussian)
# A window wider than the keys without the Gaussian factor is plain attention.
clattn_cli_family_test(cli_family_local_m_wide exp_f_scaled LSE
  ARGS --local m --window 1000 --no-gaussian)
clattn_cli_family_test(cli_family_local_p_positions exp_f_local_p_pos LSE
  ARGS --local p --positions "${_f}/fpos.npy" --window 2)
clattn_cli_family_test(cli_family_local_p_weights exp_f_local_p_w LSE
  ARGS --local p --wp "${_f}/fwp.npy" --vp "${_f}/fvp.npy" --window=2)

# --- hard attention -----------------------------------------------------------------------------
set(_fqkv --q "${_f}/fq5.npy" --k "${_f}/fk.npy" --v "${_f}/fv.npy")
clattn_cli_test(cli_family_argmax RC 0
  ARGS run ${_fqkv} --hard argmax --out "${_fo}/argmax.npy" --indices "${_fo}/argmax_idx.npy"
  CACHE cli_run FIXTURES_REQUIRED cli_family
  COMPARE "${_fo}/argmax.npy" "${_f}/exp_f_argmax.npy"
          "${_fo}/argmax_idx.npy" "${_f}/exp_f_argmax_idx.npy" RTOL 0 ATOL 0
  STDOUT "^wrote [^\n]*argmax\\.npy: float32 \\(2, 4, 7, 3\\)\nwrote [^\n]*argmax_idx\\.npy: int32 \\(2, 4, 7, 1\\)\n$"
  STDERR_NOT ".")
# Sampling: 16 draws per query, O (B, Hq, Sq * 16, Dv); seed 7 twice, then seed 8.
foreach(_run a b c)
  set(_seed 7)
  if(_run STREQUAL "c")
    set(_seed 8)
  endif()
  clattn_cli_test(cli_family_sample_${_run} RC 0
    ARGS run ${_fqkv} --hard sample --seed ${_seed} --draws 16 --offset 3
         --out "${_fo}/sample_${_run}.npy" --indices "${_fo}/sample_${_run}_idx.npy"
    CACHE cli_run FIXTURES_REQUIRED cli_family FIXTURES_SETUP cli_family_sample_${_run}
    STDOUT "float32 \\(2, 4, 112, 3\\)\n.*int32 \\(2, 4, 7, 16\\)\n$" STDERR_NOT ".")
endforeach()
function(clattn_family_check name fixtures)
  add_test(NAME ${name} COMMAND ${ARGN})
  set_tests_properties(${name} PROPERTIES LABELS cli FIXTURES_REQUIRED "cli_family;${fixtures}"
                       ENVIRONMENT "${CLATTN_CLI_LSAN}")
endfunction()
clattn_family_check(cli_family_sample_rows cli_family_sample_a
  hard_check "${_fo}/sample_a.npy" "${_fo}/sample_a_idx.npy" "${_f}/fv.npy")
clattn_family_check(cli_family_sample_same_seed "cli_family_sample_a;cli_family_sample_b"
  npy_compare "${_fo}/sample_a_idx.npy" "${_fo}/sample_b_idx.npy" 0 0)
clattn_family_check(cli_family_sample_same_seed_o "cli_family_sample_a;cli_family_sample_b"
  npy_compare "${_fo}/sample_a.npy" "${_fo}/sample_b.npy" 0 0)
clattn_family_check(cli_family_sample_other_seed "cli_family_sample_a;cli_family_sample_c"
  npy_compare "${_fo}/sample_a_idx.npy" "${_fo}/sample_c_idx.npy" 0 0 differ)

# --- wrong command lines and files: exit 2, the flag named, nothing written --------------------
set(_fq6 --q "${_f}/fq.npy" --k "${_f}/fk.npy" --v "${_f}/fv.npy")
clattn_cli_test(cli_run_help_family RC 0 ARGS run --help
  STDOUT "--score dot\\|scaled\\|general\\|additive\\|location.*--w1 W1\\.npy.*--wa WA\\.npy.*--local m\\|p.*--no-gaussian.*--positions P\\.npy.*--hard sample\\|argmax.*--seed N.*--draws N.*--indices FILE"
  STDERR_NOT ".")
clattn_cli_family_error(cli_family_bad_score "--score: expected scaled, dot, general, additive or location, got 'cosine'"
  ${_fqkv} --score cosine)
clattn_cli_family_error(cli_family_general_no_w "--w: is required with --score general" ${_fq6} --score general)
clattn_cli_family_error(cli_family_w_no_general "--w: needs --score general" ${_fqkv} --w "${_f}/fw.npy")
clattn_cli_family_error(cli_family_additive_no_va "--va: is required with --score additive"
  ${_fq6} --score additive --w1 "${_f}/fw1.npy" --w2 "${_f}/fw2.npy")
clattn_cli_family_error(cli_family_q_dim_plain "--k: head dimension 5 does not match --q's 6" ${_fq6})
clattn_cli_family_error(cli_family_w_shape
  "--w: expected shape \\(q_dim, D\\) = \\(6, 5\\) \\(from --q and --k\\), got \\(6, 6\\)"
  ${_fq6} --score general --w "${_f}/fw_bad.npy")
clattn_cli_family_error(cli_family_w2_shape
  "--w2: expected shape \\(A, D\\) = \\(4, 5\\) \\(from --w1 and --k\\), got \\(5, 5\\)"
  ${_fq6} --score additive --w1 "${_f}/fw1.npy" --w2 "${_f}/fw2_bad.npy" --va "${_f}/fva.npy")
clattn_cli_family_error(cli_family_va_dtype "--va: expected float32 or float16, got int32"
  ${_fq6} --score additive --w1 "${_f}/fw1.npy" --w2 "${_f}/fw2.npy" --va "${_f}/fints.npy")
clattn_cli_family_error(cli_family_wa_shape
  "--wa: expected shape \\(Skv, D\\) = \\(9, 6\\) \\(from --v and --q\\), got \\(6, 5\\)"
  --q "${_f}/fq.npy" --v "${_f}/fv.npy" --score location --wa "${_f}/fw.npy")
clattn_cli_family_error(cli_family_location_k "--k: --score location scores without keys"
  ${_fq6} --score location --wa "${_f}/fwa.npy")
clattn_cli_family_error(cli_family_location_mask "--mask: cannot be used with --score location"
  --q "${_f}/fq.npy" --v "${_f}/fv.npy" --score location --wa "${_f}/fwa.npy" --mask "${_f}/fva.npy")
clattn_cli_family_error(cli_family_additive_softcap "--softcap: cannot be used with --score additive"
  ${_fq6} --score additive --w1 "${_f}/fw1.npy" --w2 "${_f}/fw2.npy" --va "${_f}/fva.npy" --softcap 5)
clattn_cli_family_error(cli_family_dot_scale "--scale: conflicts with --score dot" ${_fqkv} --score dot --scale 2)
clattn_cli_family_error(cli_family_local_hard "--hard: cannot be combined with --local"
  ${_fqkv} --local m --hard argmax)
clattn_cli_family_error(cli_family_general_local "--score: general cannot be combined with --local"
  ${_fq6} --score general --w "${_f}/fw.npy" --local m)
clattn_cli_family_error(cli_family_additive_weights "--weights: --score additive gives no attention weights"
  ${_fq6} --score additive --w1 "${_f}/fw1.npy" --w2 "${_f}/fw2.npy" --va "${_f}/fva.npy"
  --weights "${_fo}/cli_family_additive_weights_idx.npy")
clattn_cli_family_error(cli_family_local_heatmap "--heatmap: --local m gives no attention weights"
  ${_fqkv} --local m --heatmap "${_fo}/cli_family_local_heatmap_idx.npy")
clattn_cli_family_error(cli_family_local_bad_mode "--local: expected m or p, got 'q'" ${_fqkv} --local q)
clattn_cli_family_error(cli_family_local_p_nothing "--local: p needs --positions P\\.npy, or --wp"
  ${_fqkv} --local p)
clattn_cli_family_error(cli_family_local_p_both "--positions: cannot be combined with --wp and --vp"
  ${_fqkv} --local p --positions "${_f}/fpos.npy" --wp "${_f}/fwp.npy" --vp "${_f}/fvp.npy")
clattn_cli_family_error(cli_family_local_wp_alone "--vp: is required with --wp"
  ${_fqkv} --local p --wp "${_f}/fwp.npy")
clattn_cli_family_error(cli_family_positions_local_m "--positions: needs --local p"
  ${_fqkv} --local m --positions "${_f}/fpos.npy")
clattn_cli_family_error(cli_family_positions_shape
  "--positions: expected shape \\(B, Hq, Sq\\) = \\(2, 4, 7\\) \\(from --q\\), got \\(2, 4, 6\\)"
  ${_fqkv} --local p --positions "${_f}/fpos_bad.npy")
clattn_cli_family_error(cli_family_no_gaussian_alone "--no-gaussian: needs --local" ${_fqkv} --no-gaussian)
clattn_cli_family_error(cli_family_local_window_pair "--window: with --local expected D"
  ${_fqkv} --local m --window 3,2)
clattn_cli_family_error(cli_family_seed_alone "--seed: needs --hard" ${_fqkv} --seed 3)
clattn_cli_family_error(cli_family_indices_alone "--indices: needs --hard"
  ${_fqkv} --indices "${_fo}/cli_family_indices_alone_idx.npy")
clattn_cli_family_error(cli_family_bad_hard "--hard: expected sample or argmax, got 'max'" ${_fqkv} --hard max)
clattn_cli_family_error(cli_family_argmax_draws "--draws: must be 1 with --hard argmax"
  ${_fqkv} --hard argmax --draws 4)
clattn_cli_family_error(cli_family_argmax_seed "--seed: has no effect with --hard argmax"
  ${_fqkv} --hard argmax --seed 3)
clattn_cli_family_error(cli_family_zero_draws "--draws: expected an integer in 1 \\.\\. 2147483647, got '0'"
  ${_fqkv} --hard sample --draws 0)
clattn_cli_family_error(cli_family_bad_seed "--seed: expected an integer in 0 \\.\\. 18446744073709551615, got '-1'"
  ${_fqkv} --hard sample --seed=-1)
clattn_cli_family_error(cli_family_hard_lse "--lse: --hard writes no log-sum-exp"
  ${_fqkv} --hard sample --lse "${_fo}/cli_family_hard_lse_lse.npy")
clattn_cli_family_error(cli_family_indices_is_out "--indices: is the same file as --out"
  ${_fqkv} --hard sample --indices "${_fo}/cli_family_indices_is_out.npy")
