// AVX2 versions of the ingest kernel's three inner loops (see
// IngestKernel+FastPath.swift for what each computes and why). Every
// function that uses AVX2 carries a target attribute, so this file builds
// for baseline x86-64 and the loops run only after ls_simd_available() said
// yes. The arithmetic of the clamp count and the sketch keys is the
// portable loops' (no fused operations there), so counts are identical;
// the power sums use FMA and differ from them only by rounding.
#include "ingest_simd.h"

#include <string.h>

#if defined(__x86_64__)

#include <cpuid.h>
#include <immintrin.h>

#define LS_TARGET __attribute__((target("avx2,fma,f16c")))
#define LS_INLINE static inline __attribute__((always_inline)) LS_TARGET

int ls_simd_available(void) {
    unsigned a, b, c, d;
    if (!__get_cpuid(1, &a, &b, &c, &d)) return 0;
    const unsigned fma = 1u << 12, osxsave = 1u << 27, avx = 1u << 28, f16c = 1u << 29;
    if ((c & (fma | osxsave | avx | f16c)) != (fma | osxsave | avx | f16c)) return 0;
    // The OS must save the YMM state (XCR0 bits 1 and 2).
    unsigned lo, hi;
    __asm__ volatile("xgetbv" : "=a"(lo), "=d"(hi) : "c"(0));
    if ((lo & 6) != 6) return 0;
    if (__get_cpuid_max(0, NULL) < 7) return 0;
    __cpuid_count(7, 0, a, b, c, d);
    return (b & (1u << 5)) ? 1 : 0; // AVX2
}

/// Eight elements at `src[j]` as floats (exact for every format).
LS_INLINE __m256 load8(int format, const void *src, ptrdiff_t j) {
    switch (format) {
    case LS_FORMAT_F32:
        return _mm256_loadu_ps((const float *)src + j);
    case LS_FORMAT_BF16: {
        __m128i h = _mm_loadu_si128((const __m128i *)((const uint16_t *)src + j));
        return _mm256_castsi256_ps(_mm256_slli_epi32(_mm256_cvtepu16_epi32(h), 16));
    }
    default:
        return _mm256_cvtph_ps(_mm_loadu_si128((const __m128i *)((const uint16_t *)src + j)));
    }
}

/// One element as a float.
LS_INLINE float load1(int format, const void *src, ptrdiff_t j) {
    switch (format) {
    case LS_FORMAT_F32:
        return ((const float *)src)[j];
    case LS_FORMAT_BF16: {
        uint32_t bits = (uint32_t)((const uint16_t *)src)[j] << 16;
        float f;
        memcpy(&f, &bits, 4);
        return f;
    }
    default:
        return _cvtsh_ss(((const uint16_t *)src)[j]);
    }
}

LS_INLINE uint32_t float_bits(float f) {
    uint32_t u;
    memcpy(&u, &f, 4);
    return u;
}

LS_INLINE double hsum(__m256d v) {
    __m128d lo = _mm256_castpd256_pd128(v), hi = _mm256_extractf128_pd(v, 1);
    __m128d a = _mm_unpacklo_pd(lo, hi), b = _mm_unpackhi_pd(lo, hi);
    __m128d s = _mm_add_pd(a, b); // (v0 + v2, v1 + v3)
    return _mm_cvtsd_f64(s) + _mm_cvtsd_f64(_mm_unpackhi_pd(s, s));
}

LS_INLINE ls_sums moments_loop(int format, int higher, const void *src, ptrdiff_t n, double k, double *out) {
    const __m256d kk = _mm256_set1_pd(k);
    __m256d a1 = _mm256_setzero_pd(), a2 = a1, a3 = a1, a4 = a1, b1 = a1, b2 = a1, b3 = a1, b4 = a1;
    // (j <= last, not j + 8 <= n: clang then keeps one induction variable.)
    ptrdiff_t j = 0;
    for (const ptrdiff_t last = n - 8; j <= last; j += 8) {
        __m256 f = load8(format, src, j);
        __m256d d0 = _mm256_sub_pd(_mm256_cvtps_pd(_mm256_castps256_ps128(f)), kk);
        __m256d d1 = _mm256_sub_pd(_mm256_cvtps_pd(_mm256_extractf128_ps(f, 1)), kk);
        __m256d e0 = _mm256_mul_pd(d0, d0), e1 = _mm256_mul_pd(d1, d1);
        a1 = _mm256_add_pd(a1, d0); b1 = _mm256_add_pd(b1, d1);
        a2 = _mm256_add_pd(a2, e0); b2 = _mm256_add_pd(b2, e1);
        if (higher) {
            a3 = _mm256_fmadd_pd(e0, d0, a3); b3 = _mm256_fmadd_pd(e1, d1, b3);
            a4 = _mm256_fmadd_pd(e0, e0, a4); b4 = _mm256_fmadd_pd(e1, e1, b4);
        }
        _mm256_storeu_pd(out + j, d0);
        _mm256_storeu_pd(out + j + 4, d1);
    }
    ls_sums s = {hsum(_mm256_add_pd(a1, b1)), hsum(_mm256_add_pd(a2, b2)), 0, 0};
    if (higher) { s.s3 = hsum(_mm256_add_pd(a3, b3)); s.s4 = hsum(_mm256_add_pd(a4, b4)); }
    for (; j < n; j++) {
        double d = (double)load1(format, src, j) - k, d2 = d * d;
        s.s1 += d; s.s2 += d2;
        if (higher) { s.s3 += d2 * d; s.s4 += d2 * d2; }
        out[j] = d;
    }
    return s;
}

/// Adds `delta` to the four buckets `keys` (each below 2¹⁶): lanes 0 and 2
/// in the table `t`, lanes 1 and 3 in its second half `t + 65536`.
///
/// Neighbouring latents mostly fall in the same bucket, so consecutive
/// increments hit one address. With eight or more of them in flight, some
/// processes ran whole benchmarks five to seven times slower (which ones
/// varied run to run, also with ASLR off); the portable loops, with fewer
/// in flight, never did. Alternate lanes in two tables halve those chains,
/// and the slow runs went away; ``IngestKernel/finish()`` adds the second
/// half into the first.
///
/// Each key moves to a general register by one extract. Keys must not come
/// back through memory: a load that aliases one of the increments' stores
/// modulo 4 KiB waits for it. Storing the vector to the stack and loading
/// the keys back made runs ten times slower when that slot aliased the hot
/// buckets; reading the top half-words of binary32 elements from the
/// tensor (one load per key) made every run five times slower.
LS_INLINE void bump4(uint32_t *t, __m128i keys, uint32_t delta) {
    uint32_t *u = t + 65536;
    t[(uint32_t)_mm_cvtsi128_si32(keys)] += delta; u[(uint32_t)_mm_extract_epi32(keys, 1)] += delta;
    t[(uint32_t)_mm_extract_epi32(keys, 2)] += delta; u[(uint32_t)_mm_extract_epi32(keys, 3)] += delta;
}

/// Adds `delta` to the eight buckets `keys` (each below 2¹⁶) of one table,
/// by extracts (histogram mode's per-channel counts, which are not split).
LS_INLINE void bump8(uint32_t *t, __m256i keys, uint32_t delta) {
    __m128i lo = _mm256_castsi256_si128(keys), hi = _mm256_extracti128_si256(keys, 1);
    t[(uint32_t)_mm_cvtsi128_si32(lo)] += delta; t[(uint32_t)_mm_extract_epi32(lo, 1)] += delta;
    t[(uint32_t)_mm_extract_epi32(lo, 2)] += delta; t[(uint32_t)_mm_extract_epi32(lo, 3)] += delta;
    t[(uint32_t)_mm_cvtsi128_si32(hi)] += delta; t[(uint32_t)_mm_extract_epi32(hi, 1)] += delta;
    t[(uint32_t)_mm_extract_epi32(hi, 2)] += delta; t[(uint32_t)_mm_extract_epi32(hi, 3)] += delta;
}

/// Σd and Σd² of the `n` 16-bit elements at `src` as moments_loop takes
/// them, and one added to each element's count in `hist` (indexed by its
/// bits), from the same load: histogram mode's per-element work.
LS_INLINE ls_sums counting_loop(int format, const void *src, ptrdiff_t n, double k, double *out, uint32_t *hist) {
    const __m256d kk = _mm256_set1_pd(k);
    __m256d a1 = _mm256_setzero_pd(), a2 = a1, b1 = a1, b2 = a1;
    const uint16_t *h16 = (const uint16_t *)src;
    // (j <= last, not j + 8 <= n: clang then keeps one induction variable.)
    ptrdiff_t j = 0;
    for (const ptrdiff_t last = n - 8; j <= last; j += 8) {
        __m128i hw = _mm_loadu_si128((const __m128i *)(h16 + j));
        __m256i bits = _mm256_cvtepu16_epi32(hw);
        __m256 f = format == LS_FORMAT_BF16 ? _mm256_castsi256_ps(_mm256_slli_epi32(bits, 16)) : _mm256_cvtph_ps(hw);
        __m256d d0 = _mm256_sub_pd(_mm256_cvtps_pd(_mm256_castps256_ps128(f)), kk);
        __m256d d1 = _mm256_sub_pd(_mm256_cvtps_pd(_mm256_extractf128_ps(f, 1)), kk);
        a1 = _mm256_add_pd(a1, d0); b1 = _mm256_add_pd(b1, d1);
        a2 = _mm256_fmadd_pd(d0, d0, a2); b2 = _mm256_fmadd_pd(d1, d1, b2);
        _mm256_storeu_pd(out + j, d0);
        _mm256_storeu_pd(out + j + 4, d1);
        bump8(hist, bits, 1);
    }
    ls_sums s = {hsum(_mm256_add_pd(a1, b1)), hsum(_mm256_add_pd(a2, b2)), 0, 0};
    for (; j < n; j++) {
        double d = (double)load1(format, src, j) - k;
        s.s1 += d; s.s2 += d * d;
        out[j] = d;
        hist[h16[j]] += 1;
    }
    return s;
}

/// |(v − shift)·scale| of four values, without fused operations.
LS_INLINE __m256d clamp_y(__m128 v, __m256d sh, __m256d sc, __m256d signless) {
    return _mm256_and_pd(_mm256_mul_pd(_mm256_sub_pd(_mm256_cvtps_pd(v), sh), sc), signless);
}

LS_INLINE ls_counts count_loop(int format, int clamped, const void *src, ptrdiff_t n, uint32_t *t, uint32_t delta,
                               const ls_clamp *cl) {
    __m256 lo = _mm256_set1_ps(__builtin_inff()), hi = _mm256_set1_ps(-__builtin_inff());
    __m256i outs = _mm256_setzero_si256();
    const __m256d sh = _mm256_set1_pd(clamped ? cl->shift : 0), sc = _mm256_set1_pd(clamped ? cl->scale : 0);
    const __m256d rr = _mm256_set1_pd(clamped ? cl->range : 0);
    const __m256d signless = _mm256_castsi256_pd(_mm256_set1_epi64x(0x7FFFFFFFFFFFFFFFLL));
    uint32_t *a = clamped ? cl->abs_sketch : NULL;
    // (j <= last, not j + 8 <= n: clang then keeps one induction variable.)
    ptrdiff_t j = 0;
    for (const ptrdiff_t last = n - 8; j <= last; j += 8) {
        __m256 f = load8(format, src, j);
        lo = _mm256_min_ps(f, lo); hi = _mm256_max_ps(f, hi);
        __m256i keys = _mm256_srli_epi32(_mm256_castps_si256(f), 16);
        if (clamped) {
            __m256d y0 = clamp_y(_mm256_castps256_ps128(f), sh, sc, signless);
            __m256d y1 = clamp_y(_mm256_extractf128_ps(f, 1), sh, sc, signless);
            // A true lane is all ones: −1.
            outs = _mm256_sub_epi64(outs, _mm256_castpd_si256(_mm256_cmp_pd(y0, rr, _CMP_GT_OQ)));
            outs = _mm256_sub_epi64(outs, _mm256_castpd_si256(_mm256_cmp_pd(y1, rr, _CMP_GT_OQ)));
            __m128i ak0 = _mm_srli_epi32(_mm_castps_si128(_mm256_cvtpd_ps(y0)), 16);
            __m128i ak1 = _mm_srli_epi32(_mm_castps_si128(_mm256_cvtpd_ps(y1)), 16);
            bump4(t, _mm256_castsi256_si128(keys), delta); bump4(a, ak0, delta);
            bump4(t, _mm256_extracti128_si256(keys, 1), delta); bump4(a, ak1, delta);
        } else {
            bump4(t, _mm256_castsi256_si128(keys), delta);
            bump4(t, _mm256_extracti128_si256(keys, 1), delta);
        }
    }
    __m128 l4 = _mm_min_ps(_mm256_castps256_ps128(lo), _mm256_extractf128_ps(lo, 1));
    __m128 h4 = _mm_max_ps(_mm256_castps256_ps128(hi), _mm256_extractf128_ps(hi, 1));
    l4 = _mm_min_ps(l4, _mm_movehl_ps(l4, l4)); h4 = _mm_max_ps(h4, _mm_movehl_ps(h4, h4));
    l4 = _mm_min_ss(l4, _mm_shuffle_ps(l4, l4, 1)); h4 = _mm_max_ss(h4, _mm_shuffle_ps(h4, h4, 1));
    __m128i o2 = _mm_add_epi64(_mm256_castsi256_si128(outs), _mm256_extracti128_si256(outs, 1));
    ls_counts r = {_mm_cvtss_f32(l4), _mm_cvtss_f32(h4), _mm_cvtsi128_si64(o2) + _mm_extract_epi64(o2, 1)};
    for (; j < n; j++) {
        float f = load1(format, src, j);
        r.min = f < r.min ? f : r.min;
        r.max = f > r.max ? f : r.max;
        t[float_bits(f) >> 16] += delta;
        if (clamped) {
            double y = __builtin_fabs(((double)f - cl->shift) * cl->scale);
            r.outside += y > cl->range ? 1 : 0;
            a[float_bits((float)y) >> 16] += delta;
        }
    }
    return r;
}

// One specialization per format and option, chosen once per call.
LS_TARGET ls_sums ls_moments(int format, const void *src, ptrdiff_t count, double shift, int higher, double *out) {
    switch (format) {
    case LS_FORMAT_F32:
        return higher ? moments_loop(LS_FORMAT_F32, 1, src, count, shift, out)
                      : moments_loop(LS_FORMAT_F32, 0, src, count, shift, out);
    case LS_FORMAT_BF16:
        return higher ? moments_loop(LS_FORMAT_BF16, 1, src, count, shift, out)
                      : moments_loop(LS_FORMAT_BF16, 0, src, count, shift, out);
    default:
        return higher ? moments_loop(LS_FORMAT_F16, 1, src, count, shift, out)
                      : moments_loop(LS_FORMAT_F16, 0, src, count, shift, out);
    }
}

LS_TARGET ls_sums ls_moments_counting(int format, const void *src, ptrdiff_t count, double shift, double *out,
                                     uint32_t *hist) {
    return format == LS_FORMAT_BF16 ? counting_loop(LS_FORMAT_BF16, src, count, shift, out, hist)
                                    : counting_loop(LS_FORMAT_F16, src, count, shift, out, hist);
}

LS_TARGET ls_counts ls_count(int format, const void *src, ptrdiff_t count, uint32_t *sketch, uint32_t delta,
                             const ls_clamp *clamp) {
    switch (format) {
    case LS_FORMAT_F32:
        return clamp ? count_loop(LS_FORMAT_F32, 1, src, count, sketch, delta, clamp)
                     : count_loop(LS_FORMAT_F32, 0, src, count, sketch, delta, clamp);
    case LS_FORMAT_BF16:
        return clamp ? count_loop(LS_FORMAT_BF16, 1, src, count, sketch, delta, clamp)
                     : count_loop(LS_FORMAT_BF16, 0, src, count, sketch, delta, clamp);
    default:
        return clamp ? count_loop(LS_FORMAT_F16, 1, src, count, sketch, delta, clamp)
                     : count_loop(LS_FORMAT_F16, 0, src, count, sketch, delta, clamp);
    }
}

LS_TARGET void ls_fold_halves(uint32_t *table, ptrdiff_t lo, ptrdiff_t hi) {
    uint32_t *second = table + 65536;
    for (ptrdiff_t i = lo; i <= hi; i += 8) {
        __m256i b = _mm256_loadu_si256((const __m256i *)(second + i));
        if (_mm256_testz_si256(b, b)) continue;
        __m256i a = _mm256_loadu_si256((const __m256i *)(table + i));
        _mm256_storeu_si256((__m256i *)(table + i), _mm256_add_epi32(a, b));
        _mm256_storeu_si256((__m256i *)(second + i), _mm256_setzero_si256());
    }
}

/// The occupied entries of one group of 8 at table + i, appended to out + n.
LS_INLINE ptrdiff_t occupied8(const uint32_t *table, ptrdiff_t i, uint16_t *out, ptrdiff_t n) {
    __m256i v = _mm256_loadu_si256((const __m256i *)(table + i));
    unsigned empty = (unsigned)_mm256_movemask_ps(_mm256_castsi256_ps(_mm256_cmpeq_epi32(v, _mm256_setzero_si256())));
    for (unsigned m = ~empty & 0xFFu; m; m &= m - 1) out[n++] = (uint16_t)(i + __builtin_ctz(m));
    return n;
}

LS_TARGET ptrdiff_t ls_occupied(const uint32_t *table, ptrdiff_t from, ptrdiff_t to, uint16_t *out) {
    ptrdiff_t n = 0, i = from;
    // Most of a table is zeros: 32 entries (one 128-byte pair of lines) at a time.
    for (; i + 32 <= to; i += 32) {
        __m256i a = _mm256_loadu_si256((const __m256i *)(table + i));
        __m256i b = _mm256_loadu_si256((const __m256i *)(table + i + 8));
        __m256i c = _mm256_loadu_si256((const __m256i *)(table + i + 16));
        __m256i d = _mm256_loadu_si256((const __m256i *)(table + i + 24));
        __m256i any = _mm256_or_si256(_mm256_or_si256(a, b), _mm256_or_si256(c, d));
        if (_mm256_testz_si256(any, any)) continue;
        n = occupied8(table, i, out, n);
        n = occupied8(table, i + 8, out, n);
        n = occupied8(table, i + 16, out, n);
        n = occupied8(table, i + 24, out, n);
    }
    for (; i < to; i += 8) n = occupied8(table, i, out, n);
    return n;
}

LS_TARGET ls_fold ls_fold_values(int format, const uint32_t *hist, const uint16_t *idx, ptrdiff_t used, uint32_t *sketch,
                                 const ls_clamp *clamp) {
#pragma clang fp contract(off)
    ls_fold r = {0, 0, 0, __builtin_inf(), -__builtin_inf()};
    const double sh = clamp ? clamp->shift : 0, sc = clamp ? clamp->scale : 0, range = clamp ? clamp->range : 0;
    uint32_t *a = clamp ? clamp->abs_sketch : NULL;
    for (ptrdiff_t u = 0; u < used; u++) {
        const uint32_t i = idx[u], k = hist[i];
        const float f = load1(format, idx, u);   // the value whose bits are i
        const double v = f;
        r.n += k;
        r.sum += (double)k * v;
        r.min = v < r.min ? v : r.min;
        r.max = v > r.max ? v : r.max;
        sketch[float_bits(f) >> 16] += k;
        if (a) {
            const double y = __builtin_fabs((v - sh) * sc);
            r.outside += y > range ? k : 0;
            a[float_bits((float)y) >> 16] += k;
        }
    }
    return r;
}

LS_TARGET ls_sums ls_fold_powers(int format, uint32_t *hist, const uint16_t *idx, ptrdiff_t used, double mean) {
    const __m256d mm = _mm256_set1_pd(mean), two31 = _mm256_set1_pd(2147483648.0);
    const __m128i flip = _mm_set1_epi32((int)0x80000000u);
    __m256d a1 = _mm256_setzero_pd(), a2 = a1, a3 = a1, a4 = a1;
    ptrdiff_t u = 0;
    for (; u + 4 <= used; u += 4) {
        __m128i bits = _mm_cvtepu16_epi32(_mm_loadl_epi64((const __m128i *)(idx + u)));
        __m128i counts = _mm_i32gather_epi32((const int *)hist, bits, 4);
        // Unsigned 32-bit counts to double: flip the sign bit, convert, add 2^31 back.
        __m256d k = _mm256_add_pd(_mm256_cvtepi32_pd(_mm_xor_si128(counts, flip)), two31);
        __m128 f = format == LS_FORMAT_BF16 ? _mm_castsi128_ps(_mm_slli_epi32(bits, 16))
                                            : _mm_cvtph_ps(_mm_packus_epi32(bits, bits));
        __m256d d = _mm256_sub_pd(_mm256_cvtps_pd(f), mm);
        __m256d kd = _mm256_mul_pd(k, d), kd2 = _mm256_mul_pd(kd, d);
        a1 = _mm256_add_pd(a1, kd);
        a2 = _mm256_add_pd(a2, kd2);
        a3 = _mm256_fmadd_pd(kd2, d, a3);
        a4 = _mm256_fmadd_pd(_mm256_mul_pd(kd2, d), d, a4);
    }
    ls_sums s = {hsum(a1), hsum(a2), hsum(a3), hsum(a4)};
    for (; u < used; u++) {
        double k = hist[idx[u]], d = (double)load1(format, idx, u) - mean, kd2 = k * d * d;
        s.s1 += k * d; s.s2 += kd2; s.s3 += kd2 * d; s.s4 += kd2 * d * d;
    }
    for (u = 0; u < used; u++) hist[idx[u]] = 0;
    return s;
}

LS_TARGET void ls_comoments4(const double *x, ptrdiff_t t, double *co) {
    const double *r0 = x, *r1 = x + t, *r2 = x + 2 * t, *r3 = x + 3 * t;
    __m256d p01 = _mm256_setzero_pd(), p02 = p01, p03 = p01, p12 = p01, p13 = p01, p23 = p01;
    ptrdiff_t j = 0;
    for (; j + 4 <= t; j += 4) {
        __m256d a = _mm256_loadu_pd(r0 + j), b = _mm256_loadu_pd(r1 + j);
        __m256d c = _mm256_loadu_pd(r2 + j), d = _mm256_loadu_pd(r3 + j);
        p01 = _mm256_fmadd_pd(a, b, p01); p02 = _mm256_fmadd_pd(a, c, p02); p03 = _mm256_fmadd_pd(a, d, p03);
        p12 = _mm256_fmadd_pd(b, c, p12); p13 = _mm256_fmadd_pd(b, d, p13); p23 = _mm256_fmadd_pd(c, d, p23);
    }
    double s01 = hsum(p01), s02 = hsum(p02), s03 = hsum(p03), s12 = hsum(p12), s13 = hsum(p13), s23 = hsum(p23);
    for (; j < t; j++) {
        double a = r0[j], b = r1[j], c = r2[j], d = r3[j];
        s01 += a * b; s02 += a * c; s03 += a * d; s12 += b * c; s13 += b * d; s23 += c * d;
    }
    co[1] += s01; co[2] += s02; co[3] += s03; co[6] += s12; co[7] += s13; co[11] += s23;
}

#else

int ls_simd_available(void) { return 0; }

// Never called where ls_simd_available() is 0; defined so that the module links.
ls_sums ls_moments(int format, const void *src, ptrdiff_t count, double shift, int higher, double *out) {
    (void)format; (void)src; (void)count; (void)shift; (void)higher; (void)out;
    ls_sums s = {0, 0, 0, 0};
    return s;
}

ls_sums ls_moments_counting(int format, const void *src, ptrdiff_t count, double shift, double *out,
                            uint32_t *hist) {
    (void)format; (void)src; (void)count; (void)shift; (void)out; (void)hist;
    ls_sums s = {0, 0, 0, 0};
    return s;
}

ls_counts ls_count(int format, const void *src, ptrdiff_t count, uint32_t *sketch, uint32_t delta,
                   const ls_clamp *clamp) {
    (void)format; (void)src; (void)count; (void)sketch; (void)delta; (void)clamp;
    ls_counts r = {0, 0, 0};
    return r;
}

void ls_comoments4(const double *x, ptrdiff_t t, double *co) { (void)x; (void)t; (void)co; }

void ls_fold_halves(uint32_t *table, ptrdiff_t lo, ptrdiff_t hi) { (void)table; (void)lo; (void)hi; }

ptrdiff_t ls_occupied(const uint32_t *table, ptrdiff_t from, ptrdiff_t to, uint16_t *out) {
    (void)table; (void)from; (void)to; (void)out;
    return 0;
}

ls_fold ls_fold_values(int format, const uint32_t *hist, const uint16_t *idx, ptrdiff_t used, uint32_t *sketch,
                       const ls_clamp *clamp) {
    (void)format; (void)hist; (void)idx; (void)used; (void)sketch; (void)clamp;
    ls_fold r = {0, 0, 0, 0, 0};
    return r;
}

ls_sums ls_fold_powers(int format, uint32_t *hist, const uint16_t *idx, ptrdiff_t used, double mean) {
    (void)format; (void)hist; (void)idx; (void)used; (void)mean;
    ls_sums s = {0, 0, 0, 0};
    return s;
}

#endif
