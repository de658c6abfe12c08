"""Test-wide guards and fixtures: the suite never touches the network."""

import atexit
import os
import shutil
import socket
import tempfile
from pathlib import Path

import pytest

os.environ.setdefault("HF_HUB_OFFLINE", "1")
os.environ.setdefault("TRANSFORMERS_OFFLINE", "1")
os.environ.setdefault("GRADIO_ANALYTICS_ENABLED", "False")
os.environ["MMSENT_CACHE"] = _CACHE = tempfile.mkdtemp(prefix="mmsent-test-cache-")  # not the user's /tmp/mmsent-cache
atexit.register(shutil.rmtree, _CACHE, ignore_errors=True)

ROOT = Path(__file__).resolve().parents[1]
SHARED_DATA = ROOT.parent / "shared" / "data"


def env_with(tmp: Path) -> dict:
    """The environment of a subprocess under test: offline hub, this checkout importable, TMPDIR=tmp."""
    return {**os.environ, "HF_HUB_OFFLINE": "1", "PYTHONPATH": str(ROOT), "TMPDIR": str(tmp)}

_real_connect = socket.socket.connect
_real_connect_ex = socket.socket.connect_ex


def _is_local(address) -> bool:
    if isinstance(address, (str, bytes)):  # AF_UNIX path
        return True
    host = address[0]
    return host in ("localhost", "::1", "0.0.0.0", "") or str(host).startswith("127.")


def _guarded(real):
    def connect(self, address):
        if not _is_local(address):
            raise OSError(f"tests are offline: refused a connection to {address!r}")
        return real(self, address)

    return connect


socket.socket.connect = _guarded(_real_connect)
socket.socket.connect_ex = _guarded(_real_connect_ex)


@pytest.fixture(scope="session")
def shared_data() -> Path:
    if not SHARED_DATA.is_dir():
        pytest.skip(f"real data not found at {SHARED_DATA}")
    return SHARED_DATA


def tiny_whisper(folder: Path, width: int = 64, layers: int = 2):
    """A random Whisper (``width`` wide, ``layers`` encoder layers, 80 mels), its weights rounded to
    float16, converted for real by CTranslate2's converter into ``folder/ct2`` (float16, the embedded
    model's tokenizer): (the Hugging Face model, the CTranslate2 folder)."""
    import ctranslate2
    import torch
    from transformers import WhisperConfig, WhisperForConditionalGeneration, WhisperTokenizerFast

    from mmsent.asr_models import embedded_model_dir

    torch.manual_seed(0)
    heads = max(1, width // 64)
    config = WhisperConfig(d_model=width, encoder_layers=layers, decoder_layers=1, encoder_attention_heads=heads,
                           decoder_attention_heads=heads, encoder_ffn_dim=4 * width, decoder_ffn_dim=4 * width,
                           num_mel_bins=80)
    hf = WhisperForConditionalGeneration(config).eval()
    with torch.no_grad():
        for p in hf.parameters():
            p.copy_(p.half().float())  # the values a float16 file holds, so that both compute the same
    hf.save_pretrained(folder / "hf")
    WhisperTokenizerFast(tokenizer_file=str(embedded_model_dir() / "tokenizer.json")).save_pretrained(folder / "hf")
    ctranslate2.converters.TransformersConverter(str(folder / "hf"), copy_files=["tokenizer.json"]).convert(
        str(folder / "ct2"), quantization="float16")
    return hf, folder / "ct2"


def unsettled(folder: Path) -> Path:
    """A checkpoint folder whose weights keep no sha256 of its model settings, nor its config.json one of its weights,
    as those saved before 7 December 2026: a test that edits its config.json to stand for an older checkpoint loads
    it as that one would be loaded."""
    from safetensors import safe_open
    from safetensors.torch import save_file

    with safe_open(str(folder / "model.safetensors"), framework="pt") as f:
        state, metadata = {k: f.get_tensor(k) for k in f.keys()}, f.metadata()
    metadata.pop("model_sha256")
    save_file(state, str(folder / "model.safetensors"), metadata=metadata)
    return unrecorded(folder)


def unrecorded(folder: Path) -> Path:
    """A checkpoint folder whose config.json records no sha256 of its weights, as those saved before it was
    recorded: tests that rewrite the weights reach the checks that read them."""
    import json

    meta = json.loads((folder / "config.json").read_text())
    meta.pop("weights_sha256")
    (folder / "config.json").write_text(json.dumps(meta))
    return folder
