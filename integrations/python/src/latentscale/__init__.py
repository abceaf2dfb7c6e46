"""latentscale: push VAE latents to ``scaled`` and get their normalization back.

>>> import latentscale
>>> monitor = latentscale.Monitor("sd15")          # doctest: +SKIP
>>> monitor.push(latents, step=step)                # doctest: +SKIP
"""

from __future__ import annotations

from typing import Any

from ._client import Client, UnixHTTPConnection, default_socket_path
from ._errors import LatentScaleConnectionError, LatentScaleError
from ._monitor import SCALAR_KEYS, Monitor, MonitorStats, rank_tag

__version__ = "0.1.0"

__all__ = [
    "Client",
    "Monitor",
    "MonitorStats",
    "SCALAR_KEYS",
    "LatentScaleError",
    "LatentScaleConnectionError",
    "UnixHTTPConnection",
    "default_socket_path",
    "rank_tag",
    "unwrap_vae",
    "__version__",
]


def unwrap_vae(vae: Any) -> Any:
    """Undo :meth:`Monitor.wrap_vae`: restore the original ``vae.encode``."""
    original: Any = getattr(vae.encode, "__latentscale_original__", None)
    if original is None:
        return vae
    bound_self: Any = getattr(original, "__self__", None)
    class_method: Any = getattr(type(vae), "encode", None)
    if bound_self is vae and class_method is getattr(original, "__func__", None):
        del vae.encode  # the class's own method shows through again
    else:
        vae.encode = original
    return vae
