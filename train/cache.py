"""Feature cache: what frozen encoders and fixed preprocessing produce, computed once, kept on disk.

A cache folder holds one subfolder per feature kind and key (encoder source, sha256 of its weights,
frozen layers, mmsent.features.PREPROCESSING_VERSION, ...): ``{kind}-{digest}/key.json`` plus chunk
files ``chunk-*.safetensors`` whose tensor names are sample ids. Nothing is pickled. A later run
with the same key reads the chunks and computes only the samples they lack; each rank of a
``torchrun`` job computes its share of those and writes its own chunk.
"""

from __future__ import annotations

import hashlib
import json
import logging
import uuid
from collections import Counter
from pathlib import Path

import torch
from safetensors import safe_open
from safetensors.torch import save_file

from mmsent.results import atomic_path, write_text_atomic

from . import dist

log = logging.getLogger(__name__)

CACHE_FORMAT = 1  # bump when the layout of cached tensors changes
# Encoder forwards (batches) run by this process, by feature kind: the tests count them.
ENCODER_CALLS: Counter = Counter()


def weights_fingerprint(module: torch.nn.Module, prefixes: list[str] | None = None) -> str:
    """sha256 over a module's tensors (those under ``prefixes`` if given): the key of encoders with
    no weight file (random weights)."""
    digest = hashlib.sha256()
    for name, tensor in sorted(module.state_dict().items()):
        if prefixes is not None and not any(name.startswith(p) for p in prefixes):
            continue
        digest.update(name.encode())
        digest.update(tensor.detach().cpu().contiguous().reshape(-1).view(torch.uint8).numpy().tobytes())
    return digest.hexdigest()


class FeatureCache:
    """Tensors by sample id for one feature key; on disk under ``root`` (or in memory if root is None)."""

    def __init__(self, root: str | Path | None, kind: str, key: dict):
        self.kind, self.key = kind, {"cache_format": CACHE_FORMAT, "kind": kind, **key}
        digest = hashlib.sha256(json.dumps(self.key, sort_keys=True).encode()).hexdigest()[:16]
        self.folder = Path(root) / f"{kind}-{digest}" if root is not None else None
        self.data: dict[str, torch.Tensor] = {}
        if self.folder is not None:
            self.folder.mkdir(parents=True, exist_ok=True)
            key_file = self.folder / "key.json"
            if not key_file.exists():
                write_text_atomic(key_file, json.dumps(self.key, indent=2, sort_keys=True) + "\n")
            self.reload()

    def reload(self) -> None:
        """Read every chunk of the folder (a chunk that can't be read is ignored with a warning)."""
        if self.folder is None:
            return
        for chunk in sorted(self.folder.glob("chunk-*.safetensors")):
            try:
                with safe_open(str(chunk), framework="pt") as f:
                    for name in f.keys():
                        if name not in self.data:
                            self.data[name] = f.get_tensor(name)
            except Exception as e:  # a chunk cut short by a killed run: recompute its samples
                log.warning("ignoring unreadable cache chunk %s (%s)", chunk, e)

    def missing(self, ids: list[str]) -> list[str]:
        return [i for i in dict.fromkeys(ids) if i not in self.data]

    def add(self, items: dict[str, torch.Tensor]) -> None:
        """Store new tensors (one chunk file per call)."""
        if not items:
            return
        items = {k: v.detach().cpu().contiguous() for k, v in items.items()}
        self.data.update(items)
        if self.folder is not None:
            with atomic_path(self.folder / f"chunk-{uuid.uuid4().hex[:12]}.safetensors") as tmp:
                save_file(items, str(tmp), metadata={"kind": self.kind})

    def __contains__(self, sample_id: str) -> bool:
        return sample_id in self.data

    def __getitem__(self, sample_id: str) -> torch.Tensor:
        return self.data[sample_id]


def fill(cache: FeatureCache, ids: list[str], compute, batch_size: int, progress: str | None = None) -> int:
    """Compute what the cache lacks, this rank's share, and share it with all ranks.

    compute(list of ids) -> dict id -> tensor, called per batch. Returns the number computed here.
    """
    todo = cache.missing(ids)
    if dist.world() > 1 and cache.folder is not None:
        dist.barrier()  # every rank has its list before any rank writes a chunk: same lists, same shards
    mine = dist.shard(todo) if cache.folder is not None else todo  # in memory: no way to share
    done = 0
    if todo:
        log.info("%s: %d of %d samples not cached; rank %d computes %d", cache.kind, len(todo), len(ids),
                 dist.rank(), len(mine))
    elif ids and cache.folder is not None:  # a run again: said, and where, so that a stale cache can be found
        log.info("%s: all %d samples read from the cache (%s)", cache.kind, len(set(ids)), cache.folder)
    bar = dist.progress(total=len(mine), desc=progress or cache.kind, unit="sample") if mine else None
    pending: dict[str, torch.Tensor] = {}
    try:
        for start in range(0, len(mine), batch_size):
            batch = mine[start:start + batch_size]
            pending.update(compute(batch))
            done += len(batch)
            if bar is not None:
                bar.update(len(batch))
            if len(pending) >= 4096:  # bound memory
                cache.add(pending)
                pending = {}
    finally:  # a run stopped (Ctrl-C) or failing keeps what it computed
        cache.add(pending)
    if bar is not None:
        bar.close()
    if todo and dist.world() > 1 and cache.folder is not None:
        dist.barrier()
        cache.reload()
    return done
