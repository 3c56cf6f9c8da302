#include "ref_random.h"

#include <math.h>

void ref_rng_seed(ref_rng *rng, uint64_t seed) {
  rng->state = seed;
  rng->has_spare = 0;
  rng->spare = 0.0;
}

uint64_t ref_rng_u64(ref_rng *rng) {
  uint64_t z = (rng->state += 0x9e3779b97f4a7c15ull);
  z = (z ^ (z >> 30)) * 0xbf58476d1ce4e5b9ull;
  z = (z ^ (z >> 27)) * 0x94d049bb133111ebull;
  return z ^ (z >> 31);
}

double ref_rng_uniform(ref_rng *rng) { return (double)(ref_rng_u64(rng) >> 11) * 0x1.0p-53; }

uint64_t ref_rng_below(ref_rng *rng, uint64_t n) { return ref_rng_u64(rng) % n; }

double ref_rng_normal(ref_rng *rng) {
  if (rng->has_spare) {
    rng->has_spare = 0;
    return rng->spare;
  }
  double u1 = 1.0 - ref_rng_uniform(rng); /* (0, 1]: log stays finite */
  double u2 = ref_rng_uniform(rng);
  double r = sqrt(-2.0 * log(u1));
  const double two_pi = 6.283185307179586476925286766559;
  rng->spare = r * sin(two_pi * u2);
  rng->has_spare = 1;
  return r * cos(two_pi * u2);
}

void ref_rng_fill_normal(ref_rng *rng, float *x, uint64_t n, double sigma) {
  for (uint64_t i = 0; i < n; i++) x[i] = (float)(sigma * ref_rng_normal(rng));
}
