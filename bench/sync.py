"""Driver for bench/sync (see there): summary sizes and the time of one sync."""
import argparse
import datetime
import json
import os
import shutil
import statistics
import subprocess
import sys
import tempfile
import time

import numpy as np

ROOT = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))
SRC = os.path.join(ROOT, "integrations", "python", "src")
sys.path.insert(0, SRC)
# The ranks' interpreters import this checkout's package too, not an installed one.
os.environ["PYTHONPATH"] = os.pathsep.join([SRC] + [p for p in os.environ.get("PYTHONPATH", "").split(os.pathsep) if p])
import latentscale  # noqa: E402


def latents(seed, shape):
    rng = np.random.default_rng(seed)
    c = shape[1]
    extra = (1,) * (len(shape) - 2)
    z = rng.standard_normal(shape)
    z[:, 1:] += 0.3 * z[:, :1]
    return (z * np.linspace(0.5, 1.5, c).reshape((1, c) + extra)
            + np.linspace(-1, 1, c).reshape((1, c) + extra) + 0.1 * seed).astype(np.float32)


class Daemon:
    def __init__(self, binary, directory):
        self.dir = directory
        os.makedirs(directory, exist_ok=True)
        self.socket = os.path.join(directory, "s.sock")
        log = open(os.path.join(directory, "scaled.log"), "ab")
        self.proc = subprocess.Popen([binary, "--socket", self.socket, "--db", os.path.join(directory, "db.sqlite")],
                                     stdout=log, stderr=subprocess.STDOUT, stdin=subprocess.DEVNULL)
        log.close()
        client = latentscale.Client(self.socket, timeout=2)
        deadline = time.monotonic() + 60
        while True:
            try:
                if client.health().get("status") == "ok":
                    break
            except latentscale.LatentScaleError:
                if self.proc.poll() is not None or time.monotonic() > deadline:
                    raise SystemExit(f"scaled did not start on {self.socket}")
                time.sleep(0.05)
        client.close()

    def stop(self):
        self.proc.terminate()
        self.proc.wait(30)


def summary_sizes(binary, tmp, batches):
    """Bytes of GET …/summary after 1 and after `batches` pushes, C=4 and C=16."""
    d = Daemon(binary, os.path.join(tmp, "sizes"))
    c = latentscale.Client(d.socket, timeout=120)
    rows = []
    try:
        for name, shape in (("c4", (32, 4, 64, 64)), ("c16", (8, 16, 128, 128))):
            stream = f"size-{name}"
            sizes = {}
            for i in range(batches):
                c.push(stream, latents(i, shape))
                if i + 1 in (1, batches):
                    sizes[i + 1] = len(c.summary(stream))
            rows.append((name, shape, sizes))
    finally:
        c.close()
        d.stop()
    return rows


def rank_main(rank, world, init_file, sockets, stream, shape, reps, out_dir):
    import torch.distributed as dist
    from latentscale.distributed import sync

    dist.init_process_group("gloo", init_method=f"file://{init_file}", rank=rank, world_size=world,
                            timeout=datetime.timedelta(seconds=300))
    c = latentscale.Client(sockets[rank], timeout=120)
    c.push(stream, latents(100 + rank, shape))
    c.close()
    first = sync(stream, socket=sockets[rank])
    times = []
    for _ in range(reps):
        dist.barrier()
        t0 = time.perf_counter()
        result = sync(stream, socket=sockets[rank])
        times.append(time.perf_counter() - t0)
    # The collectives alone: three all_gather_object of what sync gathers (a
    # summary-sized bytes object from each leader), with no daemon involved.
    leader = sockets.index(sockets[rank]) == rank
    blob = bytes(len(latentscale.Client(sockets[rank]).summary(stream))) if leader else None
    gathers = []
    for _ in range(reps):
        dist.barrier()
        t0 = time.perf_counter()
        for _ in range(3):
            out = [None] * world
            dist.all_gather_object(out, blob)
        gathers.append(time.perf_counter() - t0)
    with open(os.path.join(out_dir, f"rank{rank}.json"), "w") as f:
        json.dump({"times": times, "gathers": gathers, "nodes": result["nodes"], "missing": result["missing"],
                   "first_nodes": first["nodes"], "samples": result.get("samples")}, f)
    dist.destroy_process_group()


def sync_times(binary, tmp, ranks, daemons, shape, reps):
    import multiprocessing
    import torch.multiprocessing as mp

    procs = [Daemon(binary, os.path.join(tmp, f"d{i}")) for i in range(daemons)]
    sockets = [procs[r * daemons // ranks].socket for r in range(ranks)]
    out_dir = os.path.join(tmp, "out")
    os.makedirs(out_dir)
    try:
        # forkserver with torch preloaded: 8 fresh interpreters importing torch each
        # take a minute on a small machine; only sync() is timed either way.
        multiprocessing.set_forkserver_preload(["torch", "torch.distributed", "latentscale.distributed"])
        mp.start_processes(rank_main, args=(ranks, os.path.join(tmp, "pg-init"), sockets, "bench", shape, reps,
                                            out_dir), nprocs=ranks, start_method="forkserver")
    finally:
        for p in procs:
            p.stop()
    per_rank = []
    for r in range(ranks):
        with open(os.path.join(out_dir, f"rank{r}.json")) as f:
            per_rank.append(json.load(f))
    for r, res in enumerate(per_rank):
        if res["nodes"] != daemons or res["missing"] or res["samples"] != ranks * shape[0]:
            raise SystemExit(f"rank {r}: sync merged {res['nodes']} nodes ({res['samples']} samples), "
                             f"missing {res['missing']}; expected {daemons} nodes, {ranks * shape[0]} samples")
    # One sync is as slow as its slowest rank.
    per_rep = [max(res["times"][i] for res in per_rank) for i in range(reps)]
    return per_rep, per_rank


def main():
    ap = argparse.ArgumentParser(description=__doc__)
    ap.add_argument("--scaled", required=True, help="the scaled binary")
    ap.add_argument("--ranks", type=int, default=8)
    ap.add_argument("--daemons", type=int, default=4)
    ap.add_argument("--reps", type=int, default=30)
    ap.add_argument("--batches", type=int, default=20, help="pushes before the second size reading")
    ap.add_argument("--channels", type=int, default=4, help="channels of the synced stream")
    args = ap.parse_args()
    tmp = tempfile.mkdtemp(prefix="bsync-", dir="/tmp")  # short: AF_UNIX paths are limited to 107 bytes
    try:
        headline = {}
        for name, shape, sizes in summary_sizes(args.scaled, tmp, args.batches):
            shape_s = "x".join(map(str, shape))
            print(f"summary {name} shape={shape_s} " + " ".join(f"after_{n}_batches={b}B" for n, b in sizes.items()))
            headline[f"summary_bytes_{name}"] = sizes[max(sizes)]
        shape = (8, args.channels, 32, 32)
        per_rep, per_rank = sync_times(args.scaled, tmp, args.ranks, args.daemons, shape, args.reps)
        rank0 = [t * 1e3 for t in per_rank[0]["times"]]
        ms = [t * 1e3 for t in per_rep]
        print(f"sync ranks={args.ranks} daemons={args.daemons} C={args.channels} reps={args.reps}: "
              f"median {statistics.median(ms):.2f} ms, min {min(ms):.2f} ms, max {max(ms):.2f} ms "
              f"(slowest rank of each sync); rank 0 median {statistics.median(rank0):.2f} ms")
        gathers = [max(res["gathers"][i] for res in per_rank) * 1e3 for i in range(args.reps)]
        print(f"three all_gather_object of summary-sized objects alone (no daemon): median {statistics.median(gathers):.2f} ms")
        headline["sync_median_ms"] = round(statistics.median(ms), 3)
        headline["gathers_median_ms"] = round(statistics.median(gathers), 3)
        print(" ".join(f"{k}={v}" for k, v in headline.items()))
    finally:
        shutil.rmtree(tmp, ignore_errors=True)


if __name__ == "__main__":
    main()
