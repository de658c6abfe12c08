"""SubRip (.srt), WebVTT (.vtt) and (Advanced) SubStation Alpha (.ass, .ssa: the Dialogue lines of its
[Events] section) parsing into timed cues, for subtitles that replace ASR.

Lenient where real files vary (blank lines before a WebVTT header, a missing cue number, ``.`` or ``,``
before milliseconds, or ``:`` after hours, minutes and seconds, missing hours, styling tags, UTF-16 or a
byte-order mark, CRLF line ends, a blank line inside a cue's text, or none between cues, YouTube's rolling
captions, which show each line again in the next cue), strict where a guess would be wrong: a time line that
does not parse or ends before it starts raises ``SubtitleError`` naming the file and line. ASS/SSA files from
fansubs and Aegisub also hold lines that are not speech: typesetting (on-screen text such as a shop sign or a title
card, in a style named as signs: ``mmsent.ass``) and the karaoke templater's effects (Effect ``fx``); they are left
out, and the notes say how many and of which styles (sung lyrics in lines of their own are read as words).
``mmsent.subtitle_transcripts.load_subtitles`` turns the cues into a ``Transcript``.
"""

from __future__ import annotations

import codecs
import functools
import html
import math
import re
import unicodedata
import warnings
from collections import Counter
from collections.abc import Iterable
from dataclasses import dataclass, replace
from pathlib import Path
from typing import NamedTuple

from mmsent.labels import MODALITY_NAMES
from mmsent.results import counted

__all__ = ["Cue", "SubtitleError", "parse_subtitles", "written_language", "written_sample", "cue_languages", "tell",
           "subtitles_beside", "language_beside", "language_code", "speakers", "SUBTITLE_SUFFIXES", "SUBTITLE_FOLDERS"]

SUBTITLE_SUFFIXES = (".srt", ".vtt", ".ass", ".ssa")
FORMATS_READ = "SubRip .srt, WebVTT .vtt and (Advanced) SubStation Alpha .ass / .ssa files"  # for messages
_TIME = r"(?:(\d+):)?(\d{1,2}):(\d{1,2})(?:[,.](\d{1,3})|:(\d{3}))?"  # 00:00:01,500 00:01.5 00:00:01:500
_TIMING = re.compile(rf"^\s*{_TIME}\s*-->\s*{_TIME}(?:\s+.*)?$")
_TAG = re.compile(r"</?[A-Za-z][\w.-]*(?:\s[^<>]*)?/?>|<\d[\d:.]*>|\{\\[^}]*\}")  # tags (<i>, <font color=...>,
# <c.yellow>, <v Bob>, <span style=...>, <00:01.000>), {\an8}; not "I <3 you" nor "x < y and y > z"
_BREAK = re.compile(r"<br\s*/?>", re.I)  # a line break in a line (HTML's, in some SubRip files): words apart
_OPEN_TAG = re.compile(r"<[A-Za-z/]")  # where a WebVTT tag starts (a "<" before anything else is a word's)
_BIDI = re.compile("[\u200e\u200f\u202a-\u202e\u2066-\u2069]")  # direction marks (before each line of Netflix's
# Hebrew and Arabic subtitles): not words, and a label or dash after one is still one
_VTT_BLOCK = re.compile(r"(?:NOTE|STYLE|REGION)(?:\s|$)")  # WebVTT blocks that are not cues
_LABEL = re.compile(r"([^\W\d_][^\W_]*(?:[ .'’-]+[^\W_]+)*\.?):(?:\s+(?=\S)|$)")  # BOB: Hi. (_labelled)
# the dash before each speaker's line of a cue of two ("- Who?", "-Me.", "-¿Qué?"), not a minus ("-10 degrees"), and
# the chevrons before a new speaker's words in broadcast captions (CEA-608: ">> Hi.", ">>> News.")
_DIALOGUE_DASH = re.compile(r"^(?:>>+\s*|[-\u2010\u2013\u2014](?:\s+(?=\S)|(?=[^\W\d_]|[¿¡\"'«„“‘(\[])))")
_VOICE = re.compile(r"<v(?:\.[^\s>]*)?\s+([^>]+)>")  # a WebVTT voice tag, <v Bob> or <v.loud Dr. Who>: who speaks
_BLANK = " \t\n\ufeff"  # what may come before a WebVTT header: blank lines, spaces, a byte-order mark
_ASS_SUFFIXES = (".ass", ".ssa")
_LANGUAGE_LINE = re.compile(r"^Language:\s*([A-Za-z]{2,3})(?:[-_][A-Za-z0-9]+)*\s*$", re.MULTILINE)  # WebVTT header
# the lines mmsent's export writes beside a cue's words (export._cue_lines): its label, what each sense says, and the
# translation (results.SegmentResult.in_english)
_OWN_LABEL = re.compile(r"\[(?:no speech: )?(?:nothing read|\S+ \d\.\d\d · \S+ sentiment)\]")
_SENSE = "(?:" + "|".join(MODALITY_NAMES.values()) + r"): \S+"
_OWN_LINE = re.compile(rf"{_OWN_LABEL.pattern}|\({_SENSE}(?: · {_SENSE})*\)|\(in English: .*\)")
LANGUAGE_TAG = re.compile(r"([A-Za-z]{2,3})(?:[-_][A-Za-z0-9]+)?")  # talk.it.srt, talk.pt-BR.srt, talk.ita.srt
# marks players read after the language (talk.en.forced.srt) or alone (talk.sdh.srt), as mpv and Jellyfin do: forced
# subtitles (only what is said in another language, or written on screen: not the speech), those for the deaf and
# hard of hearing (all that is said, and the sounds), the track to show first
_FORCED, _HEARING = {"forced", "foreign"}, {"sdh", "cc", "hi"}
_NAME_FLAGS = _FORCED | _HEARING | {"default"}
SUBTITLE_FOLDERS = ("subs", "subtitles")  # beside a video, as VLC reads them (./Subs, ./Subtitles); case not compared
_OLD_CODES = {"iw": "he", "in": "id", "ji": "yi"}  # ISO 639-1 codes withdrawn for today's, still in names
# the ISO 639-2 codes of Whisper's languages (its three-letter ones: Hawaiian, Cantonese), bibliographic/terminology
# where they differ, read as the ISO 639-1 code of each (talk.ger.srt, talk.deu.srt: de)
_THREE_LETTER = {three: two for two, threes in (pair.split(":") for pair in """
    af:afr am:amh ar:ara as:asm az:aze ba:bak be:bel bg:bul bn:ben bo:tib/bod br:bre bs:bos ca:cat cs:cze/ces
    cy:wel/cym da:dan de:ger/deu el:gre/ell en:eng es:spa et:est eu:baq/eus fa:per/fas fi:fin fo:fao fr:fre/fra
    gl:glg gu:guj ha:hau haw:haw he:heb hi:hin hr:hrv ht:hat hu:hun hy:arm/hye id:ind is:ice/isl it:ita ja:jpn
    jv:jav ka:geo/kat kk:kaz km:khm kn:kan ko:kor la:lat lb:ltz ln:lin lo:lao lt:lit lv:lav mg:mlg mi:mao/mri
    mk:mac/mkd ml:mal mn:mon mr:mar ms:may/msa mt:mlt my:bur/mya ne:nep nl:dut/nld nn:nno no:nor oc:oci pa:pan
    pl:pol ps:pus pt:por ro:rum/ron ru:rus sa:san sd:snd si:sin sk:slo/slk sl:slv sn:sna so:som sq:alb/sqi sr:srp
    su:sun sv:swe sw:swa ta:tam te:tel tg:tgk th:tha tk:tuk tl:tgl tr:tur tt:tat uk:ukr ur:urd uz:uzb vi:vie
    yi:yid yo:yor yue:yue zh:chi/zho""".split()) for three in threes.split("/")}
_NUMBER_OR_TIME = re.compile(r"^\s*(\d+\s*$|\d+:\d\d[:.,]\d)")  # a cue number, or a time line gone wrong
# (00:00:01,700 or 00:01.700; not text such as "10:30 is fine")
FLASH_S = 0.1  # s: a cue this short that only repeats the line before it is a rolling caption's step
WRITTEN_SURE = 0.95  # py3langid's probability above which the subtitles' text is taken to be in its language
WRITTEN_SAMPLE = 2000  # characters of the cues' distinct lines read for their language: py3langid grows less sure
# of a longer text that says little new (its temperature grows with the square root of the length), so a film's
# thousands of cues, or one chorus over and over, would read as no language
CUE_LETTERS, CUE_SURE = 12, 0.7  # a cue read alone for its language: its letters at least, and py3langid's probability
LANGID_PACKAGE = "py3langid==0.4.0"
LANGID_SHA256 = "f4f4a2c3465ca1f081541037f9cac23021d68151c2f709c55ae5eedfca522963"  # its data/model.npz.xz


class SubtitleError(ValueError):
    """A subtitle file is malformed; the message names the file and line."""


@dataclass
class Cue:
    start: float  # seconds
    end: float  # seconds
    text: str  # tags removed, lines joined by spaces
    line: int  # 1-based line of the time line in the file, for messages
    speaker: str = ""  # who says it where the file names them (a WebVTT voice tag, an ASS line's Name); "" if not
    # who says each of its lines of words: (speaker, words), where read line by line (SRT, WebVTT: ``_turns``); ()
    # where all of ``text`` is ``speaker``'s (an ASS/SSA line)
    lines: tuple[tuple[str, str], ...] = ()

    @property
    def turns(self) -> list[tuple[str, str]]:
        """(who, words) of each of its lines of words: ``lines``, or all its text ``speaker``'s."""
        return list(self.lines or [(self.speaker, self.text)])


def parse_subtitles(path: str | Path, problems: list[str] | None = None) -> tuple[list[Cue], str | None]:
    """The cues of an SRT, WebVTT or ASS/SSA file, ordered by start time (empty cues left out), and the
    language a WebVTT header declares (``Language: it``, as YouTube's captions do; ``en-US`` gives ``en``), else
    the one the file's name gives as players read it (``talk.it.srt``), else None. A file that is not UTF-8 is
    read in the encoding its bytes most likely have (``_read_text``), said in ``problems`` when given, else
    warned; so are an ASS/SSA file's lines that are not speech, left out (``mmsent.ass.dialogue``)."""
    path = Path(path)
    text = _read_text(path, problems)
    suffix, head = path.suffix.lower(), text.lstrip(_BLANK)
    is_vtt = head.startswith("WEBVTT") or suffix == ".vtt"
    is_ass = not is_vtt and (head.startswith("[Script Info]") or suffix in _ASS_SUFFIXES)
    if is_vtt:
        text = _from_header(path, text)
    elif not is_ass and suffix != ".srt" and "-->" not in text:
        raise SubtitleError(f"{path}: not a subtitle file (no 'WEBVTT' header, no '[Script Info]' section, no "
                            f"'-->' time line); mmsent reads {FORMATS_READ}")
    if is_ass:
        from mmsent.ass import dialogue  # here: it imports Cue and the rest from this module
    every = dialogue(path, text, problems) if is_ass else _unrolled(
        _read_cues(path, _cues(path, text, is_vtt, problems), problems))
    unique = {}  # a cue written twice (its times, words and speaker: WebVTT pieced together from a stream's) once
    for cue in every:
        if cue.text:
            unique.setdefault((cue.start, cue.end, cue.text, cue.speaker), cue)
    cues = list(unique.values())
    if every and not cues:
        raise SubtitleError(f"{path}: all {len(every)} subtitle cues are empty: there are no words to read")
    if not cues:
        raise SubtitleError(f"{path}: no subtitle cues found " + (
            "(no Dialogue line in its [Events] section)" if is_ass else
            "(a cue is a time line such as '00:00:01,000 --> 00:00:02,500' followed by its text)"))
    declared = _LANGUAGE_LINE.search(text.lstrip("\n").split("\n\n", 1)[0]) if is_vtt else None
    # sorted stably: cues that start together keep the file's order
    return sorted(cues, key=lambda c: c.start), language_code(declared.group(1)) if declared else _named_language(path)


def subtitles_beside(video: str | Path, language: str | None = None,
                     forced: list[Path] | None = None) -> Path | None:
    """``video``'s subtitle file, found beside it as media players (VLC, mpv) find it: in its folder, named as it
    but for the suffix (``talk.srt`` for ``talk.mp4``; ``Dr.No.srt`` for ``Dr.No.mp4``), or with a language tag
    before the suffix as ``parse_subtitles`` reads one (``talk.en.srt``, ``talk.pt-BR.ass``, ``talk.eng.srt``),
    and marks after it or alone (``talk.en.sdh.srt``, ``talk.sdh.srt``: ``_read_tag``); where none is there, in a
    ``Subs`` or ``Subtitles`` folder beside it, as VLC reads them. Case is not compared (``Talk.SRT``), as on
    Windows and macOS. Forced subtitles (``talk.en.forced.srt``) are not its words: never taken (those passed over are
    added to ``forced``, if given, to say why none was). Of several, the
    one without a tag, else the one tagged ``language`` (an ISO code; ``talk.ger.srt`` is ``de``); one for the deaf
    and hard of hearing gives way to a plain one in its language. None where none is there. Raises SubtitleError
    naming them where several remain."""
    video = Path(video)
    from .probe import MEDIA_SUFFIXES  # here: it imports PyAV, which parsing subtitles does not need

    beside = list(video.parent.iterdir())
    # Dr.No.srt beside Dr.mp4 reads as Dr.mp4's in Norwegian ("no"), but where Dr.No.mp4 is beside them it is its own
    media = {f.stem.lower() for f in beside if f.suffix.lower() in MEDIA_SUFFIXES}
    folders = [f for f in beside if f.name.lower() in SUBTITLE_FOLDERS and f.is_dir()]
    for files in (beside, [f for folder in folders for f in folder.iterdir()]):
        tags = {f: tag for f in files if (tag := _own_tag(video.stem, f, media))}
        found = {f: tag for f, tag in tags.items() if not tag[1] & _FORCED}
        if found:
            return _chosen(video, found, language and language_code(language))
        if forced is not None:  # forced ones alone, if any
            forced += sorted(tags)
    return None


def language_beside(video: str | Path, subtitles: str | Path) -> str | None:
    """The language code that the name of ``subtitles``, found by ``subtitles_beside``, tags after ``video``'s name
    (``talk.eng.sdh.srt``: ``en``); None where it tags none (``talk.srt``, ``Subs/talk.srt``, ``talk.sdh.srt``)."""
    tag = _own_tag(Path(video).stem, Path(subtitles), set())
    return tag[0] if tag else None


def _own_tag(stem: str, f: Path, media: set[str]) -> tuple[str | None, set[str]] | None:
    """(language, marks) of ``f`` where it is a subtitle file named after the video ``stem``, whole (not ``talk2.srt``,
    ``talk show.srt``) and not after another of the ``media`` beside it (lower-case stems): ``_read_tag`` of what
    follows; else None."""
    n = len(stem)
    if f.suffix.lower() not in SUBTITLE_SUFFIXES or f.stem[:n].lower() != stem.lower() or not f.is_file():
        return None
    if len(f.stem) == n:
        return None, set()
    return _read_tag(f.stem[n + 1:].split(".")) if f.stem[n] == "." and f.stem.lower() not in media else None


def _read_tag(parts: list[str]) -> tuple[str | None, set[str]] | None:
    """(language, marks) of the dotted parts of a subtitle file's name after its video's, as mpv and Jellyfin read
    them: a language (``language_code``) and any marks after it (``en.forced``, ``eng.sdh``), or marks alone
    (``sdh``: no language; ``hi`` alone is Hindi, as Jellyfin reads it); None where they are no tag (``2019``)."""
    parts, marks = _marks_off(parts)
    if not parts:
        return None, marks
    code = language_code(parts[0]) if len(parts) == 1 else None
    return (code, marks) if code else None


def language_code(tag: str) -> str | None:
    """The ISO 639-1 code of a language tag, lower case: ``it``; ``pt-BR``: ``pt``; ISO 639-2 ``ita``, ``ger``,
    ``deu`` (``_THREE_LETTER``): ``it``, ``de``; a withdrawn code (``iw``), today's (``he``); Whisper's ``jw``:
    ``jv``; a language's English name, as Kodi and Plex name subtitles (``English``, ``german``: ``en``, ``de``;
    ``language_codes.language_named``). None where it is none (``2019``, ``sdh``, ``IV``, a three-letter code of
    no language Whisper knows)."""
    named = LANGUAGE_TAG.fullmatch(tag.strip())
    if not named and tag.replace(" ", "").isalpha():
        from mmsent.language_codes import language_named  # here: it imports this module

        code = language_named(tag)
        return code and ISO_CODES.get(code, code)
    code = named.group(1).lower() if named else None
    if code and len(code) == 3:
        return _THREE_LETTER.get(code)
    return code and _OLD_CODES.get(code, ISO_CODES.get(code, code))


def _chosen(video: Path, found: dict[Path, tuple[str | None, set[str]]], language: str | None) -> Path:
    """Of the subtitle ``found`` for ``video`` (each with its language and marks), those for the deaf and hard of
    hearing left out where a plain one in their language is there, the one without a language, else the one in
    ``language``, else the only one; SubtitleError naming them where several remain."""
    plain = {tag for tag, marks in found.values() if not marks & _HEARING}
    full = {f: tag for f, (tag, marks) in found.items() if not marks & _HEARING or tag not in plain}
    untagged = [f for f, tag in full.items() if tag is None]
    fits = untagged or [f for f, tag in full.items() if language and tag == language] or list(full)
    if len(fits) > 1:  # talk.srt and talk.SRT too: two files, which may differ
        names = ", ".join(sorted(f.relative_to(video.parent).as_posix() for f in fits))
        raise SubtitleError(f"{video}: {len(fits)} subtitle files beside it could be its own ({names}): give the "
                            "one to read (--subtitles FILE)")
    return fits[0]


def _read_cues(path: Path, parsed: list[tuple[Cue, list[str]]],
               problems: list[str] | None) -> list[tuple[Cue, list[str]]]:
    """Each cue with who says it, as its WebVTT voice tags (``<v Bob>``) or the captions' labels (``BOB: Hi.``,
    ``_labelled``) name them (two people in one cue: "Bob, Alice"), and its lines of text as read (``said``: tags,
    entities and labels removed, empty lines left out). In captions written wholly in capitals (broadcast ones) a
    label before the words is a name only where the same label names a speaker in two cues or more, or one stands
    alone on its line or after a broadcast's chevrons (``>> ANN: HELLO.``): there ``LISTEN: I TOLD YOU.`` is words.
    mmsent's own SRT or WebVTT export (``_own``) names its speakers alone on the line above the words (``Ann:``, any
    case, ``export.write_srt``) or in voice tags; the lines it writes beside the words are left out."""
    read = [(cue, [_read_line(line) for line in lines]) for cue, lines in parsed]
    own = _own(path, [line.text for _, lines in read for line in lines], len(read), problems)
    capitals = not any(c.islower() for _, lines in read for line in lines for c in line.text)
    cues_named = Counter(label for _, lines in read for label in {line.label for line in lines})
    out = []
    for cue, lines in read:
        if own:
            lines = [line for line in lines if not _OWN_LINE.fullmatch(line.text)]
            named = len(lines) > 1 and lines[0].text.endswith(":")  # the speaker's line above the words
            lines = [_Line(lines[0].voices, "", lines[0].text[:-1].strip(), "", True), *lines[1:]] if named else [
                line.unnamed() for line in lines]
        elif capitals:
            lines = [line if line.sure or cues_named[line.label] > 1 else line.unnamed() for line in lines]
        names = [name for line in lines for name in (*line.voices, line.label)]
        words = [line.words for line in lines if line.words]
        out.append((replace(cue, speaker=speakers(names), lines=_turns(lines)), words))
    return out


def _turns(lines: list[_Line]) -> tuple[tuple[str, str], ...]:
    """(who, words) of each of a cue's lines of words: who its voice tags and label name, else no one after a
    dialogue dash or chevrons (``- Me.``: another speaker, unnamed), else who says the line before (a name alone on
    its line, ``BOB:``, or a voice tag names the lines after it too; "" before the first name)."""
    who, out = "", []
    for line in lines:
        who = speakers([*line.voices, line.label]) or ("" if line.turn else who)
        if line.words:
            out.append((who, line.words))
    return tuple(out)


class _Line(NamedTuple):
    """A line of a cue as read: the names of its voice tags, its text as said (``said``), and a caption's label in
    it with the words after it (``_labelled``; "" for none), ``sure`` where the label stands alone or after a
    broadcast's chevrons, ``turn`` where a dialogue dash or chevrons start it (another speaker's words)."""
    voices: list[str]
    text: str
    label: str
    words: str
    sure: bool
    turn: bool = False

    def unnamed(self) -> _Line:
        """The line with its label read as words."""
        return self._replace(label="", words=self.text)


def _read_line(line: str) -> _Line:
    plain = _BIDI.sub("", html.unescape(_TAG.sub("", _BREAK.sub(" ", line))))
    text = said(plain)
    voices = [" ".join(html.unescape(name).split()) for name in _VOICE.findall(line)]
    label, words = _labelled(text)
    return _Line(voices, text, label, words, not words or plain.lstrip().startswith(">>"),
                 bool(_DIALOGUE_DASH.match(" ".join(plain.split()))))


def _own(path: Path, lines: list[str], cues: int, problems: list[str] | None) -> bool:
    """Whether the cues' ``lines`` are mmsent's own SRT or WebVTT export's (most of its cues carry its label:
    ``[joy 0.71 · positive sentiment]``): read back as subtitles (given, or found beside its video by ``--subtitles
    auto``), the emotions it read were words said, and the words' encoder read "sadness" and "joy" in them. Said in
    ``problems``."""
    if not cues or sum(bool(_OWN_LABEL.fullmatch(line)) for line in lines) * 2 <= cues:
        return False
    tell(problems, f"The subtitle file {path.name} was written by mmsent (its cues carry the emotions an analysis "
                   "read): its words are read, without those emotions, what each sense said, or translations.")
    return True


def _cues(path: Path, text: str, is_vtt: bool, problems: list[str] | None = None) -> list[tuple[Cue, list[str]]]:
    """An SRT or WebVTT file's cues, each with its lines as written (after a blank line inside a cue, more of them;
    a WebVTT tag left open closed: ``_closed``), read by ``_read_cues``. A WebVTT note or style that goes on after
    a blank line is not a cue's (Chromium and FFmpeg show none of it: a blank line ends a WebVTT block): left out,
    and said in ``problems``."""
    parsed: list[tuple[Cue, list[str]]] = []
    number = None  # a SubRip cue number alone: its time line may come after a blank line (one at the end: no cue)
    untimed = []  # WebVTT text after a note or style, not a cue: (its line number, its first line)
    after_note = False
    for first_line, lines in _blocks(text, is_vtt):
        if is_vtt and (lines[0].lstrip("\ufeff").startswith("WEBVTT") or _VTT_BLOCK.match(lines[0])):  # a header
            # (another file's, joined to this one) or a note, style or region
            after_note = True
            continue
        if is_vtt and _more_text(lines) and (after_note or not parsed):
            untimed.append((first_line, lines[0]))
            continue
        after_note = False
        if number and not _TIMING.match(lines[0]):
            _parse_block(path, *number)  # a number, then no time line: said as before
        number = (first_line, lines) if not is_vtt and len(lines) == 1 and lines[0].strip().isdigit() else None
        if number:
            continue
        if parsed and _more_text(lines):  # after a blank line inside a cue: more of its text, and who says it
            cue, before = parsed.pop()
            texts = before + lines
        else:
            cue, texts = _parse_block(path, first_line, lines)
        parsed.append((cue, _closed(texts) if is_vtt else texts))
    if untimed:
        line, words = untimed[0]
        tell(problems, f"The subtitle file {path.name} has {counted(len(untimed), 'block')} of text after a note or "
                       f"style, not a cue's (line {line}: {words[:40]!r}): left out, as players leave them out.")
    return _restyled(parsed)


def _restyled(parsed: list[tuple[Cue, list[str]]]) -> list[tuple[Cue, list[str]]]:
    """The cues, those that show the same words as the one before, from its end, only styled otherwise, joined to
    it: openai-whisper's --highlight_words underlines each word in turn, a cue each, and a line was read once a
    word. The same words in the same style (a line said again), or from another voice, stay cues of their own."""
    def shown(lines: list[str]) -> tuple:
        return [_TAG.sub("", line) for line in lines], _VOICE.findall("\n".join(lines))

    out: list[tuple[Cue, list[str]]] = []
    last: list[str] = []  # the lines of the cue before, as written
    for cue, lines in parsed:
        if out and abs(cue.start - out[-1][0].end) < 0.001 and lines != last and shown(lines) == shown(last):
            out[-1] = (replace(out[-1][0], end=cue.end), out[-1][1])
        else:
            out.append((cue, lines))
        last = lines
    return out


def _closed(lines: list[str]) -> list[str]:
    """A WebVTT cue's lines of text with a tag left open (``<v Bob Hello there``, no ``>``) closed at the cue's end,
    as WebVTT parsers read it (the spec's tokenizer, browsers): the rest of the cue is the tag's annotation, not words;
    a voice tag's, its speaker."""
    text = "\n".join(lines)
    opened = _OPEN_TAG.search(text, text.rfind(">") + 1)
    return lines if not opened else (text[:opened.start()] + " ".join(text[opened.start():].split()) + ">").split("\n")


def _from_header(path: Path, text: str) -> str:
    """A WebVTT file's text, the blank lines before its header (spaces, a byte-order mark left inside: players and
    editors write them) made empty, so that each line keeps its number; SubtitleError where anything else comes
    before the header."""
    header = text.lstrip(_BLANK)
    before = text[:len(text) - len(header)].count("\n")
    if not header.startswith("WEBVTT"):
        raise SubtitleError(f"{path}:{before + 1}: a WebVTT file must start with 'WEBVTT'")
    return "\n" * before + header


def _named_language(path: Path) -> str | None:
    """The language code in a subtitle file's name (``language_code``), the last dotted part before the suffix,
    after any marks (``talk.it.srt``, ``talk.pt-BR.vtt``, ``talk.eng.srt``: ``en``; ``talk.en.hi.srt``: hearing
    impaired; ``talk.hi.srt``: Hindi); None when that part is no language code (``talk.srt``, ``talk.2019.srt``,
    ``talk.sdh.srt``)."""
    parts, _ = _marks_off(path.name.split(".")[1:-1])
    return language_code(parts[-1]) if parts else None


def _marks_off(parts: list[str]) -> tuple[list[str], set[str]]:
    """The dotted parts of a subtitle file's name, lower case, without the marks players read at their end
    (``en.forced``, ``eng.sdh``), and those marks; ``hi`` alone is Hindi, as Jellyfin reads it, not a mark."""
    parts, marks = [p.lower() for p in parts], set()
    while parts and parts[-1] in _NAME_FLAGS and parts != ["hi"]:
        marks.add(parts.pop())
    return parts, marks


def written_language(text: str, languages: Iterable[str]) -> tuple[str, float]:
    """The language ``text`` is most likely written in, of ``languages`` (ISO 639-1 codes, as Whisper writes
    them), and its probability, by py3langid (a byte n-gram model, as langid.py's). Take it where the
    probability is WRITTEN_SURE or more: a few words ("Okay.", "Va bene.") are too few to tell, and
    lines in several languages are no one of them; a subtitle file's cues together usually are enough."""
    codes = {ISO_CODES.get(code, code): code for code in languages}
    language, probability = _identifier(tuple(sorted(codes))).classify(text)
    return codes.get(language, language), float(probability)


def written_sample(texts: Iterable[str]) -> list[str]:
    """The cues' distinct lines, spread evenly over them, up to about WRITTEN_SAMPLE characters: what is
    read of a subtitle file for its language."""
    distinct = list(dict.fromkeys(t for t in texts if t.strip()))
    step = math.ceil(sum(len(t) + 1 for t in distinct) / WRITTEN_SAMPLE) or 1
    return distinct[::step]


def cue_languages(texts: Iterable[str], languages: Iterable[str]) -> Counter:
    """How many of ``texts`` (cues of CUE_LETTERS letters or more) read as each language, each alone, where
    that is clear (CUE_SURE): lines in two languages show as two counts."""
    languages = tuple(languages)
    readings = (written_language(t, languages) for t in texts if sum(c.isalpha() for c in t) >= CUE_LETTERS)
    return Counter(code for code, probability in readings if probability >= CUE_SURE)


WHISPER_CODES = {"jv": "jw"}  # ISO 639-1 codes (py3langid's too) that Whisper writes otherwise: Javanese
ISO_CODES = {whisper: iso for iso, whisper in WHISPER_CODES.items()}


@functools.cache
def _identifier(languages: tuple[str, ...]):
    from .weights import SourceUnavailable, check_sha256
    try:
        from py3langid.langid import MODEL_DIR, MODEL_FILE, LanguageIdentifier
    except ImportError as e:
        raise SourceUnavailable("py3langid (the subtitles' language)", str(e),
                                f"Install it: pip install {LANGID_PACKAGE}") from e
    path = MODEL_DIR / MODEL_FILE  # NumPy arrays, LZMA-packed: no pickle
    check_sha256(path, LANGID_SHA256, "py3langid's language model")
    identifier = LanguageIdentifier.from_model_file(path, norm_probs=True)  # 0.6 s
    identifier.set_languages([code for code in languages if code in identifier.nb_classes])
    return identifier


def tell(problems: list[str] | None, problem: str) -> None:
    """Add ``problem`` to ``problems`` (the analysis's notes), or warn it when there are none."""
    if problems is None:  # as media.load_audio does
        warnings.warn(problem, stacklevel=3)
    else:
        problems.append(problem)


def _read_text(path: Path, problems: list[str] | None = None) -> str:
    """The file's text: UTF-8 (with or without a byte-order mark; a few broken bytes replaced, the rest kept),
    else the encoding its bytes most likely have (charset-normalizer: UTF-16 or UTF-32, or a legacy one such
    as Windows-1251 for Russian; where several read it about as well, ``_likeliest``), said in ``problems``
    unless it is Unicode."""
    data = path.read_bytes()
    bom = data.startswith(codecs.BOM_UTF8)
    try:
        text, first_bad = data.decode("utf-8-sig"), None
    except UnicodeDecodeError as e:
        text, first_bad = data.decode("utf-8-sig", errors="replace"), e.start + len(codecs.BOM_UTF8) * bom
    if first_bad is None and "\x00" not in text:  # UTF-8 (UTF-16's and UTF-32's ASCII letters are too, with NULs)
        return _lines(text)
    bad = text.count("\ufffd")
    if bom or ("\x00" not in text and sum(ord(c) > 127 for c in text) - bad >= bad):
        if first_bad is not None:  # more letters read as UTF-8 than bytes that are not: UTF-8, a few bytes broken
            tell(problems, f"The subtitle file {path.name} is UTF-8 but for {counted(bad, 'byte')} "
                           f"(the first at byte {first_bad}), read as '\ufffd'; mend it, or save it again as UTF-8.")
        return _lines(text)
    import charset_normalizer

    found = list(charset_normalizer.from_bytes(data))
    if found and found[0].encoding.startswith(("utf_16", "utf_32")):
        return _lines(str(found[0]))
    for encoding in _LEGACY:  # each of them, alone: tried together, it skips one like another it found too chaotic
        found += charset_normalizer.from_bytes(data, cp_isolation=[encoding])
    if not found:  # no encoding reads it (its parse would quote its bytes: "got '\x00\x01\x02...'")
        raise SubtitleError(f"{path}: not a text file (no text encoding reads its bytes); mmsent reads "
                            f"{FORMATS_READ}")
    encoding, text = _likeliest(sorted(found))
    tell(problems, f"The subtitle file {path.name} is not UTF-8: it was read as {encoding}, the likeliest "
                   "encoding of its bytes; if its letters look wrong, save it as UTF-8.")
    return _lines(text)


_LEGACY = {  # the encodings of legacy subtitle files, the most used first, and the languages each is made for
    "cp1252": ("en", "fr", "de", "es", "it", "pt", "nl", "ca", "da", "sv", "no", "nb", "nn", "fi", "is", "ga", "eu",
               "gl", "af", "id", "ms", "sw", "la", "oc", "br", "lb", "fo", "wa", "cy"),  # Western European
    "cp1250": ("pl", "cs", "sk", "hu", "sl", "hr", "ro", "bs", "sq", "sr"),  # Central European
    "cp1251": ("ru", "uk", "bg", "sr", "mk", "be", "kk", "ky", "mn", "tt"),  # Cyrillic
    "cp1253": ("el",), "cp1254": ("tr", "az"), "cp1255": ("he", "yi"), "cp1256": ("ar", "fa", "ur", "ps"),
    "cp1257": ("lt", "lv", "et"), "koi8_r": ("ru",), "cp874": ("th",), "cp1258": ("vi",),
    "iso8859_2": ("pl", "cs", "sk", "hu", "sl", "hr", "ro", "bs", "sq", "sr"), "iso8859_7": ("el",),
}
CHAOS_EVEN = 0.005  # charset-normalizer's readings this close in chaos are as good as each other (as it ranks them)
CHAOS_NEAR = 0.1  # readings this much more chaotic than the least, taken where none as little reads right
LEGACY_LANGUAGES = tuple(sorted({code for codes in _LEGACY.values() for code in codes}))


def _likeliest(found: list) -> tuple[str, str]:
    """(encoding, text) of the likeliest of charset-normalizer's readings of a file (``found``, its likeliest
    first), each under any of the encodings that give its text.

    Where several legacy code pages read it as free of chaos as the least chaotic reading, those whose text reads
    as a language the code page is made for (Hebrew bytes read as Windows-1255 read as Hebrew; as KOI8-R, as
    Russian less surely; Polish read as Windows-1252 reads as Polish, which that code page does not write). Else,
    where its likeliest is single-byte, such readings a little more chaotic, in its script, that read as their
    language with half the doubt, or less, that it reads as its own with (Windows-1252 Italian and Portuguese,
    whose È, ù, ã read as -1250's Č, ů, ă are a little less chaotic to charset-normalizer; French read as Mac
    Central European), or as little doubt and fewer ``_odd`` characters (ISO-8859-7 Greek, whose Ά reads as
    -1253's ¶; ISO-8859-2 Polish, whose ł reads as ISO-8859-10's ģ). Of them the one with the fewest ``_odd``
    characters, then the surest by py3langid (to two places: text in a script of its own, gibberish too, reads as
    its language at 1.00), then the most coherent (charset-normalizer: letters as frequent as in that language),
    then the most used. Else its likeliest, under its most used legacy name."""
    readings = [(e, m) for m in found for e in m.could_be_from_charset or [m.encoding]]  # (encoding, its match)
    least, first = min(m.chaos for m in found), str(found[0])
    sample = functools.cache(_letter_lines)  # each reading is judged by a sample of its lines of words
    read = functools.cache(lambda text: written_language(sample(text), LEGACY_LANGUAGES))
    doubt = lambda text: 1 - read(text)[1]  # noqa: E731
    odd = functools.cache(lambda text: _odd(sample(text), read(text)[0]))
    script = _script(first)
    even = [(e, m) for e, m in readings if m.chaos - least < CHAOS_EVEN]
    near = [(e, m) for e, m in readings if not found[0].multi_byte_usage and m.chaos - least < CHAOS_NEAR
            and _script(str(m)) == script
            and (doubt(str(m)) < doubt(first) / 2 or doubt(str(m)) <= doubt(first) and odd(str(m)) < odd(first))]
    for tier in ([even] if len({e for e, _ in even} & _LEGACY.keys()) > 1 else []) + [near]:
        candidates = {}  # encoding -> its least chaotic reading
        for e, m in tier:
            if e in _LEGACY and read(str(m))[0] in _LEGACY[e]:
                candidates.setdefault(e, m)
        if candidates:
            best = min(candidates, key=lambda e: (odd(str(candidates[e])), -round(read(str(candidates[e]))[1], 2),
                                                  -candidates[e].coherence, list(_LEGACY).index(e)))
            return best, str(candidates[best])
    return next((e for e in _LEGACY if e in (found[0].could_be_from_charset or [])), found[0].encoding), first


def _odd(text: str, language: str) -> int:
    """How many characters in ``text``'s words are neither ASCII, nor marks (Vietnamese tones), nor letters of its
    script and of ``language``'s alphabet where ``_ALPHABETS`` has it: the ¶ of Greek's Ά, or the ± of Polish ą,
    the ą of Czech š, read in the wrong one of two code pages that share most letters (Windows-1250 and
    ISO-8859-2)."""
    script, alphabet = _script(text), _ALPHABETS.get(language)
    return sum(ord(c) > 127 and not unicodedata.category(c).startswith("M")
               and not (c.isalpha() and unicodedata.name(c, " ").startswith(script)
                        and (alphabet is None or script != "LATIN" or c.lower() in alphabet))
               for word in text.split() if any(c.isalpha() for c in word) for c in word)


_ALPHABETS = {  # the letters beyond ASCII of the languages Windows-1250 and ISO-8859-2 are made for, in Latin script
    "pl": "ąćęłńóśźż", "cs": "áčďéěíňóřšťúůýž", "sk": "áäčďéíĺľňóôŕšťúýž", "hu": "áéíóöőúüű", "sl": "čšžćđ",
    "hr": "čćđšž", "bs": "čćđšž", "sr": "čćđšž", "ro": "ăâîșțşţ", "sq": "çë",
}


def _script(text: str) -> str:
    """The script most of the letters beyond ASCII in ``text`` are of ('LATIN', 'CYRILLIC'...), or ''."""
    scripts = Counter()
    for c, n in Counter(re.findall(r"[^\x00-\x7f]", text)).items():  # each letter once: a long file has many
        if c.isalpha():
            scripts[unicodedata.name(c, " ").split(" ")[0]] += n
    return scripts.most_common(1)[0][0] if scripts else ""


def _letter_lines(text: str) -> str:
    """A subtitle file's lines of words (not its numbers and times), up to about WRITTEN_SAMPLE characters."""
    return "\n".join(written_sample(line for line in text.splitlines() if "-->" not in line
                                     and any(c.isalpha() for c in line)))


def _lines(text: str) -> str:
    """The text with its lines ended by "\n": CRLF, CR, and CR CR LF (CRLF text written again on Windows)."""
    return text.replace("\r\r\n", "\n").replace("\r\n", "\n").replace("\r", "\n")


def _blocks(text: str, vtt: bool = False):
    """(1-based number of the first line, lines) for each run of non-blank lines. In WebVTT only an empty
    line ends a cue: a line of spaces is cue text (YouTube's captions start each cue with one), and a time
    line starts a new cue (also right under the header). In SubRip, so does a time line after another (a file
    without blank lines between its cues), with the cue number before it."""
    block, start = [], 0
    for number, line in enumerate(text.split("\n"), start=1):
        if vtt and block and "-->" in line and (block[0].startswith("WEBVTT") or any("-->" in b for b in block)):
            yield start, block
            block = []
        elif not vtt and _TIMING.match(line) and any(_TIMING.match(b) for b in block):
            cue_number = [block.pop()] if block[-1].strip().isdigit() else []
            yield start, block
            block, start = cue_number, number - len(cue_number)
        if (line != "") if vtt else line.strip():
            if not block:
                start = number
            block.append(line.rstrip())
        elif block:
            yield start, block
            block = []
    if block:
        yield start, block


def _more_text(lines: list[str]) -> bool:
    """Whether a block is text alone: no time line (not even a broken one), no cue number."""
    return not any("-->" in line for line in lines) and not _NUMBER_OR_TIME.match(lines[0])


def said(line: str) -> str:
    """A line of subtitles as said: spaces collapsed, the dash before a speaker's line in a cue of two left out
    ("- Thank you!": the words' encoder read the dash), and a broadcast caption's chevrons (">> Thank you!")."""
    return _DIALOGUE_DASH.sub("", " ".join(line.split()))


def _labelled(line: str) -> tuple[str, str]:
    """(who, words) of a line of captions for the deaf and hard of hearing, which name the speaker in capitals
    before a colon (``ANN: Hello.``, ``DR. WHO: Run!``, ``- BOB: Me.``: "ANN", "Hello."); ("", line) where it names
    none (``Note: see``, ``10:30``, ``I: me``; a name is of two letters or more, in at most three words)."""
    label = _LABEL.match(line)
    name = label and label.group(1)
    if not name or not name.isupper() or sum(c.isalpha() for c in name) < 2 or len(name.split()) > 3:
        return "", line
    return name, said(line[label.end():])


def _unrolled(parsed: list[tuple[Cue, list[str]]]) -> list[Cue]:
    """The cues, each with the text of its lines, without rolling captions' repeats: YouTube's automatic
    captions flash each finished line alone (a cue under FLASH_S), then show it again above the next line.
    Such a flash is left out, and the cue after it loses the lines it repeats. Elsewhere a repeated line
    was said again, and is kept."""
    out, before, flash = [], [], False
    for cue, lines in parsed:
        short = cue.end - cue.start < FLASH_S
        k = next((k for k in range(min(len(before), len(lines)), 0, -1) if before[-k:] == lines[:k]), 0)
        repeated = k if k and (short if k == len(lines) else flash) else 0
        out.append(replace(cue, text=" ".join(lines[repeated:]), lines=cue.lines[repeated:]))
        before, flash = lines, short
    return out


def _parse_block(path: Path, first_line: int, lines: list[str]) -> tuple[Cue, list[str]]:
    """A cue (its speaker and text left to ``_read_cues`` and ``_unrolled``) and its lines of text."""
    for offset in (0, 1):  # the time line comes first, or after a cue number or identifier
        match = _TIMING.match(lines[offset]) if offset < len(lines) else None
        if match:
            break
    else:
        got = lines[1] if len(lines) > 1 else lines[0]
        raise SubtitleError(
            f"{path}:{first_line + min(1, len(lines) - 1)}: expected a time line such as "
            f"'00:00:01,000 --> 00:00:02,500', got {got[:80]!r}")
    line = first_line + offset
    try:
        start, end = _seconds(match.groups()[:5]), _seconds(match.groups()[5:])
    except ValueError as e:
        raise SubtitleError(f"{path}:{line}: bad time in {lines[offset]!r}: {e}") from e
    if end < start:
        raise SubtitleError(f"{path}:{line}: the cue ends ({end:.3f} s) before it starts "
                            f"({start:.3f} s)")
    return Cue(start, end, "", line), lines[offset + 1:]


def speakers(names: Iterable[str]) -> str:
    """One speaker's field for several people: each name once, in order, joined by ", " ("Bob, Alice"; the names of
    such a field are read one by one); "" for none."""
    return ", ".join(dict.fromkeys(n for name in names for n in name.split(", ") if n))


def _seconds(groups: tuple) -> float:
    hours, minutes, seconds, millis, colon_millis = groups
    if int(minutes) > 59 or int(seconds) > 59:
        raise ValueError("minutes and seconds must be below 60")
    if colon_millis and hours is None:  # 00:01:500: minutes, seconds and milliseconds, or hours, minutes, seconds?
        raise ValueError("a colon before the milliseconds needs hours, minutes and seconds before it "
                         "(00:00:01:500); write 00:01.500 or 00:00:01,500")
    millis = millis or colon_millis
    return (int(hours or 0) * 3600 + int(minutes) * 60 + int(seconds)
            + int((millis or "0").ljust(3, "0")) / 1000)
