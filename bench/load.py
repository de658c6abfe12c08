"""Load on the demo: N concurrent clients, each sending a few short videos to the app's /analyze API.

    python -m bench.load --start                      # starts python app.py on a free loopback port
    python -m bench.load --url http://127.0.0.1:7860/ [--pid PID]   # a running app

Bounded: CLIENTS x VIDEOS_PER_CLIENT requests, and the whole run stops by itself after --max-seconds
(requests still waiting then count as errors). Prints completions, errors, latency percentiles and
the peak resident memory of the server process with its children (psutil, sampled every
SAMPLE_S). Exit status 0 when every request completed without error and memory stayed under
--max-gb. The videos are generated (espeak-ng speech over a test picture, via tests/mediagen.py).
"""

from __future__ import annotations

import argparse
import json
import os
import tempfile
import threading
import time
from concurrent.futures import ThreadPoolExecutor
from dataclasses import asdict, dataclass, field
from pathlib import Path

import numpy as np
import psutil

from mmsent.config import HelpFormatter

os.environ.setdefault("GRADIO_ANALYTICS_ENABLED", "False")

CLIENTS = 8  # concurrent clients
VIDEOS_PER_CLIENT = 3  # requests each client sends, one after another
MAX_SECONDS = 900.0  # s: the whole run stops by itself after this
MAX_GB = 4.0  # GB (2^30 bytes): target for the server's peak memory
SAMPLE_S = 0.2  # s between memory samples
SENTENCES = (  # one short video per sentence (about 2-3 s each)
    "I finally passed my driving test today.",
    "The meeting was cancelled again this morning.",
    "Please leave the keys on the kitchen table.",
)


@dataclass
class Request:
    client: int
    video: str
    seconds: float = 0.0  # latency: submit to result, s
    error: str | None = None


@dataclass
class Report:
    requests: list[Request] = field(default_factory=list)
    wall_s: float = 0.0
    server_rss_start_mb: float = 0.0
    server_rss_peak_mb: float = 0.0

    def summary(self) -> dict:
        ok = [r.seconds for r in self.requests if r.error is None]
        pct = {f"p{q}": round(float(np.percentile(ok, q)), 2) for q in (50, 90, 99)} if ok else {}
        return {"requests": len(self.requests), "completed": len(ok),
                "errors": len(self.requests) - len(ok), "latency_s": {**pct, "max": round(max(ok), 2) if ok else None},
                "wall_s": round(self.wall_s, 1), "throughput_per_min": round(60 * len(ok) / self.wall_s, 2),
                "server_rss_start_mb": round(self.server_rss_start_mb), "server_rss_peak_mb": round(self.server_rss_peak_mb)}


def tree_rss(pid: int) -> int:
    """Resident bytes of a process and all its children (0 when it is gone)."""
    try:
        proc = psutil.Process(pid)
        procs = [proc] + proc.children(recursive=True)
    except psutil.NoSuchProcess:
        return 0
    total = 0
    for p in procs:
        try:
            total += p.memory_info().rss
        except psutil.NoSuchProcess:
            pass
    return total


class MemorySampler(threading.Thread):
    """Samples tree_rss(pid) every SAMPLE_S until stopped; keeps the peak."""

    def __init__(self, pid: int):
        super().__init__(daemon=True)
        self.pid, self.peak, self._halt = pid, 0, threading.Event()

    def run(self) -> None:
        while not self._halt.is_set():
            self.peak = max(self.peak, tree_rss(self.pid))
            self._halt.wait(SAMPLE_S)

    def stop(self) -> int:
        self._halt.set()
        self.join()
        return self.peak


def server_pid(url: str) -> int:
    """The pid listening on the url's port (loopback)."""
    port = int(url.rstrip("/").rsplit(":", 1)[1])
    for conn in psutil.net_connections(kind="tcp"):
        if conn.status == psutil.CONN_LISTEN and conn.laddr.port == port and conn.pid:
            return conn.pid
    raise SystemExit(f"no process listens on port {port}: pass --pid")


def make_videos(folder: Path) -> list[Path]:
    from tests.mediagen import talking_video

    return [talking_video(folder / f"load_{i}.mp4", [text], size=(160, 120), fps=15).path
            for i, text in enumerate(SENTENCES)]


def client_run(url: str, index: int, videos: list[Path], per_client: int, deadline: float) -> list[Request]:
    from gradio_client import Client, handle_file

    done = []
    try:
        client = Client(url, analytics_enabled=False, verbose=False)
    except Exception as e:  # noqa: BLE001 - reported, not raised: the run goes on
        return [Request(index, str(v), error=f"connect: {type(e).__name__}: {e}") for v in videos[:per_client]]
    for k in range(per_client):
        video = videos[(index + k) % len(videos)]
        req, t0 = Request(index, video.name), time.monotonic()
        remaining = deadline - t0
        if remaining <= 0:
            req.error = "not sent: the run's time limit was reached"
        else:
            try:
                result = client.submit(handle_file(video), None, "auto", "faster-whisper", 10.0,
                                       api_name="/analyze").result(timeout=remaining)
                if not json.loads(result[-1])["segments"]:  # the analysis JSON comes last
                    req.error = "empty analysis"
            except Exception as e:  # noqa: BLE001 - every failure is counted
                req.error = f"{type(e).__name__}: {str(e)[:200]}"
        req.seconds = time.monotonic() - t0
        done.append(req)
    return done


def run(url: str, pid: int, clients: int, per_client: int, max_seconds: float, videos: list[Path]) -> Report:
    report = Report(server_rss_start_mb=tree_rss(pid) / 2**20)
    sampler = MemorySampler(pid)
    sampler.start()
    t0 = time.monotonic()
    deadline = t0 + max_seconds
    with ThreadPoolExecutor(clients) as pool:
        futures = [pool.submit(client_run, url, i, videos, per_client, deadline) for i in range(clients)]
        for f in futures:
            report.requests += f.result()
    report.wall_s = time.monotonic() - t0
    report.server_rss_peak_mb = sampler.stop() / 2**20
    return report


def main(argv: list[str] | None = None) -> int:
    p = argparse.ArgumentParser(description=__doc__.split("\n")[0],
                                formatter_class=HelpFormatter)
    where = p.add_mutually_exclusive_group(required=True)
    where.add_argument("--url", help="a running app, e.g. http://127.0.0.1:7860/ (loopback only)")
    where.add_argument("--start", action="store_true", help="start python app.py on a free loopback port")
    p.add_argument("--pid", type=int, help="the app's pid (default: whoever listens on the url's port)")
    p.add_argument("--clients", type=int, default=CLIENTS)
    p.add_argument("--videos-per-client", type=int, default=VIDEOS_PER_CLIENT)
    p.add_argument("--max-seconds", type=float, default=MAX_SECONDS, help="the run stops by itself after this")
    p.add_argument("--max-gb", type=float, default=MAX_GB, help="target peak memory of the server")
    p.add_argument("--json", type=Path, help="also write the figures here")
    args = p.parse_args(argv)
    if args.url and not args.url.split("//")[-1].startswith(("127.", "localhost")):
        p.error("--url must be a loopback address (127.x or localhost)")
    server = None
    with tempfile.TemporaryDirectory(prefix="mmsent-load-") as tmp:
        videos = make_videos(Path(tmp))
        try:
            if args.start:
                from tests.app_server import AppServer

                server = AppServer(Path(tmp) / "app.log")
                print(f"app up after {server.wait_until_up():.0f} s at {server.url}")
                url, pid = server.url, server.proc.pid
            else:
                url, pid = args.url, args.pid or server_pid(args.url)
            report = run(url, pid, args.clients, args.videos_per_client, args.max_seconds, videos)
        finally:
            if server is not None:
                server.stop()
    summary = report.summary()
    print(f"{args.clients} clients x {args.videos_per_client} videos (generated speech, 160x120, 2-3 s each)")
    print(json.dumps(summary, indent=2))
    for r in report.requests:
        if r.error:
            print(f"  error, client {r.client}, {r.video}: {r.error}")
    if args.json:
        args.json.write_text(json.dumps({"summary": summary, "requests": [asdict(r) for r in report.requests]},
                                        indent=1))
    good = summary["errors"] == 0 and summary["server_rss_peak_mb"] < args.max_gb * 1024
    return 0 if good else 1


if __name__ == "__main__":
    raise SystemExit(main())
