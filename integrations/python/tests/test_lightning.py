"""LatentScaleCallback in a real lightning.pytorch.Trainer on CPU, against the real scaled.

Skipped where torch or Lightning is not installed. The e2e cases (marker ``e2e``)
start the real daemon (conftest.py); each compares what the daemon holds with numpy in
float64 over exactly the tensors the training loop produced, and what the trainer's
logger received with the daemon's own status at that step.
"""

from __future__ import annotations

import math
import os
import re
from types import SimpleNamespace
from typing import Any, Dict, List, Optional

import numpy as np
import pytest

torch = pytest.importorskip("torch")
pl = pytest.importorskip("lightning.pytorch")

from lightning.pytorch.loggers import Logger  # noqa: E402

import latentscale  # noqa: E402
from latentscale import Client, LatentScaleError, Monitor  # noqa: E402
from latentscale.lightning import LOGGED_KEYS, LatentScaleCallback  # noqa: E402
from fake_scaled import FakeScaled  # noqa: E402
from test_e2e import check_stats, close  # noqa: E402

SCALE = 0.5  # the declared reference: (z - 0) * 0.5
CONFIG = {
    "reference": {"scaling_factor": SCALE, "shift_factor": 0.0},
    "scheduler": {"clip_sample": True, "clip_sample_range": 1.0},
}
BATCH = 4
STEPS = 6


# -- a tiny training job --------------------------------------------------------------------


class CachedLatents(torch.utils.data.Dataset):
    """A cache of VAE latents as kohya/SimpleTuner datasets yield them: dicts with ``latents``."""

    def __init__(self, n: int, seed: int) -> None:
        g = torch.Generator().manual_seed(seed)
        base = torch.randn((n, 4, 8, 8), generator=g)
        self.z = (base * torch.tensor([1.0, 1.5, 2.0, 2.5]).view(1, 4, 1, 1) + 0.4).float()

    def __len__(self) -> int:
        return len(self.z)

    def __getitem__(self, i: int) -> Dict[str, Any]:
        return {"latents": self.z[i], "index": i}


class TinyModule(pl.LightningModule):
    """A one-layer denoiser; ``encode`` stands in for a VAE whose output we monitor."""

    def __init__(self) -> None:
        super().__init__()
        self.encoder = torch.nn.Conv2d(4, 4, 1)
        self.head = torch.nn.Linear(4 * 8 * 8, 1)
        self.encoded: List[torch.Tensor] = []

    def training_step(self, batch: Dict[str, Any], batch_idx: int) -> Dict[str, Any]:
        z = self.encoder(batch["latents"])
        self.encoded.append(z.detach().clone())
        loss = self.head((z * SCALE).flatten(1)).pow(2).mean()
        self.log("train_loss", loss, on_step=True, on_epoch=False, batch_size=len(z))
        return {"loss": loss, "z": z.detach()}

    def configure_optimizers(self) -> Any:
        return torch.optim.SGD(self.parameters(), lr=0.01)


class RecordingLogger(Logger):
    """Keeps every ``log_metrics`` call, one per step with ``log_every_n_steps=1``."""

    def __init__(self) -> None:
        super().__init__()
        self.rows: List[Dict[str, float]] = []
        self.steps: List[int] = []

    @property
    def name(self) -> str:
        return "recording"

    @property
    def version(self) -> int:
        return 0

    def log_hyperparams(self, params: Any, *args: Any, **kwargs: Any) -> None:
        pass

    def log_metrics(self, metrics: Dict[str, float], step: Optional[int] = None) -> None:
        self.rows.append(dict(metrics))
        self.steps.append(int(step) if step is not None else -1)


class DaemonProbe(pl.Callback):
    """Runs before the callback under test at each batch end: waits until every push so far
    is acknowledged and reported (``flush``), then reads the daemon's status, so that the
    figures the callback logs right after can be compared with what the daemon said."""

    def __init__(self, cb: LatentScaleCallback, client: Client, stream: str) -> None:
        self.cb, self.client, self.stream = cb, client, stream
        self.status: List[Optional[Dict[str, Any]]] = []

    def on_train_batch_end(self, trainer: Any, pl_module: Any, outputs: Any, batch: Any, batch_idx: int) -> None:
        assert self.cb.monitor is not None and self.cb.monitor.flush(30)
        try:
            self.status.append(self.client.status(self.stream))
        except LatentScaleError as exc:
            assert exc.status == 404  # before the first push the stream does not exist
            self.status.append(None)


def make_trainer(tmp_path: Any, callbacks: List[Any], logger: Any = None, steps: int = STEPS) -> Any:
    return pl.Trainer(
        accelerator="cpu",
        devices=1,
        max_steps=steps,
        max_epochs=1,
        logger=logger if logger is not None else False,
        log_every_n_steps=1,
        enable_checkpointing=False,
        enable_progress_bar=False,
        enable_model_summary=False,
        default_root_dir=str(tmp_path),
        callbacks=callbacks,
    )


def loader(n: int, seed: int) -> Any:
    return torch.utils.data.DataLoader(CachedLatents(n, seed), batch_size=BATCH, shuffle=False)


def f64(t: torch.Tensor) -> np.ndarray:
    return t.detach().cpu().to(torch.float64).numpy()


# -- oracles ------------------------------------------------------------------------------------


def daemon_figures(status: Optional[Dict[str, Any]]) -> Dict[str, float]:
    """The four logged figures as the daemon's full status states them (NaN: not there yet)."""
    nan = float("nan")
    if status is None or status["totals"]["batches"] == 0:
        return {k: nan for k in LOGGED_KEYS}  # the monitor has had no push answered yet

    def num(v: Any) -> float:
        return nan if v is None else float(v)

    return {
        "latentscale/normalized_std": num(status["drift"]["normalized_std"]),
        "latentscale/clamp_fraction": num(status["clamp"]["fraction_window"]),
        "latentscale/scaling_factor": num((status["estimate"] or {}).get("scaling_factor")),
        "latentscale/flags_firing": float(sum(1 for f in status["flags"] if f["state"] == "firing")),
    }


def same(a: float, b: float) -> bool:
    return (math.isnan(a) and math.isnan(b)) or a == b


def stream_name(request: pytest.FixtureRequest) -> str:
    return re.sub(r"[^A-Za-z0-9._-]", "-", request.node.name)[:100]


# -- end to end ---------------------------------------------------------------------------------


@pytest.mark.e2e
def test_callback_in_a_trainer_pushes_exactly_and_logs_the_daemons_figures(
    scaled: Any, request: pytest.FixtureRequest, tmp_path: Any
) -> None:
    stream = stream_name(request)
    client = Client(scaled.socket)
    cb = LatentScaleCallback(stream, latents="latents", socket=scaled.socket, config=CONFIG)
    probe = DaemonProbe(cb, client, stream)
    rec = RecordingLogger()
    data = loader(BATCH * STEPS, seed=1)
    trainer = make_trainer(tmp_path, [probe, cb], logger=rec)
    trainer.fit(TinyModule(), data)

    # Every batch arrived, once, with the trainer's step, and nothing was dropped.
    assert cb.monitor is not None
    assert cb.monitor.stats.pushed == STEPS and cb.monitor.stats.dropped == 0 and cb.monitor.stats.failed == 0
    pushed = f64(data.dataset.z[: BATCH * STEPS])
    st = client.status(stream)
    assert st["totals"]["batches"] == STEPS and st["totals"]["samples"] == BATCH * STEPS
    assert st["totals"]["elements"] == pushed.size
    check_stats(st["cumulative"], pushed, "cumulative")
    rows = client.history(stream)["history"]
    assert [r["step"] for r in rows] == list(range(1, STEPS + 1))  # trainer.global_step after each step
    for k, r in enumerate(rows):  # each batch, in order
        b = pushed[k * BATCH : (k + 1) * BATCH]
        assert r["samples"] == BATCH
        close(r["mean"], b.mean(), b.std(), what=f"history[{k}].mean")
        close(r["std"], b.std(), what=f"history[{k}].std")

    # The figures against numpy: the window holds all six batches under the reference 0.5.
    close(st["estimate"]["scaling_factor"], 1.0 / pushed.std(), what="scaling_factor")
    close(st["drift"]["normalized_std"], (pushed * SCALE).std(), what="normalized_std")
    assert st["clamp"]["fraction_window"] == np.count_nonzero(np.abs(pushed * SCALE) > 1.0) / pushed.size

    # What the logger got at each step is what the daemon's status said after the pushes
    # before it (pushing is asynchronous: step k logs the answer to push k-1).
    assert len(rec.rows) == STEPS and len(probe.status) == STEPS
    for k, (row, status) in enumerate(zip(rec.rows, probe.status)):
        want = daemon_figures(status)
        got = {key: float(row[key]) for key in LOGGED_KEYS}
        assert all(same(got[key], want[key]) for key in LOGGED_KEYS), f"step {k}: logged {got}, daemon {want}"
    assert all(math.isnan(float(rec.rows[0][key])) for key in LOGGED_KEYS[:3])  # nothing answered yet
    assert float(rec.rows[-1]["latentscale/normalized_std"]) > 0  # real figures by the end

    # trainer.logged_metrics holds the last step's figures, unrounded (float64).
    last = daemon_figures(probe.status[-1])
    for key in LOGGED_KEYS:
        value = trainer.logged_metrics[key]
        assert value.dtype == torch.float64 and same(float(value), last[key]), (key, value, last[key])

    # Closed in on_fit_end; its final figures are those of the daemon after all six pushes.
    assert not cb.monitor._thread.is_alive()
    final = cb.monitor.scalars()
    now = daemon_figures(st)
    assert all(same(final[k], now[k]) for k in LOGGED_KEYS), (final, now)
    assert final["latentscale/pushed"] == STEPS and final["latentscale/dropped"] == 0
    client.close()


@pytest.mark.e2e
def test_callable_latents_every_and_sync_every(
    scaled: Any, request: pytest.FixtureRequest, tmp_path: Any, monkeypatch: pytest.MonkeyPatch
) -> None:
    """latents=callable gets (pl_module, batch, outputs); every=2 pushes batches 0, 2, 4, ...;
    sync_every=3 calls the real Monitor.sync (a world of one: the global normalization is
    this daemon's, after a flush) every third batch; log=False logs nothing."""
    stream = stream_name(request)
    synced: List[Dict[str, Any]] = []
    real_sync = Monitor.sync

    def spy(self: Monitor, **kwargs: Any) -> Dict[str, Any]:
        result = real_sync(self, **kwargs)
        synced.append(result)
        return result

    monkeypatch.setattr(Monitor, "sync", spy)
    seen: List[Any] = []

    def from_outputs(pl_module: Any, batch: Any, outputs: Any) -> Any:
        seen.append((type(pl_module).__name__, sorted(batch), sorted(outputs)))
        return outputs["z"]

    steps = 7
    cb = LatentScaleCallback(stream, latents=from_outputs, socket=scaled.socket, every=2, sync_every=3, log=False)
    rec = RecordingLogger()
    model = TinyModule()
    trainer = make_trainer(tmp_path, [cb], logger=rec, steps=steps)
    trainer.fit(model, loader(BATCH * steps, seed=2))

    assert seen == [("TinyModule", ["index", "latents"], ["loss", "z"])] * 4  # only sampled batches extracted
    assert len(synced) == 2  # after batches 3 and 6
    # Flushed first: the answers hold every batch pushed by then (0, 2; then 0, 2, 4).
    assert [r["samples"] for r in synced] == [2 * BATCH, 3 * BATCH], synced
    assert all(r["nodes"] == 1 and r["missing"] == [] for r in synced), synced
    pushed = f64(torch.cat([model.encoded[i] for i in range(0, steps, 2)]))
    with Client(scaled.socket) as client:
        st = client.status(stream)
    assert st["totals"]["batches"] == 4 and st["totals"]["samples"] == 4 * BATCH
    check_stats(st["cumulative"], pushed, "cumulative")
    assert len(rec.rows) == steps
    assert not any(k.startswith("latentscale/") for row in rec.rows for k in row), rec.rows
    assert not any(k.startswith("latentscale/") for k in trainer.logged_metrics)


def test_training_goes_on_when_the_daemon_is_gone(request: pytest.FixtureRequest, tmp_path: Any, sockdir: str) -> None:
    cb = LatentScaleCallback("gone", latents="latents", socket=os.path.join(sockdir, "none.sock"))
    rec = RecordingLogger()
    trainer = make_trainer(tmp_path, [cb], logger=rec)
    trainer.fit(TinyModule(), loader(BATCH * STEPS, seed=3))
    assert trainer.global_step == STEPS
    assert cb.monitor is not None and cb.monitor.stats.pushed == 0
    assert cb.monitor.stats.dropped + cb.monitor.stats.failed == STEPS
    assert all(math.isnan(float(row["latentscale/normalized_std"])) for row in rec.rows)


# -- without a trainer: ranks, errors -------------------------------------------------------------


class FakeModule:
    def __init__(self) -> None:
        self.logged: List[tuple] = []

    def log(self, name: str, value: Any, **kwargs: Any) -> None:
        self.logged.append((name, value, kwargs))


def fake_trainer(rank: int, world: int, step: int = 0) -> SimpleNamespace:
    return SimpleNamespace(global_rank=rank, world_size=world, is_global_zero=rank == 0, global_step=step)


@pytest.mark.parametrize("rank", [0, 1])
def test_every_rank_pushes_only_rank_zero_logs(fake: FakeScaled, rank: int, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.delenv("RANK", raising=False)
    monkeypatch.delenv("WORLD_SIZE", raising=False)
    cb = LatentScaleCallback("ranks", latents="latents", socket=fake.path)
    module = FakeModule()
    trainer = fake_trainer(rank, 2)
    cb.on_fit_start(trainer, module)
    x = torch.randn((2, 4, 4, 4))
    for step in range(3):
        trainer.global_step = step + 1
        cb.on_train_batch_end(trainer, module, {"loss": torch.tensor(0.0)}, {"latents": x}, step)
    cb.on_fit_end(trainer, module)
    pushes = fake.pushes("ranks")
    assert [p["query"].get("tag") for p in pushes] == [f"rank{rank}of2"] * 3
    assert [p["query"].get("step") for p in pushes] == ["1", "2", "3"]
    if rank == 0:
        assert [name for name, _, _ in module.logged] == list(LOGGED_KEYS) * 3
        for _, value, kwargs in module.logged:
            assert value.dtype == torch.float64
            assert kwargs["sync_dist"] is False and kwargs["on_step"] is True and kwargs["on_epoch"] is False
            assert kwargs["rank_zero_only"] is True
    else:
        assert module.logged == []


def test_bad_key_and_non_mapping_batch_say_what_to_do(fake: FakeScaled) -> None:
    cb = LatentScaleCallback("keys", latents="latents", socket=fake.path, log=False)
    trainer = fake_trainer(0, 1)
    cb.on_fit_start(trainer, FakeModule())
    try:
        with pytest.raises(KeyError, match=r"no 'latents'; its keys are \['pixels'\]"):
            cb.on_train_batch_end(trainer, FakeModule(), None, {"pixels": torch.zeros(1)}, 0)
        with pytest.raises(TypeError, match="latents=lambda"):
            cb.on_train_batch_end(trainer, FakeModule(), None, (torch.zeros((2, 2)),), 1)
    finally:
        cb.on_exception(trainer, FakeModule(), RuntimeError("stop"))
    assert cb.monitor is not None and not cb.monitor._thread.is_alive()


def test_bad_arguments_say_what_to_fix() -> None:
    with pytest.raises(ValueError):
        LatentScaleCallback("s", latents="latents", sync_every=0)
    with pytest.raises(ValueError):
        LatentScaleCallback("s", latents="latents", every=0)
    with pytest.raises(TypeError):
        LatentScaleCallback("s", latents=3)  # type: ignore[arg-type]


@pytest.mark.e2e
def test_two_ranks_ddp_spawn_on_cpu(scaled: Any, request: pytest.FixtureRequest, tmp_path: Any) -> None:
    """Two processes (ddp_spawn, gloo): each rank pushes its own shard (Lightning's
    DistributedSampler) with its rank tag and steps, and the shards together are exactly
    the dataset; rank 0's figures reach the logger once a step."""
    from lightning.pytorch.loggers import CSVLogger

    stream = stream_name(request)
    steps = 3
    data = loader(2 * BATCH * steps, seed=4)
    cb = LatentScaleCallback(stream, latents="latents", socket=scaled.socket, config=CONFIG)
    csv = CSVLogger(str(tmp_path), name="csv", version=0)
    trainer = pl.Trainer(
        accelerator="cpu",
        devices=2,
        strategy="ddp_spawn",
        max_steps=steps,
        max_epochs=1,
        logger=csv,
        log_every_n_steps=1,
        enable_checkpointing=False,
        enable_progress_bar=False,
        enable_model_summary=False,
        default_root_dir=str(tmp_path),
        callbacks=[cb],
    )
    trainer.fit(TinyModule(), data)
    with Client(scaled.socket) as client:
        st = client.status(stream)
        rows = client.history(stream)["history"]
    assert st["totals"]["batches"] == 2 * steps
    assert sorted(r["tag"] for r in rows) == ["rank0of2"] * steps + ["rank1of2"] * steps
    check_stats(st["cumulative"], f64(data.dataset.z), "cumulative")  # the two shards make the dataset
    for r in (0, 1):
        assert [row["step"] for row in rows if row["tag"] == f"rank{r}of2"] == list(range(1, steps + 1))
    text = (tmp_path / "csv" / "version_0" / "metrics.csv").read_text()
    header = text.splitlines()[0].split(",")
    assert set(LOGGED_KEYS) <= set(header), header
    assert len([line for line in text.splitlines()[1:] if line.strip()]) == steps  # one row a step, from rank 0
