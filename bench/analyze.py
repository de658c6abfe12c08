"""End-to-end analysis benchmark: stage times and peak memory.

    .venv/bin/python -m bench.analyze            # 60 s 1280x720 talking video, default model and video branch on,
                                                 # its sound alone (words and voice: no picture to read), and
                                                 # 60 s of Italian talk, translated into English for the words
    .venv/bin/python -m bench.analyze --long     # also the 10-minute video

Each case runs in a fresh subprocess so that its peak memory (ru_maxrss) is its own. Times are wall
seconds after the model and Whisper are loaded (a warm-up run on a 2 s clip loads them). The faces
are read while the speech is recognised, so that stage of the run is slower than the recognition
alone: each case also times the recognition alone on the same sound, after the analysis, and gives
the analysis as a ratio to both.
"""

from __future__ import annotations

import argparse
import json
import resource
import subprocess
import sys
import tempfile
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
sys.path[:0] = [str(ROOT), str(ROOT / "tests")]

LINES = [
    "I can't believe you did that for me.", "This is the worst day of my life.", "Where did you put the keys?",
    "Oh my god, that is amazing!", "I am so tired of this.", "Please, just leave me alone.",
    "We won the game last night!", "That smell is disgusting.", "I'm scared of what comes next.",
    "Okay, let's meet at six.", "You never listen to me.", "Thank you, this means a lot.",
]
ITALIAN = [  # the same lines in Italian
    "Non posso credere che tu l'abbia fatto per me.", "Questo è il giorno peggiore della mia vita.",
    "Dove hai messo le chiavi?", "Oh mio dio, è fantastico!", "Sono così stanco di tutto questo.",
    "Per favore, lasciami in pace.", "Abbiamo vinto la partita ieri sera!", "Quell'odore è disgustoso.",
    "Ho paura di quello che verrà.", "Va bene, ci vediamo alle sei.", "Non mi ascolti mai.",
    "Grazie, significa molto per me.",
]


def make_video(path: Path, seconds: float, size: str, lines: list[str] = LINES, voice: str = "en") -> Path:
    from mediagen import talking_video

    n = max(1, int(seconds / 2.4))
    sentences = [lines[i % len(lines)] for i in range(n)]
    w, h = (int(v) for v in size.split("x"))
    talking_video(path, sentences, gap_s=0.7, size=(w, h), fps=25, min_duration=seconds, preset="ultrafast",
                  voice=voice)
    return path


def sound_only(video: Path, path: Path) -> Path:
    """The video's sound track alone, copied as it is."""
    from mediagen import ffmpeg

    ffmpeg("-i", video, "-vn", "-c:a", "copy", path)
    return path


def video_checkpoint(folder: Path) -> Path:
    """A checkpoint whose video branch is on, with random R3D-18 weights (timing only)."""
    from mmsent.checkpoint import save_checkpoint
    from mmsent.config import ModelConfig
    from mmsent.model import build_model

    return save_checkpoint(build_model(ModelConfig(video_source="r3d_18-random")), folder)


def run_case(video: str, checkpoint: str, warmup: str) -> dict:
    """Analyse one video in this process; return stage times (s) and peak memory (MB; on CUDA, the GPU's too)."""
    import torch

    import mmsent
    from mmsent import media
    from mmsent.config import AnalysisOptions
    from mmsent.export import write
    from mmsent.transcribe import transcribe

    t0 = time.perf_counter()
    model = mmsent.load_model(None if checkpoint == "default" else checkpoint)
    load_s = time.perf_counter() - t0
    mmsent.analyze(warmup, model)  # loads Whisper
    marks = []
    t0 = time.perf_counter()
    analysis = mmsent.analyze(video, model, progress=lambda stage, done, total: marks.append((stage, time.perf_counter())))
    total = time.perf_counter() - t0
    # on CUDA: torch's peak, which misses the speech recognition (CTranslate2 allocates on its own), and the GPU's use
    # as the analysis ends, which counts it (its allocator keeps what it took) and any other process's
    gpu = None
    if model.device.type == "cuda":
        free, capacity = torch.cuda.mem_get_info(model.device)
        gpu = {"torch_peak_mb": torch.cuda.max_memory_allocated(model.device) / 2**20,
               "used_mb": (capacity - free) / 2**20}
    stages, current, last = {}, "decode", t0  # a stage lasts from its report to the next report
    for stage, t in marks:
        stages[current] = stages.get(current, 0.0) + t - last
        current, last = stage, t
    t1 = time.perf_counter()
    with tempfile.TemporaryDirectory() as out:
        write(analysis, out, ["json", "csv", "srt", "html"])
    stages["export"] = time.perf_counter() - t1
    peak_mb = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024
    audio, options = media.load_audio(video), AnalysisOptions()
    t1 = time.perf_counter()
    transcribe(audio, backend=options.asr, model=options.asr_model, language=options.language, device=str(model.device))
    return {"load_s": load_s, "analyze_s": total, "stages": stages, "segments": len(analysis.segments),
            "peak_mb": peak_mb, "asr_alone_s": time.perf_counter() - t1,
            "gpu": gpu}


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--long", action="store_true", help="also the 10-minute video")
    parser.add_argument("--case", nargs=3, metavar=("VIDEO", "CHECKPOINT", "WARMUP"), help=argparse.SUPPRESS)
    args = parser.parse_args()
    if args.case:
        print(json.dumps(run_case(*args.case)))
        return
    with tempfile.TemporaryDirectory() as tmp:
        tmp = Path(tmp)
        videos = [("60 s 1280x720", make_video(tmp / "talk60.mp4", 60, "1280x720"))]
        sound = ("60 s sound alone (the same talk)", sound_only(videos[0][1], tmp / "talk60.m4a"))
        if args.long:
            videos.append(("10 min 1280x720", make_video(tmp / "talk600.mp4", 600, "1280x720")))
        warmup = make_video(tmp / "warm.mp4", 2, "320x240")
        checkpoints = [("default model", "default"), ("video branch on", str(video_checkpoint(tmp / "video-ckpt")))]
        italian = ("60 s Italian talk 1280x720", make_video(tmp / "italian60.mp4", 60, "1280x720", ITALIAN, "it"))
        cases = [(v, c) for v in videos for c in checkpoints] + [(sound, checkpoints[0]), (italian, checkpoints[0])]
        for (vname, video), (cname, ckpt) in cases:
            out = subprocess.run([sys.executable, "-m", "bench.analyze", "--case", str(video), ckpt, str(warmup)],
                                 capture_output=True, text=True, cwd=ROOT, check=True)
            r = json.loads(out.stdout.strip().splitlines()[-1])
            stages = ", ".join(f"{k} {v:.2f}" for k, v in r["stages"].items())
            asr = r["stages"]["speech recognition"]
            gpu = (f" (GPU: {r['gpu']['used_mb']:.0f} MB in use as the analysis ended, torch's peak "
                   f"{r['gpu']['torch_peak_mb']:.0f} MB)" if r["gpu"] else "")
            print(f"{vname}, {cname}: {r['analyze_s']:.2f} s for {r['segments']} segments "
                  f"({stages}); model load {r['load_s']:.1f} s; peak {r['peak_mb']:.0f} MB{gpu}; "
                  f"{r['analyze_s'] / asr:.2f}x its speech recognition, "
                  f"{r['analyze_s'] / r['asr_alone_s']:.2f}x speech recognition alone ({r['asr_alone_s']:.2f} s)")


if __name__ == "__main__":
    main()
