/*
 * The table cmake/embed_kernels.cmake writes for the .cl files of bench/kernels. The script
 * is the library's (it includes "sources.h" and names its table clattn__embedded_sources);
 * bench reuses it and renames the table here, so that it never collides with the library's.
 */
#ifndef BENCH_EMBEDDED_SOURCES_H
#define BENCH_EMBEDDED_SOURCES_H

#include <stddef.h>

#define clattn__embedded_source bench_embedded_source
#define clattn__embedded_sources bench_embedded_sources
#define clattn__embedded_source_count bench_embedded_source_count

typedef struct bench_embedded_source {
  const char *name; /* file name in bench/kernels/ */
  const char *data; /* NUL-terminated */
  size_t size;      /* bytes, without the NUL */
} bench_embedded_source;

extern const bench_embedded_source bench_embedded_sources[];
extern const size_t bench_embedded_source_count;

#endif /* BENCH_EMBEDDED_SOURCES_H */
