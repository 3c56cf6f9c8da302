# Tests of 'clattn bench': its command line, and one tiny smoke run (S = 64, the fused, naive
# and unfused paths, 5 runs each, a few seconds) whose JSON and PNG are checked afterwards.
# No figure is asserted: speed is for bench/, never for tests. Included from CMakeLists.txt
# after run_tests.cmake, which defines png_check.

set(_bench_usage "usage: clattn bench")
clattn_cli_test(cli_bench_help RC 0 ARGS bench --help
  STDOUT "${_bench_usage}.*--quick.*--peers.*Exit status" STDERR_NOT ".")
clattn_cli_test(cli_bench_unknown_option RC 2 ARGS bench --frobnicate
  STDERR "clattn bench: unknown option '--frobnicate'.*${_bench_usage}" STDOUT_NOT ".")
clattn_cli_test(cli_bench_bad_case RC 2 ARGS bench --cases prefill,nope
  STDERR "unknown case 'nope'.*${_bench_usage}" STDOUT_NOT ".")
clattn_cli_test(cli_bench_few_repeats RC 2 ARGS bench --repeats 4
  STDERR "--repeats wants 5 \\.\\. 100.*got '4'" STDOUT_NOT ".")
clattn_cli_test(cli_bench_bad_seq RC 2 ARGS bench --seq 128,0
  STDERR "--seq wants.*got '128,0'" STDOUT_NOT ".")
clattn_cli_test(cli_bench_json_needs_file RC 2 ARGS bench --json
  STDERR "needs a value.*${_bench_usage}")

# The smoke run. An interpreter that does not exist makes the peers missing for certain:
# each must become a note, not a failure. (PATH stays: PoCL needs `ld` to link kernels.)
set(_bench_out "${CMAKE_CURRENT_BINARY_DIR}/bench")
file(MAKE_DIRECTORY "${_bench_out}")
clattn_cli_test(cli_bench_smoke RC 0
  ARGS bench --quick --cases prefill --seq 64 --repeats 5 --peers
       --json "${_bench_out}/bench.json" --plot "${_bench_out}/bench.png"
  ENV "CLATTN_BENCH_PYTHON=/nonexistent/python3"
  FIXTURES_SETUP cli_bench_smoke
  STDOUT "ceilings +FMA [0-9.]+ GFLOP/s.*prefill +64d64 +fused +[0-9.]+ GFLOP/s.*naive.*unfused.*64d128c.*peer +numpy skipped: /nonexistent/python3 not found.*peer +torch sdpa skipped: /nonexistent/python3 not found")
set_tests_properties(cli_bench_smoke PROPERTIES LABELS "cli;bench")
if(CMAKE_VERSION VERSION_GREATER_EQUAL 3.19) # string(JSON)
  add_test(NAME cli_bench_json
           COMMAND "${CMAKE_COMMAND}" "-DFILE=${_bench_out}/bench.json"
                   -P "${CMAKE_CURRENT_SOURCE_DIR}/bench_json_check.cmake")
  set_tests_properties(cli_bench_json PROPERTIES LABELS cli FIXTURES_REQUIRED cli_bench_smoke)
endif()
add_test(NAME cli_bench_png COMMAND png_check "${_bench_out}/bench.png" 800 800 500 500)
set_tests_properties(cli_bench_png PROPERTIES LABELS cli FIXTURES_REQUIRED cli_bench_smoke
                     ENVIRONMENT "${CLATTN_CLI_LSAN}")
