"""Command line: python -m mmsent {analyze,info} ..."""

from __future__ import annotations

import argparse
import contextlib
import dataclasses
import json
import logging
import os
import shlex
import signal
import sys
import tempfile
import time
import traceback
import warnings
from collections.abc import Iterator
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

from . import CheckpointError, SourceUnavailable, describe, load_model  # noqa: E402
from .checkpoint import pick_device  # noqa: E402
from .config import ASR_BACKENDS, AnalysisOptions, HelpFormatter, checked_argument  # noqa: E402
from .export import (ANNOTATED_SUFFIX, FORMATS, formats_named, output_paths, same_file, summary_row,  # noqa: E402
                     too_long, write, write_summary)
from .labels import MODALITIES, MODALITY_NAMES, parse_senses  # noqa: E402
from .pipeline import analyze, model_facts, senses_given  # noqa: E402
from .probe import MEDIA_SUFFIXES, local_path, probe  # noqa: E402
from .results import DISK_FULL, Analysis, counted  # noqa: E402
from .subtitles import language_beside, subtitles_beside  # noqa: E402

signal.signal(signal.SIGINT, _sigint)

log = logging.getLogger("mmsent")
DEFAULTS = AnalysisOptions()
EXPECTED_ERRORS = (ValueError, RuntimeError, OSError)  # MediaError, AnalysisError, TranscriptionError, ...
AUTO = "auto"  # --subtitles auto: each video's own subtitle file, found beside it
LOG_INTERVAL_S = 30.0  # s: without a terminal, a stage still running gets a progress line this often


def _parser() -> argparse.ArgumentParser:
    fmt = HelpFormatter
    parser = argparse.ArgumentParser(prog="python -m mmsent", formatter_class=fmt,
                                     description="Emotion and sentiment in video, moment by moment.")
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
                   help="spoken language: an ISO code (de) or its English name (German); detected when omitted")
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


def _summary_path(args, formats: list[str], one_file: Path | None, parser: argparse.ArgumentParser) -> Path:
    """--summary FILE as a path, refused before any work where it is not a CSV file's name in a folder that can be
    written (the folder made if missing, as --out is), or where it names an input or a result of this run."""
    if not args.summary.strip():  # SUMMARY unset in a script: "" is the current folder
        parser.error("--summary: no file given: the path is empty")
    path = Path(args.summary)
    if path.is_dir():
        parser.error(f"--summary {path} is a folder: give the table's file name (e.g. {path / 'summary.csv'})")
    if path.suffix.lower() != ".csv":
        parser.error(f"--summary {path}: the summary is a CSV table: give a name ending in .csv")
    inputs = [*args.videos, *([one_file] if one_file else [])]
    results = [p for video in args.videos for p in output_paths(video, _out(args, video), formats).values()]
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
    args.videos, args.outs = _in_folders(args.videos, args.out, args.recursive, parser)
    if args.skip_existing and "json" not in formats:
        parser.error("--skip-existing tells an earlier run's results by their JSON (which file, model and senses made "
                     "them): add json to --format")
    one_file = args.subtitles if args.subtitles != AUTO else None  # for one video
    if one_file and len(args.videos) > 1:
        parser.error("--subtitles belongs to one video: give one video with it (or --subtitles auto: each video's "
                     "own, beside it)")
    if one_file and not one_file.is_file():
        parser.error(f"--subtitles {args.subtitles}: " + ("a folder: give the subtitle file" if args.subtitles.is_dir()
                                                          else "no such file"))
    try:  # said now, not after the first analysis
        _made_writable(args.out)
    except OSError as e:
        parser.error(f"--out {args.out} can't be written ({e.strerror or e}): give a folder you can write to")
    if args.summary is not None:
        args.summary = _summary_path(args, formats, one_file, parser)
    options = AnalysisOptions(asr=args.asr, asr_model=args.asr_model, language=args.language, translate=args.translate,
                              subtitles=one_file, max_segment_seconds=args.max_segment,
                              max_seconds=args.max_seconds, contributions=not args.no_contributions,
                              senses=args.senses, audio_track=args.audio_track)
    model = load_model(args.checkpoint, device=args.device)
    if not any(m in model.encoders for m in options.senses):  # every file would fail alike
        parser.error(_not_read(model, args.checkpoint, options.senses))
    if unread := [MODALITY_NAMES[m] for m in options.senses if m not in model.encoders]:  # said once, not per file
        reads = " and the ".join(MODALITY_NAMES[m] for m in options.senses if m in model.encoders)
        tqdm.write(f"this model ({args.checkpoint}) reads the {reads} alone: not the {' or the '.join(unread)} (no "
                   "branch trained for them)", file=sys.stderr)
    outcomes = _Outcomes()
    try:
        _analyse_each(args, model, options, one_file, formats, outcomes)
    except KeyboardInterrupt:
        outcomes.stopped = "the run was interrupted"
        raise
    finally:  # the table of what is known, also after Ctrl-C (each file left: not analysed)
        if args.summary is not None:
            outcomes.write_summary(args.summary, args.videos)
    if outcomes.failures:
        tqdm.write(f"{outcomes.failures} of {counted(len(args.videos), 'file')} failed", file=sys.stderr)
    return 1 if outcomes.failures else 0


def _analyse_each(args, model, options: AnalysisOptions, one_file: Path | None, formats: list[str],
                  outcomes: _Outcomes) -> None:
    """Analyse each input of ``args.videos`` in turn, writing its results and telling ``outcomes`` what became of it;
    a full disk stops the run."""
    written = {}  # (results folder, stem) -> the input whose results it named: X.json for X.mp4
    for number, video in enumerate(args.videos):
        out = _out(args, video)
        subtitles, file_options, besides = one_file, options, ""  # besides: what its line says of them, with auto
        if args.subtitles == AUTO and os.path.isfile(video):  # (one not there fails as without: "file not found")
            try:
                subtitles = subtitles_beside(video, options.language)
            except EXPECTED_ERRORS as e:  # several fit, or its folder can't be read
                outcomes.failed(video, e)
                continue
            file_options = _with_subtitles_beside(video, subtitles, options)
            besides = (f" (subtitles: {subtitles.relative_to(video.parent).as_posix()})" if subtitles  # Subs/talk.srt
                       else " (no subtitle file beside it: speech recognised)")
        inputs = [*args.videos, *([subtitles] if subtitles else [])]
        results, info = output_paths(video, out, formats), None
        mp4, rest = results.get("mp4"), {f: p for f, p in results.items() if f != "mp4"}
        in_the_way = mp4 is not None and (too_long({"mp4": mp4}) or any(same_file(mp4, given) for given in inputs))
        if in_the_way and not too_long(rest):  # where the file has a picture: a file without one gets no mp4
            try:
                info = probe(video, file_options.audio_track)  # analyze takes it: not probed twice
            except EXPECTED_ERRORS as e:
                outcomes.failed(video, e)
                continue
            if not info.has_video:
                results = rest
        clash = next(((path, given) for path in results.values() for given in inputs if same_file(path, given)), None)
        if clash:  # talk.srt given as its subtitles, talk.annotated.mp4 given beside talk.mp4
            how = "an input" if clash[1] != subtitles else "its subtitles" + ("" if one_file else " (--subtitles auto)")
            outcomes.failed(video, f"its results would overwrite {clash[1]}, given to this call as {how}: write them "
                                   "into another folder (--out DIR)")
            continue
        if long := too_long(results):  # said before the analysis, not after it
            outcomes.failed(video, long)
            continue
        first = written.get((out, video.stem))
        if first is not None and same_file(first, video):
            tqdm.write(f"{video}: the same file as {first}, whose results are written above: not analysed again")
            outcomes.named_again()
            continue
        if first is not None:
            outcomes.failed(video, f"its results would overwrite those of {first} ({video.stem}.* in {out}): "
                                   "analyse it in a call of its own, with another --out")
            continue
        done = args.skip_existing and _done_before(video, results, model, file_options)
        if done:
            before, names = done
            written[out, video.stem] = video
            outcomes.done(video, before, "done before", results["json"])
            tqdm.write(f"{video}: its results are in {out} from an earlier run ({', '.join(names)}): not analysed "
                       "again (--skip-existing)")
            continue
        earlier = _earlier_results(video, out, formats)
        place = f"[{number + 1}/{len(args.videos)}] " if len(args.videos) > 1 else ""  # how far the run is
        with _progress(place + video.name) as progress:
            try:
                analysis = analyze(video, model, file_options, progress, info=info)
                drawable = formats if analysis.media.has_video else [f for f in formats if f != "mp4"]
                paths = write(analysis, out, drawable, video_path=video,
                              progress=lambda done, total: progress("annotated video", done, total))
                written[out, video.stem] = video
                outcomes.done(video, analysis, "analysed", results.get("json"))
            except EXPECTED_ERRORS as e:
                outcomes.failed(video, e)
                if getattr(e, "errno", None) in DISK_FULL:  # each file left would fail so, after its analysis
                    left = len(args.videos) - number - 1
                    left_out = f", {counted(left, 'file')} left not analysed" if left else ""
                    tqdm.write(f"stopped: {e.strerror}{left_out}: free some space (results go to {args.out}, the "
                               "annotated video's work beside them), then run the same command again with "
                               "--skip-existing to go on from here", file=sys.stderr)
                    outcomes.stopped = f"the run stopped: {e.strerror}"
                    break
                continue
            except Exception as e:  # a bug: said with its traceback, to report it, and the other files go on
                outcomes.failed(video, f"an unexpected error, a bug in mmsent ({type(e).__name__}: {e}); please report "
                                       "it", traceback.format_exc())
                continue
        n = len(analysis.segments)
        tqdm.write(f"{video}: {counted(n, 'segment')}, {analysis.summary().overall or 'nothing read'} -> "
                   + ", ".join(str(p) for p in paths) + besides
                   + ("" if drawable == formats else " (no annotated video: it has no picture to draw on)"))
        for line in earlier:
            tqdm.write(f"{video}: {line}", file=sys.stderr)


class _Outcomes:
    """What became of each input of a run, told once per input in its order: its row of the --summary table
    (``export.summary_row``; None for a file named again, whose row is its first's), how many failed, and why the run
    stopped early (then the inputs not told of are those it did not reach)."""

    def __init__(self):
        self.rows: list[dict[str, str] | None] = []
        self.failures, self.stopped = 0, ""

    def failed(self, video: Path, why: str | BaseException, trace: str = "") -> None:
        """Say that ``video`` failed, and why (an error's message without the path it starts with), with a bug's
        ``trace`` to report (in the log, not in the table)."""
        why = str(why).removeprefix(f"{video}: ") if isinstance(why, BaseException) else why
        tqdm.write(f"FAILED {video}: {why}" + (f" with this traceback:\n{trace}" if trace else ""), file=sys.stderr)
        self.failures += 1
        self.rows.append(summary_row(video, None, "failed", why.partition("\n")[0]))

    def done(self, video: Path, analysis: Analysis, status: str, json_path: Path | None) -> None:
        self.rows.append(summary_row(video, analysis, status, json_path=json_path))

    def named_again(self) -> None:
        """A file named a second time (a.mp4, ./a.mp4), not analysed again: one row, its first, counted once."""
        self.rows.append(None)

    def write_summary(self, path: Path, videos: list[Path]) -> None:
        """The --summary table: a row per file of ``videos`` (those the run did not reach: not analysed, and why);
        one that can't be written counts as a failure."""
        rows = [row for row in self.rows if row is not None]
        rows += [summary_row(video, None, "not analysed", self.stopped) for video in videos[len(self.rows):]]
        try:
            write_summary(rows, path)
        except OSError as e:  # the disk that stopped the run, or the folder taken away meanwhile
            self.failures += 1
            tqdm.write(f"FAILED --summary {path}: it can't be written ({e.strerror or e})", file=sys.stderr)
            return
        tqdm.write(f"summary of {counted(len(rows), 'file')} -> {path}")


def _in_folders(paths: list[Path], out: Path, recursive: bool,
                parser: argparse.ArgumentParser) -> tuple[list[Path], dict[Path, Path]]:
    """The inputs, each folder given as its audio and video files (``_media_in``), and the results folder of each
    file found in a subfolder (``recursive``: that subfolder of ``out``; the others' is ``out``). A folder without any
    stays (``analyze`` refuses it), and so does a name that can't be looked at (too long: ``analyze`` says so, where
    ``Path.is_dir`` raised). Without ``recursive``, subfolders that hold such files are said not to be searched."""
    found, outs = [], {}
    for path in paths:
        try:
            files, unsearched = _media_in(path, recursive) if os.path.isdir(path) else ([], [])
        except OSError as e:
            parser.error(f"{e.filename or path}: the folder can't be read ({e.strerror or e})")
        found += files or [path]
        outs |= {f: out / f.parent.relative_to(path) for f in files if f.parent != path}
        if unsearched:
            tqdm.write(f"{path}: {counted(len(unsearched), 'subfolder')} of audio or video files not searched "
                       f"({', '.join(unsearched)}): --recursive (-r) reads them too", file=sys.stderr)
    return found, outs


def _media_in(folder: Path, recursive: bool) -> tuple[list[Path], list[str]]:
    """The audio and video files (MEDIA_SUFFIXES) of ``folder`` by name, then, ``recursive``, those of its subfolders
    in turn; not the annotated copies written here, nor hidden files and folders (macOS leaves a ``._talk.mp4`` of its
    metadata beside each file it copies to some drives), nor folders linked to (a link may loop). Also the names of
    the subfolders not searched that hold such files."""
    entries = sorted(folder.iterdir())
    files = [f for f in entries if f.suffix.lower() in MEDIA_SUFFIXES and f.is_file()
             and not f.name.endswith(ANNOTATED_SUFFIX) and not f.name.startswith(".")]
    subfolders = [d for d in entries if not d.name.startswith(".") and d.is_dir() and not d.is_symlink()]
    if recursive:
        return files + [f for d in subfolders for f in _media_in(d, True)[0]], []
    return files, [d.name for d in subfolders if _holds_media(d)]


def _holds_media(folder: Path) -> bool:
    """Whether ``folder`` has audio or video files of its own (``_media_in``); False where it can't be read."""
    try:
        return bool(_media_in(folder, False)[0])
    except OSError:
        return False


def _out(args, video: Path) -> Path:
    """The folder of ``video``'s results: --out, or its subfolder as ``video``'s in the folder given (--recursive)."""
    return args.outs.get(video, args.out)


def _with_subtitles_beside(video: Path, subtitles: Path | None, options: AnalysisOptions) -> AnalysisOptions:
    """``options`` for ``video`` with the ``subtitles`` found beside it: a file tagged with its language
    (``talk.en.srt``) is in that language, whatever ``--language`` says of the speech (German speech, English
    subtitles: their words are read as written, not the speech translated); an untagged one (``talk.sdh.srt``,
    ``Subs/talk.srt`` too) is in ``--language``."""
    tagged = subtitles is not None and language_beside(video, subtitles) is not None
    return dataclasses.replace(options, subtitles=subtitles, language=None if tagged else options.language)


def _done_before(video: Path, paths: dict[str, Path], model,
                 options: AnalysisOptions) -> tuple[Analysis, list[str]] | None:
    """The earlier analysis of ``video`` and the names of its results ``paths`` (``output_paths``), where each is
    there (each is written whole or not at all; no annotated video for a file without a picture) and their JSON says
    that this file, this model, these senses and this audio track choice made them; else None."""
    try:
        earlier = Analysis.from_json(paths["json"])
    except (OSError, ValueError):  # none, not an analysis, or one this version can't read
        return None
    made = [p for f, p in paths.items() if f != "mp4" or earlier.media.has_video]
    if (not all(os.path.isfile(p) for p in made) or not same_file(Path(earlier.media.path), video)
            or earlier.model != model_facts(model, senses_given(options, earlier.media))
            or earlier.media.audio_track != options.audio_track):
        return None
    return earlier, [p.name for p in made]


def _earlier_results(video: Path, out: Path, formats: list[str]) -> list[str]:
    """What an earlier run left where ``video``'s results go: results of another file of the same name
    (read from the JSON's media.path) that this run replaces, and formats it does not rewrite."""
    paths, lines = output_paths(video, out, list(FORMATS)), []
    try:
        source = Path(json.loads(paths["json"].read_text(encoding="utf-8"))["media"]["path"])
        if "json" in formats and source.exists() and not same_file(source, video):
            lines.append(f"replaces the results of {source} in {paths['json']}")
    except (OSError, ValueError, TypeError, KeyError):  # none yet, or not an analysis: nothing to say
        pass
    stale = [p.name for f, p in paths.items() if f not in formats and os.path.exists(p)]  # False for a name too long
    if stale:
        lines.append(f"{', '.join(stale)} in {out} {'is' if len(stale) == 1 else 'are'} from an earlier run, not "
                     f"rewritten (--format {','.join(formats)})")
    return lines


@contextlib.contextmanager
def _progress(name: str) -> Iterator:
    """The progress callback for one file: a tqdm bar on a terminal, plain lines in a log."""
    if not sys.stderr.isatty():  # CI, nohup, a pipe: every bar refresh would be a line of the log
        yield _LogLines(name)
        return
    with tqdm(total=1, desc=name, unit="step", leave=False) as bar:
        # Each stage's elapsed time and rate count from when it first reported (audio and text features take
        # turns, batch after batch): from the file's start, the first batch of features after 4 min of speech
        # recognition showed 5 hours left.
        started: dict[str, float] = {}

        def progress(stage: str, done: int, total: int) -> None:
            bar.set_description(f"{name}: {stage}", refresh=False)  # drawn once, with its own counts
            bar.total, bar.n, bar.start_t = max(total, 1), done, started.setdefault(stage, bar._time())
            bar.refresh()

        yield progress


class _LogLines:
    """Progress as lines on stderr: one when a stage first starts, then one at most every
    LOG_INTERVAL_S while a stage runs (long files); never a carriage return."""

    def __init__(self, name: str):
        self.name, self.started, self.last = name, set(), time.monotonic()

    def __call__(self, stage: str, done: int, total: int) -> None:
        now = time.monotonic()
        if stage not in self.started:
            self.started.add(stage)
            self._line(stage, now)
        elif total and done < total and now - self.last >= LOG_INTERVAL_S:
            self._line(f"{stage} {done / total:.0%} ({done}/{total})", now)

    def _line(self, text: str, now: float) -> None:
        self.last = now
        print(f"{self.name}: {text}", file=sys.stderr, flush=True)


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
