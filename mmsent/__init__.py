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
    """A short human-readable summary of a model: the senses it reads and their encoders, what it was trained and
    selected on (as its checkpoint's config.json records it), parameter counts."""
    from .labels import MODALITIES, MODALITY_NAMES
    from .model import FusionModel

    if not isinstance(model, FusionModel):  # "default", a folder: not an AttributeError
        raise TypeError(f"describe takes a loaded model, not {type(model).__name__} {model!r:.80}: "
                        "describe(mmsent.load_model(checkpoint))")
    cfg = model.config
    total = sum(p.numel() for p in model.parameters())
    trainable = sum(v.numel() for v in model.trainable_state_dict().values())
    tuned = f"top {cfg.text_tune_layers} layers tuned" if cfg.text_tune_layers else "frozen"
    encoders = {"text": f"  text encoder:  {cfg.text_source} ({tuned}, context {cfg.text_context})",
                "video": f"  video encoder: {cfg.video_source}", "audio": f"  audio encoder: {_audio_line(cfg)}"}
    unread = [MODALITY_NAMES[m] for m in MODALITIES if m not in model.encoders]
    them = "them" if len(unread) > 1 else "it"
    lines = [
        f"mmsent {__version__} fusion model on {model.device}",
        *(line for m, line in encoders.items() if m in model.encoders),
        f"  fusion: {cfg.fusion}",
        f"  senses read: {', '.join(MODALITY_NAMES[m] for m in MODALITIES if m in model.encoders)}"
        + (f" (not {', '.join(unread)}: no branch trained for {them})" if unread else ""),
        f"  labels: {', '.join(cfg.emotions)} | {', '.join(cfg.sentiments)}",
        *_training_lines(model),
        f"  parameters: {total:,} in all, {trainable:,} values stored in its checkpoint",
    ]
    return "\n".join(lines)


def _training_lines(model: FusionModel) -> list[str]:
    """What its checkpoint's config.json records of its training (train.train's "training"): the data trained
    on, the senses fed where not all it reads, the epochs; the data it was selected and calibrated on."""
    from pathlib import Path

    from .checkpoint import read_config
    from .labels import MODALITIES, MODALITY_NAMES

    folder = getattr(model, "checkpoint", None)  # None: the untrained stand-in for a missing default
    training = (read_config(folder).get("training") or {}) if folder else {}
    data, hyper = training.get("data") or {}, training.get("hyperparameters") or {}
    hyper = hyper if isinstance(hyper, dict) else {}
    if isinstance(data, str):  # recorded in words (save_checkpoint's training is free-form)
        return [f"  trained on: {data}"]
    if not data or not isinstance(data, dict):
        return ["  trained on: not recorded (its config.json names no training data)"]
    trained, dev = _data_sets(data, hyper)
    if hyper.get("epochs") == 0:  # --epochs 0: parts of other runs (--init) composed
        card = Path(folder) / "MODEL_CARD.md"
        said = f"parts trained in other runs and composed{f' ({card} says how)' if card.is_file() else ''}; the " \
               f"voice gate and class weights from {', '.join(trained)}"
    else:
        fed = [m for m in MODALITIES if m in hyper.get("modalities", MODALITIES)]
        unfed = ", ".join(MODALITY_NAMES[m] for m in model.encoders if m not in fed)
        said = f"{', '.join(trained)}{f' ({unfed} never fed)' if unfed else ''}, {_epochs(training, hyper)}"
    return [f"  trained on: {said}", f"  selected and calibrated on: {', '.join(dev)}"]


def _data_sets(data: dict, hyper: dict) -> tuple[list[str], list[str]]:
    """The sets a run trained on, and those it was selected and calibrated on, from config.json's training data."""
    trained, dev = [], []
    if data.get("meld"):
        trained, dev = ["meld train"], ["meld dev"]
    if data.get("goemotions") or hyper.get("goemotions"):
        trained.append("goemotions train")
        dev += [] if data.get("meld") else ["goemotions dev"]
    if data.get("ravdess"):
        trained.append(f"ravdess actors {data.get('ravdess_train_actors') or 'all'}")
        dev += [f"ravdess actors {data['ravdess_dev_actors']}"] if data.get("ravdess_dev_actors") else []
    if data.get("emovo"):
        held = data.get("emovo_dev_speakers")
        trained.append(f"emovo speakers but {held}" if held else "emovo")
        dev += [f"emovo speakers {held}"] if held else []
    if data.get("fer2013"):
        trained, dev = trained + ["fer2013 train"], dev + ["fer2013 validation"]
    trained += list(data.get("data") or [])
    dev += list(data.get("dev_data") or [])
    if data.get("joint_per_epoch"):
        trained.append(f"{data['joint_per_epoch']} joined an epoch")
        dev.append("joined")
    return trained, dev


def _epochs(training: dict, hyper: dict) -> str:
    """"epoch 3 kept of 4 run (--epochs 8), stopped by --stop-after: not finished"."""
    run = f" of {training['epochs_run']} run" if "epochs_run" in training else ""
    said = f"epoch {training.get('epoch')} kept{run} (--epochs {hyper.get('epochs')})"
    if "calibration" not in training:
        return f"{said}; its run did not finish: never calibrated"
    return f"{said}, stopped by --stop-after: not finished" if training.get("finished") is False else said


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
