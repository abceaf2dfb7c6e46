#!/usr/bin/env python3
"""A synthetic training loop that shows what scaled sees, in about 30 seconds, no GPU.

1. The scaling-factor estimate converging while latents stream in.
2. The latents' variance drifting away from the frozen reference: `variance_drift`
   goes pending, then firing.
3. A DDPM-style scheduler with clip_sample=True on unit-variance latents: about 32%
   of values fall outside [-1, 1], and `clamp_out_of_range` fires with the range
   that would be safe.

Start the daemon first (`scaled`, or `scaled --socket /tmp/s.sock`), then:

    python simulate_training.py [--socket /tmp/s.sock] [--seconds 30] [--check]

--check exits with status 1 when one of the three did not show up.
"""

from __future__ import annotations

import argparse
import os
import sys
import time
from typing import Any, Dict, List, Optional

import numpy as np

import latentscale
from latentscale.diffusers import stream_config_from

CHANNEL_MEANS = np.array([0.6, -0.4, 0.9, 0.2], dtype=np.float32)
STD = 5.4  # about what an SD-style VAE gives; 1/5.4 is close to 0.18215


def latents(rng: np.random.Generator, std: float, batch: int = 16, size: int = 32) -> np.ndarray:
    z = rng.standard_normal((batch, 4, size, size), dtype=np.float32) * np.float32(std)
    return z + CHANNEL_MEANS[None, :, None, None]


def describe_flags(flags: List[Dict[str, Any]]) -> str:
    if not flags:
        return "none"
    return "; ".join(f"{f.get('kind')}={f.get('state')}" for f in flags)


def firing(flags: List[Dict[str, Any]], kind: str) -> Optional[Dict[str, Any]]:
    for f in flags:
        if f.get("kind") == kind and f.get("state") == "firing":
            return f
    return None


def run_phase(
    monitor: latentscale.Monitor,
    client: latentscale.Client,
    rng: np.random.Generator,
    seconds: float,
    std: float,
    first_step: int,
    watch: Optional[str] = None,
    report_every: int = 20,
) -> tuple:
    """Push batches for `seconds`; returns (next step, firing flag of kind `watch` or None)."""
    step = first_step
    seen: Optional[Dict[str, Any]] = None
    last_flags = ""
    deadline = time.monotonic() + seconds
    while time.monotonic() < deadline:
        monitor.push(latents(rng, std), step=step)
        step += 1
        time.sleep(0.04)  # the "training step"
        flags = monitor.flags
        text = describe_flags(flags)
        if text != last_flags:
            print(f"  step {step:4d}  flags: {text}")
            last_flags = text
        if watch and seen is None:
            seen = firing(flags, watch)
            if seen:
                print(f"  step {step:4d}  >>> {watch} FIRING: {seen.get('message')}")
        if (step - first_step) % report_every == 0:
            n = monitor.normalization
            if n:
                ci = n.get("scaling_factor_ci95")
                ci_text = f"[{ci[0]:.5f}, {ci[1]:.5f}]" if ci else "n/a"
                print(
                    f"  step {step:4d}  samples {n.get('samples'):6d}  scaling_factor {n.get('scaling_factor'):.5f}"
                    f"  ci95 {ci_text}  converged {n.get('converged')}"
                )
    monitor.flush(10)
    if watch and seen is None:
        status = client.status(monitor.stream)
        seen = firing(status.get("flags") or [], watch)
    return step, seen


def main(argv: Optional[List[str]] = None) -> int:
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--socket", help="scaled's socket (default: $SCALED_SOCKET, $XDG_RUNTIME_DIR/scaled.sock, ...)")
    ap.add_argument("--stream", default=f"simulate-{os.getpid()}", help="stream name prefix")
    ap.add_argument("--seconds", type=float, default=30.0, help="total run time (default 30)")
    ap.add_argument("--seed", type=int, default=0)
    ap.add_argument("--keep", action="store_true", help="keep the streams afterwards")
    ap.add_argument("--check", action="store_true", help="exit 1 unless all three effects were seen")
    args = ap.parse_args(argv)

    client = latentscale.Client(args.socket)
    try:
        health = client.health()
    except latentscale.LatentScaleConnectionError as exc:
        print(f"error: {exc}", file=sys.stderr)
        return 2
    print(f"scaled {health.get('version')} at {client.socket_path}")
    rng = np.random.default_rng(args.seed)
    phase = args.seconds / 3
    drift_stream, clamp_stream = f"{args.stream}", f"{args.stream}-clamp"
    for name in (drift_stream, clamp_stream):
        try:
            client.delete(name)
        except latentscale.LatentScaleError as exc:
            if exc.code != "stream_not_found":
                raise

    # 1. The estimate converging (no reference declared yet).
    print(f"\n[1/3] estimating the normalization of latents with std {STD} on stream {drift_stream!r}")
    config = {"window_batches": 20, "alert_for_batches": 3, "drift_tolerance": 0.05}
    with latentscale.Monitor(drift_stream, socket=client.socket_path, config=config) as monitor:
        step, _ = run_phase(monitor, client, rng, phase, STD, 0)
        est = client.normalization(drift_stream, mode="scalar")
        converged = bool(est.get("converged"))
        true_std = float(np.sqrt(STD**2 + CHANNEL_MEANS.astype(np.float64).var()))  # incl. the channel means' spread
        print(
            f"  estimate: scaling_factor {est.get('scaling_factor')} (1/std of the generating distribution: {1 / true_std:.5f}), "
            f"ci95 {est.get('scaling_factor_ci95')}, converged {converged}"
        )
        frozen = client.freeze(drift_stream)
        print(f"  froze the reference: {frozen.get('reference')}")

        # 2. Variance drift: the encoder's latents get 20% wider.
        print(f"\n[2/3] the latents' std drifts from {STD} to {STD * 1.2:.2f}; watching for variance_drift")
        step, drift = run_phase(monitor, client, rng, phase, STD * 1.2, step, watch="variance_drift")
        drift_status = client.status(drift_stream).get("drift") or {}
        print(f"  drift: {drift_status}")

    # 3. The clamp: correctly normalized latents, but a scheduler that clips x0 to [-1, 1].
    vae_config = {"_class_name": "AutoencoderKL", "scaling_factor": round(1 / STD, 5)}
    scheduler_config = {"_class_name": "DDPMScheduler", "clip_sample": True, "clip_sample_range": 1.0}
    clamp_config = stream_config_from(vae_config, scheduler_config, window_batches=20, alert_for_batches=3)
    print(f"\n[3/3] stream {clamp_stream!r} with {clamp_config}; watching for clamp_out_of_range")
    with latentscale.Monitor(clamp_stream, socket=client.socket_path, config=clamp_config) as monitor:
        _, clamp = run_phase(monitor, client, rng, phase, STD, 0, watch="clamp_out_of_range")
        clamp_status = client.status(clamp_stream).get("clamp") or {}
        print(f"  clamp: {clamp_status}")

    alerts = client.alerts(all=True).get("alerts", [])
    print("\nalerts (GET /v1/alerts?all=true):")
    for a in alerts:
        if a.get("stream") in (drift_stream, clamp_stream):
            print(f"  {a.get('stream')}: {a.get('kind')} {a.get('state')} since {a.get('since')}: {a.get('message')}")
    if not alerts:
        print("  none")

    print("\nsummary:")
    print(f"  estimate converged:          {'yes' if converged else 'no'}")
    print(
        f"  variance_drift fired:        {'yes' if drift else 'no'} "
        f"(window std after the frozen reference: {drift_status.get('normalized_std')}, target 1.0 +/- 5%)"
    )
    print(
        f"  clamp_out_of_range fired:    {'yes' if clamp else 'no'} "
        f"(share outside +/-1: {clamp_status.get('fraction_window')}, safe range: {clamp_status.get('recommended_range')})"
    )
    if not (drift and clamp):
        print("  (no alert fired: this scaled may not evaluate alerts yet; the numbers above show what it measured)")
    if not args.keep:
        for name in (drift_stream, clamp_stream):
            client.delete(name)
    client.close()
    if args.check and not (converged and drift and clamp):
        return 1
    return 0


if __name__ == "__main__":
    sys.exit(main())
