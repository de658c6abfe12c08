"""The expression CNN (mmsent.expression): preprocessing, shapes, saving/loading with hash checks,
the training CLI on a generated FER-layout folder, and the shipped weights on real FER2013 faces."""

import json
import re

import numpy as np
import pytest
import torch
from PIL import Image

from mmsent import expression
from mmsent.expression import (EXPRESSION_SIZE, ExpressionConfig, ExpressionNet, embed, load_expression_net,
                               preprocess, save_expression_net, views)
from mmsent.labels import EMOTIONS
from mmsent.weights import HashMismatch, SourceUnavailable

TINY = ExpressionConfig(stem=4, widths=(8, 16), blocks=(1, 1), features=16)


def test_preprocess_grey_rgb_and_sizes():
    grey = np.full((2, 48, 48), 255, np.uint8)
    x = preprocess(grey)
    assert x.shape == (2, 1, EXPRESSION_SIZE, EXPRESSION_SIZE) and x.dtype == torch.float32
    assert torch.allclose(x, torch.ones_like(x))  # white -> +1
    rgb = np.zeros((3, 96, 80, 3), np.uint8)
    rgb[..., 1] = 255  # pure green: ITU-R 601 luma 0.587 -> 2 * 0.587 - 1
    y = preprocess(rgb)
    assert y.shape == (3, 1, EXPRESSION_SIZE, EXPRESSION_SIZE)
    assert torch.allclose(y, torch.full_like(y, 2 * 0.587 - 1), atol=1e-3)
    # PIL's "L" conversion (how FER2013's grey images were made) agrees with ours within rounding
    img = np.random.default_rng(0).integers(0, 256, (1, 48, 48, 3), dtype=np.uint8)
    pil = np.asarray(Image.fromarray(img[0]).convert("L"))[None]
    assert (preprocess(img) - preprocess(pil)).abs().max() * 127.5 <= 1.01
    assert preprocess(np.zeros((0, 48, 48), np.uint8)).shape == (0, 1, 48, 48)
    with pytest.raises(TypeError, match="uint8"):
        preprocess(np.zeros((1, 48, 48), np.float32))
    with pytest.raises(ValueError, match="shape"):
        preprocess(np.zeros((48, 48), np.uint8))


def test_views_are_the_face_its_mirror_and_both_zoomed():
    x = preprocess(np.random.default_rng(1).integers(0, 256, (3, 48, 48), dtype=np.uint8))
    v = views(x).view(4, 3, 1, 48, 48)
    assert torch.equal(v[0], x) and torch.equal(v[1], x.flip(-1)) and torch.equal(v[3], v[2].flip(-1))
    assert torch.allclose(views(x, zoom=1.0)[6:9], x, atol=1e-5)  # no zoom: the face itself
    assert not torch.allclose(v[2], x, atol=1e-2)


def test_net_and_embed_shapes():
    torch.manual_seed(0)
    net = ExpressionNet(TINY).eval()
    crops = np.random.default_rng(0).integers(0, 256, (5, 48, 48), dtype=np.uint8)
    feats, logits = embed(net, crops)
    assert feats.shape == (5, 16) and logits.shape == (5, len(EMOTIONS))
    # the test-time views are symmetric: a crop and its mirror image give the same embedding
    f2, _ = embed(net, crops[:, :, ::-1].copy())
    assert torch.allclose(feats, f2, atol=1e-5)
    assert not torch.allclose(embed(net, crops, tta=False)[0], f2, atol=1e-3)
    empty_f, empty_l = embed(net, np.zeros((0, 48, 48), np.uint8))
    assert empty_f.shape == (0, 16) and empty_l.shape == (0, 7)
    assert net.training is False


def test_save_load_round_trip_and_hash_check(tmp_path):
    torch.manual_seed(0)
    net = ExpressionNet(TINY).eval()
    sha = save_expression_net(net, tmp_path, {"note": "test"})
    config = json.loads((tmp_path / "config.json").read_text())
    assert config["sha256"] == sha and config["labels"] == list(EMOTIONS) and config["note"] == "test"
    loaded, got = load_expression_net(folder=tmp_path, sha256=sha)
    assert got == sha and loaded.config == TINY and not loaded.training
    x = preprocess(np.random.default_rng(1).integers(0, 256, (3, 48, 48), dtype=np.uint8))
    with torch.no_grad():  # float16 storage: outputs agree to half precision
        assert torch.allclose(loaded(x), net(x), atol=2e-2)
    with pytest.raises(HashMismatch, match="face expression CNN"):
        load_expression_net(folder=tmp_path, sha256="0" * 64)
    with pytest.raises(SourceUnavailable, match="holds no expression CNN") as e:  # a folder named: not the default's
        load_expression_net(folder=tmp_path / "missing")
    assert "Give a folder that train.fer wrote" in str(e.value) and "Restore" not in str(e.value)
    for edit in ({"widths": [8, 8]}, {"attention": True}):  # a config that does not fit its weights: a traceback
        config = json.loads((tmp_path / "config.json").read_text())
        config["architecture"] |= edit
        (tmp_path / "config.json").write_text(json.dumps(config))
        with pytest.raises(SourceUnavailable, match="config.json's architecture does not fit its weights"):
            load_expression_net(folder=tmp_path, sha256=sha)


def _fake_fer(root, per_class=6):
    """A FER-layout folder of random 48x48 JPEGs (train/ and validation/), the mirror's class names."""
    rng = np.random.default_rng(0)
    for split in ("train", "validation"):
        for name in ("angry", "disgust", "fear", "happy", "neutral", "sad", "surprise"):
            (root / split / name).mkdir(parents=True)
            for i in range(per_class):
                Image.fromarray(rng.integers(0, 256, (48, 48), dtype=np.uint8)).save(root / split / name / f"{i}.jpg")


def test_training_cli_writes_a_loadable_checkpoint_and_resumes(tmp_path):
    from train import fer

    _fake_fer(tmp_path / "fer")
    args = ["--data", str(tmp_path / "fer"), "--out", str(tmp_path / "out"), "--state", str(tmp_path / "state.pt"),
            "--cache", str(tmp_path / "cache"), "--epochs", "2", "--batch", "8", "--widths", "8,16",
            "--blocks", "1,1", "--stem", "4", "--threads", "1"]
    record = fer.main(args)
    assert record["finished"] and record["epochs_run"] == 2 and record["steps_run"] == 2 * (42 // 8)
    assert set(record["publictest"]["per_class"]) == set(EMOTIONS)
    assert np.array(record["publictest"]["confusion"]).sum() == 42
    assert record["command"].startswith("python -m train.fer") and record["seed"] == 0
    assert record["training"]["device"] == ("cuda" if torch.cuda.is_available() else "cpu")  # a GPU when present
    net, sha = load_expression_net(folder=tmp_path / "out", sha256="")
    assert sha == record["sha256"] and net.config.widths == (8, 16)
    assert list((tmp_path / "cache").glob("fer2013-train-*.npz"))  # decoded once, cached outside the repo
    # a finished run resumes to "done" without training again; other arguments are refused
    assert fer.main(args)["steps_run"] == record["steps_run"]
    with pytest.raises(SystemExit, match="other arguments"):
        fer.main(args[:-2] + ["--threads", "2"])
    if not torch.cuda.is_available():
        with pytest.raises(SystemExit, match="--device: device 'cuda' was asked for, but this machine has no CUDA"):
            fer.main(args + ["--device", "cuda"])


def test_augment_keeps_shape_and_range():
    from train.fer import augment

    g = torch.Generator().manual_seed(0)
    x = preprocess(np.random.default_rng(0).integers(0, 256, (16, 48, 48), dtype=np.uint8))
    y = augment(x, g)
    assert y.shape == x.shape and torch.isfinite(y).all()
    assert not torch.allclose(x, y)


def test_shipped_expression_net_on_real_fer(shared_data):
    """The embedded weights: pinned hash, and accuracy on PublicTest images (the selection split)."""
    try:
        net, sha = load_expression_net()
    except SourceUnavailable as e:
        pytest.fail(f"the shipped expression CNN does not load: {e}")
    assert sha == expression.EXPRESSION_SHA256
    from train.face_corpora import read_fer2013

    samples = read_fer2013(shared_data / "fer2013", "validation")[::5]  # 718 faces, all classes
    crops = np.stack([np.asarray(Image.open(s.media).convert("L")) for s in samples])
    _, logits = embed(net, crops)
    accuracy = float((logits.argmax(1).numpy() == np.array([s.emotion for s in samples])).mean())
    recorded = json.loads((expression.EXPRESSION_DIR / "config.json").read_text())["publictest"]["accuracy"]
    assert accuracy > 0.6 and abs(accuracy - recorded) < 0.04


def test_the_training_cli_says_in_one_line_what_it_can_not_train_on(tmp_path, capsys):
    """--limit under one --batch (the help's smoke test), --epochs 0, a --data folder that is none, an --init or
    --soup folder that is no checkpoint: each ended in a traceback (ZeroDivisionError; CorpusError; "Restore
    checkpoints/default/face-expression from the repository", for a folder the user named)."""
    from train import fer

    _fake_fer(tmp_path / "fer", per_class=1)  # 7 training images
    (tmp_path / "empty").mkdir()
    common = ["--data", str(tmp_path / "fer"), "--out", str(tmp_path / "out"), "--state", str(tmp_path / "s.pt"),
              "--cache", str(tmp_path / "cache"), "--widths", "8,16", "--blocks", "1,1", "--stem", "4"]
    for extra, said in [(["--limit", "4", "--batch", "8"], r"--limit 4 is fewer images than one --batch \(8\)"),
                        (["--epochs", "0"], r"--epochs: must be a whole number at least 1, not 0")]:
        with pytest.raises(SystemExit):  # as the command line is parsed
            fer.main(common + extra)
        assert re.search(said, capsys.readouterr().err), (extra, said)
    for extra, said in [(["--init", str(tmp_path / "empty")], r"--init \S*empty: not an expression checkpoint "
                                                               r"\(model.safetensors, and a config.json with its "
                                                               r"architecture\)"),
                        (["--soup", str(tmp_path / "empty")], r"--soup \S*empty: not an expression checkpoint"),
                        (["--data", str(tmp_path / "none")], r"--data: \S*none: no FER2013 split folder 'train'"),
                        (["--batch", "8"], r"--data: its 7 training images are fewer than one --batch \(8\)")]:
        with pytest.raises(SystemExit, match=said):
            fer.main(common + extra)
    assert not (tmp_path / "out").exists()


def test_evaluate_as_served(tmp_path):
    from train import fer

    _fake_fer(tmp_path / "fer", per_class=3)
    common = ["--data", str(tmp_path / "fer"), "--out", str(tmp_path / "out"), "--cache", str(tmp_path / "cache"),
              "--widths", "8,16", "--blocks", "1,1", "--stem", "4", "--threads", "1", "--batch", "7"]
    fer.main(common + ["--state", str(tmp_path / "state.pt"), "--epochs", "1"])
    record = fer.main(common + ["--state", str(tmp_path / "other.pt"), "--evaluate"])
    assert record["publictest"]["evaluated"].startswith("as served")
    assert np.array(record["publictest"]["confusion"]).sum() == 21
    assert json.loads((tmp_path / "out" / "config.json").read_text())["publictest"] == record["publictest"]


def test_final_out_and_soup_average_the_weights(tmp_path, monkeypatch):
    from train import fer

    _fake_fer(tmp_path / "fer", per_class=3)
    common = ["--data", str(tmp_path / "fer"), "--cache", str(tmp_path / "cache"), "--widths", "8,16",
              "--blocks", "1,1", "--stem", "4", "--threads", "1", "--batch", "7"]
    fer.main(common + ["--out", str(tmp_path / "a"), "--state", str(tmp_path / "a.pt"), "--epochs", "1"])
    fer.main(common + ["--out", str(tmp_path / "b"), "--state", str(tmp_path / "b.pt"), "--epochs", "2",
                       "--seed", "1", "--init", str(tmp_path / "a"), "--final-out", str(tmp_path / "b-final")])
    nets = [load_expression_net(folder=tmp_path / f, sha256="")[0].state_dict() for f in ("a", "b-final")]
    monkeypatch.setenv("HOME", str(tmp_path))  # what the soup records of its run names no one's home folder
    argv = common + ["--out", str(tmp_path / "soup"), "--soup", str(tmp_path / "a"), str(tmp_path / "b-final")]
    record = fer.main(argv)  # the command recorded is the one given, not this process's (pytest's)
    soup = load_expression_net(folder=tmp_path / "soup", sha256="")[0].state_dict()
    floats = [k for k, v in soup.items() if v.is_floating_point()]
    assert any(not torch.equal(nets[0][k], nets[1][k]) for k in floats)  # two different weight sets
    for k in floats:  # float16 on disk: the mean of the two, to half precision
        assert torch.allclose(soup[k], (nets[0][k] + nets[1][k]) / 2, atol=2e-3, rtol=2e-3), k
    assert record["soup"] == ["~/a", "~/b-final"]
    assert record["command"] == "python -m train.fer " + " ".join(argv).replace(str(tmp_path), "~")
    assert np.array(record["publictest"]["confusion"]).sum() == 21  # evaluated as served
    other = [a if a != "8,16" else "8,8" for a in common]  # another architecture
    fer.main(other + ["--out", str(tmp_path / "c"), "--state", str(tmp_path / "c.pt"), "--epochs", "1"])
    with pytest.raises(SystemExit, match="differ in architecture"):
        fer.main(common + ["--out", str(tmp_path / "bad"), "--soup", str(tmp_path / "a"), str(tmp_path / "c")])


def test_the_training_cli_keeps_a_checkpoint_and_reads_images_anew(tmp_path, capsys):
    """train.fer wrote over the checkpoint in --out; it kept decoded images under their paths and labels (an image
    replaced under its name was read as it was); a train.train checkpoint as --init, another architecture, --widths
    and --blocks of different lengths, --evaluate of no checkpoint: each a traceback or a quiet mistake."""
    from train import fer
    from train.fer import load_split

    _fake_fer(tmp_path / "fer", per_class=3)
    common = ["--data", str(tmp_path / "fer"), "--cache", str(tmp_path / "cache"), "--widths", "8,16",
              "--blocks", "1,1", "--stem", "4", "--threads", "1", "--batch", "7", "--epochs", "1"]
    record = fer.main(common + ["--out", str(tmp_path / "a"), "--state", str(tmp_path / "a.pt")])
    assert record["trained_on"] == "{}: train (21 images), selected on validation (PublicTest in FER2013; 21)".format(
        tmp_path / "fer")
    sha = record["sha256"]
    again = common + ["--out", str(tmp_path / "a"), "--state", str(tmp_path / "again.pt"), "--seed", "1"]
    with pytest.raises(SystemExit):
        fer.main(again)
    assert f"--out {tmp_path / 'a'} holds a checkpoint: give another folder, or --overwrite" in capsys.readouterr().err
    assert json.loads((tmp_path / "a" / "config.json").read_text())["sha256"] == sha  # kept
    assert fer.main(again + ["--overwrite"])["sha256"] != sha
    (tmp_path / "run").mkdir()  # what train.train writes: weights and a config.json, of another model
    (tmp_path / "run" / "model.safetensors").write_bytes(b"")
    (tmp_path / "run" / "config.json").write_text('{"branches": ["audio"]}')
    for extra, said in [(["--out", str(tmp_path / "b"), "--init", str(tmp_path / "run")],
                         r"--init \S*run: not an expression checkpoint"),
                        (["--out", str(tmp_path / "b"), "--init", str(tmp_path / "a"), "--stem", "8"],
                         r"--init \S*a is another architecture")]:
        with pytest.raises(SystemExit, match=said):
            fer.main(common + extra)
    for extra, said in [(["--out", str(tmp_path / "b"), "--blocks", "1"], "--widths 8,16 and --blocks 1 name "
                                                                        "different numbers of stages"),
                        (["--out", str(tmp_path / "none"), "--evaluate"], "--out \\S*none holds no expression "
                                                                          "checkpoint"),
                        (["--out", str(tmp_path / "b"), "--widths", "8,x"], "--widths: must be whole numbers")]:
        with pytest.raises(SystemExit):
            fer.main(common + extra)
        assert re.search(said, capsys.readouterr().err), said
    assert not (tmp_path / "b").exists()
    x, _ = load_split(tmp_path / "fer", "validation", tmp_path / "cache")
    assert x.any()
    for image in (tmp_path / "fer" / "validation").rglob("*.jpg"):  # the same names, black now
        Image.fromarray(np.zeros((48, 48), np.uint8)).save(image)
    x, _ = load_split(tmp_path / "fer", "validation", tmp_path / "cache")
    assert not x.any()
