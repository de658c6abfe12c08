"""The fonts that draw the annotated video's captions: matplotlib's DejaVu Sans where it has a glyph for every
character of a text, else the first installed font that fontconfig lists and that has them all (never a download).

Pillow draws a string with one font, so a caption needs one font with all its characters: DejaVu Sans has Latin,
Greek, Cyrillic, Arabic and Hebrew, but not Chinese, Japanese, Korean, Devanagari or Thai, which it would draw
as boxes. Debian's fonts-noto-cjk and fonts-noto-core (``setup.sh``) have those.
"""

from __future__ import annotations

import functools
import importlib.util
import shutil
import subprocess
import unicodedata
from pathlib import Path

Face = tuple[str, int]  # a font file and the index of the face in it (a .ttc file holds several)

CJK_SCRIPTS = {"CJK", "HIRAGANA", "KATAKANA", "HANGUL", "BOPOMOFO", "IDEOGRAPHIC", "HALFWIDTH", "FULLWIDTH"}


@functools.cache
def faces(language: str | None = None) -> tuple[Face, ...]:
    """Matplotlib's DejaVu Sans, then fontconfig's sans-serif faces in its order of preference for the
    ``language`` (as fontconfig names it, see ``_fontconfig_language``): a Japanese face first for Japanese,
    a Chinese one for Chinese."""
    found = []
    spec = importlib.util.find_spec("matplotlib")
    if spec and spec.origin:
        dejavu = Path(spec.origin).parent / "mpl-data" / "fonts" / "ttf" / "DejaVuSans.ttf"
        found += [(str(dejavu), 0)] if dejavu.is_file() else []
    if shutil.which("fc-match"):
        pattern = "sans-serif"
        if language and language.replace("-", "").isalpha():
            pattern += f":lang={language}"
        listed = subprocess.run(["fc-match", "--sort", pattern, "-f", "%{file}\t%{index}\n"], capture_output=True,
                                text=True, timeout=10).stdout
        found += [(file, int(index)) for file, index in (line.split("\t") for line in listed.splitlines())
                  if file.lower().endswith((".ttf", ".otf", ".ttc"))]  # the outline fonts that Pillow draws
    return tuple(found)


@functools.cache
def _characters(face: Face) -> frozenset[int]:
    """The code points that a face has glyphs for (none where its file does not read)."""
    from fontTools.ttLib import TTFont, TTLibError  # matplotlib's dependency

    try:
        with TTFont(face[0], fontNumber=face[1], lazy=True) as font:
            return frozenset(font.getBestCmap() or ())
    except (OSError, TTLibError):
        return frozenset()


def _fontconfig_language(language: str | None, text: str) -> str | None:
    """fontconfig's name for the ``language`` (Whisper's code) that ``text`` is in. Whisper says 'zh' for both
    Chinese scripts, which fontconfig would draw in Japanese forms: Han characters all in Big5 and not all in
    GB2312 are traditional, drawn in Taiwan's forms; any other Chinese in the mainland's."""
    if language != "zh":
        return language
    han = "".join(c for c in text if unicodedata.name(c, "").startswith("CJK UNIFIED"))
    for script, codec in (("zh-cn", "gb2312"), ("zh-tw", "big5")):
        try:
            han.encode(codec)
            return script
        except UnicodeEncodeError:
            pass
    return "zh-cn"


def _drawn(text: str) -> set[int]:
    """The code points of ``text`` that a font must have: not spaces, nor the invisible joiners and direction
    marks, nor symbols (emoji, ...), which are left out where the font has none."""
    return {ord(c) for c in text if not c.isspace() and unicodedata.category(c) not in ("Cf", "So")}


def fit(text: str, language: str | None = None) -> tuple[Face, str] | None:
    """The first of ``faces(language)`` with a glyph for every letter of ``text``, and the text without the
    symbols that face lacks (an emoji would be a box); None where no face has them all."""
    need = _drawn(text)
    face = next((face for face in faces(_fontconfig_language(language, text)) if need <= _characters(face)), None)
    if face is None:
        return None
    return face, "".join(c for c in text if unicodedata.category(c) != "So" or ord(c) in _characters(face))


def missing(text: str, language: str | None = None) -> str:
    """Why no installed font draws ``text`` and what would: the script of its first character that no font
    has, and the Debian package with a font for it."""
    have = frozenset().union(*map(_characters, faces(_fontconfig_language(language, text))))
    lacking = "".join(c for c in dict.fromkeys(text) if _drawn(c) - have)
    if not lacking:
        return f"{text[:20]!r}: each of its characters has a font, but no one font has them all"
    script = unicodedata.name(lacking[0], f"U+{ord(lacking[0]):04X}").split(" ")[0]
    package = "fonts-noto-cjk" if script in CJK_SCRIPTS else "fonts-noto-core"
    return (f"{script if script == 'CJK' else script.title()} script ({lacking[:5]!r}): no installed font has "
            f"its characters (on Debian or Ubuntu: apt-get install {package})")
