"""numpy float64 references for what scaled reports."""
import numpy as np


def to_bf16_bits(x: np.ndarray) -> np.ndarray:
    """float32 -> bfloat16 bit patterns, round to nearest even."""
    b = np.ascontiguousarray(x, dtype=np.float32).view(np.uint32).astype(np.uint64)
    b = (b + 0x7FFF + ((b >> 16) & 1)) >> 16
    return b.astype(np.uint16)


def from_bf16_bits(bits: np.ndarray) -> np.ndarray:
    return (bits.astype(np.uint32) << 16).view(np.float32)


def stats(x: np.ndarray, channel_axis: int = 1) -> dict:
    """Statistics over finite values, population (ddof 0), float64 two-pass."""
    x = np.asarray(x, dtype=np.float64)
    f = x[np.isfinite(x)]
    mean = f.mean()
    d = f - mean
    var = (d * d).mean()
    ca = channel_axis % x.ndim
    moved = np.moveaxis(x, ca, -1).reshape(-1, x.shape[ca])
    channels = []
    for c in range(moved.shape[1]):
        v = moved[:, c][np.isfinite(moved[:, c])]
        channels.append({"mean": v.mean(), "std": v.std(), "min": v.min(), "max": v.max()})
    rows = moved[np.all(np.isfinite(moved), axis=1)]
    cov = np.cov(rows, rowvar=False, ddof=0).reshape(moved.shape[1], moved.shape[1])
    return {
        "mean": mean, "std": np.sqrt(var), "rms": np.sqrt((f * f).mean()),
        "min": f.min(), "max": f.max(),
        "skewness": (d ** 3).mean() / var ** 1.5, "kurtosis": (d ** 4).mean() / var ** 2 - 3,
        "channels": channels, "covariance": cov, "finite": f,
        "nan": int(np.isnan(x).sum()), "posinf": int(np.isposinf(x).sum()), "neginf": int(np.isneginf(x).sum()),
    }


def rel(a, b):
    a, b = float(a), float(b)
    return 0.0 if a == b else abs(a - b) / max(abs(b), 1e-300)


def assert_stats(got: dict, want: dict, tol: float = 1e-9, quantiles: bool = True):
    for k in ("mean", "std", "rms", "min", "max"):
        assert rel(got[k], want[k]) <= tol, (k, got[k], want[k])
    assert abs(got["skewness"] - want["skewness"]) <= 1e-6
    assert abs(got["kurtosis"] - want["kurtosis"]) <= 1e-6
    assert len(got["channels"]) == len(want["channels"])
    for g, w in zip(got["channels"], want["channels"]):
        for k in ("mean", "std", "min", "max"):
            assert rel(g[k], w[k]) <= tol, (k, g[k], w[k])
    cov = np.array(got["covariance"])
    want_cov = want["covariance"]
    scale = np.sqrt(np.outer(np.diag(want_cov), np.diag(want_cov)))
    assert np.max(np.abs(cov - want_cov) / scale) <= tol
    if quantiles:
        f = np.sort(want["finite"])
        n = len(f)
        for key, v in got["quantiles"].items():
            q = float(key)
            exact = np.quantile(f, q)
            rank_lo = np.searchsorted(f, v, side="left") / n
            rank_hi = np.searchsorted(f, v, side="right") / n
            rank_err = max(0.0, rank_lo - q, q - rank_hi)
            assert abs(v - exact) <= 0.01 * abs(exact) or rank_err <= 0.001, (q, v, exact)
