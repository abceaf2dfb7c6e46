#!/usr/bin/env python3
"""Writes the seed corpus under fuzz/corpus/<target>/ from real artifacts:
np.save headers, push queries, PUT bodies, and what a real `scaled` stores
(stream rows, journal blobs) and serves (GET .../summary).

    SCALED_BIN=.build/debug/scaled fuzz/make-corpus.py

Needs numpy. Deterministic apart from timestamps in the stored documents."""
import hashlib
import io
import json
import os
import signal
import sqlite3
import sys
import tempfile
from pathlib import Path

import numpy as np

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT / "Tests" / "e2e"))
from conftest import Daemon  # noqa: E402  (the e2e suite's harness)
import summary_format  # noqa: E402  (the man page's SUMMARY FORMAT, both versions)

CORPUS = ROOT / "fuzz" / "corpus"


def put(target: str, data: bytes):
    d = CORPUS / target
    d.mkdir(parents=True, exist_ok=True)
    (d / hashlib.sha1(data).hexdigest()).write_bytes(data)


def npy(array, version=None) -> bytes:
    buf = io.BytesIO()
    if version is None:
        np.save(buf, array)
    else:
        np.lib.format.write_array(buf, array, version=version)
    return buf.getvalue()


def npy_headers():
    rng = np.random.default_rng(0)
    arrays = [
        rng.standard_normal((2, 4, 8, 8)).astype("<f4"),
        rng.standard_normal((1, 16, 4, 4)).astype("<f2"),
        rng.standard_normal((3, 4)).astype("<f8"),
        np.asfortranarray(rng.standard_normal((2, 3, 2)).astype("<f4")),
        rng.standard_normal((2, 4)).astype(">f4"),
        rng.standard_normal((2, 4, 2, 2, 2)).astype("<f4"),
        np.zeros((2, 3), dtype=[("a", "<f4"), ("b", "<i4")]),
        np.zeros((4,), dtype="<i8"),
    ]
    for a in arrays:
        data = npy(a)
        put("FuzzNpyHeader", data[:192])  # the header and the start of the data
    put("FuzzNpyHeader", npy(arrays[0], version=(2, 0))[:192])
    put("FuzzNpyHeader", npy(arrays[2], version=(3, 0)))


def push_queries():
    # query \n content-type \n content-length \n stream name
    for q in [
        "dtype=float32&shape=2,4,8,8",
        "dtype=float16&shape=1,16,4,4&step=100&tag=bucket-512",
        "dtype=bfloat16&shape=2,8,8,4&channel_axis=-1",
        "dtype=float64&shape=3,4\napplication/octet-stream\n96\nsd15",
        "\napplication/x-npy\n4096\nsdxl",
        "dtype=float32&shape=2,4,8,8\napplication/x-www-form-urlencoded; charset=utf-8\n2048",
        "dtype=float32&shape=32,%204,64,64&step=-1&tag=a%20b",
        "dtype=float32&shape=9223372036854775807,2&channel_axis=1\n\n-1\nx",
        "shape=2,4&dtype=int8&foo=bar\ntext/plain\n1e3\n../etc",
    ]:
        put("FuzzPushQuery", q.encode())


CONFIGS = [
    {"target_std": 1.0},
    {"channel_axis": -1, "window_batches": 50, "alert_for_batches": 3},
    {"reference": {"scaling_factor": 0.18215}},
    {"reference": {"scaling_factor": 1.5305, "shift_factor": 0.0609}},
    {"reference": {"latents_mean": [0.1, -0.2, 0.3, 0.0], "latents_std": [1.0, 0.9, 1.1, 1.2],
                   "scaling_factor": 1.0}},
    {"reference": None, "scheduler": {"clip_sample": True, "clip_sample_range": 1.0, "thresholding": False}},
    {"drift_tolerance": 0.05, "clamp_max_fraction": 0.001, "target_std": 0.5},
    {"channel_axis": 0},
    {"window_batches": 0, "unknown": 1},
]


def configs():
    for c in CONFIGS:
        put("FuzzConfigPatch", json.dumps(c).encode())
    put("FuzzConfigPatch", b"[1, 2.5e300, \"x\", null, true, {\"a\": {}}]")


def daemon_artifacts():
    scaled = os.environ.get("SCALED_BIN") or str(ROOT / ".build" / "debug" / "scaled")
    os.environ["SCALED_BIN"] = scaled
    rng = np.random.default_rng(1)
    with tempfile.TemporaryDirectory() as tmp:
        d = Daemon(Path(tmp)).start()
        try:
            for name, cfg, shape in [
                ("sd15", {"reference": {"scaling_factor": 0.18215}}, (2, 4, 8, 8)),
                ("flux", {"reference": {"scaling_factor": 0.3611, "shift_factor": 0.1159}, "channel_axis": -1},
                 (2, 4, 4, 16)),
                ("wan", {"reference": {"latents_mean": [0.0, 0.1], "latents_std": [1.0, 2.0],
                                       "scaling_factor": 1.0}}, (1, 2, 3, 4, 4)),
            ]:
                status, body = d.request("PUT", f"/v1/streams/{name}", body=json.dumps(cfg).encode(),
                                         headers={"Content-Type": "application/json"})
                assert status == 200, (status, body)
                for i in range(3):
                    a = rng.standard_normal(shape).astype("<f4") * (1 + i)
                    if i == 2:
                        a.flat[0] = np.nan
                        a.flat[1] = np.inf
                    status, body = d.push_raw(name, a, query=f"step={i}&tag=res-{256 * (1 + i % 2)}")
                    assert status == 200, (status, body)
                for scope in ["", "?scope=window"]:
                    status, body = d.request("GET", f"/v1/streams/{name}/summary{scope}")
                    assert status == 200, (status, body)
                    put("FuzzSummary", body)
                    # The same summary in version 2, which peers and imports also accept.
                    put("FuzzSummary", summary_format.encode_v2(summary_format.decode(body)))
                status, body = d.request("POST", f"/v1/streams/{name}/freeze")
                assert status == 200, (status, body)
        finally:
            d.stop(signal.SIGTERM)
        db = sqlite3.connect(Path(tmp) / "scaled.db")
        for config, state in db.execute("SELECT config, state FROM streams"):
            put("FuzzStoredState", bytes(config))
            put("FuzzStoredState", bytes(state))
        for (blob,) in db.execute("SELECT summary FROM journal WHERE summary IS NOT NULL LIMIT 4"):
            put("FuzzStoredState", bytes(blob))
        for (blob,) in db.execute("SELECT state FROM snapshots LIMIT 2"):
            put("FuzzStoredState", bytes(blob))


if __name__ == "__main__":
    npy_headers()
    push_queries()
    configs()
    daemon_artifacts()
    for t in sorted(p.name for p in CORPUS.iterdir()):
        print(f"{t}: {len(list((CORPUS / t).iterdir()))} seeds")
