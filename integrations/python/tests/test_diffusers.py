"""latentscale.diffusers on config dicts shaped like SD1.5, SDXL, SD3, FLUX, Wan, Playground."""

from __future__ import annotations

import copy
import json
import os
from collections.abc import Mapping
from types import SimpleNamespace
from typing import Any, Iterator

import pytest

from latentscale.diffusers import diffusers_keys, stream_config_from, update_vae_config
from vae_configs import DDPM_SCHEDULER, MODELS, SD3_VAE, SD15_VAE, SDXL_VAE, WAN_VAE


class FrozenLike(Mapping):
    """A read-only mapping like diffusers' FrozenDict (no dict subclass)."""

    def __init__(self, d: dict) -> None:
        self._d = dict(d)

    def __getitem__(self, k: str) -> Any:
        return self._d[k]

    def __iter__(self) -> Iterator[str]:
        return iter(self._d)

    def __len__(self) -> int:
        return len(self._d)


@pytest.mark.parametrize("name", sorted(MODELS))
def test_stream_config_from_model_configs(name: str) -> None:
    vae, sched, ref, sch, _ = MODELS[name]
    cfg = stream_config_from(vae_config=vae, scheduler_config=sched)
    assert cfg == {"reference": ref, "scheduler": sch}
    # The same through a FrozenDict-like mapping, an object with .config, and a plain object.
    assert stream_config_from(vae_config=FrozenLike(vae), scheduler_config=FrozenLike(sched)) == cfg
    assert stream_config_from(vae_config=SimpleNamespace(config=FrozenLike(vae)), scheduler_config=SimpleNamespace(config=sched)) == cfg
    assert stream_config_from(vae_config=SimpleNamespace(**vae), scheduler_config=SimpleNamespace(**sched)) == cfg
    json.dumps(cfg)  # what goes on the wire


def test_stream_config_from_paths_and_overrides(tmp_path: Any) -> None:
    (tmp_path / "vae").mkdir()
    (tmp_path / "scheduler").mkdir()
    (tmp_path / "vae" / "config.json").write_text(json.dumps(SDXL_VAE))
    (tmp_path / "scheduler" / "scheduler_config.json").write_text(json.dumps(DDPM_SCHEDULER))
    cfg = stream_config_from(tmp_path / "vae", str(tmp_path / "scheduler"), window_batches=50, target_std=0.5)
    assert cfg == {
        "reference": {"scaling_factor": 0.13025, "shift_factor": 0.0},
        "scheduler": {"clip_sample": True, "clip_sample_range": 1.0, "thresholding": False},
        "window_batches": 50,
        "target_std": 0.5,
    }


def test_scheduler_variants() -> None:
    assert stream_config_from(scheduler_config={"clip_sample": True, "clip_sample_range": 2.0}) == {
        "scheduler": {"clip_sample": True, "clip_sample_range": 2.0, "thresholding": False}
    }
    # Dynamic thresholding replaces the fixed clamp in diffusers' DDPM/DDIM step.
    assert stream_config_from(scheduler_config={**DDPM_SCHEDULER, "thresholding": True})["scheduler"] == {
        "clip_sample": False, "clip_sample_range": 1.0, "thresholding": True
    }
    assert stream_config_from(scheduler_config={})["scheduler"] == {"clip_sample": False, "clip_sample_range": 1.0, "thresholding": False}
    with pytest.raises(ValueError, match="clip_sample_range"):
        stream_config_from(scheduler_config={"clip_sample": True, "clip_sample_range": 0})
    assert stream_config_from() == {}


def test_vae_config_edge_cases() -> None:
    assert stream_config_from(vae_config={"_class_name": "AutoencoderKLLTXVideo"}) == {}  # declares nothing
    assert stream_config_from(vae_config={"scaling_factor": 0.5, "shift_factor": None}) == {"reference": {"scaling_factor": 0.5, "shift_factor": 0.0}}
    with pytest.raises(ValueError, match="channels"):
        stream_config_from(vae_config={"latents_mean": [0.0, 1.0], "latents_std": [1.0]})
    with pytest.raises(ValueError, match="positive"):
        stream_config_from(vae_config={"latents_mean": [0.0], "latents_std": [0.0]})
    with pytest.raises(ValueError, match="scaling_factor"):
        stream_config_from(vae_config={"scaling_factor": "big"})
    with pytest.raises(TypeError):
        stream_config_from(vae_config=42)


NORMS = {
    "scalar": {"mode": "scalar", "method": "std", "target_std": 1.0, "scaling_factor": 0.2, "samples": 10, "elements": 40, "scaling_factor_ci95": [0.19, 0.21], "converged": True},
    "shift": {"mode": "shift", "method": "std", "target_std": 1.0, "scaling_factor": 1.5, "shift_factor": 0.06, "samples": 10, "elements": 40, "scaling_factor_ci95": None, "converged": False},
    "channel": {"mode": "channel", "method": "std", "target_std": 0.5, "scaling_factor": 0.5, "latents_mean": [0.1, 0.2], "latents_std": [3.0, 4.0], "samples": 10, "elements": 40, "scaling_factor_ci95": None, "converged": False},
    "whiten": {"mode": "whiten", "method": "std", "target_std": 1.0, "scaling_factor": 1.0, "latents_mean": [0.1, 0.2], "whitening_matrix": [[1.0, 0.0], [0.0, 2.0]], "samples": 10, "elements": 40, "scaling_factor_ci95": None, "converged": False},
}


@pytest.mark.parametrize("mode", sorted(NORMS))
@pytest.mark.parametrize("base", ["sd15", "sdxl", "sd3", "wan"])
def test_update_vae_config_dict(mode: str, base: str) -> None:
    original = copy.deepcopy(MODELS[base][0])
    keep = copy.deepcopy(original)
    norm = NORMS[mode]
    out = update_vae_config(original, norm)
    assert original == keep  # not modified
    written = diffusers_keys(norm)
    for k, v in written.items():
        assert out[k] == v
    for k, v in original.items():
        if k in ("scaling_factor", "shift_factor", "latents_mean", "latents_std", "whitening_matrix"):
            if k not in written:
                assert out[k] is None  # a stale normalization key is cleared
        else:
            assert out[k] == v  # every other key kept
    assert set(out) == set(original) | set(written)


def test_update_vae_config_file_keeps_order_and_accepts_diffusers_format(tmp_path: Any) -> None:
    path = tmp_path / "config.json"
    path.write_text(json.dumps(SD3_VAE, indent=2))
    os.chmod(path, 0o640)
    out = update_vae_config(path, {"scaling_factor": 1.25, "shift_factor": 0.5})  # format=diffusers answer
    on_disk = json.loads(path.read_text())
    assert on_disk == out
    assert list(on_disk) == list(SD3_VAE)  # same key order
    assert (on_disk["scaling_factor"], on_disk["shift_factor"]) == (1.25, 0.5)
    assert os.stat(path).st_mode & 0o777 == 0o640
    # A folder holding config.json works too; new keys are appended.
    update_vae_config(tmp_path, NORMS["channel"])
    on_disk = json.loads(path.read_text())
    assert on_disk["latents_std"] == [3.0, 4.0] and on_disk["shift_factor"] is None
    assert [f for f in os.listdir(tmp_path) if f.startswith(".config.")] == []


def test_update_vae_config_errors(tmp_path: Any) -> None:
    empty = dict(NORMS["scalar"], scaling_factor=None, samples=0)
    with pytest.raises(ValueError, match="push latents first"):
        update_vae_config(dict(SD15_VAE), empty)
    with pytest.raises(ValueError, match="scaling_factor"):
        update_vae_config(dict(SD15_VAE), {"shift_factor": 0.1})
    with pytest.raises(ValueError, match="mode"):
        update_vae_config(dict(SD15_VAE), {"mode": "weird", "scaling_factor": 1.0})
    with pytest.raises(FileNotFoundError):
        update_vae_config(tmp_path / "missing.json", NORMS["scalar"])
    (tmp_path / "list.json").write_text("[1, 2]")
    with pytest.raises(ValueError, match="JSON object"):
        update_vae_config(tmp_path / "list.json", NORMS["scalar"])


def test_round_trip_update_then_stream_config() -> None:
    """A config written by update_vae_config declares exactly that normalization."""
    out = update_vae_config(SD3_VAE, NORMS["channel"])
    assert stream_config_from(vae_config=out)["reference"] == {"latents_mean": [0.1, 0.2], "latents_std": [3.0, 4.0], "scaling_factor": 0.5}
    out = update_vae_config(WAN_VAE, NORMS["shift"])
    assert stream_config_from(vae_config=out)["reference"] == {"scaling_factor": 1.5, "shift_factor": 0.06}
    out = update_vae_config(SDXL_VAE, NORMS["scalar"])
    assert stream_config_from(vae_config=out)["reference"] == {"scaling_factor": 0.2, "shift_factor": 0.0}
