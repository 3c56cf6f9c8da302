#!/usr/bin/env bash
# Runs CTest tests under valgrind's memcheck: host code only (a plain gcc build, no
# sanitizers) in build-valgrind/. Every test whose command is a program built here runs as
#   valgrind --tool=memcheck --error-exitcode=1 --leak-check=full
#            --suppressions=tests/valgrind/pocl.supp ...
# (CMAKE_CROSSCOMPILING_EMULATOR; the CLI tests that go through `cmake -P` run natively), and
# any memcheck error or definite/possible leak fails the test.
#
#   tests/valgrind/run_memcheck.sh [CTEST_ARGS...]
#
# Default selection (CTEST_ARGS empty): $CLATTN_MEMCHECK_TESTS, else the subset below (about 6
# minutes here, test_tuning_file taking 5 of them): context, device and interop handling,
# kernel sources, attention forward's argument errors and robustness (poison, empty rows), the
# ONNX TensorProto reader, the tuning file, and the npy/tensorproto/tuning fuzz replays.
# Left out: test_cache (it re-executes itself through /proc/self/exe, which under valgrind is
# valgrind's own tool binary), and the tests that compile many kernel variants, which under
# valgrind take 10 minutes or more each (LLVM runs under valgrind whenever PoCL's kernel cache
# misses): test_attention_masks, test_attention_views, test_kv_cache, test_prebuilt,
# test_build_failure, fuzz_replay_attention (9.5 minutes), and the rest of the suite.
# Pass e.g. `-R .` for the whole suite (hours on a 2-core PoCL machine) or `-R test_mha`.
# The OpenCL kernels themselves run under valgrind too (PoCL executes them in-process), which
# is what makes this slow; PoCL's kernel cache (~/.cache/pocl) spares most compilations.
set -euo pipefail

cd "$(dirname -- "${BASH_SOURCE[0]}")/../.."
root=$(pwd -P)
if ! command -v valgrind >/dev/null 2>&1; then
  echo "run_memcheck: error: valgrind not found (Debian: apt-get install valgrind)" >&2
  exit 1
fi
default='^(test_status|test_devices|test_context|test_interop|test_defines|test_sources|'
default+='test_attention_errors|test_attention_robustness|test_tensorproto|test_tuning_file|'
default+='fuzz_replay_(npy|tensorproto|tuning))$'
args=("$@")
[[ ${#args[@]} -gt 0 ]] || args=(-R "${CLATTN_MEMCHECK_TESTS:-$default}")

valgrind_cmd="valgrind;--tool=memcheck;--error-exitcode=1;--leak-check=full"
valgrind_cmd+=";--errors-for-leak-kinds=definite,possible;--show-leak-kinds=definite,possible"
valgrind_cmd+=";--suppressions=$root/tests/valgrind/pocl.supp;--num-callers=40"
valgrind_cmd+=";--gen-suppressions=all"
cmake -S "$root" -B "$root/build-valgrind" -DCMAKE_BUILD_TYPE=RelWithDebInfo \
  -DCLATTN_BUILD_BENCH=OFF "-DCMAKE_CROSSCOMPILING_EMULATOR=$valgrind_cmd" >/dev/null
cmake --build "$root/build-valgrind" --parallel "${CLATTN_MEMCHECK_JOBS:-2}"
start=$SECONDS
ctest --test-dir "$root/build-valgrind" --output-on-failure --no-tests=error \
  --parallel "${CLATTN_MEMCHECK_JOBS:-2}" "${args[@]}"
echo "run_memcheck: clean ($((SECONDS - start))s)"
