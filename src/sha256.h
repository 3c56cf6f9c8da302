/* SHA-256 (FIPS 180-4), for cache keys: a key must not collide across sources, options and
 * devices, and a cryptographic hash makes that a non-question. */
#ifndef CLATTN_SHA256_H
#define CLATTN_SHA256_H

#include <stddef.h>
#include <stdint.h>

typedef struct clattn__sha256 {
  uint32_t state[8];
  uint64_t length; /* bytes hashed so far */
  unsigned char block[64];
  size_t used; /* bytes waiting in block */
} clattn__sha256;

void clattn__sha256_init(clattn__sha256 *h);
void clattn__sha256_update(clattn__sha256 *h, const void *data, size_t size);
/* Writes the digest as 64 lowercase hex digits and a NUL. */
void clattn__sha256_hex(clattn__sha256 *h, char hex[65]);

#endif
