"""`scalectl push` over trainers' latent caches, written the way each trainer
writes them, against the real `scaled`; every figure checked against numpy
float64."""
import json
import os
import pickle
import re
import subprocess
import sys
from pathlib import Path

import numpy as np
import pytest
from safetensors import TensorSpec, serialize

import torchsave_layout as L
from conftest import ROOT
from oracle import assert_stats, from_bf16_bits, rel, stats, to_bf16_bits


def scalectl(daemon, *args, cwd=None):
    path = os.environ.get("SCALECTL_BIN") or str(ROOT / ".build" / "debug" / "scalectl")
    if not os.access(path, os.X_OK):
        pytest.fail(f"scalectl binary not found at {path}; run `swift build` first or set SCALECTL_BIN")
    env = dict(os.environ, SCALED_SOCKET=daemon.socket, NO_COLOR="1")
    return subprocess.run([path, *[str(a) for a in args]], env=env, cwd=cwd, capture_output=True, text=True, timeout=300)


def pooled(arrays, channel_axis=1):
    """numpy's statistics over several arrays of one channel count but any
    other shape: one row per position, one column per channel."""
    rows = [np.moveaxis(np.asarray(a, np.float64), channel_axis, -1).reshape(-1, np.shape(a)[channel_axis]) for a in arrays]
    return stats(np.concatenate(rows), channel_axis=1)


def assert_stream(daemon, name, arrays, samples):
    st = daemon.get(f"/v1/streams/{name}")
    assert st["totals"]["samples"] == samples
    assert_stats(st["cumulative"], pooled(arrays))
    return st


def assert_buckets(daemon, name, buckets):
    """Per tag, the pushed batches pool to numpy's mean and std of that
    bucket's arrays. `buckets`: tag -> (arrays, samples)."""
    rows = daemon.get(f"/v1/streams/{name}/history?limit=1000")["history"]
    assert {r["tag"] for r in rows} == set(buckets)
    for tag, (arrays, samples) in buckets.items():
        mine = [r for r in rows if r["tag"] == tag]
        assert sum(r["samples"] for r in mine) == samples, tag
        per_sample = np.prod(np.shape(arrays[0])[1:])
        n = np.array([r["samples"] * per_sample for r in mine], np.float64)
        m = np.array([r["mean"] for r in mine])
        s = np.array([r["std"] for r in mine])
        mean = (n * m).sum() / n.sum()
        std = np.sqrt((n * (s ** 2 + (m - mean) ** 2)).sum() / n.sum())
        want = np.concatenate([np.asarray(a, np.float64).ravel() for a in arrays])
        assert rel(mean, want.mean()) <= 1e-9 and rel(std, want.std()) <= 1e-9, (tag, mean, want.mean(), std, want.std())


def requests(out):
    return int(re.search(r"in (\d+) requests", out).group(1))


def latent(rng, shape, dtype="<f4", offset=0.4, scale=5.5):
    return (offset + scale * rng.standard_normal(shape)).astype(dtype)


# kohya sd-scripts


def write_kohya(tmp: Path, rng):
    """A cache as kohya's strategies write it: `{stem}_{W:04d}x{H:04d}_{arch}.npz`,
    multi-resolution keys `latents_{h}x{w}` (h, w in latent pixels), flipped
    latents, sizes, crops and masks; plus legacy `{stem}.npz` files."""
    d = tmp / "kohya"
    d.mkdir()
    kept = {}      # tag -> [(1, C, h, w) arrays pushed by default]
    flipped = {}   # tag -> flipped arrays
    def bucket(h, w, dtype="<f4"):
        x = latent(rng, (4, h, w), dtype)
        f = x[:, :, ::-1].copy()
        kept.setdefault(f"{h}x{w}", []).append(x[None])
        flipped.setdefault(f"{h}x{w}", []).append(f[None])
        sfx = f"_{h}x{w}"
        return {f"latents{sfx}": x, f"latents_flipped{sfx}": f, f"original_size{sfx}": np.array([w * 8, h * 8]),
                f"crop_ltrb{sfx}": np.array([0, 0, w * 8, h * 8]), f"alpha_mask{sfx}": np.ones((h * 8, w * 8), np.float32)}
    for i in range(3):
        np.savez(d / f"img{i}_0256x0256_sdxl.npz", **bucket(32, 32))
    # One image cached at two resolutions in one file (kohya keeps every key it wrote).
    np.savez(d / "both_0192x0128_sdxl.npz", **bucket(16, 24), **bucket(32, 32))
    np.savez(d / "half_0192x0128_sdxl.npz", **bucket(16, 24, "<f2"))
    for i in range(2):
        x = latent(rng, (4, 8, 8))
        f = x[:, :, ::-1].copy()
        np.savez(d / f"old{i}.npz", latents=x, latents_flipped=f, original_size=np.array([64, 64]),
                 crop_ltrb=np.array([0, 0, 64, 64]))
        kept.setdefault("8x8", []).append(x[None])
        flipped.setdefault("8x8", []).append(f[None])
    return d, kept, flipped


def test_kohya_multiresolution_cache(daemon, tmp_path):
    d, kept, flipped = write_kohya(tmp_path, np.random.default_rng(3))
    r = scalectl(daemon, "push", "kohya", d)
    assert r.returncode == 0, r.stderr
    assert "pushed 7 of 7 files to kohya: 8 samples" in r.stdout, r.stdout
    # One request per dtype, shape and bucket: 32x32, 16x24 f32, 16x24 f16, 8x8.
    assert requests(r.stdout) == 4, r.stdout
    arrays = [a for v in kept.values() for a in v]
    assert_stream(daemon, "kohya", arrays, 8)
    assert_buckets(daemon, "kohya", {t: (v, len(v)) for t, v in kept.items()})
    assert "already scaled" not in r.stderr

    r = scalectl(daemon, "push", "flips", d, "--include-flipped", "--tag-image-size")
    assert r.returncode == 0, r.stderr
    assert "16 samples" in r.stdout, r.stdout
    both = {f"{int(t.split('x')[0]) * 8}x{int(t.split('x')[1]) * 8}": kept[t] + flipped[t] for t in kept}
    assert_stream(daemon, "flips", [a for v in both.values() for a in v], 16)
    assert_buckets(daemon, "flips", {t: (v, len(v)) for t, v in both.items()})


def test_kohya_flux_cache_is_known_to_be_scaled(daemon, tmp_path):
    rng = np.random.default_rng(4)
    arrays = []
    for i in range(3):
        x = latent(rng, (16, 8, 8), offset=0.0, scale=1.0)
        np.savez(tmp_path / f"p{i}_0064x0064_flux.npz", latents_8x8=x, original_size_8x8=np.array([64, 64]),
                 crop_ltrb_8x8=np.array([0, 0, 64, 64]))
        arrays.append(x[None])
    r = scalectl(daemon, "push", "flux", tmp_path)
    assert r.returncode == 0, r.stderr
    assert r.stderr.count("these kohya FLUX latents are already scaled; pass --applied-from") == 1, r.stderr
    assert_stream(daemon, "flux", arrays, 3)


# SimpleTuner: one torch.save .pt per image


def write_simpletuner_layout(d: Path, rng):
    """torch.save's zip layout written without torch (torchsave_layout): plain
    tensors, dicts holding `latents`, views with offsets and strides, every
    float storage type. Returns what each file decodes to."""
    d.mkdir()
    out = {}
    x = latent(rng, (4, 8, 8)); L.save(L.tensor(x), d / "a.pt"); out["a"] = x
    x = latent(rng, (4, 8, 8)); L.save({"latents": L.tensor(x), "crop": L.tensor(np.zeros(4, "<f4"))}, d / "b.pt"); out["b"] = x
    big = latent(rng, (3, 8, 8, 4)); s = L.Storage(big)
    # big[1] permuted to (C=4, 8, 8): strides (1, 32, 4) at offset 256
    L.save(L.Tensor(s, (4, 8, 8), (1, 32, 4), offset=256), d / "c.pt"); out["c"] = big[1].transpose(2, 0, 1)
    x = latent(rng, (4, 8, 8), "<f2"); L.save(L.tensor(x), d / "h.pt"); out["h"] = x
    x = latent(rng, (4, 8, 8), "<f8"); L.save(L.tensor(x), d / "f64.pt", archive="archive"); out["f64"] = x
    bits = to_bf16_bits(latent(rng, (4, 8, 8)))
    L.save(L.Tensor(L.Storage(bits, "BFloat16Storage"), bits.shape), d / "bf.pt"); out["bf"] = from_bf16_bits(bits)
    return out


def test_simpletuner_cache_layout(daemon, tmp_path):
    out = write_simpletuner_layout(tmp_path / "st", np.random.default_rng(5))
    r = scalectl(daemon, "push", "st", tmp_path / "st")
    assert r.returncode == 0, r.stderr
    assert f"pushed {len(out)} of {len(out)} files to st: {len(out)} samples" in r.stdout, r.stdout
    assert r.stderr.count("these SimpleTuner latents are already scaled; pass --applied-from") == 1, r.stderr
    assert_stream(daemon, "st", [x[None] for x in out.values()], len(out))


def test_simpletuner_real_torch_save(daemon, tmp_path):
    torch = pytest.importorskip("torch")
    g = torch.Generator().manual_seed(6)
    d = tmp_path / "st"
    d.mkdir()
    images, videos = [], []
    for i in range(3):
        t = 0.4 + 5.5 * torch.randn(4, 8, 8, generator=g)
        torch.save(t, d / f"img{i}.pt"); images.append(t.numpy())
    t = 0.4 + 5.5 * torch.randn(8, 8, 4, generator=g)
    torch.save(t.permute(2, 0, 1), d / "permuted.pt"); images.append(t.permute(2, 0, 1).numpy())
    stack = 0.4 + 5.5 * torch.randn(3, 4, 8, 8, generator=g)
    torch.save({"latents": stack[1], "all": stack}, d / "view.pt"); images.append(stack[1].numpy())
    t = (0.4 + 5.5 * torch.randn(4, 8, 8, generator=g)).half()
    torch.save({"latents": t}, d / "half.pt"); images.append(t.float().numpy())
    t = (0.4 + 5.5 * torch.randn(4, 8, 8, generator=g)).bfloat16()
    torch.save(t, d / "bf16.pt"); images.append(t.float().numpy())
    for i in range(2):  # video latents (C, F, H, W): one sample each
        t = 0.4 + 5.5 * torch.randn(4, 3, 8, 8, generator=g)
        torch.save(t, d / f"video{i}.pt"); videos.append(t.numpy())
    r = scalectl(daemon, "push", "img", *[p for p in sorted(d.glob("*.pt")) if not p.name.startswith("video")])
    assert r.returncode == 0, r.stderr
    assert "pushed 7 of 7 files to img: 7 samples" in r.stdout, r.stdout
    assert_stream(daemon, "img", [x[None] for x in images], 7)
    r = scalectl(daemon, "push", "vid", *sorted(d.glob("video*.pt")))
    assert r.returncode == 0, r.stderr
    assert_stream(daemon, "vid", [x[None] for x in videos], 2)
    # Legacy (non-zip) torch.save files are refused with a way out.
    torch.save(torch.zeros(4, 8, 8), d / "legacy.pt", _use_new_zipfile_serialization=False)
    r = scalectl(daemon, "push", "img", d / "legacy.pt")
    assert r.returncode == 65 and "legacy (non-zip) torch.save file" in r.stderr, r.stderr


class Payload:
    """Unpickling this runs `touch <marker>` (os.system)."""

    def __init__(self, marker):
        self.marker = marker

    def __reduce__(self):
        return (os.system, (f"touch {self.marker}",))


def hostile_files(d: Path):
    """(file, the global its pickle names) — .pt files that run a command
    when unpickled by pickle.load or torch.load(weights_only=False)."""
    d.mkdir()
    marker = d / "MARKER"
    files = []
    # Hand-written, protocol 0: GLOBAL 'os system', the command, REDUCE.
    L.save_pickle(f"cos\nsystem\n(S'touch {marker}'\ntR.".encode(), d / "handmade.pt")
    files.append((d / "handmade.pt", "os.system"))
    # Python's pickler, behind a real tensor in the dict (os.system pickles as posix.system).
    buf = pickle.dumps(Payload(marker), protocol=2)
    L.save_pickle(buf, d / "pickler.pt")
    files.append((d / "pickler.pt", os.system.__module__ + ".system"))
    try:
        import torch
        torch.save({"latents": torch.zeros(4, 8, 8), "x": Payload(marker)}, d / "torch.pt")
        files.append((d / "torch.pt", os.system.__module__ + ".system"))
    except ImportError:
        pass
    return marker, files


def test_hostile_pickle_is_refused_and_runs_nothing(daemon, tmp_path):
    marker, files = hostile_files(tmp_path / "evil")
    for path, name in files:
        r = scalectl(daemon, "push", "evil", path)
        assert r.returncode == 65, (path, r.stdout, r.stderr)
        assert f"refusing to unpickle '{name}': only tensors and containers are read" in r.stderr, r.stderr
        assert not marker.exists(), f"{path} ran its payload"
    assert daemon.request("GET", "/v1/streams/evil")[0] == 404
    # The payloads are live: Python's own unpickler runs the first one.
    import zipfile
    data = zipfile.ZipFile(files[0][0]).read("archive/data.pkl")
    subprocess.run([sys.executable, "-c", "import pickle, sys; pickle.loads(sys.stdin.buffer.read())"], input=data, check=True)
    assert marker.exists()


# musubi-tuner and ai-toolkit .safetensors


def bf16_spec(x):
    bits = to_bf16_bits(x)
    return TensorSpec(dtype="bfloat16", shape=list(bits.shape), data_ptr=bits.ctypes.data, data_len=bits.nbytes), bits


def test_musubi_tuner_cache(daemon, tmp_path):
    """musubi-tuner's `{stem}_{W:04d}x{H:04d}_{arch}.safetensors`: one key
    `latents_{F}x{H}x{W}_{dtype}` of shape (C, F, H, W) per file, with
    conditioning latents and CLIP embeddings beside it."""
    rng = np.random.default_rng(7)
    buckets = {}
    keep = []  # the bf16 bit buffers must outlive serialize()
    for i, (f, h, w) in enumerate([(1, 8, 12), (1, 8, 12), (3, 8, 8), (3, 8, 8), (3, 8, 8)]):
        x = latent(rng, (16, f, h, w))
        image = latent(rng, (20, f, h, w))
        if i % 2:
            spec, bits = bf16_spec(x)
            keep.append(bits)
            tensors = {f"latents_{f}x{h}x{w}_bf16": spec}
            x = from_bf16_bits(bits)
        else:
            tensors = {f"latents_{f}x{h}x{w}_float32": TensorSpec(dtype="float32", shape=list(x.shape), data_ptr=x.ctypes.data, data_len=x.nbytes)}
        tensors[f"latents_image_{f}x{h}x{w}_float32"] = TensorSpec(dtype="float32", shape=list(image.shape), data_ptr=image.ctypes.data, data_len=image.nbytes)
        clip = np.ones((257, 1280), np.float32)
        tensors["clip_float32"] = TensorSpec(dtype="float32", shape=list(clip.shape), data_ptr=clip.ctypes.data, data_len=clip.nbytes)
        data = serialize(tensors, metadata={"architecture": "wan", "width": str(w * 8), "height": str(h * 8), "format_version": "1.0.1"})
        (tmp_path / f"clip{i}_{w * 8:04d}x{h * 8:04d}_wan.safetensors").write_bytes(bytes(data))
        buckets.setdefault(f"{f}x{h}x{w}", []).append(x[None])
    r = scalectl(daemon, "push", "wan", tmp_path)
    assert r.returncode == 0, r.stderr
    assert "pushed 5 of 5 files to wan: 5 samples" in r.stdout, r.stdout
    assert_stream(daemon, "wan", [a for v in buckets.values() for a in v], 5)
    assert_buckets(daemon, "wan", {t: (v, len(v)) for t, v in buckets.items()})


def test_ai_toolkit_cache(daemon, tmp_path):
    """ai-toolkit's `_latent_cache/*.safetensors`: one `latent` (C, H, W)."""
    from safetensors.numpy import save_file
    rng = np.random.default_rng(8)
    d = tmp_path / "_latent_cache"
    d.mkdir()
    arrays = []
    for i in range(4):
        x = latent(rng, (16, 8, 8))
        save_file({"latent": x}, str(d / f"{i:08x}.safetensors"), metadata={"format": "pt", "version": "1"})
        arrays.append(x[None])
    r = scalectl(daemon, "push", "ai", d)
    assert r.returncode == 0, r.stderr
    assert "4 samples" in r.stdout and requests(r.stdout) == 1, r.stdout
    assert_stream(daemon, "ai", arrays, 4)


# EDM2 mean‖std and --channels


def test_channel_range_selects_the_posterior_mean(daemon, tmp_path):
    rng = np.random.default_rng(9)
    mean = latent(rng, (6, 4, 8, 8))
    std = np.abs(latent(rng, (6, 4, 8, 8), offset=0.1, scale=0.05))
    np.save(tmp_path / "edm2.npy", np.concatenate([mean, std], axis=1))
    r = scalectl(daemon, "push", "mean", tmp_path / "edm2.npy", "--channels", "0:4")
    assert r.returncode == 0, r.stderr
    st = assert_stream(daemon, "mean", [mean], 6)
    assert len(st["cumulative"]["channels"]) == 4
    r = scalectl(daemon, "push", "std", tmp_path / "edm2.npy", "--channels", "4:")
    assert r.returncode == 0, r.stderr
    assert_stream(daemon, "std", [std], 6)
    r = scalectl(daemon, "push", "bad", tmp_path / "edm2.npy", "--channels", "0:16")
    assert r.returncode == 65 and "does not fit the 8 channels" in r.stderr, r.stderr


# Pre-scaled caches


def normalization(daemon, name, mode):
    return daemon.get(f"/v1/streams/{name}/normalization?mode={mode}")


def test_applied_scalar_round_trip(daemon, tmp_path):
    """FLUX-style `(z - shift) * scale` stored in float64 comes back as the raw
    latents: the estimate is the raw factors to 1e-9."""
    rng = np.random.default_rng(10)
    z = latent(rng, (16, 16, 8, 8), "<f8", offset=0.8, scale=3.2)
    scale, shift = 0.3611, 0.1159
    np.save(tmp_path / "scaled.npy", (z - shift) * scale)
    r = scalectl(daemon, "push", "raw", tmp_path / "scaled.npy", "--applied", f"scaling_factor={scale},shift_factor={shift}")
    assert r.returncode == 0, r.stderr
    assert "undoing (z - 0.1159) * 0.3611" in r.stderr, r.stderr
    assert_stream(daemon, "raw", [z], 16)
    n = normalization(daemon, "raw", "shift")
    assert rel(n["scaling_factor"], 1 / z.std()) <= 1e-9 and rel(n["shift_factor"], z.mean()) <= 1e-9, n
    # Without the option the same file measures the scaled values.
    r = scalectl(daemon, "push", "asis", tmp_path / "scaled.npy")
    assert r.returncode == 0
    assert rel(normalization(daemon, "asis", "shift")["scaling_factor"], 1 / ((z - shift) * scale).std()) <= 1e-9
    # --write-config writes raw-space values.
    cfg = tmp_path / "config.json"
    cfg.write_text(json.dumps({"_class_name": "AutoencoderKL", "scaling_factor": scale, "shift_factor": shift}))
    r = scalectl(daemon, "normalization", "raw", "--mode", "shift", "--write-config", cfg)
    assert r.returncode == 0, r.stderr
    written = json.loads(cfg.read_text())
    assert rel(written["scaling_factor"], 1 / z.std()) <= 1e-9 and rel(written["shift_factor"], z.mean()) <= 1e-9


def test_applied_from_a_per_channel_vae_config(daemon, tmp_path):
    """Per-channel `(z - latents_mean) * scaling_factor / latents_std` from a
    diffusers VAE config, over SimpleTuner .pt files in float32: undone in
    float64, the channel estimate is the raw per-channel mean and std."""
    rng = np.random.default_rng(11)
    c = 4
    mean_c = np.array([0.3, -0.2, 0.9, 0.05])
    std_c = np.array([4.0, 6.5, 3.0, 5.0])
    sf = 0.5
    (tmp_path / "vae").mkdir()
    (tmp_path / "vae" / "config.json").write_text(json.dumps({
        "_class_name": "AutoencoderKL", "latent_channels": c, "scaling_factor": sf, "shift_factor": None,
        "latents_mean": mean_c.tolist(), "latents_std": std_c.tolist()}))
    (tmp_path / "st").mkdir()
    stored, raw = [], []
    for i in range(5):
        z = mean_c[:, None, None] + std_c[:, None, None] * rng.standard_normal((c, 8, 8)) * 1.3 + 0.2
        x = ((z - mean_c[:, None, None]) * sf / std_c[:, None, None]).astype("<f4")
        L.save({"latents": L.tensor(x)}, tmp_path / "st" / f"{i}.pt")
        stored.append(x)
        raw.append(x.astype(np.float64) * std_c[:, None, None] / sf + mean_c[:, None, None])
    r = scalectl(daemon, "push", "pc", tmp_path / "st", "--applied-from", tmp_path)
    assert r.returncode == 0, r.stderr
    assert "already scaled" not in r.stderr, r.stderr
    assert_stream(daemon, "pc", [x[None] for x in raw], 5)
    n = normalization(daemon, "pc", "channel")
    want = np.stack(raw).transpose(1, 0, 2, 3).reshape(c, -1)
    for k in range(c):
        assert rel(n["latents_mean"][k], want[k].mean()) <= 1e-9
        assert rel(n["latents_std"][k], want[k].std()) <= 1e-9
    # Raw: about 1.3 * latents_std per channel; the stored values have std about 1.3 * scaling_factor.
    assert min(n["latents_std"]) > 2 * 1.3 * sf, n["latents_std"]
    # A config whose channel count does not match is a per-file error.
    r = scalectl(daemon, "push", "pc8", tmp_path / "st", "--applied", "latents_mean=[0,0],latents_std=[1,1]")
    assert r.returncode == 65 and "the array has 4 channels" in r.stderr, r.stderr
