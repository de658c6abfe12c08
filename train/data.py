"""Batches from cached features, audio augmentation, and prediction over a list of samples.

Text rows carry cached hidden states (the model runs its tuned layers on them), audio rows cached
Whisper states padded like ``mmsent.features.states_batch`` (or log-mels, like ``audio_batch``),
zeros at the end, with lengths; video rows the frozen backbone's features.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np
import torch

from mmsent.config import WHISPER_LAYERS
from mmsent.features import N_MELS, WHISPER_WIDTH
from mmsent.labels import MODALITIES, implied_sentiment
from mmsent.model import FusionModel, Inputs

from .cache import FeatureCache
from .corpora import Sample

IGNORE = -100  # target of a head the sample has no label for (cross_entropy's ignore_index)
CLASS_WEIGHT_POWER = 0.5  # class weight = (mean count / class count) ** power (0: none, 1: inverse)
FREQ_MASKS, FREQ_MASK_MAX = 2, 8  # SpecAugment: masks and their greatest width (mel bands)
TIME_MASKS, TIME_MASK_SHARE = 2, 0.1  # SpecAugment: masks and their greatest width (share of length)
SHIFT_SHARE = 0.2  # time shift: greatest circular shift as a share of the valid length


@dataclass
class Batch:
    """Model inputs and targets (B,) (IGNORE where a sample has no label for that head)."""

    inputs: Inputs
    emotion: torch.Tensor
    sentiment: torch.Tensor


def _pad(seqs: list[torch.Tensor], dim_first: bool) -> tuple[torch.Tensor, torch.Tensor]:
    """Zero-pad variable-length tensors at their end. Text (L, H) or mel (N_MELS, T)."""
    lengths = torch.tensor([s.shape[0] if dim_first else s.shape[-1] for s in seqs], dtype=torch.int64)
    longest = int(lengths.max()) if len(seqs) else 1
    if dim_first:
        out = torch.zeros(len(seqs), longest, seqs[0].shape[1])
        for i, s in enumerate(seqs):
            out[i, : s.shape[0]] = s
    else:
        out = torch.zeros(len(seqs), seqs[0].shape[0], longest)
        for i, s in enumerate(seqs):
            out[i, :, : s.shape[1]] = s
    return out, lengths


def available(sample: Sample, caches: dict[str, FeatureCache]) -> list[bool]:
    """Which modalities (MODALITIES order) a sample has usable cached features for."""
    return [m in caches and sample.feature_id(m) in caches[m] and caches[m][sample.feature_id(m)].numel() > 0
            for m in MODALITIES]


def whisper_cache(cache: FeatureCache) -> bool:
    """Whether an audio cache holds Whisper states (T, 512) rather than log-mels (N_MELS, T)."""
    return cache.key.get("transform") in WHISPER_LAYERS


def collate(samples: list[Sample], caches: dict[str, FeatureCache], modalities=MODALITIES) -> Batch:
    """Build one batch; only ``modalities`` are used (others count as absent)."""
    mask = torch.tensor([[ok and m in modalities for ok, m in zip(available(s, caches), MODALITIES)]
                         for s in samples], dtype=torch.bool).reshape(len(samples), len(MODALITIES))
    x = Inputs(mask=mask)
    def rows(m: str, empty: torch.Tensor) -> list[torch.Tensor]:
        i = MODALITIES.index(m)
        return [caches[m][s.feature_id(m)].float() if mask[j, i] else empty for j, s in enumerate(samples)]

    if "text" in caches:
        x.text_hidden, lengths = _pad(rows("text", torch.zeros(1, _width(caches["text"], -1))), dim_first=True)
        x.attention_mask = (torch.arange(x.text_hidden.shape[1])[None, :] < lengths[:, None]).long()
    if "audio" in caches and whisper_cache(caches["audio"]):
        x.audio_states, x.audio_lengths = _pad(rows("audio", torch.zeros(1, WHISPER_WIDTH)), dim_first=True)
        if "voice" in caches:  # what the voice bank compares (config.voice_bank_layer); perturbed copies have none
            means, ids = caches["voice"], [s.feature_id("audio") for s in samples]
            x.voice_means = torch.stack([means[i].float() if i in means and means[i].numel()
                                         else torch.zeros(WHISPER_WIDTH) for i in ids])
    elif "audio" in caches:
        x.mel, x.mel_lengths = _pad(rows("audio", torch.zeros(N_MELS, 1)), dim_first=False)
    if "video" in caches:
        x.video_features = torch.stack(rows("video", torch.zeros(_width(caches["video"], 0))))
    emotion = torch.tensor([IGNORE if s.emotion is None else s.emotion for s in samples])
    sentiment = [s.sentiment if s.sentiment is not None else implied_sentiment(s.emotion) for s in samples]
    sentiment = torch.tensor([IGNORE if v is None else v for v in sentiment])
    return Batch(x, emotion, sentiment)


def _width(cache: FeatureCache, dim: int) -> int:
    """Width of a cache's features along ``dim`` (1 while it holds nothing usable)."""
    return next((int(v.shape[dim]) for v in cache.data.values() if v.numel()), 1)


def augment_audio(mel: torch.Tensor, lengths: torch.Tensor, rows: torch.Tensor,
                  gen: torch.Generator) -> torch.Tensor:
    """Time shift (circular, within the valid frames) and SpecAugment masks on the given rows.

    mel (B, N_MELS, T) -> a new tensor; masked cells are set to 0 (the utterance mean)."""
    mel = mel.clone()
    n_mels = mel.shape[1]
    for r in rows.tolist():
        n = int(lengths[r])
        limit = max(1, int(n * SHIFT_SHARE))
        shift = int(torch.randint(-limit, limit + 1, (1,), generator=gen))
        mel[r, :, :n] = torch.roll(mel[r, :, :n], shift, dims=1)
        for _ in range(FREQ_MASKS):
            w = int(torch.randint(0, FREQ_MASK_MAX + 1, (1,), generator=gen))
            f0 = int(torch.randint(0, max(1, n_mels - w), (1,), generator=gen))
            mel[r, f0:f0 + w, :n] = 0.0
        for _ in range(TIME_MASKS):
            w = int(torch.randint(0, max(1, int(n * TIME_MASK_SHARE)) + 1, (1,), generator=gen))
            t0 = int(torch.randint(0, max(1, n - w), (1,), generator=gen))
            mel[r, :, t0:t0 + w] = 0.0
    return mel


def random_crop(mel: torch.Tensor, lengths: torch.Tensor, rows: torch.Tensor, max_frames: int,
                gen: torch.Generator) -> tuple[torch.Tensor, torch.Tensor]:
    """Cut the given rows longer than max_frames to a random window of max_frames (training only:
    cheaper steps and one more augmentation). Returns the new (mel, lengths)."""
    if max_frames <= 0 or int(lengths[rows].max()) <= max_frames:
        return mel, lengths
    mel, lengths = mel.clone(), lengths.clone()
    for r in rows.tolist():
        n = int(lengths[r])
        if n > max_frames:
            start = int(torch.randint(0, n - max_frames + 1, (1,), generator=gen))
            mel[r, :, :max_frames] = mel[r, :, start:start + max_frames].clone()
            mel[r, :, max_frames:] = 0.0
            lengths[r] = max_frames
    return mel[:, :, : int(lengths.max())].contiguous(), lengths


def length_batches(samples: list[Sample], caches: dict[str, FeatureCache], batch_size: int,
                   gen: torch.Generator, pool: int = 50) -> list[list[int]]:
    """Shuffled batches of indices, each drawn from a pool of similar lengths (less padding)."""
    order = torch.randperm(len(samples), generator=gen).tolist()

    def size(i: int) -> int:
        s = samples[i]
        ids = {m: s.feature_id(m) for m in caches}
        return sum(int(c[ids[m]].shape[-1 if m == "audio" and not whisper_cache(c) else 0]) for m, c in caches.items()
                   if m in ("text", "audio") and ids[m] in c and c[ids[m]].numel())

    batches = []
    for start in range(0, len(order), batch_size * pool):
        chunk = sorted(order[start:start + batch_size * pool], key=size)
        batches += [chunk[i:i + batch_size] for i in range(0, len(chunk), batch_size)]
    perm = torch.randperm(len(batches), generator=gen).tolist()
    return [batches[i] for i in perm]


@torch.no_grad()
def class_weights(values: list[int | None], n: int) -> torch.Tensor:
    """(n,) loss weights of the classes of ``values`` (None: no label), as training and calibration use them."""
    counts = torch.bincount(torch.tensor([v for v in values if v is not None] or [0]), minlength=n).float()
    w = (counts.sum() / (n * counts.clamp(min=1))) ** CLASS_WEIGHT_POWER
    return torch.where(counts > 0, w, torch.ones_like(w))


@torch.no_grad()
def predict_logits(model: FusionModel, samples: list[Sample], caches: dict[str, FeatureCache],
                   batch_size: int = 64, modalities=MODALITIES) -> dict[str, np.ndarray]:
    """Logits over samples: "emotion" (N, 7) and "sentiment" (N, 3) of the fused answer, the same of
    each trained sense alone as "<modality>/emotion" and "<modality>/sentiment" (calibrated; NaN in
    rows without that sense), "mask" (N, 3): the modalities used, and "<modality>/distance" (N,) for a
    sense that measures how unlike its training data each input is (the voice with a bank)."""
    model.eval()
    parts: dict[str, list[torch.Tensor]] = {}
    order = sorted(range(len(samples)), key=lambda i: len(samples[i].text or ""))
    for start in range(0, len(order), batch_size):
        idx = order[start:start + batch_size]
        batch = collate([samples[i] for i in idx], caches, modalities)
        out = model(batch.inputs.to(model.device))
        got = {"emotion": out.emotion_logits, "sentiment": out.sentiment_logits, "mask": out.mask}
        for m, (em, se) in out.per_modality.items():
            absent = ~out.mask[:, MODALITIES.index(m), None]
            got[f"{m}/emotion"], got[f"{m}/sentiment"] = em.masked_fill(absent, np.nan), se.masked_fill(absent, np.nan)
        for m, d in out.distances.items():
            got[f"{m}/distance"] = d.masked_fill(~out.mask[:, MODALITIES.index(m)], np.nan)
        for k, v in got.items():
            parts.setdefault(k, []).append(v.float().cpu() if k != "mask" else v.cpu())
    inverse = np.argsort(order)
    if not parts:
        return {"emotion": np.zeros((0, len(model.config.emotions))),
                "sentiment": np.zeros((0, len(model.config.sentiments))), "mask": np.zeros((0, 3), bool)}
    return {k: torch.cat(v).numpy()[inverse] for k, v in parts.items()}


def softmax(logits: np.ndarray) -> np.ndarray:
    z = np.exp(logits - logits.max(axis=-1, keepdims=True))
    return z / z.sum(axis=-1, keepdims=True)


def predict(model: FusionModel, samples: list[Sample], caches: dict[str, FeatureCache],
            batch_size: int = 64, modalities=MODALITIES) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """Softmax probabilities over samples: emotion (N, 7), sentiment (N, 3), and the used mask (N, 3)."""
    out = predict_logits(model, samples, caches, batch_size, modalities)
    return softmax(out["emotion"]), softmax(out["sentiment"]), out["mask"]
