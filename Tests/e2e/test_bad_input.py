"""Every bad input gets a 4xx with a JSON code and a message, and changes nothing."""
import io
import struct

import numpy as np
import pytest


def snapshot_state(d):
    streams = d.get("/v1/streams")["streams"]
    full = {s["name"]: d.get(f"/v1/streams/{s['name']}") for s in streams}
    for st in full.values():
        for k in ("updated_at", "created_at", "last_push_at"):
            st.pop(k, None)
    for s in streams:
        s.pop("last_push_at", None)
    return streams, full


def npy_bytes(arr, **kw):
    buf = io.BytesIO()
    np.save(buf, arr, **kw)
    return buf.getvalue()


def fortran_npy():
    return npy_bytes(np.asfortranarray(np.zeros((2, 4, 3, 3), dtype=np.float32)))


def npy_with_header(header: str, data: bytes = b"") -> bytes:
    h = header.encode()
    pad = 64 - (10 + len(h) + 1) % 64
    h = h + b" " * pad + b"\n"
    return b"\x93NUMPY\x01\x00" + struct.pack("<H", len(h)) + h + data


GOOD = np.zeros((2, 4, 3, 3), dtype=np.float32).tobytes()
RAW = {"Content-Type": "application/octet-stream"}
NPY = {"Content-Type": "application/x-npy"}

CASES = [
    # (name, method, path, body, headers, status, code)
    ("length mismatch", "POST", "/v1/streams/ok/latents?dtype=float32&shape=2,4,3,3", GOOD[:-4], RAW, 400, "length_mismatch"),
    ("unknown dtype", "POST", "/v1/streams/ok/latents?dtype=int8&shape=2,4,3,3", GOOD, RAW, 400, "invalid_dtype"),
    ("missing dtype", "POST", "/v1/streams/ok/latents?shape=2,4,3,3", GOOD, RAW, 400, "invalid_dtype"),
    ("missing shape", "POST", "/v1/streams/ok/latents?dtype=float32", GOOD, RAW, 400, "invalid_shape"),
    ("unparsable shape", "POST", "/v1/streams/ok/latents?dtype=float32&shape=2,x,3", GOOD, RAW, 400, "invalid_shape"),
    ("one dimension", "POST", "/v1/streams/ok/latents?dtype=float32&shape=72", GOOD, RAW, 400, "invalid_shape"),
    ("zero-sized dimension", "POST", "/v1/streams/ok/latents?dtype=float32&shape=2,0,3", b"", RAW, 400, "invalid_shape"),
    ("overflowing shape", "POST", "/v1/streams/ok/latents?dtype=float32&shape=4294967296,4294967296,16", GOOD, RAW, 400, "invalid_shape"),
    ("channel axis out of range", "POST", "/v1/streams/ok/latents?dtype=float32&shape=2,4,3,3&channel_axis=4", GOOD, RAW, 400, "invalid_channel_axis"),
    ("channel axis is the sample axis", "POST", "/v1/streams/ok/latents?dtype=float32&shape=2,4,3,3&channel_axis=0", GOOD, RAW, 400, "invalid_channel_axis"),
    ("channel count differs", "POST", "/v1/streams/ok/latents?dtype=float32&shape=2,3,4,3", GOOD, RAW, 409, "channel_mismatch"),
    ("invalid stream name", "POST", "/v1/streams/-bad/latents?dtype=float32&shape=2,4,3,3", GOOD, RAW, 400, "invalid_stream_name"),
    ("stream name too long", "POST", "/v1/streams/" + "a" * 129 + "/latents?dtype=float32&shape=2,4,3,3", GOOD, RAW, 400, "invalid_stream_name"),
    ("malformed npy", "POST", "/v1/streams/ok/latents", b"not an npy file at all", NPY, 400, "invalid_npy"),
    ("truncated npy", "POST", "/v1/streams/ok/latents", npy_bytes(np.zeros((2, 4, 3, 3), np.float32))[:-8], NPY, 400, "invalid_npy"),
    ("truncated npy header", "POST", "/v1/streams/ok/latents", npy_bytes(np.zeros((2, 4, 3, 3), np.float32))[:30], NPY, 400, "invalid_npy"),
    ("fortran-order npy", "POST", "/v1/streams/ok/latents", fortran_npy(), NPY, 400, "unsupported_npy"),
    ("int npy", "POST", "/v1/streams/ok/latents", npy_bytes(np.zeros((2, 4, 3, 3), np.int32)), NPY, 400, "unsupported_npy"),
    ("big-endian npy", "POST", "/v1/streams/ok/latents", npy_bytes(np.zeros((2, 4, 3, 3), ">f4")), NPY, 400, "unsupported_npy"),
    ("npy without shape", "POST", "/v1/streams/ok/latents", npy_with_header("{'descr': '<f4', 'fortran_order': False, }"), NPY, 400, "invalid_npy"),
    ("unknown content type", "POST", "/v1/streams/ok/latents?dtype=float32&shape=2,4,3,3", GOOD, {"Content-Type": "text/plain"}, 415, "unsupported_media_type"),
    ("unknown query parameter", "POST", "/v1/streams/ok/latents?dtype=float32&shape=2,4,3,3&dtpye=x", GOOD, RAW, 400, "invalid_query"),
    ("bad step", "POST", "/v1/streams/ok/latents?dtype=float32&shape=2,4,3,3&step=ten", GOOD, RAW, 400, "invalid_query"),
    ("unknown route", "GET", "/v1/nothing", None, {}, 404, "not_found"),
    ("wrong method", "PATCH", "/v1/streams/ok", b"{}", {}, 405, "method_not_allowed"),
    ("wrong method on push", "GET", "/v1/streams/ok/latents", None, {}, 405, "method_not_allowed"),
    ("invalid config json", "PUT", "/v1/streams/ok", b"{not json", {}, 400, "invalid_config"),
    ("negative target_std", "PUT", "/v1/streams/ok", b'{"target_std": -1}', {}, 400, "invalid_config"),
    ("zero window", "PUT", "/v1/streams/ok", b'{"window_batches": 0}', {}, 400, "invalid_config"),
    ("unknown config field", "PUT", "/v1/streams/ok", b'{"window": 5}', {}, 400, "invalid_config"),
    ("bad clamp fraction", "PUT", "/v1/streams/ok", b'{"clamp_max_fraction": 2}', {}, 400, "invalid_config"),
    ("reference channel count", "PUT", "/v1/streams/ok", b'{"reference": {"latents_mean": [0,0], "latents_std": [1,1]}}', {}, 400, "invalid_config"),
    ("reference with zero std", "PUT", "/v1/streams/new", b'{"reference": {"latents_mean": [0], "latents_std": [0]}}', {}, 400, "invalid_config"),
    ("config channel axis 0", "PUT", "/v1/streams/ok", b'{"channel_axis": 0}', {}, 400, "invalid_config"),
    ("config channel axis beyond any rank", "PUT", "/v1/streams/ok", b'{"channel_axis": 99}', {}, 400, "invalid_config"),
    ("config nan target", "PUT", "/v1/streams/ok", b'{"target_std": NaN}', {}, 400, "invalid_config"),
    ("config zero clip range", "PUT", "/v1/streams/ok", b'{"scheduler": {"clip_sample_range": 0}}', {}, 400, "invalid_config"),
    ("config negative tolerance", "PUT", "/v1/streams/ok", b'{"drift_tolerance": -0.1}', {}, 400, "invalid_config"),
    ("config huge alert_for_batches", "PUT", "/v1/streams/ok", b'{"alert_for_batches": 1000001}', {}, 400, "invalid_config"),
    ("config infinite scaling factor", "PUT", "/v1/streams/ok", b'{"reference": {"scaling_factor": 1e999}}', {}, 400, "invalid_config"),
    ("unknown stream", "GET", "/v1/streams/missing", None, {}, 404, "stream_not_found"),
    ("normalization of unknown stream", "GET", "/v1/streams/missing/normalization", None, {}, 404, "stream_not_found"),
]


@pytest.mark.parametrize("case", CASES, ids=[c[0] for c in CASES])
def test_bad_input_is_rejected_and_changes_nothing(daemon, case):
    name, method, path, body, headers, status, code = case
    rng = np.random.default_rng(0)
    assert daemon.push_raw("ok", rng.standard_normal((2, 4, 3, 3)).astype(np.float32))[0] == 200
    before = snapshot_state(daemon)
    got_status, got = daemon.request(method, path, body=body, headers=headers)
    assert got_status == status, got
    if status == 405:
        assert "Allow" in daemon.last_headers
    assert got["error"]["code"] == code
    assert len(got["error"]["message"]) > 20
    assert snapshot_state(daemon) == before


def test_body_over_the_limit_is_413_without_buffering(make_daemon):
    d = make_daemon("--max-body-bytes", "1000").start()
    status, body = d.push_raw("big", np.zeros((4, 4, 8, 8), np.float32))
    assert status == 413 and body["error"]["code"] == "body_too_large"
    assert "--max-body-bytes" in body["error"]["message"]
    assert d.get("/v1/streams")["streams"] == []
    assert d.push_raw("small", np.zeros((2, 4, 3, 3), np.float32))[0] == 200
