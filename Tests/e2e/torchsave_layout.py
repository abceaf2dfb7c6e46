"""Writes files in exactly the zip layout of `torch.save`, without torch.

`torch.save(obj, "x.pt")` writes a zip with `x/data.pkl` (a protocol-2
pickle in which each tensor is `torch._utils._rebuild_tensor_v2(storage,
offset, size, stride, requires_grad, OrderedDict())` and each storage a
persistent id `('storage', torch.FloatStorage, key, location, numel)`),
`x/data/{key}` (the storage's raw little-endian bytes), `x/byteorder` and
`x/version`. The globals are written by name; nothing here imports torch,
so the fixtures exist on machines without it.
"""
import collections
import pickle
import zipfile

import numpy as np

STORAGES = {np.dtype("<f4"): "FloatStorage", np.dtype("<f2"): "HalfStorage", np.dtype("<f8"): "DoubleStorage"}


class _Global:
    """Stands for a torch global; pickled as GLOBAL module name."""

    def __init__(self, module, name):
        self.module, self.name = module, name

    def __call__(self, *args):  # pickle wants the reduce function callable
        raise RuntimeError(f"{self.module}.{self.name} is only written, never called")


REBUILD = _Global("torch._utils", "_rebuild_tensor_v2")


class Storage:
    def __init__(self, flat: np.ndarray, kind: str | None = None):
        """`flat` is the storage's elements; `kind` the storage class (bfloat16
        storages are given as uint16 bit patterns with kind='BFloat16Storage')."""
        self.flat = np.ascontiguousarray(flat).reshape(-1)
        self.kind = kind or STORAGES[self.flat.dtype]


class Tensor:
    def __init__(self, storage: Storage, size, stride=None, offset: int = 0):
        self.storage, self.size, self.offset = storage, tuple(size), offset
        if stride is None:
            stride, acc = [], 1
            for d in reversed(self.size):
                stride.insert(0, acc)
                acc *= d
        self.stride = tuple(stride)

    def __reduce__(self):
        return (REBUILD, (self.storage, self.offset, self.size, self.stride, False, collections.OrderedDict()))


def tensor(array: np.ndarray) -> Tensor:
    """A contiguous tensor holding `array` in its own storage."""
    return Tensor(Storage(array), np.shape(array))


class _Pickler(pickle._Pickler):
    def __init__(self, file):
        super().__init__(file, protocol=2)
        self.storages = {}

    def persistent_id(self, obj):
        if isinstance(obj, Storage):
            key = self.storages.setdefault(id(obj), (str(len(self.storages)), obj))[0]
            return ("storage", _Global("torch", obj.kind), key, "cpu", obj.flat.size)
        return None

    def save_global(self, obj, name=None):
        if isinstance(obj, _Global):
            self.write(pickle.GLOBAL + f"{obj.module}\n{obj.name}\n".encode())
            self.memoize(obj)
            return
        super().save_global(obj, name)

    dispatch = dict(pickle._Pickler.dispatch)
    dispatch[_Global] = save_global


def save(obj, path, archive: str | None = None, byteorder: str = "little") -> None:
    import io
    buf = io.BytesIO()
    p = _Pickler(buf)
    p.dump(obj)
    name = archive or str(path).rsplit("/", 1)[-1].rsplit(".", 1)[0]
    with zipfile.ZipFile(path, "w", compression=zipfile.ZIP_STORED) as z:
        z.writestr(f"{name}/data.pkl", buf.getvalue())
        z.writestr(f"{name}/byteorder", byteorder)
        for key, storage in p.storages.values():
            flat = storage.flat.byteswap() if byteorder == "big" else storage.flat
            z.writestr(f"{name}/data/{key}", flat.tobytes())
        z.writestr(f"{name}/version", "3\n")


def save_pickle(pickle_bytes: bytes, path, archive: str = "archive") -> None:
    """A torch.save-shaped zip around arbitrary pickle bytes (for hostile files)."""
    with zipfile.ZipFile(path, "w", compression=zipfile.ZIP_STORED) as z:
        z.writestr(f"{archive}/data.pkl", pickle_bytes)
        z.writestr(f"{archive}/byteorder", "little")
        z.writestr(f"{archive}/version", "3\n")
