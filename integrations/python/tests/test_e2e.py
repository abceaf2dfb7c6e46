"""End-to-end tests against the real `scaled` binary (marker `e2e`).

The daemon is started by the `scaled` fixture in conftest.py on a temporary socket
and database (binary from $SCALED_BIN, else <repo>/.build/debug/scaled). Without the
binary these tests fail with a message saying how to build it, unless
LATENTSCALE_SKIP_E2E=1. Values are checked against numpy in float64.
"""

from __future__ import annotations

import json
import os
import re
import subprocess
import sys
import time
from pathlib import Path
from typing import Any, Dict, Iterator, List, Optional

import numpy as np
import pytest

import latentscale
from latentscale import Client, LatentScaleError, Monitor
from latentscale.diffusers import stream_config_from, update_vae_config
from vae_configs import MODELS

pytestmark = pytest.mark.e2e

EXAMPLES = Path(__file__).resolve().parents[1] / "examples"
SRC = str(Path(__file__).resolve().parents[1] / "src")
REL = 1e-9


@pytest.fixture
def client(scaled: Any) -> Iterator[Client]:
    c = Client(scaled.socket)
    yield c
    c.close()


_counter = [0]


@pytest.fixture
def stream(client: Client, request: pytest.FixtureRequest) -> str:
    _counter[0] += 1
    name = re.sub(r"[^A-Za-z0-9._-]", "-", request.node.name)[:100] + f"-{_counter[0]}"
    return name


# -- numpy oracles -------------------------------------------------------------------------


def close(actual: Any, expected: float, scale: float = 0.0, rel: float = REL, what: str = "") -> None:
    assert actual is not None, f"{what}: daemon returned null, numpy gives {expected!r}"
    tol = rel * max(abs(expected), scale)
    assert abs(float(actual) - expected) <= tol, f"{what}: daemon {actual!r}, numpy float64 {expected!r} (rel tol {rel})"


def channel_matrix(x: np.ndarray, axis: int = 1) -> np.ndarray:
    """(observations, C): each position across the non-channel axes is one observation."""
    return np.moveaxis(x, axis, -1).reshape(-1, x.shape[axis])


def oracle(x: np.ndarray, axis: int = 1) -> Dict[str, Any]:
    v = x.astype(np.float64).ravel()
    mean = v.mean()
    d = v - mean
    m2, m3, m4 = (d**2).mean(), (d**3).mean(), (d**4).mean()
    cm = channel_matrix(x.astype(np.float64), axis)
    cov = np.cov(cm, rowvar=False, ddof=0)
    sd = np.sqrt(np.diag(cov))
    return {
        "values": v,
        "mean": mean,
        "std": np.sqrt(m2),
        "rms": np.sqrt((v**2).mean()),
        "min": v.min(),
        "max": v.max(),
        "skewness": m3 / m2**1.5,
        "kurtosis": m4 / m2**2,
        "channel_mean": cm.mean(axis=0),
        "channel_std": cm.std(axis=0),
        "channel_min": cm.min(axis=0),
        "channel_max": cm.max(axis=0),
        "covariance": cov,
        "correlation": cov / np.outer(sd, sd),
    }


def check_stats(stats: Dict[str, Any], x: np.ndarray, where: str, axis: int = 1) -> None:
    o = oracle(x, axis)
    s = o["std"]
    close(stats["mean"], o["mean"], s, what=f"{where}.mean")
    close(stats["std"], o["std"], what=f"{where}.std")
    close(stats["rms"], o["rms"], what=f"{where}.rms")
    close(stats["min"], o["min"], s, what=f"{where}.min")
    close(stats["max"], o["max"], s, what=f"{where}.max")
    close(stats["skewness"], o["skewness"], 1.0, rel=1e-6, what=f"{where}.skewness")
    k = stats["kurtosis"]
    assert k is not None
    assert abs(k - o["kurtosis"]) <= 1e-6 * o["kurtosis"] or abs(k - (o["kurtosis"] - 3)) <= 1e-6 * o["kurtosis"], (
        f"{where}.kurtosis: daemon {k}, numpy {o['kurtosis']} (or excess {o['kurtosis'] - 3})"
    )
    assert len(stats["channels"]) == x.shape[axis]
    for c, ch in enumerate(stats["channels"]):
        cs = o["channel_std"][c]
        close(ch["mean"], o["channel_mean"][c], cs, what=f"{where}.channels[{c}].mean")
        close(ch["std"], cs, what=f"{where}.channels[{c}].std")
        close(ch["min"], o["channel_min"][c], cs, what=f"{where}.channels[{c}].min")
        close(ch["max"], o["channel_max"][c], cs, what=f"{where}.channels[{c}].max")
    cov = np.asarray(stats["covariance"], dtype=np.float64)
    assert cov.shape == o["covariance"].shape, f"{where}.covariance shape {cov.shape}"
    scale = np.max(np.abs(np.diag(o["covariance"])))
    err = np.max(np.abs(cov - o["covariance"]))
    assert err <= REL * scale, f"{where}.covariance: max abs error {err:.3g} vs scale {scale:.3g} (ddof 0 expected)"
    corr = np.asarray(stats["correlation"], dtype=np.float64)
    assert np.max(np.abs(corr - o["correlation"])) <= 1e-9, f"{where}.correlation"
    vals = np.sort(o["values"])
    n = vals.size
    for q, v in stats["quantiles"].items():
        qf = float(q)
        # Accept v when it is within 1% of a value whose rank is within 0.001 of q:
        # between the order statistics at ranks q - 0.001 and q + 0.001.
        lo = vals[max(0, int(np.floor((qf - 0.001) * (n - 1))))]
        hi = vals[min(n - 1, int(np.ceil((qf + 0.001) * (n - 1))))]
        assert lo - 0.01 * abs(lo) <= v <= hi + 0.01 * abs(hi), (
            f"{where}.quantiles[{q}] = {v}: outside [{lo}, {hi}] (ranks q -/+ 0.001) widened by 1%; "
            f"exact (linear) {np.quantile(vals, qf)}"
        )


def latents(seed: int, shape: tuple = (8, 4, 16, 16), dtype: Any = np.float32, offset: float = 0.0) -> np.ndarray:
    rng = np.random.default_rng(seed)
    c = shape[1]
    means = np.linspace(-1.0, 2.0, c).reshape((1, c) + (1,) * (len(shape) - 2))
    stds = np.linspace(3.0, 6.0, c).reshape((1, c) + (1,) * (len(shape) - 2))
    z = rng.standard_normal(shape)
    z[:, 1:] += 0.3 * z[:, :1]  # correlated channels
    return (z * stds + means + offset).astype(dtype)


# -- each client call ------------------------------------------------------------------------


def test_health_and_streams(client: Client, stream: str) -> None:
    h = client.health()
    assert h["status"] == "ok" and isinstance(h["version"], str) and h["version"]
    x = latents(0)
    client.push(stream, x)
    entry = next(s for s in client.streams()["streams"] if s["name"] == stream)
    assert (entry["batches"], entry["samples"], entry["elements"]) == (1, 8, x.size)
    assert entry["nonfinite"] == 0
    close(entry["scaling_factor"], 1.0 / oracle(x)["std"], what="streams[].scaling_factor")
    assert entry["last_push_at"] and isinstance(entry["flags"], list)


def test_push_response_and_status_statistics(client: Client, stream: str) -> None:
    xs = [latents(i) for i in range(5)]
    for i, x in enumerate(xs):
        r = client.push(stream, x, step=i * 10, tag="256x256")
        assert r["stream"] == stream
        assert r["accepted"] == {"samples": 8, "elements": x.size, "nonfinite": 0}
        assert r["totals"] == {"batches": i + 1, "samples": 8 * (i + 1), "elements": x.size * (i + 1)}
        assert isinstance(r["flags"], list)
    allx = np.concatenate(xs)
    close(r["normalization"]["scaling_factor"], 1.0 / oracle(allx)["std"], what="push.normalization.scaling_factor")
    close(r["normalization"]["shift_factor"], oracle(allx)["mean"], oracle(allx)["std"], what="push.normalization.shift_factor")
    st = client.status(stream)
    assert st["name"] == stream
    assert st["totals"]["batches"] == 5 and st["totals"]["samples"] == 40 and st["totals"]["elements"] == allx.size
    assert st["totals"]["nonfinite"] == {"nan": 0, "posinf": 0, "neginf": 0}
    assert st["cumulative"]["batches"] == 5 and st["cumulative"]["samples"] == 40
    check_stats(st["cumulative"], allx, "cumulative")
    check_stats(st["window"], allx, "window")  # window_batches 100 > 5 batches
    for key in ("created_at", "updated_at", "last_push_at"):
        assert re.match(r"^\d{4}-\d\d-\d\dT\d\d:\d\d:\d\d(\.\d+)?Z$", st[key]), f"{key}: {st[key]!r}"
    assert st["config"] == {
        "channel_axis": 1, "target_std": 1.0, "reference": None,
        "scheduler": {"clip_sample": False, "clip_sample_range": 1.0, "thresholding": False}, "window_batches": 100,
        "drift_tolerance": 0.05, "clamp_max_fraction": 0.001, "alert_for_batches": 3,
        "max_buckets": 64, "outlier_z": 8, "sample_mean_abs_max": None, "sample_std_max": None,
        "outlier_max_fraction": 0.01, "exclude_nonfinite_samples": False,
    }


def test_window_holds_last_batches(client: Client, stream: str) -> None:
    client.configure(stream, window_batches=3)
    xs = [latents(i, offset=float(i)) for i in range(6)]
    for x in xs:
        client.push(stream, x)
    st = client.status(stream)
    check_stats(st["cumulative"], np.concatenate(xs), "cumulative")
    check_stats(st["window"], np.concatenate(xs[-3:]), "window")
    assert st["window"]["batches"] == 3


def test_offset_1e4_float64(client: Client, stream: str) -> None:
    x = latents(3, dtype=np.float64, offset=1e4)
    client.push(stream, x)
    client.push(stream, latents(4, dtype=np.float64, offset=1e4))
    allx = np.concatenate([x, latents(4, dtype=np.float64, offset=1e4)])
    check_stats(client.status(stream)["cumulative"], allx, "cumulative(1e4 offset)")


@pytest.mark.parametrize("dtype", ["float16", "float64"])
def test_push_dtypes(client: Client, stream: str, dtype: str) -> None:
    x = latents(5, dtype=dtype)
    client.push(stream, x)
    check_stats(client.status(stream)["cumulative"], x.astype(np.float64), f"cumulative({dtype})")


def test_push_bfloat16_bytes(client: Client, stream: str) -> None:
    f32 = latents(6)
    bits = (f32.view(np.uint32) >> 16).astype(np.uint16)  # truncate to bfloat16
    exact = (bits.astype(np.uint32) << 16).view(np.float32)
    client.push_bytes(stream, bits.tobytes(), "bfloat16", f32.shape)
    check_stats(client.status(stream)["cumulative"], exact.astype(np.float64), "cumulative(bfloat16)")


def test_push_npy_and_channel_axis(client: Client, stream: str) -> None:
    x = latents(7, shape=(4, 6, 6, 3))  # channels last
    client.configure(stream, channel_axis=3)
    client.push(stream, x, npy=True)
    st = client.status(stream)
    assert len(st["cumulative"]["channels"]) == 3
    check_stats(st["cumulative"], x, "cumulative(npy, channel_axis 3)", axis=3)
    other = stream + "-q"
    client.push(other, x, channel_axis=3)
    check_stats(client.status(other)["cumulative"], x, "cumulative(query channel_axis=3)", axis=3)


def test_nonfinite_counted(client: Client, stream: str) -> None:
    x = latents(8)
    x[0, 0, 0, :3] = np.nan
    x[1, 1, 1, :2] = np.inf
    x[2, 2, 2, :1] = -np.inf
    r = client.push(stream, x)
    assert r["accepted"]["nonfinite"] == 6
    st = client.status(stream)
    assert st["totals"]["nonfinite"] == {"nan": 3, "posinf": 2, "neginf": 1}
    finite = x[np.isfinite(x)].astype(np.float64)
    close(st["cumulative"]["mean"], finite.mean(), finite.std(), what="mean over finite")
    close(st["cumulative"]["std"], finite.std(), what="std over finite")


@pytest.mark.parametrize("target_std", [1.0, 0.5])
def test_normalization_modes_vs_numpy(client: Client, stream: str, target_std: float) -> None:
    client.configure(stream, target_std=target_std)
    xs = [latents(10 + i) for i in range(4)]
    for x in xs:
        client.push(stream, x)
    allx = np.concatenate(xs)
    o = oracle(allx)
    n = client.normalization(stream, mode="scalar")
    assert n["mode"] == "scalar" and n["method"] == "std" and n["target_std"] == target_std
    assert (n["samples"], n["elements"]) == (allx.shape[0], allx.size)
    close(n["scaling_factor"], target_std / o["std"], what="scalar.scaling_factor")
    lo, hi = n["scaling_factor_ci95"]
    assert lo <= n["scaling_factor"] <= hi
    assert isinstance(n["converged"], bool)
    assert n["converged"] == ((hi - lo) / 2 < 0.01 * n["scaling_factor"])
    n = client.normalization(stream, mode="scalar", method="rms")
    close(n["scaling_factor"], target_std / o["rms"], what="scalar/rms.scaling_factor")
    n = client.normalization(stream)  # shift, std
    close(n["scaling_factor"], target_std / o["std"], what="shift.scaling_factor")
    close(n["shift_factor"], o["mean"], o["std"], what="shift.shift_factor")
    n = client.normalization(stream, mode="channel")
    assert n["scaling_factor"] == pytest.approx(target_std, rel=1e-12)
    for c in range(allx.shape[1]):
        close(n["latents_mean"][c], o["channel_mean"][c], o["channel_std"][c], what=f"channel.latents_mean[{c}]")
        close(n["latents_std"][c], o["channel_std"][c], what=f"channel.latents_std[{c}]")
    n = client.normalization(stream, mode="whiten")
    # normalized = scaling_factor * W (z - latents_mean), W = Sigma^(-1/2), scaling_factor = target_std
    assert n["scaling_factor"] == pytest.approx(target_std, rel=1e-12)
    W = np.asarray(n["whitening_matrix"], dtype=np.float64)
    evals, evecs = np.linalg.eigh(o["covariance"])
    W_expected = evecs @ np.diag(evals**-0.5) @ evecs.T
    err = np.max(np.abs(W - W_expected)) / np.max(np.abs(W_expected))
    assert err <= 1e-7, f"whitening_matrix differs from Sigma^-1/2 by {err:.3g} (relative)"
    for c in range(allx.shape[1]):
        close(n["latents_mean"][c], o["channel_mean"][c], o["channel_std"][c], what=f"whiten.latents_mean[{c}]")
    wcm = n["scaling_factor"] * (channel_matrix(allx.astype(np.float64)) - o["channel_mean"]) @ W.T
    np.testing.assert_allclose(np.cov(wcm, rowvar=False, ddof=0), target_std**2 * np.eye(allx.shape[1]), atol=1e-7)
    for mode, keys in {
        "scalar": {"scaling_factor"},
        "shift": {"scaling_factor", "shift_factor"},
        "channel": {"scaling_factor", "latents_mean", "latents_std"},
        "whiten": {"scaling_factor", "latents_mean", "whitening_matrix"},
    }.items():
        d = client.normalization(stream, mode=mode, format="diffusers")
        assert set(d) == keys, f"format=diffusers mode={mode}: {sorted(d)}"


def test_configure_status_and_invalid_config(client: Client, stream: str) -> None:
    ref = {"scaling_factor": 0.18215, "shift_factor": 0.0}
    st = client.configure(stream, reference=ref, scheduler={"clip_sample": True, "clip_sample_range": 1.5, "thresholding": False},
                          window_batches=7, drift_tolerance=0.1, clamp_max_fraction=0.01, alert_for_batches=2, target_std=0.5)
    cfg = st["config"]
    assert cfg["window_batches"] == 7 and cfg["drift_tolerance"] == 0.1 and cfg["target_std"] == 0.5
    assert cfg["scheduler"] == {"clip_sample": True, "clip_sample_range": 1.5, "thresholding": False}
    assert cfg["alert_for_batches"] == 2 and cfg["clamp_max_fraction"] == 0.01 and cfg["channel_axis"] == 1
    assert cfg["reference"]["scaling_factor"] == 0.18215
    assert st["reference"]["source"] == "declared" and st["reference"]["scaling_factor"] == 0.18215
    assert client.configure(stream, window_batches=9)["config"]["drift_tolerance"] == 0.1  # partial update keeps the rest
    for bad in ({"window_batches": 0}, {"target_std": -1}, {"clamp_max_fraction": 2}, {"scheduler": {"clip_sample_range": 0}}):
        with pytest.raises(LatentScaleError) as err:
            client.configure(stream, bad)
        assert (err.value.code, err.value.status) == ("invalid_config", 400), bad
        assert err.value.message
    assert client.status(stream)["config"]["window_batches"] == 9  # a rejected PUT changes nothing


def test_errors_carry_code_and_status(client: Client, stream: str) -> None:
    cases = [
        (lambda: client.status("-bad"), "invalid_stream_name", 400),
        (lambda: client.status(stream + "-none"), "stream_not_found", 404),
        (lambda: client.push_bytes(stream, b"\0" * 16, "int8", (4, 4)), "invalid_dtype", 400),
        (lambda: client.push_bytes(stream, b"\0" * 16, "float32", (4,)), "invalid_shape", 400),
        (lambda: client.push_bytes(stream, b"\0" * 15, "float32", (2, 2)), "length_mismatch", 400),
        (lambda: client.normalization(stream + "-none"), "stream_not_found", 404),
        (lambda: client._call("GET", "/v1/nothing"), "not_found", 404),
        (lambda: client._call("PATCH", "/v1/streams/" + stream), "method_not_allowed", 405),
        (lambda: client._call("POST", f"/v1/streams/{stream}/latents?dtype=float32&shape=1,1", b"\0" * 4, {"Content-Type": "text/plain"}), "unsupported_media_type", 415),
        (lambda: client.normalization(stream + "-x", mode="bogus"), "invalid_query", 400),
    ]
    client.push(stream + "-x", latents(1))
    for call, code, status in cases:
        with pytest.raises(LatentScaleError) as err:
            call()
        assert (err.value.code, err.value.status) == (code, status), f"expected {code} {status}, got {err.value}"
        assert err.value.message
    client.push(stream, latents(1, shape=(2, 4, 4, 4)))
    with pytest.raises(LatentScaleError) as err:
        client.push(stream, latents(1, shape=(2, 3, 4, 4)))
    assert (err.value.code, err.value.status) == ("channel_mismatch", 409)
    assert client.status(stream)["totals"]["batches"] == 1  # the rejected push changed nothing


def test_freeze_reset_delete(client: Client, stream: str) -> None:
    xs = [latents(20 + i) for i in range(3)]
    for x in xs:
        client.push(stream, x)
    est = client.normalization(stream)
    st = client.freeze(stream)
    ref = st["reference"]
    assert ref["source"] == "frozen" and ref["frozen_at"]
    close(ref["scaling_factor"], est["scaling_factor"], what="frozen scaling_factor")
    client.configure(stream, window_batches=11)
    st = client.reset(stream)
    assert st["totals"]["batches"] == 0 and st["totals"]["samples"] == 0
    assert st["config"]["window_batches"] == 11  # config kept
    assert client.delete(stream) == {"deleted": stream}
    with pytest.raises(LatentScaleError) as err:
        client.status(stream)
    assert err.value.code == "stream_not_found"


def test_history_per_batch(client: Client, stream: str) -> None:
    xs = [latents(30 + i, offset=i) for i in range(4)]
    for i, x in enumerate(xs):
        client.push(stream, x, step=100 + i, tag="512x512" if i % 2 else None)
    h = client.history(stream)
    assert h["stream"] == stream
    rows = h["history"]
    assert [r["step"] for r in rows] == [100, 101, 102, 103]
    assert [r["tag"] for r in rows] == [None, "512x512", None, "512x512"]
    assert [r["seq"] for r in rows] == sorted(r["seq"] for r in rows)
    for r, x in zip(rows, xs):
        o = oracle(x)
        assert r["samples"] == 8 and r["nonfinite"] == 0
        close(r["mean"], o["mean"], o["std"], what="history.mean")
        close(r["std"], o["std"], what="history.std")
        assert r["normalized_std"] is None  # the window has not filled, no reference yet
    assert [r["step"] for r in client.history(stream, limit=2)["history"]] == [102, 103]


def test_alerts_and_metrics(client: Client, stream: str) -> None:
    client.push(stream, latents(40))
    a = client.alerts()
    assert isinstance(a["alerts"], list)
    for alert in client.alerts(all=True)["alerts"]:
        assert {"stream", "kind", "state", "since", "message", "value", "severity"} <= set(alert)
    text = client.metrics()
    for name in ("scaled_batches_total", "scaled_elements_total", "scaled_nonfinite_total", "scaled_normalized_std",
                 "scaled_scaling_factor_estimate", "scaled_clamp_fraction", "scaled_alert_firing",
                 "scaled_last_push_timestamp_seconds", "scaled_push_duration_seconds"):
        assert name in text, f"/metrics lacks {name}"
    assert re.search(r'scaled_batches_total\{[^}]*stream="%s"[^}]*\} 1(\.0)?\b' % re.escape(stream), text)


# -- Monitor against the daemon ------------------------------------------------------------


def test_monitor_pushes_and_reports(scaled: Any, client: Client, stream: str) -> None:
    xs = [latents(50 + i) for i in range(10)]
    with Monitor(stream, socket=scaled.socket, config={"window_batches": 5}, queue_size=16) as m:
        for i, x in enumerate(xs):
            m.push(x, step=i)
        assert m.flush(30)
        assert m.stats.pushed == 10 and m.stats.failed == 0 and m.stats.dropped == 0
        n = m.normalization
    st = client.status(stream)
    assert st["config"]["window_batches"] == 5
    check_stats(st["cumulative"], np.concatenate(xs), "cumulative(monitor)")
    close(n["scaling_factor"], 1.0 / oracle(np.concatenate(xs))["std"], what="monitor.normalization")


def test_monitor_full_queue_drops_and_counts(scaled: Any, client: Client, stream: str) -> None:
    x = latents(80, shape=(32, 4, 64, 64))
    m = Monitor(stream, socket=scaled.socket, queue_size=1)
    results = [m.push(x, step=i) for i in range(50)]  # far faster than the daemon ingests 2 MiB batches
    assert m.close(60)
    s = m.stats
    assert s.dropped > 0 and s.failed == 0
    assert s.pushed + s.dropped == 50 and results.count(True) == s.pushed
    st = client.status(stream)
    assert st["totals"]["batches"] == s.pushed  # exactly what was acknowledged
    steps = [r["step"] for r in client.history(stream)["history"]]
    assert steps == [i for i, ok in enumerate(results) if ok]


def test_monitor_daemon_killed_mid_run_and_restarted(scaled_fresh: Any) -> None:
    scaled_fresh.start()
    m = Monitor("killed", socket=scaled_fresh.socket, backoff_initial=0.05, backoff_max=0.5)
    for i in range(5):
        m.push(latents(i), step=i)
    assert m.flush(30) and m.stats.pushed == 5
    scaled_fresh.kill()
    for i in range(5, 30):
        m.push(latents(i), step=i)  # never raises
        time.sleep(0.01)
    scaled_fresh.start()
    deadline = time.monotonic() + 20
    while not m.connected and time.monotonic() < deadline:
        m.push(latents(99))
        time.sleep(0.05)
    assert m.connected
    for i in range(100, 105):
        m.push(latents(i), step=i)
    assert m.close(30)
    s = m.stats
    st = Client(scaled_fresh.socket).status("killed")
    # Acknowledged pushes survived SIGKILL; unacknowledged ones may or may not have.
    assert s.pushed <= st["totals"]["batches"] <= s.pushed + s.failed
    steps = [r["step"] for r in Client(scaled_fresh.socket).history("killed")["history"]]
    assert steps[:5] == [0, 1, 2, 3, 4] and steps[-5:] == [100, 101, 102, 103, 104]


def test_monitor_stopped_daemon_never_raises(scaled_fresh: Any) -> None:
    m = Monitor("stopped", socket=scaled_fresh.socket, backoff_initial=0.05)
    for i in range(20):
        m.push(latents(i))
    m.close(5)
    assert m.stats.pushed == 0 and m.stats.dropped + m.stats.failed == 20


def test_push_latency_real_daemon(scaled: Any, capsys: pytest.CaptureFixture) -> None:
    from latency import measure, report

    for step in (0.003, 0.02):
        m = Monitor("latency", socket=scaled.socket)
        r = measure(m, n=200, step_seconds=step)
        m.close(30)
        with capsys.disabled():
            print(f"\n  [latency, (32,4,64,64) float32, {step * 1000:.0f} ms step, real scaled] " + report("up", r))


# -- diffusers helpers on real model configs ---------------------------------------------------


@pytest.mark.parametrize("name", sorted(MODELS))
def test_diffusers_configs_round_trip(client: Client, stream: str, name: str, tmp_path: Path) -> None:
    vae, sched, ref, sch, channels = MODELS[name]
    cfg = stream_config_from(vae_config=vae, scheduler_config=sched, window_batches=4)
    st = client.configure(stream, cfg)
    got = st["reference"]
    assert got["source"] == "declared"
    assert got["scaling_factor"] == pytest.approx(ref["scaling_factor"], rel=1e-15)
    if "latents_mean" in ref:
        assert got["latents_mean"] == pytest.approx(ref["latents_mean"], rel=1e-15)
        assert got["latents_std"] == pytest.approx(ref["latents_std"], rel=1e-15)
    else:
        assert (got["shift_factor"] or 0.0) == pytest.approx(ref["shift_factor"], rel=1e-15)
    assert st["config"]["scheduler"] == sch
    shape = (4, channels, 2, 8, 8) if name == "wan" else (4, channels, 8, 8)  # Wan latents are video: N,C,T,H,W
    xs = [latents(60 + i, shape=shape) for i in range(3)]
    for x in xs:
        client.push(stream, x)
    allx = np.concatenate(xs)
    o = oracle(allx)
    mode = "channel" if "latents_mean" in ref else "shift"
    norm = client.normalization(stream, mode=mode, format="diffusers")
    path = tmp_path / "config.json"
    path.write_text(json.dumps(vae, indent=2))
    updated = update_vae_config(path, norm)
    assert json.loads(path.read_text()) == updated
    for k, v in vae.items():
        if k not in ("scaling_factor", "shift_factor", "latents_mean", "latents_std"):
            assert updated[k] == v
    if mode == "channel":
        np.testing.assert_allclose(updated["latents_mean"], o["channel_mean"], rtol=0, atol=REL * o["channel_std"].max())
        np.testing.assert_allclose(updated["latents_std"], o["channel_std"], rtol=REL)
        assert updated["scaling_factor"] == pytest.approx(1.0, rel=1e-12)
    else:
        close(updated["scaling_factor"], 1.0 / o["std"], what="scaling_factor")
        close(updated["shift_factor"], o["mean"], o["std"], what="shift_factor")
    # The written config declares what was measured.
    again = stream_config_from(vae_config=path)
    assert again["reference"]["scaling_factor"] == updated["scaling_factor"]


# -- the examples ----------------------------------------------------------------------------------


def run_example(script: str, *args: str, timeout: float = 180) -> subprocess.CompletedProcess:
    env = dict(os.environ, PYTHONPATH=SRC + os.pathsep + os.environ.get("PYTHONPATH", ""))
    proc = subprocess.run([sys.executable, str(EXAMPLES / script), *args], capture_output=True, text=True, timeout=timeout, env=env)
    return proc


def test_example_compute_scale_factor(scaled: Any, tmp_path: Path) -> None:
    folder = tmp_path / "latents"
    (folder / "sub").mkdir(parents=True)
    singles = [latents(70 + i, shape=(1, 4, 8, 8))[0] for i in range(30)]
    for i, z in enumerate(singles):
        np.save(folder / ("sub" if i % 2 else ".") / f"z{i:03d}.npy", z.astype(np.float16))
    batch = latents(99, shape=(16, 4, 8, 8))
    np.savez(folder / "batch.npz", latents=batch, ids=np.arange(16))
    config = tmp_path / "vae"
    config.mkdir()
    (config / "config.json").write_text(json.dumps(MODELS["sd15"][0]))
    proc = run_example("compute_scale_factor.py", str(folder), "--socket", scaled.socket, "--mode", "shift",
                       "--config", str(config / "config.json"), "--stream", "example-csf")
    print(proc.stdout, proc.stderr)
    assert proc.returncode == 0, proc.stderr
    allx = np.concatenate([np.stack([z.astype(np.float16) for z in singles]).astype(np.float64), batch.astype(np.float64)])
    o = oracle(allx)
    written = json.loads((config / "config.json").read_text())
    close(written["scaling_factor"], 1.0 / o["std"], what="config.json scaling_factor")
    close(written["shift_factor"], o["mean"], o["std"], what="config.json shift_factor")
    assert written["block_out_channels"] == MODELS["sd15"][0]["block_out_channels"]
    assert "46 latents" in proc.stdout


def test_example_simulate_training_runs(scaled: Any) -> None:
    t0 = time.monotonic()
    proc = run_example("simulate_training.py", "--socket", scaled.socket, "--seconds", "30")
    took = time.monotonic() - t0
    print(proc.stdout[-3000:], proc.stderr[-2000:])
    assert proc.returncode == 0, proc.stderr
    assert "summary:" in proc.stdout and took < 90


@pytest.mark.alerts
def test_example_simulate_training_shows_all_three(scaled: Any) -> None:
    """The estimate converges, variance_drift fires, clamp_out_of_range fires (needs the alert engine)."""
    proc = run_example("simulate_training.py", "--socket", scaled.socket, "--seconds", "30", "--check")
    summary = proc.stdout[proc.stdout.find("summary:"):]
    assert proc.returncode == 0, f"simulate_training.py --check failed:\n{summary}\n{proc.stderr[-2000:]}"


def test_bucket_normalization_and_history_by_tag(client: Client, stream: str) -> None:
    a, b = latents(1), 2.0 * latents(2)
    client.push(stream, a, tag="512x512", step=1)
    r = client.push(stream, b, tag="1024x576", step=2)
    assert r["bucket"] == "1024x576" and r["outliers_total"] == len(r["outliers"])
    n = client.normalization(stream, tag="1024x576")
    close(n["scaling_factor"], 1.0 / oracle(b)["std"], what="normalization?tag= scaling_factor")
    assert [row["step"] for row in client.history(stream, tag="512x512")["history"]] == [1]
