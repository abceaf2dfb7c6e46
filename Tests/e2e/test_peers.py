"""Summaries and peers: the exact cross-node merge behind scope=global."""
import struct

import numpy as np
import pytest

from conftest import Daemon
from oracle import stats

SUMMARY = "application/vnd.latentscale.summary"


def shard(rng, n, mean, std, shape=(4, 3, 8, 8)):
    return [(rng.standard_normal(shape) * std + mean).astype(np.float32) for _ in range(n)]


def summary(d, stream, scope=""):
    status, body = d.request("GET", f"/v1/streams/{stream}/summary" + (f"?scope={scope}" if scope else ""))
    assert status == 200, body
    assert d.last_headers["Content-Type"] == SUMMARY
    return body


def put_peer(d, stream, peer, body):
    return d.request("PUT", f"/v1/streams/{stream}/peers/{peer}", body=body, headers={"Content-Type": SUMMARY})


def test_global_scope_is_the_exact_union_and_peers_replace(tmp_path):
    a = Daemon(tmp_path / "a", socket_path=tmp_path / "a.sock", db=tmp_path / "a.db")
    (tmp_path / "a").mkdir()
    b = Daemon(tmp_path, socket_path=tmp_path / "b.sock", db=tmp_path / "b.db")
    a.start(); b.start()
    rng = np.random.default_rng(12)
    sa = shard(rng, 3, 1e4, 1.0)          # offset by 1e4: no E[x²]−E[x]² anywhere
    sb = shard(rng, 5, 1e4 + 0.3, 2.0)
    for x in sa:
        assert a.push_raw("s", x)[0] == 200
        assert a.push_raw("union", x)[0] == 200
    for x in sb:
        assert b.push_raw("s", x)[0] == 200
        assert a.push_raw("union", x)[0] == 200

    status, body = put_peer(a, "s", "node-b", summary(b, "s"))
    assert status == 200 and body["samples"] == 20 and body["peer"] == "node-b"
    union = np.concatenate([x.ravel() for x in sa + sb]).astype(np.float64)
    want = stats(np.concatenate(sa + sb))
    for mode in ("shift", "channel", "whiten", "scalar"):
        g = a.get(f"/v1/streams/s/normalization?scope=global&mode={mode}")
        u = a.get(f"/v1/streams/union/normalization?mode={mode}")
        for key in ("scaling_factor", "shift_factor", "latents_mean", "latents_std", "whitening_matrix"):
            if key in g:
                assert np.allclose(g[key], u[key], rtol=1e-9, atol=0), (mode, key)
        assert g["scaling_factor_ci95"] == pytest.approx(u["scaling_factor_ci95"], rel=1e-9)
        assert g["converged"] == u["converged"] and g["samples"] == 32
    g = a.get("/v1/streams/s/normalization?scope=global&mode=shift")
    assert g["shift_factor"] == pytest.approx(union.mean(), rel=1e-12)
    assert g["scaling_factor"] == pytest.approx(1 / union.std(), rel=1e-9)
    st = a.get("/v1/streams/s?scope=global")
    assert st["scope"] == "global" and st["totals"]["samples"] == 32
    assert st["cumulative"]["std"] == pytest.approx(want["std"], rel=1e-9)
    assert [p["name"] for p in st["peers"]] == ["node-b"] and st["peers"][0]["samples"] == 20
    # Local answers are unchanged by peers.
    assert a.get("/v1/streams/s")["totals"]["samples"] == 12
    assert a.get("/v1/streams/s/normalization")["samples"] == 12

    # Re-sending the same peer replaces it: never double-counted.
    for _ in range(3):
        assert put_peer(a, "s", "node-b", summary(b, "s"))[0] == 200
    assert a.get("/v1/streams/s/normalization?scope=global")["samples"] == 32

    # Peers survive a restart, exactly.
    before = a.get("/v1/streams/s/normalization?scope=global&mode=channel")
    assert a.stop() == 0
    a.start()
    assert a.get("/v1/streams/s/normalization?scope=global&mode=channel") == before

    # Export of the window differs from the cumulative once the window is smaller.
    assert a.request("PUT", "/v1/streams/s", body=b'{"window_batches": 1}')[0] == 200
    assert summary(a, "s", "window") != summary(a, "s")

    status, body = a.request("DELETE", "/v1/streams/s/peers/node-b")
    assert status == 200 and body == {"deleted": "node-b"}
    assert a.get("/v1/streams/s/normalization?scope=global")["samples"] == 12
    status, body = a.request("DELETE", "/v1/streams/s/peers/node-b")
    assert status == 404 and body["error"]["code"] == "peer_not_found"
    a.stop(); b.stop()


def damaged(good: bytes):
    """Every kind of bad summary the protocol refuses, by name."""
    channels = struct.unpack_from("<q", good, 5)[0]
    total_at = 5 + 8 * 7                      # magic+version, channels, batches, samples, elements, 3 non-finite counts
    yield "wrong magic", b"XXXX" + good[4:]
    yield "unknown version", good[:4] + bytes([99]) + good[5:]
    yield "truncated", good[:-3]
    yield "empty", b""
    yield "trailing bytes", good + b"\0"
    yield "elements do not add up", good[:5 + 8 * 3] + struct.pack("<q", 7) + good[5 + 8 * 4:]
    yield "non-finite mean", good[:total_at + 8] + struct.pack("<d", float("nan")) + good[total_at + 16:]
    yield "negative m2", good[:total_at + 16] + struct.pack("<d", -1.0) + good[total_at + 24:]
    yield "zero channels", good[:5] + struct.pack("<q", 0) + good[13:]
    # 65,536 channels and 70 KB: a count the bytes hold, but not its 34 GB of
    # co-moments, which the daemon must refuse before allocating them.
    yield "channels beyond the bytes", good[:5] + struct.pack("<q", 65536) + good[13:] + bytes(70_000)
    # The sketch follows the moments (7 doubles each: total, then per channel)
    # and the co-moments (count, means, matrix), each list length-prefixed.
    sketch_at = total_at + 56 * (1 + channels) + 8 + (8 + 8 * channels) + (8 + 8 * channels * channels)
    n = struct.unpack_from("<q", good, sketch_at)[0]
    assert n >= 2
    k0, k1 = sketch_at + 8, sketch_at + 8 + 10
    swapped = bytearray(good)
    swapped[k0:k0 + 2], swapped[k1:k1 + 2] = good[k1:k1 + 2], good[k0:k0 + 2]
    yield "sketch keys out of order", bytes(swapped)
    counted = bytearray(good)
    counted[k0 + 2:k0 + 10] = struct.pack("<Q", struct.unpack_from("<Q", good, k0 + 2)[0] + 1)
    yield "sketch count off by one", bytes(counted)


def test_bad_summaries_are_refused_and_change_nothing(daemon):
    rng = np.random.default_rng(3)
    for x in shard(rng, 2, 0.5, 1.5):
        assert daemon.push_raw("src", x)[0] == 200
        assert daemon.push_raw("dst", x)[0] == 200
    good = summary(daemon, "src")
    before = daemon.get("/v1/streams/dst?scope=global")
    for name, body in damaged(good):
        status, answer = put_peer(daemon, "dst", "p1", body)
        assert status == 400, (name, answer)
        assert answer["error"]["code"] == "invalid_summary", name
    assert daemon.get("/v1/streams/dst?scope=global") == before
    four = summary_of_channels(daemon, 4, rng)
    status, answer = put_peer(daemon, "dst", "p1", four)
    assert status == 409 and answer["error"]["code"] == "channel_mismatch"
    status, answer = put_peer(daemon, "dst", "bad%20name!", good)
    assert status == 400 and answer["error"]["code"] == "invalid_peer_name"
    status, answer = daemon.request("PUT", "/v1/streams/dst/peers/p1", body=good, headers={"Content-Type": "text/plain"})
    assert status == 415
    assert daemon.get("/v1/streams/dst?scope=global") == before
    status, answer = daemon.request("GET", "/v1/streams/dst/summary?scope=everything")
    assert status == 400 and answer["error"]["code"] == "invalid_query"
    assert daemon.request("PUT", "/v1/streams/fresh", body=b"{}")[0] == 200
    status, answer = daemon.request("GET", "/v1/streams/fresh/summary")
    assert status == 409 and answer["error"]["code"] == "no_data"


def summary_of_channels(d, c, rng):
    assert d.push_raw(f"c{c}", (rng.standard_normal((2, c, 4, 4))).astype(np.float32))[0] == 200
    return summary(d, f"c{c}")


def test_a_peer_can_create_a_stream_and_is_not_local_data(daemon):
    rng = np.random.default_rng(8)
    xs = shard(rng, 2, -0.2, 0.7)
    for x in xs:
        assert daemon.push_raw("src", x)[0] == 200
    assert put_peer(daemon, "only-peers", "n1", summary(daemon, "src"))[0] == 200
    st = daemon.get("/v1/streams/only-peers")
    assert st["totals"]["samples"] == 0 and st["peers"][0]["samples"] == 8
    g = daemon.get("/v1/streams/only-peers/normalization?scope=global")
    assert g == daemon.get("/v1/streams/src/normalization")
    status, answer = daemon.request("GET", "/v1/streams/only-peers/normalization")
    assert status == 409 and answer["error"]["code"] == "no_data"
