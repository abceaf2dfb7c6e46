"""Monitor behaviour against the fake daemon: up, slow, stopped, killed, full queue."""

from __future__ import annotations

import logging
import os
import time
from types import SimpleNamespace
from typing import Any, Callable

import numpy as np
import pytest

from latentscale import Monitor, MonitorStats, rank_tag, unwrap_vae
from fake_scaled import FakeScaled


def wait_for(cond: Callable[[], bool], timeout: float = 10.0) -> None:
    deadline = time.monotonic() + timeout
    while not cond():
        if time.monotonic() > deadline:
            raise AssertionError("condition not reached in time")
        time.sleep(0.01)


def batch(seed: int, shape: tuple = (4, 4, 8, 8)) -> np.ndarray:
    return np.random.default_rng(seed).standard_normal(shape).astype(np.float32)


def test_push_flush_stats_and_latest_response(fake: FakeScaled) -> None:
    fake.flags = [{"kind": "variance_drift", "state": "firing", "since": "2026-01-01T00:00:00.000Z", "message": "std 1.2"}]
    with Monitor("m", socket=fake.path) as m:
        assert m.normalization is None and m.flags == []
        xs = [batch(i) for i in range(5)]
        for i, x in enumerate(xs):
            assert m.push(x, step=i) is True
        assert m.flush(10)
        assert m.stats == MonitorStats(pushed=5, dropped=0, failed=0, skipped=0, queued=0)
        assert m.flags == fake.flags
        allv = np.concatenate([x.ravel() for x in xs]).astype(np.float64)
        assert m.normalization["scaling_factor"] == pytest.approx(1 / allv.std(), rel=1e-12)
        assert m.connected and m.last_error is None
    pushes = fake.pushes("m")
    assert [p["query"]["step"] for p in pushes] == ["0", "1", "2", "3", "4"]
    for p, x in zip(pushes, xs):
        np.testing.assert_array_equal(p["values"], x)


def test_push_copies_so_later_edits_do_not_leak(fake: FakeScaled) -> None:
    fake.delay = 0.05
    x = batch(0)
    original = x.copy()
    with Monitor("m", socket=fake.path) as m:
        m.push(x)
        x[...] = 99.0  # the training loop reuses its buffer
    np.testing.assert_array_equal(fake.pushes()[0]["values"], original)


def test_noncontiguous_and_max_samples_and_every(fake: FakeScaled) -> None:
    base = batch(1, (8, 4, 6, 6))
    view = base.transpose(0, 1, 3, 2)[:, ::2]
    with Monitor("m", socket=fake.path, every=3, max_samples=2) as m:
        for i in range(7):
            m.push(view, step=i)
        m.flush(10)
        assert m.stats.pushed == 3 and m.stats.skipped == 4
    pushes = fake.pushes()
    assert [p["query"]["step"] for p in pushes] == ["0", "3", "6"]
    np.testing.assert_array_equal(pushes[0]["values"], view[:2])
    assert pushes[0]["shape"] == (2, 2, 6, 6)


def test_config_is_put_on_connect(fake: FakeScaled) -> None:
    cfg = {"reference": {"scaling_factor": 0.18215, "shift_factor": 0.0}, "window_batches": 7}
    with Monitor("cfg", socket=fake.path, config=cfg) as m:
        m.push(batch(0))
    configures = [r for r in fake.requests if r["kind"] == "configure"]
    assert configures and configures[0]["config"] == cfg and configures[0]["path"] == "/v1/streams/cfg"
    assert fake.streams["cfg"]["config"]["window_batches"] == 7


def test_rejected_config_is_reported_not_raised(fake: FakeScaled, caplog: pytest.LogCaptureFixture) -> None:
    with caplog.at_level(logging.WARNING, logger="latentscale"):
        with Monitor("cfg", socket=fake.path, config={"window_batches": 0}) as m:
            m.push(batch(0))
            m.flush(5)
    assert "invalid_config" in (m.last_error or "")
    assert m.stats.pushed == 1
    assert any("invalid_config" in r.getMessage() for r in caplog.records)


def test_rank_tag(monkeypatch: pytest.MonkeyPatch, fake: FakeScaled) -> None:
    assert rank_tag({"RANK": "3", "WORLD_SIZE": "8"}) == "rank3of8"
    assert rank_tag({"RANK": "0", "WORLD_SIZE": "1"}) is None
    assert rank_tag({"RANK": "0"}) is None
    assert rank_tag({"RANK": "x", "WORLD_SIZE": "2"}) is None
    monkeypatch.setenv("RANK", "2")
    monkeypatch.setenv("WORLD_SIZE", "4")
    with Monitor("r", socket=fake.path, tag="default") as m:
        m.push(batch(0), tag="1024x1024")
        m.push(batch(1))
    tags = [p["query"]["tag"] for p in fake.pushes()]
    assert tags == ["1024x1024-rank2of4", "default-rank2of4"]
    monkeypatch.delenv("RANK")
    with Monitor("r2", socket=fake.path) as m:
        m.push(batch(0))
    assert "tag" not in fake.pushes("r2")[0]["query"]


def test_full_queue_drops_counts_and_warns_once(fake: FakeScaled, caplog: pytest.LogCaptureFixture) -> None:
    fake.delay = 0.3
    with caplog.at_level(logging.WARNING, logger="latentscale"):
        m = Monitor("q", socket=fake.path, queue_size=2)
        t0 = time.perf_counter()
        results = [m.push(batch(i), step=i) for i in range(20)]
        elapsed = time.perf_counter() - t0
        s = m.stats
        assert s.dropped >= 16 and results.count(False) == s.dropped
        m.close(10)
    assert elapsed < 0.3  # the slow daemon never blocked the loop
    final = m.stats
    assert final.pushed + final.dropped == 20 and final.failed == 0
    full = [r for r in caplog.records if "queue is full" in r.getMessage()]
    assert len(full) == 1, [r.getMessage() for r in caplog.records]


def test_warning_rate_limit_interval(fake: FakeScaled, caplog: pytest.LogCaptureFixture) -> None:
    fake.delay = 1.0
    with caplog.at_level(logging.WARNING, logger="latentscale"):
        m = Monitor("q", socket=fake.path, queue_size=1, warn_interval=0.3)
        for _ in range(5):
            m.push(batch(0))
        time.sleep(0.4)
        for _ in range(5):
            m.push(batch(0))
        m.close(5)
    assert len([r for r in caplog.records if "queue is full" in r.getMessage()]) == 2


def test_stopped_daemon_never_raises_then_reconnects(fake: FakeScaled, caplog: pytest.LogCaptureFixture) -> None:
    fake.stop()
    with caplog.at_level(logging.WARNING, logger="latentscale"):
        m = Monitor("down", socket=fake.path, backoff_initial=0.05, backoff_max=0.2)
        for i in range(50):
            m.push(batch(i), step=i)  # must not raise
            time.sleep(0.002)
        wait_for(lambda: not m.connected)
        s = m.stats
        assert s.pushed == 0 and s.dropped + s.failed + s.queued == 50
        assert fake.path in (m.last_error or "")
        fake.start()
        wait_for(lambda: m.connected)
        for i in range(5):
            m.push(batch(100 + i), step=100 + i)
        assert m.close(10)
    assert m.stats.pushed == 5
    assert [p["query"]["step"] for p in fake.pushes()] == ["100", "101", "102", "103", "104"]
    down = [r for r in caplog.records if "cannot reach scaled" in r.getMessage()]
    assert len(down) == 1 and fake.path in down[0].getMessage()


def test_daemon_killed_mid_run_recovers(fake: FakeScaled) -> None:
    m = Monitor("kill", socket=fake.path, backoff_initial=0.05, backoff_max=0.2)
    for i in range(5):
        m.push(batch(i), step=i)
    m.flush(5)
    assert m.stats.pushed == 5
    fake.kill()  # open connections dropped, socket removed
    for i in range(5, 40):
        m.push(batch(i), step=i)
        time.sleep(0.005)
    wait_for(lambda: not m.connected)
    fake.start()
    wait_for(lambda: m.connected)
    for i in range(40, 45):
        m.push(batch(i), step=i)
    assert m.close(10)
    s = m.stats
    assert s.pushed >= 10
    assert s.pushed + s.dropped + s.failed == 45
    steps = [int(p["query"]["step"]) for p in fake.pushes()]
    assert steps[:5] == [0, 1, 2, 3, 4] and steps[-5:] == [40, 41, 42, 43, 44]


def test_rejected_batches_count_as_failed(fake: FakeScaled) -> None:
    with Monitor("bad/name", socket=fake.path) as m:
        m.push(batch(0))
        m.flush(5)
        assert m.stats.failed == 1 and m.stats.pushed == 0
        assert "invalid_stream_name" in (m.last_error or "")
        assert m.connected


def test_push_after_close_is_dropped(fake: FakeScaled) -> None:
    m = Monitor("c", socket=fake.path)
    assert m.close(5)
    assert m.push(batch(0)) is False
    assert m.stats.dropped == 1
    assert m.close(5)


def test_close_timeout_with_stuck_daemon(fake: FakeScaled) -> None:
    fake.delay = 1.0
    m = Monitor("stuck", socket=fake.path, queue_size=4, timeout=5)
    for i in range(4):
        m.push(batch(i))
    t0 = time.perf_counter()
    assert m.close(timeout=0.3) is False
    assert time.perf_counter() - t0 < 1.0


def test_input_errors_raise_on_the_caller(fake: FakeScaled) -> None:
    with Monitor("e", socket=fake.path) as m:
        with pytest.raises(ValueError):
            m.push(np.zeros(3, np.float32))
        with pytest.raises(TypeError):
            m.push(np.zeros((3, 3), np.int32))


def test_invalid_arguments() -> None:
    with pytest.raises(ValueError):
        Monitor("x", socket="/nonexistent.sock", queue_size=0)
    with pytest.raises(ValueError):
        Monitor("x", socket="/nonexistent.sock", every=0)
    with pytest.raises(ValueError):
        Monitor("x", socket="/nonexistent.sock", max_samples=0)


def test_unreferenced_monitor_thread_exits(sockdir: str) -> None:
    import gc
    import threading

    m = Monitor("gone", socket=os.path.join(sockdir, "none.sock"), backoff_initial=0.01)
    thread = m._thread
    del m
    gc.collect()
    thread.join(5)
    assert not thread.is_alive()
    assert not any(t.name == "latentscale-gone" for t in threading.enumerate())


# -- wrap_vae with a stand-in VAE (numpy); the torch/diffusers version is in test_torch.py


class _Dist:
    def __init__(self, mean: np.ndarray) -> None:
        self.mean = mean
        self.calls = 0

    def sample(self) -> np.ndarray:
        self.calls += 1
        return self.mean + 1.0


class _FakeVAE:
    def __init__(self) -> None:
        self.last: Any = None

    def encode(self, x: np.ndarray, return_dict: bool = True) -> Any:
        dist = _Dist(x * 2.0)
        self.last = dist
        return SimpleNamespace(latent_dist=dist) if return_dict else (dist,)


def test_wrap_vae_pushes_samples_and_returns_unchanged(fake: FakeScaled) -> None:
    vae = _FakeVAE()
    x = batch(5, (2, 3, 4, 4))
    with Monitor("vae", socket=fake.path) as m:
        assert m.wrap_vae(vae) is vae
        out = vae.encode(x)
        assert out.latent_dist is vae.last
        tup = vae.encode(x, return_dict=False)
        assert isinstance(tup, tuple) and tup[0] is vae.last
        m.wrap_vae(vae)  # wrapping twice does not push twice
        vae.encode(x)
    pushes = fake.pushes("vae")
    assert len(pushes) == 3
    np.testing.assert_array_equal(pushes[0]["values"], x * 2.0 + 1.0)
    unwrap_vae(vae)
    assert not hasattr(vae.encode, "__latentscale_original__")
    vae.encode(x)
    assert len(fake.pushes("vae")) == 3
