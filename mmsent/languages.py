"""Speech in more than one language in one file: whether a file mixes them, and where each is spoken.

Whisper writes one language per 30 s window, the one it was given or heard in the file's first window. Where the
speech changes language inside a window, it writes the first language's sentences and ends the window there: the
rest is lost, whatever the language token (measured on 12 RAVDESS English clips then 6 EMOVO Italian ones, 74 s:
the window that held the last English sentence and 20 s of Italian gave that sentence alone, with ``<|en|>`` as
with ``<|it|>``, and with faster-whisper's ``multilingual=True``, which detects the language of each window but
still writes one per window). Where a whole window is in another language, it writes a translation of it, or the
sounds in the given language's words ("Kids sono parlato di la tua").

So the recognition listens to the language of each window it encodes (one decoder step on the encoder's output, a few
hundredths of a second); where a window gives another language ``MIXED_WINDOW`` or more of its probability, the
speech is cut at the pauses into stretches (``sentences``), each stretch's language is told among those the windows
heard (``runs``: Whisper base tells the language of a 2 s sentence less surely than of 30 s, so a stretch that is
not clear follows the one before it), and each run of stretches in one language is recognised alone, its language
heard anew from its own first window. Nothing here imports a model.
"""

from __future__ import annotations

import numpy as np

MIXED_WINDOW = 0.25  # probability of another language in one window of the recognition from which a file mixes
# languages: in one-language files the runner-up had 0.12 at most ('la' beside Italian), in mixed windows 0.31-0.51
WINDOW_KEPT = 0.05  # probabilities below this are not kept for a window
PAUSE_MS = 500  # ms of silence between two stretches of speech whose languages are told apart
PAD_MS = 200  # ms of sound kept around each stretch
SURE = 0.8  # probability (among the languages heard) from which a stretch's language is taken as told
SURE_S = 1.0  # s: a shorter stretch follows the one before it (a word or a name tells little)


def window_languages(probabilities: list[tuple[str, float]]) -> list[tuple[str, float]]:
    """The languages a window gives at least ``WINDOW_KEPT``, from ctranslate2's ``detect_language`` of its
    encoder output (``[("<|en|>", 0.98), ...]``)."""
    return [(token[2:-2], float(p)) for token, p in probabilities if p >= WINDOW_KEPT]


def others(windows: list[list[tuple[str, float]]], main: str | None) -> list[str]:
    """The languages beside ``main`` that some window of the recognition gives ``MIXED_WINDOW`` or more: none
    where the file speaks one language."""
    return sorted({lang for w in windows for lang, p in w if lang != main and p >= MIXED_WINDOW})


def sentences(audio: np.ndarray, sample_rate: int) -> list[tuple[int, int]]:
    """The stretches of speech of ``audio`` between pauses of ``PAUSE_MS`` (samples, start and end): faster-whisper's
    Silero voice detection."""
    from faster_whisper.vad import VadOptions, get_speech_timestamps

    assert sample_rate == 16000, "Silero VAD as faster-whisper runs it takes 16 kHz"
    found = get_speech_timestamps(audio, VadOptions(min_silence_duration_ms=PAUSE_MS, speech_pad_ms=PAD_MS))
    return [(c["start"], c["end"]) for c in found]


def runs(stretches: list[tuple[float, float]], told: list[tuple[str, float]],
         total: float) -> list[tuple[float, float, str]]:
    """The file cut into runs (start, end, language) of stretches of speech told in one language: ``stretches`` in
    seconds, ``told`` each one's language and probability. A stretch told below ``SURE`` or shorter than ``SURE_S``
    follows the one before it (the first: the next one told surely); runs meet halfway between their stretches,
    the first starts at 0 and the last ends at ``total``."""
    sure = [p >= SURE and b - a >= SURE_S for (a, b), (_, p) in zip(stretches, told)]
    first = next((lang for (lang, _), s in zip(told, sure) if s), told[0][0] if told else None)
    out: list[tuple[float, float, str]] = []
    current = first
    for i, ((a, b), (lang, _)) in enumerate(zip(stretches, told)):
        if sure[i]:
            current = lang
        if out and out[-1][2] == current:
            out[-1] = (out[-1][0], b, current)
            continue
        if out:  # the runs meet halfway through the pause
            cut = (out[-1][1] + a) / 2
            out[-1] = (out[-1][0], cut, out[-1][2])
            a = cut
        out.append((0.0 if not out else a, b, current))
    if out:
        out[-1] = (out[-1][0], total, out[-1][2])
    return out
