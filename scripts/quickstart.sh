#!/bin/sh
# clattn quick start for a fresh Debian 12 machine (or any Debian/Ubuntu with these packages):
#
#   ./scripts/quickstart.sh demo   # install what is missing, build, run `clattn demo`
#   ./scripts/quickstart.sh test   # install what is missing, build, run the test suite
#
# Steps: (1) install the missing Debian packages below with apt-get (as root, or through
# sudo); (2) configure with the `default` CMake preset (Release, in build/); (3) build with
# all cores; (4) run the demo or `ctest --preset default`. Safe to run again: packages
# already installed are left alone and the build is incremental. Works from any directory.
# Extra arguments go to `clattn demo` or to ctest, e.g. `quickstart.sh test -L install`.
#
# Environment: CLATTN_SKIP_DEPS=1 skips step 1 (e.g. on a system without dpkg/apt).

set -eu

PACKAGES="cmake gcc libc6-dev make pkg-config ocl-icd-opencl-dev opencl-headers pocl-opencl-icd libclblast-dev"

usage() {
  echo "usage: $0 demo|test [arguments for clattn demo / ctest]" >&2
  exit 2
}

step() {
  printf '\n==> %s\n' "$*"
}

die() {
  printf 'quickstart: error: %s\n' "$*" >&2
  exit 1
}

[ $# -ge 1 ] || usage
mode=$1
shift
case "$mode" in
  demo | test) ;;
  *) usage ;;
esac

# The repository root is this script's parent directory.
repo_root=$(CDPATH='' cd -- "$(dirname -- "$0")/.." && pwd -P)
cd "$repo_root"
[ -f CMakePresets.json ] || die "no CMakePresets.json in $repo_root"

# ---- 1. Debian packages ------------------------------------------------------------------
install_missing_packages() {
  if ! command -v dpkg-query >/dev/null 2>&1 || ! command -v apt-get >/dev/null 2>&1; then
    echo "dpkg-query/apt-get not found: not a Debian-based system, skipping package" \
      "installation. Install the equivalents of: $PACKAGES"
    return 0
  fi
  missing=""
  for pkg in $PACKAGES; do
    status=$(dpkg-query -W -f='${db:Status-Abbrev}' "$pkg" 2>/dev/null || true)
    case "$status" in
      ii*) ;;
      *) missing="$missing $pkg" ;;
    esac
  done
  if [ -z "$missing" ]; then
    echo "all required packages are installed: $PACKAGES"
    return 0
  fi
  echo "missing packages:$missing"
  if [ "$(id -u)" -eq 0 ]; then
    as_root=""
  elif command -v sudo >/dev/null 2>&1; then
    as_root="sudo"
  else
    die "installing$missing needs root: run this script as root, install sudo, or install" \
      "those packages yourself (then set CLATTN_SKIP_DEPS=1)"
  fi
  # `env` is the command sudo runs, so the variable reaches apt-get whatever sudoers says.
  $as_root env DEBIAN_FRONTEND=noninteractive apt-get update
  # shellcheck disable=SC2086 # word splitting of the package list is intended
  $as_root env DEBIAN_FRONTEND=noninteractive apt-get install -y --no-install-recommends \
    $missing
}

if [ "${CLATTN_SKIP_DEPS:-0}" = 1 ]; then
  step "1/4 packages: skipped (CLATTN_SKIP_DEPS=1)"
else
  step "1/4 packages: checking $PACKAGES"
  install_missing_packages
fi

# ---- 2. configure ------------------------------------------------------------------------
jobs=$(nproc 2>/dev/null || getconf _NPROCESSORS_ONLN 2>/dev/null || echo 2)

step "2/4 configure: cmake --preset default (in $repo_root)"
cmake --preset default

# ---- 3. build ----------------------------------------------------------------------------
step "3/4 build: cmake --build --preset default --parallel $jobs"
cmake --build --preset default --parallel "$jobs"

# ---- 4. demo or tests --------------------------------------------------------------------
if [ "$mode" = demo ]; then
  step "4/4 demo: ./build/clattn demo $*"
  ./build/clattn demo "$@"
else
  step "4/4 test: ctest --preset default $*"
  ctest --preset default "$@"
fi
