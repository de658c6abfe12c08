"""Evaluation: metrics checked by hand, and the CLI on a MELD-format CSV and a RAVDESS-layout folder."""

import csv
import json

import numpy as np
import pytest
import torch

from mmsent.checkpoint import DEFAULT_CHECKPOINT, read_config, save_checkpoint
from mmsent.config import tiny_config
from mmsent.model import build_model
from train.calibrate import TEMPERATURES, grid_end, grid_temperature
from train.corpora import read_data_spec
from train.evaluate import main, read_sentences, unreadable, with_voices, with_words
from train.metrics import classification_report, expected_calibration_error, selection_score
from train.synthetic import MELD_HEADER

ROWS = [  # (utterance, emotion, sentiment) in MELD's spelling
    ("Oh my God, that\u2019s wonderful!", "joy", "positive"),
    ("I can't believe you did that.", "anger", "negative"),
    ("Okay.", "neutral", "neutral"),
    ("What?! Really?", "surprise", "positive"),
    ("I miss her so much.", "sadness", "negative"),
    ("Ew, get it away from me.", "disgust", "negative"),
]


def test_report_figures_by_hand():
    probs = np.array([[0.9, 0.1, 0.0], [0.2, 0.8, 0.0], [0.6, 0.4, 0.0], [0.1, 0.2, 0.7]])
    labels = np.array([0, 1, 1, 2])
    r = classification_report(probs, labels, ("a", "b", "c"))
    assert r["accuracy"] == pytest.approx(0.75)
    # class a: P 1/2 R 1 F1 2/3; b: P 1 R 1/2 F1 2/3; c: P 1 R 1 F1 1
    assert r["macro_f1"] == pytest.approx((2 / 3 + 2 / 3 + 1) / 3)
    assert r["weighted_f1"] == pytest.approx((2 / 3 * 1 + 2 / 3 * 2 + 1 * 1) / 4)
    assert r["confusion"]["matrix"] == [[1, 0, 0], [1, 1, 0], [0, 0, 1]]
    assert r["per_class"]["a"]["precision"] == pytest.approx(0.5)
    # ECE: bins of confidence 0.9 (right), 0.8 (right), 0.6 (wrong), 0.7 (right)
    assert expected_calibration_error(probs, labels) == pytest.approx((0.1 + 0.2 + 0.6 + 0.3) / 4)
    assert selection_score({"meld": {"emotion": r, "sentiment": r}, "ravdess": {"emotion": r}}) == pytest.approx(
        (r["weighted_f1"] * 2 + 0.75) / 3)


def test_a_class_with_no_sample_or_never_predicted_has_no_figure_where_it_is_undefined():
    """per_class said 0.0 for the recall and F1 of a class with no sample and for the precision of one never
    predicted: a reader of the JSON could not tell "no clips of it" from "0 of N right". Those are null now; the
    averages are as before. train.fer's record of the expression CNN says the same."""
    from mmsent.labels import EMOTIONS
    from train.fer import metrics

    labels, preds = np.array([0, 1, 1, 2, 2]), np.array([0, 0, 2, 2, 3])
    r = classification_report(np.eye(len(EMOTIONS))[preds], labels, EMOTIONS)
    anger, disgust, fear, joy, *absent = r["per_class"].values()
    assert anger == {"precision": 0.5, "recall": 1.0, "f1": pytest.approx(2 / 3), "support": 1}
    assert disgust == {"precision": None, "recall": 0.0, "f1": 0.0, "support": 2}  # never predicted: 0 of 2 right
    assert fear == {"precision": 0.5, "recall": 0.5, "f1": 0.5, "support": 2}
    assert joy == {"precision": 0.0, "recall": None, "f1": None, "support": 0}  # no sample of it, once answered
    assert all(c == {"precision": None, "recall": None, "f1": None, "support": 0} for c in absent)
    assert '"recall": null' in json.dumps(r)
    assert r["accuracy"] == pytest.approx(0.4) and r["weighted_f1"] == pytest.approx((2 / 3 + 0.5 * 2) / 5)
    assert r["macro_f1"] == pytest.approx((2 / 3 + 0 + 0.5) / 3)  # over the classes present, as before
    assert metrics(labels, np.eye(len(EMOTIONS))[preds])["per_class"] == r["per_class"]


@pytest.fixture(scope="module")
def checkpoint(tmp_path_factory):
    torch.manual_seed(0)
    model = build_model(tiny_config(trained_branches=("text", "audio")))
    return save_checkpoint(model, tmp_path_factory.mktemp("ckpt"), training={"note": "untrained, for plumbing"})


def _meld_csv(path):
    with open(path, "w", newline="", encoding="utf-8") as f:
        w = csv.writer(f, lineterminator="\r\n")
        w.writerow(MELD_HEADER)
        for i, (text, emotion, sentiment) in enumerate(ROWS):
            w.writerow([i + 1, text, "Rachel", emotion, sentiment, 0, i, 1, 1, "00:00:01,000", "00:00:02,000"])
    return path


def test_cli_writes_json_for_meld_csv_and_ravdess_folder(checkpoint, shared_data, tmp_path):
    ravdess = tmp_path / "ravdess"
    for src in sorted((shared_data / "ravdess" / "Actor_19").glob("*.flac"))[::10]:  # 6 real clips, in place
        (ravdess / "Actor_19").mkdir(parents=True, exist_ok=True)
        (ravdess / "Actor_19" / src.name).symlink_to(src)
    out = tmp_path / "metrics.json"
    code = main(["--checkpoint", str(checkpoint), "--data", f"meld={_meld_csv(tmp_path / 'held_out.csv')}",
                 "--data", f"ravdess={ravdess}", "--json", str(out), "--png-dir", str(tmp_path / "png"),
                 "--device", "cpu"])
    assert code == 0
    report = json.loads(out.read_text())
    assert set(report) == {"meld", "ravdess"}
    about = {"spec", "checkpoint", "seen_in_training"}  # where the figures came from, beside the heads
    assert set(report["meld"]) == {"emotion", "sentiment"} | about and set(report["ravdess"]) == {"emotion"} | about
    assert report["ravdess"]["spec"] == f"ravdess={ravdess}" and report["meld"]["spec"].startswith("meld=")
    assert report["ravdess"]["checkpoint"] == str(checkpoint.resolve())
    assert report["ravdess"]["seen_in_training"] is None  # the plumbing checkpoint records no training data
    for corpus, heads in report.items():
        for head, r in ((h, heads[h]) for h in ("emotion", "sentiment") if h in heads):
            for key in ("accuracy", "weighted_f1", "macro_f1", "ece"):
                assert 0.0 <= r[key] <= 1.0, (corpus, head, key)
            assert sum(map(sum, r["confusion"]["matrix"])) == r["n"]
    assert report["meld"]["emotion"]["n"] == 6 and report["ravdess"]["emotion"]["n"] == 6
    assert report["ravdess"]["emotion"]["modalities_used"] == {"text": 6, "audio": 6, "video": 0}
    assert report["meld"]["emotion"]["modalities_used"] == {"text": 6, "audio": 0, "video": 0}
    alone = report["ravdess"]["emotion"]["per_modality"]
    grid = (TEMPERATURES[0], TEMPERATURES[-1])  # the searched range
    assert set(alone) == {"text", "audio"} and all(grid[0] <= v["temperature_here"] <= grid[1] for v in alone.values())
    assert all(v["temperature_here_at_bound"] == grid_end(v["temperature_here"]) for v in alone.values())
    pngs = sorted(p.name for p in (tmp_path / "png").iterdir())
    assert pngs == ["meld-emotion-confusion.png", "meld-sentiment-confusion.png", "ravdess-emotion-confusion.png"]
    assert (tmp_path / "png" / pngs[0]).read_bytes()[:8] == b"\x89PNG\r\n\x1a\n"


def test_words_option_reads_each_clip_with_each_sentence_and_its_own_voice(checkpoint, shared_data, tmp_path, capsys):
    ravdess = tmp_path / "ravdess" / "Actor_20"
    ravdess.mkdir(parents=True)
    for src in sorted((shared_data / "ravdess" / "Actor_20").glob("*.flac"))[::15]:  # 4 real clips
        (ravdess / src.name).symlink_to(src)
    (tmp_path / "plain.txt").write_text("It's eleven o'clock.\n\nThe surface is slick.\n", encoding="utf-8")
    out = tmp_path / "metrics.json"
    assert main(["--checkpoint", str(checkpoint), "--data", f"meld={_meld_csv(tmp_path / 'm.csv')}", "--data",
                 f"ravdess={ravdess.parent}", "--words", str(tmp_path / "plain.txt"), "--json", str(out)]) == 0
    report = json.loads(out.read_text())
    assert set(report) == {"meld", "ravdess", "ravdess+words"}  # MELD rows have no clip here
    worded, own = report["ravdess+words"]["emotion"], report["ravdess"]["emotion"]
    assert worded["n"] == 8 and worded["modalities_used"] == {"text": 8, "audio": 8, "video": 0}
    voice = lambda r: {k: r["per_modality"]["audio"][k] for k in ("accuracy", "ece")}  # noqa: E731
    assert voice(worded) == voice(own)  # each clip's own voice, twice
    assert worded["per_modality"]["text"] != own["per_modality"]["text"]  # other words
    (tmp_path / "empty.txt").write_text("\n", encoding="utf-8")
    assert main(["--checkpoint", str(checkpoint), "--data", f"ravdess={ravdess.parent}",
                 "--words", str(tmp_path / "empty.txt")]) == 2
    assert "has no sentences" in capsys.readouterr().err


def test_voices_option_hears_each_labelled_utterance_beside_each_voice(checkpoint, shared_data, tmp_path, capsys):
    voices = tmp_path / "voices"
    (voices / "call").mkdir(parents=True)
    srcs = sorted((shared_data / "ravdess" / "Actor_18").glob("*.flac"))[::30]  # 2 real clips, any depth
    (voices / srcs[0].name).symlink_to(srcs[0])
    (voices / "call" / srcs[1].name).symlink_to(srcs[1])
    out = tmp_path / "metrics.json"
    assert main(["--checkpoint", str(checkpoint), "--data", f"meld={_meld_csv(tmp_path / 'm.csv')}",
                 "--voices", str(voices), "--json", str(out)]) == 0
    report = json.loads(out.read_text())
    assert set(report) == {"meld", "meld+voices"}
    voiced, own = report["meld+voices"]["emotion"], report["meld"]["emotion"]
    assert voiced["n"] == 12 and voiced["modalities_used"] == {"text": 12, "audio": 12, "video": 0}
    words = lambda r: {k: r["per_modality"]["text"][k] for k in ("accuracy", "ece")}  # noqa: E731
    assert words(voiced) == pytest.approx(words(own), rel=1e-6)  # each utterance's own words, twice (other batches)
    assert voiced["per_modality"]["audio"]["n"] == 12 and report["meld+voices"]["sentiment"]["n"] == 12
    (tmp_path / "none").mkdir()
    assert main(["--checkpoint", str(checkpoint), "--data", f"meld={tmp_path / 'm.csv'}",
                 "--voices", str(tmp_path / "none")]) == 2
    assert "no audio or video files" in capsys.readouterr().err


def test_every_path_option_expands_a_leading_tilde(checkpoint, shared_data, tmp_path, monkeypatch):
    """--data folders=~/clips read the home folder's clips, but --voices ~/voices (quoted, or --voices=~/voices: no
    shell expands it) was "not found", and --json ~/m.json wrote into a folder named ~ here. Now every path option of
    train.evaluate and train.train reads a leading ~ as the home folder."""
    from train.args import parse_args

    home, here = tmp_path / "home", tmp_path / "here"
    (home / "voices").mkdir(parents=True), here.mkdir()
    (home / "voices" / "a.flac").symlink_to(sorted((shared_data / "ravdess" / "Actor_18").glob("*.flac"))[0])
    (home / "plain.txt").write_text("It's eleven o'clock.\n", encoding="utf-8")
    (home / "ckpt").symlink_to(checkpoint)
    _meld_csv(home / "m.csv")
    monkeypatch.setenv("HOME", str(home))
    monkeypatch.chdir(here)
    assert main(["--checkpoint", "~/ckpt", "--data", "meld=~/m.csv", "--voices", "~/voices", "--words", "~/plain.txt",
                 "--json", "~/out/m.json", "--png-dir", "~/png", "--cache", "~/cache", "--device", "cpu"]) == 0
    assert set(json.loads((home / "out" / "m.json").read_text())) == {"meld", "meld+voices"}
    assert list((home / "png").glob("*.png")) and (home / "cache").is_dir() and not list(here.iterdir())
    args = parse_args(["--meld", "~/meld", "--ravdess", "~/ravdess", "--emovo", "~/emovo", "--fer2013", "~/fer",
                       "--goemotions", "~/go", "--cache", "~/cache", "--out", "~/run", "--state", "~/run.state",
                       "--init", "~/ckpt", "--epochs", "0"])
    for flag in ("meld", "ravdess", "emovo", "fer2013", "goemotions", "cache", "out", "state"):
        assert getattr(args, flag) == str(home / getattr(args, flag).rpartition("/")[2]), flag
    assert args.init == [str(home / "ckpt")]


def test_train_fer_path_options_expand_a_leading_tilde(tmp_path, monkeypatch):
    """python -m train.fer --data ~/fer2013 (quoted, or --data=~/fer2013: no shell expands it) looked for a folder
    named ~ here, and --out, --state and --cache wrote into one."""
    from train.fer import parse_args

    monkeypatch.setenv("HOME", str(tmp_path))
    args = parse_args(["--data", "~/fer", "--out", "~/out", "--state", "~/state.pt", "--cache", "~/cache", "--init",
                       "~/init", "--final-out", "~/final", "--soup", "~/a", "~/b"])
    for flag in ("data", "out", "state", "cache", "init", "final_out"):
        assert getattr(args, flag) == tmp_path / getattr(args, flag).name, flag
    assert args.soup == [tmp_path / "a", tmp_path / "b"]


def test_cli_bad_input_is_a_clear_error(checkpoint, tmp_path, capsys):
    assert main(["--checkpoint", str(checkpoint), "--data", f"meld={tmp_path / 'nope.csv'}"]) == 2
    assert "MELD CSV not found" in capsys.readouterr().err
    assert main(["--checkpoint", str(tmp_path), "--data", f"meld={tmp_path / 'nope.csv'}"]) == 2
    assert "not a checkpoint" in capsys.readouterr().err
    (tmp_path / "03a01Fa.wav").write_bytes(b"")
    assert main(["--checkpoint", str(checkpoint), "--data", f"emodb={tmp_path / '03a01Fa.wav'}"]) == 2
    assert "03a01Fa.wav: a file, not a folder; pass the folder holding" in capsys.readouterr().err


def test_ctrl_c_is_one_line_that_says_what_is_kept(shared_data, tmp_path, capsys, monkeypatch):
    """Ctrl-C printed the traceback of wherever the evaluation stood. (Ctrl-C stood in for by the KeyboardInterrupt
    that Python raises for it.)"""
    import train.evaluate as evaluate_module

    def stopped(*args, **kwargs):
        raise KeyboardInterrupt

    monkeypatch.setattr(evaluate_module, "evaluate", stopped)
    for cache, said in ((str(tmp_path / "cache"), f"kept in {tmp_path / 'cache'}: the same command goes on from them"),
                        ("", "not kept (--cache '')")):
        assert main(["--data", f"ravdess={shared_data / 'ravdess'}:17", "--cache", cache,
                     "--json", str(tmp_path / "m.json")]) == 130
        err = capsys.readouterr().err
        assert err == f"stopped (Ctrl-C), no figures written. The features computed so far are {said}\n", err
    assert not (tmp_path / "m.json").exists()


def test_words_alone_are_not_answered_by_a_model_that_does_not_read_them(shared_data, tmp_path, capsys):
    """Before, a voice-only model evaluated on MELD's words alone reported figures (acc 0.138 on 1,109) that its
    prior alone gave, as if it had read them; now such a corpus is an error that says why and what to do."""
    torch.manual_seed(0)
    voice = save_checkpoint(build_model(tiny_config(trained_branches=("audio",))), tmp_path / "voice",
                            training={"note": "untrained, for plumbing"})
    meld = _meld_csv(tmp_path / "held_out.csv")
    assert main(["--checkpoint", str(voice), "--data", f"meld={meld}", "--cache", ""]) == 2
    assert ("error: meld: its 6 samples are words alone, which this model does not read (it reads the voice): "
            "leave it out, or evaluate a model trained on the words") in capsys.readouterr().err


LFS_POINTER = ("version https://git-lfs.github.com/spec/v1\n"  # what a corpus fetched without `git lfs pull` holds
               "oid sha256:4d7a214614ab2935c943f9e0ff69d22eadbb8f32b1258daaa5e2ca24d17e2393\nsize 12345\n")


def test_clips_that_cannot_be_read_are_left_out_and_counted(checkpoint, shared_data, tmp_path, capsys):
    """A clip that gives no sound and no face (a git-lfs pointer, a damaged file) is no sample: it was
    answered from nothing. It is left out and counted; a corpus with nothing readable is an error. A
    joined set that the corpora cannot make (no words, no faces) is skipped, not the end of the run."""
    clips = tmp_path / "my clips"
    for folder, name in (("angry", "03-01-05-01-01-01-18.flac"), ("neutral", "03-01-01-01-01-01-18.flac")):
        (clips / folder).mkdir(parents=True)
        (clips / folder / name).symlink_to(shared_data / "ravdess" / "Actor_18" / name)
        (clips / folder / "pointer.wav").write_text(LFS_POINTER)
    out = tmp_path / "metrics.json"
    assert main(["--checkpoint", str(checkpoint), "--data", f"folders={clips}", "--joint", "50",
                 "--json", str(out)]) == 0
    report = json.loads(out.read_text())
    assert set(report) == {"my clips"}  # no joined set: only voices here
    assert report["my clips"]["emotion"]["n"] == 2 and report["my clips"]["emotion"]["unreadable"] == 2
    # printed with how many answered and how many were left out (before: the figures alone, 1.000 on 2 as on 2,000)
    assert f"my clips: emotion acc {report['my clips']['emotion']['accuracy']:.3f} on 2 (2 unreadable left out) wF1" \
        in capsys.readouterr().out
    for folder in ("angry", "neutral"):
        next((clips / folder).glob("*.flac")).unlink()
    assert main(["--checkpoint", str(checkpoint), "--data", f"folders={clips}"]) == 2
    assert "none of its 2 files could be read" in capsys.readouterr().err


def test_unreadable_clips_are_named_and_a_folder_named_joint_keeps_its_report(checkpoint, shared_data, tmp_path,
                                                                             caplog):
    """The log names the clips left out (the count alone did not say which), and a user's folder named "joint"
    is reported as "joint-2", not replaced by the joined set."""
    clips = tmp_path / "joint"
    (clips / "angry").mkdir(parents=True)
    (clips / "angry" / "03-01-05-01-01-01-18.flac").symlink_to(shared_data / "ravdess" / "Actor_18" /
                                                               "03-01-05-01-01-01-18.flac")
    (clips / "angry" / "broken.wav").write_bytes(b"RIFF\x00\x00\x00\x00WAVEfmt ")
    meld = tmp_path / "dev_sent_emo.csv"
    _meld_csv(meld)
    out = tmp_path / "metrics.json"
    with caplog.at_level("WARNING", logger="train.evaluate"):
        assert main(["--checkpoint", str(checkpoint), "--data", f"folders={clips}", "--data", f"meld={meld}",
                     "--joint", "20", "--json", str(out)]) == 0
    report = json.loads(out.read_text())
    assert set(report) == {"joint-2", "meld", "joint"} and report["joint-2"]["emotion"]["n"] == 1
    assert report["joint-2"]["emotion"]["unreadable"] == 1 and str(clips / "angry" / "broken.wav") in caplog.text


def test_a_data_spec_mistyped_and_a_joint_out_of_range_are_told_before_the_model_loads(checkpoint, tmp_path,
                                                                                      monkeypatch, capsys):
    """A --data spec mistyped was said once the model had loaded (9 to 15 s); --joint -5 joined nothing without a
    word, and --joint-plain-words 5 was taken."""
    import train.evaluate as evaluate

    monkeypatch.setattr(evaluate, "load_model", lambda *a, **k: pytest.fail("the model loaded first"))
    for spec, said in (("foo=/x", "unknown corpus 'foo'"), (f"meld={tmp_path / 'nope.csv'}", "MELD CSV not found")):
        assert main(["--checkpoint", str(checkpoint), "--data", spec]) == 2
        assert said in capsys.readouterr().err
    for flags, said in ((["--joint", "-5"], "--joint: must be a whole number at least 0, not -5"),
                        (["--joint-plain-words", "5"], "--joint-plain-words: must be a number at least 0 and at most "
                                                       "1, not 5")):
        with pytest.raises(SystemExit) as e:
            main(["--checkpoint", str(checkpoint), "--data", "foo=/x", *flags])
        assert e.value.code == 2 and said in capsys.readouterr().err


def test_bad_output_paths_a_missing_checkpoint_and_a_missing_gpu_are_told_before_any_work(checkpoint, tmp_path,
                                                                                          monkeypatch, capsys):
    """Before, a --json that is a folder failed after the whole evaluation, with a traceback and no figures."""
    (tmp_path / "report.json").write_text("{}")
    meld = tmp_path / "dev_sent_emo.csv"
    _meld_csv(meld)
    data = ["--checkpoint", str(checkpoint), "--data", f"meld={meld}"]
    for flags, said in ((["--json", str(tmp_path)], "is a folder: give a file's name"),
                        (["--png-dir", str(tmp_path / "report.json")], "report.json is a file: give a folder"),
                        (["--cache", str(tmp_path / "report.json" / "cache")], "report.json is a file, not a folder"),
                        (["--json", ""], "--json is empty: give a file's name"),  # was: no JSON, not a word
                        (["--png-dir", ""], "--png-dir is empty: give a folder")):
        with pytest.raises(SystemExit) as e:
            main(data + flags)
        assert e.value.code == 2 and said in capsys.readouterr().err
    assert main(["--checkpoint", str(tmp_path / "nowhere"), "--data", f"meld={meld}"]) == 2
    assert "nowhere: no such checkpoint folder" in capsys.readouterr().err
    if not torch.cuda.is_available():
        with pytest.raises(SystemExit) as e:
            main(data + ["--device", "cuda"])
        assert e.value.code == 2 and "this machine has no CUDA device" in capsys.readouterr().err
    monkeypatch.chdir(tmp_path)  # the embedded default, wherever the command runs
    assert main(["--data", f"meld={meld}", "--json", "out.json"]) == 0
    assert json.loads((tmp_path / "out.json").read_text())["meld"]["emotion"]["n"] == len(ROWS)


def test_words_or_a_voice_given_to_an_unreadable_clip_are_no_sample(tmp_path):
    """MELD's utterance keeps its own words when its clip cannot be read; given another sentence
    (+words) or a voice that cannot be read (+voices), nothing of its own is left: it is left out."""
    from train.corpora import Sample

    meld = Sample(id="meld/dev/dia1_utt2", corpus="meld", text="I got the job!", emotion=3, sentiment=2,
                  media=tmp_path / "dia1_utt2.mp4")
    voice = Sample(id="voices/v/pointer", corpus="voices", text=None, emotion=None, sentiment=None,
                   media=tmp_path / "pointer.wav")
    worded, voiced = with_words([meld], ["The surface is slick."])[0], with_voices([meld], [voice])[0]
    caches = {"text": {s.feature_id("text"): torch.ones(3, 4) for s in (meld, worded, voiced)},
              "audio": {s.feature_id("audio"): torch.zeros(0) for s in (meld, voice)}}
    assert not unreadable(meld, caches)
    assert unreadable(worded, caches, own_words=False) and unreadable(voiced, caches, own_words=False)
    caches["audio"][voice.feature_id("audio")] = torch.ones(5, 2)
    assert not unreadable(voiced, caches, own_words=False)


def test_ravdess_audio_visual_clips_in_their_published_layout_read_all_three_senses(shared_data, tmp_path):
    """Held-out RAVDESS actors come as audio-visual clips (``Video_Speech_Actor_NN/Actor_NN/01-...mp4``):
    with the default model each clip's words, voice and face are read; a video-only copy (``02-``) is
    skipped, since it has no voice."""
    actor = tmp_path / "Video_Speech_Actor_01" / "Actor_01"
    actor.mkdir(parents=True)
    clip = shared_data / "clips" / "ravdess_01-01-01-01-01-01-01.mp4"  # actor 01, neutral, with sound
    (actor / "01-01-01-01-01-01-01.mp4").symlink_to(clip)
    (actor / "02-01-01-01-01-01-01.mp4").symlink_to(clip)
    out = tmp_path / "metrics.json"
    assert main(["--data", f"ravdess={tmp_path}:1", "--cache", str(tmp_path / "cache"), "--json", str(out)]) == 0
    emotion = json.loads(out.read_text())["ravdess"]["emotion"]
    assert emotion["n"] == 1 and emotion["modalities_used"] == {"text": 1, "audio": 1, "video": 1}
    assert set(emotion["per_modality"]) == {"text", "audio", "video"}


def test_a_temperature_at_the_end_of_the_range_searched_is_said_to_be_there():
    """temperature_here read 10.00 or 0.20 as if fitted, where the fit only stopped at the grid's end."""
    labels = np.arange(60) % 3
    right = np.eye(3)[labels]
    wrong = np.eye(3)[(labels + 1) % 3]
    noisy = right * 2.0 + np.random.default_rng(0).normal(0.0, 1.5, (60, 3))
    assert grid_temperature(wrong * 5.0, labels) == TEMPERATURES[-1] and grid_end(TEMPERATURES[-1]) == "max"
    assert grid_temperature(right * 0.01, labels) == TEMPERATURES[0] and grid_end(TEMPERATURES[0]) == "min"
    inside = grid_temperature(noisy, labels)
    assert TEMPERATURES[0] < inside < TEMPERATURES[-1] and grid_end(inside) is None


@pytest.fixture(scope="module")
def as_trained_as_the_default(tmp_path_factory):
    """A small model that carries the default checkpoint's own training metadata: RAVDESS actors 1-16
    trained (17-20 dev), EMOVO all but m3 (m3 dev), MELD train (dev), FER2013 train (PublicTest)."""
    torch.manual_seed(0)
    model = build_model(tiny_config(trained_branches=("text", "audio")))
    return save_checkpoint(model, tmp_path_factory.mktemp("ckpt"), training=read_config(DEFAULT_CHECKPOINT)["training"])


def test_speakers_and_splits_the_checkpoint_was_trained_or_selected_on_are_named(as_trained_as_the_default,
                                                                              shared_data, tmp_path, caplog, capsys):
    """Evaluated on actors it trained on, a checkpoint scored 1.000 with no word; now the log warns and the
    corpus's entry says which speakers (or splits) trained it and which were its dev set. Two specs of one
    corpus are told apart by their "spec"."""
    ravdess = tmp_path / "ravdess"
    for actor in (1, 19, 20):
        src = sorted((shared_data / "ravdess" / f"Actor_{actor:02d}").glob("*.flac"))[0]
        (ravdess / f"Actor_{actor:02d}").mkdir(parents=True)
        (ravdess / f"Actor_{actor:02d}" / src.name).symlink_to(src)
    emovo = tmp_path / "emovo"
    for speaker in ("m1", "m3"):
        (emovo / speaker).mkdir(parents=True)
        name = f"dis-{speaker}-b1.flac"
        (emovo / speaker / name).symlink_to(shared_data / "emovo" / speaker / name)
    meld_test = _meld_csv(tmp_path / "test_sent_emo.csv")
    out = tmp_path / "metrics.json"
    specs = [f"ravdess={ravdess}:1,19", f"ravdess={ravdess}:20", f"emovo={emovo}", f"meld={meld_test}"]
    with caplog.at_level("WARNING", logger="train.evaluate"):
        assert main(["--checkpoint", str(as_trained_as_the_default), *(a for spec in specs for a in ("--data", spec)),
                     "--json", str(out)]) == 0
    report = json.loads(out.read_text())
    assert [report[k]["spec"] for k in ("ravdess", "ravdess-2", "emovo", "meld")] == specs
    assert report["ravdess"]["seen_in_training"] == {"by": "actors", "trained": ["1"], "dev": ["19"], "n": 2, "of": 2}
    assert report["ravdess-2"]["seen_in_training"] == {"by": "actors", "trained": [], "dev": ["20"], "n": 1, "of": 1}
    assert report["emovo"]["seen_in_training"] == {"by": "speakers", "trained": ["m1"], "dev": ["m3"], "n": 2, "of": 2}
    assert report["meld"]["seen_in_training"] is None  # MELD's test split: held out
    assert ("ravdess: ravdess actor 1 trained this checkpoint; actor 19 was its dev set (model selection and "
            "calibration) (2 of 2 samples): these figures are not held out") in caplog.text
    assert "ravdess-2: ravdess actor 20 was its dev set" in caplog.text and "meld:" not in caplog.text
    printed = {line.split(":")[0]: line for line in capsys.readouterr().out.splitlines() if ": emotion acc" in line}
    assert printed["emovo"].endswith("[NOT HELD OUT: speaker m1 trained this checkpoint; speaker m3 was its dev "
                                     "set (model selection and calibration) (2 of 2 samples)]")
    assert "NOT HELD OUT" not in printed["meld"]


def test_fer2013_images_are_told_by_the_split_their_names_carry(as_trained_as_the_default, shared_data, tmp_path):
    """Kaggle's copy of FER2013 has a test/ folder that holds PublicTest_N.jpg and PrivateTest_N.jpg; its
    PublicTest half was the default's dev set. Before, every image was taken for the folder's split (test:
    PrivateTest) and the set said held out; a folder of another name (my_faces) was never told."""
    from train.heldout import seen_in_training, trained_on

    public = sorted((shared_data / "fer2013" / "validation" / "happy").glob("PublicTest_*.jpg"))[0]
    rules = trained_on(as_trained_as_the_default)
    for name in ("test", "my_faces"):
        (tmp_path / name / "happy").mkdir(parents=True)
        (tmp_path / name / "happy" / public.name).symlink_to(public)
        (tmp_path / name / "happy" / "PrivateTest_1.jpg").symlink_to(public)  # the bytes do not matter here
        _, samples = read_data_spec(f"fer2013={tmp_path / name}")
        seen = seen_in_training("fer2013", "fer2013", samples, rules)
        assert seen == {"by": "split", "trained": [], "dev": ["PublicTest"], "n": 1, "of": 2}, name


def test_your_own_clips_trained_or_selected_on_are_told_by_their_folder(shared_data, tmp_path, monkeypatch):
    """train.evaluate on the folders= set a voice was selected and calibrated on (--dev-data folders=DIR) said nothing:
    its figures read as held out. Now the folder a clip lies in is matched to the ones the checkpoint records, a
    relative one as from where this runs; another folder stays held out."""
    from train.heldout import not_held_out, seen_in_training, trained_on

    clips = sorted((shared_data / "ravdess" / "Actor_18").glob("03-01-05-*.flac"))[:3]
    for name, clip in zip(("mine", "my dev", "others"), clips):
        (tmp_path / name / "angry").mkdir(parents=True)
        (tmp_path / name / "angry" / clip.name).symlink_to(clip)
    monkeypatch.chdir(tmp_path)  # train.train ran here with relative paths
    training = {"data": {"data": ["folders=mine"], "dev_data": [f"folders={tmp_path / 'my dev'}/"]}}
    folder = save_checkpoint(build_model(tiny_config(trained_branches=("audio",))), tmp_path / "ckpt",
                             training=training)
    rules = trained_on(folder)
    said = {}
    for name in ("mine", "my dev", "others"):
        _, samples = read_data_spec(f"folders={tmp_path / name}")
        said[name] = seen_in_training(name, "folders", samples, rules)
    assert said["mine"] == {"by": "folders", "trained": [str(tmp_path / "mine")], "dev": [], "n": 1, "of": 1}
    assert not_held_out(said["my dev"]) == (f"folder {tmp_path / 'my dev'} was its dev set (model selection and "
                                            "calibration) (1 of 1 samples)")
    assert said["others"] is None


def test_what_the_parts_of_a_checkpoint_were_trained_on_is_not_held_out_from_it(shared_data, tmp_path):
    """A checkpoint made of others (train.train --init, train.ensemble) recorded only its own run's corpora: the
    default's words, trained on GoEmotions, were said held out from GoEmotions train, a voice's folder of clips
    from the checkpoint it was joined into. What its parts were trained on now counts, as far back as recorded."""
    from train.corpora import Sample
    from train.heldout import inherited, seen_in_training, trained_on

    clips = sorted((shared_data / "ravdess" / "Actor_18").glob("03-01-05-*.flac"))[:1]
    (tmp_path / "mine" / "angry").mkdir(parents=True)
    (tmp_path / "mine" / "angry" / clips[0].name).symlink_to(clips[0])
    model = build_model(tiny_config(trained_branches=("text", "audio")))
    words = save_checkpoint(model, tmp_path / "words", training={
        "data": {"goemotions": "~/ge"}, "hyperparameters": {"goemotions": "~/ge"}})
    voice = save_checkpoint(model, tmp_path / "voice", training={"data": {"data": [f"folders={tmp_path / 'mine'}"]}})
    joined = save_checkpoint(model, tmp_path / "joined", training={"joined_voices": [str(voice)],
                                                                    "init": [inherited(str(voice))]})
    whole = save_checkpoint(model, tmp_path / "whole", training={
        "data": {"meld": "~/meld"}, "init": [inherited(f"{words}:encoders.text."), inherited(str(joined))]})
    rules = trained_on(whole)
    said = seen_in_training("goemotions", "goemotions",
                            [Sample(f"goemotions/{split}/1", "goemotions", "Yay", 3, 2) for split in ("train", "dev")],
                            rules)
    assert said == {"by": "split", "trained": ["train"], "dev": ["dev"], "n": 2, "of": 2}
    _, samples = read_data_spec(f"folders={tmp_path / 'mine'}")
    assert seen_in_training("mine", "folders", samples, rules)["trained"] == [str(tmp_path / "mine")]
    assert seen_in_training("mine", "folders", samples, trained_on(joined))["n"] == 1  # an ensemble's own voices
    assert json.loads((whole / "config.json").read_text())["training"]["init"][0]["from"] == f"{words}:encoders.text."


def test_words_saved_with_a_byte_order_mark_are_read_as_written(tmp_path):
    """--words from an editor that writes a UTF-8 byte order mark (Notepad): the first sentence began with it."""
    (tmp_path / "words.txt").write_text("\ufeffIch bin glücklich.\n我很高兴。\n", encoding="utf-8")
    assert read_sentences(str(tmp_path / "words.txt")) == ["Ich bin glücklich.", "我很高兴。"]


def test_a_model_of_other_labels_is_refused_before_any_work(tmp_path, capsys):
    """The labels are indices of the 7 MELD emotions, and the figures named the heads' columns with the model's own
    names: a model of them in another order was scored wrongly (RAVDESS's neutral clips counted as 'fear'), one of
    other names ended in an IndexError traceback."""
    from mmsent.labels import EMOTIONS, SENTIMENTS

    for labels in ({"emotions": tuple(reversed(EMOTIONS))}, {"emotions": ("happy", "sad", "calm")},
                   {"sentiments": ("positive", "negative")}):
        head, names = next(iter(labels.items()))
        folder = save_checkpoint(build_model(tiny_config(**labels, trained_branches=("audio",))), tmp_path / names[0])
        assert main(["--checkpoint", str(folder), "--data", f"folders={tmp_path / 'none'}", "--device", "cpu"]) == 2
        ours = EMOTIONS if head == "emotions" else SENTIMENTS
        assert (f"error: {folder}: its {head} are {list(names)}; train.evaluate and train.served score the "
                f"{len(ours)} MELD {head} {list(ours)}, in that order") in capsys.readouterr().err
