"""train.served: labelled clips through the real analysis (speech recognition, segments, the voice as cut)."""

import json

import pytest
import torch

from mmsent.checkpoint import save_checkpoint
from mmsent.config import tiny_config
from mmsent.model import build_model
from train.served import main


@pytest.fixture(scope="module")
def checkpoint(tmp_path_factory):
    torch.manual_seed(0)
    model = build_model(tiny_config(trained_branches=("text", "audio")))
    return save_checkpoint(model, tmp_path_factory.mktemp("ckpt"), training={"note": "untrained, for plumbing"})


@pytest.mark.parametrize("senses", [("text", "audio"), ("text",)])
def test_each_clip_is_analysed_and_its_speech_segment_answers(senses, checkpoint, shared_data, tmp_path, capsys):
    """The clip's speech segment that the model read answers, by any sense: before, only one the voice read did, so a
    model that reads the words alone (MELD's sense) had none, and every clip was a miss ("none of its 2 clips gave an
    answer")."""
    if senses == ("text",):
        torch.manual_seed(0)
        checkpoint = save_checkpoint(build_model(tiny_config(trained_branches=senses)), tmp_path / "words")
    clips = tmp_path / "clips"
    for folder, name in (("angry", "03-01-05-01-01-01-18.flac"), ("neutral", "03-01-01-01-01-01-18.flac")):
        (clips / folder).mkdir(parents=True)
        (clips / folder / name).symlink_to(shared_data / "ravdess" / "Actor_18" / name)
    out = tmp_path / "served.json"
    assert main(["--checkpoint", str(checkpoint), "--data", f"folders={clips}", "--json", str(out)]) == 0
    report = json.loads(out.read_text())["clips"]
    assert report["n"] == 2 and report["no_speech_segment"] == 0  # RAVDESS's sentence is heard in both
    assert report["read"] == {"fused": 2} | dict.fromkeys(senses, 2)  # the untrained face is never read
    assert all(v in (0.0, 0.5, 1.0) for v in report["accuracy"].values())
    assert f"clips: {json.dumps(report)}" in capsys.readouterr().out


def test_a_bad_corpus_is_a_clear_error(checkpoint, tmp_path, capsys):
    with pytest.raises(SystemExit) as e:
        main(["--checkpoint", str(checkpoint), "--data", f"nonsense={tmp_path}"])
    assert e.value.code == 2 and "unknown corpus 'nonsense'" in capsys.readouterr().err


def test_a_clip_that_cannot_be_read_is_a_miss_and_the_run_goes_on(checkpoint, shared_data, tmp_path):
    """A damaged clip (a real corpus has some) is counted as unreadable and as a miss for the fused answer and
    for each sense alike, so that all figures count the same clips ("read": the clips each one answered); the
    answers are also reported in train.evaluate's layout; a corpus named twice keeps both reports."""
    clips = tmp_path / "clips"
    (clips / "angry").mkdir(parents=True)
    name = "03-01-05-01-01-01-18.flac"
    (clips / "angry" / name).symlink_to(shared_data / "ravdess" / "Actor_18" / name)
    (clips / "angry" / "damaged.wav").write_bytes(b"RIFF\x24\x00\x00\x00WAVEfmt ")  # a header cut short
    out = tmp_path / "served.json"
    assert main(["--checkpoint", str(checkpoint), "--data", f"folders={clips}", "--data", f"folders={clips}",
                 "--json", str(out)]) == 0
    report = json.loads(out.read_text())
    assert set(report) == {"clips", "clips-2"} and report["clips"] == report["clips-2"]
    r = report["clips"]
    assert r["n"] == 2 and r["unreadable"] == 1 and r["read"] == {"fused": 1, "text": 1, "audio": 1}
    assert set(r["accuracy"]) == {"fused", "text", "audio"} and all(v in (0.0, 0.5) for v in r["accuracy"].values())
    assert r["emotion"]["n"] == 1 and sum(map(sum, r["emotion"]["confusion"]["matrix"])) == 1


def test_a_json_path_that_cannot_be_written_is_told_before_any_clip_is_analysed(checkpoint, shared_data, tmp_path,
                                                                                  capsys, monkeypatch):
    """Before, a --json that was a folder, or under a file, failed with a traceback after every clip was
    analysed; a --json in a folder not yet made failed the same way (train.evaluate makes it)."""
    clips = tmp_path / "clips"
    (clips / "angry").mkdir(parents=True)
    (clips / "angry" / "damaged.wav").write_bytes(b"RIFF\x24\x00\x00\x00WAVEfmt ")  # quick: a miss, not analysed
    (tmp_path / "afile").write_text("")
    monkeypatch.setattr("train.served.served", lambda *a, **k: pytest.fail("analysed before the refusal"))
    for json_path, said in ((tmp_path, "is a folder: give a file's name"),
                            (tmp_path / "afile" / "x.json", "afile is a file, not a folder"),
                            ("", "--json is empty: give a file's name")):
        with pytest.raises(SystemExit) as e:
            main(["--checkpoint", str(checkpoint), "--data", f"folders={clips}", "--json", str(json_path)])
        assert e.value.code == 2 and said in capsys.readouterr().err
    monkeypatch.undo()
    (clips / "angry" / "damaged.wav").unlink()
    name = "03-01-05-01-01-01-18.flac"
    (clips / "angry" / name).symlink_to(shared_data / "ravdess" / "Actor_18" / name)
    out = tmp_path / "new" / "served.json"
    assert main(["--checkpoint", str(checkpoint), "--data", f"folders={clips}", "--json", str(out)]) == 0
    assert json.loads(out.read_text())["clips"]["n"] == 1


def test_a_corpus_of_images_or_of_words_alone_is_refused_before_any_work(checkpoint, tmp_path, capsys):
    """Before, fer2013= images were each analysed and refused ("a still image, not a video"), and a MELD CSV
    without its clips gave n 0: figures of nothing, said as a success."""
    faces = tmp_path / "faces" / "happy"
    faces.mkdir(parents=True)
    (faces / "a.jpg").write_bytes(b"\xff\xd8\xff" + bytes(2000))
    meld = tmp_path / "dev_sent_emo.csv"
    meld.write_text("Sr No.,Utterance,Speaker,Emotion,Sentiment,Dialogue_ID,Utterance_ID,Season,Episode,StartTime,"
                    "EndTime\n1,Okay.,Ross,neutral,neutral,0,0,1,1,\"00:00:01,000\",\"00:00:02,000\"\n")
    for spec, said in ((f"fer2013={tmp_path / 'faces'}", "fer2013= gives face images"),
                       (f"meld={meld}", "no clips to analyse")):
        with pytest.raises(SystemExit) as e:
            main(["--checkpoint", str(checkpoint), "--data", spec])
        assert e.value.code == 2 and said in capsys.readouterr().err


def test_clips_that_gave_no_speech_segment_are_named(checkpoint, tmp_path, caplog):
    """Before, "no_speech_segment" counted them and no line said which clips they were (unreadable ones are named)."""
    from tests.mediagen import make_audio

    clips = tmp_path / "clips"
    (clips / "sad").mkdir(parents=True)
    make_audio(clips / "sad" / "hush.wav", duration=1.0, source="silence")
    with caplog.at_level("WARNING", logger="train.served"):
        assert main(["--checkpoint", str(checkpoint), "--data", f"folders={clips}"]) == 2  # none answered: an error
    assert f"no speech segment that the model read (counted as a miss): {clips / 'sad' / 'hush.wav'}" in caplog.text


def test_a_corpus_of_which_no_clip_gives_an_answer_is_an_error(checkpoint, tmp_path, capsys):
    """Before, a corpus whose every clip failed printed "accuracy": {} and exited 0, where train.evaluate stops with
    an error: figures of nothing, said as a success. Now it is an error that says what failed."""
    from tests.mediagen import make_audio

    clips = tmp_path / "clips"
    (clips / "sad").mkdir(parents=True)
    make_audio(clips / "sad" / "hush.wav", duration=1.0, source="silence")
    (clips / "sad" / "damaged.wav").write_bytes(b"RIFF\x24\x00\x00\x00WAVEfmt ")
    out = tmp_path / "served.json"
    assert main(["--checkpoint", str(checkpoint), "--data", f"folders={clips}", "--json", str(out)]) == 2
    err = capsys.readouterr().err
    assert ("error: clips: none of its 2 clips gave an answer (1 could not be analysed, 1 gave no speech segment "
            "that the model read; each is named above)") in err
    assert not out.exists()


def test_the_figures_name_the_checkpoint_that_gave_them(checkpoint, tmp_path, monkeypatch):
    """Before, served's figures named no model (train.evaluate's name its "checkpoint"): two runs' JSON files could
    not be told apart."""
    clips = tmp_path / "clips"
    (clips / "sad").mkdir(parents=True)
    (clips / "sad" / "a.wav").write_bytes(b"")
    monkeypatch.setattr("train.served.served", lambda *a, **k: {"n": 1})  # the analysis is not what is checked
    out = tmp_path / "served.json"
    assert main(["--checkpoint", str(checkpoint), "--data", f"folders={clips}", "--json", str(out)]) == 0
    assert json.loads(out.read_text())["clips"]["checkpoint"] == str(checkpoint.resolve())


def test_a_model_of_other_labels_is_refused_before_any_clip_is_analysed(tmp_path, capsys, monkeypatch):
    """A model whose emotions share no name with the 7 MELD emotions was scored to NaN ("invalid value encountered in
    divide") with an accuracy of 1.0; one of other names or order scored what it does not answer."""
    from mmsent.labels import EMOTIONS

    clips = tmp_path / "clips"
    (clips / "angry").mkdir(parents=True)
    (clips / "angry" / "a.wav").write_bytes(b"")
    monkeypatch.setattr("train.served.served", lambda *a, **k: pytest.fail("analysed before the refusal"))
    for emotions in (("happy", "sad", "calm"), tuple(reversed(EMOTIONS))):
        folder = save_checkpoint(build_model(tiny_config(emotions=emotions, trained_branches=("audio",))),
                                 tmp_path / emotions[0])
        with pytest.raises(SystemExit) as e:
            main(["--checkpoint", str(folder), "--data", f"folders={clips}"])
        assert e.value.code == 2 and (f"{folder}: its emotions are {list(emotions)}; train.evaluate and train.served "
                                      f"score the 7 MELD emotions {list(EMOTIONS)}, in that order"
                                      ) in capsys.readouterr().err


def test_path_options_expand_a_leading_tilde(checkpoint, tmp_path, monkeypatch):
    """--checkpoint ~/ckpt (quoted, or --checkpoint=~/ckpt: no shell expands it) was "no such checkpoint folder", and
    --json ~/out/s.json wrote into a folder named ~ here."""
    home, here = tmp_path / "home", tmp_path / "here"
    (home / "clips" / "sad").mkdir(parents=True), here.mkdir()
    (home / "clips" / "sad" / "a.wav").write_bytes(b"")
    (home / "ckpt").symlink_to(checkpoint)
    monkeypatch.setenv("HOME", str(home))
    monkeypatch.chdir(here)
    monkeypatch.setattr("train.served.served", lambda *a, **k: {"n": 1})  # the analysis is not what is checked
    assert main(["--checkpoint", "~/ckpt", "--data", "folders=~/clips", "--json", "~/out/s.json"]) == 0
    assert json.loads((home / "out" / "s.json").read_text())["clips"]["checkpoint"] == str(checkpoint.resolve())
    assert not list(here.iterdir())
