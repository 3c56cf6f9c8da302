/* The per-device tuning file: where it lives, its text format, and applying it to CLBlast
 * when a context is created (see tuning.h). */
#include "tuning.h"

#include <clblast_c.h>
#include <ctype.h>
#include <errno.h>
#include <stdarg.h>
#include <stdatomic.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "context.h"
#include "device.h"
#include "errors.h"
#include "fileio.h"
#include "sha256.h"

const char *const clattn__xgemm_names[CLATTN__XGEMM_PARAMS] = {
    "GEMMK", "KREG", "KWG", "KWI", "MDIMA", "MDIMC", "MWG", "NDIMB",
    "NDIMC", "NWG",  "SA",  "SB",  "STRM",  "STRN",  "VWM", "VWN"};

static const char *const xgemm_direct_names[] = {"KWID", "MDIMAD", "MDIMCD", "NDIMBD", "NDIMCD",
                                                 "PADA", "PADB",   "VWMD",   "VWND",   "WGD"};
static const char *const gemm_routine_names[] = {"XGEMM_MIN_INDIRECT_SIZE"};

/* The kernels whose complete parameter lists clattn knows; a record for one of them must give
 * exactly these. Records for other CLBlast kernels are passed on and CLBlast checks them. */
typedef struct known_kernel {
  const char *kernel;
  int count;
  const char *const *names;
} known_kernel;

static const known_kernel known_kernels[] = {
    {"Xgemm", CLATTN__XGEMM_PARAMS, clattn__xgemm_names},
    {"XgemmDirect", 10, xgemm_direct_names},
    {"GemmRoutine", 1, gemm_routine_names},
};

static const known_kernel *find_known(const char *kernel) {
  for (size_t i = 0; i < sizeof known_kernels / sizeof known_kernels[0]; i++)
    if (strcmp(known_kernels[i].kernel, kernel) == 0) return &known_kernels[i];
  return NULL;
}

/* Appends formatted text to a bounded buffer (which may be NULL). */
static void append(char *buf, size_t size, const char *fmt, ...) CLATTN__PRINTF(3, 4);
static void append(char *buf, size_t size, const char *fmt, ...) {
  if (!buf || size == 0) return;
  size_t used = strnlen(buf, size);
  if (used + 1 >= size) return;
  va_list args;
  va_start(args, fmt);
  vsnprintf(buf + used, size - used, fmt, args);
  va_end(args);
}

/* ---- Device key and paths ------------------------------------------------------------- */

void clattn__tuning_device_key(const clattn_device_info *info, char key[17]) {
  clattn__sha256 h;
  clattn__sha256_init(&h);
  const char *parts[] = {info->name, info->driver_version, info->platform_version};
  for (size_t i = 0; i < sizeof parts / sizeof parts[0]; i++) {
    clattn__sha256_update(&h, parts[i], strlen(parts[i]));
    clattn__sha256_update(&h, "\n", 1);
  }
  char clblast[64];
  snprintf(clblast, sizeof clblast, "clblast %d.%d.%d", CLBLAST_VERSION_MAJOR,
           CLBLAST_VERSION_MINOR, CLBLAST_VERSION_PATCH);
  clattn__sha256_update(&h, clblast, strlen(clblast));
  char hex[65];
  clattn__sha256_hex(&h, hex);
  memcpy(key, hex, 16);
  key[16] = '\0';
}

static const char *env_value(const char *name) {
  const char *value = getenv(name);
  return value && *value ? value : NULL;
}

char *clattn__tuning_dir(const char *cache_dir) {
  const char *explicit_dir = env_value("CLATTN_TUNING_DIR");
  if (explicit_dir) return clattn__strdup(explicit_dir);
  char *base = NULL;
  if (cache_dir && *cache_dir) {
    base = clattn__strdup(cache_dir);
  } else if (env_value("CLATTN_CACHE_DIR")) {
    base = clattn__strdup(env_value("CLATTN_CACHE_DIR"));
  } else if (env_value("XDG_CACHE_HOME")) {
    base = clattn__path_join(env_value("XDG_CACHE_HOME"), "clattn");
  } else if (env_value("HOME")) {
    base = clattn__path_join(env_value("HOME"), ".cache/clattn");
  }
  if (!base) return NULL;
  char *dir = clattn__path_join(base, "tuning");
  free(base);
  return dir;
}

/* ---- Parsing -------------------------------------------------------------------------- */

static int valid_precision(long precision) {
  return precision == 16 || precision == 32 || precision == 64 || precision == 3232 ||
         precision == 6464;
}

/* Splits off the next space-separated word of *p (modified in place); NULL at the end. */
static char *next_word(char **p) {
  char *s = *p;
  while (*s == ' ' || *s == '\t') s++;
  if (!*s) return NULL;
  char *word = s;
  while (*s && *s != ' ' && *s != '\t') s++;
  if (*s) *s++ = '\0';
  *p = s;
  return word;
}

static int is_identifier(const char *s, int upper_only) {
  if (!*s || strlen(s) >= CLATTN__TUNING_NAME_CAPACITY) return 0;
  if (!isalpha((unsigned char)s[0])) return 0;
  for (; *s; s++) {
    unsigned char c = (unsigned char)*s;
    if (upper_only ? !(isupper(c) || isdigit(c) || c == '_') : !(isalnum(c) || c == '_')) return 0;
  }
  return 1;
}

/* Parses "NAME=VALUE" into the entry; 0, or -1 with the reason. */
static int parse_param(char *word, clattn__clblast_entry *e, char *why, size_t size) {
  char *eq = strchr(word, '=');
  if (!eq) {
    snprintf(why, size, "'%s' is not NAME=VALUE", word);
    return -1;
  }
  *eq = '\0';
  const char *value_text = eq + 1;
  if (!is_identifier(word, 1)) {
    snprintf(why, size, "bad parameter name '%s'", word);
    return -1;
  }
  char *end = NULL;
  errno = 0;
  unsigned long long value = strtoull(value_text, &end, 10);
  if (!isdigit((unsigned char)value_text[0]) || errno != 0 || *end != '\0' ||
      value > (1ull << 24)) {
    snprintf(why, size, "%s: '%s' is not an integer in 0 .. 16777216", word, value_text);
    return -1;
  }
  for (int i = 0; i < e->count; i++) {
    if (strcmp(e->names[i], word) == 0) {
      snprintf(why, size, "parameter %s given twice", word);
      return -1;
    }
  }
  if (e->count >= CLATTN__TUNING_MAX_PARAMS) {
    snprintf(why, size, "more than %d parameters", CLATTN__TUNING_MAX_PARAMS);
    return -1;
  }
  snprintf(e->names[e->count], CLATTN__TUNING_NAME_CAPACITY, "%s", word);
  e->values[e->count] = (size_t)value;
  e->count++;
  return 0;
}

/* The value of a parameter of the entry, or (size_t)-1 when absent. */
static size_t entry_value(const clattn__clblast_entry *e, const char *name) {
  for (int i = 0; i < e->count; i++)
    if (strcmp(e->names[i], name) == 0) return e->values[i];
  return (size_t)-1;
}

/* Checks a record of a kernel clattn knows: exactly its parameters, and Xgemm's constraints. */
static int check_known(const clattn__clblast_entry *e, char *why, size_t size) {
  const known_kernel *k = find_known(e->kernel);
  if (!k) return 0;
  for (int i = 0; i < k->count; i++) {
    if (entry_value(e, k->names[i]) == (size_t)-1) {
      snprintf(why, size, "%s/%d: missing parameter %s", e->kernel, e->precision, k->names[i]);
      return -1;
    }
  }
  if (e->count != k->count) {
    for (int i = 0; i < e->count; i++) {
      int found = 0;
      for (int j = 0; j < k->count; j++) found |= strcmp(e->names[i], k->names[j]) == 0;
      if (!found) {
        snprintf(why, size, "%s/%d: unknown parameter %s", e->kernel, e->precision, e->names[i]);
        return -1;
      }
    }
  }
  if (strcmp(e->kernel, "Xgemm") == 0) {
    size_t v[CLATTN__XGEMM_PARAMS];
    for (int i = 0; i < CLATTN__XGEMM_PARAMS; i++) v[i] = entry_value(e, clattn__xgemm_names[i]);
    char reason[256];
    if (!clattn__xgemm_check(v, NULL, reason, sizeof reason)) {
      snprintf(why, size, "Xgemm/%d: %s", e->precision, reason);
      return -1;
    }
  }
  if (strcmp(e->kernel, "GemmRoutine") == 0 && entry_value(e, "XGEMM_MIN_INDIRECT_SIZE") == 0) {
    snprintf(why, size, "GemmRoutine/%d: XGEMM_MIN_INDIRECT_SIZE must be at least 1",
             e->precision);
    return -1;
  }
  return 0;
}

/* Parses "clblast <kernel> <precision> NAME=VALUE..." (the words after "clblast"). */
static int parse_clblast(char *rest, clattn__clblast_entry *e, char *why, size_t size) {
  memset(e, 0, sizeof *e);
  char *kernel = next_word(&rest);
  char *precision = next_word(&rest);
  if (!kernel || !precision) {
    snprintf(why, size, "expected 'clblast <kernel> <precision> NAME=VALUE ...'");
    return -1;
  }
  if (!is_identifier(kernel, 0)) {
    snprintf(why, size, "bad kernel name '%s'", kernel);
    return -1;
  }
  snprintf(e->kernel, sizeof e->kernel, "%s", kernel);
  char *end = NULL;
  long p = strtol(precision, &end, 10);
  if (*end != '\0' || !valid_precision(p)) {
    snprintf(why, size, "%s: bad precision '%s' (16, 32, 64, 3232 or 6464)", kernel, precision);
    return -1;
  }
  e->precision = (int)p;
  for (char *word; (word = next_word(&rest)) != NULL;)
    if (parse_param(word, e, why, size) != 0) return -1;
  if (e->count == 0) {
    snprintf(why, size, "%s/%d: no parameters", e->kernel, e->precision);
    return -1;
  }
  return check_known(e, why, size);
}

/* An attention record (the words after "attention") and its comment; a key given before is
 * rejected, the first one counts. */
static int parse_attention(char *rest, const char *comment, clattn__tuning_file *out, char *why,
                           size_t size) {
  clattn__attention_entry e;
  if (clattn__attention_entry_parse(rest, &e, why, size) != 0) return -1;
  char key[64];
  clattn__attention_key_format(&e.key, key, sizeof key);
  for (int i = 0; i < out->attention_count; i++) {
    if (clattn__attention_key_equal(&out->attention[i].key, &e.key)) {
      snprintf(why, size, "attention %s given again (line ignored; the first one counts)", key);
      return -1;
    }
  }
  if (out->attention_count >= CLATTN__TUNING_MAX_ATTENTION) {
    snprintf(why, size, "more than %d attention records", CLATTN__TUNING_MAX_ATTENTION);
    return -1;
  }
  while (comment && (*comment == ' ' || *comment == '\t')) comment++;
  snprintf(e.note, sizeof e.note, "%s", comment ? comment : "");
  out->attention[out->attention_count++] = e;
  return 0;
}

int clattn__tuning_parse(const char *text, clattn__tuning_file *out, char *messages,
                         size_t size) {
  memset(out, 0, sizeof *out);
  if (messages && size) messages[0] = '\0';
  int rejected = 0, number = 0;
  for (const char *line = text; line && *line;) {
    const char *eol = strchr(line, '\n');
    size_t length = eol ? (size_t)(eol - line) : strlen(line);
    const char *next = eol ? eol + 1 : NULL;
    number++;
    char buffer[2048], why[512] = "";
    if (length >= sizeof buffer) {
      append(messages, size, "line %d: longer than %zu characters\n", number, sizeof buffer - 1);
      rejected++;
      line = next;
      continue;
    }
    memcpy(buffer, line, length);
    buffer[length] = '\0';
    line = next;
    /* Trailing CR and spaces; comments and blank lines. */
    while (length > 0 && (buffer[length - 1] == '\r' || buffer[length - 1] == ' ' ||
                          buffer[length - 1] == '\t'))
      buffer[--length] = '\0';
    char *comment = strchr(buffer, '#');
    if (comment) *comment++ = '\0';
    char *rest = buffer;
    char *kind = next_word(&rest);
    if (!kind) continue;
    clattn__clblast_entry entry;
    int ok = 0;
    if (strcmp(kind, "attention") == 0) {
      if (parse_attention(rest, comment, out, why, sizeof why) == 0) continue;
    } else if (strcmp(kind, "clblast") == 0) {
      ok = parse_clblast(rest, &entry, why, sizeof why) == 0;
      for (int i = 0; ok && i < out->count; i++) {
        if (strcmp(out->entries[i].kernel, entry.kernel) == 0 &&
            out->entries[i].precision == entry.precision) {
          snprintf(why, sizeof why, "%s/%d given again (line ignored; the first one counts)",
                   entry.kernel, entry.precision);
          ok = 0;
        }
      }
      if (ok && out->count >= CLATTN__TUNING_MAX_ENTRIES) {
        snprintf(why, sizeof why, "more than %d records", CLATTN__TUNING_MAX_ENTRIES);
        ok = 0;
      }
    } else {
      snprintf(why, sizeof why, "unknown record kind '%.64s' (expected 'clblast' or "
               "'attention')", kind);
    }
    if (ok) {
      out->entries[out->count++] = entry;
    } else {
      append(messages, size, "line %d: %s\n", number, why);
      rejected++;
    }
  }
  return rejected;
}

int clattn__tuning_read(const char *path, clattn__tuning_file *out, char *messages,
                        size_t size) {
  char *text = NULL;
  size_t length = 0;
  if (clattn__file_read(path, &text, &length) != 0) return -1;
  int rejected;
  if (strlen(text) != length) {
    memset(out, 0, sizeof *out);
    if (messages && size)
      snprintf(messages, size, "the file holds a NUL byte: not a tuning file\n");
    rejected = 1;
  } else {
    rejected = clattn__tuning_parse(text, out, messages, size);
  }
  free(text);
  return rejected;
}

void clattn__clblast_entry_params(const clattn__clblast_entry *entry, char *buf, size_t size) {
  if (size) buf[0] = '\0';
  for (int i = 0; i < entry->count; i++)
    append(buf, size, "%s%s=%zu", i ? " " : "", entry->names[i], entry->values[i]);
}

char *clattn__tuning_format(const clattn__tuning_file *file, const char *comment) {
  size_t capacity = 4096 + (comment ? 2 * strlen(comment) : 0) +
                    (size_t)file->count * (CLATTN__TUNING_MAX_PARAMS * 48 + 64) +
                    (size_t)file->attention_count * 320;
  char *text = malloc(capacity);
  if (!text) return NULL;
  text[0] = '\0';
  for (const char *line = comment; line && *line;) {
    const char *eol = strchr(line, '\n');
    int length = (int)(eol ? (size_t)(eol - line) : strlen(line));
    append(text, capacity, "# %.*s\n", length, line);
    line = eol ? eol + 1 : NULL;
  }
  for (int i = 0; i < file->count; i++) {
    char params[CLATTN__TUNING_MAX_PARAMS * 48];
    clattn__clblast_entry_params(&file->entries[i], params, sizeof params);
    append(text, capacity, "clblast %s %d %s\n", file->entries[i].kernel,
           file->entries[i].precision, params);
  }
  for (int i = 0; i < file->attention_count; i++) {
    char line[256];
    clattn__attention_entry_format(&file->attention[i], line, sizeof line);
    append(text, capacity, "%s%s%s\n", line, file->attention[i].note[0] ? "  # " : "",
           file->attention[i].note);
  }
  return text;
}

void clattn__tuning_keep_attention(const char *path, clattn__tuning_file *file) {
  clattn__tuning_file *old = malloc(sizeof *old);
  if (!old) return;
  if (path && path[0] && clattn__tuning_read(path, old, NULL, 0) >= 0)
    for (int i = 0; i < old->attention_count; i++)
      clattn__tuning_set_attention(file, &old->attention[i]);
  free(old);
}

int clattn__tuning_set_attention(clattn__tuning_file *file, const clattn__attention_entry *e) {
  for (int i = 0; i < file->attention_count; i++) {
    if (clattn__attention_key_equal(&file->attention[i].key, &e->key)) {
      file->attention[i] = *e;
      return 0;
    }
  }
  if (file->attention_count >= CLATTN__TUNING_MAX_ATTENTION) return -1;
  file->attention[file->attention_count++] = *e;
  return 0;
}

int clattn__tuning_write(const char *dir, const char *name, const char *text) {
  if (clattn__make_dirs(dir) != 0) return -1;
  return clattn__file_write_atomic(dir, name, text, strlen(text));
}

/* ---- Xgemm constraints ---------------------------------------------------------------- */

static int power_of_two_upto(size_t x, size_t max) {
  return x >= 1 && x <= max && (x & (x - 1)) == 0;
}

int clattn__xgemm_check(const size_t v[CLATTN__XGEMM_PARAMS], const clattn_device_info *info,
                        char *why, size_t size) {
  for (int i = 0; i < CLATTN__XGEMM_PARAMS; i++) {
    if (v[i] == (size_t)-1) {
      snprintf(why, size, "missing parameter %s", clattn__xgemm_names[i]);
      return 0;
    }
  }
  size_t gemmk = v[CLATTN__GEMMK], kreg = v[CLATTN__KREG], kwg = v[CLATTN__KWG],
         kwi = v[CLATTN__KWI], mdima = v[CLATTN__MDIMA], mdimc = v[CLATTN__MDIMC],
         mwg = v[CLATTN__MWG], ndimb = v[CLATTN__NDIMB], ndimc = v[CLATTN__NDIMC],
         nwg = v[CLATTN__NWG], sa = v[CLATTN__SA], sb = v[CLATTN__SB], strm = v[CLATTN__STRM],
         strn = v[CLATTN__STRN], vwm = v[CLATTN__VWM], vwn = v[CLATTN__VWN];
  if (gemmk > 1 || sa > 1 || sb > 1 || strm > 1 || strn > 1) {
    snprintf(why, size, "GEMMK, SA, SB, STRM and STRN must be 0 or 1");
    return 0;
  }
  if (!power_of_two_upto(vwm, 16) || !power_of_two_upto(vwn, 16)) {
    snprintf(why, size, "VWM and VWN must be 1, 2, 4, 8 or 16");
    return 0;
  }
  size_t sizes[] = {kreg, kwg, kwi, mdima, mdimc, mwg, ndimb, ndimc, nwg};
  for (size_t i = 0; i < sizeof sizes / sizeof sizes[0]; i++) {
    if (sizes[i] < 1 || sizes[i] > 4096) {
      snprintf(why, size,
               "KREG, KWG, KWI, MDIMA, MDIMC, MWG, NDIMB, NDIMC and NWG must be 1 .. 4096");
      return 0;
    }
  }
  if (kwg % kwi) {
    snprintf(why, size, "KWG (%zu) must be a multiple of KWI (%zu)", kwg, kwi);
    return 0;
  }
  if (mwg % (mdimc * vwm) || mwg % (mdima * vwm)) {
    snprintf(why, size, "MWG (%zu) must be a multiple of MDIMC*VWM and MDIMA*VWM", mwg);
    return 0;
  }
  if (nwg % (ndimc * vwn) || nwg % (ndimb * vwn)) {
    snprintf(why, size, "NWG (%zu) must be a multiple of NDIMC*VWN and NDIMB*VWN", nwg);
    return 0;
  }
  if (gemmk == 0) {
    /* KDIMA = MDIMC*NDIMC/MDIMA and KDIMB = MDIMC*NDIMC/NDIMB must be whole and divide KWG. */
    size_t threads = mdimc * ndimc;
    if (kreg != 1) {
      snprintf(why, size, "GEMMK=0 needs KREG=1");
      return 0;
    }
    if (threads % mdima || threads % ndimb || kwg % (threads / mdima) || kwg % (threads / ndimb)) {
      snprintf(why, size, "KWG (%zu) must be a multiple of MDIMC*NDIMC/MDIMA and MDIMC*NDIMC/NDIMB",
               kwg);
      return 0;
    }
  } else {
    if (kreg % vwn) {
      snprintf(why, size, "GEMMK=1 needs KREG (%zu) to be a multiple of VWN (%zu)", kreg, vwn);
      return 0;
    }
    if (mdima != mdimc || ndimb != ndimc || kwg != 1 || kwi != 1 || sa || sb || strm || strn) {
      snprintf(why, size,
               "GEMMK=1 needs MDIMA=MDIMC, NDIMB=NDIMC, KWG=KWI=1 and SA=SB=STRM=STRN=0");
      return 0;
    }
#if CLBLAST_VERSION_MAJOR == 1 && (CLBLAST_VERSION_MINOR < 6 || \
                                   (CLBLAST_VERSION_MINOR == 6 && CLBLAST_VERSION_PATCH < 3))
    /* CLBlast before 1.6.3 sizes the GEMMK=1 grid with NWG along M (fixed in 1.6.3): with
     * MWG != NWG its kernel computes wrong results or reads out of bounds. */
    if (mwg != nwg) {
      snprintf(why, size, "GEMMK=1 needs MWG == NWG with CLBlast %d.%d.%d (fixed in 1.6.3)",
               CLBLAST_VERSION_MAJOR, CLBLAST_VERSION_MINOR, CLBLAST_VERSION_PATCH);
      return 0;
    }
#endif
  }
  if (info) {
    size_t threads = mdimc * ndimc;
    if (threads > info->max_work_group_size || mdimc > info->max_work_item_sizes[0] ||
        ndimc > info->max_work_item_sizes[1]) {
      snprintf(why, size, "a work-group of %zu x %zu exceeds the device's limits", mdimc, ndimc);
      return 0;
    }
    unsigned long long local = 4ull * (sa * kwg * mwg + sb * kwg * nwg);
    if (local > info->local_mem_size) {
      snprintf(why, size, "needs %llu bytes of local memory, the device has %llu", local,
               (unsigned long long)info->local_mem_size);
      return 0;
    }
  }
  return 1;
}

/* ---- Applying, and what has been applied --------------------------------------------- */

void clattn__clblast_entry_set(clattn__clblast_entry *entry, const char *kernel, int precision,
                               int count, const char *const *names, const size_t *values) {
  memset(entry, 0, sizeof *entry);
  snprintf(entry->kernel, sizeof entry->kernel, "%s", kernel);
  entry->precision = precision;
  entry->count = count < CLATTN__TUNING_MAX_PARAMS ? count : CLATTN__TUNING_MAX_PARAMS;
  for (int i = 0; i < entry->count; i++) {
    snprintf(entry->names[i], sizeof entry->names[i], "%s", names[i]);
    entry->values[i] = values[i];
  }
}

/* What clattn has handed to CLBlast, per device and kernel/precision: CLBlast's overrides are
 * process-wide, so this registry is too. A spin lock (C11) needs no initialisation. */
#define REGISTRY_CAPACITY 64
typedef struct registry_slot {
  cl_device_id device;
  clattn__clblast_entry entry;
} registry_slot;
static registry_slot registry[REGISTRY_CAPACITY];
static int registry_count;
static atomic_flag registry_lock = ATOMIC_FLAG_INIT;

static void registry_acquire(void) {
  while (atomic_flag_test_and_set_explicit(&registry_lock, memory_order_acquire)) {
  }
}
static void registry_release(void) {
  atomic_flag_clear_explicit(&registry_lock, memory_order_release);
}

static registry_slot *registry_find(cl_device_id device, const char *kernel, int precision) {
  for (int i = 0; i < registry_count; i++) {
    if (registry[i].device == device && registry[i].entry.precision == precision &&
        strcmp(registry[i].entry.kernel, kernel) == 0)
      return &registry[i];
  }
  return NULL;
}

int clattn__clblast_current(cl_device_id device, const char *kernel, int precision,
                            clattn__clblast_entry *entry) {
  registry_acquire();
  registry_slot *slot = registry_find(device, kernel, precision);
  if (slot && entry) *entry = slot->entry;
  registry_release();
  return slot != NULL;
}

static const char *clblast_status_text(CLBlastStatusCode status) {
  switch (status) {
    case CLBlastInvalidOverrideKernel: return "CLBlast has no such kernel";
    case CLBlastMissingOverrideParameter: return "CLBlast wants more parameters for this kernel";
    default: return "CLBlastOverrideParameters failed";
  }
}

int clattn__clblast_apply(cl_device_id device, const clattn_device_info *info,
                          const clattn__clblast_entry *entry, char *why, size_t size) {
  if (info && strcmp(entry->kernel, "Xgemm") == 0) {
    size_t v[CLATTN__XGEMM_PARAMS];
    for (int i = 0; i < CLATTN__XGEMM_PARAMS; i++)
      v[i] = entry_value(entry, clattn__xgemm_names[i]);
    char reason[256];
    if (!clattn__xgemm_check(v, info, reason, sizeof reason)) {
      snprintf(why, size, "Xgemm/%d: %s", entry->precision, reason);
      return -1;
    }
  }
  const char *names[CLATTN__TUNING_MAX_PARAMS];
  for (int i = 0; i < entry->count; i++) names[i] = entry->names[i];
  CLBlastStatusCode status =
      CLBlastOverrideParameters(device, entry->kernel, (CLBlastPrecision)entry->precision,
                                (size_t)entry->count, names, entry->values);
  if (status != CLBlastSuccess) {
    snprintf(why, size, "%s/%d: %s (%d)", entry->kernel, entry->precision,
             clblast_status_text(status), (int)status);
    return -1;
  }
  registry_acquire();
  registry_slot *slot = registry_find(device, entry->kernel, entry->precision);
  if (!slot && registry_count < REGISTRY_CAPACITY) slot = &registry[registry_count++];
  if (slot) {
    slot->device = device;
    slot->entry = *entry;
  }
  registry_release();
  return 0;
}

/* CLBlast 1.5.3's database (src/database/kernels/, the xgemm, xgemm_direct and gemm_routine
 * files for 32 bits):
 * the entry for any device its database does not list (vendor/type "default"), and the
 * default of its "Intel CPU" vendor entry. Other CLBlast versions have other values. */
typedef struct default_set {
  size_t xgemm[CLATTN__XGEMM_PARAMS];
  size_t xgemm_direct[10];
  size_t gemm_routine[1];
} default_set;

static const default_set clblast_default_generic = {
    {0, 1, 32, 2, 8, 8, 32, 16, 16, 32, 1, 1, 0, 0, 4, 2}, {2, 8, 8, 8, 8, 1, 1, 1, 1, 16}, {896}};
static const default_set clblast_default_intel_cpu = {
    {0, 1, 32, 2, 16, 16, 64, 8, 8, 64, 0, 0, 0, 0, 4, 4}, {2, 8, 8, 8, 8, 1, 1, 4, 4, 32}, {576}};

int clattn__clblast_defaults(const clattn_device_info *info, const char *kernel,
                             clattn__clblast_entry *entry) {
#if CLBLAST_VERSION_MAJOR == 1 && CLBLAST_VERSION_MINOR == 5 && CLBLAST_VERSION_PATCH == 3
  /* CLBlast matches its database on the vendor (with "GenuineIntel" and "Intel(R)
   * Corporation" read as "Intel"), the device type and then the name. Among CPUs only Intel
   * has entries; PoCL's device names ("pthread-...", "cpu-...") match none of them, so PoCL
   * on an Intel CPU gets the Intel CPU default and any other CPU gets the generic default. */
  const default_set *set = NULL;
  if (info->type & CL_DEVICE_TYPE_CPU) {
    int intel = strcmp(info->vendor, "GenuineIntel") == 0 ||
                strcmp(info->vendor, "Intel(R) Corporation") == 0 ||
                strcmp(info->vendor, "Intel") == 0;
    int pocl = clattn__contains_nocase(info->platform_name, "Portable Computing Language") ||
               clattn__contains_nocase(info->platform_version, "PoCL");
    if (!intel)
      set = &clblast_default_generic;
    else if (pocl)
      set = &clblast_default_intel_cpu;
  }
  if (!set) return 0;
  if (strcmp(kernel, "Xgemm") == 0)
    clattn__clblast_entry_set(entry, kernel, 32, CLATTN__XGEMM_PARAMS, clattn__xgemm_names,
                              set->xgemm);
  else if (strcmp(kernel, "XgemmDirect") == 0)
    clattn__clblast_entry_set(entry, kernel, 32, 10, xgemm_direct_names, set->xgemm_direct);
  else if (strcmp(kernel, "GemmRoutine") == 0)
    clattn__clblast_entry_set(entry, kernel, 32, 1, gemm_routine_names, set->gemm_routine);
  else
    return 0;
  return 1;
#else
  (void)info;
  (void)kernel;
  (void)entry;
  (void)contains_ci;
  (void)clblast_default_generic;
  (void)clblast_default_intel_cpu;
  return 0;
#endif
}

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
      append(st->note, sizeof st->note, "attention %s: wg=%d exceeds the device's %zu\n", key,
             e->config.wg, ctx->info.max_work_group_size);
      continue;
    }
    st->attention[st->attention_count++] = *e;
    st->applied++;
  }
  if (st->attention_count > 0)
    append(st->summary, sizeof st->summary, "%sattention: %d tuned entries",
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
      append(st->note, sizeof st->note, "%s\n", why);
      continue;
    }
    st->applied++;
    char params[CLATTN__TUNING_MAX_PARAMS * 48];
    clattn__clblast_entry_params(e, params, sizeof params);
    append(st->summary, sizeof st->summary, "%s%s/%d %s", st->applied > 1 ? "; " : "", e->kernel,
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
