/*
 * Attention weights: the (B, Hq, Sq, Skv) matrix of one stage of the attention that
 * attention_fwd.cl computes without ever storing it, for inspection (clattn_attention_weights):
 *
 *   MODE 0  s = scale * q . k                   (fp32, same order as attention_fwd's
 *                                                unfolded path: q*scale, then fma over d)
 *   MODE 1  s = softcap * tanh(s / softcap)     (when softcap > 0)
 *   MODE 2  masked entries -inf, additive mask added
 *   MODE 3  p = exp(s - lse) for attended entries, 0 for masked ones and empty rows
 *
 * One work-item per (key j, query row i, batch*head bh); work-groups of WG consecutive keys
 * of one row, so the writes of a work-group are contiguous:
 *
 *            keys j -->
 *   row i  [ WG | WG | WG | .. ]   global (roundup(Skv, WG), Sq, B*Hq), local (WG, 1, 1)
 *
 * This is a diagnostic path, O(Sq * Skv * D) work like the forward itself; clarity and
 * bit-for-bit agreement with the fused kernel's mask rules matter more than speed. The mask
 * rules below are the ones of attention_fwd.cl, copied so that this file compiles alone.
 */
#ifndef Q_TYPE
#define Q_TYPE 0 /* storage: 0 f32, 1 f16, 2 bf16 */
#endif
#ifndef K_TYPE
#define K_TYPE 0
#endif
#ifndef W_TYPE
#define W_TYPE 0 /* storage of the weights written */
#endif

#define CAT_(a, b) a##b
#define CAT(a, b) CAT_(a, b)

/* ---- storage types (as attention_fwd.cl) ----------------------------------------------- */

inline float bf16_to_float(ushort x) { return as_float((uint)x << 16); }

inline ushort float_to_bf16(float x) {
  uint u = as_uint(x);
  if (isnan(x)) return (ushort)((u >> 16) | 0x0040); /* stay NaN: force a mantissa bit */
  u += 0x7fffu + ((u >> 16) & 1u);                   /* round to nearest even */
  return (ushort)(u >> 16);
}

#define STORAGE_0 float
#define STORAGE_1 half
#define STORAGE_2 ushort
#define STORAGE(t) CAT(STORAGE_, t)
#define LOAD_0(p, i) ((p)[i])
#define LOAD_1(p, i) vload_half((i), (p))
#define LOAD_2(p, i) bf16_to_float((p)[i])
#define LOAD(t, p, i) CAT(LOAD_, t)(p, i)
#define STORE_0(p, i, x) ((p)[i] = (x))
#define STORE_1(p, i, x) vstore_half_rte((x), (i), (p))
#define STORE_2(p, i, x) ((p)[i] = float_to_bf16(x))
#define STORE(t, p, i, x) CAT(STORE_, t)(p, i, x)

/* ---- masks (as attention_fwd.cl) ---------------------------------------------------------- */

typedef struct mask_rules {
  int qlen, kvlen, diag;   /* valid lengths; diagonal offset of the alignment */
  int left, right;         /* window extents; -1: unbounded (right is 0 when causal) */
} mask_rules;

inline int key_allowed(const mask_rules *m, int row, int key) {
  int i = row + m->diag;
  return row < m->qlen && key < m->kvlen && (m->left < 0 || key >= i - m->left) &&
         (m->right < 0 || key <= i + m->right);
}

/* ---- the kernel ------------------------------------------------------------------------ */

__kernel void attention_weights(
    __global const STORAGE(Q_TYPE) *q, long q_off, long q_sb, long q_sh, long q_ss,
    __global const STORAGE(K_TYPE) *k, long k_off, long k_sb, long k_sh, long k_ss,
    __global STORAGE(W_TYPE) *w, long w_off, long w_sb, long w_sh, long w_ss,
    __global const float *lse, long l_off, long l_sb, long l_sh, long l_ss,
    const int q_heads, const int group, const int sq, const int skv, const int head_dim,
    const float scale, const float softcap, const int causal, const int bottom_right,
    const int window_left, const int window_right, __global const int *kv_lens,
    __global const int *q_lens, const int mask_kind, __global const uchar *mask, long m_off,
    long m_sb, long m_sh, long m_sq, const int mode) {
  const int j = get_global_id(0);
  const int i = get_global_id(1);
  const int bh = get_global_id(2);
  if (j >= skv) return;
  const int b = bh / q_heads, h = bh % q_heads, hk = h / group;

  /* s = scale * q . k in fp32: the query element is scaled first and the products are
   * accumulated by fma in feature order, as attention_fwd does when it does not fold
   * log2(e) into the scale. */
  const long q_row = q_off + b * q_sb + h * q_sh + (long)i * q_ss;
  const long k_row = k_off + b * k_sb + hk * k_sh + (long)j * k_ss;
  float s = 0.0f;
  for (int d = 0; d < head_dim; d++)
    s = fma(LOAD(Q_TYPE, q, q_row + d) * scale, LOAD(K_TYPE, k, k_row + d), s);

  if (mode >= 1 && softcap != 0.0f) s = softcap * tanh(s / softcap);

  if (mode >= 2) {
    mask_rules rules;
    rules.qlen = q_lens ? clamp(q_lens[b], 0, sq) : sq;
    rules.kvlen = kv_lens ? clamp(kv_lens[b], 0, skv) : skv;
    rules.diag = bottom_right ? rules.kvlen - rules.qlen : 0;
    rules.left = window_left;
    rules.right = causal ? (window_right < 0 ? 0 : min(window_right, 0)) : window_right;
    int ok = key_allowed(&rules, i, j);
    const long m_at = m_off + b * m_sb + h * m_sh + (long)i * m_sq + j;
    if (ok && mask_kind == 1) ok = mask[m_at] != 0;
    if (ok && mask_kind == 2) {
      float add = ((__global const float *)mask)[m_at];
      ok = add != -INFINITY;
      s += add;
    }
    if (!ok) s = -INFINITY;
  }

  if (mode == 3) {
    /* A score of -inf is masked whatever made it so; a row with LSE -inf attends nothing. */
    const float l = lse[l_off + b * l_sb + h * l_sh + (long)i * l_ss];
    s = (s == -INFINITY || l == -INFINITY) ? 0.0f : exp(s - l);
  }
  STORE(W_TYPE, w, w_off + b * w_sb + h * w_sh + (long)i * w_ss + j, s);
}
