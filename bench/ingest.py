"""Driver for bench/ingest (see there)."""
import argparse
import http.client
import os
import signal
import socket
import subprocess
import sys
import tempfile
import threading
import time

import numpy as np

sys.path.insert(0, os.path.dirname(__file__))
from numpy_reference import summarize  # noqa: E402


class UnixHTTPConnection(http.client.HTTPConnection):
    def __init__(self, path):
        super().__init__("localhost", timeout=120)
        self.unix_path = path

    def connect(self):
        s = socket.socket(socket.AF_UNIX, socket.SOCK_STREAM)
        s.connect(self.unix_path)
        self.sock = s


def rss_kib(pid):
    with open(f"/proc/{pid}/status") as f:
        for line in f:
            if line.startswith("VmRSS:"):
                return int(line.split()[1])
    return 0


CLK_TCK = os.sysconf("SC_CLK_TCK")


def cpu_seconds(pid):
    """utime + stime of the process (all its threads), in seconds."""
    with open(f"/proc/{pid}/stat") as f:
        fields = f.read().rsplit(")", 1)[1].split()
    return (int(fields[11]) + int(fields[12])) / CLK_TCK


def write_bytes(pid):
    """Bytes the process caused to be written to storage (/proc/PID/io)."""
    with open(f"/proc/{pid}/io") as f:
        for line in f:
            if line.startswith("write_bytes:"):
                return int(line.split()[1])
    return 0


class Meter:
    """The daemon's CPU time and storage writes over one measurement."""

    def __init__(self, pid):
        self.pid = pid
        self.cpu0, self.w0 = cpu_seconds(pid), write_bytes(pid)

    def stop(self, pushed_bytes, pushes):
        cpu, w = cpu_seconds(self.pid) - self.cpu0, write_bytes(self.pid) - self.w0
        return {"core_s_per_gb": cpu / (pushed_bytes / 1e9), "write_fraction": w / pushed_bytes,
                "write_per_push": w / max(pushes, 1)}


def bf16_bits(x):
    b = x.view(np.uint32).astype(np.uint64)
    return ((b + 0x7FFF + ((b >> 16) & 1)) >> 16).astype(np.uint16)


def push_loop(sock, stream, bodies, query, seconds, out):
    conn = UnixHTTPConnection(sock)
    n = nbytes = 0
    t0 = time.perf_counter()
    while n == 0 or time.perf_counter() - t0 < seconds:
        body = bodies[n % len(bodies)]
        conn.request("POST", f"/v1/streams/{stream}/latents?{query}", body=body,
                     headers={"Content-Type": "application/octet-stream"})
        r = conn.getresponse()
        r.read()
        if r.status != 200:
            raise SystemExit(f"push failed: {r.status}")
        n += 1
        nbytes += len(body)
    out.append((n, nbytes, time.perf_counter() - t0))
    conn.close()


def socket_ceiling(bodies, seconds):
    """The same bytes through a Unix socket to a reader that discards them,
    with a one-byte acknowledgement per message, like a request/response.

    Returns (GB/s, the sender's CPU seconds per GB, the reader's CPU seconds
    per GB): the two threads' own CPU time (time.thread_time), so the copy
    into and out of the socket is priced separately."""
    d = tempfile.mkdtemp()
    path = os.path.join(d, "ceiling.sock")
    srv = socket.socket(socket.AF_UNIX, socket.SOCK_STREAM)
    srv.bind(path)
    srv.listen(1)
    size = len(bodies[0])
    reader_cpu = []

    def reader():
        c, _ = srv.accept()
        buf = bytearray(1 << 20)
        view = memoryview(buf)
        c0 = time.thread_time()
        while True:
            left = size
            while left:
                k = c.recv_into(view[:min(left, len(buf))])
                if k == 0:
                    reader_cpu.append(time.thread_time() - c0)
                    return
                left -= k
            c.sendall(b"k")

    t = threading.Thread(target=reader, daemon=True)
    t.start()
    c = socket.socket(socket.AF_UNIX, socket.SOCK_STREAM)
    c.connect(path)
    n = 0
    t0, c0 = time.perf_counter(), time.thread_time()
    while time.perf_counter() - t0 < seconds:
        c.sendall(bodies[n % len(bodies)])
        c.recv(1)
        n += 1
    dt, sender_cpu = time.perf_counter() - t0, time.thread_time() - c0
    c.close()
    t.join(10)
    srv.close()
    gb = n * size / 1e9
    return gb / dt, sender_cpu / gb, (reader_cpu[0] if reader_cpu else float("nan")) / gb


def tiny_push_cost(pid, sock, seconds):
    """What a push costs apart from its size: (1,4,8,8) float32 pushes from
    one client. Returns (wall ms per push, the daemon's CPU ms per push, the
    client thread's CPU ms per push)."""
    rng = np.random.default_rng(1)
    bodies = [(0.3 + 1.7 * rng.standard_normal((1, 4, 8, 8))).astype(np.float32).tobytes() for _ in range(4)]
    query = "dtype=float32&shape=1,4,8,8"
    push_loop(sock, "bench-fixed", bodies[:1], query, 0, [])
    out = []
    d0, c0 = cpu_seconds(pid), time.thread_time()
    push_loop(sock, "bench-fixed", bodies, query, seconds, out)
    daemon, client = cpu_seconds(pid) - d0, time.thread_time() - c0
    n, _, dt = out[0]
    return dt / n * 1e3, daemon / n * 1e3, client / n * 1e3


def fsync_ms(directory, nbytes, count=200):
    """Median wall time of appending `nbytes` to a file in `directory` and
    fdatasync-ing it: what one durable journal write waits for on this disk."""
    path = os.path.join(directory, "fsync-probe")
    fd = os.open(path, os.O_CREAT | os.O_WRONLY | os.O_TRUNC, 0o600)
    data = os.urandom(max(int(nbytes), 1))
    times = []
    try:
        for _ in range(count):
            t = time.perf_counter()
            os.write(fd, data)
            os.fdatasync(fd)
            times.append(time.perf_counter() - t)
    finally:
        os.close(fd)
        os.unlink(path)
    times.sort()
    return times[len(times) // 2] * 1e3


def kernel_core_s_per_gb(scalebench):
    """The statistics kernel's one-core cost for float32 (32,4,64,64), from
    scalebench (the bench package's release build), in CPU seconds per GB."""
    if not scalebench or not os.path.exists(scalebench):
        return None
    out = subprocess.run([scalebench, "--case", "f32_c4", "--min-seconds", "1"], capture_output=True, text=True,
                         timeout=120).stdout
    for word in out.split():
        if word.startswith("gbps="):
            return 1 / float(word[5:])
    return None


def floors(r, fixed, fsync, kernel, cores, body_bytes):
    """Upper bounds on the issue-11 ratios and a lower bound on the daemon's
    CPU per GB, from this run's own measurements (see bench/README.md,
    "What this machine allows"). Every term is a cost the push cannot avoid
    on this machine with today's per-request cost; everything else a real
    push pays is left out, so the real figures can only be worse."""
    wall_ms, daemon_ms, client_ms = fixed
    gb = body_bytes / 1e9
    transfer_ms = gb / r["ceiling"] * 1e3
    # One client waits for each push: the request's fixed round trip, plus
    # the body's transfer at the socket's own speed (the kernel left out,
    # as if it overlapped the transfer entirely).
    ratio1 = transfer_ms / (wall_ms + transfer_ms)
    line = {"floor_fixed_ms": wall_ms, "floor_fixed_cpu_ms": daemon_ms, "fsync_ms": fsync,
            "recv_core_s_per_gb": r["recv_cps"], "send_core_s_per_gb": r["send_cps"],
            "bound_ratio_socket_1client": ratio1,
            # The fixed round trip the 1-client target (0.35) would allow.
            "allowed_fixed_ms_1client": transfer_ms * (1 / 0.35 - 1)}
    if kernel is not None:
        # The daemon's CPU for a push: its fixed part, one copy out of the
        # socket, the kernel on one core.
        daemon_push_ms = daemon_ms + gb * (r["recv_cps"] + kernel) * 1e3
        client_push_ms = client_ms + gb * r["send_cps"] * 1e3
        # Clients and daemon share the machine's cores; at best all are busy.
        best_gbps = cores * gb / ((daemon_push_ms + client_push_ms) / 1e3)
        line.update(kernel_core_s_per_gb=kernel, bound_core_s_per_gb=daemon_push_ms / 1e3 / gb,
                    bound_ratio_socket=min(best_gbps, r["ceiling"]) / r["ceiling"],
                    # The daemon's fixed CPU a push the 0.5 core-s/GB target would
                    # allow beside the socket copy and the kernel (negative: none).
                    allowed_fixed_cpu_ms=(0.5 - r["recv_cps"] - kernel) * gb * 1e3)
    return line


def numpy_rate(arrays, dtype, seconds):
    n = 0
    nbytes = 0
    t0 = time.perf_counter()
    while time.perf_counter() - t0 < seconds:
        a = arrays[n % len(arrays)]
        if dtype == "bfloat16":
            x = (a.astype(np.uint32) << 16).view(np.float32)
            nbytes += a.nbytes
        else:
            x = a
            nbytes += a.nbytes
        summarize(x)
        n += 1
    return nbytes / (time.perf_counter() - t0) / 1e9


def main():
    ap = argparse.ArgumentParser()
    ap.add_argument("--scaled", required=True)
    ap.add_argument("--seconds", type=float, default=4.0, help="per measurement")
    ap.add_argument("--clients", type=int, default=2, help="concurrent pushers in the parallel run")
    ap.add_argument("--dir", default=None,
                    help="where the database goes (default: a new temporary directory; it must be on a real disk, "
                         "not tmpfs, for the writes and fsyncs to count)")
    ap.add_argument("--skip-memory", action="store_true", help="leave out the RSS loop")
    ap.add_argument("--scalebench", default=None,
                    help="the bench package's scalebench, for the kernel's one-core cost in the bounds")
    args = ap.parse_args()

    tmp = tempfile.mkdtemp(dir=args.dir)
    sock = os.path.join(tmp, "s.sock")
    log = open(os.path.join(tmp, "scaled.log"), "w")
    proc = subprocess.Popen([args.scaled, "--socket", sock, "--db", os.path.join(tmp, "db.sqlite"),
                             "--log-level", "warning"], stdout=log, stderr=log)
    for _ in range(200):
        if os.path.exists(sock):
            break
        time.sleep(0.05)
    rng = np.random.default_rng(0)
    rss = [("start", rss_kib(proc.pid))]
    results = {}
    try:
        for shape in [(32, 4, 64, 64), (8, 16, 128, 128)]:
            arrays32 = [(0.3 + 1.7 * rng.standard_normal(shape)).astype(np.float32) for _ in range(4)]
            for dtype in ["float32", "bfloat16"]:
                arrays = arrays32 if dtype == "float32" else [bf16_bits(a) for a in arrays32]
                bodies = [a.tobytes() for a in arrays]
                query = f"dtype={dtype}&shape={','.join(map(str, shape))}"
                tag = f"{'f32' if dtype == 'float32' else 'bf16'}_c{shape[1]}"
                # The best of three: the ceiling is what the socket can do, and a
                # shared 2-core machine only ever makes a single reading lower.
                ceiling, send_cps, recv_cps = max(socket_ceiling(bodies, args.seconds / 4) for _ in range(3))
                # One warm-up push creates the stream, so both runs measure pushes to existing streams.
                for i in range(args.clients):
                    push_loop(sock, f"bench-{tag}-{i}", bodies[:1], query, 0, [])
                out = []
                meter = Meter(proc.pid)
                push_loop(sock, f"bench-{tag}-0", bodies, query, args.seconds, out)
                n, nbytes, dt = out[0]
                cost1 = meter.stop(nbytes, n)
                single = nbytes / dt / 1e9
                out = []
                meter = Meter(proc.pid)
                threads = [threading.Thread(target=push_loop, args=(sock, f"bench-{tag}-{i}", bodies, query, args.seconds, out))
                           for i in range(args.clients)]
                for t in threads:
                    t.start()
                for t in threads:
                    t.join()
                parallel = sum(o[1] for o in out) / max(o[2] for o in out) / 1e9
                costn = meter.stop(sum(o[1] for o in out), sum(o[0] for o in out))
                npy = numpy_rate(arrays, dtype, args.seconds / 2)
                rss.append((tag, rss_kib(proc.pid)))
                results[tag] = dict(single=single, parallel=parallel, ceiling=ceiling, numpy=npy, cost1=cost1, costn=costn,
                                   send_cps=send_cps, recv_cps=recv_cps, body_bytes=len(bodies[0]))
                print(f"{tag}: scaled {single:.3f} GB/s ({n / dt:.0f} pushes/s, 1 client), {parallel:.3f} GB/s "
                      f"({args.clients} clients); socket ceiling {ceiling:.3f} GB/s; numpy {npy:.3f} GB/s; "
                      f"vs ceiling {single / ceiling:.2f} (1 client) {parallel / ceiling:.2f} ({args.clients} clients), "
                      f"vs numpy {max(single, parallel) / npy:.2f}; daemon CPU {cost1['core_s_per_gb']:.2f} core-s/GB "
                      f"(1 client) {costn['core_s_per_gb']:.2f} ({args.clients} clients); written "
                      f"{cost1['write_per_push'] / 1024:.1f} KiB/push = {cost1['write_fraction'] * 100:.2f}% of the bytes pushed",
                      flush=True)
        # What a push costs whatever its size, and what its fsync waits for:
        # the terms of the bounds printed below.
        fixed = tiny_push_cost(proc.pid, sock, args.seconds)
        print(f"fixed cost: (1,4,8,8) float32 pushes, 1 client: {fixed[0]:.3f} ms a push, daemon CPU "
              f"{fixed[1]:.3f} ms, client CPU {fixed[2]:.3f} ms", flush=True)
        # Memory: push many more small batches; RSS must stay flat.
        if not args.skip_memory:
            small = [(rng.standard_normal((4, 4, 32, 32))).astype(np.float32).tobytes() for _ in range(4)]
            before = rss_kib(proc.pid)
            out = []
            push_loop(sock, "bench-memory", small, "dtype=float32&shape=4,4,32,32", args.seconds * 2, out)
            mid = rss_kib(proc.pid)
            push_loop(sock, "bench-memory", small, "dtype=float32&shape=4,4,32,32", args.seconds * 2, out)
            after = rss_kib(proc.pid)
            pushes = sum(o[0] for o in out)
            rss += [("memory loop start", before), ("memory loop middle", mid), ("memory loop end", after)]
            print("RSS KiB: " + ", ".join(f"{k} {v}" for k, v in rss))
            print(f"memory: {pushes} pushes of (4,4,32,32) to one stream; RSS {before} -> {mid} -> {after} KiB "
                  f"(second half grew {after - mid:+d} KiB)")
    finally:
        proc.send_signal(signal.SIGTERM)
        proc.wait(60)
    r = results["f32_c4"]
    best = max(r["single"], r["parallel"])
    bound = floors(r, fixed, fsync_ms(tmp, r["cost1"]["write_per_push"]), kernel_core_s_per_gb(args.scalebench),
                   os.cpu_count() or 1, r["body_bytes"])
    print(" ".join(f"{k}={v:.3f}" for k, v in bound.items()))
    print(f"ingest_gbps_f32_c4={best:.3f} socket_gbps={r['ceiling']:.3f} numpy_gbps={r['numpy']:.3f} "
          f"ratio_socket={r['parallel'] / r['ceiling']:.2f} ratio_socket_1client={r['single'] / r['ceiling']:.2f} "
          f"core_s_per_gb={r['cost1']['core_s_per_gb']:.2f} write_fraction={r['cost1']['write_fraction']:.4f} "
          f"ratio_numpy={best / r['numpy']:.2f}")

if __name__ == "__main__":
    main()
