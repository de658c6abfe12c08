"""Speech in more than one language in one file (mmsent.languages, the recognition's runs, their translation),
with the real packaged Whisper base on real clips: RAVDESS (English) and EMOVO (Italian) from ../shared/data."""

from __future__ import annotations

import json
import re

import pytest
from mediagen import joined_clips

from mmsent import languages, media
from mmsent import transcribe as tr
from mmsent.config import AnalysisOptions
from mmsent.pipeline import _language_doubted, _translate
from mmsent.results import Analysis
from mmsent.segments import SPEECH, segment
from mmsent.subtitles import written_language

SR = tr.SAMPLE_RATE


@pytest.fixture(scope="module")
def mixed(shared_data):
    """3 English RAVDESS clips (actor 02) then 3 Italian EMOVO clips (speaker m1), 23 s: each clip's language."""
    english = sorted((shared_data / "ravdess" / "Actor_02").glob("*.flac"))[:15:5]
    italian = sorted((shared_data / "emovo" / "m1").glob("*.flac"))[:9:3]
    audio, spans = joined_clips(english + italian)
    return audio, [(a, b, "en" if i < len(english) else "it") for i, (a, b) in enumerate(spans)]


STEPS: list[tuple[str, float, float]] = []  # the progress that ``heard`` reported: ("first" or "again", done, total)


@pytest.fixture(scope="module")
def heard(mixed):
    return tr.transcribe(mixed[0], device="cpu", progress=lambda done, total: STEPS.append(("first", done, total)),
                         progress_again=lambda done, total: STEPS.append(("again", done, total)))


def _reads_as(text: str) -> str:
    return written_language(text, ["en", "it"])[0]


def test_each_language_is_recognised_in_its_own(mixed, heard):
    """Whisper writes one language per 30 s window: the Italian after English came back translated into English
    (or, in a longer file, not at all). Each clip is now heard, in its own language, written as spoken."""
    _, clips = mixed
    assert sorted(heard.languages) == ["en", "it"] and heard.language in ("en", "it")
    for a, b, language in clips:
        over = [u for u in heard.utterances if min(u.end, b) - max(u.start, a) > 0.5]
        assert over, f"the clip at {a:.1f}-{b:.1f} s ({language}) was lost: {heard.utterances}"
        assert all((u.language or heard.language) == language for u in over), (language, over)
    for language in ("en", "it"):
        text = " ".join(u.text for u in heard.utterances if (u.language or heard.language) == language)
        assert _reads_as(text) == language, text
    assert all(u.language != heard.language for u in heard.utterances)  # named only where not the transcript's
    assert heard.spoken()[heard.language] == max(heard.spoken().values())  # its language: the one most spoken


def test_the_runs_recognised_alone_report_their_progress(mixed, heard):
    """The runs of each language are recognised after the first pass has reported the whole sound: they report as a
    second listen, up to the end of the last run."""
    total = len(mixed[0]) / SR
    kinds = [kind for kind, _, _ in STEPS]
    assert kinds == sorted(kinds, key=("first", "again").index) and "again" in kinds  # the first pass, then again
    assert [step for step in STEPS if step[0] == "first"][-1][1:] == (total, total)
    again = [done for kind, done, _ in STEPS if kind == "again"]
    assert again == sorted(again) and again[-1] == pytest.approx(total)


def test_the_speech_in_another_language_is_translated_for_the_words(mixed, heard):
    """The Italian utterances are translated from Italian; the English ones are left as they are."""
    audio, _ = mixed
    segs = segment(heard, len(audio) / SR)
    assert _translate(segs, audio, heard, AnalysisOptions(), "cpu", lambda *a: None)
    for s in (s for s in segs if s.kind == SPEECH):
        said = next(u for u in heard.utterances if u.start < s.end and s.start < u.end)
        if (said.language or heard.language) == "it":
            assert s.translation and _reads_as(s.translation) == "en", (s.text, s.translation)
        else:
            assert not s.translation, (s.text, s.translation)


def test_a_sentence_said_again_is_translated_each_time(shared_data, monkeypatch):
    """EMOVO's f1 saying one sentence four ways ("Gli operai si alzano presto."), recognised as four segments: the
    translation of their one chunk of speech came back as one sentence ("I will operate if they are too close.",
    log-probability -1.32), dropped by the filters, and all four kept their Italian words. Each speech segment left
    so is translated again alone, and all four read in English. Where the chunks leave none, one pass."""
    from mmsent import pipeline

    calls, real = [], pipeline.translate_speech
    monkeypatch.setattr(pipeline, "translate_speech", lambda *a, **k: calls.append(k["spans"]) or real(*a, **k))
    for clips, passes in ((4, 2), (1, 1)):
        audio, _ = joined_clips(sorted((shared_data / "emovo" / "f1").glob("*-f1-b1.flac"))[:clips])
        heard = tr.transcribe(audio, device="cpu")
        segs = segment(heard, len(audio) / SR)
        speech = [s for s in segs if s.kind == SPEECH]
        assert heard.languages == ["it"] and len(speech) == clips, heard.utterances
        calls.clear()
        assert _translate(segs, audio, heard, AnalysisOptions(), "cpu", lambda *a: None)
        assert all(s.translation and _reads_as(s.translation) == "en" for s in speech), speech
        assert len(calls) == passes and calls[0] is None, calls  # the chunks, then the segments left, alone
        assert calls[1:] in ([], [[(s.start, s.end) for s in speech]])


def test_a_translation_said_over_and_over_is_kept_once_for_each_segment(shared_data):
    """EMOVO's m3 saying "Gli operai si alzano presto." four ways: the chunk's piece was "I will stop if they are
    arrested" three times, without punctuation (under the compression-ratio filter's bound), and one segment, whose
    speech says it once, read all three. Each copy is now a sentence of its own: no segment says its words twice.
    Three copies for four segments are none's (a piece's sentences given by their place in its text went to other
    speech's times, tests/test_segments.py): each segment is translated alone, and reads its own translation, or,
    where Whisper's of it is dropped, its words, said in the notes."""
    audio, _ = joined_clips(sorted((shared_data / "emovo" / "m3").glob("*-m3-b1.flac"))[:4])
    heard = tr.transcribe(audio, device="cpu")
    segs = segment(heard, len(audio) / SR)
    speech = [s for s in segs if s.kind == SPEECH]
    assert heard.languages == ["it"] and len(speech) == 4, heard.utterances
    assert _translate(segs, audio, heard, AnalysisOptions(), "cpu", lambda *a: None)
    translated = [s.translation for s in speech if s.translation]
    assert len(translated) >= 2 and all(_reads_as(t) == "en" for t in translated), speech
    assert len(set(translated)) == len(translated), speech  # each its own: no copy of one piece's sentence
    assert not any(re.search(r"\b(\w+(?:\W+\w+)+)\W+\1\b", t, re.IGNORECASE) for t in translated), speech


def test_a_segment_whose_own_stretch_was_dropped_is_not_translated_again(shared_data, monkeypatch):
    """EMOVO's m3 saying "Un attimo dopo s'è incamminato ... ed è inciampato" (neu, l3): its one chunk, one segment,
    was translated "1, 2, 5, 5, 5, ..." to the tokens' bound and dropped (compression ratio 12.67); the segment
    alone is that same sound, and was translated again, to the same loop (about 5 s). One call now. Whisper loops
    there on one CPU, and on another (AVX-512 with AMX) writes "A latino 2 was changed, and it was assembled.": the
    loop can't be provoked on demand, so every piece of the translation is dropped here as the filters drop a loop."""
    from mmsent import asr_decoding, pipeline

    calls, real = [], pipeline.translate_speech
    monkeypatch.setattr(pipeline, "translate_speech", lambda *a, **k: calls.append(k["spans"]) or real(*a, **k))
    audio = media.load_audio(shared_data / "emovo" / "m3" / "neu-m3-l3.flac")
    heard = tr.transcribe(audio, device="cpu")
    segs = segment(heard, len(audio) / SR)
    assert heard.languages == ["it"] and [s.kind for s in segs] == [SPEECH], heard.utterances
    monkeypatch.setattr(asr_decoding, "_is_hallucination", lambda seg, opts: "compression ratio 12.67")  # a loop
    assert "failed" not in _translate(segs, audio, heard, AnalysisOptions(), "cpu", lambda *a: None)
    assert calls == [None] and not segs[0].translation, (calls, segs)


def test_one_language_is_recognised_as_before(shared_data, monkeypatch):
    """An Italian file: one language, no utterance naming its own, the very transcript of one pass."""
    audio, _ = joined_clips(sorted((shared_data / "emovo" / "m1").glob("*.flac"))[:12:3])
    once = tr.transcribe(audio, device="cpu")
    assert once.language == "it" and once.languages == ["it"] and once.utterances
    assert all(u.language is None for u in once.utterances)
    assert once.heard[0] == "it" and 0.5 < once.heard[1] <= 1  # what was detected, and how surely
    monkeypatch.setattr(languages, "others", lambda windows, main: [])  # never heard as mixed
    assert tr.transcribe(audio, device="cpu") == once


def test_a_language_given_is_kept_for_all(mixed):
    forced = tr.transcribe(mixed[0], language="it", device="cpu")
    assert forced.languages == ["it"] and all(u.language is None for u in forced.utterances)


def test_speech_partly_in_another_language_than_the_one_given_is_said(shared_data):
    """25 s of English then 14 s of Italian, given as English: the Italian came back as made-up English ("and saw
    the beautiful pistols"), and no note said a word, as the first window alone was checked. The windows the
    recognition reads are heard, given a language too (one decoder step each)."""
    english = sorted((shared_data / "ravdess" / "Actor_02").glob("*.flac"))[:24:3]
    italian = sorted((shared_data / "emovo" / "m1").glob("*.flac"))[:12:3]
    audio, spans = joined_clips(english + italian)
    given = AnalysisOptions(language="en")
    forced = tr.transcribe(audio, language="en", device="cpu")
    assert forced.languages == ["en"] and forced.windows
    notes = _language_doubted(forced, audio, given, "cpu")
    assert len(notes) == 1 and "but parts of the speech sound like 'it'" in notes[0], notes
    alone = audio[:round(spans[len(english) - 1][1] * SR)]  # the English alone: nothing to say
    assert _language_doubted(tr.transcribe(alone, language="en", device="cpu"), alone, given, "cpu") == []


def test_a_stretch_told_unsurely_follows_the_one_before():
    stretches = [(0.5, 2.5), (3.0, 5.0), (5.5, 6.0), (6.5, 8.5), (9.0, 11.0)]
    told = [("en", 0.99), ("it", 0.95), ("en", 0.99), ("en", 0.6), ("en", 0.9)]
    # the third is too short to tell, the fourth unsure: both follow the Italian before them
    assert languages.runs(stretches, told, 12.0) == [(0.0, 2.75, "en"), (2.75, 8.75, "it"), (8.75, 12.0, "en")]
    assert languages.runs([(1.0, 1.5)], [("it", 0.5)], 2.0) == [(0.0, 2.0, "it")]
    assert languages.runs([], [], 2.0) == []


def test_windows_that_hear_another_language():
    windows = [[("en", 0.99)], [("it", 0.51), ("en", 0.45)], [("en", 0.84), ("la", 0.12)]]
    assert languages.others(windows, "en") == ["it"]
    assert languages.others([[("it", 0.82), ("la", 0.12)]], "it") == []
    assert languages.window_languages([("<|en|>", 0.9), ("<|it|>", 0.06), ("<|de|>", 0.01)]) == [("en", 0.9),
                                                                                                  ("it", 0.06)]


def test_the_languages_of_an_analysis_are_written_and_read(tmp_path):
    from test_results import make_analysis

    a = make_analysis(3)
    assert a.language == "en" and a.to_dict()["languages"] == ["en"]  # built by hand with one language
    a.language, a.languages = "en", ["en", "it"]
    a.to_json(tmp_path / "a.json")
    back = Analysis.from_json(tmp_path / "a.json")
    assert back.languages == ["en", "it"] and "en and it" in back.language_text
    d = json.loads((tmp_path / "a.json").read_text())
    del d["languages"]  # a file written before the field: its language alone
    assert Analysis.from_dict(d).languages == ["en"]
    with pytest.raises(ValueError, match="languages"):
        Analysis.from_dict(d | {"languages": "en"})
