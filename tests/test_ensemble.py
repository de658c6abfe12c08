"""A voice of heads trained apart (train.ensemble): its reading is the mean of theirs, gate included;
it survives a checkpoint; a checkpoint of one head in the layout before them still loads; voices that
differ are refused, and so is training several heads together."""

import json
import re
import shutil

import pytest
import torch
from safetensors.torch import load_file, save_file
from conftest import unrecorded

from mmsent.checkpoint import CheckpointError, load_checkpoint, save_checkpoint
from mmsent.config import tiny_config
from mmsent.features import WHISPER_WIDTH
from mmsent.model import Inputs, build_model
from train import ensemble
from train import train as train_cli

AUDIO = 1
_g = torch.Generator().manual_seed(5)
SPEAKERS = torch.randn(3, WHISPER_WIDTH, generator=_g)
BANK = torch.cat([c + 0.3 * torch.randn(10, WHISPER_WIDTH, generator=_g) for c in SPEAKERS])  # 3 speakers' voices


def _voice(seed: int, **config):
    """A voice-only model as train.train leaves it: its own head and calibration, the shared bank and gate."""
    torch.manual_seed(seed)
    model = build_model(tiny_config(audio_source="whisper-base", trained_branches=("audio",), **config)).eval()
    model.set_voice_bank(BANK)
    with torch.no_grad():
        norm = model.encoders["audio"].members[0].norm
        norm.running_mean.normal_(0, 0.5)
        norm.running_var.uniform_(0.5, 2.0)
        model.temperature[AUDIO] = torch.tensor([0.7, 1.6]) + seed / 10
        model.emotion_bias[AUDIO].normal_()
        model.sentiment_bias[AUDIO].normal_()
        model.encoders["audio"].gate.copy_(torch.tensor([0.5, 3.0]))
    return model


def _inputs() -> Inputs:
    g = torch.Generator().manual_seed(9)
    states = torch.cat([4 * torch.randn(1, 20, WHISPER_WIDTH, generator=g)]  # a stranger, doubted by the gate
                       + [SPEAKERS[k] + 0.3 * torch.randn(1, 20, WHISPER_WIDTH, generator=g) for k in range(3)])
    mask = torch.zeros(4, 3, dtype=torch.bool)
    mask[:, AUDIO] = True
    return Inputs(mask=mask, audio_states=states, audio_lengths=torch.tensor([20, 15, 20, 8]))


def test_the_joined_voice_reads_the_mean_of_its_voices_and_survives_a_checkpoint(tmp_path, monkeypatch):
    voices = [_voice(s) for s in range(3)]
    x = _inputs()
    readings = [v(x) for v in voices]
    assert (readings[0].distances["audio"][0] > 0.5) and (readings[0].distances["audio"][1:] < 0.5).all()
    joined = ensemble.join_voices(voices)
    assert joined.config.voice_members == 3 and joined.config.voice_bank == 30
    out = joined(x)
    assert out.embeddings["audio"].shape == (4, 3 * joined.config.embed_dim)
    for h in (0, 1):  # emotion, sentiment: the mean of the voices' calibrated (and gated) logits
        mean = torch.stack([r.per_modality["audio"][h] for r in readings]).mean(0)
        torch.testing.assert_close(out.per_modality["audio"][h], mean)
        assert not torch.allclose(mean, readings[0].per_modality["audio"][h], atol=1e-3)
    torch.testing.assert_close(out.distances["audio"], readings[0].distances["audio"])
    # each voice's calibration is folded into its part; the joined voice's own starts neutral
    assert (joined.temperature[AUDIO] == 1).all() and not joined.emotion_bias[AUDIO].any()
    folder = tmp_path / "joined"
    monkeypatch.setenv("HOME", str(tmp_path))
    assert ensemble.main([str(save_checkpoint(v, tmp_path / f"v{i}")) for i, v in enumerate(voices)]
                         + ["--out", str(folder)]) == 0
    loaded = load_checkpoint(folder)
    # the voices joined, as shared_path records them: the home folder written ~ (it named its trainer's)
    assert json.loads((folder / "config.json").read_text())["training"]["joined_voices"][2] == "~/v2"
    stored = load_file(str(folder / "model.safetensors"))  # the heads in float16, as the bank
    assert stored["encoders.audio.members.2.net.0.weight"].dtype == torch.float16
    assert stored["sense_heads.audio.emotion.weight"].dtype == torch.float32
    torch.testing.assert_close(loaded(x).per_modality["audio"][0], out.per_modality["audio"][0], atol=2e-3, rtol=0)


def test_a_one_head_voice_saved_before_heads_were_a_list_still_loads(tmp_path):
    model = _voice(0)
    folder = save_checkpoint(model, tmp_path / "format-6")
    state = load_file(str(folder / "model.safetensors"))
    save_file({k.replace("encoders.audio.members.0.", "encoders.audio."): v for k, v in state.items()},
              str(unrecorded(folder) / "model.safetensors"))
    with pytest.raises(CheckpointError, match="missing \\['encoders.audio.members.0"):
        load_checkpoint(folder)  # format 7 must use the new names
    meta = json.loads((folder / "config.json").read_text())
    (folder / "config.json").write_text(json.dumps({**meta, "format_version": 6}))
    x = _inputs()
    torch.testing.assert_close(load_checkpoint(folder)(x).emotion_logits, model(x).emotion_logits)


def test_voices_that_differ_are_not_joined_and_heads_are_not_trained_together(tmp_path):
    with pytest.raises(ValueError, match="other options: audio_hidden 16 vs 8"):
        ensemble.join_voices([_voice(0), _voice(1, audio_hidden=8)])
    other = _voice(1)
    other.encoders["audio"].gate[1] = 5.0  # another slope
    with pytest.raises(ValueError, match="other gates"):
        ensemble.join_voices([_voice(0), other])
    with pytest.raises(ValueError, match="one Whisper voice head"):
        ensemble.join_voices([ensemble.join_voices([_voice(0), _voice(1)]), _voice(2)])
    with pytest.raises(SystemExit, match="trained apart"):
        train_cli.main(["--ravdess", str(tmp_path), "--branches", "audio", "--modalities", "audio", "--config", "tiny",
                        "--audio-source", "whisper-base", "--voice-members", "2", "--out", str(tmp_path / "o")])


def test_path_options_expand_a_leading_tilde(tmp_path, monkeypatch):
    """python -m train.ensemble ~/v0 ~/v1 --out ~/joined (quoted, or --out=~/joined: no shell expands them) said
    "~/v0: no such checkpoint folder"; --out wrote into a folder named ~ here."""
    home, here = tmp_path / "home", tmp_path / "here"
    here.mkdir()
    for seed in (0, 1):
        save_checkpoint(_voice(seed), home / f"v{seed}")
    monkeypatch.setenv("HOME", str(home))
    monkeypatch.chdir(here)
    assert ensemble.main(["~/v0", "~/v1", "--out", "~/joined"]) == 0
    assert load_checkpoint(home / "joined").config.voice_members == 2 and not list(here.iterdir())


def test_a_folder_that_holds_a_checkpoint_is_not_replaced_unasked(tmp_path, capsys):
    """--out was written over without a word, one of the voices joined too (its trained head lost), and a training
    run's state left beside the joined voice (--resume would have gone on from it). It is refused before any voice
    is read, as train.train refuses it; --overwrite replaces a checkpoint, and the state of the run it held goes."""
    voices = [str(save_checkpoint(_voice(seed), tmp_path / f"v{seed}")) for seed in (0, 1)]
    weights = (tmp_path / "v0" / "model.safetensors").read_bytes()
    (tmp_path / "v0" / "train_state.safetensors").write_bytes(b"the state of v0's run")
    (tmp_path / "file").write_text("")
    for out, why in [(voices[0], r"--out \S*v0 is one of the voices joined: give another folder"),
                     (voices[1] + "/", r"--out \S*v1/ is one of the voices joined"),
                     (str(tmp_path / "file"), r"--out \S*file is a file: give a folder")]:
        with pytest.raises(SystemExit):
            ensemble.main([*voices, "--out", out])
        assert re.search(why, capsys.readouterr().err)
    with pytest.raises(SystemExit):  # one voice twice was "joined 2 voices"
        ensemble.main([voices[0], str(tmp_path / "v0") + "/", "--out", str(tmp_path / "twice")])
    assert re.search(r"a voice is named twice \(\S*v0 \S*v0/\): give each once", capsys.readouterr().err)
    assert (tmp_path / "v0" / "model.safetensors").read_bytes() == weights
    shutil.copytree(tmp_path / "v0", tmp_path / "run")  # a folder with a checkpoint and its run's state
    with pytest.raises(SystemExit):
        ensemble.main([*voices, "--out", str(tmp_path / "run")])
    assert re.search(r"run holds an earlier run \(config.json, train_state.safetensors\): give another --out, or "
                     "--overwrite to replace it", capsys.readouterr().err)
    assert ensemble.main([*voices, "--out", str(tmp_path / "run"), "--overwrite"]) == 0
    assert load_checkpoint(tmp_path / "run").config.voice_members == 2
    assert not (tmp_path / "run" / "train_state.safetensors").exists()
