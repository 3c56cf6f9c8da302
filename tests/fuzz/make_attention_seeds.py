#!/usr/bin/env python3
"""Writes the seed inputs of fuzz_attention into corpus/attention/ (the files are committed;
this script documents them and regenerates them after a change of the input layout, which is
described at the top of fuzz_attention.c). Not needed to build or test."""
import os

EDGES = [0, 1, -1, 6, 7, 8, 9, 15, 16, 17, 31, 32, 33, 64, 127, 128, 255, 256, 511, 512, 513,
         1024]


def P(v):
    """The byte that fuzz_attention's pick() decodes to v."""
    return v + 2 if -2 <= v <= 5 else 0xE0 + EDGES.index(v)


def seed(flags=7, sizes=(80, 32, 32, 48), B=1, Hq=2, Hkv=1, Sq=3, Skv=4, D=4, Dv=0, scale=0,
         softcap=0, causal=1, align=0, wl=-1, wr=-1, splits=0,
         tensors=((0, 0, 0), (1, 0, 0), (2, 0, 0), (3, 0, 0)), lse=(0, 0, 32, (6, 3, 1)),
         mask=(0, 4, 0), lens=(4, 4, 4)):
    """flags, buffer sizes (1 + 2 * byte), shape, rules, Q K V O as (buffer, dtype, offset)
    with contiguous strides (flag 1), LSE (buffer, dtype, offset, strides), mask (type,
    buffer, offset), kv_lens q_lens alibi buffers (4, 5: NULL)."""
    b = [flags, *sizes] + [P(x) for x in (B, Hq, Hkv, Sq, Skv, D, Dv)]
    b += [scale, softcap, causal, align, P(wl), P(wr), P(splits)]
    for buf, dtype, off in tensors:
        b += [buf, dtype, P(off), 2, 2, 2]
    lb, ld, lo, strides = lse
    b += [lb, ld, P(lo)] + [P(s) for s in strides]
    mt, mb, mo = mask
    b += [mt, mb, P(mo), 2, 2, 2] + list(lens)
    return bytes(b)


SEEDS = {
    'run_f32_causal_lse': seed(),
    'run_f32_boolmask_alibi_lens': seed(mask=(1, 1, 0), lens=(1, 4, 2)),
    'run_f32_additive_window_softcap': seed(flags=5, causal=0, wl=1, wr=2, softcap=10,
                                            mask=(2, 1, 0), align=1),
    'run_f16_decode_splits': seed(flags=5, sizes=(8, 128, 128, 8), Sq=1, Skv=128, D=1, splits=3,
                                  tensors=((0, 1, 0), (1, 1, 0), (2, 1, 0), (3, 1, 0))),
    'run_bf16_gqa_inplace': seed(flags=5, tensors=((0, 2, 0), (1, 2, 0), (2, 2, 0), (0, 2, 0))),
    'bad_heads_not_multiple': seed(Hq=3, Hkv=2),
    'bad_o_overlaps_k': seed(tensors=((0, 0, 0), (1, 0, 0), (2, 0, 0), (1, 0, 0))),
    'bad_head_dim_too_big': seed(D=513),
    'bad_view_past_end': seed(sizes=(80, 32, 32, 10)),
    'bad_strides_raw': seed(flags=2),
    'bad_wait_list': seed(flags=7 | 8),
    'empty': b'',
}

if __name__ == '__main__':
    out = os.path.join(os.path.dirname(os.path.abspath(__file__)), 'corpus', 'attention')
    os.makedirs(out, exist_ok=True)
    for name, data in SEEDS.items():
        with open(os.path.join(out, name), 'wb') as f:
            f.write(data)
