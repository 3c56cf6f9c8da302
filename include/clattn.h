/*
 * clattn — portable attention on any OpenCL device.
 *
 * This header is the whole public API and its documentation. Conventions:
 *
 *  - Every function that can fail returns a clattn_status; results go in trailing pointer
 *    arguments, which are written only on success.
 *  - Handles are opaque. A handle is created by a *_create function and released by the
 *    matching *_destroy function; destroying NULL is a no-op.
 *  - On failure, clattn_last_error(ctx) holds a message naming the offending argument or
 *    OpenCL call, the OpenCL error name, and on build failures the compiler log.
 *  - The library never calls exit() or abort(), never owns the caller's buffers, and never
 *    releases an OpenCL object it did not retain.
 *  - A context may be used from several threads at once.
 */
#ifndef CLATTN_H
#define CLATTN_H

/* clattn's kernels are OpenCL C 1.2; so is the host API it needs. A caller that includes the
 * OpenCL headers first with its own target version keeps it. */
#ifndef CL_TARGET_OPENCL_VERSION
#define CL_TARGET_OPENCL_VERSION 120
#endif
#ifdef __APPLE__
#include <OpenCL/cl.h>
#else
#include <CL/cl.h>
#endif

#include <stddef.h>
#include <stdint.h>

#ifdef __cplusplus
extern "C" {
#endif

#if defined(_WIN32) && defined(CLATTN_SHARED)
#ifdef CLATTN_BUILDING
#define CLATTN_API __declspec(dllexport)
#else
#define CLATTN_API __declspec(dllimport)
#endif
#elif defined(__GNUC__)
#define CLATTN_API __attribute__((visibility("default")))
#else
#define CLATTN_API
#endif

/* ---------------------------------------------------------------------------------------
 * Version
 * ------------------------------------------------------------------------------------- */

#define CLATTN_VERSION_MAJOR 0
#define CLATTN_VERSION_MINOR 1
#define CLATTN_VERSION_PATCH 0
/* One number, comparable with <: (major << 16) | (minor << 8) | patch. */
#define CLATTN_VERSION_HEX \
  ((CLATTN_VERSION_MAJOR << 16) | (CLATTN_VERSION_MINOR << 8) | CLATTN_VERSION_PATCH)

/* The version of the library actually linked, as CLATTN_VERSION_HEX. Compare it with the
 * header's CLATTN_VERSION_HEX to detect a header/library mismatch. */
CLATTN_API unsigned clattn_version(void);
/* The same as "MAJOR.MINOR.PATCH". The string is static. */
CLATTN_API const char *clattn_version_string(void);

/* ---------------------------------------------------------------------------------------
 * Status codes
 *
 * One list generates the enum, clattn_status_name() and clattn_status_string().
 * ------------------------------------------------------------------------------------- */

#define CLATTN_STATUS_MAP(X)                                                                  \
  X(SUCCESS, 0, "success")                                                                    \
  X(INVALID_ARGUMENT, -1, "an argument is invalid")                                          \
  X(OUT_OF_HOST_MEMORY, -2, "host memory allocation failed")                                 \
  X(DEVICE_NOT_FOUND, -3, "no OpenCL device matches the request")                            \
  X(OPENCL_ERROR, -4, "an OpenCL call failed")                                               \
  X(BUILD_FAILED, -5, "kernel compilation failed")                                           \
  X(NO_COMPILER, -6, "the device cannot compile and no prebuilt binary was found")           \
  X(KERNEL_NOT_FOUND, -7, "no kernel source by that name")                                   \
  X(IO_ERROR, -8, "a file could not be read or written")                                     \
  X(UNSUPPORTED, -9, "the device or build does not support this")                            \
  X(BUFFER_TOO_SMALL, -10, "the output array is too small")                                  \
  X(CAPACITY_EXCEEDED, -11, "a KV cache sequence or block pool is full")                      \
  X(INTERNAL, -99, "internal error (a bug in clattn)")

typedef enum clattn_status {
#define CLATTN_STATUS_ENUM_(name, code, text) CLATTN_##name = code,
  CLATTN_STATUS_MAP(CLATTN_STATUS_ENUM_)
#undef CLATTN_STATUS_ENUM_
} clattn_status;

/* "CLATTN_INVALID_ARGUMENT" for CLATTN_INVALID_ARGUMENT; "CLATTN_UNKNOWN_STATUS" otherwise.
 * The string is static. */
CLATTN_API const char *clattn_status_name(clattn_status status);
/* A one-line description, e.g. "an argument is invalid". The string is static. */
CLATTN_API const char *clattn_status_string(clattn_status status);
/* The name of an OpenCL error code, e.g. "CL_OUT_OF_RESOURCES" for -5. Static string. */
CLATTN_API const char *clattn_cl_error_name(cl_int err);

/* ---------------------------------------------------------------------------------------
 * Devices
 * ------------------------------------------------------------------------------------- */

/* What clattn knows about one OpenCL device: everything kernels are configured from. */
typedef struct clattn_device_info {
  unsigned platform_index; /* position in clGetPlatformIDs' list */
  unsigned device_index;   /* position in the platform's clGetDeviceIDs(ALL) list */
  char name[256];
  char vendor[256];
  char platform_name[256];
  char platform_version[256];
  char device_version[256];
  char driver_version[256];
  char opencl_c_version[256];
  cl_device_type type;          /* CL_DEVICE_TYPE_GPU, _CPU, _ACCELERATOR, ... */
  cl_uint compute_units;        /* CL_DEVICE_MAX_COMPUTE_UNITS */
  cl_uint max_clock_mhz;        /* CL_DEVICE_MAX_CLOCK_FREQUENCY */
  cl_ulong global_mem_size;     /* bytes */
  cl_ulong max_mem_alloc_size;  /* bytes, largest single buffer */
  cl_ulong local_mem_size;      /* bytes of __local memory per work-group */
  int local_mem_is_dedicated;   /* 1 when CL_LOCAL (on-chip), 0 when CL_GLOBAL (emulated) */
  size_t max_work_group_size;   /* CL_DEVICE_MAX_WORK_GROUP_SIZE */
  size_t max_work_item_sizes[3];
  cl_uint preferred_vector_width_float;
  cl_uint mem_base_addr_align;  /* bits */
  int has_fp16;                 /* cl_khr_fp16: half arithmetic (half storage always works) */
  int has_fp64;                 /* cl_khr_fp64, or a non-zero CL_DEVICE_DOUBLE_FP_CONFIG */
  int compiler_available;       /* CL_DEVICE_COMPILER_AVAILABLE and LINKER_AVAILABLE */
  char extensions[4096];        /* space-separated; truncated if longer */
} clattn_device_info;

/* Lists every device of every platform, platforms in order, devices in order. Writes at most
 * `capacity` entries to `out` (which may be NULL when capacity is 0) and the total number
 * of devices to *count. Returns CLATTN_BUFFER_TOO_SMALL when capacity < *count (the first
 * `capacity` entries are still written). A machine with no OpenCL platform gives *count 0
 * and CLATTN_SUCCESS. */
CLATTN_API clattn_status clattn_list_devices(clattn_device_info *out, size_t capacity,
                                             size_t *count);

/* Picks a device the way clattn_context_create does and returns its position in
 * clattn_list_devices' order. `selector` is
 *   NULL or ""          → the CLATTN_DEVICE environment variable if set, else the default:
 *                         the first GPU, else the first accelerator, else the first CPU,
 *                         else the first device, searching all platforms in order;
 *   "P:D"               → platform index P, device index D (decimal);
 *   anything else       → the first device whose name contains it, ignoring case.
 * Returns CLATTN_DEVICE_NOT_FOUND (message in clattn_last_error(NULL)) when nothing matches
 * or there is no device. */
CLATTN_API clattn_status clattn_select_device(const char *selector, size_t *index);

/* ---------------------------------------------------------------------------------------
 * Context
 *
 * A context binds one OpenCL device, its kernels, the program caches and a default command
 * queue. It is thread-safe: several threads may use one context, each with its own queue.
 * ------------------------------------------------------------------------------------- */

typedef struct clattn_context clattn_context;

typedef struct clattn_context_options {
  /* Device selector, as for clattn_select_device. NULL: CLATTN_DEVICE, else the default.
   * An explicit selector here takes precedence over the environment. Ignored by
   * clattn_context_create_from_cl. */
  const char *device;
  /* Disk binary cache directory. NULL: CLATTN_CACHE_DIR, else $XDG_CACHE_HOME/clattn, else
   * $HOME/.cache/clattn. Created if missing; if it cannot be created or written, the disk
   * cache is disabled and everything else works. */
  const char *cache_dir;
  /* 1: use the disk cache; 0: never touch it; -1 (default): on unless CLATTN_CACHE=0. */
  int disk_cache;
  /* Read kernel sources (*.cl) from this directory instead of the copies embedded in the
   * library; for kernel development. NULL: CLATTN_KERNEL_DIR, else embedded. */
  const char *kernel_dir;
  /* Directory of prebuilt binaries, each named "<key>.bin" as clattn_kernel_variants
   * reports, for devices without a compiler (FPGAs). A file there is either what
   * clattn_export_binaries writes (framed and checksummed) or the raw device binary an
   * offline compiler produced. A binary the driver rejects counts as missing. NULL:
   * CLATTN_BINARY_DIR, else none. Consulted before the disk cache. */
  const char *binary_dir;
  /* 1 (default): build from source when no binary is found. 0: never call the compiler, as
   * on a device without one; a missing binary then gives CLATTN_NO_COMPILER. */
  int allow_compile;
} clattn_context_options;

/* Fills *options with the defaults described above. */
CLATTN_API void clattn_context_options_init(clattn_context_options *options);

/* Creates a context on the selected device with its own cl_context and an in-order command
 * queue (profiling enabled). `options` may be NULL for the defaults.
 * Statuses: SUCCESS, DEVICE_NOT_FOUND, OPENCL_ERROR, OUT_OF_HOST_MEMORY, INVALID_ARGUMENT.
 * On failure *ctx is untouched and clattn_last_error(NULL) says why. */
CLATTN_API clattn_status clattn_context_create(const clattn_context_options *options,
                                               clattn_context **ctx);

/* Creates a context that wraps the caller's cl_context and cl_device_id (which must belong
 * to it). clattn retains both and releases them exactly once in clattn_context_destroy; the
 * caller keeps its own references. clattn creates its own default queue on that context.
 * `options` may be NULL. Statuses as clattn_context_create, plus INVALID_ARGUMENT when the
 * device does not belong to the context. */
CLATTN_API clattn_status clattn_context_create_from_cl(cl_context cl_ctx, cl_device_id device,
                                                       const clattn_context_options *options,
                                                       clattn_context **ctx);

/* Releases everything the context created or retained. The caller must first finish the
 * work it enqueued through clattn (clFinish). NULL is a no-op. */
CLATTN_API void clattn_context_destroy(clattn_context *ctx);

/* The message of the most recent failure on `ctx`, or "" if none. With ctx NULL: the most
 * recent failure of a call without a context (create, list, select) on this thread. The
 * string stays valid until the next failing call on the same context (or thread). */
CLATTN_API const char *clattn_last_error(const clattn_context *ctx);

/* The context's OpenCL objects, owned by the context: do not release them (retain them if
 * you keep them beyond the context's life). */
CLATTN_API cl_context clattn_context_cl_context(const clattn_context *ctx);
CLATTN_API cl_device_id clattn_context_cl_device(const clattn_context *ctx);
CLATTN_API cl_command_queue clattn_context_queue(const clattn_context *ctx);

/* The device facts of the context's device (platform_index and device_index are those of
 * clattn_list_devices, or ~0u when the device is not found there). */
CLATTN_API clattn_status clattn_context_device_info(const clattn_context *ctx,
                                                    clattn_device_info *info);
/* 1 when the context's device reports the extension (exact name), else 0. */
CLATTN_API int clattn_context_has_extension(const clattn_context *ctx, const char *extension);

/* ---------------------------------------------------------------------------------------
 * Kernels, program caches and prebuilt binaries
 *
 * clattn compiles its OpenCL C kernels at run time. A kernel variant is one source file
 * built with one option string (a sorted list of -D defines, so equal configurations give
 * equal strings). Programs are found in this order: the context's memory cache, the
 * prebuilt-binary directory, the disk cache, and finally the compiler (whose result is
 * written to the disk cache). The cache key hashes the source, the options, the device
 * name, the driver version, the platform version and clattn's version.
 * ------------------------------------------------------------------------------------- */

typedef struct clattn_kernel_variant {
  char file[64];      /* source file in cl/, e.g. "ceiling.cl" */
  char options[1024]; /* complete build options */
  char key[65];       /* cache key (hex SHA-256); the binary's file name is key + ".bin" */
} clattn_kernel_variant;

/* Lists every kernel variant the context's configuration needs, so they can be compiled
 * offline for devices without a compiler. Writes at most `capacity` entries and the total
 * to *count; BUFFER_TOO_SMALL when capacity < *count. Statuses: also KERNEL_NOT_FOUND and
 * IO_ERROR when a source cannot be read (kernel_dir). */
CLATTN_API clattn_status clattn_kernel_variants(clattn_context *ctx, clattn_kernel_variant *out,
                                                size_t capacity, size_t *count);

/* How one program was obtained. */
typedef enum clattn_program_origin {
  CLATTN_ORIGIN_MEMORY = 0,   /* already in the context's memory cache */
  CLATTN_ORIGIN_PREBUILT = 1, /* loaded from the prebuilt-binary directory */
  CLATTN_ORIGIN_DISK = 2,     /* loaded from the disk cache */
  CLATTN_ORIGIN_BUILT = 3     /* compiled from source */
} clattn_program_origin;

/* Counters of a context's program caches since it was created. */
typedef struct clattn_cache_stats {
  uint64_t memory_hits;    /* programs found in the memory cache */
  uint64_t prebuilt_loads; /* programs loaded from the prebuilt-binary directory */
  uint64_t disk_hits;      /* programs loaded from the disk cache */
  uint64_t builds;         /* programs compiled from source */
  uint64_t disk_writes;    /* binaries written to the disk cache */
  uint64_t disk_rejects;   /* corrupt, truncated or foreign disk entries (rebuilt) */
  double build_seconds;    /* wall time spent compiling */
  double load_seconds;     /* wall time spent loading binaries (prebuilt and disk) */
  int disk_cache_enabled;  /* 0 when off (option, CLATTN_CACHE=0, or unwritable dir) */
  char cache_dir[1024];    /* the disk cache directory ("" when disabled) */
} clattn_cache_stats;

CLATTN_API clattn_status clattn_context_cache_stats(const clattn_context *ctx,
                                                    clattn_cache_stats *stats);

/* Makes every variant of clattn_kernel_variants ready (memory cache), compiling or loading
 * each as needed, so the first real call pays no start-up cost. Optional: calls do this
 * lazily. `origins` may be NULL, or have room for `capacity` entries, in variant order.
 * Statuses: BUILD_FAILED (compiler log in clattn_last_error), NO_COMPILER, OPENCL_ERROR,
 * KERNEL_NOT_FOUND, IO_ERROR, OUT_OF_HOST_MEMORY. */
CLATTN_API clattn_status clattn_prepare_kernels(clattn_context *ctx,
                                               clattn_program_origin *origins,
                                               size_t capacity);

/* Writes the binary of every variant into `dir` (created if missing) as "<key>.bin", in the
 * format the prebuilt-binary directory and the disk cache read, building what is missing.
 * Statuses: as clattn_prepare_kernels, plus IO_ERROR and INVALID_ARGUMENT. */
CLATTN_API clattn_status clattn_export_binaries(clattn_context *ctx, const char *dir);

/* ---------------------------------------------------------------------------------------
 * Device ceilings
 * ------------------------------------------------------------------------------------- */

/* What the device reaches with clattn's own microkernels (cl/ceiling.cl): the yardsticks
 * that benchmarks divide by. */
typedef struct clattn_ceilings {
  double fma_gflops; /* median fp32 FMA throughput, GFLOP/s (2 FLOPs per FMA) */
  double triad_gbps; /* median a = b + s*c bandwidth, GB/s (12 bytes per element) */
} clattn_ceilings;

/* Runs the FMA and triad microkernels `repeats` times each (at least 1; 5 or more for a
 * stable median) on `queue` (NULL: the context's queue, which must have profiling enabled
 * when given), checks their results on the host, and reports the medians. Blocks until done.
 * `triad_bytes` is the total size of the three triad arrays (0: 96 MiB, large enough to
 * defeat caches). Statuses: INVALID_ARGUMENT, OPENCL_ERROR, INTERNAL (a wrong result), and
 * those of clattn_prepare_kernels. */
CLATTN_API clattn_status clattn_measure_ceilings(clattn_context *ctx, cl_command_queue queue,
                                                 int repeats, size_t triad_bytes,
                                                 clattn_ceilings *out);

/* ---------------------------------------------------------------------------------------
 * Attention forward
 *
 *   O = softmax(scale * Q K^T  [softcap]  [+ masks]) V
 *
 * computed by one fused, tiled kernel (FlashAttention-2 style online softmax): memory stays
 * O(S * D) and nothing of size Sq x Skv is ever written. All arithmetic is fp32, whatever
 * the storage types.
 *
 * Shapes: Q (B, Hq, Sq, D), K (B, Hkv, Skv, D), V (B, Hkv, Skv, Dv), O (B, Hq, Sq, Dv).
 * Hq must be a multiple of Hkv (GQA; MQA when Hkv = 1): query head h reads KV head
 * h / (Hq / Hkv).
 *
 * Numerical contract:
 *  - scale defaults to 1/sqrt(D). With softcap c > 0, s <- c * tanh(s / c), applied after
 *    scaling and before masks.
 *  - Masks combine (a key is attended only if every mask allows it). Only -inf masks: an
 *    additive mask value of -inf masks the key; any finite value (even -1e30) is added.
 *    A score that is -inf after scaling, softcap and masks is masked whatever made it so
 *    (weight 0, its V row not read), so a row whose scores are all -inf is an empty row.
 *  - A query row with no attendable key yields an all-zero output row and LSE = -inf.
 *  - NaN and +-inf in attended inputs propagate into the rows that attend them; values at
 *    masked positions (K, V, mask) never reach the output.
 *  - Keys scoring 1e4 or more below a row's maximum get weight exactly 0, so a row whose
 *    best key leads by that much returns that key's V row bit for bit. Large scores stay
 *    finite (Q and K scaled by 1e4, scores ~1e8, are within the fp32 tolerance). The value
 *    sum is accumulated in fp32, so |V| near FLT_MAX may overflow to inf.
 *  - f16 and bf16 outputs round to nearest even, as IEEE conversion does: values beyond the
 *    largest finite one plus half an ulp (65520 for f16) become +-inf.
 *  - Sq = 0 or Skv = 0 is INVALID_ARGUMENT; a batch with no keys is kv_lens[b] = 0.
 *  - The same call on the same device gives bitwise-equal results.
 * ------------------------------------------------------------------------------------- */

/* Storage types. f16 uses core vload_half/vstore_half and bf16 uses bit operations, so both
 * work on devices without cl_khr_fp16. Stores round to nearest even. */
typedef enum clattn_dtype {
  CLATTN_F32 = 0,
  CLATTN_F16 = 1,
  CLATTN_BF16 = 2
} clattn_dtype;

/* A strided view of a 4-D tensor (batch, head, sequence, feature) inside a buffer: element
 * (b, h, s, d) lives at element index offset + b*stride_batch + h*stride_head +
 * s*stride_seq + d. The feature dimension is contiguous. Strides are in elements and must
 * not be negative; 0 broadcasts (inputs only). BHSD, BSHD and a packed QKV projection
 * output are all views of this kind, so no copies are needed. */
typedef struct clattn_tensor {
  cl_mem buffer;
  clattn_dtype dtype;
  uint64_t offset; /* elements */
  int64_t stride_batch, stride_head, stride_seq;
} clattn_tensor;

/* Which diagonal causal masks and sliding windows are aligned to, when Sq != Skv. */
typedef enum clattn_alignment {
  CLATTN_ALIGN_TOP_LEFT = 0,    /* query i sits at key position i: key j <= i */
  CLATTN_ALIGN_BOTTOM_RIGHT = 1 /* the last query sits at the last key: j <= i + Skv - Sq */
} clattn_alignment;

/* Explicit mask tensors, indexed (b, h, i, j) with j (keys) contiguous. */
typedef enum clattn_mask_type {
  CLATTN_MASK_NONE = 0,
  CLATTN_MASK_BOOL = 1,    /* uint8 / bool: nonzero = attend, 0 = masked */
  CLATTN_MASK_ADDITIVE = 2 /* float32 added to the score; -inf masks */
} clattn_mask_type;

typedef struct clattn_mask {
  clattn_mask_type type;
  cl_mem buffer;
  uint64_t offset; /* elements */
  /* Strides in elements over batch, query head and query row; 0 broadcasts. The key
   * dimension is contiguous. */
  int64_t stride_batch, stride_head, stride_query;
} clattn_mask;

typedef struct clattn_attention_desc {
  int64_t batch;      /* B */
  int64_t q_heads;    /* Hq */
  int64_t kv_heads;   /* Hkv: divides Hq */
  int64_t q_len;      /* Sq */
  int64_t kv_len;     /* Skv */
  int64_t head_dim;   /* D, of Q and K: 1 .. CLATTN_MAX_HEAD_DIM */
  int64_t v_head_dim; /* Dv, of V and O: 1 .. CLATTN_MAX_HEAD_DIM (0: same as D) */
  float scale;        /* 0: 1/sqrt(D) */
  float softcap;      /* 0: off; else > 0 */
  int causal;         /* 1: key j is masked when j > i' (i' = i aligned as below) */
  clattn_alignment alignment; /* of causal and window; with per-batch lengths, Sq and Skv
                               * are that batch's valid lengths */
  /* Sliding window: key j is attended only if i' - window_left <= j <= i' + window_right.
   * -1 leaves that side unbounded. causal is the same as window_right = 0. */
  int64_t window_left, window_right;
  /* Per-batch valid lengths, int32 buffers of B entries (NULL: all valid). Keys j >= kv_lens[b]
   * are masked; query rows i >= q_lens[b] have no attendable key (zero output, LSE -inf).
   * Lengths are read on the device, so they are not validated: values outside 0 .. Skv
   * (resp. 0 .. Sq) are clamped into that range. */
  cl_mem kv_lens, q_lens;
  clattn_mask mask; /* type CLATTN_MASK_NONE: no mask tensor */
  /* Split-KV decode: when Sq is small (1 .. 16) and Skv large, clattn splits the keys into
   * slices reduced by separate work-groups and merges their partial softmax states, so every
   * compute unit works even at B = 1 with few heads. 0: automatic; 1: never split (the
   * one-pass kernel); n > 1: n slices when the decode path applies (tests, tuning), fewer
   * when Skv is short, since each slice holds a whole number of 8-key vectors. Negative:
   * INVALID_ARGUMENT. */
  int kv_splits;
  /* ALiBi (Press et al. 2022): a float32 buffer of Hq slopes (NULL: off). Query head h adds
   * -slopes[h] * |i' - j| to the score of key j (i' = i aligned as above, so with causal
   * masking this is the paper's bias -m * (i' - j)), after scale and softcap, before masks.
   * clattn_alibi_slopes gives the paper's slopes. */
  cl_mem alibi_slopes;
} clattn_attention_desc;

#define CLATTN_MAX_HEAD_DIM 512

/* Fills *desc with: no masks, scale and softcap 0 (default / off), windows unbounded,
 * top-left alignment, Dv = D; the caller then sets the shape. */
CLATTN_API void clattn_attention_desc_init(clattn_attention_desc *desc);

/* Enqueues O = attention(Q, K, V) on `queue` (NULL: the context's queue), after the
 * `num_wait_events` events in `wait_events`. If `event` is not NULL it receives an event
 * that completes when O (and LSE) are written; the caller releases it. Correct on in-order
 * and out-of-order queues. `lse` may be NULL, or a float32 view of shape (B, Hq, Sq)
 * (stride_seq is the row stride, stride_batch and stride_head as usual; for a contiguous
 * (B, H, S) or (B, S, H) array, clattn_tensor_contiguous(buf, CLATTN_F32, layout, H, S, 1, 0))
 * receiving the natural-log log-sum-exp of each row's scaled, masked scores.
 *
 * Everything is validated on the host, in 64-bit arithmetic, before anything is enqueued:
 * INVALID_ARGUMENT for null pointers or buffers, non-positive sizes, Hq not a multiple of
 * Hkv, negative strides, an output view whose elements overlap, a view that reaches past
 * its buffer's CL_MEM_SIZE, or an output (O, LSE) that shares memory with anything the
 * kernel reads (Q, K, V, the mask, the lengths, the ALiBi slopes, whose buffer must hold Hq
 * floats) — except that O may overwrite Q in place
 * through an identical view when D = Dv (the message names the argument); UNSUPPORTED for a head
 * dimension above CLATTN_MAX_HEAD_DIM or one that does not fit the device. On any failure
 * nothing is enqueued and nothing is written. Build statuses as clattn_prepare_kernels. */
CLATTN_API clattn_status clattn_attention_forward(
    clattn_context *ctx, cl_command_queue queue, const clattn_attention_desc *desc,
    const clattn_tensor *q, const clattn_tensor *k, const clattn_tensor *v,
    const clattn_tensor *o, const clattn_tensor *lse, cl_uint num_wait_events,
    const cl_event *wait_events, cl_event *event);

/* The ALiBi slopes of the paper for `heads` heads, written to out[0 .. heads-1]: for n a
 * power of two, slope h (0-based) is 2^(-8 (h+1) / n); otherwise the n' = largest power of two
 * below `heads` gives the first n' slopes and the slopes of 2 n' heads at odd exponents,
 * 2^(-8 k / (2 n')) for k = 1, 3, 5, ..., the rest (as the paper's code and Hugging Face's
 * get_slopes). INVALID_ARGUMENT for heads < 1 or out NULL (message in clattn_last_error(NULL)). */
CLATTN_API clattn_status clattn_alibi_slopes(int64_t heads, float *out);

/* Convenience: fills a view of a contiguous tensor of shape (B, H, S, D) in BHSD order
 * (layout 0) or (B, S, H, D) in BSHD order (layout 1), starting at element `offset`. */
typedef enum clattn_layout { CLATTN_LAYOUT_BHSD = 0, CLATTN_LAYOUT_BSHD = 1 } clattn_layout;
CLATTN_API clattn_tensor clattn_tensor_contiguous(cl_mem buffer, clattn_dtype dtype,
                                                  clattn_layout layout, int64_t heads,
                                                  int64_t seq, int64_t dim, uint64_t offset);

/* Size in bytes of one element of a storage type (4 or 2). */
CLATTN_API size_t clattn_dtype_size(clattn_dtype dtype);

/* ---------------------------------------------------------------------------------------
 * Attention weights
 * ------------------------------------------------------------------------------------- */

/* Which matrix clattn_attention_weights writes; the numbers are the ONNX Attention
 * operator's qk_matmul_output_mode. */
typedef enum clattn_weights_mode {
  CLATTN_WEIGHTS_SCORES = 0,     /* scale * Q K^T */
  CLATTN_WEIGHTS_SOFTCAPPED = 1, /* after softcap (equal to mode 0 without softcap) */
  CLATTN_WEIGHTS_MASKED = 2,     /* after softcap, ALiBi and every mask: masked entries -inf */
  CLATTN_WEIGHTS_PROBS = 3       /* softmax probabilities; rows with nothing attended are 0 */
} clattn_weights_mode;

/* Writes the (B, Hq, Sq, Skv) matrix of `mode` for the attention described by desc, q and k
 * into `weights`: a view whose "feature" dimension is the key (contiguous), stride_seq the
 * query-row stride; any storage type. Probabilities are exact: exp(s - LSE) with the LSE of
 * the forward pass, so each attended row sums to 1 within fp32 rounding. `lse` may be NULL
 * (clattn computes it) or the float32 LSE a clattn_attention_forward call with the same desc,
 * q and k produced. V is not needed. Validation and statuses as clattn_attention_forward. */
CLATTN_API clattn_status clattn_attention_weights(
    clattn_context *ctx, cl_command_queue queue, const clattn_attention_desc *desc,
    const clattn_tensor *q, const clattn_tensor *k, const clattn_tensor *lse,
    clattn_weights_mode mode, const clattn_tensor *weights, cl_uint num_wait_events,
    const cl_event *wait_events, cl_event *event);

/* ---------------------------------------------------------------------------------------
 * KV cache
 *
 * Keys and values of past tokens, per sequence, on the device. Contiguous layout: K is
 * (B, Hkv, capacity, D). Paged layout (vLLM style): a pool of fixed-size blocks, K is
 * (num_blocks, Hkv, block_size, D), and each sequence has a block table mapping its logical
 * blocks to pool blocks, filled as it grows, so sequences grow without reallocation. The
 * attention kernels read either layout directly.
 *
 * The cache orders its own commands: each one it enqueues waits for the previous one, so
 * appends and attention calls on one cache run in call order even on out-of-order queues.
 * A cache must not be used from two threads at once, and must be destroyed before its
 * context. Lengths are kept on the host (authoritative) and copied to the device by the
 * next command; a reset changes only host state and takes effect at that next command.
 * ------------------------------------------------------------------------------------- */

typedef struct clattn_kv_cache clattn_kv_cache;

typedef struct clattn_kv_cache_desc {
  int64_t batch;      /* sequences */
  int64_t kv_heads;   /* Hkv */
  int64_t head_dim;   /* D of K */
  int64_t v_head_dim; /* Dv of V (0: same as D) */
  clattn_dtype k_dtype, v_dtype;
  int64_t capacity;   /* most tokens one sequence may hold */
  int64_t block_size; /* 0: contiguous layout; > 0: paged, tokens per block */
  int64_t num_blocks; /* paged: blocks in the pool (0: enough for every sequence's capacity) */
  /* The caller's buffers to use (not owned; at least as large as the layout needs), or NULL
   * for buffers clattn allocates and frees. */
  cl_mem k_buffer, v_buffer;
} clattn_kv_cache_desc;

/* Defaults: f32, contiguous, v_head_dim 0, num_blocks 0, clattn-owned buffers. */
CLATTN_API void clattn_kv_cache_desc_init(clattn_kv_cache_desc *desc);

/* Statuses: INVALID_ARGUMENT (sizes, buffers too small), OUT_OF_HOST_MEMORY, OPENCL_ERROR. */
CLATTN_API clattn_status clattn_kv_cache_create(clattn_context *ctx,
                                                const clattn_kv_cache_desc *desc,
                                                clattn_kv_cache **cache);
/* Releases what the cache allocated or retained. NULL is a no-op. */
CLATTN_API void clattn_kv_cache_destroy(clattn_kv_cache *cache);

/* Appends the keys and values of new tokens to every sequence (n >= 1): k_new (B, Hkv, n, D) and
 * v_new (B, Hkv, n, Dv) views of any storage type (converted to the cache's). `counts` is
 * NULL (every sequence gets n tokens) or a host array of B counts in 0 .. n (sequence b
 * takes its first counts[b] tokens). A sequence that would exceed its capacity, or a pool
 * out of blocks, gives CLATTN_CAPACITY_EXCEEDED naming the sequence, and nothing is written.
 * Enqueue-style like clattn_attention_forward. */
CLATTN_API clattn_status clattn_kv_cache_append(clattn_kv_cache *cache, cl_command_queue queue,
                                                const clattn_tensor *k_new,
                                                const clattn_tensor *v_new, int64_t n,
                                                const int32_t *counts, cl_uint num_wait_events,
                                                const cl_event *wait_events, cl_event *event);

/* Copies each sequence's current length (tokens held) into lengths[0 .. batch-1]. */
CLATTN_API clattn_status clattn_kv_cache_lengths(const clattn_kv_cache *cache, int32_t *lengths,
                                                 size_t capacity);

/* Empties one sequence (returning its blocks to the pool), or all with sequence = -1. */
CLATTN_API clattn_status clattn_kv_cache_reset(clattn_kv_cache *cache, int64_t sequence);

/* Attention of the newest query tokens over everything the cache holds (past + the tokens
 * just appended): q is (B, Hq, Sq, D); desc gives batch, q_heads, q_len, scale, softcap,
 * causal, window, q_lens, mask and kv_splits, while kv_heads, kv_len, head dims and the key
 * lengths come from the cache (desc's kv_heads, kv_len, head dims, kv_lens and alignment are
 * ignored). Alignment is bottom-right: query i of sequence b sits at position
 * length[b] - q_len_b + i. A mask tensor's key dimension is the cache's kv_len: capacity
 * (contiguous) or the block table's reach, ceil(capacity / block_size) * block_size (paged).
 * Otherwise as clattn_attention_forward. */
CLATTN_API clattn_status clattn_attention_forward_kv(
    clattn_context *ctx, cl_command_queue queue, const clattn_attention_desc *desc,
    const clattn_tensor *q, clattn_kv_cache *cache, const clattn_tensor *o,
    const clattn_tensor *lse, cl_uint num_wait_events, const cl_event *wait_events,
    cl_event *event);

/* ---------------------------------------------------------------------------------------
 * The classic attention family
 *
 * Score functions e_ij = f(q_i, k_j) of Luong et al. (2015) and Bahdanau et al. (2015):
 *   dot        q . k                      clattn_attention_forward, desc.scale = 1
 *   scaled     q . k / sqrt(D)            clattn_attention_forward (the default scale)
 *   general    q^T W k  (bilinear)        clattn_attention_general
 *   additive   v^T tanh(W1 q + W2 k)      clattn_attention_additive (concat)
 *   location   (W_a h_t)_j                clattn_attention_location
 * then softmax over the attended keys and the value sum, as clattn_attention_forward: the
 * same descriptor (causal, alignment, windows, lengths, mask tensor, ALiBi; softcap where
 * noted), views, wait lists, events, validation and numerical contract (fp32 arithmetic, empty
 * rows give zeros and LSE -inf, poison at masked positions never reaches the output).
 * Projections by weight matrices run on CLBlast (float32; ordering as the layer's).
 * ------------------------------------------------------------------------------------- */

/* General (bilinear) score: s_ij = scale * q_i^T W k_j, where q has q_dim features, K has
 * desc->head_dim = D, and W is a row-major float32 (q_dim x D) matrix at element w_offset of
 * w. clattn computes Q W with CLBlast and then runs the fused kernel (scale 0: 1/sqrt(D);
 * Luong's general score is scale 1). q must be float32. */
CLATTN_API clattn_status clattn_attention_general(
    clattn_context *ctx, cl_command_queue queue, const clattn_attention_desc *desc,
    const clattn_tensor *q, int64_t q_dim, cl_mem w, uint64_t w_offset, const clattn_tensor *k,
    const clattn_tensor *v, const clattn_tensor *o, const clattn_tensor *lse,
    cl_uint num_wait_events, const cl_event *wait_events, cl_event *event);

/* Additive (Bahdanau, "concat") score e_ij = v^T tanh(W1 q_i + W2 k_j): W1 (A x q_dim), W2
 * (A x D) and v (A) row-major float32 buffers. */
typedef struct clattn_additive_weights {
  cl_mem w1, w2, v;
  int64_t attn_dim; /* A, 1 .. 4096 */
  int64_t q_dim;    /* features of q (0: desc->head_dim) */
} clattn_additive_weights;

/* s_ij = scale * e_ij (scale 0: 1; softcap must be 0). W1 Q and W2 K are projected with
 * CLBlast into scratch; one fused, tiled kernel then evaluates v^T tanh(a_i + b_j) over key
 * tiles in local memory with the online softmax and the value sum, so the Sq x Skv scores
 * are never stored. q and k must be float32; V and O may have any storage type. tanh is
 * clattn's own vector form (absolute error about 1e-7; relative below 1e-6 near 0).
 * weights->attn_dim outside 1 .. 4096, softcap, or a weight buffer too small for its shape
 * is INVALID_ARGUMENT naming it. */
CLATTN_API clattn_status clattn_attention_additive(
    clattn_context *ctx, cl_command_queue queue, const clattn_attention_desc *desc,
    const clattn_additive_weights *weights, const clattn_tensor *q, const clattn_tensor *k,
    const clattn_tensor *v, const clattn_tensor *o, const clattn_tensor *lse,
    cl_uint num_wait_events, const cl_event *wait_events, cl_event *event);

/* Location-based attention (Luong et al., eq. 8): a_t = softmax(W_a h_t) over a fixed source
 * length S = desc->kv_len: the query h_t (q, D = desc->head_dim features, float32) alone
 * scores every source position, through W_a, a row-major float32 (S x D) matrix at element
 * w_offset of w_a. O = sum_j a_tj v_j. Rules (causal, windows, lengths) and ALiBi apply; a
 * mask tensor is INVALID_ARGUMENT here. The score is scale * (W_a h_t)_j (scale 0: 1);
 * softcap must be 0. D may exceed CLATTN_MAX_HEAD_DIM (it only enters the product). */
CLATTN_API clattn_status clattn_attention_location(
    clattn_context *ctx, cl_command_queue queue, const clattn_attention_desc *desc,
    const clattn_tensor *q, cl_mem w_a, uint64_t w_offset, const clattn_tensor *v,
    const clattn_tensor *o, const clattn_tensor *lse, cl_uint num_wait_events,
    const cl_event *wait_events, cl_event *event);

/* Luong local attention (Luong et al. 2015, section 3.2). Each query t attends only to the
 * keys s in [p_t - D, p_t + D] cut at the sequence edges (0 .. S_b - 1, S_b the batch's key
 * length), with the scaled-dot score of desc (other desc rules and masks combine with the
 * window). The alignment weights are the softmax over that window, multiplied (when
 * gaussian is 1) by exp(-(s - p_t)^2 / (2 sigma^2)), sigma = D / 2, after the softmax and
 * without renormalising, as the paper's eq. 10 defines them: o_t = sum_s a_t(s) v_s. LSE is
 * that of the window's softmax. Only the window's keys are read: cost grows with D, not S.
 * For a real p_t the window is the keys s with |s - p_t| <= D, i.e. ceil(p_t - D) ..
 * floor(p_t + D). D = 0 (sigma 0): the window is s = p_t alone when p_t is an integer, with
 * factor 1, and empty otherwise. A row with no key left gives zeros and LSE -inf; a NaN p_t
 * gives a NaN row (and LSE), an infinite one an empty window. Q, K, V and O may use any
 * storage type (local-p from W_p: q float32, rows at least head_dim apart); the mask tensor,
 * lengths, causal, windows, ALiBi and softcap apply as in clattn_attention_forward (ALiBi
 * and causal measured from t', not p_t; desc->kv_splits is ignored). */
typedef enum clattn_local_mode {
  CLATTN_LOCAL_M = 0, /* monotonic: p_t = t' (t aligned as desc->alignment says) */
  CLATTN_LOCAL_P = 1  /* predictive: p_t = S_b * sigmoid(v_p^T tanh(W_p h_t)), or given */
} clattn_local_mode;

typedef struct clattn_local_desc {
  clattn_local_mode mode;
  int64_t window; /* D, 0 .. 2^31 - 1 (clattn_local_desc_init: 10, the paper's) */
  int gaussian;   /* 1: the Gaussian factor (clattn_local_desc_init); 0: plain window */
  /* local-p: either `positions`, a float32 buffer of p_t for every (b, h, t), dense
   * (B, Hq, Sq), or W_p (p_dim x D, row-major float32) and v_p (p_dim) from which clattn
   * computes p_t (with CLBlast for W_p h_t). S_b is kv_lens[b] when given, else Skv.
   * Setting these with CLATTN_LOCAL_M, or both forms at once, is INVALID_ARGUMENT. */
  cl_mem positions;
  cl_mem w_p, v_p;
  int64_t p_dim;
} clattn_local_desc;

/* Fills *local with: CLATTN_LOCAL_M, window 10, gaussian 1, no positions or weights. */
CLATTN_API void clattn_local_desc_init(clattn_local_desc *local);
/* Validation and statuses as clattn_attention_forward, plus INVALID_ARGUMENT naming the
 * local field (mode, window, gaussian, a missing or too small positions / w_p / v_p buffer,
 * p_dim outside 1 .. 65536, an output overlapping them). With W_p the call enqueues CLBlast
 * GEMMs before the kernel, ordered as the layer's (see "Ordering" below). */
CLATTN_API clattn_status clattn_attention_local(
    clattn_context *ctx, cl_command_queue queue, const clattn_attention_desc *desc,
    const clattn_local_desc *local, const clattn_tensor *q, const clattn_tensor *k,
    const clattn_tensor *v, const clattn_tensor *o, const clattn_tensor *lse,
    cl_uint num_wait_events, const cl_event *wait_events, cl_event *event);

/* Hard attention (Xu et al. 2015): each query picks one key and outputs its value row.
 * SAMPLE draws index i ~ Multinoulli(alpha), alpha the soft attention weights of desc, by
 * Gumbel-max inside the streaming pass (alpha is never stored), `draws` times per query;
 * ARGMAX takes the most likely key (the lowest index among equals), deterministically.
 * The Gumbel noise of key j comes from Philox-4x32-10 with key = seed (64 bits) and counter
 * = (j, draw + offset (mod 2^32), row, b * Hq + h), so a result depends only on (seed, offset)
 * and the inputs: the same on every device and for every tile size. In detail: key words
 * (seed low 32 bits, seed high 32 bits); row is the query index t; U = (u + 1/2) / 2^24 with
 * u the top 24 bits of the first output word; g = -log(-log U) is computed with clattn's own
 * logarithm (fma, multiplies and adds only), so it rounds the same on every device; the
 * scores are those of clattn_attention_weights' CLATTN_WEIGHTS_MASKED (fp32; with softcap,
 * up to the device's rounding of tanh); each draw keeps the lowest index among equal
 * perturbed scores. A NaN score (NaN in an attended Q or K) leaves a draw undefined: it
 * reports the first key with a NaN score and a NaN output row. */
typedef enum clattn_hard_mode { CLATTN_HARD_SAMPLE = 0, CLATTN_HARD_ARGMAX = 1 } clattn_hard_mode;

typedef struct clattn_hard_desc {
  clattn_hard_mode mode;
  int64_t draws;   /* per query, >= 1 (ARGMAX: 1) */
  uint64_t seed;
  uint32_t offset; /* advance by `draws` per call for fresh draws with one seed */
} clattn_hard_desc;

/* o: (B, Hq, Sq * draws, Dv) view: row t * draws + d holds the value row of query t's draw d.
 * indices: NULL, or an int32 buffer of B * Hq * Sq * draws entries (dense, draw fastest)
 * receiving the drawn key indices. A row with nothing to attend gives index -1 and zeros.
 * ARGMAX ignores seed and offset; ARGMAX with draws != 1 is INVALID_ARGUMENT, as are
 * draws < 1, a mode outside the enum and Sq * draws above 2^31 - 1. Validation and statuses
 * as clattn_attention_forward (lse absent), with O checked over all Sq * draws rows, and
 * stricter aliasing: neither O nor indices may share memory with any input (O not even in
 * place over Q) or with each other; indices must hold the entries above. */
CLATTN_API clattn_status clattn_attention_hard(
    clattn_context *ctx, cl_command_queue queue, const clattn_attention_desc *desc,
    const clattn_hard_desc *hard, const clattn_tensor *q, const clattn_tensor *k,
    const clattn_tensor *v, const clattn_tensor *o, cl_mem indices, cl_uint num_wait_events,
    const cl_event *wait_events, cl_event *event);

/* Spatial attention (Xu et al. 2015, "Show, attend and tell"): queries (for example decoder
 * states) attend over the H x W positions of a 2-D feature map of C channels, whose positions
 * are the keys and values, read in place. */
typedef enum clattn_map_layout {
  CLATTN_MAP_NHWC = 0, /* channels contiguous: (b, y, x, c) at b*stride_batch + (y*W + x)*C + c */
  CLATTN_MAP_NCHW = 1  /* planes: (b, c, y, x) at b*stride_batch + c*H*W + y*W + x */
} clattn_map_layout;

typedef struct clattn_feature_map {
  cl_mem buffer;
  clattn_dtype dtype; /* NCHW: float32 only */
  uint64_t offset;    /* elements */
  clattn_map_layout layout;
  int64_t height, width, channels;
  int64_t stride_batch; /* elements; 0: H * W * C */
} clattn_feature_map;

/* q: (B, 1, Sq, C) queries; desc gives batch, q_len, scale, softcap and the key rules over the
 * H*W positions in row-major order (desc's q_heads, kv_heads, kv_len, head dims are ignored).
 * o: (B, 1, Sq, C). weights: NULL, or a (B, 1, Sq, H*W) view receiving the probabilities
 * (render them with `clattn heatmap --grid HxW`). NHWC runs the fused kernel on views of the
 * map; NCHW uses CLBlast products on the planes and a softmax kernel. NCHW needs float32 q, o
 * and map and q rows at least C apart, and takes scale, softcap, lengths, causal, alignment
 * and windows but not a mask tensor or ALiBi (INVALID_ARGUMENT; NHWC takes all of desc's
 * rules). C is 1 .. CLATTN_MAX_HEAD_DIM in both layouts (UNSUPPORTED beyond). Validation,
 * statuses and the numerical contract as clattn_attention_forward (poison at masked
 * positions of the map never reaches o); messages name map->... for the map. */
CLATTN_API clattn_status clattn_attention_spatial(
    clattn_context *ctx, cl_command_queue queue, const clattn_attention_desc *desc,
    const clattn_tensor *q, const clattn_feature_map *map, const clattn_tensor *o,
    const clattn_tensor *weights, cl_uint num_wait_events, const cl_event *wait_events,
    cl_event *event);

/* ---------------------------------------------------------------------------------------
 * Position information
 *
 * Position p of batch b's token s is position_offset + s, plus positions[b] when an int32
 * `positions` buffer of B entries is given (decoding with per-sequence lengths).
 * ------------------------------------------------------------------------------------- */

typedef enum clattn_rope_style {
  CLATTN_ROPE_NONE = 0,
  /* Pairs (2i, 2i+1) rotate together: RoFormer, GPT-J, Meta's LLaMA reference code. */
  CLATTN_ROPE_INTERLEAVED = 1,
  /* Pairs (i, i + R/2) rotate together: GPT-NeoX and Hugging Face's rotate_half. */
  CLATTN_ROPE_HALF = 2
} clattn_rope_style;

/* Rotary position embedding. Pair i of a head's first R = rotary_dim features turns by the
 * angle p * base^(-2i / R); features from R on are left alone (partial rotary). Angles are
 * accurate to about 1e-6 rad for |p| <= 2^24 (beyond, p is rounded to float32 first). */
typedef struct clattn_rope {
  clattn_rope_style style;
  float base;         /* 0: 10000 */
  int64_t rotary_dim; /* R: even, 2 .. head dim; 0: the whole head */
} clattn_rope;

/* Rotates x (B, H, S, D), any storage type, in place (x's elements must be distinct).
 * Style NONE rotates nothing but still validates and completes `event` after the wait list;
 * rotary_dim 0 needs an even D. Enqueue-style; validation as clattn_attention_forward
 * (INVALID_ARGUMENT naming the argument; nothing enqueued). */
CLATTN_API clattn_status clattn_rope_apply(clattn_context *ctx, cl_command_queue queue,
                                           const clattn_rope *rope, const clattn_tensor *x,
                                           int64_t batch, int64_t heads, int64_t seq,
                                           int64_t dim, int64_t position_offset,
                                           cl_mem positions, cl_uint num_wait_events,
                                           const cl_event *wait_events, cl_event *event);

/* Adds the sinusoidal encoding of Vaswani et al. to x (B, 1, S, E), any storage type, in place:
 * PE(p, 2i) = sin(p / base^(2i/E)), PE(p, 2i+1) = cos(p / base^(2i/E)); base 0: 10000. An
 * odd E's last feature gets the sine only. x's stride_head is ignored. Enqueue-style;
 * validation as clattn_rope_apply. */
CLATTN_API clattn_status clattn_sinusoidal_add(clattn_context *ctx, cl_command_queue queue,
                                               const clattn_tensor *x, int64_t batch,
                                               int64_t seq, int64_t dim,
                                               int64_t position_offset, cl_mem positions,
                                               float base, cl_uint num_wait_events,
                                               const cl_event *wait_events, cl_event *event);

/* ---------------------------------------------------------------------------------------
 * Tuning
 *
 * clattn_tune_attention searches the fused attention kernel's shape (rows and keys per
 * work-item, vector width, work-group size, V staging) per storage type, head dimension and
 * masking; clattn_tune_gemm tunes CLBlast (below). Both store what beats the defaults in
 * clattn's per-device tuning file, which contexts apply when they are created.
 *
 * clattn's dense projections run on CLBlast, whose built-in parameters may be poor for a
 * device (PoCL on CPUs especially). clattn_tune_gemm searches CLBlast's Xgemm parameters for
 * the context's device by timing real GEMMs and checking each result, and stores the winner
 * in clattn's per-device tuning file; every context created afterwards on that device applies
 * it (CLBlastOverrideParameters), as does this one at once.
 *
 * The tuning file is CLATTN_TUNING_DIR/<device key>.tune if that variable is set, else
 * "tuning/<device key>.tune" under the disk cache directory (clattn_context_options.cache_dir,
 * CLATTN_CACHE_DIR, XDG_CACHE_HOME/clattn or ~/.cache/clattn). CLATTN_TUNING=0 makes
 * contexts ignore it.
 * ------------------------------------------------------------------------------------- */

typedef struct clattn_gemm_tune_options {
  /* The GEMM timed: C (m x n) = A (m x k) B^T (B is n x k), row-major, float32, as clattn's
   * projections call it. 0: 4096 x 512 x 512. */
  int64_t m, n, k;
  int max_candidates; /* parameter sets tried (0: 48) */
  double max_seconds; /* stop starting candidates after this long (0: no limit) */
  int repeats;        /* timed runs per candidate; the median counts (0: 5) */
  unsigned seed;      /* order of the search (0: a fixed default) */
  int store;          /* 1 (default through init): write the tuning file */
  /* Called after each candidate (may be NULL): its index, the total, its parameters
   * ("KWG=32 KWI=2 ...") and GFLOP/s (0 when it failed to build or gave a wrong result). */
  void (*progress)(void *user, int index, int total, const char *params, double gflops);
  void *user;
} clattn_gemm_tune_options;

typedef struct clattn_gemm_tune_result {
  double untuned_gflops; /* CLBlast's own parameters, same shape, same run */
  double tuned_gflops;   /* the winner (= untuned when nothing beat it) */
  int candidates_tried, candidates_failed;
  char params[512];      /* the winner's parameters, "" when CLBlast's own won */
  char file[1024];       /* the tuning file written ("" when not stored) */
} clattn_gemm_tune_result;

CLATTN_API void clattn_gemm_tune_options_init(clattn_gemm_tune_options *options);
/* Statuses: INVALID_ARGUMENT, OPENCL_ERROR, IO_ERROR (file not written; the parameters still
 * apply to this process), UNSUPPORTED (CLBlast cannot run on the device). */
CLATTN_API clattn_status clattn_tune_gemm(clattn_context *ctx,
                                          const clattn_gemm_tune_options *options,
                                          clattn_gemm_tune_result *result);

/* Which masking a tuned attention configuration is for. A call with a mask tensor counts as
 * TENSOR, else one with causal masking or a sliding window as CAUSAL, else NONE (per-batch
 * lengths and ALiBi do not count). */
typedef enum clattn_tune_masking {
  CLATTN_TUNE_MASK_NONE = 0,
  CLATTN_TUNE_MASK_CAUSAL = 1, /* causal or sliding window */
  CLATTN_TUNE_MASK_TENSOR = 2  /* an explicit mask tensor */
} clattn_tune_masking;

#define CLATTN_ATTENTION_TUNE_MAX_ENTRIES 32

typedef struct clattn_attention_tune_options {
  /* 1: the quick search (f32, D = 64 and 128, no mask and causal, each configuration one
   * step from the default); 0 (init): the full search (f32, f16 and bf16, all three
   * maskings, a wider space including 16-wide vectors). */
  int quick;
  unsigned dtypes;     /* bits 1 << clattn_dtype, Q, K and V stored alike (0: as above) */
  int head_dims[8];    /* D (= Dv) values, 0-terminated (all 0: 64 and 128) */
  unsigned maskings;   /* bits 1 << clattn_tune_masking (0: as above) */
  int64_t seq_len;     /* Sq = Skv timed (0: 1024); batch 1, 8 heads */
  int max_candidates;  /* configurations tried per entry besides the default (0: all listed) */
  double max_seconds;  /* start no candidate after this long (0: no limit) */
  int repeats;         /* timed runs per measurement, the median counts (0: 5, quick 3) */
  int store;           /* 1 (init): write winners to the tuning file */
  /* Called after each candidate (may be NULL): steps done and total, the entry ("f32 d64
   * causal"), the configuration ("rows=4,tile_k=16,vec=8,wg=32,v_direct=0"), its GFLOP/s
   * (0 when it failed to build or gave a wrong result) and the seconds since the start. */
  void (*progress)(void *user, int step, int total, const char *entry, const char *config,
                   double gflops, double seconds);
  void *user;
} clattn_attention_tune_options;

typedef struct clattn_attention_tune_entry {
  clattn_dtype dtype;            /* storage of Q, K and V (O is f32) */
  int head_dim;
  clattn_tune_masking masking;
  double default_gflops;         /* the built-in configuration, timed alternating with ... */
  double tuned_gflops;           /* ... the best candidate (0 when none ran correctly) */
  char default_config[96];       /* "rows=4,tile_k=16,vec=8,wg=32,v_direct=0" */
  char config[96];               /* the best candidate's ("" when none ran correctly) */
  int candidates_tried, candidates_failed;
  int stored;                    /* 1: the best beat the default and is in force (and in the
                                  * file when options.store) */
} clattn_attention_tune_entry;

typedef struct clattn_attention_tune_result {
  int count; /* entries below */
  clattn_attention_tune_entry entries[CLATTN_ATTENTION_TUNE_MAX_ENTRIES];
  char file[1024]; /* the tuning file written ("" when nothing was written) */
} clattn_attention_tune_result;

CLATTN_API void clattn_attention_tune_options_init(clattn_attention_tune_options *options);
/* Tunes each entry (dtype x head dim x masking): the built-in configuration and candidate
 * configurations each run on random data, are checked against a double-precision reference
 * on sampled rows (a build failure or a wrong result disqualifies a candidate) and timed; the
 * best is timed again against the default in alternating rounds and kept only when faster.
 * Kept configurations apply to `ctx` at once and, with options.store, go to the tuning file
 * (other records there are kept). Do not use `ctx` from other threads meanwhile. Statuses:
 * INVALID_ARGUMENT, OUT_OF_HOST_MEMORY, OPENCL_ERROR, UNSUPPORTED (the default configuration
 * itself fails), IO_ERROR (file not written; the result is still filled in). */
CLATTN_API clattn_status clattn_tune_attention(clattn_context *ctx,
                                               const clattn_attention_tune_options *options,
                                               clattn_attention_tune_result *result);

/* ---------------------------------------------------------------------------------------
 * Multi-head attention layer
 *
 *   Y = concat_h(attention(X W_q,h + b_q,h, M W_k,h + b_k,h, M W_v,h + b_v,h)) W_o^T + b_o
 *
 * with M = X (self-attention) or a memory M (cross-attention). Projections are CLBlast GEMMs
 * on float32; Q, K and V of self-attention come from one GEMM into one packed buffer whose
 * heads are strided views (no copies), then bias and RoPE are applied in one pass, the fused
 * attention kernel runs on those views and writes the heads side by side, and one GEMM
 * projects them. The layer is float32 throughout.
 *
 * Ordering: CLBlast takes no wait list. clattn enqueues a barrier with the caller's wait list
 * before its first command, and on out-of-order queues a barrier after each CLBlast call, so
 * the layer's commands run in order and the returned event covers all of them, on in-order
 * and out-of-order queues alike.
 * ------------------------------------------------------------------------------------- */

typedef struct clattn_mha clattn_mha;

typedef struct clattn_mha_desc {
  int64_t embed_dim; /* E: features of X and of Y */
  int64_t num_heads; /* Hq */
  int64_t kv_heads;  /* Hkv, dividing Hq (GQA; 1: MQA); 0: Hq */
  int64_t head_dim;  /* D; 0: E / Hq (E must then be a multiple of Hq) */
  int64_t kv_dim;    /* features of the cross-attention memory M (kdim = vdim); 0: E */
  int bias;          /* 1: the projections have biases */
  clattn_rope rope;  /* RoPE on Q and K after the projection (style NONE: off) */
  int alibi;         /* 1: ALiBi with clattn_alibi_slopes(Hq) */
  float scale;       /* 0: 1/sqrt(D) */
} clattn_mha_desc;

/* A host float32 array, row-major; a vector has cols 1 (or 0). */
typedef struct clattn_host_matrix {
  const float *data;
  int64_t rows, cols;
} clattn_host_matrix;

/* The layer's weights, as PyTorch stores them: either the packed nn.MultiheadAttention
 * in_proj_weight (3E, E) and in_proj_bias (3E) (needs Hkv = Hq, kv_dim = E and Hq*D = E),
 * or q_weight (Hq*D, E), k_weight and v_weight (Hkv*D, kv_dim) with biases (Hq*D) and
 * (Hkv*D); and out_weight (E, Hq*D) with out_bias (E). Biases are given exactly when
 * desc.bias is 1. Unused members have data NULL. */
typedef struct clattn_mha_weights {
  clattn_host_matrix in_proj_weight, in_proj_bias;
  clattn_host_matrix q_weight, k_weight, v_weight;
  clattn_host_matrix q_bias, k_bias, v_bias;
  clattn_host_matrix out_weight, out_bias;
} clattn_mha_weights;

CLATTN_API void clattn_mha_desc_init(clattn_mha_desc *desc);
/* Statuses: INVALID_ARGUMENT (naming the field), OUT_OF_HOST_MEMORY, OPENCL_ERROR. */
CLATTN_API clattn_status clattn_mha_create(clattn_context *ctx, const clattn_mha_desc *desc,
                                           clattn_mha **mha);
/* Destroy after the layer's work has finished. NULL is a no-op. */
CLATTN_API void clattn_mha_destroy(clattn_mha *mha);

/* Copies the weights to the device (blocking). A weight of the wrong shape, a missing one, or
 * one given twice is INVALID_ARGUMENT naming it and both shapes; the layer keeps its previous
 * weights then. Forward calls before the first successful call are INVALID_ARGUMENT. */
CLATTN_API clattn_status clattn_mha_set_weights(clattn_mha *mha, const clattn_mha_weights *w);

/* Compiles CLBlast's and clattn's kernels for these shapes by running the layer once on
 * zeros, so that the first real call pays no start-up cost (PoCL: seconds). Blocking. */
CLATTN_API clattn_status clattn_mha_warm_up(clattn_mha *mha, int64_t batch, int64_t seq,
                                            int64_t memory_len);

typedef enum clattn_mha_weights_output {
  CLATTN_MHA_NO_WEIGHTS = 0,
  CLATTN_MHA_WEIGHTS_AVERAGE = 1, /* (B, 1, S, Skv): the mean over heads, as need_weights */
  CLATTN_MHA_WEIGHTS_PER_HEAD = 2 /* (B, Hq, S, Skv) */
} clattn_mha_weights_output;

/* One call of the layer. Views are float32; X, Y and M are (B, 1, S, features) views (their
 * stride_head is ignored). Masking is that of clattn_attention_desc: causal, alignment and
 * windows over (S, Skv); kv_lens and q_lens per batch; a mask tensor (b, h, i, j), where a
 * key padding mask is a mask with stride_head = stride_query = 0. */
typedef struct clattn_mha_inputs {
  int64_t batch, seq;     /* B, S */
  clattn_tensor x, y;     /* X (B, S, E) in, Y (B, S, E) out; Y must not overlap X or M */
  clattn_tensor memory;   /* cross-attention: M (B, Skv, kv_dim); buffer NULL: self */
  int64_t memory_len;     /* Skv of M */
  int causal;
  clattn_alignment alignment;
  int64_t window_left, window_right; /* -1: unbounded */
  cl_mem kv_lens, q_lens;
  clattn_mask mask;
  int64_t position_offset; /* RoPE position of the first token of X (and of M) */
  clattn_mha_weights_output weights_output;
  clattn_tensor weights;   /* with weights_output: probabilities, any storage type */
} clattn_mha_inputs;

/* Defaults: self-attention, no masks, windows -1, no weights output. */
CLATTN_API void clattn_mha_inputs_init(clattn_mha_inputs *inputs);

/* Enqueues the layer (see "Ordering"). Validation before anything is enqueued. */
CLATTN_API clattn_status clattn_mha_forward(clattn_mha *mha, cl_command_queue queue,
                                            const clattn_mha_inputs *inputs,
                                            cl_uint num_wait_events,
                                            const cl_event *wait_events, cl_event *event);

/* One incremental-decoding step of a self-attention layer: projects the n new tokens of
 * x_new (B, 1, n, E), applies RoPE at their positions (each sequence's cache length before
 * the step), appends their K and V to `cache` (which must have the layer's Hkv and D),
 * attends causally over everything the cache holds, and writes y (B, 1, n, E). Equal to the
 * full causal pass over the whole sequence. `counts` as clattn_kv_cache_append. */
CLATTN_API clattn_status clattn_mha_step(clattn_mha *mha, cl_command_queue queue,
                                         clattn_kv_cache *cache, const clattn_tensor *x_new,
                                         int64_t n, const int32_t *counts,
                                         const clattn_tensor *y, cl_uint num_wait_events,
                                         const cl_event *wait_events, cl_event *event);

#ifdef __cplusplus
}
#endif

#endif /* CLATTN_H */
