#!/usr/bin/env python3
"""Compute the normalization of a folder of cached latents and write it into a VAE config.

Every .npy and .npz file under FOLDER is read (memory-mapped where possible) and pushed
to scaled, which keeps exact running statistics, so the folder may be far larger than
memory. 3-D arrays (C, H, W) are single latents and are batched together; 2-D, 4-D and
5-D arrays ((N, C), (N, C, H, W), (N, C, T, H, W)) are batches and are pushed as they
are. --single treats every array as one latent (e.g. video latents (C, T, H, W)).

    python compute_scale_factor.py latents/ --mode scalar --config my-vae/config.json

prints the normalization (with its 95% interval and whether it has converged) and,
with --config, merges the diffusers keys (scaling_factor, shift_factor, latents_mean,
latents_std) into that config.json, keeping every other key.
"""

from __future__ import annotations

import argparse
import re
import sys
from pathlib import Path
from typing import Dict, Iterator, List, Optional, Tuple

import numpy as np

import latentscale
from latentscale.diffusers import update_vae_config


def arrays(folder: Path, key: Optional[str]) -> Iterator[Tuple[str, np.ndarray]]:
    files = sorted(p for p in folder.rglob("*") if p.suffix in (".npy", ".npz") and p.is_file())
    if not files:
        raise SystemExit(f"error: no .npy or .npz files under {folder}")
    for path in files:
        if path.suffix == ".npy":
            yield str(path), np.load(path, mmap_mode="r", allow_pickle=False)
        else:
            with np.load(path, allow_pickle=False) as npz:
                names = [key] if key else list(npz.files)
                for name in names:
                    if name not in npz.files:
                        print(f"warning: {path} has no array {name!r}, skipped", file=sys.stderr)
                        continue
                    yield f"{path}:{name}", npz[name]


def main(argv: Optional[List[str]] = None) -> int:
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("folder", type=Path)
    ap.add_argument("--mode", default="shift", choices=["scalar", "shift", "channel", "whiten"])
    ap.add_argument("--method", default="std", choices=["std", "rms"])
    ap.add_argument("--target-std", type=float, help="std the normalized latents should have (default 1.0; EDM2 uses 0.5)")
    ap.add_argument("--config", help="a diffusers VAE config.json (or its folder) to write the result into")
    ap.add_argument("--stream", help="stream name (default: scale-<folder name>)")
    ap.add_argument("--socket", help="scaled's socket (default: $SCALED_SOCKET, $XDG_RUNTIME_DIR/scaled.sock, ...)")
    ap.add_argument("--key", help="array name to read from .npz files (default: all)")
    ap.add_argument("--single", action="store_true", help="treat every array as one latent, even if 2-D")
    ap.add_argument("--batch-size", type=int, default=64, help="single latents per push (default 64)")
    ap.add_argument("--keep", action="store_true", help="add to the stream's existing statistics instead of starting afresh")
    args = ap.parse_args(argv)

    stream = args.stream or "scale-" + (re.sub(r"[^A-Za-z0-9._-]", "-", args.folder.resolve().name).lstrip("._-") or "latents")
    client = latentscale.Client(args.socket)
    try:
        client.health()
    except latentscale.LatentScaleConnectionError as exc:
        print(f"error: {exc}", file=sys.stderr)
        return 2
    if not args.keep:
        try:
            client.delete(stream)
        except latentscale.LatentScaleError as exc:
            if exc.code != "stream_not_found":
                raise
    if args.target_std is not None:
        client.configure(stream, target_std=args.target_std)

    pending: Dict[Tuple[Tuple[int, ...], str], List[np.ndarray]] = {}
    files = pushed = samples = 0

    def flush(shape_key: Tuple[Tuple[int, ...], str]) -> None:
        nonlocal pushed, samples
        group = pending.pop(shape_key, [])
        if group:
            client.push(stream, np.stack(group))
            pushed += 1
            samples += len(group)

    for name, arr in arrays(args.folder, args.key):
        files += 1
        if arr.dtype.kind != "f":
            print(f"warning: {name} has dtype {arr.dtype}, not float; skipped", file=sys.stderr)
            continue
        if arr.ndim < 2 or (args.single and arr.ndim < 1):
            print(f"warning: {name} has shape {arr.shape}; skipped", file=sys.stderr)
            continue
        if not args.single and arr.ndim != 3:
            client.push(stream, arr)  # already a batch: (N, C), (N, C, H, W), (N, C, T, H, W)
            pushed += 1
            samples += arr.shape[0]
            continue
        shape_key = (arr.shape, arr.dtype.str)
        pending.setdefault(shape_key, []).append(np.asarray(arr))
        if len(pending[shape_key]) >= args.batch_size:
            flush(shape_key)
    for shape_key in list(pending):
        flush(shape_key)
    if samples == 0:
        print("error: no float latents found", file=sys.stderr)
        return 1

    norm = client.normalization(stream, mode=args.mode, method=args.method)
    print(f"{files} arrays, {samples} latents in {pushed} pushes to stream {stream!r}")
    print(f"mode {norm['mode']}, method {norm['method']}, target_std {norm['target_std']}:")
    for key in ("scaling_factor", "shift_factor", "latents_mean", "latents_std", "whitening_matrix"):
        if norm.get(key) is not None:
            print(f"  {key}: {norm[key]}")
    ci = norm.get("scaling_factor_ci95")
    print(f"  scaling_factor 95% interval: {ci}  converged: {norm.get('converged')}")
    if not norm.get("converged"):
        print("  (not converged: the interval is wider than 1% of the value; more latents would pin it down)")
    if args.config:
        updated = update_vae_config(args.config, norm)
        keys = ", ".join(f"{k}={updated[k]}" for k in ("scaling_factor", "shift_factor", "latents_mean", "latents_std", "whitening_matrix") if k in updated)
        print(f"wrote {args.config}: {keys}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
