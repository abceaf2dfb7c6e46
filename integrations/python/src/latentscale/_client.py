"""Synchronous client for ``scaled`` over its Unix socket (stdlib ``http.client``)."""

from __future__ import annotations

import http.client
import io
import json
import os
import socket as _socket
import struct
from typing import Any, Dict, List, Mapping, Optional, Tuple, Union
from urllib.parse import quote, urlencode

import numpy as np

from ._errors import LatentScaleConnectionError, LatentScaleError
from ._tensors import WireTensor, to_wire

__all__ = ["Client", "default_socket_path", "UnixHTTPConnection"]

JSON = Dict[str, Any]

DEFAULT_TIMEOUT = 30.0

#: Content type of a stream's mergeable state (``GET …/summary``, ``PUT …/peers/PEER``).
SUMMARY_CONTENT_TYPE = "application/vnd.latentscale.summary"


def default_socket_path() -> str:
    """The socket ``scaled`` listens on by default.

    ``$SCALED_SOCKET``, else ``$XDG_RUNTIME_DIR/scaled.sock``, else
    ``/tmp/scaled-$UID/scaled.sock`` (the same rule as the daemon).
    """
    explicit = os.environ.get("SCALED_SOCKET")
    if explicit:
        return explicit
    runtime = os.environ.get("XDG_RUNTIME_DIR")
    if runtime:
        return os.path.join(runtime, "scaled.sock")
    return f"/tmp/scaled-{os.getuid()}/scaled.sock"


class UnixHTTPConnection(http.client.HTTPConnection):
    """``http.client.HTTPConnection`` whose transport is an AF_UNIX stream socket."""

    def __init__(self, socket_path: str, timeout: Optional[float] = DEFAULT_TIMEOUT) -> None:
        # The host only fills the Host header; the socket path decides where we go.
        super().__init__("localhost", timeout=timeout)
        self.socket_path = socket_path

    def connect(self) -> None:
        sock = _socket.socket(_socket.AF_UNIX, _socket.SOCK_STREAM)
        try:
            if self.timeout is not None:
                # Kernel-side send timeout, used while a large body goes out in blocking
                # mode (see send()); Python's own timeout covers everything else.
                secs = int(self.timeout)
                usecs = int((self.timeout - secs) * 1e6)
                sock.setsockopt(_socket.SOL_SOCKET, _socket.SO_SNDTIMEO, struct.pack("ll", secs, usecs))
            sock.settimeout(self.timeout)
            sock.connect(self.socket_path)
        except BaseException:
            sock.close()
            raise
        self.sock = sock

    def send(self, data: Any) -> None:
        """Send ``data``; a large bytes-like body goes out in one blocking ``sendall``.

        With a Python-level timeout the socket is non-blocking and ``sendall`` sends a
        2 MiB tensor as dozens of chunks, taking and releasing the GIL for each; a
        training loop running Python in another thread then waits for the GIL behind
        each chunk. A blocking AF_UNIX send is one system call that releases the GIL
        once (the kernel's SO_SNDTIMEO still bounds a stalled peer).
        """
        if self.sock is None and self.auto_open:
            self.connect()
        sock = self.sock
        if sock is None or hasattr(data, "read") or not _is_large_buffer(data):
            super().send(data)
            return
        sock.settimeout(None)
        try:
            sock.sendall(data)
        finally:
            sock.settimeout(self.timeout)


_LARGE_BODY = 64 * 1024


def _is_large_buffer(data: Any) -> bool:
    try:
        return memoryview(data).nbytes >= _LARGE_BODY
    except TypeError:
        return False


_STALE_CONNECTION = (
    http.client.RemoteDisconnected,
    BrokenPipeError,
    ConnectionResetError,
    ConnectionAbortedError,
)


def _stream_path(stream: str, suffix: str = "") -> str:
    if not isinstance(stream, str) or not stream:
        raise ValueError("stream must be a non-empty string")
    return f"/v1/streams/{quote(stream, safe='')}{suffix}"


def _segment(value: str, what: str) -> str:
    if not isinstance(value, str) or not value:
        raise ValueError(f"{what} must be a non-empty string")
    return quote(value, safe="")


def _query(params: Mapping[str, Any]) -> str:
    items = []
    for key, value in params.items():
        if value is None:
            continue
        if isinstance(value, bool):
            value = "true" if value else "false"
        items.append((key, str(value)))
    return "?" + urlencode(items) if items else ""


class Client:
    """Synchronous client for ``scaled``.

    Every method returns the daemon's JSON answer as a dict (``metrics()`` returns
    the Prometheus text). A non-2xx answer raises :class:`LatentScaleError` with the
    server's ``code`` and ``message``; an unreachable daemon raises
    :class:`LatentScaleConnectionError`, which names the socket tried.

    One connection is kept open and reused (HTTP/1.1 keep-alive). A client is not
    thread-safe: give each thread its own.

    >>> c = Client()                       # $SCALED_SOCKET, $XDG_RUNTIME_DIR/scaled.sock, ...
    >>> c.push("sd15", latents, step=10)   # doctest: +SKIP
    >>> c.normalization("sd15", mode="scalar", format="diffusers")  # doctest: +SKIP
    {'scaling_factor': 0.18...}
    """

    def __init__(self, socket: Optional[Union[str, "os.PathLike[str]"]] = None, timeout: Optional[float] = DEFAULT_TIMEOUT) -> None:
        self.socket_path: str = os.fspath(socket) if socket is not None else default_socket_path()
        self.timeout = timeout
        self._conn: Optional[UnixHTTPConnection] = None

    # -- plumbing -------------------------------------------------------------------

    def close(self) -> None:
        """Close the kept-open connection (a later call opens a new one)."""
        if self._conn is not None:
            self._conn.close()
            self._conn = None

    def __enter__(self) -> "Client":
        return self

    def __exit__(self, *exc: Any) -> None:
        self.close()

    def __repr__(self) -> str:
        return f"Client(socket={self.socket_path!r})"

    def request(
        self,
        method: str,
        path: str,
        body: Any = None,
        headers: Optional[Mapping[str, str]] = None,
    ) -> Tuple[int, str, bytes]:
        """Send one request; returns (status, content type, body). Raises only on transport errors."""
        hdrs = dict(headers or {})
        if body is not None:
            hdrs.setdefault("Content-Length", str(memoryview(body).nbytes))
        for attempt in (0, 1):
            reused = self._conn is not None
            if self._conn is None:
                self._conn = UnixHTTPConnection(self.socket_path, timeout=self.timeout)
            conn = self._conn
            sent = False
            try:
                conn.request(method, path, body=body, headers=hdrs)
                sent = True
                response = conn.getresponse()
                data = response.read()
            except (_socket.timeout, BlockingIOError) as exc:  # BlockingIOError: SO_SNDTIMEO expired
                self.close()
                raise LatentScaleConnectionError(self.socket_path, str(exc) or "timed out", timeout=True) from exc
            except _STALE_CONNECTION as exc:
                self.close()
                # A kept-alive connection the server had already closed: the request
                # never reached it, so sending it again on a fresh connection is safe.
                # (A POST is retried only when it failed while being sent or closed
                # without a byte of answer, i.e. the daemon never processed it.)
                safe = method in ("GET", "PUT", "DELETE", "HEAD") or not sent or isinstance(
                    exc, http.client.RemoteDisconnected
                )
                if attempt == 0 and reused and safe:
                    continue
                raise LatentScaleConnectionError(self.socket_path, _reason(exc)) from exc
            except (OSError, http.client.HTTPException) as exc:
                self.close()
                raise LatentScaleConnectionError(self.socket_path, _reason(exc)) from exc
            if response.will_close:
                self.close()
            return response.status, response.getheader("Content-Type", "") or "", data
        raise AssertionError("unreachable")  # pragma: no cover

    def _call(
        self,
        method: str,
        path: str,
        body: Any = None,
        headers: Optional[Mapping[str, str]] = None,
        *,
        expect_json: bool = True,
    ) -> Any:
        status, ctype, data = self.request(method, path, body, headers)
        if not 200 <= status < 300:
            raise _error_from(status, data)
        if not expect_json:
            return data.decode("utf-8", errors="replace")
        try:
            return json.loads(data) if data else {}
        except ValueError as exc:
            raise LatentScaleError(
                "invalid_response",
                f"scaled answered {method} {path} with non-JSON ({ctype or 'no content type'}): "
                f"{data[:200]!r}",
                status,
            ) from exc

    def _json(self, method: str, path: str, body: Any = None, headers: Optional[Mapping[str, str]] = None) -> JSON:
        result = self._call(method, path, body, headers)
        if not isinstance(result, dict):
            raise LatentScaleError("invalid_response", f"scaled answered {method} {path} with {type(result).__name__}, not an object")
        return result

    def _json_body(self, obj: Any) -> Tuple[bytes, Dict[str, str]]:
        return json.dumps(obj).encode("utf-8"), {"Content-Type": "application/json"}

    # -- API ----------------------------------------------------------------------

    def health(self) -> JSON:
        """``GET /v1/health``: ``{"status": "ok", "version": ...}``."""
        return self._json("GET", "/v1/health")

    def streams(self) -> JSON:
        """``GET /v1/streams``: ``{"streams": [{name, batches, samples, ...}]}``."""
        return self._json("GET", "/v1/streams")

    def status(self, stream: str, scope: Optional[str] = None) -> JSON:
        """``GET /v1/streams/{stream}``: the stream's full status.

        ``scope="global"`` merges the local cumulative statistics with every peer's
        latest summary (the status then lists ``peers``); the default is local.
        """
        return self._json("GET", _stream_path(stream) + _query({"scope": scope}))

    def configure(self, stream: str, config: Optional[Mapping[str, Any]] = None, **fields: Any) -> JSON:
        """``PUT /v1/streams/{stream}``: create the stream or update its config.

        Fields come from ``config`` and/or keyword arguments (keywords win), e.g.
        ``configure("sd15", reference={"scaling_factor": 0.18215}, window_batches=50)``.
        Returns the full status.
        """
        merged: Dict[str, Any] = dict(config or {})
        merged.update(fields)
        body, headers = self._json_body(merged)
        return self._json("PUT", _stream_path(stream), body, headers)

    def push(
        self,
        stream: str,
        latents: Any,
        step: Optional[int] = None,
        tag: Optional[str] = None,
        *,
        channel_axis: Optional[int] = None,
        max_samples: Optional[int] = None,
        npy: bool = False,
    ) -> JSON:
        """``POST /v1/streams/{stream}/latents``: push one batch, synchronously.

        ``latents`` is a numpy array or torch tensor (float16, bfloat16, float32,
        float64; at least 2-D, samples first). It is sent as raw little-endian bytes
        (``npy=True`` sends a ``.npy`` file instead). Returns the push response with
        ``accepted``, ``totals``, ``normalization`` and ``flags``.
        """
        wire = to_wire(latents, max_samples)
        if npy:
            return self._push_npy(stream, wire, step, tag, channel_axis)
        return self.push_bytes(stream, wire.data, wire.dtype, wire.shape, step=step, tag=tag, channel_axis=channel_axis)

    def push_bytes(
        self,
        stream: str,
        data: Any,
        dtype: str,
        shape: Tuple[int, ...],
        *,
        step: Optional[int] = None,
        tag: Optional[str] = None,
        channel_axis: Optional[int] = None,
    ) -> JSON:
        """Push a tensor already in wire form: C-contiguous little-endian ``data``."""
        query = _query(
            {
                "dtype": dtype,
                "shape": ",".join(str(int(n)) for n in shape),
                "step": None if step is None else int(step),
                "tag": tag,
                "channel_axis": channel_axis,
            }
        )
        headers = {"Content-Type": "application/octet-stream"}
        return self._json("POST", _stream_path(stream, "/latents") + query, data, headers)

    def _push_npy(
        self, stream: str, wire: WireTensor, step: Optional[int], tag: Optional[str], channel_axis: Optional[int]
    ) -> JSON:
        if wire.dtype == "bfloat16":
            raise TypeError("bfloat16 has no .npy form; push it raw (npy=False)")
        arr = np.frombuffer(wire.data, dtype="<" + {"float16": "f2", "float32": "f4", "float64": "f8"}[wire.dtype])
        buf = io.BytesIO()
        np.lib.format.write_array(buf, arr.reshape(wire.shape), allow_pickle=False)
        query = _query({"step": step, "tag": tag, "channel_axis": channel_axis})
        headers = {"Content-Type": "application/x-npy"}
        return self._json("POST", _stream_path(stream, "/latents") + query, buf.getvalue(), headers)

    def normalization(self, stream: str, mode: str = "shift", method: str = "std", format: str = "json",
                      scope: Optional[str] = None, tag: Optional[str] = None) -> JSON:
        """``GET /v1/streams/{stream}/normalization``.

        ``mode``: scalar | shift | channel | whiten; ``method``: std | rms;
        ``format``: json (the full object) | diffusers (only the config.json keys);
        ``scope``: local (the daemon's default) | global (merged with every peer's
        latest summary). ``tag``: one bucket's normalization instead of the stream's.
        """
        query = _query({"scope": scope, "mode": mode, "method": method, "format": format, "tag": tag})
        return self._json("GET", _stream_path(stream, "/normalization") + query)

    def summary(self, stream: str, scope: Optional[str] = None) -> bytes:
        """``GET /v1/streams/{stream}/summary``: the stream's own mergeable state.

        The exact cumulative ``BatchSummary`` of this daemon's data (never its
        peers'), ``scope="window"`` for the window, as the versioned binary format
        of scaled-protocol(7). Raises :class:`LatentScaleError` ``no_data`` (409)
        when the stream holds no data, ``stream_not_found`` (404) when it does not
        exist.
        """
        path = _stream_path(stream, "/summary") + _query({"scope": scope})
        status, ctype, data = self.request("GET", path, headers={"Accept": SUMMARY_CONTENT_TYPE})
        if not 200 <= status < 300:
            raise _error_from(status, data)
        if ctype.split(";")[0].strip().lower() != SUMMARY_CONTENT_TYPE:
            raise LatentScaleError(
                "invalid_response",
                f"scaled answered GET {path} with {ctype or 'no content type'}, not {SUMMARY_CONTENT_TYPE}",
                status,
            )
        return data

    def put_peer(self, stream: str, peer: str, summary: Any) -> JSON:
        """``PUT /v1/streams/{stream}/peers/{peer}``: set another node's contribution.

        ``summary`` is that node's :meth:`summary` bytes. It replaces the peer's
        previous contribution (so repeated syncs never count it twice) and creates
        the stream if needed. Returns ``{"stream", "peer", "samples", "elements"}``.
        """
        headers = {"Content-Type": SUMMARY_CONTENT_TYPE}
        return self._json("PUT", _stream_path(stream, "/peers/" + _segment(peer, "peer")), summary, headers)

    def delete_peer(self, stream: str, peer: str) -> JSON:
        """``DELETE /v1/streams/{stream}/peers/{peer}``: forget a peer (404 ``peer_not_found``)."""
        return self._json("DELETE", _stream_path(stream, "/peers/" + _segment(peer, "peer")))

    def freeze(self, stream: str) -> JSON:
        """``POST /v1/streams/{stream}/freeze``: reference := current estimate."""
        return self._json("POST", _stream_path(stream, "/freeze"))

    def reset(self, stream: str) -> JSON:
        """``POST /v1/streams/{stream}/reset``: clear statistics and alerts, keep config."""
        return self._json("POST", _stream_path(stream, "/reset"))

    def delete(self, stream: str) -> JSON:
        """``DELETE /v1/streams/{stream}``: delete the stream and its data."""
        return self._json("DELETE", _stream_path(stream))

    def history(self, stream: str, limit: Optional[int] = None, tag: Optional[str] = None) -> JSON:
        """``GET /v1/streams/{stream}/history``: per-batch series, oldest first
        (``tag``: only that bucket's batches)."""
        return self._json("GET", _stream_path(stream, "/history") + _query({"limit": limit, "tag": tag}))

    def alerts(self, all: bool = False) -> JSON:
        """``GET /v1/alerts``: active alerts first, then (``all=True``) recent resolved ones."""
        return self._json("GET", "/v1/alerts" + _query({"all": True if all else None}))

    def metrics(self) -> str:
        """``GET /metrics``: Prometheus text exposition."""
        return str(self._call("GET", "/metrics", expect_json=False))


def _reason(exc: BaseException) -> str:
    if isinstance(exc, http.client.RemoteDisconnected):
        return "the daemon closed the connection without answering"
    text = str(exc)
    return f"{type(exc).__name__}: {text}" if text else type(exc).__name__


def _error_from(status: int, data: bytes) -> LatentScaleError:
    try:
        payload = json.loads(data)
        err = payload["error"]
        return LatentScaleError(str(err["code"]), str(err.get("message", "")), status, payload)
    except (ValueError, KeyError, TypeError):
        text = data.decode("utf-8", errors="replace").strip()[:500]
        reason = http.client.responses.get(status, "error")
        return LatentScaleError(
            f"http_{status}", f"{reason}: {text}" if text else reason, status, text or None
        )
