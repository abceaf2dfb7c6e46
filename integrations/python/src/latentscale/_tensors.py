"""Turning numpy arrays and torch tensors into the bytes ``scaled`` expects.

The wire format is one C-contiguous little-endian tensor with ``dtype`` one of
float16, float32, float64, bfloat16 and at least two dimensions (axis 0 is the
sample axis). torch is never imported here unless the caller already handed us
a torch tensor (and so already imported it).
"""

from __future__ import annotations

import sys
import threading
from dataclasses import dataclass
from typing import Any, Dict, List, Optional, Tuple

import numpy as np

WIRE_DTYPES = ("float16", "float32", "float64", "bfloat16")

_NUMPY_FLOAT_NAMES = {2: "float16", 4: "float32", 8: "float64"}


@dataclass(frozen=True)
class WireTensor:
    """A tensor ready to send: ``data`` is C-contiguous little-endian bytes."""

    data: memoryview
    dtype: str
    shape: Tuple[int, ...]

    @property
    def nbytes(self) -> int:
        return self.data.nbytes


def is_torch_tensor(x: Any) -> bool:
    """True for ``torch.Tensor`` and subclasses, without importing torch."""
    for cls in type(x).__mro__:
        if cls.__name__ == "Tensor" and cls.__module__ == "torch":
            return True
    return False


def _torch() -> Any:
    torch = sys.modules.get("torch")
    if torch is None:  # pragma: no cover - a tensor exists, so torch is imported
        import torch  # type: ignore[import-not-found, no-redef]
    return torch


def _numpy_wire_dtype(dt: np.dtype) -> Tuple[str, np.dtype]:
    """The wire dtype name for a numpy dtype and the little-endian numpy dtype to send."""
    if dt.kind == "f" and dt.itemsize in _NUMPY_FLOAT_NAMES:
        return _NUMPY_FLOAT_NAMES[dt.itemsize], dt.newbyteorder("<")
    if dt.name == "bfloat16" and dt.itemsize == 2:  # ml_dtypes.bfloat16
        if sys.byteorder != "little":  # pragma: no cover
            raise TypeError("bfloat16 arrays can only be sent from a little-endian host")
        return "bfloat16", dt
    raise TypeError(
        f"latents of dtype {dt} cannot be sent to scaled: use float16, bfloat16, "
        "float32 or float64"
    )


def _check_ndim(ndim: int) -> None:
    if ndim < 2:
        raise ValueError(
            f"latents need at least 2 dimensions (samples first, then channels), got {ndim}; "
            "add a batch axis, e.g. z[None]"
        )


def _limit(x: Any, max_samples: Optional[int]) -> Any:
    if max_samples is not None and x.shape[0] > max_samples:
        return x[:max_samples]
    return x


def _as_numpy(x: Any) -> np.ndarray:
    if isinstance(x, np.ndarray):
        return x
    arr = np.asarray(x)
    if arr.dtype == object:
        raise TypeError(f"cannot send {type(x).__name__} as latents")
    return arr


class BufferPool:
    """Reusable copy buffers, one free list per (kind, shape, dtype).

    Copying into a buffer whose pages are already mapped costs a plain memcpy;
    a fresh 2 MiB allocation per batch makes malloc map and zero new pages each
    time, which can cost several times the copy itself. The sending thread hands
    each buffer back once its bytes are on the socket.
    """

    def __init__(self, per_key: int, max_keys: int = 8) -> None:
        self.per_key = per_key
        self.max_keys = max_keys
        self._free: Dict[Any, List[Any]] = {}
        self._lock = threading.Lock()

    def get(self, key: Any) -> Any:
        with self._lock:
            free = self._free.get(key)
            return free.pop() if free else None

    def put(self, key: Any, buf: Any) -> None:
        with self._lock:
            free = self._free.get(key)
            if free is None:
                if len(self._free) >= self.max_keys:
                    self._free.pop(next(iter(self._free)))  # oldest shape first
                free = self._free[key] = []
            if len(free) < self.per_key:
                free.append(buf)


class Snapshot:
    """A private copy of one batch, taken on the caller's thread.

    Holds either a contiguous little-endian numpy copy, or a detached torch clone
    (still on its device). :meth:`wire` finishes the job off the caller's thread;
    :meth:`release` returns the buffer to its pool afterwards.
    """

    __slots__ = ("array", "tensor", "cuda_stream", "pool", "key")

    def __init__(
        self,
        array: Optional[np.ndarray] = None,
        tensor: Any = None,
        cuda_stream: Any = None,
        pool: Optional[BufferPool] = None,
        key: Any = None,
    ):
        self.array = array
        self.tensor = tensor
        self.cuda_stream = cuda_stream
        self.pool = pool
        self.key = key

    def wire(self) -> WireTensor:
        if self.array is not None:
            return _numpy_to_wire(self.array)
        return _torch_to_wire(self.tensor, self.cuda_stream)

    def release(self) -> None:
        """Give the buffer back to the pool (the wire bytes must no longer be used)."""
        if self.pool is not None:
            buf = self.array if self.array is not None else self.tensor
            self.pool.put(self.key, buf)
        self.array = self.tensor = self.pool = None


def snapshot(
    x: Any,
    max_samples: Optional[int] = None,
    *,
    owned: bool = False,
    pool: Optional[BufferPool] = None,
) -> Snapshot:
    """Copy ``x`` (first ``max_samples`` samples) so later edits to ``x`` cannot change it.

    This is the only work the monitor does on the training loop's thread: one copy,
    which also makes non-contiguous input contiguous. ``owned=True`` skips the copy for
    a fresh torch tensor nobody else holds. With a ``pool`` the copy goes into a
    reused buffer of the same shape and dtype when one is free.
    """
    if is_torch_tensor(x):
        torch = _torch()
        t = x.detach()
        _check_ndim(t.dim())
        if t.dtype not in (torch.float16, torch.bfloat16, torch.float32, torch.float64):
            raise TypeError(
                f"latents of dtype {t.dtype} cannot be sent to scaled: use float16, "
                "bfloat16, float32 or float64"
            )
        t = _limit(t, max_samples)
        if t.is_cuda:
            # The clone is queued on the caller's (current) stream; the background
            # thread copies it to the CPU on that same stream.
            stream = torch.cuda.current_stream(t.device)
            if not (owned and t.is_contiguous()):
                t = t.clone(memory_format=torch.contiguous_format)
            return Snapshot(tensor=t, cuda_stream=stream)
        if owned and t.is_contiguous():
            return Snapshot(tensor=t)
        if pool is not None and t.device.type == "cpu":
            key = ("torch", tuple(t.shape), t.dtype)
            buf = pool.get(key)
            if buf is None:
                buf = torch.empty(t.shape, dtype=t.dtype)
            buf.copy_(t)
            return Snapshot(tensor=buf, pool=pool, key=key)
        return Snapshot(tensor=t.clone(memory_format=torch.contiguous_format))
    arr = _as_numpy(x)
    _check_ndim(arr.ndim)
    _, target = _numpy_wire_dtype(arr.dtype)
    arr = _limit(arr, max_samples)
    if pool is None:
        return Snapshot(array=np.array(arr, dtype=target, order="C", copy=True))
    key = ("numpy", arr.shape, target)
    buf = pool.get(key)
    if buf is None:
        buf = np.empty(arr.shape, dtype=target)
    np.copyto(buf, arr, casting="unsafe")
    return Snapshot(array=buf, pool=pool, key=key)


def to_wire(x: Any, max_samples: Optional[int] = None) -> WireTensor:
    """Wire form of ``x`` for a synchronous send, copying only when it must."""
    if isinstance(x, Snapshot):
        return x.wire()
    if is_torch_tensor(x):
        return snapshot(x, max_samples, owned=True).wire()
    arr = _as_numpy(x)
    _check_ndim(arr.ndim)
    _, target = _numpy_wire_dtype(arr.dtype)
    arr = np.ascontiguousarray(_limit(arr, max_samples), dtype=target)
    return _numpy_to_wire(arr)


def _numpy_to_wire(arr: np.ndarray) -> WireTensor:
    name, target = _numpy_wire_dtype(arr.dtype)
    if arr.dtype != target or not arr.flags.c_contiguous:
        arr = np.ascontiguousarray(arr, dtype=target)
    if name == "bfloat16":
        data = arr.view(np.uint16).data.cast("B")
    else:
        data = arr.data.cast("B")
    return WireTensor(data=data, dtype=name, shape=tuple(int(n) for n in arr.shape))


def _torch_to_wire(t: Any, cuda_stream: Any) -> WireTensor:
    torch = _torch()
    if t.device.type != "cpu":
        if cuda_stream is not None:
            with torch.cuda.stream(cuda_stream):
                t = t.to("cpu")
        else:
            t = t.to("cpu")
    t = t.contiguous()
    if t.dtype == torch.bfloat16:
        arr = t.view(torch.int16).numpy()
        data = arr.data.cast("B")
        return WireTensor(data=data, dtype="bfloat16", shape=tuple(int(n) for n in t.shape))
    return _numpy_to_wire(t.numpy())
