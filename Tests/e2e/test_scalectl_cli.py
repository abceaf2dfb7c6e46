"""scalectl's global options go before or after the subcommand, against the real daemon."""
import json
import os
import subprocess

import numpy as np


def run(*args):
    return subprocess.run([os.environ.get("SCALECTL_BIN", "scalectl"), *args], capture_output=True, text=True, timeout=60)


def test_socket_json_and_timeout_before_the_subcommand(daemon):
    assert daemon.push_raw("g", np.ones((2, 4, 2, 2), np.float32) + np.arange(16, dtype=np.float32).reshape(2, 4, 2, 1))[0] == 200
    after = run("status", "g", "--socket", daemon.socket, "--json")
    before = run("--socket", daemon.socket, "--json", "status", "g")
    equals = run(f"--socket={daemon.socket}", "--timeout", "5", "--json", "status", "g")
    for r in (after, before, equals):
        assert r.returncode == 0, r.stderr
    assert json.loads(before.stdout)["totals"] == json.loads(after.stdout)["totals"] == json.loads(equals.stdout)["totals"]
    assert run("--socket", daemon.socket, "alerts").returncode == 0
    wrong = run("--socket", daemon.socket + ".nope", "status", "g")
    assert wrong.returncode == 69 and ".nope" in wrong.stderr
