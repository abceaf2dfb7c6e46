"""End-to-end harness: starts the real `scaled` binary on a temporary socket
and database and talks HTTP to it over the Unix socket with the standard
library's http.client (no client code of ours in between)."""
import http.client
import json
import os
import signal
import socket
import subprocess
import time
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[2]


def scaled_binary() -> str:
    path = os.environ.get("SCALED_BIN") or str(ROOT / ".build" / "debug" / "scaled")
    if not os.access(path, os.X_OK):
        pytest.fail(f"scaled binary not found at {path}; run `swift build` first or set SCALED_BIN")
    return path


class UnixHTTPConnection(http.client.HTTPConnection):
    def __init__(self, path: str, timeout: float = 60):
        super().__init__("localhost", timeout=timeout)
        self.unix_path = path

    def connect(self):
        s = socket.socket(socket.AF_UNIX, socket.SOCK_STREAM)
        s.settimeout(self.timeout)
        s.connect(self.unix_path)
        self.sock = s


class Daemon:
    def __init__(self, tmp: Path, *extra: str, socket_path: Path | None = None, db: Path | None = None):
        self.tmp = tmp
        self.socket = str(socket_path or tmp / "s.sock")
        self.db = str(db or tmp / "scaled.db")
        self.extra = list(extra)
        self.proc: subprocess.Popen | None = None
        self.log = tmp / "scaled.log"

    def start(self, wait: bool = True) -> "Daemon":
        self.logfile = open(self.log, "ab")
        self.proc = subprocess.Popen(
            [scaled_binary(), "--socket", self.socket, "--db", self.db, *self.extra],
            stdout=self.logfile, stderr=subprocess.STDOUT)
        if wait:
            self.wait_ready()
        return self

    def wait_ready(self, timeout: float = 30):
        deadline = time.time() + timeout
        while time.time() < deadline:
            if self.proc.poll() is not None:
                raise RuntimeError(f"scaled exited with {self.proc.returncode}:\n{self.log.read_text()}")
            try:
                status, _ = self.request("GET", "/v1/health")
                if status == 200:
                    return
            except OSError:
                pass
            time.sleep(0.05)
        raise RuntimeError("scaled did not become ready:\n" + self.log.read_text())

    def request(self, method: str, path: str, body: bytes | None = None, headers: dict | None = None):
        conn = UnixHTTPConnection(self.socket)
        try:
            conn.request(method, path, body=body, headers=headers or {})
            resp = conn.getresponse()
            data = resp.read()
            ctype = resp.getheader("Content-Type", "")
            self.last_headers = dict(resp.getheaders())
            return resp.status, (json.loads(data) if "json" in ctype and data else data)
        finally:
            conn.close()

    def get(self, path: str):
        status, body = self.request("GET", path)
        assert status == 200, (path, status, body)
        return body

    def push_raw(self, stream: str, array, dtype: str | None = None, query: str = ""):
        import numpy as np
        if dtype is None:
            dtype = {np.dtype("float32"): "float32", np.dtype("float16"): "float16",
                     np.dtype("float64"): "float64"}[array.dtype]
        shape = ",".join(str(d) for d in array.shape)
        q = f"dtype={dtype}&shape={shape}" + (f"&{query}" if query else "")
        return self.request("POST", f"/v1/streams/{stream}/latents?{q}", body=array.tobytes(),
                            headers={"Content-Type": "application/octet-stream"})

    def push_npy(self, stream: str, array, query: str = ""):
        import io
        import numpy as np
        buf = io.BytesIO()
        np.save(buf, array)
        return self.request("POST", f"/v1/streams/{stream}/latents" + (f"?{query}" if query else ""),
                            body=buf.getvalue(), headers={"Content-Type": "application/x-npy"})

    def stop(self, sig=signal.SIGTERM, timeout: float = 30) -> int:
        if self.proc and self.proc.poll() is None:
            self.proc.send_signal(sig)
            self.proc.wait(timeout)
        self.logfile.close()
        return self.proc.returncode


@pytest.fixture
def daemon(tmp_path):
    d = Daemon(tmp_path).start()
    yield d
    d.stop(signal.SIGKILL)


@pytest.fixture
def make_daemon(tmp_path):
    started = []

    def make(*extra, **kw):
        d = Daemon(tmp_path, *extra, **kw)
        started.append(d)
        return d
    yield make
    for d in started:
        if d.proc and d.proc.poll() is None:
            d.stop(signal.SIGKILL)
