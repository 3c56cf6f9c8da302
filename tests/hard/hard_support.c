#include "hard_support.h"

#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "shapes.h"

#define CANARY_BYTE 0xC3
#define IN_PAD 7      /* poison elements before and after Q, K and V */
#define O_OFFSET 5    /* canary elements before O's view */
#define O_TAIL 11     /* canary elements after O's view */
#define INDEX_TAIL 8  /* canary entries after the indices */
#define MASK_OFFSET 3 /* junk elements before the mask tensor */

static void *xmalloc(size_t bytes) {
  void *p = malloc(bytes ? bytes : 1);
  if (!p) check_fail(__FILE__, __LINE__, "out of memory (%zu bytes)", bytes);
  return p;
}

/* ---- Philox and the Gumbel noise (a copy of cl/hard.cl, statement for statement) -------- */

void hd_philox(const uint32_t ctr[4], const uint32_t key[2], uint32_t out[4]) {
  uint32_t c[4] = {ctr[0], ctr[1], ctr[2], ctr[3]}, k0 = key[0], k1 = key[1];
  for (int round = 0; round < 10; round++) {
    if (round > 0) {
      k0 += 0x9E3779B9u;
      k1 += 0xBB67AE85u;
    }
    uint64_t p0 = (uint64_t)0xD2511F53u * c[0], p1 = (uint64_t)0xCD9E8D57u * c[2];
    uint32_t next[4] = {(uint32_t)(p1 >> 32) ^ c[1] ^ k0, (uint32_t)p1,
                        (uint32_t)(p0 >> 32) ^ c[3] ^ k1, (uint32_t)p0};
    memcpy(c, next, sizeof c);
  }
  memcpy(out, c, sizeof c);
}

#define SQRT_HALF 0.707106781186547524f

/* Every product and sum is its own statement or an explicit fmaf, so that no compiler may
 * contract them differently from the kernel (which is built with FP_CONTRACT OFF). */
static float log_core(int e, float f) {
  const float fe = (float)e;
  float z = f * f;
  float p = fmaf(7.0376836292e-2f, f, -1.1514610310e-1f);
  p = fmaf(p, f, 1.1676998740e-1f);
  p = fmaf(p, f, -1.2420140846e-1f);
  p = fmaf(p, f, 1.4249322787e-1f);
  p = fmaf(p, f, -1.6668057665e-1f);
  p = fmaf(p, f, 2.0000714765e-1f);
  p = fmaf(p, f, -2.4999993993e-1f);
  p = fmaf(p, f, 3.3333331174e-1f);
  float pf = p * f;
  float y = pf * z;
  y = fmaf(-2.12194440e-4f, fe, y);
  y = fmaf(-0.5f, z, y);
  float r = f + y;
  return fmaf(0.693359375f, fe, r);
}

static float log_positive(float x) {
  uint32_t bits;
  memcpy(&bits, &x, sizeof bits);
  int e = (int)(bits >> 23) - 126;
  uint32_t mbits = (bits & 0x007fffffu) | 0x3f000000u;
  float m;
  memcpy(&m, &mbits, sizeof m);
  if (m < SQRT_HALF) {
    float twice = m + m;
    return log_core(e - 1, twice - 1.0f);
  }
  return log_core(e, m - 1.0f);
}

static float neg_log_uniform(uint32_t u) {
  if (u < 0x800000u) {
    float half_up = (float)u + 0.5f;
    return -log_positive(half_up * 0x1p-24f);
  }
  float w = (float)(0xffffffu - u) + 0.5f;
  w = w * 0x1p-24f;
  if (w > 1.0f - SQRT_HALF) {
    float twice = w + w;
    return -log_core(-1, 1.0f - twice);
  }
  return -log_core(0, -w);
}

float hd_gumbel_of_bits(uint32_t u) { return -log_positive(neg_log_uniform(u & 0xffffffu)); }

float hd_gumbel(uint64_t seed, uint32_t j, uint32_t draw, uint32_t t, uint32_t bh) {
  const uint32_t ctr[4] = {j, draw, t, bh};
  const uint32_t key[2] = {(uint32_t)seed, (uint32_t)(seed >> 32)};
  uint32_t x[4];
  hd_philox(ctr, key, x);
  return hd_gumbel_of_bits(x[0] >> 8);
}

/* ---- cases and data --------------------------------------------------------------------- */

void hd_case_init(hd_case *c, const char *name, int64_t batch, int64_t q_heads,
                  int64_t kv_heads, int64_t q_len, int64_t kv_len, int64_t head_dim,
                  int64_t v_head_dim) {
  memset(c, 0, sizeof *c);
  c->name = name;
  test_desc_shape(&c->desc, batch, q_heads, kv_heads, q_len, kv_len, head_dim, v_head_dim);
  c->hard.mode = CLATTN_HARD_SAMPLE;
  c->hard.draws = 1;
  c->hard.seed = 1;
  c->q_type = c->k_type = c->v_type = c->o_type = CLATTN_F32;
  c->o_gap = 2;
  c->with_indices = 1;
  c->mask_type = CLATTN_MASK_NONE;
  c->data_seed = 0x4a8d ^ (uint64_t)(batch * 131 + q_heads * 17 + q_len * 7 + kv_len);
  c->sigma = 1.0;
}

static int64_t v_dim_of(const hd_case *c) {
  return c->desc.v_head_dim ? c->desc.v_head_dim : c->desc.head_dim;
}

static void fill(ref_rng *rng, clattn_dtype dtype, float *x, uint64_t n, double sigma) {
  ref_rng_fill_normal(rng, x, n, sigma);
  for (uint64_t i = 0; i < n; i++) x[i] = ref_round_to(dtype, x[i]);
}

void hd_data_make(const hd_case *c, hd_data *data) {
  const clattn_attention_desc *d = &c->desc;
  const uint64_t nq = (uint64_t)(d->batch * d->q_heads * d->q_len * d->head_dim);
  const uint64_t nk = (uint64_t)(d->batch * d->kv_heads * d->kv_len * d->head_dim);
  const uint64_t nv = (uint64_t)(d->batch * d->kv_heads * d->kv_len * v_dim_of(c));
  ref_rng rng;
  ref_rng_seed(&rng, c->data_seed);
  data->q = xmalloc(nq * sizeof(float));
  data->k = xmalloc(nk * sizeof(float));
  data->v = xmalloc(nv * sizeof(float));
  fill(&rng, c->q_type, data->q, nq, c->sigma);
  fill(&rng, c->k_type, data->k, nk, c->sigma);
  fill(&rng, c->v_type, data->v, nv, 1.0);
  if (c->poke) c->poke(c, data->q, data->k, data->v);
  for (uint64_t i = 0; i < nq; i++) data->q[i] = ref_round_to(c->q_type, data->q[i]);
  for (uint64_t i = 0; i < nk; i++) data->k[i] = ref_round_to(c->k_type, data->k[i]);
  for (uint64_t i = 0; i < nv; i++) data->v[i] = ref_round_to(c->v_type, data->v[i]);
}

void hd_data_free(hd_data *data) {
  free(data->q);
  free(data->k);
  free(data->v);
  memset(data, 0, sizeof *data);
}

void hd_ref(const hd_case *c, const hd_data *data, ref_attention *p) {
  const clattn_attention_desc *d = &c->desc;
  ref_attention_from_desc(p, d);
  p->kv_lens = c->kv_lens;
  p->q_lens = c->q_lens;
  p->mask_type = c->mask_type;
  p->mask = c->mask;
  p->mask_offset = 0;
  p->mask_stride_query = d->kv_len;
  p->mask_stride_head = d->q_len * d->kv_len;
  p->mask_stride_batch = d->q_heads * d->q_len * d->kv_len;
  p->alibi_slopes = c->alibi;
  p->q = data->q;
  p->k = data->k;
  p->v = data->v;
}

/* ---- the host selection ----------------------------------------------------------------- */

static int64_t clamp64(int64_t x, int64_t lo, int64_t hi) { return x < lo ? lo : x > hi ? hi : x; }

float hd_score(const hd_case *c, const hd_data *data, int64_t b, int64_t h, int64_t t,
               int64_t j) {
  const clattn_attention_desc *d = &c->desc;
  const int64_t D = d->head_dim, hk = h / (d->q_heads / d->kv_heads);
  const float scale = d->scale != 0.0f ? d->scale : (float)(1.0 / sqrt((double)D));
  const float *q = data->q + ((b * d->q_heads + h) * d->q_len + t) * D;
  const float *k = data->k + ((b * d->kv_heads + hk) * d->kv_len + j) * D;
  float s = 0.0f;
  for (int64_t e = 0; e < D; e++) {
    float qs = q[e] * scale;
    s = fmaf(qs, k[e], s);
  }
  if (d->softcap != 0.0f) s = d->softcap * tanhf(s / d->softcap);
  if (c->alibi) {
    int64_t qlen = c->q_lens ? clamp64(c->q_lens[b], 0, d->q_len) : d->q_len;
    int64_t kvlen = c->kv_lens ? clamp64(c->kv_lens[b], 0, d->kv_len) : d->kv_len;
    int64_t aligned = d->alignment == CLATTN_ALIGN_BOTTOM_RIGHT ? t + kvlen - qlen : t;
    int64_t distance = aligned > j ? aligned - j : j - aligned;
    s = fmaf(-c->alibi[h], (float)distance, s);
  }
  if (c->mask_type == CLATTN_MASK_ADDITIVE) {
    const float *m = c->mask;
    s = s + m[((b * d->q_heads + h) * d->q_len + t) * d->kv_len + j];
  }
  return s;
}

int hd_choice(const hd_case *c, const hd_data *data, int64_t b, int64_t h, int64_t t,
              int64_t d, float *margin) {
  ref_attention p;
  hd_ref(c, data, &p);
  const int argmax = c->hard.mode == CLATTN_HARD_ARGMAX;
  const uint32_t draw = (uint32_t)d + c->hard.offset;
  const uint32_t bh = (uint32_t)(b * c->desc.q_heads + h);
  float best = -INFINITY, second = -INFINITY;
  int chosen = -1, nan_key = -1;
  for (int64_t j = 0; j < c->desc.kv_len; j++) {
    if (!ref_attention_allowed(&p, b, h, t, j)) continue;
    float s = hd_score(c, data, b, h, t, j);
    if (s == -INFINITY) continue;
    if (isnan(s)) {
      if (nan_key < 0) nan_key = (int)j;
      continue;
    }
    float z = argmax ? s : s + hd_gumbel(c->hard.seed, (uint32_t)j, draw, (uint32_t)t, bh);
    if (z > best) {
      second = best;
      best = z;
      chosen = (int)j;
    } else if (z > second) {
      second = z;
    }
  }
  if (nan_key >= 0) {
    *margin = NAN;
    return nan_key;
  }
  *margin = chosen < 0 || second == -INFINITY ? INFINITY : best - second;
  return chosen;
}

/* ---- one call on real buffers ---------------------------------------------------------- */

typedef struct o_layout {
  int64_t rows, row, sb, sh, ss; /* rows = Sq * draws; row = Dv + gap */
  uint64_t count;                /* elements of the whole buffer */
} o_layout;

static o_layout o_layout_of(const hd_case *c) {
  const clattn_attention_desc *d = &c->desc;
  o_layout l;
  l.rows = d->q_len * c->hard.draws;
  l.row = v_dim_of(c) + c->o_gap;
  if (c->o_bshd) {
    l.sh = l.row;
    l.ss = d->q_heads * l.row;
    l.sb = l.rows * l.ss;
  } else {
    l.ss = l.row;
    l.sh = l.rows * l.row;
    l.sb = d->q_heads * l.sh;
  }
  l.count = O_OFFSET + (uint64_t)(d->batch * l.sb) + O_TAIL;
  return l;
}

static uint64_t o_index(const o_layout *l, int64_t b, int64_t h, int64_t r, int64_t e) {
  return O_OFFSET + (uint64_t)(b * l->sb + h * l->sh + r * l->ss + e);
}

/* An input tensor: dense data behind IN_PAD poison elements, followed by IN_PAD more. */
static cl_mem input_buffer(attn_env *env, clattn_dtype dtype, const float *x, uint64_t n) {
  const size_t size = clattn_dtype_size(dtype);
  unsigned char *image = xmalloc((n + 2 * IN_PAD) * size);
  for (uint64_t i = 0; i < n + 2 * IN_PAD; i++)
    ref_store(dtype, image, i, i < IN_PAD || i >= n + IN_PAD ? NAN : x[i - IN_PAD]);
  cl_mem m = attn_buffer(env, image, (n + 2 * IN_PAD) * size);
  free(image);
  return m;
}

static clattn_tensor input_view(cl_mem buffer, clattn_dtype dtype, int64_t heads, int64_t seq,
                                int64_t dim) {
  return clattn_tensor_contiguous(buffer, dtype, CLATTN_LAYOUT_BHSD, heads, seq, dim, IN_PAD);
}

typedef struct buffers {
  cl_mem q, k, v, o, indices, mask, kv_lens, q_lens, alibi;
} buffers;

static void make_rule_buffers(attn_env *env, const hd_case *c, clattn_attention_desc *desc,
                              buffers *m) {
  const clattn_attention_desc *d = &c->desc;
  if (c->kv_lens) m->kv_lens = attn_buffer(env, c->kv_lens, (size_t)d->batch * 4);
  if (c->q_lens) m->q_lens = attn_buffer(env, c->q_lens, (size_t)d->batch * 4);
  if (c->alibi) m->alibi = attn_buffer(env, c->alibi, (size_t)d->q_heads * 4);
  desc->kv_lens = m->kv_lens;
  desc->q_lens = m->q_lens;
  desc->alibi_slopes = m->alibi;
  if (c->mask_type == CLATTN_MASK_NONE) return;
  const size_t size = c->mask_type == CLATTN_MASK_BOOL ? 1 : 4;
  const size_t n = (size_t)(d->batch * d->q_heads * d->q_len * d->kv_len);
  unsigned char *image = xmalloc((n + MASK_OFFSET) * size);
  memset(image, 0x7f, MASK_OFFSET * size); /* junk: a huge additive value, or "attend" */
  memcpy(image + MASK_OFFSET * size, c->mask, n * size);
  m->mask = attn_buffer(env, image, (n + MASK_OFFSET) * size);
  free(image);
  desc->mask.type = c->mask_type;
  desc->mask.buffer = m->mask;
  desc->mask.offset = MASK_OFFSET;
  desc->mask.stride_query = d->kv_len;
  desc->mask.stride_head = d->q_len * d->kv_len;
  desc->mask.stride_batch = d->q_heads * d->q_len * d->kv_len;
}

static void release(buffers *m) {
  cl_mem all[9] = {m->q, m->k, m->v, m->o, m->indices, m->mask, m->kv_lens, m->q_lens, m->alibi};
  for (int i = 0; i < 9; i++)
    if (all[i]) clReleaseMemObject(all[i]);
}

/* Checks canaries and gaps of O, decodes its view into r->o; checks the indices' tail. */
static void collect(const hd_case *c, const o_layout *l, const unsigned char *image,
                    const int32_t *indices, uint64_t n_indices, hd_result *r) {
  const clattn_attention_desc *d = &c->desc;
  const size_t size = clattn_dtype_size(c->o_type);
  const int64_t Dv = v_dim_of(c);
  unsigned char *inside = xmalloc(l->count);
  memset(inside, 0, l->count);
  r->o = xmalloc((size_t)(d->batch * d->q_heads * l->rows * Dv) * sizeof(float));
  for (int64_t b = 0; b < d->batch; b++)
    for (int64_t h = 0; h < d->q_heads; h++)
      for (int64_t row = 0; row < l->rows; row++)
        for (int64_t e = 0; e < Dv; e++) {
          uint64_t at = o_index(l, b, h, row, e);
          inside[at] = 1;
          r->o[((b * d->q_heads + h) * l->rows + row) * Dv + e] = ref_load(c->o_type, image, at);
        }
  for (uint64_t i = 0; i < l->count; i++)
    for (size_t byte = 0; !inside[i] && byte < size; byte++)
      if (image[i * size + byte] != CANARY_BYTE)
        check_fail(__FILE__, __LINE__, "%s: O element %llu outside the view was written",
                   c->name, (unsigned long long)i);
  check_pass();
  free(inside);
  const unsigned char *tail = (const unsigned char *)(indices + n_indices);
  for (size_t i = 0; i < INDEX_TAIL * sizeof(int32_t); i++)
    if (tail[i] != CANARY_BYTE)
      check_fail(__FILE__, __LINE__, "%s: indices canary byte %zu after the %llu entries written",
                 c->name, i, (unsigned long long)n_indices);
  check_pass();
  r->indices = xmalloc(n_indices * sizeof(int32_t));
  memcpy(r->indices, indices, n_indices * sizeof(int32_t));
}

static int same_float(float a, float b) {
  return (isnan(a) && isnan(b)) || memcmp(&a, &b, sizeof a) == 0;
}

/* Every O row is the V row of its index, zeros for -1, or (when allowed) all NaN. */
static void check_rows(const hd_case *c, const hd_data *data, int nan_rows, const hd_result *r) {
  const clattn_attention_desc *d = &c->desc;
  const int64_t Dv = v_dim_of(c), rows = d->q_len * c->hard.draws;
  const int64_t group = d->q_heads / d->kv_heads;
  for (int64_t b = 0; b < d->batch; b++)
    for (int64_t h = 0; h < d->q_heads; h++)
      for (int64_t row = 0; row < rows; row++) {
        const int64_t at = (b * d->q_heads + h) * rows + row;
        const int32_t index = r->indices[at];
        const float *o = r->o + at * Dv;
        if (index < -1 || index >= d->kv_len)
          check_fail(__FILE__, __LINE__, "%s: index %d out of range at (%lld, %lld, row %lld)",
                     c->name, index, (long long)b, (long long)h, (long long)row);
        int nan_row = nan_rows && index >= 0 && isnan(o[0]);
        for (int64_t e = 0; e < Dv; e++) {
          float want = index < 0 ? 0.0f
                       : nan_row ? NAN
                                 : ref_round_to(c->o_type,
                                                data->v[((b * d->kv_heads + h / group) * d->kv_len +
                                                         index) * Dv + e]);
          if (!same_float(o[e], want))
            check_fail(__FILE__, __LINE__,
                       "%s: O (%lld, %lld, row %lld, %lld) = %.9g, expected %.9g (index %d)",
                       c->name, (long long)b, (long long)h, (long long)row, (long long)e,
                       (double)o[e], (double)want, index);
        }
      }
  check_pass();
}

void hd_run(attn_env *env, const hd_case *c, const hd_data *data, int nan_rows, hd_result *r) {
  const clattn_attention_desc *d = &c->desc;
  const int64_t Dv = v_dim_of(c);
  buffers m;
  memset(&m, 0, sizeof m);
  clattn_attention_desc desc = *d;
  make_rule_buffers(env, c, &desc, &m);
  m.q = input_buffer(env, c->q_type, data->q,
                     (uint64_t)(d->batch * d->q_heads * d->q_len * d->head_dim));
  m.k = input_buffer(env, c->k_type, data->k,
                     (uint64_t)(d->batch * d->kv_heads * d->kv_len * d->head_dim));
  m.v = input_buffer(env, c->v_type, data->v, (uint64_t)(d->batch * d->kv_heads * d->kv_len * Dv));
  clattn_tensor q = input_view(m.q, c->q_type, d->q_heads, d->q_len, d->head_dim);
  clattn_tensor k = input_view(m.k, c->k_type, d->kv_heads, d->kv_len, d->head_dim);
  clattn_tensor v = input_view(m.v, c->v_type, d->kv_heads, d->kv_len, Dv);

  /* O: NaN inside the view (so an element left unwritten shows), canaries elsewhere. */
  const o_layout l = o_layout_of(c);
  const size_t size = clattn_dtype_size(c->o_type);
  unsigned char *image = xmalloc(l.count * size);
  memset(image, CANARY_BYTE, l.count * size);
  for (int64_t b = 0; b < d->batch; b++)
    for (int64_t h = 0; h < d->q_heads; h++)
      for (int64_t row = 0; row < l.rows; row++)
        for (int64_t e = 0; e < Dv; e++)
          ref_store(c->o_type, image, o_index(&l, b, h, row, e), NAN);
  m.o = attn_buffer(env, image, l.count * size);
  clattn_tensor o = {m.o, c->o_type, O_OFFSET, l.sb, l.sh, l.ss};
  const uint64_t n_indices = (uint64_t)(d->batch * d->q_heads) * (uint64_t)l.rows;
  int32_t *indices = xmalloc((n_indices + INDEX_TAIL) * sizeof(int32_t));
  memset(indices, CANARY_BYTE, (n_indices + INDEX_TAIL) * sizeof(int32_t));
  if (c->with_indices) m.indices = attn_buffer(env, indices, (n_indices + INDEX_TAIL) * 4);

  cl_event done = NULL;
  clattn_status status = clattn__attention_hard_with(env->ctx, c->queue, &desc, &c->hard, &q, &k,
                                                     &v, &o, m.indices, c->num_wait, c->wait, &done,
                                                     c->config);
  if (status != CLATTN_SUCCESS)
    check_fail(__FILE__, __LINE__, "%s: clattn_attention_hard: %s: %s", c->name,
               clattn_status_name(status), clattn_last_error(env->ctx));
  if (c->after_enqueue) c->after_enqueue(c, done);
  CHECK_CL(clWaitForEvents(1, &done));
  clReleaseEvent(done);
  attn_read(env, m.o, image, l.count * size);
  if (c->with_indices) attn_read(env, m.indices, indices, (n_indices + INDEX_TAIL) * 4);
  collect(c, &l, image, indices, n_indices, r);
  if (c->with_indices) check_rows(c, data, nan_rows, r);
  free(image);
  free(indices);
  release(&m);
}

void hd_result_free(hd_result *r) {
  free(r->indices);
  free(r->o);
  memset(r, 0, sizeof *r);
}

int hd_result_equal(const hd_case *c, const hd_result *a, const hd_result *b) {
  const clattn_attention_desc *d = &c->desc;
  const size_t rows = (size_t)(d->batch * d->q_heads * d->q_len * c->hard.draws);
  if (memcmp(a->indices, b->indices, rows * sizeof(int32_t)) != 0) return 0;
  return memcmp(a->o, b->o, rows * (size_t)v_dim_of(c) * sizeof(float)) == 0;
}

/* ---- chi-square ------------------------------------------------------------------------- */

/* Regularized lower incomplete gamma P(a, x) by its series (x < a + 1). */
static double gamma_series(double a, double x) {
  double term = 1.0 / a, sum = term;
  for (int n = 1; n < 10000 && fabs(term) > fabs(sum) * 1e-16; n++) {
    term *= x / (a + n);
    sum += term;
  }
  return sum * exp(-x + a * log(x) - lgamma(a));
}

/* Regularized upper incomplete gamma Q(a, x) by its continued fraction (modified Lentz),
 * for x >= a + 1. */
static double gamma_fraction(double a, double x) {
  const double tiny = 1e-300;
  double b = x + 1.0 - a, c = 1.0 / tiny, d = 1.0 / b, h = d;
  for (int i = 1; i < 10000; i++) {
    double an = -i * (i - a);
    b += 2.0;
    d = an * d + b;
    if (fabs(d) < tiny) d = tiny;
    c = b + an / c;
    if (fabs(c) < tiny) c = tiny;
    d = 1.0 / d;
    double delta = d * c;
    h *= delta;
    if (fabs(delta - 1.0) < 1e-16) break;
  }
  return exp(-x + a * log(x) - lgamma(a)) * h;
}

double hd_chi2_pvalue(double x, double dof) {
  double a = dof / 2.0, half = x / 2.0;
  if (half <= 0.0) return 1.0;
  return half < a + 1.0 ? 1.0 - gamma_series(a, half) : gamma_fraction(a, half);
}
