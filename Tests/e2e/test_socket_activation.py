"""Socket activation with systemd's own tool (no running systemd needed)."""
import os
import shutil
import signal
import subprocess
import time

import numpy as np
import pytest

from conftest import UnixHTTPConnection, scaled_binary
from oracle import assert_stats, stats

ACTIVATE = shutil.which("systemd-socket-activate")
pytestmark = pytest.mark.skipif(ACTIVATE is None, reason="needs systemd-socket-activate (Debian's systemd package)")


def request(path, method, url, body=None, headers=None):
    conn = UnixHTTPConnection(path, timeout=30)
    conn.request(method, url, body=body, headers=headers or {})
    r = conn.getresponse()
    return r.status, r.read()


def test_serves_the_inherited_socket_and_leaves_it_to_systemd(tmp_path):
    sock = str(tmp_path / "activated.sock")
    db = str(tmp_path / "db")
    log = open(tmp_path / "log", "wb")
    # --socket points elsewhere: with an inherited socket it is not bound.
    proc = subprocess.Popen([ACTIVATE, "-l", sock, scaled_binary(), "--db", db, "--socket", str(tmp_path / "unused.sock")],
                            stdout=log, stderr=subprocess.STDOUT)
    try:
        deadline = time.time() + 10
        while not os.path.exists(sock) and time.time() < deadline:
            time.sleep(0.05)
        # The first connection starts scaled and waits in the socket's queue.
        status, body = request(sock, "GET", "/v1/health")
        assert status == 200 and b'"ok"' in body
        rng = np.random.default_rng(4)
        xs = [rng.standard_normal((4, 4, 8, 8)).astype(np.float32) * 1.5 + 0.2 for _ in range(3)]
        for x in xs:
            status, body = request(sock, "POST", "/v1/streams/act/latents?dtype=float32&shape=4,4,8,8", x.tobytes(),
                                   {"Content-Type": "application/octet-stream"})
            assert status == 200, body
        import json
        st = json.loads(request(sock, "GET", "/v1/streams/act")[1])
        assert_stats(st["cumulative"], stats(np.concatenate(xs)))
        # The same API: errors carry the JSON body.
        status, body = request(sock, "PATCH", "/v1/streams/act")
        assert status == 405 and b"method_not_allowed" in body
        assert not os.path.exists(tmp_path / "unused.sock")
        proc.send_signal(signal.SIGTERM)
        assert proc.wait(timeout=30) == 0
        assert os.path.exists(sock)     # systemd's socket is left where it was
    finally:
        if proc.poll() is None:
            proc.kill()
        log.close()
    text = (tmp_path / "log").read_text()
    assert "listening on the socket systemd passed" in text and "snapshots written" in text, text


def test_more_than_one_inherited_socket_is_refused(tmp_path):
    env = dict(os.environ, LISTEN_FDS="2", LISTEN_PID=str(os.getpid()))
    # LISTEN_PID names another process (this one): the variables are not scaled's, so it binds its own socket.
    p = subprocess.Popen([scaled_binary(), "--db", str(tmp_path / "db"), "--socket", str(tmp_path / "own.sock")], env=env,
                         stdout=subprocess.DEVNULL, stderr=subprocess.PIPE)
    try:
        deadline = time.time() + 20
        while not os.path.exists(tmp_path / "own.sock") and time.time() < deadline:
            time.sleep(0.05)
        assert os.path.exists(tmp_path / "own.sock")
    finally:
        p.send_signal(signal.SIGTERM)
        p.wait(timeout=30)
    # Two sockets for scaled itself (LISTEN_PID unset): refused, naming the variable.
    env = dict(os.environ, LISTEN_FDS="2")
    env.pop("LISTEN_PID", None)
    r = subprocess.run([scaled_binary(), "--db", str(tmp_path / "db2"), "--socket", str(tmp_path / "x.sock")], env=env,
                       capture_output=True, text=True, timeout=30)
    assert r.returncode != 0 and "LISTEN_FDS" in r.stderr, r.stderr
