"""The three branch encoders. Each maps its input to an embedding of ``embed_dim`` values (a voice
of several heads: that many embeddings side by side).

Frozen pretrained parts are split from the trainable rest (``frozen`` / ``head``), so that training
can cache what the frozen part computes and train the rest from the cache.
"""

from __future__ import annotations

import numpy as np
import torch
from torch import nn

from .weights import VIDEO_FEATURES


def masked_mean(hidden: torch.Tensor, mask: torch.Tensor) -> torch.Tensor:
    """Mean over the valid positions. hidden (B, L, H), mask (B, L) -> (B, H)."""
    weights = mask.to(hidden.dtype).unsqueeze(-1)
    return (hidden * weights).sum(1) / weights.sum(1).clamp(min=1.0)


class TextEncoder(nn.Module):
    """A BERT-family encoder, masked mean pooling, Linear to embed_dim.

    The encoder is frozen except its top ``tune_layers`` transformer layers. ``frozen`` runs the
    embeddings and the frozen layers; ``head`` runs the tuned layers, pooling and projection.
    """

    def __init__(self, backbone: nn.Module, embed_dim: int, tune_layers: int = 0):
        super().__init__()
        self.backbone = backbone
        self.tune_layers = tune_layers
        layers = self._layers()
        if tune_layers and (layers is None or tune_layers > len(layers)):
            n = 0 if layers is None else len(layers)
            raise ValueError(f"can't tune {tune_layers} layers of a text encoder with {n} tunable layers")
        self.backbone.requires_grad_(False)
        for layer in self.tuned_layers():
            layer.requires_grad_(True)
        self.proj = nn.Linear(backbone.config.hidden_size, embed_dim)

    def _layers(self) -> nn.ModuleList | None:
        encoder = getattr(self.backbone, "encoder", None)
        return getattr(encoder, "layer", None)

    def tuned_layers(self) -> list[nn.Module]:
        layers = self._layers()
        return [] if not self.tune_layers else list(layers[len(layers) - self.tune_layers:])

    def frozen_prefixes(self) -> list[str]:
        """State-dict prefixes (under this module) of the frozen pretrained weights."""
        n = len(self._layers() or [])
        tuned = {f"backbone.encoder.layer.{i}." for i in range(n - self.tune_layers, n)} if self.tune_layers else set()
        return [p for p in self._frozen_candidates() if p not in tuned]

    def _frozen_candidates(self) -> list[str]:
        layers = self._layers()
        if layers is None:
            return ["backbone."]
        names = [f"backbone.{name}." for name, _ in self.backbone.named_children() if name != "encoder"]
        # beside its layers, an encoder may hold weights all layers share (MPNet's relative_attention_bias)
        names += [f"backbone.encoder.{name}." for name, _ in self.backbone.encoder.named_children() if name != "layer"]
        return names + [f"backbone.encoder.layer.{i}." for i in range(len(layers))]

    def _attention_mask(self, hidden: torch.Tensor, mask: torch.Tensor):
        from transformers.masking_utils import create_bidirectional_mask

        return create_bidirectional_mask(config=self.backbone.config, inputs_embeds=hidden, attention_mask=mask)

    def _run_layers(self, layers, hidden: torch.Tensor, mask: torch.Tensor) -> torch.Tensor:
        extra = {"attention_mask": self._attention_mask(hidden, mask)}
        position_bias = getattr(self.backbone.encoder, "compute_position_bias", None)
        if position_bias is not None:  # MPNet: the encoder adds a relative position bias in every layer
            extra["position_bias"] = position_bias(hidden)
        for layer in layers:
            out = layer(hidden, **extra)
            hidden = out[0] if isinstance(out, tuple) else out
        return hidden

    def frozen(self, input_ids: torch.Tensor, attention_mask: torch.Tensor,
               token_type_ids: torch.Tensor | None = None) -> torch.Tensor:
        """input_ids, attention_mask, token_type_ids (B, L) -> hidden states after the frozen layers
        (B, L, H). token_type_ids mark the utterance apart from its context (None: all zeros)."""
        with torch.no_grad():
            if not self.tune_layers:
                return self.backbone(input_ids=input_ids, attention_mask=attention_mask,
                                     token_type_ids=token_type_ids).last_hidden_state
            layers = self._layers()
            hidden = self.backbone.embeddings(input_ids=input_ids, token_type_ids=token_type_ids)
            return self._run_layers(layers[: len(layers) - self.tune_layers], hidden, attention_mask)

    def head(self, hidden: torch.Tensor, attention_mask: torch.Tensor) -> torch.Tensor:
        """hidden (B, L, H), attention_mask (B, L) -> (B, embed_dim)."""
        if self.tune_layers:
            hidden = self._run_layers(self.tuned_layers(), hidden, attention_mask)
        return self.proj(masked_mean(hidden, attention_mask))

    def forward(self, input_ids: torch.Tensor, attention_mask: torch.Tensor,
                token_type_ids: torch.Tensor | None = None) -> torch.Tensor:
        return self.head(self.frozen(input_ids, attention_mask, token_type_ids), attention_mask)


def bf16_supported(device: torch.device) -> bool:
    """Whether convolutions run fast in bfloat16 on this device."""
    if device.type == "cuda":  # is_bf16_supported() also says yes where bfloat16 is only emulated (T4, V100)
        return torch.cuda.get_device_capability(device)[0] >= 8
    return device.type == "cpu" and torch.backends.mkldnn.is_available() and torch.ops.mkldnn._is_mkldnn_bf16_supported()


class VideoEncoder(nn.Module):
    """A frozen R3D-18 backbone (fc removed) and a trainable Linear(512, embed_dim) + ReLU + Dropout."""

    def __init__(self, backbone: nn.Module, embed_dim: int, dropout: float):
        super().__init__()
        self.backbone = backbone.requires_grad_(False)
        self.proj = nn.Sequential(nn.Linear(VIDEO_FEATURES, embed_dim), nn.ReLU(), nn.Dropout(dropout))

    def frozen_prefixes(self) -> list[str]:
        return ["backbone."]

    def frozen(self, clips: torch.Tensor) -> torch.Tensor:
        """clips (B, 3, 16, 112, 112), normalised -> features (B, 512), float32.

        Computed in bfloat16 where the device supports it (about 2x faster on a CPU with AVX-512
        BF16); training's feature cache and inference both come through here, so they agree."""
        self.backbone.eval()  # frozen batch norms keep their Kinetics statistics
        with torch.no_grad(), torch.autocast(clips.device.type, torch.bfloat16, enabled=bf16_supported(clips.device)):
            return self.backbone(clips).float()

    def head(self, features: torch.Tensor) -> torch.Tensor:
        """features (B, 512) -> (B, embed_dim)."""
        return self.proj(features)

    def forward(self, clips: torch.Tensor) -> torch.Tensor:
        return self.head(self.frozen(clips))


class FaceEncoder(nn.Module):
    """A frozen expression CNN (trained on FER2013, see ``mmsent.expression``) over the face crops of
    an utterance, its features averaged over the crops, then a trainable Linear + ReLU + Dropout."""

    def __init__(self, backbone: nn.Module, embed_dim: int, dropout: float):
        super().__init__()
        self.backbone = backbone.requires_grad_(False)
        self.proj = nn.Sequential(nn.Linear(backbone.config.features, embed_dim), nn.ReLU(), nn.Dropout(dropout))

    def frozen_prefixes(self) -> list[str]:
        return ["backbone."]

    def frozen(self, crops: list[np.ndarray]) -> torch.Tensor:
        """uint8 face crops of each utterance, a list of (k_i, H, W) with k_i >= 1 -> (B, features) on
        the backbone's device: the expression CNN's embeddings (over each crop's test-time views) averaged."""
        from .expression import embed

        feats, _ = embed(self.backbone, np.concatenate(crops) if crops else np.zeros((0, 48, 48), np.uint8))
        if not crops:
            return feats
        return torch.stack([part.mean(0) for part in feats.float().split([len(c) for c in crops])])

    def head(self, features: torch.Tensor) -> torch.Tensor:
        """features (B, feature_dim) -> (B, embed_dim)."""
        return self.proj(features)


class AudioEncoder(nn.Module):
    """A 2D CNN over the log-mel image, trained from scratch, with statistics pooling over time.

    Each block: Conv 3x3 + BatchNorm + ReLU + MaxPool 2x2. The mel axis is kept (where in the
    spectrum energy sits carries pitch and voice quality): at each time step the channels x remaining
    mel bands are projected to ``hidden`` values (Conv1d 1x1 + BatchNorm + ReLU), whose mean and
    standard deviation over the valid frames go through Linear to embed_dim.
    """

    def __init__(self, channels: tuple[int, ...], embed_dim: int, n_mels: int, hidden: int):
        super().__init__()
        blocks, c_in, bands = [], 1, n_mels
        for c_out in channels:
            blocks += [nn.Conv2d(c_in, c_out, 3, padding=1), nn.BatchNorm2d(c_out), nn.ReLU(), nn.MaxPool2d(2, ceil_mode=True)]
            c_in, bands = c_out, -(-bands // 2)
        self.cnn = nn.Sequential(*blocks)
        self.pool_factor = 2 ** len(channels)
        self.frame = nn.Sequential(nn.Conv1d(c_in * bands, hidden, 1), nn.BatchNorm1d(hidden), nn.ReLU())
        self.proj = nn.Sequential(nn.Linear(2 * hidden, embed_dim), nn.ReLU())

    def frozen_prefixes(self) -> list[str]:
        return []

    def forward(self, mel: torch.Tensor, lengths: torch.Tensor) -> torch.Tensor:
        """mel (B, n_mels, T) normalised log-mel, lengths (B,) valid frames -> (B, embed_dim)."""
        if mel.shape[-1] < 2 * self.pool_factor:  # at least 2 frames after pooling (batch norm of one short clip)
            mel = nn.functional.pad(mel, (0, 2 * self.pool_factor - mel.shape[-1]))
        x = self.frame(self.cnn(mel.unsqueeze(1)).flatten(1, 2)).transpose(1, 2)  # (B, T', hidden)
        valid = (lengths + self.pool_factor - 1) // self.pool_factor
        mask = torch.arange(x.shape[1], device=x.device)[None, :] < valid.clamp(min=1)[:, None]
        mean = masked_mean(x, mask)
        std = (masked_mean((x - mean[:, None]) ** 2, mask) + 1e-5).sqrt()
        return self.proj(torch.cat([mean, std], dim=-1))


def _frames(states: torch.Tensor, lengths: torch.Tensor) -> torch.Tensor:
    """(B, T) bool: the valid frames of padded states (B, T, width) of lengths (B,) (at least one)."""
    return torch.arange(states.shape[1], device=states.device)[None, :] < lengths.clamp(min=1)[:, None]


def doubt(distance: torch.Tensor, d0, slope) -> torch.Tensor:
    """How much to flatten a reading whose input is ``distance`` from the training data: 1 up to d0,
    then 1 + slope x (distance - d0); the calibrated logits are divided by it."""
    return 1 + slope * (distance - d0).clamp(min=0)


class WhisperAudioEncoder(nn.Module):
    """The trained head over Whisper encoder states (the frozen encoder runs in CTranslate2 or, for
    its first layers, in torch: ``mmsent.features.whisper_batch``): mean and standard deviation of
    the states over the valid frames (pooling "mean-std"; "mean": the mean alone; "attention":
    weighted by a softmax over frames of a learned score, LayerNorm -> Linear(width, ATTENTION_HIDDEN)
    -> tanh -> Linear(., 1)) -> BatchNorm (standardises each statistic: a few state dimensions are
    orders of magnitude larger than the rest) -> Linear(statistics, hidden) + ReLU + Dropout ->
    Linear(hidden, embed_dim) + ReLU.

    With ``members`` > 1 it is that many such heads (BatchNorm and MLP; the pooling is shared),
    trained apart with other seeds and joined by train.ensemble: their embeddings side by side
    (B, members x embed_dim), which the voice's own linear head turns into the mean of their
    readings. One head's answer depends on its seed (over five: unseen RAVDESS actors 0.73-0.76, an
    unseen EMOVO speaker 0.39-0.46, through a telephone band 0.60-0.69); the five joined read 0.77,
    0.46 and 0.66 (docs/experiments.md, "Five voice heads instead of one").

    With a bank of ``bank`` training voices (``set_bank``), it also says how unlike them a voice is
    (``distance``) and how much to flatten its reading for that (``doubt``): a voice calibrated on
    unseen speakers of its corpora is still two to seven times too sure of itself on a corpus it
    never heard.
    """

    ATTENTION_HIDDEN = 128
    NEIGHBOURS = 5  # a voice's familiarity: its mean cosine similarity to this many nearest bank voices

    def __init__(self, width: int, hidden: int, embed_dim: int, dropout: float, pooling: str = "mean-std",
                 bank: int = 0, members: int = 1):
        super().__init__()
        if bank:  # its buffers, filled by a checkpoint (or set_bank again)
            self.set_bank(torch.zeros(bank, width))
        self.score = (nn.Sequential(nn.LayerNorm(width), nn.Linear(width, self.ATTENTION_HIDDEN), nn.Tanh(),
                                    nn.Linear(self.ATTENTION_HIDDEN, 1)) if pooling == "attention" else None)
        self.with_std = pooling != "mean"
        stats = 2 * width if self.with_std else width
        self.members = nn.ModuleList(VoiceHead(stats, hidden, embed_dim, dropout) for _ in range(members))

    def frozen_prefixes(self) -> list[str]:
        return []

    def pool(self, states: torch.Tensor, lengths: torch.Tensor) -> torch.Tensor:
        """states (B, T, width), lengths (B,) valid frames -> (B, 2 x width): the (weighted) mean and
        standard deviation over the valid frames; (B, width), the mean alone, for pooling "mean"."""
        mask = _frames(states, lengths)
        if self.score is None:
            weights = mask.to(states.dtype) / mask.sum(1, keepdim=True).clamp(min=1)
        else:
            weights = self.score(states).squeeze(-1).masked_fill(~mask, float("-inf")).softmax(-1)
        mean = (states * weights[..., None]).sum(1)
        if not self.with_std:
            return mean
        std = (((states - mean[:, None]) ** 2 * weights[..., None]).sum(1) + 1e-5).sqrt()
        return torch.cat([mean, std], dim=-1)

    @staticmethod
    def mean_state(states: torch.Tensor, lengths: torch.Tensor) -> torch.Tensor:
        """(B, T, width), (B,) -> (B, width): the plain mean of the states over the valid frames, what
        a voice is compared by (whatever the pooling)."""
        return masked_mean(states.float(), _frames(states, lengths))

    def _unit(self, means: torch.Tensor) -> torch.Tensor:
        return nn.functional.normalize((means - self.bank_center) / self.bank_scale, dim=-1)

    def set_bank(self, means: torch.Tensor) -> None:
        """Keep the training voices ``means`` (N, width) (``mean_state`` of each clip): standardised by
        their own mean and deviation, unit length, in float16. The gate = (d0, slope) of ``doubt``
        starts at 0 (off); train.calibrate sets it."""
        means = means.float()
        self.register_buffer("bank_center", means.mean(0))
        self.register_buffer("bank_scale", torch.nan_to_num(means.std(0), nan=1.0).clamp(min=1e-6))  # one voice: 1
        self.register_buffer("bank", self._unit(means).to(torch.float16))
        self.register_buffer("gate", torch.zeros(2, device=means.device))

    def distance(self, means: torch.Tensor) -> torch.Tensor:
        """(B, width) ``mean_state`` of voices -> (B,): 1 - the mean cosine similarity to their
        NEIGHBOURS nearest bank voices (0: a training voice; about 0.4 for unseen actors of the
        training corpora, 0.6-0.8 for synthetic voices and other corpora)."""
        sims = self._unit(means) @ self.bank.float().T
        return 1 - sims.topk(min(self.NEIGHBOURS, sims.shape[1]), dim=1).values.mean(1)

    def doubt(self, distance: torch.Tensor) -> torch.Tensor:
        """(B,) distances -> (B,) divisors of the voice's calibrated logits (``doubt`` with the gate's
        d0 and slope, set by train.calibrate)."""
        return doubt(distance, *self.gate)

    def forward(self, states: torch.Tensor, lengths: torch.Tensor) -> torch.Tensor:
        """states (B, T, width), lengths (B,) valid frames -> (B, members x embed_dim)."""
        stats = self.pool(states, lengths)
        return torch.cat([member(stats) for member in self.members], dim=-1)


class VoiceHead(nn.Module):
    """One head of ``WhisperAudioEncoder``: pooled statistics (B, stats) -> BatchNorm -> Linear(stats,
    hidden) + ReLU + Dropout -> Linear(hidden, embed_dim) + ReLU."""

    def __init__(self, stats: int, hidden: int, embed_dim: int, dropout: float):
        super().__init__()
        self.norm = nn.BatchNorm1d(stats)
        self.net = nn.Sequential(nn.Linear(stats, hidden), nn.ReLU(), nn.Dropout(dropout),
                                 nn.Linear(hidden, embed_dim), nn.ReLU())

    def forward(self, stats: torch.Tensor) -> torch.Tensor:
        if self.training and len(stats) == 1:  # one utterance: its own batch statistics would be degenerate
            stats = nn.functional.batch_norm(stats, self.norm.running_mean, self.norm.running_var,
                                             self.norm.weight, self.norm.bias, training=False)
        else:
            stats = self.norm(stats)
        return self.net(stats)
