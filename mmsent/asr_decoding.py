"""What every Whisper pass shares, whichever backend decodes it: the decoding options (``DecodeOptions``), the voice
detection that finds the speech before decoding (faster-whisper's Silero VAD: ``_speech_regions``), a segment as a
pass decodes it (``_RawSegment``), and the filters that drop the segments Whisper invented (``_is_hallucination``,
``_utterances``): a loop (the compression ratio of its words) or a silence read as words (its no-speech probability
and its tokens' log-probability).
"""

from __future__ import annotations

import logging
from dataclasses import dataclass, replace
from typing import Callable

import numpy as np

from mmsent.media import SAMPLE_RATE  # Hz, what load_audio gives and every backend expects
from mmsent.transcript import Utterance, Word

log = logging.getLogger(__name__)

# Beams. Measured on 2 cores: 60 s of espeak speech in 4.7 s with 1 beam, 6.0 s with 2 (7.0 / 8.0
# s of CPU); words matched 0.971 / 0.976 there and 0.815 / 0.815 on pyannote's real phone call.
BEAM_SIZE = 1
MIN_AUDIO_SECONDS = 0.1  # s; shorter input gives an empty transcript without running a model
VAD_MIN_SILENCE_MS = 2000  # ms of silence that ends a speech region (faster-whisper's default;
VAD_SPEECH_PAD_MS = 400  # ms added around each speech region; 500/200 measured no better)
# Tokens per 30 s window: bounds the cost of a runaway repetition loop (448 = the model's limit).
# 224 changed two words of our 60 s speech sample (numerics of the int8 decoder); 300 changed none.
MAX_NEW_TOKENS = 300
SUSPECT_LOG_PROB = -0.5  # mean token log-probability below which a likely silence is dropped
SURE_SPEECH = 0.2  # no-speech probability below which a low log-probability is kept: speech heard, words unsure
Progress = Callable[[float, float], None]


@dataclass(frozen=True)
class DecodeOptions:
    """Decoding settings shared by both backends; ``None`` disables a filter."""

    beam_size: int = BEAM_SIZE  # 1 = greedy
    vad: bool = True  # Silero voice activity detection before decoding
    no_speech_threshold: float | None = 0.6  # probability above which a segment may be silence
    log_prob_threshold: float | None = -1.0  # mean token log-probability below which it is dropped (unless SURE_SPEECH)
    compression_ratio_threshold: float | None = 2.4  # gzip ratio above which text is a loop
    max_new_tokens: int | None = MAX_NEW_TOKENS  # tokens per 30 s window; None: model's limit


@dataclass
class _RawSegment:
    """One decoded segment before filtering, as either backend reports it."""

    start: float
    end: float
    text: str
    avg_logprob: float
    no_speech_prob: float
    compression_ratio: float
    words: list[Word]


def _check_audio(audio: np.ndarray) -> np.ndarray:
    audio = np.asarray(audio)
    if audio.ndim != 1:
        raise ValueError(f"audio must be mono with shape (samples,), got shape {audio.shape}")
    audio = audio.astype(np.float32, copy=False)
    if not np.all(np.isfinite(audio)):
        raise ValueError("audio contains NaN or infinite samples")
    return audio


def _vad_parameters() -> dict:
    return {"min_silence_duration_ms": VAD_MIN_SILENCE_MS, "speech_pad_ms": VAD_SPEECH_PAD_MS}


def _speech_chunks(audio: np.ndarray) -> list[dict]:
    """faster-whisper's speech chunks ({"start", "end"} in samples) of ``audio``: its Silero VAD with our settings."""
    from faster_whisper.vad import VadOptions, get_speech_timestamps

    return get_speech_timestamps(audio, VadOptions(**_vad_parameters()))


def _speech_regions(audio: np.ndarray) -> list[tuple[float, float]]:
    """Speech regions in seconds from faster-whisper's bundled Silero VAD (all audio if absent)."""
    try:
        import faster_whisper  # noqa: F401
    except ImportError:
        import warnings

        warnings.warn("faster-whisper is not installed: no voice activity detection for "
                      "openai-whisper, silence and music may give invented words", stacklevel=3)
        return [(0.0, len(audio) / SAMPLE_RATE)]
    return [(s["start"] / SAMPLE_RATE, s["end"] / SAMPLE_RATE) for s in _speech_chunks(audio)]


def _is_hallucination(seg: _RawSegment, opts: DecodeOptions) -> str | None:
    """Why ``seg`` looks invented (a reason string), or None when it looks like real speech."""
    ratio = opts.compression_ratio_threshold
    if ratio is not None and seg.compression_ratio > ratio:
        return f"compression ratio {seg.compression_ratio:.2f}"
    if opts.log_prob_threshold is not None and seg.avg_logprob < opts.log_prob_threshold \
            and seg.no_speech_prob >= SURE_SPEECH:
        return f"avg log-probability {seg.avg_logprob:.2f}"
    if opts.no_speech_threshold is not None and seg.no_speech_prob > opts.no_speech_threshold \
            and seg.avg_logprob < SUSPECT_LOG_PROB:
        return f"no-speech probability {seg.no_speech_prob:.2f}"
    return None


def _utterances(raw: list[_RawSegment], opts: DecodeOptions, total: float,
                dropped: list[tuple[float, float]] | None = None) -> list[Utterance]:
    """Filter hallucinations and clean times: every time inside [0, total], words ordered. ``dropped``, where given,
    gets the (start, end) of each segment dropped."""
    kept = []
    for seg in raw:
        text = seg.text.strip()
        reason = _is_hallucination(seg, opts) if text else "no text"
        if reason:
            log.info("dropped segment %.2f-%.2f %r: %s", seg.start, seg.end, text, reason)
            if dropped is not None:
                dropped.append((seg.start, seg.end))
            continue
        words, last = [], 0.0
        for w in seg.words:
            start = min(max(w.start, last, 0.0), total)
            words.append(replace(w, start=start, end=min(max(w.end, start), total)))
            last = start
        start = min(max(seg.start, 0.0), total)
        start = min([start] + [w.start for w in words])
        end = max([min(max(seg.end, start), total)] + [w.end for w in words])
        kept.append(Utterance(start, end, text, words))
    kept.sort(key=lambda u: u.start)
    return kept
