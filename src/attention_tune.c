/* clattn_tune_attention: searches the fused kernel's configuration per entry (storage type,
 * head dimension, masking) by running real attention, checking every result and timing it
 * (see clattn.h, "Tuning"; the problem and its check are in attention_tune_problem.c).
 *
 * Candidates are the configurations near the built-in default: each field a power-of-two
 * step away from it (rows, tile_k, vec, wg; v_direct flipped), ordered by how many steps.
 * The quick search takes the one-step neighbours, the full search up to two steps (which
 * reaches 16-wide vectors with wider tiles). Validation is against a double-precision
 * reference on sampled rows, not bitwise against the default's output: tile_k and vec change
 * the order of the online softmax's reductions, so correct configurations differ in the last
 * bits. The best candidates are timed again against the default in alternating rounds, so
 * that a change in the machine's load cannot pick the winner, and one is kept only when its
 * median beats the default's by WIN_MARGIN and it was faster in every round.
 */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include "attention_config.h"
#include "attention_tune.h"
#include "context.h"
#include "errors.h"
#include "tuning.h"

#define DEFAULT_SEQ 1024
#define DEFAULT_REPEATS 5
#define QUICK_REPEATS 3 /* the quick search must stay within 2 minutes on PoCL */
#define FULL_CANDIDATES 32 /* full search: configurations per entry at most */
#define FINALISTS 2
#define FINAL_ROUNDS 3
#define WIN_MARGIN 1.02 /* a winner must be 2 % faster than the default (noise, not speed) */
#define MAX_CANDIDATES 256
#define MAX_TIMES 128

void clattn_attention_tune_options_init(clattn_attention_tune_options *options) {
  if (!options) return;
  memset(options, 0, sizeof *options);
  options->store = 1;
}

static double now_seconds(void) {
  struct timespec t;
  clock_gettime(CLOCK_MONOTONIC, &t);
  return (double)t.tv_sec + 1e-9 * (double)t.tv_nsec;
}

static int compare_doubles(const void *a, const void *b) {
  double x = *(const double *)a, y = *(const double *)b;
  return x < y ? -1 : x > y;
}

static double median(const double *values, int n) {
  double copy[MAX_TIMES];
  if (n <= 0) return 0.0;
  memcpy(copy, values, (size_t)n * sizeof *copy);
  qsort(copy, (size_t)n, sizeof *copy, compare_doubles);
  return n % 2 ? copy[n / 2] : 0.5 * (copy[n / 2 - 1] + copy[n / 2]);
}

/* ---- Candidates ------------------------------------------------------------------------ */

static int log2_int(int x) {
  int l = 0;
  while (x > 1) {
    x >>= 1;
    l++;
  }
  return l;
}

static int steps(const clattn__attention_config *a, const clattn__attention_config *b) {
  return abs(log2_int(a->rows) - log2_int(b->rows)) +
         abs(log2_int(a->tile_k) - log2_int(b->tile_k)) + abs(log2_int(a->vec) - log2_int(b->vec)) +
         abs(log2_int(a->wg) - log2_int(b->wg)) + abs(a->v_direct - b->v_direct);
}

/* What the device can run and registers can hold: a work-item's accumulator of rows x Dv
 * floats beyond 512 (32 registers of 16 floats) spills everywhere. */
static int fits(const clattn_device_info *info, const clattn__attention_config *c, int d) {
  return clattn__attention_config_valid(c) && (size_t)c->wg <= info->max_work_group_size &&
         clattn__attention_local_bytes(c, d, d) <= info->local_mem_size &&
         c->rows * ((d + c->vec - 1) / c->vec * c->vec) <= 512;
}

/* The candidates within `max_steps` of `def`, nearest first (a stable order otherwise). */
static int candidates_make(const clattn_device_info *info, const clattn__attention_config *def,
                           int d, int max_steps, clattn__attention_config *out) {
  int n = 0;
  for (int distance = 1; distance <= max_steps; distance++) {
    for (int rows = 1; rows <= 16; rows *= 2)
      for (int vec = 1; vec <= 16; vec *= 2)
        for (int tile = 4; tile <= 128; tile *= 2)
          for (int wg = 1; wg <= 1024; wg *= 2)
            for (int direct = 0; direct <= 1; direct++) {
              clattn__attention_config c = {rows, tile, vec, wg, direct};
              if (n < MAX_CANDIDATES && steps(&c, def) == distance && fits(info, &c, d))
                out[n++] = c;
            }
  }
  return n;
}

/* ---- One entry ------------------------------------------------------------------------- */

typedef struct measured {
  clattn__attention_config config;
  double times[MAX_TIMES];
  int count;
  double gflops;
  double round_gflops[FINAL_ROUNDS]; /* per alternating round, for the win rule */
} measured;

typedef struct tuner {
  clattn_context *ctx;
  clattn_attention_tune_options o;
  double start;
  int step, total;
  clattn__atune_problem p;
  measured def;
  measured *tried; /* MAX_CANDIDATES */
  int tried_count;
} tuner;

static void gflops_update(tuner *t, measured *m) {
  m->gflops = m->count ? clattn__atune_gflops(&t->p, median(m->times, m->count)) : 0.0;
}

/* Checks and times the configuration in force; 1 when right (and timed). */
static int measure(tuner *t, measured *m, double cutoff) {
  int check = clattn__atune_check(&t->p);
  m->count = 0;
  if (check == 1 && clattn__atune_time(&t->p, t->o.repeats, cutoff, m->times, &m->count) !=
                        CLATTN_SUCCESS)
    check = -1;
  gflops_update(t, m);
  return check == 1 && m->count > 0;
}

static int rounds(const tuner *t) { return t->o.quick ? FINAL_ROUNDS - 1 : FINAL_ROUNDS; }

/* A winner beats the default by WIN_MARGIN over all final rounds and in every one of them,
 * so that one burst of load on the machine cannot make a configuration win. */
static int beats_default(const tuner *t, const measured *m) {
  for (int r = 0; r < rounds(t); r++)
    if (!(m->round_gflops[r] > t->def.round_gflops[r])) return 0;
  return m->gflops > WIN_MARGIN * t->def.gflops;
}

static void finalists_retime(tuner *t, int *finalists, int nfinal) {
  t->def.count = 0;
  for (int f = 0; f < nfinal; f++) t->tried[finalists[f]].count = 0;
  for (int round = 0; round < rounds(t); round++) {
    int before = t->def.count;
    clattn__attention_set_override(t->ctx, &t->def.config);
    clattn__atune_time(&t->p, t->o.repeats, 0.0, t->def.times, &t->def.count);
    t->def.round_gflops[round] =
        clattn__atune_gflops(&t->p, median(t->def.times + before, t->def.count - before));
    for (int f = 0; f < nfinal; f++) {
      measured *m = &t->tried[finalists[f]];
      before = m->count;
      clattn__attention_set_override(t->ctx, &m->config);
      clattn__atune_time(&t->p, t->o.repeats, 0.0, m->times, &m->count);
      m->round_gflops[round] =
          clattn__atune_gflops(&t->p, median(m->times + before, m->count - before));
    }
  }
  gflops_update(t, &t->def);
  for (int f = 0; f < nfinal; f++) gflops_update(t, &t->tried[finalists[f]]);
}

/* The best `FINALISTS` tried candidates, best first; returns how many. */
static int finalists_pick(const tuner *t, int *finalists) {
  int n = 0;
  for (int i = 0; i < t->tried_count; i++) {
    if (t->tried[i].gflops <= 0.0) continue;
    int pos = n < FINALISTS ? n++ : FINALISTS;
    while (pos > 0 && t->tried[finalists[pos - 1]].gflops < t->tried[i].gflops) {
      if (pos < FINALISTS) finalists[pos] = finalists[pos - 1];
      pos--;
    }
    if (pos < FINALISTS) finalists[pos] = i;
  }
  return n;
}

static clattn_status entry_tune(tuner *t, const clattn__attention_key *key,
                                const clattn__attention_config *list, int count,
                                clattn_attention_tune_entry *e) {
  char name[64], text[96];
  clattn__attention_key_format(key, name, sizeof name);
  clattn_status status = clattn__atune_problem_create(t->ctx, key->types[0], (int)t->o.seq_len,
                                                      key->head_dim, key->masking, &t->p);
  if (status != CLATTN_SUCCESS) return status;
  t->def.config = clattn__attention_table_config(&t->ctx->info, key, NULL);
  clattn__attention_config_format(&t->def.config, ',', e->default_config, sizeof e->default_config);
  clattn__attention_set_override(t->ctx, &t->def.config);
  if (!measure(t, &t->def, 0.0))
    return clattn__fail(t->ctx, CLATTN_UNSUPPORTED,
                        "attention %s: the built-in configuration %s fails on this device: %s",
                        name, e->default_config, t->p.error);
  t->tried_count = 0;
  for (int i = 0; i < count; i++) {
    if (t->o.max_seconds > 0 && now_seconds() - t->start >= t->o.max_seconds) break;
    measured *m = &t->tried[t->tried_count++];
    m->config = list[i];
    clattn__attention_set_override(t->ctx, &m->config);
    e->candidates_tried++;
    if (!measure(t, m, median(t->def.times, t->def.count))) {
      m->gflops = 0.0;
      e->candidates_failed++;
    }
    t->step++;
    if (t->o.progress) {
      clattn__attention_config_format(&m->config, ',', text, sizeof text);
      t->o.progress(t->o.user, t->step, t->total, name, text, m->gflops,
                    now_seconds() - t->start);
    }
  }
  t->step += count - e->candidates_tried; /* those skipped for the time limit */
  int finalists[FINALISTS];
  int nfinal = finalists_pick(t, finalists);
  if (nfinal > 0) finalists_retime(t, finalists, nfinal);
  e->default_gflops = t->def.gflops;
  int best = -1;
  for (int f = 0; f < nfinal; f++)
    if (best < 0 || t->tried[finalists[f]].gflops > t->tried[best].gflops) best = finalists[f];
  if (best >= 0) {
    clattn__attention_config_format(&t->tried[best].config, ',', e->config, sizeof e->config);
    e->tuned_gflops = t->tried[best].gflops;
    e->stored = beats_default(t, &t->tried[best]);
  }
  return CLATTN_SUCCESS;
}

/* ---- Options, entries, the file ------------------------------------------------------------ */

static clattn_status options_resolve(clattn_context *ctx, clattn_attention_tune_options *o) {
  if (o->dtypes & ~7u)
    return clattn__fail(ctx, CLATTN_INVALID_ARGUMENT,
                        "options->dtypes 0x%x has bits beyond f32, f16 and bf16", o->dtypes);
  if (o->maskings & ~7u)
    return clattn__fail(ctx, CLATTN_INVALID_ARGUMENT,
                        "options->maskings 0x%x has bits beyond none, causal and tensor",
                        o->maskings);
  if (o->seq_len != 0 && (o->seq_len < 64 || o->seq_len > 16384))
    return clattn__fail(ctx, CLATTN_INVALID_ARGUMENT,
                        "options->seq_len must be 64 .. 16384 (0: %d), got %lld", DEFAULT_SEQ,
                        (long long)o->seq_len);
  if (o->max_candidates < 0 || o->repeats < 0 || o->repeats > 100 || !(o->max_seconds >= 0.0))
    return clattn__fail(ctx, CLATTN_INVALID_ARGUMENT,
                        "options: max_candidates must be >= 0, repeats 0 .. 100 and max_seconds "
                        ">= 0 (got %d, %d, %g)", o->max_candidates, o->repeats, o->max_seconds);
  for (int i = 0; i < 8 && o->head_dims[i]; i++)
    if (o->head_dims[i] < 1 || o->head_dims[i] > CLATTN_MAX_HEAD_DIM)
      return clattn__fail(ctx, CLATTN_INVALID_ARGUMENT,
                          "options->head_dims[%d] = %d is not in 1 .. %d", i, o->head_dims[i],
                          CLATTN_MAX_HEAD_DIM);
  if (!o->dtypes) o->dtypes = o->quick ? 1u << CLATTN_F32 : 7u;
  if (!o->maskings)
    o->maskings = o->quick ? (1u << CLATTN_TUNE_MASK_NONE) | (1u << CLATTN_TUNE_MASK_CAUSAL) : 7u;
  if (!o->head_dims[0]) {
    o->head_dims[0] = 64;
    o->head_dims[1] = 128;
  }
  if (!o->seq_len) o->seq_len = DEFAULT_SEQ;
  if (!o->repeats) o->repeats = o->quick ? QUICK_REPEATS : DEFAULT_REPEATS;
  return CLATTN_SUCCESS;
}

/* The entries in order: storage type, head dimension, masking. -1 when too many. */
static int entries_list(const clattn_attention_tune_options *o, clattn__attention_key *keys) {
  int n = 0;
  for (int t = 0; t < 3; t++)
    for (int d = 0; (o->dtypes >> t & 1) && d < 8 && o->head_dims[d]; d++)
      for (int m = 0; m < 3; m++) {
        if (!(o->maskings >> m & 1)) continue;
        if (n == CLATTN_ATTENTION_TUNE_MAX_ENTRIES) return -1;
        clattn__attention_key k = {{(clattn_dtype)t, (clattn_dtype)t, (clattn_dtype)t},
                                   o->head_dims[d], o->head_dims[d], (clattn_tune_masking)m};
        keys[n++] = k;
      }
  return n;
}

/* Puts the kept entries in force on the context and, with options->store, in the file (other
 * records kept; an entry whose default won again loses its old tuned line). */
static clattn_status results_store(tuner *t, const clattn__attention_key *keys,
                                   clattn_attention_tune_result *result) {
  clattn_context *ctx = t->ctx;
  clattn__tuning_status *st = malloc(sizeof *st);
  clattn__tuning_file *file = calloc(1, sizeof *file);
  if (!st || !file) {
    free(st);
    free(file);
    return clattn__fail(ctx, CLATTN_OUT_OF_HOST_MEMORY, "out of memory");
  }
  clattn__context_tuning(ctx, st);
  if (st->path[0] && clattn__tuning_read(st->path, file, NULL, 0) < 0) memset(file, 0, sizeof *file);
  clattn__tuning_file *active = calloc(1, sizeof *active); /* what this context uses */
  if (active) {
    active->attention_count = st->attention_count;
    memcpy(active->attention, st->attention, sizeof st->attention);
  }
  int changed = 0; /* the file needs writing */
  for (int i = 0; i < result->count; i++) {
    const clattn_attention_tune_entry *r = &result->entries[i];
    clattn__attention_entry e;
    memset(&e, 0, sizeof e);
    e.key = keys[i];
    if (r->stored) {
      clattn__attention_config_parse(r->config, &e.config);
      snprintf(e.note, sizeof e.note, "%.1f GFLOP/s, default %.1f (S=%lld)", r->tuned_gflops,
               r->default_gflops, (long long)t->o.seq_len);
      clattn__tuning_set_attention(file, &e);
      if (active) clattn__tuning_set_attention(active, &e);
      changed = 1;
      continue;
    }
    for (int j = 0; j < file->attention_count; j++) { /* the default won: forget old lines */
      if (clattn__attention_key_equal(&file->attention[j].key, &e.key)) {
        file->attention[j] = file->attention[--file->attention_count];
        changed = 1;
      }
    }
    for (int j = 0; active && j < active->attention_count; j++)
      if (clattn__attention_key_equal(&active->attention[j].key, &e.key))
        active->attention[j] = active->attention[--active->attention_count];
  }
  if (active) {
    st->attention_count = active->attention_count;
    memcpy(st->attention, active->attention, sizeof st->attention);
    if (st->attention_count > 0) st->state = CLATTN__TUNING_APPLIED;
    free(active);
  }
  clattn_status status = CLATTN_SUCCESS;
  if (t->o.store && changed && !st->path[0]) {
    status = clattn__fail(ctx, CLATTN_IO_ERROR,
                          "no tuning directory: set CLATTN_TUNING_DIR, CLATTN_CACHE_DIR or HOME");
  } else if (t->o.store && changed) {
    char comment[2048];
    snprintf(comment, sizeof comment,
             "clattn %s tuning file for one OpenCL device\ndevice: %.200s (%.100s)\n"
             "driver: %.100s; platform: %.200s\nattention lines: timed at B=1, H=%d, Sq=Skv=%lld, O f32; the "
             "comment gives the tuned and the built-in default's GFLOP/s",
             clattn_version_string(), ctx->info.name, ctx->info.vendor, ctx->info.driver_version,
             ctx->info.platform_version, CLATTN__ATUNE_HEADS, (long long)t->o.seq_len);
    char *text = clattn__tuning_format(file, comment);
    const char *slash = strrchr(st->path, '/');
    char dir[1024];
    snprintf(dir, sizeof dir, "%.*s", slash ? (int)(slash - st->path) : 1, slash ? st->path : ".");
    if (!text || clattn__tuning_write(dir, slash ? slash + 1 : st->path, text) != 0)
      status = clattn__fail(ctx, CLATTN_IO_ERROR, "cannot write the tuning file %s", st->path);
    else
      snprintf(result->file, sizeof result->file, "%s", st->path);
    free(text);
  }
  clattn__tuning_context_set(ctx, st);
  free(st);
  free(file);
  return status;
}

clattn_status clattn_tune_attention(clattn_context *ctx, const clattn_attention_tune_options *options,
                                    clattn_attention_tune_result *result) {
  if (!ctx) return clattn__fail(NULL, CLATTN_INVALID_ARGUMENT, "ctx must not be NULL");
  if (!result) return clattn__fail(ctx, CLATTN_INVALID_ARGUMENT, "result must not be NULL");
  tuner *t = calloc(1, sizeof *t);
  clattn__attention_config *lists = malloc(2 * MAX_CANDIDATES * sizeof *lists);
  if (t) t->tried = malloc(MAX_CANDIDATES * sizeof *t->tried);
  if (!t || !lists || !t->tried) {
    if (t) free(t->tried);
    free(t);
    free(lists);
    return clattn__fail(ctx, CLATTN_OUT_OF_HOST_MEMORY, "out of memory");
  }
  t->ctx = ctx;
  if (options) t->o = *options;
  else clattn_attention_tune_options_init(&t->o);
  clattn__attention_key keys[CLATTN_ATTENTION_TUNE_MAX_ENTRIES];
  clattn_status status = options_resolve(ctx, &t->o);
  int count = status == CLATTN_SUCCESS ? entries_list(&t->o, keys) : 0;
  if (count < 0)
    status = clattn__fail(ctx, CLATTN_INVALID_ARGUMENT, "more than %d entries to tune",
                          CLATTN_ATTENTION_TUNE_MAX_ENTRIES);
  /* Candidate lists per entry (the same for every storage type and masking of a head
   * dimension), counted first so that progress can tell the total. */
  int per_entry[CLATTN_ATTENTION_TUNE_MAX_ENTRIES];
  clattn__attention_config *list = lists;
  int limit = t->o.max_candidates ? t->o.max_candidates : t->o.quick ? MAX_CANDIDATES
                                                                     : FULL_CANDIDATES;
  for (int i = 0; status == CLATTN_SUCCESS && i < count; i++) {
    clattn__attention_config def = clattn__attention_table_config(&ctx->info, &keys[i], NULL);
    per_entry[i] = candidates_make(&ctx->info, &def, keys[i].head_dim, t->o.quick ? 1 : 2, list);
    if (per_entry[i] > limit) per_entry[i] = limit;
    t->total += per_entry[i];
  }
  clattn__attention_config saved;
  int had_override = clattn__attention_get_override(ctx, &saved);
  memset(result, 0, sizeof *result);
  t->start = now_seconds();
  for (int i = 0; status == CLATTN_SUCCESS && i < count; i++) {
    clattn__attention_config def = clattn__attention_table_config(&ctx->info, &keys[i], NULL);
    candidates_make(&ctx->info, &def, keys[i].head_dim, t->o.quick ? 1 : 2, list);
    clattn_attention_tune_entry *e = &result->entries[result->count++];
    e->dtype = keys[i].types[0];
    e->head_dim = keys[i].head_dim;
    e->masking = keys[i].masking;
    status = entry_tune(t, &keys[i], list, per_entry[i], e);
    clattn__atune_problem_release(&t->p);
  }
  clattn__attention_set_override(ctx, had_override ? &saved : NULL);
  if (status == CLATTN_SUCCESS) status = results_store(t, keys, result);
  free(t->tried);
  free(t);
  free(lists);
  return status;
}
