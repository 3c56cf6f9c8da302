/*
 * A dependency-free PNG writer: 8-bit RGB, no interlacing, the image data in a zlib stream of
 * stored (uncompressed) deflate blocks. Files are larger than a compressing writer's, but any
 * PNG reader opens them and the code stays small enough to check by eye.
 */
#ifndef CLATTN_CLI_PNG_H
#define CLATTN_CLI_PNG_H

#include <stddef.h>
#include <stdint.h>

/* CRC-32 (ISO 3309, as PNG chunks use) of `size` bytes, continuing from `crc` (0 to start). */
uint32_t clattn_png_crc32(uint32_t crc, const unsigned char *data, size_t size);

/* Adler-32 (as zlib streams end with) of `size` bytes, continuing from `adler` (1 to start). */
uint32_t clattn_png_adler32(uint32_t adler, const unsigned char *data, size_t size);

/* Writes `rgb` (height rows of width * 3 bytes, top row first) to `path`. Returns 0, or -1
 * with a message in `error`. */
int clattn_png_write(const char *path, int width, int height, const unsigned char *rgb,
                     char *error, size_t error_size);

#endif /* CLATTN_CLI_PNG_H */
