/*
 * Checks a PNG written by 'clattn heatmap' / 'clattn run --heatmap' without any image library:
 *
 *   png_check FILE.png MIN_W MAX_W MIN_H MAX_H
 *
 * The signature; every chunk's CRC (computed here with its own table, independent of the
 * writer's); IHDR (8-bit RGB, no interlace, size within the bounds); IDAT data forming one
 * zlib stream (valid header, deflate blocks that are stored, LEN/NLEN consistent, the final
 * block flagged, Adler-32 correct) whose payload is exactly height rows of 1 + 3 * width
 * bytes with known filter types; IEND last. Exit status 0 when all hold, else 1.
 */
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

static uint32_t crc_table[256];

static void crc_init(void) {
  for (uint32_t n = 0; n < 256; ++n) {
    uint32_t c = n;
    for (int k = 0; k < 8; ++k) {
      c = c & 1u ? 0xedb88320u ^ (c >> 1) : c >> 1;
    }
    crc_table[n] = c;
  }
}

static uint32_t crc_of(const unsigned char *p, size_t n) {
  uint32_t c = 0xffffffffu;
  for (size_t i = 0; i < n; ++i) {
    c = crc_table[(c ^ p[i]) & 0xffu] ^ (c >> 8);
  }
  return c ^ 0xffffffffu;
}

static uint32_t be32(const unsigned char *p) {
  return (uint32_t)p[0] << 24 | (uint32_t)p[1] << 16 | (uint32_t)p[2] << 8 | p[3];
}

static int fail(const char *what) {
  fprintf(stderr, "png_check: %s\n", what);
  return 1;
}

int main(int argc, char **argv) {
  if (argc != 6) {
    fputs("usage: png_check FILE.png MIN_W MAX_W MIN_H MAX_H\n", stderr);
    return 1;
  }
  crc_init();
  FILE *f = fopen(argv[1], "rb");
  if (f == NULL) {
    return fail("cannot open the file");
  }
  fseek(f, 0, SEEK_END);
  long size = ftell(f);
  fseek(f, 0, SEEK_SET);
  unsigned char *data = malloc((size_t)size);
  if (data == NULL || fread(data, 1, (size_t)size, f) != (size_t)size) {
    fclose(f);
    return fail("cannot read the file");
  }
  fclose(f);
  static const unsigned char signature[8] = {0x89, 'P', 'N', 'G', '\r', '\n', 0x1a, '\n'};
  if (size < 8 || memcmp(data, signature, 8) != 0) {
    return fail("bad signature");
  }
  unsigned char *z = malloc((size_t)size);
  size_t z_size = 0;
  uint32_t width = 0, height = 0;
  int seen_ihdr = 0, seen_iend = 0;
  for (long at = 8; at < size;) {
    if (seen_iend) {
      return fail("data after IEND");
    }
    if (at + 12 > size) {
      return fail("truncated chunk");
    }
    uint32_t len = be32(data + at);
    if (at + 12 + (long)len > size) {
      return fail("chunk runs past the end");
    }
    const unsigned char *type = data + at + 4, *body = data + at + 8;
    if (crc_of(type, len + 4) != be32(body + len)) {
      return fail("chunk CRC mismatch");
    }
    if (memcmp(type, "IHDR", 4) == 0) {
      if (len != 13 || at != 8) {
        return fail("IHDR must come first with 13 bytes");
      }
      width = be32(body);
      height = be32(body + 4);
      if (body[8] != 8 || body[9] != 2 || body[10] != 0 || body[11] != 0 || body[12] != 0) {
        return fail("expected 8-bit RGB, deflate, no interlace");
      }
      seen_ihdr = 1;
    } else if (memcmp(type, "IDAT", 4) == 0) {
      memcpy(z + z_size, body, len);
      z_size += len;
    } else if (memcmp(type, "IEND", 4) == 0) {
      seen_iend = 1;
    }
    at += 12 + (long)len;
  }
  if (!seen_ihdr || !seen_iend) {
    return fail("missing IHDR or IEND");
  }
  if (width < (uint32_t)atol(argv[2]) || width > (uint32_t)atol(argv[3]) ||
      height < (uint32_t)atol(argv[4]) || height > (uint32_t)atol(argv[5])) {
    fprintf(stderr, "png_check: size %ux%u outside %sx%s .. %sx%s\n", width, height, argv[2],
            argv[4], argv[3], argv[5]);
    return 1;
  }
  /* zlib: CMF/FLG, stored deflate blocks, Adler-32. */
  if (z_size < 6 || (z[0] & 0x0f) != 8 || ((z[0] << 8) | z[1]) % 31 != 0 || (z[1] & 0x20)) {
    return fail("bad zlib header");
  }
  size_t expected = (size_t)height * (1 + 3 * (size_t)width);
  unsigned char *raw = malloc(expected + 1);
  size_t raw_size = 0, at = 2;
  int final = 0;
  while (!final) {
    if (at + 5 > z_size) {
      return fail("truncated deflate block");
    }
    final = z[at] & 1;
    if ((z[at] >> 1) != 0) {
      return fail("not a stored block (this checker reads stored blocks only)");
    }
    size_t n = (size_t)z[at + 1] | (size_t)z[at + 2] << 8;
    size_t nn = (size_t)z[at + 3] | (size_t)z[at + 4] << 8;
    if ((n ^ 0xffffu) != nn) {
      return fail("LEN and NLEN disagree");
    }
    at += 5;
    if (at + n > z_size || raw_size + n > expected) {
      return fail("block runs past the stream or the image");
    }
    memcpy(raw + raw_size, z + at, n);
    raw_size += n;
    at += n;
  }
  if (at + 4 != z_size) {
    return fail("zlib stream does not end with the Adler-32");
  }
  uint32_t a = 1, b = 0;
  for (size_t i = 0; i < raw_size; ++i) {
    a = (a + raw[i]) % 65521u;
    b = (b + a) % 65521u;
  }
  if (((b << 16) | a) != be32(z + at)) {
    return fail("Adler-32 mismatch");
  }
  if (raw_size != expected) {
    return fail("image data is not height rows of 1 + 3 * width bytes");
  }
  for (uint32_t y = 0; y < height; ++y) {
    if (raw[(size_t)y * (1 + 3 * (size_t)width)] > 4) {
      return fail("bad filter type");
    }
  }
  printf("png_check: %s: %ux%u RGB, %zu bytes of image data, CRCs and Adler-32 correct\n",
         argv[1], width, height, raw_size);
  free(raw);
  free(z);
  free(data);
  return 0;
}
