"""Facial expression CNN trained here on FER2013 (48x48 grey faces), and its one preprocessing.

The network is a small VGG/ResNet-style CNN: a stem and four stages of residual 3x3 blocks with
BatchNorm, halving the resolution between stages, global average pooling, a ``features``-wide
embedding and a 7-way linear head whose logits follow ``mmsent.labels.EMOTIONS``. Its architecture
is a dataclass stored in the checkpoint's ``config.json`` and rebuilt from it.

``preprocess`` is the only way pixels enter the network, in training (``train/fer.py``) and in
serving (``embed``): grey, resized to ``EXPRESSION_SIZE``, scaled to [-1, 1].
"""

from __future__ import annotations

import json
import logging
from dataclasses import asdict, dataclass
from pathlib import Path

import numpy as np
import torch
import torch.nn.functional as F
from torch import nn

from mmsent.labels import EMOTIONS
from mmsent.weights import HashMismatch, SourceUnavailable, sha256_file

log = logging.getLogger(__name__)

EXPRESSION_SIZE = 48  # side of the network's square grey input, pixels (FER2013 crops are 48x48)
EXPRESSION_MEAN = 0.5  # grey level (0-1) mapped to 0
EXPRESSION_STD = 0.5  # grey range (0-1) mapped to unit
ZOOM_VIEW = 1.08  # the zoomed test-time views (see ``views``) enlarge the face by this factor
EXPRESSION_DIR = Path(__file__).resolve().parents[1] / "checkpoints" / "default" / "face-expression"
# sha256 of the shipped checkpoints/default/face-expression/model.safetensors (train/fer.py prints it).
EXPRESSION_SHA256 = "bdf90e2f2648f364c05abff8172d065b84e900bfc28b017768300f34e486f1e0"


@dataclass
class ExpressionConfig:
    stem: int = 32  # channels of the 3x3 stem convolution at full resolution
    stem_pool: bool = True  # 2x2 max-pool after the stem (the stages then start at half resolution)
    widths: tuple[int, ...] = (64, 128, 256)  # channels of each stage; stages 2+ start by halving
    blocks: tuple[int, ...] = (1, 1, 1)  # residual blocks per stage
    features: int = 256  # width of the embedding returned by embed()
    dropout: float = 0.3  # before the classifier
    classes: int = len(EMOTIONS)  # logits in EMOTIONS order


def _conv_bn(cin: int, cout: int, stride: int = 1) -> nn.Sequential:
    return nn.Sequential(nn.Conv2d(cin, cout, 3, stride, 1, bias=False), nn.BatchNorm2d(cout), nn.ReLU(inplace=True))


class Block(nn.Module):
    """Two 3x3 conv+BN, identity (or 1x1 projection) shortcut, ReLU after the sum."""

    def __init__(self, cin: int, cout: int, stride: int):
        super().__init__()
        self.conv1 = _conv_bn(cin, cout, stride)
        self.conv2 = nn.Conv2d(cout, cout, 3, 1, 1, bias=False)
        self.bn2 = nn.BatchNorm2d(cout)
        self.short = nn.Identity() if stride == 1 and cin == cout else nn.Sequential(
            nn.Conv2d(cin, cout, 1, stride, bias=False), nn.BatchNorm2d(cout))

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        return F.relu(self.bn2(self.conv2(self.conv1(x))) + self.short(x))


class ExpressionNet(nn.Module):
    """(B, 1, S, S) preprocessed faces -> (B, classes) logits; ``forward_features`` gives (B, features)."""

    def __init__(self, config: ExpressionConfig | None = None):
        super().__init__()
        self.config = config = config or ExpressionConfig()
        layers, cin = [_conv_bn(1, config.stem)], config.stem
        if config.stem_pool:
            layers.append(nn.MaxPool2d(2))
        for i, (width, n) in enumerate(zip(config.widths, config.blocks)):
            for j in range(n):
                layers.append(Block(cin, width, 2 if i > 0 and j == 0 else 1))
                cin = width
        self.body = nn.Sequential(*layers)
        self.embed = nn.Sequential(nn.Linear(cin, config.features), nn.BatchNorm1d(config.features),
                                   nn.ReLU(inplace=True))
        self.head = nn.Sequential(nn.Dropout(config.dropout), nn.Linear(config.features, config.classes))

    def forward_features(self, x: torch.Tensor) -> torch.Tensor:
        """x: (B, 1, S, S) -> (B, features) penultimate embedding."""
        return self.embed(self.body(x).mean(dim=(2, 3)))

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        """x: (B, 1, S, S) -> (B, classes) logits in EMOTIONS order."""
        return self.head(self.forward_features(x))


def preprocess(crops: np.ndarray | torch.Tensor, size: int = EXPRESSION_SIZE) -> torch.Tensor:
    """uint8 faces (k, H, W) grey or (k, H, W, 3) RGB -> float (k, 1, size, size), scaled to [-1, 1].

    RGB is turned grey with ITU-R 601 weights (as PIL's "L", which FER2013's images are); other
    sizes are resized with antialiased bilinear interpolation.
    """
    x = crops if isinstance(crops, torch.Tensor) else torch.from_numpy(np.require(crops, requirements="W"))
    if x.dtype != torch.uint8:
        raise TypeError(f"face crops must be uint8, got {x.dtype}")
    if x.ndim == 4 and x.shape[-1] == 3:
        x = (x.float() * torch.tensor([0.299, 0.587, 0.114])).sum(-1)
    elif x.ndim != 3:
        raise ValueError(f"face crops must be (k, H, W) or (k, H, W, 3), got shape {tuple(x.shape)}")
    x = x.float().unsqueeze(1) / 255.0
    if x.shape[-2:] != (size, size) and len(x):
        x = F.interpolate(x, size=(size, size), mode="bilinear", antialias=True, align_corners=False)
    return (x - EXPRESSION_MEAN) / EXPRESSION_STD


def views(x: torch.Tensor, zoom: float = ZOOM_VIEW) -> torch.Tensor:
    """Preprocessed faces (B, 1, S, S) -> (4B, 1, S, S), the views ``embed`` averages: as given,
    mirrored, zoomed in about the centre by ``zoom``, and zoomed and mirrored."""
    theta = torch.tensor([[1 / zoom, 0.0, 0.0], [0.0, 1 / zoom, 0.0]], dtype=x.dtype, device=x.device)
    grid = F.affine_grid(theta.expand(len(x), 2, 3), list(x.shape), align_corners=False)
    z = F.grid_sample(x, grid, mode="bilinear", padding_mode="border", align_corners=False)
    return torch.cat([x, x.flip(-1), z, z.flip(-1)])


def view_features(net: ExpressionNet, x: torch.Tensor) -> torch.Tensor:
    """Preprocessed faces (B, 1, S, S) -> (4, B, features): the embeddings of their four ``views``
    in one pass (index 0: each face as given)."""
    return net.forward_features(views(x).contiguous(memory_format=torch.channels_last)).view(4, len(x), -1)


@torch.no_grad()
def embed(net: ExpressionNet, crops: np.ndarray | torch.Tensor, tta: bool = True,
          batch: int = 256) -> tuple[torch.Tensor, torch.Tensor]:
    """Face crops (see ``preprocess``) -> ((k, features) embeddings, (k, classes) logits).

    tta: average the embeddings of the four ``views`` of each face (FER2013 PublicTest: one view
    0.677, face and mirror 0.689, four views 0.700 for the shipped network).
    """
    was_training = net.training
    net.eval()
    device = next(net.parameters()).device
    x = preprocess(crops)
    feats, logits = [], []
    for i in range(0, len(x), batch):
        xb = x[i:i + batch].to(device)
        if tta:
            f = view_features(net, xb).mean(0)
        else:
            f = net.forward_features(xb.contiguous(memory_format=torch.channels_last))
        feats.append(f)
        logits.append(net.head(f))
    net.train(was_training)
    if not feats:
        return torch.zeros(0, net.config.features, device=device), torch.zeros(0, net.config.classes, device=device)
    return torch.cat(feats), torch.cat(logits)


def save_expression_net(net: ExpressionNet, folder: str | Path, extra: dict | None = None,
                        half: bool = True) -> str:
    """Write ``model.safetensors`` (float16 unless half=False) and ``config.json``; returns the sha256."""
    from safetensors.torch import save_file

    folder = Path(folder)
    folder.mkdir(parents=True, exist_ok=True)
    state = {k: (v.half() if half and v.is_floating_point() else v).contiguous().cpu()
             for k, v in net.state_dict().items()}
    save_file(state, str(folder / "model.safetensors"))
    sha = sha256_file(folder / "model.safetensors")
    config = {"architecture": asdict(net.config), "labels": list(EMOTIONS), "input_size": EXPRESSION_SIZE,
              "sha256": sha, **(extra or {})}
    (folder / "config.json").write_text(json.dumps(config, indent=2) + "\n")
    return sha


def is_expression_checkpoint(folder: Path) -> bool:
    """Whether ``folder`` holds an expression CNN's files as train.fer writes them: its weights, and a config.json
    with its architecture (a train.train checkpoint has both files, not this)."""
    try:
        return (folder / "model.safetensors").is_file() and "architecture" in json.loads(
            (folder / "config.json").read_text())
    except (OSError, ValueError, TypeError):  # no config.json, not JSON, or JSON but no object
        return False


def load_expression_net(device: str | torch.device | None = None, folder: str | Path | None = None,
                        sha256: str | None = None) -> tuple[ExpressionNet, str]:
    """The shipped expression CNN in eval mode (float32) and the sha256 of its weight file.

    folder/sha256 default to the embedded ``checkpoints/default/face-expression`` and its pinned hash; pass
    ``sha256=""`` to skip the check (a freshly trained folder). Raises SourceUnavailable when the
    files are missing, HashMismatch when the weights are not the pinned ones.
    """
    from safetensors.torch import load_file

    folder = Path(folder) if folder is not None else EXPRESSION_DIR
    expected = EXPRESSION_SHA256 if sha256 is None else sha256
    part = "face expression CNN"
    weights, config_path = folder / "model.safetensors", folder / "config.json"
    if not is_expression_checkpoint(folder):
        raise SourceUnavailable(part, f"{folder} holds no expression CNN (model.safetensors, and a config.json with "
                                      "its architecture)",
                                "Restore checkpoints/default/face-expression from the repository, or train it: "
                                "python -m train.fer --data DIR --out checkpoints/default/face-expression"
                                if folder == EXPRESSION_DIR else "Give a folder that train.fer wrote (its --out).")
    actual = sha256_file(weights)
    if expected and actual != expected:
        raise HashMismatch(part, f"{weights} has sha256 {actual[:12]}…, expected {expected[:12]}…",
                           "Restore the file from the repository (git checkout -- checkpoints/default/face-expression), "
                           "or update EXPRESSION_SHA256 in mmsent/expression.py if you retrained it on purpose.")
    try:  # the config's architecture, which the hash of the weights does not cover, must build the net they fill
        arch = json.loads(config_path.read_text())["architecture"]
        net = ExpressionNet(ExpressionConfig(**{k: tuple(v) if isinstance(v, list) else v for k, v in arch.items()}))
        net.load_state_dict({k: v.float() if v.is_floating_point() else v for k, v in load_file(str(weights)).items()},
                            strict=True)
    except (TypeError, ValueError, RuntimeError, AttributeError) as e:
        remedy = ("Restore checkpoints/default/face-expression from the repository" if folder == EXPRESSION_DIR
                  else "Give the config.json that train.fer wrote with these weights.")
        raise SourceUnavailable(part, f"{config_path}'s architecture does not fit its weights ({str(e)[:200]})",
                                remedy) from e
    # channels-last: ~1.7x faster convolutions on CPU (oneDNN), same results
    return net.to(device or "cpu", memory_format=torch.channels_last).eval(), actual
