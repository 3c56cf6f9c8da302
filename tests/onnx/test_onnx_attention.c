/* The ONNX Attention operator conformance vectors (tests/data/onnx_attention, from the ONNX
 * project, Apache-2.0) run through clattn: every case of cases.tsv is mapped onto
 * clattn_attention_forward (and clattn_attention_weights for qk_matmul_output), and every
 * output the node produces is compared with the published one under the README's
 * tolerances. A case clattn cannot express fails; nothing is skipped.
 *
 * Usage: test_onnx_attention [data_dir] [case_name ...]   (no names: all cases) */
#include "check.h"
#include "ref_dtype.h"
#include "scratch.h"
#include "tensorproto.h"

#include <math.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#ifndef CLATTN_ONNX_DATA_DIR
#define CLATTN_ONNX_DATA_DIR "tests/data/onnx_attention"
#endif

#define EXPECTED_CASES 76
#define MAX_CASES 256
#define MAX_BUFFERS 16

/* ------------------------------------------------------------------------------------------
 * cases.tsv
 * ---------------------------------------------------------------------------------------- */

enum { IN_Q, IN_K, IN_V, IN_MASK, IN_PAST_K, IN_PAST_V, IN_NONPAD, IN_COUNT };
enum { OUT_Y, OUT_PRESENT_K, OUT_PRESENT_V, OUT_QK, OUT_COUNT };

typedef struct onnx_case {
  char name[128];
  int opset;
  char attrs[512];
  char inputs[IN_COUNT][64];   /* "" when omitted */
  char outputs[OUT_COUNT][64]; /* "" when omitted */
} onnx_case;

/* Splits `list` at commas into at most `n` slots of `slot_size` bytes; "-" is an omitted
 * slot. Returns -1 on too many entries or an overlong name. */
static int split_names(const char *list, char *slots, size_t slot_size, int n) {
  memset(slots, 0, slot_size * (size_t)n);
  if (!strcmp(list, "-")) return 0;
  int i = 0;
  const char *p = list;
  for (;;) {
    const char *comma = strchr(p, ',');
    size_t len = comma ? (size_t)(comma - p) : strlen(p);
    if (i >= n || len >= slot_size) return -1;
    if (!(len == 1 && p[0] == '-')) memcpy(slots + slot_size * (size_t)i, p, len);
    i++;
    if (!comma) break;
    p = comma + 1;
  }
  return 0;
}

static size_t load_cases(const char *dir, onnx_case *cases, size_t capacity) {
  char path[1024];
  snprintf(path, sizeof path, "%s/cases.tsv", dir);
  size_t size = 0;
  char *text = scratch_read(path, &size);
  if (!text) check_fail(__FILE__, __LINE__, "cannot read %s", path);
  size_t n = 0;
  char *save = NULL;
  for (char *line = strtok_r(text, "\n", &save); line; line = strtok_r(NULL, "\n", &save)) {
    if (line[0] == '#' || line[0] == '\0') continue;
    char *fields[6] = {0};
    int nf = 0;
    char *p = line;
    while (nf < 6) {
      fields[nf++] = p;
      char *tab = strchr(p, '\t');
      if (!tab) break;
      *tab = '\0';
      p = tab + 1;
    }
    if (nf < 5) check_fail(__FILE__, __LINE__, "cases.tsv: malformed line for %s", line);
    if (n >= capacity) check_fail(__FILE__, __LINE__, "cases.tsv: too many cases");
    onnx_case *c = &cases[n++];
    memset(c, 0, sizeof *c);
    if (strlen(fields[0]) >= sizeof c->name || strlen(fields[2]) >= sizeof c->attrs)
      check_fail(__FILE__, __LINE__, "cases.tsv: overlong field in %s", fields[0]);
    snprintf(c->name, sizeof c->name, "%s", fields[0]);
    c->opset = atoi(fields[1]);
    snprintf(c->attrs, sizeof c->attrs, "%s", fields[2]);
    if (split_names(fields[3], &c->inputs[0][0], sizeof c->inputs[0], IN_COUNT) ||
        split_names(fields[4], &c->outputs[0][0], sizeof c->outputs[0], OUT_COUNT))
      check_fail(__FILE__, __LINE__, "cases.tsv: bad input/output list in %s", c->name);
  }
  free(text);
  return n;
}

/* ------------------------------------------------------------------------------------------
 * One case
 * ---------------------------------------------------------------------------------------- */

typedef struct run_env {
  clattn_context *ctx;
  cl_context cl;
  cl_command_queue queue;
  const char *dir;
} run_env;

typedef struct case_state {
  char msg[2048]; /* failure reasons, "; "-separated */
  double worst;   /* worst |got - expected| / tolerance over every compared output */
  char detail[512];
  cl_mem buffers[MAX_BUFFERS];
  int nbuffers;
  void *host[MAX_BUFFERS];
  int nhost;
  tp_tensor in[IN_COUNT], out[OUT_COUNT];
} case_state;

static void add_msg(case_state *s, const char *fmt, ...)
#if defined(__GNUC__)
    __attribute__((format(printf, 2, 3)))
#endif
    ;

static void add_msg(case_state *s, const char *fmt, ...) {
  size_t used = strlen(s->msg);
  if (used && used + 2 < sizeof s->msg) {
    strcat(s->msg, "; ");
    used += 2;
  }
  if (used >= sizeof s->msg - 1) return;
  va_list ap;
  va_start(ap, fmt);
  vsnprintf(s->msg + used, sizeof s->msg - used, fmt, ap);
  va_end(ap);
}

static void *host_alloc(case_state *s, size_t bytes) {
  if (s->nhost >= MAX_BUFFERS) check_fail(__FILE__, __LINE__, "too many host buffers");
  void *p = calloc(1, bytes ? bytes : 1);
  if (!p) check_fail(__FILE__, __LINE__, "out of memory (%zu bytes)", bytes);
  s->host[s->nhost++] = p;
  return p;
}

/* A device buffer initialised from `data`, or filled with 0xff bytes (NaN in f32 and f16)
 * when data is NULL so that anything clattn fails to write shows up. */
static cl_mem device_buffer(const run_env *env, case_state *s, const void *data, size_t bytes) {
  if (s->nbuffers >= MAX_BUFFERS) check_fail(__FILE__, __LINE__, "too many device buffers");
  if (!bytes) bytes = 4;
  void *poison = NULL;
  if (!data) {
    poison = malloc(bytes);
    if (!poison) check_fail(__FILE__, __LINE__, "out of memory");
    memset(poison, 0xff, bytes);
  }
  cl_int err = CL_SUCCESS;
  cl_mem m = clCreateBuffer(env->cl, CL_MEM_READ_WRITE | CL_MEM_COPY_HOST_PTR, bytes,
                            (void *)(data ? data : poison), &err);
  free(poison);
  if (err != CL_SUCCESS || !m)
    check_fail(__FILE__, __LINE__, "clCreateBuffer(%zu): %s", bytes, clattn_cl_error_name(err));
  s->buffers[s->nbuffers++] = m;
  return m;
}

static void case_state_free(case_state *s) {
  for (int i = 0; i < s->nbuffers; i++) clReleaseMemObject(s->buffers[i]);
  for (int i = 0; i < s->nhost; i++) free(s->host[i]);
  for (int i = 0; i < IN_COUNT; i++) tp_free(&s->in[i]);
  for (int i = 0; i < OUT_COUNT; i++) tp_free(&s->out[i]);
}

/* The node's attributes. */
typedef struct attributes {
  int is_causal;
  int64_t q_num_heads, kv_num_heads;
  double scale, softcap;
  int qk_mode;
  int softmax_precision;
} attributes;

static int parse_attributes(const char *text, attributes *a, case_state *s) {
  memset(a, 0, sizeof *a);
  if (!strcmp(text, "-")) return 0;
  char copy[512];
  snprintf(copy, sizeof copy, "%s", text);
  char *save = NULL;
  for (char *item = strtok_r(copy, ",", &save); item; item = strtok_r(NULL, ",", &save)) {
    char *eq = strchr(item, '=');
    if (!eq) {
      add_msg(s, "attribute without value: %s", item);
      return -1;
    }
    *eq = '\0';
    const char *key = item, *value = eq + 1;
    char *end = NULL;
    double v = strtod(value, &end);
    if (end == value || *end) {
      add_msg(s, "attribute %s has a non-numeric value %s", key, value);
      return -1;
    }
    if (!strcmp(key, "is_causal")) a->is_causal = (int)v;
    else if (!strcmp(key, "q_num_heads")) a->q_num_heads = (int64_t)v;
    else if (!strcmp(key, "kv_num_heads")) a->kv_num_heads = (int64_t)v;
    else if (!strcmp(key, "scale")) a->scale = v;
    else if (!strcmp(key, "softcap")) a->softcap = v;
    else if (!strcmp(key, "qk_matmul_output_mode")) a->qk_mode = (int)v;
    else if (!strcmp(key, "softmax_precision")) a->softmax_precision = (int)v;
    else {
      add_msg(s, "attribute %s is not mapped onto clattn", key);
      return -1;
    }
  }
  return 0;
}

/* A logical (batch, heads, seq, dim) view of an ONNX Q/K/V/Y tensor: 4-D is BHSD, 3-D
 * (batch, seq, heads*dim) is BSHD with `heads` from the attributes. */
typedef struct view4 {
  int64_t b, h, s, d;
  int64_t sb, sh, ss; /* element strides; the feature axis is contiguous */
} view4;

static int make_view(case_state *s, const char *what, const tp_tensor *t, int64_t heads,
                     view4 *v) {
  memset(v, 0, sizeof *v);
  if (t->ndims == 4) {
    v->b = t->dims[0];
    v->h = t->dims[1];
    v->s = t->dims[2];
    v->d = t->dims[3];
    v->sb = v->h * v->s * v->d;
    v->sh = v->s * v->d;
    v->ss = v->d;
  } else if (t->ndims == 3) {
    if (heads <= 0 || t->dims[2] % heads) {
      add_msg(s, "%s is 3-D (last axis %lld) but the heads attribute is %lld", what,
              (long long)t->dims[2], (long long)heads);
      return -1;
    }
    v->b = t->dims[0];
    v->s = t->dims[1];
    v->h = heads;
    v->d = t->dims[2] / heads;
    v->sb = v->s * v->h * v->d;
    v->sh = v->d;
    v->ss = v->h * v->d;
  } else {
    add_msg(s, "%s has rank %d (clattn maps ranks 3 and 4)", what, t->ndims);
    return -1;
  }
  if (v->b <= 0 || v->h <= 0 || v->s <= 0 || v->d <= 0) {
    add_msg(s, "%s has an empty axis", what);
    return -1;
  }
  return 0;
}

static int storage_type(case_state *s, const char *what, const tp_tensor *t, clattn_dtype *dt) {
  if (t->data_type == TP_FLOAT) *dt = CLATTN_F32;
  else if (t->data_type == TP_FLOAT16) *dt = CLATTN_F16;
  else {
    add_msg(s, "%s has type %s (clattn stores float32, float16, bfloat16)", what,
            tp_type_name(t->data_type));
    return -1;
  }
  return 0;
}

static clattn_tensor tensor_of(cl_mem buffer, clattn_dtype dt, const view4 *v) {
  clattn_tensor t;
  memset(&t, 0, sizeof t);
  t.buffer = buffer;
  t.dtype = dt;
  t.offset = 0;
  t.stride_batch = v->sb;
  t.stride_head = v->sh;
  t.stride_seq = v->ss;
  return t;
}

static double element(const tp_tensor *t, size_t i) {
  switch (t->data_type) {
    case TP_FLOAT: {
      float f;
      memcpy(&f, t->data + 4 * i, 4);
      return f;
    }
    case TP_FLOAT16: {
      uint16_t h;
      memcpy(&h, t->data + 2 * i, 2);
      return ref_f16_to_f32(h);
    }
    case TP_DOUBLE: {
      double d;
      memcpy(&d, t->data + 8 * i, 8);
      return d;
    }
    case TP_BOOL:
    case TP_UINT8: return t->data[i] ? 1.0 : 0.0;
    case TP_INT64: {
      int64_t x;
      memcpy(&x, t->data + 8 * i, 8);
      return (double)x;
    }
    default: return NAN;
  }
}

/* Compares `got` (an image in the expected tensor's storage type) with the expected tensor
 * under the README's tolerance for that type (exact: bitwise equal); NaN and infinities
 * must match exactly. */
static void compare(case_state *s, const char *what, const tp_tensor *expected,
                    const unsigned char *got_image, int exact) {
  tp_tensor got = *expected;
  got.data = (unsigned char *)got_image;
  double abs_tol, rel_tol;
  if (exact) {
    /* A pure copy (present_key / present_value): bitwise equal, reported as ratio 0 or inf. */
    size_t bytes = expected->count * expected->elem_size, bad = 0, first_bad = 0;
    for (size_t i = 0; i < bytes; i++)
      if (got_image[i] != expected->data[i]) {
        if (!bad) first_bad = i / expected->elem_size;
        bad++;
      }
    size_t used = strlen(s->detail);
    snprintf(s->detail + used, sizeof s->detail - used, "%s%s %s", used ? ", " : "", what,
             bad ? "differs" : "exact");
    if (bad) {
      s->worst = INFINITY;
      add_msg(s, "%s: not a bitwise copy of past + new, first difference at element %zu: got "
              "%.9g expected %.9g",
              what, first_bad, element(&got, first_bad), element(expected, first_bad));
    }
    return;
  }
  if (expected->data_type == TP_FLOAT16) {
    abs_tol = 1e-3;
    rel_tol = 1e-3;
  } else {
    abs_tol = 1e-6;
    rel_tol = 1e-5;
  }
  double worst = 0.0;
  size_t bad = 0, first_bad = 0;
  double first_got = 0, first_exp = 0;
  for (size_t i = 0; i < expected->count; i++) {
    double e = element(expected, i), g = element(&got, i);
    double ratio;
    if (isnan(e) || isnan(g) || isinf(e) || isinf(g)) {
      int same = (isnan(e) && isnan(g)) || (isinf(e) && isinf(g) && (e > 0) == (g > 0));
      ratio = same ? 0.0 : INFINITY;
    } else {
      ratio = fabs(g - e) / (abs_tol + rel_tol * fabs(e));
    }
    if (ratio > worst) worst = ratio;
    if (!(ratio <= 1.0)) {
      if (!bad) {
        first_bad = i;
        first_got = g;
        first_exp = e;
      }
      bad++;
    }
  }
  if (worst > s->worst) s->worst = worst;
  size_t used = strlen(s->detail);
  snprintf(s->detail + used, sizeof s->detail - used, "%s%s %.3g", used ? ", " : "", what,
           worst);
  if (bad)
    add_msg(s, "%s: %zu of %zu elements out of tolerance (worst ratio %.3g), first at %zu: got "
            "%.9g expected %.9g",
            what, bad, expected->count, worst, first_bad, first_got, first_exp);
}

static int check_dims(case_state *s, const char *what, const tp_tensor *t, int n,
                      const int64_t *dims) {
  int ok = t->ndims == n;
  for (int i = 0; ok && i < n; i++) ok = t->dims[i] == dims[i];
  if (!ok) {
    char text[128] = "";
    for (int i = 0; i < n; i++) {
      size_t used = strlen(text);
      snprintf(text + used, sizeof text - used, "%s%lld", i ? "," : "", (long long)dims[i]);
    }
    add_msg(s, "%s: expected output has unexpected dims (clattn computes [%s])", what, text);
  }
  return ok ? 0 : -1;
}

static const char *input_slot_names[IN_COUNT] = {
    "Q", "K", "V", "attn_mask", "past_key", "past_value", "nonpad_kv_seqlen"};
static const char *output_slot_names[OUT_COUNT] = {"Y", "present_key", "present_value",
                                                    "qk_matmul_output"};

/* Concatenates past (B, Hkv, Sp, D) and new (a view4) along the sequence axis into a BHSD
 * image of (B, Hkv, Sp + Sn, D). */
static unsigned char *concat_past(case_state *s, const tp_tensor *past, const tp_tensor *now,
                                  const view4 *nv, const char *what, int64_t *total_seq) {
  if (past->ndims != 4 || past->dims[0] != nv->b || past->dims[1] != nv->h ||
      past->dims[3] != nv->d) {
    add_msg(s, "%s: past dims do not match the new tensor's (B, Hkv, *, D)", what);
    return NULL;
  }
  if (past->data_type != now->data_type) {
    add_msg(s, "%s: past and new tensors have different types", what);
    return NULL;
  }
  int64_t sp = past->dims[2], st = sp + nv->s;
  size_t es = now->elem_size, row = (size_t)nv->d * es;
  unsigned char *img = host_alloc(s, (size_t)(nv->b * nv->h * st) * row);
  for (int64_t b = 0; b < nv->b; b++)
    for (int64_t h = 0; h < nv->h; h++)
      for (int64_t j = 0; j < st; j++) {
        unsigned char *dst = img + (size_t)((b * nv->h + h) * st + j) * row;
        const unsigned char *src =
            j < sp ? past->data + (size_t)((b * nv->h + h) * sp + j) * row
                   : now->data + (size_t)(b * nv->sb + h * nv->sh + (j - sp) * nv->ss) * es;
        memcpy(dst, src, row);
      }
  *total_seq = st;
  return img;
}

static void run_case(const run_env *env, const onnx_case *c, case_state *s) {
  attributes a;
  char path[1200], err[512];
  if (parse_attributes(c->attrs, &a, s)) return;

  /* Inputs and expected outputs. */
  for (int i = 0; i < IN_COUNT; i++) {
    if (!c->inputs[i][0]) continue;
    int len = snprintf(path, sizeof path, "%s/%s/input.%s.pb", env->dir, c->name, c->inputs[i]);
    if (len < 0 || (size_t)len >= sizeof path) {
      add_msg(s, "path too long");
      return;
    }
    if (tp_load(path, &s->in[i], err, sizeof err)) {
      add_msg(s, "%s: %s", input_slot_names[i], err);
      return;
    }
  }
  for (int i = 0; i < OUT_COUNT; i++) {
    if (!c->outputs[i][0]) continue;
    int len =
        snprintf(path, sizeof path, "%s/%s/output.%s.pb", env->dir, c->name, c->outputs[i]);
    if (len < 0 || (size_t)len >= sizeof path) {
      add_msg(s, "path too long");
      return;
    }
    if (tp_load(path, &s->out[i], err, sizeof err)) {
      add_msg(s, "%s: %s", output_slot_names[i], err);
      return;
    }
  }
  if (!c->inputs[IN_Q][0] || !c->inputs[IN_K][0] || !c->inputs[IN_V][0] ||
      !c->outputs[OUT_Y][0]) {
    add_msg(s, "the case lacks Q, K, V or Y");
    return;
  }
  if (a.softmax_precision != 0 && a.softmax_precision != TP_FLOAT) {
    add_msg(s, "softmax_precision %d: clattn's softmax is always float32", a.softmax_precision);
    return;
  }

  const tp_tensor *tq = &s->in[IN_Q], *tk = &s->in[IN_K], *tv = &s->in[IN_V];
  view4 vq, vk, vv;
  if (make_view(s, "Q", tq, a.q_num_heads, &vq) || make_view(s, "K", tk, a.kv_num_heads, &vk) ||
      make_view(s, "V", tv, a.kv_num_heads, &vv))
    return;
  clattn_dtype q_dt, k_dt, v_dt, o_dt;
  if (storage_type(s, "Q", tq, &q_dt) || storage_type(s, "K", tk, &k_dt) ||
      storage_type(s, "V", tv, &v_dt) || storage_type(s, "Y", &s->out[OUT_Y], &o_dt))
    return;
  if (vk.b != vq.b || vv.b != vq.b || vk.h != vv.h || vk.s != vv.s || vk.d != vq.d) {
    add_msg(s, "Q/K/V shapes are inconsistent");
    return;
  }
  const int64_t B = vq.b, Hq = vq.h, Hkv = vk.h, Sq = vq.s, D = vq.d, Dv = vv.d;

  /* K and V on the device: the node's tensors as views, or past + new concatenated. */
  cl_mem kbuf, vbuf;
  clattn_tensor k, v;
  int64_t skv = vk.s, past_len = 0;
  int has_past = c->inputs[IN_PAST_K][0] || c->inputs[IN_PAST_V][0];
  if (has_past) {
    if (!c->inputs[IN_PAST_K][0] || !c->inputs[IN_PAST_V][0]) {
      add_msg(s, "past_key and past_value must come together");
      return;
    }
    int64_t skv_v = 0;
    unsigned char *kimg = concat_past(s, &s->in[IN_PAST_K], tk, &vk, "past_key", &skv);
    if (!kimg) return;
    unsigned char *vimg = concat_past(s, &s->in[IN_PAST_V], tv, &vv, "past_value", &skv_v);
    if (!vimg) return;
    if (skv_v != skv) {
      add_msg(s, "past_key and past_value have different lengths");
      return;
    }
    past_len = s->in[IN_PAST_K].dims[2];
    kbuf = device_buffer(env, s, kimg, (size_t)(B * Hkv * skv * D) * tk->elem_size);
    vbuf = device_buffer(env, s, vimg, (size_t)(B * Hkv * skv * Dv) * tv->elem_size);
    view4 ck = {B, Hkv, skv, D, Hkv * skv * D, skv * D, D};
    view4 cv = {B, Hkv, skv, Dv, Hkv * skv * Dv, skv * Dv, Dv};
    k = tensor_of(kbuf, k_dt, &ck);
    v = tensor_of(vbuf, v_dt, &cv);
  } else {
    kbuf = device_buffer(env, s, tk->data, tk->count * tk->elem_size);
    vbuf = device_buffer(env, s, tv->data, tv->count * tv->elem_size);
    k = tensor_of(kbuf, k_dt, &vk);
    v = tensor_of(vbuf, v_dt, &vv);
  }
  cl_mem qbuf = device_buffer(env, s, tq->data, tq->count * tq->elem_size);
  clattn_tensor q = tensor_of(qbuf, q_dt, &vq);

  clattn_attention_desc desc;
  clattn_attention_desc_init(&desc);
  desc.batch = B;
  desc.q_heads = Hq;
  desc.kv_heads = Hkv;
  desc.q_len = Sq;
  desc.kv_len = skv;
  desc.head_dim = D;
  desc.v_head_dim = Dv;
  desc.scale = (float)a.scale; /* 0: 1/sqrt(D), the ONNX default */
  desc.softcap = (float)a.softcap;

  /* nonpad_kv_seqlen → per-batch key lengths. */
  int has_nonpad = c->inputs[IN_NONPAD][0] != '\0';
  if (has_nonpad) {
    const tp_tensor *np = &s->in[IN_NONPAD];
    if (np->data_type != TP_INT64 || np->ndims != 1 || np->dims[0] != B) {
      add_msg(s, "nonpad_kv_seqlen must be int64[%lld]", (long long)B);
      return;
    }
    if (has_past) {
      add_msg(s, "nonpad_kv_seqlen with past_key: not defined by the operator");
      return;
    }
    int32_t *lens = host_alloc(s, (size_t)B * sizeof *lens);
    for (int64_t b = 0; b < B; b++) {
      int64_t x;
      memcpy(&x, np->data + 8 * b, 8);
      if (x < 0 || x > skv) {
        add_msg(s, "nonpad_kv_seqlen[%lld] = %lld outside 0 .. %lld", (long long)b,
                (long long)x, (long long)skv);
        return;
      }
      lens[b] = (int32_t)x;
    }
    desc.kv_lens = device_buffer(env, s, lens, (size_t)B * sizeof *lens);
  }

  /* is_causal: key j visible to query i iff j <= i + offset. */
  if (a.is_causal) {
    if (has_nonpad) {
      /* offset = nonpad[b] - Sq: bottom-right alignment on the per-batch key length. */
      desc.causal = 1;
      desc.alignment = CLATTN_ALIGN_BOTTOM_RIGHT;
    } else if (has_past && past_len == skv - Sq) {
      desc.causal = 1; /* offset = past length = Skv_total - Sq */
      desc.alignment = CLATTN_ALIGN_BOTTOM_RIGHT;
    } else if (has_past) {
      /* offset = past length although Skv_total - Sq differs: an explicit diagonal offset,
       * i.e. a top-left window reaching past_len keys to the right. */
      desc.causal = 0;
      desc.alignment = CLATTN_ALIGN_TOP_LEFT;
      desc.window_left = -1;
      desc.window_right = past_len;
    } else {
      desc.causal = 1; /* offset 0: top-left, even when Skv > Sq */
      desc.alignment = CLATTN_ALIGN_TOP_LEFT;
    }
  }

  /* attn_mask → a bool or additive mask tensor broadcasting onto (B, Hq, Sq, Skv_total). */
  if (c->inputs[IN_MASK][0]) {
    const tp_tensor *tm = &s->in[IN_MASK];
    int is_bool = tm->data_type == TP_BOOL;
    if (!is_bool && tm->data_type != TP_FLOAT && tm->data_type != TP_FLOAT16) {
      add_msg(s, "attn_mask of type %s (bool or float expected)", tp_type_name(tm->data_type));
      return;
    }
    if (tm->ndims < 1 || tm->ndims > 4) {
      add_msg(s, "attn_mask of rank %d: clattn masks broadcast onto 4 axes", tm->ndims);
      return;
    }
    int64_t md[4] = {1, 1, 1, 1};
    for (int i = 0; i < tm->ndims; i++) md[4 - tm->ndims + i] = tm->dims[i];
    const int64_t target[3] = {B, Hq, Sq};
    for (int i = 0; i < 3; i++)
      if (md[i] != 1 && md[i] != target[i]) {
        add_msg(s, "attn_mask axis %d has %lld entries, broadcast target %lld", i,
                (long long)md[i], (long long)target[i]);
        return;
      }
    if (md[3] < 1 || md[3] > skv) {
      add_msg(s, "attn_mask has %lld keys, total key length %lld", (long long)md[3],
              (long long)skv);
      return;
    }
    /* Host copy in clattn's element type (uint8 / float32), the key axis padded to the total
     * key length with masked entries; broadcast axes stay of size 1 and get stride 0. */
    size_t rows = (size_t)(md[0] * md[1] * md[2]), es = is_bool ? 1 : 4;
    unsigned char *img = host_alloc(s, rows * (size_t)skv * es);
    for (size_t r = 0; r < rows; r++)
      for (int64_t j = 0; j < skv; j++) {
        size_t at = r * (size_t)skv + (size_t)j;
        if (is_bool) {
          img[at] = j < md[3] ? (tm->data[r * (size_t)md[3] + (size_t)j] != 0) : 0;
        } else {
          float x = j < md[3] ? (float)element(tm, r * (size_t)md[3] + (size_t)j) : -INFINITY;
          memcpy(img + 4 * at, &x, 4);
        }
      }
    desc.mask.type = is_bool ? CLATTN_MASK_BOOL : CLATTN_MASK_ADDITIVE;
    desc.mask.buffer = device_buffer(env, s, img, rows * (size_t)skv * es);
    desc.mask.offset = 0;
    desc.mask.stride_batch = md[0] == 1 ? 0 : md[1] * md[2] * skv;
    desc.mask.stride_head = md[1] == 1 ? 0 : md[2] * skv;
    desc.mask.stride_query = md[2] == 1 ? 0 : skv;
  }

  /* Y: same rank as Q (3-D merges the heads back). */
  const tp_tensor *ty = &s->out[OUT_Y];
  view4 vy;
  if (tq->ndims == 3) {
    int64_t dims[3] = {B, Sq, Hq * Dv};
    if (check_dims(s, "Y", ty, 3, dims)) return;
    vy = (view4){B, Hq, Sq, Dv, Sq * Hq * Dv, Dv, Hq * Dv};
  } else {
    int64_t dims[4] = {B, Hq, Sq, Dv};
    if (check_dims(s, "Y", ty, 4, dims)) return;
    vy = (view4){B, Hq, Sq, Dv, Hq * Sq * Dv, Sq * Dv, Dv};
  }
  size_t y_bytes = ty->count * ty->elem_size;
  cl_mem ybuf = device_buffer(env, s, NULL, y_bytes);
  clattn_tensor o = tensor_of(ybuf, o_dt, &vy);

  int want_qk = c->outputs[OUT_QK][0] != '\0';
  cl_mem lse_buf = NULL;
  clattn_tensor lse;
  memset(&lse, 0, sizeof lse);
  if (want_qk) {
    lse_buf = device_buffer(env, s, NULL, (size_t)(B * Hq * Sq) * 4);
    lse = clattn_tensor_contiguous(lse_buf, CLATTN_F32, CLATTN_LAYOUT_BHSD, Hq, Sq, 1, 0);
  }

  clattn_status st = clattn_attention_forward(env->ctx, env->queue, &desc, &q, &k, &v, &o,
                                              want_qk ? &lse : NULL, 0, NULL, NULL);
  if (st != CLATTN_SUCCESS) {
    add_msg(s, "clattn_attention_forward: %s: %s", clattn_status_name(st),
            clattn_last_error(env->ctx));
    return;
  }
  unsigned char *y_img = host_alloc(s, y_bytes);
  cl_int cerr = clEnqueueReadBuffer(env->queue, ybuf, CL_TRUE, 0, y_bytes, y_img, 0, NULL, NULL);
  if (cerr != CL_SUCCESS) {
    add_msg(s, "reading Y: %s", clattn_cl_error_name(cerr));
    return;
  }
  compare(s, "Y", ty, y_img, 0);

  /* present_key / present_value: the concatenated K / V as they are on the device. */
  for (int p = OUT_PRESENT_K; p <= OUT_PRESENT_V; p++) {
    if (!c->outputs[p][0]) continue;
    const tp_tensor *te = &s->out[p];
    int is_k = p == OUT_PRESENT_K;
    int64_t dims[4] = {B, Hkv, skv, is_k ? D : Dv};
    if (check_dims(s, output_slot_names[p], te, 4, dims)) continue;
    if (!has_past) {
      add_msg(s, "%s requested without past: not mapped", output_slot_names[p]);
      continue;
    }
    const tp_tensor *src = is_k ? tk : tv;
    if (te->data_type != src->data_type) {
      add_msg(s, "%s has a different type than its input", output_slot_names[p]);
      continue;
    }
    size_t bytes = te->count * te->elem_size;
    unsigned char *img = host_alloc(s, bytes);
    cerr = clEnqueueReadBuffer(env->queue, is_k ? kbuf : vbuf, CL_TRUE, 0, bytes, img, 0, NULL,
                               NULL);
    if (cerr != CL_SUCCESS) {
      add_msg(s, "reading %s: %s", output_slot_names[p], clattn_cl_error_name(cerr));
      continue;
    }
    compare(s, output_slot_names[p], te, img, 1);
  }

  /* qk_matmul_output through clattn_attention_weights. */
  if (want_qk) {
    const tp_tensor *te = &s->out[OUT_QK];
    int64_t dims[4] = {B, Hq, Sq, skv};
    clattn_dtype w_dt;
    if (check_dims(s, "qk_matmul_output", te, 4, dims) ||
        storage_type(s, "qk_matmul_output", te, &w_dt))
      return;
    if (a.qk_mode < 0 || a.qk_mode > 3) {
      add_msg(s, "qk_matmul_output_mode %d is not a clattn_weights_mode", a.qk_mode);
      return;
    }
    /* The reference returns the softcapped scores for mode 0 when softcap is set. */
    clattn_weights_mode mode = (clattn_weights_mode)a.qk_mode;
    if (mode == CLATTN_WEIGHTS_SCORES && a.softcap > 0) mode = CLATTN_WEIGHTS_SOFTCAPPED;
    size_t bytes = te->count * te->elem_size;
    cl_mem wbuf = device_buffer(env, s, NULL, bytes);
    view4 vw = {B, Hq, Sq, skv, Hq * Sq * skv, Sq * skv, skv};
    clattn_tensor w = tensor_of(wbuf, w_dt, &vw);
    st = clattn_attention_weights(env->ctx, env->queue, &desc, &q, &k, &lse, mode, &w, 0, NULL,
                                  NULL);
    if (st != CLATTN_SUCCESS) {
      add_msg(s, "clattn_attention_weights(mode %d): %s: %s", (int)mode, clattn_status_name(st),
              clattn_last_error(env->ctx));
      return;
    }
    unsigned char *img = host_alloc(s, bytes);
    cerr = clEnqueueReadBuffer(env->queue, wbuf, CL_TRUE, 0, bytes, img, 0, NULL, NULL);
    if (cerr != CL_SUCCESS) {
      add_msg(s, "reading qk_matmul_output: %s", clattn_cl_error_name(cerr));
      return;
    }
    compare(s, "qk_matmul_output", te, img, 0);
  }
}

static double now_seconds(void) {
  struct timespec ts;
  clock_gettime(CLOCK_MONOTONIC, &ts);
  return (double)ts.tv_sec + 1e-9 * (double)ts.tv_nsec;
}

int main(int argc, char **argv) {
  setvbuf(stdout, NULL, _IOLBF, 0);
  const char *dir = CLATTN_ONNX_DATA_DIR;
  int first_name = 1;
  if (argc > 1 && strchr(argv[1], '/')) {
    dir = argv[1];
    first_name = 2;
  }
  static onnx_case cases[MAX_CASES];
  size_t n = load_cases(dir, cases, MAX_CASES);
  int filtered = argc > first_name;
  if (!filtered && n != EXPECTED_CASES)
    check_fail(__FILE__, __LINE__, "cases.tsv lists %zu cases, expected %d", n, EXPECTED_CASES);
  check_pass();

  run_env env;
  memset(&env, 0, sizeof env);
  env.dir = dir;
  clattn_status status = clattn_context_create(NULL, &env.ctx);
  if (status != CLATTN_SUCCESS)
    check_fail(__FILE__, __LINE__, "clattn_context_create: %s: %s", clattn_status_name(status),
               clattn_last_error(NULL));
  env.cl = clattn_context_cl_context(env.ctx);
  env.queue = clattn_context_queue(env.ctx);
  clattn_device_info info;
  CHECK_OK(env.ctx, clattn_context_device_info(env.ctx, &info));
  printf("device: %s (%s)\ndata: %s\n", info.name, info.platform_name, dir);

  size_t run = 0, passed = 0;
  double t_all = now_seconds();
  for (size_t i = 0; i < n; i++) {
    const onnx_case *c = &cases[i];
    if (filtered) {
      int hit = 0;
      for (int a = first_name; a < argc; a++) hit |= !strcmp(argv[a], c->name);
      if (!hit) continue;
    }
    case_state *s = calloc(1, sizeof *s);
    if (!s) check_fail(__FILE__, __LINE__, "out of memory");
    double t0 = now_seconds();
    run_case(&env, c, s);
    clFinish(env.queue);
    double dt = now_seconds() - t0;
    int ok = s->msg[0] == '\0';
    run++;
    passed += (size_t)ok;
    printf("%-4s %-56s worst %-9.3g %5.2fs  [%s]\n", ok ? "PASS" : "FAIL", c->name, s->worst, dt,
           s->detail);
    if (!ok) printf("     %s\n", s->msg);
    case_state_free(s);
    free(s);
  }
  printf("ONNX attention conformance: %zu of %zu cases passed (%.1f s)\n", passed, run,
         now_seconds() - t_all);
  if (filtered && run == 0) check_fail(__FILE__, __LINE__, "no case matched the given names");
  clattn_context_destroy(env.ctx);
  if (passed != run) return 1;
  return check_done("test_onnx_attention");
}
