"""Distributed helpers: one code path for a single process and for ``torchrun --nproc_per_node=N``.

torchrun sets RANK, WORLD_SIZE and LOCAL_RANK; ``init`` then joins the process group (NCCL on CUDA,
gloo on CPU). Without them everything runs in one process and these helpers are no-ops.
"""

from __future__ import annotations

import datetime
import logging
import os
import sys

import torch
import torch.distributed as td
from tqdm import tqdm

from mmsent.checkpoint import pick_device

log = logging.getLogger(__name__)


def init(device: str | None = None) -> torch.device:
    """Pick the device (``device`` or CUDA when present) and join the process group under torchrun."""
    dev = pick_device(device)
    if "WORLD_SIZE" in os.environ and not td.is_initialized():  # under torchrun, even with one process
        if dev.type == "cuda":
            dev = torch.device("cuda", int(os.environ.get("LOCAL_RANK", 0)))
            torch.cuda.set_device(dev)
        # ranks wait for each other's share of the feature cache, and for rank 0's evaluation: longer than
        # the default 10 minutes on a large corpus
        td.init_process_group("nccl" if dev.type == "cuda" else "gloo", timeout=datetime.timedelta(hours=2))
        log.info("rank %d of %d on %s", rank(), world(), dev)
    return dev


def close() -> None:
    if td.is_initialized():
        td.destroy_process_group()


def active() -> bool:
    """Whether this process is part of a torchrun job (a process group exists)."""
    return td.is_initialized()


def rank() -> int:
    return td.get_rank() if td.is_initialized() else 0


def world() -> int:
    return td.get_world_size() if td.is_initialized() else 1


def is_main() -> bool:
    return rank() == 0


def barrier() -> None:
    if td.is_initialized():
        td.barrier()


def shard(items: list) -> list:
    """This rank's share of items (every world()-th one, starting at rank())."""
    return items[rank()::world()]


def all_reduce_sum(value: torch.Tensor) -> torch.Tensor:
    """Sum of a tensor over ranks (the tensor itself in one process)."""
    if td.is_initialized():  # NCCL reduces only CUDA tensors
        value = value.to("cuda" if td.get_backend() == "nccl" else "cpu", copy=True)
        td.all_reduce(value)
        value = value.cpu()
    return value


def broadcast_object(obj):
    """rank 0's object on every rank."""
    if not td.is_initialized():
        return obj
    box = [obj]
    td.broadcast_object_list(box, src=0)
    return box[0]


def all_gather_object(obj) -> list:
    """Each rank's object, by rank, on every rank ([obj] in one process)."""
    if not td.is_initialized():
        return [obj]
    objs = [None] * world()
    td.all_gather_object(objs, obj)
    return objs


def progress(**kwargs) -> tqdm:
    """A tqdm bar on rank 0 (disabled elsewhere), on stderr where it is a terminal (in a log file a bar is
    hundreds of carriage returns; the log's own lines say what is done)."""
    return tqdm(disable=not is_main() or not sys.stderr.isatty(), file=sys.stderr, mininterval=2.0,
                dynamic_ncols=True, **kwargs)
