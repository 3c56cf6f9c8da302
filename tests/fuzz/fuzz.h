/* Shared pieces of clattn's fuzz targets (tests/fuzz/fuzz_*.c).
 *
 * Each target defines LLVMFuzzerTestOneInput and nothing else global. It is linked two ways:
 * with libFuzzer (clang -fsanitize=fuzzer, CLATTN_FUZZ=ON) to search for crashes, and with
 * replay_main.c into an ordinary program that CTest runs over the seed corpus and every saved
 * crash (tests/fuzz/regressions/<target>/), so the targets build and run in every build. */
#ifndef CLATTN_FUZZ_H
#define CLATTN_FUZZ_H

#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

/* A broken invariant: print it and abort, which libFuzzer reports as a crash (and the replay
 * driver as a failed test). Test code only; the library itself never aborts. */
#define FUZZ_CHECK(cond)                                                                \
  do {                                                                                  \
    if (!(cond)) {                                                                      \
      fprintf(stderr, "%s:%d: FUZZ_CHECK(%s) failed\n", __FILE__, __LINE__, #cond);     \
      abort();                                                                          \
    }                                                                                   \
  } while (0)

/* Reads the fuzzer's bytes front to back; past the end every read gives 0. */
typedef struct fuzz_reader {
  const uint8_t *data;
  size_t size, pos;
} fuzz_reader;

static inline uint8_t fuzz_u8(fuzz_reader *r) {
  return r->pos < r->size ? r->data[r->pos++] : 0;
}

#endif
