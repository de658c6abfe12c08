"""Resumable training state in one safetensors file (no pickle): model, optimizer, RNG, progress.

Tensors: ``model.*`` (the trainable state dict), ``opt.{param}.{name}`` (AdamW moments and step),
``rng.torch`` (the CPU generator state), ``rng.cuda.N`` (each GPU's, on CUDA) and ``rng.shuffle``. The file's metadata holds a JSON
``progress`` (epoch done, best score, epochs without gain, history) and the optimizer's param groups.
"""

from __future__ import annotations

import json
from pathlib import Path

import torch
from safetensors import safe_open
from safetensors.torch import save_file

from mmsent.model import FusionModel
from mmsent.results import atomic_path


class StateError(ValueError):
    """A training state file that does not fit this run."""


def save_state(path: str | Path, model: FusionModel, optimizer: torch.optim.Optimizer,
               progress: dict, shuffle_gen: torch.Generator, run: dict) -> None:
    """Write the state atomically (a run killed while writing keeps the previous file). ``run``: the settings a
    resumed run must share (its data, model and training options)."""
    tensors = {f"model.{k}": v.detach().cpu().contiguous() for k, v in model.trainable_state_dict().items()}
    opt = optimizer.state_dict()
    for idx, st in opt["state"].items():
        for name, value in st.items():
            tensors[f"opt.{idx}.{name}"] = torch.as_tensor(value).detach().cpu().contiguous()
    tensors["rng.torch"] = torch.get_rng_state()
    if torch.cuda.is_initialized():  # dropout on a GPU draws from its own generator
        tensors |= {f"rng.cuda.{i}": state for i, state in enumerate(torch.cuda.get_rng_state_all())}
    tensors["rng.shuffle"] = shuffle_gen.get_state()
    groups = [{k: v for k, v in g.items() if k != "params"} | {"params": g["params"]} for g in opt["param_groups"]]
    meta = {"progress": json.dumps(progress), "param_groups": json.dumps(groups), "run": json.dumps(run)}
    path = Path(path)
    path.parent.mkdir(parents=True, exist_ok=True)
    with atomic_path(path) as tmp:
        save_file(tensors, str(tmp), metadata=meta)


def load_state(path: str | Path, model: FusionModel, optimizer: torch.optim.Optimizer,
               shuffle_gen: torch.Generator, run: dict) -> dict:
    """Restore model, optimizer and generators from ``path``; returns the progress dict. StateError where the
    run that wrote it had other settings than ``run`` (as ``save_state`` took them)."""
    path = Path(path)
    if not path.is_file():
        raise StateError(f"{path}: no training state to resume from; run without --resume first")
    with safe_open(str(path), framework="pt") as f:
        meta = f.metadata() or {}
        tensors = {k: f.get_tensor(k) for k in f.keys()}
    if "progress" not in meta:
        raise StateError(f"{path} is not a training state written by train.train")
    before = json.loads(meta.get("run", "{}"))  # absent in states written before 6 December 2026
    run = json.loads(json.dumps(run))  # as stored: tuples as lists
    changed = sorted(k for k in before.keys() | run.keys() if before and before.get(k) != run.get(k))
    if changed:
        raise StateError(f"{path} is the state of a run with other settings: " + "; ".join(
            f"--{k.replace('_', '-')} was {before.get(k)!r}, now {run.get(k)!r}" for k in changed)
            + ". Resume with the same ones, or start again with --overwrite")
    model_state = {k[len("model."):]: v for k, v in tensors.items() if k.startswith("model.")}
    expected = set(model.trainable_state_dict())
    if set(model_state) != expected:
        raise StateError(f"{path} was saved from a different model configuration: its weights don't match")
    model.load_state_dict(model_state, strict=False)
    state: dict[int, dict] = {}
    for k, v in tensors.items():
        if k.startswith("opt."):
            _, idx, name = k.split(".", 2)
            state.setdefault(int(idx), {})[name] = v
    groups = json.loads(meta["param_groups"])
    try:
        optimizer.load_state_dict({"state": state, "param_groups": groups})
    except ValueError as e:
        raise StateError(f"{path}: its optimizer does not match this run's ({e})") from e
    torch.set_rng_state(tensors["rng.torch"])
    cuda = [tensors[k] for k in sorted(k for k in tensors if k.startswith("rng.cuda."))]  # "rng.cuda.N"
    if cuda and torch.cuda.is_available() and len(cuda) == torch.cuda.device_count():
        torch.cuda.set_rng_state_all(cuda)
    shuffle_gen.set_state(tensors["rng.shuffle"])
    return json.loads(meta["progress"])
