"""Checkpoints: exact round trip, strict keys, source hashes, and refusal of pickles."""

import json
import os
import pickle

import pytest
import torch
from safetensors.torch import load_file, save_file

import mmsent
from conftest import unrecorded
from mmsent.checkpoint import CheckpointError, load_checkpoint, save_checkpoint
from mmsent.config import tiny_config
from mmsent.model import Inputs, build_model


def _inputs(model) -> Inputs:
    tok = model.tokenizer(["what a day", "leave me alone"], padding=True, return_tensors="pt")
    g = torch.Generator().manual_seed(3)
    return Inputs(mask=torch.ones(2, 3, dtype=torch.bool), input_ids=tok["input_ids"],
                  attention_mask=tok["attention_mask"], mel=torch.randn(2, 64, 150, generator=g),
                  mel_lengths=torch.tensor([150, 90]), clips=torch.randn(2, 3, 16, 112, 112, generator=g))


@pytest.fixture
def saved(tmp_path):
    torch.manual_seed(0)
    model = build_model(tiny_config()).eval()
    return model, save_checkpoint(model, tmp_path / "ckpt", training={"data": "synthetic"})


def test_round_trip_gives_identical_outputs(saved):
    model, folder = saved
    loaded = load_checkpoint(folder)
    x = _inputs(model)
    a, b = model(x), loaded(x)
    assert torch.equal(a.emotion_logits, b.emotion_logits) and torch.equal(a.sentiment_logits, b.sentiment_logits)
    meta = json.loads((folder / "config.json").read_text())
    assert meta["training"] == {"data": "synthetic"} and meta["trained_branches"] == ["text", "audio", "video"]
    assert mmsent.load_model(folder, device="cpu").config == model.config


def test_a_device_this_machine_lacks_is_said_before_the_model_is_built(saved, monkeypatch):
    """load_checkpoint built the whole model, then failed as torch does ("Found no NVIDIA driver" 4 s on)."""
    monkeypatch.setattr("mmsent.checkpoint.build_model", lambda *a: pytest.fail("the model was built"))
    for device, said in (("mps", "mmsent runs on the CPU or an NVIDIA GPU"), ("garbage", "is not a device")):
        with pytest.raises(ValueError, match=said):
            load_checkpoint(saved[1], device)


def test_the_same_weights_give_the_same_file(saved):
    """safetensors wrote its metadata's keys in an order that changed from one save to the next: two identical
    training runs gave checkpoints of other bytes and another weights_sha256."""
    model, folder = saved
    files = {save_checkpoint(model, folder.parent / f"again{i}").joinpath("model.safetensors").read_bytes()
             for i in range(4)}
    assert files == {(folder / "model.safetensors").read_bytes()}
    assert load_checkpoint(folder.parent / "again0")(_inputs(model)).emotion_logits.shape[-1] == 7


def test_checkpoint_of_packaged_encoder_stores_only_trainable_parts(tmp_path):
    model = build_model(tiny_config(text_source="all-MiniLM-L6-v2", text_tune_layers=1))
    folder = save_checkpoint(model, tmp_path / "c")
    keys = set(load_file(str(folder / "model.safetensors")))
    assert not any(k.startswith("encoders.text.backbone.embeddings") for k in keys)
    assert not any(k.startswith("encoders.text.backbone.encoder.layer.0.") for k in keys)
    assert any(k.startswith("encoders.text.backbone.encoder.layer.5.") for k in keys)  # the tuned top layer
    meta = json.loads((folder / "config.json").read_text())
    assert meta["sources"]["text"]["sha256"] == mmsent.weights.MINILM_SHA256
    loaded = load_checkpoint(folder)
    for k, v in model.state_dict().items():
        assert torch.equal(v, loaded.state_dict()[k]), k


def test_tampered_source_hash_is_refused(tmp_path):
    model = build_model(tiny_config(text_source="all-MiniLM-L6-v2"))
    folder = save_checkpoint(model, tmp_path / "c")
    meta = json.loads((folder / "config.json").read_text())
    meta["sources"]["text"]["sha256"] = "0" * 64
    (folder / "config.json").write_text(json.dumps(meta))
    with pytest.raises(CheckpointError, match="sha256 000000000000.*install the versions in requirements.txt"):
        load_checkpoint(folder)


def test_pickle_files_are_refused_and_never_unpickled(tmp_path):
    marker = tmp_path / "pwned"

    class Evil:
        def __reduce__(self):
            return (open, (str(marker), "w"))

    for name in ("model.pt", "model.pth", "weights.bin"):
        path = tmp_path / name
        path.write_bytes(pickle.dumps(Evil()))
        with pytest.raises(CheckpointError, match="pickle"):
            mmsent.load_model(path)
    # a pickle hiding under the safetensors name is not a readable safetensors file
    model, folder = build_model(tiny_config()), tmp_path / "c"
    unrecorded(save_checkpoint(model, folder))
    (folder / "model.safetensors").write_bytes(pickle.dumps(Evil()))
    with pytest.raises(CheckpointError, match="not a readable safetensors file"):
        load_checkpoint(folder)
    assert not marker.exists()


def test_a_format_4_checkpoint_loads_without_a_neutral_discount_and_format_5_keeps_it(saved):
    model, folder = saved
    with torch.no_grad():
        model.neutral_discount.copy_(torch.tensor([[3.0, 0.0, 0.5], [2.0, 0.0, 0.0]]))
    x = _inputs(model)
    assert torch.equal(load_checkpoint(save_checkpoint(model, folder))(x).emotion_logits, model(x).emotion_logits)
    state = load_file(str(folder / "model.safetensors"))
    del state["neutral_discount"]  # what format 4 held
    save_file(state, str(unrecorded(folder) / "model.safetensors"))
    with pytest.raises(CheckpointError, match="missing \\['neutral_discount'\\]"):
        load_checkpoint(folder)  # format 5 must have it
    meta = json.loads((folder / "config.json").read_text())
    (folder / "config.json").write_text(json.dumps({**meta, "format_version": 4}))
    old = load_checkpoint(folder)
    with torch.no_grad():
        model.neutral_discount.zero_()
    assert not old.neutral_discount.any() and torch.equal(old(x).emotion_logits, model(x).emotion_logits)


def test_weights_changed_after_saving_or_not_numbers_are_refused(saved):
    """config.json records the weights' sha256: a damaged file is refused before it is read; weights that
    are not numbers are refused too (where no sha256 is recorded, as in checkpoints saved before it was)."""
    _, folder = saved
    path = folder / "model.safetensors"
    data = bytearray(path.read_bytes())
    data[-100] ^= 0x10  # one bit of one weight
    path.write_bytes(bytes(data))
    with pytest.raises(CheckpointError, match="records .*: the file is damaged or was changed after it was saved"):
        load_checkpoint(folder)
    path.write_bytes(bytes(data[:-100]) + bytes([data[-100] ^ 0x10]) + bytes(data[-99:]))
    load_checkpoint(folder)  # as saved
    state = load_file(str(path))
    state["emotion_prior"][0] = float("nan")
    save_file(state, str(unrecorded(folder) / "model.safetensors"))
    with pytest.raises(CheckpointError, match=r"not numbers \(NaN or infinite\) in \['emotion_prior'\]"):
        load_checkpoint(folder)


def test_missing_extra_and_misshapen_keys_are_refused(saved):
    _, folder = saved
    path = unrecorded(folder) / "model.safetensors"
    state = load_file(str(path))
    for change, message in [
        (lambda s: s.pop("emotion_prior"), "missing \\['emotion_prior'\\]"),
        (lambda s: s.update(extra=torch.zeros(1)), "unexpected \\['extra'\\]"),
        (lambda s: s.update(emotion_prior=torch.zeros(5, 5)), "wrong shape"),
    ]:
        broken = dict(state)
        change(broken)
        save_file(broken, str(path))
        with pytest.raises(CheckpointError, match=message):
            load_checkpoint(folder)


@pytest.mark.parametrize("edit, message", [
    (lambda m: m["model"].update(text_source="no-such/model-anywhere"), "text encoder 'no-such/model-anywhere' is unavailable"),
    (lambda m: m["model"].update(video_source="c3d"), "video encoder 'c3d' is unavailable"),
    (lambda m: m["model"].update(wings=2), "unknown model config fields"),
    (lambda m: m.update(format="something-else"), "not an mmsent checkpoint"),
    (lambda m: m.update(format_version=99), "upgrade mmsent"),
    (lambda m: m.update(format_version=1), "can.t read it. Use the embedded default, or retrain"),
    (lambda m: m.update(format_version=2), "Recalibrate it \\(python -m train.train --epochs 0 --init"),
])
def test_bad_configs_are_refused_with_a_clear_message(saved, edit, message):
    _, folder = saved
    meta = json.loads((folder / "config.json").read_text())
    edit(meta)
    (folder / "config.json").write_text(json.dumps(meta))
    with pytest.raises(CheckpointError, match=message):
        load_checkpoint(folder)


def test_not_a_checkpoint(tmp_path):
    with pytest.raises(CheckpointError, match="config.json is missing"):
        load_checkpoint(tmp_path)
    (tmp_path / "config.json").write_text("{not json")
    with pytest.raises(CheckpointError, match="not valid JSON"):  # its config said first ("model.safetensors is
        load_checkpoint(tmp_path)  # missing", and once that was there, "not valid JSON")
    (tmp_path / "model.safetensors").write_bytes(b"")
    with pytest.raises(CheckpointError, match="not valid JSON"):
        load_checkpoint(tmp_path)
    (tmp_path / "model.safetensors").unlink()
    (tmp_path / "config.json").write_text(json.dumps({"format": "mmsent-checkpoint"}))  # a config, no weights
    with pytest.raises(CheckpointError, match="model.safetensors is missing$"):
        load_checkpoint(tmp_path)
    (tmp_path / "pytorch_model.bin").write_bytes(b"")  # said: a pickle is there, never loaded
    with pytest.raises(CheckpointError, match=r"model.safetensors is missing \(pytorch_model.bin: pickle files, "
                                              "which mmsent never loads"):
        load_checkpoint(tmp_path)
    (tmp_path / "config.json").write_text(json.dumps({"architectures": ["BertModel"], "model_type": "bert"}))
    with pytest.raises(CheckpointError, match=r"is not an mmsent checkpoint config \(one of another tool, a Hugging "
                                              "Face model's\?\): give a folder that python -m train.train wrote"):
        load_checkpoint(tmp_path)


def test_video_source_offline_names_the_part_and_the_remedy():
    with pytest.raises(mmsent.SourceUnavailable, match="R3D-18.*Connect to the internet once"):
        build_model(tiny_config(video_source="r3d_18-kinetics400"))


def test_packaged_minilm_gives_a_real_sentence_embedding():
    parts = mmsent.weights.load_text("all-MiniLM-L6-v2")
    from mmsent.encoders import masked_mean

    tok = parts.tokenizer(["I am so happy today", "I feel very glad today", "The invoice is overdue"],
                          padding=True, return_tensors="pt")
    with torch.no_grad():
        emb = masked_mean(parts.model(**tok).last_hidden_state, tok["attention_mask"])
    emb = torch.nn.functional.normalize(emb, dim=1)
    assert emb.shape == (3, 384)
    similar, different = float(emb[0] @ emb[1]), float(emb[0] @ emb[2])
    assert similar > 0.6 and different < 0.3 and similar - different > 0.4


def test_the_embedded_default_stays_within_25_mb():
    from mmsent.checkpoint import DEFAULT_CHECKPOINT

    size = sum(f.stat().st_size for f in DEFAULT_CHECKPOINT.rglob("*") if f.is_file())
    assert 10e6 < size <= 25e6, f"checkpoints/default holds {size / 1e6:.1f} MB"


def test_a_hub_text_encoder_in_the_cache_loads_without_the_network(tmp_path):
    """A hub model once downloaded loads from the Hugging Face cache at once: the hub is not asked (offline, its
    client retries for ~30 s before it falls back to the cache). In a process whose name lookups fail, and are counted."""
    import subprocess
    import sys

    from mmsent.weights import load_text

    tiny = load_text("tiny-random")
    snapshot = tmp_path / "hub" / "models--mmsent-test--tiny-bert" / "snapshots" / "0123abc"
    tiny.model.save_pretrained(snapshot)
    tiny.tokenizer.save_pretrained(snapshot)
    (snapshot.parents[1] / "refs").mkdir()
    (snapshot.parents[1] / "refs" / "main").write_text("0123abc")
    code = ("import socket\n"
            "import traceback\n"
            "asked = []\n"
            "def lookup(*a, **k):\n"
            "    if not any('_detect_agent' in f.filename for f in traceback.extract_stack()):  # one look of its\n"
            "        asked.append(a)  # own, for a header, and no more: not the model's files\n"
            "    raise socket.gaierror(-2, 'Name or service not known')\n"
            "socket.getaddrinfo = lookup\n"
            "from mmsent.weights import load_text\n"
            "parts = load_text('mmsent-test/tiny-bert')\n"
            "print(type(parts.model).__name__, parts.model.config.hidden_size, parts.sha256 is not None, len(asked))\n")
    proc = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, timeout=300,
                          env={**{k: v for k, v in os.environ.items() if not k.endswith("_OFFLINE")},  # as a user's
                               "HF_HUB_CACHE": str(tmp_path / "hub")})
    assert proc.returncode == 0, proc.stderr[-2000:]
    assert proc.stdout.split() == ["BertModel", "32", "True", "0"]  # no name looked up


def test_a_hub_text_encoder_not_cached_is_refused_at_once_without_a_network(monkeypatch):
    import socket

    from mmsent import weights

    def lookup(*args, **kwargs):
        raise socket.gaierror(-2, "Name or service not known")

    monkeypatch.setattr(socket, "getaddrinfo", lookup)
    for proxy in ("HTTPS_PROXY", "https_proxy", "ALL_PROXY", "all_proxy"):
        monkeypatch.delenv(proxy, raising=False)
    with pytest.raises(weights.SourceUnavailable, match=r"not in the Hugging Face cache, and the hub \(huggingface.co\) "
                                                        r"can't be reached: no network"):
        weights.load_text("no-such-org/no-such-model")


def test_an_expression_cnn_given_as_a_model_says_what_it_is():
    from mmsent.expression import EXPRESSION_DIR

    with pytest.raises(CheckpointError, match=r"is not an mmsent checkpoint config: it is an expression CNN's "
                                              r"\(python -m train.fer\), one part of a model"):
        load_checkpoint(EXPRESSION_DIR)


def _files(folder) -> dict:
    return {p.relative_to(folder).as_posix(): p.read_bytes() for p in sorted(folder.rglob("*")) if p.is_file()}


def test_a_save_that_fails_midway_leaves_the_checkpoint_as_it_was(saved):
    """Both files are written in full before either replaces the old: a failure while writing the second (here
    a training record that is not JSON) leaves the old pair, loadable, and the folder's other files, with no
    temporary file left."""
    model, folder = saved
    (folder / "MODEL_CARD.md").write_text("card")
    (folder / "face-expression").mkdir()
    (folder / "face-expression" / "config.json").write_text("{}")
    before = _files(folder)
    torch.manual_seed(1)
    with pytest.raises(TypeError, match="not JSON serializable"):
        save_checkpoint(build_model(tiny_config()), folder, training={"when": object()})
    assert _files(folder) == before
    x = _inputs(model)
    assert torch.equal(load_checkpoint(folder)(x).emotion_logits, model(x).emotion_logits)


def test_a_save_cut_between_its_two_renames_is_refused_not_loaded_mismatched(saved, monkeypatch):
    """The one step that can't be atomic: the two renames. The new config.json goes first, recording its weights'
    sha256, so that a folder cut there (new config, old weights) is refused, even where the old config recorded
    no sha256 (saved before 5 December 2026); then a new save mends it."""
    from mmsent import results

    folder = unrecorded(saved[1])
    renames, replace = [], os.replace

    def cut(src, dst):
        renames.append(os.path.basename(dst))
        if len(renames) == 2:
            raise RuntimeError("killed")
        replace(src, dst)

    monkeypatch.setattr(results.os, "replace", cut)
    torch.manual_seed(1)
    other = build_model(tiny_config()).eval()
    with pytest.raises(RuntimeError, match="killed"):
        save_checkpoint(other, folder)
    with pytest.raises(CheckpointError, match="its saving was cut short: save it again"):
        load_checkpoint(folder)
    monkeypatch.undo()
    x = _inputs(other)
    assert torch.equal(load_checkpoint(save_checkpoint(other, folder))(x).emotion_logits, other(x).emotion_logits)
    assert sorted(p.name for p in folder.iterdir()) == ["config.json", "model.safetensors"]


def test_model_settings_edited_after_saving_are_refused(tmp_path):
    """The default's weights file carried no labels: its config.json's emotions reordered, a happy clip was read
    "mostly fear" without a word; another Whisper layer for the voice read other voices. The weights now keep the
    sha256 of the settings they were saved with, the default's too."""
    import shutil

    from mmsent.checkpoint import DEFAULT_CHECKPOINT, read_weights

    folder = shutil.copytree(DEFAULT_CHECKPOINT, tmp_path / "default", ignore=shutil.ignore_patterns("face-*"))
    assert read_weights(folder)  # as shipped
    meta = json.loads((folder / "config.json").read_text())
    for key, value, said in [("emotions", ["joy", "anger", "disgust", "fear", "neutral", "sadness", "surprise"],
                              "names the emotions .* but its weights were trained on"),
                             ("voice_bank_layer", 3, "model settings are not those its weights were saved with")]:
        edited = json.loads(json.dumps(meta))
        edited["model"][key] = value
        (folder / "config.json").write_text(json.dumps(edited))
        with pytest.raises(CheckpointError, match=said):
            read_weights(folder)


def test_an_unreadable_checkpoint_is_said(tmp_path):
    """A checkpoint whose files can't be read gave PermissionError's traceback. As root files are always readable:
    the command runs without the capabilities that allow it (setpriv)."""
    import shutil
    import subprocess
    import sys

    if not shutil.which("setpriv"):
        pytest.skip("setpriv (util-linux) is needed to read as an unprivileged user")
    folder = save_checkpoint(build_model(tiny_config()), tmp_path / "ckpt")
    for name in ("config.json", "model.safetensors"):
        (folder / name).chmod(0)
        run = subprocess.run(["setpriv", "--bounding-set=-dac_override,-dac_read_search", sys.executable, "-c",
                              "import sys, mmsent.checkpoint as c\ntry: c.read_weights(sys.argv[1])\n"
                              "except c.CheckpointError as e: print(e)", str(folder)],
                             capture_output=True, text=True, timeout=120)
        assert run.stdout.strip() == f"{folder / name} can't be read (Permission denied): check its permissions"
        (folder / name).chmod(0o644)


def test_training_records_that_are_no_mapping_are_said(tmp_path, capsys):
    """"training": "x" in config.json gave AttributeError at load; training data recorded in words, or as a list,
    gave it in mmsent info."""
    folder = save_checkpoint(build_model(tiny_config()), tmp_path / "ckpt", training={"data": ["a", "b"]})
    assert "trained on: not recorded" in mmsent.describe(load_checkpoint(folder))
    with pytest.raises(TypeError, match=r"describe takes a loaded model, not str 'default'.*load_model"):
        mmsent.describe("default")
    meta = json.loads((folder / "config.json").read_text())
    (folder / "config.json").write_text(json.dumps(meta | {"training": "x"}))
    with pytest.raises(CheckpointError, match="'training' must be a mapping"):
        load_checkpoint(folder)


def test_a_text_encoder_in_a_folder_of_its_own_loads(tmp_path):
    """A checkpoint's text_source naming a local folder never loaded: the weights' sha256 was looked up in the
    hub's cache under the folder's path, and the hub said "Repo id must be in the form 'repo_name'"."""
    from mmsent.weights import _minilm_dir, load_text, sha256_file

    (tmp_path / "bert").mkdir()
    for f in _minilm_dir().iterdir():
        if f.is_file():
            (tmp_path / "bert" / f.name).symlink_to(f)
    parts = load_text(str(tmp_path / "bert"))
    assert parts.sha256 == sha256_file(_minilm_dir() / "model.safetensors")


def test_checkpoint_names_mean_what_they_say(tmp_path, monkeypatch):
    """--checkpoint ~/x was not expanded by mmsent and the app; "default" took the embedded model over a folder
    default/ here without a word; a symbolic link loop was "no such checkpoint folder"."""
    from mmsent.checkpoint import DEFAULT_CHECKPOINT, checkpoint_folder, read_config

    monkeypatch.setenv("HOME", str(tmp_path))
    assert checkpoint_folder("~/models/x") == tmp_path / "models" / "x"
    monkeypatch.chdir(tmp_path)
    save_checkpoint(build_model(tiny_config()), tmp_path / "default")
    with pytest.warns(UserWarning, match="'default' is the embedded model, not the folder default/ here: write ./def"):
        assert checkpoint_folder("default") == DEFAULT_CHECKPOINT
    assert checkpoint_folder("./default").resolve() == tmp_path / "default"
    (tmp_path / "a").symlink_to(tmp_path / "b")
    (tmp_path / "b").symlink_to(tmp_path / "a")
    with pytest.raises(CheckpointError, match="a is a symbolic link to nothing that can be read"):
        read_config(tmp_path / "a")
