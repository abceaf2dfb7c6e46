"""Durability across SIGKILL, exact restore, graceful SIGTERM, and socket handling."""
import os
import signal
import socket
import sqlite3
import subprocess
import time

import numpy as np

from conftest import Daemon, scaled_binary
from oracle import assert_stats, stats


def strip_times(st):
    st = dict(st)
    for k in ("created_at", "updated_at", "last_push_at"):
        st.pop(k, None)
    if st.get("reference"):
        st["reference"] = {k: v for k, v in st["reference"].items() if k != "frozen_at"}
    return st


def push_some(d, rng, n, stream="d", shape=(4, 4, 8, 8)):
    arrays = []
    for i in range(n):
        a = rng.standard_normal(shape).astype(np.float32) * (1 + 0.01 * i)
        status, body = d.push_raw(stream, a, query=f"step={i}")
        assert status == 200, body
        arrays.append(a)
    return arrays


def test_sigkill_after_acknowledged_push_loses_nothing(tmp_path):
    rng = np.random.default_rng(1)
    d = Daemon(tmp_path).start()
    assert d.request("PUT", "/v1/streams/d", body=b'{"window_batches": 5}')[0] == 200
    arrays = push_some(d, rng, 12)
    before = d.get("/v1/streams/d")
    d.stop(signal.SIGKILL)
    d2 = Daemon(tmp_path).start()
    after = d2.get("/v1/streams/d")
    assert strip_times(after) == strip_times(before)
    assert_stats(after["cumulative"], stats(np.concatenate(arrays)))
    assert_stats(after["window"], stats(np.concatenate(arrays[-5:])))
    hist = d2.get("/v1/streams/d/history")["history"]
    assert [h["step"] for h in hist] == list(range(12))
    d2.stop(signal.SIGKILL)


def test_restart_restores_status_exactly_with_snapshots(tmp_path):
    """Over 256 batches a snapshot is taken; restore = snapshot + journal replay."""
    rng = np.random.default_rng(2)
    d = Daemon(tmp_path).start()
    cfg = b'{"window_batches": 20, "scheduler": {"clip_sample": true, "clip_sample_range": 1.0}}'
    assert d.request("PUT", "/v1/streams/d", body=cfg)[0] == 200
    arrays = push_some(d, rng, 300, shape=(2, 4, 4, 4))
    before = d.get("/v1/streams/d")
    assert before["reference"]["source"] == "frozen"  # window filled, nothing declared
    norm_before = d.get("/v1/streams/d/normalization?mode=channel")
    d.stop(signal.SIGKILL)
    con = sqlite3.connect(d.db)
    assert con.execute("select count(*) from snapshots").fetchone()[0] >= 1
    con.close()
    d2 = Daemon(tmp_path).start()
    assert strip_times(d2.get("/v1/streams/d")) == strip_times(before)
    assert d2.get("/v1/streams/d/normalization?mode=channel") == norm_before
    assert_stats(before["cumulative"], stats(np.concatenate(arrays)))
    d2.stop(signal.SIGKILL)


def test_sigterm_finishes_snapshots_and_removes_the_socket(tmp_path):
    rng = np.random.default_rng(3)
    d = Daemon(tmp_path).start()
    push_some(d, rng, 3)
    before = d.get("/v1/streams/d")
    assert d.stop(signal.SIGTERM) == 0
    assert not os.path.exists(d.socket)
    con = sqlite3.connect(d.db)
    assert con.execute("select count(*) from snapshots").fetchone()[0] == 1
    con.close()
    log = d.log.read_text()
    assert "snapshots written" in log
    d2 = Daemon(tmp_path).start()
    assert strip_times(d2.get("/v1/streams/d")) == strip_times(before)
    assert d2.stop(signal.SIGINT) == 0


def test_stale_socket_is_replaced(tmp_path):
    path = str(tmp_path / "s.sock")
    s = socket.socket(socket.AF_UNIX, socket.SOCK_STREAM)
    s.bind(path)
    s.close()  # leaves the file, nobody listening: what a crash leaves
    assert os.path.exists(path)
    d = Daemon(tmp_path).start()
    assert d.get("/v1/health")["status"] == "ok"
    d.stop()


def test_second_daemon_refuses_a_live_socket(tmp_path):
    d = Daemon(tmp_path).start()
    other = subprocess.run([scaled_binary(), "--socket", d.socket, "--db", str(tmp_path / "other.db")],
                           capture_output=True, text=True, timeout=30)
    assert other.returncode != 0
    assert "already serving" in other.stderr
    assert not (tmp_path / "other.db").exists()  # refused before touching a database
    assert d.get("/v1/health")["status"] == "ok"  # the first one still serves
    d.stop()


def test_socket_mode(tmp_path):
    d = Daemon(tmp_path, "--socket-mode", "0660").start()
    assert oct(os.stat(d.socket).st_mode & 0o777) == "0o660"
    d.stop()
    d = Daemon(tmp_path).start()
    assert oct(os.stat(d.socket).st_mode & 0o777) == "0o600"
    d.stop()


def test_default_paths_from_the_environment(tmp_path):
    env = dict(os.environ, XDG_RUNTIME_DIR=str(tmp_path / "run"), XDG_STATE_HOME=str(tmp_path / "state"))
    env.pop("SCALED_SOCKET", None)
    env.pop("SCALED_DB", None)
    os.makedirs(tmp_path / "run")
    p = subprocess.Popen([scaled_binary()], env=env, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
    try:
        sock = tmp_path / "run" / "scaled.sock"
        for _ in range(200):
            if sock.exists():
                break
            time.sleep(0.05)
        assert sock.exists()
        assert (tmp_path / "state" / "scaled" / "scaled.db").exists()
    finally:
        p.send_signal(signal.SIGTERM)
        assert p.wait(30) == 0
    assert not sock.exists()


def test_help_explains_every_option():
    out = subprocess.run([scaled_binary(), "--help"], capture_output=True, text=True).stdout
    for opt in ("--socket", "--db", "--socket-mode", "--max-body-bytes", "--log-level",
                "SCALED_SOCKET", "SCALED_DB"):
        assert opt in out


DAMAGES = [
    # (column, how the stored JSON is damaged, the field the refusal must name)
    ("state", lambda s: s.replace('"reference_version":', '"reference_version":"x",'
                                  '"_":'), "state.reference_version"),
    ("state", lambda s: s.replace('"scaling_factor":', '"scaling_factor":-1,"_":'), "state.frozen.reference.scaling_factor"),
    ("config", lambda s: s.replace('"window_batches":', '"window_batches":"many","_":'), "config.window_batches"),
    ("config", lambda s: "{not json", "config"),
]


def test_a_damaged_stored_value_refuses_to_start_and_says_what_to_do(tmp_path):
    """A stored value that does not parse is never replaced by defaults (that
    would silently lose a frozen reference): scaled refuses to start, naming the
    file, the stream and the field, and changes nothing."""
    for i, (column, damage, field) in enumerate(DAMAGES):
        d = Daemon(tmp_path, db=tmp_path / f"case{i}.db", socket_path=tmp_path / f"c{i}.sock").start()
        rng = np.random.default_rng(i)
        push_some(d, rng, 3, stream="frozen1", shape=(2, 4, 4, 4))
        assert d.request("POST", "/v1/streams/frozen1/freeze")[0] == 200
        assert d.stop() == 0
        con = sqlite3.connect(d.db)
        (stored,) = con.execute(f"SELECT {column} FROM streams WHERE name = 'frozen1'").fetchone()
        stored = stored.decode() if isinstance(stored, bytes) else stored
        damaged = damage(stored)
        assert damaged != stored
        con.execute(f"UPDATE streams SET {column} = ? WHERE name = 'frozen1'", (damaged.encode(),))
        con.commit()
        con.close()
        def rows():
            con = sqlite3.connect(d.db)
            try:
                return [con.execute(f"SELECT * FROM {t} ORDER BY 1, 2").fetchall()
                        for t in ("streams", "journal", "snapshots", "alerts")]
            finally:
                con.close()
        before = rows()
        run = subprocess.run([scaled_binary(), "--socket", d.socket, "--db", d.db],
                             capture_output=True, text=True, timeout=30)
        assert run.returncode != 0, run.stderr
        message = run.stderr
        assert d.db in message and "damaged" in message, message
        assert "'frozen1'" in message and field in message, message
        assert "backup" in message and "move it aside" in message, message
        assert not os.path.exists(d.socket)
        assert rows() == before  # refused without changing anything


def test_a_damaged_database_file_or_blob_refuses_to_start_naming_the_file(tmp_path):
    """Garbage where the database should be, and a journal blob whose sketch is out
    of order: each refusal names the file, says it is damaged, and says what to do."""
    junk = tmp_path / "junk.db"
    junk.write_bytes(b"this is not an sqlite database " * 200)
    run = subprocess.run([scaled_binary(), "--socket", str(tmp_path / "j.sock"), "--db", str(junk)],
                         capture_output=True, text=True, timeout=30)
    assert run.returncode != 0
    assert str(junk) in run.stderr and "damaged" in run.stderr and "backup" in run.stderr and ".recover" in run.stderr, run.stderr

    d = Daemon(tmp_path, db=tmp_path / "blob.db", socket_path=tmp_path / "b.sock").start()
    push_some(d, np.random.default_rng(1), 2, stream="s", shape=(2, 4, 4, 4))
    assert d.stop() == 0
    con = sqlite3.connect(d.db)
    (blob,) = con.execute("SELECT summary FROM journal WHERE stream = 's' AND seq = 2").fetchone()
    con.execute("UPDATE journal SET summary = ? WHERE stream = 's' AND seq = 2", (blob[:-5],))
    con.commit()
    con.close()
    run = subprocess.run([scaled_binary(), "--socket", d.socket, "--db", d.db], capture_output=True, text=True, timeout=30)
    assert run.returncode != 0
    assert d.db in run.stderr and "damaged" in run.stderr and "'s'" in run.stderr and "seq 2" in run.stderr, run.stderr
    assert "backup" in run.stderr and "move it aside" in run.stderr and ".recover" in run.stderr
