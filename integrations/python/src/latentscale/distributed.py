"""One normalization for the whole job: exact cross-node merge over ``torch.distributed``.

Each node runs its own ``scaled`` beside its ranks, so each daemon only knows its
own shard. :func:`sync` is a collective, like ``torch.distributed.all_reduce``:
every rank of the group calls it, and every rank gets back the normalization of
the union of every node's data (the daemon's ``normalization?scope=global``),
computed from exact, mergeable summaries rather than averaged per-rank factors.

>>> import latentscale.distributed
>>> n = latentscale.distributed.sync("sd15", mode="shift")   # doctest: +SKIP
>>> n["scaling_factor"], n["shift_factor"], n["nodes"], n["missing"]  # doctest: +SKIP

How it works, on every call:

1. Every rank names its daemon with a key ``(hostname, realpath(socket))``; the
   keys are gathered, and the lowest rank of each key is that node's leader.
2. Each leader reads its daemon's own summary of the stream
   (``GET …/summary``: never its peers'). A stream that does not exist or holds
   no data contributes nothing; a daemon that cannot be reached contributes
   nothing and is reported in ``missing``.
3. The summaries are gathered. Each leader ``PUT``s every *other* node's summary
   as a peer of its own daemon, under the peer name :func:`peer_name` of that
   node's key (a ``PUT`` replaces that peer's earlier contribution, so syncing
   again never counts anything twice), then reads ``normalization?scope=global``.
4. The leaders' answers are gathered; every rank returns its own leader's, or,
   when its daemon is down, that of the lowest-ranked leader that has one.

Collectives use ``torch.distributed.all_gather_object``, which works with gloo
and NCCL. With NCCL the objects travel as byte tensors on the *current* CUDA
device: call ``torch.cuda.set_device(local_rank)`` before ``sync`` (as every
NCCL job does before its first collective), or all ranks of a node use GPU 0.

It never deadlocks the job: whatever its daemon does, every rank takes part in
exactly three gathers, and a daemon that is down, hung (``timeout`` bounds the
time spent on it) or answering errors only puts its node in ``missing``. Only a
failing process group raises (``RuntimeError`` from ``torch.distributed``), and
the group's own timeout (``init_process_group(timeout=...)``) bounds a rank that
never arrives.
"""

from __future__ import annotations

import hashlib
import logging
import os
import socket as _socket
import time
from typing import Any, Dict, List, Optional, Tuple

from ._client import Client, default_socket_path
from ._errors import LatentScaleConnectionError, LatentScaleError

__all__ = ["sync", "node_key", "peer_name"]

log = logging.getLogger("latentscale")

NodeKey = Tuple[str, str]

_MODES = ("scalar", "shift", "channel", "whiten")
_METHODS = ("std", "rms")

# Answers that mean "this node has nothing for the stream", not "this node is down".
_NO_DATA = ("no_data", "stream_not_found")


def node_key(socket: Optional[str] = None) -> NodeKey:
    """``(hostname, realpath(socket))``: ranks with equal keys share one daemon."""
    path = os.fspath(socket) if socket is not None else default_socket_path()
    return (_socket.gethostname(), os.path.realpath(os.path.abspath(path)))


def peer_name(key: NodeKey) -> str:
    """The stable peer name a node's summary is stored under on the other daemons.

    ``node-`` and the first 16 hex digits of SHA-1 of ``host|socket``: the same
    node gets the same name at every sync and after restarts, so each ``PUT``
    replaces its previous contribution.
    """
    host, path = key
    return "node-" + hashlib.sha1(f"{host}|{path}".encode("utf-8")).hexdigest()[:16]


def sync(
    stream: str,
    *,
    socket: Optional[str] = None,
    mode: str = "shift",
    method: str = "std",
    group: Any = None,
    timeout: float = 60.0,
) -> Dict[str, Any]:
    """Merge every node's statistics of ``stream``; returns the global normalization.

    A collective: every rank of ``group`` (default: the whole job) must call it.
    ``socket`` is this rank's daemon (``None``: the default socket), ``mode`` and
    ``method`` as for :meth:`Client.normalization`. ``timeout`` bounds the seconds
    a leader spends on its own daemon during the call (each request gets what is
    left; waiting in a collective for another node does not count), so a call
    waits at most about ``2 * timeout`` on daemons (the slowest summary read, then
    the slowest merge); the collectives themselves are bounded by the process
    group's timeout.

    Returns the daemon's ``normalization?scope=global`` JSON (``scaling_factor``,
    ``shift_factor`` or ``latents_mean``/``latents_std``/``whitening_matrix``,
    ``samples``, ``elements``, ``scaling_factor_ci95``, ``converged``, ...) plus:

    - ``nodes``: how many nodes' current summaries the answer merges;
    - ``missing``: ``[{"host", "socket", "code", "error"}]``, the nodes whose daemon
      could not be reached (or refused a summary) at this sync. The other daemons
      keep what such a node contributed at its last successful sync, so its data
      stays in the answer until it syncs again.

    When no daemon could answer at all (every daemon down, or no data anywhere),
    the dict has ``mode``, ``method``, ``nodes``, ``missing`` and ``error``
    (``{"code", "message"}``) and no normalization keys. Without an initialized
    ``torch.distributed`` default group, the call is a world of one rank.
    """
    # Argument errors raise here, before any collective, on every rank that makes them.
    if not isinstance(stream, str) or not stream:
        raise ValueError("stream must be a non-empty string")
    if mode not in _MODES:
        raise ValueError(f"mode must be one of {', '.join(_MODES)}, not {mode!r}")
    if method not in _METHODS:
        raise ValueError(f"method must be one of {', '.join(_METHODS)}, not {method!r}")
    if mode == "whiten" and method == "rms":
        raise ValueError("method='rms' has no whitening form; use method='std' with mode='whiten'")
    dist = _dist_or_none(group)
    rank = dist.get_rank(group) if dist is not None else 0
    if rank < 0:
        raise ValueError("this rank is not a member of group=: only the group's ranks take part in sync")
    world = dist.get_world_size(group) if dist is not None else 1
    socket_path = os.fspath(socket) if socket is not None else default_socket_path()
    me = node_key(socket_path)

    # 1. Who shares a daemon with whom.
    keys: List[NodeKey] = [tuple(k) for k in _gather(dist, group, world, me)]  # type: ignore[misc]
    leaders: Dict[NodeKey, int] = {}
    for r, k in enumerate(keys):
        leaders.setdefault(k, r)
    nodes = sorted(leaders, key=leaders.__getitem__)  # in rank order of their leaders
    leader = leaders[me] == rank

    # The budget counts only time spent on this node's daemon, not time spent
    # waiting in a collective for a slower node.
    budget = max(0.0, float(timeout))
    client: Optional[Client] = None

    # 2. Each leader's own summary.
    offer: Optional[Dict[str, Any]] = None
    if leader:
        client = Client(socket_path, timeout=max(0.001, budget))
        started = time.monotonic()
        offer = _read_summary(client, stream, started + budget)
        budget -= time.monotonic() - started
    try:
        offers = _gather(dist, group, world, offer)

        # 3. Each leader stores the others' summaries as peers, then asks for the union.
        answer: Optional[Dict[str, Any]] = None
        if leader:
            assert client is not None
            deadline = time.monotonic() + budget
            answer = _merge_on_leader(client, stream, me, nodes, leaders, offers, mode, method, deadline)
    finally:
        if client is not None:
            client.close()

    # 4. Every rank gets a leader's answer.
    answers = _gather(dist, group, world, answer)
    return _pick(answers, leaders[me], [leaders[k] for k in nodes], nodes, offers, leaders, mode, method)


# -- the leader's work --------------------------------------------------------------------


def _remaining(client: Client, deadline: float) -> bool:
    """Give the next request what is left of the time; False when none is.

    The connection is reopened so that its socket timeouts (receive and the
    kernel's send timeout) are the time left, not the time at its first request.
    """
    left = deadline - time.monotonic()
    if left <= 0:
        return False
    client.close()
    client.timeout = left
    return True


def _failure(exc: BaseException) -> Dict[str, str]:
    if isinstance(exc, LatentScaleError):
        return {"code": exc.code, "error": str(exc)}
    return {"code": "client_error", "error": f"{type(exc).__name__}: {exc}"}


def _timed_out() -> Dict[str, str]:
    return {"code": "timeout", "error": "the sync's timeout ran out before scaled answered"}


def _read_summary(client: Client, stream: str, deadline: float) -> Dict[str, Any]:
    """``{"summary": bytes | None}`` or ``{"failure": {...}}``; never raises."""
    if not _remaining(client, deadline):
        return {"failure": _timed_out()}
    try:
        return {"summary": client.summary(stream)}
    except LatentScaleError as exc:
        if exc.code in _NO_DATA and not isinstance(exc, LatentScaleConnectionError):
            return {"summary": None}
        return {"failure": _failure(exc)}
    except Exception as exc:  # never leave the other ranks waiting in a collective
        return {"failure": _failure(exc)}


def _merge_on_leader(
    client: Client,
    stream: str,
    me: NodeKey,
    nodes: List[NodeKey],
    leaders: Dict[NodeKey, int],
    offers: List[Optional[Dict[str, Any]]],
    mode: str,
    method: str,
    deadline: float,
) -> Dict[str, Any]:
    """``{"normalization", "contributed", "refused"}`` or ``{"failure"}``; never raises."""
    own = offers[leaders[me]] or {}
    if "failure" in own:
        return {"failure": own["failure"]}
    contributed: List[int] = [leaders[me]] if own.get("summary") is not None else []
    refused: Dict[int, Dict[str, str]] = {}
    try:
        for key in nodes:
            r = leaders[key]
            if key == me:
                continue
            offer = offers[r] or {}
            if "failure" in offer:
                continue  # unreachable: keep what it gave at its last sync
            if not _remaining(client, deadline):
                return {"failure": _timed_out()}
            peer = peer_name(key)
            summary = offer.get("summary")
            if summary is None:
                # It has no data now (deleted or reset there): neither has the union.
                try:
                    client.delete_peer(stream, peer)
                except LatentScaleError as exc:
                    if isinstance(exc, LatentScaleConnectionError) or exc.code not in ("peer_not_found", "stream_not_found"):
                        raise
                continue
            try:
                client.put_peer(stream, peer, summary)
            except LatentScaleError as exc:
                if isinstance(exc, LatentScaleConnectionError) or exc.status is None or exc.status >= 500:
                    raise
                refused[r] = _failure(exc)  # e.g. channel_mismatch: that node's data is left out here
                log.warning("latentscale: scaled at %s refused the summary of %s:%s for stream %r: %s",
                            client.socket_path, key[0], key[1], stream, exc)
                continue
            contributed.append(r)
        if not _remaining(client, deadline):
            return {"failure": _timed_out()}
        normalization = client.normalization(stream, mode=mode, method=method, scope="global")
    except Exception as exc:
        return {"failure": _failure(exc)}
    return {"normalization": normalization, "contributed": contributed, "refused": refused}


# -- every rank ------------------------------------------------------------------------------


def _pick(
    answers: List[Optional[Dict[str, Any]]],
    my_leader: int,
    leader_ranks: List[int],
    nodes: List[NodeKey],
    offers: List[Optional[Dict[str, Any]]],
    leaders: Dict[NodeKey, int],
    mode: str,
    method: str,
) -> Dict[str, Any]:
    def usable(r: int) -> bool:
        a = answers[r]
        return a is not None and "normalization" in a

    chosen = my_leader if usable(my_leader) else next((r for r in leader_ranks if usable(r)), None)
    missing: List[Dict[str, Any]] = []
    for key in nodes:
        r = leaders[key]
        offer = offers[r] or {}
        failure = offer.get("failure")
        if failure is None and chosen is not None:
            failure = (answers[chosen] or {}).get("refused", {}).get(r)
        if failure is not None:
            missing.append({"host": key[0], "socket": key[1], **failure})
    if chosen is None:
        error = next(
            ((answers[r] or {}).get("failure") for r in leader_ranks if (answers[r] or {}).get("failure")),
            None,
        ) or {"code": "no_data", "error": "no node holds data for this stream"}
        return {
            "mode": mode,
            "method": method,
            "nodes": 0,
            "missing": missing,
            "error": {"code": error["code"], "message": error["error"]},
        }
    answer = answers[chosen]
    assert answer is not None
    result = dict(answer["normalization"])
    result["nodes"] = len(answer["contributed"])
    result["missing"] = missing
    return result


# -- torch.distributed -----------------------------------------------------------------------


def _dist_or_none(group: Any) -> Any:
    try:
        import torch.distributed as dist  # type: ignore[import-not-found]
    except ImportError:
        if group is not None:
            raise
        return None
    if not dist.is_available() or not dist.is_initialized():
        if group is not None:
            raise RuntimeError("latentscale.distributed.sync: group= given but torch.distributed is not initialized")
        return None
    return dist


def _gather(dist: Any, group: Any, world: int, obj: Any) -> List[Any]:
    if dist is None:
        return [obj]
    out: List[Any] = [None] * world
    dist.all_gather_object(out, obj, group=group)
    return out
