"""Helpers for diffusers: stream config from VAE/scheduler configs, and writing a
normalization back into a VAE ``config.json``.

diffusers itself is never imported: config objects are read through their
mapping interface (``FrozenDict``), a ``.config`` attribute (models, schedulers),
or plain attributes.
"""

from __future__ import annotations

import json
import math
import os
import tempfile
from typing import Any, Dict, List, Mapping, Optional, Tuple, Union

__all__ = ["stream_config_from", "update_vae_config", "diffusers_keys", "NORMALIZATION_KEYS"]

#: The VAE config keys a normalization may set.
NORMALIZATION_KEYS = ("scaling_factor", "shift_factor", "latents_mean", "latents_std", "whitening_matrix")

#: Which keys each normalization mode writes (as ``format=diffusers`` returns them).
MODE_KEYS: Dict[str, Tuple[str, ...]] = {
    "scalar": ("scaling_factor",),
    "shift": ("scaling_factor", "shift_factor"),
    "channel": ("scaling_factor", "latents_mean", "latents_std"),
    "whiten": ("scaling_factor", "latents_mean", "whitening_matrix"),
}

# diffusers' AutoencoderKL default, used when an AutoencoderKL config omits the key.
_AUTOENCODER_KL_DEFAULT_SCALING = 0.18215

_MISSING = object()

PathOrConfig = Union[str, "os.PathLike[str]", Mapping[str, Any]]


def _as_mapping(obj: Any, what: str) -> Optional[Mapping[str, Any]]:
    """A read-only view of a config given as a dict, FrozenDict, path, or object."""
    if obj is None:
        return None
    if isinstance(obj, (str, os.PathLike)):
        path = os.fspath(obj)
        if os.path.isdir(path):
            for name in ("config.json", "scheduler_config.json"):
                if os.path.exists(os.path.join(path, name)):
                    path = os.path.join(path, name)
                    break
        with open(path, encoding="utf-8") as f:
            loaded = json.load(f)
        if not isinstance(loaded, dict):
            raise ValueError(f"{path} does not hold a JSON object")
        return loaded
    if isinstance(obj, Mapping):
        return obj
    config = getattr(obj, "config", None)  # a diffusers model or scheduler
    if config is not None and config is not obj:
        return _as_mapping(config, what)
    if hasattr(obj, "__dict__"):
        return {k: v for k, v in vars(obj).items() if not k.startswith("__")}
    raise TypeError(f"{what} must be a dict, a diffusers config or object with .config, or a path; got {type(obj).__name__}")


def _get(cfg: Mapping[str, Any], key: str) -> Any:
    try:
        return cfg[key]
    except KeyError:
        return _MISSING


def _number(value: Any, key: str) -> float:
    try:
        out = float(value)
    except (TypeError, ValueError):
        raise ValueError(f"{key} must be a number, got {value!r}") from None
    if not math.isfinite(out):
        raise ValueError(f"{key} must be finite, got {value!r}")
    return out


def _vector(value: Any, key: str) -> List[float]:
    if hasattr(value, "tolist"):  # numpy array or torch tensor
        value = value.tolist()
    if not isinstance(value, (list, tuple)) or not value:
        raise ValueError(f"{key} must be a non-empty list of numbers, got {value!r}")
    return [_number(v, key) for v in value]


def reference_from_vae_config(vae_config: Any) -> Optional[Dict[str, Any]]:
    """The ``reference`` a training job applies with this VAE, or None if it declares none.

    Per channel when ``latents_mean`` and ``latents_std`` are set (Playground v2.5,
    Wan: ``(z - mean) * scaling_factor / std``, ``scaling_factor`` 1.0 when absent);
    otherwise scalar ``(z - shift_factor) * scaling_factor`` (SD, SDXL, SD3, FLUX).
    """
    cfg = _as_mapping(vae_config, "vae_config")
    if cfg is None:
        return None
    scaling = _get(cfg, "scaling_factor")
    shift = _get(cfg, "shift_factor")
    mean = _get(cfg, "latents_mean")
    std = _get(cfg, "latents_std")
    if mean not in (None, _MISSING) and std not in (None, _MISSING):
        lm, ls = _vector(mean, "latents_mean"), _vector(std, "latents_std")
        if len(lm) != len(ls):
            raise ValueError(f"latents_mean has {len(lm)} channels but latents_std has {len(ls)}")
        if any(v <= 0 for v in ls):
            raise ValueError("latents_std must be positive")
        factor = 1.0 if scaling in (None, _MISSING) else _number(scaling, "scaling_factor")
        return {"latents_mean": lm, "latents_std": ls, "scaling_factor": factor}
    if scaling in (None, _MISSING):
        if _get(cfg, "_class_name") == "AutoencoderKL":
            scaling = _AUTOENCODER_KL_DEFAULT_SCALING
        else:
            return None
    ref: Dict[str, Any] = {"scaling_factor": _number(scaling, "scaling_factor")}
    ref["shift_factor"] = 0.0 if shift in (None, _MISSING) else _number(shift, "shift_factor")
    return ref


def scheduler_from_config(scheduler_config: Any) -> Optional[Dict[str, Any]]:
    """``{"clip_sample", "clip_sample_range", "thresholding"}`` as the scheduler applies them.

    A scheduler without ``clip_sample`` (Euler, flow matching) does not clamp.
    With ``thresholding`` on, diffusers applies dynamic thresholding instead of the
    fixed clamp (``if thresholding: ... elif clip_sample: clamp``), so ``clip_sample``
    is sent as off; ``thresholding`` itself is passed along for display.
    """
    cfg = _as_mapping(scheduler_config, "scheduler_config")
    if cfg is None:
        return None
    clip = _get(cfg, "clip_sample")
    clip_on = bool(clip) if clip is not _MISSING and clip is not None else False
    thresholding = _get(cfg, "thresholding") is True
    if thresholding:
        clip_on = False
    rng = _get(cfg, "clip_sample_range")
    clip_range = 1.0 if rng in (None, _MISSING) else _number(rng, "clip_sample_range")
    if clip_range <= 0:
        raise ValueError(f"clip_sample_range must be positive, got {clip_range}")
    return {"clip_sample": clip_on, "clip_sample_range": clip_range, "thresholding": thresholding}


def stream_config_from(
    vae_config: Any = None,
    scheduler_config: Any = None,
    **overrides: Any,
) -> Dict[str, Any]:
    """Build a ``scaled`` stream config from a diffusers VAE config and scheduler config.

    Each may be a plain dict, a diffusers ``FrozenDict``, a model or scheduler (its
    ``.config`` is read), or a path to its ``config.json``. ``overrides`` are stream
    config fields set as given (``window_batches=50``, ``target_std=0.5``, ...).

    >>> stream_config_from(vae_config={"scaling_factor": 0.13025},
    ...                    scheduler_config={"clip_sample": True, "clip_sample_range": 1.0})
    {'reference': {'scaling_factor': 0.13025, 'shift_factor': 0.0}, 'scheduler': {'clip_sample': True, 'clip_sample_range': 1.0, 'thresholding': False}}
    """
    config: Dict[str, Any] = {}
    reference = reference_from_vae_config(vae_config)
    if reference is not None:
        config["reference"] = reference
    scheduler = scheduler_from_config(scheduler_config)
    if scheduler is not None:
        config["scheduler"] = scheduler
    config.update(overrides)
    return config


def diffusers_keys(normalization: Mapping[str, Any]) -> Dict[str, Any]:
    """The VAE config keys of a normalization.

    Accepts the daemon's full normalization object (``format=json``: the keys of its
    ``mode`` are taken) or its ``format=diffusers`` answer (taken as is).
    """
    if not isinstance(normalization, Mapping):
        raise TypeError("normalization must be a dict as returned by Client.normalization()")
    mode = normalization.get("mode")
    if mode is not None:
        if mode not in MODE_KEYS:
            raise ValueError(f"unknown normalization mode {mode!r}")
        keys = MODE_KEYS[mode]
        missing = [k for k in keys if normalization.get(k) is None]
        if missing:
            raise ValueError(
                f"the normalization has no value for {', '.join(missing)} yet "
                f"(samples: {normalization.get('samples')}); push latents first"
            )
        return {k: normalization[k] for k in keys}
    out = {k: normalization[k] for k in NORMALIZATION_KEYS if k in normalization}
    if "scaling_factor" not in out:
        raise ValueError("the normalization has no scaling_factor")
    if out["scaling_factor"] is None:
        raise ValueError("the normalization's scaling_factor is null: push latents first")
    return out


def update_vae_config(path_or_dict: PathOrConfig, normalization: Mapping[str, Any]) -> Dict[str, Any]:
    """Write a normalization into a diffusers VAE config, keeping every other key.

    ``path_or_dict`` is a ``config.json`` path, a folder holding one (a VAE folder
    such as ``.../vae``), or a dict. A file is rewritten atomically (same key order,
    new keys appended); a dict is not modified. Normalization keys the new
    normalization does not use but the config already has (``shift_factor``,
    ``latents_mean``, ...) are set to null, so the config describes one
    normalization. Returns the updated config.
    """
    keys = diffusers_keys(normalization)
    path: Optional[str] = None
    if isinstance(path_or_dict, (str, os.PathLike)):
        path = os.fspath(path_or_dict)
        if os.path.isdir(path):
            path = os.path.join(path, "config.json")
        with open(path, encoding="utf-8") as f:
            config = json.load(f)
        if not isinstance(config, dict):
            raise ValueError(f"{path} does not hold a JSON object")
    elif isinstance(path_or_dict, Mapping):
        config = dict(path_or_dict)
    else:
        raise TypeError("path_or_dict must be a path to config.json or a dict")
    for key in NORMALIZATION_KEYS:
        if key in config and key not in keys:
            config[key] = None
    config.update(keys)
    if path is not None:
        directory = os.path.dirname(os.path.abspath(path))
        fd, tmp = tempfile.mkstemp(prefix=".config.", suffix=".json", dir=directory)
        try:
            with os.fdopen(fd, "w", encoding="utf-8") as f:
                json.dump(config, f, indent=2)
                f.write("\n")
            if os.path.exists(path):
                os.chmod(tmp, os.stat(path).st_mode & 0o777)
            os.replace(tmp, path)
        except BaseException:
            if os.path.exists(tmp):
                os.unlink(tmp)
            raise
    return config
