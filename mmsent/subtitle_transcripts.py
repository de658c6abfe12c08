"""Subtitles in place of speech recognition: an SRT, WebVTT or ASS/SSA file's cues (parsed by ``mmsent.subtitles``)
as a ``Transcript`` (``load_subtitles``), one utterance per cue (one per speaker where a cue names several), in the
language the user gives, else the one the file names, else the one its text is written in where that is clear; what
is unclear or mixed is said in the notes.
"""

from __future__ import annotations

import logging
import math
from dataclasses import replace
from itertools import accumulate, groupby
from operator import itemgetter
from pathlib import Path

from mmsent.language_codes import check_language, whisper_code, whisper_languages
from mmsent.subtitles import (WRITTEN_SURE, cue_languages, parse_subtitles, speakers, tell, written_language,
                              written_sample)
from mmsent.transcript import Transcript, Utterance
from mmsent.weights import SourceUnavailable

log = logging.getLogger(__name__)

UNSURE_LETTERS = 40  # letters of subtitles that name no language from which an unclear text language is noted
MIXED_SHARE = 0.2  # of the cues read alone: as many in one language, beside English ones (two at least), is a mix
TOGETHER_S = 0.5  # s: overlapping subtitle cues that start this close are one utterance (else the first ends
# where the next starts)


def load_subtitles(path: str | Path, problems: list[str] | None = None, language: str | None = None,
                   until: float = math.inf) -> Transcript:
    """A ``Transcript`` from an SRT, WebVTT or ASS/SSA file (no word times), one utterance per cue; a cue that the
    next one starts within ends there, and cues that start together are one utterance, or one per speaker where
    their lines name several (``_by_speaker``). Its language:
    ``language`` (the user's), else the one a WebVTT header declares or the file's name gives
    (``talk.it.srt``) if Whisper knows it, unless the text reads clearly as English where that names another
    or the other way round, else the one its text is written in where that is clear (``written_language``
    of the cues that start before ``until``, the media's end), else unknown. Lines in English and another
    language, each clear alone, are said in ``problems``, and so are the cues that start after ``until`` (counted as
    cues: a cue of two speakers is two utterances) and the turns of a cue before it that are timed after it, which the
    caller leaves out (``clip_to``).

    Raises ``SubtitleError`` (a ``ValueError``) naming the file and line when it is malformed; what could
    be read past, and a language found in the text, go into ``problems`` (``parse_subtitles``).
    """
    path = Path(path)
    cues, named = parse_subtitles(path, problems)
    utterances: list[Utterance] = []
    lines: list[list[tuple[str, str]]] = []  # who says what in each utterance, line by line
    for c in cues:  # by start time
        prev = utterances[-1] if utterances else None
        if prev and c.start < prev.end:  # cues that overlap: each cue's words kept together, in order
            if c.start - prev.start < TOGETHER_S:  # shown at once (two speakers' lines): one utterance
                utterances[-1] = replace(prev, end=max(prev.end, c.end), text=f"{prev.text} {c.text}",
                                         speaker=speakers([prev.speaker, c.speaker]))
                lines[-1] += c.turns
                continue
            utterances[-1] = replace(prev, end=c.start)  # a cue stays on screen after its words are said
        utterances.append(Utterance(c.start, c.end, c.text, [], speaker=c.speaker))
        lines.append(c.turns)
    split = [_by_speaker(u, said) for u, said in zip(utterances, lines)]
    utterances = [turn for turns in split for turn in turns]
    cut = [t.start for turns in split if turns[0].start < until for t in turns if t.start >= until]
    if language:
        check_language(language)
    else:
        language = _subtitles_language(path, named, [c.text for c in cues if c.start < until], problems)
    late = [c.start for c in cues if c.start >= until]
    said = [f"Subtitle cues after the end of the media were left out: {len(late)} of {len(cues)} in {path.name} (the "
            f"first at {late[0]:.1f} s; the media ends at {until:.1f} s)."] if late else []
    if cut:  # a cue of several speakers that starts before the end: its turns timed after it
        said.append(f"Later speakers' turns of a subtitle cue that runs past the end of the media were left out: "
                    f"{len(cut)} in {path.name} (from {cut[0]:.1f} s; the media ends at {until:.1f} s).")
    if said and problems is not None:
        problems.append(" ".join(said) + " Check that the subtitles belong to this file and are in time with it.")
    return Transcript(language, utterances, f"subtitles:{path.name}")


def _by_speaker(u: Utterance, lines: list[tuple[str, str]]) -> list[Utterance]:
    """``u`` (a cue, or cues shown at once) as one utterance per turn where its ``lines`` ((who, words), in order)
    are said by several, one named at least (``ANN: Who?`` / ``BOB: Me.``; ``- ANN: Who?`` / ``- Me.``: Ann's
    and no one's): each turn's words and speaker, the time shared in proportion to their characters (subtitles
    give no word times). Else ``u``: one speaker's lines, or no one's (``- Who?`` / ``- Me.``: not told apart)."""
    turns = [(who, " ".join(words for _, words in said)) for who, said in groupby(lines, key=itemgetter(0))]
    if len(turns) < 2 or not any(who for who, _ in turns):
        return [u]
    total = sum(len(words) for _, words in turns)
    ends = [u.start + (u.end - u.start) * n / total for n in accumulate(len(words) for _, words in turns)]
    ends[-1] = u.end
    return [replace(u, start=start, end=end, text=words, speaker=who)
            for (who, words), start, end in zip(turns, [u.start, *ends], ends)]


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
