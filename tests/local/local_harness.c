#include "local_harness.h"

#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "shapes.h"

#define PAD 5     /* elements before every view */
#define CANARY 16 /* elements after every view's end */
static const uint32_t OUTPUT_FILL = 0x7fc0deadu; /* a NaN: outputs must overwrite it */

void lt_case_init(lt_case *c, const char *name, int64_t batch, int64_t q_heads,
                  int64_t kv_heads, int64_t q_len, int64_t kv_len, int64_t head_dim,
                  int64_t v_head_dim) {
  memset(c, 0, sizeof *c);
  c->name = name;
  test_desc_shape(&c->desc, batch, q_heads, kv_heads, q_len, kv_len, head_dim, v_head_dim);
  c->mode = CLATTN_LOCAL_M;
  c->window = 3;
  c->gaussian = 1;
  c->kv_type = CLATTN_F32;
  c->seed = 0x10ca1ull ^ ((uint64_t)q_len << 20) ^ ((uint64_t)kv_len << 8) ^ (uint64_t)head_dim;
}

static void *xcalloc(size_t n, size_t size) {
  void *p = calloc(n ? n : 1, size);
  if (!p) check_fail(__FILE__, __LINE__, "out of memory");
  return p;
}

/* ---- views in buffer images ------------------------------------------------------------- */

typedef struct lt_view {
  int64_t sb, sh, ss, dim;
  uint64_t offset, count; /* count: elements of the whole buffer */
} lt_view;

static lt_view make_view(lt_layout layout, int64_t B, int64_t H, int64_t S, int64_t dim) {
  lt_view v;
  int64_t row = dim + 3;
  v.dim = dim;
  v.offset = PAD;
  if (layout == LT_BSHD) {
    v.sh = row;
    v.ss = H * row;
    v.sb = S * v.ss;
  } else {
    v.ss = row;
    v.sh = S * row + (layout == LT_SPLIT ? 7 : 0);
    v.sb = H * v.sh;
  }
  v.count = v.offset + (uint64_t)((B - 1) * v.sb + (H - 1) * v.sh + (S - 1) * v.ss + dim) + CANARY;
  return v;
}

static uint64_t at(const lt_view *v, int64_t b, int64_t h, int64_t s, int64_t d) {
  return v->offset + (uint64_t)(b * v->sb + h * v->sh + s * v->ss + d);
}

static clattn_tensor tensor(cl_mem buffer, clattn_dtype dtype, const lt_view *v) {
  clattn_tensor t = {buffer, dtype, v->offset, v->sb, v->sh, v->ss};
  return t;
}

/* A buffer image of `dtype` holding the dense (B, H, S, dim) array in view v; NaN elsewhere. */
static void *image_of(clattn_dtype dtype, const lt_view *v, const float *dense, int64_t B,
                      int64_t H, int64_t S) {
  void *img = xcalloc(v->count, clattn_dtype_size(dtype));
  for (uint64_t i = 0; i < v->count; i++) ref_store(dtype, img, i, NAN);
  for (int64_t b = 0; b < B; b++)
    for (int64_t h = 0; h < H; h++)
      for (int64_t s = 0; s < S; s++)
        for (int64_t d = 0; d < v->dim; d++)
          ref_store(dtype, img, at(v, b, h, s, d), dense[((b * H + h) * S + s) * v->dim + d]);
  return img;
}

static cl_mem output_buffer(attn_env *env, const lt_view *v) {
  uint32_t *fill = xcalloc(v->count, 4);
  for (uint64_t i = 0; i < v->count; i++) fill[i] = OUTPUT_FILL;
  cl_mem m = attn_buffer(env, fill, v->count * 4);
  free(fill);
  return m;
}

/* ---- the problem ------------------------------------------------------------------------ */

typedef struct problem {
  int64_t B, Hq, Hkv, Sq, Skv, D, Dv;
  float *q, *k, *v, *w_p, *v_p;
  double *pos;
  ref_local ref;
} problem;

static void make_data(const lt_case *c, problem *p) {
  const clattn_attention_desc *d = &c->desc;
  p->B = d->batch, p->Hq = d->q_heads, p->Hkv = d->kv_heads, p->Sq = d->q_len, p->Skv = d->kv_len;
  p->D = d->head_dim, p->Dv = d->v_head_dim ? d->v_head_dim : d->head_dim;
  size_t nq = (size_t)(p->B * p->Hq * p->Sq * p->D), nk = (size_t)(p->B * p->Hkv * p->Skv * p->D);
  size_t nv = (size_t)(p->B * p->Hkv * p->Skv * p->Dv);
  p->q = xcalloc(nq, 4), p->k = xcalloc(nk, 4), p->v = xcalloc(nv, 4);
  ref_rng rng;
  ref_rng_seed(&rng, c->seed);
  ref_rng_fill_normal(&rng, p->q, nq, 1.0);
  ref_rng_fill_normal(&rng, p->k, nk, 1.0);
  ref_rng_fill_normal(&rng, p->v, nv, 1.0);
  if (c->poke) c->poke(c, p->q, p->k, p->v);
  for (size_t i = 0; i < nk; i++) p->k[i] = ref_round_to(c->kv_type, p->k[i]);
  for (size_t i = 0; i < nv; i++) p->v[i] = ref_round_to(c->kv_type, p->v[i]);
  p->w_p = p->v_p = NULL;
  if (c->p_dim > 0) {
    p->w_p = xcalloc((size_t)(c->p_dim * p->D), 4);
    p->v_p = xcalloc((size_t)c->p_dim, 4);
    ref_rng_fill_normal(&rng, p->w_p, (uint64_t)(c->p_dim * p->D), 1.0 / sqrt((double)p->D));
    ref_rng_fill_normal(&rng, p->v_p, (uint64_t)c->p_dim, c->v_p_sigma > 0 ? c->v_p_sigma : 3.0);
  }
  ref_attention_from_desc(&p->ref.attn, d);
  ref_attention *a = &p->ref.attn;
  a->kv_lens = c->kv_lens;
  a->q_lens = c->q_lens;
  a->alibi_slopes = c->alibi;
  a->mask_type = c->mask_type;
  a->mask = c->mask;
  a->mask_stride_query = p->Skv;
  a->mask_stride_head = p->Sq * p->Skv;
  a->mask_stride_batch = p->Hq * p->Sq * p->Skv;
  a->q = p->q, a->k = p->k, a->v = p->v;
  p->ref.predictive = c->mode == CLATTN_LOCAL_P;
  p->ref.window = c->window;
  p->ref.gaussian = c->gaussian;
  p->ref.positions = c->positions;
  p->ref.w_p = p->w_p, p->ref.v_p = p->v_p, p->ref.p_dim = c->p_dim;
  p->pos = xcalloc((size_t)(p->B * p->Hq * p->Sq), sizeof(double));
  ref_local_positions(&p->ref, p->pos);
}

static int64_t valid_len(const int32_t *lens, int64_t b, int64_t n) {
  if (!lens) return n;
  return lens[b] < 0 ? 0 : lens[b] > n ? n : lens[b];
}

/* Predicted positions are fp32 on the device: a p_t within 1e-3 of an integer could move a
 * window edge by one key, so such a seed is refused rather than compared loosely. The ends
 * 0 and S_b themselves are safe (sigmoid saturating there keeps p_t inside [0, S_b], which
 * keeps the edge keys D and S_b - D). Also counts the windows cut at either end. */
static void check_positions(const lt_case *c, const problem *p, lt_report *r) {
  for (int64_t b = 0; b < p->B; b++)
    for (int64_t h = 0; h < p->Hq; h++)
      for (int64_t t = 0; t < valid_len(c->q_lens, b, p->Sq); t++) {
        double x = p->pos[(b * p->Hq + h) * p->Sq + t];
        if (!isfinite(x)) continue;
        int64_t s_b = valid_len(c->kv_lens, b, p->Skv);
        int saturated = x < 1e-3 || x > (double)s_b - 1e-3;
        if (c->mode == CLATTN_LOCAL_P && !c->positions && !saturated &&
            fabs(x - nearbyint(x)) < 1e-3)
          check_fail(__FILE__, __LINE__, "%s: seed gives p_t = %.6f, too near an integer", c->name, x);
        r->edge_low += x - (double)c->window < 0.0;
        r->edge_high += x + (double)c->window > (double)(s_b - 1);
      }
}

/* K and V rows that no query of their KV head attends get poison (1e30, NaN alternately). */
static int64_t poison(const problem *p) {
  int64_t count = 0, group = p->Hq / p->Hkv;
  for (int64_t b = 0; b < p->B; b++)
    for (int64_t hk = 0; hk < p->Hkv; hk++)
      for (int64_t s = 0; s < p->Skv; s++) {
        int used = 0;
        for (int64_t h = hk * group; h < (hk + 1) * group && !used; h++)
          for (int64_t t = 0; t < p->Sq && !used; t++)
            used = ref_local_attends(&p->ref, p->pos, b, h, t, s);
        if (used) continue;
        float bad = s % 2 ? NAN : 1e30f;
        for (int64_t d = 0; d < p->D; d++) p->k[((b * p->Hkv + hk) * p->Skv + s) * p->D + d] = bad;
        for (int64_t d = 0; d < p->Dv; d++) p->v[((b * p->Hkv + hk) * p->Skv + s) * p->Dv + d] = bad;
        count++;
      }
  return count;
}

/* ---- running and checking --------------------------------------------------------------- */

typedef struct device_side {
  lt_view vq, vk, vv, vo, vl;
  cl_mem q, k, v, o, lse, kv_lens, q_lens, alibi, mask, positions, w_p, v_p;
} device_side;

static void upload(attn_env *env, const lt_case *c, const problem *p, device_side *s) {
  memset(s, 0, sizeof *s);
  s->vq = make_view(c->layout, p->B, p->Hq, p->Sq, p->D);
  s->vk = make_view(c->layout, p->B, p->Hkv, p->Skv, p->D);
  s->vv = make_view(c->layout, p->B, p->Hkv, p->Skv, p->Dv);
  s->vo = make_view(c->layout, p->B, p->Hq, p->Sq, p->Dv);
  s->vl = make_view(LT_BHSD, p->B, p->Hq, p->Sq, 1);
  const struct { cl_mem *out; clattn_dtype t; const lt_view *v; const float *x; int64_t H, S; } in[3] = {
      {&s->q, CLATTN_F32, &s->vq, p->q, p->Hq, p->Sq},
      {&s->k, c->kv_type, &s->vk, p->k, p->Hkv, p->Skv},
      {&s->v, c->kv_type, &s->vv, p->v, p->Hkv, p->Skv}};
  for (int i = 0; i < 3; i++) {
    void *img = image_of(in[i].t, in[i].v, in[i].x, p->B, in[i].H, in[i].S);
    *in[i].out = attn_buffer(env, img, in[i].v->count * clattn_dtype_size(in[i].t));
    free(img);
  }
  s->o = output_buffer(env, &s->vo);
  s->lse = output_buffer(env, &s->vl);
  if (c->kv_lens) s->kv_lens = attn_buffer(env, c->kv_lens, (size_t)p->B * 4);
  if (c->q_lens) s->q_lens = attn_buffer(env, c->q_lens, (size_t)p->B * 4);
  if (c->alibi) s->alibi = attn_buffer(env, c->alibi, (size_t)p->Hq * 4);
  if (c->mask_type != CLATTN_MASK_NONE)
    s->mask = attn_buffer(env, c->mask, (size_t)(p->B * p->Hq * p->Sq * p->Skv) *
                                            (c->mask_type == CLATTN_MASK_BOOL ? 1 : 4));
  if (c->positions) s->positions = attn_buffer(env, c->positions, (size_t)(p->B * p->Hq * p->Sq) * 4);
  if (p->w_p) s->w_p = attn_buffer(env, p->w_p, (size_t)(c->p_dim * p->D) * 4);
  if (p->v_p) s->v_p = attn_buffer(env, p->v_p, (size_t)c->p_dim * 4);
}

static void release(device_side *s) {
  cl_mem all[] = {s->q, s->k, s->v, s->o, s->lse, s->kv_lens, s->q_lens, s->alibi, s->mask,
                  s->positions, s->w_p, s->v_p};
  for (size_t i = 0; i < sizeof all / sizeof all[0]; i++)
    if (all[i]) clReleaseMemObject(all[i]);
}

/* While the gate is closed nothing may have run: the call's event is not complete and O,
 * read through the context's in-order queue, still holds its fill. Then the gate opens. */
static void gate_check(attn_env *env, const lt_case *c, cl_command_queue queue,
                       const device_side *s, cl_event event, cl_event gate, float *scratch) {
  CHECK_CL(clFlush(queue));
  CHECK_CL(clEnqueueReadBuffer(env->queue, s->o, CL_TRUE, 0, s->vo.count * 4, scratch, 0, NULL, NULL));
  for (uint64_t i = 0; i < s->vo.count; i++) {
    uint32_t bits;
    memcpy(&bits, &scratch[i], 4);
    if (bits != OUTPUT_FILL)
      check_fail(__FILE__, __LINE__, "%s: O was written before the wait list completed", c->name);
  }
  cl_int state = CL_COMPLETE;
  CHECK_CL(clGetEventInfo(event, CL_EVENT_COMMAND_EXECUTION_STATUS, sizeof state, &state, NULL));
  CHECK(state != CL_COMPLETE);
  CHECK_CL(clSetUserEventStatus(gate, CL_COMPLETE));
  clReleaseEvent(gate);
}

static void run_once(attn_env *env, const lt_case *c, const problem *p, const device_side *s,
                     int first, float *o_img, float *l_img) {
  clattn_attention_desc desc = c->desc;
  desc.kv_lens = s->kv_lens;
  desc.q_lens = s->q_lens;
  desc.alibi_slopes = s->alibi;
  desc.mask.type = c->mask_type;
  desc.mask.buffer = s->mask;
  desc.mask.stride_query = p->Skv;
  desc.mask.stride_head = p->Sq * p->Skv;
  desc.mask.stride_batch = p->Hq * p->Sq * p->Skv;
  clattn_local_desc local;
  clattn_local_desc_init(&local);
  local.mode = c->mode;
  local.window = c->window;
  local.gaussian = c->gaussian;
  local.positions = s->positions;
  local.w_p = s->w_p;
  local.v_p = s->v_p;
  local.p_dim = s->w_p ? c->p_dim : 0;
  clattn_tensor q = tensor(s->q, CLATTN_F32, &s->vq), k = tensor(s->k, c->kv_type, &s->vk);
  clattn_tensor v = tensor(s->v, c->kv_type, &s->vv), o = tensor(s->o, CLATTN_F32, &s->vo);
  clattn_tensor lse = tensor(s->lse, CLATTN_F32, &s->vl);
  cl_command_queue queue = c->queue ? c->queue : env->queue;
  cl_event event = NULL, gate = NULL;
  cl_int err = CL_SUCCESS;
  if (c->gated && first) {
    gate = clCreateUserEvent(env->cl, &err);
    CHECK_CL(err);
  }
  CHECK_OK(env->ctx, clattn_attention_local(env->ctx, queue, &desc, &local, &q, &k, &v, &o,
                                            c->no_lse ? NULL : &lse, gate ? 1 : 0,
                                            gate ? &gate : NULL, &event));
  if (gate) gate_check(env, c, queue, s, event, gate, o_img);
  CHECK_CL(clWaitForEvents(1, &event));
  clReleaseEvent(event);
  CHECK_CL(clEnqueueReadBuffer(queue, s->o, CL_TRUE, 0, s->vo.count * 4, o_img, 0, NULL, NULL));
  CHECK_CL(clEnqueueReadBuffer(queue, s->lse, CL_TRUE, 0, s->vl.count * 4, l_img, 0, NULL, NULL));
}

/* Every element outside the view still holds the fill (gaps, padding, canaries). */
static void check_untouched(const lt_case *c, const char *what, const float *img, const lt_view *v,
                            int64_t B, int64_t H, int64_t S) {
  unsigned char *inside = xcalloc(v->count, 1);
  for (int64_t b = 0; b < B; b++)
    for (int64_t h = 0; h < H; h++)
      for (int64_t s = 0; s < S; s++)
        for (int64_t d = 0; d < v->dim; d++) inside[at(v, b, h, s, d)] = 1;
  for (uint64_t i = 0; i < v->count; i++) {
    uint32_t bits;
    memcpy(&bits, &img[i], 4);
    if (!inside[i] && bits != OUTPUT_FILL)
      check_fail(__FILE__, __LINE__, "%s: %s element %llu outside the view was written", c->name,
                 what, (unsigned long long)i);
  }
  check_pass();
  free(inside);
}

static void compare(const lt_case *c, const problem *p, const device_side *s, const float *o_img,
                    const float *l_img, lt_report *r) {
  size_t rows = (size_t)(p->B * p->Hq * p->Sq);
  double *o_ref = xcalloc(rows * (size_t)p->Dv, sizeof(double)), *l_ref = xcalloc(rows, sizeof(double));
  if (ref_local_forward(&p->ref, o_ref, l_ref) != 0) check_fail(__FILE__, __LINE__, "out of memory");
  for (int64_t b = 0; b < p->B; b++)
    for (int64_t h = 0; h < p->Hq; h++)
      for (int64_t t = 0; t < p->Sq; t++) {
        size_t row = (size_t)((b * p->Hq + h) * p->Sq + t);
        double ratio;
        for (int64_t d = 0; d < p->Dv; d++) {
          float y = o_img[at(&s->vo, b, h, t, d)];
          double ref = o_ref[row * (size_t)p->Dv + (size_t)d];
          if (!attn_compare_value(CLATTN_F32, y, ref, &ratio))
            check_fail(__FILE__, __LINE__, "%s: o[%lld,%lld,%lld,%lld] = %.9g, reference %.9g (p_t %.6f)",
                       c->name, (long long)b, (long long)h, (long long)t, (long long)d, (double)y,
                       ref, p->pos[row]);
          if (ratio > r->worst) r->worst = ratio;
        }
        if (c->no_lse) continue;
        float y = l_img[at(&s->vl, b, h, t, 0)];
        if (!attn_compare_value(CLATTN_F32, y, l_ref[row], &ratio))
          check_fail(__FILE__, __LINE__, "%s: lse[%lld,%lld,%lld] = %.9g, reference %.9g", c->name,
                     (long long)b, (long long)h, (long long)t, (double)y, l_ref[row]);
        if (ratio > r->worst) r->worst = ratio;
        r->empty_rows += l_ref[row] == -INFINITY;
        r->nan_rows += isnan(l_ref[row]);
      }
  check_pass();
  free(o_ref);
  free(l_ref);
}

lt_report lt_run(attn_env *env, const lt_case *c) {
  lt_report r;
  memset(&r, 0, sizeof r);
  problem p;
  make_data(c, &p);
  check_positions(c, &p, &r);
  r.poisoned_keys = poison(&p);
  device_side s;
  upload(env, c, &p, &s);
  float *o1 = xcalloc(s.vo.count, 4), *l1 = xcalloc(s.vl.count, 4);
  float *o2 = xcalloc(s.vo.count, 4), *l2 = xcalloc(s.vl.count, 4);
  run_once(env, c, &p, &s, 1, o1, l1);
  check_untouched(c, "o", o1, &s.vo, p.B, p.Hq, p.Sq);
  if (!c->no_lse) check_untouched(c, "lse", l1, &s.vl, p.B, p.Hq, p.Sq);
  compare(c, &p, &s, o1, l1, &r);
  if (c->o_out)
    for (int64_t b = 0; b < p.B; b++)
      for (int64_t h = 0; h < p.Hq; h++)
        for (int64_t t = 0; t < p.Sq; t++)
          for (int64_t d = 0; d < p.Dv; d++)
            c->o_out[((b * p.Hq + h) * p.Sq + t) * p.Dv + d] = o1[at(&s.vo, b, h, t, d)];
  run_once(env, c, &p, &s, 0, o2, l2);
  if (memcmp(o1, o2, s.vo.count * 4) != 0 || memcmp(l1, l2, s.vl.count * 4) != 0)
    check_fail(__FILE__, __LINE__, "%s: a second run gave different bits", c->name);
  check_pass();
  printf("  %-46s worst %.3f  empty %lld  nan %lld  poisoned %lld  cut low %lld high %lld\n", c->name,
         r.worst, (long long)r.empty_rows, (long long)r.nan_rows, (long long)r.poisoned_keys,
         (long long)r.edge_low, (long long)r.edge_high);
  release(&s);
  free(o1), free(l1), free(o2), free(l2);
  free(p.q), free(p.k), free(p.v), free(p.w_p), free(p.v_p), free(p.pos);
  return r;
}
