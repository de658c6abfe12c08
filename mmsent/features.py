"""Model inputs from decoded media: one implementation for training and for inference.

- audio ("whisper-base"): the final-layer states of the embedded Whisper base encoder
  (the ASR's own model, through ``ctranslate2.models.Whisper.encode``) over the utterance's own
  length (never padded to 30 s, never batched with padding: attention is global, so padding would
  change the states): (T, WHISPER_WIDTH), one state per 20 ms. At most ``MAX_AUDIO_SECONDS`` (the
  centre), at least ``MIN_WHISPER_SAMPLES`` (zero-padded).
- audio ("whisper-base-layer4", the default): the same, the states after the encoder's 4th of 6
  layers (``mmsent.whisper_layers``: the same weights in torch).
- audio ("logmel-cnn"): log-mel spectrogram, ``N_MELS`` bands at ``SAMPLE_RATE``, window ``N_FFT`` samples
  (25 ms), hop ``HOP_LENGTH`` samples (10 ms), normalised per utterance to zero mean and unit
  standard deviation. At most ``MAX_AUDIO_SECONDS``: a longer utterance keeps its centre (logged at
  debug level). Batches are padded and carry their lengths (a mask) instead of being cropped.
- video: ``N_FRAMES`` frames per utterance, short side to ``RESIZE_SHORT_SIDE`` then centre crop
  ``CLIP_SIZE``, scaled to [0, 1] and normalised with the mean/std of torchvision's
  ``R3D_18_Weights.KINETICS400_V1.transforms()``; shape (3, N_FRAMES, CLIP_SIZE, CLIP_SIZE).
- text: at most ``MAX_TOKENS`` tokens; previous utterances as context go first, as a sentence pair
  ``[CLS] context [SEP] utterance [SEP]``; the context is cut from its oldest end.

Change any of these and bump ``PREPROCESSING_VERSION``: the training feature cache keys on it.
"""

from __future__ import annotations

import contextlib
import functools
import logging
import threading

import numpy as np
import torch
import torch.nn.functional as F
import torchaudio

from .media import SAMPLE_RATE  # Hz, the rate load_audio gives

log = logging.getLogger(__name__)

PREPROCESSING_VERSION = 3  # 3: Whisper states; 2: token_type_ids reach the text encoder. Bump whenever any feature below changes (cache key)

N_MELS = 64  # mel bands
N_FFT = 400  # samples, 25 ms analysis window
HOP_LENGTH = 160  # samples, 10 ms between frames
MAX_AUDIO_SECONDS = 10.0  # s of audio per utterance at most (the centre is kept)
MAX_AUDIO_SAMPLES = int(MAX_AUDIO_SECONDS * SAMPLE_RATE)
MAX_MEL_FRAMES = MAX_AUDIO_SAMPLES // HOP_LENGTH + 1  # 1001 frames (centred STFT)
LOG_EPS = 1e-6  # added to the mel power before the log (a floor 60 dB below unit power)
MIN_STD = 1e-3  # log-power std below which an utterance counts as flat (silence): it gives zeros

WHISPER_WIDTH = 512  # width of the Whisper base encoder's states
MIN_WHISPER_SAMPLES = 3200  # 0.2 s: shorter utterances are zero-padded to this (the encoder needs frames)
WHISPER_CHUNK = 8  # utterances the torch Whisper layers encode at once (padded to the longest of them)
SPEECH_SPAN_DB = 35.0  # the voice bank's mean: from the first to the last 20 ms within this of the loudest

N_FRAMES = 16  # frames per utterance
RESIZE_SHORT_SIDE = 128  # pixels, short side before the crop
CLIP_SIZE = 112  # pixels, side of the centre crop

MAX_TEXT_TOKENS = 128  # tokens per utterance, special tokens and context included
# A tokenizer keeps its truncation, padding and truncation side between calls, and each call sets them: threads
# that tokenize at once with the same tokenizer (analyses sharing a model) would cut by another's settings.
_tokenizing = threading.Lock()


@functools.lru_cache(maxsize=1)
def _mel_transform() -> torchaudio.transforms.MelSpectrogram:
    return torchaudio.transforms.MelSpectrogram(
        sample_rate=SAMPLE_RATE, n_fft=N_FFT, win_length=N_FFT, hop_length=HOP_LENGTH,
        n_mels=N_MELS, power=2.0, center=True)


def _centre(audio: np.ndarray) -> np.ndarray:
    if len(audio) <= MAX_AUDIO_SAMPLES:
        return audio
    start = (len(audio) - MAX_AUDIO_SAMPLES) // 2
    log.debug("utterance of %.1f s longer than %.1f s: kept its centre", len(audio) / SAMPLE_RATE,
              MAX_AUDIO_SECONDS)
    return audio[start:start + MAX_AUDIO_SAMPLES]


def log_mel(audio: np.ndarray | torch.Tensor) -> torch.Tensor:
    """Normalised log-mel spectrogram of one utterance: 16 kHz mono samples (n,) -> (N_MELS, T) float32.

    T = min(n, MAX_AUDIO_SAMPLES) // HOP_LENGTH + 1, at least 3 (short input is zero-padded to one
    window); at most MAX_MEL_FRAMES. Zero mean and unit standard deviation over the whole utterance.
    """
    x = torch.as_tensor(np.asarray(audio, dtype=np.float32))
    if x.ndim != 1:
        raise ValueError(f"log_mel takes mono samples of shape (n,), got shape {tuple(x.shape)}")
    x = torch.nan_to_num(torch.as_tensor(_centre(x.numpy())), nan=0.0, posinf=0.0, neginf=0.0)
    if len(x) < N_FFT:
        x = F.pad(x, (0, N_FFT - len(x)))
    mel = torch.log(_mel_transform()(x) + LOG_EPS)
    mel, std = mel - mel.mean(), mel.std()
    return (mel / std if std > MIN_STD else torch.zeros_like(mel)).float()


def audio_batch(clips: list[np.ndarray]) -> tuple[torch.Tensor, torch.Tensor]:
    """Log-mels of several utterances, zero-padded at the end: (B, N_MELS, T_max) and lengths (B,) int64.

    ``lengths[i]`` is the number of valid frames of clip i (the mask); padding is 0, the mean.
    """
    mels = [log_mel(c) for c in clips]
    lengths = torch.tensor([m.shape[1] for m in mels], dtype=torch.int64)
    batch = torch.zeros(len(mels), N_MELS, int(lengths.max()) if mels else 1)
    for i, m in enumerate(mels):
        batch[i, :, : m.shape[1]] = m
    return batch, lengths


def _whisper_mel(audio: np.ndarray, whisper_model) -> np.ndarray:
    """Whisper's log-mel (80, T) of one utterance, T even (one state per two frames)."""
    x = np.nan_to_num(np.asarray(audio, dtype=np.float32), nan=0.0, posinf=0.0, neginf=0.0)
    if x.ndim != 1:
        raise ValueError(f"whisper_states takes mono samples of shape (n,), got shape {x.shape}")
    x = np.clip(_centre(x), -1.0, 1.0)  # full scale, as a converter clips (samples of 1e30 overflow the mel power)
    if len(x) < MIN_WHISPER_SAMPLES:
        x = np.pad(x, (0, MIN_WHISPER_SAMPLES - len(x)))
    mel = whisper_model.feature_extractor(x)
    return mel[:, : mel.shape[1] // 2 * 2]


def speech_span(audio: np.ndarray, n_states: int) -> tuple[int, int]:
    """[first, last) of an utterance's Whisper states (one per 20 ms) from its first to its last 20 ms
    within SPEECH_SPAN_DB of its loudest: the speech without the silence around it, however tightly
    the utterance was cut (a corpus clip, or a segment of a video)."""
    hop = 2 * HOP_LENGTH
    n = min(len(audio) // hop, n_states)
    if n == 0:
        return 0, n_states
    x = np.nan_to_num(np.asarray(audio[: n * hop], dtype=np.float64), nan=0.0, posinf=0.0, neginf=0.0)
    energy = 10 * np.log10((x.reshape(n, hop) ** 2).mean(1) + 1e-12)
    loud = np.nonzero(energy > energy.max() - SPEECH_SPAN_DB)[0]
    return int(loud[0]), int(loud[-1]) + 1


def whisper_states(audio: np.ndarray, whisper_model, layers: int | None = None) -> torch.Tensor:
    """Whisper encoder states of one utterance: 16 kHz mono (n,) -> (T, WHISPER_WIDTH) float32,
    T = min(n, MAX_AUDIO_SAMPLES) // (2 * HOP_LENGTH) (one state per 20 ms): ``whisper_batch`` of one."""
    return whisper_batch([audio], whisper_model, layers)[0][0]


def whisper_batch(clips: list[np.ndarray], whisper_model, layers: int | None = None, mean_after: int = 0
                  ) -> tuple[torch.Tensor, ...]:
    """Several utterances' Whisper encoder states, zero-padded at the end (``states_batch``):
    (B, T_max, WHISPER_WIDTH) float32 and lengths (B,). Each utterance's states are those it has alone.
    With ``mean_after`` (torch layers only), also (B, WHISPER_WIDTH): the mean over each utterance's
    speech (``speech_span``) of the states after that many layers, from the same pass (what the voice
    bank compares).

    ``whisper_model``: a loaded ``faster_whisper.WhisperModel`` (the ASR's, see
    ``mmsent.transcribe.load_backend``): its feature extractor, and its CTranslate2 encoder for the
    final states (``layers`` None; one utterance at a time: CTranslate2 takes no mask); else the
    states after the first ``layers`` layers, from the same weights in torch
    (``mmsent.whisper_layers``) on the model's device, WHISPER_CHUNK utterances of similar lengths at once.
    """
    import ctranslate2

    if mean_after and not layers:
        raise ValueError("mean_after needs the torch layers (layers=N)")
    mels = [_whisper_mel(c, whisper_model) for c in clips]
    if not layers or not mels:
        out = states_batch([torch.from_numpy(np.array(whisper_model.model.encode(
            ctranslate2.StorageView.from_array(np.ascontiguousarray(m[None])), to_cpu=True))[0]).float() for m in mels])
        return (*out, torch.zeros(0, WHISPER_WIDTH)) if mean_after else out
    from .whisper_layers import load_layers

    ct2 = whisper_model.model  # the torch layers go to the GPU it runs on
    encoder = load_layers(max(layers, mean_after), f"cuda:{ct2.device_index[0]}" if ct2.device == "cuda" else "cpu")
    device = encoder.positions.device
    lengths = torch.tensor([m.shape[1] // 2 for m in mels], dtype=torch.int64)
    states = torch.zeros(len(mels), int(lengths.max()), WHISPER_WIDTH)
    means = torch.zeros(len(mels), WHISPER_WIDTH)
    order = lengths.argsort().tolist()
    for k in range(0, len(order), WHISPER_CHUNK):  # utterances of similar lengths together: little padding
        rows = order[k:k + WHISPER_CHUNK]
        batch = torch.zeros(len(rows), mels[0].shape[0], 2 * int(lengths[rows].max()))
        for j, i in enumerate(rows):
            batch[j, :, : mels[i].shape[1]] = torch.from_numpy(mels[i])
        with torch.no_grad():
            out, later = encoder(batch.to(device), lengths[rows].to(device), after=(layers, mean_after or layers))
        out, later = out.float().cpu(), later.float().cpu()
        for j, i in enumerate(rows):
            states[i, : lengths[i]] = out[j, : lengths[i]]
            first, last = speech_span(_centre(np.asarray(clips[i])), int(lengths[i]))  # the samples encoded
            means[i] = later[j, first:last].mean(0)
    return (states, lengths, means) if mean_after else (states, lengths)


def states_batch(states: list[torch.Tensor]) -> tuple[torch.Tensor, torch.Tensor]:
    """Several utterances' states (T_i, W) zero-padded at the end: (B, T_max, W) and lengths (B,)."""
    lengths = torch.tensor([len(s) for s in states], dtype=torch.int64)
    width = states[0].shape[1] if states else WHISPER_WIDTH
    batch = torch.zeros(len(states), int(lengths.max()) if states else 1, width)
    for i, s in enumerate(states):
        batch[i, : len(s)] = s
    return batch, lengths


@functools.lru_cache(maxsize=1)
def video_mean_std() -> tuple[torch.Tensor, torch.Tensor]:
    """Mean and std (3,) of the R3D-18 Kinetics-400 weights' own transforms (read, not downloaded)."""
    from torchvision.models.video import R3D_18_Weights

    preset = R3D_18_Weights.KINETICS400_V1.transforms()
    return torch.tensor(preset.mean, dtype=torch.float32), torch.tensor(preset.std, dtype=torch.float32)


def _resize_short_side(clip: torch.Tensor, short_side: int) -> torch.Tensor:
    """(T, 3, H, W) float in [0, 255] -> short side ``short_side``, antialiased bilinear."""
    h, w = clip.shape[-2:]
    if min(h, w) == short_side:
        return clip
    scale = short_side / min(h, w)
    size = (max(short_side, round(h * scale)), max(short_side, round(w * scale)))
    return F.interpolate(clip, size=size, mode="bilinear", antialias=True, align_corners=False)


def video_clip(frames: np.ndarray) -> torch.Tensor:
    """uint8 RGB frames (n, H, W, 3) -> normalised clip (3, N_FRAMES, CLIP_SIZE, CLIP_SIZE) float32.

    n != N_FRAMES is resampled to N_FRAMES frames evenly spread (nearest index). Frames whose short
    side is not RESIZE_SHORT_SIDE are resized first (load_frames already gives that size).
    """
    frames = np.asarray(frames)
    if frames.ndim != 4 or frames.shape[-1] != 3 or len(frames) == 0:
        raise ValueError(f"video_clip takes RGB frames (n, H, W, 3), got shape {frames.shape}")
    if len(frames) != N_FRAMES:
        frames = frames[np.round(np.linspace(0, len(frames) - 1, N_FRAMES)).astype(int)]
    from torchvision.transforms.functional import center_crop  # R3D-18's alone: torchvision takes 1.3 s to import

    clip = torch.from_numpy(np.ascontiguousarray(frames)).permute(0, 3, 1, 2).float()  # (T, 3, H, W)
    clip = _resize_short_side(clip, RESIZE_SHORT_SIDE)
    clip = center_crop(clip, [CLIP_SIZE, CLIP_SIZE]) / 255.0  # torchvision's own crop (its rounding)
    mean, std = video_mean_std()
    clip = (clip - mean[:, None, None]) / std[:, None, None]
    return clip.permute(1, 0, 2, 3).contiguous()  # (3, T, H, W)


def video_batch(clips: list[np.ndarray]) -> torch.Tensor:
    """Several utterances' frames -> (B, 3, N_FRAMES, CLIP_SIZE, CLIP_SIZE) float32."""
    if not clips:
        return torch.zeros(0, 3, N_FRAMES, CLIP_SIZE, CLIP_SIZE)
    return torch.stack([video_clip(c) for c in clips])


@contextlib.contextmanager
def _truncating_left(tokenizer):
    """Truncate from the start of a sequence (the oldest context) for the duration of the block."""
    old, tokenizer.truncation_side = tokenizer.truncation_side, "left"
    try:
        yield
    finally:
        tokenizer.truncation_side = old


def _encode_one(tokenizer, text: str, context: list[str], max_tokens: int) -> dict[str, list[int]]:
    """Ids of one utterance, with its context as the first sequence of a pair when there is room."""
    context_text = " ".join(c.strip() for c in context if c.strip())
    n_text = len(tokenizer(text, add_special_tokens=False)["input_ids"])
    room = max_tokens - tokenizer.num_special_tokens_to_add(pair=True) - n_text
    if not context_text or room < 1:  # no context, or the utterance alone fills the budget
        return dict(tokenizer(text, truncation=True, max_length=max_tokens))
    with _truncating_left(tokenizer):
        return dict(tokenizer(context_text, text, truncation="only_first", max_length=max_tokens))


def tokenize(tokenizer, texts: list[str], contexts: list[list[str]] | None = None,
             max_tokens: int = MAX_TEXT_TOKENS) -> dict[str, torch.Tensor]:
    """Token ids for a batch of utterances: input_ids, attention_mask (and token_type_ids when the
    tokenizer makes them), each (B, L) int64 with L <= max_tokens, padded on the right.

    ``contexts[i]``: the previous utterances of text i, oldest first; they are joined and given as
    the first sequence of a pair (``[CLS] context [SEP] text [SEP]`` for BERT), truncated from the
    oldest end so that the utterance itself is kept whole whenever it fits.
    """
    if contexts is not None and len(contexts) != len(texts):
        raise ValueError(f"{len(contexts)} contexts for {len(texts)} texts: give one list per text")
    if not texts:
        empty = torch.zeros(0, 0, dtype=torch.int64)
        return {"input_ids": empty, "attention_mask": empty.clone()}
    with _tokenizing:
        rows = [_encode_one(tokenizer, t, contexts[i] if contexts else [], max_tokens) for i, t in enumerate(texts)]
        batch = tokenizer.pad(rows, padding=True, return_tensors="pt", return_attention_mask=True)
    return {k: v.to(torch.int64) for k, v in batch.items()}
