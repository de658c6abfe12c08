"""Command-line options of ``python -m train.train`` and the corpora they name."""

from __future__ import annotations

import argparse
import math
import os
import sys
from dataclasses import replace
from pathlib import Path

from mmsent.checkpoint import LABELS, CheckpointError, checkpoint_folder, read_config
from mmsent.config import HelpFormatter, ModelConfig
from mmsent.labels import MODALITIES

from .corpora import CorpusError, Sample, media_tag, read_data_spec, read_meld, read_ravdess, unique_key, user_path
from .speech_corpora import EMOVO_SPEAKERS, parse_speakers


STATE_FILE = "train_state.safetensors"  # in --out, unless --state names another file
DEFAULT_CACHE = os.environ.get("MMSENT_CACHE") or "/tmp/mmsent-cache"  # what frozen encoders compute, shared by
# train, evaluate and familiarity (the tests set MMSENT_CACHE to a folder of their own)


def parse_args(argv: list[str] | None = None) -> argparse.Namespace:
    p = argparse.ArgumentParser(prog="python -m train.train", description="Train an mmsent fusion model.",
                                formatter_class=HelpFormatter)
    d = p.add_argument_group("data")
    d.add_argument("--meld", type=user_path,
                   help="folder with train_sent_emo.csv and dev_sent_emo.csv (and MELD.Raw clip folders)")
    d.add_argument("--ravdess", type=user_path, help="RAVDESS folder (Actor_XX/ with speech files)")
    d.add_argument("--ravdess-train", default="1-16", help="RAVDESS actors to train on (e.g. 1-16 or 1,3,5; 1-24 for "
                   "all; '' is refused)")
    d.add_argument("--ravdess-dev", default="17-20", help="RAVDESS actors held out for model selection ('' = none)")
    d.add_argument("--ravdess-repeat", type=number(int, 1), default=3,
                   help="times the RAVDESS and EMOVO train clips appear per epoch")
    d.add_argument("--audio-augment", type=number(int, 0), default=0,
                   help="of those appearances, this many are copies whose sound is perturbed (speed, room, "
                        "noise, gain: train.extract.perturb_waveform; one fixed copy each, cached)")
    d.add_argument("--audio-cut", action="store_true",
                   help="each speech training clip also appears once more an epoch, cut where its speech ends (as "
                        "the analysis cuts a video's segment: its sound followed to within 35 dB of its loudest)")
    d.add_argument("--emovo", type=user_path, help="EMOVO folder (<speaker>/EMO-SPEAKER-SENTENCE.flac)")
    d.add_argument("--emovo-dev", default="m3", help="EMOVO speakers held out for model selection (e.g. m3 or f1,m3; "
                   "of f1 f2 f3 m1 m2 m3; '' = none)")
    d.add_argument("--fer2013", type=user_path,
                   help="FER2013 folder (train/<class>/*.jpg, validation/<class>/*.jpg) or the "
                   "challenge's fer2013.csv")
    d.add_argument("--fer2013-every", type=number(int, 1), default=1,
                   help="train on every Nth FER2013 face (the expression CNN has already learned them all)")
    d.add_argument("--goemotions", type=user_path,
                   help="GoEmotions folder ({train,dev}.tsv + mapping files): its train split is "
                   "added as text-only samples (its dev split is the dev set only when --meld is not given)")
    d.add_argument("--goemotions-cap", type=number(int, 0), default=0,
                   help="at most this many GoEmotions train comments per emotion (balances its 38 %% joy; 0: all)")
    d.add_argument("--data", action="append", default=[], metavar="SPEC",
                   help="more labelled data to train on, in any layout train.evaluate reads (repeatable): your own "
                        "clips as folders=DIR (DIR/<emotion>/<file>), emodb=DIR[:SPEAKERS], cremad=DIR[:SPEAKERS], ...; "
                        "their clips appear as the speech corpora's do (--ravdess-repeat, --audio-augment)")
    d.add_argument("--dev-data", action="append", default=[], metavar="SPEC",
                   help="labelled data to select and calibrate on, as --data (repeatable): other speakers than "
                        "--data's; it also calibrates the voice and the face, and sets the voice gate's d0")
    d.add_argument("--joint", type=number(int, 0), default=0,
                   help="joined samples per epoch (a MELD utterance, a voice and a face of one emotion; "
                        "any two or all three), drawn from the training splits; the dev sets get a 'joint' "
                        "set made the same way from the dev splits")
    d.add_argument("--joint-plain-words", type=number(float, 0, 1), default=0.0,
                   help="this share of the joined samples with words take the words of an utterance labelled neutral "
                        "and the emotion of the other senses (words that carry no emotion beside senses that show one)")
    d.add_argument("--cache", type=user_path, default=DEFAULT_CACHE, help="feature cache folder ('' = in memory)")
    m = p.add_argument_group("model")
    m.add_argument("--config", choices=("default", "tiny"), default="default", help="architecture size")
    m.add_argument("--branches", nargs="+", default=["text", "audio"],
                   help="branches the model has (text audio video, or text,audio): each is fed (--modalities) or "
                   "given by --init")
    m.add_argument("--modalities", nargs="+", default=list(MODALITIES),
                   help="modalities fed to the model (e.g. text audio, or text,audio; only 'audio' for a one-branch "
                   "run)")
    m.add_argument("--text-source", help="text encoder: 'all-MiniLM-L6-v2' (embedded) or a hub id such as "
                   "bert-base-uncased (default: the config's)")
    m.add_argument("--video-source", help="video encoder: face-expression (embedded), r3d_18-kinetics400 "
                   "(downloaded once) ... (default: the config's)")
    m.add_argument("--audio-source", help="audio encoder: whisper-base-layer4 or whisper-base (embedded), or logmel-cnn (default: the config's)")
    m.add_argument("--voice-bank-layer", type=int,
                   help="the voice bank compares each voice's mean, over its speech alone, of the states after this "
                        "Whisper layer (0: the head's states over the whole clip; default: the config's)")
    m.add_argument("--voice-members", type=int,
                   help="the voice is this many heads trained apart (other --seed), their readings averaged: join "
                        "them with python -m train.ensemble, then --init from it with --epochs 0 (default: 1)")
    m.add_argument("--audio-pooling", help="Whisper head pooling over time: mean-std, mean or attention (default: the config's)")
    m.add_argument("--fusion", help="log-linear or mlp (default: the config's)")
    m.add_argument("--text-tune-layers", type=number(int, 0), default=2, help="top text encoder layers trained")
    m.add_argument("--audio-channels", type=int, nargs="+",
                   help="audio CNN block widths, e.g. 16 32 64 64 (default: the config's)")
    m.add_argument("--dropout", type=float, help="dropout after fusion and in the heads (default: the config's)")
    m.add_argument("--text-context", type=number(int, 0), default=0, help="previous utterances given as context")
    t = p.add_argument_group("training")
    t.add_argument("--epochs", type=number(int, 0), default=4,
                   help="0: no training; the --init parts are composed into one model and calibrated")
    t.add_argument("--patience", type=number(int, 1), default=3,
                   help="epochs without a better dev score before stopping")
    t.add_argument("--batch-size", type=number(int, 1), default=32)
    t.add_argument("--lr", type=number(float, 0), default=1e-3, help="projections, fusion, heads")
    t.add_argument("--lr-text", type=number(float, 0), default=1e-4, help="tuned text encoder layers")
    t.add_argument("--lr-audio", type=number(float, 0), default=2e-3,
                   help="audio encoder (log-mel CNN or Whisper head)")
    t.add_argument("--sense-loss", type=number(float, 0), default=1.0, help="weight of each sense's own heads' loss")
    t.add_argument("--weight-decay", type=number(float, 0), default=0.01)
    t.add_argument("--label-smoothing", type=number(float, 0, 1, below=True), default=0.1)
    t.add_argument("--modality-dropout", type=number(float, 0, 1, below=True), default=0.2)
    t.add_argument("--crop-frames", type=number(int, 0), default=250,
                   help="random audio window in training (frames of 10 ms; 0: none)")
    t.add_argument("--mixup", type=number(float, 0, 1), default=0.5, help="share of batches with audio mixup")
    t.add_argument("--familiarity-slope", type=number(float, 0), default=0.0,
                   help="how much the voice's reading is flattened per unit of distance from the training voices "
                        "beyond the dev voices' (0: not at all); fit it with python -m train.familiarity")
    t.add_argument("--familiarity-quantile", type=number(float, 0, 1, above=True), default=1.0,
                   help="the gate's onset d0: this quantile of the dev voices' distances from the training voices "
                        "(1: the farthest dev voice; 0.975: one unseen dev voice in 40 is doubted)")
    t.add_argument("--seed", type=int, default=0)
    t.add_argument("--device", default="auto", help="cpu, cuda or auto")
    o = p.add_argument_group("output")
    o.add_argument("--out", type=user_path, required=True, help="checkpoint folder (best epoch)")
    o.add_argument("--state", type=user_path, help=f"resumable state file (default OUT/{STATE_FILE})")
    o.add_argument("--init", type=user_path, action="append", default=[],
                   help="start from a checkpoint's weights: DIR or DIR:PREFIX (only keys starting with PREFIX, "
                        "e.g. encoders.audio.); repeatable, later ones win. Its heads must answer this run's emotions and "
                        "sentiments, in their order (its encoders alone may come from any)")
    o.add_argument("--stop-after", type=number(int, 0), default=0,
                   help="leave after this many epochs in this invocation (time-limited jobs; 0: run to the end): its "
                        "checkpoint is calibrated, and says as it loads that its run did not finish (--resume "
                        "continues it)")
    o.add_argument("--resume", action="store_true",
                   help="continue from the state file, with the same data (clips added, removed or relabelled since "
                        "are refused) and settings (--epochs, --stop-after, --patience, --device and --cache may "
                        "change)")
    o.add_argument("--overwrite", action="store_true",
                   help="replace the checkpoint and state an earlier run left in --out (refused without it)")
    args = p.parse_args(argv)
    args.argv = list(sys.argv[1:] if argv is None else argv)
    args.cache = args.cache or None
    if not args.ravdess_train:  # an unset shell variable, not "all"
        p.error("--ravdess-train is empty: give the RAVDESS actors to train on (e.g. 1-16; 1-24 for all)")
    for flag in ("branches", "modalities"):
        try:
            setattr(args, flag, read_senses(getattr(args, flag), f"--{flag}"))
        except ValueError as e:
            p.error(str(e))
    if why := unknown_emovo_speakers(args.emovo_dev):
        p.error(why)
    args.emovo_dev = ",".join(sorted(parse_speakers(args.emovo_dev) or ()))  # as read (M3 is m3): as recorded
    if not (args.meld or args.ravdess or args.emovo or args.fer2013 or args.goemotions or args.data):
        p.error("give at least one of --meld, --ravdess, --emovo, --fer2013, --goemotions, --data")
    for flag, path, folder in (("--out", args.out, True), ("--state", args.state, False),
                               ("--cache", args.cache, True)):
        if why := unwritable(path, folder, flag):
            p.error(why)
    if not args.epochs and not args.init:
        p.error("--epochs 0 trains nothing: it composes the parts given with --init DIR[:PREFIX] and calibrates them")
    inits = {}  # --init DIR[:PREFIX] -> DIR's config.json, read once for the checks below
    for spec in args.init:
        try:
            inits[spec] = read_config(checkpoint_folder(spec.partition(":")[0]), oldest=2)
        except CheckpointError as e:
            p.error(f"--init {spec}: {e}")
    if why := untrained_branches(args, inits) or mislabelled_init(inits):
        p.error(why)
    state = Path(args.state or Path(args.out) / STATE_FILE)
    if args.resume and not state.is_file():
        p.error(f"--resume: {state} holds no training state to resume from; run without --resume first")
    earlier = earlier_run(args.out, state)
    if earlier and not (args.resume or args.overwrite):
        p.error(f"{args.out} holds an earlier run ({', '.join(earlier)}): give another --out, "
                "--resume to continue that run, or --overwrite to replace it")
    if not 0 <= args.audio_augment < max(1, args.ravdess_repeat):
        p.error(f"--audio-augment must be from 0 to --ravdess-repeat - 1 ({args.ravdess_repeat - 1}): "
                "each clip keeps at least one unperturbed appearance")
    return args


def earlier_run(out: str | Path, state: Path | None = None) -> list[str]:
    """The names of the files of an earlier run that ``out`` holds, not to be replaced unasked: its checkpoint's
    config, and the run's state (``state``, else OUT/STATE_FILE)."""
    return [f.name for f in (Path(out) / "config.json", state or Path(out) / STATE_FILE) if f.is_file()]


def number(kind: type, low: float, high: float | None = None, above: bool = False, below: bool = False):
    """An argparse ``type``: a number of ``kind`` (int or float) from ``low`` (above it, ``above``) to ``high`` (below
    it, ``below``); another is refused as the command line is parsed (--patience 0 stopped before the first epoch
    and said "done" with no checkpoint; --familiarity-quantile 97.5 failed after the whole training)."""
    must = (f"{'a whole number' if kind is int else 'a number'} {'above' if above else 'at least'} {low:g}"
            + ("" if high is None else f" and {'below' if below else 'at most'} {high:g}"))

    def parse(value: str):
        x = kind(value)  # argparse says "invalid int value" where it is not one
        if not (math.isfinite(x) and (x > low if above else x >= low)
                and (high is None or (x < high if below else x <= high))):
            raise argparse.ArgumentTypeError(f"must be {must}, not {value}")
        return x

    parse.__name__ = kind.__name__
    return parse


def unwritable(path: str | None, folder: bool, flag: str = "the path") -> str | None:
    """Why ``path`` (given as ``flag``) can't be written as a folder (``folder``) or a file, told before any work is
    done, or None (None: not given). An empty path (an unset shell variable) is refused, not read as the current
    folder."""
    if path is None:
        return None
    if not str(path):
        what = "folder" if folder else "file's name"
        return f"{flag} is empty: give a {what}"
    target = Path(path)
    if folder and target.exists() and not target.is_dir():
        return f"{flag} {path} is a file: give a folder"
    if not folder and target.is_dir():
        return f"{flag} {path} is a folder: give a file's name"
    holder = (target if folder else target.parent).absolute()
    there = next(q for q in (holder, *holder.parents) if q.exists())  # the nearest that exists
    if not there.is_dir():
        return f"{flag} {path}: {there} is a file, not a folder"
    if not os.access(there, os.W_OK | os.X_OK):
        return f"{flag} {path}: {there} is not writable"
    return None


def read_senses(given: list[str], flag: str) -> list[str]:
    """--branches or --modalities as given ("text audio", "text,audio", "Text, audio") -> ["text", "audio"].
    Raises ValueError for a name that is not a sense."""
    names = list(dict.fromkeys(n.strip().lower() for g in given for n in g.split(",") if n.strip()))
    unknown = [n for n in names if n not in MODALITIES]
    if unknown or not names:
        raise ValueError(f"{flag} {' '.join(given)}: no sense {', '.join(unknown) or 'named'}: give text, audio or "
                         "video (the words, the voice, the face), separated by spaces or commas")
    return names


def unknown_emovo_speakers(given: str) -> str | None:
    """Why --emovo-dev names no EMOVO speakers (read as emovo=DIR:SPEAKERS is: M3 or 'm3 ' is m3), or None."""
    try:
        held = parse_speakers(given) or set()
    except CorpusError as e:
        return f"--emovo-dev {given}: {e}"
    unknown = sorted(held - set(EMOVO_SPEAKERS))
    if unknown:
        return (f"--emovo-dev {given}: EMOVO has no speaker {', '.join(unknown)}: its speakers are "
                f"{' '.join(EMOVO_SPEAKERS)} (e.g. --emovo-dev m3; '' holds none out)")
    return None


def untrained_branches(args, inits: dict[str, dict]) -> str | None:
    """Why a branch of --branches would be saved with random weights (which the analysis reads as a sense), or None:
    each must be fed (--modalities, with --epochs above 0) or given, its encoder and its own heads, by --init from a
    checkpoint that has it (``inits``: each --init's config.json)."""
    fed = set(args.modalities) if args.epochs else set()
    given = set()  # (part, branch) that an --init DIR[:PREFIX] copies
    for spec, meta in inits.items():
        prefix = spec.partition(":")[2]
        given |= {(part, b) for b in meta.get("trained_branches", []) for part in ("encoders", "sense_heads")
                  if f"{part}.{b}.".startswith(prefix)}
    bare = [b for b in args.branches if b not in fed and not {("encoders", b), ("sense_heads", b)} <= given]
    if not bare:
        return None
    why = f"--modalities {' '.join(args.modalities)}" if args.epochs else "--epochs 0 trains nothing"
    feed = "feed it with --modalities, " if args.epochs else ""
    b = bare[0]
    return (f"--branches {' '.join(bare)}: the {b} branch is neither trained ({why}) nor given by --init, so it would "
            f"be saved with random weights that the analysis reads as a sense: {feed}drop it from --branches, or give "
            f"it with --init DIR:encoders.{b}. --init DIR:sense_heads.{b}. (a checkpoint that has it)")


def mislabelled_init(inits: dict[str, dict]) -> str | None:
    """Why an --init would copy heads whose rows mean other labels than this run's (only shapes are compared as the
    weights are copied), or None (``inits``: each --init's config.json). Its encoders alone (DIR:encoders.) answer no
    label: they may be given."""
    for spec, meta in inits.items():
        folder, _, prefix = spec.partition(":")
        if prefix.startswith("encoders."):
            continue
        model = meta.get("model", {})
        for key in LABELS:
            theirs, ours = list(model.get(key, getattr(ModelConfig, key))), list(getattr(ModelConfig, key))
            if theirs != ours:
                return (f"--init {spec}: its heads answer the {key} {', '.join(theirs)}, this run's "
                        f"{', '.join(ours)}: their rows would be copied to other {key}. Give only its encoders "
                        f"(--init {folder}:encoders.), or a checkpoint of this run's {key} in their order")
    return None


def _repeat(samples: list[Sample], args) -> list[Sample]:
    """Speech training clips, each --ravdess-repeat times: --audio-augment of them perturbed copies;
    with --audio-cut, once more cut where the speech ends."""
    copies = [replace(s, id=f"{s.id}~aug{k}", augment=k) for k in range(1, args.audio_augment + 1) for s in samples]
    cut = [replace(s, id=f"{s.id}~cut", cut=True) for s in samples] if args.audio_cut else []
    return samples * (max(1, args.ravdess_repeat) - args.audio_augment) + copies + cut


def read_corpora(args) -> tuple[list[Sample], dict[str, list[Sample]], list[str]]:
    """Training samples, the dev sets by corpus name ("meld", "ravdess", "emovo", "fer2013", and those of
    --dev-data, named as train.evaluate names them) and the names of --dev-data's sets.

    Raises CorpusError: a --data or --dev-data spec that does not read, or a file in both."""
    from .speech_corpora import read_emovo

    train, dev = [], {}
    if args.meld:
        folder = Path(args.meld)
        train += read_meld(folder / "train_sent_emo.csv", context=args.text_context)
        dev["meld"] = read_meld(folder / "dev_sent_emo.csv", context=args.text_context)
    if args.ravdess:
        train += _repeat(read_ravdess(args.ravdess, args.ravdess_train), args)
        if args.ravdess_dev:
            dev["ravdess"] = read_ravdess(args.ravdess, args.ravdess_dev)
    if args.emovo:
        held = parse_speakers(args.emovo_dev) or set()
        emovo = read_emovo(args.emovo)
        speaker = {s.id: s.group.removeprefix("emovo-") for s in emovo}
        train += _repeat([s for s in emovo if speaker[s.id] not in held], args)
        if held:
            dev["emovo"] = [s for s in emovo if speaker[s.id] in held]
    if args.fer2013:
        from .face_corpora import read_fer2013

        train += read_fer2013(args.fer2013, "train")[:: max(1, args.fer2013_every)]
        dev["fer2013"] = read_fer2013(args.fer2013, "validation")
    if args.goemotions:
        from .text_corpora import cap_per_emotion, read_goemotions

        # a fixed draw (not --seed): every run of one cap uses, and caches, the same comments
        train += cap_per_emotion(read_goemotions(Path(args.goemotions) / "train.tsv"), args.goemotions_cap, seed=0)
        if not args.meld:  # with MELD, selection stays on MELD dev
            dev["goemotions"] = read_goemotions(Path(args.goemotions) / "dev.tsv")
    own_train = []
    for spec in args.data:
        kind, (_, samples) = spec.partition("=")[0], read_data_spec(spec, context=args.text_context)
        own_train += samples
        train += _repeat(samples, args) if kind in SPEECH_KINDS else samples
    own_dev = []
    for spec in args.dev_data:
        name, samples = read_data_spec(spec, context=args.text_context)
        own_dev.append(unique_key(name, {*dev, "joint"}))  # "joint": the joined dev set's
        dev[own_dev[-1]] = samples
    if not dev:
        raise CorpusError("no dev set to select the best epoch and calibrate on: give --dev-data SPEC (labelled clips "
                          "of other speakers than the ones trained on), or a corpus with its dev split (--meld, "
                          "--ravdess with --ravdess-dev, --emovo with --emovo-dev, --fer2013, --goemotions)")
    _check_apart(train, dev, own_train, [s for name in own_dev for s in dev[name]])
    return train, dev, own_dev


SPEECH_KINDS = ("ravdess", "emovo", "emodb", "cremad", "folders")  # --data whose clips are repeated and perturbed


def _check_apart(train: list[Sample], dev: dict[str, list[Sample]], own_train: list[Sample],
                 own_dev: list[Sample]) -> None:
    """A clip or image in training and in a dev set makes selection and calibration measure memory: the same
    file, or where --data or --dev-data gave either, the same bytes under another name (a corpus's own splits
    are taken as published: FER2013's train and PublicTest share 270 images)."""
    def files(samples, key):
        return {key(Path(s.media)): s.media for s in samples if s.media is not None}

    every_dev = [s for v in dev.values() for s in v]
    for trained, held, key in ((train, every_dev, _resolved), (own_train, every_dev, media_tag),
                               (train, own_dev, media_tag)):
        if not (trained and held):  # nothing of the user's: no file is read for its digest
            continue
        a, b = files(trained, key), files(held, key)
        both = sorted(set(a) & set(b) - {"unreadable"})
        if both:
            same = "" if a[both[0]] == b[both[0]] else f" as {b[both[0]]}"
            are = "file is" if len(both) == 1 else "files are"
            raise CorpusError(f"{len(both)} {are} both trained on and in a dev set (e.g. {a[both[0]]}{same}): select "
                              "and calibrate on other files, and other speakers, than the ones trained on")


def _resolved(path: Path) -> str:
    return str(path.resolve())
