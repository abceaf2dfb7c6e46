"""push() latency percentiles with the daemon up, slow and stopped (printed, not asserted).

The fake daemon runs in its own process so that it does not compete for this
process's GIL, as the real daemon would not.
"""

from __future__ import annotations

import os
import subprocess
import sys
from pathlib import Path

import pytest

from latentscale import Monitor
from latency import measure, report

FAKE = Path(__file__).resolve().parent / "fake_scaled.py"



def _spawn(sock: str, *args: str) -> subprocess.Popen:
    proc = subprocess.Popen([sys.executable, str(FAKE), sock, "--light", *args], stdout=subprocess.PIPE, text=True)
    assert proc.stdout is not None and proc.stdout.readline().strip() == "ready"
    return proc


@pytest.mark.parametrize("scenario", ["up", "slow (200 ms/push)", "stopped"])
def test_push_latency(scenario: str, sockdir: str, capsys: pytest.CaptureFixture) -> None:
    sock = os.path.join(sockdir, "lat.sock")
    proc = None
    if scenario == "up":
        proc = _spawn(sock)
    elif scenario.startswith("slow"):
        proc = _spawn(sock, "--delay", "0.2")
    try:
        m = Monitor("latency", socket=sock, queue_size=8)
        r = measure(m)
        m.close(5)
    finally:
        if proc is not None:
            proc.terminate()
            proc.wait(10)
    with capsys.disabled():
        print("\n  [latency, (32,4,64,64) float32, 3 ms step, fake daemon] " + report(scenario, r))
    s = r["stats"]
    if scenario == "up":
        assert s.pushed > 0
    if scenario == "stopped":
        assert s.pushed == 0 and s.dropped + s.failed == 300 + 20
