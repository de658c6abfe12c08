"""Benchmark the visual stage: face detection, expression CNN, and frames + faces + expression for 60 s.

    python -m bench.faces              # detection on the real clips, expression per crop, 60 s of 720p
    python -m bench.faces --framing    # also: how the detector frames FER2013 faces (CROP_SCALE/SHIFT)

Cases of the visual stage (as the pipeline runs it: the faces of a frame every ``faces.GRID_STEP`` s in
one decoding pass (``faces.FaceGrid``), each segment's main face from them (``FaceGrid.span_face``),
one ``expression.embed`` over all crops and their test-time views):
- the 60 s 1280x720 talking video of bench/media.py (test pattern, no face: detection only);
- the RAVDESS clip (a real face, 1280x720) repeated by stream copy to the same 60 s, same segments.
Times are wall and CPU seconds with torch at --threads threads. Generated media goes in --workdir.
"""

from __future__ import annotations

import argparse
import resource
import time
from pathlib import Path

import numpy as np
import torch

ROOT = Path(__file__).resolve().parents[1]
CLIPS = ROOT.parent / "shared" / "data" / "clips"
REAL = ("ravdess_01-01-01-01-01-01-01.mp4", "meld_train_dia0_utt0.mp4", "meld_train_dia1_utt0.mp4")


def _cpu() -> float:
    r = resource.getrusage(resource.RUSAGE_SELF)
    return r.ru_utime + r.ru_stime


def _timed(fn):
    wall, cpu = time.perf_counter(), _cpu()
    out = fn()
    return out, time.perf_counter() - wall, _cpu() - cpu


def expression_net():
    """The shipped expression CNN; a random one of the same architecture if it is not there yet."""
    from mmsent.expression import ExpressionNet, load_expression_net
    from mmsent.weights import SourceUnavailable

    try:
        return load_expression_net()[0], "shipped"
    except SourceUnavailable as e:
        print(f"(expression CNN: {e}; timing a random network of the default architecture)")
        return ExpressionNet().eval(), "random"


def bench_detection(n: int) -> None:
    from mmsent import faces, media

    faces.detect(np.zeros((1, faces.SHORT_SIDE, faces.SHORT_SIDE, 3), np.uint8))  # load once, untimed
    print(f"detection, {n} frames per clip at short side {faces.SHORT_SIDE}:")
    for name in REAL:
        path = CLIPS / name
        frames = media.load_frames(path, [(0.0, media.probe(path).duration)], n=n, short_side=faces.SHORT_SIDE)[0]
        found, wall, cpu = _timed(lambda: faces.detect(frames))
        rate = np.mean([len(b) > 0 for b in found])
        main = [boxes[j] for boxes, j in zip(found, faces.track(found, frames.shape[1:3])) if j is not None]
        side = np.median([b[3] - b[1] for b in main]) if main else 0
        print(f"  {name:36s} {frames.shape[2]}x{frames.shape[1]}: face in {rate:.0%} of frames, main face "
              f"~{side:.0f} px, {1000 * wall / n:.1f} ms/frame wall, {1000 * cpu / n:.1f} ms CPU")


def bench_expression(net) -> None:
    from mmsent.expression import embed

    crops = np.random.default_rng(0).integers(0, 256, (256, 48, 48), dtype=np.uint8)
    embed(net, crops[:8])
    for k in (8, 256):
        _, wall, cpu = _timed(lambda: embed(net, crops[:k]))
        print(f"expression CNN (4 test-time views), {k} crops: {1000 * wall / k:.2f} ms/crop wall, "
              f"{1000 * cpu / k:.2f} ms CPU")


def visual_stage(path: Path, spans: list, net) -> dict:
    from mmsent import faces, media
    from mmsent.expression import embed

    out = {}
    grid = faces.FaceGrid(media.probe(path).duration)
    grid.need(spans)  # as if the segments were known from the start: the analysis's best case
    _, *out["frames + faces"] = _timed(lambda: grid.read(path))
    found, *out["segments"] = _timed(lambda: [grid.span_face(*span) for span in spans])
    crops = [c for c, _ in found if len(c)]
    _, *out["expression"] = _timed(lambda: embed(net, np.concatenate(crops)) if crops else None)
    out["total"] = [sum(v[i] for v in out.values()) for i in (0, 1)]
    out["segments with a face"] = sum(len(c) > 0 for c, _ in found), len(spans)
    out["crops"] = sum(len(c) for c in crops)
    return out


def fer_framing(data: Path, n: int = 600) -> None:
    """Run the detector on FER2013 training images (upscaled x2, padded into 192 px by repeating the
    edges) and print the crop side / box side and the centre shift that reproduce FER's framing."""
    import torch.nn.functional as F

    from mmsent import faces
    from train.face_corpora import read_fer2013
    from PIL import Image

    samples = read_fer2013(data, "train")
    pick = np.random.default_rng(0).choice(len(samples), n, replace=False)
    x = torch.from_numpy(np.stack([np.asarray(Image.open(samples[i].media).convert("L")) for i in pick])).float()
    x = F.pad(F.interpolate(x[:, None], size=(96, 96), mode="bilinear"), (48, 48, 48, 48), mode="replicate")
    frames = x.repeat(1, 3, 1, 1).permute(0, 2, 3, 1).round().clamp(0, 255).byte().numpy()
    rows = [((b[0, 2] - b[0, 0]) / 2, (b[0, 3] - b[0, 1]) / 2, ((b[0, 1] + b[0, 3]) / 2 - 48) / 2)
            for b in faces.detect(frames, min_score=0.5) if len(b)]
    w, h, cy = np.array(rows).T
    ratio = 48 / np.maximum(w, h)
    print(f"FER framing: face found in {len(rows)}/{n}; crop side / box side median {np.median(ratio):.3f} "
          f"(IQR {np.percentile(ratio, 25):.3f}-{np.percentile(ratio, 75):.3f}); crop centre "
          f"{np.median((24 - cy) / h):+.3f} box heights below the box centre "
          f"(faces.CROP_SCALE {faces.CROP_SCALE}, CROP_SHIFT {faces.CROP_SHIFT})")


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--threads", type=int, default=2)
    parser.add_argument("--frames", type=int, default=40, help="frames per real clip for the detection figures")
    parser.add_argument("--workdir", type=Path, default=Path("/tmp/mmsent-bench"))
    parser.add_argument("--framing", action="store_true", help="also measure FER2013's framing")
    parser.add_argument("--fer", type=Path, default=ROOT.parent / "shared" / "data" / "fer2013")
    args = parser.parse_args()
    torch.set_num_threads(args.threads)
    from bench.media import _talking
    from mmsent import faces
    from tests.mediagen import ffmpeg

    net, kind = expression_net()
    bench_detection(args.frames)
    bench_expression(net)
    args.workdir.mkdir(parents=True, exist_ok=True)
    talk, meta = _talking(args.workdir, (1280, 720), "veryfast")
    looped = args.workdir / "ravdess_looped_60s.mp4"
    if not looped.exists():
        ffmpeg("-stream_loop", "17", "-i", CLIPS / REAL[0], "-t", "60", "-c", "copy", looped)
    spans = [tuple(s) for s in meta["spans"]]
    for name, path in (("60 s 720p talking test pattern (no face)", talk), ("60 s 720p RAVDESS clip looped", looped)):
        res = visual_stage(path, spans, net)
        print(f"\nvisual stage, {name}: a frame every {faces.GRID_STEP} s, {len(spans)} segments, "
              f"{res['crops']} face crops, {res['segments with a face'][0]} segments with a face "
              f"(expression CNN: {kind})")
        for stage in ("frames + faces", "segments", "expression", "total"):
            print(f"  {stage:14s} wall {res[stage][0]:6.2f} s   cpu {res[stage][1]:6.2f} s")
    print(f"peak RSS {resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024:.0f} MiB")
    if args.framing:
        fer_framing(args.fer)


if __name__ == "__main__":
    main()
