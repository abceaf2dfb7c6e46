"""latentscale works without Lightning, and says what to install when it is asked for.

Runs in fresh interpreters where ``lightning`` (and ``pytorch_lightning``) cannot be
imported, whether or not they are installed here.
"""

from __future__ import annotations

import subprocess
import sys
from pathlib import Path

SRC = str(Path(__file__).resolve().parents[1] / "src")

BLOCK = (
    "import sys, importlib.abc\n"
    "class Block(importlib.abc.MetaPathFinder):\n"
    "    def find_spec(self, name, path=None, target=None):\n"
    "        if name.split('.')[0] in ('lightning', 'pytorch_lightning'):\n"
    "            raise ModuleNotFoundError(f'No module named {name!r} (blocked by the test)', name=name)\n"
    "        return None\n"
    "sys.meta_path.insert(0, Block())\n"
)


def run(code: str) -> subprocess.CompletedProcess:
    return subprocess.run(
        [sys.executable, "-c", BLOCK + code],
        env={"PYTHONPATH": SRC, "PATH": "/usr/bin:/bin"},
        capture_output=True,
        text=True,
        timeout=120,
    )


def test_package_imports_and_monitors_without_lightning() -> None:
    r = run(
        "import numpy as np, latentscale, latentscale.diffusers\n"
        "m = latentscale.Monitor('x', socket='/nonexistent/s.sock')\n"
        "m.push(np.zeros((2, 2), np.float32)); s = m.scalars(); m.close(1)\n"
        "assert sorted(s) == sorted(latentscale.SCALAR_KEYS), s\n"
        "assert not [k for k in sys.modules if k.split('.')[0] in ('lightning', 'pytorch_lightning')]\n"
        "print('ok')\n"
    )
    assert r.returncode == 0 and r.stdout.strip() == "ok", r.stderr


def test_lightning_module_says_what_to_install() -> None:
    r = run("import latentscale.lightning\n")
    assert r.returncode == 1
    assert "ImportError: latentscale.lightning needs Lightning 2 (`pip install lightning`" in r.stderr, r.stderr
