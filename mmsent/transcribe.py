"""Speech recognition (faster-whisper, openai-whisper) and subtitle import, behind one interface.

Audio arrives as a float32 mono array at ``SAMPLE_RATE``; the result is a ``Transcript`` of
utterances with word timestamps. Whisper's known failures are handled: voice activity
detection removes silence and music before decoding, decoding never conditions on previous text,
uses temperature 0 only (fallback temperatures are very slow on these CPUs), and segments whose
log-probability, no-speech probability or compression ratio mark them as hallucinations are
dropped (in a 30 s window whose words repeat, each sentence is first heard again alone: real speech repeats
too). The Whisper ``base`` model comes offline from pip packages (see ``mmsent.asr_models``).

Whisper may end a 30 s window before its speech ends (a sentence said again, a window that loops): the speech the
voice detection found and no word covers is heard again alone (``mmsent.recogniser._Recogniser._heard_again``), a
second listen.

Whisper writes one language per 30 s window: where the language is detected and a window of faster-whisper's
recognition also hears another, each run of speech in one language is recognised alone (``mmsent.languages``), and
an utterance heard in another language than the transcript's says so (``Utterance.language``).

Here: the entry points (``transcribe``, ``translate``, ``spoken_language``, ``load_backend``). The parts they use have
modules of their own, and their public names can still be imported from here: the transcript's dataclasses
(``mmsent.transcript``), the decoding options, voice detection and hallucination filters (``mmsent.asr_decoding``),
what both backends share, hearing again and mixed languages (``mmsent.recogniser``), the two backends
(``mmsent.whisper_backends``), Whisper's languages (``mmsent.language_codes``) and subtitle files as a transcript
(``mmsent.subtitle_transcripts``).
"""

from __future__ import annotations

import numpy as np

from mmsent.asr_decoding import MIN_AUDIO_SECONDS, DecodeOptions, Progress, _check_audio, _speech_regions
from mmsent.asr_models import TranscriptionError
from mmsent.media import SAMPLE_RATE  # Hz, what load_audio gives and every backend expects
from mmsent.subtitle_transcripts import load_subtitles
from mmsent.subtitles import SubtitleError
from mmsent.transcript import Transcript, Utterance, Word, clip_to
from mmsent.weights import loaded_once
from mmsent.whisper_backends import _BACKENDS, FasterWhisperASR, OpenAIWhisperASR

# Defined here before they had modules of their own, and still importable from here (to patch one, patch its module)
from mmsent.asr_decoding import (BEAM_SIZE, MAX_NEW_TOKENS, SURE_SPEECH, SUSPECT_LOG_PROB,  # noqa: F401
                                 VAD_MIN_SILENCE_MS, VAD_SPEECH_PAD_MS)
from mmsent.language_codes import check_language, whisper_code, whisper_languages  # noqa: F401
from mmsent.recogniser import (AGAIN_MOST, AGAIN_PAD_S, AGAIN_ROUNDS, NEAR_WORD_S, TRANSLATION_BEAM,  # noqa: F401
                               UNHEARD_S)
from mmsent.subtitle_transcripts import MIXED_SHARE, TOGETHER_S, UNSURE_LETTERS  # noqa: F401
from mmsent.transcript import SENTENCE_ENDS  # noqa: F401
from mmsent.whisper_backends import (FEATURE_PIECE_FRAMES, HALLUCINATION_SILENCE_S, TRANSLATION_BATCH,  # noqa: F401
                                     FeaturesInPieces, encode_first_window_once)

__all__ = [
    "Word", "Utterance", "Transcript", "DecodeOptions", "TranscriptionError", "SubtitleError",
    "transcribe", "translate", "spoken_language", "load_backend", "load_subtitles", "clip_to", "FasterWhisperASR",
    "OpenAIWhisperASR",
]

LANGUAGE_LOOK_S = 300  # s: spoken_language looks for speech in the first 5 minutes,
LANGUAGE_WINDOW_S = 30  # s: and listens to the first 30 s of it (Whisper's window)


def transcribe(
    audio: np.ndarray,
    backend: str = "faster-whisper",
    model: str = "base",
    language: str | None = None,
    device: str = "auto",
    progress: Progress | None = None,
    options: DecodeOptions | None = None,
    progress_again: Progress | None = None,
) -> Transcript:
    """Recognise the speech in ``audio`` (shape (samples,), float32, 16 kHz mono).

    ``language`` forces a language (ISO code such as "en"); ``None`` detects it. ``progress`` is
    called as ``progress(done_seconds, total_seconds)`` while the speech is recognised, up to the whole sound;
    ``progress_again`` likewise (the seconds of the sound reached) while parts of it are recognised a second time,
    where that happens: the speech that the first pass wrote no words for (Whisper ended its window early), and each
    run of one language where the speech mixes languages. The model is loaded once per process.
    """
    audio = _check_audio(audio)
    asr = load_backend(backend, model, device)
    return asr.transcribe(audio, language=language, progress=progress, options=options, progress_again=progress_again)


def translate(
    audio: np.ndarray,
    language: str,
    backend: str = "faster-whisper",
    model: str = "base",
    device: str = "auto",
    progress: Progress | None = None,
    options: DecodeOptions | None = None,
    spans: list[tuple[float, float]] | None = None,
    dropped: list[tuple[float, float]] | None = None,
) -> list[Utterance]:
    """The speech in ``audio``, spoken in ``language``, written in English (Whisper's translate task,
    a beam of at least ``TRANSLATION_BEAM``): pieces with their times and no word times, filtered as a
    transcription is (a loop or a silence read as words is dropped). ``spans``: only these stretches (seconds,
    each up to 30 s: one piece each, no voice detection), as where the speech mixes languages; None: all the
    speech. ``dropped``, where given, gets the (start, end) of each piece the filters dropped: the same stretch
    translated again gives the same piece. Other arguments as ``transcribe``."""
    audio = _check_audio(audio)
    return load_backend(backend, model, device).translate(audio, language, progress=progress, options=options,
                                                          spans=spans, dropped=dropped)


def spoken_language(audio: np.ndarray, backend: str = "faster-whisper", model: str = "base",
                    device: str = "auto") -> tuple[str | None, float]:
    """The language Whisper hears in the first ``LANGUAGE_WINDOW_S`` of speech of ``audio`` and its
    probability; (None, 0.0) where the first ``LANGUAGE_LOOK_S`` hold no speech. Arguments as
    ``transcribe``."""
    audio = _check_audio(audio)[: LANGUAGE_LOOK_S * SAMPLE_RATE]
    speech = np.concatenate([np.zeros(0, np.float32)] + [audio[round(a * SAMPLE_RATE):round(b * SAMPLE_RATE)]
                                                         for a, b in _speech_regions(audio)])
    if len(speech) < MIN_AUDIO_SECONDS * SAMPLE_RATE:
        return None, 0.0
    return load_backend(backend, model, device).detect(speech[: LANGUAGE_WINDOW_S * SAMPLE_RATE])


def load_backend(backend: str = "faster-whisper", model: str = "base",
                 device: str = "auto") -> FasterWhisperASR | OpenAIWhisperASR:
    """The loaded recogniser for (backend, model, device), cached for the life of the process."""
    if backend not in _BACKENDS:
        raise ValueError(f"unknown ASR backend {backend!r}; choose one of {sorted(_BACKENDS)}")
    device = _resolve_device(backend, device)
    return _load_cached(backend, model, "cuda:0" if device == "cuda" else device)  # one model, however named


@loaded_once(maxsize=4)
def _load_cached(backend: str, model: str, device: str):
    return _BACKENDS[backend](model, device)


def _resolve_device(backend: str, device: str) -> str:
    if device != "auto":
        return device
    if backend == "faster-whisper":
        try:
            import ctranslate2
        except ImportError:
            return "cpu"
        return "cuda" if ctranslate2.get_cuda_device_count() > 0 else "cpu"
    import torch

    return "cuda" if torch.cuda.is_available() else "cpu"
