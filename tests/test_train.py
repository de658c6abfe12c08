"""Training on the synthetic corpus: every branch learns, the cache is reused, resume is exact,
and a 2-process torchrun job gives one checkpoint and resumes exactly."""

import json
import os
import re
import shutil
import signal
import subprocess
import sys
import warnings
from pathlib import Path

import numpy as np
import pytest
import torch
from safetensors import safe_open
from safetensors.torch import load_file, save_file

from mmsent.checkpoint import load_checkpoint, save_checkpoint
from mmsent.config import tiny_config
from mmsent.model import build_model
from train import cache as cache_mod
from train.calibrate import FUSION_WEIGHTS, TEMPERATURES, grid_end
from train.corpora import read_meld, read_ravdess, shared_path
from train.data import predict
from train.extract import extract_all
from train.synthetic import make_synthetic
from train.train import main

from conftest import ROOT

TINY = ["--config", "tiny", "--branches", "text", "audio", "video", "--audio-channels", "8", "16", "32",
        "--text-tune-layers", "1", "--dropout", "0.1", "--mixup", "0", "--label-smoothing", "0",
        "--batch-size", "4", "--lr", "5e-3", "--lr-audio", "5e-3", "--lr-text", "3e-3", "--device", "cpu"]


@pytest.fixture(scope="module")
def corpus(tmp_path_factory):
    return make_synthetic(tmp_path_factory.mktemp("synthetic"), n_train=60, n_dev=30, seed=1)


@pytest.fixture(scope="module")
def trained(corpus, tmp_path_factory):
    """One run per modality, each with that branch alone."""
    out = tmp_path_factory.mktemp("run")
    for modality in ("text", "audio", "video"):
        main(["--meld", str(corpus), "--cache", str(out / "cache"), "--out", str(out / modality), "--epochs", "8",
              "--patience", "8", "--modalities", modality, "--modality-dropout", "0", *TINY, "--branches", modality])
    return out, out / "cache"


@pytest.mark.parametrize("modality", ["text", "audio", "video"])
def test_each_modality_alone_beats_chance(trained, corpus, modality):
    out, cache = trained
    model = load_checkpoint(out / modality)
    assert set(model.encoders) == {modality}
    dev = read_meld(corpus / "dev_sent_emo.csv")
    caches = extract_all(model, dev, cache)
    labels = np.array([s.emotion for s in dev])
    emotion, sentiment, used = predict(model, dev, caches, modalities=(modality,))
    assert used[:, ["text", "audio", "video"].index(modality)].all() and used.sum() == len(dev)
    accuracy = float((emotion.argmax(1) == labels).mean())
    assert accuracy >= 0.6, f"{modality} alone: held-out accuracy {accuracy:.2f} (chance 0.33)"
    others = [m for m in ("text", "audio", "video") if m != modality]
    blind, _, _ = predict(model, dev, caches, modalities=tuple(others))  # what it learned is in that branch
    assert float((blind.argmax(1) == labels).mean()) < accuracy


def test_senses_trained_apart_compose_into_one_calibrated_model_no_worse_than_its_best_sense(trained, corpus, tmp_path):
    """--epochs 0 composes the branches of the three one-sense runs and calibrates the fusion on dev."""
    out, cache = trained
    inits = [a for m in ("text", "audio", "video") for prefix in ("encoders.", "sense_heads.")
             for a in ("--init", f"{out / m}:{prefix}{m}.")]
    main(["--meld", str(corpus), "--cache", str(cache), "--out", str(tmp_path / "composed"), "--epochs", "0",
          *TINY, *inits])
    model = load_checkpoint(tmp_path / "composed")
    training = json.loads((tmp_path / "composed" / "config.json").read_text())["training"]
    assert set(training["calibration"]["fusion_weight"]) == {"text", "audio", "video"}
    # what each part was trained on is kept: a corpus one of them saw is not held out from the whole either
    assert [i["from"] for i in training["init"]] == [shared_path(a) for a in inits[1::2]]
    assert training["init"][0]["data"] == json.loads((out / "text" / "config.json").read_text())["training"]["data"]
    dev = read_meld(corpus / "dev_sent_emo.csv")
    caches = extract_all(model, dev, cache)
    labels = np.array([s.emotion for s in dev])

    def accuracy(modalities) -> float:
        return float((predict(model, dev, caches, modalities=modalities)[0].argmax(1) == labels).mean())

    alone = {m: accuracy((m,)) for m in ("text", "audio", "video")}
    assert min(alone.values()) >= 0.6, alone  # each composed sense still reads what its run learned
    assert accuracy(("text", "audio", "video")) >= max(alone.values()), alone


def test_checkpoint_records_training(trained):
    meta = json.loads((trained[0] / "audio" / "config.json").read_text())
    training = meta["training"]
    assert training["command"].startswith("python -m train.train")
    assert 1 <= training["epoch"] <= 8
    assert len(training["history"]) == training["epoch"]  # saved at the best epoch so far
    assert set(training["dev_metrics"]["meld"]) == {"emotion", "sentiment"}


def test_a_checkpoint_records_only_the_corpora_it_was_given(trained, corpus):
    """A run given neither --ravdess nor --emovo recorded their options' defaults ("ravdess_train_actors": "1-16",
    "emovo_dev_speakers": "m3") beside "ravdess": null: read as if it was trained on RAVDESS actors 1-16."""
    data = json.loads((trained[0] / "audio" / "config.json").read_text())["training"]["data"]
    assert data == {"meld": str(corpus)}


def test_a_run_that_did_not_finish_leaves_a_checkpoint_that_says_so(trained, tmp_path):
    """A run killed in its epochs leaves its best epoch as saved then: before the calibration, which ends a run."""
    shutil.copytree(trained[0] / "text", tmp_path / "killed")
    meta = json.loads((tmp_path / "killed" / "config.json").read_text())
    assert "calibration" in meta["training"]  # a finished run's
    del meta["training"]["calibration"]  # as the best epoch was saved, before the end of its run
    (tmp_path / "killed" / "config.json").write_text(json.dumps(meta))
    with pytest.warns(UserWarning, match=r"killed is the best epoch \(\d\) of a training run that did not finish: "
                                         r"it was never calibrated"):
        load_checkpoint(tmp_path / "killed")


def test_a_run_that_finishes_does_not_say_it_did_not(corpus, tmp_path, recwarn):
    """Before, every run's calibration loaded its best epoch and warned, as the run ended well, that it was "the best
    epoch of a training run that did not finish ... Finish the run (the same command with --resume)"."""
    main(["--meld", str(corpus), "--cache", str(tmp_path / "cache"), "--out", str(tmp_path / "run"), "--epochs", "1",
          "--modalities", "text", *TINY, "--branches", "text"])
    assert "calibration" in json.loads((tmp_path / "run" / "config.json").read_text())["training"]
    assert not [w for w in recwarn if "did not finish" in str(w.message)]


def test_a_run_stopped_by_stop_after_says_so_until_it_is_finished(corpus, tmp_path, caplog):
    """--stop-after 1 of --epochs 2 calibrated its checkpoint, logged "done: best score ..." and recorded nothing of
    the epoch it left: loaded, it said nothing, where a killed run's checkpoint warns that its run "did not finish"."""
    run = ["--meld", str(corpus), "--cache", str(tmp_path / "cache"), "--out", str(tmp_path / "run"), "--epochs", "2",
           "--patience", "9", "--modalities", "text", *TINY, "--branches", "text"]
    with caplog.at_level("INFO", logger="train.train"):
        main([*run, "--stop-after", "1"])
    training = json.loads((tmp_path / "run" / "config.json").read_text())["training"]
    assert "calibration" in training  # usable meanwhile
    assert (training["epochs_run"], training["epochs_asked"], training["finished"]) == (1, 2, False)
    assert "stopped after 1 of --epochs 2 (--stop-after 1): best score" in caplog.text and "done:" not in caplog.text
    with pytest.warns(UserWarning, match=r"run is the best epoch \(1\) of a training run that did not finish: it "
                                         r"was stopped after 1 of its 2 epochs \(--stop-after\)\. Finish the run"):
        load_checkpoint(tmp_path / "run")
    main([*run, "--resume"])
    training = json.loads((tmp_path / "run" / "config.json").read_text())["training"]
    assert (training["epochs_run"], training["epochs_asked"], training["finished"]) == (2, 2, True)
    with warnings.catch_warnings():
        warnings.simplefilter("error")
        load_checkpoint(tmp_path / "run")


def test_info_says_what_a_checkpoint_reads_and_was_trained_on(corpus, trained, tmp_path, capsys):
    """`python -m mmsent info` on a voice-only run said nothing of what it was trained on, and "text encoder: ...
    (top 1 layers tuned, ...)" of a text encoder the model does not have; of a run fed only the voice, nothing of the
    branches it was given (--init) but never fed."""
    from mmsent.__main__ import main as mmsent_main

    main(["--meld", str(corpus), "--cache", str(tmp_path / "cache"), "--out", str(tmp_path / "voice"), *TINY,
          "--branches", "audio", "--modalities", "audio", "--epochs", "2", "--patience", "9"])
    assert mmsent_main(["info", "--checkpoint", str(tmp_path / "voice"), "--device", "cpu"]) == 0
    out = capsys.readouterr().out
    assert "text encoder" not in out and "video encoder" not in out and "audio encoder: log-mel CNN" in out
    assert "senses read: voice (not words, face: no branch trained for them)" in out
    assert re.search(r"trained on: meld train, epoch \d kept of 2 run \(--epochs 2\)\n", out), out
    assert "selected and calibrated on: meld dev\n" in out
    given = [a for m in ("text", "video") for part in ("encoders", "sense_heads")
             for a in ("--init", f"{trained[0] / m}:{part}.{m}.")]
    main(["--meld", str(corpus), "--cache", str(tmp_path / "cache"), "--out", str(tmp_path / "given"), *TINY,
          "--modalities", "audio", "--epochs", "1", *given])
    assert mmsent_main(["info", "--checkpoint", str(tmp_path / "given"), "--device", "cpu"]) == 0
    out = capsys.readouterr().out
    assert "senses read: words, voice, face\n" in out and "trained on: meld train (words, face never fed), epoch" in out


def test_ctrl_c_says_whether_there_is_an_epoch_to_resume(corpus, tmp_path, monkeypatch):
    """Ctrl-C before any epoch finished said "the same command with --resume continues from it", which then failed
    ("holds no training state to resume from"); after --overwrite, --resume would have continued the earlier run."""
    import train.train as train_module

    out, wrote = tmp_path / "run", []

    def stopped(args):  # Ctrl-C, after writing the state of a finished epoch where asked
        if wrote:
            out.mkdir(exist_ok=True)
            (out / "train_state.safetensors").write_bytes(b"state")
        raise KeyboardInterrupt

    monkeypatch.setattr(train_module, "train", stopped)
    run = ["--meld", str(corpus), "--cache", str(tmp_path / "cache"), "--out", str(out), *TINY]
    for flags, said in (([], "no epoch finished, so there is nothing to resume: the same command starts again"),
                        (["--overwrite"], "no epoch finished, so there is nothing to resume")):
        if flags:  # an earlier run's state, left by a run before this one
            out.mkdir()
            (out / "train_state.safetensors").write_bytes(b"earlier")
            os.utime(out / "train_state.safetensors", (1e9, 1e9))
        with pytest.raises(SystemExit) as e:
            main(run + flags)
        assert said in str(e.value.code) and "--resume" not in str(e.value.code), flags
    wrote.append(True)
    with pytest.raises(SystemExit) as e:
        main(run + ["--overwrite"])
    assert (f"the state of its last finished epoch is in {out / 'train_state.safetensors'}: the same command with "
            "--resume continues from it") in str(e.value.code)


def test_second_run_does_no_encoder_forward(corpus, tmp_path):
    run = ["--meld", str(corpus), "--cache", str(tmp_path / "cache"), "--epochs", "1", *TINY]
    cache_mod.ENCODER_CALLS.clear()
    main([*run, "--out", str(tmp_path / "first")])
    assert cache_mod.ENCODER_CALLS["text"] > 0 and cache_mod.ENCODER_CALLS["video"] > 0  # the count is real
    cache_mod.ENCODER_CALLS.clear()
    main([*run, "--out", str(tmp_path / "again")])
    assert (tmp_path / "again" / "model.safetensors").is_file()
    assert dict(cache_mod.ENCODER_CALLS) == {}, "features were recomputed although cached"


def _same_weights(straight: Path, resumed: Path) -> None:
    """The training states of two runs hold the same weights."""
    a, b = (load_file(str(run / "train_state.safetensors")) for run in (straight, resumed))
    weights = [k for k in a if k.startswith("model.")]
    assert weights and weights == [k for k in b if k.startswith("model.")]
    for k in weights:
        torch.testing.assert_close(a[k], b[k], rtol=1e-4, atol=1e-5, msg=f"{k} differs after resume")


def test_a_run_again_says_its_features_came_from_the_cache_and_where(tmp_path, caplog):
    """A second run over the same clips said nothing of its cache: whether the features were reused, and from where
    (to clear it), could not be told."""
    cache = cache_mod.FeatureCache(tmp_path / "cache", "audio", {"source": "test"})
    compute = lambda ids: {i: torch.zeros(2) for i in ids}  # noqa: E731
    with caplog.at_level("INFO", logger="train.cache"):
        cache_mod.fill(cache, ["a", "b"], compute, 8)
        cache_mod.fill(cache_mod.FeatureCache(tmp_path / "cache", "audio", {"source": "test"}), ["a", "b"], compute, 8)
    assert "audio: 2 of 2 samples not cached" in caplog.text
    assert f"audio: all 2 samples read from the cache ({cache.folder})" in caplog.text


def _resumable(corpus: Path, cache: Path) -> list[str]:
    """The options of the runs the resume tests stop and resume (with dropout: the generators matter)."""
    return ["--meld", str(corpus), "--cache", str(cache), "--patience", "9", "--modality-dropout", "0.3", *TINY]


@pytest.fixture(scope="module")
def straight(corpus, trained, tmp_path_factory) -> Path:
    """A run of 2 epochs not stopped: what a run stopped after its first and resumed must end as."""
    out = tmp_path_factory.mktemp("straight")
    main([*_resumable(corpus, trained[1]), "--out", str(out), "--epochs", "2"])
    return out


def test_resume_continues_where_it_stopped(corpus, trained, straight, tmp_path):
    common = _resumable(corpus, trained[1])
    main([*common, "--out", str(tmp_path / "split"), "--epochs", "2", "--stop-after", "1"])  # interrupted
    history = json.loads((tmp_path / "split" / "config.json").read_text())["training"]["history"]
    assert [h["epoch"] for h in history] == [1]
    with pytest.raises(SystemExit, match=r"error: .*train_state.safetensors is the state of a run with other "
                                         r"settings: --modality-dropout was 0\.3, now 0\.2\. Resume with the same"):
        main([*common, "--modality-dropout", "0.2", "--out", str(tmp_path / "split"), "--epochs", "2", "--resume"])
    completed = [f"{corpus}/" if a == str(corpus) else a for a in common]  # the folder as a shell completes it
    main([*completed, "--out", str(tmp_path / "split"), "--epochs", "2", "--resume"])
    with safe_open(str(tmp_path / "split" / "train_state.safetensors"), framework="pt") as f:
        progress = json.loads(f.metadata()["progress"])
    assert progress["epoch"] == 2 and [h["epoch"] for h in progress["history"]] == [1, 2]
    assert progress["history"][0] == history[0]  # epoch 1 was not run again
    _same_weights(straight, tmp_path / "split")


def test_a_state_written_before_each_process_kept_its_generators_still_resumes(corpus, trained, straight, tmp_path):
    """States written before 7 December 2026 hold one process's generators as ``rng.torch`` (and ``rng.cuda.N``)."""
    common = _resumable(corpus, trained[1])
    main([*common, "--out", str(tmp_path / "split"), "--epochs", "2", "--stop-after", "1"])
    state = tmp_path / "split" / "train_state.safetensors"
    with safe_open(str(state), framework="pt") as f:
        meta, tensors = f.metadata(), {k: f.get_tensor(k) for k in f.keys()}
    tensors["rng.torch"] = tensors.pop("rng.rank.0.torch")
    assert not any(k.startswith("rng.rank.") for k in tensors)
    save_file(tensors, str(state), metadata=meta)
    main([*common, "--out", str(tmp_path / "split"), "--epochs", "2", "--resume"])
    _same_weights(straight, tmp_path / "split")


def test_resume_over_clips_added_removed_or_relabelled_is_refused(shared_data, tmp_path):
    """--resume compared the options alone: a folders= set with a clip added since went on training the state of
    the run on the clips it had, without a word. Now the state records what the run read, and a resume over other
    clips (or the same ones under other labels) says which set changed, before it computes any feature (the clip
    added was encoded into the cache, then refused); on the clips as they were, it goes on."""
    mine, held = _clips(shared_data, tmp_path / "mine", 18), _clips(shared_data, tmp_path / "held", 19)
    run = ["--data", f"folders={mine}", "--dev-data", f"folders={held}", "--cache", str(tmp_path / "cache"), "--out",
           str(tmp_path / "out"), "--epochs", "2", "--stop-after", "1", "--modalities", "audio", *TINY,
           "--branches", "audio"]
    main(run)
    cached = sorted((tmp_path / "cache").rglob("*"))
    added = mine / "angry" / "03-01-05-02-02-02-18.flac"
    added.symlink_to(shared_data / "ravdess" / "Actor_18" / added.name)
    with pytest.raises(SystemExit, match=re.escape("train_state.safetensors is the state of a run on other data (the "
                                                   "training samples: 16 then, 17 now): clips were added, removed")):
        main([*run, "--resume"])
    assert sorted((tmp_path / "cache").rglob("*")) == cached  # refused before the clip added was encoded
    added.unlink()
    moved = next((mine / "sad").iterdir())
    moved.rename(mine / "happy" / moved.name)  # the same clip, another label
    with pytest.raises(SystemExit, match=re.escape("(the training samples: 16 then, 16 now, not the same)")):
        main([*run, "--resume"])
    (mine / "happy" / moved.name).rename(moved)
    assert main([*run, "--resume"]) == 0
    assert json.loads((tmp_path / "out" / "config.json").read_text())["training"]["epochs_run"] == 2


def test_a_state_of_other_data_is_told_from_its_metadata(tmp_path):
    """check_run reads the state's metadata alone (train.train calls it before feature extraction)."""
    from safetensors.torch import save_file

    from train.state import StateError, check_run

    path = tmp_path / "state.safetensors"
    read = {"train": {"n": 16, "sha256": "a"}, "dev": {"held": {"n": 16, "sha256": "b"}}}
    save_file({"x": torch.zeros(1)}, str(path), metadata={"progress": "{}", "run": json.dumps(
        {"lr": 0.1, "samples_read": read})})
    check_run(path, {"lr": 0.1, "samples_read": read})
    with pytest.raises(StateError, match=re.escape("on other data (dev set held: 16 then, 16 now, not the same)")):
        check_run(path, {"lr": 0.1, "samples_read": read | {"dev": {"held": {"n": 16, "sha256": "c"}}}})
    with pytest.raises(StateError, match=re.escape("with other settings: --lr was 0.1, now 0.2")):
        check_run(path, {"lr": 0.2, "samples_read": read})


def test_a_resume_names_the_data_as_it_likes(tmp_path, monkeypatch):
    """--ravdess /data/ravdess/ (a shell completes a folder with its slash), or ravdess from /data, was refused as
    "a run with other settings", and the advice was to start again with --overwrite."""
    from train.state import StateError, check_run

    path, folder = tmp_path / "state.safetensors", tmp_path / "ravdess"
    save_file({"x": torch.zeros(1)}, str(path), metadata={"progress": "{}", "run": json.dumps(
        {"ravdess": str(folder), "init": [f"{tmp_path}/a:encoders.text."], "lr": 0.1})})
    monkeypatch.chdir(tmp_path)
    for ravdess, init in ((f"{folder}/", f"{tmp_path}/./a:encoders.text."), ("ravdess", "a:encoders.text.")):
        check_run(path, {"ravdess": ravdess, "init": [init], "lr": 0.1}, ("ravdess", "init"))
    with pytest.raises(StateError, match=re.escape("--ravdess was")):
        check_run(path, {"ravdess": "elsewhere", "init": ["a:encoders.text."], "lr": 0.1}, ("ravdess", "init"))
    with pytest.raises(StateError, match=re.escape("--ravdess was")):  # the options named alone
        check_run(path, {"ravdess": f"{folder}/", "init": [f"{tmp_path}/a:encoders.text."], "lr": 0.1})
    # --data's specs too (emodb=tr, then emodb=/abs/tr/, was refused), and a run resumed from another folder:
    # the run's paths are kept as the files they name (ravdess, resumed in /elsewhere as /data/ravdess, was refused)
    from argparse import Namespace

    from train.train import SPEC_OPTIONS, _run_settings
    run = _run_settings(Namespace(ravdess="ravdess", data=["emodb=tr:03,08"], dev_data=[], init=[], lr=0.1))
    assert run == {"ravdess": str(folder), "data": [f"emodb={tmp_path}/tr:03,08"], "dev_data": [], "init": [],
                   "lr": 0.1}
    save_file({"x": torch.zeros(1)}, str(path), metadata={"progress": "{}", "run": json.dumps(run)})
    monkeypatch.chdir(tmp_path.parent)
    check_run(path, _run_settings(Namespace(ravdess=f"{folder}/", data=[f"emodb={tmp_path}/tr/:03,08"], dev_data=[],
                                            init=[], lr=0.1)), ("ravdess",), SPEC_OPTIONS)
    with pytest.raises(StateError, match=re.escape("--data was")):
        check_run(path, _run_settings(Namespace(ravdess=str(folder), data=["emodb=tr:03,08"], dev_data=[], init=[],
                                                lr=0.1)), ("ravdess",), SPEC_OPTIONS)


def test_what_would_lose_or_fake_a_run_is_refused_before_any_work(corpus, trained, tmp_path, capsys, caplog):
    """--resume without a state, an --out that holds an earlier run (its checkpoint was replaced without a word),
    --epochs 0 with nothing to compose (it saved a random model, calibrated, as if trained)."""
    out, cache = trained
    base = ["--meld", str(corpus), "--cache", str(cache), "--epochs", "1", *TINY]
    for flags, said in ((["--out", str(tmp_path / "none"), "--resume"], "none/train_state.safetensors holds no "
                         "training state to resume from; run without --resume first"),
                        (["--out", str(out / "text")], "text holds an earlier run (config.json, "
                         "train_state.safetensors): give another --out, --resume to continue that run, or --overwrite"),
                        (["--out", str(tmp_path / "e0"), "--epochs", "0"], "--epochs 0 trains nothing: it composes "
                         "the parts given with --init")):
        with pytest.raises(SystemExit) as e:
            main(base + flags)
        assert e.value.code == 2 and said in capsys.readouterr().err, flags
    assert not (tmp_path / "e0").exists() and not (tmp_path / "none").exists()
    (tmp_path / "other.safetensors").write_bytes((out / "text" / "model.safetensors").read_bytes())
    with pytest.raises(SystemExit, match="error: .*other.safetensors is not a training state"):  # one line
        main(base + ["--out", str(tmp_path / "o"), "--state", str(tmp_path / "other.safetensors"), "--resume"])
    compose = base + ["--out", str(tmp_path / "d"), "--epochs", "0", "--branches", "text", "--init",
                      f"{out / 'text'}:encoders.text."]
    with pytest.raises(SystemExit) as e:  # the embedded default by its name, as elsewhere: its words' sense head
        main(compose + ["--init", "default:sense_heads.text."])  # (its biases of this shape) was copied, though
    assert e.value.code == ("--init default:sense_heads.text.: its text weights were trained on the text encoder "  # it
                            "'all-MiniLM-L6-v2', this model's is 'tiny-random': give --text-source all-MiniLM-L6-v2, "
                            "or leave its text parts out")  # reads another encoder's readings
    wide = save_checkpoint(build_model(tiny_config(embed_dim=8)), tmp_path / "wide")
    with caplog.at_level("INFO", logger="train.train"):
        main(compose + ["--init", f"{wide}:sense_heads.text."])
    assert f"initialised 2 tensors from {wide}:sense_heads.text." in caplog.text  # the biases
    assert (f"--init {wide}:sense_heads.text.: 2 tensors of another shape stay as initialised here: "  # said, not
            "sense_heads.text.emotion.weight (7, 8) (here (7, 16))") in caplog.text  # silently left random


def test_numbers_out_of_range_are_refused_before_any_work(corpus, tmp_path, capsys):
    """--patience 0 (as for "no early stopping") ran no epoch and said "done" with no checkpoint; --familiarity-quantile
    97.5 (a percent) failed after the whole training, with a traceback; --voice-bank-layer 9 was a traceback."""
    base = ["--meld", str(corpus), "--out", str(tmp_path / "run"), "--epochs", "1", *TINY]
    for flags, said in ((["--patience", "0"], "argument --patience: must be a whole number at least 1, not 0"),
                        (["--epochs", "-1"], "argument --epochs: must be a whole number at least 0, not -1"),
                        (["--familiarity-quantile", "97.5"], "argument --familiarity-quantile: must be a number above "
                         "0 and at most 1, not 97.5"),
                        (["--modality-dropout", "nan"], "must be a number at least 0 and below 1, not nan"),
                        (["--batch-size", "0"], "argument --batch-size: must be a whole number at least 1, not 0")):
        with pytest.raises(SystemExit) as e:
            main(base + flags)
        assert e.value.code == 2 and said in capsys.readouterr().err, flags
    with pytest.raises(SystemExit, match=r"^error: voice_bank_layer must be a layer 1-6 of the Whisper encoder"):
        main(base + ["--voice-bank-layer", "9"])
    assert not (tmp_path / "run").exists()


def test_an_empty_output_path_is_refused_not_read_as_the_current_folder(tmp_path, capsys):
    """Before, --out '' (an unset shell variable) wrote config.json and model.safetensors into the current
    folder ("checkpoint in " said where), and an empty --state or --cache was read as not given."""
    from train.args import parse_args

    base = ["--meld", str(tmp_path), "--out", str(tmp_path / "run")]
    for flags, said in ((["--out", ""], "--out is empty: give a folder"),
                        (["--state", ""], "--state is empty: give a file's name")):
        with pytest.raises(SystemExit) as e:
            parse_args(base + flags)
        assert e.value.code == 2 and said in capsys.readouterr().err, flags
    assert parse_args(base + ["--cache", ""]).cache is None  # '': features in memory, as its help says


def test_an_output_path_that_cannot_be_written_is_named_by_its_option(tmp_path, capsys):
    """"error: /tmp/x is a file: give a folder" did not say whether --out, --state or --cache was meant."""
    from train.args import parse_args

    (tmp_path / "afile").write_text("")
    base = ["--meld", str(tmp_path), "--out", str(tmp_path / "run")]
    afile = tmp_path / "afile"
    for flags, said in ((["--cache", str(afile)], f"--cache {afile} is a file: give a folder"),
                        (["--state", str(tmp_path)], f"--state {tmp_path} is a folder: give a file's name"),
                        (["--out", str(tmp_path / "afile" / "run")], f"--out {tmp_path / 'afile' / 'run'}: "
                         f"{tmp_path / 'afile'} is a file, not a folder")):
        with pytest.raises(SystemExit) as e:
            parse_args(base + flags)
        assert e.value.code == 2 and said in capsys.readouterr().err, flags


def test_an_empty_list_of_actors_or_speakers_is_refused_not_read_as_all(shared_data, tmp_path, capsys):
    """--ravdess-train '' (an unset shell variable) trained on every actor, the dev actors among them, and
    ravdess=DIR: (or emovo=DIR:, ...) read every actor or speaker; an empty --ravdess-dev or --emovo-dev says, as
    documented, that none is held out."""
    from train.args import parse_args
    from train.corpora import CorpusError, read_data_spec

    base = ["--ravdess", str(shared_data / "ravdess"), "--out", str(tmp_path / "run")]
    with pytest.raises(SystemExit) as e:
        parse_args(base + ["--ravdess-train", ""])
    assert e.value.code == 2 and ("--ravdess-train is empty: give the RAVDESS actors to train on (e.g. 1-16; 1-24 "
                                  "for all)") in capsys.readouterr().err
    args = parse_args(base + ["--ravdess-dev", "", "--emovo-dev", ""])
    assert (args.ravdess_dev, args.emovo_dev) == ("", "")  # none held out
    for kind, what in (("ravdess", "actors (e.g. 17-20)"), ("emovo", "speakers (e.g. f1,m3)")):
        spec = f"{kind}={shared_data / kind}:"
        with pytest.raises(CorpusError, match=re.escape(f"--data {spec}: nothing follows ':' (an unset variable?): "
                                                        f"give the {what} after it, or leave out the ':' for all")):
            read_data_spec(spec)
    assert read_data_spec(f"ravdess={shared_data / 'ravdess'}:17")[1]  # as before


@pytest.fixture(scope="module")
def words_and_voice(tmp_path_factory) -> Path:
    """A tiny random checkpoint of the words and the voice, to give branches with --init."""
    from mmsent.checkpoint import save_checkpoint
    from mmsent.config import tiny_config
    from mmsent.model import build_model

    return save_checkpoint(build_model(tiny_config(trained_branches=("text", "audio"))),
                           tmp_path_factory.mktemp("given") / "ck")


def test_a_branch_neither_fed_nor_given_by_init_is_refused_before_any_work(words_and_voice, tmp_path, capsys):
    """--branches text audio --modalities audio trained the voice and saved a text branch never fed (its projection
    and heads random), which the analysis read as the words (calibrated, it even outweighed the voice); --epochs 0
    saved as composed a branch that no --init gave."""
    from train.args import parse_args

    ck = str(words_and_voice)
    base = ["--meld", str(tmp_path), "--out", str(tmp_path / "run")]
    for flags, said in ((["--branches", "text", "audio", "--modalities", "audio"], "--branches text: the text "
                         "branch is neither trained (--modalities audio) nor given by --init, so it would be saved "
                         "with random weights that the analysis reads as a sense: feed it with --modalities, drop it "
                         "from --branches, or give it with --init DIR:encoders.text. --init DIR:sense_heads.text."),
                        (["--branches", "text", "audio", "--epochs", "0", "--init", f"{ck}:encoders.audio.",
                          "--init", f"{ck}:sense_heads.audio."], "--branches text: the text branch is neither trained "
                         "(--epochs 0 trains nothing) nor given by --init, so it would be saved with random weights "
                         "that the analysis reads as a sense: drop it from --branches, or give it with --init"),
                        (["--branches", "text", "video", "--modalities", "audio", "--init", f"{ck}:sense_heads.text."],
                         "--branches text video: the text branch is neither trained"),  # its encoder is not given
                        (["--branches", "video", "--epochs", "0", "--init", ck], "--branches video: the video branch"),
                        (["--branches", "audio", "--epochs", "0", "--init", str(tmp_path / "nothing")],
                         "--init " + str(tmp_path / "nothing") + ": " + str(tmp_path / "nothing") + ": no such")):
        with pytest.raises(SystemExit) as e:
            parse_args(base + flags)
        assert e.value.code == 2 and said in capsys.readouterr().err, flags
    for flags in (["--branches", "text", "audio", "--modalities", "audio", "--init", f"{ck}:encoders.text.",
                   "--init", f"{ck}:sense_heads.text."],  # the words kept, the voice trained
                  ["--branches", "text", "audio", "--epochs", "0", "--init", ck],
                  ["--branches", "audio", "--epochs", "0", "--init", f"{ck}:encoders.", "--init", f"{ck}:sense_heads."],
                  ["--branches", "audio", "--modalities", "text", "audio"]):  # fed a sense it has no branch for
        assert parse_args(base + flags).init == [flags[i + 1] for i, f in enumerate(flags) if f == "--init"]


def test_the_default_s_recipe_gives_every_branch(tmp_path):
    """train/reproduce_default.sh trains each sense alone and composes them with --epochs 0 --init: each of its
    train.train commands parses (every --init from a checkpoint that the steps before it leave)."""
    from mmsent.checkpoint import CONFIG_FILE, FORMAT, FORMAT_VERSION, WEIGHTS_FILE
    from train.args import parse_args

    bin_, log = tmp_path / "bin", tmp_path / "calls"
    bin_.mkdir()
    (bin_ / "python").write_text('#!/bin/sh\nfor a in "$@"; do printf \'%s\\037\' "$a"; done >> "$LOG"\n'
                                 'printf \'\\n\' >> "$LOG"\n[ "$2" = train.familiarity ] && echo 0.5\nexit 0\n')
    (bin_ / "python").chmod(0o755)
    env = {**os.environ, "PATH": f"{bin_}:{os.environ['PATH']}", "LOG": str(log), "DATA": str(tmp_path / "data"),
           "WORK": str(tmp_path / "work"), "OUT": str(tmp_path / "default"), "CACHE": str(tmp_path / "cache")}
    subprocess.run(["sh", str(ROOT / "train" / "reproduce_default.sh")], env=env, check=True, cwd=tmp_path)
    calls = [line.split("\037")[:-1] for line in log.read_text().splitlines()]
    trains = 0
    for call in calls:  # each step leaves its checkpoint (its branches) for the --init of those after it
        if call[:2] == ["-m", "train.train"]:
            args, trains = parse_args(call[2:]), trains + 1
            out, branches = Path(args.out), args.branches
        elif call[:2] == ["-m", "train.ensemble"]:
            out, branches = Path(call[call.index("--out") + 1]), ["audio"]
        else:
            continue
        out.mkdir(parents=True)
        (out / WEIGHTS_FILE).write_bytes(b"")
        (out / CONFIG_FILE).write_text(json.dumps({"format": FORMAT, "format_version": FORMAT_VERSION,
                                                   "trained_branches": branches}))
    assert trains == 11 and parse_args(calls[-2][2:]).branches == ["text", "audio", "video"]  # the composition


def _children(pid: int) -> list[int]:
    """The processes whose parent is pid (torchrun starts its workers in sessions of their own)."""
    found = []
    for stat in Path("/proc").glob("[0-9]*/stat"):
        try:
            fields = stat.read_text().rsplit(")", 1)[1].split()
        except OSError:  # gone meanwhile
            continue
        if int(fields[1]) == pid:
            found.append(int(stat.parent.name))
    return found


def _torchrun(args: list[str]) -> None:
    """train.train in a 2-process torchrun job on the CPU."""
    env = {**os.environ, "PYTHONPATH": str(ROOT), "OMP_NUM_THREADS": "1", "PYTHONFAULTHANDLER": "1"}
    cmd = [sys.executable, "-m", "torch.distributed.run", "--standalone", "--nproc_per_node=2", "-m", "train.train",
           *args]
    proc = subprocess.Popen(cmd, cwd=ROOT, env=env, stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True)
    try:
        _, stderr = proc.communicate(timeout=150)  # about 10 s
    except subprocess.TimeoutExpired:  # once in CI: say where each process stood
        for pid in [*_children(proc.pid), proc.pid]:
            os.kill(pid, signal.SIGABRT)  # faulthandler prints the stack of every thread
        _, stderr = proc.communicate()
        pytest.fail("torchrun did not finish in 150 s; the stacks of its processes:\n" + stderr[-12000:])
    assert proc.returncode == 0, stderr[-3000:]


def test_torchrun_two_processes_give_one_checkpoint(corpus, trained, tmp_path):
    _, cache = trained
    out = tmp_path / "ddp"
    _torchrun(["--meld", str(corpus), "--cache", str(cache), "--out", str(out), "--epochs", "1", *TINY])
    assert sorted(p.name for p in out.iterdir()) == ["config.json", "model.safetensors", "train_state.safetensors"]
    meta = json.loads((out / "config.json").read_text())
    assert meta["training"]["world_size"] == 2
    assert load_checkpoint(out).encoders.keys() == {"text", "audio", "video"}


def test_torchrun_resume_continues_each_process_where_it_stopped(corpus, trained, tmp_path):
    """Only rank 0 writes the state: it kept its own random generator, and each process resumed from it, so rank 1's
    dropout after a resume was not that of the run uninterrupted."""
    common = _resumable(corpus, trained[1])
    _torchrun([*common, "--out", str(tmp_path / "straight"), "--epochs", "2"])
    _torchrun([*common, "--out", str(tmp_path / "split"), "--epochs", "2", "--stop-after", "1"])
    _torchrun([*common, "--out", str(tmp_path / "split"), "--epochs", "2", "--resume"])
    _same_weights(tmp_path / "straight", tmp_path / "split")


def test_extraction_leaves_the_random_stream_of_training_as_it_was(shared_data, tmp_path):
    """Building Whisper's torch layers and the face CNN on a cold cache draws throwaway initial weights:
    without a fork of the random state, a run's dropout and joined samples would depend on whether its
    features were cached (the same command trained another model from a cold cache)."""
    from mmsent import whisper_layers
    from mmsent.config import tiny_config
    from mmsent.model import build_model
    from train.face_corpora import read_fer2013

    model = build_model(tiny_config(audio_source="whisper-base-layer4", voice_bank_layer=4,
                                    video_source="face-expression", trained_branches=("audio", "video")))
    samples = read_ravdess(shared_data / "ravdess", "17")[:2] + read_fer2013(shared_data / "fer2013", "validation")[:2]
    whisper_layers.load_layers.cache_clear()  # as in a fresh process
    torch.manual_seed(0)
    before = torch.get_rng_state()
    caches = extract_all(model, samples, tmp_path / "cache")
    assert not caches["audio"].missing([s.feature_id("audio") for s in samples[:2]])
    assert not caches["video"].missing([s.feature_id("video") for s in samples[2:]])
    assert torch.equal(torch.get_rng_state(), before)


def test_another_file_under_the_same_corpus_name_is_not_served_stale_features(shared_data, tmp_path):
    """A copy of a corpus changed on disk (RAVDESS through a telephone band, your own folder edited) names
    its clips as the original does: the cache must read the new files, not answer the old ones' features,
    also when a file is rewritten while the process runs; the same files elsewhere, written afresh (a
    data folder provisioned again), keep theirs."""
    import os

    from mmsent.config import tiny_config
    from mmsent.model import build_model

    first, second = sorted((shared_data / "ravdess" / "Actor_17").glob("*.flac"))[:2]
    for folder, source in (("a", first), ("b", second), ("c", first)):  # b: the second clip under the first's name
        (tmp_path / folder / "Actor_17").mkdir(parents=True)
        shutil.copy(source, tmp_path / folder / "Actor_17" / first.name)
    model = build_model(tiny_config(audio_source="whisper-base-layer4", trained_branches=("audio",)))
    a, b, c = (read_ravdess(tmp_path / folder)[0] for folder in ("a", "b", "c"))
    assert a.id == b.id
    cache = tmp_path / "cache"
    states = [extract_all(model, [s], cache)["audio"][s.feature_id("audio")] for s in (a, b)]
    assert states[0].shape != states[1].shape or not torch.equal(*states)
    again = extract_all(model, [a], cache)["audio"][a.feature_id("audio")]  # the first file's, from the cache
    assert torch.equal(again, states[0])
    assert c.feature_id("audio") == a.feature_id("audio")  # the first clip again: its features, not computed again
    assert not extract_all(model, [], cache)["audio"].missing([c.feature_id("audio")])
    before = a.feature_id("audio")  # the first file rewritten with the second's bytes while this process runs
    shutil.copy(second, a.media)
    os.utime(a.media, ns=(a.media.stat().st_atime_ns, a.media.stat().st_mtime_ns + 10**9))
    assert a.feature_id("audio") == b.feature_id("audio") != before


def _clips(shared_data, folder: Path, actor: int) -> Path:
    """RAVDESS speech of one actor as a user's labelled clips: folder/<emotion>/<file> (links, in place)."""
    for code, emotion in (("01", "neutral"), ("03", "happy"), ("04", "sad"), ("05", "angry")):
        (folder / emotion).mkdir(parents=True)
        for clip in sorted((shared_data / "ravdess" / f"Actor_{actor:02d}").glob(f"03-01-{code}-*.flac"))[:4]:
            (folder / emotion / clip.name).symlink_to(clip)
    return folder


def test_training_on_your_own_labelled_clips(shared_data, tmp_path, caplog):
    """--data and --dev-data take any layout train.evaluate reads: a user's clips train the voice, their
    dev clips (other speakers) select and calibrate it; files in both are refused."""
    mine, held = _clips(shared_data, tmp_path / "my clips", 18), _clips(shared_data, tmp_path / "my dev", 19)
    out = tmp_path / "mine"
    with caplog.at_level("INFO", logger="train.train"):
        main(["--data", f"folders={mine}", "--dev-data", f"folders={held}", "--cache", str(tmp_path / "cache"),
              "--out", str(out), "--epochs", "2", "--modalities", "audio", *TINY, "--branches", "audio"])
    # what it selected on, and how to use what it made (before: neither said)
    assert "dev sets (each epoch is scored on them, the best kept, then calibrated on them): my dev (16 samples)" \
        in caplog.text
    assert (f"checkpoint in {out}. Use it: python -m mmsent analyze VIDEO --checkpoint {out}; measure it on clips of "
            f"speakers it never heard: python -m train.evaluate --checkpoint {out} --data SPEC") in caplog.text
    training = json.loads((out / "config.json").read_text())["training"]
    assert training["data"]["data"] == [f"folders={mine}"] and set(training["dev_metrics"]) == {"my dev"}
    assert training["dev_metrics"]["my dev"]["emotion"]["n"] == 16
    temperature = training["calibration"]["temperature"]["audio"]["emotion"]
    assert temperature != 1.0  # fitted on the user's dev clips (no other dev set holds voices here)
    with pytest.raises(SystemExit, match="16 files are both trained on and in a dev set"):
        main(["--data", f"folders={mine}", "--dev-data", f"folders={mine}", "--cache", str(tmp_path / "cache"),
              "--out", str(tmp_path / "memory"), "--epochs", "1", "--modalities", "audio", *TINY,
              "--branches", "audio"])


def test_your_own_clips_are_told_from_whatever_folder_train_evaluate_runs_in(shared_data, tmp_path, monkeypatch):
    """A checkpoint trained with --data folders=mine recorded "folders=mine", read by train.evaluate as from where it
    runs: run elsewhere on the same clips (folders=/home/u/mine), it took them for held out. The checkpoint records
    the folder absolute now, and a folder reached by another path (relative, or through a link) is the same folder."""
    from train.corpora import read_data_spec
    from train.heldout import seen_in_training, trained_on

    work = tmp_path / "work"
    _clips(shared_data, work / "mine", 18), _clips(shared_data, work / "held", 19)
    monkeypatch.chdir(work)
    main(["--data", "folders=mine", "--dev-data", "folders=./held/", "--cache", str(tmp_path / "cache"), "--out",
          "out", "--epochs", "1", "--modalities", "audio", *TINY, "--branches", "audio"])
    data = json.loads((work / "out" / "config.json").read_text())["training"]["data"]
    assert data["data"] == [f"folders={work / 'mine'}"] and data["dev_data"] == [f"folders={work / 'held'}"]
    (tmp_path / "elsewhere").mkdir(), (tmp_path / "link").symlink_to(work)
    monkeypatch.chdir(tmp_path / "elsewhere")
    rules = trained_on(work / "out")
    for spec, role in ((f"folders={work / 'mine'}", "trained"), ("folders=../work/mine", "trained"),
                       ("folders=../link/held", "dev"), (f"folders={tmp_path / 'link' / 'mine'}", "trained")):
        seen = seen_in_training("mine", "folders", read_data_spec(spec)[1], rules)
        assert seen is not None and seen["n"] == seen["of"] == 16 and len(seen[role]) == 1, spec


def test_a_checkpoint_records_the_paths_it_was_trained_with_without_the_home_folder(shared_data, tmp_path,
                                                                                     monkeypatch):
    """A checkpoint recorded --data's folders absolute and --ravdess's as typed (relative to where it ran), and the
    command line and the options as given: shared, it named its trainer's home folder (/home/alice/...) in each.
    Now every path is absolute, the home folder written ~, and train.heldout still tells the clips trained on."""
    from train.corpora import read_data_spec
    from train.heldout import seen_in_training, trained_on

    home = tmp_path / "home"
    monkeypatch.setenv("HOME", str(home))
    work = home / "work"
    _clips(shared_data, work / "mine", 18), _clips(shared_data, work / "held", 19)
    for actor in (1, 17):  # a RAVDESS of two actors: 1 trains, 17 selects
        (home / "corpora" / "ravdess" / f"Actor_{actor:02d}").mkdir(parents=True)
        for clip in sorted((shared_data / "ravdess" / f"Actor_{actor:02d}").glob("03-01-0[1345]-*.flac"))[::4]:
            (home / "corpora" / "ravdess" / f"Actor_{actor:02d}" / clip.name).symlink_to(clip)
    monkeypatch.chdir(work)
    main(["--ravdess", "../corpora/ravdess", "--data", "folders=mine", "--dev-data", f"folders={work / 'held'}",
          "--cache", "~/cache", "--out", str(work / "out"), "--epochs", "1", "--modalities", "audio", *TINY,
          "--branches", "audio"])
    text = (work / "out" / "config.json").read_text()
    assert str(home) not in text
    training = json.loads(text)["training"]
    data, hyper = training["data"], training["hyperparameters"]
    assert data["ravdess"] == "~/corpora/ravdess" and data["data"] == ["folders=~/work/mine"]
    assert data["dev_data"] == ["folders=~/work/held"] and hyper["out"] == "~/work/out" and hyper["cache"] == "~/cache"
    assert "--dev-data folders=~/work/held" in training["command"]
    monkeypatch.chdir(tmp_path)
    rules = trained_on(work / "out")
    for spec, role in ((f"folders={work / 'mine'}", "trained"), ("folders=home/work/held", "dev")):
        seen = seen_in_training("mine", "folders", read_data_spec(spec)[1], rules)
        assert seen is not None and seen["n"] == seen["of"] == 16 and len(seen[role]) == 1, spec


def test_training_says_before_it_starts_what_it_could_not_select_or_learn_on(shared_data, tmp_path):
    """Each of these ran before: no dev set (training ended in a traceback in calibration), a dev set of silent
    clips (selected and calibrated on the prior alone), faces given to a voice (a checkpoint that learned
    nothing), a training clip copied under another name into the dev set, an --out that is a file, a GPU this
    machine lacks. Each is now an error before any training."""
    import wave

    mine, held = _clips(shared_data, tmp_path / "mine", 18), _clips(shared_data, tmp_path / "held", 19)
    silent = tmp_path / "silent"
    for seconds, emotion in enumerate(("angry", "sad"), 1):
        (silent / emotion).mkdir(parents=True)
        with wave.open(str(silent / emotion / "quiet.wav"), "wb") as w:
            w.setnchannels(1), w.setsampwidth(2), w.setframerate(16000), w.writeframes(bytes(32000 * seconds))
    faces = tmp_path / "faces"
    for name in ("angry", "happy"):
        (faces / name).mkdir(parents=True)
        for image in sorted((shared_data / "fer2013" / "train" / name).glob("*.jpg"))[:3]:
            (faces / name / image.name).symlink_to(image)
    leak = tmp_path / "leak"
    shutil.copytree(held, leak, symlinks=True)
    clip, copy = next((mine / "angry").iterdir()), leak / "angry" / "renamed.flac"
    shutil.copy(clip, copy)  # the same bytes under another name and folder
    run = ["--cache", str(tmp_path / "cache"), "--out", str(tmp_path / "out"), "--epochs", "1",
           "--modalities", "audio", *TINY, "--branches", "audio"]
    for flags, said in ((["--data", f"folders={mine}"], "no dev set to select the best epoch"),
                        (["--data", f"folders={mine}", "--dev-data", f"folders={silent}"],
                         "silent: none of its 2 files could be read"),
                        (["--data", f"fer2013={faces}", "--dev-data", f"folders={held}"],
                         "none of the 6 training samples gives what the model is fed (--modalities audio)"),
                        (["--data", f"folders={mine}", "--dev-data", f"folders={leak}"],
                         f"1 file is both trained on and in a dev set (e.g. {clip} as {copy})")):
        with pytest.raises(SystemExit, match=re.escape(said)):
            main(flags + run)
        assert not (tmp_path / "out" / "model.safetensors").exists()
    with pytest.raises(SystemExit, match=re.escape("(--modalities text); they have no words (a folders= clip")):
        main(["--data", f"folders={mine}", "--dev-data", f"folders={held}", *run, "--modalities", "text",
              "--branches", "text"])
    (tmp_path / "file").write_text("")
    with pytest.raises(SystemExit) as e:
        main(["--data", f"folders={mine}", "--dev-data", f"folders={held}", *run, "--out", str(tmp_path / "file")])
    assert e.value.code == 2
    if not torch.cuda.is_available():
        with pytest.raises(SystemExit, match="this machine has no CUDA device"):
            main(["--data", f"folders={mine}", "--dev-data", f"folders={held}", *run, "--device", "cuda"])


def test_training_on_one_emotion_is_refused_before_any_work(shared_data, tmp_path):
    """A folder of one emotion's clips trained a voice that could learn nothing, without a word: the calibration on
    the dev clips then made of it what they held (1.000 on them, "done")."""
    lonely, held = tmp_path / "lonely", _clips(shared_data, tmp_path / "held", 19)
    _clips(shared_data, tmp_path / "mine", 18)
    shutil.copytree(tmp_path / "mine" / "happy", lonely / "happy", symlinks=True)
    cache_mod.ENCODER_CALLS.clear()
    with pytest.raises(SystemExit, match=re.escape("every training sample is labelled joy: a model learns to tell "
                                                   "emotions apart from samples of two or more")):
        main(["--data", f"folders={lonely}", "--dev-data", f"folders={held}", "--cache", str(tmp_path / "cache"),
              "--out", str(tmp_path / "out"), "--epochs", "1", "--modalities", "audio", *TINY, "--branches", "audio"])
    assert not (tmp_path / "out").exists() and not cache_mod.ENCODER_CALLS


def test_a_dev_emotion_that_training_lacks_is_warned_of(shared_data, tmp_path, caplog):
    """Dev clips of an emotion no training clip had passed without a word: the calibration's bias for it is fitted on
    them alone (a voice trained on joy and sadness, calibrated on anger and fear, got its largest bias, +4.7, for
    fear, which it never learned). Nor were dev sets of a few clips of each emotion, all the calibration is fitted
    on."""
    _clips(shared_data, tmp_path / "mine", 18), _clips(shared_data, tmp_path / "held", 19)
    for name, emotions in (("train", ("happy", "sad")), ("dev", ("happy", "sad", "angry"))):
        for emotion in emotions:
            shutil.copytree(tmp_path / ("mine" if name == "train" else "held") / emotion, tmp_path / name / emotion,
                            symlinks=True)
    with caplog.at_level("WARNING", logger="train.train"):
        main(["--data", f"folders={tmp_path / 'train'}", "--dev-data", f"folders={tmp_path / 'dev'}", "--cache",
              str(tmp_path / "cache"), "--out", str(tmp_path / "out"), "--epochs", "1", "--modalities", "audio", *TINY,
              "--branches", "audio"])
    assert ("the dev sets (dev) have anger, which training has not: the model can't learn it, and calibrated on them "
            "it may answer it whatever it hears") in caplog.text
    # 4 clips of each: a voice's temperature, fitted on 4 clips in all, was once 560,000 (every reading flat)
    assert ("the dev sets (dev) hold fewer than 10 samples of anger (4), joy (4), sadness (4): the epoch kept and the "
            "calibration (a temperature and a bias per emotion) are fitted to so few") in caplog.text


def test_a_temperature_fitted_on_a_handful_of_dev_clips_stays_in_its_range_and_the_log_says_so(shared_data, tmp_path,
                                                                                           caplog):
    """One dev clip of each emotion set a voice's sentiment temperature to 663,449 (every reading flat), and the log
    gave the calibration as a Python dict; with the temperature bounded, its fusion weight went to 19 (every reading
    one-hot). Now a temperature and a fusion weight stop at an end of their ranges, the log warns where one did, and
    gives each sense's figures on a line of its own."""
    _clips(shared_data, tmp_path / "mine", 18), _clips(shared_data, tmp_path / "held", 19)
    for emotion in (tmp_path / "held").iterdir():
        (tmp_path / "few" / emotion.name).mkdir(parents=True)
        first = sorted(emotion.iterdir())[0]
        (tmp_path / "few" / emotion.name / first.name).symlink_to(first.resolve())
    with caplog.at_level("INFO", logger="train.calibrate"):
        main(["--data", f"folders={tmp_path / 'mine'}", "--dev-data", f"folders={tmp_path / 'few'}", "--cache",
              str(tmp_path / "cache"), "--out", str(tmp_path / "out"), "--epochs", "2", "--modalities", "audio", *TINY,
              "--branches", "audio"])
    calibration = json.loads((tmp_path / "out" / "config.json").read_text())["training"]["calibration"]
    voice = calibration["temperature"]["audio"]
    assert all(FUSION_WEIGHTS[0] <= w <= FUSION_WEIGHTS[1] for w in calibration["fusion_weight"]["audio"].values())
    assert all(TEMPERATURES[0] * 0.999 <= t <= TEMPERATURES[-1] * 1.001 for t in voice.values()), voice
    ends = {head: grid_end(t) for head, t in voice.items() if grid_end(t)}
    assert ends  # 4 clips: the fit ran on to an end here
    for head, end in ends.items():
        assert (f"the voice's {head} temperature stopped at {voice[head]:.1f}, "
                f"the {'upper' if end == 'max' else 'lower'} "
                "end of the range allowed (0.2-10.0), fitted on 4 dev samples") in caplog.text
    line = next(r.getMessage() for r in caplog.records if r.getMessage().startswith("calibration: voice: "))
    assert re.fullmatch(r"calibration: voice: emotion T=\d+\.\d\d( \(\w+ bound\))?, "
                        r"sentiment T=\d+\.\d\d( \(\w+ bound\))?; "
                        r"fusion weight emotion \d+\.\d\d( \(\w+ bound\))?, sentiment \d+\.\d\d( \(\w+ bound\))?; "
                        r"neutral discount emotion .*", line), line


def test_a_text_encoder_that_is_not_here_is_one_error_line(shared_data, tmp_path, monkeypatch):
    """A hub model that is not cached, offline (as here: no hub): before, three chained tracebacks."""
    monkeypatch.setenv("HF_HUB_OFFLINE", "1")
    proc = subprocess.run([sys.executable, "-m", "train.train", "--meld", str(shared_data / "meld"), "--branches",
                           "text", "--modalities", "text", "--text-source", "no-such-org/no-such-model", "--epochs",
                           "1", "--out", str(tmp_path / "out")], capture_output=True, text=True, timeout=300,
                          cwd=Path(__file__).resolve().parents[1])
    assert proc.returncode == 1 and "Traceback" not in proc.stderr, proc.stderr[-3000:]
    assert "error: text encoder 'no-such-org/no-such-model' is unavailable" in proc.stderr


def test_emovo_dev_speakers_are_read_as_a_spec_s_and_unknown_ones_refused(shared_data, tmp_path, capsys):
    """--emovo-dev was split on commas as given: M3 or 'm3 ' held no one out (m3 trained on, no EMOVO dev set)
    without a word; it is now read as emovo=DIR:SPEAKERS is, and a speaker EMOVO does not have is refused."""
    from train.args import parse_args, read_corpora

    base = ["--emovo", str(shared_data / "emovo"), "--out", str(tmp_path / "run"), "--cache", ""]
    for given in ("M3", "m3 ", " M3,"):
        args = parse_args(base + ["--emovo-dev", given])
        assert args.emovo_dev == "m3", given  # as config.json records it, and mmsent info says it
        train, dev, _ = read_corpora(args)
        assert {s.group for s in dev["emovo"]} == {"emovo-m3"}, given
        assert "emovo-m3" not in {s.group for s in train}, given
    for given, said in (("m4", "--emovo-dev m4: EMOVO has no speaker m4: its speakers are f1 f2 f3 m1 m2 m3"),
                        ("m3,F9", "--emovo-dev m3,F9: EMOVO has no speaker f9"),
                        ("1-3", "--emovo-dev 1-3: bad speaker list '1-3'")):
        with pytest.raises(SystemExit) as e:
            parse_args(base + ["--emovo-dev", given])
        assert e.value.code == 2 and said in capsys.readouterr().err, given


def test_init_from_a_checkpoint_of_other_labels_is_refused_before_any_work(tmp_path, capsys):
    """--init compared only shapes: a checkpoint of the same 7 emotions in another order had its heads' rows copied
    to other emotions here (its 'anger' row answered 'sadness'); its encoders alone can still be given."""
    from mmsent.checkpoint import save_checkpoint
    from mmsent.config import tiny_config
    from mmsent.labels import EMOTIONS
    from mmsent.model import build_model
    from train.args import parse_args

    other = tuple(reversed(EMOTIONS))
    ck = str(save_checkpoint(build_model(tiny_config(emotions=other, trained_branches=("audio",))), tmp_path / "ck"))
    base = ["--meld", str(tmp_path), "--out", str(tmp_path / "run"), "--branches", "audio", "--modalities", "audio"]
    for init in (ck, f"{ck}:sense_heads.audio.", f"{ck}:emotion_"):
        with pytest.raises(SystemExit) as e:
            parse_args(base + ["--init", init])
        assert e.value.code == 2 and (f"--init {init}: its heads answer the emotions {', '.join(other)}, this run's "
                                      f"{', '.join(EMOTIONS)}") in capsys.readouterr().err, init
    assert parse_args(base + ["--init", f"{ck}:encoders.audio."]).init == [f"{ck}:encoders.audio."]


def test_a_format_2_checkpoint_is_recalibrated_as_its_message_advises(corpus, tmp_path):
    """Loading a format-2 checkpoint advised python -m train.train --epochs 0 --init DIR, but --init read it through
    the check that refuses format 2: the advice could not be followed."""
    from mmsent.checkpoint import FORMAT_VERSION, CheckpointError, save_checkpoint
    from mmsent.config import tiny_config
    from mmsent.model import build_model

    old = save_checkpoint(build_model(tiny_config(trained_branches=("audio",), audio_channels=(8, 16, 32))),
                          tmp_path / "old")
    meta = json.loads((old / "config.json").read_text())
    (old / "config.json").write_text(json.dumps({**meta, "format_version": 2}))
    with pytest.raises(CheckpointError, match=re.escape(f"(python -m train.train --epochs 0 --init {old} with its")):
        load_checkpoint(old)
    main(["--meld", str(corpus), "--cache", str(tmp_path / "cache"), "--out", str(tmp_path / "new"), *TINY,
          "--branches", "audio", "--modalities", "audio", "--epochs", "0", "--init", str(old)])
    assert json.loads((tmp_path / "new" / "config.json").read_text())["format_version"] == FORMAT_VERSION
    assert load_checkpoint(tmp_path / "new").config.trained_branches == ("audio",)


def test_branches_and_modalities_take_commas_and_unknown_names_are_refused(tmp_path, capsys):
    """--branches text,audio was read as one branch named 'text,audio' (refused as neither trained nor given, with
    --init DIR:encoders.text,audio. as advice), --modalities text,audio as one unknown sense, said only after
    parsing."""
    from train.args import parse_args

    base = ["--meld", str(tmp_path), "--out", str(tmp_path / "run")]
    args = parse_args(base + ["--branches", "text,audio", "--modalities", "Text, audio"])
    assert (args.branches, args.modalities) == (["text", "audio"], ["text", "audio"])
    assert parse_args(base + ["--branches", "text", "audio,"]).branches == ["text", "audio"]
    for flags, said in ((["--branches", "text,words"], "--branches text,words: no sense words: give text, audio or "
                         "video (the words, the voice, the face), separated by spaces or commas"),
                        (["--modalities", "txt"], "--modalities txt: no sense txt")):
        with pytest.raises(SystemExit) as e:
            parse_args(base + flags)
        assert e.value.code == 2 and said in capsys.readouterr().err, flags
