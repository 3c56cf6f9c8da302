#include "binary_cache.h"

#include <errno.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "fileio.h"

#define MAGIC "CLATTNB1"
#define HEADER_SIZE 88
#define KEY_LENGTH 64

static uint64_t fnv1a64(const unsigned char *data, size_t size) {
  uint64_t hash = 0xcbf29ce484222325ull;
  for (size_t i = 0; i < size; i++) {
    hash ^= data[i];
    hash *= 0x100000001b3ull;
  }
  return hash;
}

static void put_u64(unsigned char *out, uint64_t value) {
  for (int i = 0; i < 8; i++) out[i] = (unsigned char)(value >> (8 * i));
}

static uint64_t get_u64(const unsigned char *in) {
  uint64_t value = 0;
  for (int i = 0; i < 8; i++) value |= (uint64_t)in[i] << (8 * i);
  return value;
}

static char *entry_name(const char *key) {
  size_t n = strlen(key) + 5;
  char *name = malloc(n);
  if (name) snprintf(name, n, "%s.bin", key);
  return name;
}

/* Checks the frame of a whole file and moves the payload to the front of the buffer. */
static int unframe(unsigned char *file, size_t file_size, const char *key, size_t *size) {
  if (file_size < HEADER_SIZE || memcmp(file, MAGIC, 8) != 0) return 0;
  uint64_t payload_size = get_u64(file + 8);
  if (payload_size != file_size - HEADER_SIZE || payload_size == 0) return 0;
  if (strlen(key) != KEY_LENGTH || memcmp(file + 24, key, KEY_LENGTH) != 0) return 0;
  if (get_u64(file + 16) != fnv1a64(file + HEADER_SIZE, (size_t)payload_size)) return 0;
  memmove(file, file + HEADER_SIZE, (size_t)payload_size);
  *size = (size_t)payload_size;
  return 1;
}

clattn__binary_state clattn__binary_read(const char *dir, const char *key, int allow_raw,
                                         unsigned char **payload, size_t *size) {
  char *name = entry_name(key);
  char *path = name ? clattn__path_join(dir, name) : NULL;
  free(name);
  if (!path) return CLATTN__BINARY_INVALID;
  char *file = NULL;
  size_t file_size = 0;
  int read_failed = clattn__file_read(path, &file, &file_size) != 0;
  int missing = read_failed && errno == ENOENT;
  free(path);
  if (read_failed) return missing ? CLATTN__BINARY_MISSING : CLATTN__BINARY_INVALID;

  unsigned char *bytes = (unsigned char *)file;
  int framed = file_size >= 8 && memcmp(bytes, MAGIC, 8) == 0;
  if (framed ? unframe(bytes, file_size, key, size) : (allow_raw && file_size > 0)) {
    if (!framed) *size = file_size;
    *payload = bytes;
    return CLATTN__BINARY_VALID;
  }
  free(file);
  return CLATTN__BINARY_INVALID;
}

int clattn__binary_write(const char *dir, const char *key, const unsigned char *payload,
                         size_t size) {
  if (strlen(key) != KEY_LENGTH || size == 0) return -1;
  unsigned char *file = malloc(HEADER_SIZE + size);
  char *name = entry_name(key);
  int result = -1;
  if (file && name) {
    memcpy(file, MAGIC, 8);
    put_u64(file + 8, size);
    put_u64(file + 16, fnv1a64(payload, size));
    memcpy(file + 24, key, KEY_LENGTH);
    memcpy(file + HEADER_SIZE, payload, size);
    result = clattn__file_write_atomic(dir, name, file, HEADER_SIZE + size);
  }
  free(file);
  free(name);
  return result;
}
