#!/usr/bin/env bash
# CMAKE_CROSSCOMPILING_EMULATOR of build-valgrind (see run_memcheck.sh): CTest runs every test
# program built there as
#   emulator.sh VALGRIND_OPTIONS... PROGRAM ARGS...
# which is `valgrind VALGRIND_OPTIONS... PROGRAM ARGS...` (memcheck, as run_memcheck.sh sets).
#
# With CLATTN_MEMCHECK_WARM=1 the valgrind options are dropped and the program runs only to
# fill PoCL's kernel cache for the CPU that valgrind presents (no AVX-512): natively with
# POCL_KERNELLIB_NAME=$CLATTN_MEMCHECK_KERNELLIB when that is set (run_memcheck.sh sets it
# when PoCL then names the same device as under valgrind, so its cache keys are the same), else
# under `valgrind --tool=none` (no checking, but slow: LLVM runs under valgrind).
set -euo pipefail
if [[ ${CLATTN_MEMCHECK_WARM:-0} == 1 ]]; then
  while [[ $# -gt 0 && $1 == -* ]]; do shift; done
  if [[ -n ${CLATTN_MEMCHECK_KERNELLIB:-} ]]; then
    POCL_KERNELLIB_NAME=$CLATTN_MEMCHECK_KERNELLIB exec "$@"
  fi
  exec valgrind --tool=none --quiet --trace-children=yes \
    '--trace-children-skip=*/clang*,*/ld*,*-ld*,*/llvm-*' "$@"
fi
exec valgrind "$@"
