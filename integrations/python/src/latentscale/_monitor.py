"""The non-blocking pusher for training loops."""

from __future__ import annotations

import atexit
import functools
import logging
import os
import queue
import threading
import time
import weakref
from dataclasses import dataclass
from typing import Any, Dict, List, Mapping, Optional, Tuple

from ._client import Client
from ._errors import LatentScaleConnectionError, LatentScaleError
from ._tensors import BufferPool, Snapshot, is_torch_tensor, snapshot

__all__ = ["Monitor", "MonitorStats", "rank_tag", "SCALAR_KEYS"]

log = logging.getLogger("latentscale")

WARN_INTERVAL = 60.0
# Under a backlog that never drains, scalars() is still refreshed this often (seconds).
SCALARS_MAX_AGE = 5.0

#: The keys of :meth:`Monitor.scalars`, in order.
SCALAR_KEYS = (
    "latentscale/normalized_std",
    "latentscale/clamp_fraction",
    "latentscale/scaling_factor",
    "latentscale/flags_firing",
    "latentscale/pushed",
    "latentscale/dropped",
)

_NAN = float("nan")
_DAEMON_KEYS = SCALAR_KEYS[:4]
_EMPTY_VIEW: Dict[str, float] = {k: _NAN for k in _DAEMON_KEYS}


@dataclass(frozen=True)
class MonitorStats:
    """Counts of what happened to the batches handed to :meth:`Monitor.push`.

    ``pushed``: acknowledged by ``scaled``. ``dropped``: discarded without being
    sent (queue full, daemon unreachable, monitor closed). ``failed``: sent but not
    acknowledged (error answer, connection lost, timeout). ``skipped``: calls not
    sampled because of ``every=N``. ``queued``: waiting to be sent now.
    """

    pushed: int
    dropped: int
    failed: int
    skipped: int
    queued: int


def rank_tag(environ: Optional[Mapping[str, str]] = None) -> Optional[str]:
    """``"rank{RANK}of{WORLD_SIZE}"`` when both are set and WORLD_SIZE > 1, else None."""
    env = os.environ if environ is None else environ
    rank, world = env.get("RANK"), env.get("WORLD_SIZE")
    if rank is None or world is None:
        return None
    try:
        r, w = int(rank), int(world)
    except ValueError:
        return None
    return f"rank{r}of{w}" if w > 1 else None


class _Item:
    __slots__ = ("snap", "step", "tag")

    def __init__(self, snap: Snapshot, step: Optional[int], tag: Optional[str]) -> None:
        self.snap = snap
        self.step = step
        self.tag = tag


class _RateLimitedWarning:
    """Logs a warning at most once per ``interval`` seconds, counting what it held back."""

    def __init__(self, interval: float) -> None:
        self.interval = interval
        self._last = float("-inf")
        self._lock = threading.Lock()

    def __call__(self, message: str, *args: Any) -> None:
        now = time.monotonic()
        with self._lock:
            if now - self._last < self.interval:
                return
            self._last = now
        log.warning(message, *args)


class Monitor:
    """Pushes latents to ``scaled`` from a training loop without slowing it down.

    :meth:`push` copies the batch, puts the copy in a bounded queue and returns; a
    background thread sends it. When the queue is full the batch is dropped and
    counted (a warning is logged at most once a minute). When ``scaled`` is down the
    thread reconnects with exponential backoff and batches are dropped meanwhile;
    nothing is ever raised into the training loop for that.

    Parameters:
        stream: the stream name (``^[A-Za-z0-9][A-Za-z0-9._-]{0,127}$``).
        socket: the daemon's socket; ``None`` for the default path.
        queue_size: batches waiting to be sent at most.
        every: push only every N-th call (the 1st, N+1-th, ...).
        max_samples: send only the first K samples of each batch.
        config: stream config sent with ``PUT`` each time the monitor (re)connects,
            e.g. from :func:`latentscale.diffusers.stream_config_from`.
        timeout: seconds one request may take before it counts as failed.
        tag: a label sent with every push (e.g. a resolution bucket); the rank tag
            from ``RANK``/``WORLD_SIZE`` is appended to it.
        channel_axis: overrides the stream's channel axis for these pushes.

    Properties: :attr:`normalization` and :attr:`flags` (latest from the daemon's
    push answers), :attr:`stats`, :attr:`connected`, :attr:`last_error`.
    """

    def __init__(
        self,
        stream: str,
        socket: Optional[str] = None,
        *,
        queue_size: int = 8,
        every: int = 1,
        max_samples: Optional[int] = None,
        config: Optional[Mapping[str, Any]] = None,
        timeout: float = 10.0,
        tag: Optional[str] = None,
        channel_axis: Optional[int] = None,
        backoff_initial: float = 0.1,
        backoff_max: float = 10.0,
        warn_interval: float = WARN_INTERVAL,
    ) -> None:
        if queue_size < 1:
            raise ValueError("queue_size must be at least 1")
        if every < 1:
            raise ValueError("every must be at least 1")
        if max_samples is not None and max_samples < 1:
            raise ValueError("max_samples must be at least 1 (or None for all)")
        self.stream = stream
        self.every = int(every)
        self.max_samples = max_samples
        self.config: Optional[Dict[str, Any]] = dict(config) if config is not None else None
        self.channel_axis = channel_axis
        self.rank_tag = rank_tag()
        self.default_tag = tag
        self._client = Client(socket, timeout=timeout)
        self.socket_path = self._client.socket_path
        self._queue: "queue.Queue[Optional[_Item]]" = queue.Queue(maxsize=queue_size)
        self._pool = BufferPool(per_key=queue_size + 1)
        self._backoff_initial = backoff_initial
        self._backoff_max = backoff_max

        self._lock = threading.Lock()
        self._calls = 0
        self._pushed = 0
        self._dropped = 0
        self._failed = 0
        self._skipped = 0
        self._down = False  # read on the caller's thread to drop without copying
        self._closed = False
        self._normalization: Optional[Dict[str, Any]] = None
        self._flags: List[Dict[str, Any]] = []
        # What scalars() reports from the daemon: replaced whole by the sending thread
        # (one reference assignment), read without a lock by the training loop.
        self._view: Dict[str, float] = _EMPTY_VIEW
        self._stale = False  # a push was acknowledged since the view was last refreshed
        self._refreshed_at = time.monotonic()
        self._scalars_max_age = SCALARS_MAX_AGE
        self._last_error: Optional[str] = None
        self._stop = threading.Event()
        self._abandon = False
        self._warn_full = _RateLimitedWarning(warn_interval)
        self._warn_down = _RateLimitedWarning(warn_interval)
        self._warn_failed = _RateLimitedWarning(warn_interval)
        self._warn_closed = _RateLimitedWarning(warn_interval)

        self._thread = threading.Thread(
            target=_run_worker, args=(weakref.ref(self),), name=f"latentscale-{stream}", daemon=True
        )
        self._thread.start()
        weakref.finalize(self, _wake, self._queue)
        _live_monitors.add(self)

    # -- the training loop's side -------------------------------------------------

    def push(self, latents: Any, step: Optional[int] = None, tag: Optional[str] = None) -> bool:
        """Queue a copy of ``latents`` for sending; returns False if it was not queued.

        Never blocks on the daemon. Raises only for input that can never be sent
        (wrong dtype, fewer than 2 dimensions).
        """
        return self._submit(latents, step, tag, owned=False)

    def _admit(self) -> bool:
        """Whether this call is sampled and has room; counts it otherwise."""
        with self._lock:
            n = self._calls
            self._calls = n + 1
            if n % self.every:
                self._skipped += 1
                return False
            if self._closed or self._down or self._queue.full():
                self._dropped += 1
                reason = "closed" if self._closed else "down" if self._down else "full"
            else:
                return True
        if reason == "full":
            self._warn_full(
                "latentscale: dropping batches for stream %r: the send queue is full "
                "(scaled at %s is slower than the training loop); raise queue_size or every=",
                self.stream,
                self.socket_path,
            )
        elif reason == "closed":
            self._warn_closed("latentscale: monitor for stream %r is closed; push() ignored", self.stream)
        return False

    def _submit(self, latents: Any, step: Optional[int], tag: Optional[str], *, owned: bool) -> bool:
        if not self._admit():
            return False
        item = _Item(snapshot(latents, self.max_samples, owned=owned, pool=self._pool), step, self._tag(tag))
        try:
            self._queue.put_nowait(item)
        except queue.Full:
            with self._lock:
                self._dropped += 1
            return False
        return True

    def _tag(self, tag: Optional[str]) -> Optional[str]:
        base = tag if tag is not None else self.default_tag
        if self.rank_tag is None:
            return base
        return f"{base}-{self.rank_tag}" if base else self.rank_tag

    # -- results --------------------------------------------------------------------

    @property
    def normalization(self) -> Optional[Dict[str, Any]]:
        """The normalization from the latest acknowledged push (None before the first)."""
        return self._normalization

    @property
    def flags(self) -> List[Dict[str, Any]]:
        """The flags from the latest acknowledged push."""
        return self._flags

    @property
    def stats(self) -> MonitorStats:
        with self._lock:
            return MonitorStats(self._pushed, self._dropped, self._failed, self._skipped, self._queue.qsize())

    def scalars(self) -> Dict[str, float]:
        """The monitor's latest figures as a flat dict of floats, for any tracker.

        ``accelerator.log(monitor.scalars(), step=step)``, ``wandb.log(...)``,
        ``writer.add_scalars("latentscale", ...)``. Keys (:data:`SCALAR_KEYS`):

        - ``latentscale/normalized_std``: std of the daemon's window after the
          reference normalization (the ``variance_drift`` figure; the target is the
          stream's ``target_std``).
        - ``latentscale/clamp_fraction``: share of the normalized window outside
          ±``clip_sample_range`` (NaN while the scheduler's clamp is off).
        - ``latentscale/scaling_factor``: the current estimate (shift mode, std).
        - ``latentscale/flags_firing``: how many flags are ``firing``.
        - ``latentscale/pushed``: batches acknowledged by ``scaled``.
        - ``latentscale/dropped``: batches handed to :meth:`push` that are not in the
          daemon's statistics (``stats.dropped + stats.failed``; ``every=`` skips
          are not counted).

        A daemon figure is NaN until the daemon has reported it. Never blocks and
        never raises: it reads what the sending thread last stored, which refreshes
        the first four after each acknowledged push once it has caught up with the
        queue (``flush()`` waits for that refresh), and at least every 5 s under a
        backlog that never drains. With ``scaled`` slow, stopped or
        gone the last figures stay and ``dropped`` grows.
        """
        out = dict(self._view)
        with self._lock:
            pushed, lost = self._pushed, self._dropped + self._failed
        out["latentscale/pushed"] = float(pushed)
        out["latentscale/dropped"] = float(lost)
        return out

    @property
    def connected(self) -> bool:
        """False while the daemon is known to be unreachable."""
        return not self._down

    @property
    def last_error(self) -> Optional[str]:
        """The latest error seen by the sending thread, if any."""
        return self._last_error

    # -- lifecycle ------------------------------------------------------------------

    def flush(self, timeout: Optional[float] = None) -> bool:
        """Wait until every queued batch was sent (or dropped); False on timeout."""
        q = self._queue
        deadline = None if timeout is None else time.monotonic() + timeout
        with q.all_tasks_done:
            while q.unfinished_tasks:
                remaining = None if deadline is None else deadline - time.monotonic()
                if remaining is not None and remaining <= 0:
                    return False
                q.all_tasks_done.wait(remaining)
        return True

    def sync(self, **kwargs: Any) -> Dict[str, Any]:
        """Flush, then :func:`latentscale.distributed.sync` this monitor's stream.

        A collective: call it on every rank of the group, at the same point (e.g.
        every N steps). It first waits (up to ``timeout``, default 60 s) until the
        queue is empty, so the daemon holds every batch this rank pushed (if that
        times out it warns and syncs anyway), then merges every node's statistics
        with ``stream`` and ``socket`` set to the monitor's. Keyword arguments go to ``sync`` (``mode``, ``method``,
        ``group``, ``timeout``). Returns the global normalization with ``nodes``
        and ``missing``; raises only when the process group fails.
        """
        from .distributed import sync

        for key in ("stream", "socket"):
            if key in kwargs:
                raise TypeError(f"Monitor.sync() takes no {key}=: it syncs the monitor's own")
        timeout = float(kwargs.get("timeout", 60.0))
        if not self.flush(timeout):
            # Never skip the collective: the other ranks are already in it.
            log.warning(
                "latentscale: stream %r: %d batches still queued after %.1fs; syncing without them",
                self.stream,
                self._queue.qsize(),
                timeout,
            )
        return sync(self.stream, socket=self.socket_path, **kwargs)

    def close(self, timeout: Optional[float] = 10.0) -> bool:
        """Send what is queued (for up to ``timeout`` seconds) and stop the thread.

        Returns True when everything queued was dealt with in time; batches still
        queued after the timeout are dropped.
        """
        with self._lock:
            already = self._closed
            self._closed = True
        if not already:
            _live_monitors.discard(self)
            self._stop.set()
            _wake(self._queue)
        self._thread.join(timeout)
        finished = not self._thread.is_alive()
        if finished:
            self._client.close()
        else:
            self._abandon = True  # stop sending; what is left is dropped
        return finished

    def __enter__(self) -> "Monitor":
        return self

    def __exit__(self, *exc: Any) -> None:
        self.close()

    def __repr__(self) -> str:
        s = self.stats
        return (
            f"Monitor(stream={self.stream!r}, socket={self.socket_path!r}, pushed={s.pushed}, "
            f"dropped={s.dropped}, failed={s.failed})"
        )

    # -- diffusers --------------------------------------------------------------------

    def wrap_vae(self, vae: Any) -> Any:
        """Patch ``vae.encode`` so every call also pushes ``latent_dist.sample()``.

        The encode call's return value is unchanged, and the sample is drawn with the
        monitor's own generator so the caller's random stream is not disturbed.
        Undo with :func:`latentscale.unwrap_vae`. Returns ``vae``.
        """
        original = vae.encode
        if getattr(original, "__latentscale_original__", None) is not None:
            original = original.__latentscale_original__
        generators: Dict[Any, Any] = {}

        @functools.wraps(original)
        def encode(*args: Any, **kwargs: Any) -> Any:
            out = original(*args, **kwargs)
            try:
                if self._admit():
                    latents = _vae_latents(out, generators)
                    if latents is not None:
                        self._enqueue_owned(latents)
            except Exception as exc:  # never break the caller's encode
                self._note_error(f"wrap_vae: {type(exc).__name__}: {exc}")
            return out

        encode.__latentscale_original__ = original  # type: ignore[attr-defined]
        vae.encode = encode
        return vae

    def _enqueue_owned(self, latents: Any) -> None:
        item = _Item(
            snapshot(latents, self.max_samples, owned=is_torch_tensor(latents), pool=self._pool), None, self._tag(None)
        )
        try:
            self._queue.put_nowait(item)
        except queue.Full:
            with self._lock:
                self._dropped += 1

    # -- the sending thread's side ----------------------------------------------------

    def _note_error(self, message: str) -> None:
        self._last_error = message
        self._warn_failed("latentscale: %s", message)

    def _connect(self) -> None:
        """Probe the daemon (and send the config); raises LatentScaleConnectionError."""
        if self.config is not None:
            try:
                self._client.configure(self.stream, self.config)
            except LatentScaleConnectionError:
                raise
            except LatentScaleError as exc:
                self._note_error(f"scaled rejected the config for stream {self.stream!r}: {exc}")
        else:
            self._client.health()

    def _send(self, item: _Item) -> None:
        wire = item.snap.wire()
        try:
            response = self._client.push_bytes(
                self.stream,
                wire.data,
                wire.dtype,
                wire.shape,
                step=item.step,
                tag=item.tag,
                channel_axis=self.channel_axis,
            )
        finally:
            del wire
            item.snap.release()
        normalization = response.get("normalization")
        if normalization is not None:
            self._normalization = normalization
        self._flags = list(response.get("flags") or [])
        view = dict(self._view)
        view["latentscale/scaling_factor"] = _number((normalization or {}).get("scaling_factor"))
        view["latentscale/flags_firing"] = _firing(self._flags)
        self._view = view
        self._stale = True

    def _refresh(self) -> None:
        """Fetch this stream's listing entry (``GET /v1/streams``) into the view.

        The listing carries exactly the figures of :meth:`scalars` and is cheap for
        the daemon (no quantile sketch is merged for it, unlike the full status).
        """
        listing = self._client.streams()
        self._stale = False
        self._refreshed_at = time.monotonic()
        for entry in listing.get("streams") or []:
            if isinstance(entry, Mapping) and entry.get("name") == self.stream:
                flags = entry.get("flags")
                self._view = {
                    "latentscale/normalized_std": _number(entry.get("normalized_std")),
                    "latentscale/clamp_fraction": _number(entry.get("clamp_fraction")),
                    "latentscale/scaling_factor": _number(entry.get("scaling_factor")),
                    "latentscale/flags_firing": _firing(flags) if isinstance(flags, list) else self._view["latentscale/flags_firing"],
                }
                return


def _number(value: Any) -> float:
    """A JSON number as a float; NaN for null, absent or anything else."""
    if isinstance(value, bool) or not isinstance(value, (int, float)):
        return _NAN
    return float(value)


def _firing(flags: Any) -> float:
    return float(sum(1 for f in flags or [] if isinstance(f, Mapping) and f.get("state") == "firing"))


_live_monitors: "weakref.WeakSet[Monitor]" = weakref.WeakSet()


@atexit.register
def _close_live_monitors() -> None:
    for monitor in list(_live_monitors):
        monitor.close(timeout=2.0)


def _wake(q: "queue.Queue[Optional[_Item]]") -> None:
    try:
        q.put_nowait(None)
    except queue.Full:
        pass


def _run_worker(ref: "weakref.ref[Monitor]") -> None:
    """The sending loop. Holds the monitor only weakly while it waits."""
    m = ref()
    if m is None:
        return
    q = m._queue
    stop = m._stop
    backoff = m._backoff_initial
    retry_at = 0.0
    connected = False
    del m
    while True:
        m = ref()
        if m is None:
            return
        if not connected and time.monotonic() >= retry_at and not stop.is_set():
            try:
                m._connect()
                if m._down:
                    log.info("latentscale: reconnected to scaled at %s", m.socket_path)
                connected, m._down, backoff = True, False, m._backoff_initial
            except LatentScaleConnectionError as exc:
                m._down = True
                m._last_error = str(exc)
                retry_at = time.monotonic() + backoff
                m._warn_down(
                    "latentscale: %s; dropping batches for stream %r, retrying in %.1fs",
                    exc.message,
                    m.stream,
                    backoff,
                )
                backoff = min(backoff * 2, m._backoff_max)
        wait = None if connected or stop.is_set() else max(0.0, retry_at - time.monotonic())
        del m
        try:
            item = q.get(timeout=wait)
        except queue.Empty:
            continue
        try:
            m = ref()
            if m is None:
                return
            if item is not None:
                if connected and not m._abandon:
                    connected = _send_one(m, item)
                    if connected and m._stale and not m._abandon and (
                        not _batches_waiting(q) or time.monotonic() - m._refreshed_at > m._scalars_max_age
                    ):
                        connected = _refresh_one(m)
                    if not connected:
                        retry_at = time.monotonic() + backoff
                        backoff = min(backoff * 2, m._backoff_max)
                else:
                    item.snap.release()
                    with m._lock:
                        m._dropped += 1
            del item
        finally:
            q.task_done()
        if stop.is_set() and q.empty():
            return
        del m


def _batches_waiting(q: "queue.Queue[Optional[_Item]]") -> bool:
    """Whether a batch (not just the wake-up sentinel) is queued behind this one."""
    with q.mutex:
        return any(x is not None for x in q.queue)


def _refresh_one(m: Monitor) -> bool:
    """Refresh what scalars() reports; returns whether the connection is still believed up.

    Done when the queue holds no batch, so a backlog is not slowed by it (and at least
    every SCALARS_MAX_AGE seconds under one that never drains); a failure here is not a
    failed batch.
    """
    try:
        m._refresh()
    except LatentScaleConnectionError as exc:
        m._down = not exc.timeout
        m._note_error(str(exc))
        return False
    except LatentScaleError as exc:
        m._note_error(f"scaled did not list stream {m.stream!r}: {exc}")
    except Exception as exc:
        m._note_error(f"could not read the listing of stream {m.stream!r}: {type(exc).__name__}: {exc}")
    return True


def _send_one(m: Monitor, item: _Item) -> bool:
    """Send one batch; returns whether the connection is still believed up."""
    try:
        m._send(item)
    except LatentScaleConnectionError as exc:
        with m._lock:
            m._failed += 1
        m._down = not exc.timeout
        m._note_error(str(exc))
        return False
    except LatentScaleError as exc:
        with m._lock:
            m._failed += 1
        m._note_error(f"scaled rejected a batch for stream {m.stream!r}: {exc}")
        return True
    except Exception as exc:  # e.g. a tensor that cannot reach the CPU
        with m._lock:
            m._failed += 1
        m._note_error(f"could not send a batch for stream {m.stream!r}: {type(exc).__name__}: {exc}")
        return True
    with m._lock:
        m._pushed += 1
    return True


def _vae_latents(out: Any, generators: Dict[Any, Any]) -> Any:
    """The latents of one ``vae.encode`` result: a sample of ``latent_dist`` if any."""
    dist = getattr(out, "latent_dist", None)
    if dist is None and isinstance(out, tuple) and out:
        candidate = out[0]
        dist = candidate if hasattr(candidate, "sample") and not is_torch_tensor(candidate) else None
        if dist is None:
            return candidate
    if dist is None:
        latent = getattr(out, "latent", None)  # e.g. AutoencoderDC's EncoderOutput
        return latent if latent is not None else (out if is_torch_tensor(out) else None)
    mean: Any = getattr(dist, "mean", None)
    if is_torch_tensor(mean):
        import torch  # type: ignore[import-not-found]  # a tensor exists, so torch is imported

        device = mean.device
        gen = generators.get(device)
        if gen is None:
            gen = torch.Generator(device=device)
            gen.seed()
            generators[device] = gen
        try:
            return dist.sample(generator=gen)
        except TypeError:
            pass
    return dist.sample()
