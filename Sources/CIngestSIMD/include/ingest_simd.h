// The ingest kernel's AVX2 loops (x86-64 with AVX2, FMA and F16C), chosen
// at run time by LatentStats when the CPU and OS support them; elsewhere
// ls_simd_available() is 0 and the portable Swift loops run. Compiled with
// per-function target attributes, so the package needs no CPU flags.
#ifndef LATENTSCALE_INGEST_SIMD_H
#define LATENTSCALE_INGEST_SIMD_H

#include <stddef.h>
#include <stdint.h>

/// The encodings the loops read: binary32, bfloat16 and binary16.
enum { LS_FORMAT_F32 = 0, LS_FORMAT_BF16 = 1, LS_FORMAT_F16 = 2 };

/// Σd, Σd², Σd³, Σd⁴ of d = v − shift (the last two only when asked for).
typedef struct { double s1, s2, s3, s4; } ls_sums;

/// The clamp count's terms for one channel: y = |(v − shift)·scale| > range,
/// and the |normalized| sketch table y's bucket is counted in.
typedef struct { double shift, scale, range; uint32_t *abs_sketch; } ls_clamp;

/// What a counting pass found: the extremes (as floats: every format
/// read is a float exactly) and the elements whose y exceeds the range.
typedef struct { float min, max; int64_t outside; } ls_counts;

/// 1 when the AVX2 loops can run on this machine, else 0.
int ls_simd_available(void);

/// The shifted power sums of `count` contiguous elements of `format` at
/// `src`, writing each d to `out`; Σd³ and Σd⁴ only when `higher` is 1.
ls_sums ls_moments(int format, const void *src, ptrdiff_t count, double shift, int higher, double *out);

/// Σd and Σd² of `count` contiguous bfloat16 or float16 elements, writing
/// each d to `out`, with one added to each element's count in `hist`
/// (65,536 counts indexed by the element's bits): histogram mode's pass.
ls_sums ls_moments_counting(int format, const void *src, ptrdiff_t count, double shift, double *out, uint32_t *hist);

/// Over the same elements: min and max, `delta` added to each value's raw
/// sketch bucket (top 16 bits of its binary32 pattern) in `sketch` and,
/// with `clamp`, the clamp count and `delta` added to each y's bucket.
/// Both tables hold 2 × 65,536 counts: the loop counts alternate elements
/// in the second half, which the caller adds into the first.
ls_counts ls_count(int format, const void *src, ptrdiff_t count, uint32_t *sketch, uint32_t delta,
                   const ls_clamp *clamp);

/// Adds entries lo…hi of the second half of a 2 × 65,536 sketch table
/// into the first and zeroes them there (lo and hi + 1 multiples of 8).
void ls_fold_halves(uint32_t *table, ptrdiff_t lo, ptrdiff_t hi);

/// Writes the indexes i in [from, to) with table[i] != 0 to `out`, in
/// ascending order, and returns how many (from and to multiples of 8):
/// the occupied entries of a dense sketch table or a value-count table,
/// read 32 entries at a time.
ptrdiff_t ls_occupied(const uint32_t *table, ptrdiff_t from, ptrdiff_t to, uint16_t *out);

/// What histogram mode's first fold pass found over one channel's value
/// counts: the elements, Σk·v (in the order of the values), the extremes,
/// and the elements whose y exceeds the clamp range.
typedef struct { int64_t n, outside; double sum, min, max; } ls_fold;

/// Histogram mode's first fold pass over the `used` occupied values `idx`
/// (ascending) of one channel's counts `hist` (bfloat16 or float16 bits):
/// the values' counts added to their buckets in `sketch` and, with
/// `clamp`, to their y's buckets in its table, with the clamp count. The
/// arithmetic is the portable fold's, unfused, so the results are identical.
ls_fold ls_fold_values(int format, const uint32_t *hist, const uint16_t *idx, ptrdiff_t used, uint32_t *sketch,
                       const ls_clamp *clamp);

/// The second pass: Σk·d … Σk·d⁴ with d = v − mean over the same values,
/// four at a time (so equal to the portable pass up to rounding), setting
/// their counts in `hist` back to zero.
ls_sums ls_fold_powers(int format, uint32_t *hist, const uint16_t *idx, ptrdiff_t used, double mean);

/// The six off-diagonal co-moments of a 4 × t row-major tile `x`, added
/// to `co` (4 × 4, row-major, upper triangle).
void ls_comoments4(const double *x, ptrdiff_t t, double *co);

#endif
