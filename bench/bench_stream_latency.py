#!/usr/bin/env python3
"""Latency of `oodscore score -i -` fed through a pipe, as `inotifywait -m DIR | oodscore ...`
feeds it: the time from a path written to stdin to its row in the CSV.

Starts one `oodscore score` with the shipped model (models/fmnist5_cnn.pt, preset
fashion-mnist) reading paths from a pipe, waits for the row of a warm-up path (the model is
loaded and has run once), then writes N paths one at a time, PAUSE seconds apart, and times
each from the write to the moment its row is in the file (polled every 0.2 ms). Prints the
median, p95, mean and max in milliseconds. The images are 28x28 greyscale PGMs made here (fixed
seed), so nothing needs downloading.

    bench/bench_stream_latency.py [--bin build/oodscore] [--n 50] [--pause 0.2] [--threads 0]
"""
import argparse
import os
import random
import statistics
import subprocess
import sys
import tempfile
import time

ROOT = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))


def write_pgm(path, rng):
    with open(path, "wb") as f:
        f.write(b"P5\n28 28\n255\n" + bytes(rng.randrange(256) for _ in range(28 * 28)))


def rows(path):
    try:
        with open(path, "rb") as f:
            return max(0, f.read().count(b"\n") - 1)
    except FileNotFoundError:
        return 0


def wait_rows(path, want, proc, timeout):
    """Polls the CSV until it holds `want` rows; returns the time it did."""
    deadline = time.perf_counter() + timeout
    last_size = -1
    while True:
        now = time.perf_counter()
        try:
            size = os.stat(path).st_size
        except FileNotFoundError:
            size = -1
        if size != last_size:
            last_size = size
            if rows(path) >= want:
                return now
        if proc.poll() is not None:
            sys.exit("oodscore exited early with code %d" % proc.returncode)
        if now > deadline:
            sys.exit("no row %d after %g s" % (want, timeout))
        time.sleep(0.0002)


def main():
    ap = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    ap.add_argument("--bin", default=os.path.join(ROOT, "build", "oodscore"))
    ap.add_argument("--model", default=os.path.join(ROOT, "models", "fmnist5_cnn.pt"))
    ap.add_argument("--preset", default="fashion-mnist")
    ap.add_argument("--n", type=int, default=50, help="paths timed")
    ap.add_argument("--pause", type=float, default=0.2, help="seconds between paths")
    ap.add_argument("--threads", type=int, default=0, help="--threads and --workers (0 = cores)")
    args = ap.parse_args()

    with tempfile.TemporaryDirectory(prefix="oodscore-stream-") as tmp:
        rng = random.Random(0)
        paths = []
        for i in range(args.n + 1):
            paths.append(os.path.join(tmp, "%03d.pgm" % i))
            write_pgm(paths[-1], rng)
        csv = os.path.join(tmp, "s.csv")
        cmd = [args.bin, "score", "-q", "--model", args.model, "--preset", args.preset,
               "--threads", str(args.threads), "--workers", str(args.threads), "-i", "-",
               "-o", csv]
        proc = subprocess.Popen(cmd, stdin=subprocess.PIPE)
        start = time.perf_counter()
        proc.stdin.write((paths[0] + "\n").encode())
        proc.stdin.flush()
        ready = wait_rows(csv, 1, proc, 120)
        print("first row (model load + warm-up): %.0f ms" % (1000 * (ready - start)),
              file=sys.stderr)
        ms = []
        for i, path in enumerate(paths[1:], start=2):
            time.sleep(args.pause)
            sent = time.perf_counter()
            proc.stdin.write((path + "\n").encode())
            proc.stdin.flush()
            ms.append(1000 * (wait_rows(csv, i, proc, 60) - sent))
        proc.stdin.close()
        if proc.wait() != 0:
            sys.exit("oodscore exited with code %d" % proc.returncode)
        ms.sort()
        p95 = ms[min(len(ms) - 1, int(round(0.95 * (len(ms) - 1))))]
        print("path to row, %d paths %g s apart: median %.1f ms, p95 %.1f ms, mean %.1f ms, "
              "max %.1f ms" % (len(ms), args.pause, statistics.median(ms), p95,
                                statistics.mean(ms), ms[-1]))


if __name__ == "__main__":
    main()
