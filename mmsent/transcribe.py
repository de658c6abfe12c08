"""Speech recognition (faster-whisper, openai-whisper) and subtitle import, behind one interface.

Audio arrives as a float32 mono array at ``SAMPLE_RATE``; the result is a ``Transcript`` of
utterances with word timestamps. Whisper's known failures are handled here: voice activity
detection removes silence and music before decoding, decoding never conditions on previous text,
uses temperature 0 only (fallback temperatures are very slow on these CPUs), and segments whose
log-probability, no-speech probability or compression ratio mark them as hallucinations are
dropped (in a 30 s window whose words repeat, each sentence is first heard again alone: real speech repeats
too). The Whisper ``base`` model comes offline from pip packages (see ``mmsent.asr_models``).

Whisper may end a 30 s window before its speech ends (a sentence said again, a window that loops): the speech the
voice detection found and no word covers is heard again alone (``_Recogniser._heard_again``), a second listen.

Whisper writes one language per 30 s window: where the language is detected and a window of faster-whisper's
recognition also hears another, each run of speech in one language is recognised alone (``mmsent.languages``), and
an utterance heard in another language than the transcript's says so (``Utterance.language``).
"""

from __future__ import annotations

import bisect
import functools
import logging
import math
import threading
from dataclasses import dataclass, field, replace
from pathlib import Path
from typing import Callable, Iterable

import numpy as np

from mmsent import languages as spoken
from mmsent.media import SAMPLE_RATE  # Hz, what load_audio gives and every backend expects
from mmsent.asr_models import TranscriptionError, load_faster_whisper, load_openai_whisper
from mmsent.subtitles import (WHISPER_CODES, WRITTEN_SURE, SubtitleError, cue_languages, parse_subtitles, speakers,
                              tell, written_language, written_sample)
from mmsent.weights import SourceUnavailable, loaded_once

__all__ = [
    "Word", "Utterance", "Transcript", "DecodeOptions", "TranscriptionError", "SubtitleError",
    "transcribe", "translate", "spoken_language", "load_backend", "load_subtitles", "clip_to", "FasterWhisperASR",
    "OpenAIWhisperASR",
]

log = logging.getLogger(__name__)

# Beams. Measured on 2 cores: 60 s of espeak speech in 4.7 s with 1 beam, 6.0 s with 2 (7.0 / 8.0
# s of CPU); words matched 0.971 / 0.976 there and 0.815 / 0.815 on pyannote's real phone call.
BEAM_SIZE = 1
MIN_AUDIO_SECONDS = 0.1  # s; shorter input gives an empty transcript without running a model
AGAIN_PAD_S = 0.2  # s of sound either side of a segment decoded again alone (_looped_again)
SENTENCE_ENDS = tuple(".!?。！？")  # a word that ends so ends a sentence
AGAIN_MOST = 8  # sentences of a segment at most heard again alone; one of more is Whisper's loop (_looped_again)
UNHEARD_S = 1.0  # s: speech found by the voice detection that no word comes near for this long is heard again alone
NEAR_WORD_S = 0.5  # s either side of a word counted as heard (more than the voice detection's pad, VAD_SPEECH_PAD_MS)
AGAIN_ROUNDS = 4  # times at most a stretch heard again is heard again where its own words still leave speech unheard
LANGUAGE_LOOK_S = 300  # s: spoken_language looks for speech in the first 5 minutes,
LANGUAGE_WINDOW_S = 30  # s: and listens to the first 30 s of it (Whisper's window)
VAD_MIN_SILENCE_MS = 2000  # ms of silence that ends a speech region (faster-whisper's default;
VAD_SPEECH_PAD_MS = 400  # ms added around each speech region; 500/200 measured no better)
# Tokens per 30 s window: bounds the cost of a runaway repetition loop (448 = the model's limit).
# 224 changed two words of our 60 s speech sample (numerics of the int8 decoder); 300 changed none.
MAX_NEW_TOKENS = 300
SUSPECT_LOG_PROB = -0.5  # mean token log-probability below which a likely silence is dropped
SURE_SPEECH = 0.2  # no-speech probability below which a low log-probability is kept: speech heard, words unsure
TRANSLATION_BEAM = 5  # Whisper base translating greedily loops ("I'm happy, I'm happy, ...") where a beam of 5 does not
TRANSLATION_BATCH = 8  # chunks of speech translated at once (faster-whisper)
HALLUCINATION_SILENCE_S = 2.0  # s; silences longer than this around a suspect segment are skipped
FEATURE_PIECE_FRAMES = 6_000  # log-mel frames (1 min) computed at once by FeaturesInPieces
Progress = Callable[[float, float], None]


@dataclass
class Word:
    start: float  # seconds from the start of the audio
    end: float  # seconds
    text: str  # the word, stripped of surrounding spaces
    probability: float  # the recogniser's confidence in [0, 1]; 1.0 when unknown (subtitles)
    spaced: bool = True  # whether a space came before it: Whisper's words of Chinese, Japanese or Thai are pieces
    # of a text written without spaces (a Thai vowel mark may start one), and the text is joined as written


@dataclass
class Utterance:
    start: float  # seconds
    end: float  # seconds
    text: str
    words: list[Word] = field(default_factory=list)  # empty when the source has no word times
    language: str | None = None  # the language it was heard in where it is not the transcript's (speech that
    # mixes languages); None: the transcript's
    speaker: str = ""  # who says it, where subtitles name them ("Bob", "Bob, Alice"); "" where unknown


@dataclass
class Transcript:
    language: str | None  # ISO 639-1 code, None when unknown (subtitles)
    utterances: list[Utterance]  # ordered by start time
    source: str  # e.g. "faster-whisper:base", "openai-whisper:base", "subtitles:talk.srt"
    # where the language was given: the language Whisper hears in the first window of speech and its
    # probability (faster-whisper; None where not heard: the language detected, subtitles, openai-whisper)
    heard: tuple[str, float] | None = None

    @property
    def text(self) -> str:
        return " ".join(u.text for u in self.utterances)

    def spoken(self) -> dict[str | None, float]:
        """Seconds of speech in each language, the most spoken first (the transcript's language where utterances
        say none): an utterance's words' times, else its own (an utterance's time may span a pause)."""
        seconds: dict[str | None, float] = {}
        for u in self.utterances:
            language = u.language or self.language
            heard = sum(w.end - w.start for w in u.words) if u.words else u.end - u.start
            seconds[language] = seconds.get(language, 0.0) + heard
        return dict(sorted(seconds.items(), key=lambda kv: -kv[1]))

    @property
    def languages(self) -> list[str]:
        """The languages of the speech, the most spoken first: one, the transcript's, unless the speech mixes
        languages; none where unknown."""
        found = [language for language in self.spoken() if language]
        return found or ([self.language] if self.language else [])


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


def _prepare(audio: np.ndarray, language: str | None,
             options: DecodeOptions | None) -> tuple[np.ndarray, DecodeOptions, float]:
    """Checked audio, the decoding options and the audio's length in seconds."""
    check_language(language)
    audio = _check_audio(audio)
    return audio, options or DecodeOptions(), len(audio) / SAMPLE_RATE


def _check_audio(audio: np.ndarray) -> np.ndarray:
    audio = np.asarray(audio)
    if audio.ndim != 1:
        raise ValueError(f"audio must be mono with shape (samples,), got shape {audio.shape}")
    audio = audio.astype(np.float32, copy=False)
    if not np.all(np.isfinite(audio)):
        raise ValueError("audio contains NaN or infinite samples")
    return audio


def encode_first_window_once(model):
    """``model`` (a ``faster_whisper.WhisperModel``), made to encode the first 30 s window once when it
    detects the language: faster-whisper 1.2.1 encodes it to detect the language (with the features'
    last frame, which the transcription leaves out) and again to transcribe it, about 0.7 s on 2 CPU
    cores, half the recognition of a short clip. Here the detection reads the features as the
    transcription will (for audio under 30 s, one 10 ms frame less than the library's detection: a
    language detected at the margin may change), and ``encode`` keeps its last input and output for
    the next call: only an identical input is answered from them, so a transcript in the same
    language is the library's own. Where the language is given, the transcription's own encoding of
    its first window tells the language heard (``model.keep_first_window()`` before, ``model.first_window()``
    after): no second encoding. ``model.keep_first_window(listen=True)`` also keeps the languages each window
    encoded since gives (``model.windows_heard()``: one decoder step each, ``mmsent.languages``). All are kept per
    thread: with one for all, analyses at once in threads (one model) cleared each other's between a detection
    and its transcription. Returns the model."""
    if getattr(model, "_encodes_first_window_once", False):
        return model
    encode, detect = model.encode, model.detect_language
    # this thread's (features, encoder output) of its last call; its first encoding since keep_first_window
    kept = threading.local()

    def encode_once(features):
        # Only one window is kept, as a detection or a transcription encodes it: a batch of windows (the
        # translation's) never comes again, and each thread would hold it (up to 30 MB) until its next call.
        window = features.ndim == 2
        seen, kept.last = getattr(kept, "last", None), None
        if seen is not None and np.array_equal(seen[0], features):
            out = seen[1]
        else:
            out = encode(features)
            if window:
                kept.last = (np.array(features, copy=True), out)
                if getattr(kept, "windows", None) is not None:  # each window's languages (one decoder step)
                    kept.windows.append(spoken.window_languages(model.model.detect_language(out)[0]))
        if window and getattr(kept, "waiting", False):
            kept.waiting, kept.first = False, out
        return out

    def keep_first_window(listen: bool = False):
        kept.waiting, kept.first = True, None
        kept.windows = [] if listen else None

    def windows_heard() -> list[list[tuple[str, float]]]:
        return getattr(kept, "windows", None) or []

    def detect_language(*args, features=None, **kwargs):
        if features is not None:  # it needs one frame, even of a silence
            features = features[..., :max(1, features.shape[-1] - 1)]
        return detect(*args, features=features, **kwargs)

    model.encode, model.detect_language = encode_once, detect_language
    model.keep_first_window, model.first_window = keep_first_window, lambda: getattr(kept, "first", None)
    model.windows_heard = windows_heard
    model._encodes_first_window_once = True
    return model


class FeaturesInPieces:
    """A faster-whisper ``FeatureExtractor`` that computes a long sound's log-mel features FEATURE_PIECE_FRAMES
    at a time. faster-whisper 1.2.1 takes the STFT of the whole sound at once: 1.9 GB more for 45 minutes,
    grown with the length (the command line takes 3 hours). The features are the library's: each frame from
    the same samples (its padding, its window), the floor 8 below the whole sound's loudest frame."""

    def __init__(self, extractor):
        self.extractor = extractor

    def __getattr__(self, name):  # the extractor's sizes (hop_length, n_samples, ...), read by faster-whisper
        return getattr(self.extractor, name)

    def __call__(self, waveform: np.ndarray, padding: int = 160, chunk_length: int | None = None) -> np.ndarray:
        fe = self.extractor
        if (len(waveform) + padding) // fe.hop_length <= FEATURE_PIECE_FRAMES:
            return fe(waveform, padding, chunk_length)
        if chunk_length is not None:  # as the library's call sets them
            fe.n_samples = chunk_length * fe.sampling_rate
            fe.nb_max_frames = fe.n_samples // fe.hop_length
        half = fe.n_fft // 2  # the library's STFT is centred: padded by reflection at both ends
        waveform = waveform.astype(np.float32, copy=False)
        end = np.concatenate([waveform[-(half + 1):], np.zeros(padding, np.float32)])
        # the padded sound in parts, each piece's samples taken from them: padding the whole sound copied it twice
        parts = (waveform[half:0:-1], waveform, end[half + 1:], end[-2:-half - 2:-1])
        frames = (sum(map(len, parts)) - fe.n_fft) // fe.hop_length  # the library's last frame is left out
        window = np.hanning(fe.n_fft + 1)[:-1].astype("float32")
        log_spec = np.empty((fe.mel_filters.shape[0], frames), np.float32)  # each piece written in place
        for first in range(0, frames, FEATURE_PIECE_FRAMES):
            last = min(first + FEATURE_PIECE_FRAMES, frames)
            samples = _slice(parts, first * fe.hop_length, (last - 1) * fe.hop_length + fe.n_fft)
            stft = fe.stft(samples, fe.n_fft, fe.hop_length, window=window, center=False,
                           return_complex=True).astype("complex64")
            log_spec[:, first:last] = np.log10(np.clip(fe.mel_filters @ (np.abs(stft) ** 2), a_min=1e-10, a_max=None))
        np.maximum(log_spec, log_spec.max() - 8.0, out=log_spec)  # the same operations, in place
        log_spec += 4.0
        log_spec /= 4.0
        return log_spec


def _slice(parts: tuple[np.ndarray, ...], start: int, stop: int) -> np.ndarray:
    """Samples ``start:stop`` of ``parts`` end to end, joined for that stretch alone."""
    out, at = [], 0
    for part in parts:
        out.append(part[max(start - at, 0):max(stop - at, 0)])
        at += len(part)
    return np.concatenate(out)


class _Recogniser:
    """What both backends share: a backend decodes (``_decode``), this filters and shapes the result."""

    name: str

    def transcribe(self, audio: np.ndarray, language: str | None = None,
                   progress: Progress | None = None,
                   options: DecodeOptions | None = None,
                   progress_again: Progress | None = None) -> Transcript:
        """As ``mmsent.transcribe.transcribe``, with this model."""
        audio, opts, total = _prepare(audio, language, options)
        regions = _speech_regions(audio) if opts.vad and total >= MIN_AUDIO_SECONDS else None
        raw, detected = self._decode(audio, language, opts, total, "transcribe", progress, regions)
        heard = self._heard() if language else None
        others = spoken.others(self._windows(), detected) if raw and opts.vad and not language else []
        mixed = self._by_language(audio, detected, others, opts, total, regions, progress_again) if others else None
        if mixed:  # a window heard another language, and so did the runs of speech, each recognised alone
            return mixed
        raw = self._completed(audio, raw, detected or language, opts, regions,
                              progress_again and (lambda at: progress_again(at, total)))
        utterances = _utterances(raw, opts, total)
        return Transcript(detected if utterances else language, utterances, self.name, heard)

    def _windows(self) -> list[list[tuple[str, float]]]:
        """The languages each window of the last ``_decode`` in this thread gave, where the language was
        detected (``mmsent.languages.window_languages``); none where the backend does not tell them."""
        return []

    def _by_language(self, audio: np.ndarray, main: str, others: list[str], opts: DecodeOptions, total: float,
                     regions: list[tuple[float, float]] | None, progress: Progress | None = None) -> Transcript | None:
        """The transcript of speech that mixes ``main`` and ``others``: cut into runs of stretches told in one
        of them (``mmsent.languages.runs``), each run recognised alone, its language heard from its own first
        window. The transcript's language is the one most spoken; an utterance in another names its own. Where
        every run is told in one other language than ``main``, the first window's guess was wrong (a few seconds of
        speech, a synthetic voice: "Good morning, everyone." heard as Thai, written as Thai letters that loop): the
        whole is recognised again in that language, in its speech ``regions`` found before. None where the runs are
        all told in ``main`` (a window of noise heard as another language): the one pass's transcript stands.
        ``progress(done_seconds, total_seconds)``: each run's start, then its end once it is done (its speech left
        unheard heard again too, ``_heard_again``)."""
        if progress:
            progress(0.0, total)
        stretches = spoken.sentences(audio, SAMPLE_RATE)
        told = self._told(audio, stretches, [main, *others])
        runs = spoken.runs([(a / SAMPLE_RATE, b / SAMPLE_RATE) for a, b in stretches], told, total)
        log.info("speech in %s, by the windows: runs %s", ", ".join([main, *others]),
                 ", ".join(f"{a:.1f}-{b:.1f} {lang}" for a, b, lang in runs))
        languages = {lang for _, _, lang in runs}
        if languages == {main} or not languages:
            return None
        if len(languages) == 1:
            return self._all_in(audio, languages.pop(), opts, total, regions, progress)
        utterances = []
        for start, end, _ in runs:
            if progress:
                progress(start, total)
            piece = audio[round(start * SAMPLE_RATE):round(end * SAMPLE_RATE)]
            length = len(piece) / SAMPLE_RATE
            regions = _speech_regions(piece) if length >= MIN_AUDIO_SECONDS else None
            raw, language = self._decode(piece, None, opts, length, "transcribe", None, regions)
            raw = self._completed(piece, raw, language, opts, regions)
            utterances += [_later(u, start, language) for u in _utterances(raw, opts, length)]
            if progress:
                progress(end, total)
        utterances.sort(key=lambda u: u.start)
        heard = Transcript(main, utterances, self.name).spoken()
        if len(heard) < 2:
            return None
        main = next(iter(heard))
        return Transcript(main, [replace(u, language=None if u.language == main else u.language) for u in utterances],
                          self.name)

    def _all_in(self, audio: np.ndarray, language: str, opts: DecodeOptions, total: float,
                regions: list[tuple[float, float]] | None, progress: Progress | None = None) -> Transcript:
        """The transcript of ``audio`` recognised again, all of it in ``language`` (its speech ``regions``: those
        the first pass found)."""
        log.info("every run of speech told in %s: recognised again in it", language)
        raw, _ = self._decode(audio, language, opts, total, "transcribe", None, regions)
        raw = self._completed(audio, raw, language, opts, regions)
        transcript = Transcript(language, _utterances(raw, opts, total), self.name)
        if progress:
            progress(total, total)
        return transcript

    def _told(self, audio: np.ndarray, stretches: list[tuple[int, int]],
              candidates: list[str]) -> list[tuple[str, float]]:
        """Each stretch's language among ``candidates`` and its probability among them."""
        raise NotImplementedError

    def _heard(self) -> tuple[str, float] | None:
        """The language heard in the first window of the last ``_decode`` in this thread, and its
        probability; None where the backend does not tell it."""
        return None

    def _looped_again(self, audio: np.ndarray, raw: list[_RawSegment], language: str | None,
                      opts: DecodeOptions) -> list[_RawSegment]:
        """``raw`` with each sentence of a window that loops decoded again from its own stretch of sound alone.
        The compression ratio Whisper reports is its whole 30 s window's: where the window's words repeat,
        every segment in it would be dropped as a hallucination, real repeated speech too ("I am so sorry."
        five times). Heard alone, a sentence's stretch gives what is said there: the same words where they were
        said again, other words where Whisper looped, nothing over silence; and the ratio of that stretch.
        A segment of more than AGAIN_MOST sentences is Whisper's own loop (one segment, its words over and over),
        kept as decoded and dropped as such: each sentence heard again costs a pass of Whisper's 30 s window."""
        ratio = opts.compression_ratio_threshold
        if ratio is None or not any(seg.compression_ratio > ratio for seg in raw):
            return raw

        def to_hear(seg: _RawSegment) -> list:  # the spans of seg to hear again; [None]: kept as decoded
            found = _sentences(seg) if seg.compression_ratio > ratio else []
            return found if 0 < len(found) <= AGAIN_MOST else [None]

        spans = [(seg, span) for seg in raw for span in to_hear(seg)]
        out = []
        for i, (seg, span) in enumerate(spans):
            if span is None:
                out.append(seg)
                continue
            before = max((s.end if t is None else t[1]) for s, t in spans[:i]) if i else 0.0
            after = min((s.start if t is None else t[0]) for s, t in spans[i + 1:]) if i + 1 < len(spans) else math.inf
            start = max(span[0] - AGAIN_PAD_S, before, 0.0)  # not into the sentences beside it
            end = min(span[1] + AGAIN_PAD_S, after, len(audio) / SAMPLE_RATE)
            piece = audio[int(start * SAMPLE_RATE):int(end * SAMPLE_RATE)]
            again = self._decode(piece, language, opts, len(piece) / SAMPLE_RATE, "transcribe", None)[0]
            log.info("%.2f-%.2f of %r, in a window that loops (compression ratio %.2f), heard alone: %r", start, end,
                     seg.text.strip(), seg.compression_ratio, " ".join(a.text.strip() for a in again))
            out += [_shifted(a, start) for a in again]
        return out

    def _completed(self, audio: np.ndarray, raw: list[_RawSegment], language: str | None, opts: DecodeOptions,
                   regions: list[tuple[float, float]] | None, reached: Callable[[float], None] | None = None,
                   rounds: int = AGAIN_ROUNDS) -> list[_RawSegment]:
        """A pass's segments ``raw`` as kept: its loops heard again sentence by sentence (``_looped_again``), then
        the speech it wrote no words for heard again alone (``_heard_again``)."""
        looped = self._looped_again(audio, raw, language, opts)
        return looped + self._heard_again(audio, raw + looped, language, opts, regions, reached, rounds)

    def _heard_again(self, audio: np.ndarray, raw: list[_RawSegment], language: str | None, opts: DecodeOptions,
                     regions: list[tuple[float, float]] | None, reached: Callable[[float], None] | None = None,
                     rounds: int = AGAIN_ROUNDS) -> list[_RawSegment]:
        """Segments for the speech that ``raw``, a pass of the recognition (its segments as decoded and as heard
        again by ``_looped_again``), wrote no words for: each stretch of
        ``regions`` (the voice detection's speech, seconds) that no word of ``raw`` comes within ``NEAR_WORD_S`` of
        for ``UNHEARD_S`` or more (``_unheard``), decoded again alone. Whisper ends a 30 s window where its text
        ends, and may end it early: the sentence said again ("Kids are talking by the door." four times, 4 s
        apart: one, with a lone timestamp token, ``<|10.00|>``, that ends the window), the end of a window that
        loops, the language changing; faster-whisper then goes on after that window, and the speech there is lost.
        A stretch heard alone is kept as a window is (``_looped_again``, the same filters in ``_utterances``),
        and what its own words still leave unheard is heard again in turn, ``rounds`` times at most. Nothing is
        heard again where ``raw`` heard no speech (music, noise), nor without the voice detection (``regions``
        None, or faster-whisper, whose Silero it is, not installed). ``reached(seconds)``: the start of each
        stretch heard again, then its end once it is heard."""
        if not regions or rounds < 1 or not any(seg.text.strip() and not _is_hallucination(seg, opts) for seg in raw):
            return []
        try:
            import faster_whisper.vad  # noqa: F401  (openai-whisper alone has no voice detection: _speech_regions)
        except ImportError:
            return []
        found = []
        for start, end in _unheard(regions, raw):
            piece = audio[round(start * SAMPLE_RATE):round(end * SAMPLE_RATE)]
            # its speech between pauses of mmsent.languages.PAUSE_MS: a pause between sentences, or the voice
            # detection's pad, is not heard again
            inner = spoken.sentences(piece, SAMPLE_RATE)
            if inner:
                if reached:
                    reached(start)
                first, last = inner[0][0], inner[-1][1]
                piece, start = piece[first:last], start + first / SAMPLE_RATE
                inner = [((a - first) / SAMPLE_RATE, (b - first) / SAMPLE_RATE) for a, b in inner]
                whole = [(0.0, len(piece) / SAMPLE_RATE)]  # speech: decoded whole, pauses and all
                again = self._decode(piece, language, opts, whole[0][1], "transcribe", None, whole)[0]
                log.info("%.2f-%.2f, speech with no words, heard alone: %r", start, start + whole[0][1],
                         " ".join(a.text.strip() for a in again))
                again = self._completed(piece, again, language, opts, inner, None, rounds - 1)
                found += [_shifted(a, start) for a in again]
                if reached:
                    reached(end)
        return found

    def translate(self, audio: np.ndarray, language: str, progress: Progress | None = None,
                  options: DecodeOptions | None = None,
                  spans: list[tuple[float, float]] | None = None,
                  dropped: list[tuple[float, float]] | None = None) -> list[Utterance]:
        """As ``mmsent.transcribe.translate``, with this model."""
        audio, opts, total = _prepare(audio, language, options)
        opts = replace(opts, beam_size=max(opts.beam_size, TRANSLATION_BEAM))
        if spans is not None and not spans:
            return []
        return _utterances(self._decode(audio, language, opts, total, "translate", progress, spans)[0], opts, total,
                           dropped)

    def _decode(self, audio: np.ndarray, language: str | None, opts: DecodeOptions, total: float, task: str,
                progress: Progress | None,
                spans: list[tuple[float, float]] | None = None) -> tuple[list[_RawSegment], str | None]:
        """The decoded segments (with word times when the ``task`` is "transcribe", not "translate") and
        the language, detected or given; none for audio too short or without speech. ``spans`` (seconds):
        only these stretches, no voice detection: to transcribe, the speech the voice detection found (the same
        as without ``spans``, found once for the later passes); to translate, the stretches where the speech
        mixes languages, one piece each."""
        raise NotImplementedError

    def detect(self, speech: np.ndarray) -> tuple[str, float]:
        """The language of ``speech`` (up to 30 s) and its probability."""
        raise NotImplementedError


class FasterWhisperASR(_Recogniser):
    """faster-whisper (CTranslate2): int8 on CPU, float16 on CUDA.

    ``model_obj``: an already loaded ``faster_whisper.WhisperModel`` to use instead of loading
    ``model``, which then only names it in ``Transcript.source``.
    """

    def __init__(self, model: str, device: str, model_obj=None):
        self.name = f"faster-whisper:{model}"
        self.model = encode_first_window_once(model_obj or load_faster_whisper(model, device))
        if not isinstance(self.model.feature_extractor, FeaturesInPieces):  # a model given again
            self.model.feature_extractor = FeaturesInPieces(self.model.feature_extractor)

    def _decode(self, audio: np.ndarray, language: str | None, opts: DecodeOptions, total: float, task: str,
                progress: Progress | None,
                spans: list[tuple[float, float]] | None = None) -> tuple[list[_RawSegment], str | None]:
        self.model.keep_first_window(listen=language is None and task == "transcribe")
        if total < MIN_AUDIO_SECONDS:
            return [], language
        if task == "translate":
            segments, info = self._translate_batched(audio, language, opts, spans)
        else:
            # The voice detection as faster-whisper's own (vad_filter), its speech joined once: the library joins
            # the speech a region at a time, copying all before it for each, and keeps those pieces beside their
            # join while it makes the features (the sound's length twice: 330 MB for 45 minutes).
            chunks = ([{"start": round(a * SAMPLE_RATE), "end": round(b * SAMPLE_RATE)} for a, b in spans]
                      if spans is not None else _speech_chunks(audio) if opts.vad else None)
            speech = audio if chunks is None else np.concatenate(
                [np.zeros(0, np.float32)] + [audio[c["start"]:c["end"]] for c in chunks])
            segments, info = self.model.transcribe(
                speech, language=language, beam_size=opts.beam_size, best_of=1, temperature=0.0,
                condition_on_previous_text=False, word_timestamps=True,
                no_speech_threshold=opts.no_speech_threshold,
                log_prob_threshold=opts.log_prob_threshold,
                compression_ratio_threshold=opts.compression_ratio_threshold,
                hallucination_silence_threshold=HALLUCINATION_SILENCE_S, vad_filter=False,
                max_new_tokens=opts.max_new_tokens,
            )
            del speech  # the features are made: not held while decoding
            if chunks:
                from faster_whisper.transcribe import restore_speech_timestamps

                segments = restore_speech_timestamps(segments, chunks, SAMPLE_RATE)
        raw = []
        for seg in segments:  # a generator: decoding happens while iterating
            words = [Word(float(w.start), float(w.end), w.word.strip(), float(w.probability), w.word[:1].isspace())
                     for w in seg.words or []]
            raw.append(_RawSegment(float(seg.start), float(seg.end), seg.text,
                                   float(seg.avg_logprob), float(seg.no_speech_prob),
                                   float(seg.compression_ratio), words))
            if progress:
                progress(min(seg.end, total), total)
        if progress:
            progress(total, total)
        return raw, info.language

    def detect(self, speech: np.ndarray) -> tuple[str, float]:
        language, probability, _ = self.model.detect_language(audio=speech)
        return language, float(probability)

    def _windows(self) -> list[list[tuple[str, float]]]:
        return self.model.windows_heard()

    def _told(self, audio: np.ndarray, stretches: list[tuple[int, int]],
              candidates: list[str]) -> list[tuple[str, float]]:
        """Each stretch encoded at its own length (not padded to 30 s: 0.07 s for 2 s of speech on 2 CPU cores,
        against 1 s), its language read by one decoder step, among ``candidates``."""
        from faster_whisper.transcribe import get_ctranslate2_storage

        told = []
        for a, b in stretches:
            features = self.model.feature_extractor(audio[a:b])[None, :, :-1]
            out = self.model.model.encode(get_ctranslate2_storage(np.ascontiguousarray(features)))
            probabilities = dict(spoken.window_languages(self.model.model.detect_language(out)[0]))
            among = {lang: probabilities.get(lang, 0.0) for lang in candidates}
            best = max(among, key=among.get)
            told.append((best, among[best] / (sum(among.values()) or 1.0)))
        return told

    def _heard(self) -> tuple[str, float] | None:
        first = self.model.first_window()  # the encoder's output: one decoder step reads the language from it
        if first is None:  # no window decoded: no speech
            return None
        token, probability = self.model.model.detect_language(first)[0][0]
        return token[2:-2], float(probability)  # "<|en|>"

    def _translate_batched(self, audio: np.ndarray, language: str, opts: DecodeOptions,
                           spans: list[tuple[float, float]] | None = None):
        """The speech translated in chunks of up to 30 s (``spans``, else the voice detection's, else 30 s windows),
        ``TRANSLATION_BATCH`` chunks at once, one piece each, without timestamps (faster-whisper's
        ``BatchedInferencePipeline``): on 2 cores 1.6x as fast as window after window, and on 75 test segments
        no chunk lost to a loop, where 10 segments lost their window (docs/experiments.md)."""
        from faster_whisper import BatchedInferencePipeline

        total, window = len(audio) / SAMPLE_RATE, self.model.feature_extractor.chunk_length  # s, Whisper's 30
        chunks = None if opts.vad else [{"start": float(a), "end": min(a + window, total)}  # in seconds
                                        for a in range(0, math.ceil(total), window)]
        if spans is not None:
            chunks = [{"start": float(a), "end": float(min(b, a + window, total))} for a, b in spans]
        return BatchedInferencePipeline(self.model).transcribe(
            audio, language=language, task="translate", beam_size=opts.beam_size, temperature=0.0,
            condition_on_previous_text=False, without_timestamps=True, vad_filter=opts.vad and chunks is None,
            vad_parameters=_vad_parameters(), clip_timestamps=chunks, max_new_tokens=opts.max_new_tokens,
            batch_size=TRANSLATION_BATCH)


class OpenAIWhisperASR(_Recogniser):
    """openai-whisper (PyTorch); fed arrays, never paths (its loader needs ffmpeg on PATH).

    It has no voice detection of its own: faster-whisper's Silero VAD finds the speech regions,
    which are passed as ``clip_timestamps``. ``model_obj``: an already loaded ``whisper.Whisper``.
    """

    def __init__(self, model: str, device: str, model_obj=None):
        self.name = f"openai-whisper:{model}"
        self.device = device
        self.model = model_obj or load_openai_whisper(model, device)

    def detect(self, speech: np.ndarray) -> tuple[str, float]:
        import whisper

        mel = whisper.log_mel_spectrogram(whisper.pad_or_trim(speech), self.model.dims.n_mels)
        _, probabilities = self.model.detect_language(mel.to(self.model.device))
        language = max(probabilities, key=probabilities.get)
        return language, float(probabilities[language])

    def _decode(self, audio: np.ndarray, language: str | None, opts: DecodeOptions, total: float, task: str,
                progress: Progress | None,
                spans: list[tuple[float, float]] | None = None) -> tuple[list[_RawSegment], str | None]:
        import whisper

        regions = [] if total < MIN_AUDIO_SECONDS else (
            spans if spans is not None else _speech_regions(audio) if opts.vad else [(0.0, total)])
        if not regions:
            return [], language
        if progress:
            progress(0.0, total)
        result = whisper.transcribe(
            self.model, audio, verbose=None, language=language, task=task, temperature=0.0,
            beam_size=opts.beam_size if opts.beam_size > 1 else None,
            condition_on_previous_text=False, word_timestamps=task == "transcribe",
            fp16=self.device.startswith("cuda"),
            no_speech_threshold=opts.no_speech_threshold, logprob_threshold=opts.log_prob_threshold,
            compression_ratio_threshold=opts.compression_ratio_threshold,
            hallucination_silence_threshold=HALLUCINATION_SILENCE_S,
            clip_timestamps=[t for region in regions for t in region],
            **({"sample_len": opts.max_new_tokens} if opts.max_new_tokens else {}),
        )
        if progress:
            progress(total, total)
        return [_raw_from_openai(seg) for seg in result.get("segments", [])], result.get("language")


_BACKENDS = {"faster-whisper": FasterWhisperASR, "openai-whisper": OpenAIWhisperASR}


def _raw_from_openai(seg: dict) -> _RawSegment:
    words = [Word(float(w["start"]), float(w["end"]), w["word"].strip(), float(w["probability"]),
                  w["word"][:1].isspace()) for w in seg.get("words", [])]
    return _RawSegment(float(seg["start"]), float(seg["end"]), seg["text"],
                       float(seg["avg_logprob"]), float(seg["no_speech_prob"]),
                       float(seg["compression_ratio"]), words)


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


def whisper_languages() -> Iterable[str]:
    """The ISO 639-1 codes of the languages Whisper knows (both backends share the list)."""
    try:
        from faster_whisper.tokenizer import _LANGUAGE_CODES as codes
    except ImportError:
        from whisper.tokenizer import LANGUAGES as codes
    return codes


def whisper_code(language: str) -> str:
    """A language code as Whisper writes it: ``"EN"`` -> ``"en"``, ``"pt-BR"`` -> ``"pt"``, ``"jv"`` -> ``"jw"``;
    a language's English name, as openai-whisper's command line takes it: ``"English"``, ``"castilian"`` -> ``"en"``,
    ``"es"``."""
    named = language.strip().lower()
    code = _language_names().get(named) or named.replace("_", "-").split("-")[0]
    return WHISPER_CODES.get(code, code)


@functools.cache
def _language_names() -> dict[str, str]:
    """Whisper's languages' English names, lower case, and their other names, to their codes (openai-whisper's
    table: "english" -> "en", "castilian" -> "es"); none where openai-whisper is not installed."""
    try:
        from whisper.tokenizer import TO_LANGUAGE_CODE
    except ImportError:
        return {}
    return TO_LANGUAGE_CODE


def check_language(language: str | None) -> None:
    """Raises ValueError for a language that Whisper does not know (None: detected)."""
    if language is None:
        return
    codes = whisper_languages()
    if language not in codes:
        raise ValueError(f"unknown language {language!r} for Whisper; use an ISO 639-1 code such "
                         f"as 'en', 'fr', 'de' (one of {len(codes)} Whisper languages), or its English name")


def _sentences(seg: _RawSegment) -> list[tuple[float, float]]:
    """The (start, end) of each sentence of ``seg`` by its words' times (a word that ends with . ! or ? ends one);
    the segment's own span where it has no word times."""
    if not seg.words:
        return [(seg.start, seg.end)]
    spans, first = [], seg.words[0]
    for i, w in enumerate(seg.words):
        if w.text.rstrip().endswith(SENTENCE_ENDS) or i == len(seg.words) - 1:
            spans.append((first.start, w.end))
            first = seg.words[i + 1] if i + 1 < len(seg.words) else w
    return spans


def _unheard(regions: list[tuple[float, float]], raw: list[_RawSegment]) -> list[tuple[float, float]]:
    """The stretches of ``regions`` (seconds) that no word of ``raw`` (a segment without word times: its span)
    comes within ``NEAR_WORD_S`` of, ``UNHEARD_S`` long or more."""
    heard: list[list[float]] = []  # the times heard, as disjoint spans in order
    for a, b in sorted([(w.start - NEAR_WORD_S, w.end + NEAR_WORD_S) for seg in raw for w in seg.words]
                       + [(seg.start, seg.end) for seg in raw if not seg.words]):
        if heard and a <= heard[-1][1]:
            heard[-1][1] = max(heard[-1][1], b)
        else:
            heard.append([a, b])
    starts = [a for a, _ in heard]
    out = []
    for start, end in regions:
        at, i = start, max(bisect.bisect_right(starts, start) - 1, 0)
        while i < len(heard) and heard[i][0] < end:
            if heard[i][0] - at >= UNHEARD_S:
                out.append((at, heard[i][0]))
            at, i = max(at, heard[i][1]), i + 1
        if end - at >= UNHEARD_S:
            out.append((at, end))
    return out


def _later(u: Utterance, offset: float, language: str | None) -> Utterance:
    """``u`` with its times ``offset`` seconds later, heard in ``language``."""
    return replace(u, start=u.start + offset, end=u.end + offset, language=language,
                   words=[replace(w, start=w.start + offset, end=w.end + offset) for w in u.words])


def _shifted(seg: _RawSegment, offset: float) -> _RawSegment:
    """``seg`` with its times ``offset`` seconds later."""
    return replace(seg, start=seg.start + offset, end=seg.end + offset,
                   words=[replace(w, start=w.start + offset, end=w.end + offset) for w in seg.words])


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


UNSURE_LETTERS = 40  # letters of subtitles that name no language from which an unclear text language is noted
MIXED_SHARE = 0.2  # of the cues read alone: as many in one language, beside English ones (two at least), is a mix
TOGETHER_S = 0.5  # s: overlapping subtitle cues that start this close are one utterance (else the first ends
# where the next starts)


def load_subtitles(path: str | Path, problems: list[str] | None = None, language: str | None = None,
                   until: float = math.inf) -> Transcript:
    """A ``Transcript`` from an SRT, WebVTT or ASS/SSA file (no word times), one utterance per cue; a cue that the
    next one starts within ends there, and cues that start together are one utterance. Its language:
    ``language`` (the user's), else the one a WebVTT header declares or the file's name gives
    (``talk.it.srt``) if Whisper knows it, unless the text reads clearly as English where that names another
    or the other way round, else the one its text is written in where that is clear (``written_language``
    of the cues that start before ``until``, the media's end), else unknown. Lines in English and another
    language, each clear alone, are said in ``problems``.

    Raises ``SubtitleError`` (a ``ValueError``) naming the file and line when it is malformed; what could
    be read past, and a language found in the text, go into ``problems`` (``parse_subtitles``).
    """
    path = Path(path)
    cues, named = parse_subtitles(path, problems)
    utterances: list[Utterance] = []
    for c in cues:  # by start time
        prev = utterances[-1] if utterances else None
        if prev and c.start < prev.end:  # cues that overlap: each cue's words kept together, in order
            if c.start - prev.start < TOGETHER_S:  # shown at once (two speakers' lines): one utterance
                utterances[-1] = replace(prev, end=max(prev.end, c.end), text=f"{prev.text} {c.text}",
                                         speaker=speakers([prev.speaker, c.speaker]))
                continue
            utterances[-1] = replace(prev, end=c.start)  # a cue stays on screen after its words are said
        utterances.append(Utterance(c.start, c.end, c.text, [], speaker=c.speaker))
    if language:
        check_language(language)
    else:
        language = _subtitles_language(path, named, [c.text for c in cues if c.start < until], problems)
    return Transcript(language, utterances, f"subtitles:{path.name}")


def _subtitles_language(path: Path, named: str | None, texts: list[str], problems: list[str] | None) -> str | None:
    """``load_subtitles``'s language where the user gave none: from the name (``named``: a WebVTT header's
    or the file name's) and the cues' ``texts``, said in ``problems`` where it was found in the text or the
    two disagree."""
    named = named and whisper_code(named)
    lines = written_sample(texts)
    text = " ".join(lines)
    guess, probability = _written(text)
    sure = probability >= WRITTEN_SURE
    known = named in whisper_languages()
    mixed = _other_language(lines) if guess else None  # (a language beside English, its lines, the lines read)
    how = "(--language, the page's Spoken language, or a name such as {})".format
    # English or not is what the words need: where the name and a clear text disagree on it, the text wins
    # (Dr.No.srt, talk.hi.srt, the players' mark for hearing impaired, in English), but where the named language is
    # mixed with English; between two others, the name
    if known and sure and guess != named and "en" in (guess, named) and not (mixed and mixed[0] == named):
        tell(problems, f"The subtitles name their language {named!r}, but their text reads as {guess!r} (py3langid's "
                       f"probability {probability:.2f}): read as {guess!r}.")
        taken = guess
    elif known:
        taken = named
    elif named and not sure:  # talk.eo.srt; a name's part that is no language (Rocky.IV.srt) gives way to the text
        tell(problems, f"The subtitles name their language {named!r}, which Whisper does not know: their words "
                       "are read as written, not translated.")
        taken = None
    else:
        taken = guess if sure else None
        if sure and guess != "en":  # a name's part may be a code Whisper does not know (it.eo.srt) or no language
            said = f"The subtitles' name holds {named!r}, no language Whisper knows" if named else \
                "The subtitles name no language"
            tell(problems, f"{said}, and their text reads as {guess!r} (py3langid's "
                           f"probability {probability:.2f}): read as {guess!r}. If that is wrong, give their language "
                           f"{how(f'{path.stem}.en{path.suffix}')}.")
    if mixed and taken in (None, "en"):  # all read as English words, while translated speech would be English
        other, count, total = mixed
        name = f"{path.stem}.{other}{path.suffix}"
        tell(problems, f"The subtitles mix English and {other!r}: {count} of the {total} lines that read clearly alone "
                       f"are in {other!r}, yet all are read as English words. To have the speech translated into "
                       f"English for the words instead, give {other!r} {how(name)}.")
    elif not sure and not named and guess and sum(ch.isalpha() for ch in text) >= UNSURE_LETTERS:
        tell(problems, f"The subtitles name no language, and their text does not read clearly as one (py3langid's "
                       f"likeliest, {guess!r}, at {probability:.2f}; several languages?): read as English. If they "
                       f"are in another language, give it {how(f'{path.stem}.<code>{path.suffix}: its ISO 639-1 code')}"
                       ".")
    return taken


def _other_language(lines: list[str]) -> tuple[str, int, int] | None:
    """(the language, its lines, all lines read) where the ``lines`` read alone are in English and, MIXED_SHARE
    or more of them and two at least, in one other language; else None."""
    try:
        counts = cue_languages(lines, whisper_languages())
    except SourceUnavailable:  # as _written: already warned
        return None
    total = sum(counts.values())
    other, count = max(((code, n) for code, n in counts.items() if code != "en"), key=lambda c: c[1], default=(None, 0))
    return (other, count, total) if counts["en"] and count >= max(2, MIXED_SHARE * total) else None


def _written(text: str) -> tuple[str | None, float]:
    """``written_language`` of Whisper's languages; (None, 0.0) where it can't be told here."""
    try:
        return written_language(text, whisper_languages())
    except SourceUnavailable as e:  # the language stays unknown, as the subtitles leave it
        log.warning("the subtitles' language was not read from their text: %s", e)
        return None, 0.0


def clip_to(transcript: Transcript, duration: float) -> Transcript:
    """The transcript restricted to [0, duration]: later utterances and words dropped, ends cut."""
    kept = []
    for u in transcript.utterances:
        if u.start >= duration:
            continue
        words = [replace(w, end=min(w.end, duration)) for w in u.words if w.start < duration]
        kept.append(replace(u, start=max(u.start, 0.0), end=min(u.end, duration), words=words))
    if len(kept) < len(transcript.utterances):
        log.info("%d utterances start after the media ends (%.2f s): dropped",
                 len(transcript.utterances) - len(kept), duration)
    return Transcript(transcript.language, kept, transcript.source)
