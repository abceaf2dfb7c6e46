"""SO_PEERCRED: only the daemon's uid, root and --allow-uid/--allow-gid may talk to scaled."""
import json
import os
import subprocess
import sys
import tempfile

import pytest

from conftest import Daemon

NOBODY = 65534
CLIENT = r"""
import json, os, socket, sys
os.setgroups([]); os.setgid(65534); os.setuid(65534)
s = socket.socket(socket.AF_UNIX, socket.SOCK_STREAM)
s.connect(sys.argv[1])
s.sendall(b"GET /v1/health HTTP/1.1\r\nHost: x\r\n\r\n")
data = b""
while True:
    chunk = s.recv(65536)
    if not chunk:
        break
    data += chunk
    if b"\r\n\r\n" in data:
        head, _, body = data.partition(b"\r\n\r\n")
        length = [int(l.split(b":")[1]) for l in head.split(b"\r\n") if l.lower().startswith(b"content-length")]
        if length and len(body) >= length[0]:
            break
status = int(data.split(b" ")[1])
print(json.dumps({"status": status, "body": json.loads(data.partition(b"\r\n\r\n")[2] or b"null"), "uid": os.getuid()}))
"""


def as_nobody(socket_path):
    r = subprocess.run([sys.executable, "-c", CLIENT, socket_path], capture_output=True, text=True, timeout=30)
    assert r.returncode == 0, r.stderr
    return json.loads(r.stdout)


@pytest.mark.skipif(os.geteuid() != 0, reason="needs root to drop to uid 65534")
@pytest.mark.parametrize("extra,allowed", [
    ((), False),
    (("--allow-uid", f"1000,{NOBODY}"), True),
    (("--allow-gid", str(NOBODY)), True),
])
def test_only_allowed_peers_get_in(extra, allowed):
    open_dir = tempfile.mkdtemp(prefix="scaled-peer-")
    os.chmod(open_dir, 0o777)
    d = Daemon(__import__("pathlib").Path(open_dir), "--socket-mode", "0666", *extra).start()
    try:
        got = as_nobody(d.socket)
        assert got["uid"] == NOBODY
        if allowed:
            assert got["status"] == 200 and got["body"]["status"] == "ok"
        else:
            assert got["status"] == 403
            assert got["body"]["error"]["code"] == "forbidden_peer"
            assert str(NOBODY) in got["body"]["error"]["message"]
        # The daemon's own uid always gets in, and a refused peer leaves it serving.
        assert d.get("/v1/health")["status"] == "ok"
    finally:
        d.stop()
    refusals = [line for line in d.log.read_text().splitlines() if "refused a peer" in line]
    if allowed:
        assert refusals == []
    else:   # logged with the peer's uid and pid
        assert len(refusals) == 1 and f"uid={NOBODY}" in refusals[0] and "pid=" in refusals[0]


def test_bad_allow_lists_are_usage_errors(tmp_path):
    from conftest import scaled_binary
    r = subprocess.run([scaled_binary(), "--socket", str(tmp_path / "s"), "--db", str(tmp_path / "d"), "--allow-uid", "me"],
                       capture_output=True, text=True, timeout=30)
    assert r.returncode == 64 and "--allow-uid" in r.stderr
