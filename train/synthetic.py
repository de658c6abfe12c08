"""A small synthetic corpus in MELD's layout, with a planted signal in every modality, for tests.

``make_synthetic(folder, n_train, n_dev)`` writes ``train_sent_emo.csv`` and ``dev_sent_emo.csv``
(MELD's columns) and the clips ``train_splits/dia{D}_utt{U}.mp4`` and
``dev_splits_complete/dia{D}_utt{U}.mp4`` (H.264 + AAC, encoded with PyAV). Each of three classes
has, independently of the others:
- video: a dominant colour (red, green, blue) under noise, with a moving bright square;
- audio: a rhythm and timbre: a steady tone, the same tone pulsed 3 times a second, or bursts of
  broadband noise 8 times a second, under weak noise, at a random gain (time pattern and timbre,
  not pitch alone);
- text: a class word ("furious", "delighted", "okay") among random filler words.
So a model fed any one modality alone can learn the class, and chance is 1/3.
"""

from __future__ import annotations

import csv
from fractions import Fraction
from pathlib import Path

import av
import numpy as np

CLASSES = (("anger", "negative"), ("joy", "positive"), ("neutral", "neutral"))  # (emotion, sentiment)
COLOURS = np.array([[200, 40, 40], [40, 200, 40], [40, 40, 200]], dtype=np.float32)  # RGB per class
PULSE_HZ = (0.0, 3.0, 8.0)  # rhythm per class: steady, or switched on and off this often per second
TONE_HZ = 600.0  # pitch of the tone (about the same for all classes: the classes differ in time and timbre)
WORDS = ("furious", "delighted", "okay")  # class word per class
FILLER = ("the", "really", "today", "so", "well")  # few, short, so that the class word stands out
CLIP_SECONDS = 1.0  # s
FPS = 16  # frames per second
SIZE = 64  # pixels, frame side
SAMPLE_RATE = 16000  # Hz, audio as written (AAC)
MELD_HEADER = ("Sr No.", "Utterance", "Speaker", "Emotion", "Sentiment", "Dialogue_ID", "Utterance_ID",
               "Season", "Episode", "StartTime", "EndTime")


def _frames(label: int, rng: np.random.Generator) -> np.ndarray:
    """uint8 (n, SIZE, SIZE, 3): the class colour under noise, with a square moving left to right."""
    n = int(CLIP_SECONDS * FPS)
    base = COLOURS[label] * rng.uniform(0.6, 1.0)
    frames = base + rng.normal(0, 30, size=(n, SIZE, SIZE, 3))
    for t in range(n):
        x = int(t / n * (SIZE - 12))
        frames[t, 26:38, x:x + 12] = 255
    return np.clip(frames, 0, 255).astype(np.uint8)


def _sound(label: int, rng: np.random.Generator) -> np.ndarray:
    """float32 mono (samples,): the class rhythm of a tone under noise at a random gain."""
    t = np.arange(int(CLIP_SECONDS * SAMPLE_RATE)) / SAMPLE_RATE
    f = TONE_HZ * rng.uniform(0.9, 1.1)
    tone = np.sin(2 * np.pi * f * t + rng.uniform(0, 2 * np.pi))
    if label == 2:
        tone = rng.normal(0, 0.7, len(t))  # broadband bursts
    if PULSE_HZ[label]:
        tone *= np.sin(2 * np.pi * PULSE_HZ[label] * t + rng.uniform(0, 2 * np.pi)) > 0
    return (rng.uniform(0.1, 0.4) * (tone + rng.normal(0, 0.05, len(t)))).astype(np.float32)


def _text(label: int, rng: np.random.Generator) -> str:
    words = list(rng.choice(FILLER, size=int(rng.integers(1, 4))))
    words.insert(int(rng.integers(0, len(words) + 1)), WORDS[label])
    return " ".join(words).capitalize() + "."


def write_clip(path: Path, frames: np.ndarray, sound: np.ndarray) -> None:
    """Encode frames (n, H, W, 3) uint8 at FPS and mono sound at SAMPLE_RATE into an mp4."""
    with av.open(str(path), "w") as out:
        v = out.add_stream("libx264", rate=FPS)
        v.width, v.height, v.pix_fmt = frames.shape[2], frames.shape[1], "yuv420p"
        v.options = {"preset": "ultrafast", "crf": "18"}
        a = out.add_stream("aac", rate=SAMPLE_RATE)
        a.layout = "mono"
        for img in frames:
            for packet in v.encode(av.VideoFrame.from_ndarray(img, format="rgb24")):
                out.mux(packet)
        for packet in v.encode():
            out.mux(packet)
        chunk = 1024
        for start in range(0, len(sound), chunk):
            piece = sound[start:start + chunk][None, :]
            frame = av.AudioFrame.from_ndarray(piece, format="flt", layout="mono")
            frame.sample_rate, frame.pts, frame.time_base = SAMPLE_RATE, start, Fraction(1, SAMPLE_RATE)
            for packet in a.encode(frame):
                out.mux(packet)
        for packet in a.encode():
            out.mux(packet)


def _stamp(seconds: float) -> str:
    ms = int(round(seconds * 1000))
    return f"{ms // 3600000:02d}:{ms // 60000 % 60:02d}:{ms // 1000 % 60:02d},{ms % 1000:03d}"


def _write_split(folder: Path, split: str, clip_dir: str, n: int, rng: np.random.Generator,
                 per_dialogue: int) -> None:
    clips = folder / clip_dir
    clips.mkdir(parents=True, exist_ok=True)
    rows = []
    for i in range(n):
        label = i % len(CLASSES)
        dia, utt = i // per_dialogue, i % per_dialogue
        write_clip(clips / f"dia{dia}_utt{utt}.mp4", _frames(label, rng), _sound(label, rng))
        emotion, sentiment = CLASSES[label]
        rows.append((i + 1, _text(label, rng), f"Speaker{utt % 2}", emotion, sentiment, dia, utt, 1, 1,
                     _stamp(utt * CLIP_SECONDS), _stamp((utt + 1) * CLIP_SECONDS)))
    with open(folder / f"{split}_sent_emo.csv", "w", newline="", encoding="utf-8") as f:
        writer = csv.writer(f, lineterminator="\r\n")
        writer.writerow(MELD_HEADER)
        writer.writerows(rows)


def make_synthetic(folder: str | Path, n_train: int = 60, n_dev: int = 30, seed: int = 0,
                   per_dialogue: int = 5) -> Path:
    """Write the synthetic corpus into folder (created); returns the folder."""
    folder = Path(folder)
    folder.mkdir(parents=True, exist_ok=True)
    rng = np.random.default_rng(seed)
    _write_split(folder, "train", "train_splits", n_train, rng, per_dialogue)
    _write_split(folder, "dev", "dev_splits_complete", n_dev, rng, per_dialogue)
    return folder
