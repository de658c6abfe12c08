"""Training benchmarks: feature extraction throughput per encoder, and seconds per epoch from the cache.

    python bench/train.py --meld ../shared/data/meld --ravdess ../shared/data/ravdess --cache /tmp/mmsent-cache

Prints samples/s of the text encoder (all-MiniLM-L6-v2, every layer frozen), of audio decoding +
the default voice's Whisper states (4 of the encoder's 6 layers), and of the video backbone (R3D-18 with random weights: the same cost as the real ones,
which are not available offline) on generated clips; then the seconds of one training epoch over
MELD train from the cache with the text encoder frozen (text_tune_layers=0) and with its top layer
tuned (text_tune_layers=1; the default model tunes its top two: --tune-layers 0 2). Peak memory (RSS) at the end.
"""

from __future__ import annotations

import argparse
import logging
import resource
import sys
import time
from pathlib import Path

import torch

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

from mmsent.config import HelpFormatter, ModelConfig  # noqa: E402
from mmsent.model import build_model  # noqa: E402
from train.args import DEFAULT_CACHE, number, parse_args  # noqa: E402
from train.corpora import read_meld, read_ravdess  # noqa: E402
from train.data import collate, length_batches  # noqa: E402
from train.extract import audio_features, text_features, video_features  # noqa: E402
from train.synthetic import make_synthetic  # noqa: E402
from train.train import class_weights, param_groups, step_loss  # noqa: E402


def rate(label: str, n: int, seconds: float) -> None:
    print(f"{label:<44} {n:>6} samples {seconds:>8.1f} s {n / seconds:>9.1f} samples/s")


def bench_extraction(args) -> None:
    meld = read_meld(Path(args.meld) / "train_sent_emo.csv")[: args.n_text]
    model = build_model(ModelConfig(trained_branches=("text",))).eval()
    t = time.time()
    text_features(model, meld, root=None)  # in memory: always computed
    rate("text encoder all-MiniLM-L6-v2 (6 layers)", len(meld), time.time() - t)
    clips = read_ravdess(args.ravdess, "20")[: args.n_audio]
    t = time.time()
    audio_features(build_model(ModelConfig(trained_branches=("audio",))), clips, root=None)
    rate("audio decode + Whisper base encoder (RAVDESS FLAC)", len(clips), time.time() - t)
    folder = make_synthetic(Path(args.tmp) / "bench-synthetic", n_train=args.n_video, n_dev=1)
    videos = read_meld(folder / "train_sent_emo.csv")
    vmodel = build_model(ModelConfig(video_source="r3d_18-random", trained_branches=("video",))).eval()
    t = time.time()
    video_features(vmodel, videos, root=None)
    rate("video decode + R3D-18 (random weights)", len(videos), time.time() - t)


def bench_epoch(args, tune_layers: int) -> None:
    torch.manual_seed(0)
    targs = parse_args(["--meld", args.meld, "--out", "/tmp/unused", "--text-tune-layers", str(tune_layers)])
    model = build_model(ModelConfig(text_tune_layers=tune_layers, trained_branches=("text",)))
    samples = read_meld(Path(args.meld) / "train_sent_emo.csv")
    t = time.time()
    caches = {"text": text_features(model, samples, args.cache)}
    print(f"cache fill/read (text_tune_layers={tune_layers}): {time.time() - t:.1f} s")
    weights = (class_weights([s.emotion for s in samples], 7), class_weights([s.sentiment for s in samples], 3))
    optimizer = torch.optim.AdamW(param_groups(model, targs), weight_decay=0.01)
    gen = torch.Generator().manual_seed(0)
    model.train()
    t = time.time()
    batches = length_batches(samples, caches, targs.batch_size, gen)
    for idx in batches:
        loss = step_loss(model, collate([samples[i] for i in idx], caches), weights, targs, gen, "cpu")
        optimizer.zero_grad(set_to_none=True)
        loss.backward()
        optimizer.step()
    seconds = time.time() - t
    print(f"epoch over MELD train from cache, text_tune_layers={tune_layers}: {len(samples)} utterances, "
          f"{len(batches)} batches, {seconds:.1f} s/epoch")


def main() -> int:
    p = argparse.ArgumentParser(prog="python bench/train.py", description=__doc__.split("\n\n")[0],
                                formatter_class=HelpFormatter)
    p.add_argument("--meld", default="../shared/data/meld", help="MELD label folder")
    p.add_argument("--ravdess", default="../shared/data/ravdess", help="RAVDESS folder")
    p.add_argument("--cache", default=DEFAULT_CACHE, help="feature cache of the epoch timing")
    p.add_argument("--tmp", default="/tmp", help="folder for the generated clips")
    p.add_argument("--n-text", type=number(int, 1), default=512, help="MELD utterances through the text encoder")
    p.add_argument("--n-audio", type=number(int, 1), default=60, help="RAVDESS clips through the audio features")
    p.add_argument("--n-video", type=number(int, 1), default=16, help="generated clips through the video backbone")
    p.add_argument("--tune-layers", type=number(int, 0), nargs="+", default=[0, 1],
                   help="text layers tuned, one epoch each")
    args = p.parse_args()
    logging.basicConfig(level=logging.WARNING)
    print(f"torch {torch.__version__}, {torch.get_num_threads()} threads")
    bench_extraction(args)
    for k in args.tune_layers:
        bench_epoch(args, k)
    print(f"peak RSS {resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024:.0f} MB")
    return 0


if __name__ == "__main__":
    sys.exit(main())
