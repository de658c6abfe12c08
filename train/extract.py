"""Per-sample features for training and evaluation, through mmsent.features (the app's own code).

- text: tokens from ``features.tokenize`` run through the text encoder's frozen layers
  (``encoders["text"].frozen``): hidden states (L, H) of the valid tokens.
- audio: ``features.whisper_states`` of the clip's whole sound track (``media.load_audio``) through
  the embedded Whisper base encoder (its last layer, or its first layers for "whisper-base-layer4"):
  (T, 512) in float16; or, for the log-mel CNN,
  ``features.log_mel``: (N_MELS, T). With ``config.voice_bank_layer``, also "voice": the mean over
  the clip's speech of the states after that layer (512,), what the voice bank compares.
- video: face-expression: the face crops of the clip (``faces.segment_faces`` on
  ``media.load_frames``, as the app does) or the image itself when the corpus is of face crops
  (FER2013, CK+), through the frozen expression CNN (``encoders["video"].frozen``): (features,);
  R3D-18: ``features.video_clip`` of the whole clip through the backbone: (512,).

Training copies of a speech clip (``Sample.augment`` > 0) have their sound perturbed first
(``perturb_waveform``: speed, room, noise, gain; a fixed draw per copy, cached like the originals);
a cut copy (``Sample.cut``) ends where its speech ends (``speech_end``).

A clip that can't be used (missing, corrupt, longer than MAX_CLIP_SECONDS, silent, no stream) is
stored as an empty tensor, so a later run does not decode it again, and counted in the log.
"""

from __future__ import annotations

import logging
import warnings
import zlib
from collections import Counter

from pathlib import Path

import numpy as np
import torch
from PIL import Image

from mmsent import features, media
from mmsent.config import WHISPER_LAYERS
from mmsent.encoders import bf16_supported
from mmsent.model import FusionModel
from mmsent.pipeline import SILENCE_RMS  # digital silence: the same rule as the app
from mmsent.transcribe import load_backend

from .cache import ENCODER_CALLS, FeatureCache, fill, weights_fingerprint
from .corpora import Sample
from .face_corpora import IMAGE_SUFFIXES

log = logging.getLogger(__name__)

MAX_CLIP_SECONDS = 60.0  # s: a longer "utterance" is a broken clip (MELD has minutes-long ones)
TEXT_BATCH, AUDIO_BATCH, VIDEO_BATCH = 64, 8, 8  # samples per extraction step: Ctrl-C loses the one in progress
EMPTY = torch.zeros(0)  # the cached marker of "this sample has no usable input of this kind"
PERTURB_VERSION = 1  # bump when perturb_waveform changes (it is part of the audio cache key)


def _rms(x: np.ndarray) -> float:
    return float(np.sqrt(np.mean(x ** 2)))


def perturb_waveform(audio: np.ndarray, seed: int) -> np.ndarray:
    """A copy of 16 kHz mono speech as another voice in another room might have given it: speed
    0.9-1.1 (tempo and pitch, as in Kaldi's speed perturbation), a synthetic room half the time
    (exponentially decaying noise, RT60 0.15-0.6 s), noise 70 % of the time (white or pink, SNR
    5-30 dB) and a gain of -6 to +6 dB; the same seed gives the same copy."""
    import torchaudio

    rng = np.random.default_rng(seed)
    sr = features.SAMPLE_RATE
    x = np.asarray(audio, np.float32)
    rate = int(round(sr / rng.uniform(0.9, 1.1), -2))  # resampled to this rate, then read at sr
    x = torchaudio.functional.resample(torch.from_numpy(x), sr, rate).numpy()
    rms = _rms(x) + 1e-8
    if rng.random() < 0.5:
        rt60 = rng.uniform(0.15, 0.6)
        t = np.arange(int(rt60 * sr)) / sr
        rir = rng.standard_normal(len(t)) * np.exp(-6.9 * t / rt60) * rng.uniform(0.1, 0.4)
        rir[0] = 1.0  # the direct sound
        n = len(x) + len(rir) - 1
        x = np.fft.irfft(np.fft.rfft(x, n) * np.fft.rfft(rir, n), n)[: len(x)]
        x *= rms / (_rms(x) + 1e-8)
    if rng.random() < 0.7:
        noise = rng.standard_normal(len(x))
        if rng.random() < 0.5:  # pink: power falling as 1/f
            spectrum = np.fft.rfft(noise)
            spectrum[1:] /= np.sqrt(np.arange(1, len(spectrum)))
            noise = np.fft.irfft(spectrum, len(x))
        noise *= rms / (_rms(noise) + 1e-8) / 10 ** (rng.uniform(5, 30) / 20)
        x = x + noise
    x *= 10 ** (rng.uniform(-6, 6) / 20)
    return np.clip(x, -1.0, 1.0).astype(np.float32)


def _encoder_key(model: FusionModel, name: str, source: str) -> dict:
    sha = model.source_sha256.get(name)
    frozen = model.encoders[name]
    return {"source": source, "sha256": sha or "random:" + weights_fingerprint(frozen, frozen.frozen_prefixes()),
            "preprocessing": features.PREPROCESSING_VERSION}


def text_cache(model: FusionModel, root) -> FeatureCache:
    cfg = model.config
    key = _encoder_key(model, "text", cfg.text_source)
    key.update(frozen_layers=_frozen_layers(model), context=cfg.text_context, max_tokens=features.MAX_TEXT_TOKENS)
    return FeatureCache(root, "text", key)


def _frozen_layers(model: FusionModel) -> int:
    layers = model.encoders["text"]._layers()
    return (len(layers) if layers is not None else 0) - model.config.text_tune_layers


def text_features(model: FusionModel, samples: list[Sample], root=None) -> FeatureCache:
    """Hidden states after the frozen text layers, by sample id (samples without text are left out)."""
    cache = text_cache(model, root)
    by_id = {s.feature_id("text"): s for s in samples if s.text}
    enc, k = model.encoders["text"], model.config.text_context

    def compute(ids: list[str]) -> dict[str, torch.Tensor]:
        batch = [by_id[i] for i in ids]
        tok = features.tokenize(model.tokenizer, [s.text for s in batch], [list(s.context[-k:]) for s in batch] if k else None)
        ENCODER_CALLS["text"] += 1
        mask = tok["attention_mask"].to(model.device)
        types = tok.get("token_type_ids")
        hidden = enc.frozen(tok["input_ids"].to(model.device), mask, None if types is None else types.to(model.device))
        hidden = hidden.float().cpu()
        return {i: hidden[j, : int(mask[j].sum())].clone() for j, i in enumerate(ids)}

    ordered = sorted(by_id, key=lambda i: len(by_id[i].text))  # similar lengths batch together
    fill(cache, ordered, compute, TEXT_BATCH, "text encoder")
    return cache


def clip_audio(sample: Sample, counts: Counter) -> np.ndarray | None:
    """The whole sound track of a sample's clip, or None (with the reason counted)."""
    if sample.media is None:
        return None
    try:
        with warnings.catch_warnings():
            warnings.simplefilter("ignore")  # truncated files: counted below if unusable
            audio = media.load_audio(sample.media)
    except (media.MediaError, OSError) as e:
        counts["corrupt"] += 1
        log.debug("skipping %s: %s", sample.media, e)
        return None
    if audio is None:
        counts["no audio stream"] += 1
    elif len(audio) > MAX_CLIP_SECONDS * features.SAMPLE_RATE:
        counts["too long"] += 1
    elif len(audio) == 0 or _rms(audio) < SILENCE_RMS:
        counts["silent"] += 1
    elif sample.augment:
        return perturb_waveform(audio, zlib.crc32(sample.id.encode()))
    elif sample.cut:
        return audio[: speech_end(audio)]
    else:
        return audio
    return None


def speech_end(audio: np.ndarray) -> int:
    """The sample where an utterance's speech ends: the end of its last 20 ms within SPEECH_SPAN_DB of its
    loudest (``features.speech_span``; a video's speech segment follows its sound by the same 35 dB). A
    clip cut there starts as recorded, with the silence before its speech, as a video's first segment does."""
    hop = 2 * features.HOP_LENGTH
    return features.speech_span(audio, len(audio) // hop)[1] * hop


def audio_features(model: FusionModel, samples: list[Sample], root=None) -> FeatureCache:
    """Whisper states (T, 512) or normalised log-mels (N_MELS, T) by sample id (EMPTY for clips
    without usable sound)."""
    whisper = model.config.audio_source in WHISPER_LAYERS
    key = _sound_key(model, model.config.audio_source if whisper else "log_mel", whisper)
    key.update(perturb=PERTURB_VERSION, cut_db=features.SPEECH_SPAN_DB)
    cache = FeatureCache(root, "audio", key)
    by_id = {s.feature_id("audio"): s for s in samples if s.media is not None and not _is_image(s.media)}
    counts: Counter = Counter()

    def compute(ids: list[str]) -> dict[str, torch.Tensor]:
        out = {}
        ENCODER_CALLS["audio"] += 1
        encoder = load_backend("faster-whisper", "base", str(model.device)).model if whisper else None
        layers = WHISPER_LAYERS.get(model.config.audio_source)
        for i in ids:
            audio = clip_audio(by_id[i], counts)
            out[i] = (EMPTY if audio is None else
                      features.whisper_states(audio, encoder, layers).half() if whisper else features.log_mel(audio))
        return out

    fill(cache, list(by_id), compute, AUDIO_BATCH, "audio decode")
    if counts:
        log.warning("audio skipped for %s", ", ".join(f"{n} {k}" for k, n in counts.items()))
    return cache


def _sound_key(model: FusionModel, transform: str, whisper: bool) -> dict:
    """The cache key of what is computed from a clip's sound."""
    key = {"transform": transform, "preprocessing": features.PREPROCESSING_VERSION, "silence_rms": SILENCE_RMS,
           "max_seconds": MAX_CLIP_SECONDS}
    if whisper:
        key.update(sha256=model.source_sha256["audio"], device=model.device.type)  # int8 on CPU, float16 on CUDA
    return key


def voice_mean_features(model: FusionModel, samples: list[Sample], root=None) -> FeatureCache:
    """What the voice bank compares (``config.voice_bank_layer``): the mean over the clip's speech
    (``features.speech_span``) of the states after that layer of the Whisper encoder, (512,), by
    sample id; unperturbed clips only (the bank keeps them, the dev voices are them). The same
    function as the app's (``whisper_batch``)."""
    layer = model.config.voice_bank_layer
    key = _sound_key(model, f"whisper-base-layer{layer}-mean", True)
    key["speech_span_db"] = features.SPEECH_SPAN_DB
    key["speech_span_of"] = "the samples encoded"  # before: the whole clip, also over MAX_AUDIO_SECONDS
    cache = FeatureCache(root, "voice", key)
    by_id = {s.feature_id("audio"): s for s in samples
             if s.media is not None and s.original and not _is_image(s.media)}
    counts: Counter = Counter()

    def compute(ids: list[str]) -> dict[str, torch.Tensor]:
        encoder = load_backend("faster-whisper", "base", str(model.device)).model
        out = {}
        for i in ids:
            audio = clip_audio(by_id[i], counts)
            out[i] = EMPTY if audio is None else features.whisper_batch(
                [audio], encoder, WHISPER_LAYERS[model.config.audio_source], mean_after=layer)[2][0]
        return out

    fill(cache, list(by_id), compute, AUDIO_BATCH, "voice means")
    return cache


def video_features(model: FusionModel, samples: list[Sample], root=None) -> FeatureCache:
    """Frozen video features by sample id (EMPTY for clips without usable frames or face)."""
    face = model.config.video_source == "face-expression"
    key = _encoder_key(model, "video", model.config.video_source)
    if face:
        from mmsent import expression, faces

        key.update(frames=faces.FRAMES_PER_SEGMENT, short_side=faces.SHORT_SIDE, upscale=False,
                   detector=faces.DETECTOR_SHA256, min_score=faces.MIN_SCORE, nms_iou=faces.NMS_IOU,
                   min_face=faces.MIN_FACE, turned_away=faces.TURNED_AWAY, min_face_share=faces.MIN_FACE_SHARE,
                   crop=(faces.CROP_SCALE, faces.CROP_SHIFT), zoom_view=expression.ZOOM_VIEW)  # what shapes the crops
    else:  # R3D-18 runs in bfloat16 where the device has it
        key.update(bfloat16=bf16_supported(model.device))
    cache = FeatureCache(root, "video", key)
    by_id = {s.feature_id("video"): s for s in samples if s.media is not None and s.has_video}
    counts: Counter = Counter()
    enc = model.encoders["video"]

    def compute(ids: list[str]) -> dict[str, torch.Tensor]:
        inputs, ok = [], []
        for i in ids:
            item = _face_crops(by_id[i], counts) if face else _clip_frames(by_id[i], counts)
            if item is not None:
                inputs.append(item if face else features.video_clip(item))
                ok.append(i)
        out = {i: EMPTY for i in ids}
        if inputs:
            ENCODER_CALLS["video"] += 1
            feats = enc.frozen(inputs if face else torch.stack(inputs).to(model.device)).float().cpu()
            out.update({i: feats[j].clone() for j, i in enumerate(ok)})
        return out

    fill(cache, list(by_id), compute, VIDEO_BATCH, "video encoder")
    if counts:
        log.warning("video skipped for %s", ", ".join(f"{n} {k}" for k, n in counts.items()))
    return cache


def _is_image(path) -> bool:
    return Path(path).suffix.lower() in IMAGE_SUFFIXES  # corpora of still face crops (FER2013, CK+)


def _face_crops(sample: Sample, counts: Counter) -> np.ndarray | None:
    """uint8 grey face crops (k, H, W) of a sample: the image itself for a corpus of face crops,
    the faces found in the clip's frames otherwise (None: no face, counted)."""
    if _is_image(sample.media):
        try:
            with Image.open(sample.media) as im:
                return np.asarray(im.convert("L"))[None]
        except OSError as e:
            counts["corrupt"] += 1
            log.debug("skipping %s: %s", sample.media, e)
            return None
    from mmsent import faces

    frames = _clip_frames(sample, counts, faces.FRAMES_PER_SEGMENT, faces.SHORT_SIDE, upscale=False)
    crops = None if frames is None else faces.segment_faces(frames)[0]
    if crops is not None and not len(crops):
        counts["no face"] += 1
        return None
    return crops


def _clip_frames(sample: Sample, counts: Counter, n: int = features.N_FRAMES,
                 short_side: int = features.RESIZE_SHORT_SIDE, upscale: bool = True) -> np.ndarray | None:
    try:
        info = media.probe(sample.media)
        if not info.has_video:
            counts["no video stream"] += 1
            return None
        if info.duration > MAX_CLIP_SECONDS:
            counts["too long"] += 1
            return None
        with warnings.catch_warnings():
            warnings.simplefilter("ignore")
            return media.load_frames(sample.media, [(0.0, info.duration)], n=n, short_side=short_side,
                                     upscale=upscale)[0]
    except (media.MediaError, OSError) as e:
        counts["corrupt"] += 1
        log.debug("skipping %s: %s", sample.media, e)
        return None


def extract_all(model: FusionModel, samples: list[Sample], root=None) -> dict[str, FeatureCache]:
    """The caches of every branch the model has, filled for these samples. The random state is left
    as it was: encoders built for features not yet cached draw throwaway initial weights, which would
    make a training run depend on whether its cache was warm."""
    model.eval()
    out = {}
    with torch.random.fork_rng(devices=[model.device] if model.device.type == "cuda" else []):  # not every GPU
        if "text" in model.encoders:
            out["text"] = text_features(model, samples, root)
        if "audio" in model.encoders:
            out["audio"] = audio_features(model, samples, root)
            if model.config.voice_bank_layer:
                out["voice"] = voice_mean_features(model, samples, root)
        if "video" in model.encoders:
            out["video"] = video_features(model, samples, root)
    return out
