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


def test_version_2_summaries_are_read_and_the_journal_holds_them(two, tmp_path):
    """The journal stores version 2 of SUMMARY FORMAT; every reader of
    summaries takes it as it takes version 1. The Python coder follows the
    man page, not the Swift code."""
    import sqlite3
    import struct

    import summary_format

    a, _ = two
    rng = np.random.default_rng(5)
    x = (rng.standard_normal((4, 4, 16, 16)) * 1.7 + 0.3).astype(np.float32)
    assert a.push_raw("one", x)[0] == 200
    v1 = a.request("GET", "/v1/streams/one/summary")[1]
    assert v1[:5] == b"LSBS\x01"   # what leaves the node stays version 1
    values = summary_format.decode(v1)
    assert len(values["sketch"]) > 1000
    v2 = summary_format.encode_v2(values)
    assert summary_format.decode(v2) == values
    assert len(v2) < len(v1) / 2
    # The only batch's journal row holds the same summary in version 2, byte for byte.
    with sqlite3.connect(f"file:{a.db}?mode=ro", uri=True) as c:
        blob = c.execute("SELECT summary FROM journal WHERE stream = 'one'").fetchone()[0]
    n = struct.unpack("<q", blob[8:16])[0]
    assert blob[16:21] == b"LSBS\x02"
    assert summary_format.decode(blob[16:16 + n]) == values
    assert blob[16:16 + n] == v2

    f1, f2 = tmp_path / "v1.lss", tmp_path / "v2.lss"
    f1.write_bytes(v1)
    f2.write_bytes(v2)
    for mode in ("shift", "channel", "whiten"):
        m1 = scalectl(None, "merge", str(f1), "--mode", mode, "--format", "json").stdout
        m2 = scalectl(None, "merge", str(f2), "--mode", mode, "--format", "json").stdout
        assert m1 == m2, mode
    assert a.push_raw("two", x[:2])[0] == 200
    scalectl(a, "import", "two", str(f1), "--peer", "p")
    g1 = a.get("/v1/streams/two/normalization?scope=global&mode=channel")
    scalectl(a, "import", "two", str(f2), "--peer", "p")
    assert a.get("/v1/streams/two/normalization?scope=global&mode=channel") == g1
    # Every value has one encoding: an overlong varint (the channel count as 0x84 0x00) is refused.
    overlong = tmp_path / "overlong.lss"
    overlong.write_bytes(v2[:5] + bytes([0x84, 0x00]) + v2[6:])
    r = scalectl(None, "merge", str(overlong), check=False)
    assert r.returncode == 65, r.stderr
    status, body = a.request("PUT", "/v1/streams/two/peers/q", body=overlong.read_bytes(),
                             headers={"Content-Type": "application/vnd.latentscale.summary"})
    assert status == 400 and body["error"]["code"] == "invalid_summary", body
