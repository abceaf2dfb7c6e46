"""The default socket rule against the table the Swift tests read too."""
import json
import os
from pathlib import Path

import pytest

from latentscale._client import default_socket_path

TABLE = Path(__file__).resolve().parents[3] / "Tests" / "fixtures" / "socket_paths.json"
CASES = json.loads(TABLE.read_text())["cases"]


@pytest.mark.parametrize("case", CASES, ids=[c["expected"] + "-" + ",".join(sorted(c["env"])) for c in CASES])
def test_same_answer_as_the_daemon(case, monkeypatch):
    for key in ("SCALED_SOCKET", "XDG_RUNTIME_DIR"):
        monkeypatch.delenv(key, raising=False)
    for key, value in case["env"].items():
        monkeypatch.setenv(key, value)
    monkeypatch.setattr(os, "getuid", lambda: case["uid"])
    assert default_socket_path() == case["expected"]
