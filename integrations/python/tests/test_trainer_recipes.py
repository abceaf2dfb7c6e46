"""The lines the README tells diffusers and kohya users to add, run as written.

Each README block is parsed, and its statements are executed at the place the README
names, in a small loop shaped like that script's (a tiny random diffusers
AutoencoderKL, a DDPMScheduler, accelerate with a recording tracker), against the real
scaled reached through $SCALED_SOCKET as the lines leave the socket at its default.
"""

from __future__ import annotations

import re
from pathlib import Path
from typing import Any, Dict, List

import numpy as np
import pytest

torch = pytest.importorskip("torch")
accelerate = pytest.importorskip("accelerate")
diffusers = pytest.importorskip("diffusers")

from test_accelerate import RecordingTracker  # noqa: E402
from test_e2e import check_stats  # noqa: E402

from latentscale import SCALAR_KEYS, Client  # noqa: E402

pytestmark = pytest.mark.e2e

README = Path(__file__).resolve().parents[1] / "README.md"


def recipe(heading: str) -> List[str]:
    """The statements of the first code block under ``heading``, comments dropped."""
    text = README.read_text()
    start = text.index(heading)
    block = re.search(r"```python\n(.*?)```", text[start:], re.S)
    assert block, f"no python block under {heading!r}"
    lines = [line.split("  #")[0].strip() for line in block.group(1).splitlines()]
    return [line for line in lines if line and not line.startswith("#")]


def tiny_vae() -> Any:
    torch.manual_seed(0)
    return diffusers.AutoencoderKL(
        in_channels=3,
        out_channels=3,
        down_block_types=("DownEncoderBlock2D", "DownEncoderBlock2D"),
        up_block_types=("UpDecoderBlock2D", "UpDecoderBlock2D"),
        block_out_channels=(8, 16),
        latent_channels=4,
        norm_num_groups=8,
        layers_per_block=1,
        sample_size=16,
    ).eval()


def test_diffusers_train_text_to_image_lines(scaled: Any, monkeypatch: pytest.MonkeyPatch) -> None:
    lines = recipe("## diffusers' `train_text_to_image.py`")
    assert len(lines) == 4, lines
    imports, create, push, log = lines
    assert push.startswith("monitor.push(") and log.startswith("accelerator.log(")
    monkeypatch.setenv("SCALED_SOCKET", scaled.socket)

    tracker = RecordingTracker()
    accelerator = accelerate.Accelerator(cpu=True, log_with=[tracker])
    accelerator.init_trackers("recipe")
    ns: Dict[str, Any] = {"vae": tiny_vae(), "noise_scheduler": diffusers.DDPMScheduler(), "accelerator": accelerator}
    exec(imports, ns)
    exec(create, ns)
    encoded: List[np.ndarray] = []
    g = torch.Generator().manual_seed(5)
    for global_step in range(4):
        pixel_values = torch.rand((2, 3, 16, 16), generator=g) * 2 - 1
        with torch.no_grad():
            latents = ns["vae"].encode(pixel_values).latent_dist.sample()
        encoded.append(latents.double().numpy())
        ns.update(latents=latents, global_step=global_step, train_loss=0.5)
        exec(push, ns)
        latents = latents * ns["vae"].config.scaling_factor  # the script goes on as before
        assert ns["monitor"].flush(30)
        exec(log, ns)
    ns["monitor"].close()
    accelerator.end_training()

    with Client(scaled.socket) as client:
        st = client.status("sd15-finetune")
    assert st["config"]["reference"]["scaling_factor"] == 0.18215  # the VAE config's factor, declared
    assert st["config"]["scheduler"]["clip_sample"] is True  # DDPMScheduler's default clamp
    assert st["totals"]["batches"] == 4
    check_stats(st["cumulative"], np.concatenate(encoded), "cumulative")
    assert [s for s, _ in tracker.logged] == [0, 1, 2, 3]
    assert all(set(v) == {"train_loss", *SCALAR_KEYS} for _, v in tracker.logged)
    assert tracker.logged[-1][1]["latentscale/pushed"] == 4.0
    assert tracker.logged[-1][1]["latentscale/scaling_factor"] == st["estimate"]["scaling_factor"]


def test_kohya_train_network_lines(scaled: Any, monkeypatch: pytest.MonkeyPatch) -> None:
    lines = recipe("## kohya's sd-scripts")
    assert len(lines) == 4, lines
    imports, create, push, log = lines
    monkeypatch.setenv("SCALED_SOCKET", scaled.socket)
    ns: Dict[str, Any] = {}
    exec(imports, ns)
    exec(create, ns)
    cached: List[np.ndarray] = []
    g = torch.Generator().manual_seed(6)
    for step in range(3):
        for is_train in (True, False):  # process_batch also runs for validation
            latents = torch.randn((2, 4, 8, 8), generator=g) * 7.0  # batch["latents"] from kohya's cache
            if is_train:
                cached.append(latents.double().numpy())
            ns.update(latents=latents, is_train=is_train)
            exec(push, ns)
        assert ns["monitor"].flush(30)
        ns["logs"] = {"loss/current": 0.1}
        exec(log, ns)
        assert set(ns["logs"]) == {"loss/current", *SCALAR_KEYS}
    ns["monitor"].close()
    with Client(scaled.socket) as client:
        st = client.status("sdxl-lora")
    assert st["config"]["reference"]["scaling_factor"] == 0.13025
    assert st["totals"]["batches"] == 3  # validation batches not pushed
    check_stats(st["cumulative"], np.concatenate(cached), "cumulative")
    assert ns["logs"]["latentscale/pushed"] == 3.0
