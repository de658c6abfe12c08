"""What both Whisper backends share (``_Recogniser``): a backend decodes, this makes its passes a transcript. The
segments that Whisper invented are dropped (``mmsent.asr_decoding``); in a 30 s window whose words repeat, each
sentence is first heard again alone (``_looped_again``: real speech repeats too); the speech the voice detection found
and no word covers is heard again alone (``_heard_again``, a second listen: Whisper may end a 30 s window before its
speech ends); and where a window of the recognition also hears another language, each run of speech in one language
is recognised alone (``_by_language``, ``mmsent.languages``). A translation into English (``translate``) goes through
the same filters.
"""

from __future__ import annotations

import bisect
import logging
import math
from dataclasses import replace
from typing import Callable

import numpy as np

from mmsent import languages as spoken
from mmsent.asr_decoding import (MIN_AUDIO_SECONDS, DecodeOptions, Progress, _RawSegment, _check_audio,
                                 _is_hallucination, _speech_regions, _utterances)
from mmsent.language_codes import check_language
from mmsent.media import SAMPLE_RATE  # Hz, what load_audio gives and every backend expects
from mmsent.transcript import SENTENCE_ENDS, Transcript, Utterance

log = logging.getLogger(__name__)

AGAIN_PAD_S = 0.2  # s of sound either side of a segment decoded again alone (_looped_again)
AGAIN_MOST = 8  # sentences of a segment at most heard again alone; one of more is Whisper's loop (_looped_again)
UNHEARD_S = 1.0  # s: speech found by the voice detection that no word comes near for this long is heard again alone
NEAR_WORD_S = 0.5  # s either side of a word counted as heard (more than the voice detection's pad, VAD_SPEECH_PAD_MS)
AGAIN_ROUNDS = 4  # times at most a stretch heard again is heard again where its own words still leave speech unheard
TRANSLATION_BEAM = 5  # Whisper base translating greedily loops ("I'm happy, I'm happy, ...") where a beam of 5 does not


def _prepare(audio: np.ndarray, language: str | None,
             options: DecodeOptions | None) -> tuple[np.ndarray, DecodeOptions, float]:
    """Checked audio, the decoding options and the audio's length in seconds."""
    check_language(language)
    audio = _check_audio(audio)
    return audio, options or DecodeOptions(), len(audio) / SAMPLE_RATE


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
        heard, windows = self._heard(), self._windows()
        others = spoken.others(windows, detected) if raw and opts.vad and not language else []
        mixed = self._by_language(audio, detected, others, opts, total, regions, progress_again) if others else None
        if mixed:  # a window heard another language, and so did the runs of speech, each recognised alone
            return mixed
        raw = self._completed(audio, raw, detected or language, opts, regions,
                              progress_again and (lambda at: progress_again(at, total)))
        utterances = _utterances(raw, opts, total)
        return Transcript(detected if utterances else language, utterances, self.name, heard,
                          tuple(w[0] for w in windows if w))

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
        said again, other words where Whisper looped, nothing over silence; and the ratio of that stretch. Each
        stretch starts where the one of the sentence before it in the window ends: the word times of a window that
        loops may leave speech between two sentences (five apologies written as four), heard with the sentence after.
        A segment of more than AGAIN_MOST sentences is Whisper's own loop (one segment, its words over and over),
        kept as decoded and dropped as such: each sentence heard again costs a pass of Whisper's 30 s window."""
        ratio = opts.compression_ratio_threshold
        if ratio is None or not any(seg.compression_ratio > ratio for seg in raw):
            return raw

        def to_hear(seg: _RawSegment) -> list:  # the spans of seg to hear again; [None]: kept as decoded
            found = _sentences(seg) if seg.compression_ratio > ratio else []
            return found if 0 < len(found) <= AGAIN_MOST else [None]

        spans = [(seg, span) for seg in raw for span in to_hear(seg)]
        out, end = [], 0.0
        for i, (seg, span) in enumerate(spans):
            if span is None:
                out.append(seg)
                continue
            before = max((s.end if t is None else t[1]) for s, t in spans[:i]) if i else 0.0
            after = min((s.start if t is None else t[0]) for s, t in spans[i + 1:]) if i + 1 < len(spans) else math.inf
            start = max(span[0] - AGAIN_PAD_S, before, 0.0)  # not into the sentences beside it
            if i and spans[i - 1][0] is seg:  # from where the sentence before it in the window was heard to
                start = min(start, end)
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
        decoded, kept = {id(seg) for seg in raw}, {id(seg) for seg in looped}
        new = [seg for seg in looped if id(seg) not in decoded]  # what the sentences heard again gave
        # A window heard again sentence by sentence counts as heard by what its sentences gave, and by its own words
        # only where they gave none: a loop's word times may cover speech its sentences left out (five apologies
        # written as four, the fourth's times on the fifth).
        unanswered = [r for r in raw if id(r) not in kept and not any(n.start < r.end and n.end > r.start for n in new)]
        return looped + self._heard_again(audio, looped + unanswered, language, opts, regions, reached, rounds)

    def _heard_again(self, audio: np.ndarray, raw: list[_RawSegment], language: str | None, opts: DecodeOptions,
                     regions: list[tuple[float, float]] | None, reached: Callable[[float], None] | None = None,
                     rounds: int = AGAIN_ROUNDS) -> list[_RawSegment]:
        """Segments for the speech that ``raw``, a pass of the recognition (its segments as kept by ``_completed``),
        wrote no words for: each stretch of
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
