"""Measuring Monitor.push() against np.copy of the same array, in the same run."""

from __future__ import annotations

import time
from typing import Any, Callable, Dict, List, Optional

import numpy as np

from latentscale import Monitor

SHAPE = (32, 4, 64, 64)


def percentiles(samples: List[float]) -> Dict[str, float]:
    a = np.asarray(samples) * 1e6
    return {"p50": float(np.percentile(a, 50)), "p90": float(np.percentile(a, 90)), "p99": float(np.percentile(a, 99))}


def measure(
    monitor: Monitor,
    n: int = 300,
    step_seconds: float = 0.003,
    make: Optional[Callable[[int], Any]] = None,
    copy: Optional[Callable[[Any], Any]] = None,
) -> Dict[str, Any]:
    """Alternate np.copy(x) and monitor.push(x) on a (32,4,64,64) float32 batch.

    ``step_seconds`` of sleep between iterations stands for the training step (the
    GPU work the loop waits on), which leaves the sending thread time to send.
    """
    rng = np.random.default_rng(0)
    x = make(0) if make else rng.standard_normal(SHAPE, dtype=np.float32)
    copy = copy or np.copy
    copies: List[float] = []
    pushes: List[float] = []
    queued: List[float] = []
    for i in range(n + 20):
        t0 = time.perf_counter()
        y = copy(x)
        t1 = time.perf_counter()
        ok = monitor.push(x, step=i)
        t2 = time.perf_counter()
        del y
        if i >= 20:  # warm-up
            copies.append(t1 - t0)
            pushes.append(t2 - t1)
            if ok:
                queued.append(t2 - t1)
        if step_seconds:
            time.sleep(step_seconds)
    c, p = percentiles(copies), percentiles(pushes)
    q = percentiles(queued) if queued else None
    target = 1.5 * c["p50"] + 20.0
    # The figure to meet is the median over all push() calls; the median over the
    # calls that queued a copy is reported beside it (with few samples it mostly
    # shows the first, cold buffer allocations).
    return {"copy": c, "push": p, "queued": q, "n_queued": len(queued), "target_p50": target,
            "met": p["p50"] <= target, "stats": monitor.stats}


def report(name: str, r: Dict[str, Any], baseline: str = "np.copy") -> str:
    c, p, q, s = r["copy"], r["push"], r["queued"], r["stats"]
    qtext = f"queued-only p50 {q['p50']:.1f} ({r['n_queued']})" if q else "none queued"
    return (
        f"{name}: {baseline} p50 {c['p50']:.1f} p90 {c['p90']:.1f} us; push p50 {p['p50']:.1f} p90 {p['p90']:.1f} "
        f"p99 {p['p99']:.1f} us, {qtext}; target p50 <= {r['target_p50']:.1f} us: "
        f"{'met' if r['met'] else 'NOT MET'}; pushed {s.pushed} dropped {s.dropped} failed {s.failed}"
    )
