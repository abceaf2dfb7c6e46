"""HTTP-level fuzzing of the real daemon: thousands of seeded, random,
malformed requests (request lines, headers, chunked framing, bodies, queries,
paths, methods) over raw Unix-socket connections. No answer may be a 5xx, the
daemon must stay up, and a good stream's status must not change.

The one 5xx allowed is the documented 501 unsupported_transfer_coding, for a
request that names a Transfer-Encoding other than chunked (RFC 9112 6.1).

LATENTSCALE_HTTP_FUZZ_SEED and LATENTSCALE_HTTP_FUZZ_COUNT override the seed
and the number of requests; a failure prints the seed and the request bytes."""
import json
import os
import random
import re
import socket
import struct
import threading
import time

import numpy as np

SEED = int(os.environ.get("LATENTSCALE_HTTP_FUZZ_SEED", "20261201"))
COUNT = int(os.environ.get("LATENTSCALE_HTTP_FUZZ_COUNT", "4000"))
BUDGET_S = 45          # the whole run stops here even if COUNT is not reached
PER_REQUEST_S = 1.0    # a read that waits longer gives up on that connection
WORKERS = 4

GOOD = "good"          # never the target of a fuzzed request
NAMES = ["fz", "fz-2", "a" * 128, "a" * 129, "-bad", "..", "%2e%2e", "a/b", "ünï", "", "%00", "x" * 4000]
METHODS = ["GET", "POST", "PUT", "DELETE", "HEAD", "OPTIONS", "PATCH", "TRACE", "CONNECT", "get", "P OST",
           "GETT", "", "\x00", "G\tET", "X" * 300, "PRI", "BREW"]
VERSIONS = ["HTTP/1.1", "HTTP/1.0", "HTTP/1.2", "HTTP/2.0", "HTTP/0.9", "HTTP/1", "HTTP/1.1x", "http/1.1",
            "HTTP/11", "", "HTTP/1.1 extra", "HTTP/9.9"]
ROUTES = ["/v1/streams", "/v1/streams/{n}", "/v1/streams/{n}/latents", "/v1/streams/{n}/normalization",
          "/v1/streams/{n}/histogram", "/v1/streams/{n}/summary", "/v1/streams/{n}/peers/{n}",
          "/v1/streams/{n}/freeze", "/v1/streams/{n}/reset", "/v1/streams/{n}/history", "/v1/alerts",
          "/metrics", "/v1/health", "/", "*", "/v1", "/v1/streams/{n}/latents/extra", "//v1//streams",
          "http://localhost/v1/health", "/v1/streams/{n}?", "/%", "/%zz", "/v1/streams/{n}#frag"]
QUERY_KEYS = ["dtype", "shape", "step", "tag", "channel_axis", "scope", "mode", "method", "format", "limit",
              "all", "bins", "range", "q", "", "dtype[]", "%00"]
QUERY_VALUES = ["float32", "float16", "bfloat16", "float64", "int8", "2,4,3,3", "2,4,0,3", "-1,4", "1",
                "9223372036854775807", "9223372036854775808", "-9223372036854775809", "1e3", "nan", "inf", "",
                "%", "%zz", "%00", "a" * 300, "window", "global", "local", "cumulative", "prometheus", "json",
                "std", "rms", "shift", "scale", "0", "-1", "65", "4294967296,4294967296,16", ",,", "1,,2",
                "\u00e9", "true", "yes"]
CONTENT_TYPES = ["application/octet-stream", "application/x-npy", "application/npy", "application/json",
                 "application/vnd.latentscale.summary", "text/plain", "application/x-www-form-urlencoded",
                 "", ";", "application/octet-stream; charset=\x01", "multipart/form-data; boundary=x"]


def npy_header(rng: random.Random) -> bytes:
    descr = rng.choice(["<f4", "<f2", "<f8", ">f4", "<i4", "|b1", "<f16", "", "'", "<f4'"])
    shape = rng.choice(["(2, 4, 3, 3)", "(2,)", "()", "(-1, 4)", "(9223372036854775807, 2)", "(2, 4",
                        "(0, 4)", "(2, 4, 3, 3, 1, 1, 1, 1)", "[2, 4]", "('a',)"])
    fortran = rng.choice(["False", "True", "0", "None", ""])
    text = "{" + f"'descr': '{descr}', 'fortran_order': {fortran}, 'shape': {shape}, " + "}"
    if rng.random() < 0.2:
        text = "".join(c for c in text if rng.random() > 0.1)
    h = text.encode() + b" " * rng.randrange(0, 70) + b"\n"
    major = rng.choice([1, 1, 2, 3, 4, 0])
    if major in (2, 3):
        pre = b"\x93NUMPY" + bytes([major, 0]) + struct.pack("<I", rng.choice([len(h), len(h) + 50, 0, 0xFFFFFFFF]))
    else:
        pre = b"\x93NUMPY" + bytes([major, 0]) + struct.pack("<H", rng.choice([len(h), len(h) + 50, 0, 0xFFFF]))
    return pre + h + bytes(rng.randrange(256) for _ in range(rng.choice([0, 8, 96, 288])))


def json_body(rng: random.Random, depth: int = 0):
    keys = ["channel_axis", "target_std", "reference", "scheduler", "window_batches", "drift_tolerance",
            "clamp_max_fraction", "alert_for_batches", "scaling_factor", "shift_factor", "latents_mean",
            "latents_std", "clip_sample", "clip_sample_range", "thresholding", "x", ""]
    r = rng.random()
    if depth > 3 or r < 0.4:
        return rng.choice([0, 1, -1, 0.5, 1e308, -1e-320, 2 ** 63, -(2 ** 63) - 1, 10 ** 30, True, False, None,
                           "", "1", "nan", [], {}, 65, 100000, 100001, 0.999999])
    if r < 0.6:
        return [json_body(rng, depth + 1) for _ in range(rng.randrange(0, 5))]
    return {rng.choice(keys): json_body(rng, depth + 1) for _ in range(rng.randrange(0, 5))}


def garble(rng: random.Random, data: bytes) -> bytes:
    """A few random byte edits: flips, cuts, duplications, inserted CR/LF/NUL."""
    b = bytearray(data)
    for _ in range(rng.randrange(1, 4)):
        if not b:
            break
        i = rng.randrange(len(b))
        op = rng.randrange(5)
        if op == 0:
            b[i] = rng.randrange(256)
        elif op == 1:
            del b[i:i + rng.randrange(1, 8)]
        elif op == 2:
            b[i:i] = rng.choice([b"\r", b"\n", b"\0", b"\r\n", b" ", b":", b"%", b"\xff", b"\r\n\r\n"])
        elif op == 3:
            b[i:i] = b[i:i + rng.randrange(1, 16)]
        else:
            b[i] ^= 0x20
    return bytes(b)


class Generator:
    def __init__(self, rng: random.Random, summary: bytes):
        self.rng = rng
        self.summary = summary

    def name(self):
        return self.rng.choice(NAMES)

    def path(self):
        p = self.rng.choice(ROUTES)
        while "{n}" in p:
            p = p.replace("{n}", self.name(), 1)
        return p

    def query(self):
        rng = self.rng
        if rng.random() < 0.15:
            return ""
        parts = []
        for _ in range(rng.randrange(0, 6)):
            k, v = rng.choice(QUERY_KEYS), rng.choice(QUERY_VALUES)
            parts.append(rng.choice([f"{k}={v}", k, f"{k}=", f"={v}", f"{k}={v}={v}"]))
        return "?" + rng.choice(["&", ";", "&&"]).join(parts)

    def body(self, content_type: str) -> bytes:
        rng = self.rng
        kind = rng.randrange(6)
        if kind == 0 or "npy" in content_type:
            return npy_header(rng)
        if kind == 1 or "json" in content_type:
            text = json.dumps(json_body(rng)).encode()
            return garble(rng, text) if rng.random() < 0.4 else text
        if kind == 2 or "summary" in content_type:
            return garble(rng, self.summary) if rng.random() < 0.8 else self.summary[: rng.randrange(len(self.summary))]
        if kind == 3:
            return np.random.default_rng(rng.randrange(1 << 30)).standard_normal(72).astype("<f4").tobytes()
        return bytes(rng.randrange(256) for _ in range(rng.choice([0, 1, 7, 288, 1000])))

    def chunked(self, body: bytes) -> bytes:
        rng = self.rng
        out = b""
        i = 0
        while i < len(body):
            n = rng.randrange(1, 200)
            chunk = body[i:i + n]
            i += n
            size = rng.choice([f"{len(chunk):x}"] * 6 + [f"{len(chunk) + 5:x}", "-5", "f" * 40, "zz", "",
                                                          f"{len(chunk):x};ext=1", f" {len(chunk):x}",
                                                          f"0x{len(chunk):x}", "1" * 30])
            out += size.encode() + rng.choice([b"\r\n"] * 5 + [b"\n", b"", b"\r"]) + chunk
            out += rng.choice([b"\r\n"] * 5 + [b"", b"xx", b"\n"])
        out += rng.choice([b"0\r\n\r\n"] * 4 + [b"", b"0\r\n", b"0\r\nX-Trailer: 1\r\n\r\n", b"0\r\nbad trailer\r\n\r\n"])
        return out

    def request(self) -> tuple[bytes, bool]:
        """Request bytes, and whether to half-close the connection after sending them."""
        rng = self.rng
        method = rng.choice(["GET", "POST", "PUT", "DELETE"] * 3 + METHODS)
        target = self.path() + self.query()
        version = rng.choice(["HTTP/1.1"] * 24 + VERSIONS)
        content_type = rng.choice(CONTENT_TYPES)
        body = self.body(content_type) if method in ("POST", "PUT") or rng.random() < 0.2 else b""
        headers = [("Host", "localhost")] if rng.random() < 0.9 else []
        if rng.random() < 0.8:
            headers.append(("Content-Type", content_type))
        framing = rng.randrange(10)
        if framing < 4:
            headers.append(("Content-Length", str(len(body))))
        elif framing == 4:
            headers.append(("Content-Length", rng.choice(["-1", "abc", "1000000000000", "99999999999999999999999",
                                                          " 12", "12, 13", "0x10", "", "+5",
                                                          str(len(body) + rng.randrange(1, 100)),
                                                          str(max(0, len(body) - 3))])))
        elif framing == 5:
            headers.append(("Content-Length", str(len(body))))
            headers.append(("Content-Length", str(len(body) + 1)))
        elif framing in (6, 7):
            headers.append(("Transfer-Encoding", rng.choice(["chunked"] * 4 + ["gzip", "gzip, chunked", "identity",
                                                                                "chunked, chunked", "Chunked",
                                                                                "x-unknown"])))
            if rng.random() < 0.2:
                headers.append(("Content-Length", str(len(body))))
            body = self.chunked(body)
        if rng.random() < 0.3:
            headers.append(rng.choice([("Expect", "100-continue"), ("Expect", "200-ok"), ("Connection", "close"),
                                       ("Connection", "keep-alive, upgrade"), ("Upgrade", "h2c"),
                                       ("X-Long", "v" * rng.choice([100, 9000, 70000])),
                                       ("Accept", "*/*"), ("Host", "other")]))
        head = f"{method} {target} {version}\r\n".encode("utf-8", "surrogateescape")
        for k, v in headers:
            head += f"{k}: {v}\r\n".encode("utf-8", "surrogateescape")
        head += b"\r\n"
        data = head + body
        mutation = rng.randrange(16)
        if mutation == 0:
            data = garble(rng, data)
        elif mutation == 1:
            data = garble(rng, head) + body              # a broken request line or header
        elif mutation == 2:
            data = data[: rng.randrange(max(1, len(data)))]   # cut anywhere
        elif mutation == 3:
            line = rng.choice([b"NoColonHere\r\n", b" Folded: continuation\r\n", b"Bad Name: x\r\n",
                               b"X-Nul: a\0b\r\n", b": empty-name\r\n", b"X-Bin: \xff\xfe\r\n",
                               b"Content-Length : 5\r\n", b"\r\n\r\n"])
            data = head[:-2] + line + b"\r\n" + body
        elif mutation == 4:
            data = data + data                          # pipelined twice
        elif mutation == 5:
            data = bytes(rng.randrange(256) for _ in range(rng.randrange(1, 400)))
        return data, rng.random() < 0.85


def parse_responses(data: bytes, head: bool = False):
    """The (status, body) of the responses in `data`, and whether the last one
    (not 1xx) is complete. Raises ValueError on bytes that are not HTTP.
    With `head` (the request was HEAD), a response followed by nothing or by
    the next status line has no body."""
    codes, i, final = [], 0, False
    while i < len(data):
        end = data.find(b"\r\n\r\n", i)
        if end < 0:
            break
        lines = data[i:end].split(b"\r\n")
        m = re.fullmatch(rb"HTTP/1\.[01] (\d{3})(?: .*)?", lines[0])
        if not m:
            raise ValueError(f"not an HTTP status line: {lines[0][:100]!r}")
        code = int(m.group(1))
        headers = {}
        for line in lines[1:]:
            k, _, v = line.partition(b":")
            headers[k.strip().lower()] = v.strip()
        i = end + 4
        if 100 <= code < 200:
            codes.append((code, b""))
            continue
        length = int(headers.get(b"content-length", b"0") or b"0")
        if head and (i == len(data) or data.startswith(b"HTTP/1.", i)):
            length = 0
        if b"transfer-encoding" in headers:
            raise ValueError("chunked responses are not expected from scaled")
        codes.append((code, data[i:i + length]))
        if len(data) - i < length:
            break
        i += length
        final = True
    return codes, final


def send(path: str, data: bytes, half_close: bool) -> bytes:
    s = socket.socket(socket.AF_UNIX, socket.SOCK_STREAM)
    s.settimeout(PER_REQUEST_S)
    received = b""
    try:
        s.connect(path)
        try:
            s.sendall(data)
            if half_close:
                s.shutdown(socket.SHUT_WR)
        except OSError:
            pass  # the daemon may answer and close before it has read everything
        deadline = time.monotonic() + PER_REQUEST_S
        while time.monotonic() < deadline:
            try:
                chunk = s.recv(65536)
            except (socket.timeout, OSError):
                break
            if not chunk:
                break
            received += chunk
            try:
                _, final = parse_responses(received, data.startswith(b"HEAD "))
            except ValueError:
                break
            if final and not half_close:
                break
    finally:
        s.close()
    return received


def allowed_5xx(code: int, body: bytes, request: bytes) -> bool:
    """501 for a transfer coding scaled does not implement, as documented
    (the answer to HEAD or CONNECT has no body to name the code)."""
    if code != 501 or b"transfer-encoding" not in request.lower():
        return False
    return b'"unsupported_transfer_coding"' in body or not body


def stream_status(d):
    st = d.get(f"/v1/streams/{GOOD}")
    for k in ("updated_at", "created_at", "last_push_at", "last_push_age_s", "age_s"):
        st.pop(k, None)
    return st


def test_random_malformed_requests_never_get_a_5xx(daemon):
    rng0 = np.random.default_rng(7)
    status, body = daemon.request("PUT", f"/v1/streams/{GOOD}", body=json.dumps(
        {"reference": {"scaling_factor": 0.18215}}).encode(), headers={"Content-Type": "application/json"})
    assert status == 200, body
    for step in range(3):
        status, body = daemon.push_raw(GOOD, rng0.standard_normal((2, 4, 3, 3)).astype(np.float32), query=f"step={step}")
        assert status == 200, body
    status, summary = daemon.request("GET", f"/v1/streams/{GOOD}/summary")
    assert status == 200 and isinstance(summary, bytes)
    before = stream_status(daemon)
    before_summary = summary

    lock = threading.Lock()
    seen: dict[int, int] = {}
    failures: list[str] = []
    sent = [0]
    start = time.monotonic()

    def worker(k: int):
        gen = Generator(random.Random(SEED * 100 + k), summary)
        for n in range(COUNT // WORKERS):
            if time.monotonic() - start > BUDGET_S:
                return
            data, half_close = gen.request()
            received = send(daemon.socket, data, half_close)
            try:
                responses, _ = parse_responses(received, data.startswith(b"HEAD "))
                codes = [c for c, _ in responses]
                bad = [c for c, body in responses if c >= 500 and not allowed_5xx(c, body, data)]
                problem = f"answered {bad}" if bad else None
            except ValueError as e:
                codes, problem = [], str(e)
            with lock:
                sent[0] += 1
                for c in codes:
                    seen[c] = seen.get(c, 0) + 1
                if problem and len(failures) < 10:
                    failures.append(f"seed {SEED} worker {k} request {n}: {problem}\n"
                                    f"  request  {data[:600]!r}\n  response {received[:600]!r}")
            if daemon.proc.poll() is not None:
                with lock:
                    failures.append(f"seed {SEED} worker {k} request {n}: the daemon exited with "
                                    f"{daemon.proc.returncode} after\n  request  {data[:600]!r}")
                return

    threads = [threading.Thread(target=worker, args=(k,)) for k in range(WORKERS)]
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    elapsed = time.monotonic() - start
    print(f"http fuzz: {sent[0]} requests in {elapsed:.1f} s, status codes {dict(sorted(seen.items()))}")

    assert not failures, "\n".join(failures)
    assert daemon.proc.poll() is None, "the daemon exited"
    assert sent[0] >= 2000, f"only {sent[0]} requests in {BUDGET_S} s"
    assert daemon.get("/v1/health")["status"] == "ok"
    assert stream_status(daemon) == before
    status, after_summary = daemon.request("GET", f"/v1/streams/{GOOD}/summary")
    assert status == 200 and after_summary == before_summary


def test_a_peer_summary_whose_counts_overflow_is_refused(daemon):
    """Found by FuzzSummary: per-channel counts that add up past 2^63 trapped
    in the summary check, so this one request killed the daemon."""
    z = np.random.default_rng(3).standard_normal((2, 4, 3, 3)).astype(np.float32)
    status, body = daemon.push_raw("src", z)
    assert status == 200, body
    status, summary = daemon.request("GET", "/v1/streams/src/summary")
    assert status == 200
    # Layout (scaled-protocol(7), SUMMARY FORMAT): magic, version, 7 counts, the
    # total's moments (7 x 8 bytes), then each channel's, count first.
    first = 4 + 1 + 7 * 8 + 7 * 8
    bad = bytearray(summary)
    for c in range(4):
        bad[first + c * 56:first + c * 56 + 8] = struct.pack("<q", 1 << 62)
    status, body = daemon.request("PUT", "/v1/streams/dst/peers/p", body=bytes(bad),
                                  headers={"Content-Type": "application/vnd.latentscale.summary"})
    assert status == 400 and body["error"]["code"] == "invalid_summary", (status, body)
    assert daemon.proc.poll() is None
    assert daemon.get("/v1/health")["status"] == "ok"
    status, body = daemon.request("PUT", "/v1/streams/dst/peers/p", body=summary,
                                  headers={"Content-Type": "application/vnd.latentscale.summary"})
    assert status == 200, body
