from __future__ import annotations

import os
import shutil
import subprocess
import sys
import tempfile
import time
from pathlib import Path
from typing import Iterator, List, Optional

import pytest

sys.path.insert(0, str(Path(__file__).resolve().parent))
sys.path.insert(0, str(Path(__file__).resolve().parents[1] / "src"))

from fake_scaled import FakeScaled  # noqa: E402

import latentscale  # noqa: E402

PYTHON_DIR = Path(__file__).resolve().parents[1]
REPO_ROOT = PYTHON_DIR.parents[1]


def short_tmpdir() -> str:
    # AF_UNIX paths are limited to 107 bytes; pytest's tmp_path can be longer.
    return tempfile.mkdtemp(prefix="ls-", dir="/tmp")


@pytest.fixture
def sockdir() -> Iterator[str]:
    d = short_tmpdir()
    yield d
    shutil.rmtree(d, ignore_errors=True)


@pytest.fixture
def fake(sockdir: str) -> Iterator[FakeScaled]:
    server = FakeScaled(os.path.join(sockdir, "s.sock")).start()
    yield server
    server.stop()


# -- the real daemon -------------------------------------------------------------------


def scaled_binary() -> Path:
    env = os.environ.get("SCALED_BIN")
    return Path(env) if env else REPO_ROOT / ".build" / "debug" / "scaled"


class ScaledProcess:
    """One `scaled --socket DIR/s.sock --db DIR/db.sqlite` process."""

    def __init__(self, binary: Path, directory: str) -> None:
        self.binary = binary
        self.dir = directory
        self.socket = os.path.join(directory, "s.sock")
        self.db = os.path.join(directory, "db.sqlite")
        self.log_path = os.path.join(directory, "scaled.log")
        self.proc: Optional[subprocess.Popen] = None
        self.extra_args: List[str] = []

    def start(self, timeout: float = 30.0) -> "ScaledProcess":
        log = open(self.log_path, "ab")
        self.proc = subprocess.Popen(
            [str(self.binary), "--socket", self.socket, "--db", self.db, *self.extra_args],
            stdout=log,
            stderr=subprocess.STDOUT,
            stdin=subprocess.DEVNULL,
        )
        log.close()
        deadline = time.monotonic() + timeout
        client = latentscale.Client(self.socket, timeout=2.0)
        while True:
            if self.proc.poll() is not None:
                raise RuntimeError(f"scaled exited with {self.proc.returncode} before answering /v1/health:\n{self.log()}")
            try:
                if client.health().get("status") == "ok":
                    client.close()
                    return self
            except latentscale.LatentScaleError:
                pass
            if time.monotonic() > deadline:
                self.kill()
                raise RuntimeError(f"scaled did not answer /v1/health on {self.socket} within {timeout}s:\n{self.log()}")
            time.sleep(0.05)

    def log(self) -> str:
        try:
            with open(self.log_path, "rb") as f:
                return f.read()[-4000:].decode("utf-8", errors="replace")
        except OSError:
            return ""

    def kill(self) -> None:
        if self.proc is not None and self.proc.poll() is None:
            self.proc.kill()
            self.proc.wait(10)

    def stop(self) -> None:
        if self.proc is not None and self.proc.poll() is None:
            self.proc.terminate()
            try:
                self.proc.wait(10)
            except subprocess.TimeoutExpired:
                self.proc.kill()
                self.proc.wait(10)


def _require_binary() -> Path:
    binary = scaled_binary()
    if not binary.exists():
        message = (
            f"the scaled binary is not at {binary}: build it with `swift build` in {REPO_ROOT} "
            "or set SCALED_BIN=/path/to/scaled; set LATENTSCALE_SKIP_E2E=1 to skip these tests"
        )
        if os.environ.get("LATENTSCALE_SKIP_E2E") == "1":
            pytest.skip(message)
        pytest.fail(message, pytrace=False)
    return binary


@pytest.fixture(scope="module")
def scaled() -> Iterator[ScaledProcess]:
    """A real scaled shared by a test module (use distinct stream names)."""
    binary = _require_binary()
    d = short_tmpdir()
    proc = ScaledProcess(binary, d).start()
    yield proc
    proc.stop()
    shutil.rmtree(d, ignore_errors=True)


@pytest.fixture
def scaled_fresh() -> Iterator[ScaledProcess]:
    """A real scaled of this test's own (for kill/restart tests)."""
    binary = _require_binary()
    d = short_tmpdir()
    proc = ScaledProcess(binary, d)
    yield proc
    proc.stop()
    shutil.rmtree(d, ignore_errors=True)
