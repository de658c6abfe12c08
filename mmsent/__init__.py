"""mmsent: emotion and sentiment in video, from what is seen, heard and said.

The public names below are imported from their modules when first used (PEP 562), so that importing the
package is instant and ``python -m mmsent`` can answer Ctrl-C while torch loads. The library writes nothing to
stdout or stderr itself: it logs under the ``mmsent`` logger (shown once the program configures ``logging``)
and puts what the user must know about an input in ``Analysis.notes``.
"""

from __future__ import annotations

import importlib
import logging
from typing import TYPE_CHECKING

if TYPE_CHECKING:
    from .asr_models import TranscriptionError
    from .checkpoint import CheckpointError, load_checkpoint, load_model, save_checkpoint
    from .config import AnalysisOptions, ModelConfig
    from .labels import EMOTIONS, MODALITIES, SENTIMENTS
    from .media import MediaError
    from .model import FusionModel, FusionOutput, Inputs
    from .pipeline import AnalysisError, analyze
    from .results import Analysis
    from .subtitles import SubtitleError
    from .weights import SourceUnavailable

__version__ = "0.1.0"
# A library's loggers say nothing until the program that uses them configures logging (the command line and the
# app do): without this, Python's last-resort handler wrote each warning on the embedding program's stderr.
logging.getLogger(__name__).addHandler(logging.NullHandler())
_HOMES = {  # public name -> the module that defines it
    **dict.fromkeys(("CheckpointError", "load_checkpoint", "load_model", "save_checkpoint"), "checkpoint"),
    **dict.fromkeys(("AnalysisOptions", "ModelConfig"), "config"),
    **dict.fromkeys(("EMOTIONS", "MODALITIES", "SENTIMENTS"), "labels"),
    **dict.fromkeys(("FusionModel", "FusionOutput", "Inputs"), "model"),
    **dict.fromkeys(("AnalysisError", "analyze"), "pipeline"),
    "Analysis": "results", "SourceUnavailable": "weights", "MediaError": "media", "TranscriptionError": "transcribe",
    "SubtitleError": "subtitles",
}


def __dir__() -> list[str]:
    return sorted(__all__)  # the public names, not this module's own helpers


def __getattr__(name: str):
    """A public name from its module (kept here once imported), or a submodule (``mmsent.media``)."""
    if name in _HOMES:
        globals()[name] = value = getattr(importlib.import_module(f".{_HOMES[name]}", __name__), name)
        return value
    try:
        return importlib.import_module(f".{name}", __name__)
    except ModuleNotFoundError as e:
        if e.name != f"{__name__}.{name}":  # a module that exists failed to import one of its own
            raise
        raise AttributeError(f"module {__name__!r} has no attribute {name!r}") from None


def describe(model: FusionModel) -> str:
    """A short human-readable summary of a model: sources, branches, parameter counts."""
    from .labels import MODALITIES

    cfg = model.config
    total = sum(p.numel() for p in model.parameters())
    trainable = sum(v.numel() for v in model.trainable_state_dict().values())
    lines = [
        f"mmsent {__version__} fusion model on {model.device}",
        f"  text encoder:  {cfg.text_source} (top {cfg.text_tune_layers} layers tuned, context {cfg.text_context})",
        f"  video encoder: {cfg.video_source}",
        f"  audio encoder: {_audio_line(cfg)}",
        f"  fusion: {cfg.fusion}",
        f"  branches used: {', '.join(m for m in MODALITIES if m in model.encoders)}"
        f" (untrained, never used: {', '.join(m for m in MODALITIES if m not in model.encoders) or 'none'})",
        f"  labels: {', '.join(cfg.emotions)} | {', '.join(cfg.sentiments)}",
        f"  parameters: {total:,} in all, {trainable:,} values stored in its checkpoint",
    ]
    return "\n".join(lines)


def _audio_line(cfg: ModelConfig) -> str:
    from .config import WHISPER_LAYERS

    if cfg.audio_source not in WHISPER_LAYERS:
        return f"log-mel CNN {list(cfg.audio_channels)}"
    heads = f"{cfg.voice_members} head{'s' if cfg.voice_members > 1 else ''}"
    gate = f"; familiarity gate on {cfg.voice_bank:,} training voices" if cfg.voice_bank else ""
    return f"{cfg.audio_source} encoder states, {cfg.audio_pooling} pooled, {heads}{gate}"


__all__ = [
    "EMOTIONS", "SENTIMENTS", "MODALITIES", "ModelConfig", "FusionModel", "FusionOutput", "Inputs",
    "AnalysisOptions", "Analysis", "AnalysisError", "analyze", "load_model", "load_checkpoint", "save_checkpoint",
    "describe", "CheckpointError", "SourceUnavailable", "MediaError", "TranscriptionError", "SubtitleError",
    "__version__",
]
