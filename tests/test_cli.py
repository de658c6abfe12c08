"""The command line, as a user runs it: several files, one bad, exports on disk, exit status, and
progress that reads well in a log (stderr here is a pipe, not a terminal)."""

import argparse
import csv
import json
import os
import shutil
import signal
import subprocess
import sys
import time
from pathlib import Path

import pytest
from conftest import ROOT
import mediagen
from mediagen import ITALIAN_JOY, talking_video

import mmsent
from mmsent.config import AnalysisOptions, HelpFormatter
from mmsent.results import Analysis
from mmsent.subtitles import subtitles_beside

STAGES = ("decode", "speech recognition", "model")  # some of the stages mmsent.analyze reports, in order


# The speech's language, given where a test needs words read but is not about the language: Whisper base hears the
# synthetic voice's first window as another language, and the recognition, right in the end, takes many times as long
# (tests/test_languages.py tests that path).
ENGLISH = ("--language", "en")


def refused(argv, capsys, monkeypatch, cwd=ROOT) -> str:
    """What ``python -m mmsent ARGV``, run in ``cwd``, says as it refuses its command line: exit status 2, one
    message, no traceback, no file failed, and the model never loaded (the command line is run in this process: a
    new one takes 4 s to import torch)."""
    import mmsent.__main__ as cli

    monkeypatch.chdir(cwd)
    monkeypatch.setattr(cli, "load_model", lambda *a, **k: pytest.fail("the model was loaded"))
    with pytest.raises(SystemExit) as e:
        cli.main(argv)
    err = capsys.readouterr().err
    assert e.value.code == 2 and "Traceback" not in err and "FAILED" not in err, err
    return err


def toned_video(path):
    """A 2 s moving picture with a 440 Hz tone: nothing said, so no speech recognition (9 s for a synthetic "Good
    morning, everyone." on 2 cores, see ENGLISH). For the tests of the run over the files, where what is said is not
    what they check."""
    return mediagen.make_video(path)


@pytest.mark.parametrize("after_s", [0.3, 0.5, 1.0, 2.0])
def test_ctrl_c_while_starting_is_one_line(tmp_path, after_s):
    """Ctrl-C while torch loads (the first seconds) printed a 40-line traceback; then, as a KeyboardInterrupt
    caught around the imports, now and then a RecursionError's (a module left half-imported); now one line, exit
    status 130 (or, where it comes before the command starts, the process ends by SIGINT itself: either way the
    shell sees an interrupt). A real file: a missing one is refused before the model loads, 2.5 s in, and the run
    could end before the signal."""
    video = toned_video(tmp_path / "a.mp4")
    proc = subprocess.Popen([sys.executable, "-m", "mmsent", "analyze", str(video), "--out", str(tmp_path / "out")],
                            cwd=ROOT, stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True)
    time.sleep(after_s)
    proc.send_signal(signal.SIGINT)
    out, err = proc.communicate(timeout=120)
    assert proc.returncode in (130, -signal.SIGINT) and "Traceback" not in err and "interrupted" in err, err[-2000:]


def test_version_names_the_parts_a_bug_report_needs(capsys):
    """`python -m mmsent --version` was "unrecognized arguments"."""
    from importlib.metadata import version

    import mmsent.__main__ as cli

    with pytest.raises(SystemExit) as e:
        cli.main(["--version"])
    said = capsys.readouterr()
    assert e.value.code == 0 and said.out.count("\n") == 1, said.err
    assert said.out.startswith(f"mmsent {mmsent.__version__} (Python {sys.version.split()[0]}; torch "
                               f"{version('torch')}, faster-whisper {version('faster-whisper')}, "), said.out


def test_a_web_address_is_refused_as_the_command_line_is_parsed(capsys, monkeypatch):
    """It said, after loading the model, "FAILED https:/www.youtube.com/watch?v=abc: https:/www.youtube.com/watch?v=abc:
    file not found; check the path.": the address mangled, and told twice."""
    url = "https://www.youtube.com/watch?v=abc"
    assert f"argument videos: {url}: is a web address; mmsent reads files: download the video or sound first" in \
        refused(["analyze", url], capsys, monkeypatch)


def test_an_empty_path_is_refused_as_the_command_line_is_parsed(tmp_path, capsys, monkeypatch):
    """`mmsent analyze "$VIDEO"` with VIDEO unset gave "" -- taken as the current folder, whose every audio and
    video file was analysed."""
    mediagen.make_audio(tmp_path / "someone_else.wav", 0.5)
    assert "argument videos: no file given: the path is empty" in refused(
        ["analyze", "", "--out", str(tmp_path / "out")], capsys, monkeypatch, cwd=tmp_path)


def test_the_package_imports_its_parts_when_used():
    """``import mmsent`` loads no torch; its public names and submodules come when first used."""
    code = ("import sys, mmsent; assert 'torch' not in sys.modules; "
            "assert mmsent.analyze.__module__ == 'mmsent.pipeline' and mmsent.media.probe and mmsent.EMOTIONS; "
            "from mmsent import Analysis, CheckpointError; assert all(getattr(mmsent, n) for n in mmsent.__all__); "
            "assert dir(mmsent) == sorted(mmsent.__all__)")  # not TYPE_CHECKING, importlib, annotations
    proc = subprocess.run([sys.executable, "-c", code], cwd=ROOT, capture_output=True, text=True, timeout=120)
    assert proc.returncode == 0, proc.stderr[-2000:]
    proc = subprocess.run([sys.executable, "-c", "import mmsent; mmsent.no_such_part"], cwd=ROOT, capture_output=True,
                          text=True, timeout=60)
    assert "AttributeError: module 'mmsent' has no attribute 'no_such_part'" in proc.stderr
    # the command line's --help and its refusals of wrong options come without torchvision (1.3 s to import): the
    # R3D-18 clip's crop alone needs it (the words' transformers import it as they load)
    proc = subprocess.run([sys.executable, "-c", "import sys, mmsent.__main__, mmsent.pipeline; "
                           "assert 'torchvision' not in sys.modules"], cwd=ROOT, capture_output=True, text=True, timeout=60)
    assert proc.returncode == 0, proc.stderr[-2000:]


def test_analyze_several_files_one_bad(tmp_path):
    good = talking_video(tmp_path / "good clip.mp4", ["Hello there, how are you today?"]).path
    bad = tmp_path / "broken.mp4"
    bad.write_text("this is not a video")
    out = tmp_path / "out"
    env = {**os.environ, "HF_HUB_OFFLINE": "1", "PYTHONPATH": str(ROOT)}
    proc = subprocess.run(
        [sys.executable, "-m", "mmsent", "analyze", str(bad), str(good), "--out", str(out), "--format", "json,csv,srt"],
        capture_output=True, text=True, env=env, timeout=300)
    assert proc.returncode == 1, proc.stderr
    assert f"FAILED {bad}: cannot be read as audio or video" in proc.stderr and "Traceback" not in proc.stderr  # once
    assert sorted(p.name for p in out.iterdir()) == ["good clip.csv", "good clip.json", "good clip.srt"]
    data = json.loads((out / "good clip.json").read_text())
    assert "hello" in " ".join(s["text"] for s in data["segments"]).lower()
    assert data["model"]["name"] == "default"  # the embedded checkpoint, named in the HTML report too
    # Progress in a log: no bar redrawn with carriage returns, one line as each stage starts (and,
    # for a long stage, at most one line every LOG_INTERVAL_S, with its percentage), each file's lines saying where
    # the run is (a folder of a hundred files said nothing of how far it had come)
    assert "\r" not in proc.stderr and "\x1b[" not in proc.stderr, proc.stderr[:500]
    stages = [line.split(": ", 1)[1] for line in proc.stderr.splitlines()
              if line.startswith("[2/2] good clip.mp4: ") and "%" not in line]
    assert len(stages) == len(set(stages)), proc.stderr
    assert [s for s in stages if s in STAGES] == list(STAGES), proc.stderr


def test_files_that_cannot_be_analysed_are_said_before_the_model_loads(tmp_path, capsys, monkeypatch):
    """A path mistyped or a text file was refused only after the model's load (about 4 s on this host; `analyze
    nothere.mp4` took 12 s in all, now 2.5 s): a run of only such files now loads no model, and one of them beside a
    file that can be analysed loads it once, for that file. (``load_model`` is the real one, counted.)"""
    import mmsent.__main__ as cli

    loads, load = [], cli.load_model
    monkeypatch.setattr(cli, "load_model", lambda *args, **kwargs: loads.append(args) or load(*args, **kwargs))
    missing, text, out = tmp_path / "nothere.mp4", tmp_path / "notes.mp4", tmp_path / "out"
    text.write_text("not a video")
    assert cli.main(["analyze", str(missing), str(text), "--out", str(out)]) == 1
    err = capsys.readouterr().err
    assert f"FAILED {missing}: file not found" in err and f"FAILED {text}: cannot be read as audio or video" in err
    assert loads == [] and "2 of 2 files failed" in err, err
    sound = mediagen.make_audio(tmp_path / "memo.wav", 1.0)
    assert cli.main(["analyze", str(text), str(sound), "--out", str(out), "--format", "json"]) == 1
    assert len(loads) == 1 and [p.name for p in out.iterdir()] == ["memo.json"], capsys.readouterr().err
    # with --skip-existing, results an earlier run left are kept before the file is looked at again (as for the files
    # after the first): not refused for a limit lowered since
    assert cli.main(["analyze", str(sound), "--out", str(out), "--format", "json", "--skip-existing",
                     "--max-seconds", "0.5"]) == 0
    assert "not analysed again (--skip-existing)" in capsys.readouterr().out
    # a checkpoint mistyped is said before any file; one whose weights can't be loaded, at the first file that can
    # be analysed, and the table says why the files left were not
    loaded = len(loads)
    assert cli.main(["analyze", str(text), str(sound), "--out", str(out), "--checkpoint", str(tmp_path / "none")]) == 2
    err = capsys.readouterr().err
    assert "error: cannot load the model: " in err and "FAILED" not in err and len(loads) == loaded, err
    from mmsent.checkpoint import WEIGHTS_FILE, save_checkpoint
    from mmsent.config import tiny_config
    from mmsent.model import build_model

    damaged, summary = save_checkpoint(build_model(tiny_config()), tmp_path / "damaged"), tmp_path / "summary.csv"
    with (damaged / WEIGHTS_FILE).open("ab") as f:
        f.write(b"\0")
    assert cli.main(["analyze", str(text), str(sound), "--out", str(out), "--checkpoint", str(damaged),
                     "--summary", str(summary)]) == 2
    assert "error: cannot load the model: " in capsys.readouterr().err
    rows = list(csv.DictReader(summary.open(encoding="utf-8-sig")))
    assert [(r["status"], r["reason"]) for r in rows][1:] == [("not analysed", "the model could not be loaded")]


def test_a_bug_on_one_file_fails_that_file_alone(tmp_path, monkeypatch, capsys):
    """An unexpected error (a bug: one is raised on purpose here, as none is known) fails its file with the
    traceback to report, and the other files are still analysed."""
    import mmsent.__main__ as cli
    import mmsent.batch as batch

    good = toned_video(tmp_path / "good.mp4")
    (tmp_path / "bug.mp4").write_bytes(good.read_bytes())
    analyze = batch.analyze

    def buggy(video, *args, **kwargs):
        if video.name == "bug.mp4":
            raise TypeError("unsupported operand type(s) for +: 'float' and 'NoneType'")
        return analyze(video, *args, **kwargs)

    monkeypatch.setattr(batch, "analyze", buggy)
    out = tmp_path / "out"
    assert cli.main(["analyze", str(tmp_path / "bug.mp4"), str(good), "--out", str(out), "--format", "json"]) == 1
    err = capsys.readouterr().err
    assert "FAILED" in err and "a bug in mmsent (TypeError: unsupported operand" in err and "Traceback" in err
    assert [p.name for p in out.iterdir()] == ["good.json"]
    # the --summary table's reason: the error, to report, not "with this traceback:" of a traceback it does not hold
    assert cli.main(["analyze", str(tmp_path / "bug.mp4"), "--out", str(out), "--summary", str(out / "all.csv")]) == 1
    row = next(csv.DictReader((out / "all.csv").read_text(encoding="utf-8-sig").splitlines()))
    assert row["status"] == "failed" and row["reason"] == ("an unexpected error, a bug in mmsent (TypeError: unsupported "
                                                           "operand type(s) for +: 'float' and 'NoneType'); please report it")


def test_a_full_disk_stops_the_run_saying_how_to_go_on(tmp_path, monkeypatch, capsys):
    """A disk that filled up failed each file in turn, after its analysis (minutes each, for nothing), saying only
    "[Errno 28] No space left on device". The run stops at the first, saying what to free and how to go on. The full
    disk is a stand-in (a write that raises ENOSPC): a test can't fill a real disk without mounting one (root)."""
    import errno

    import mmsent.__main__ as cli
    import mmsent.batch as batch

    good = toned_video(tmp_path / "a.mp4")
    for name in ("b.mp4", "c.mp4"):
        (tmp_path / name).write_bytes(good.read_bytes())
    analysed, analyze = [], batch.analyze

    def counted(video, *args, **kwargs):
        analysed.append(video.name)
        return analyze(video, *args, **kwargs)

    def full(*args, **kwargs):
        raise OSError(errno.ENOSPC, "No space left on device")

    monkeypatch.setattr(batch, "analyze", counted)
    monkeypatch.setattr(batch, "write", full)
    out = tmp_path / "out"
    assert cli.main(["analyze", str(tmp_path), "--out", str(out), "--format", "json"]) == 1
    err = capsys.readouterr().err
    assert analysed == ["a.mp4"]
    assert (f"stopped: No space left on device, 2 files left not analysed: free some space (results go to {out}, the "
            "annotated video's work beside them), then run the same command again with --skip-existing") in err, err


def test_no_translate_keeps_speech_in_another_language_as_spoken(tmp_path):
    clip = talking_video(tmp_path / "ciao.mp4", [ITALIAN_JOY], voice="it").path
    env = {**os.environ, "HF_HUB_OFFLINE": "1", "PYTHONPATH": str(ROOT)}
    proc = subprocess.run([sys.executable, "-m", "mmsent", "analyze", str(clip), "--out", str(tmp_path),
                           "--no-translate", "--no-contributions"],
                          capture_output=True, text=True, env=env, timeout=300)
    assert proc.returncode == 0, proc.stderr
    data = json.loads((tmp_path / "ciao.json").read_text())
    assert data["language"] == "it" and "felice" in data["segments"][0]["text"].lower()
    assert all(s["translation"] == "" for s in data["segments"])
    assert any("with translation on, the speech recognition writes them in English" in n for n in data["notes"])


def test_audio_track_chooses_the_track_analysed_and_drawn_over(tmp_path, capsys):
    """`analyze dubbed.mkv --audio-track eng`: the English track (2; the default German one is a tone) is the one
    whose speech is recognised and whose sound the annotated video plays; a file without the track asked for fails
    alone, saying what it holds."""
    import mmsent.__main__ as cli
    from mmsent import media

    dubbed = mediagen.dubbed_video(tmp_path / "dubbed.mkv", ["I am so happy to see you again."]).path
    other = mediagen.dubbed_video(tmp_path / "other.mkv", ["Hello."], languages=("ger", "fre")).path
    out = tmp_path / "out"
    assert cli.main(["analyze", str(dubbed), str(other), "--audio-track", "eng", "--out", str(out), "--format",
                     "json,mp4", "--senses", "words", "--no-contributions"]) == 1
    err = capsys.readouterr().err
    assert (f"FAILED {other}: has 2 audio tracks: track 1 (ger, default), track 2 (fre); the audio track asked for, "
            "'eng', is none of them") in err and not (out / "other.json").exists()
    data = json.loads((out / "dubbed.json").read_text(encoding="utf-8"))
    assert "happy" in " ".join(s["text"] for s in data["segments"]).lower() and data["media"]["audio_track"] == "eng"
    chosen = "track 2 (eng) was analysed, as chosen ('eng')."
    assert any(chosen in n for n in data["notes"]), data["notes"]
    played = media.load_audio(out / "dubbed.annotated.mp4")
    assert abs(played[:int(0.4 * media.SAMPLE_RATE)]).max() < 0.02 < abs(played).max()  # the speech, not the tone


def test_results_never_overwrite_an_input(tmp_path, capsys):
    """Before, `analyze talk.mp4 --subtitles talk.srt --format json,srt` (the README's workflow, --out .) replaced
    the user's subtitles with its own; talk.mp4's annotated video replaced an input named talk.annotated.mp4, and
    clip.csv (a video) its own CSV. Now such a file fails before it is analysed, and the others go on."""
    import mmsent.__main__ as cli

    video = toned_video(tmp_path / "talk.mp4")
    srt = tmp_path / "talk.srt"
    srt.write_text("1\n00:00:00,000 --> 00:00:01,500\nI got the job.\n", encoding="utf-8")
    before = srt.read_bytes()
    assert cli.main(["analyze", str(video), "--subtitles", str(srt), "--out", str(tmp_path), "--format", "json,srt"]) == 1
    assert f"its results would overwrite {srt}, given to this call as its subtitles" in capsys.readouterr().err
    assert srt.read_bytes() == before and not (tmp_path / "talk.json").exists()
    for name in ("talk.annotated.mp4", "clip.csv"):
        shutil.copy(video, tmp_path / name)
    assert cli.main(["analyze", str(tmp_path / "talk.annotated.mp4"), str(video), str(tmp_path / "clip.csv"),
                     "--out", str(tmp_path), "--format", "mp4,csv", "--senses", "words", "--no-contributions"]) == 1
    err = capsys.readouterr().err
    assert f"FAILED {video}: its results would overwrite {tmp_path / 'talk.annotated.mp4'}, given to this call" in err
    assert f"FAILED {tmp_path / 'clip.csv'}: its results would overwrite {tmp_path / 'clip.csv'}" in err
    assert all((tmp_path / name).read_bytes() == video.read_bytes() for name in ("talk.annotated.mp4", "clip.csv"))
    assert (tmp_path / "talk.annotated.annotated.mp4").is_file() and (tmp_path / "talk.annotated.csv").is_file()


def test_ass_subtitles_replace_speech_recognition(tmp_path, capsys):
    """`analyze talk.mp4 --subtitles talk.ass`: Advanced SubStation Alpha subtitles (Aegisub's, fansubs') give the
    words and their times, as SRT and WebVTT do; before, the file was refused as not a subtitle file."""
    import mmsent.__main__ as cli

    video = talking_video(tmp_path / "talk.mp4", ["I got the job."]).path
    ass = tmp_path / "talk.ass"
    ass.write_text("[Script Info]\nScriptType: v4.00+\n\n[Events]\n"
                   "Format: Layer, Start, End, Style, Name, MarginL, MarginR, MarginV, Effect, Text\n"
                   "Dialogue: 0,0:00:00.20,0:00:01.50,Default,,0,0,0,,{\\i1}I got\\Nthe job.{\\i0}\n", encoding="utf-8")
    out = tmp_path / "out"
    assert cli.main(["analyze", str(video), "--subtitles", str(ass), "--language", "en", "--out", str(out),
                     "--format", "json", "--senses", "words", "--no-contributions"]) == 0, capsys.readouterr().err
    data = json.loads((out / "talk.json").read_text(encoding="utf-8"))
    assert data["transcript_source"] == "subtitles:talk.ass"
    assert [s["text"] for s in data["segments"] if s["kind"] == "speech"] == ["I got the job."]


def test_subtitles_auto_reads_each_videos_own_subtitle_file_beside_it(tmp_path, capsys):
    """A folder of videos, each with its subtitle file beside it (a season of a series, a corpus with transcripts),
    took a command per video: --subtitles belonged to one. With --subtitles auto each video's words are those of its
    own subtitle file, found as players find it; a video without one is heard by speech recognition; a video with
    several that fit, or whose subtitles can't be read, fails alone, saying why; each file's line says which it was
    (forced subtitles alone, which are not read, were "no subtitle file").
    Its results never overwrite its subtitles (--format srt into the same folder: that video alone fails), and
    --skip-existing works as before."""
    import mmsent.__main__ as cli

    season = tmp_path / "season1"
    season.mkdir()
    subtitled = talking_video(season / "e01.mp4", ["Good morning, everyone."]).path
    heard = talking_video(season / "e02.mp4", ["I got the job."]).path
    srt = season / "e01.srt"  # words other than those spoken, to tell whose they are
    srt.write_text("1\n00:00:00,300 --> 00:00:01,800\nThe weather is terrible today.\n", encoding="utf-8")
    shutil.copy(heard, season / "e03.mp4")
    for name in ("e03.en.srt", "e03.it.srt"):
        shutil.copy(srt, season / name)
    shutil.copy(heard, season / "e04.mp4")
    (season / "e04.srt").write_text("1\n00:00:01,500 --> 00:00:00,500\nBackwards.\n", encoding="utf-8")
    shutil.copy(heard, season / "e05.mp4")  # its subtitles in a Subs folder: the line names the folder too
    (season / "Subs").mkdir()
    shutil.copy(srt, season / "Subs" / "e05.srt")
    shutil.copy(heard, season / "e06.mp4")  # forced subtitles alone: heard, the line saying why they were not read
    shutil.copy(srt, season / "e06.en.forced.srt")
    out, quick = tmp_path / "out", ["--senses", "words", "--no-contributions"]  # no --language: e03's two both fit
    assert cli.main(["analyze", str(season), "--subtitles", "auto", "--out", str(out), "--format", "json", *quick]) == 1
    said = capsys.readouterr()
    first, second = (json.loads((out / f"e0{i}.json").read_text(encoding="utf-8")) for i in (1, 2))
    assert first["transcript_source"] == "subtitles:e01.srt" and second["transcript_source"] != "subtitles:e02.srt"
    assert [s["text"] for s in first["segments"] if s["kind"] == "speech"] == ["The weather is terrible today."]
    assert "job" in " ".join(s["text"] for s in second["segments"]).lower()
    assert f"{out / 'e01.json'} (subtitles: e01.srt)" in said.out, said.out
    assert f"{out / 'e02.json'} (no subtitle file beside it: speech recognised)" in said.out, said.out
    assert f"{out / 'e05.json'} (subtitles: Subs/e05.srt)" in said.out, said.out
    assert (f"{out / 'e06.json'} (only forced subtitles beside it, e06.en.forced.srt: the foreign lines and signs, not "
            "the speech; speech recognised)") in said.out, said.out
    assert (f"FAILED {season / 'e03.mp4'}: 2 subtitle files beside it could be its own (e03.en.srt, e03.it.srt): give "
            "the one to read (--subtitles FILE)") in said.err and "2 of 6 files failed" in said.err, said.err
    assert f"FAILED {season / 'e04.mp4'}: {season / 'e04.srt'}:2: the cue ends (0.500 s) before it starts" in said.err
    assert not (out / "e03.json").exists() and not (out / "e04.json").exists()

    before = srt.read_bytes()
    assert cli.main(["analyze", str(subtitled), str(heard), "--subtitles", "auto", "--out", str(season),
                     "--format", "json,srt", *quick]) == 1
    said = capsys.readouterr()
    assert (f"FAILED {subtitled}: its results would overwrite {srt}, given to this call as its subtitles (--subtitles "
            "auto)") in said.err and f"{heard}: 1 segment" in said.out, said
    assert srt.read_bytes() == before and not (season / "e01.json").exists() and (season / "e02.srt").is_file()

    assert cli.main(["analyze", str(subtitled), "--subtitles", "auto", "--out", str(out), "--skip-existing",
                     *quick]) == 0
    assert f"{subtitled}: its results are in {out} from an earlier run (e01.json): not analysed again" in \
        capsys.readouterr().out


@pytest.mark.parametrize("given, read", [("auto", "auto"), ("./auto", Path("auto")), ("talk.srt", Path("talk.srt"))])
def test_a_subtitle_file_named_auto_is_given_as_dot_slash_auto(given, read):
    """--subtitles auto finds each video's own; a file of that name is ./auto, as --help says."""
    from mmsent.__main__ import _parser
    args = _parser().parse_args(["analyze", "a.mp4", "--subtitles", given])
    assert args.subtitles == read
    assert "(a file named auto: ./auto)" in " ".join(args.command_parser.format_help().split())


def test_a_sound_read_for_the_face_alone_fails_before_its_analysis(tmp_path, monkeypatch, capsys):
    """`analyze memo.m4a --senses face` decoded the sound and recognised its speech, to end "1 segment, nothing
    read"; now the file fails at once with what to do, without a traceback, and the other files go on."""
    import mmsent.__main__ as cli
    from mmsent import pipeline

    sound = mediagen.make_audio(tmp_path / "memo.wav", 1.0)
    video = mediagen.make_video(tmp_path / "clip.mp4", duration=1.0, size=(64, 48), audio=None)
    out = tmp_path / "out"
    monkeypatch.setattr(pipeline.media, "load_audio", lambda *a, **k: pytest.fail("decoded"))
    assert cli.main(["analyze", str(sound), str(video), "--out", str(out), "--senses", "face",
                     "--no-contributions"]) == 1
    err = capsys.readouterr().err
    assert (f"FAILED {sound}: has no picture, and the face, the only sense asked for, needs one: there is nothing to "
            "read. Ask for the words or the voice") in err and "Traceback" not in err, err
    assert "1 of 2 files failed" in err and [p.name for p in out.iterdir()] == ["clip.json"]


def test_senses_that_the_model_does_not_read_are_refused_before_any_file(tmp_path, capsys):
    """Before, `--senses words,face` with a voice-only model failed each file in turn, a clip with sound included,
    saying it "gives the words and the face only"; now the call is refused at once, naming the senses the model
    reads and how to ask for them. Where it reads some of them, the run says which it does not."""
    import torch

    import mmsent.__main__ as cli
    from mmsent.checkpoint import save_checkpoint
    from mmsent.config import tiny_config
    from mmsent.model import build_model

    torch.manual_seed(0)
    voice = save_checkpoint(build_model(tiny_config(trained_branches=("audio",))), tmp_path / "voice")
    sound = mediagen.make_audio(tmp_path / "memo.wav", 1.0)
    with pytest.raises(SystemExit) as e:
        cli.main(["analyze", str(sound), "--out", str(tmp_path / "out"), "--checkpoint", str(voice),
                  "--senses", "words,face"])
    assert e.value.code == 2
    assert (f"--senses words,face: this model ({voice}) reads none of them, only the voice: ask for it (--senses "
            "voice), or use a model trained on them (--checkpoint default)") in capsys.readouterr().err
    # with the senses it reads among those asked, the run says once that the others are not read (only the JSON's
    # notes said it: the line "2 segments, mostly joy" read as words, voice and face)
    assert cli.main(["analyze", str(sound), "--out", str(tmp_path / "out"), "--checkpoint", str(voice)]) == 0
    err = capsys.readouterr().err
    assert err.count(f"this model ({voice}) reads the voice alone: not the words or the face (no branch trained for "
                     "them)") == 1, err


def test_a_file_too_long_fails_naming_it_once(tmp_path, capsys):
    """The refusal of a file over --max-seconds started with the file's name, after the FAILED line's path:
    "FAILED /x/long.wav: long.wav lasts 2 s, ..."."""
    import mmsent.__main__ as cli

    sound = mediagen.make_audio(tmp_path / "long.wav", 2.0)
    assert cli.main(["analyze", str(sound), "--out", str(tmp_path / "out"), "--max-seconds", "1"]) == 1
    err = capsys.readouterr().err
    assert f"FAILED {sound}: lasts 2 s, longer than the allowed 1 s: cut it" in err and err.count("long.wav") == 1, err
    sound = mediagen.make_audio(tmp_path / "a bit long.wav", 1.4)  # "lasts 1 s, longer than the allowed 1 s"
    assert cli.main(["analyze", str(sound), "--out", str(tmp_path / "out"), "--max-seconds", "1"]) == 1
    assert f"FAILED {sound}: lasts 1.4 s, longer than the allowed 1 s" in capsys.readouterr().err


def test_a_later_run_says_whose_results_it_replaces_and_what_it_left(tmp_path, capsys):
    """Before, a second call for b/talk.mp4 into the folder of a/talk.mp4's results replaced talk.json without a
    word, and a's talk.csv stayed beside it as if it were b's."""
    import mmsent.__main__ as cli

    (tmp_path / "a").mkdir(), (tmp_path / "b").mkdir()
    first = toned_video(tmp_path / "a" / "talk.mp4")
    second = shutil.copy(first, tmp_path / "b" / "talk.mp4")
    out, quick = tmp_path / "out", ["--senses", "words", "--no-contributions"]
    assert cli.main(["analyze", str(first), "--out", str(out), "--format", "json,csv", *quick]) == 0
    capsys.readouterr()
    assert cli.main(["analyze", str(second), "--out", str(out), "--format", "json", *quick]) == 0
    err = capsys.readouterr().err
    assert f"{second}: replaces the results of {first} in {out / 'talk.json'}" in err
    assert f"{second}: talk.csv in {out} is from an earlier run, not rewritten (--format json)" in err
    assert cli.main(["analyze", str(second), "--out", str(out), "--format", "json,csv", *quick]) == 0
    assert "replaces" not in capsys.readouterr().err


def test_skip_existing_from_another_folder_says_why_a_file_given_by_a_relative_path_is_analysed_again(
        tmp_path, capsys, monkeypatch):
    """A JSON names the file as given: a path relative to the folder its run ran in. From another folder it names no
    file, so --skip-existing analysed the file again, its line silent on why (the README says it says why)."""
    import mmsent.__main__ as cli

    (tmp_path / "in").mkdir()
    toned_video(tmp_path / "in" / "talk.mp4")
    quick = ["--format", "json", "--senses", "words", "--no-contributions", "--skip-existing"]
    monkeypatch.chdir(tmp_path)
    assert cli.main(["analyze", "in/talk.mp4", "--out", "out", *quick]) == 0
    monkeypatch.chdir(tmp_path / "in")
    capsys.readouterr()
    assert cli.main(["analyze", "talk.mp4", "--out", "../out", *quick]) == 0
    assert ("talk.mp4: replaces the results of in/talk.mp4 in ../out/talk.json (a path from the folder that run ran "
            "in, not found from here: run from that folder to go on with --skip-existing)") in capsys.readouterr().err


def test_an_output_folder_that_can_not_be_written_is_said_before_any_analysis(tmp_path, capsys, monkeypatch):
    (tmp_path / "a file").write_text("")
    assert "can't be written (Not a directory)" in refused(
        ["analyze", "x.mp4", "--out", str(tmp_path / "a file" / "results")], capsys, monkeypatch)


def test_unknown_format_is_refused_before_work(capsys, monkeypatch):
    assert ("--format 'json,gif': unknown export format(s) gif: choose from json, csv, srt, vtt, html, mp4, or all" in
            refused(["analyze", "x.mp4", "--format", "json,gif"], capsys, monkeypatch))


def test_a_device_this_machine_lacks_is_refused_before_work(capsys, monkeypatch):
    """--device names a device the run can use: not one, or a CUDA device that is not there, is refused
    with what to do instead (the analysis and the app alike), not a torch traceback."""
    import torch
    from app_server import load_app

    missing = f"cuda:{torch.cuda.device_count()}"  # one past the last CUDA device, on any machine
    for argv in (["analyze", "x.mp4", "--device", missing], ["info", "--device", "gpu"], ["info", "--device", "mps"]):
        err = refused(argv, capsys, monkeypatch)
        assert "argument --device" in err and ("use --device auto" if "cuda" in argv[-1] else
                                               "use auto, cpu, cuda or cuda:N") in err, argv
    with pytest.raises(SystemExit) as e:
        load_app().parse_args(["--device", missing])
    err = capsys.readouterr().err
    assert e.value.code == 2 and "argument --device" in err and "use --device auto" in err and "Traceback" not in err


def test_an_unknown_language_is_refused_before_work(capsys, monkeypatch):
    """--language is checked as it is parsed: one clear refusal, not a failure per file after decoding."""
    assert "argument --language: unknown language 'xx'" in refused(["analyze", "a.mp4", "b.mp4", "--language", "xx"],
                                                                   capsys, monkeypatch)


@pytest.mark.parametrize("senses, said", [("words,smell", "unknown sense 'smell'"), (",", "no sense named")])
def test_unknown_senses_are_refused_before_work(senses, said, capsys, monkeypatch):
    assert f"argument --senses: {said}: choose one or more of words, voice, face" in refused(
        ["analyze", "a.mp4", "--senses", senses], capsys, monkeypatch)


def test_a_file_whose_results_would_overwrite_anothers_fails_alone(tmp_path):
    """a/talk.mp4 and b/talk.mp4 both give talk.json: the second is refused, not written over the first;
    the same file named twice (a/../a/talk.mp4) is analysed once."""
    for sub in ("a", "b"):
        (tmp_path / sub).mkdir()
    first = toned_video(tmp_path / "a" / "talk.mp4")
    (tmp_path / "b" / "talk.mp4").write_bytes(first.read_bytes())
    same = tmp_path / "a" / ".." / "a" / "talk.mp4"
    out = tmp_path / "out"
    proc = subprocess.run([sys.executable, "-m", "mmsent", "analyze", str(first), str(tmp_path / "b" / "talk.mp4"),
                           str(same), "--out", str(out)], capture_output=True, text=True, cwd=ROOT, timeout=300)
    assert proc.returncode == 1 and "1 of 2 files failed" in proc.stderr, proc.stderr  # each file counted once
    assert f"FAILED {tmp_path / 'b' / 'talk.mp4'}: its results would overwrite those of {first}" in proc.stderr
    assert [p.name for p in out.iterdir()] == ["talk.json"]
    assert json.loads((out / "talk.json").read_text())["media"]["path"] == str(first)
    assert f"{same}: the same file as {first}: analysed once" in proc.stdout


@pytest.mark.parametrize("argv, said", [
    (["--format", ","], "--format ',': no export format named: choose from json, csv"),
    (["--format", "all,jsno"], "--format 'all,jsno': unknown export format(s) jsno: choose from json, csv"),
    (["--out", "README.md"], "--out README.md is a file: give a folder"),
    (["--out", "results/a.JSON"], "--out results/a.JSON reads as a file's name, but --out is the folder the results go "
                                  "in"),  # it was made a folder, results/a.JSON/a.json written in it
    (["--subtitles", "no-such.srt"], "--subtitles no-such.srt: no such file"),
    (["--max-segment", "0"], "argument --max-segment: the longest utterance (max_segment_seconds, --max-segment) must "
                             "be a number of seconds from 1 to 30, got 0.0"),
    (["--max-segment", "100"], "the longest utterance (max_segment_seconds, --max-segment) must be a number of seconds "
                               "from 1 to 30, got 100.0"),
    (["--max-seconds", "0"], "argument --max-seconds: the longest input (max_seconds, --max-seconds) must be a "
                             "number of seconds > 0, or None for no limit"),
    (["--asr-model", " "], "argument --asr-model: the Whisper model (asr_model, --asr-model) must be a model name "
                           "such as 'base', got ' '"),  # was a traceback
    (["--audio-track", "0"], "argument --audio-track: the audio track (audio_track; --audio-track on the command line, "
                             "the page's Audio track) must be a track's number from 1"),
    (["--audio-track", "english"], "argument --audio-track: the audio track (audio_track; --audio-track on the command "
                                   "line, the page's Audio track) must be"),
])
def test_wrong_options_are_refused_before_work(argv, said, capsys, monkeypatch):
    """One clear refusal as the command line is read, not a failure per file after its analysis."""
    err = refused(["analyze", "a.mp4", *argv], capsys, monkeypatch)
    assert said in err, err


@pytest.mark.parametrize("given, limit", [("none", None), ("None", None), ("90", 90.0)])
def test_max_seconds_takes_none_for_no_limit(given, limit):
    """The refusal of --max-seconds 0 offers None for no limit: the command line takes it."""
    from mmsent.__main__ import _parser
    assert _parser().parse_args(["analyze", "a.mp4", "--max-seconds", given]).max_seconds == limit


def test_out_and_format_have_the_short_names_whisper_gives_them():
    """-o and -f, as openai-whisper's command line names its output folder and formats, are --out and --format."""
    from mmsent.__main__ import _parser
    args = _parser().parse_args(["analyze", "a.mp4", "-o", "results", "-f", "json,csv"])
    assert (args.out, args.format) == (Path("results"), "json,csv")


def test_sound_alone_gets_every_export_but_the_annotated_video(shared_data, tmp_path):
    """--format with mp4 for a file without a picture: the other formats are written, and it says why
    there is no annotated video. The language is taken in any case."""
    clip = next((shared_data / "ravdess").rglob("03-01-05-*.flac"))
    proc = subprocess.run([sys.executable, "-m", "mmsent", "analyze", str(clip), "--out", str(tmp_path),
                           "--format", "mp4,json,csv", "--language", "EN", "--no-contributions"],
                          capture_output=True, text=True, cwd=ROOT, timeout=300)
    assert proc.returncode == 0, proc.stderr
    assert sorted(p.name for p in tmp_path.iterdir()) == [f"{clip.stem}.csv", f"{clip.stem}.json"]
    assert "(no annotated video: it has no picture to draw on)" in proc.stdout
    assert f"{clip.name}: expressions" not in proc.stderr and f"{clip.name}: model" in proc.stderr  # no picture stage
    assert json.loads((tmp_path / f"{clip.stem}.json").read_text())["language"] == "en"


def test_on_a_terminal_each_stage_keeps_its_own_time_and_rate(monkeypatch):
    """The bar's elapsed time and rate ran from the file's start: after 4 minutes of speech recognition, the first
    of 72 batches of features a second later showed 5 hours left. Each stage's time is its own (the audio and text
    features, which take turns batch after batch, each from its first batch)."""
    import io

    import tqdm.std

    import mmsent.batch as batch

    class Terminal(io.StringIO):
        def isatty(self):
            return True

    clock = [1000.0]
    monkeypatch.setattr(tqdm.std, "time", lambda: clock[0])
    monkeypatch.setattr(sys, "stderr", Terminal())
    with batch._progress("talk.mp4") as progress:
        for t, stage, done, total in [(0, "speech recognition", 0, 2700), (120, "speech recognition", 1350, 2700),
                                      (240, "speech recognition", 2700, 2700), (240, "audio features", 0, 72),
                                      (241, "audio features", 1, 72), (241, "text features", 1, 72),
                                      (242, "audio features", 2, 72)]:
            clock[0] = 1000.0 + t
            before = len(sys.stderr.getvalue())
            progress(stage, done, total)
            drawn = [d for d in sys.stderr.getvalue()[before:].split("\r") if "talk.mp4" in d]
            shown = drawn[-1]
            assert f"talk.mp4: {stage}:" in shown and f"{done}/{total}" in shown, shown
            assert all(f"{done}/{total}" in d for d in drawn), drawn  # not the stage before's counts for a moment
            if (t, stage) == (120, "speech recognition"):
                assert "[02:00<02:00" in shown, shown  # half the sound in 2 min: 2 min left
            if (t, done) == (242, 2):
                assert "[00:02<01:10" in shown, shown  # 2 of 72 batches in 2 s: 70 s left, not hours


def test_a_folder_gives_its_audio_and_video_files(tmp_path):
    """A folder was refused ("give the audio or video files in it, e.g. DIR/*.mp4"), a glob that Windows' shells do
    not expand. Its files named as audio or video are analysed, in name order; not its other files, its subfolders'
    (named as not searched), the annotated copies an earlier run wrote there, nor hidden files (the ``._b talk.MOV``
    of its metadata that macOS writes beside a file it copies to a USB drive failed, and so did the whole run). A
    folder without any fails, saying so (it said "is a folder; give the audio or video files in it")."""
    talks = tmp_path / "talks"
    (talks / "older").mkdir(parents=True)
    toned_video(talks / "b talk.MOV")
    shutil.copy(talks / "b talk.MOV", talks / "a.annotated.mp4")
    shutil.copy(talks / "b talk.MOV", talks / "older" / "c.mp4")
    (talks / "notes.txt").write_text("not a video")
    (talks / "._b talk.MOV").write_bytes(b"\x00\x05\x16\x07\x00\x02\x00\x00Mac OS X        " + bytes(4066))
    (tmp_path / "empty").mkdir()
    env = {**os.environ, "HF_HUB_OFFLINE": "1", "PYTHONPATH": str(ROOT)}
    proc = subprocess.run([sys.executable, "-m", "mmsent", "analyze", str(talks), str(tmp_path / "empty"), "--out",
                           str(talks)], capture_output=True, text=True, env=env, timeout=300)
    assert proc.returncode == 1 and f"FAILED {tmp_path / 'empty'}: a folder that holds no audio or video file (named " \
        ".mp4, .mov, .mkv, .webm, .wav, .mp3, .m4a, ...)" in proc.stderr, proc.stderr
    assert "1 of 2 files failed" in proc.stderr and f"{talks / 'b talk.MOV'}: " in proc.stdout, proc.stdout
    assert sorted(p.name for p in talks.iterdir()) == ["._b talk.MOV", "a.annotated.mp4", "b talk.MOV", "b talk.json",
                                                       "notes.txt", "older"]
    assert f"{talks}: 1 subfolder of audio or video files not searched (older): --recursive (-r) reads them too" \
        in proc.stderr, proc.stderr


def test_recursive_reads_the_subfolders_each_ones_results_in_its_own_subfolder(tmp_path):
    """--recursive: a season's folders of episodes are read at any depth, each file's results in the same subfolder of
    --out, so that two files of one name in two folders (day1/talk.mp4, day2/talk.mp4) keep both results; hidden
    folders are not read. Without it, a folder's subfolders were passed over in silence."""
    talks = tmp_path / "talks"
    for folder in ("day1", "day2/morning", ".cache"):
        (talks / folder).mkdir(parents=True)
    toned_video(talks / "intro.mp4")
    for copy in ("day1/talk.mp4", "day2/morning/talk.mp4", ".cache/talk.mp4"):
        shutil.copy(talks / "intro.mp4", talks / copy)
    out = tmp_path / "results"
    proc = subprocess.run([sys.executable, "-m", "mmsent", "analyze", str(talks), "-r", "--out", str(out),
                           "--senses", "words", "--no-contributions"], capture_output=True, text=True,
                          env={**os.environ, "HF_HUB_OFFLINE": "1", "PYTHONPATH": str(ROOT)}, timeout=300)
    assert proc.returncode == 0, proc.stderr
    assert sorted(p.relative_to(out).as_posix() for p in out.rglob("*.json")) == [
        "day1/talk.json", "day2/morning/talk.json", "intro.json"]
    assert Analysis.from_json(out / "day2/morning/talk.json").media.path == str(talks / "day2/morning/talk.mp4")
    assert "not searched" not in proc.stderr and f"-> {out / 'day1' / 'talk.json'}" in proc.stdout, proc.stdout


def test_help_says_each_default_once(capsys):
    """``train.train --help`` said "(default: the config's) (default: None)" for 9 options; ``python -m mmsent
    --help``, "(default: None)" for --version, a flag that takes no value."""
    import mmsent.__main__ as cli

    parser = argparse.ArgumentParser(formatter_class=HelpFormatter)
    parser.add_argument("--fusion", help="log-linear or mlp (default: the config's)")
    parser.add_argument("--epochs", type=int, default=3, help="passes over the data")
    text = " ".join(parser.format_help().split())
    assert "(default: the config's)" in text and "default: None" not in text and "passes over the data (default: 3)" \
        in text, text
    with pytest.raises(SystemExit):
        cli.main(["--help"])
    text = " ".join(capsys.readouterr().out.split())
    assert "--version print mmsent's version" in text and "default: None" not in text, text


def test_skip_existing_goes_on_where_an_earlier_run_stopped(tmp_path, capsys):
    """A folder's run that was interrupted began again from its first file. With --skip-existing a file whose
    results are all in --out, and whose JSON names it, this model and these senses, is not analysed again; a
    file with a format missing, or whose results were made with other senses, is."""
    import mmsent.__main__ as cli

    a, b = toned_video(tmp_path / "a.mp4"), toned_video(tmp_path / "b.mp4")
    out, quick = tmp_path / "out", ["--senses", "words", "--no-contributions", "--skip-existing"]
    assert cli.main(["analyze", str(a), str(b), "--out", str(out), "--format", "json,csv", *quick]) == 0
    assert "not analysed again" not in capsys.readouterr().out
    made = (out / "a.json").stat().st_mtime_ns
    (out / "b.csv").unlink()  # as if the run had been interrupted while writing b's results
    assert cli.main(["analyze", str(a), str(b), "--out", str(out), "--format", "json,csv", *quick]) == 0
    said = capsys.readouterr().out
    assert (f"{a}: its results are in {out} from an earlier run (a.json, a.csv): not analysed again "
            "(--skip-existing)") in said and f"{b}: 1 segment" in said, said
    assert (out / "a.json").stat().st_mtime_ns == made and (out / "b.csv").is_file()
    assert cli.main(["analyze", str(a), "--out", str(out), "--format", "json", *quick, "--senses", "words,voice"]) == 0
    said = capsys.readouterr()
    assert "not analysed again" not in said.out and (out / "a.json").stat().st_mtime_ns != made
    assert (f"{a}: the results in {out} from an earlier run were made with other senses (words; now words, voice): "
            "analysed again, not kept (--skip-existing)") in said.err, said.err
    sound = tmp_path / "a.m4a"  # no picture: no annotated video to wait for
    mediagen.ffmpeg("-i", a, "-vn", "-c:a", "copy", sound)
    for _ in range(2):
        assert cli.main(["analyze", str(sound), "--out", str(out / "sound"), "--format", "json,mp4", *quick]) == 0
    assert f"{sound}: its results are in {out / 'sound'} from an earlier run (a.json): not analysed again" in \
        capsys.readouterr().out
    with pytest.raises(SystemExit):
        cli.main(["analyze", str(a), "--out", str(out), "--format", "csv", "--skip-existing"])
    assert "--skip-existing tells an earlier run's results by their JSON" in capsys.readouterr().err


def test_skip_existing_analyses_again_what_a_model_trained_again_into_its_folder_reads(tmp_path, capsys):
    """The model was told by its folder, sources and branches: results of a checkpoint trained again into the same
    folder (runs/mine, the weights changed) were kept as done, and a checkpoint moved made its results again. The
    JSON names its weights' sha256, which tells the model, wherever its folder is and whatever its name."""
    import mmsent.__main__ as cli
    from mmsent.checkpoint import save_checkpoint
    from mmsent.config import tiny_config
    from mmsent.model import build_model

    sound, folder = mediagen.make_audio(tmp_path / "memo.wav", 1.0), tmp_path / "mine"
    argv = ["analyze", str(sound), "--out", str(tmp_path / "out"), "--checkpoint", str(folder), "--skip-existing"]
    why = (f"{sound}: the results in {tmp_path / 'out'} from an earlier run were made by other weights of mine (its "
           "checkpoint was written again since): analysed again, not kept (--skip-existing)")
    for trained, analysed, said in ((True, True, False), (False, False, False), (True, True, True)):
        if trained:
            save_checkpoint(build_model(tiny_config(trained_branches=("audio",))), folder)  # random weights
        assert cli.main(argv) == 0
        out, err = capsys.readouterr()
        assert ("not analysed again" not in out) == analysed and (why in err) == said, err
    digest = json.loads((folder / "config.json").read_text(encoding="utf-8"))["weights_sha256"]
    assert Analysis.from_json(tmp_path / "out" / "memo.json").model["weights_sha256"] == digest
    moved = shutil.copytree(folder, tmp_path / "elsewhere" / "mine")  # the same model in another folder: results kept
    renamed = shutil.copytree(folder, tmp_path / "mine-copy")  # and under another name: a copy was "set up otherwise"
    for checkpoint in (moved, renamed):
        assert cli.main([*argv[:-3], "--checkpoint", str(checkpoint), "--skip-existing"]) == 0
        assert "not analysed again" in capsys.readouterr().out


def test_skip_existing_analyses_again_what_an_older_mmsent_wrote(tmp_path, capsys):
    """--skip-existing took results an older mmsent wrote for done: a JSON of schema version 1 (no sense's own
    reading, no face box) or one written before segments named their speaker was kept, the fuller answer of this
    version never written. Now such a file is analysed again, its line saying why; this version's is not."""
    import mmsent.__main__ as cli

    talk = talking_video(tmp_path / "talk.mp4", ["Good morning, everyone."]).path
    vtt = tmp_path / "talk.vtt"
    vtt.write_text("WEBVTT\n\n00:00:00.300 --> 00:00:01.800\n<v Bob>Good morning, everyone.\n", encoding="utf-8")
    out = tmp_path / "out"
    argv = ["analyze", str(talk), "--subtitles", str(vtt), "--out", str(out), "--format", "json", "--senses", "words",
            "--no-contributions", "--skip-existing"]
    assert cli.main(argv) == 0
    written = json.loads((out / "talk.json").read_text(encoding="utf-8"))
    assert [s["speaker"] for s in written["segments"] if s["kind"] == "speech"] == ["Bob"], written
    version_1 = written | {"schema_version": 1, "segments": [{k: v for k, v in s.items() if k not in (
        "per_modality", "face_box", "speaker")} for s in written["segments"]]}
    no_speakers = written | {"segments": [{k: v for k, v in s.items() if k != "speaker"} for s in written["segments"]]}
    no_weights = written | {"model": {k: v for k, v in written["model"].items() if k != "weights_sha256"}}
    for older, why in ((version_1, "its JSON is schema version 1, this mmsent writes 2"),
                       (no_speakers, "its JSON lacks speaker, which this mmsent writes"),
                       (no_weights, "its JSON lacks weights_sha256, which this mmsent writes")):
        (out / "talk.json").write_text(json.dumps(older), encoding="utf-8")
        capsys.readouterr()
        assert cli.main(argv) == 0
        said = capsys.readouterr()
        assert "not analysed again" not in said.out and f"{talk}: 1 segment" in said.out, said
        assert (f"{talk}: the results in {out} from an earlier run are an older mmsent's ({why}): analysed again, not "
                "kept (--skip-existing)") in said.err, said.err
        assert json.loads((out / "talk.json").read_text(encoding="utf-8")) == written
    assert cli.main(argv) == 0
    assert f"{talk}: its results are in {out} from an earlier run (talk.json): not analysed again" in \
        capsys.readouterr().out


def read_summary(path):
    with open(path, newline="", encoding="utf-8-sig") as f:
        return list(csv.DictReader(f))


def test_summary_gives_one_row_per_file_and_the_same_figures_when_done_before(tmp_path, capsys):
    """A folder's run left a JSON file per input to parse to compare them. --summary FILE is one table: a row per
    file in the run's order (a file named twice: one row), analysed or failed with the reason the run said; a run
    again with --skip-existing gives each file done before, with the figures its JSON holds."""
    import mmsent.__main__ as cli
    from mmsent.results import Analysis

    talks = tmp_path / "talks"
    talks.mkdir()
    talking_video(talks / "a.mp4", ["Good morning, everyone."])
    talking_video(talks / "b.mp4", ["I got the job."])
    (talks / "broken.mp4").write_text("this is not a video")
    out, summary = tmp_path / "out", tmp_path / "tables" / "summary.csv"  # its folder made, as --out's
    argv = ["analyze", str(talks), str(talks / ".." / "talks" / "a.mp4"), "--out", str(out), "--format", "json,csv",
            "--senses", "words", "--no-contributions", "--summary", str(summary), *ENGLISH]
    assert cli.main(argv) == 1  # a file failed: the exit status says so, as without --summary
    said = capsys.readouterr()
    first = read_summary(summary)
    assert [(r["file"], r["status"]) for r in first] == [(str(talks / "a.mp4"), "analysed"),
                                                         (str(talks / "b.mp4"), "analysed"),
                                                         (str(talks / "broken.mp4"), "failed")]
    assert f"FAILED {talks / 'broken.mp4'}: {first[2]['reason']}\n" in said.err and first[2]["reason"]
    assert all(v == "" for k, v in first[2].items() if k not in ("file", "status", "reason"))
    for row, name in zip(first, ("a", "b")):
        analysis = Analysis.from_json(out / f"{name}.json")
        assert row["json"] == str(out / f"{name}.json") and row["reason"] == ""
        assert int(row["segments"]) == len(analysis.segments) and row["overall"] == analysis.summary().overall
        assert float(row["duration (s)"]) == pytest.approx(analysis.media.duration, abs=0.005)
        assert sum(float(row[f"share {k}"]) for k in analysis.emotion_labels) == pytest.approx(1, abs=4e-4)
    assert f"summary of 3 files -> {summary}" in said.out
    (out / "a.csv").write_text("another file's\n")  # left by another a.mp4's run: not taken as this one's
    assert cli.main([*argv, "--skip-existing"]) == 1
    again = read_summary(summary)
    assert [r["status"] for r in again] == ["done before", "done before", "failed"]
    assert [{**r, "status": ""} for r in again] == [{**r, "status": ""} for r in first]
    fresh = mmsent.export.write(Analysis.from_json(out / "a.json"), tmp_path / "fresh", "csv")[0]
    assert (out / "a.csv").read_bytes() == fresh.read_bytes()  # written again from its JSON


def test_patterns_names_and_files_named_twice_as_a_user_gives_them(tmp_path, capsys, monkeypatch):
    """A quoted pattern (or one from a shell that leaves patterns to programs) was said to match nothing; a file
    named twice that failed had two rows and counted as two failures; a name that is not UTF-8 was analysed, then
    its results could not name it, and the --summary failed with a traceback. None of these files needs the model."""
    import mmsent.__main__ as cli

    monkeypatch.setattr(cli, "load_model", lambda *a, **k: pytest.fail("the model was loaded"))
    files = tmp_path / "files"
    files.mkdir()
    for name in (b"caf\xe9.mp4", b"x.mp4", b"y.mp4"):
        (files / os.fsdecode(name)).write_text("not a video")
    summary = tmp_path / "summary.csv"
    assert cli.main(["analyze", str(files / "*.mp4"), str(files / ".." / "files" / "x.mp4"), "--out",
                     str(tmp_path / "out"), "--summary", str(summary)]) == 1
    said = capsys.readouterr()
    assert f"{files / '..' / 'files' / 'x.mp4'}: the same file as {files / 'x.mp4'}: analysed once" in said.out
    assert "3 of 3 files failed" in said.err
    rows = read_summary(summary)
    assert [r["file"] for r in rows] == [f"{files}/caf\\xe9.mp4", str(files / "x.mp4"), str(files / "y.mp4")]
    assert rows[0]["reason"] == ("its name is not UTF-8 (an older system's encoding): rename the file, e.g. with "
                                 "convmv, and give its new name.")
    assert rows[1]["reason"] == rows[2]["reason"] != rows[0]["reason"]


def test_a_file_added_beside_another_of_its_name_leaves_the_others_results_alone(tmp_path, capsys):
    """A resumed run (--skip-existing) over a folder where a.mp4 was added beside a.wav, whose a.json an earlier run
    left: a.mp4, first in order, wrote over them, then a.wav failed for taking a.mp4's name."""
    import mmsent.__main__ as cli

    folder, out = tmp_path / "talks", tmp_path / "out"
    folder.mkdir()
    video = toned_video(tmp_path / "a.mp4")
    mediagen.ffmpeg("-i", video, "-vn", folder / "a.wav")
    argv = ["analyze", str(folder), "--out", str(out), "--no-contributions", "--skip-existing"]
    assert cli.main(argv) == 0
    shutil.copy(video, folder / "a.mp4")
    capsys.readouterr()
    assert cli.main(argv) == 1
    said = capsys.readouterr()
    assert f"FAILED {folder / 'a.mp4'}: its results would overwrite those of {folder / 'a.wav'}" in said.err
    assert f"{folder / 'a.wav'}: its results are in {out} from an earlier run (a.json): not analysed again" in said.out
    assert json.loads((out / "a.json").read_text())["media"]["path"] == str(folder / "a.wav")


@pytest.mark.parametrize("stop", ["ctrl-c", "full disk"])
def test_summary_after_a_run_that_stopped_lists_the_files_left_as_not_analysed(tmp_path, monkeypatch, capsys, stop):
    """Ctrl-C (or SIGTERM) and a full disk stop a run: the table is still written, of what is known, each file
    that the run did not reach or finish as not analysed, and why."""
    import errno

    import mmsent.__main__ as cli
    import mmsent.batch as batch

    good = toned_video(tmp_path / "a.mp4")
    for name in ("b.mp4", "c.mp4"):
        (tmp_path / name).write_bytes(good.read_bytes())
    analyze = batch.analyze

    def interrupted(video, *args, **kwargs):
        if video.name == "b.mp4":
            raise KeyboardInterrupt
        return analyze(video, *args, **kwargs)

    def full(*args, **kwargs):
        raise OSError(errno.ENOSPC, "No space left on device")

    monkeypatch.setattr(*(batch, "analyze", interrupted) if stop == "ctrl-c" else (batch, "write", full))
    summary = tmp_path / "summary.csv"
    status = cli.main(["analyze", str(tmp_path), "--out", str(tmp_path / "out"), "--senses", "words",
                       "--no-contributions", "--summary", str(summary)])
    assert status == (cli.EXIT_INTERRUPTED if stop == "ctrl-c" else 1)
    rows = read_summary(summary)
    assert [r["file"] for r in rows] == [str(tmp_path / n) for n in ("a.mp4", "b.mp4", "c.mp4")]
    why = "the run was interrupted" if stop == "ctrl-c" else "the run stopped: No space left on device"
    assert [(r["status"], r["reason"]) for r in rows[1:]] == [("not analysed", why)] * 2
    assert rows[0]["status"] == ("analysed" if stop == "ctrl-c" else "failed"), rows[0]
    assert f"summary of 3 files -> {summary}" in capsys.readouterr().out


def test_a_summary_that_can_not_be_written_fails_the_run(tmp_path, monkeypatch, capsys):
    """The disk full by the end of the run: said, and the exit status is 1 (the results themselves are written)."""
    import errno

    import mmsent.__main__ as cli
    import mmsent.batch as batch

    def full(*args, **kwargs):
        raise OSError(errno.ENOSPC, "No space left on device")

    monkeypatch.setattr(batch, "write_summary", full)
    (tmp_path / "broken.mp4").write_text("this is not a video")
    summary = tmp_path / "summary.csv"
    assert cli.main(["analyze", str(tmp_path / "broken.mp4"), "--out", str(tmp_path), "--summary", str(summary)]) == 1
    assert f"FAILED --summary {summary}: it can't be written (No space left on device)" in capsys.readouterr().err


@pytest.mark.parametrize("summary, said", [
    ("", "--summary: no file given: the path is empty"),
    ("{tmp}", "--summary {tmp} is a folder: give the table's file name (e.g. {tmp}/summary.csv)"),
    ("{tmp}/summary.xlsx", "--summary {tmp}/summary.xlsx: the summary is a CSV table: give a name ending in .csv"),
    ("{tmp}/a file/summary.csv", "--summary {tmp}/a file/summary.csv: its folder can't be written (Not a directory)"),
    ("{tmp}/clip.csv", "--summary {tmp}/clip.csv would overwrite an input of this run ({tmp}/clip.csv)"),
    ("{tmp}/out/../out/talk.csv", "--summary {tmp}/out/../out/talk.csv would overwrite a result of this run "
                                  "({tmp}/out/talk.csv)"),  # talk.mp4's CSV, not written yet
])
def test_a_summary_path_that_can_not_be_the_table_is_refused_before_work(tmp_path, monkeypatch, capsys, summary, said):
    (tmp_path / "a file").write_text("")
    assert said.format(tmp=tmp_path) in refused(
        ["analyze", str(tmp_path / "talk.mp4"), str(tmp_path / "clip.csv"), "--out", str(tmp_path / "out"), "--format",
         "json,csv", "--summary", summary.format(tmp=tmp_path)], capsys, monkeypatch)


def test_a_file_whose_results_can_not_be_written_fails_before_its_analysis(tmp_path, capsys, monkeypatch):
    """Only an annotated video (--format mp4) of a sound: it was analysed, then failed as "no export format named";
    a folder where a result goes: analysed, then "[Errno 21] Is a directory: '.../.talk.json.zr47_3v7.tmp'"."""
    import mmsent.__main__ as cli

    talk = toned_video(tmp_path / "talk.mp4")
    sound = tmp_path / "tone.m4a"
    mediagen.ffmpeg("-i", talk, "-vn", "-c:a", "copy", sound)
    out = tmp_path / "out"
    (out / "talk.json").mkdir(parents=True)
    monkeypatch.setattr(cli, "load_model", lambda *a, **k: pytest.fail("the model was loaded"))
    assert cli.main(["analyze", str(sound), "--out", str(out), "--format", "mp4"]) == 1
    assert (f"FAILED {sound}: it has no picture to draw the annotated video (--format mp4) on: ask for results it has, "
            "e.g. --format json,csv") in capsys.readouterr().err
    assert cli.main(["analyze", str(talk), "--out", str(out), "--format", "json,csv"]) == 1
    assert (f"FAILED {talk}: its results would replace the folder {out / 'talk.json'}: move that folder, or write "
            "them into another one (--out DIR)") in capsys.readouterr().err
    assert [p.name for p in out.iterdir()] == ["talk.json"]


def test_a_file_whose_results_no_file_system_can_name_fails_before_its_analysis(tmp_path, capsys):
    """A name of 246 bytes fits; its annotated video's, 260 bytes, does not. The file was analysed and its JSON
    written, then it failed with ffmpeg's lines ("Error opening output file ... Broken pipe"); a name that can't
    exist at all (300 bytes) gave a traceback."""
    import mmsent.__main__ as cli

    video = talking_video(tmp_path / "talk.mp4", ["Good morning, everyone."]).path.rename(tmp_path / ("y" * 246 + ".mp4"))
    impossible = tmp_path / ("x" * 300 + ".mp4")
    out = tmp_path / "out"
    assert cli.main(["analyze", str(video), str(impossible), "--out", str(out), "--format", "json,mp4"]) == 1
    err = capsys.readouterr().err
    assert f"FAILED {video}: its results' names would be too long for the file system" in err
    assert f"FAILED {impossible}: its results' names would be too long" in err and "Traceback" not in err
    assert list(out.iterdir()) == []


def test_a_sound_file_is_not_refused_for_the_name_of_an_annotated_video_it_never_gets(tmp_path, capsys, monkeypatch):
    """A file without a picture gets no annotated video: a sound file of a 246-byte name, whose JSON's name fits
    (251 bytes), was refused for its annotated video's (260 bytes); talk.m4a, for overwriting an input named
    talk.annotated.mp4. Whether it has a picture is probed once, as the analysis probes it anyway."""
    import mmsent.__main__ as cli
    import mmsent.batch as batch
    from mmsent import pipeline

    talk = toned_video(tmp_path / "talk.mp4")
    sound = tmp_path / ("y" * 246 + ".m4a")
    mediagen.ffmpeg("-i", talk, "-vn", "-c:a", "copy", sound)
    probed, probe = [], pipeline.media.probe

    def counted(path, audio_track=None):
        probed.append(path)
        return probe(path, audio_track)

    monkeypatch.setattr(pipeline.media, "probe", counted)
    monkeypatch.setattr(batch, "probe", counted, raising=False)
    out = tmp_path / "out"
    assert cli.main(["analyze", str(sound), "--out", str(out), "--format", "json,mp4", "--senses", "words",
                     "--no-contributions"]) == 0, capsys.readouterr().err
    assert [p.name for p in out.iterdir()] == ["y" * 246 + ".json"] and probed == [sound]
    assert "(no annotated video: it has no picture to draw on)" in capsys.readouterr().out
    shutil.copy(talk, out / "talk.annotated.mp4")  # talk.m4a's annotated video's name: it never gets one
    sound = out / "talk.m4a"
    mediagen.ffmpeg("-i", talk, "-vn", "-c:a", "copy", sound)
    assert cli.main(["analyze", str(sound), str(out / "talk.annotated.mp4"), "--out", str(out), "--format", "json,mp4",
                     "--senses", "words", "--no-contributions"]) == 0, capsys.readouterr().err
    assert (out / "talk.json").is_file() and (out / "talk.annotated.annotated.mp4").is_file()


def test_a_file_without_the_command_is_told_the_command_and_analyse_is_analyze(tmp_path):
    """`mmsent talk.mp4` said "argument command: invalid choice: 'talk.mp4' (choose from 'info', 'analyze')", and
    `mmsent analyse talk.mp4` (the README's own spelling in its prose) the same; a shell's pattern that matched
    nothing (`*.mp4` in an empty folder) failed as "*.mp4: file not found; check the path"."""
    def run(*argv):
        return subprocess.run([sys.executable, "-m", "mmsent", *argv], capture_output=True, text=True, cwd=tmp_path,
                              env=os.environ | {"PYTHONPATH": str(ROOT)}, timeout=120)
    proc = run("my talk.mp4")
    assert proc.returncode == 2 and "error: my talk.mp4 is not a command: to analyse it, python -m mmsent analyze " \
        "'my talk.mp4'" in proc.stderr, proc.stderr
    proc = run("analyse", "*.mp4")
    assert proc.returncode == 1 and "FAILED *.mp4: no file matches this pattern; check the folder" in proc.stderr, \
        proc.stderr


def test_a_subtitle_file_found_beside_a_video_is_in_the_language_its_name_tags(tmp_path):
    """With --subtitles auto and --language de (for the speech of the videos without subtitles), talk.en.srt beside
    talk.mp4 was read as German: the speech was translated for the words, and the English subtitles' words left
    unread. A tagged file is in its tag's language; an untagged one in --language's."""
    import mmsent.batch as batch

    german = AnalysisOptions(language="de")
    # marks alone (for the deaf and hard of hearing, the track to show first) and a Subs folder's file tag no language
    for name, language in (("talk.en.srt", None), ("talk.srt", "de"), ("talk.sdh.srt", "de"),
                           ("talk.default.srt", "de"), ("Subs/talk.srt", "de"), ("talk.eng.sdh.srt", None)):
        folder = tmp_path / name.replace("/", "_")
        (folder / name).parent.mkdir(parents=True)
        (folder / "talk.mp4").touch()
        (folder / name).touch()
        assert subtitles_beside(folder / "talk.mp4") == folder / name
        options = batch._with_subtitles_beside(folder / "talk.mp4", folder / name, german)
        assert Path(options.subtitles) == folder / name and options.language == language
    assert batch._with_subtitles_beside(tmp_path / "talk.mp4", None, german).language == "de"


def test_files_may_come_after_options(tmp_path, capsys):
    """`analyze a.mp4 --subtitles a.srt b.mp4` (files after an option, as cp or ls take them) was refused as
    "unrecognized arguments: b.mp4"; the files are all read, and the call is then refused for what it asks (the
    subtitles belong to one video); an option mmsent lacks is still refused naming it."""
    import mmsent.__main__ as cli

    for argv, said in ((["a.mp4", "--subtitles", "a.srt", "b.mp4"], "--subtitles belongs to one video"),
                       (["a.mp4", "--format", "csv", "b.mp4", "--bogus"], "unrecognized arguments: --bogus")):
        with pytest.raises(SystemExit) as e:
            cli.main(["analyze", *argv, "--out", str(tmp_path)])
        err = capsys.readouterr().err
        assert e.value.code == 2 and said in err and "b.mp4" not in err.split("error:")[-1], err
