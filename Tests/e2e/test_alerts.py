"""Flags, the alert lifecycle, --alert-command, and metrics (issue: alerts)."""
import json
import shutil
import signal
import subprocess
import time
import urllib.error
import urllib.request

import numpy as np
import pytest

from conftest import Daemon


def push_series(d, stream, rng, scales, shape=(8, 4, 16, 16), means=None):
    """Pushes one batch per scale; returns the flags of every response."""
    flags = []
    for i, s in enumerate(scales):
        m = 0.0 if means is None else means[i]
        x = (m + s * rng.standard_normal(shape)).astype(np.float32)
        status, body = d.push_raw(stream, x, query=f"step={i}")
        assert status == 200, body
        flags.append({f["kind"]: f["state"] for f in body["flags"]})
    return flags


def test_stationary_stream_raises_no_flag(daemon):
    rng = np.random.default_rng(1)
    assert daemon.request("PUT", "/v1/streams/st", body=b'{"window_batches": 20}')[0] == 200
    flags = push_series(daemon, "st", rng, [0.7] * 120)
    assert all(f == {} for f in flags), [f for f in flags if f]
    st = daemon.get("/v1/streams/st")
    assert st["reference"]["source"] == "frozen"
    assert abs(st["drift"]["normalized_std"] - 1) < 0.02
    assert st["drift"]["state"] == "ok"
    assert daemon.get("/v1/alerts")["alerts"] == []


def test_variance_step_fires_then_resolves(daemon):
    rng = np.random.default_rng(2)
    cfg = {"window_batches": 10, "alert_for_batches": 3, "reference": {"scaling_factor": 1.0, "shift_factor": 0.0}}
    assert daemon.request("PUT", "/v1/streams/v", body=json.dumps(cfg).encode())[0] == 200
    flags = push_series(daemon, "v", rng, [1.0] * 15 + [1.25] * 15 + [1.0] * 30)
    states = [f.get("variance_drift") for f in flags]
    assert all(s is None for s in states[:15])
    first_pending = states.index("pending")
    assert 15 <= first_pending <= 16
    first_firing = states.index("firing")
    assert first_firing == first_pending + 2          # alert_for_batches = 3
    assert "resolved" in states[30:]
    assert states[-1] is None
    alerts = daemon.get("/v1/alerts?all=true")["alerts"]
    kinds_states = [(a["kind"], a["state"]) for a in alerts]
    assert ("variance_drift", "resolved") in kinds_states
    resolved = [a for a in alerts if a["kind"] == "variance_drift" and a["state"] == "resolved"][0]
    assert resolved["resolved_at"] is not None and "target_std" in resolved["message"]


def test_clamp_flag_with_clip_on_and_off(daemon):
    rng = np.random.default_rng(3)
    on = {"window_batches": 5, "alert_for_batches": 2, "reference": {"scaling_factor": 1.0, "shift_factor": 0.0},
          "scheduler": {"clip_sample": True, "clip_sample_range": 1.0}}
    off = dict(on, scheduler={"clip_sample": False, "clip_sample_range": 1.0})
    assert daemon.request("PUT", "/v1/streams/on", body=json.dumps(on).encode())[0] == 200
    assert daemon.request("PUT", "/v1/streams/off", body=json.dumps(off).encode())[0] == 200
    f_on = push_series(daemon, "on", rng, [1.0] * 4)
    f_off = push_series(daemon, "off", rng, [1.0] * 4)
    assert f_on[0].get("clamp_out_of_range") == "pending" and f_on[1].get("clamp_out_of_range") == "firing"
    assert all("clamp_out_of_range" not in f for f in f_off)
    st = daemon.get("/v1/streams/on")
    flag = [f for f in st["flags"] if f["kind"] == "clamp_out_of_range"][0]
    # Unit-variance latents: about 31.7% fall outside ±1.
    assert 0.30 < st["clamp"]["fraction_window"] < 0.34
    rec = st["clamp"]["recommended_range"]
    assert 3.0 < rec < 3.6 and "clip_sample=False" in flag["message"] and f"{rec:.3g}" in flag["message"]


def test_nan_fires_at_once_and_names_channels(daemon):
    rng = np.random.default_rng(4)
    assert daemon.request("PUT", "/v1/streams/nan", body=b'{"window_batches": 3, "alert_for_batches": 3}')[0] == 200
    push_series(daemon, "nan", rng, [1.0] * 2)
    x = rng.standard_normal((8, 4, 16, 16)).astype(np.float32)
    x[2, 3, 5, 5] = np.nan
    x[1, 1, 0, 0] = np.inf
    status, body = daemon.push_raw("nan", x)
    flag = [f for f in body["flags"] if f["kind"] == "nonfinite"][0]
    assert flag["state"] == "firing" and flag["severity"] == "critical"
    assert "channel(s) 1, 3" in flag["message"]
    # Clean batches push the bad one out of the window: resolved.
    flags = push_series(daemon, "nan", rng, [1.0] * 4)
    assert [f.get("nonfinite") for f in flags] == ["firing", "firing", "resolved", None]


def test_alert_command_receives_json_and_never_blocks(make_daemon, tmp_path):
    out = tmp_path / "alerts.jsonl"
    cmd = f"sleep 0.2; cat >> {out}; echo >> {out}"
    d = make_daemon("--alert-command", cmd).start()
    rng = np.random.default_rng(5)
    x = rng.standard_normal((4, 4, 8, 8)).astype(np.float32)
    x[0, 0, 0, 0] = np.nan
    assert d.push_raw("cmd", x)[0] == 200
    deadline = time.time() + 10
    while time.time() < deadline and not (out.exists() and out.read_text().strip()):
        time.sleep(0.05)
    alert = json.loads(out.read_text().strip().splitlines()[0])
    assert alert["stream"] == "cmd" and alert["kind"] == "nonfinite" and alert["state"] == "firing"
    # A failing command is logged and pushes still succeed.
    d.stop()
    d2 = make_daemon("--alert-command", "exit 7").start()
    assert d2.push_raw("cmd2", x)[0] == 200
    deadline = time.time() + 10
    while time.time() < deadline and "alert command failed" not in d2.log.read_text():
        time.sleep(0.05)
    assert "alert command failed" in d2.log.read_text()


def test_slow_alert_command_does_not_delay_pushes(make_daemon, tmp_path):
    d = make_daemon("--alert-command", "sleep 5").start()
    rng = np.random.default_rng(6)
    x = rng.standard_normal((4, 4, 8, 8)).astype(np.float32)
    x[0, 0, 0, 0] = np.nan
    durations = []
    for _ in range(5):
        t0 = time.time()
        assert d.push_raw("slow", x)[0] == 200
        durations.append(time.time() - t0)
    # Each push would take 5 s if it waited for the command.
    assert max(durations) < 4


def test_alerts_survive_a_restart(tmp_path):
    rng = np.random.default_rng(7)
    d = Daemon(tmp_path).start()
    x = rng.standard_normal((4, 4, 8, 8)).astype(np.float32)
    x[0, 0, 0, 0] = np.nan
    assert d.push_raw("r", x)[0] == 200
    before = d.get("/v1/alerts")["alerts"]
    flags_before = d.get("/v1/streams/r")["flags"]
    d.stop(signal.SIGKILL)
    d2 = Daemon(tmp_path).start()
    assert d2.get("/v1/alerts")["alerts"] == before
    assert d2.get("/v1/streams/r")["flags"] == flags_before and flags_before
    d2.stop()


def test_metrics_over_tcp_serve_only_metrics_and_health(make_daemon):
    import socket as s
    sock = s.socket()
    sock.bind(("127.0.0.1", 0))
    port = sock.getsockname()[1]
    sock.close()
    d = make_daemon("--metrics-address", f"127.0.0.1:{port}").start()
    rng = np.random.default_rng(8)
    cfg = b'{"reference": {"scaling_factor": 1.0}, "scheduler": {"clip_sample": true}}'
    assert d.request("PUT", "/v1/streams/m", body=cfg)[0] == 200
    x = rng.standard_normal((4, 4, 8, 8)).astype(np.float32)
    x[0, 0, 0, 0] = np.nan
    assert d.push_raw("m", x)[0] == 200
    base = f"http://127.0.0.1:{port}"
    text = urllib.request.urlopen(base + "/metrics").read().decode()
    for name in ("scaled_batches_total", "scaled_elements_total", "scaled_nonfinite_total", "scaled_normalized_std",
                 "scaled_scaling_factor_estimate", "scaled_clamp_fraction", "scaled_alert_firing",
                 "scaled_last_push_timestamp_seconds", "scaled_push_duration_seconds_bucket"):
        assert name in text, name
    assert 'scaled_batches_total{stream="m"} 1' in text
    assert 'scaled_nonfinite_total{stream="m",kind="nan"} 1' in text or 'scaled_nonfinite_total{kind="nan",stream="m"} 1' in text
    assert 'alert="nonfinite"' in text
    assert json.loads(urllib.request.urlopen(base + "/v1/health").read())["status"] == "ok"
    for path in ("/v1/streams", "/v1/streams/m", "/v1/alerts"):
        with pytest.raises(urllib.error.HTTPError) as e:
            urllib.request.urlopen(base + path)
        assert e.value.code == 404
    # Same exposition on the socket; promtool accepts it.
    status, body = d.request("GET", "/metrics")
    assert status == 200
    promtool = shutil.which("promtool")
    assert promtool, "promtool (Debian package prometheus) is needed; scripts/setup installs it"
    check = subprocess.run([promtool, "check", "metrics"], input=text, capture_output=True, text=True)
    assert check.returncode == 0, check.stdout + check.stderr
