"""numpy computing, in-process, every statistic a BatchSummary keeps: the
baseline the benchmarks compare against (float64, two-pass)."""
import numpy as np

QS = [0.001, 0.01, 0.5, 0.99, 0.999]


def summarize(x, shift=0.1, scale=0.5, clip_range=1.0):
    """Every statistic BatchSummary keeps, from a float32 (N, C, ...) array."""
    nan = int(np.count_nonzero(np.isnan(x)))
    pinf = int(np.count_nonzero(np.isposinf(x)))
    ninf = int(np.count_nonzero(np.isneginf(x)))
    x = x.astype(np.float64)
    n, c = x.shape[:2]
    axes = (0,) + tuple(range(2, x.ndim))
    out = {"nan": nan, "pinf": pinf, "ninf": ninf}
    mean = x.mean()
    d = x - mean
    d2 = d * d
    out.update(mean=mean, var=d2.mean(), m3=(d2 * d).mean(), m4=(d2 * d2).mean(), min=x.min(), max=x.max())
    cm = x.mean(axis=axes, keepdims=True)
    d = x - cm
    d2 = d * d
    out.update(ch_mean=cm.ravel(), ch_var=d2.mean(axis=axes), ch_m3=(d2 * d).mean(axis=axes),
               ch_m4=(d2 * d2).mean(axis=axes), ch_min=x.min(axis=axes), ch_max=x.max(axis=axes))
    out["cov"] = np.cov(np.moveaxis(x, 1, 0).reshape(c, -1), bias=True)
    out["quantiles"] = np.quantile(x, QS)
    out["sample_var"] = x.reshape(n, -1).var(axis=1)
    out["clamped"] = int(np.count_nonzero(np.abs((x - shift) * scale) > clip_range))
    return out
