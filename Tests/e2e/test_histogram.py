"""GET /v1/streams/NAME/histogram against numpy's histogram of the same data."""
import numpy as np
import pytest


def bound(values, edges):
    """The documented error per bin: the counts of the sketch buckets (top 16
    bits of the float32 pattern) that hold the bin's two edges."""
    keys = values.astype(np.float32).view(np.uint32) >> 16
    uniq, counts = np.unique(keys, return_counts=True)
    per_key = dict(zip(uniq.tolist(), counts.tolist()))

    def at(edge):
        return per_key.get(int(np.float32(edge).view(np.uint32) >> 16), 0)
    return np.array([at(edges[i]) + at(edges[i + 1]) for i in range(len(edges) - 1)], dtype=float)


def test_raw_and_normalized_histograms_match_numpy(daemon):
    rng = np.random.default_rng(5)
    batches = [(rng.standard_normal((8, 4, 16, 16)) * 2.5 + 0.7).astype(np.float32) for _ in range(3)]
    for b in batches:
        assert daemon.push_raw("h", b)[0] == 200
    data = np.concatenate([b.ravel() for b in batches]).astype(np.float64)

    h = daemon.get("/v1/streams/h/histogram?scope=cumulative&normalized=false&bins=40")
    assert h["normalized"] is False and len(h["edges"]) == 41 and len(h["counts"]) == 40
    assert h["edges"][0] == pytest.approx(data.min()) and h["edges"][-1] == pytest.approx(data.max())
    assert h["total"] == data.size and h["nonfinite"] == 0
    assert sum(h["counts"]) + h["below"] + h["above"] == pytest.approx(data.size, abs=1e-6)
    exact, _ = np.histogram(data, bins=np.array(h["edges"]))
    assert np.all(np.abs(np.array(h["counts"]) - exact) <= bound(data, h["edges"]) + 1e-9)
    assert h["below"] == pytest.approx(0, abs=1e-9) and h["above"] == pytest.approx(0, abs=1e-9)

    # Under a declared reference, over a window of the last 2 batches, a fixed range.
    status = daemon.request("PUT", "/v1/streams/h", body=b'{"reference": {"scaling_factor": 0.4, "shift_factor": 0.7}, "window_batches": 2}')[0]
    assert status == 200
    h = daemon.get("/v1/streams/h/histogram?bins=10&lo=-1&hi=1")
    assert h["normalized"] is True and h["range"] == 1.0
    window = np.concatenate([b.ravel() for b in batches[-2:]]).astype(np.float64)
    y = (window - 0.7) * 0.4
    exact, _ = np.histogram(y, bins=np.array(h["edges"]))
    b = bound(window, [e / 0.4 + 0.7 for e in h["edges"]])
    assert np.all(np.abs(np.array(h["counts"]) - exact) <= b + 1e-9)
    assert abs(h["below"] - np.sum(y < -1)) <= b[0] + 1e-9
    assert abs(h["above"] - np.sum(y > 1)) <= b[-1] + 1e-9
    assert sum(h["counts"]) + h["below"] + h["above"] == pytest.approx(y.size, abs=1e-6)


@pytest.mark.parametrize("query,code", [
    ("bins=0", "invalid_query"), ("bins=1001", "invalid_query"), ("bins=x", "invalid_query"),
    ("scope=all", "invalid_query"), ("normalized=maybe", "invalid_query"),
    ("lo=1&hi=0", "invalid_query"), ("lo=nan", "invalid_query"),
])
def test_bad_queries_are_400(daemon, query, code):
    assert daemon.push_raw("q", np.ones((2, 4, 2, 2), dtype=np.float32))[0] == 200
    status, body = daemon.request("GET", f"/v1/streams/q/histogram?{query}")
    assert status == 400 and body["error"]["code"] == code, body


def test_normalized_without_a_reference_is_409(daemon):
    assert daemon.push_raw("n", np.ones((2, 4, 2, 2), dtype=np.float32))[0] == 200
    status, body = daemon.request("GET", "/v1/streams/n/histogram?normalized=true")
    assert status == 409 and body["error"]["code"] == "no_reference"
    assert daemon.get("/v1/streams/n/histogram")["normalized"] is False
