"""A transcript of speech: its utterances (``Utterance``), their words with times (``Word``) and its language
(``Transcript``), as speech recognition (``mmsent.transcribe``) or a subtitle file (``mmsent.subtitle_transcripts``)
gives them; and a transcript cut to the media's length (``clip_to``). Plain dataclasses: nothing here imports a model.
"""

from __future__ import annotations

import logging
from dataclasses import dataclass, field, replace

log = logging.getLogger(__name__)

SENTENCE_ENDS = tuple(".!?。！？")  # a word that ends so ends a sentence


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
    # the language Whisper hears in the first window of speech and its probability, the language given or not
    # (faster-whisper; None where not heard: subtitles, openai-whisper, speech recognised by runs of one language)
    heard: tuple[str, float] | None = None
    # the language each window of the speech (30 s, the voice detection's speech joined) was heard in most, and its
    # probability, the first window's too (faster-whisper; none where not heard)
    windows: tuple[tuple[str, float], ...] = ()

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


def clip_to(transcript: Transcript, duration: float) -> Transcript:
    """The transcript restricted to [0, duration]: later utterances and words dropped, ends cut; the rest of it kept
    (its language, source and what was heard)."""
    kept = []
    for u in transcript.utterances:
        if u.start >= duration:
            continue
        words = [replace(w, end=min(w.end, duration)) for w in u.words if w.start < duration]
        kept.append(replace(u, start=max(u.start, 0.0), end=min(u.end, duration), words=words))
    if len(kept) < len(transcript.utterances):
        log.info("%d utterances start after the media ends (%.2f s): dropped",
                 len(transcript.utterances) - len(kept), duration)
    return replace(transcript, utterances=kept)
