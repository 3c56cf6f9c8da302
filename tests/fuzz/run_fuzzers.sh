#!/usr/bin/env bash
# Builds the libFuzzer targets of tests/fuzz (the `fuzz` preset: clang, ASan + UBSan, in
# build-fuzz/) and runs each for a bounded time from its seed corpus and saved regressions.
#
#   tests/fuzz/run_fuzzers.sh [SECONDS_PER_TARGET [TARGET...]]
#
# SECONDS_PER_TARGET defaults to $CLATTN_FUZZ_SECONDS, else 45; TARGETs default to all of
# attention, npy, tensorproto and tuning. New corpus entries go to build-fuzz/fuzz/corpus/<target>
# (not the source tree). A crash stops the script with a non-zero exit and leaves the input in
# build-fuzz/fuzz/artifacts/<target>/; fix the bug, then copy the input into
# tests/fuzz/regressions/<target>/ so that the fuzz_replay_<target> CTest test keeps it fixed.
# A missing clang or libFuzzer is an error, never a skip.
set -euo pipefail

cd "$(dirname -- "${BASH_SOURCE[0]}")/../.."
root=$(pwd -P)
seconds=${1:-${CLATTN_FUZZ_SECONDS:-45}}
shift || true
targets=("$@")
[[ ${#targets[@]} -gt 0 ]] || targets=(attention npy tensorproto tuning)

# The preset names `clang`; Debian's pocl-opencl-icd brings a versioned one without that name.
compiler_args=()
if ! command -v clang >/dev/null 2>&1; then
  for cc in clang-16 clang-15 clang-14; do
    if command -v "$cc" >/dev/null 2>&1; then
      compiler_args=("-DCMAKE_C_COMPILER=$cc")
      break
    fi
  done
  if [[ ${#compiler_args[@]} -eq 0 ]]; then
    echo "run_fuzzers: error: no clang found; the fuzzers need clang with libFuzzer" >&2
    exit 1
  fi
fi
cmake --preset fuzz "${compiler_args[@]}" >/dev/null
cmake --build --preset fuzz --parallel "${CLATTN_FUZZ_JOBS:-2}"

work="$root/build-fuzz/fuzz"
export CLATTN_CACHE_DIR="$work/cache" CLATTN_TUNING=0
export LSAN_OPTIONS="suppressions=$root/tests/lsan.supp:print_suppressions=0"
export UBSAN_OPTIONS="print_stacktrace=1:halt_on_error=1"
for target in "${targets[@]}"; do
  exe="$root/build-fuzz/tests/fuzz/fuzz_$target"
  [[ -x $exe ]] || { echo "run_fuzzers: error: no fuzz target '$target' ($exe)" >&2; exit 1; }
  mkdir -p "$work/corpus/$target" "$work/artifacts/$target"
  echo "== fuzz_$target: ${seconds}s"
  start=$SECONDS
  if ! "$exe" -max_total_time="$seconds" -timeout=120 -rss_limit_mb=4096 -print_final_stats=1 \
      -artifact_prefix="$work/artifacts/$target/" "$work/corpus/$target" \
      "$root/tests/fuzz/corpus/$target" "$root/tests/fuzz/regressions/$target" \
      >"$work/$target.log" 2>&1; then
    tail -n 60 "$work/$target.log" >&2
    echo "run_fuzzers: fuzz_$target FAILED; log $work/$target.log, input in $work/artifacts/$target/" >&2
    exit 1
  fi
  grep -E '^stat::number_of_executed_units|^Done ' "$work/$target.log" || true
  echo "== fuzz_$target: ok ($((SECONDS - start))s)"
done
