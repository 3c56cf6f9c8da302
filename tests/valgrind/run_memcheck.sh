#!/usr/bin/env bash
# Runs the CTest suite under valgrind's memcheck: host code only (a plain gcc build, no
# sanitizers) in build-valgrind/. Every test whose command is a program built here runs as
#   valgrind --tool=memcheck --error-exitcode=1 --leak-check=full
#            --errors-for-leak-kinds=definite,possible --trace-children=yes
#            --suppressions=tests/valgrind/pocl.supp ...
# (CMAKE_CROSSCOMPILING_EMULATOR, through tests/valgrind/emulator.sh), and any memcheck error
# or definite/possible leak fails the test. The tests that CTest runs through `cmake -P`
# scripts (the clattn CLI tests of tests/cli and tests/tune that check the CLI's output with
# expect.cmake, and test_install_consumer) run natively, unchecked.
#
#   tests/valgrind/run_memcheck.sh [CTEST_ARGS...]
#
# With no CTEST_ARGS it runs the whole suite, or the tests matching the ctest -R regex in
# $CLATTN_MEMCHECK_TESTS; otherwise CTEST_ARGS select (e.g. `-R test_mha`).
#
# Under valgrind PoCL sees a CPU without AVX-512 (valgrind does not emulate it), so it loads
# another kernel library and names another device (pthread-haswell-... here): its kernel cache
# (~/.cache/pocl) keys differ from a native run's, and every kernel would be compiled by LLVM
# running under memcheck (ten minutes and more for many tests). So a first pass runs the same
# test programs only to fill that cache: natively with POCL_KERNELLIB_NAME=avx2 when PoCL then
# shows the same device as under valgrind (checked with `clattn devices`; a few minutes), else
# under valgrind --tool=none (an hour or more when cold). (PoCL still reports another preferred
# vector width natively, 16 instead of 8, so the local-attention kernels, which use it, are
# compiled under memcheck the first time: a few minutes.) Then clattn's own per-test disk caches
# are emptied, so that the memcheck pass builds its programs as a first run does (PoCL serving
# them from its cache), and the memcheck pass runs. The OpenCL kernels run under valgrind too
# (PoCL executes them in-process). test_fault_long, every fault of its workflow with the
# programs built each time, takes most of it (an hour or more); the other tests, under a minute
# to 20 minutes each.
#
# Environment: CLATTN_MEMCHECK_JOBS (tests at a time, default 2); CLATTN_MEMCHECK_TIMEOUT (time
# limit of each test program, default 7200 s); CLATTN_MEMCHECK_WARM=0 skips the first pass;
# CLATTN_MEMCHECK_KERNELLIB (default avx2; empty: fill the cache under --tool=none).
set -euo pipefail

cd "$(dirname -- "${BASH_SOURCE[0]}")/../.."
root=$(pwd -P)
build="$root/build-valgrind"
jobs=${CLATTN_MEMCHECK_JOBS:-2}
if ! command -v valgrind >/dev/null 2>&1; then
  echo "run_memcheck: error: valgrind not found (Debian: apt-get install valgrind)" >&2
  exit 1
fi
args=("$@")
[[ ${#args[@]} -gt 0 ]] || args=(-R "${CLATTN_MEMCHECK_TESTS:-.}")

valgrind_cmd="$root/tests/valgrind/emulator.sh;--tool=memcheck;--error-exitcode=1"
valgrind_cmd+=";--leak-check=full;--errors-for-leak-kinds=definite,possible"
valgrind_cmd+=";--show-leak-kinds=definite,possible"
valgrind_cmd+=";--suppressions=$root/tests/valgrind/pocl.supp;--num-callers=40"
valgrind_cmd+=";--gen-suppressions=all"
# Shorter superblocks: PoCL's work-group functions (the kernel's loops over a work-group,
# unrolled) can exhaust VEX's temporary storage at the default 60 ("the 'impossible' happened").
valgrind_cmd+=";--vex-guest-max-insns=25"
# test_cache starts itself again: check those processes too, not the linker PoCL runs.
valgrind_cmd+=";--trace-children=yes;--trace-children-skip=*/clang*,*/ld*,*-ld*,*/llvm-*"
cmake -S "$root" -B "$build" -DCMAKE_BUILD_TYPE=RelWithDebInfo -DCLATTN_BUILD_BENCH=OFF \
  "-DCLATTN_TEST_TIMEOUT=${CLATTN_MEMCHECK_TIMEOUT:-7200}" \
  "-DCMAKE_CROSSCOMPILING_EMULATOR=$valgrind_cmd" >/dev/null
cmake --build "$build" --parallel "$jobs"
start=$SECONDS

if [[ ${CLATTN_MEMCHECK_WARM:-1} != 0 ]]; then
  # PoCL under valgrind picks its kernel library (and so its device and cache key) from the
  # CPU valgrind presents; natively, POCL_KERNELLIB_NAME picks it. When a native run with the
  # AVX2 one shows the same device as under valgrind, this pass runs natively.
  cli="$build/clattn"
  lib=${CLATTN_MEMCHECK_KERNELLIB-avx2}
  if [[ -n $lib && -x $cli ]] &&
    seen=$(valgrind --tool=none --quiet "$cli" devices 2>/dev/null) &&
    [[ $seen == "$(POCL_KERNELLIB_NAME=$lib "$cli" devices 2>/dev/null)" ]]; then
    export CLATTN_MEMCHECK_KERNELLIB=$lib
    how="natively, POCL_KERNELLIB_NAME=$lib"
  else
    export CLATTN_MEMCHECK_KERNELLIB=
    how="under valgrind --tool=none"
  fi
  # The selected tests that run under valgrind (not the `cmake -P` ones), but test_fault_long:
  # test_fault runs the same workflow, so builds the same kernels.
  emulated=$(ctest --test-dir "$build" -N -V "${args[@]}" | awk '
    /^[0-9]+: Test command: / { emulated = ($4 ~ /\/emulator\.sh$/) }
    /^ *Test +#[0-9]+: / { if (emulated && $3 != "test_fault_long") print $3; emulated = 0 }' |
    paste -sd '|' -)
  if [[ -n $emulated ]]; then
    echo "run_memcheck: filling PoCL's kernel cache for valgrind's CPU ($how)"
    CLATTN_MEMCHECK_WARM=1 ctest --test-dir "$build" --parallel "$jobs" -R "^($emulated)\$" \
      | grep -E '^ *[0-9]+/[0-9]+ Test|tests passed' ||
      echo "run_memcheck: (failures in this pass show again under memcheck)"
  fi
  echo "run_memcheck: cache pass $((SECONDS - start))s"
fi

# clattn's per-test disk caches (tests/**/cache): empty, as in a first run.
for dir in "$build/tests" "$build/examples"; do
  [[ ! -d $dir ]] || find "$dir" -type d -name cache -prune -exec rm -rf {} +
done
memcheck_start=$SECONDS
ctest --test-dir "$build" --output-on-failure --no-tests=error --parallel "$jobs" "${args[@]}"
echo "run_memcheck: clean (memcheck pass $((SECONDS - memcheck_start))s, all $((SECONDS - start))s)"
