/* Reproducible random numbers for tests: splitmix64, uniform doubles and normally
 * distributed floats by Box-Muller. Same seed, same sequence, on every platform. */
#ifndef CLATTN_TEST_REF_RANDOM_H
#define CLATTN_TEST_REF_RANDOM_H

#include <stdint.h>

typedef struct ref_rng {
  uint64_t state;
  int has_spare;
  double spare;
} ref_rng;

void ref_rng_seed(ref_rng *rng, uint64_t seed);
uint64_t ref_rng_u64(ref_rng *rng);
/* Uniform in [0, 1), 53 random bits. */
double ref_rng_uniform(ref_rng *rng);
/* Uniform integer in [0, n), n > 0. */
uint64_t ref_rng_below(ref_rng *rng, uint64_t n);
/* Standard normal (mean 0, variance 1). */
double ref_rng_normal(ref_rng *rng);
/* Fills x[0..n) with normal values times `sigma`. */
void ref_rng_fill_normal(ref_rng *rng, float *x, uint64_t n, double sigma);

#endif
