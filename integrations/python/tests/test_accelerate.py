"""Monitor.scalars() through accelerate's tracking API, against the real scaled.

``Accelerator(log_with=[tracker])`` with a ``GeneralTracker`` written here that records
what it receives. Skipped where accelerate or torch is not installed.
"""

from __future__ import annotations

import math
import re
from typing import Any, Dict, List, Optional, Tuple

import numpy as np
import pytest

torch = pytest.importorskip("torch")
accelerate = pytest.importorskip("accelerate")

from accelerate import Accelerator  # noqa: E402
from accelerate.tracking import GeneralTracker  # noqa: E402

from latentscale import SCALAR_KEYS, Client, Monitor  # noqa: E402
from test_e2e import check_stats, close  # noqa: E402

pytestmark = pytest.mark.e2e

SCALE = 0.25
STEPS = 5


class RecordingTracker(GeneralTracker):
    """The smallest tracker accelerate accepts: keeps the config and every ``log`` call."""

    name = "recording"
    requires_logging_directory = False
    main_process_only = True

    def __init__(self) -> None:
        super().__init__()
        self.config: Optional[Dict[str, Any]] = None
        self.logged: List[Tuple[Optional[int], Dict[str, Any]]] = []
        self.finished = False

    @property
    def tracker(self) -> Any:
        return self.logged

    def store_init_configuration(self, values: Dict[str, Any]) -> None:
        self.config = dict(values)

    def log(self, values: Dict[str, Any], step: Optional[int] = None, **kwargs: Any) -> None:
        self.logged.append((step, dict(values)))

    def finish(self) -> None:
        self.finished = True


def figures(status: Dict[str, Any]) -> Dict[str, float]:
    nan = float("nan")
    num = lambda v: nan if v is None else float(v)  # noqa: E731
    return {
        "latentscale/normalized_std": num(status["drift"]["normalized_std"]),
        "latentscale/clamp_fraction": num(status["clamp"]["fraction_window"]),
        "latentscale/scaling_factor": num(status["estimate"]["scaling_factor"]),
        "latentscale/flags_firing": float(sum(1 for f in status["flags"] if f["state"] == "firing")),
    }


def test_scalars_through_accelerator_log(scaled: Any, request: pytest.FixtureRequest) -> None:
    stream = re.sub(r"[^A-Za-z0-9._-]", "-", request.node.name)[:100]
    tracker = RecordingTracker()
    accelerator = Accelerator(cpu=True, log_with=[tracker])
    accelerator.init_trackers("latentscale-test", config={"lr": 0.01, "stream": stream})
    assert accelerator.trackers == [tracker] and tracker.config == {"lr": 0.01, "stream": stream}

    model = torch.nn.Linear(16, 1)
    optimizer = torch.optim.SGD(model.parameters(), lr=0.01)
    model, optimizer = accelerator.prepare(model, optimizer)
    g = torch.Generator().manual_seed(7)
    config = {"reference": {"scaling_factor": SCALE, "shift_factor": 0.0},
              "scheduler": {"clip_sample": True, "clip_sample_range": 1.0}}
    client = Client(scaled.socket)
    pushed: List[np.ndarray] = []
    statuses: List[Dict[str, Any]] = []
    with Monitor(stream, socket=scaled.socket, config=config) as monitor:
        for step in range(STEPS):
            latents = torch.randn((3, 4, 8, 8), generator=g) * 3.0 + 0.5  # a VAE's raw output
            monitor.push(latents, step=step)
            pushed.append(latents.double().numpy())
            loss = model((latents * SCALE).flatten(1)[:, :16]).pow(2).mean()
            accelerator.backward(loss)
            optimizer.step()
            optimizer.zero_grad()
            # The test waits for the answer so that it can compare with the daemon at this
            # step; a training loop just logs the latest figures.
            assert monitor.flush(30)
            statuses.append(client.status(stream))
            accelerator.log({"train_loss": loss.item(), **monitor.scalars()}, step=step)
    accelerator.end_training()
    assert tracker.finished

    assert [s for s, _ in tracker.logged] == list(range(STEPS))
    for k, ((_, values), status) in enumerate(zip(tracker.logged, statuses)):
        assert set(values) == {"train_loss", *SCALAR_KEYS}
        assert all(type(values[key]) is float for key in SCALAR_KEYS), values
        want = figures(status)
        for key, v in want.items():
            assert (math.isnan(v) and math.isnan(values[key])) or values[key] == v, f"step {k} {key}: {values[key]} vs {v}"
        assert values["latentscale/pushed"] == k + 1 and values["latentscale/dropped"] == 0

    # And against numpy: the window holds every batch, normalized by the declared 0.25.
    allx = np.concatenate(pushed)
    final = tracker.logged[-1][1]
    close(final["latentscale/scaling_factor"], 1.0 / allx.std(), what="scaling_factor")
    close(final["latentscale/normalized_std"], (allx * SCALE).std(), what="normalized_std")
    assert final["latentscale/clamp_fraction"] == np.count_nonzero(np.abs(allx * SCALE) > 1.0) / allx.size
    st = client.status(stream)
    assert st["totals"]["batches"] == STEPS
    check_stats(st["cumulative"], allx, "cumulative")
    firing = [f["kind"] for f in st["flags"] if f["state"] == "firing"]
    assert final["latentscale/flags_firing"] == len(firing)
    client.close()
