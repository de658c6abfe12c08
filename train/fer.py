"""Train the facial expression CNN (mmsent.expression) on FER2013; select on PublicTest.

    python -m train.fer --data /work/shared/data/fer2013 --out checkpoints/default/face-expression

Reads ``DATA/train/<class>/*.jpg`` and ``DATA/validation/<class>/*.jpg`` (PublicTest), decodes
every image once into a uint8 array cached under ``--cache`` (never in the repository), and trains
with batched tensor augmentation (random rotation/scale/shift, mirror, brightness/contrast, random
erasing), label smoothing, SGD with Nesterov momentum and a one-cycle schedule, bf16 autocast on
devices that have it (a GPU when present, ``--device``), and an exponential moving average of the weights.
Each epoch evaluates the averaged weights on PublicTest (over the test-time views, as ``expression.embed`` serves) and
writes the best so far to ``--out`` (``model.safetensors`` float16 + ``config.json``); the training state
is saved each epoch to ``--state`` so an interrupted run resumes where it stopped; ``--final-out``
also keeps the last averaged weights.

    python -m train.fer --data /work/shared/data/fer2013 --out SOUP --soup CYCLE2 CYCLE3-FINAL

writes the uniform average of the weights of checkpoints that share an architecture and a training
lineage (a "model soup": a warm restart and its start lie in one basin) and evaluates it as served.
"""

from __future__ import annotations

import argparse
import hashlib
import json
import logging
import math
import os
import sys
import time
from pathlib import Path

import numpy as np
import torch
import torch.nn.functional as F

from mmsent.checkpoint import pick_device
from mmsent.config import HelpFormatter
from mmsent.encoders import bf16_supported
from mmsent.expression import (EXPRESSION_SIZE, ExpressionConfig, ExpressionNet, embed, is_expression_checkpoint,
                               load_expression_net, preprocess, save_expression_net, view_features)
from mmsent.labels import EMOTIONS
from train.args import number
from train.corpora import CorpusError, command_line, shared_path, user_path
from train.face_corpora import read_fer2013
from train.metrics import class_figures, per_class
from train.metrics import confusion as count_confusion

log = logging.getLogger("train.fer")


def load_split(folder: Path, split: str, cache: Path) -> tuple[np.ndarray, np.ndarray]:
    """All images of one split as uint8 (N, S, S) grey and int64 (N,) EMOTIONS indices, cached as .npz."""
    samples = read_fer2013(folder, split)
    stats = [os.stat(s.media) for s in samples]  # an image replaced under its name is decoded again
    key = hashlib.sha1("\n".join(f"{Path(s.media).resolve()}:{s.emotion}:{st.st_size}:{st.st_mtime_ns}"
                                 for s, st in zip(samples, stats)).encode()).hexdigest()[:16]
    path = cache / f"fer2013-{split}-{EXPRESSION_SIZE}-{key}.npz"
    if path.is_file():
        with np.load(path) as z:
            return z["x"], z["y"]
    from PIL import Image

    x = np.empty((len(samples), EXPRESSION_SIZE, EXPRESSION_SIZE), np.uint8)
    for i, s in enumerate(samples):
        with Image.open(s.media) as im:
            im = im.convert("L")
            if im.size != (EXPRESSION_SIZE, EXPRESSION_SIZE):
                im = im.resize((EXPRESSION_SIZE, EXPRESSION_SIZE), Image.BILINEAR)
            x[i] = np.asarray(im)
    y = np.array([s.emotion for s in samples], np.int64)
    cache.mkdir(parents=True, exist_ok=True)
    tmp = path.with_suffix(".tmp.npz")
    np.savez(tmp, x=x, y=y)
    os.replace(tmp, path)
    log.info("decoded %d images of %s into %s", len(x), split, path)
    return x, y


def augment(x: torch.Tensor, g: torch.Generator, rotate: float = 12.0, scale: float = 0.12,
            shift: float = 0.1, tone: float = 0.25, erase: float = 0.4) -> torch.Tensor:
    """Random affine (rotation degrees, scale fraction, shift fraction of the side) with a mirror half
    the time, brightness/contrast, and random erasing of one rectangle; x: (B, 1, S, S) preprocessed."""
    b = x.shape[0]
    u = lambda *shape: torch.rand(*shape, generator=g) * 2 - 1  # noqa: E731 (uniform in [-1, 1])
    angle, zoom = u(b) * math.radians(rotate), 1 + u(b) * scale
    mirror = torch.where(torch.rand(b, generator=g) < 0.5, -1.0, 1.0)
    cos, sin = torch.cos(angle) / zoom, torch.sin(angle) / zoom
    theta = torch.stack([torch.stack([cos * mirror, -sin, u(b) * shift * 2], 1),
                         torch.stack([sin * mirror, cos, u(b) * shift * 2], 1)], 1)
    grid = F.affine_grid(theta, list(x.shape), align_corners=False)
    x = F.grid_sample(x, grid, mode="bilinear", padding_mode="border", align_corners=False)
    x = x * (1 + u(b, 1, 1, 1) * tone) + u(b, 1, 1, 1) * tone
    if erase > 0:  # one rectangle of 2-25% of the area, aspect 0.3-3.3, filled with noise
        s = x.shape[-1]
        area = (0.02 + torch.rand(b, generator=g) * 0.23) * s * s
        aspect = torch.exp(u(b) * math.log(3.3))
        h = (area * aspect).sqrt().clamp(1, s)
        w = (area / aspect).sqrt().clamp(1, s)
        y0, x0 = torch.rand(b, generator=g) * (s - h), torch.rand(b, generator=g) * (s - w)
        r = torch.arange(s, dtype=torch.float32)
        rows = (r >= y0[:, None]) & (r < (y0 + h)[:, None])
        cols = (r >= x0[:, None]) & (r < (x0 + w)[:, None])
        mask = (rows[:, :, None] & cols[:, None, :]) & (torch.rand(b, generator=g) < erase)[:, None, None]
        x = torch.where(mask[:, None], torch.randn(x.shape, generator=g), x)
    return x


@torch.no_grad()
def predict(net: torch.nn.Module, x: np.ndarray, batch: int = 512) -> tuple[np.ndarray, np.ndarray]:
    """Logits of each image alone and averaged over its test-time views: two (N, classes) arrays."""
    net.eval()
    device = next(net.parameters()).device
    plain, averaged = [], []
    for i in range(0, len(x), batch):
        with torch.autocast(device.type, dtype=torch.bfloat16, enabled=bf16_supported(device)):
            f = view_features(net, preprocess(x[i:i + batch]).to(device)).float()
        plain.append(net.head(f[0]))
        averaged.append(net.head(f.mean(0)))
    return torch.cat(plain).cpu().numpy(), torch.cat(averaged).cpu().numpy()


def metrics(y: np.ndarray, logits: np.ndarray) -> dict:
    """Accuracy, macro F1, per-class recall/precision/F1 (metrics.class_figures) and the confusion matrix (rows:
    truth)."""
    confusion = count_confusion(y, logits.argmax(1), len(EMOTIONS))
    _, _, f1, _ = per_class(confusion)
    return {"accuracy": round(float(np.trace(confusion) / len(y)), 4), "macro_f1": round(float(f1.mean()), 4),
            "per_class": class_figures(confusion, EMOTIONS), "confusion": confusion.tolist(),
            "confusion_labels": list(EMOTIONS)}


def _counts(text: str) -> str:
    """An argparse ``type``: whole numbers above 0, comma-separated ("32,64,128,256")."""
    if not all(v.strip().isdigit() and int(v) > 0 for v in text.split(",")):
        raise argparse.ArgumentTypeError(f"must be whole numbers above 0 separated by commas, not {text}")
    return text


def _path(text: str) -> Path:
    """A path option as a Path, its leading ~ expanded (corpora.user_path)."""
    return Path(user_path(text))


def parse_args(argv=None) -> argparse.Namespace:
    p = argparse.ArgumentParser(prog="python -m train.fer", description=__doc__.split("\n")[0],
                                formatter_class=HelpFormatter)
    p.add_argument("--data", type=_path, required=True,
                   help="FER2013 folder holding train/ and validation/, or the challenge's fer2013.csv")
    p.add_argument("--out", type=_path, default=Path("runs/face-expression"),
                   help="output folder (the embedded CNN, checkpoints/default/face-expression, only when named)")
    p.add_argument("--state", type=_path, default=Path("/tmp/mmsent-fer/state.pt"), help="resumable training state")
    p.add_argument("--cache", type=_path, default=Path("/tmp/mmsent-fer"), help="decoded-image cache folder")
    p.add_argument("--epochs", type=number(int, 1), default=30, help="length of the schedule, unless --budget-min")
    p.add_argument("--budget-min", type=float, default=0,
                   help="train for this many minutes of training time instead (the schedule follows the clock)")
    p.add_argument("--batch", type=number(int, 1), default=128)
    p.add_argument("--lr", type=float, default=0.1, help="peak learning rate of the one-cycle schedule")
    p.add_argument("--wd", type=float, default=5e-4, help="weight decay (not on norms and biases)")
    p.add_argument("--smoothing", type=number(float, 0, 1, below=True), default=0.1, help="label smoothing")
    p.add_argument("--ema", type=number(float, 0, 1, below=True), default=0.998,
                   help="decay per step of the weight average")
    p.add_argument("--widths", type=_counts, default="32,64,128,256", help="channels of each stage")
    p.add_argument("--blocks", type=_counts, default="1,1,2,1", help="residual blocks of each stage")
    p.add_argument("--stem", type=number(int, 1), default=32)
    p.add_argument("--seed", type=int, default=0)
    p.add_argument("--threads", type=int, default=2, help="CPU threads")
    p.add_argument("--device", default=None, help="cuda, cuda:N or cpu (default: a GPU when present)")
    p.add_argument("--limit", type=number(int, 0), default=0,
                   help="use only this many training images (smoke tests; 0: all)")
    p.add_argument("--init", type=_path, help="start from the weights of this checkpoint folder (a second cycle)")
    p.add_argument("--final-out", type=_path, help="also write the last averaged (EMA) weights to this folder")
    p.add_argument("--soup", type=_path, nargs="+", metavar="DIR",
                   help="instead of training: write to --out the uniform average of these checkpoints' weights "
                        "(one architecture), then evaluate it on PublicTest as served")
    p.add_argument("--evaluate", action="store_true",
                   help="only re-evaluate the weights in --out on PublicTest as served (expression.embed, "
                        "float16 weights in float32) and write the figures into its config.json")
    p.add_argument("--overwrite", action="store_true",
                   help="replace the checkpoint that --out (or --final-out) holds")
    args = p.parse_args(argv)
    if len(args.widths.split(",")) != len(args.blocks.split(",")):
        p.error(f"--widths {args.widths} and --blocks {args.blocks} name different numbers of stages")
    for flag, folder in (("--out", args.out), ("--final-out", args.final_out)):
        if folder is not None and folder.exists() and not folder.is_dir():
            p.error(f"{flag} {folder} is a file: give a folder")
    if args.evaluate and not is_expression_checkpoint(args.out):
        p.error(f"--evaluate: --out {args.out} holds no expression checkpoint (give a folder that train.fer wrote)")
    resumed = not args.soup and args.state.is_file()  # a resumed run goes on writing its --out
    if not (args.evaluate or args.overwrite or resumed):
        for flag, folder in (("--out", args.out), ("--final-out", args.final_out)):
            if folder is not None and (folder / "model.safetensors").exists():
                p.error(f"{flag} {folder} holds a checkpoint: give another folder, or --overwrite to replace it")
    if 0 < args.limit < args.batch:
        p.error(f"--limit {args.limit} is fewer images than one --batch ({args.batch}): give at least {args.batch}, "
                "or a smaller --batch")
    return args


def build(args) -> ExpressionNet:
    config = ExpressionConfig(stem=args.stem, widths=tuple(int(v) for v in args.widths.split(",")),
                              blocks=tuple(int(v) for v in args.blocks.split(",")))
    return ExpressionNet(config)


def lr_at(progress: float, peak: float) -> float:
    """One-cycle shape over training progress in [0, 1]: linear warm-up from peak/20 over the first
    15%, then cosine down to peak/1000."""
    if progress < 0.15:
        return peak / 20 + (peak - peak / 20) * progress / 0.15
    q = min(1.0, (progress - 0.15) / 0.85)
    return peak / 1000 + (peak - peak / 1000) * 0.5 * (1 + math.cos(math.pi * q))


def main(argv=None) -> dict:
    args = parse_args(argv)
    command = command_line("train.fer", argv)
    logging.basicConfig(level=logging.INFO, format="%(asctime)s %(message)s")
    torch.set_num_threads(args.threads)
    torch.manual_seed(args.seed)
    for flag, folder in [("--init", args.init)] + [("--soup", f) for f in args.soup or []]:  # before any image is read
        if folder and not is_expression_checkpoint(folder):
            sys.exit(f"{flag} {folder}: not an expression checkpoint (model.safetensors, and a config.json with its "
                     "architecture): give a folder that train.fer wrote (its --out)")
    try:
        x_train, y_train = load_split(args.data, "train", args.cache)
        x_val, y_val = load_split(args.data, "validation", args.cache)
    except CorpusError as e:
        sys.exit(f"--data: {e}")
    if len(x_train) < args.batch and not (args.evaluate or args.soup):  # no step to train
        sys.exit(f"--data: its {len(x_train)} training images are fewer than one --batch ({args.batch}): give a "
                 "smaller --batch")
    if args.limit:
        pick = np.random.default_rng(args.seed).permutation(len(x_train))[:args.limit]
        x_train, y_train = x_train[pick], y_train[pick]
    try:
        device = pick_device(args.device)
    except ValueError as e:
        sys.exit(f"--device: {e}")
    args.device = str(device)  # as resolved: in the record, and a resumed run must run where it began
    log.info("train %d, PublicTest %d images; %s, bf16 %s", len(x_train), len(x_val), device, bf16_supported(device))
    if args.soup:
        write_soup(args.soup, args.out, command)
    if args.evaluate or args.soup:
        return evaluate_served(args.out, x_val, y_val, device)

    net = build(args)
    if args.init:
        init = load_expression_net(folder=args.init, sha256="")[0]
        if init.config != net.config:
            sys.exit(f"--init {args.init} is another architecture ({init.config}) than this run's ({net.config}): give "
                     "its --widths, --blocks and --stem")
        net.load_state_dict(init.state_dict(), strict=True)
        log.info("initialised from %s", args.init)
    net = net.to(device, memory_format=torch.channels_last)
    ema = torch.optim.swa_utils.AveragedModel(net, multi_avg_fn=torch.optim.swa_utils.get_ema_multi_avg_fn(args.ema),
                                              use_buffers=True)
    decay = [p for n, p in net.named_parameters() if p.ndim > 1]
    rest = [p for n, p in net.named_parameters() if p.ndim <= 1]
    opt = torch.optim.SGD([{"params": decay, "weight_decay": args.wd}, {"params": rest, "weight_decay": 0}],
                          lr=args.lr, momentum=0.9, nesterov=True)
    steps = len(x_train) // args.batch
    g = torch.Generator().manual_seed(args.seed)
    # progress: training seconds / budget (--budget-min), or steps / (epochs x steps per epoch)
    st = {"epoch": 0, "step": 0, "train_s": 0.0, "best": None, "history": [], "wall": 0.0}
    if args.state.is_file():
        state = torch.load(args.state, weights_only=True, map_location="cpu")
        if state["args"] != _settings(args):
            sys.exit(f"{args.state} belongs to a run with other arguments: remove it or pass another --state")
        net.load_state_dict(state["net"]), ema.load_state_dict(state["ema"]), opt.load_state_dict(state["opt"])
        g.set_state(state["gen"]), torch.set_rng_state(state["rng"])
        if state.get("cuda_rng") and len(state["cuda_rng"]) == torch.cuda.device_count():
            torch.cuda.set_rng_state_all(state["cuda_rng"])
        st = state["progress"]
        log.info("resumed after epoch %d (best PublicTest %s)", st["epoch"], st["best"])
    progress = lambda: (st["train_s"] / (args.budget_min * 60) if args.budget_min  # noqa: E731
                        else st["step"] / (args.epochs * steps))
    xt, yt = torch.from_numpy(x_train), torch.from_numpy(y_train)
    while progress() < 1:
        t0 = t_step = time.time()
        net.train()
        order = torch.randperm(len(xt), generator=g)
        total, done = 0.0, 0
        for i in range(steps):
            p = progress()
            if p >= 1:
                break
            for group in opt.param_groups:
                group["lr"] = lr_at(p, args.lr)
            idx = order[i * args.batch:(i + 1) * args.batch]
            xb = augment(preprocess(xt[idx]), g).to(device).contiguous(memory_format=torch.channels_last)
            with torch.autocast(device.type, dtype=torch.bfloat16, enabled=bf16_supported(device)):
                loss = F.cross_entropy(net(xb).float(), yt[idx].to(device), label_smoothing=args.smoothing)
            opt.zero_grad(set_to_none=True)
            loss.backward()
            opt.step()
            ema.update_parameters(net)
            total, done, st["step"] = total + loss.item(), done + 1, st["step"] + 1
            st["train_s"], t_step = st["train_s"] + time.time() - t_step, time.time()
            if (i + 1) % 50 == 0:
                log.info("  step %d/%d loss %.4f lr %.4f progress %.3f", i + 1, steps, total / done,
                         opt.param_groups[0]["lr"], progress())
        st["epoch"] += 1
        train_s = time.time() - t0
        row = {"epoch": st["epoch"], "steps": done, "loss": round(total / max(done, 1), 4), "train_s": round(train_s),
               "progress": round(progress(), 3)}
        if progress() >= 0.4 or st["epoch"] % 4 == 0:  # early epochs: evaluate every 4th only
            plain, both = predict(ema.module, x_val)
            m = metrics(y_val, both)
            row.update(acc=metrics(y_val, plain)["accuracy"], acc_views=m["accuracy"], macro_f1=m["macro_f1"])
            if st["best"] is None or m["accuracy"] > st["best"]["accuracy"]:
                st["best"] = {"epoch": st["epoch"], "accuracy": m["accuracy"], "accuracy_one_view": row["acc"],
                              "weights": "ema"}
                sha = save_expression_net(ema.module, args.out, _record(args, m, st, command, len(x_train), len(x_val)))
                log.info("best so far: wrote %s (sha256 %s)", args.out, sha)
        st["wall"] += time.time() - t0
        row["epoch_s"] = round(time.time() - t0)
        st["history"].append(row)
        log.info("epoch %d %s", st["epoch"], json.dumps(row))
        _save_state(args, net, ema, opt, g, st)
    # the last raw weights may beat their average (the learning rate ends near zero)
    plain, both = predict(net, x_val)
    m = metrics(y_val, both)
    log.info("final raw weights: PublicTest acc %.4f, over the test-time views %.4f",
             metrics(y_val, plain)["accuracy"], m["accuracy"])
    if m["accuracy"] > st["best"]["accuracy"]:
        st["best"] = {"epoch": st["epoch"], "accuracy": m["accuracy"],
                      "accuracy_one_view": metrics(y_val, plain)["accuracy"], "weights": "raw"}
        save_expression_net(net, args.out, _record(args, m, st, command, len(x_train), len(x_val)))
    if args.final_out:
        save_expression_net(ema.module, args.final_out, {"weights": "the EMA after the last epoch",
                                                         "epochs_run": st["epoch"], "command": command})
    # the history of the whole run goes into the config of the selected weights
    record = json.loads((args.out / "config.json").read_text())
    record.update(history=st["history"], wall_s=round(st["wall"]), epochs_run=st["epoch"], steps_run=st["step"],
                  finished=True)
    (args.out / "config.json").write_text(json.dumps(record, indent=2) + "\n")
    log.info("done: best PublicTest accuracy %.4f at epoch %d, %s", st["best"]["accuracy"], st["best"]["epoch"],
             args.out)
    return record


def evaluate_served(folder: Path, x_val: np.ndarray, y_val: np.ndarray, device: torch.device | None = None) -> dict:
    """PublicTest figures of a written checkpoint through the serving path (load_expression_net +
    embed, averaged over the test-time views), stored in its config.json as "publictest" (the
    training-time figures, bf16 autocast on full-precision weights, stay in "history")."""
    net, sha = load_expression_net(device, folder=folder, sha256="")
    logits = embed(net, x_val)[1].cpu()
    plain = embed(net, x_val, tta=False)[1].cpu()
    record = json.loads((folder / "config.json").read_text())
    record["publictest"] = {**metrics(y_val, logits.numpy()),
                            "accuracy_one_view": metrics(y_val, plain.numpy())["accuracy"], "test_time_views": 4,
                            "evaluated": "as served: float16 weights in float32, expression.embed"}
    (folder / "config.json").write_text(json.dumps(record, indent=2) + "\n")
    log.info("%s (sha256 %s) as served: PublicTest accuracy %.4f (one view %.4f), macro-F1 %.4f", folder, sha,
             record["publictest"]["accuracy"], record["publictest"]["accuracy_one_view"],
             record["publictest"]["macro_f1"])
    return record


def write_soup(folders: list[Path], out: Path, command: str) -> str:
    """The uniform average of the float weights of expression checkpoints with one architecture
    (counters such as BatchNorm's batch count from the first) -> ``out``, which records ``command``; returns its
    sha256."""
    nets = [load_expression_net(folder=f, sha256="")[0] for f in folders]
    if any(n.config != nets[0].config for n in nets[1:]):
        sys.exit(f"--soup: {', '.join(map(str, folders))} differ in architecture; only one architecture averages")
    states = [n.state_dict() for n in nets]
    nets[0].load_state_dict({k: torch.stack([s[k] for s in states]).mean(0) if v.is_floating_point() else v
                             for k, v in states[0].items()})
    sha = save_expression_net(nets[0], out, {"soup": [shared_path(str(f)) for f in folders],
                                             "command": command})
    log.info("soup of %d checkpoints: wrote %s (sha256 %s)", len(folders), out, sha)
    return sha


def _settings(args) -> dict:
    """The arguments a resumed run must share with the run it resumes (--overwrite may come or go)."""
    return {k: str(v) for k, v in vars(args).items() if k != "overwrite"}


def _save_state(args, net, ema, opt, g, st: dict) -> None:
    args.state.parent.mkdir(parents=True, exist_ok=True)
    tmp = args.state.with_suffix(".tmp")
    cuda_rng = torch.cuda.get_rng_state_all() if torch.cuda.is_available() else []  # the dropout's, on a GPU
    torch.save({"args": _settings(args), "net": net.state_dict(),
                "ema": ema.state_dict(), "opt": opt.state_dict(), "gen": g.get_state(),
                "rng": torch.get_rng_state(), "cuda_rng": cuda_rng, "progress": st}, tmp)
    os.replace(tmp, args.state)


def _record(args, m: dict, st: dict, command: str, trained: int, selected: int) -> dict:
    best = st["best"]
    return {"trained_on": f"{shared_path(str(args.data))}: train ({trained:,} images), selected on validation "
                          f"(PublicTest in FER2013; {selected:,})",
            "command": command,
            "epochs": args.epochs if not args.budget_min else None, "budget_min": args.budget_min,
            "selected_epoch": best["epoch"], "selected_weights": best["weights"], "seed": args.seed,
            "publictest": {**m, "accuracy_one_view": best["accuracy_one_view"], "test_time_views": 4},
            "training": {"batch": args.batch, "optimizer": "SGD nesterov momentum 0.9", "lr": args.lr, "wd": args.wd,
                         "schedule": "one-cycle over progress (15% linear warm-up, cosine to lr/1000)",
                         "label_smoothing": args.smoothing,
                         "ema": args.ema, "augment": "rotate 12 deg, scale 12%, shift 10%, mirror, "
                                                     "brightness/contrast 25%, random erasing p=0.4",
                         "precision": "bf16 autocast" if bf16_supported(torch.device(args.device)) else "float32",
                         "device": args.device, "threads": args.threads,
                         "limit": args.limit},
            "history": st["history"], "wall_s": round(st["wall"]), "finished": False}


if __name__ == "__main__":
    main()
