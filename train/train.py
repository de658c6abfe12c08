"""Train a fusion model on MELD-format and RAVDESS-layout corpora from cached frozen features.

    python -m train.train --meld ../shared/data/meld --ravdess ../shared/data/ravdess \
        --ravdess-train 1-16 --ravdess-dev 17-20 --out checkpoints/default --cache /tmp/mmsent-cache

Runs alone or under ``torchrun --nproc_per_node=N`` (DDP: gloo on CPU, NCCL on GPU), which shards
feature extraction and training batches. Frozen encoder outputs are cached (train.cache); the
trainable parts (tuned text layers, audio CNN, projections, fusion, heads) train from the cache.
AdamW with per-part learning rates, linear warm-up and decay, class-weighted cross-entropy with
label smoothing, per-sample loss masks (RAVDESS has no sentiment), modality dropout, audio
augmentation (time shift, SpecAugment, mixup), early stopping on the dev selection score.
Each epoch writes a resumable state (``--resume`` continues from it) and keeps the best checkpoint.
"""

from __future__ import annotations

import logging
import math
import sys
import time
import warnings
from collections import Counter
from pathlib import Path

import torch
import torch.nn.functional as F
from torch.nn.parallel import DistributedDataParallel

from mmsent.checkpoint import (CheckpointError, checkpoint_folder, load_checkpoint, model_config, pick_device,
                               read_config, read_weights, save_checkpoint)
from mmsent.config import ModelConfig, tiny_config
from mmsent.labels import MODALITIES
from mmsent.model import FusionModel, build_model, drop_modalities
from mmsent.weights import SourceUnavailable

from . import dist
from .args import STATE_FILE, parse_args, read_corpora
from .calibrate import calibrate
from .corpora import CorpusError, command_line, home_as_tilde, shared_path, shared_spec
from .data import IGNORE, Batch, augment_audio, class_weights, collate, length_batches, random_crop
from .evaluate import SHOWN, corpus_report, drop_unreadable, unreadable
from .extract import extract_all
from .heldout import inherited
from .joint import joint_samples
from .metrics import selection_score
from .state import StateError, as_files, check_run, load_state, rng_state, samples_read, save_state

log = logging.getLogger("train.train")

WARMUP_SHARE = 0.05  # share of all steps with a linearly rising learning rate
FINAL_LR_SHARE = 0.1  # learning rate at the last step, as a share of the peak
GRAD_CLIP = 1.0  # gradient norm clip


def make_config(args) -> ModelConfig:
    base = tiny_config if args.config == "tiny" else ModelConfig
    extra = {"audio_channels": tuple(args.audio_channels)} if args.audio_channels else {}
    for field in ("dropout", "text_source", "video_source", "audio_source", "audio_pooling", "voice_bank_layer",
                  "voice_members", "fusion"):
        if getattr(args, field) is not None:
            extra[field] = getattr(args, field)
    return base(text_tune_layers=args.text_tune_layers, text_context=args.text_context,
                trained_branches=tuple(args.branches), **extra)


def param_groups(model: FusionModel, args) -> list[dict]:
    """AdamW groups: tuned text layers, audio CNN, and the rest (projections, fusion, heads)."""
    text_layers = {id(p) for layer in (model.encoders["text"].tuned_layers() if "text" in model.encoders else [])
                   for p in layer.parameters()}
    audio = {id(p) for p in model.encoders["audio"].parameters()} if "audio" in model.encoders else set()
    groups = {"text_layers": [], "audio": [], "rest": []}
    for p in model.parameters():
        if p.requires_grad:
            groups["text_layers" if id(p) in text_layers else "audio" if id(p) in audio else "rest"].append(p)
    lrs = {"text_layers": args.lr_text, "audio": args.lr_audio, "rest": args.lr}
    return [{"params": ps, "lr": lrs[n], "peak_lr": lrs[n], "name": n} for n, ps in groups.items() if ps]


def set_lr(optimizer, step: int, total: int) -> None:
    warm = max(1, int(total * WARMUP_SHARE))
    scale = step / warm if step < warm else 1 - (1 - FINAL_LR_SHARE) * (step - warm) / max(1, total - warm)
    for g in optimizer.param_groups:
        g["lr"] = g["peak_lr"] * max(scale, 1e-3)


def init_weights(model: FusionModel, specs: list[str]) -> None:
    """Copy weights from earlier checkpoints ("DIR" or "DIR:PREFIX") into the matching trainable keys."""
    own = model.trainable_state_dict()
    for spec in specs:
        folder, _, prefix = spec.partition(":")
        try:
            found = checkpoint_folder(folder)
            meta = read_config(found, oldest=2)
            state, theirs = read_weights(found, meta), model_config(found, meta)
        except CheckpointError as e:
            raise SystemExit(f"--init {spec}: {e}") from e
        named = {k: v for k, v in state.items() if k.startswith(prefix) and k in own}
        chosen = {k: v for k, v in named.items() if own[k].shape == v.shape}
        if not chosen:
            under = f" under {prefix}" if prefix else ""
            raise SystemExit(f"--init {spec}: no weights of {folder} match this model{under}")
        for m in MODALITIES:  # a sense's head learned on another encoder's readings (of the same shape) reads nothing
            source, here = getattr(theirs, f"{m}_source"), getattr(model.config, f"{m}_source")
            if source != here and any(k.startswith((f"encoders.{m}.", f"sense_heads.{m}.")) for k in chosen):
                raise SystemExit(f"--init {spec}: its {m} weights were trained on the {m} encoder {source!r}, this "
                                 f"model's is {here!r}: give --{m}-source {source}, or leave its {m} parts out")
        model.load_state_dict(chosen, strict=False)
        log.info("initialised %d tensors from %s", len(chosen), spec)
        if len(chosen) < len(named):  # e.g. five voice heads' sense heads (640 wide) into one head's (128)
            log.warning("--init %s: %d tensors of another shape stay as initialised here: %s", spec,
                        len(named) - len(chosen), ", ".join(f"{k} {tuple(v.shape)} (here {tuple(own[k].shape)})"
                                                            for k, v in named.items() if k not in chosen))


def _ce(logits, target, weight, smoothing) -> torch.Tensor:
    if not (target != IGNORE).any():
        return logits.sum() * 0.0  # keeps every head in the graph (DDP)
    return F.cross_entropy(logits, target, weight=weight, label_smoothing=smoothing, ignore_index=IGNORE)


def step_loss(model, batch: Batch, weights, args, gen: torch.Generator, device) -> torch.Tensor:
    """Modality dropout, audio augmentation and mixup, forward, masked class-weighted loss of the fused
    heads and (weighted by args.sense_loss) of each present sense's own heads."""
    x = batch.inputs
    fuse_mask = drop_modalities(x.mask, args.modality_dropout, gen)
    em2, se2, lam = batch.emotion.clone(), batch.sentiment.clone(), 1.0
    if x.mel is not None and x.mask[:, 1].any():
        rows = x.mask[:, 1].nonzero().squeeze(1)
        x.mel, x.mel_lengths = random_crop(x.mel, x.mel_lengths, rows, args.crop_frames, gen)
        x.mel = augment_audio(x.mel, x.mel_lengths, rows, gen)
        if len(rows) > 1 and float(torch.rand(1, generator=gen)) < args.mixup:
            u = float(torch.rand(1, generator=gen))
            lam = max(u, 1 - u)
            partner = rows[torch.randperm(len(rows), generator=gen)]
            x.mel[rows] = lam * x.mel[rows] + (1 - lam) * x.mel[partner]
            x.mel_lengths[rows] = torch.maximum(x.mel_lengths[rows], x.mel_lengths[partner])
            em2[rows], se2[rows] = batch.emotion[partner], batch.sentiment[partner]
    out = model(x.to(device), fuse_mask.to(device))
    outputs = [(out.emotion_logits, out.sentiment_logits, 1.0, None)]
    outputs += [(em, se, args.sense_loss, MODALITIES.index(m)) for m, (em, se) in out.per_modality.items()]
    total = 0.0
    for em, se, scale, column in outputs:
        for logits, (a, b), w in ((em, (batch.emotion, em2), weights[0]), (se, (batch.sentiment, se2), weights[1])):
            a, b = a.to(device), b.to(device)
            if column is not None:  # a sense's own heads learn wherever that sense is present
                absent = ~x.mask[:, column].to(device)
                a, b = a.masked_fill(absent, IGNORE), b.masked_fill(absent, IGNORE)
            total = total + scale * lam * _ce(logits, a, w, args.label_smoothing)
            if lam < 1.0:
                total = total + scale * (1 - lam) * _ce(logits, b, w, args.label_smoothing)
    return total


def dev_report(model, dev: dict, caches, modalities) -> dict:
    return {name: corpus_report(model, samples, caches, modalities) for name, samples in dev.items() if samples}


def _brief(report: dict) -> str:
    return " ".join(f"{c}/{h} {'wF1' if c == 'meld' else 'acc'} "
                    f"{r['weighted_f1'] if c == 'meld' else r['accuracy']:.3f}"
                    for c, heads in report.items() for h, r in heads.items())


def train(args) -> dict:
    """Run a training job; returns the progress dict (history, best score, best epoch)."""
    device = dist.init(args.device)
    torch.manual_seed(args.seed)
    config = make_config(args)
    if config.voice_members > 1 and args.epochs and "audio" in config.trained_branches:
        raise SystemExit(f"--voice-members {config.voice_members}: heads trained together are one wide head, not "
                         "heads trained apart; train each alone (--seed N), join them with python -m train.ensemble, "
                         "then --init from it with --epochs 0")
    model = build_model(config)
    init_weights(model, args.init)
    model = model.to(device)
    train_set, dev, own_dev = read_corpora(args)
    state_file = _state_file(args)
    run = _run_settings(args) | {"samples_read": samples_read(train_set, dev)}  # what a resumed run must share
    if args.resume:
        check_run(state_file, run, PATH_OPTIONS, SPEC_OPTIONS)  # other settings or data: refused before any feature
    if args.epochs:
        _one_emotion(train_set, model.config.emotions)
    caches = extract_all(model, train_set + [s for v in dev.values() for s in v], args.cache)
    modalities = tuple(args.modalities)
    train_set = _readable(train_set, caches, modalities)
    drop_unreadable(dev, caches, {}, senses=modalities)  # selected and calibrated on what can be read, as evaluated
    _check_dev_emotions(train_set, dev, model.config.emotions)
    log.info("dev sets (each epoch is scored on them, the best kept, then calibrated on them): %s",
             ", ".join(f"{name} ({len(samples)} samples)" for name, samples in dev.items()))
    if args.joint:
        dev["joint"] = joint_samples(list(dev.values()), caches, args.joint // 4 or 1, seed=args.seed + 1,
                                     plain_words=args.joint_plain_words)
    weights = (class_weights([s.emotion for s in train_set], len(model.config.emotions)).to(device),
               class_weights([s.sentiment for s in train_set], len(model.config.sentiments)).to(device))
    optimizer = torch.optim.AdamW(param_groups(model, args), weight_decay=args.weight_decay)
    gen = torch.Generator().manual_seed(args.seed)
    progress = {"epoch": 0, "best_score": -1.0, "best_epoch": 0, "stale": 0, "history": []}
    if args.resume:
        progress = load_state(state_file, model, optimizer, gen, device, dist.rank())  # check_run passed it
        log.info("resumed from %s after epoch %d", state_file, progress["epoch"])
        if progress["epoch"] >= args.epochs or progress["stale"] >= args.patience:
            log.warning("nothing left to train: %d of --epochs %d done, %d without a better dev score (--patience "
                        "%d); the best checkpoint (epoch %d) is calibrated again", progress["epoch"], args.epochs,
                        progress["stale"], args.patience, progress["best_epoch"])
    ddp = DistributedDataParallel(model, find_unused_parameters=True) if dist.active() else model
    # as many as length_batches gives
    steps = math.ceil((len(train_set) + args.joint) / args.batch_size) // dist.world()
    start_epoch = progress["epoch"]
    while progress["epoch"] < args.epochs and progress["stale"] < args.patience:
        if args.stop_after and progress["epoch"] - start_epoch >= args.stop_after:
            break
        epoch, t0 = progress["epoch"] + 1, time.time()
        epoch_set = train_set + (joint_samples([train_set], caches, args.joint, seed=args.seed * 1000 + epoch,
                                               plain_words=args.joint_plain_words)
                                 if args.joint else [])
        batches = length_batches(epoch_set, caches, args.batch_size, gen)
        mine = dist.shard(batches)[:steps]
        model.train()
        loss_sum, bar = 0.0, dist.progress(total=len(mine), desc=f"epoch {epoch}", unit="batch", leave=False)
        for i, idx in enumerate(mine):
            set_lr(optimizer, (epoch - 1) * steps + i, args.epochs * steps)
            loss = step_loss(ddp, collate([epoch_set[j] for j in idx], caches, modalities), weights, args, gen, device)
            optimizer.zero_grad(set_to_none=True)
            loss.backward()
            torch.nn.utils.clip_grad_norm_([p for p in model.parameters() if p.requires_grad], GRAD_CLIP)
            optimizer.step()
            loss_sum += float(loss.detach())
            bar.update(1)
        bar.close()
        loss_avg = float(dist.all_reduce_sum(torch.tensor(loss_sum))) / max(1, steps * dist.world())
        progress = _end_epoch(model, optimizer, gen, progress, dev, caches, modalities, args, state_file, run,
                              loss_avg, t0, device)
    if dist.is_main() and not args.epochs:  # --epochs 0: the --init parts composed, then calibrated
        save_checkpoint(model, args.out, training=_training_meta(args, progress, {}))
    if dist.is_main() and (progress["best_epoch"] or not args.epochs):
        _calibrate_best(args, progress, train_set, dev, own_dev, caches, modalities, device)
    return progress


WORDLESS = "; they have no words (a folders= clip, or a speech corpus's other than RAVDESS, has no transcript)"


def _readable(samples: list, caches, modalities: tuple[str, ...]) -> list:
    """The training samples that give one of ``modalities`` (a clip whose sound failed, an image to a voice, would
    teach the fusion's prior alone); CorpusError where none does."""
    bad = [unreadable(s, caches, senses=modalities) for s in samples]
    kept = [s for s, b in zip(samples, bad) if not b]
    if not kept:
        wordless = "text" in modalities and not any(s.text for s in samples)
        raise CorpusError(f"none of the {len(samples)} training samples gives what the model is fed "
                          f"(--modalities {' '.join(modalities)}){WORDLESS if wordless else ''}: check the corpora, or "
                          "feed their senses")
    if len(kept) < len(samples):
        lost = sorted({str(s.media or s.id) for s, b in zip(samples, bad) if b})  # a clip once, however often repeated
        log.warning("%d of %d training samples (each clip's repetitions counted) give none of %s (damaged, silent or "
                    "too long clips, or other senses); left out: %s%s", len(samples) - len(kept), len(samples),
                    ", ".join(modalities), ", ".join(lost[:SHOWN]),
                    f" and {len(lost) - SHOWN} more" if len(lost) > SHOWN else "")
    return kept


def _one_emotion(train_set: list, labels: tuple[str, ...]) -> None:
    """CorpusError where the training samples show one emotion alone: a model learns nothing from them (it answers
    that emotion, or what the calibration on the dev sets makes of it)."""
    emotions = {s.emotion for s in train_set} - {None}
    if len(emotions) == 1:
        raise CorpusError(f"every training sample is labelled {labels[emotions.pop()]}: a model learns to tell "
                          "emotions apart from samples of two or more; add clips of other emotions")


FEW_DEV = 10  # dev samples of an emotion below which its calibration is warned of


def _check_dev_emotions(train_set: list, dev: dict, labels: tuple[str, ...]) -> None:
    """Warn where the dev sets' emotions do not fit the training: where they lack emotions the training has (the
    calibration fits each emotion's bias there, and one they lack is pushed down until the model hardly answers
    it); where they have emotions the training lacks (the model never learns them, and the calibration's bias for
    each, fitted on the dev clips alone, can make it answer one whatever it hears); where they hold fewer than
    FEW_DEV samples of an emotion (the epoch kept and the calibration, a temperature and a bias per emotion, are
    fitted to those few, within the bounds train.calibrate keeps them in)."""
    trained = {s.emotion for s in train_set} - {None}
    counts = Counter(s.emotion for v in dev.values() for s in v if s.emotion is not None)
    sets = ", ".join(dev)

    def named(emotions) -> str:
        return ", ".join(labels[i] for i in sorted(emotions))

    if lacking := trained - set(counts):
        log.warning("the dev sets (%s) have no %s, which training has: calibrated on them, the model will hardly "
                    "answer %s. Give a dev set with every emotion", sets, named(lacking),
                    "them" if len(lacking) > 1 else "it")
    if unlearned := set(counts) - trained:
        it = "them" if len(unlearned) > 1 else "it"
        log.warning(f"the dev sets (%s) have %s, which training has not: the model can't learn {it}, and calibrated on "
                    f"them it may answer {it} whatever it hears. Train on clips of {it} too, or leave {it} out of the "
                    "dev sets", sets, named(unlearned))
    if few := sorted(e for e, n in counts.items() if n < FEW_DEV):
        log.warning("the dev sets (%s) hold fewer than %d samples of %s: the epoch kept and the calibration (a "
                    "temperature and a bias per emotion) are fitted to so few. Give more dev clips of each emotion",
                    sets, FEW_DEV, ", ".join(f"{labels[e]} ({counts[e]})" for e in few))


def _calibrate_best(args, progress: dict, train_set: list, dev: dict, own_dev: list[str], caches, modalities,
                    device) -> None:
    """Calibrate the saved best checkpoint on the dev sets (train.calibrate; a Whisper voice head keeps
    the training voices; --dev-data's sets calibrate the voice and the face too) and save it again."""
    with warnings.catch_warnings():  # the best epoch, not yet calibrated: this is the end of the run it warns of
        warnings.filterwarnings("ignore", message=".* of a training run that did not finish")
        model = load_checkpoint(args.out, device)
    calibration = calibrate(model, dev, caches, voices=train_set, slope=args.familiarity_slope,
                            quantile=args.familiarity_quantile, own_dev=own_dev)
    report = dev_report(model, dev, caches, modalities)
    meta = read_config(args.out)["training"]  # as saved at the best epoch
    meta["dev_metrics"] = _training_meta(args, progress, report)["dev_metrics"]  # calibrated
    meta["calibration"] = calibration
    # a run left by --stop-after is calibrated (usable meanwhile) but not finished: loading it says so
    meta |= {"epochs_run": progress["epoch"], "epochs_asked": args.epochs, "finished": _finished(args, progress)}
    save_checkpoint(model, args.out, training=meta)
    log.info("calibrated (figures on the dev sets the calibration was fitted on): %s", _brief(report))


def _finished(args, progress: dict) -> bool:
    """Whether the run reached its end: --epochs done, or --patience epochs without a better dev score (not left
    by --stop-after, which a later --resume continues)."""
    return progress["epoch"] >= args.epochs or progress["stale"] >= args.patience


def _end_line(args, progress: dict) -> str:
    said = f"best score {progress['best_score']:.4f} at epoch {progress['best_epoch']}, checkpoint in {args.out}"
    if _finished(args, progress):
        return f"done: {said}. {_next_steps(args.out)}"
    return (f"stopped after {progress['epoch']} of --epochs {args.epochs} (--stop-after {args.stop_after}): {said} "
            "(calibrated; its run is not finished: the same command with --resume continues it)")


def _next_steps(out: str) -> str:
    """How to use and measure the checkpoint a run leaves in ``out``."""
    return (f"Use it: python -m mmsent analyze VIDEO --checkpoint {out}; measure it on clips of speakers it never "
            f"heard: python -m train.evaluate --checkpoint {out} --data SPEC (e.g. folders=DIR)")


def _end_epoch(model, optimizer, gen, progress, dev, caches, modalities, args, state_file, run, loss, t0,
               device) -> dict:
    """Evaluate on dev (rank 0), keep the best checkpoint, save the state (with ``run``: the settings and samples a
    resumed run must share; with every process's generators), share the decision."""
    epoch = progress["epoch"] + 1
    rngs = dist.all_gather_object(rng_state(device))
    if dist.is_main():
        report = dev_report(model, dev, caches, modalities)
        score = selection_score(report)
        better = score > progress["best_score"]
        progress = {**progress, "epoch": epoch, "stale": 0 if better else progress["stale"] + 1}
        progress["history"] = progress["history"] + [{"epoch": epoch, "loss": round(loss, 4), "score": round(score, 4),
                                                      "seconds": round(time.time() - t0, 1)}]
        if better:
            progress.update(best_score=score, best_epoch=epoch)
            save_checkpoint(model, args.out, training=_training_meta(args, progress, report))
        save_state(state_file, model, optimizer, progress, gen, run, rngs)
        log.info("epoch %d loss %.4f %s score %.4f%s (%.0f s)", epoch, loss, _brief(report), score,
                 " best, saved" if better else f" (best {progress['best_score']:.4f} at {progress['best_epoch']})",
                 time.time() - t0)
    progress = dist.broadcast_object(progress)
    return progress


PATH_OPTIONS = ("meld", "ravdess", "emovo", "fer2013", "goemotions", "init")  # compared by the files they name
SPEC_OPTIONS = ("data", "dev_data")  # --data specs: compared by the files they name too
RESUMABLE = ("epochs", "stop_after", "patience", "device", "cache", "resume", "overwrite", "out", "state", "argv")


def _run_settings(args) -> dict:
    """The options a resumed run must share with the run it continues: every option but RESUMABLE ones, the paths
    among them as the files they name (``ravdess`` was resumed as itself in another folder)."""
    run = {k: v for k, v in vars(args).items() if k not in RESUMABLE}
    return run | {k: as_files(run[k], k in SPEC_OPTIONS) for k in PATH_OPTIONS + SPEC_OPTIONS if k in run}


def _training_meta(args, progress: dict, report: dict) -> dict:
    return {
        "command": command_line("train.train", args.argv),
        "data": _data_meta(args),
        "epoch": progress["best_epoch"], "selection_score": round(progress["best_score"], 4),
        "dev_metrics": {c: {h: {k: r[k] for k in ("accuracy", "weighted_f1", "macro_f1", "ece", "n")}
                            for h, r in heads.items()} for c, heads in report.items()},
        "history": progress["history"],
        "hyperparameters": {k: _shared(v) for k, v in vars(args).items() if k not in ("argv",)},
        "world_size": dist.world(),
        "init": [inherited(spec) for spec in args.init],
    }



def _shared(value):
    """An option's value as a checkpoint records it: the home folder written ~ in its paths (home_as_tilde)."""
    if isinstance(value, list):
        return [_shared(v) for v in value]
    return home_as_tilde(value) if isinstance(value, str) else value


def _data_meta(args) -> dict:
    """The corpora the run read (their paths, --data's and --dev-data's among them, absolute and the home folder written
    ~: train.heldout tells a folders= set's clips by their folder, from wherever it runs, and a checkpoint shared names
    no one's home), with the speakers it trained on and held out of each: only those it was given (the defaults of
    --ravdess-train and --emovo-dev, recorded for a run without --ravdess or --emovo, read as if it had been trained
    on RAVDESS actors 1-16)."""
    data = {k: shared_path(getattr(args, k)) for k in ("meld", "fer2013", "goemotions", "ravdess", "emovo")
            if getattr(args, k)}
    data |= {"data": [shared_spec(s) for s in args.data], "dev_data": [shared_spec(s) for s in args.dev_data]}
    if args.ravdess:
        data |= {"ravdess_train_actors": args.ravdess_train, "ravdess_dev_actors": args.ravdess_dev}
    if args.emovo:
        data |= {"emovo_dev_speakers": args.emovo_dev}
    if args.joint:
        data |= {"joint_per_epoch": args.joint, "joint_plain_words": args.joint_plain_words}
    return {k: v for k, v in data.items() if v}


def _state_file(args) -> Path:
    """Where the run keeps its resumable state: --state, else OUT/STATE_FILE."""
    return Path(args.state or Path(args.out) / STATE_FILE)


def _interrupted(args, started: float) -> str:
    """What Ctrl-C leaves: the features computed so far, and the state of the last finished epoch where this run
    finished one or resumed from one (the same command with --resume continues it); else nothing to resume (the
    state an --overwrite run found is the earlier run's)."""
    kept = f"stopped (Ctrl-C). The features computed so far are kept{' in ' + args.cache if args.cache else ''}"
    state = _state_file(args)
    if state.is_file() and (args.resume or state.stat().st_mtime >= started):
        return (f"{kept}; the state of its last finished epoch is in {state}: the same command with --resume "
                "continues from it")
    return f"{kept}; no epoch finished, so there is nothing to resume: the same command starts again"


def main(argv: list[str] | None = None) -> int:
    args = parse_args(argv)
    logging.basicConfig(level=logging.INFO, stream=sys.stderr,
                        format="%(asctime)s [pid %(process)d] %(name)s %(message)s")
    try:
        pick_device(args.device)  # a device this machine lacks, said before any work
        make_config(args).validate()  # and a model set up wrong (--voice-bank-layer 9)
    except ValueError as e:
        raise SystemExit(f"error: {e}") from None
    started = time.time()
    try:
        progress = train(args)
        if dist.is_main():
            log.info("%s", _end_line(args, progress))
    except (CorpusError, CheckpointError, SourceUnavailable, StateError) as e:  # a corpus that does not read, files
        # both trained on and in a dev set, a checkpoint to start from that does not load, a pretrained part not
        # here, a state of another run
        raise SystemExit(f"error: {e}") from e
    except KeyboardInterrupt:
        raise SystemExit(_interrupted(args, started)) from None
    finally:
        dist.close()
    return 0


if __name__ == "__main__":
    sys.exit(main())
