"""The languages Whisper knows, and a language as Whisper names it: ``whisper_languages`` (their ISO 639-1 codes, the
same for both backends), ``whisper_code`` (a code or an English name as a user writes it, to Whisper's code;
``language_named``, a name alone) and ``check_language`` (refuses one Whisper does not know). Nothing here loads a
model.
"""

from __future__ import annotations

import functools
from typing import Iterable

from mmsent.subtitles import WHISPER_CODES, language_code


def whisper_languages() -> Iterable[str]:
    """The ISO 639-1 codes of the languages Whisper knows (both backends share the list)."""
    try:
        from faster_whisper.tokenizer import _LANGUAGE_CODES as codes
    except ImportError:
        from whisper.tokenizer import LANGUAGES as codes
    return codes


def whisper_code(language: str) -> str:
    """A language code as Whisper writes it: ``"EN"`` -> ``"en"``, ``"pt-BR"`` -> ``"pt"``, ``"jv"`` -> ``"jw"``;
    the ISO 639-2 codes and withdrawn ones that subtitle files' names and audio tracks use (``"ita"``, ``"ger"``,
    ``"iw"``: ``subtitles.language_code``); a language's English name, as openai-whisper's command line takes it:
    ``"English"``, ``"castilian"`` -> ``"en"``, ``"es"`` (openai-whisper's table of names is loaded only for what is
    no code)."""
    named = language.strip().lower()
    tag = named.replace("_", "-")
    code = language_code(tag) or tag.split("-")[0]
    code = WHISPER_CODES.get(code, code)
    return code if code in whisper_languages() else language_named(named) or code


def language_named(name: str) -> str | None:
    """Whisper's code of a language's English name, any case (``"German"``: ``"de"``, ``"castilian"``: ``"es"``); None
    where it names none of Whisper's languages."""
    return _language_names().get(name.strip().lower())


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
