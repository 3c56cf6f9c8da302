/* Applying the device's tuning file when a context is created (see tuning.h). */
#include "tuning.h"

#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "context.h"
#include "errors.h"

/* ---- Contexts ------------------------------------------------------------------------- */

static int tuning_disabled(void) {
  const char *value = getenv("CLATTN_TUNING");
  return value && strcmp(value, "0") == 0;
}

/* Keeps the attention entries the device can run (the work-group size; local memory is
 * fitted when a call picks its configuration). */
static void attention_apply(const clattn_context *ctx, const clattn__tuning_file *file,
                            clattn__tuning_status *st) {
  for (int i = 0; i < file->attention_count; i++) {
    const clattn__attention_entry *e = &file->attention[i];
    char key[64];
    clattn__attention_key_format(&e->key, key, sizeof key);
    if ((size_t)e->config.wg > ctx->info.max_work_group_size) {
      st->rejected++;
      clattn__text_append(st->note, sizeof st->note, "attention %s: wg=%d exceeds the device's %zu\n", key,
             e->config.wg, ctx->info.max_work_group_size);
      continue;
    }
    st->attention[st->attention_count++] = *e;
    st->applied++;
  }
  if (st->attention_count > 0)
    clattn__text_append(st->summary, sizeof st->summary, "%sattention: %d tuned entries",
           st->applied > st->attention_count ? "; " : "", st->attention_count);
}

void clattn__tuning_context_init(clattn_context *ctx, const clattn_context_options *options) {
  clattn__tuning_status *st = &ctx->tuning;
  memset(st, 0, sizeof *st);
  char key[17];
  clattn__tuning_device_key(&ctx->info, key);
  char *dir = clattn__tuning_dir(options ? options->cache_dir : NULL);
  if (dir) {
    if (strlen(dir) + 24 < sizeof st->path)
      snprintf(st->path, sizeof st->path, "%.1000s/%s.tune", dir, key);
    free(dir);
  }
  if (tuning_disabled()) {
    st->state = CLATTN__TUNING_DISABLED;
    snprintf(st->note, sizeof st->note, "CLATTN_TUNING=0: the tuning file is not read");
    return;
  }
  if (!st->path[0]) {
    st->state = CLATTN__TUNING_NONE;
    snprintf(st->note, sizeof st->note,
             "no tuning directory (set CLATTN_TUNING_DIR, CLATTN_CACHE_DIR or HOME)");
    return;
  }
  clattn__tuning_file *file = malloc(sizeof *file);
  if (!file) {
    st->state = CLATTN__TUNING_FAILED;
    snprintf(st->note, sizeof st->note, "out of memory reading %.900s", st->path);
    return;
  }
  char messages[1024] = "";
  int rejected = clattn__tuning_read(st->path, file, messages, sizeof messages);
  if (rejected < 0) {
    if (errno == ENOENT) {
      st->state = CLATTN__TUNING_NONE;
      snprintf(st->note, sizeof st->note, "no tuning file");
    } else {
      st->state = CLATTN__TUNING_FAILED;
      snprintf(st->note, sizeof st->note, "cannot read %.900s: %s", st->path, strerror(errno));
    }
    free(file);
    return;
  }
  st->rejected = rejected;
  snprintf(st->note, sizeof st->note, "%s", messages);
  for (int i = 0; i < file->count; i++) {
    char why[512];
    const clattn__clblast_entry *e = &file->entries[i];
    if (clattn__clblast_apply(ctx->device, &ctx->info, e, why, sizeof why) != 0) {
      st->rejected++;
      clattn__text_append(st->note, sizeof st->note, "%s\n", why);
      continue;
    }
    st->applied++;
    char params[CLATTN__TUNING_MAX_PARAMS * 48];
    clattn__clblast_entry_params(e, params, sizeof params);
    clattn__text_append(st->summary, sizeof st->summary, "%s%s/%d %s", st->applied > 1 ? "; " : "", e->kernel,
           e->precision, params);
  }
  attention_apply(ctx, file, st);
  st->state = st->applied > 0 ? CLATTN__TUNING_APPLIED : CLATTN__TUNING_FAILED;
  if (st->applied == 0 && !st->note[0])
    snprintf(st->note, sizeof st->note, "%.900s holds no records", st->path);
  free(file);
}

void clattn__tuning_context_set(clattn_context *ctx, const clattn__tuning_status *status) {
  clattn__mutex_lock(&ctx->lock);
  ctx->tuning = *status;
  clattn__mutex_unlock(&ctx->lock);
}

clattn_status clattn__context_tuning(const clattn_context *ctx, clattn__tuning_status *status) {
  if (!ctx) return clattn__fail(NULL, CLATTN_INVALID_ARGUMENT, "ctx must not be NULL");
  clattn_context *mutable_ctx = (clattn_context *)ctx; /* the lock is not logical state */
  if (!status)
    return clattn__fail(mutable_ctx, CLATTN_INVALID_ARGUMENT, "status must not be NULL");
  clattn__mutex_lock(&mutable_ctx->lock);
  *status = ctx->tuning;
  clattn__mutex_unlock(&mutable_ctx->lock);
  return CLATTN_SUCCESS;
}
