/* Program binaries on disk: the disk cache and the prebuilt-binary directory share one file
 * naming ("<key>.bin") and one framing, which lets a reader reject corrupt, truncated and
 * foreign entries instead of handing them to the driver:
 *
 *   offset  size  field
 *        0     8  magic "CLATTNB1"
 *        8     8  payload size in bytes (little-endian)
 *       16     8  FNV-1a 64 checksum of the payload (little-endian)
 *       24    64  the cache key, hex
 *       88     n  the device binary (CL_PROGRAM_BINARIES)
 */
#ifndef CLATTN_BINARY_CACHE_H
#define CLATTN_BINARY_CACHE_H

#include <stddef.h>

typedef enum clattn__binary_state {
  CLATTN__BINARY_MISSING, /* no such file */
  CLATTN__BINARY_VALID,   /* *payload holds the device binary */
  CLATTN__BINARY_INVALID  /* present but corrupt, truncated, foreign or unreadable */
} clattn__binary_state;

/* Reads "<dir>/<key>.bin". With allow_raw, a file without the frame is taken as a raw
 * device binary, as offline compilers write them. On VALID, *payload is malloc'd. */
clattn__binary_state clattn__binary_read(const char *dir, const char *key, int allow_raw,
                                         unsigned char **payload, size_t *size);

/* Writes "<dir>/<key>.bin" framed, atomically. Returns 0 or -1. */
int clattn__binary_write(const char *dir, const char *key, const unsigned char *payload,
                         size_t size);

#endif
