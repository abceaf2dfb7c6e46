"""Multi-process harness for the ``latentscale.distributed`` tests.

The parent starts ``world`` ranks with ``torch.multiprocessing`` (a fresh
interpreter each, start method ``spawn``, or ``$LATENTSCALE_TEST_START_METHOD``),
which join a gloo (or NCCL) process group through ``init_method=file://…`` in a
temporary directory: no network. A rank runs a list of *phases* (functions in
this module, named so a fresh interpreter can import them); after each phase it
writes what it returned to ``OUT/phase{k}-rank{r}.json`` and every rank waits
while the parent acts (restarts a daemon, stops one, ...), so the parent steers
the daemons between collectives without any rank being in one.
"""

from __future__ import annotations

import datetime
import json
import os
import sys
import time
from pathlib import Path
from typing import Any, Callable, Dict, List, Optional, Sequence

import numpy as np

HERE = Path(__file__).resolve().parent
SRC = HERE.parent / "src"

C = 4
SHAPE = (6, C, 8, 8)


def shard(rank: int, phase: int, shape: Sequence[int] = SHAPE) -> np.ndarray:
    """Rank ``rank``'s batch for ``phase``: its own channel means, stds and correlation."""
    rng = np.random.default_rng(1000 * phase + rank)
    c = shape[1]
    extra = (1,) * (len(shape) - 2)
    means = (np.linspace(-1.0, 2.0, c) + 0.7 * rank - 0.2 * phase).reshape((1, c) + extra)
    stds = (np.linspace(0.5, 1.5, c) * (1.0 + 0.5 * rank)).reshape((1, c) + extra)
    z = rng.standard_normal(tuple(shape))
    z[:, 1:] += (0.2 + 0.1 * rank) * z[:, :1]  # correlated channels, differently per rank
    return (z * stds + means).astype(np.float32)


def start_method() -> str:
    return os.environ.get("LATENTSCALE_TEST_START_METHOD", "spawn")


# -- the rank side -----------------------------------------------------------------------


def _rank_main(
    rank: int,
    world: int,
    init_file: str,
    backend: str,
    sockets: List[str],
    out_dir: str,
    phases: List[str],
    params: Dict[str, Any],
    ready: Any,
    go: Any,
) -> None:
    for p in (str(SRC), str(HERE)):
        if p not in sys.path:
            sys.path.insert(0, p)
    import torch
    import torch.distributed as dist

    if backend == "nccl":
        torch.cuda.set_device(rank % torch.cuda.device_count())
    dist.init_process_group(
        backend, init_method=f"file://{init_file}", rank=rank, world_size=world,
        timeout=datetime.timedelta(seconds=float(params.get("pg_timeout", 120))),
    )
    state: Dict[str, Any] = {"rank": rank, "world": world, "socket": sockets[rank], "params": params}
    try:
        for k, name in enumerate(phases):
            result = globals()[name](state)
            with open(os.path.join(out_dir, f"phase{k}-rank{rank}.json"), "w") as f:
                json.dump(result, f)
            dist.barrier()
            if rank == 0:
                ready[k].set()
            if not go[k].wait(float(params.get("parent_timeout", 120))):
                raise RuntimeError(f"rank {rank}: the parent did not finish its step after phase {k}")
            dist.barrier()
    finally:
        mon = state.get("monitor")
        if mon is not None:
            mon.close(timeout=5)
        dist.destroy_process_group()


def run_world(
    world: int,
    sockets: List[str],
    phases: List[str],
    after: List[Optional[Callable[[List[Dict[str, Any]]], None]]],
    tmp: str,
    *,
    backend: str = "gloo",
    params: Optional[Dict[str, Any]] = None,
    timeout: float = 300.0,
) -> List[List[Dict[str, Any]]]:
    """Run ``phases`` on ``world`` ranks; ``after[k](results_of_phase_k)`` runs between phases.

    Returns every phase's per-rank results. A failing rank or ``after`` step, or a
    world that does not finish within ``timeout`` seconds, fails the test (ranks
    still running are terminated).
    """
    import torch.multiprocessing as tmp_mp

    if start_method() == "forkserver":
        import multiprocessing

        # The server imports torch once; each rank is forked from it.
        multiprocessing.set_forkserver_preload(["torch", "torch.distributed"])
    ctx = tmp_mp.get_context(start_method())
    ready = [ctx.Event() for _ in phases]
    go = [ctx.Event() for _ in phases]
    out_dir = os.path.join(tmp, "out")
    os.makedirs(out_dir, exist_ok=True)
    init_file = os.path.join(tmp, "pg-init")
    pc = tmp_mp.start_processes(
        _rank_main,
        args=(world, init_file, backend, sockets, out_dir, list(phases), dict(params or {}), ready, go),
        nprocs=world,
        join=False,
        start_method=start_method(),
    )
    deadline = time.monotonic() + timeout
    results: List[List[Dict[str, Any]]] = []
    try:
        for k in range(len(phases)):
            while not ready[k].wait(0.1):
                if pc.join(timeout=0.01):  # raises ProcessRaisedException with the rank's traceback
                    raise AssertionError(f"every rank exited before finishing phase {k}")
                if time.monotonic() > deadline:
                    raise AssertionError(f"phase {k} ({phases[k]}) did not finish within {timeout}s: a rank hangs")
            phase = []
            for r in range(world):
                with open(os.path.join(out_dir, f"phase{k}-rank{r}.json")) as f:
                    phase.append(json.load(f))
            results.append(phase)
            step = after[k] if k < len(after) else None
            if step is not None:
                step(phase)
            go[k].set()
        while not pc.join(timeout=0.2):
            if time.monotonic() > deadline:
                raise AssertionError(f"the ranks did not exit within {timeout}s")
    finally:
        for p in pc.processes:
            if p.is_alive():
                p.terminate()
        for p in pc.processes:
            p.join(10)
    return results


# -- phases (each returns something JSON-serializable) -------------------------------------


def _client(state: Dict[str, Any]) -> Any:
    import latentscale

    c = state.get("client")
    if c is None:
        c = state["client"] = latentscale.Client(state["socket"], timeout=10)
    return c


def _push(state: Dict[str, Any], phase: int) -> None:
    c = _client(state)
    c.push(state["params"]["stream"], shard(state["rank"], phase))


def _timed_sync(state: Dict[str, Any], **kwargs: Any) -> Dict[str, Any]:
    from latentscale.distributed import sync

    t0 = time.monotonic()
    result = sync(state["params"]["stream"], socket=state["socket"], **kwargs)
    result["elapsed"] = time.monotonic() - t0
    return result


def push_and_sync_modes(state: Dict[str, Any]) -> Dict[str, Any]:
    """Phase 0 through a Monitor: push, ``monitor.sync()`` in three modes."""
    import latentscale

    mon = state["monitor"] = latentscale.Monitor(state["params"]["stream"], state["socket"], queue_size=16)
    mon.push(shard(state["rank"], 0))
    out = {"shift": mon.sync(mode="shift")}
    out["pushed"] = mon.stats.pushed
    out["channel"] = mon.sync(mode="channel")
    out["whiten"] = mon.sync(mode="whiten")
    out["scalar_rms"] = mon.sync(mode="scalar", method="rms")
    return out


def push_1_and_sync(state: Dict[str, Any]) -> Dict[str, Any]:
    _push(state, 1)
    return {"shift": _timed_sync(state), "again": _timed_sync(state)}


def push_2_and_sync(state: Dict[str, Any]) -> Dict[str, Any]:
    _client(state).close()  # a daemon was restarted: start on a fresh connection
    _push(state, 2)
    return {"shift": _timed_sync(state), "whiten": _timed_sync(state, mode="whiten")}


def sync_short_timeout(state: Dict[str, Any]) -> Dict[str, Any]:
    return {"shift": _timed_sync(state, timeout=float(state["params"].get("short_timeout", 2.0)))}


def sync_plain(state: Dict[str, Any]) -> Dict[str, Any]:
    return {"shift": _timed_sync(state)}


def sync_channel(state: Dict[str, Any]) -> Dict[str, Any]:
    return {"channel": _timed_sync(state, mode="channel")}


def push_0_and_sync(state: Dict[str, Any]) -> Dict[str, Any]:
    _push(state, 0)
    return {"shift": _timed_sync(state)}


def sync_subgroup(state: Dict[str, Any]) -> Dict[str, Any]:
    """Ranks 0 and 2 (one per daemon) sync over their own group; 1 and 3 may not."""
    import torch.distributed as dist

    group = dist.new_group([0, 2])  # every rank creates it, as torch requires
    if state["rank"] in (0, 2):
        return {"shift": _timed_sync(state, group=group)}
    try:
        _timed_sync(state, group=group)
    except ValueError as exc:
        return {"refused": str(exc)}
    return {"refused": None}


def bench_sync(state: Dict[str, Any]) -> Dict[str, Any]:
    """Push one batch, then time ``sync`` ``reps`` times (after one warm-up)."""
    import torch.distributed as dist

    p = state["params"]
    c = _client(state)
    c.push(p["stream"], shard(state["rank"], 0, (p["samples"], p["channels"], p["size"], p["size"])))
    _timed_sync(state)
    times = []
    for _ in range(int(p["reps"])):
        dist.barrier()
        times.append(_timed_sync(state)["elapsed"])
    out: Dict[str, Any] = {"times": times}
    if state["rank"] == 0:
        out["summary_bytes"] = len(c.summary(p["stream"]))
    return out
