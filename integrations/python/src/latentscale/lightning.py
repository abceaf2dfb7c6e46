"""A Lightning callback that pushes latents to ``scaled`` and logs what it reports.

>>> from latentscale.lightning import LatentScaleCallback       # doctest: +SKIP
>>> trainer = lightning.pytorch.Trainer(callbacks=[LatentScaleCallback("sd15", latents="latents")])

This module imports ``lightning`` (the ``lightning.pytorch`` package); the rest of
latentscale never does, so it works where Lightning is not installed.
"""

from __future__ import annotations

from typing import Any, Callable, Mapping, Optional, Union

try:
    import torch
    from lightning.pytorch import Callback
except ImportError as exc:  # pragma: no cover - exercised in a subprocess by the tests
    raise ImportError(
        "latentscale.lightning needs Lightning 2 (`pip install lightning`, which provides "
        "lightning.pytorch); the rest of latentscale works without it: use latentscale.Monitor "
        f"directly ({exc})"
    ) from exc

from ._monitor import Monitor

__all__ = ["LatentScaleCallback", "LOGGED_KEYS"]

#: What the callback logs with ``pl_module.log`` (a subset of :data:`latentscale.SCALAR_KEYS`).
LOGGED_KEYS = (
    "latentscale/normalized_std",
    "latentscale/clamp_fraction",
    "latentscale/scaling_factor",
    "latentscale/flags_firing",
)

LatentsSource = Union[str, Callable[[Any, Any, Any], Any]]


class LatentScaleCallback(Callback):
    """Pushes one tensor of latents per training batch to ``scaled``, on every rank.

    Parameters:
        stream: the stream name.
        latents: where the latents are: a key of the batch (a mapping, e.g. a
            dataset of cached latents yielding ``{"latents": ...}``), or a callable
            ``(pl_module, batch, outputs) -> tensor`` (``outputs`` is what
            ``training_step`` returned; return None to push nothing for that batch).
            Push the raw VAE output, before any ``scaling_factor`` is applied.
        socket: the daemon's socket (None: ``$SCALED_SOCKET`` and the usual default).
        every: push every N-th training batch (the 1st, N+1-th, ...); the others are
            not even extracted.
        sync_every: call :meth:`Monitor.sync` every N pushed-or-not batches on every
            rank (a collective: the same batches on every rank). It needs a Monitor
            with ``sync``; where latentscale has none yet, passing it raises.
        log: on global rank 0, log :data:`LOGGED_KEYS` with ``pl_module.log``
            (``on_step=True, on_epoch=False, sync_dist=False, rank_zero_only=True``)
            after each batch, as float64 tensors (kept as ``callback.log_figures``:
            Lightning overwrites ``callback.log``). The values are the monitor's latest (see
            :meth:`Monitor.scalars`): pushing is asynchronous, so a step logs what the
            daemon answered for an earlier push. NaN until the daemon has said.
        monitor_kwargs: passed to :class:`latentscale.Monitor` (``config``,
            ``queue_size``, ``max_samples``, ``tag``, ``channel_axis``, ``timeout``).

    The monitor is created in ``on_fit_start`` (so each rank has its own, made after
    the processes were launched; with several ranks the rank is sent in the tag as
    ``rank{R}of{W}``) and closed in ``on_fit_end`` or ``on_exception``. Each push
    carries ``step=trainer.global_step``. Nothing the daemon does (slow, stopped,
    gone) raises into training; a ``latents`` key that is not in the batch does.
    """

    def __init__(
        self,
        stream: str,
        *,
        latents: LatentsSource,
        socket: Optional[str] = None,
        every: int = 1,
        sync_every: Optional[int] = None,
        log: bool = True,
        **monitor_kwargs: Any,
    ) -> None:
        super().__init__()
        if not (isinstance(latents, str) or callable(latents)):
            raise TypeError("latents must be a key of the batch (str) or a callable (pl_module, batch, outputs) -> tensor")
        if every < 1:
            raise ValueError("every must be at least 1")
        if sync_every is not None:
            if sync_every < 1:
                raise ValueError("sync_every must be at least 1 (or None)")
            if not callable(getattr(Monitor, "sync", None)):
                raise NotImplementedError(
                    "sync_every needs Monitor.sync() (one normalization for the whole job, merged across "
                    "ranks), which this version of latentscale does not have; leave sync_every=None"
                )
        self.stream = stream
        self.latents = latents
        self.socket = socket
        self.every = int(every)
        self.sync_every = sync_every
        # Not `self.log`: Lightning sets `callback.log = pl_module.log` on every callback.
        self.log_figures = bool(log)
        self.monitor_kwargs = monitor_kwargs
        self.monitor: Optional[Monitor] = None
        self._batches = 0

    # -- hooks ----------------------------------------------------------------------

    def on_fit_start(self, trainer: Any, pl_module: Any) -> None:
        if self.monitor is not None:  # a second fit() with the same callback
            self.monitor.close()
        monitor = Monitor(self.stream, self.socket, **self.monitor_kwargs)
        world = int(getattr(trainer, "world_size", 1) or 1)
        if world > 1 and monitor.rank_tag is None:
            monitor.rank_tag = f"rank{int(trainer.global_rank)}of{world}"
        self.monitor = monitor
        self._batches = 0

    def on_train_batch_end(self, trainer: Any, pl_module: Any, outputs: Any, batch: Any, batch_idx: int) -> None:
        monitor = self.monitor
        if monitor is None:
            return
        n = self._batches
        self._batches = n + 1
        if n % self.every == 0:
            tensor = self._extract(pl_module, batch, outputs)
            if tensor is not None:
                monitor.push(tensor, step=int(trainer.global_step))
        if self.sync_every is not None and (n + 1) % self.sync_every == 0:
            monitor.sync()  # type: ignore[attr-defined]
        if self.log_figures and trainer.is_global_zero:
            scalars = monitor.scalars()
            for key in LOGGED_KEYS:
                # A float64 CPU tensor: a Python float would be stored as float32, and the
                # figures are compared with the daemon's to more digits than that holds.
                pl_module.log(
                    key,
                    torch.tensor(scalars[key], dtype=torch.float64),
                    on_step=True,
                    on_epoch=False,
                    prog_bar=False,
                    logger=True,
                    sync_dist=False,
                    rank_zero_only=True,
                    batch_size=1,
                )

    def on_fit_end(self, trainer: Any, pl_module: Any) -> None:
        self._close()

    def on_exception(self, trainer: Any, pl_module: Any, exception: BaseException) -> None:
        self._close()

    # -- helpers --------------------------------------------------------------------

    def _close(self) -> None:
        # The monitor object stays reachable (stats, scalars(), normalization) after it closed.
        if self.monitor is not None:
            self.monitor.close()

    def _extract(self, pl_module: Any, batch: Any, outputs: Any) -> Any:
        if callable(self.latents):
            return self.latents(pl_module, batch, outputs)
        key = self.latents
        if not isinstance(batch, Mapping):
            raise TypeError(
                f"LatentScaleCallback(latents={key!r}) needs batches that are mappings; this batch is a "
                f"{type(batch).__name__}: pass latents=lambda pl_module, batch, outputs: ... instead"
            )
        if key not in batch:
            raise KeyError(f"LatentScaleCallback: the batch has no {key!r}; its keys are {sorted(map(str, batch))}")
        return batch[key]
