#include "bench_util.h"

#include <math.h>
#include <stdlib.h>
#include <time.h>

double bench_now(void) {
  struct timespec ts;
  clock_gettime(CLOCK_MONOTONIC, &ts);
  return (double)ts.tv_sec + 1e-9 * (double)ts.tv_nsec;
}

cl_int bench_event_seconds(cl_event event, double *seconds) {
  cl_ulong start = 0, end = 0;
  cl_int err = clGetEventProfilingInfo(event, CL_PROFILING_COMMAND_START, sizeof start,
                                       &start, NULL);
  if (err == CL_SUCCESS) {
    err = clGetEventProfilingInfo(event, CL_PROFILING_COMMAND_END, sizeof end, &end, NULL);
  }
  if (err == CL_SUCCESS) {
    *seconds = end > start ? 1e-9 * (double)(end - start) : 0.0;
  }
  return err;
}

static int bench_double_compare(const void *a, const void *b) {
  double x = *(const double *)a;
  double y = *(const double *)b;
  return (x > y) - (x < y);
}

double bench_sort_median(double *values, int n) {
  qsort(values, (size_t)n, sizeof *values, bench_double_compare);
  return n % 2 ? values[n / 2] : 0.5 * (values[n / 2 - 1] + values[n / 2]);
}

/* xorshift64*: small, fast and the same everywhere. */
static uint64_t bench_next(uint64_t *state) {
  uint64_t x = *state;
  x ^= x >> 12;
  x ^= x << 25;
  x ^= x >> 27;
  *state = x;
  return x * 0x2545F4914F6CDD1DULL;
}

int bench_time_interleaved(cl_command_queue queue, int count, const bench_call_fn *calls,
                           void *const *args, int repeats, bench_stats *stats) {
  enum { MAX_CALLS = 8, MAX_RUNS = 100 };
  static double times[MAX_CALLS][MAX_RUNS];
  if (count < 1 || count > MAX_CALLS || repeats < 1 || repeats > MAX_RUNS) {
    return 1;
  }
  for (int i = 0; i < count; ++i) {
    if (calls[i](args[i]) != 0 || clFinish(queue) != CL_SUCCESS) {
      return i + 1;
    }
  }
  for (int r = 0; r < repeats; ++r) {
    for (int i = 0; i < count; ++i) {
      double t0 = bench_now();
      if (calls[i](args[i]) != 0 || clFinish(queue) != CL_SUCCESS) {
        return i + 1;
      }
      times[i][r] = bench_now() - t0;
    }
  }
  for (int i = 0; i < count; ++i) {
    stats[i].median_s = bench_sort_median(times[i], repeats);
    stats[i].min_s = times[i][0];
    stats[i].max_s = times[i][repeats - 1];
    stats[i].runs = repeats;
  }
  return 0;
}

void bench_fill_uniform(float *x, size_t n, float amplitude, uint64_t *seed) {
  if (*seed == 0) {
    *seed = 0x9E3779B97F4A7C15ULL; /* xorshift must not start at zero */
  }
  for (size_t i = 0; i < n; ++i) {
    double unit = (double)(bench_next(seed) >> 40) / (double)(1u << 24); /* [0, 1) */
    x[i] = (float)((2.0 * unit - 1.0) * amplitude);
  }
}

double bench_max_rel_error(const float *x, const float *ref, size_t n) {
  double diff = 0.0, scale = 0.0;
  for (size_t i = 0; i < n; ++i) {
    double d = fabs((double)x[i] - (double)ref[i]);
    if (isnan(d)) {
      return INFINITY;
    }
    diff = d > diff ? d : diff;
    double r = fabs((double)ref[i]);
    scale = r > scale ? r : scale;
  }
  if (diff == 0.0) {
    return 0.0;
  }
  return scale > 0.0 ? diff / scale : INFINITY;
}

void bench_json_string(FILE *out, const char *text) {
  fputc('"', out);
  for (const unsigned char *p = (const unsigned char *)text; *p != '\0'; ++p) {
    if (*p == '"' || *p == '\\') {
      fprintf(out, "\\%c", *p);
    } else if (*p < 0x20) {
      fprintf(out, "\\u%04x", (unsigned)*p);
    } else {
      fputc(*p, out);
    }
  }
  fputc('"', out);
}

char *bench_read_file(const char *path, size_t *length) {
  FILE *f = fopen(path, "rb");
  char *text = NULL;
  long size = -1;
  if (f != NULL && fseek(f, 0, SEEK_END) == 0) {
    size = ftell(f);
  }
  if (size >= 0 && fseek(f, 0, SEEK_SET) == 0) {
    text = malloc((size_t)size + 1);
  }
  if (text != NULL && fread(text, 1, (size_t)size, f) != (size_t)size) {
    free(text);
    text = NULL;
  }
  if (text != NULL) {
    text[size] = '\0';
    *length = (size_t)size;
  }
  if (f != NULL) {
    fclose(f);
  }
  return text;
}
