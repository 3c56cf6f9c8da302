/*
 * PNG writer: signature, IHDR, one IDAT holding a zlib stream of stored deflate blocks
 * (RFC 1950/1951: header 78 01, blocks of at most 65535 bytes, Adler-32 trailer), IEND.
 * Every row starts with filter byte 0 (none).
 */
#include "png.h"

#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

uint32_t clattn_png_crc32(uint32_t crc, const unsigned char *data, size_t size) {
  crc = ~crc;
  for (size_t i = 0; i < size; ++i) {
    crc ^= data[i];
    for (int bit = 0; bit < 8; ++bit) {
      crc = (crc >> 1) ^ (0xedb88320u & (0u - (crc & 1u)));
    }
  }
  return ~crc;
}

uint32_t clattn_png_adler32(uint32_t adler, const unsigned char *data, size_t size) {
  uint32_t a = adler & 0xffffu, b = adler >> 16;
  for (size_t i = 0; i < size; ++i) {
    a = (a + data[i]) % 65521u;
    b = (b + a) % 65521u;
  }
  return (b << 16) | a;
}

static void png_be32(unsigned char *out, uint32_t x) {
  out[0] = (unsigned char)(x >> 24);
  out[1] = (unsigned char)(x >> 16);
  out[2] = (unsigned char)(x >> 8);
  out[3] = (unsigned char)x;
}

/* One chunk: length, type, data, CRC of type and data. */
static int png_chunk(FILE *f, const char *type, const unsigned char *data, size_t size) {
  unsigned char head[8], tail[4];
  png_be32(head, (uint32_t)size);
  memcpy(head + 4, type, 4);
  uint32_t crc = clattn_png_crc32(0, head + 4, 4);
  crc = clattn_png_crc32(crc, data, size);
  png_be32(tail, crc);
  return fwrite(head, 1, 8, f) == 8 && (size == 0 || fwrite(data, 1, size, f) == size) &&
                 fwrite(tail, 1, 4, f) == 4
             ? 0
             : -1;
}

/* The zlib stream of `raw` in stored blocks; malloc'd, its size in *size. */
static unsigned char *png_zlib_stored(const unsigned char *raw, size_t raw_size, size_t *size) {
  size_t blocks = raw_size / 65535 + 1;
  unsigned char *z = malloc(2 + blocks * 5 + raw_size + 4);
  if (z == NULL) {
    return NULL;
  }
  size_t at = 0;
  z[at++] = 0x78; /* deflate, 32 KiB window */
  z[at++] = 0x01; /* no preset dictionary, fastest; 0x7801 is a multiple of 31 */
  size_t done = 0;
  do {
    size_t n = raw_size - done > 65535 ? 65535 : raw_size - done;
    z[at++] = done + n == raw_size ? 1 : 0; /* BFINAL, BTYPE 00 (stored) */
    z[at++] = (unsigned char)(n & 0xff);
    z[at++] = (unsigned char)(n >> 8);
    z[at++] = (unsigned char)(~n & 0xff);
    z[at++] = (unsigned char)((~n >> 8) & 0xff);
    memcpy(z + at, raw + done, n);
    at += n;
    done += n;
  } while (done < raw_size);
  png_be32(z + at, clattn_png_adler32(1, raw, raw_size));
  *size = at + 4;
  return z;
}

int clattn_png_write(const char *path, int width, int height, const unsigned char *rgb,
                     char *error, size_t error_size) {
  static const unsigned char signature[8] = {0x89, 'P', 'N', 'G', '\r', '\n', 0x1a, '\n'};
  size_t row = (size_t)width * 3;
  size_t raw_size = (row + 1) * (size_t)height;
  unsigned char *raw = malloc(raw_size);
  if (raw == NULL) {
    snprintf(error, error_size, "out of memory for a %dx%d image", width, height);
    return -1;
  }
  for (int y = 0; y < height; ++y) {
    raw[(size_t)y * (row + 1)] = 0; /* filter: none */
    memcpy(raw + (size_t)y * (row + 1) + 1, rgb + (size_t)y * row, row);
  }
  size_t z_size = 0;
  unsigned char *z = png_zlib_stored(raw, raw_size, &z_size);
  free(raw);
  if (z == NULL) {
    snprintf(error, error_size, "out of memory for a %dx%d image", width, height);
    return -1;
  }
  unsigned char ihdr[13];
  png_be32(ihdr, (uint32_t)width);
  png_be32(ihdr + 4, (uint32_t)height);
  ihdr[8] = 8;  /* bits per sample */
  ihdr[9] = 2;  /* colour type: RGB */
  ihdr[10] = 0; /* deflate */
  ihdr[11] = 0; /* adaptive filtering */
  ihdr[12] = 0; /* no interlace */
  FILE *f = fopen(path, "wb");
  if (f == NULL) {
    snprintf(error, error_size, "cannot create '%s': %s", path, strerror(errno));
    free(z);
    return -1;
  }
  int rc = fwrite(signature, 1, 8, f) == 8 ? 0 : -1;
  if (rc == 0) rc = png_chunk(f, "IHDR", ihdr, sizeof ihdr);
  if (rc == 0) rc = png_chunk(f, "IDAT", z, z_size);
  if (rc == 0) rc = png_chunk(f, "IEND", NULL, 0);
  free(z);
  if (fclose(f) != 0) rc = -1;
  if (rc != 0) {
    snprintf(error, error_size, "cannot write '%s': %s", path, strerror(errno));
    remove(path);
  }
  return rc;
}
