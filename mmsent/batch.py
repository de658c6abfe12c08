"""The command line's run over its files (``python -m mmsent analyze``): the inputs, each folder given as its audio and
video files (``_in_folders``); each file analysed in turn and its results written (``_analyse_each``; with
--skip-existing, one whose results an earlier run left is not analysed again, ``_done_before``); what became of each,
for the exit status and the --summary table (``_Outcomes``); and each file's progress, a bar on a terminal, lines in a
log (``_progress``). ``mmsent.__main__`` parses and checks the options, then runs this. Importing this module loads
torch (through ``mmsent.pipeline``): ``mmsent.__main__`` imports it while its Ctrl-C handler for the start is set.
"""

from __future__ import annotations

import argparse
import contextlib
import dataclasses
import glob
import json
import os
import sys
import time
import traceback
from collections.abc import Callable, Iterator
from pathlib import Path

from tqdm import tqdm

from .config import AnalysisOptions
from .export import ANNOTATED_SUFFIX, FORMATS, output_paths, same_file, summary_row, too_long, write, write_summary
from .labels import MODALITY_NAMES
from .model import FusionModel
from .pipeline import analyze, model_facts, readable, senses_given
from .probe import MEDIA_SUFFIXES, MediaInfo, probe
from .results import DISK_FULL, SCHEMA_VERSION, Analysis, counted, shown
from .subtitles import language_beside, subtitles_beside

EXPECTED_ERRORS = (ValueError, RuntimeError, OSError)  # MediaError, AnalysisError, TranscriptionError, ...
AUTO = "auto"  # --subtitles auto: each video's own subtitle file, found beside it
LOG_INTERVAL_S = 30.0  # s: without a terminal, a stage still running gets a progress line this often


@dataclasses.dataclass(frozen=True)
class Run:
    """A run over its files, as the command line's checks left it."""

    videos: list[Path]  # the files, in the run's order (each folder given read as its files: ``_in_folders``)
    out: Path  # --out
    formats: list[str]  # --format, as export.write takes them
    outs: dict[Path, Path] = dataclasses.field(default_factory=dict)  # a file's results folder where not ``out``
    subtitles: Path | None = None  # --subtitles FILE, for the one video
    auto: bool = False  # --subtitles auto: each video's own, found beside it
    skip_existing: bool = False  # --skip-existing

    def out_of(self, video: Path) -> Path:
        """The folder of ``video``'s results: --out, or its subfolder as ``video``'s in the folder given
        (--recursive)."""
        return self.outs.get(video, self.out)


def _analyse_each(run: Run, load: Callable[[], FusionModel], options: AnalysisOptions, outcomes: _Outcomes) -> None:
    """Analyse each of ``run.videos`` in turn, writing its results and telling ``outcomes`` what became of it;
    a full disk stops the run. The model is ``load``ed for the first file that passes the checks that need none
    (``pipeline.readable``): a file that can't be analysed (a path mistyped, a text file) is said in a second, not
    after the model's load, and a run of only such files loads none. With --skip-existing, first: whether the
    results an earlier run left are this model's decides whether a file is looked at again."""
    written = _kept(run)  # (results folder, stem) -> the input whose results it names: X.json for X.mp4
    model = load() if run.skip_existing else None
    for number, video in enumerate(run.videos):
        out = run.out_of(video)
        try:  # all said before the analysis, not after it
            if os.path.isdir(video):  # a folder given that holds none (``_in_folders``)
                raise ValueError("a folder that holds no audio or video file (named .mp4, .mov, .mkv, .webm, .wav, "
                                 ".mp3, .m4a, ...)")
            subtitles, file_options, besides = _subtitles_of(run, video, options)
            results, info = _results_of(run, video, subtitles, file_options)
            first = written.get((out, video.stem))
            if first is not None and not same_file(first, video):  # the input listed first, or whose results an
                # earlier run left (--skip-existing: talk.mp4 added beside talk.wav, analysed)
                raise ValueError(f"its results would overwrite those of {first} ({video.stem}.* in {out}): "
                                 "analyse it in a call of its own, with another --out")
            if model is None:
                info = readable(video, file_options, info)  # analyze takes it: not probed twice
        except EXPECTED_ERRORS as e:
            outcomes.failed(video, e)
            continue
        if model is None:
            model = load()
        done = run.skip_existing and _done_before(video, results, model, file_options)
        if isinstance(done, tuple):
            before, names = done
            written[out, video.stem] = video
            try:  # the exports made from its JSON written again: one left by another file's run is not taken as its
                if made := [f for f in run.formats if f not in ("json", "mp4")]:
                    write(before, out, made, video_path=video)
            except EXPECTED_ERRORS as e:
                outcomes.failed(video, e)
                continue
            outcomes.done(video, before, "done before", results["json"])
            tqdm.write(f"{video}: its results are in {out} from an earlier run ({', '.join(names)}): not analysed "
                       "again (--skip-existing)")
            continue
        earlier = ([done] if done else []) + _earlier_results(video, out, run.formats)  # done: why they are made again
        place = f"[{number + 1}/{len(run.videos)}] " if len(run.videos) > 1 else ""  # how far the run is
        with _progress(place + video.name) as progress:
            try:
                analysis = analyze(video, model, file_options, progress, info=info)
                drawable = run.formats if analysis.media.has_video else [f for f in run.formats if f != "mp4"]
                paths = write(analysis, out, drawable, video_path=video,
                              progress=lambda done, total: progress("annotated video", done, total))
                written[out, video.stem] = video
                outcomes.done(video, analysis, "analysed", results.get("json"))
            except EXPECTED_ERRORS as e:
                outcomes.failed(video, e)
                if getattr(e, "errno", None) in DISK_FULL:  # each file left would fail so, after its analysis
                    left = len(run.videos) - number - 1
                    left_out = f", {counted(left, 'file')} left not analysed" if left else ""
                    tqdm.write(f"stopped: {e.strerror}{left_out}: free some space (results go to {run.out}, the "
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
                   + ("" if drawable == run.formats else " (no annotated video: it has no picture to draw on)"))
        for line in earlier:
            tqdm.write(f"{video}: {line}", file=sys.stderr)


def _subtitles_of(run: Run, video: Path, options: AnalysisOptions) -> tuple[Path | None, AnalysisOptions, str]:
    """``video``'s subtitle file (--subtitles FILE; with auto, the one beside it, or None), ``options`` with it, and
    what the file's line says of them (with auto)."""
    if not run.auto or not os.path.isfile(video):  # (one not there fails as without: "file not found")
        return run.subtitles, options, ""
    subtitles = subtitles_beside(video, options.language, forced := [])  # raises where several fit
    named = [f.relative_to(video.parent).as_posix() for f in ([subtitles] if subtitles else forced)]
    besides = (f" (subtitles: {named[0]})" if subtitles  # Subs/talk.srt
               else f" (only forced subtitles beside it, {', '.join(named)}: the foreign lines and signs, not the "
                    "speech; speech recognised)" if forced
               else " (no subtitle file beside it: speech recognised)")
    return subtitles, _with_subtitles_beside(video, subtitles, options), besides


def _results_of(run: Run, video: Path, subtitles: Path | None,
                options: AnalysisOptions) -> tuple[dict[str, Path], MediaInfo | None]:
    """The paths of ``video``'s results (``output_paths``; no annotated video where it has no picture) and its
    probe, where one was needed to tell that; ValueError where they would overwrite an input of the call or a
    folder, be longer than file systems hold, or be only an annotated video of a file without a picture."""
    inputs = [*run.videos, *([subtitles] if subtitles else [])]
    results, info = output_paths(video, run.out_of(video), run.formats), None
    mp4, rest = results.get("mp4"), {f: p for f, p in results.items() if f != "mp4"}
    in_the_way = mp4 is not None and (too_long({"mp4": mp4}) or any(same_file(mp4, given) for given in inputs))
    # a file gets an annotated video where it has a picture: probed where that decides (analyze takes the probe)
    if mp4 is not None and (in_the_way or not rest) and not too_long(rest):
        info = probe(video, options.audio_track)
        if not info.has_video:
            if not rest:
                raise ValueError("it has no picture to draw the annotated video (--format mp4) on: ask for results "
                                 "it has, e.g. --format json,csv")
            results = rest
    clash = next(((path, given) for path in results.values() for given in inputs if same_file(path, given)), None)
    if clash:  # talk.srt given as its subtitles, talk.annotated.mp4 given beside talk.mp4
        auto = "" if run.subtitles else " (--subtitles auto)"
        how = "an input" if clash[1] != subtitles else f"its subtitles{auto}"
        raise ValueError(f"its results would overwrite {clash[1]}, given to this call as {how}: write them into "
                         "another folder (--out DIR)")
    if long := too_long(results):
        raise ValueError(long)
    if folder := next((path for path in results.values() if path.is_dir()), None):
        raise ValueError(f"its results would replace the folder {folder}: move that folder, or write them into "
                         "another one (--out DIR)")
    return results, info


class _Outcomes:
    """What became of each input of a run, told once per input in its order: its row of the --summary table
    (``export.summary_row``), how many failed, and why the run
    stopped early (then the inputs not told of are those it did not reach)."""

    def __init__(self):
        self.rows: list[dict[str, str]] = []
        self.failures, self.stopped = 0, ""

    def failed(self, video: Path, why: str | BaseException, trace: str = "") -> None:
        """Say that ``video`` failed, and why (an error's message without the path it starts with), with a bug's
        ``trace`` to report (in the log, not in the table)."""
        why = str(why).removeprefix(f"{shown(video)}: ") if isinstance(why, BaseException) else why
        tqdm.write(f"FAILED {shown(video)}: {why}" + (f" with this traceback:\n{trace}" if trace else ""),
                   file=sys.stderr)
        self.failures += 1
        self.rows.append(summary_row(video, None, "failed", why.partition("\n")[0]))

    def done(self, video: Path, analysis: Analysis, status: str, json_path: Path | None) -> None:
        self.rows.append(summary_row(video, analysis, status, json_path=json_path))

    def write_summary(self, path: Path, videos: list[Path]) -> None:
        """The --summary table: a row per file of ``videos`` (those the run did not reach: not analysed, and why);
        one that can't be written counts as a failure."""
        rows = self.rows + [summary_row(video, None, "not analysed", self.stopped) for video in videos[len(self.rows):]]
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
    stays (``_analyse_each`` refuses it), and so does a name that can't be looked at (too long: ``analyze`` says so,
    where ``Path.is_dir`` raised). Without ``recursive``, subfolders that hold such files are said not to be
    searched."""
    found, outs = {}, {}  # each file once (its first name): a file named twice, or reached twice, is analysed once
    for path in [match for given in paths for match in _matches(given)]:
        try:
            files, unsearched = _media_in(path, recursive) if os.path.isdir(path) else ([], [])
        except OSError as e:
            parser.error(f"{e.filename or path}: the folder can't be read ({e.strerror or e})")
        for f in files or [path]:
            first = found.setdefault(_identity(f), f)
            if first is not f:
                tqdm.write(f"{shown(f)}: the same file as {shown(first)}: analysed once")
            elif files and f.parent != path:  # found in a subfolder (--recursive)
                outs[f] = out / f.parent.relative_to(path)
        if unsearched:
            tqdm.write(f"{path}: {counted(len(unsearched), 'subfolder')} of audio or video files not searched "
                       f"({', '.join(unsearched)}): --recursive (-r) reads them too", file=sys.stderr)
    return list(found.values()), outs


def _matches(path: Path) -> list[Path]:
    """``path``, or, where no file has that name and it is a pattern (``talk*.mp4``: quoted, or from a shell that
    leaves patterns to programs, as Windows' do), the files it matches, in order; none: ``path`` itself, which
    ``probe`` says matches nothing."""
    if os.path.lexists(path) or not any(sign in os.fspath(path) for sign in "*?["):
        return [path]
    return [Path(p) for p in sorted(glob.glob(os.fspath(path)))] or [path]


def _identity(path: Path) -> tuple | str:
    """What tells one file from another whatever its name (``a/../a/talk.mp4``, a link): its device and inode, or,
    where it can't be looked at, its path with links and ``..`` resolved."""
    try:
        st = os.stat(path)
    except (OSError, ValueError):
        return os.path.realpath(path)
    return st.st_dev, st.st_ino


def _media_in(folder: Path, recursive: bool) -> tuple[list[Path], list[str]]:
    """The audio and video files (MEDIA_SUFFIXES) of ``folder`` by name, then, ``recursive``, those of its subfolders
    in turn; not the annotated copies written here, nor hidden files and folders (macOS leaves a ``._talk.mp4`` of its
    metadata beside each file it copies to some drives), nor folders linked to (a link may loop). Also the names of
    the subfolders not searched that hold such files."""
    entries = sorted(folder.iterdir())
    files = _media_files(entries)
    subfolders = [d for d in entries if not d.name.startswith(".") and d.is_dir() and not d.is_symlink()]
    if recursive:
        return files + [f for d in subfolders for f in _media_in(d, True)[0]], []
    return files, [d.name for d in subfolders if _holds_media(d)]


def _media_files(entries: list[Path]) -> list[Path]:
    """Of a folder's ``entries``, the audio and video files ``_media_in`` reads."""
    return [f for f in entries if f.suffix.lower() in MEDIA_SUFFIXES and f.is_file()
            and not f.name.endswith(ANNOTATED_SUFFIX) and not f.name.startswith(".")]


def _holds_media(folder: Path) -> bool:
    """Whether ``folder`` has audio or video files of its own (``_media_files``; its subfolders are not looked at);
    False where it can't be read."""
    try:
        return bool(_media_files(list(folder.iterdir())))
    except OSError:
        return False


def _with_subtitles_beside(video: Path, subtitles: Path | None, options: AnalysisOptions) -> AnalysisOptions:
    """``options`` for ``video`` with the ``subtitles`` found beside it: a file tagged with its language
    (``talk.en.srt``) is in that language, whatever ``--language`` says of the speech (German speech, English
    subtitles: their words are read as written, not the speech translated); an untagged one (``talk.sdh.srt``,
    ``Subs/talk.srt`` too) is in ``--language``."""
    tagged = subtitles is not None and language_beside(video, subtitles) is not None
    return dataclasses.replace(options, subtitles=subtitles, language=None if tagged else options.language)


def _kept(run: Run) -> dict[tuple[Path, str], Path]:
    """With --skip-existing, (results folder, stem) -> the input of this run whose results an earlier run left there,
    as their JSON names it; else nothing."""
    kept = {}
    for video in run.videos if run.skip_existing else []:
        try:
            named = json.loads((run.out_of(video) / f"{video.stem}.json").read_text(encoding="utf-8-sig"))["media"]
        except (OSError, ValueError, TypeError, KeyError):
            continue
        if isinstance(named, dict) and same_file(Path(str(named.get("path"))), video):
            kept[run.out_of(video), video.stem] = video
    return kept


def _done_before(video: Path, paths: dict[str, Path], model,
                 options: AnalysisOptions) -> tuple[Analysis, list[str]] | str | None:
    """The earlier analysis of ``video`` and the names of its results ``paths`` (``output_paths``), where each is
    there (each is written whole or not at all; no annotated video for a file without a picture) and their JSON says
    that this file, this model, these senses and this audio track choice made them; else None, or, where this file's
    results are all there but an older mmsent, another model, other senses or another audio track made them, the
    line that says so (``_older_writer``, ``_made_otherwise``): they are made again."""
    try:
        stored = json.loads(paths["json"].read_text(encoding="utf-8-sig"))  # as from_json reads it
        earlier = Analysis.from_dict(stored)
    except (OSError, ValueError):  # none, not an analysis, or one this version can't read
        return None
    made = [p for f, p in paths.items() if f != "mp4" or earlier.media.has_video]
    if not all(os.path.isfile(p) for p in made) or not same_file(Path(earlier.media.path), video):
        return None
    now = model_facts(model, senses_given(options, earlier.media))
    place = f"the results in {paths['json'].parent} from an earlier run"
    if why := _older_writer(stored, earlier, now):
        return f"{place} are an older mmsent's ({why}): analysed again, not kept (--skip-existing)"
    if how := _made_otherwise(earlier, now, options.audio_track):
        return f"{place} were made {how}: analysed again, not kept (--skip-existing)"
    return earlier, [p.name for p in made]


def _older_writer(stored: dict, earlier: Analysis, model: dict) -> str | None:
    """Why the JSON ``stored`` (read as ``earlier``) is an older mmsent's, which says less than this one would: an
    older schema version (1: no sense's own reading, no face box), or fields this version writes that it lacks (a
    segment's speaker, written before subtitles named them; the model's weights_sha256, with ``model`` the facts of
    this run's); None where this version wrote it."""
    if stored["schema_version"] != SCHEMA_VERSION:
        return f"its JSON is schema version {stored['schema_version']}, this mmsent writes {SCHEMA_VERSION}"
    now, summary = earlier.to_dict(), stored.get("summary")
    summary = summary if isinstance(summary, dict) else {}  # derived, never read: whatever it holds loads
    parts = [(stored, now), (stored["media"], now["media"]), (summary, now["summary"]), (earlier.model, model),
             *zip(stored["segments"], now["segments"])]
    lacks = sorted({key for old, new in parts for key in new if key not in old})
    return f"its JSON lacks {', '.join(lacks)}, which this mmsent writes" if lacks else None


def _made_otherwise(earlier: Analysis, model: dict, audio_track: str | None) -> str | None:
    """How the earlier analysis was made otherwise than this run would make it (``model``: this run's facts), or
    None: by another checkpoint, by its weights before they were trained again, with other senses, from another
    audio track, or by a model otherwise set up. A model is told by its weights and set-up, not by where its folder
    is or its name: a checkpoint moved or copied (or mmsent installed elsewhere) made the same results."""
    was = earlier.model
    if was.get("weights_sha256") != model["weights_sha256"]:
        if was.get("checkpoint") == model["checkpoint"]:
            return f"by other weights of {model['name']} (its checkpoint was written again since)"
        return f"by another model ({was.get('checkpoint') or was.get('name')})"
    if was.get("used_branches") != model["used_branches"]:
        before, now = (", ".join(MODALITY_NAMES[m] for m in used) or "none"
                       for used in (was.get("used_branches") or [], model["used_branches"]))
        return f"with other senses ({before}; now {now})"
    if earlier.media.audio_track != audio_track:
        before, now = (track or "the default" for track in (earlier.media.audio_track, audio_track))
        return f"from another audio track ({before}; now {now})"
    differ = sorted(key for key in model if key not in ("checkpoint", "name") and was.get(key) != model[key])
    return f"by a model set up otherwise ({', '.join(differ)})" if differ else None


def _earlier_results(video: Path, out: Path, formats: list[str]) -> list[str]:
    """What an earlier run left where ``video``'s results go: results of another file of the same name
    (read from the JSON's media.path) that this run replaces (also one not found from here: a path relative to the
    folder an earlier run ran in, which --skip-existing can't tell from another file), and formats it does not
    rewrite."""
    paths, lines = output_paths(video, out, list(FORMATS)), []
    try:
        source = Path(json.loads(paths["json"].read_text(encoding="utf-8"))["media"]["path"])
        if "json" in formats and not same_file(source, video):
            gone = "" if source.exists() else " (no longer there)" if source.is_absolute() else (
                " (a path from the folder that run ran in, not found from here: run from that folder to go on with "
                "--skip-existing)")
            lines.append(f"replaces the results of {source} in {paths['json']}{gone}")
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
