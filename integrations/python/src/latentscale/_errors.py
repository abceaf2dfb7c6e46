"""Exceptions raised by the latentscale client."""

from __future__ import annotations

from typing import Any, Optional


class LatentScaleError(Exception):
    """An error answered by ``scaled``, or a failure to reach it.

    ``code`` is the daemon's snake_case error code (``invalid_shape``,
    ``stream_not_found``, ...), ``message`` its explanation and ``status`` the
    HTTP status (``None`` when no response came back).
    """

    def __init__(
        self,
        code: str,
        message: str,
        status: Optional[int] = None,
        body: Any = None,
    ) -> None:
        self.code = code
        self.message = message
        self.status = status
        self.body = body
        super().__init__(self._describe())

    def _describe(self) -> str:
        where = f"HTTP {self.status} " if self.status is not None else ""
        return f"{where}{self.code}: {self.message}"


class LatentScaleConnectionError(LatentScaleError):
    """``scaled`` could not be reached on its Unix socket (or went away mid-request)."""

    def __init__(self, socket_path: str, reason: str, *, timeout: bool = False) -> None:
        self.socket_path = socket_path
        self.reason = reason
        self.timeout = timeout
        if timeout:
            message = (
                f"scaled at {socket_path} did not answer in time ({reason}); "
                "it may be overloaded, raise the client's timeout="
            )
            code = "timeout"
        else:
            message = (
                f"cannot reach scaled at {socket_path}: {reason}. "
                f"Start it with `scaled --socket {socket_path}` "
                "(or `systemctl --user start scaled.socket`), or point the client "
                "at the right socket with socket=... or $SCALED_SOCKET"
            )
            code = "connection_failed"
        super().__init__(code, message, None)
