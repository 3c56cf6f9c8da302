/* Offsets and sizes near and beyond 2^31 must be computed in 64 bits on the host and on the
 * device. One buffer of the largest size the device allows (CL_DEVICE_MAX_MEM_ALLOC_SIZE,
 * capped at 4 GiB + 16 MiB) holds small f16 Q, K, V, O, a bool mask and a float32 LSE at its
 * far end, the LSE ending exactly at the buffer's last byte; its first bytes hold NaN, so an
 * index that wrapped at 32 bits would read poison or write in the wrong place. The fused
 * kernel and the split-KV decode path must match the fp64 reference and leave every other
 * byte of the region untouched. Views whose end overflows 64-bit arithmetic (and would
 * wrap back into the buffer) are INVALID_ARGUMENT with nothing written.
 *
 * Only the touched pages of the buffer are committed on CPU devices (PoCL); the test prints
 * its resident memory. With `--beyond` it requires the element offsets of Q, K, V and O to
 * exceed 2^31 (a buffer above 4 GiB) and exits 77 (CTest: skipped) on devices whose largest
 * buffer is smaller; without it, it runs with whatever buffer the device allows. */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "attn_harness.h"

enum { B = 1, H = 2, HKV = 1, SQ = 9, SKV = 21, D = 24 };
#define NQ ((uint64_t)B * H * SQ * D)
#define NK ((uint64_t)B * HKV * SKV * D)
#define NM ((uint64_t)B * H * SQ * SKV)
#define NL ((uint64_t)B * H * SQ)
#define GAP 64 /* bytes of poison between views */
#define CAP (((uint64_t)1 << 32) + ((uint64_t)1 << 24))

static attn_env env;

/* Byte offsets of the views inside the buffer, all in the last few KiB. */
typedef struct layout {
  uint64_t size, region, mask, q, k, v, o, lse, end;
} layout;

static uint64_t up(uint64_t x, uint64_t to) { return (x + to - 1) / to * to; }

static layout make_layout(uint64_t size) {
  layout l;
  uint64_t need = NM + 2 * (2 * NQ + 2 * NK) + 4 * NL + 8 * GAP;
  l.size = size;
  l.region = (size - need - 4096) / 4096 * 4096;
  l.mask = l.region + GAP;
  l.q = up(l.mask + NM + GAP, 4);
  l.k = up(l.q + 2 * NQ + GAP, 4);
  l.v = up(l.k + 2 * NK + GAP, 4);
  l.o = up(l.v + 2 * NK + GAP, 4);
  l.lse = size - 4 * NL; /* ends exactly at the buffer's end */
  l.end = size;
  return l;
}

static long resident_kib(void) {
  FILE *f = fopen("/proc/self/status", "r");
  char line[256];
  long kib = -1;
  while (f && fgets(line, sizeof line, f))
    if (sscanf(line, "VmRSS: %ld kB", &kib) == 1) break;
  if (f) fclose(f);
  return kib;
}

typedef struct run_args {
  cl_mem buffer;
  const layout *l;
  int64_t q_len;
  int kv_splits;
} run_args;

static clattn_tensor view(const run_args *a, clattn_dtype dtype, uint64_t byte, int64_t heads,
                          int64_t seq, int64_t dim) {
  return clattn_tensor_contiguous(a->buffer, dtype, CLATTN_LAYOUT_BHSD, heads, seq, dim,
                                  byte / clattn_dtype_size(dtype));
}

static clattn_attention_desc make_desc(const run_args *a) {
  clattn_attention_desc d;
  clattn_attention_desc_init(&d);
  d.batch = B;
  d.q_heads = H;
  d.kv_heads = HKV;
  d.q_len = a->q_len;
  d.kv_len = SKV;
  d.head_dim = D;
  d.kv_splits = a->kv_splits;
  d.mask.type = CLATTN_MASK_BOOL;
  d.mask.buffer = a->buffer;
  d.mask.offset = a->l->mask;
  d.mask.stride_batch = H * SQ * SKV;
  d.mask.stride_head = SQ * SKV;
  d.mask.stride_query = SKV;
  return d;
}

static clattn_status call(const clattn_attention_desc *d, clattn_tensor t[5]) {
  return clattn_attention_forward(env.ctx, env.queue, d, &t[0], &t[1], &t[2], &t[3], &t[4], 0,
                                  NULL, NULL);
}

static void make_views(const run_args *a, clattn_tensor t[5]) {
  t[0] = view(a, CLATTN_F16, a->l->q, H, SQ, D);
  t[1] = view(a, CLATTN_F16, a->l->k, HKV, SKV, D);
  t[2] = view(a, CLATTN_F16, a->l->v, HKV, SKV, D);
  t[3] = view(a, CLATTN_F16, a->l->o, H, SQ, D);
  t[4] = view(a, CLATTN_F32, a->l->lse, H, SQ, 1);
}

/* Runs the call, then compares O and LSE with the reference, and every other byte of the
 * region (and the buffer's first bytes) with `image`, the region before the call, which
 * then becomes the region after it. */
static void run_and_check(const run_args *a, unsigned char *image, const float *q,
                          const float *k, const float *v, const uint8_t *mask) {
  const layout *l = a->l;
  clattn_tensor t[5];
  make_views(a, t);
  clattn_attention_desc d = make_desc(a);
  CHECK_OK(env.ctx, call(&d, t));
  uint64_t bytes = l->end - l->region;
  unsigned char *after = malloc(bytes), *head = malloc(4096);
  if (!after || !head) check_fail(__FILE__, __LINE__, "out of memory");
  CHECK_CL(clEnqueueReadBuffer(env.queue, a->buffer, CL_TRUE, l->region, bytes, after, 0, NULL, NULL));
  CHECK_CL(clEnqueueReadBuffer(env.queue, a->buffer, CL_TRUE, 0, 4096, head, 0, NULL, NULL));
  for (uint64_t i = 0; i < 4096; i++)
    if (head[i] != 0xFF) check_fail(__FILE__, __LINE__, "byte %llu at the buffer's start changed", (unsigned long long)i);

  ref_attention r;
  ref_attention_from_desc(&r, &d);
  r.q_len = a->q_len;
  float *qr = malloc(sizeof(float) * NQ);
  double o_ref[NQ], l_ref[NL];
  if (!qr) check_fail(__FILE__, __LINE__, "out of memory");
  for (int64_t h = 0; h < H; h++) /* the first q_len rows of each head, dense */
    memcpy(qr + h * a->q_len * D, q + h * SQ * D, sizeof(float) * (size_t)(a->q_len * D));
  r.q = qr;
  r.k = k;
  r.v = v;
  r.mask_type = CLATTN_MASK_BOOL;
  r.mask = mask;
  r.mask_stride_batch = H * SQ * SKV;
  r.mask_stride_head = SQ * SKV;
  r.mask_stride_query = SKV;
  CHECK_EQ(ref_attention_forward(&r, o_ref, l_ref), 0);
  double worst = 0.0, ratio;
  unsigned char *written = calloc(bytes, 1); /* bytes the call may write */
  if (!written) check_fail(__FILE__, __LINE__, "out of memory");
  for (int64_t h = 0; h < H; h++)
    for (int64_t i = 0; i < a->q_len; i++) {
      for (int64_t e = 0; e < D; e++) {
        uint64_t at = l->o - l->region + 2 * (uint64_t)((h * SQ + i) * D + e);
        float y = ref_load(CLATTN_F16, after + at, 0);
        written[at] = written[at + 1] = 1;
        if (!attn_compare_value(CLATTN_F16, y, o_ref[(h * a->q_len + i) * D + e], &ratio))
          check_fail(__FILE__, __LINE__, "O(h=%lld, i=%lld, d=%lld) = %.9g, reference %.9g",
                     (long long)h, (long long)i, (long long)e, (double)y,
                     o_ref[(h * a->q_len + i) * D + e]);
        if (ratio > worst) worst = ratio;
      }
      uint64_t at = l->lse - l->region + 4 * (uint64_t)(h * SQ + i);
      memset(written + at, 1, 4);
      float y = ref_load(CLATTN_F32, after + at, 0);
      if (!attn_compare_value(CLATTN_F32, y, l_ref[h * a->q_len + i], &ratio))
        check_fail(__FILE__, __LINE__, "LSE(h=%lld, i=%lld) = %.9g, reference %.9g", (long long)h,
                   (long long)i, (double)y, l_ref[h * a->q_len + i]);
      if (ratio > worst) worst = ratio;
    }
  for (uint64_t i = 0; i < bytes; i++)
    if (!written[i] && after[i] != image[i])
      check_fail(__FILE__, __LINE__, "byte %llu of the buffer changed outside O and LSE",
                 (unsigned long long)(l->region + i));
  check_pass();
  memcpy(image, after, bytes);
  printf("  Sq=%lld kv_splits=%d: O and LSE match the reference (worst error/tolerance %.3f); "
         "nothing else changed\n", (long long)a->q_len, a->kv_splits, worst);
  free(written);
  free(qr);
  free(after);
  free(head);
}

/* Views whose end overflows 64 bits, wrapping back into the buffer: INVALID_ARGUMENT. */
static void overflowing_views(const run_args *a) {
  static const char *const names[] = {"q", "k", "o", "desc->mask", "lse"};
  for (int c = 0; c < 5; c++) {
    clattn_tensor t[5];
    make_views(a, t);
    clattn_attention_desc d = make_desc(a);
    switch (c) {
      case 0: t[0].offset += (uint64_t)1 << 63; break; /* byte offset 2^64 + q: wraps to q */
      case 1: t[1].stride_seq = (int64_t)1 << 62; break; /* (Skv - 1) * 2^62 overflows */
      case 2: t[3].stride_head = INT64_MAX; break;
      case 3: d.mask.offset = UINT64_MAX - 4; break;
      default: t[4].offset += 1; break; /* one element past the buffer's end */
    }
    CHECK_STATUS(env.ctx, call(&d, t), CLATTN_INVALID_ARGUMENT);
    CHECK_CONTAINS(clattn_last_error(env.ctx), names[c]);
  }
  printf("  views whose end overflows 64 bits or passes the end: INVALID_ARGUMENT\n");
}

int main(int argc, char **argv) {
  int beyond = argc > 1 && !strcmp(argv[1], "--beyond");
  attn_env_init(&env);
  clattn_device_info info;
  CHECK_OK(env.ctx, clattn_context_device_info(env.ctx, &info));
  uint64_t size = info.max_mem_alloc_size < CAP ? info.max_mem_alloc_size : CAP;
  layout l = make_layout(size);
  printf("largest buffer: %llu bytes (device max %llu); Q/K/V/O f16 element offsets %llu .. %llu, "
         "mask element offset %llu, LSE ends at byte %llu\n",
         (unsigned long long)size, (unsigned long long)info.max_mem_alloc_size,
         (unsigned long long)(l.q / 2), (unsigned long long)(l.o / 2), (unsigned long long)l.mask,
         (unsigned long long)l.end);
  if (beyond && l.q / 2 <= ((uint64_t)1 << 31)) {
    printf("SKIPPED: this device's largest buffer (%llu bytes) cannot hold f16 views at element "
           "offsets beyond 2^31 (needs more than 4 GiB)\n",
           (unsigned long long)info.max_mem_alloc_size);
    attn_env_destroy(&env);
    return 77;
  }

  cl_int err;
  cl_mem buffer = clCreateBuffer(env.cl, CL_MEM_READ_WRITE, (size_t)size, NULL, &err);
  if (!buffer) check_fail(__FILE__, __LINE__, "clCreateBuffer(%llu bytes): %s",
                          (unsigned long long)size, clattn_cl_error_name(err));
  /* The region: NaN (0xFF bytes) everywhere, then the tensors; NaN at the buffer's start. */
  uint64_t bytes = l.end - l.region;
  unsigned char *image = malloc(bytes);
  float q[NQ], k[NK], v[NK];
  uint8_t mask[NM];
  if (!image) check_fail(__FILE__, __LINE__, "out of memory");
  memset(image, 0xFF, bytes);
  CHECK_CL(clEnqueueWriteBuffer(env.queue, buffer, CL_TRUE, 0, 4096, image, 0, NULL, NULL));
  ref_rng rng;
  ref_rng_seed(&rng, 81);
  ref_rng_fill_normal(&rng, q, NQ, 1.0);
  ref_rng_fill_normal(&rng, k, NK, 1.0);
  ref_rng_fill_normal(&rng, v, NK, 1.0);
  for (uint64_t i = 0; i < NM; i++) mask[i] = ref_rng_below(&rng, 5) != 0;
  for (uint64_t i = 0; i < NQ; i++) q[i] = ref_round_to(CLATTN_F16, q[i]);
  for (uint64_t i = 0; i < NK; i++) k[i] = ref_round_to(CLATTN_F16, k[i]);
  for (uint64_t i = 0; i < NK; i++) v[i] = ref_round_to(CLATTN_F16, v[i]);
  for (uint64_t i = 0; i < NQ; i++) ref_store(CLATTN_F16, image + l.q - l.region, i, q[i]);
  for (uint64_t i = 0; i < NK; i++) ref_store(CLATTN_F16, image + l.k - l.region, i, k[i]);
  for (uint64_t i = 0; i < NK; i++) ref_store(CLATTN_F16, image + l.v - l.region, i, v[i]);
  memcpy(image + l.mask - l.region, mask, NM);
  CHECK_CL(clEnqueueWriteBuffer(env.queue, buffer, CL_TRUE, l.region, bytes, image, 0, NULL, NULL));

  run_args fused = {buffer, &l, SQ, 0}, decode = {buffer, &l, 1, 3};
  printf("far end of the buffer:\n");
  run_and_check(&fused, image, q, k, v, mask);
  run_and_check(&decode, image, q, k, v, mask);
  overflowing_views(&fused);
  printf("resident memory: %ld KiB\n", resident_kib());
  free(image);
  clReleaseMemObject(buffer);
  attn_env_destroy(&env);
  return check_done(beyond ? "test_huge_tensors --beyond" : "test_huge_tensors");
}
