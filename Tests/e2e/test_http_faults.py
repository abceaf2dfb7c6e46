"""Client faults at the HTTP level are 4xx with the JSON error body, logged at info,
and change nothing; the daemon keeps serving."""
import json
import socket

import numpy as np
import pytest


def raw(path, data, half_close=True, timeout=5):
    s = socket.socket(socket.AF_UNIX, socket.SOCK_STREAM)
    s.connect(path)
    s.settimeout(timeout)
    s.sendall(data)
    if half_close:
        s.shutdown(socket.SHUT_WR)
    out = b""
    try:
        while True:
            chunk = s.recv(65536)
            if not chunk:
                break
            out += chunk
    finally:
        s.close()
    return out


def responses(data):
    """(status, json body or None) for each response in a byte stream."""
    out = []
    while data.startswith(b"HTTP/1.1 "):
        head, _, rest = data.partition(b"\r\n\r\n")
        lines = head.split(b"\r\n")
        status = int(lines[0].split(b" ")[1])
        fields = {l.split(b":", 1)[0].strip().lower(): l.split(b":", 1)[1].strip() for l in lines[1:]}
        n = int(fields.get(b"content-length", b"0"))
        body, data = rest[:n], rest[n:]
        out.append((status, json.loads(body) if body else None))
    return out


PUSH = b"POST /v1/streams/good/latents?dtype=float32&shape=2,2 HTTP/1.1\r\nHost: x\r\n"
CASES = [
    ("body shorter than Content-Length, then half-close", PUSH + b"Content-Length: 16\r\n\r\nabc", 400, "invalid_body"),
    ("huge Content-Length on a PUT, then EOF", b"PUT /v1/streams/good HTTP/1.1\r\nHost: x\r\nContent-Length: 1000000000000\r\n\r\n", 400, "invalid_body"),
    ("negative chunk size", PUSH + b"Transfer-Encoding: chunked\r\n\r\n-5\r\nabc\r\n0\r\n\r\n", 400, "invalid_body"),
    ("enormous chunk size", PUSH + b"Transfer-Encoding: chunked\r\n\r\nfffffffffffffffffffffff\r\nabc\r\n0\r\n\r\n", 400, "invalid_body"),
    ("gzip transfer coding", PUSH + b"Transfer-Encoding: gzip\r\n\r\nabcd", 501, "unsupported_transfer_coding"),
    ("bad request line", b"GARBAGE\r\n\r\n", 400, "bad_request"),
    ("bad header", b"GET /v1/health HTTP/1.1\r\nHost: x\r\nBad Header\r\n\r\n", 400, "bad_request"),
    ("non-numeric Content-Length", b"PUT /v1/streams/good HTTP/1.1\r\nHost: x\r\nContent-Length: abc\r\n\r\n{}", 400, "bad_request"),
]


@pytest.mark.parametrize("name,data,status,code", CASES, ids=[c[0] for c in CASES])
def test_client_faults_are_4xx_with_json(daemon, name, data, status, code):
    assert daemon.push_raw("good", np.arange(4, dtype=np.float32).reshape(2, 2))[0] == 200
    before = daemon.get("/v1/streams/good")
    got = responses(raw(daemon.socket, data))
    assert got, name
    assert got[0][0] == status and got[0][1]["error"]["code"] == code, got
    assert len(got[0][1]["error"]["message"]) > 20
    assert len(got) == 1, got                      # one answer, then the connection closes
    after = daemon.get("/v1/streams/good")
    assert after["totals"] == before["totals"] and after["cumulative"] == before["cumulative"]
    log = daemon.log.read_text()
    assert " error " not in log and "internal" not in log, log


def test_pipelined_requests_are_answered_before_a_parse_error(daemon):
    got = responses(raw(daemon.socket, b"GET /v1/health HTTP/1.1\r\nHost: x\r\n\r\n" * 2 + b"GARBAGE\r\n\r\n"))
    assert [s for s, _ in got] == [200, 200, 400] and got[2][1]["error"]["code"] == "bad_request"
