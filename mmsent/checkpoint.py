"""Checkpoints: a folder with config.json and model.safetensors.

config.json holds the architecture, label names, the pretrained sources with the sha256 of their
weights, which branches were trained and free-form training metadata. model.safetensors holds only
what can't be rebuilt from those sources. Loading never unpickles and matches keys strictly.
"""

from __future__ import annotations

import hashlib
import json
import logging
import re
import warnings
from pathlib import Path

import torch
from safetensors import SafetensorError, safe_open
from safetensors.torch import save_file

from .config import DEFAULT_VIDEO_SOURCE, WHISPER_LAYERS, ModelConfig
from .model import FusionModel, build_model
from .results import atomic_path, write_text_atomic
from .weights import SourceUnavailable, loaded_once, sha256_file

log = logging.getLogger(__name__)

FORMAT = "mmsent-checkpoint"
# 7: the Whisper voice's head is a list of heads (config voice_members; its keys under
# encoders.audio.members.N.). Still loaded: 6 (the voice bank may compare each voice's mean over its
# speech alone, of a chosen layer's states: config voice_bank_layer; its one head read as members.0),
# 5 (the log-linear fusion's neutral discount, neutral_discount), 4 (the voice's bank of training voices,
# config voice_bank) and 3 (each sense calibrated by temperature and bias, the prior counted once per
# sense beyond the first), 3 and 4 without a discount. Refused: 2 (temperature only, the prior in every
# answer) and 1 (log-mel CNN, MLP fusion only)
FORMAT_VERSION = 7
OLDEST_READABLE = 3
CONFIG_FILE, WEIGHTS_FILE = "config.json", "model.safetensors"
DEFAULT_CHECKPOINT = Path(__file__).resolve().parents[1] / "checkpoints" / "default"
VOICE_HEADS = "encoders.audio.members."
PICKLE_SUFFIXES = {".pt", ".pth", ".bin", ".ckpt", ".pkl", ".pickle"}


class CheckpointError(ValueError):
    """A checkpoint that can't be loaded: the message says what is wrong and what to do."""


LABELS = ("emotions", "sentiments")  # the heads' labels, also in the weights file: its rows mean them


def save_checkpoint(model: FusionModel, folder: str | Path, training: dict | None = None) -> Path:
    """Write config.json and model.safetensors into folder (created; its other files are left as they are).

    All or nothing as far as a file system allows: both are written in full under temporary names before either
    replaces the old one, so that a failure while writing (or an interruption then) leaves the folder as it was.
    The two renames that follow can't be one step: config.json goes first, recording the sha256 of its weights,
    so that a folder cut between them (new config, old weights) is refused at load, never loaded mismatched.
    """
    folder = Path(folder)
    folder.mkdir(parents=True, exist_ok=True)
    cfg = model.config
    meta = {
        "format": FORMAT,
        "format_version": FORMAT_VERSION,
        "model": cfg.to_dict(),
        "sources": {
            "text": {"source": cfg.text_source, "sha256": model.source_sha256.get("text")},
            "audio": {"source": cfg.audio_source, "sha256": model.source_sha256.get("audio")},
            "video": {"source": cfg.video_source, "sha256": model.source_sha256.get("video")},
        },
        "trained_branches": list(cfg.trained_branches),
        "training": training or {},
    }
    state = {k: v.detach().cpu().contiguous() for k, v in model.trainable_state_dict().items()}
    if cfg.voice_members > 1:  # a voice of several heads: they are stored in float16, as its bank is
        state.update({k: v.half() for k, v in state.items() if k.startswith(VOICE_HEADS) and v.is_floating_point()})
    with atomic_path(folder / WEIGHTS_FILE) as tmp:  # replaces the old weights second, as its block ends
        save_file(state, str(tmp), metadata={"format": FORMAT, "model_sha256": model_sha256(meta["model"]),
                                             **{k: json.dumps(list(getattr(cfg, k))) for k in LABELS}})
        _sort_metadata(tmp)
        meta["weights_sha256"] = sha256_file(tmp)  # checked at load: a damaged or changed file is refused
        write_text_atomic(folder / CONFIG_FILE, json.dumps(meta, indent=2) + "\n")  # replaces the old config first
    return folder


def model_sha256(model: dict) -> str:
    """The sha256 of a checkpoint's model settings (config.json's "model"), kept with its weights: settings edited
    after it was saved (its labels reordered, another layer of Whisper for the voice) are refused at load."""
    return hashlib.sha256(json.dumps(model, sort_keys=True).encode()).hexdigest()


def _sort_metadata(path: Path) -> None:
    """Write the metadata of a safetensors file in the order of its keys. safetensors writes them in an order of
    its own that changes from run to run: the same weights gave files of other bytes, and another sha256."""
    with open(path, "r+b") as f:
        size = int.from_bytes(f.read(8), "little")
        raw = f.read(size)
        header = json.loads(raw)
        header["__metadata__"] = dict(sorted(header.get("__metadata__", {}).items()))
        text = json.dumps(header, separators=(",", ":"), ensure_ascii=False).encode()
        if len(text) <= size and json.loads(text) == json.loads(raw):  # the same header, its padding kept
            f.seek(8)
            f.write(text.ljust(size))


def read_config(folder: str | Path, oldest: int = OLDEST_READABLE) -> dict:
    """Read and check a checkpoint's config.json (no weights are touched). ``oldest=2``: a format-2 checkpoint is
    read too, for train.train --init to recalibrate it (its encoders and heads copied, its calibration fitted again)."""
    folder = Path(folder)
    if folder.is_file():
        if folder.suffix.lower() in PICKLE_SUFFIXES:
            raise CheckpointError(
                f"{folder} is a pickle file: mmsent never unpickles (a pickle can run code). "
                f"A checkpoint is a folder with {CONFIG_FILE} and {WEIGHTS_FILE}.")
        raise CheckpointError(f"{folder} is a file; a checkpoint is a folder with {CONFIG_FILE} and {WEIGHTS_FILE}")
    if folder.is_symlink() and not folder.exists():
        raise CheckpointError(f"{folder} is a symbolic link to nothing that can be read (a loop, or its target gone)")
    if not folder.exists():
        raise CheckpointError(f"{folder}: no such checkpoint folder (give a folder with {CONFIG_FILE} and "
                              f"{WEIGHTS_FILE}, or 'default' for the embedded model)")
    if not (folder / CONFIG_FILE).is_file():
        raise CheckpointError(f"{folder} is not a checkpoint: {CONFIG_FILE} is missing")
    try:
        meta = json.loads((folder / CONFIG_FILE).read_text(encoding="utf-8"))
    except (json.JSONDecodeError, UnicodeDecodeError) as e:
        raise CheckpointError(f"{folder / CONFIG_FILE} is not valid JSON: {e}") from e
    except OSError as e:
        raise CheckpointError(f"{folder / CONFIG_FILE} can't be read ({e.strerror}): check its permissions") from e
    if not isinstance(meta, dict) or meta.get("format") != FORMAT:
        fer = isinstance(meta, dict) and {"architecture", "labels", "input_size"} <= set(meta)
        raise CheckpointError(f"{folder / CONFIG_FILE} is not an mmsent checkpoint config" + (
            ": it is an expression CNN's (python -m train.fer), one part of a model; give a checkpoint of "
            "python -m train.train" if fer else " (one of another tool, a Hugging Face model's?): give a folder that "
            "python -m train.train wrote, or 'default' for the embedded model"))
    if not (folder / WEIGHTS_FILE).is_file():  # after its config: a config that is no checkpoint's is said as such
        pickles = sorted(f.name for f in folder.iterdir() if f.suffix.lower() in PICKLE_SUFFIXES)
        raise CheckpointError(f"{folder} is not a checkpoint: {WEIGHTS_FILE} is missing" + (
            f" ({', '.join(pickles)}: pickle files, which mmsent never loads: a pickle can run code)"
            if pickles else ""))
    version = meta.get("format_version", 0)
    if not isinstance(version, int) or isinstance(version, bool):
        raise CheckpointError(f"{folder / CONFIG_FILE}: format_version must be an integer, got {version!r}")
    if version > FORMAT_VERSION:
        raise CheckpointError(f"{folder} has checkpoint format {version}: upgrade mmsent to load it")
    if version == 2 and oldest > 2:
        raise CheckpointError(
            f"{folder} has checkpoint format 2, whose fusion added its prior to every answer, so that a sense "
            f"alone could answer otherwise than it said; this mmsent calibrates each sense on its own. "
            f"Recalibrate it (python -m train.train --epochs 0 --init {folder} with its training options "
            f"and dev sets) or retrain")
    if version < oldest:
        raise CheckpointError(
            f"{folder} has checkpoint format {version}, from an mmsent whose audio branch was a log-mel CNN "
            f"and whose senses had no heads of their own; this mmsent can't read it. Use the embedded "
            f"default, or retrain (python -m train.train; --audio-source logmel-cnn --fusion mlp rebuilds "
            f"that design)")
    sources = meta.get("sources", {})
    if not isinstance(sources, dict) or not all(isinstance(v, dict) for v in sources.values()):
        raise CheckpointError(f"{folder / CONFIG_FILE}: 'sources' must map each part to "
                              "{'source': ..., 'sha256': ...}")
    if not isinstance(meta.get("training") or {}, dict):
        raise CheckpointError(f"{folder / CONFIG_FILE}: 'training' must be a mapping (what the model was trained on): "
                              "restore the file as it was saved")
    return meta


def model_config(folder: Path, meta: dict) -> ModelConfig:
    """The model config of the checkpoint in ``folder``, whose config.json ``read_config`` gave as ``meta``; raises
    CheckpointError for one that is not valid."""
    try:
        config = ModelConfig.from_dict(meta["model"])
        config.validate()
    except (KeyError, TypeError, ValueError) as e:
        raise CheckpointError(f"{folder / CONFIG_FILE} has an invalid model config: {e}") from e
    return config


def load_checkpoint(folder: str | Path, device: str | torch.device = "cpu") -> FusionModel:
    """Rebuild a model from a checkpoint folder: its config, its pretrained sources, its weights; on ``device``
    (checked first, as ``pick_device`` checks it)."""
    folder, device = Path(folder), pick_device(device)
    meta = read_config(folder)
    config = model_config(folder, meta)
    try:
        model = build_model(config)
    except SourceUnavailable as e:
        raise CheckpointError(f"can't load {folder}: {e}") from e
    _check_sources(model, meta, folder)
    state = read_weights(folder, meta)
    if meta["format_version"] < 5 and config.fusion == "log-linear":
        state.setdefault("neutral_discount", torch.zeros_like(model.neutral_discount))  # every reading in full
    _check_keys(model, state, folder)
    model.load_state_dict(state, strict=False)  # strictness checked above: frozen keys come from sources
    model.checkpoint = str(folder)
    model.weights_sha256 = meta.get("weights_sha256") or sha256_file(folder / WEIGHTS_FILE)  # which weights: retrained?
    training = meta.get("training") or {}
    if training.get("command") and "calibration" not in training:  # train.train calibrates as its run ends
        warnings.warn(f"{folder} is the best epoch ({training.get('epoch')}) of a training run that did not finish: "
                      "it was never calibrated, and its probabilities mean less than a finished run's. Finish the "
                      "run (the same command with --resume)", stacklevel=2)
    elif training.get("finished") is False:  # left by train.train --stop-after, calibrated as it left
        warnings.warn(f"{folder} is the best epoch ({training.get('epoch')}) of a training run that did not finish: it "
                      f"was stopped after {training.get('epochs_run')} of its {training.get('epochs_asked')} epochs "
                      "(--stop-after). Finish the run (the same command with --resume)", stacklevel=2)
    return model.to(device).eval()


def read_weights(folder: str | Path, meta: dict | None = None) -> dict[str, torch.Tensor]:
    """A checkpoint's stored tensors, under the names of this mmsent (``meta``: its config.json)."""
    folder = Path(folder)
    meta = read_config(folder) if meta is None else meta
    recorded = meta.get("weights_sha256")  # absent in checkpoints saved before 5 December 2026
    try:
        actual = sha256_file(folder / WEIGHTS_FILE) if recorded is not None else None
    except OSError as e:
        raise CheckpointError(f"{folder / WEIGHTS_FILE} can't be read ({e.strerror}): check its permissions") from e
    if actual != recorded:
        raise CheckpointError(f"{folder / WEIGHTS_FILE} has sha256 {actual[:12]}…, but its {CONFIG_FILE} records "
                              f"{str(recorded)[:12]}…: the file is damaged or was changed after it was saved (copy the "
                              "checkpoint again, or reinstall mmsent for the embedded default), or its saving was cut "
                              "short: save it again")
    try:
        with safe_open(str(folder / WEIGHTS_FILE), framework="pt") as f:  # read once: its tensors and metadata
            state, stored = {k: f.get_tensor(k) for k in f.keys()}, f.metadata() or {}
    except (SafetensorError, OSError) as e:
        raise CheckpointError(f"{folder / WEIGHTS_FILE} is not a readable safetensors file: {e}") from e
    for key in LABELS:  # the heads' rows mean the labels they were trained on (recorded from 6 December 2026)
        given = meta.get("model", {}).get(key, list(getattr(ModelConfig, key)))
        if key in stored and json.loads(stored[key]) != given:
            raise CheckpointError(f"{folder / CONFIG_FILE} names the {key} {given}, but its weights were trained on "
                                  f"{json.loads(stored[key])} in that order: the config was changed after it was "
                                  "saved. Restore it (or retrain for other labels)")
    if "model_sha256" in stored and model_sha256(meta.get("model")) != stored["model_sha256"]:  # from 7 December 2026
        raise CheckpointError(f"{folder / CONFIG_FILE}'s model settings are not those its weights were saved with: "
                              "the config was changed after it was saved. Restore it (copy the checkpoint again, or "
                              "reinstall mmsent for the embedded default), or retrain for other settings")
    broken = [k for k, v in state.items() if v.is_floating_point() and not torch.isfinite(v).all()]
    if broken:
        raise CheckpointError(f"{folder / WEIGHTS_FILE} holds weights that are not numbers (NaN or infinite) in "
                              f"{broken[:3]}{'…' if len(broken) > 3 else ''}: the model is damaged; retrain it or use another")
    if meta["format_version"] < 7 and meta["model"].get("audio_source") in WHISPER_LAYERS:  # one voice head
        for k in [k for k in state if k.startswith(("encoders.audio.norm.", "encoders.audio.net."))]:
            state[VOICE_HEADS + "0." + k.removeprefix("encoders.audio.")] = state.pop(k)
    return state


def _check_sources(model: FusionModel, meta: dict, folder: Path) -> None:
    for part, recorded in meta.get("sources", {}).items():
        if part not in model.encoders:
            continue
        actual = model.source_sha256.get(part)
        if recorded.get("sha256") != actual:
            remedy = ("use the face expression CNN it was trained on in checkpoints/default/face-expression (from the "
                      "mmsent it came with), or retrain the checkpoint on the one there"
                      if recorded.get("source") == DEFAULT_VIDEO_SOURCE else
                      "install the versions in requirements.txt, or retrain the checkpoint")
            raise CheckpointError(
                f"{folder} was trained on {part} weights {recorded.get('source')!r} with sha256 "
                f"{str(recorded.get('sha256'))[:12]}…, but the installed ones have {str(actual)[:12]}…: {remedy}")


def _check_keys(model: FusionModel, state: dict[str, torch.Tensor], folder: Path) -> None:
    expected = {k: v.shape for k, v in model.trainable_state_dict().items()}
    missing, extra = sorted(set(expected) - set(state)), sorted(set(state) - set(expected))
    if missing or extra:
        raise CheckpointError(
            f"{folder / WEIGHTS_FILE} does not match its config: missing {missing[:5]}{'…' if len(missing) > 5 else ''}, "
            f"unexpected {extra[:5]}{'…' if len(extra) > 5 else ''}")
    wrong = [f"{k}: {tuple(state[k].shape)} vs {tuple(s)}" for k, s in expected.items() if state[k].shape != s]
    if wrong:
        raise CheckpointError(f"{folder / WEIGHTS_FILE} has tensors of the wrong shape: {wrong[:5]}")


def load_model(name_or_path: str | Path | None = None, device: str | torch.device | None = None) -> FusionModel:
    """Load a model: None or "default" is the embedded default in checkpoints/default/, else a checkpoint folder.
    Each call loads a new model of the caller's own (``analyze`` without a model uses one it keeps: ``shared_default``).

    device: "cuda", "cpu", "cuda:1", a ``torch.device``, or None (or "auto") to pick CUDA when present.
    Raises CheckpointError for a folder that is not a loadable checkpoint, ValueError for a device that is
    not one or that this machine lacks, SourceUnavailable for a pretrained part that can't be had offline.
    """
    device = pick_device(device)
    if name_or_path in (None, "default") and not (DEFAULT_CHECKPOINT / CONFIG_FILE).is_file():
        warnings.warn(
            "No trained default model in checkpoints/default/ (its config.json is missing): using the default "
            "architecture with freshly initialised, UNTRAINED heads. Its predictions are meaningless; restore it "
            "(git checkout -- checkpoints/default, or install mmsent again), or train one with python -m train.train.",
            stacklevel=2)
        return build_model(ModelConfig(trained_branches=("text", "audio"))).to(device).eval()
    return load_checkpoint(checkpoint_folder(name_or_path), device)


@loaded_once(maxsize=2)
def _default_on(device: torch.device) -> FusionModel:
    return load_model(None, device)


def shared_default(device: str | torch.device | None = None) -> FusionModel:
    """The embedded default model that ``analyze`` uses when given none: loaded once per process and device,
    then kept (threads that ask at once wait for one load). Only read: a caller who wants to change, move or
    free a model loads their own with ``load_model``."""
    return _default_on(pick_device(device))


def checkpoint_folder(name_or_path: str | Path | None) -> Path:
    """The folder a checkpoint name means: None or "default" is the embedded default's (said where a folder here is
    named default too); a leading ~ is the home folder."""
    here = Path("default")
    if name_or_path == "default" and (here / CONFIG_FILE).is_file() and here.resolve() != DEFAULT_CHECKPOINT.resolve():
        warnings.warn("'default' is the embedded model, not the folder default/ here: write ./default for that one",
                      stacklevel=2)
    return DEFAULT_CHECKPOINT if name_or_path in (None, "default") else Path(name_or_path).expanduser()


def pick_device(device: str | torch.device | None = None) -> torch.device:
    """The requested device, or CUDA when available and nothing was asked; a GPU always by its number ("cuda" is the
    current one, "cuda:0" on most machines), so that one GPU is one key (``shared_default``). Raises ValueError for a
    device that is not one, or a CUDA device this machine does not have."""
    if isinstance(device, str):
        device = device.strip().lower()  # CPU, Cuda:0
    if device in (None, "auto"):
        if not torch.cuda.is_available():
            return torch.device("cpu")
        index = torch.cuda.current_device()
        unrunnable = _unrunnable(index)
        if unrunnable:
            warnings.warn(f"{unrunnable}: running on the CPU", stacklevel=2)
            return torch.device("cpu")
        return torch.device("cuda", index)
    try:
        picked = torch.device(device)
    except (RuntimeError, TypeError) as e:
        raise ValueError(f"{device!r} is not a device: use auto, cpu, cuda or cuda:N ({e})") from None
    if picked.type not in ("cpu", "cuda"):  # mps, xpu, meta, ...: the speech recogniser (CTranslate2) has neither
        raise ValueError(f"{device!r}: mmsent runs on the CPU or an NVIDIA GPU: use auto, cpu, cuda or cuda:N")
    count = torch.cuda.device_count() if picked.type == "cuda" else 0
    if picked.type == "cuda" and (picked.index or 0) >= count:
        have = f"{count} CUDA device(s)" if count else "no CUDA device (no NVIDIA GPU or driver, or a CPU-only torch)"
        raise ValueError(f"device {device!r} was asked for, but this machine has {have}: "
                         "use --device auto (CUDA when present) or cpu")
    if picked.type == "cuda" and picked.index is None:
        picked = torch.device("cuda", torch.cuda.current_device())
    unrunnable = _unrunnable(picked.index) if picked.type == "cuda" else None
    if unrunnable:
        raise ValueError(f"device {device!r}: {unrunnable}. Use --device cpu")
    return picked


def _unrunnable(index: int) -> str | None:
    """Why the installed torch can't run on CUDA device ``index`` (it has no kernels for its generation: a
    Pascal card, compute capability 6.x, under a torch built for 7.0 and later), or None."""
    major, minor = torch.cuda.get_device_capability(index)
    archs = [m for m in map(re.compile(r"(sm|compute)_(\d+)(\d)").fullmatch, torch.cuda.get_arch_list()) if m]
    if not archs:  # a build that names no NVIDIA generations (ROCm's gfx...): not ours to judge
        return None
    for m in archs:  # sm_86: binaries for 8.6 (run on 8.x from 8.6); compute_90: PTX, compiled for 9.0 and later
        if ((int(m[2]), int(m[3])) <= (major, minor) if m[1] == "compute"
                else int(m[2]) == major and int(m[3]) <= minor):
            return None
    return (f"{torch.cuda.get_device_name(index)} (compute capability {major}.{minor}) is not supported by this torch "
            f"{torch.__version__}, built for {' '.join(torch.cuda.get_arch_list())}")
