"""The first layers of the embedded Whisper base encoder in torch, read from the ASR's own
CTranslate2 ``model.bin`` (the file ``mmsent.asr_models`` assembles and hash-checks).

CTranslate2 returns only the encoder's last layer, which serves the decoder: what is said. The
states after its 4th of 6 layers keep more of how it is said, and a voice head on them generalises
better to speakers and corpora it never heard (linear probes and trained heads on RAVDESS and
EMOVO: docs/experiments.md, "Which layer"): the default's voice reads those (``audio_source = "whisper-base-layer4"``).

The network is Whisper's (Radford et al. 2022): two GELU convolutions (the second halves the time
axis: one state per 20 ms), sinusoidal positions, pre-LayerNorm transformer blocks. The weights are
the file's float16 values, computed in float32.
"""

from __future__ import annotations

import struct
from pathlib import Path

import numpy as np
import torch
from torch import nn
from torch.nn import functional as F

from .weights import loaded_once

__all__ = ["WhisperEncoderLayers", "load_layers", "read_ct2_variables"]

CT2_BINARY_VERSION = 6  # the model.bin layout read here
_CT2_DTYPES = {0: np.float32, 1: np.int8, 2: np.int16, 3: np.int32, 4: np.float16}


def read_ct2_variables(path: str | Path, prefix: str = "encoder/") -> dict[str, np.ndarray]:
    """The variables of a CTranslate2 ``model.bin`` whose names start with ``prefix`` (the others are
    skipped, not read), aliases included (the converter writes a variable equal to an earlier one as
    an alias of it). Raises ValueError for a file of another layout or cut short."""
    where = {}
    with open(path, "rb") as f:
        def unpack(fmt: str):
            raw = f.read(struct.calcsize(fmt))
            if len(raw) < struct.calcsize(fmt):
                raise ValueError(f"{path}: the CTranslate2 model file is cut short")
            return struct.unpack(fmt, raw)

        def string() -> str:
            (n,) = unpack("H")
            return f.read(n)[:-1].decode("utf-8")

        (version,) = unpack("I")
        if version != CT2_BINARY_VERSION:
            raise ValueError(f"{path}: CTranslate2 model file version {version}, this reader knows "
                             f"{CT2_BINARY_VERSION}")
        string()  # spec name
        unpack("I")  # revision
        def read(name: str) -> np.ndarray:
            offset, shape, dtype, size = where[name]
            f.seek(offset)
            raw = f.read(size)
            if len(raw) < size or dtype not in _CT2_DTYPES:
                raise ValueError(f"{path}: variable {name} is cut short or of an unknown type ({dtype})")
            return np.frombuffer(raw, dtype=_CT2_DTYPES[dtype]).reshape(shape)

        (count,) = unpack("I")
        for _ in range(count):
            name = string()
            (rank,) = unpack("B")
            shape = unpack(f"{rank}I")
            dtype, size = unpack("B")[0], unpack("I")[0]
            where[name] = (f.tell(), shape, dtype, size)
            f.seek(size, 1)
        (aliases,) = unpack("I")
        targets = dict((string(), string()) for _ in range(aliases))
        out = {name: read(name) for name in where if name.startswith(prefix)}
        for alias, target in targets.items():
            if alias.startswith(prefix):
                out[alias] = out[target] if target in out else read(target)
    return out


class _Block(nn.Module):
    """A pre-LayerNorm transformer block: self-attention (fused q, k, v projection), then a GELU MLP."""

    def __init__(self, width: int, heads: int):
        super().__init__()
        self.heads = heads
        self.attn_norm, self.qkv, self.out = nn.LayerNorm(width), nn.Linear(width, 3 * width), nn.Linear(width, width)
        self.mlp_norm, self.fc1 = nn.LayerNorm(width), nn.Linear(width, 4 * width)
        self.fc2 = nn.Linear(4 * width, width)

    def forward(self, x: torch.Tensor, keys: torch.Tensor | None) -> torch.Tensor:
        b, t, w = x.shape
        q, k, v = self.qkv(self.attn_norm(x)).view(b, t, 3, self.heads, w // self.heads).permute(2, 0, 3, 1, 4)
        x = x + self.out(F.scaled_dot_product_attention(q, k, v, keys).transpose(1, 2).reshape(b, t, w))
        return x + self.fc2(F.gelu(self.fc1(self.mlp_norm(x))))


class WhisperEncoderLayers(nn.Module):
    """Whisper's encoder up to its ``layers``-th block: log-mel (B, 80, T) -> states (B, T // 2, width).

    A batch of utterances of different lengths is zero-padded at the end and carries ``lengths``
    (valid states each): padded states are kept out of the attention, so each utterance's states
    are those it has alone (the convolutions' last valid outputs see only valid or zero input)."""

    def __init__(self, variables: dict[str, np.ndarray], layers: int):
        super().__init__()
        width, mels, _ = variables["encoder/conv1/weight"].shape
        available = sum(k.endswith("/self_attention/linear_0/weight") for k in variables)
        if not 1 <= layers <= available:
            raise ValueError(f"the encoder has {available} layers, not {layers}")
        self.conv1 = nn.Conv1d(mels, width, 3, padding=1)
        self.conv2 = nn.Conv1d(width, width, 3, stride=2, padding=1)
        self.register_buffer("positions", torch.empty(variables["encoder/position_encodings/encodings"].shape))
        self.blocks = nn.ModuleList(_Block(width, int(variables["encoder/num_heads"])) for _ in range(layers))
        names = {"conv1.weight": "conv1/weight", "conv1.bias": "conv1/bias", "conv2.weight": "conv2/weight",
                 "conv2.bias": "conv2/bias", "positions": "position_encodings/encodings"}
        parts = {"attn_norm": "self_attention/layer_norm", "qkv": "self_attention/linear_0",
                 "out": "self_attention/linear_1", "mlp_norm": "ffn/layer_norm", "fc1": "ffn/linear_0",
                 "fc2": "ffn/linear_1"}
        for i in range(layers):
            for ours, theirs in parts.items():
                norm = theirs.endswith("layer_norm")
                names[f"blocks.{i}.{ours}.weight"] = f"layer_{i}/{theirs}/{'gamma' if norm else 'weight'}"
                names[f"blocks.{i}.{ours}.bias"] = f"layer_{i}/{theirs}/{'beta' if norm else 'bias'}"
        self.load_state_dict({ours: torch.from_numpy(variables["encoder/" + theirs].astype(np.float32))
                              for ours, theirs in names.items()})
        self.requires_grad_(False).eval()

    def forward(self, mel: torch.Tensor, lengths: torch.Tensor | None = None,
                after: tuple[int, ...] | None = None) -> torch.Tensor | list[torch.Tensor]:
        """The states after the last block, or (``after``) a list of the states after each of those blocks."""
        x = F.gelu(self.conv2(F.gelu(self.conv1(mel)))).transpose(1, 2)
        x = x + self.positions[: x.shape[1]]
        keys = None if lengths is None else (torch.arange(x.shape[1], device=x.device) < lengths[:, None])[:, None, None]
        kept = {}
        for i, block in enumerate(self.blocks, 1):
            x = kept[i] = block(x, keys)
        return x if after is None else [kept[i] for i in after]


@loaded_once(maxsize=2)
def load_layers(layers: int, device: str = "cpu") -> WhisperEncoderLayers:
    """The embedded Whisper base encoder's first ``layers`` blocks on ``device``, loaded once per process."""
    from .asr_models import embedded_model_dir

    variables = read_ct2_variables(embedded_model_dir() / "model.bin")
    return WhisperEncoderLayers(variables, layers).to(device)
