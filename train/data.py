"""Batches from cached features, audio augmentation, and prediction over a list of samples.

Text rows carry cached hidden states (the model runs its tuned layers on them), audio rows cached
log-mels padded exactly like ``mmsent.features.audio_batch`` (zeros at the end, with lengths).
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np
import torch

from mmsent.features import N_MELS
from mmsent.labels import MODALITIES
from mmsent.model import FusionModel, Inputs

from .cache import FeatureCache
from .corpora import Sample

IGNORE = -100  # target of a head the sample has no label for (cross_entropy's ignore_index)
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
    return [m in caches and sample.id in caches[m] and caches[m][sample.id].numel() > 0 for m in MODALITIES]


def collate(samples: list[Sample], caches: dict[str, FeatureCache], modalities=MODALITIES) -> Batch:
    """Build one batch; only ``modalities`` are used (others count as absent)."""
    mask = torch.tensor([[ok and m in modalities for ok, m in zip(available(s, caches), MODALITIES)]
                         for s in samples], dtype=torch.bool).reshape(len(samples), len(MODALITIES))
    x = Inputs(mask=mask)
    if "text" in caches:
        hid = caches["text"]
        dim = next(iter(hid.data.values())).shape[-1] if hid.data else 1
        seqs = [hid[s.id] if mask[i, 0] else torch.zeros(1, dim) for i, s in enumerate(samples)]
        x.text_hidden, lengths = _pad(seqs, dim_first=True)
        x.attention_mask = (torch.arange(x.text_hidden.shape[1])[None, :] < lengths[:, None]).long()
    if "audio" in caches:
        mels = [caches["audio"][s.id] if mask[i, 1] else torch.zeros(N_MELS, 1) for i, s in enumerate(samples)]
        x.mel, x.mel_lengths = _pad(mels, dim_first=False)
    if "video" in caches:
        x.video_features = torch.stack([caches["video"][s.id] if mask[i, 2] else torch.zeros(512)
                                        for i, s in enumerate(samples)])
    emotion = torch.tensor([IGNORE if s.emotion is None else s.emotion for s in samples])
    sentiment = torch.tensor([IGNORE if s.sentiment is None else s.sentiment for s in samples])
    return Batch(x, emotion, sentiment)


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
        return sum(int(c[s.id].shape[-1 if m == "audio" else 0]) for m, c in caches.items()
                   if m != "video" and s.id in c and c[s.id].numel())

    batches = []
    for start in range(0, len(order), batch_size * pool):
        chunk = sorted(order[start:start + batch_size * pool], key=size)
        batches += [chunk[i:i + batch_size] for i in range(0, len(chunk), batch_size)]
    perm = torch.randperm(len(batches), generator=gen).tolist()
    return [batches[i] for i in perm]


@torch.no_grad()
def predict(model: FusionModel, samples: list[Sample], caches: dict[str, FeatureCache],
            batch_size: int = 64, modalities=MODALITIES) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """Softmax probabilities over samples: emotion (N, 7), sentiment (N, 3), and the used mask (N, 3)."""
    model.eval()
    em, se, used = [], [], []
    order = sorted(range(len(samples)), key=lambda i: len(samples[i].text or ""))
    for start in range(0, len(order), batch_size):
        idx = order[start:start + batch_size]
        batch = collate([samples[i] for i in idx], caches, modalities)
        out = model(batch.inputs.to(model.device))
        em.append(out.emotion_logits.float().softmax(-1).cpu())
        se.append(out.sentiment_logits.float().softmax(-1).cpu())
        used.append(out.mask.cpu())
    inverse = np.argsort(order)
    if not em:
        return np.zeros((0, 7)), np.zeros((0, 3)), np.zeros((0, 3), bool)
    return (torch.cat(em).numpy()[inverse], torch.cat(se).numpy()[inverse], torch.cat(used).numpy()[inverse])
