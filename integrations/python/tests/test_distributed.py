"""``latentscale.distributed.sync`` and ``Monitor.sync`` across real processes.

Ranks are separate interpreters started by ``torch.multiprocessing`` (see
``dist_ranks.py``), joined in a gloo process group through a file in a temporary
directory. 4 ranks stand in for 2 nodes: ranks 0-1 share one daemon, ranks 2-3
the other. Each rank pushes its own shard (its own channel means, stds and
correlations); after ``sync`` every rank's global normalization must equal numpy
in float64 over the union of every shard pushed so far.

- ``test_sync_*_fake`` run against the fake daemon of ``fake_scaled.py`` (its
  "summary" is every value as float64, so its union is exact too); they check the
  protocol itself: one summary read per node, one ``PUT`` per other node under
  its stable peer name, no double counting, a hung daemon, a stopped one, every
  daemon down, a node without data.
- ``test_sync_real_daemons`` (marker ``e2e``) runs 2 real ``scaled``: shift,
  channel, whiten and scalar/rms normalizations to 1e-9, the CI and ``converged``
  equal to those of one stream pushed the whole union, the global quantiles
  within the documented bounds, then push more, restart a daemon, hang one
  (SIGSTOP) and stop one.
- ``test_sync_nccl`` runs the same exchange over NCCL, one rank per GPU; it skips
  without CUDA.
"""

from __future__ import annotations

import os
import shutil
import signal
import time
from typing import Any, Dict, Iterator, List

import numpy as np
import pytest

torch = pytest.importorskip("torch")
import torch.distributed  # noqa: E402

import dist_ranks  # noqa: E402
import latentscale  # noqa: E402
from conftest import ScaledProcess, _require_binary, short_tmpdir  # noqa: E402
from fake_scaled import FakeScaled  # noqa: E402
from latentscale.distributed import node_key, peer_name, sync  # noqa: E402

pytestmark = pytest.mark.skipif(not torch.distributed.is_available(), reason="torch.distributed is not available")

REL = 1e-9
STREAM = "dist"


@pytest.fixture
def tmp() -> Iterator[str]:
    d = short_tmpdir()
    yield d
    shutil.rmtree(d, ignore_errors=True)


def union(phases: List[int], ranks: List[int] = [0, 1, 2, 3]) -> np.ndarray:
    return np.concatenate([dist_ranks.shard(r, p) for p in phases for r in ranks]).astype(np.float64)


def close(actual: Any, expected: float, scale: float = 0.0, rel: float = REL, what: str = "") -> None:
    assert actual is not None, f"{what}: got null, numpy gives {expected!r}"
    tol = rel * max(abs(expected), scale)
    assert abs(float(actual) - expected) <= tol, f"{what}: {actual!r}, numpy float64 {expected!r} (rel tol {rel})"


def channels(x: np.ndarray) -> np.ndarray:
    return np.moveaxis(x, 1, -1).reshape(-1, x.shape[1])


def check_normalization(n: Dict[str, Any], x: np.ndarray, where: str) -> None:
    """``n`` (a sync result) against numpy float64 over ``x``."""
    assert "error" not in n, f"{where}: {n.get('error')}"
    assert n["samples"] == x.shape[0] and n["elements"] == x.size, (
        f"{where}: samples/elements {n['samples']}/{n['elements']}, union has {x.shape[0]}/{x.size}"
    )
    v = x.ravel()
    mode, method = n["mode"], n.get("method", "std")
    if mode in ("scalar", "shift"):
        ref = np.sqrt((v**2).mean()) if method == "rms" else v.std()
        close(n["scaling_factor"], 1.0 / ref, what=f"{where}.scaling_factor")
        if mode == "shift":
            close(n["shift_factor"], v.mean(), v.std(), what=f"{where}.shift_factor")
    cm = channels(x)
    if mode == "channel":
        for c in range(x.shape[1]):
            close(n["latents_mean"][c], cm[:, c].mean(), cm[:, c].std(), what=f"{where}.latents_mean[{c}]")
            close(n["latents_std"][c], cm[:, c].std(), what=f"{where}.latents_std[{c}]")
    if mode == "whiten":
        for c in range(x.shape[1]):
            close(n["latents_mean"][c], cm[:, c].mean(), cm[:, c].std(), what=f"{where}.latents_mean[{c}]")
        evals, evecs = np.linalg.eigh(np.cov(cm, rowvar=False, ddof=0))
        expected = evecs @ np.diag(evals**-0.5) @ evecs.T
        w = np.asarray(n["whitening_matrix"], dtype=np.float64)
        err = np.max(np.abs(w - expected)) / np.max(np.abs(expected))
        assert err <= REL, f"{where}.whitening_matrix differs from numpy's Sigma^-1/2 by {err:.3g} (relative)"


# -- without torch.distributed ------------------------------------------------------------------


def test_sync_is_a_world_of_one_without_a_process_group(fake: FakeScaled) -> None:
    assert not torch.distributed.is_initialized()
    x = dist_ranks.shard(0, 0).astype(np.float64)
    latentscale.Client(fake.path).push(STREAM, x)
    n = sync(STREAM, socket=fake.path)
    assert n["nodes"] == 1 and n["missing"] == []
    check_normalization(n, x, "world of one")
    kinds = [r["kind"] for r in fake.requests if r.get("stream") == STREAM]
    assert kinds == ["push", "summary", "other"], kinds  # no peer of itself
    assert fake.requests[-1]["query"]["scope"] == "global"


def test_sync_without_daemon_returns_error_not_raise(sockdir: str) -> None:
    path = os.path.join(sockdir, "none.sock")
    t0 = time.monotonic()
    n = sync(STREAM, socket=path, timeout=5)
    assert time.monotonic() - t0 < 5
    assert n["nodes"] == 0 and n["error"]["code"] == "connection_failed"
    assert n["missing"] == [{"host": node_key(path)[0], "socket": os.path.realpath(path), "code": "connection_failed",
                             "error": n["missing"][0]["error"]}]


def test_importing_distributed_does_not_import_torch() -> None:
    import subprocess
    import sys

    src = str(dist_ranks.SRC)
    code = "import sys, latentscale.distributed; sys.exit(1 if 'torch' in sys.modules else 0)"
    subprocess.run([sys.executable, "-c", code], check=True, env={**os.environ, "PYTHONPATH": src})


def test_peer_name_is_stable_and_valid() -> None:
    import re

    key = ("host-a", "/run/user/1000/scaled.sock")
    assert peer_name(key) == peer_name(tuple(key)) != peer_name(("host-b", key[1]))
    assert re.match(r"^[A-Za-z0-9][A-Za-z0-9._-]{0,127}$", peer_name(key))
    assert peer_name(key) == "node-" + __import__("hashlib").sha1(b"host-a|/run/user/1000/scaled.sock").hexdigest()[:16]


def test_monitor_sync_flushes_first(fake: FakeScaled) -> None:
    fake.delay = 0.05
    with latentscale.Monitor(STREAM, fake.path, queue_size=16) as mon:
        xs = [dist_ranks.shard(0, p) for p in range(5)]
        for x in xs:
            assert mon.push(x)
        n = mon.sync(mode="shift")
    check_normalization(n, np.concatenate(xs).astype(np.float64), "Monitor.sync")
    with pytest.raises(TypeError):
        mon.sync(socket="/elsewhere")


def test_monitor_sync_after_flush_timeout_still_syncs(fake: FakeScaled, caplog: pytest.LogCaptureFixture) -> None:
    fake.delay = 0.4
    with latentscale.Monitor(STREAM, fake.path, queue_size=16) as mon:
        for p in range(4):
            assert mon.push(dist_ranks.shard(0, p))
        t0 = time.monotonic()
        with caplog.at_level("WARNING", logger="latentscale"):
            n = mon.sync(timeout=1.0)
        assert time.monotonic() - t0 < 1.0 + 2.0
        assert "still queued" in caplog.text
        assert n["missing"] == [] and n.get("samples", 0) < 4 * dist_ranks.SHAPE[0], n


# -- 4 ranks, 2 fake daemons ------------------------------------------------------------------------


def test_sync_four_ranks_two_fake_daemons(tmp: str) -> None:
    a = FakeScaled(os.path.join(tmp, "a.sock")).start()
    b = FakeScaled(os.path.join(tmp, "b.sock")).start()
    sockets = [a.path, a.path, b.path, b.path]
    ka, kb = node_key(a.path), node_key(b.path)

    def requests(fake: FakeScaled, kind: str) -> List[Dict[str, Any]]:
        with fake.lock:
            return [r for r in fake.requests if r["kind"] == kind]

    def clear() -> None:
        for f in (a, b):
            with f.lock:
                f.requests.clear()

    def exchanged(phase: List[Dict[str, Any]]) -> None:
        x = union([0])
        for r, res in enumerate(phase):
            n = res["shift"]
            assert n["nodes"] == 2 and n["missing"] == [], f"rank {r}: {n}"
            check_normalization(n, x, f"rank {r}")
        for fake, other in ((a, kb), (b, ka)):
            assert len(requests(fake, "summary")) == 1, "one summary read per node, by its leader"
            puts = requests(fake, "put_peer")
            assert [p["peer"] for p in puts] == [peer_name(other)], "one PUT per other node, under its peer name"
            assert puts[0]["content_type"] == "application/vnd.latentscale.summary"
        assert a.streams[STREAM]["peers"].keys() == {peer_name(kb)}
        clear()

    def again(phase: List[Dict[str, Any]]) -> None:
        exchanged(phase)  # same answer: the PUT replaced, nothing counted twice

    def subgroup(phase: List[Dict[str, Any]]) -> None:
        for r in (0, 2):
            n = phase[r]["shift"]
            assert n["nodes"] == 2 and n["missing"] == []
            check_normalization(n, union([0]), f"rank {r} (group of ranks 0 and 2)")
        for r in (1, 3):
            assert "not a member" in (phase[r]["refused"] or ""), phase[r]
        exchanged([phase[0], phase[0], phase[2], phase[2]])
        b.summary_delay = 5.0  # hung: accepts, never answers in time

    def hung(phase: List[Dict[str, Any]]) -> None:
        x = union([0])  # a keeps b's contribution of the last sync
        for r, res in enumerate(phase):
            n = res["shift"]
            assert n["elapsed"] < 1.0 + 3.0, f"rank {r}: sync took {n['elapsed']:.2f}s with timeout=1"
            assert n["nodes"] == 1
            assert [(m["socket"], m["code"]) for m in n["missing"]] == [(kb[1], "timeout")], n["missing"]
            check_normalization(n, x, f"rank {r} (b hung)")
        b.summary_delay = 0.0
        b.stop()

    def stopped(phase: List[Dict[str, Any]]) -> None:
        x = union([0])
        for r, res in enumerate(phase):
            n = res["shift"]
            assert n["elapsed"] < 3.0, f"rank {r}: sync took {n['elapsed']:.2f}s with b stopped"
            assert n["nodes"] == 1 and [(m["host"], m["socket"], m["code"]) for m in n["missing"]] == [
                (kb[0], kb[1], "connection_failed")
            ]
            check_normalization(n, x, f"rank {r} (b stopped)")
        a.stop()

    def all_down(phase: List[Dict[str, Any]]) -> None:
        for r, res in enumerate(phase):
            n = res["shift"]
            assert n["nodes"] == 0 and n["error"]["code"] == "connection_failed", n
            assert sorted(m["socket"] for m in n["missing"]) == sorted([ka[1], kb[1]])
            assert "scaling_factor" not in n
        a.start()
        b.start()
        del b.streams[STREAM]  # b's data is gone (deleted there): the union must drop it
        clear()

    def without_b(phase: List[Dict[str, Any]]) -> None:
        x = union([0], ranks=[0, 1])
        for r, res in enumerate(phase):
            n = res["shift"]
            assert n["nodes"] == 1 and n["missing"] == [], n
            check_normalization(n, x, f"rank {r} (b without data)")
        assert [r["kind"] for r in requests(a, "delete_peer")] == ["delete_peer"]
        assert a.streams[STREAM]["peers"] == {}
        assert list(b.streams[STREAM]["peers"]) == [peer_name(ka)]  # created by the PUT

    try:
        dist_ranks.run_world(
            4, sockets,
            ["push_0_and_sync", "sync_plain", "sync_subgroup", "sync_short_timeout", "sync_plain", "sync_plain",
             "sync_plain"],
            [exchanged, again, subgroup, hung, stopped, all_down, without_b],
            tmp, params={"stream": STREAM, "short_timeout": 1.0},
        )
    finally:
        a.stop()
        b.stop()


# -- 4 ranks, 2 real daemons -----------------------------------------------------------------------------


def _require_summary_endpoint(proc: ScaledProcess) -> None:
    c = latentscale.Client(proc.socket)
    try:
        c.summary("probe-no-such-stream")
    except latentscale.LatentScaleError as exc:
        if exc.code == "stream_not_found":
            return
        message = (
            f"{proc.binary} has no GET /v1/streams/NAME/summary (answered {exc.code}): it predates the "
            "daemon side of cross-node sync; build a scaled that has it, or set LATENTSCALE_SKIP_E2E=1"
        )
        if os.environ.get("LATENTSCALE_SKIP_E2E") == "1":
            pytest.skip(message)
        pytest.fail(message, pytrace=False)
    finally:
        c.close()
    pytest.fail("GET …/summary of a stream that does not exist answered 200")


def check_quantiles(stats: Dict[str, Any], x: np.ndarray, where: str) -> None:
    vals = np.sort(x.ravel())
    n = vals.size
    for q, v in stats["quantiles"].items():
        qf = float(q)
        lo = vals[max(0, int(np.floor((qf - 0.001) * (n - 1))))]
        hi = vals[min(n - 1, int(np.ceil((qf + 0.001) * (n - 1))))]
        assert lo - 0.01 * abs(lo) <= v <= hi + 0.01 * abs(hi), f"{where}.quantiles[{q}] = {v}: outside [{lo}, {hi}] widened by 1%"


@pytest.mark.e2e
def test_sync_real_daemons(tmp: str) -> None:
    binary = _require_binary()
    da, db = os.path.join(tmp, "a"), os.path.join(tmp, "b")
    os.makedirs(da)
    os.makedirs(db)
    a, b = ScaledProcess(binary, da).start(), ScaledProcess(binary, db).start()
    _require_summary_endpoint(a)
    ka, kb = node_key(a.socket), node_key(b.socket)
    ca = latentscale.Client(a.socket)
    reference = "union-of-all"  # one stream on a, pushed every shard, for the CI

    def push_reference(phases: List[int]) -> None:
        for p in phases:
            for r in range(4):
                ca.push(reference, dist_ranks.shard(r, p))

    def same_ci(n: Dict[str, Any], where: str) -> None:
        ref = ca.normalization(reference, mode=n["mode"], method=n.get("method", "std"))
        for i, (got, want) in enumerate(zip(n["scaling_factor_ci95"], ref["scaling_factor_ci95"])):
            close(got, want, what=f"{where}.scaling_factor_ci95[{i}]")
        assert n["converged"] == ref["converged"], f"{where}.converged {n['converged']}, one stream: {ref['converged']}"

    def modes(phase: List[Dict[str, Any]]) -> None:
        x = union([0])
        push_reference([0])
        for r, res in enumerate(phase):
            assert res["pushed"] == 1, f"rank {r}: the monitor had not sent its batch"
            for mode in ("shift", "channel", "whiten", "scalar_rms"):
                n = res[mode]
                assert n["nodes"] == 2 and n["missing"] == [], f"rank {r} {mode}: {n['nodes']} {n['missing']}"
                check_normalization(n, x, f"rank {r} {mode}")
                same_ci(n, f"rank {r} {mode}")
        for proc, other in ((a, kb), (b, ka)):
            c = latentscale.Client(proc.socket)
            st = c.status(STREAM, scope="global")
            assert [p["name"] for p in st["peers"]] == [peer_name(other)]
            assert st["peers"][0]["samples"] == 2 * dist_ranks.SHAPE[0]
            assert st["peers"][0]["elements"] == x.size // 2
            check_quantiles(st["cumulative"], x, f"{proc.socket} global status")
            local = c.status(STREAM)
            assert local["totals"]["samples"] == 2 * dist_ranks.SHAPE[0], "scope=local is still the node's own data"
            c.close()

    def more(phase: List[Dict[str, Any]]) -> None:
        x = union([0, 1])
        push_reference([1])
        for r, res in enumerate(phase):
            for key in ("shift", "again"):
                n = res[key]
                assert n["nodes"] == 2 and n["missing"] == []
                check_normalization(n, x, f"rank {r} {key} (more pushed)")
                same_ci(n, f"rank {r} {key}")
        b.stop()
        b.start()

    def restarted(phase: List[Dict[str, Any]]) -> None:
        x = union([0, 1, 2])
        push_reference([2])
        for r, res in enumerate(phase):
            for key in ("shift", "whiten"):
                n = res[key]
                assert n["nodes"] == 2 and n["missing"] == []
                check_normalization(n, x, f"rank {r} {key} (b restarted)")
            same_ci(res["shift"], f"rank {r} shift (b restarted)")
        assert b.proc is not None
        os.kill(b.proc.pid, signal.SIGSTOP)

    def hung(phase: List[Dict[str, Any]]) -> None:
        assert b.proc is not None
        os.kill(b.proc.pid, signal.SIGCONT)
        x = union([0, 1, 2])  # a still holds b's summary of the last sync
        for r, res in enumerate(phase):
            n = res["shift"]
            assert n["elapsed"] < 2.0 + 4.0, f"rank {r}: sync took {n['elapsed']:.2f}s with timeout=2 and b hung"
            assert n["nodes"] == 1 and [(m["socket"], m["code"]) for m in n["missing"]] == [(kb[1], "timeout")], n["missing"]
            check_normalization(n, x, f"rank {r} (b hung)")
        b.stop()

    def stopped(phase: List[Dict[str, Any]]) -> None:
        x = union([0, 1, 2])
        for r, res in enumerate(phase):
            n = res["shift"]
            assert n["elapsed"] < 5.0, f"rank {r}: sync took {n['elapsed']:.2f}s with b stopped"
            assert n["nodes"] == 1
            assert [(m["host"], m["socket"], m["code"]) for m in n["missing"]] == [(kb[0], kb[1], "connection_failed")]
            check_normalization(n, x, f"rank {r} (b stopped)")

    try:
        dist_ranks.run_world(
            4, [a.socket, a.socket, b.socket, b.socket],
            ["push_and_sync_modes", "push_1_and_sync", "push_2_and_sync", "sync_short_timeout", "sync_plain"],
            [modes, more, restarted, hung, stopped],
            tmp, params={"stream": STREAM, "short_timeout": 2.0},
        )
    finally:
        ca.close()
        if b.proc is not None and b.proc.poll() is None:
            os.kill(b.proc.pid, signal.SIGCONT)
        a.stop()
        b.stop()


@pytest.mark.e2e
def test_refused_summaries_leave_that_node_out(scaled: ScaledProcess) -> None:
    """A leader whose daemon refuses a node's summary (other channel count, damaged
    bytes) merges the rest and lists that node in ``missing`` with the daemon's code."""
    from latentscale import distributed

    _require_summary_endpoint(scaled)
    c = latentscale.Client(scaled.socket)
    own, good = dist_ranks.shard(0, 0), dist_ranks.shard(1, 0)
    c.push("refuse-own", own)
    c.push("refuse-good", good)
    c.push("refuse-c8", dist_ranks.shard(2, 0, (4, 8, 4, 4)))
    offers = [{"summary": c.summary("refuse-own")}, {"summary": c.summary("refuse-c8")},
              {"summary": b"not a summary at all"}, {"summary": c.summary("refuse-good")}]
    nodes = [("h0", "/s0"), ("h1", "/s1"), ("h2", "/s2"), ("h3", "/s3")]
    leaders = {k: r for r, k in enumerate(nodes)}
    answer = distributed._merge_on_leader(c, "refuse-own", nodes[0], nodes, leaders, offers, "channel", "std",
                                          time.monotonic() + 30)
    n = distributed._pick([answer, None, None, None], 0, [0, 1, 2, 3], nodes, offers, leaders, "channel", "std")
    assert n["nodes"] == 2
    assert [(m["host"], m["code"]) for m in n["missing"]] == [("h1", "channel_mismatch"), ("h2", "invalid_summary")]
    check_normalization(n, np.concatenate([own, good]).astype(np.float64), "own + good")
    assert [p["name"] for p in c.status("refuse-own", scope="global")["peers"]] == [peer_name(nodes[3])]
    c.close()


def test_bad_arguments_raise_before_any_collective(fake: FakeScaled) -> None:
    with pytest.raises(ValueError, match="mode"):
        sync(STREAM, socket=fake.path, mode="bogus")
    with pytest.raises(ValueError, match="method"):
        sync(STREAM, socket=fake.path, method="mean")
    with pytest.raises(ValueError, match="whiten"):
        sync(STREAM, socket=fake.path, mode="whiten", method="rms")
    with pytest.raises(ValueError, match="stream"):
        sync("", socket=fake.path)
    assert fake.requests == []


# -- NCCL ------------------------------------------------------------------------------------------------


@pytest.mark.skipif(not torch.cuda.is_available(), reason="needs CUDA (NCCL)")
def test_sync_nccl(tmp: str) -> None:
    """The exchange over NCCL: objects go through each rank's current CUDA device."""
    if not torch.distributed.is_nccl_available():
        pytest.skip("this torch has no NCCL")
    world = min(torch.cuda.device_count(), 4)
    fakes = [FakeScaled(os.path.join(tmp, f"{i}.sock")).start() for i in range(2 if world > 1 else 1)]
    sockets = [fakes[r * len(fakes) // world].path for r in range(world)]
    ranks_of = {f.path: [r for r in range(world) if sockets[r] == f.path] for f in fakes}

    def check(phase: List[Dict[str, Any]]) -> None:
        x = union([0], ranks=list(range(world)))
        for r, res in enumerate(phase):
            n = res["shift"]
            assert n["nodes"] == len(fakes) and n["missing"] == [], n
            check_normalization(n, x, f"rank {r} (nccl)")
        assert all(ranks_of.values())

    try:
        dist_ranks.run_world(world, sockets, ["push_0_and_sync"], [check], tmp, backend="nccl",
                             params={"stream": STREAM})
    finally:
        for f in fakes:
            f.stop()
