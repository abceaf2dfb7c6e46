"""Expect: 100-continue, as curl sends it for bodies over 1 MiB: no one-second stall,
and a 4xx the headers already decide is answered before the body is sent."""
import shutil
import subprocess

import numpy as np
import pytest

pytestmark = pytest.mark.skipif(shutil.which("curl") is None, reason="needs curl")


def curl(d, path, body_file, *headers):
    args = ["curl", "-sS", "-o", "/dev/null", "-w", "%{http_code} %{time_total} %{size_upload}",
            "--unix-socket", d.socket, "-X", "POST", "-H", "Expect: 100-continue"]
    for h in headers:
        args += ["-H", h]
    r = subprocess.run(args + ["--data-binary", f"@{body_file}", f"http://localhost{path}"],
                       capture_output=True, text=True, timeout=60)
    code, seconds, uploaded = r.stdout.split()
    return int(code), float(seconds), int(uploaded)


def test_continue_without_a_stall_and_4xx_before_the_body(daemon, tmp_path):
    z = (np.random.default_rng(1).standard_normal((16, 4, 64, 64))).astype(np.float32)
    f = tmp_path / "z.npy"
    np.save(f, z)
    size = f.stat().st_size
    assert size > 1 << 20
    times = []
    for step in range(3):
        code, seconds, uploaded = curl(daemon, f"/v1/streams/e/latents?step={step}", f, "Content-Type: application/x-npy")
        assert code == 200 and uploaded == size
        times.append(seconds)
    # curl waits 1 s for a 100 that never comes; with it, a push takes a fraction of that.
    assert min(times) < 0.5, times
    assert daemon.get("/v1/streams/e")["totals"]["batches"] == 3

    for path, headers, status in [
        ("/v1/streams/e/latents?dtype=int7&shape=16,4,64,64", ["Content-Type: application/octet-stream"], 400),
        ("/v1/streams/-bad/latents?dtype=float32&shape=16,4,64,64", ["Content-Type: application/octet-stream"], 400),
        ("/v1/streams/e/latents?dtype=float32&shape=16,x", ["Content-Type: application/octet-stream"], 400),
        ("/v1/streams/e/latents?dtype=float32&shape=16,0,4", ["Content-Type: application/octet-stream"], 400),
        ("/v1/streams/e/latents", ["Content-Type: text/plain"], 415),
    ]:
        code, seconds, uploaded = curl(daemon, path, f, *headers)
        assert code == status and uploaded == 0, (path, code, uploaded)
        assert seconds < 0.9, (path, seconds)
    assert daemon.get("/v1/streams/e")["totals"]["batches"] == 3
    assert daemon.get("/v1/health")["status"] == "ok"


def test_over_the_limit_is_413_before_the_body(make_daemon, tmp_path):
    d = make_daemon("--max-body-bytes", "100000").start()
    f = tmp_path / "big.bin"
    f.write_bytes(np.zeros(2 << 20, np.uint8).tobytes())
    code, seconds, uploaded = curl(d, "/v1/streams/b/latents?dtype=float32&shape=512,4,32,32", f,
                                   "Content-Type: application/octet-stream")
    assert code == 413 and uploaded == 0
    assert d.get("/v1/streams")["streams"] == []
