"""Command line: python -m mmsent {analyze,info} ...

Here: the parser, the checks of the options and the run's frame (``main``, ``_analyze_all``); the run over the files,
each analysed in turn, is ``mmsent.batch``. The handler of a Ctrl-C while starting is set before the imports that load
torch (``mmsent.batch`` among them).
"""

from __future__ import annotations

import argparse
import logging
import os
import shlex
import signal
import sys
import tempfile
import warnings
from pathlib import Path

EXIT_INTERRUPTED = 130  # exit status after Ctrl-C or SIGTERM (128 + SIGINT, as shells report it)


def _interrupted_while_starting(signum, frame) -> None:
    """Ctrl-C while torch loads (seconds) ends the command at once, in one line: nothing is written yet. Not
    as a KeyboardInterrupt: raised inside an import, it left a half-imported module behind (numpy's linalg
    then recursed without end, and a traceback came instead)."""
    print("interrupted while starting: nothing was written", file=sys.stderr, flush=True)
    os._exit(EXIT_INTERRUPTED)


_sigint = signal.signal(signal.SIGINT, _interrupted_while_starting)
from tqdm import tqdm  # noqa: E402  (torch loads from here)

from . import CheckpointError, SourceUnavailable, __version__, describe, load_model  # noqa: E402
from .batch import AUTO, Run, _analyse_each, _in_folders, _Outcomes  # noqa: E402
from .batch import EXPECTED_ERRORS, LOG_INTERVAL_S  # noqa: E402, F401  (defined here before mmsent.batch)
from .checkpoint import checkpoint_folder, pick_device, read_config  # noqa: E402
from .config import ASR_BACKENDS, AnalysisOptions, HelpFormatter, checked_argument  # noqa: E402
from .export import FORMATS, formats_named, output_paths, same_file  # noqa: E402
from .labels import MODALITIES, MODALITY_NAMES, parse_senses  # noqa: E402
from .probe import local_path  # noqa: E402
from .results import counted  # noqa: E402

signal.signal(signal.SIGINT, _sigint)

DEFAULTS = AnalysisOptions()


class _Version(argparse.Action):
    """``--version``: mmsent's version, then Python's and the installed versions of the parts that decide its
    answers, on one line (argparse's own version action wraps it at the terminal's width)."""

    def __call__(self, parser, namespace, values, option_string=None):
        print(_versions())
        parser.exit()


def _versions() -> str:
    from importlib.metadata import PackageNotFoundError, version

    def installed(name: str) -> str:
        try:
            return f"{name} {version(name)}"
        except PackageNotFoundError:
            return f"{name} not installed"

    parts = ("torch", "faster-whisper", "ctranslate2", "transformers", "gradio")
    return f"mmsent {__version__} (Python {sys.version.split()[0]}; {', '.join(map(installed, parts))})"


def _parser() -> argparse.ArgumentParser:
    fmt = HelpFormatter
    parser = argparse.ArgumentParser(prog="python -m mmsent", formatter_class=fmt,
                                     description="Emotion and sentiment in video, moment by moment.")
    parser.add_argument("--version", action=_Version, nargs=0, default=argparse.SUPPRESS,  # no "(default: None)"
                        help="print mmsent's version and those of the parts a bug report needs, and exit")
    sub = parser.add_subparsers(dest="command", required=True)
    common = argparse.ArgumentParser(add_help=False)
    common.add_argument("--checkpoint", default="default", help="checkpoint folder, or 'default' for the embedded one")
    common.add_argument("--device", default="auto", type=checked_argument(pick_device),
                        help="cuda, cuda:1, cpu, ... or auto (CUDA when present)")
    sub.add_parser("info", parents=[common], formatter_class=fmt, help="load a model and print its summary")
    a = sub.add_parser("analyze", aliases=["analyse"], parents=[common], formatter_class=fmt,
                       help="analyse video or audio files")
    a.set_defaults(command_parser=a)  # its own usage line with its errors
    a.add_argument("videos", nargs="+", type=lambda v: Path(checked_argument(local_path)(v)),  # no web address
                   help="video or audio files, or folders of them")
    a.add_argument("-r", "--recursive", action="store_true",
                   help="also the files in the folders' subfolders, at any depth, each one's results in the same "
                        "subfolder of --out (DIR/day1/talk.json for day1/talk.mp4)")
    a.add_argument("-o", "--out", type=Path, default=Path("."), help="folder for the results (DIR/X.json for X.mp4)")
    a.add_argument("-f", "--format", default="json", help=f"comma-separated, from {','.join(FORMATS)}; or all")
    a.add_argument("--asr", default=DEFAULTS.asr, choices=ASR_BACKENDS,
                   help="speech recognition backend")
    a.add_argument("--asr-model", default=DEFAULTS.asr_model, type=_option("asr_model"),
                   help="Whisper model ('base' is embedded)")
    a.add_argument("--language", default=None, type=_option("language"),
                   help="spoken language: an ISO code (de, deu) or its English name (German); detected when omitted "
                        "or auto")
    a.add_argument("--translate", action=argparse.BooleanOptionalAction, default=DEFAULTS.translate,
                   help="write speech in another language in English for the words' encoder, which learned English "
                        "(--no-translate keeps it as spoken)")
    a.add_argument("--subtitles", type=lambda v: v if v == AUTO else Path(v), default=None, metavar="FILE|auto",
                   help="subtitle file (SRT, WebVTT, ASS/SSA) that replaces speech recognition, for one video; or "
                        "'auto': each video's own, beside it as players find it (talk.srt or talk.en.srt for "
                        "talk.mp4; of several, the one without a language, else the one in --language; a tagged "
                        "one is in its tag's language), speech recognised where there is none (a file named auto: "
                        "./auto)")
    a.add_argument("--max-segment", type=_option("max_segment_seconds", float), default=DEFAULTS.max_segment_seconds,
                   help="longest utterance, s (1 to 30)")
    a.add_argument("--max-seconds", type=_option("max_seconds", _seconds_or_none), default=3 * 3600,
                   help="refuse inputs longer than this, s ('none': no limit)")
    a.add_argument("--no-contributions", action="store_true", help="skip the leave-one-modality-out measure")
    a.add_argument("--senses", default="words,voice,face", type=checked_argument(parse_senses),
                   help="the senses to read; the others are left out (e.g. words,voice when the only face is a "
                        "cover picture, or to read no faces)")
    a.add_argument("--audio-track", default=None, type=_option("audio_track"), metavar="N|LANG",
                   help="the audio track read in a file with several (a dubbed film, a commentary): its number among "
                        "the audio tracks (1 is the first) or the language it is tagged with (eng, ger or deu, also "
                        "en, de; of two in one language, the default one, else the first); a file with none of them "
                        "fails (default: the one a player plays, the default track)")
    a.add_argument("--skip-existing", action="store_true",
                   help="don't analyse again a file whose results, in every --format, are in --out from an earlier "
                        "run, and whose JSON names that file, this model, these senses and this --audio-track (a "
                        "folder's run, interrupted, goes on where it stopped; other options are not compared)")
    a.add_argument("--summary", metavar="FILE",
                   help="after the run, a CSV table of one row per file, in order: its status (analysed, done before "
                        "with --skip-existing, failed and why), duration, language, segments, overall emotion, each "
                        "emotion's and sentiment's share of the time read, mean sentiment, notes and its JSON; also "
                        "after Ctrl-C or a full disk, the files left as not analysed")
    return parser


def _option(name: str, kind: type = str):
    """An argparse ``type`` for the AnalysisOptions field ``name``: its value as that field takes it,
    refused as the command line is parsed with AnalysisOptions' own message."""
    def parse(value: str):
        try:
            return getattr(AnalysisOptions(**{name: kind(value)}), name)
        except ValueError as e:
            raise argparse.ArgumentTypeError(str(e)) from None

    return parse


def _seconds_or_none(value: str) -> float | None:
    """--max-seconds: a number of seconds, or 'none' for no limit (as AnalysisOptions' message says)."""
    return None if value.strip().lower() == "none" else float(value)


def _not_read(model, checkpoint, senses: tuple[str, ...]) -> str:
    """Why --senses asks for nothing that the model reads (a voice-only model asked for the words), and what to ask."""
    reads = [MODALITY_NAMES[m] for m in MODALITIES if m in model.encoders]
    asked = ",".join(MODALITY_NAMES[m] for m in senses)
    return (f"--senses {asked}: this model ({checkpoint}) reads none of them, only the {' and the '.join(reads)}: ask "
            f"for {'it' if len(reads) == 1 else 'them'} (--senses {','.join(reads)}), or use a model trained on them "
            "(--checkpoint default)")


def _summary_path(summary: str, run: Run, parser: argparse.ArgumentParser) -> Path:
    """--summary FILE as a path, refused before any work where it is not a CSV file's name in a folder that can be
    written (the folder made if missing, as --out is), or where it names an input or a result of the ``run``."""
    if not summary.strip():  # SUMMARY unset in a script: "" is the current folder
        parser.error("--summary: no file given: the path is empty")
    path = Path(summary)
    if path.is_dir():
        parser.error(f"--summary {path} is a folder: give the table's file name (e.g. {path / 'summary.csv'})")
    if path.suffix.lower() != ".csv":
        parser.error(f"--summary {path}: the summary is a CSV table: give a name ending in .csv")
    inputs = [*run.videos, *([run.subtitles] if run.subtitles else [])]
    results = [p for video in run.videos for p in output_paths(video, run.out_of(video), run.formats).values()]
    taken = next((p for p in [*inputs, *results] if same_file(p, path)
                  or os.path.realpath(p) == os.path.realpath(path)), None)  # a result not written yet: by its name
    if taken:
        parser.error(f"--summary {path} would overwrite {'an input' if taken in inputs else 'a result'} of this run "
                     f"({taken}): give the table another name")
    try:
        _made_writable(path.parent)
    except OSError as e:
        parser.error(f"--summary {path}: its folder can't be written ({e.strerror or e}): give a file in a folder you "
                     "can write to")
    return path


def _made_writable(folder: Path) -> None:
    """Make ``folder`` where it is missing and write a file in it (removed at once); OSError where either fails."""
    if not folder.exists():  # (a file there: said as "Not a directory" below, not as "File exists")
        folder.mkdir(parents=True)
    tempfile.TemporaryFile(dir=folder).close()


def _analyze_all(args, parser: argparse.ArgumentParser) -> int:
    try:
        formats = formats_named(args.format)  # as export.write takes them
    except ValueError as e:
        parser.error(f"--format {args.format!r}: {e}")
    if args.out.exists() and not args.out.is_dir():
        parser.error(f"--out {args.out} is a file: give a folder for the results (it is made if missing)")
    if not args.out.exists() and args.out.suffix.lower().lstrip(".") in FORMATS:  # it would be made a folder
        parser.error(f"--out {args.out} reads as a file's name, but --out is the folder the results go in, each named "
                     "after its input (talk.json, talk.csv): give a folder (or make this one first to use its name)")
    videos, outs = _in_folders(args.videos, args.out, args.recursive, parser)
    if args.skip_existing and "json" not in formats:
        parser.error("--skip-existing tells an earlier run's results by their JSON (which file, model and senses made "
                     "them): add json to --format")
    one_file = args.subtitles if args.subtitles != AUTO else None  # for one video
    if one_file and len(videos) > 1:
        parser.error("--subtitles belongs to one video: give one video with it (or --subtitles auto: each video's "
                     "own, beside it)")
    if one_file and not one_file.is_file():
        parser.error(f"--subtitles {args.subtitles}: " + ("a folder: give the subtitle file" if args.subtitles.is_dir()
                                                          else "no such file"))
    try:  # said now, not after the first analysis
        _made_writable(args.out)
    except OSError as e:
        parser.error(f"--out {args.out} can't be written ({e.strerror or e}): give a folder you can write to")
    run = Run(videos, args.out, formats, outs, one_file, args.subtitles == AUTO, args.skip_existing)
    summary = None if args.summary is None else _summary_path(args.summary, run, parser)
    options = AnalysisOptions(asr=args.asr, asr_model=args.asr_model, language=args.language, translate=args.translate,
                              subtitles=one_file, max_segment_seconds=args.max_segment,
                              max_seconds=args.max_seconds, contributions=not args.no_contributions,
                              senses=args.senses, audio_track=args.audio_track)
    read_config(checkpoint_folder(args.checkpoint))  # a checkpoint mistyped is said before any file
    outcomes = _Outcomes()

    def load():  # at the first file that some model could analyse (mmsent.batch)
        try:
            model = load_model(args.checkpoint, device=args.device)
        except (CheckpointError, SourceUnavailable):
            outcomes.stopped = "the model could not be loaded"  # the --summary table's reason for the files left
            raise
        if not any(m in model.encoders for m in options.senses):  # every file would fail alike
            outcomes.stopped = "the model reads none of the senses asked for"
            parser.error(_not_read(model, args.checkpoint, options.senses))
        if unread := [MODALITY_NAMES[m] for m in options.senses if m not in model.encoders]:  # said once
            reads = " and the ".join(MODALITY_NAMES[m] for m in options.senses if m in model.encoders)
            tqdm.write(f"this model ({args.checkpoint}) reads the {reads} alone: not the {' or the '.join(unread)} "
                       "(no branch trained for them)", file=sys.stderr)
        return model

    try:
        _analyse_each(run, load, options, outcomes)
    except KeyboardInterrupt:
        outcomes.stopped = "the run was interrupted"
        raise
    finally:  # the table of what is known, also after Ctrl-C (each file left: not analysed)
        if summary is not None:
            outcomes.write_summary(summary, videos)
    if outcomes.failures:
        tqdm.write(f"{outcomes.failures} of {counted(len(videos), 'file')} failed", file=sys.stderr)
    return 1 if outcomes.failures else 0


def _interrupt(signum, frame) -> None:
    """SIGTERM ends the run like Ctrl-C: finally blocks remove the files being written."""
    raise KeyboardInterrupt


def _warning_line(message, category, filename, lineno, file=None, line=None) -> None:
    """A library's warning as one line for the user, without Python's source line."""
    tqdm.write(f"warning: {message}", file=sys.stderr)


def main(argv: list[str] | None = None) -> int:
    parser = _parser()
    argv = sys.argv[1:] if argv is None else argv
    if argv and argv[0] not in ("info", "analyze", "analyse") and not argv[0].startswith("-") \
            and (Path(argv[0]).suffix or Path(argv[0]).exists()):  # a file given without the command
        parser.error(f"{argv[0]} is not a command: to analyse it, python -m mmsent analyze {shlex.quote(argv[0])}")
    args, extra = parser.parse_known_args(argv)
    if extra and args.command != "info":  # files after an option (analyze a.mp4 --format csv b.mp4), as with cp or ls
        args = args.command_parser.parse_intermixed_args(argv[1:], argparse.Namespace(command=args.command))
    elif extra:
        parser.error(f"unrecognized arguments: {' '.join(extra)}")
    logging.basicConfig(level=logging.WARNING, format="%(levelname)s %(name)s: %(message)s")
    previous = signal.signal(signal.SIGTERM, _interrupt)
    shown, warnings.showwarning = warnings.showwarning, _warning_line
    try:
        if args.command == "info":
            print(describe(load_model(args.checkpoint, device=args.device)))
            return 0
        return _analyze_all(args, args.command_parser)
    except (CheckpointError, SourceUnavailable) as e:
        print(f"error: cannot load the model: {e}", file=sys.stderr)
        return 2
    except KeyboardInterrupt:
        print("interrupted: nothing half-written is left (a file being written was removed); files already listed "
              "are complete (run again with --skip-existing to go on from there)", file=sys.stderr)
        return EXIT_INTERRUPTED
    finally:
        signal.signal(signal.SIGTERM, previous)
        warnings.showwarning = shown


if __name__ == "__main__":
    sys.exit(main())
