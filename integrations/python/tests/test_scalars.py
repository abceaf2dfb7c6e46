"""Monitor.scalars() against the fake daemon: keys, values, NaN rules, never blocking."""

from __future__ import annotations

import math
import time
from typing import Any, Dict

import numpy as np
import pytest

from latentscale import SCALAR_KEYS, Monitor
from fake_scaled import FakeScaled

DAEMON_KEYS = SCALAR_KEYS[:4]


def batch(seed: int, shape: tuple = (4, 4, 8, 8)) -> np.ndarray:
    return (np.random.default_rng(seed).standard_normal(shape) * 0.7 + 0.2).astype(np.float32)


def listings(fake: FakeScaled) -> int:
    with fake.lock:
        return sum(1 for r in fake.requests if r["method"] == "GET" and r["path"] == "/v1/streams")


def test_keys_and_nan_before_any_answer() -> None:
    m = Monitor("s", socket="/nonexistent/scaled.sock", backoff_initial=10)
    try:
        s = m.scalars()
        assert list(s) == list(SCALAR_KEYS)
        assert all(type(v) is float for v in s.values())
        assert all(math.isnan(s[k]) for k in DAEMON_KEYS)
        assert s["latentscale/pushed"] == 0.0 and s["latentscale/dropped"] == 0.0
    finally:
        m.close(2)


def test_values_come_from_the_listing_and_push_answers(fake: FakeScaled) -> None:
    fake.listing_extra = {"normalized_std": 0.9731, "clamp_fraction": 0.0125}
    fake.flags = [
        {"kind": "variance_drift", "state": "firing", "message": "x"},
        {"kind": "clamp_out_of_range", "state": "pending", "message": "y"},
        {"kind": "nonfinite", "state": "firing", "message": "z"},
    ]
    xs = [batch(i) for i in range(4)]
    with Monitor("sc", socket=fake.path) as m:
        for i, x in enumerate(xs):
            m.push(x, step=i)
        assert m.flush(10)
        s = m.scalars()
    values = np.concatenate([x.ravel() for x in xs]).astype(np.float64)
    assert s["latentscale/normalized_std"] == 0.9731
    assert s["latentscale/clamp_fraction"] == 0.0125
    assert s["latentscale/scaling_factor"] == pytest.approx(1.0 / values.std(), rel=1e-12)
    assert s["latentscale/flags_firing"] == 2.0  # pending does not count
    assert s["latentscale/pushed"] == 4.0 and s["latentscale/dropped"] == 0.0
    # After close the last figures stay readable.
    assert m.scalars()["latentscale/normalized_std"] == 0.9731


def test_nulls_become_nan(fake: FakeScaled) -> None:
    fake.listing_extra = {"normalized_std": None, "clamp_fraction": None}
    with Monitor("nul", socket=fake.path) as m:
        m.push(batch(0))
        assert m.flush(10)
        s = m.scalars()
    assert math.isnan(s["latentscale/normalized_std"]) and math.isnan(s["latentscale/clamp_fraction"])
    assert math.isfinite(s["latentscale/scaling_factor"])
    assert s["latentscale/flags_firing"] == 0.0


def test_listing_refreshed_once_after_a_backlog(fake: FakeScaled) -> None:
    fake.delay = 0.1  # each push takes 100 ms, so the five below queue up behind the first
    fake.listing_extra = {"normalized_std": 1.5, "clamp_fraction": 0.5}
    with Monitor("backlog", socket=fake.path, queue_size=8) as m:
        for i in range(5):
            assert m.push(batch(i))
        assert m.flush(10)
        assert m.stats.pushed == 5
        assert listings(fake) == 1  # not one listing per push while batches waited
        assert m.scalars()["latentscale/normalized_std"] == 1.5
        fake.listing_extra = {"normalized_std": 1.25, "clamp_fraction": 0.5}
        m.push(batch(9))
        assert m.flush(10)
        assert listings(fake) == 2
        assert m.scalars()["latentscale/normalized_std"] == 1.25


def test_refreshed_under_a_backlog_that_does_not_drain(fake: FakeScaled) -> None:
    fake.delay = 0.1
    fake.listing_extra = {"normalized_std": 1.5, "clamp_fraction": 0.5}
    with Monitor("busy", socket=fake.path, queue_size=16) as m:
        m._scalars_max_age = 0.25
        for i in range(12):  # 1.2 s of pushes, the queue never empty until the last
            assert m.push(batch(i))
        assert m.flush(10)
    assert m.stats.pushed == 12
    assert 3 <= listings(fake) <= 6  # about every 0.25 s, then once at the end; not once a push


def timed(fn: Any) -> float:
    t = time.perf_counter()
    fn()
    return time.perf_counter() - t


def test_never_blocks_when_the_daemon_is_slow(fake: FakeScaled) -> None:
    fake.listing_extra = {"normalized_std": 1.0, "clamp_fraction": 0.0}
    with Monitor("slow", socket=fake.path, timeout=5) as m:
        m.push(batch(0))
        assert m.flush(10)
        fake.delay = 1.0
        fake.list_delay = 1.0
        m.push(batch(1))
        time.sleep(0.05)  # the sending thread is now inside the slow push
        worst = max(timed(m.scalars) for _ in range(50))
        assert worst < 0.05, f"scalars() took {worst * 1e3:.1f} ms while the daemon was slow"
        assert m.scalars()["latentscale/pushed"] == 1.0
        assert m.flush(10)
        assert m.scalars()["latentscale/pushed"] == 2.0


def test_never_raises_when_the_daemon_is_gone(fake: FakeScaled) -> None:
    fake.listing_extra = {"normalized_std": 0.8, "clamp_fraction": 0.1}
    with Monitor("gone", socket=fake.path, timeout=2, backoff_initial=0.05) as m:
        m.push(batch(0))
        assert m.flush(10)
        before: Dict[str, float] = m.scalars()
        fake.kill()
        for i in range(20):
            m.push(batch(i + 1))
            s = m.scalars()
            assert list(s) == list(SCALAR_KEYS)
        m.flush(10)
        after = m.scalars()
    assert after["latentscale/normalized_std"] == before["latentscale/normalized_std"] == 0.8
    assert after["latentscale/pushed"] == 1.0
    assert after["latentscale/dropped"] == 20.0  # dropped while down plus sent-and-failed
    assert m.stats.dropped + m.stats.failed == 20
