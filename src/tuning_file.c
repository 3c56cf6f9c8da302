/* The per-device tuning file: where it lives and its text format (see tuning.h). */
#include "tuning.h"

#include <clblast_c.h>
#include <ctype.h>
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "context.h"
#include "errors.h"
#include "fileio.h"
#include "sha256.h"

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

/* Parses "clblast <kernel> <precision> NAME=VALUE..." (the words after "clblast"). */
static int parse_clblast(char *rest, clattn__clblast_entry *e, char *why, size_t size) {
  memset(e, 0, sizeof *e);
  char *kernel = clattn__next_word(&rest);
  char *precision = clattn__next_word(&rest);
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
  for (char *word; (word = clattn__next_word(&rest)) != NULL;)
    if (parse_param(word, e, why, size) != 0) return -1;
  if (e->count == 0) {
    snprintf(why, size, "%s/%d: no parameters", e->kernel, e->precision);
    return -1;
  }
  return clattn__clblast_entry_check(e, why, size);
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
      clattn__text_append(messages, size, "line %d: longer than %zu characters\n", number, sizeof buffer - 1);
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
    char *kind = clattn__next_word(&rest);
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
      clattn__text_append(messages, size, "line %d: %s\n", number, why);
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
    clattn__text_append(buf, size, "%s%s=%zu", i ? " " : "", entry->names[i], entry->values[i]);
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
    clattn__text_append(text, capacity, "# %.*s\n", length, line);
    line = eol ? eol + 1 : NULL;
  }
  for (int i = 0; i < file->count; i++) {
    char params[CLATTN__TUNING_MAX_PARAMS * 48];
    clattn__clblast_entry_params(&file->entries[i], params, sizeof params);
    clattn__text_append(text, capacity, "clblast %s %d %s\n", file->entries[i].kernel,
           file->entries[i].precision, params);
  }
  for (int i = 0; i < file->attention_count; i++) {
    char line[256];
    clattn__attention_entry_format(&file->attention[i], line, sizeof line);
    clattn__text_append(text, capacity, "%s%s%s\n", line, file->attention[i].note[0] ? "  # " : "",
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
