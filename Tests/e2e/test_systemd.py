"""sd_notify: READY=1 once serving, WATCHDOG=1 at half of WATCHDOG_USEC, STOPPING=1 on shutdown."""
import os
import signal
import socket
import subprocess
import time

from conftest import UnixHTTPConnection, scaled_binary


def messages(sock, until, timeout):
    got = []
    deadline = time.time() + timeout
    while time.time() < deadline:
        sock.settimeout(max(0.01, deadline - time.time()))
        try:
            got.append(sock.recv(4096).decode())
        except socket.timeout:
            break
        if until(got):
            break
    return got


def health(path):
    conn = UnixHTTPConnection(path, timeout=5)
    conn.request("GET", "/v1/health")
    return conn.getresponse().status


def test_ready_watchdog_and_stopping(tmp_path):
    listener = socket.socket(socket.AF_UNIX, socket.SOCK_DGRAM)
    notify = str(tmp_path / "notify.sock")
    listener.bind(notify)
    sock = str(tmp_path / "s.sock")
    env = dict(os.environ, NOTIFY_SOCKET=notify, WATCHDOG_USEC="400000")
    proc = subprocess.Popen([scaled_binary(), "--socket", sock, "--db", str(tmp_path / "db")], env=env,
                            stdout=subprocess.DEVNULL, stderr=subprocess.PIPE)
    try:
        got = messages(listener, lambda g: any(m.startswith("READY=1") for m in g), 30)
        ready = [m for m in got if m.startswith("READY=1")]
        assert ready, got
        assert health(sock) == 200          # ready means served
        started = time.time()
        pets = messages(listener, lambda g: sum(m == "WATCHDOG=1" for m in g) >= 4, 5)
        elapsed = time.time() - started
        assert sum(m == "WATCHDOG=1" for m in pets) >= 4, pets
        assert elapsed < 2.0                # every 0.2 s, not every 0.4
        proc.send_signal(signal.SIGTERM)
        tail = messages(listener, lambda g: "STOPPING=1" in g, 10)
        assert "STOPPING=1" in tail, tail
        assert proc.wait(timeout=30) == 0
    finally:
        if proc.poll() is None:
            proc.kill()
        listener.close()


def test_no_notify_socket_no_messages_and_a_watchdog_for_another_pid(tmp_path):
    listener = socket.socket(socket.AF_UNIX, socket.SOCK_DGRAM)
    notify = str(tmp_path / "n.sock")
    listener.bind(notify)
    sock = str(tmp_path / "s.sock")
    env = dict(os.environ, NOTIFY_SOCKET=notify, WATCHDOG_USEC="100000", WATCHDOG_PID="1")
    proc = subprocess.Popen([scaled_binary(), "--socket", sock, "--db", str(tmp_path / "db")], env=env,
                            stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
    try:
        got = messages(listener, lambda g: False, 3)
        assert any(m.startswith("READY=1") for m in got)
        assert "WATCHDOG=1" not in got      # the watchdog is pid 1's, not ours
    finally:
        proc.send_signal(signal.SIGTERM)
        proc.wait(timeout=30)
        listener.close()
