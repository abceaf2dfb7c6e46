"""Client behaviour against the fake daemon: requests on the wire, errors, sockets."""

from __future__ import annotations

import json
import os
import socket
import threading

import numpy as np
import pytest

import latentscale
from latentscale import Client, LatentScaleConnectionError, LatentScaleError, default_socket_path
from fake_scaled import FakeScaled


def drop_connections(fake: FakeScaled) -> None:
    for conn in list(fake._conns):
        try:
            conn.shutdown(socket.SHUT_RDWR)
        except OSError:
            pass


def last(fake: FakeScaled) -> dict:
    return fake.requests[-1]


def test_default_socket_path(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("SCALED_SOCKET", "/x/explicit.sock")
    monkeypatch.setenv("XDG_RUNTIME_DIR", "/run/user/7")
    assert default_socket_path() == "/x/explicit.sock"
    monkeypatch.delenv("SCALED_SOCKET")
    assert default_socket_path() == "/run/user/7/scaled.sock"
    monkeypatch.setenv("XDG_RUNTIME_DIR", "")
    assert default_socket_path() == f"/tmp/scaled-{os.getuid()}/scaled.sock"
    monkeypatch.delenv("XDG_RUNTIME_DIR")
    assert default_socket_path() == f"/tmp/scaled-{os.getuid()}/scaled.sock"
    assert Client().socket_path == f"/tmp/scaled-{os.getuid()}/scaled.sock"


def test_client_uses_scaled_socket_env(fake: FakeScaled, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("SCALED_SOCKET", fake.path)
    assert Client().health() == {"status": "ok", "version": "0.0.0-fake"}


def test_every_endpoint_method_and_path(fake: FakeScaled) -> None:
    c = Client(fake.path)
    assert c.health()["status"] == "ok"
    assert (last(fake)["method"], last(fake)["path"]) == ("GET", "/v1/health")

    st = c.configure("sd15", {"window_batches": 5}, target_std=0.5, reference={"scaling_factor": 0.18215})
    r = last(fake)
    assert (r["method"], r["path"], r["content_type"]) == ("PUT", "/v1/streams/sd15", "application/json")
    assert json.loads(r["body"]) == {"window_batches": 5, "target_std": 0.5, "reference": {"scaling_factor": 0.18215}}
    assert st["name"] == "sd15"

    x = np.arange(24, dtype=np.float32).reshape(2, 3, 4)
    resp = c.push("sd15", x, step=7, tag="512x512")
    r = last(fake)
    assert (r["method"], r["path"]) == ("POST", "/v1/streams/sd15/latents")
    assert r["content_type"] == "application/octet-stream"
    assert r["query"] == {"dtype": "float32", "shape": "2,3,4", "step": "7", "tag": "512x512"}
    assert r["body"] == x.tobytes()
    assert resp["accepted"]["samples"] == 2 and resp["totals"]["batches"] == 1

    c.push("sd15", x, channel_axis=2)
    assert last(fake)["query"] == {"dtype": "float32", "shape": "2,3,4", "channel_axis": "2"}

    assert c.status("sd15")["totals"]["batches"] == 2
    assert (last(fake)["method"], last(fake)["path"]) == ("GET", "/v1/streams/sd15")

    n = c.normalization("sd15")
    assert last(fake)["path"] == "/v1/streams/sd15/normalization"
    assert last(fake)["query"] == {"mode": "shift", "method": "std", "format": "json"}
    assert n["mode"] == "shift"
    c.normalization("sd15", mode="scalar", method="rms", format="diffusers")
    assert last(fake)["query"] == {"mode": "scalar", "method": "rms", "format": "diffusers"}

    c.freeze("sd15")
    assert (last(fake)["method"], last(fake)["path"]) == ("POST", "/v1/streams/sd15/freeze")
    c.history("sd15")
    assert (last(fake)["path"], last(fake)["query"]) == ("/v1/streams/sd15/history", {})
    assert len(c.history("sd15", limit=1)["history"]) == 1
    assert last(fake)["query"] == {"limit": "1"}
    c.reset("sd15")
    assert (last(fake)["method"], last(fake)["path"]) == ("POST", "/v1/streams/sd15/reset")
    assert c.streams()["streams"][0]["name"] == "sd15"
    assert c.alerts() == {"alerts": [], "all": False}
    assert last(fake)["query"] == {}
    assert c.alerts(all=True)["all"] is True
    assert last(fake)["query"] == {"all": "true"}
    assert "scaled_batches_total" in c.metrics()
    assert c.delete("sd15") == {"deleted": "sd15"}
    assert (last(fake)["method"], last(fake)["path"]) == ("DELETE", "/v1/streams/sd15")


def test_keep_alive_reuses_one_connection(fake: FakeScaled) -> None:
    c = Client(fake.path)
    for _ in range(5):
        c.health()
    assert len(fake._conns) == 1


def test_stream_name_is_percent_encoded(fake: FakeScaled) -> None:
    c = Client(fake.path)
    with pytest.raises(LatentScaleError) as err:
        c.status("a/b")
    assert fake.requests[-1]["path"] == "/v1/streams/a%2Fb"
    assert err.value.code == "invalid_stream_name"


def test_server_error_carries_code_message_status(fake: FakeScaled) -> None:
    c = Client(fake.path)
    with pytest.raises(LatentScaleError) as err:
        c.status("nope")
    e = err.value
    assert (e.code, e.status) == ("stream_not_found", 404)
    assert "no stream named 'nope'" in e.message
    assert "stream_not_found" in str(e) and "404" in str(e)
    assert not isinstance(e, LatentScaleConnectionError)
    with pytest.raises(LatentScaleError) as err:
        c.push_bytes("s", b"\0" * 7, "float32", (2, 1))
    assert (err.value.code, err.value.status) == ("length_mismatch", 400)


def test_non_json_error_body(sockdir: str) -> None:
    path = os.path.join(sockdir, "plain.sock")
    srv = socket.socket(socket.AF_UNIX, socket.SOCK_STREAM)
    srv.bind(path)
    srv.listen(1)

    def serve() -> None:
        conn, _ = srv.accept()
        conn.recv(65536)
        conn.sendall(b"HTTP/1.1 502 Bad Gateway\r\nContent-Length: 4\r\nConnection: close\r\n\r\noops")
        conn.close()

    t = threading.Thread(target=serve)
    t.start()
    with pytest.raises(LatentScaleError) as err:
        Client(path).health()
    t.join()
    srv.close()
    assert (err.value.code, err.value.status) == ("http_502", 502)
    assert "oops" in err.value.message


def test_connection_error_names_socket_and_how_to_start(sockdir: str) -> None:
    path = os.path.join(sockdir, "missing.sock")
    with pytest.raises(LatentScaleConnectionError) as err:
        Client(path).health()
    e = err.value
    assert isinstance(e, LatentScaleError)
    assert e.socket_path == path and e.code == "connection_failed" and e.status is None
    assert path in str(e) and "scaled --socket" in str(e)
    assert "FileNotFoundError" in str(e)


def test_timeout_is_a_connection_error(fake: FakeScaled) -> None:
    fake.delay = 0.5
    c = Client(fake.path, timeout=0.1)
    with pytest.raises(LatentScaleConnectionError) as err:
        c.push("s", np.zeros((1, 1), np.float32))
    assert err.value.timeout and err.value.code == "timeout"
    fake.delay = 0
    assert c.health()["status"] == "ok"  # a fresh connection afterwards


def test_reconnects_after_daemon_restart(fake: FakeScaled) -> None:
    c = Client(fake.path)
    assert c.health()["status"] == "ok"
    fake.stop()
    with pytest.raises(LatentScaleConnectionError):
        c.health()
    fake.start()
    assert c.health()["status"] == "ok"


def test_stale_keepalive_connection_is_retried(fake: FakeScaled) -> None:
    c = Client(fake.path)
    c.health()
    # The server side closes the idle kept-alive connection (as after its idle timeout).
    drop_connections(fake)
    assert c.health()["status"] == "ok"
    x = np.ones((2, 2), np.float32)
    drop_connections(fake)
    c.push("s", x)
    assert len(fake.pushes("s")) == 1  # pushed exactly once


@pytest.mark.parametrize("dtype", ["float16", "float32", "float64"])
def test_push_numpy_dtypes_bytes_exact(fake: FakeScaled, dtype: str) -> None:
    rng = np.random.default_rng(1)
    x = rng.standard_normal((3, 4, 5)).astype(dtype)
    Client(fake.path).push("s", x)
    r = fake.pushes()[-1]
    assert r["query"]["dtype"] == dtype and r["shape"] == (3, 4, 5)
    assert r["body"] == x.astype("<" + x.dtype.str[1:]).tobytes()
    np.testing.assert_array_equal(r["values"], x.astype(np.float64))


def test_push_big_endian_and_noncontiguous(fake: FakeScaled) -> None:
    rng = np.random.default_rng(2)
    base = rng.standard_normal((4, 6, 8))
    c = Client(fake.path)
    c.push("s", base.astype(">f4"))
    np.testing.assert_array_equal(fake.pushes()[-1]["values"], base.astype(np.float32).astype(np.float64))
    assert fake.pushes()[-1]["query"]["dtype"] == "float32"
    view = base.transpose(0, 2, 1)[:, ::2]  # non-contiguous
    c.push("s", view)
    r = fake.pushes()[-1]
    assert r["shape"] == view.shape
    np.testing.assert_array_equal(r["values"], view)


def test_push_npy_body(fake: FakeScaled) -> None:
    x = np.random.default_rng(3).standard_normal((2, 3, 4)).astype(np.float16)
    Client(fake.path).push("s", x, step=3, npy=True)
    r = fake.pushes()[-1]
    assert r["content_type"] == "application/x-npy"
    assert r["query"] == {"step": "3"}
    np.testing.assert_array_equal(r["values"], x.astype(np.float64))


def test_push_max_samples(fake: FakeScaled) -> None:
    x = np.arange(40, dtype=np.float32).reshape(10, 4)
    Client(fake.path).push("s", x, max_samples=3)
    np.testing.assert_array_equal(fake.pushes()[-1]["values"], x[:3])


def test_push_rejects_bad_input_before_sending(fake: FakeScaled) -> None:
    c = Client(fake.path)
    with pytest.raises(ValueError, match="at least 2 dimensions"):
        c.push("s", np.zeros(5, np.float32))
    with pytest.raises(TypeError, match="int64"):
        c.push("s", np.zeros((2, 2), np.int64))
    with pytest.raises(TypeError, match="complex"):
        c.push("s", np.zeros((2, 2), np.complex64))
    assert fake.pushes() == []


def test_push_lists_as_float64(fake: FakeScaled) -> None:
    Client(fake.path).push("s", [[1.0, 2.0], [3.0, 4.5]])
    r = fake.pushes()[-1]
    assert r["query"]["dtype"] == "float64"
    np.testing.assert_array_equal(r["values"], [[1.0, 2.0], [3.0, 4.5]])


def test_version_and_exports() -> None:
    assert latentscale.__version__
    for name in latentscale.__all__:
        assert hasattr(latentscale, name)


def test_send_timeout_when_daemon_stops_reading(sockdir: str) -> None:
    """A large body to a peer that never reads times out instead of hanging."""
    path = os.path.join(sockdir, "deaf.sock")
    srv = socket.socket(socket.AF_UNIX, socket.SOCK_STREAM)
    srv.bind(path)
    srv.listen(1)
    try:
        c = Client(path, timeout=0.3)
        x = np.zeros((64, 4, 64, 64), np.float32)  # 4 MiB, far over the socket buffer
        import time

        t0 = time.monotonic()
        with pytest.raises(LatentScaleConnectionError) as err:
            c.push("s", x)
        assert err.value.timeout
        assert time.monotonic() - t0 < 5
    finally:
        srv.close()


def last_of(fake: FakeScaled) -> dict:
    with fake.lock:
        return fake.requests[-1]


def test_summary_peers_and_scope_requests(fake: FakeScaled) -> None:
    from latentscale._client import SUMMARY_CONTENT_TYPE

    c = Client(fake.path)
    x = np.arange(8, dtype=np.float32).reshape(2, 4)
    c.push("sd15", x)
    data = c.summary("sd15")
    r = last_of(fake)
    assert (r["method"], r["path"], r["query"]) == ("GET", "/v1/streams/sd15/summary", {})
    assert isinstance(data, bytes) and data.startswith(b"FAKESUM1")
    c.summary("sd15", scope="window")
    assert last_of(fake)["query"] == {"scope": "window"}

    resp = c.put_peer("other", "node-0123456789abcdef", data)
    r = last_of(fake)
    assert (r["method"], r["path"]) == ("PUT", "/v1/streams/other/peers/node-0123456789abcdef")
    assert r["content_type"] == SUMMARY_CONTENT_TYPE and r["body"] == data
    assert resp == {"stream": "other", "peer": "node-0123456789abcdef", "samples": 2, "elements": 8}

    c.status("other", scope="global")
    assert (last_of(fake)["path"], last_of(fake)["query"]) == ("/v1/streams/other", {"scope": "global"})
    n = c.normalization("other", scope="global")
    assert last_of(fake)["query"] == {"scope": "global", "mode": "shift", "method": "std", "format": "json"}
    assert n["samples"] == 2 and n["elements"] == 8

    assert c.delete_peer("other", "node-0123456789abcdef") == {"deleted": "node-0123456789abcdef"}
    assert (last_of(fake)["method"], last_of(fake)["path"]) == ("DELETE", "/v1/streams/other/peers/node-0123456789abcdef")
    with pytest.raises(LatentScaleError) as err:
        c.delete_peer("other", "node-0123456789abcdef")
    assert (err.value.code, err.value.status) == ("peer_not_found", 404)
    with pytest.raises(ValueError):
        c.put_peer("other", "", data)


def test_summary_errors_and_wrong_content_type(fake: FakeScaled) -> None:
    c = Client(fake.path)
    with pytest.raises(LatentScaleError) as err:
        c.summary("nope")
    assert (err.value.code, err.value.status) == ("stream_not_found", 404)
    c.configure("empty")
    with pytest.raises(LatentScaleError) as err:
        c.summary("empty")
    assert (err.value.code, err.value.status) == ("no_data", 409)
    # A JSON 200 where a summary belongs (e.g. an old daemon, a proxy) is not a summary.
    c.request = lambda *a, **k: (200, "application/json", b"{}")  # type: ignore[method-assign]
    with pytest.raises(LatentScaleError) as err:
        c.summary("empty")
    assert err.value.code == "invalid_response"
