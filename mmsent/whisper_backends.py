"""The two Whisper backends, each a ``mmsent.recogniser._Recogniser`` that decodes: ``FasterWhisperASR``
(faster-whisper, CTranslate2: the default, whose Whisper ``base`` comes offline from pip packages, see
``mmsent.asr_models``) and ``OpenAIWhisperASR`` (openai-whisper, PyTorch). Also what faster-whisper 1.2.1 is made to do
here: encode the first 30 s window once where it detects the language (``encode_first_window_once``), and compute a
long sound's log-mel features a minute at a time (``FeaturesInPieces``).
"""

from __future__ import annotations

import math
import threading

import numpy as np

from mmsent import languages as spoken
from mmsent.asr_decoding import (MIN_AUDIO_SECONDS, DecodeOptions, Progress, _RawSegment, _speech_chunks,
                                 _speech_regions, _vad_parameters)
from mmsent.asr_models import load_faster_whisper, load_openai_whisper
from mmsent.media import SAMPLE_RATE  # Hz, what load_audio gives and every backend expects
from mmsent.recogniser import _Recogniser
from mmsent.transcript import Word

TRANSLATION_BATCH = 8  # chunks of speech translated at once (faster-whisper)
HALLUCINATION_SILENCE_S = 2.0  # s; silences longer than this around a suspect segment are skipped
FEATURE_PIECE_FRAMES = 6_000  # log-mel frames (1 min) computed at once by FeaturesInPieces


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
        self.model.keep_first_window(listen=task == "transcribe")  # given a language too: where the speech is in
        # another (Transcript.windows)
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
