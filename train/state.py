"""Resumable training state in one safetensors file (no pickle): model, optimizer, RNG, progress.

Tensors: ``model.*`` (the trainable state dict), ``opt.{param}.{name}`` (AdamW moments and step),
``rng.rank.R.torch`` and ``rng.rank.R.cuda`` (the CPU's and, on CUDA, its GPU's generator states in each process R of a
torchrun job: the only process in one without; states written before 7 December 2026 hold ``rng.torch`` and
``rng.cuda.N``, read as before) and ``rng.shuffle``. The file's metadata
holds a JSON ``progress`` (epoch done, best score, epochs without gain, history), the optimizer's param groups and the
``run`` (the options a resumed run must share, and the data it read: ``samples_read``), which ``check_run`` compares
from the metadata alone, before a resumed run computes any feature.
"""

from __future__ import annotations

import hashlib
import json
from pathlib import Path

import torch
from safetensors import safe_open
from safetensors.torch import save_file

from mmsent.model import FusionModel
from mmsent.results import atomic_path

from .corpora import shared_path, shared_spec


class StateError(ValueError):
    """A training state file that does not fit this run."""


def samples_read(train: list, dev: dict[str, list]) -> dict:
    """What a resumed run must have read as the run it continues did, training set and each dev set, as read (before
    feature extraction, so before unreadable samples are dropped and a joined dev set drawn from them): how many
    samples (a clip once, however often repeated, perturbed or cut) and a digest of them all (their ids, labels, and
    the digests of their words and files that the feature cache keys them by, read once a process: the cache reads
    them again from memory)."""
    def digest(samples: list) -> dict:
        keys = sorted(f"{s.feature_id('text')} {s.feature_id('audio')} {s.emotion} {s.sentiment}" for s in samples)
        return {"n": len({s.id for s in samples if s.original}),
                "sha256": hashlib.sha256("\n".join(keys).encode()).hexdigest()[:16]}

    return {"train": digest(train), "dev": {name: digest(samples) for name, samples in dev.items()}}


def other_samples(before: dict, now: dict) -> str:
    """"the training samples: 16 then, 17 now; dev set my dev: 4 then, 4 now, not the same": the sets where two
    ``samples_read`` differ."""
    sets = {"the training samples": (before["train"], now["train"])}
    sets |= {f"dev set {name}": (before["dev"].get(name), now["dev"].get(name))
             for name in sorted(before["dev"].keys() | now["dev"].keys())}
    return "; ".join(f"{what}: {b['n'] if b else 'none'} then, {a['n'] if a else 'none'} now"
                     + (", not the same" if b and a and b["n"] == a["n"] else "")
                     for what, (b, a) in sets.items() if b != a)


def rng_state(device: torch.device) -> dict[str, torch.Tensor]:
    """This process's generator states: the CPU's, and the GPU's it trains on (dropout there draws from its own)."""
    return {"torch": torch.get_rng_state()} | ({"cuda": torch.cuda.get_rng_state(device)}
                                               if device.type == "cuda" else {})


def save_state(path: str | Path, model: FusionModel, optimizer: torch.optim.Optimizer,
               progress: dict, shuffle_gen: torch.Generator, run: dict, rngs: list[dict]) -> None:
    """Write the state atomically (a run killed while writing keeps the previous file). ``run``: the settings a
    resumed run must share (its data, model and training options); ``rngs``: each process's ``rng_state``, by
    rank."""
    tensors = {f"model.{k}": v.detach().cpu().contiguous() for k, v in model.trainable_state_dict().items()}
    opt = optimizer.state_dict()
    for idx, st in opt["state"].items():
        for name, value in st.items():
            tensors[f"opt.{idx}.{name}"] = torch.as_tensor(value).detach().cpu().contiguous()
    tensors |= {f"rng.rank.{rank}.{name}": state for rank, states in enumerate(rngs) for name, state in states.items()}
    tensors["rng.shuffle"] = shuffle_gen.get_state()
    groups = [{k: v for k, v in g.items() if k != "params"} | {"params": g["params"]} for g in opt["param_groups"]]
    meta = {"progress": json.dumps(progress), "param_groups": json.dumps(groups), "run": json.dumps(run)}
    path = Path(path)
    path.parent.mkdir(parents=True, exist_ok=True)
    with atomic_path(path) as tmp:
        save_file(tensors, str(tmp), metadata=meta)


def check_run(path: str | Path, run: dict, paths: tuple[str, ...] = (), specs: tuple[str, ...] = ()) -> None:
    """StateError where ``path`` holds no training state, or that of a run with other settings or on other data than
    ``run`` (as ``save_state`` took them): read from the file's metadata alone, so that a resume is refused before
    any feature is computed. The options ``paths`` are compared as the files they name, from the working folder:
    ``/data/ravdess/`` (as a shell completes it) or ``ravdess`` in /data is ``/data/ravdess``; so are the --data
    specs of the options ``specs`` (``folders=clips`` in /data is ``folders=/data/clips/``)."""
    path = Path(path)
    if not path.is_file():
        raise StateError(f"{path}: no training state to resume from; run without --resume first")
    with safe_open(str(path), framework="pt") as f:
        meta = f.metadata() or {}
    if "progress" not in meta:
        raise StateError(f"{path} is not a training state written by train.train")
    before = json.loads(meta.get("run", "{}"))  # absent in states written before 6 December 2026
    run = json.loads(json.dumps(run))  # as stored: tuples as lists
    options = (before.keys() | run.keys()) - {"samples_read"}  # the data's digests are compared below

    def same_files(k: str) -> bool:
        return k in paths + specs and as_files(before.get(k), k in specs) == as_files(run.get(k), k in specs)

    changed = sorted(k for k in options if before and before.get(k) != run.get(k) and not same_files(k))
    if changed:
        raise StateError(f"{path} is the state of a run with other settings: " + "; ".join(
            f"--{k.replace('_', '-')} was {before.get(k)!r}, now {run.get(k)!r}" for k in changed)
            + ". Resume with the same ones, or start again with --overwrite")
    if "samples_read" in before and before["samples_read"] != run.get("samples_read"):  # absent in older states
        raise StateError(f"{path} is the state of a run on other data "
                         f"({other_samples(before['samples_read'], run['samples_read'])}): clips were added, removed, "
                         "renamed or rewritten, or their labels changed since. Resume on the data as it was, or start "
                         "again with --overwrite")


def as_files(value, spec: bool = False):
    """A path option's value (a path, or a list of them, or None; ``spec``: --data specs, NAME=PATH[:SELECTION]) as
    the files it names from here, as a checkpoint records them (``shared_path``, ``shared_spec``)."""
    if isinstance(value, list):
        return [as_files(v, spec) for v in value]
    if isinstance(value, str) and value:
        return shared_spec(value) if spec else shared_path(value)
    return value


def load_state(path: str | Path, model: FusionModel, optimizer: torch.optim.Optimizer,
               shuffle_gen: torch.Generator, device: torch.device, rank: int) -> dict:
    """Restore model, optimizer and generators from ``path``, which ``check_run`` found to be this run's, in process
    ``rank`` training on ``device`` (one the state has none of, in a job of more processes than before, takes
    process 0's); returns the progress dict."""
    with safe_open(str(path), framework="pt") as f:
        meta = f.metadata()
        tensors = {k: f.get_tensor(k) for k in f.keys()}
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
    own = f"rng.rank.{rank}." if f"rng.rank.{rank}.torch" in tensors else "rng.rank.0."
    if own + "torch" in tensors:
        torch.set_rng_state(tensors[own + "torch"])
        if device.type == "cuda" and own + "cuda" in tensors:
            torch.cuda.set_rng_state(tensors[own + "cuda"], device)
    else:  # written before 7 December 2026: process 0's generators, each GPU's
        torch.set_rng_state(tensors["rng.torch"])
        cuda = [tensors[k] for k in sorted((k for k in tensors if k.startswith("rng.cuda.")),  # "rng.cuda.N", by N
                                           key=lambda k: int(k.rpartition(".")[2]))]
        if cuda and torch.cuda.is_available() and len(cuda) == torch.cuda.device_count():
            torch.cuda.set_rng_state_all(cuda)
    shuffle_gen.set_state(tensors["rng.shuffle"])
    return json.loads(meta["progress"])
