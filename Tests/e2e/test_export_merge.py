"""scalectl export / import / merge round trips against the daemon's own answers."""
import json
import os
import subprocess

import numpy as np
import pytest

from conftest import Daemon


def scalectl(d, *args, check=True):
    r = subprocess.run([os.environ.get("SCALECTL_BIN", "scalectl"), *args] + (["--socket", d.socket] if d else []),
                       capture_output=True, text=True, timeout=60)
    if check:
        assert r.returncode == 0, r.stderr
    return r


@pytest.fixture
def two(tmp_path):
    a = Daemon(tmp_path, socket_path=tmp_path / "a.sock", db=tmp_path / "a.db").start()
    b = Daemon(tmp_path, socket_path=tmp_path / "b.sock", db=tmp_path / "b.db").start()
    yield a, b
    a.stop(); b.stop()


def test_export_merge_import_are_bit_exact(two, tmp_path):
    a, b = two
    rng = np.random.default_rng(21)
    xs = [(rng.standard_normal((4, 4, 8, 8)) * (1 + i) + i).astype(np.float32) for i in range(4)]
    for x in xs[:2]:
        assert a.push_raw("s", x)[0] == 200
    for x in xs[2:]:
        assert b.push_raw("s", x)[0] == 200
    for x in xs:
        assert a.push_raw("all", x)[0] == 200
    fa, fb, fw = tmp_path / "a.lss", tmp_path / "b.lss", tmp_path / "w.lss"
    scalectl(a, "export", "s", "-o", str(fa))
    scalectl(b, "export", "s", "-o", str(fb))
    assert fa.read_bytes() == a.request("GET", "/v1/streams/s/summary")[1]
    scalectl(a, "export", "s", "--window", "-o", str(fw))
    assert fw.read_bytes() == a.request("GET", "/v1/streams/s/summary?scope=window")[1]

    # One file merged alone gives the daemon's own normalization, bit for bit.
    for mode in ("scalar", "shift", "channel", "whiten"):
        alone = json.loads(scalectl(None, "merge", str(fa), "--mode", mode, "--format", "json").stdout)
        assert alone == a.get(f"/v1/streams/s/normalization?mode={mode}"), mode
    # Two files merged offline equal the stream that was pushed the union.
    for mode in ("shift", "channel", "whiten"):
        merged = json.loads(scalectl(None, "merge", str(fa), str(fb), "--mode", mode, "--format", "json").stdout)
        union = a.get(f"/v1/streams/all/normalization?mode={mode}")
        for key, value in union.items():
            if isinstance(value, (str, bool, int)) or value is None:
                assert merged[key] == value, (mode, key)
            else:   # merging in another order rounds differently: within 1e-12
                assert np.allclose(np.asarray(merged[key], float), np.asarray(value, float), rtol=1e-12, atol=0), (mode, key)
    diffusers = json.loads(scalectl(None, "merge", str(fa), str(fb), "--mode", "shift", "--format", "diffusers").stdout)
    assert set(diffusers) == {"scaling_factor", "shift_factor"}
    shell = scalectl(None, "merge", str(fa), "--format", "shell").stdout
    assert shell.startswith("export SCALING_FACTOR=")

    # import sets b's summary as a peer of a: global scope then equals the offline merge.
    out = scalectl(a, "import", "s", str(fb), "--peer", "node-b").stdout
    assert "peer node-b set" in out
    g = a.get("/v1/streams/s/normalization?scope=global&mode=channel")
    offline = json.loads(scalectl(None, "merge", str(fa), str(fb), "--mode", "channel", "--format", "json").stdout)
    assert g == offline


def test_merge_refuses_bad_files(tmp_path, two):
    a, _ = two
    bad = tmp_path / "bad.lss"
    bad.write_bytes(b"LSBS\x01garbage")
    r = scalectl(None, "merge", str(bad), check=False)
    assert r.returncode == 65 and "not a latentscale summary" in r.stderr
    r = scalectl(None, "merge", str(tmp_path / "missing.lss"), check=False)
    assert r.returncode == 66
    rng = np.random.default_rng(0)
    assert a.push_raw("c3", rng.standard_normal((2, 3, 4)).astype(np.float32))[0] == 200
    assert a.push_raw("c4", rng.standard_normal((2, 4, 4)).astype(np.float32))[0] == 200
    scalectl(a, "export", "c3", "-o", str(tmp_path / "c3.lss"))
    scalectl(a, "export", "c4", "-o", str(tmp_path / "c4.lss"))
    r = scalectl(None, "merge", str(tmp_path / "c3.lss"), str(tmp_path / "c4.lss"), check=False)
    assert r.returncode == 65 and "channels" in r.stderr
    r = scalectl(a, "export", "nope", "-o", str(tmp_path / "x.lss"), check=False)
    assert r.returncode == 66 and not (tmp_path / "x.lss").exists()
