"""(Advanced) SubStation Alpha subtitles (``.ass``, ``.ssa``: Aegisub's and fansubs' format): the Dialogue lines of
the ``[Events]`` section, read by its Format line, without their styling; a fansub's typesetting (on-screen text) and
the karaoke templater's effects left out. ``mmsent.subtitles.parse_subtitles`` reads these files through ``dialogue``.
"""

from __future__ import annotations

import re
from collections import Counter
from pathlib import Path

from mmsent.results import counted
from mmsent.subtitles import Cue, SubtitleError, _seconds, said, tell

_SECTION = re.compile(r"^\s*\[([^\]]+)\]\s*$")  # [Script Info], [V4+ Styles], [Events]: an ASS/SSA section
_TIME = re.compile(r"(\d+):(\d{1,2}):(\d{1,2})\.(\d{1,3})")  # H:MM:SS.cc (centiseconds)
_BRACES = re.compile(r"\{([^}]*)\}")  # ASS override blocks ({\i1}, {\pos(10,20)}) and comments ({a note})
_DRAWING = re.compile(r"\\p(\d+)")  # {\p1}: the text after it is a vector drawing's shapes, up to {\p0}
_STYLE_WORDS = re.compile(r"[A-Z]+(?![a-z])|[A-Z]?[a-z]+|\d+")  # TSBoard, sign_5012_Kanji: TS Board, sign 5012 Kanji
SIGN_WORDS = {"sign", "signs", "ts", "typeset", "typesets", "typesetting", "title", "titles", "onscreen", "screentext"}
SPEECH_WORDS = {"default", "dialogue", "dialog", "main", "speech"}  # a style named with these as well is dialogue's
# the fields of a Dialogue line where no Format line names them, as libass reads it: ASS's (SSA's Marked in
# Layer's place)
DEFAULT_FORMAT = ["layer", "start", "end", "style", "name", "marginl", "marginr", "marginv", "effect", "text"]
NO_NAME = "NTP"  # the Name that Subtitle Workshop writes in each SSA line: no one's
KARAOKE_FX = "fx"  # the Effect of the lines Aegisub's karaoke templater makes (one per lyric, syllable or frame)


def dialogue(path: Path, text: str, problems: list[str] | None = None) -> list[Cue]:
    """An ASS/SSA file's cues: the Dialogue lines of its [Events] section (not its Comment lines), each read by
    the section's Format line (else ASS's, DEFAULT_FORMAT), its text by ``_text``; a layer's copy of a line (the
    same times and words: a border drawn under the letters) is read once. Lines with words that are not speech
    are left out, said in ``problems``: typesetting (``_typeset``) and the karaoke templater's effects (Effect
    ``fx``, made from a lyric that the file keeps as a Comment line; they show it in pieces, syllable by syllable
    or frame by frame). Sung lyrics in Dialogue lines of their own (OP, ED, karaoke styles, ``\\k`` tags) are read
    as words: they are heard. SubtitleError where every line with words is left out."""
    section, fields, cues, events = None, None, {}, False
    signs, effects = Counter(), 0  # lines with words left out: typesetting by style, karaoke effects
    for number, line in enumerate(text.split("\n"), start=1):
        header = _SECTION.match(line)
        if header:
            section = header.group(1).strip().lower()
            events |= section == "events"
        elif section == "events" and ":" in line:
            kind, value = (part.strip() for part in line.split(":", 1))
            if kind.lower() == "format":
                fields = _format(path, number, value)
            elif kind.lower() == "dialogue":
                cue, got = _cue(path, number, fields or DEFAULT_FORMAT, value)
                style = got.get("style", "").strip()
                if cue.text and _typeset(style):
                    signs[style] += 1
                elif cue.text and got.get("effect", "").strip().lower() == KARAOKE_FX:
                    effects += 1
                else:
                    cues.setdefault((cue.start, cue.end, cue.text), cue)
    if not events:
        raise SubtitleError(f"{path}: no [Events] section: an ASS/SSA file's lines are the Dialogue lines of its "
                            "[Events] section")
    if signs or effects:
        left_out = _not_speech(signs, effects)
        if not any(cue.text for cue in cues.values()):
            raise SubtitleError(f"{path}: its Dialogue lines with words are all {left_out}, not speech: there are no "
                                "words to read")
        tell(problems, f"The subtitle file {path.name} has {left_out}: left out, as they are not speech.")
    return list(cues.values())


def _typeset(style: str) -> bool:
    """Whether a Dialogue line's ``style`` is named as typesetting's (on-screen text: a sign, a letter, a title
    card): one of its words, or two of them joined, is in SIGN_WORDS (``Sign``, ``signs``, ``TS Board``,
    ``sign_5012_Kanji``, ``Ep Title``, ``On-Screen``, ``Screen text``), as whole words (``Tsubasa``, a
    character's style, ``Subtitle`` or ``Signature`` are not), and none is in SPEECH_WORDS (``Title_Dialogue``,
    ``Default Sign``: when in doubt, a line is read). The style's name alone decides, as fansubs name their
    styles: override tags do not, for dialogue is placed with them too (``{\\an8}`` or ``{\\pos(...)}`` in
    Default lifts a line to the top, off on-screen text at the bottom), and typesetting's ``\\fad``, ``\\clip``
    or ``\\t`` animate karaoke and dialogue as well."""
    words = [word.lower() for word in _STYLE_WORDS.findall(style)]
    named = set(words) | {a + b for a, b in zip(words, words[1:])}
    return bool(named & SIGN_WORDS) and not named & SPEECH_WORDS


def _not_speech(signs: Counter, effects: int) -> str:
    """What was left out of an ASS/SSA file, for messages: its lines of typesetting, by style, and of karaoke
    effects."""
    said = []
    if signs:
        styles = ", ".join(f"{name!r} {n}" for name, n in signs.most_common())
        said.append(f"{counted(signs.total(), 'line')} of on-screen text (typesetting, in styles named as signs: "
                    f"{styles})")
    if effects:
        said.append(f"{counted(effects, 'karaoke effect line')} (Effect {KARAOKE_FX!r}, made by Aegisub's karaoke "
                    "templater from a lyric's Comment line)")
    return " and ".join(said)


def _format(path: Path, number: int, value: str) -> list[str]:
    """The field names of an [Events] Format line, in lower case; SubtitleError where it lacks those read."""
    fields = [f.strip().lower() for f in value.split(",")]
    missing = [f.title() for f in ("start", "end", "text") if f not in fields]
    if missing:
        raise SubtitleError(f"{path}:{number}: the Format line names no {' and no '.join(missing)} field: "
                            f"got {value[:80]!r}")
    if fields[-1] != "text":
        raise SubtitleError(f"{path}:{number}: the Format line names Text last in an ASS/SSA file (the text may "
                            f"hold commas), got {value[:80]!r}")
    return fields


def _cue(path: Path, number: int, fields: list[str], value: str) -> tuple[Cue, dict[str, str]]:
    """The cue of a Dialogue line's ``value`` and its fields by (lower-case) name, in the Format line's order, the
    Text last (commas and all); Start and End in H:MM:SS.cc; its speaker the line's Name (Aegisub's "Actor")."""
    values = value.split(",", len(fields) - 1)
    if len(values) < len(fields):
        named = "the Format line names" if fields is not DEFAULT_FORMAT else "ASS has (no Format line names them)"
        raise SubtitleError(f"{path}:{number}: a Dialogue line of {len(values)} fields, where {named} "
                            f"{len(fields)}: got {value[:80]!r}")
    got = dict(zip(fields, values))
    start, end = (_time(path, number, name, got[name.lower()].strip()) for name in ("Start", "End"))
    if end < start:
        raise SubtitleError(f"{path}:{number}: the cue ends ({end:.3f} s) before it starts ({start:.3f} s)")
    name = " ".join(got.get("name", "").split())
    return Cue(start, end, _text(got["text"]), number, "" if name == NO_NAME else name), got


def _time(path: Path, number: int, name: str, value: str) -> float:
    match = _TIME.fullmatch(value)
    try:
        if match is None:
            raise ValueError("expected H:MM:SS.cc, such as 0:01:02.50")
        return _seconds((*match.groups(), None))
    except ValueError as e:
        raise SubtitleError(f"{path}:{number}: bad {name} time {value[:40]!r}: {e}") from e


def _text(raw: str) -> str:
    """A Dialogue line's words: override blocks and comments in braces removed, and a vector drawing's shapes
    (``{\\p1}m 0 0 l 100 0{\\p0}``); ``\\N`` and ``\\n`` (line breaks) and ``\\h`` (a hard space) read as
    spaces; a line's dialogue dash left out (``subtitles.said``)."""
    words, drawing = [], False
    for i, part in enumerate(_BRACES.split(raw)):
        if i % 2:  # what was in braces
            scales = _DRAWING.findall(part)
            drawing = int(scales[-1]) > 0 if scales else drawing
        elif not drawing:
            words.append(part)
    lines = re.split(r"\\[Nn]", "".join(words).replace("\\h", " "))
    return " ".join(t for t in map(said, lines) if t)
