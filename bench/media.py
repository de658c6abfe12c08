"""Benchmark decoding and features: wall and CPU time per stage, and peak memory, per case.

    python -m bench.media            # 60 s 1280x720 25 fps talking video, ~15 utterances
    python -m bench.media --long     # also 10 min 1920x1080 (generated once, ~3-5 min, then cached)

Each case runs in a fresh subprocess so that its peak resident memory (ru_maxrss, which counts the
C buffers of FFmpeg and torch, unlike tracemalloc) is its own. Stages: probe, audio (whole track,
16 kHz mono), frames (16 per utterance, one pass), features (log-mel + R3D clips in batches of
BATCH, as the pipeline does). "floor" is a plain PyAV decode of every frame, for comparison.
Generated media is kept in --workdir (default /tmp/mmsent-bench) and reused.
"""

from __future__ import annotations

import argparse
import json
import resource
import subprocess
import sys
import time
from pathlib import Path

BATCH = 16  # utterances per feature batch
SENTENCES = [
    "Good morning, I have some news for you.", "We finally finished the project last night.",
    "I cannot believe how long it took.", "Everyone on the team worked very hard.",
    "Honestly, I was worried we would miss the deadline.", "But the client loved the demo.",
    "They want to sign a bigger contract.", "That means more work for all of us.",
    "Are you ready for another busy month?", "I think we should celebrate first.",
    "Let us book a table for Friday.", "Maybe the Italian place near the station.",
    "I will send everyone an invitation.", "Please do not tell the manager yet.",
    "It is going to be a wonderful surprise.",
]


def _cpu() -> float:
    r = resource.getrusage(resource.RUSAGE_SELF)
    return r.ru_utime + r.ru_stime


def _peak_mib() -> float:
    return resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024


def run_case(path: str, spans: list[tuple[float, float]], floor: bool) -> dict:
    """Runs in the child: the stages one after another; times in s, memory in MiB."""
    import av

    from mmsent import features, media

    features.video_mean_std()  # torchvision import, once, outside the timed stages
    out, rss0 = {}, _peak_mib()

    def stage(name, fn):
        wall, cpu = time.perf_counter(), _cpu()
        result = fn()
        out[name] = (time.perf_counter() - wall, _cpu() - cpu, _peak_mib())
        return result

    info = stage("probe", lambda: media.probe(path))
    audio = stage("audio", lambda: media.load_audio(path))
    frames = stage("frames", lambda: media.load_frames(path, spans, n=features.N_FRAMES))

    def feats():
        for i in range(0, len(spans), BATCH):
            rows = range(i, min(i + BATCH, len(spans)))
            features.audio_batch([audio[int(spans[j][0] * 16000):int(spans[j][1] * 16000)] for j in rows])
            features.video_batch([frames[j] for j in rows])

    stage("features", feats)
    out["total"] = tuple(sum(out[k][i] for k in ("probe", "audio", "frames", "features")) for i in (0, 1))
    out["total"] += (_peak_mib(),)
    peak = _peak_mib()
    if floor:
        def decode_all():
            with av.open(path) as c:
                c.streams.video[0].thread_type = "AUTO"
                return sum(1 for _ in c.decode(video=0))
        stage("floor", decode_all)
    return {"stages": out, "peak_mib": peak, "rss_after_imports_mib": rss0, "duration": info.duration,
            "size": [info.width, info.height], "frames_shape": list(frames.shape)}


def _talking(workdir: Path, size: tuple[int, int], preset: str):
    sys.path.insert(0, str(Path(__file__).resolve().parents[1]))
    from tests.mediagen import talking_video

    path = workdir / f"talk_60s_{size[1]}p.mp4"
    meta = path.with_suffix(".json")
    if not meta.exists():
        t = time.perf_counter()
        video = talking_video(path, SENTENCES, gap_s=1.8, lead_s=1.0, size=size, fps=25,
                              min_duration=60.0, preset=preset)
        meta.write_text(json.dumps({"spans": video.spans, "duration": video.duration}))
        print(f"generated {path} ({video.duration:.1f} s) in {time.perf_counter() - t:.0f} s", flush=True)
    return path, json.loads(meta.read_text())


def _long(workdir: Path, minutes: int, preset: str):
    """``minutes`` of 1080p: a 60 s 1080p talking video encoded once, repeated by stream copy."""
    one, meta = _talking(workdir, (1920, 1080), preset)
    path = workdir / f"talk_{minutes}min_1080p.mp4"
    if not path.exists():
        from tests.mediagen import ffmpeg
        ffmpeg("-stream_loop", str(minutes - 1), "-i", one, "-c", "copy", path)
    period = meta["duration"]
    spans = [(s + k * period, e + k * period) for k in range(minutes) for s, e in meta["spans"]]
    return path, spans


def _print(name: str, res: dict) -> None:
    print(f"\n{name}: {res['duration']:.1f} s, {res['size'][0]}x{res['size'][1]}, frames {res['frames_shape']}")
    for stage, (wall, cpu, peak) in res["stages"].items():
        print(f"  {stage:9s} wall {wall:7.2f} s   cpu {cpu:7.2f} s   peak RSS so far {peak:6.0f} MiB")
    print(f"  peak RSS {res['peak_mib']:.0f} MiB (of which {res['rss_after_imports_mib']:.0f} MiB after imports)")


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--long", action="store_true", help="also run the 10-minute 1080p case")
    parser.add_argument("--minutes", type=int, default=10, help="length of the long case (min)")
    parser.add_argument("--preset", default="veryfast", help="x264 preset of the generated videos")
    parser.add_argument("--workdir", type=Path, default=Path("/tmp/mmsent-bench"))
    parser.add_argument("--no-floor", action="store_true", help="skip the decode-every-frame comparison")
    parser.add_argument("--case", help=argparse.SUPPRESS)  # internal: JSON job for the child process
    args = parser.parse_args()
    if args.case:
        job = json.loads(args.case)
        print(json.dumps(run_case(job["path"], [tuple(s) for s in job["spans"]], job["floor"])))
        return
    args.workdir.mkdir(parents=True, exist_ok=True)
    path, meta = _talking(args.workdir, (1280, 720), args.preset)
    cases = [("60 s 720p", path, meta["spans"], not args.no_floor)]
    if args.long:
        long_path, spans = _long(args.workdir, args.minutes, args.preset)
        cases.append((f"{args.minutes} min 1080p", long_path, spans, False))
    for name, p, spans, floor in cases:
        job = json.dumps({"path": str(p), "spans": spans, "floor": floor})
        done = subprocess.run([sys.executable, "-m", "bench.media", "--case", job], capture_output=True, check=False,
                              text=True, cwd=Path(__file__).resolve().parents[1])
        if done.returncode != 0:
            raise SystemExit(f"{name} failed:\n{done.stderr}")
        print(f"{len(spans)} utterances", end="")
        _print(name, json.loads(done.stdout.strip().splitlines()[-1]))


if __name__ == "__main__":
    main()
