"""Pushes in every dtype and body format, checked against numpy float64."""
import threading

import numpy as np
import pytest

from oracle import assert_stats, from_bf16_bits, rel, stats, to_bf16_bits


def latents(rng, shape, offset=0.0, scale=1.0, channel_axis=1):
    x = rng.standard_normal(shape)
    c = shape[channel_axis]
    bshape = [1] * len(shape)
    bshape[channel_axis] = c
    per_channel = (np.arange(c) * 0.1).reshape(bshape)
    return offset + per_channel + scale * (1 + per_channel) * x


# numpy has no bfloat16 dtype, so an .npy cannot carry one: bfloat16 travels raw.
@pytest.mark.parametrize("dtype,fmt", [(d, f) for d in ["float32", "float16", "bfloat16", "float64"]
                                       for f in ["raw", "npy"] if (d, f) != ("bfloat16", "npy")])
def test_every_dtype_and_format_matches_numpy(daemon, dtype, fmt):
    rng = np.random.default_rng(1)
    batches = [latents(rng, (8, 4, 16, 16), offset=0.3, scale=1.7) for _ in range(3)]
    seen = []
    for i, b in enumerate(batches):
        if dtype == "bfloat16":
            bits = to_bf16_bits(b.astype(np.float32))
            status, body = daemon.push_raw("s", bits, dtype="bfloat16", query=f"step={i}")
            seen.append(from_bf16_bits(bits))
        else:
            arr = b.astype(dtype)
            status, body = (daemon.push_raw("s", arr, query=f"step={i}") if fmt == "raw"
                            else daemon.push_npy("s", arr, query=f"step={i}"))
            seen.append(arr)
        assert status == 200, body
        assert body["accepted"] == {"samples": 8, "elements": 8 * 4 * 256, "nonfinite": 0}
    all_values = np.concatenate(seen).astype(np.float64)
    st = daemon.get("/v1/streams/s")
    assert st["totals"]["batches"] == 3 and st["totals"]["samples"] == 24
    assert st["totals"]["elements"] == all_values.size
    assert_stats(st["cumulative"], stats(all_values))
    # The estimate is target/std and the mean, with an interval around it.
    est = st["estimate"]
    want = stats(all_values)
    assert rel(est["scaling_factor"], 1 / want["std"]) <= 1e-9
    assert rel(est["shift_factor"], want["mean"]) <= 1e-9
    lo, hi = est["scaling_factor_ci95"]
    assert lo < est["scaling_factor"] < hi


def test_offset_data_keeps_precision(daemon):
    rng = np.random.default_rng(2)
    x = latents(rng, (16, 4, 32, 32), offset=1e4, scale=1.0)
    assert daemon.push_raw("off", x)[0] == 200
    assert_stats(daemon.get("/v1/streams/off")["cumulative"], stats(x))


def test_nonfinite_values_are_counted_and_excluded(daemon):
    rng = np.random.default_rng(3)
    x = latents(rng, (4, 4, 8, 8)).astype(np.float32)
    flat = x.reshape(-1)
    idx = rng.choice(flat.size, 30, replace=False)
    flat[idx[:10]] = np.nan
    flat[idx[10:20]] = np.inf
    flat[idx[20:]] = -np.inf
    status, body = daemon.push_raw("nf", x)
    assert status == 200 and body["accepted"]["nonfinite"] == 30
    st = daemon.get("/v1/streams/nf")
    assert st["totals"]["nonfinite"] == {"nan": 10, "posinf": 10, "neginf": 10}
    assert_stats(st["cumulative"], stats(x))


def test_channels_last_and_single_channel(daemon):
    rng = np.random.default_rng(4)
    x = latents(rng, (6, 9, 9, 16), channel_axis=3)
    assert daemon.push_raw("nhwc", x, query="channel_axis=-1")[0] == 200
    st = daemon.get("/v1/streams/nhwc")
    assert len(st["cumulative"]["channels"]) == 16
    assert_stats(st["cumulative"], stats(x, channel_axis=-1))
    # Or configured once for the stream.
    assert daemon.request("PUT", "/v1/streams/cfg", body=b'{"channel_axis": -1}')[0] == 200
    assert daemon.push_raw("cfg", x)[0] == 200
    assert_stats(daemon.get("/v1/streams/cfg")["cumulative"], stats(x, channel_axis=-1))
    one = latents(rng, (5, 1, 12, 12))
    assert daemon.push_raw("one", one)[0] == 200
    assert_stats(daemon.get("/v1/streams/one")["cumulative"], stats(one))


def test_window_holds_the_last_batches(daemon):
    rng = np.random.default_rng(5)
    assert daemon.request("PUT", "/v1/streams/w", body=b'{"window_batches": 3}')[0] == 200
    batches = [latents(rng, (4, 4, 8, 8), scale=1 + i) for i in range(7)]
    for b in batches:
        assert daemon.push_raw("w", b)[0] == 200
    st = daemon.get("/v1/streams/w")
    assert st["window"]["batches"] == 3
    assert_stats(st["window"], stats(np.concatenate(batches[-3:])))
    assert_stats(st["cumulative"], stats(np.concatenate(batches)))


def test_concurrent_clients_give_exact_totals(daemon):
    rng = np.random.default_rng(6)
    per_client = 6
    arrays = [[latents(rng, (4, 4, 16, 16)).astype(np.float32) for _ in range(per_client)] for _ in range(8)]
    errors = []

    def client(items):
        for a in items:
            status, body = daemon.push_raw("conc", a)
            if status != 200:
                errors.append(body)

    threads = [threading.Thread(target=client, args=(items,)) for items in arrays]
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    assert errors == []
    st = daemon.get("/v1/streams/conc")
    assert st["totals"]["batches"] == 8 * per_client
    assert st["totals"]["samples"] == 8 * per_client * 4
    everything = np.concatenate([a for items in arrays for a in items])
    assert_stats(st["cumulative"], stats(everything))
    hist = daemon.get("/v1/streams/conc/history?limit=1000")["history"]
    assert [h["seq"] for h in hist] == list(range(1, 8 * per_client + 1))


def test_normalization_modes_against_numpy(daemon):
    rng = np.random.default_rng(7)
    x = latents(rng, (32, 4, 16, 16), offset=0.2, scale=2.0)
    assert daemon.push_raw("n", x)[0] == 200
    w = stats(x)

    def norm(q):
        return daemon.get(f"/v1/streams/n/normalization?{q}")

    scalar = norm("mode=scalar")
    assert rel(scalar["scaling_factor"], 1 / w["std"]) <= 1e-9
    assert set(norm("mode=scalar&format=diffusers")) == {"scaling_factor"}
    assert rel(norm("mode=scalar&method=rms")["scaling_factor"], 1 / w["rms"]) <= 1e-9
    shift = norm("mode=shift&format=diffusers")
    assert set(shift) == {"scaling_factor", "shift_factor"}
    assert rel(shift["shift_factor"], w["mean"]) <= 1e-9
    ch = norm("mode=channel&format=diffusers")
    assert set(ch) == {"scaling_factor", "latents_mean", "latents_std"}
    for c in range(4):
        assert rel(ch["latents_mean"][c], w["channels"][c]["mean"]) <= 1e-9
        assert rel(ch["latents_std"][c], w["channels"][c]["std"]) <= 1e-9
    wh = norm("mode=whiten")
    W = np.array(wh["whitening_matrix"])
    assert np.allclose(W @ w["covariance"] @ W, np.eye(4), atol=1e-9)
    # EDM2 style: target_std 0.5
    assert daemon.request("PUT", "/v1/streams/n", body=b'{"target_std": 0.5}')[0] == 200
    assert rel(norm("mode=scalar")["scaling_factor"], 0.5 / w["std"]) <= 1e-9
    status, body = daemon.request("GET", "/v1/streams/n/normalization?mode=whiten&method=rms")
    assert status == 400 and body["error"]["code"] == "invalid_query"
    status, body = daemon.request("GET", "/v1/streams/n/normalization?mode=bogus")
    assert status == 400 and "scalar" in body["error"]["message"]


def test_freeze_reset_history_delete(daemon):
    rng = np.random.default_rng(8)
    x = latents(rng, (8, 4, 8, 8), scale=2.0)
    assert daemon.push_raw("f", x, query="step=10&tag=512x512")[0] == 200
    st = daemon.request("POST", "/v1/streams/f/freeze")[1]
    assert st["reference"]["source"] == "frozen"
    assert rel(st["reference"]["scaling_factor"], 1 / stats(x)["std"]) <= 1e-9
    # Under the frozen reference the window's normalized std is 1.
    assert rel(st["drift"]["normalized_std"], 1.0) <= 1e-9
    hist = daemon.get("/v1/streams/f/history")["history"]
    assert len(hist) == 1 and hist[0]["step"] == 10 and hist[0]["tag"] == "512x512"
    assert rel(hist[0]["std"], stats(x)["std"]) <= 1e-9
    st = daemon.request("POST", "/v1/streams/f/reset")[1]
    assert st["totals"]["batches"] == 0 and st["reference"] is None
    assert daemon.get("/v1/streams/f/history")["history"] == []
    assert daemon.push_raw("f", x)[0] == 200
    assert daemon.get("/v1/streams/f")["totals"]["batches"] == 1
    assert daemon.request("DELETE", "/v1/streams/f")[0] == 200
    assert daemon.request("GET", "/v1/streams/f")[0] == 404
    assert daemon.get("/v1/streams")["streams"] == []


def test_declared_reference_counts_clamping_exactly(daemon):
    rng = np.random.default_rng(9)
    x = latents(rng, (8, 4, 16, 16), scale=1.0).astype(np.float32)
    cfg = b'{"reference": {"scaling_factor": 0.8, "shift_factor": 0.1}, "scheduler": {"clip_sample": true, "clip_sample_range": 1.0}}'
    assert daemon.request("PUT", "/v1/streams/c", body=cfg)[0] == 200
    assert daemon.push_raw("c", x)[0] == 200
    st = daemon.get("/v1/streams/c")
    y = (x.astype(np.float64) - 0.1) * 0.8
    assert st["clamp"]["fraction_window"] == np.mean(np.abs(y) > 1.0)
    want = np.quantile(np.abs(y), 1 - 0.001)
    assert abs(st["clamp"]["recommended_range"] - want) <= 0.02 * want
    assert st["reference"]["source"] == "declared"
