"""The late-fusion model: three branch encoders, each with its own emotion and sentiment head, and a
fusion of the senses into the two answer heads.

Fusion "log-linear" (the default): each sense's head gives logits, calibrated on that sense's own dev
split (divided by a temperature, plus a bias per class: what the sense says means what it says); the
answer is a learned weight times each used sense's log-probabilities (a weighted product of experts)
plus a learned prior once for each sense beyond the first (each sense's reading already holds the
base rates: joining n senses counts them n times). An absent sense adds nothing; a sense alone
answers what it says. Fusion "mlp" (the original design): the embeddings, with a learned "missing"
vector for each absent one, are concatenated and go through Linear + LayerNorm + ReLU + Dropout and
two MLP heads.
"""

from __future__ import annotations

import math
from dataclasses import dataclass, field

import torch
from torch import nn

from .config import WHISPER_LAYERS, ModelConfig
from .encoders import AudioEncoder, FaceEncoder, TextEncoder, VideoEncoder, WhisperAudioEncoder
from .features import WHISPER_WIDTH
from .labels import MODALITIES
from .weights import load_text, load_video


@dataclass
class Inputs:
    """One batch. ``mask`` (B, 3) says which modalities each sample has, in MODALITIES order.

    Text comes as tokens (input_ids, attention_mask, token_type_ids: (B, L)) or as cached frozen hidden states
    (text_hidden: (B, L, H) with attention_mask). Video comes as clips (B, 3, 16, 112, 112) or as
    backbone features (video_features: (B, D): R3D-18's 512, or the expression CNN's features averaged
    over an utterance's face crops). Audio is Whisper encoder states (audio_states: (B, T, 512),
    audio_lengths: (B,)) or, for the log-mel CNN, a log-mel batch (mel: (B, 64, T), mel_lengths: (B,)).
    A modality absent from the whole batch may be None.
    """

    mask: torch.Tensor
    input_ids: torch.Tensor | None = None
    attention_mask: torch.Tensor | None = None
    token_type_ids: torch.Tensor | None = None
    text_hidden: torch.Tensor | None = None
    mel: torch.Tensor | None = None
    mel_lengths: torch.Tensor | None = None
    audio_states: torch.Tensor | None = None
    audio_lengths: torch.Tensor | None = None
    voice_means: torch.Tensor | None = None  # (B, 512): what the voice bank compares, when config.voice_bank_layer
    clips: torch.Tensor | None = None
    video_features: torch.Tensor | None = None

    def to(self, device) -> Inputs:
        return Inputs(**{k: None if v is None else v.to(device) for k, v in vars(self).items()})


@dataclass
class FusionOutput:
    """emotion_logits (B, 7), sentiment_logits (B, 3), embeddings: modality -> (B, width)
    (MLP fusion: the learned missing vector where absent), mask (B, 3): the modalities actually used,
    per_modality: modality -> (emotion logits (B, 7), sentiment logits (B, 3)) of that sense alone,
    calibrated (undefined in rows where the mask says the sense is absent), distances: modality ->
    (B,) how unlike the training data a sense's input is (the voice, when its head keeps a bank)."""

    emotion_logits: torch.Tensor
    sentiment_logits: torch.Tensor
    embeddings: dict[str, torch.Tensor]
    mask: torch.Tensor
    per_modality: dict[str, tuple[torch.Tensor, torch.Tensor]]
    distances: dict[str, torch.Tensor] = field(default_factory=dict)


def _head(cfg: ModelConfig, n_classes: int) -> nn.Sequential:
    return nn.Sequential(nn.Linear(cfg.fusion_dim, cfg.head_dim), nn.ReLU(), nn.Dropout(cfg.dropout),
                         nn.Linear(cfg.head_dim, n_classes))


class SenseHead(nn.Module):
    """One sense's own reading: embedding (B, width) -> emotion (B, 7) and sentiment (B, 3) logits."""

    def __init__(self, cfg: ModelConfig, width: int):
        super().__init__()
        self.drop = nn.Dropout(cfg.dropout)
        self.emotion = nn.Linear(width, len(cfg.emotions))
        self.sentiment = nn.Linear(width, len(cfg.sentiments))

    def forward(self, emb: torch.Tensor) -> tuple[torch.Tensor, torch.Tensor]:
        emb = self.drop(emb)
        return self.emotion(emb), self.sentiment(emb)


class FusionModel(nn.Module):
    """Late fusion of text, audio and video embeddings, with a learned vector for each absent one.

    Only trained branches get an encoder: an untrained branch always counts as absent.
    """

    def __init__(self, config: ModelConfig, text_parts=None, video_backbone: nn.Module | None = None,
                 source_sha256: dict[str, str | None] | None = None):
        super().__init__()
        config.validate()
        self.config = config
        self.source_sha256 = dict(source_sha256 or {})
        self.tokenizer = text_parts.tokenizer if text_parts is not None else None
        self.encoders = nn.ModuleDict()
        if text_parts is not None:
            self.encoders["text"] = TextEncoder(text_parts.model, config.embed_dim, config.text_tune_layers)
        if "audio" in config.trained_branches:
            self.encoders["audio"] = (
                WhisperAudioEncoder(WHISPER_WIDTH, config.audio_hidden, config.embed_dim, config.dropout,
                                    config.audio_pooling, config.voice_bank, config.voice_members)
                if config.audio_source in WHISPER_LAYERS else
                AudioEncoder(config.audio_channels, config.embed_dim, config.n_mels, config.audio_hidden))
        if video_backbone is not None:
            face = config.video_source == "face-expression"
            self.encoders["video"] = (FaceEncoder if face else VideoEncoder)(video_backbone, config.embed_dim,
                                                                             config.video_dropout)
        self.sense_heads = nn.ModuleDict({m: SenseHead(config, self.width(m))
                                          for m in MODALITIES if m in self.encoders})
        # each sense's calibration, fitted on its own dev split: logits / temperature (modality, head) + bias
        self.register_buffer("temperature", torch.ones(len(MODALITIES), 2))
        self.register_buffer("emotion_bias", torch.zeros(len(MODALITIES), len(config.emotions)))
        self.register_buffer("sentiment_bias", torch.zeros(len(MODALITIES), len(config.sentiments)))
        if config.fusion == "mlp":
            self.missing = nn.Parameter(torch.randn(len(MODALITIES), config.embed_dim) * 0.02)
            self.fusion = nn.Sequential(
                nn.Linear(len(MODALITIES) * config.embed_dim, config.fusion_dim), nn.LayerNorm(config.fusion_dim),
                nn.ReLU(), nn.Dropout(config.dropout),
            )
            self.emotion_head = _head(config, len(config.emotions))
            self.sentiment_head = _head(config, len(config.sentiments))
        else:  # log-linear: a weight per (head, modality) and a prior per head
            self.fusion_weight = nn.Parameter(torch.ones(2, len(MODALITIES)))
            self.emotion_prior = nn.Parameter(torch.zeros(len(config.emotions)))
            self.sentiment_prior = nn.Parameter(torch.zeros(len(config.sentiments)))
            # per (head, modality): a sense counts (1 - its "neutral") ** (this x the squared clarity of the
            # clearest other sense) of a sense (log_linear); fitted by calibration, 0 counts in full
            self.register_buffer("neutral_discount", torch.zeros(2, len(MODALITIES)))
            self.neutral = _index(config.emotions, "neutral"), _index(config.sentiments, "neutral")  # per head

    @property
    def device(self) -> torch.device:
        return self.temperature.device

    def width(self, modality: str) -> int:
        """The width of a sense's embedding: embed_dim, times the voice's members for the voice."""
        return self.config.embed_dim * (self.config.voice_members if modality == "audio" else 1)

    @property
    def active(self) -> torch.Tensor:
        """(3,) bool: which modalities this model can use (those with a trained encoder)."""
        return torch.tensor([m in self.encoders for m in MODALITIES], device=self.device)

    def _encode(self, name: str, x: Inputs, rows: torch.Tensor) -> torch.Tensor:
        enc = self.encoders[name]
        if name == "text":
            mask = x.attention_mask[rows]
            if x.text_hidden is not None:
                return enc.head(x.text_hidden[rows], mask)
            types = None if x.token_type_ids is None else x.token_type_ids[rows]
            return enc(x.input_ids[rows], mask, types)
        if name == "audio":
            if x.audio_states is not None:
                return enc(x.audio_states[rows], x.audio_lengths[rows])
            return enc(x.mel[rows], x.mel_lengths[rows])
        if x.video_features is not None:
            return enc.head(x.video_features[rows])
        return enc(x.clips[rows])

    def embed(self, x: Inputs) -> dict[str, torch.Tensor]:
        """Branch embeddings: modality -> (B, ``width``); rows of absent modalities are undefined
        (zeros) and must be masked by ``fuse``."""
        mask = x.mask.bool() & self.active
        embeddings = {}
        for i, name in enumerate(MODALITIES):
            emb = torch.zeros(mask.shape[0], self.width(name), device=self.device)
            rows = mask[:, i].nonzero().squeeze(1)
            if len(rows):
                emb = emb.index_put((rows,), self._encode(name, x, rows).to(emb.dtype))
            embeddings[name] = emb
        return embeddings

    def distances(self, x: Inputs) -> dict[str, torch.Tensor]:
        """How unlike its training data each sense's input is: {"audio": (B,)} when the voice's head
        keeps a bank of training voices (0 in rows without a voice), else {}."""
        enc = self.encoders["audio"] if "audio" in self.encoders else None
        if not self.config.voice_bank or enc is None or x.audio_states is None:
            return {}
        if self.config.voice_bank_layer and x.voice_means is None:
            raise ValueError(f"this voice is compared by its mean over its speech of the states after layer "
                             f"{self.config.voice_bank_layer}: "
                             "pass Inputs.voice_means (features.whisper_batch(..., mean_after=N))")
        d = enc.distance(x.voice_means if self.config.voice_bank_layer else enc.mean_state(x.audio_states, x.audio_lengths))
        return {"audio": d.masked_fill(~x.mask[:, MODALITIES.index("audio")].bool(), 0.0)}

    def set_voice_bank(self, means: torch.Tensor) -> None:
        """Keep these training voices (N, width) in the voice's head (``WhisperAudioEncoder.set_bank``)."""
        self.encoders["audio"].set_bank(means.to(self.device))
        self.config.voice_bank = len(means)

    def senses(self, embeddings: dict[str, torch.Tensor], distances: dict[str, torch.Tensor] | None = None
               ) -> dict[str, tuple[torch.Tensor, torch.Tensor]]:
        """Each trained sense's own calibrated logits: modality -> (emotion (B, 7), sentiment (B, 3))."""
        out = {}
        for name, head in self.sense_heads.items():
            em, se = head(embeddings[name])
            d = (distances or {}).get(name)
            out[name] = (self.calibrated(name, 0, em, d), self.calibrated(name, 1, se, d))
        return out

    def calibrated(self, modality: str, head: int, logits: torch.Tensor,
                   distance: torch.Tensor | None = None) -> torch.Tensor:
        """A sense's raw head logits (B, K) -> its calibrated reading: logits / temperature + bias
        (head 0: emotion, 1: sentiment), divided by the sense's doubt where ``distance`` (B,) says
        how unlike its training data the input is."""
        i = MODALITIES.index(modality)
        out = logits / self.temperature[i, head] + (self.emotion_bias, self.sentiment_bias)[head][i]
        if distance is not None:
            out = out / self.encoders[modality].doubt(distance)[:, None].to(out.dtype)
        return out

    def doubts(self, distances: dict[str, torch.Tensor]) -> dict[str, torch.Tensor]:
        """Each sense's ``distances`` (B,) -> the divisors (B,) of its calibrated reading."""
        return {m: self.encoders[m].doubt(d) for m, d in distances.items()}

    def fuse(self, embeddings: dict[str, torch.Tensor], mask: torch.Tensor,
             senses: dict[str, tuple[torch.Tensor, torch.Tensor]] | None = None,
             distances: dict[str, torch.Tensor] | None = None) -> FusionOutput:
        """The answer from the embeddings of the senses that mask (B, 3) says are present, each sense's
        reading flattened by its ``distances`` (``FusionModel.distances``) when given.

        Calling it again with fewer modalities is how leaving one out is measured (pass ``senses``
        of the first call to reuse the per-sense heads)."""
        mask = mask.bool() & self.active
        distances = distances or {}
        senses = self.senses(embeddings, distances) if senses is None else senses
        if self.config.fusion == "mlp":
            used = {name: torch.where(mask[:, i:i + 1], embeddings[name], self.missing[i].expand_as(embeddings[name]))
                    for i, name in enumerate(MODALITIES)}
            fused = self.fusion(torch.cat([used[m] for m in MODALITIES], dim=1))
            return FusionOutput(self.emotion_head(fused), self.sentiment_head(fused), used, mask, senses, distances)
        doubts = self.doubts(distances)
        em, se = (log_linear({m: logits[h].log_softmax(-1) for m, logits in senses.items()}, mask,
                             self.fusion_weight[h], (self.emotion_prior, self.sentiment_prior)[h],
                             self.neutral_discount[h], self.neutral[h], doubts) for h in (0, 1))
        return FusionOutput(em, se, embeddings, mask, senses, distances)

    def forward(self, x: Inputs, fuse_mask: torch.Tensor | None = None) -> FusionOutput:
        """Embed the senses that x.mask says are present; fuse those of ``fuse_mask`` (default x.mask:
        training fuses fewer senses than it embeds, so that each sense's own heads see all of them)."""
        return self.fuse(self.embed(x), x.mask if fuse_mask is None else fuse_mask, distances=self.distances(x))

    def frozen_state_keys(self) -> set[str]:
        """Keys of pretrained weights that are rebuilt from their source, so not stored."""
        keys = set()
        for name, enc in self.encoders.items():
            if self.source_sha256.get(name) is None:
                continue  # random weights can't be rebuilt: the checkpoint stores them
            prefixes = [f"encoders.{name}.{p}" for p in enc.frozen_prefixes()]
            keys |= {k for k in self.state_dict() if any(k.startswith(p) for p in prefixes)}
        return keys

    def trainable_state_dict(self) -> dict[str, torch.Tensor]:
        """Everything a checkpoint must store: all but the frozen pretrained weights."""
        frozen = self.frozen_state_keys()
        return {k: v for k, v in self.state_dict().items() if k not in frozen}


def _index(names, name: str) -> int | None:
    return list(names).index(name) if name in names else None


def log_linear(log_probs: dict[str, torch.Tensor], mask: torch.Tensor, weight: torch.Tensor,
               prior: torch.Tensor, discount: torch.Tensor | None = None, neutral: int | None = None,
               doubts: dict[str, torch.Tensor] | None = None) -> torch.Tensor:
    """Log-linear pooling of one head: the sum over the present senses of weight[sense] x their
    log-probabilities (B, K), plus the prior (K,) once for each present sense beyond the first.

    With ``discount`` (per sense) and the ``neutral`` class, a sense that says "neutral" with
    probability p counts (1 - p) ** (discount[sense] x c^2) of a sense, where c is the ``clarity`` of
    the clearest other sense present (its weight, and its share in the prior's count): words without
    emotion ("It's eleven o'clock.") are no evidence for which emotion a voice or face clearly shows,
    while their small and arbitrary odds between the emotions would otherwise vote; fully discounted,
    a sense is as if absent. Beside senses that show nothing clearly (a face read near-uniformly, a
    voice the familiarity gate flattened) or alone, a sense counts in full: there "neutral" is the
    best evidence there is. The square lets a sense that shows something faintly (c 0.07: a talking
    face FER2013's expression CNN reads near-uniformly) leave the words nearly in full, while a clear
    one (c 0.5) sets them aside.

    A sense whose reading was flattened by a doubt g (``doubts``: sense -> (B,) divisors, the voice's
    familiarity gate) counts 1/g of a sense in the prior's count: a voice read as near-uniform is
    almost no evidence, and must not bring the prior of a whole sense with it."""
    mask = mask.to(prior.dtype)
    clear = torch.zeros_like(mask)
    if discount is not None and neutral is not None:
        for name, logp in log_probs.items():
            i = MODALITIES.index(name)
            clear[:, i] = torch.where(mask[:, i] > 0, clarity(logp.detach()).to(prior.dtype), 0.0)
    out, count = 0.0, 0.0
    for name, logp in log_probs.items():
        i = MODALITIES.index(name)
        share = mask[:, i:i + 1]
        if discount is not None and neutral is not None:
            others = torch.cat([clear[:, :i], clear[:, i + 1:]], dim=1).amax(dim=1, keepdim=True)
            share = share * (1 - logp[:, neutral:neutral + 1].exp()).clamp(min=1e-6) ** (discount[i] * others ** 2)
        g = (doubts or {}).get(name)
        out, count = out + share * weight[i] * logp, count + (share if g is None else share / g[:, None].to(share.dtype))
    return out + (count - 1).clamp(min=0) * prior


def clarity(log_probs: torch.Tensor) -> torch.Tensor:
    """How clearly a reading (B, K) of log-probabilities says one thing: 1 - its entropy / log K, (B,)
    from 0 (uniform) to 1 (certain)."""
    k = log_probs.shape[-1]
    entropy = -(log_probs.exp() * torch.nan_to_num(log_probs, neginf=0.0)).sum(-1)
    return (1 - entropy / math.log(k)).clamp(0.0, 1.0)


def drop_modalities(mask: torch.Tensor, p: float, generator: torch.Generator | None = None) -> torch.Tensor:
    """Training-time modality dropout: drop each present modality with probability p, keeping at
    least one per sample. mask (B, 3) bool -> (B, 3) bool."""
    keep = torch.rand(mask.shape, generator=generator, device=mask.device) >= p
    dropped = mask & keep
    empty = ~dropped.any(dim=1) & mask.any(dim=1)
    if empty.any():  # restore one present modality, chosen at random, where all were dropped
        scores = torch.rand(mask.shape, generator=generator, device=mask.device) * mask
        pick = torch.nn.functional.one_hot(scores.argmax(dim=1), mask.shape[1]).bool()
        dropped = torch.where(empty[:, None], pick, dropped)
    return dropped


def build_model(config: ModelConfig) -> FusionModel:
    """Build a model, loading the pretrained parts of its trained branches from their sources."""
    text = load_text(config.text_source) if "text" in config.trained_branches else None
    video, video_sha = load_video(config.video_source) if "video" in config.trained_branches else (None, None)
    audio_sha = None
    if "audio" in config.trained_branches and config.audio_source in WHISPER_LAYERS:
        from .asr_models import EMBEDDED_SHA256  # the ASR's own model.bin, checked when it is assembled

        audio_sha = EMBEDDED_SHA256
    return FusionModel(config, text, video, {"text": text.sha256 if text else None, "audio": audio_sha,
                                             "video": video_sha})
