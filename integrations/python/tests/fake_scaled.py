"""A small stand-in for ``scaled`` used by the client and Monitor tests.

It serves HTTP/1.1 (keep-alive) on a Unix socket with the standard library's
``socketserver.UnixStreamServer`` + ``http.server.BaseHTTPRequestHandler``, answers
with contract-shaped JSON (see notes/contract.md), records every request, and can
be made slow, stopped, restarted, or killed with connections open.
"""

from __future__ import annotations

import json
import os
import socket
import socketserver
import threading
import time
from http.server import BaseHTTPRequestHandler
from typing import Any, Dict, List, Optional
from urllib.parse import parse_qs, unquote, urlsplit

import numpy as np

SUMMARY_TYPE = "application/vnd.latentscale.summary"
# The fake's summary: magic, samples (u64 LE), then every finite value as f8 LE.
# Opaque to the client, exact to merge: the union is the concatenation.
SUMMARY_MAGIC = b"FAKESUM1"

DTYPES = {"float16": np.dtype("<f2"), "float32": np.dtype("<f4"), "float64": np.dtype("<f8"), "bfloat16": None}


def decode(body: bytes, dtype: str, shape: tuple) -> np.ndarray:
    """Wire bytes -> float64 array (bfloat16 widened exactly to float32 first)."""
    if dtype == "bfloat16":
        bits = np.frombuffer(body, dtype="<u2").astype(np.uint32) << 16
        return bits.view(np.float32).astype(np.float64).reshape(shape)
    return np.frombuffer(body, dtype=DTYPES[dtype]).astype(np.float64).reshape(shape)


class _Server(socketserver.ThreadingMixIn, socketserver.UnixStreamServer):
    daemon_threads = True
    allow_reuse_address = True

    def handle_error(self, request: Any, client_address: Any) -> None:
        pass  # clients going away mid-request are part of the tests


class FakeScaled:
    def __init__(self, path: str) -> None:
        self.path = path
        self.delay = 0.0  # seconds each push takes
        self.summary_delay = 0.0  # seconds each GET …/summary takes (a hung daemon)
        self.light = False  # don't keep values (latency runs with big batches)
        self.flags: List[Dict[str, Any]] = []
        # Extra fields of each GET /v1/streams entry (normalized_std, clamp_fraction, ...)
        # and how long that listing takes.
        self.listing_extra: Dict[str, Any] = {}
        self.list_delay = 0.0
        self.requests: List[Dict[str, Any]] = []
        self.streams: Dict[str, Dict[str, Any]] = {}
        self.lock = threading.Lock()
        self._server: Optional[_Server] = None
        self._thread: Optional[threading.Thread] = None
        self._conns: List[socket.socket] = []

    # -- lifecycle ---------------------------------------------------------------
    def start(self) -> "FakeScaled":
        if os.path.exists(self.path):
            os.unlink(self.path)
        fake = self

        class Handler(_Handler):
            server_fake = fake

        self._server = _Server(self.path, Handler)
        self._thread = threading.Thread(target=self._server.serve_forever, kwargs={"poll_interval": 0.02}, daemon=True)
        self._thread.start()
        return self

    def stop(self) -> None:
        """Stop listening and drop every open connection (a killed daemon)."""
        if self._server is None:
            return
        self._server.shutdown()
        self._server.server_close()
        with self.lock:
            conns, self._conns = self._conns, []
        for c in conns:
            try:
                c.shutdown(socket.SHUT_RDWR)
            except OSError:
                pass
        if os.path.exists(self.path):
            os.unlink(self.path)
        self._server = None

    kill = stop

    @property
    def running(self) -> bool:
        return self._server is not None

    def pushes(self, stream: Optional[str] = None) -> List[Dict[str, Any]]:
        with self.lock:
            return [r for r in self.requests if r["kind"] == "push" and (stream is None or r["stream"] == stream)]

    # -- the API -------------------------------------------------------------------
    def _stream(self, name: str) -> Dict[str, Any]:
        s = self.streams.get(name)
        if s is None:
            s = self.streams[name] = {"config": {"channel_axis": 1, "target_std": 1.0}, "values": [], "batches": 0,
                                      "samples": 0, "peers": {}}
        return s

    @staticmethod
    def merged(s: Dict[str, Any]) -> Dict[str, Any]:
        """The stream as ``scope=global`` sees it: its own values and every peer's."""
        peers = s.get("peers", {}).values()
        return {**s, "values": list(s["values"]) + [p["values"] for p in peers],
                "samples": s["samples"] + sum(p["samples"] for p in peers)}

    def normalization(self, s: Dict[str, Any], mode: str = "shift") -> Dict[str, Any]:
        vals = np.concatenate(s["values"]) if s["values"] else np.zeros(0)
        target = s["config"].get("target_std", 1.0)
        std = float(vals.std()) if vals.size else None
        out = {
            "mode": mode,
            "method": "std",
            "target_std": target,
            "scaling_factor": (target / std) if std else None,
            "samples": s["samples"],
            "elements": int(vals.size),
            "scaling_factor_ci95": None,
            "converged": False,
        }
        if mode == "shift":
            out["shift_factor"] = float(vals.mean()) if vals.size else None
        return out

    def status(self, name: str, s: Dict[str, Any]) -> Dict[str, Any]:
        vals = np.concatenate(s["values"]) if s["values"] else np.zeros(0)
        stats = {"batches": s["batches"], "samples": s["samples"], "elements": int(vals.size),
                 "mean": float(vals.mean()) if vals.size else None, "std": float(vals.std()) if vals.size else None}
        return {"name": name, "config": s["config"], "totals": {"batches": s["batches"], "samples": s["samples"],
                "elements": int(vals.size), "nonfinite": {"nan": 0, "posinf": 0, "neginf": 0}},
                "cumulative": stats, "window": stats, "estimate": self.normalization(s), "reference": None,
                "flags": self.flags}


def _error(code: str, message: str, status: int) -> tuple:
    return status, {"error": {"code": code, "message": message}}


class _Handler(BaseHTTPRequestHandler):
    protocol_version = "HTTP/1.1"
    server_fake: FakeScaled

    def log_message(self, format: str, *args: Any) -> None:  # keep test output clean
        pass

    def setup(self) -> None:
        super().setup()
        with self.server_fake.lock:
            self.server_fake._conns.append(self.connection)

    def address_string(self) -> str:
        return "unix"

    def do_GET(self) -> None:
        self._dispatch("GET")

    def do_PUT(self) -> None:
        self._dispatch("PUT")

    def do_POST(self) -> None:
        self._dispatch("POST")

    def do_DELETE(self) -> None:
        self._dispatch("DELETE")

    def _dispatch(self, method: str) -> None:
        fake = self.server_fake
        url = urlsplit(self.path)
        query = {k: v[-1] for k, v in parse_qs(url.query, keep_blank_values=True).items()}
        length = int(self.headers.get("Content-Length") or 0)
        body = self.rfile.read(length) if length else b""
        record = {"kind": "other", "method": method, "path": url.path, "query": query,
                  "content_type": self.headers.get("Content-Type"), "body": body, "time": time.monotonic()}
        parts = [unquote(p) for p in url.path.split("/")[1:]]
        status, payload = 404, {"error": {"code": "not_found", "message": f"no route for {method} {url.path}"}}
        text: Optional[str] = None
        with fake.lock:
            fake.requests.append(record)
        if parts[-1:] == ["summary"] and fake.summary_delay:
            time.sleep(fake.summary_delay)
        if parts == ["v1", "health"] and method == "GET":
            status, payload = 200, {"status": "ok", "version": "0.0.0-fake"}
        elif parts == ["metrics"] and method == "GET":
            status, text = 200, "# TYPE scaled_batches_total counter\nscaled_batches_total{stream=\"x\"} 1\n"
        elif parts == ["v1", "alerts"] and method == "GET":
            status, payload = 200, {"alerts": [], "all": query.get("all") == "true"}
        elif parts == ["v1", "streams"] and method == "GET":
            if fake.list_delay:
                time.sleep(fake.list_delay)
            with fake.lock:
                entries = [{"name": n, "batches": s["batches"], "samples": s["samples"],
                            "scaling_factor": fake.normalization(s)["scaling_factor"], "flags": fake.flags,
                            **fake.listing_extra} for n, s in fake.streams.items()]
            status, payload = 200, {"streams": entries}
        elif len(parts) >= 3 and parts[:2] == ["v1", "streams"]:
            name, rest = parts[2], parts[3:]
            record["stream"] = name
            status, payload = self._stream_route(fake, method, name, rest, query, body, record)
        if isinstance(payload, bytes):
            data, ctype = payload, SUMMARY_TYPE
        elif text is not None:
            data, ctype = text.encode(), "text/plain; version=0.0.4"
        else:
            data, ctype = json.dumps(payload).encode(), "application/json"
        self.send_response(status)
        self.send_header("Content-Type", ctype)
        self.send_header("Content-Length", str(len(data)))
        self.end_headers()
        self.wfile.write(data)

    def _stream_route(self, fake: FakeScaled, method: str, name: str, rest: list, query: dict, body: bytes, record: dict) -> tuple:
        if not name or name.startswith(("-", ".", "_")) or "/" in name:
            return _error("invalid_stream_name", f"invalid stream name {name!r}", 400)
        if rest == ["latents"] and method == "POST":
            record["kind"] = "push"
            if fake.delay:
                time.sleep(fake.delay)
            if record["content_type"] == "application/x-npy":
                import io
                arr = np.load(io.BytesIO(body), allow_pickle=False)
                dtype, shape, values = arr.dtype.name, arr.shape, arr.astype(np.float64)
            else:
                dtype = query.get("dtype")
                if dtype not in DTYPES:
                    return _error("invalid_dtype", f"unknown dtype {dtype!r}", 400)
                try:
                    shape = tuple(int(x) for x in query.get("shape", "").split(","))
                except ValueError:
                    return _error("invalid_shape", f"bad shape {query.get('shape')!r}", 400)
                size = 2 if dtype == "bfloat16" else DTYPES[dtype].itemsize
                if int(np.prod(shape)) * size != len(body):
                    return _error("length_mismatch", f"body has {len(body)} bytes, shape needs {int(np.prod(shape)) * size}", 400)
                values = decode(body[: 16 * size] if fake.light else body, dtype, (16,) if fake.light else shape)
            with fake.lock:
                s = fake._stream(name)
                if fake.light:
                    fake.requests.remove(record)
                else:
                    record.update(dtype=dtype, shape=shape, values=values)
                s["values"].append(values.ravel())
                s["batches"] += 1
                s["samples"] += shape[0]
                return 200, {"stream": name, "accepted": {"samples": shape[0], "elements": int(values.size), "nonfinite": 0},
                             "totals": {"batches": s["batches"], "samples": s["samples"], "elements": sum(v.size for v in s["values"])},
                             "normalization": fake.normalization(s), "flags": list(fake.flags)}
        with fake.lock:
            if method == "PUT" and not rest:
                try:
                    cfg = json.loads(body or b"{}")
                except ValueError:
                    return _error("invalid_config", "body is not JSON", 400)
                if not isinstance(cfg, dict) or cfg.get("window_batches", 1) < 1:
                    return _error("invalid_config", "window_batches must be at least 1", 400)
                record["kind"] = "configure"
                record["config"] = cfg
                s = fake._stream(name)
                s["config"].update(cfg)
                return 200, fake.status(name, s)
            if method == "PUT" and len(rest) == 2 and rest[0] == "peers":
                record["kind"] = "put_peer"
                record["peer"] = rest[1]
                if record["content_type"] != SUMMARY_TYPE or not body.startswith(SUMMARY_MAGIC):
                    return _error("invalid_summary", "not a fake summary", 400)
                samples = int.from_bytes(body[len(SUMMARY_MAGIC):len(SUMMARY_MAGIC) + 8], "little")
                values = np.frombuffer(body[len(SUMMARY_MAGIC) + 8:], dtype="<f8").copy()
                s = fake._stream(name)
                s["peers"][rest[1]] = {"samples": samples, "values": values}
                return 200, {"stream": name, "peer": rest[1], "samples": samples, "elements": int(values.size)}
            s = fake.streams.get(name)
            if s is None:
                return _error("stream_not_found", f"no stream named {name!r}; push to it first", 404)
            if method == "DELETE" and len(rest) == 2 and rest[0] == "peers":
                record["kind"] = "delete_peer"
                if s["peers"].pop(rest[1], None) is None:
                    return _error("peer_not_found", f"no peer {rest[1]!r}", 404)
                return 200, {"deleted": rest[1]}
            if method == "GET" and rest == ["summary"]:
                record["kind"] = "summary"
                if not s["values"]:
                    return _error("no_data", f"stream {name!r} holds no data", 409)
                vals = np.concatenate(s["values"]).astype("<f8")
                return 200, SUMMARY_MAGIC + int(s["samples"]).to_bytes(8, "little") + vals.tobytes()
            if query.get("scope") == "global":
                s = fake.merged(s)
                if not s["values"]:
                    return _error("no_data", f"stream {name!r} holds no data", 409)
            if method == "GET" and not rest:
                st = fake.status(name, s)
                st["peers"] = [{"name": n, "samples": p["samples"], "elements": int(p["values"].size)}
                               for n, p in s.get("peers", {}).items()]
                return 200, st
            if method == "DELETE" and not rest:
                del fake.streams[name]
                return 200, {"deleted": name}
            if method == "GET" and rest == ["normalization"]:
                if query.get("format") == "diffusers":
                    n = fake.normalization(s, query.get("mode", "shift"))
                    return 200, {k: n[k] for k in ("scaling_factor", "shift_factor") if k in n}
                return 200, fake.normalization(s, query.get("mode", "shift"))
            if method == "POST" and rest in (["freeze"], ["reset"]):
                if rest == ["reset"]:
                    s.update(values=[], batches=0, samples=0)
                return 200, fake.status(name, s)
            if method == "GET" and rest == ["history"]:
                limit = int(query.get("limit", 1000))
                hist = [{"seq": i + 1, "samples": 1} for i in range(s["batches"])][-limit:]
                return 200, {"stream": name, "history": hist}
        return _error("method_not_allowed", f"{method} not allowed here", 405)


def main() -> None:
    """Run a fake daemon in its own process: python fake_scaled.py SOCKET [--delay S] [--light]."""
    import argparse
    import signal

    ap = argparse.ArgumentParser()
    ap.add_argument("socket")
    ap.add_argument("--delay", type=float, default=0.0)
    ap.add_argument("--light", action="store_true")
    args = ap.parse_args()
    fake = FakeScaled(args.socket)
    fake.delay, fake.light = args.delay, args.light
    fake.start()
    print("ready", flush=True)
    signal.sigwait({signal.SIGTERM, signal.SIGINT})
    fake.stop()


if __name__ == "__main__":
    main()
