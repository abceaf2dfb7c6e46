"""torch paths: dtypes incl. bfloat16, devices, detach/clone semantics, wrap_vae with diffusers.

Skipped when torch is not installed. CUDA cases run only where a GPU is visible.
"""

from __future__ import annotations

import subprocess
import sys
import time
from pathlib import Path

import numpy as np
import pytest

from latentscale import Client, Monitor
from latentscale._tensors import is_torch_tensor, snapshot
from fake_scaled import FakeScaled

torch = pytest.importorskip("torch")

SRC = str(Path(__file__).resolve().parents[1] / "src")

DEVICES = ["cpu"] + (["cuda"] if torch.cuda.is_available() else [])
DTYPES = ["float16", "bfloat16", "float32", "float64"]


def make(dtype: str, device: str, shape: tuple = (3, 4, 5, 6), seed: int = 0) -> "torch.Tensor":
    g = torch.Generator().manual_seed(seed)
    return (torch.randn(shape, generator=g) * 3 + 1).to(getattr(torch, dtype)).to(device)


def expected(t: "torch.Tensor") -> np.ndarray:
    return t.detach().cpu().to(torch.float64).numpy().copy()


def test_torch_not_imported_for_numpy() -> None:
    code = (
        "import sys, numpy as np, latentscale\n"
        "from latentscale._tensors import snapshot, to_wire\n"
        "to_wire(np.zeros((2, 2), np.float32)); snapshot(np.zeros((2, 2), np.float16)).wire()\n"
        "m = latentscale.Monitor('x', socket='/nonexistent/s.sock'); m.push(np.zeros((2, 2), np.float32)); m.close(1)\n"
        "assert 'torch' not in sys.modules, 'torch was imported'\n"
    )
    subprocess.run([sys.executable, "-c", code], check=True, env={"PYTHONPATH": SRC, "PATH": "/usr/bin:/bin"})


def test_is_torch_tensor() -> None:
    assert is_torch_tensor(torch.zeros(1))
    assert is_torch_tensor(torch.nn.Parameter(torch.zeros(1)))
    assert not is_torch_tensor(np.zeros(1))


@pytest.mark.parametrize("device", DEVICES)
@pytest.mark.parametrize("dtype", DTYPES)
def test_client_push_torch_dtypes(fake: FakeScaled, dtype: str, device: str) -> None:
    t = make(dtype, device)
    Client(fake.path).push("t", t, step=1)
    r = fake.pushes()[-1]
    assert r["query"]["dtype"] == dtype and r["shape"] == (3, 4, 5, 6)
    np.testing.assert_array_equal(r["values"], expected(t))
    if dtype == "bfloat16":
        assert r["body"] == t.cpu().view(torch.int16).numpy().tobytes()


@pytest.mark.parametrize("device", DEVICES)
def test_requires_grad_and_noncontiguous(fake: FakeScaled, device: str) -> None:
    w = make("float32", device).requires_grad_(True)
    y = (w * 2).transpose(1, 3)  # non-contiguous, part of a graph
    assert not y.is_contiguous()
    c = Client(fake.path)
    c.push("t", y)
    np.testing.assert_array_equal(fake.pushes()[-1]["values"], expected(y))
    with Monitor("t2", socket=fake.path) as m:
        m.push(y[:, :, ::2])
    np.testing.assert_array_equal(fake.pushes("t2")[-1]["values"], expected(y[:, :, ::2]))
    assert w.grad is None


@pytest.mark.parametrize("device", DEVICES)
@pytest.mark.parametrize("dtype", DTYPES)
def test_monitor_clone_isolates_in_place_edits(fake: FakeScaled, dtype: str, device: str) -> None:
    fake.delay = 0.05
    ts = [make(dtype, device, seed=i) for i in range(3)]
    wanted = [expected(t) for t in ts]
    with Monitor("iso", socket=fake.path, max_samples=2) as m:
        for t in ts:
            m.push(t)
            t.mul_(0).add_(7)  # the loop reuses its buffer right away
    got = [p["values"] for p in fake.pushes("iso")]
    assert len(got) == 3
    for g, w in zip(got, wanted):
        np.testing.assert_array_equal(g, w[:2])
    assert all(p["query"]["dtype"] == dtype for p in fake.pushes("iso"))


def test_cpu_buffer_pool_reuse_keeps_values_apart(fake: FakeScaled) -> None:
    with Monitor("pool", socket=fake.path, queue_size=2) as m:
        ts = [make("float32", "cpu", seed=i) for i in range(12)]
        for t in ts:
            m.push(t)
            m.flush(5)
    got = [p["values"] for p in fake.pushes("pool")]
    for g, t in zip(got, ts):
        np.testing.assert_array_equal(g, expected(t))


def test_unsupported_torch_dtype_raises() -> None:
    with pytest.raises(TypeError, match="int64"):
        snapshot(torch.zeros((2, 2), dtype=torch.int64))
    with pytest.raises(ValueError, match="2 dimensions"):
        snapshot(torch.zeros(4))


@pytest.mark.skipif(not torch.cuda.is_available(), reason="no CUDA device")
def test_cuda_push_on_side_stream(fake: FakeScaled) -> None:
    s = torch.cuda.Stream()
    with Monitor("cuda", socket=fake.path) as m:
        with torch.cuda.stream(s):
            t = torch.randn((8, 4, 64, 64), device="cuda", dtype=torch.bfloat16)
            want = expected(t)
            m.push(t)
            t.zero_()  # queued after the clone on the same stream
        torch.cuda.synchronize()
    np.testing.assert_array_equal(fake.pushes("cuda")[-1]["values"], want)


# -- diffusers ---------------------------------------------------------------------------


def tiny_vae():
    diffusers = pytest.importorskip("diffusers")
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


def test_wrap_vae_with_diffusers_autoencoder(fake: FakeScaled) -> None:
    from latentscale import unwrap_vae

    vae = tiny_vae()
    x = torch.randn((2, 3, 16, 16))
    with torch.no_grad():
        torch.manual_seed(123)
        plain = vae.encode(x).latent_dist.sample()
        with Monitor("vae", socket=fake.path) as m:
            m.wrap_vae(vae)
            torch.manual_seed(123)
            out = vae.encode(x)
            wrapped = out.latent_dist.sample()
            (dist,) = vae.encode(x, return_dict=False)
    # The caller's random stream and the returned distribution are unchanged.
    torch.testing.assert_close(wrapped, plain, rtol=0, atol=0)
    assert type(dist).__name__ == "DiagonalGaussianDistribution"
    pushes = fake.pushes("vae")
    assert len(pushes) == 2 and pushes[0]["shape"] == (2, 4, 8, 8)
    mean = out.latent_dist.mean.double().numpy()
    std = out.latent_dist.std.double().numpy()
    z = (pushes[0]["values"] - mean) / std
    assert np.all(np.abs(z) < 7)  # a sample of that distribution
    assert not np.allclose(pushes[0]["values"], plain.double().numpy())  # own noise, not the caller's
    unwrap_vae(vae)
    assert "encode" not in vars(vae)


def test_stream_config_from_real_diffusers_objects() -> None:
    diffusers = pytest.importorskip("diffusers")
    from latentscale.diffusers import stream_config_from

    vae = tiny_vae()
    cfg = stream_config_from(vae_config=vae, scheduler_config=diffusers.DDPMScheduler())
    assert cfg == {
        "reference": {"scaling_factor": 0.18215, "shift_factor": 0.0},
        "scheduler": {"clip_sample": True, "clip_sample_range": 1.0, "thresholding": False},
    }
    cfg = stream_config_from(vae_config=vae.config, scheduler_config=diffusers.FlowMatchEulerDiscreteScheduler().config)
    assert cfg["scheduler"] == {"clip_sample": False, "clip_sample_range": 1.0, "thresholding": False}
    cfg = stream_config_from(scheduler_config=diffusers.DDPMScheduler(thresholding=True))
    assert cfg["scheduler"]["clip_sample"] is False
    cfg = stream_config_from(scheduler_config=diffusers.DDIMScheduler(clip_sample_range=2.5))
    assert cfg["scheduler"] == {"clip_sample": True, "clip_sample_range": 2.5, "thresholding": False}


@pytest.mark.parametrize("device", DEVICES)
def test_push_latency_torch(device: str, sockdir: str, capsys: pytest.CaptureFixture) -> None:
    """Monitor.push() of a (32,4,64,64) float32 tensor vs tensor.clone(), printed, not asserted."""
    import os

    from latency import measure, report
    from test_latency import _spawn

    sock = os.path.join(sockdir, "lat.sock")
    proc = _spawn(sock)
    try:
        t = torch.randn((32, 4, 64, 64), device=device)
        m = Monitor("latency-torch", socket=sock)
        r = measure(m, n=200, step_seconds=0.003, make=lambda i: t, copy=lambda x: x.clone())
        m.close(10)
    finally:
        proc.terminate()
        proc.wait(10)
    with capsys.disabled():
        print(f"\n  [latency, torch {device} (32,4,64,64) float32, 3 ms step, fake daemon] " + report("up", r, baseline="clone()"))
    assert r["stats"].pushed > 0
