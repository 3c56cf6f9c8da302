/* Fuzz target: the per-device tuning file parser (clattn__tuning_parse in src/tuning.c).
 *
 * The first byte picks the size of the message buffer (0 .. 255; 0 passes NULL), so that the
 * truncation of messages is exercised; the rest is the file's text, cut at its first NUL as
 * clattn__tuning_read would reject it. Every accepted record must survive a round trip:
 * formatting the parsed file and parsing that again gives the same records and no rejection. */
#include <string.h>

#include "fuzz.h"
#include "tuning.h"

static void check_file(const clattn__tuning_file *f) {
  FUZZ_CHECK(f->count >= 0 && f->count <= CLATTN__TUNING_MAX_ENTRIES);
  for (int i = 0; i < f->count; i++) {
    const clattn__clblast_entry *e = &f->entries[i];
    FUZZ_CHECK(memchr(e->kernel, '\0', sizeof e->kernel) != NULL && e->kernel[0] != '\0');
    FUZZ_CHECK(e->count >= 1 && e->count <= CLATTN__TUNING_MAX_PARAMS);
    for (int j = 0; j < e->count; j++)
      FUZZ_CHECK(memchr(e->names[j], '\0', sizeof e->names[j]) != NULL);
  }
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size) {
  if (size == 0) return 0;
  size_t message_size = data[0];
  char *text = malloc(size); /* size - 1 bytes of text and a NUL */
  char *messages = message_size ? malloc(message_size) : NULL;
  static clattn__tuning_file file, again; /* large: keep them off the stack */
  FUZZ_CHECK(text && (message_size == 0 || messages));
  memcpy(text, data + 1, size - 1);
  text[size - 1] = '\0';

  size_t lines = 1;
  for (const char *c = text; *c; c++) lines += *c == '\n';
  int rejected = clattn__tuning_parse(text, &file, messages, message_size);
  FUZZ_CHECK(rejected >= 0 && (size_t)rejected <= lines);
  if (messages) FUZZ_CHECK(memchr(messages, '\0', message_size) != NULL);
  check_file(&file);

  char *formatted = clattn__tuning_format(&file, "fuzz\nround trip");
  FUZZ_CHECK(formatted != NULL);
  char round_trip[512];
  FUZZ_CHECK(clattn__tuning_parse(formatted, &again, round_trip, sizeof round_trip) == 0);
  FUZZ_CHECK(again.count == file.count);
  for (int i = 0; i < file.count; i++) {
    const clattn__clblast_entry *a = &file.entries[i], *b = &again.entries[i];
    FUZZ_CHECK(strcmp(a->kernel, b->kernel) == 0 && a->precision == b->precision);
    FUZZ_CHECK(a->count == b->count);
    for (int j = 0; j < a->count; j++)
      FUZZ_CHECK(strcmp(a->names[j], b->names[j]) == 0 && a->values[j] == b->values[j]);
  }
  free(formatted);
  free(messages);
  free(text);
  return 0;
}
