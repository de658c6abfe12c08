"""Export an Analysis: JSON, CSV, SRT, WebVTT, a self-contained HTML report, an annotated video.

Works from an :class:`~mmsent.results.Analysis` alone (plus the input video for the annotated
one), so a saved JSON file exports again without the model. Every file is written atomically
(temporary file in the target folder, then ``os.replace``): a failure leaves no half file.
Subtitle cues hold the words on one line, then a label line ``[joy 0.71 · positive sentiment]``; gap
segments are kept as ``[no speech: neutral 0.52 · neutral sentiment]`` (``include_gaps=False`` drops them);
where the senses have their own readings, a last line says what each one says
``(words: joy · voice: anger)``. The annotated video (``mmsent.overlay``) draws the face box of
each segment.
Formats and columns are documented in docs/schema.md.
"""

from __future__ import annotations

import csv
import html
import io
import logging
import os
import re
from collections.abc import Callable, Iterable
from pathlib import Path

from mmsent.labels import EMOTIONS, MODALITIES, MODALITY_NAMES, SENTIMENTS, TASKS, names_given
from mmsent.overlay import label_line, write_video
from mmsent.results import (Analysis, SegmentResult, checked_writer, counted, dump_json, shown,
                            write_text_atomic)
from mmsent.subtitles import speakers

log = logging.getLogger(__name__)

FORMATS = ("json", "csv", "srt", "vtt", "html", "mp4")
ANNOTATED_SUFFIX = ".annotated.mp4"  # DIR/X.annotated.mp4 for X.mp4, never the input's own name
NAME_MAX_BYTES = 255  # the longest file name most file systems hold (ext4, XFS, btrfs, APFS; NTFS 255 letters)
CSV_DECIMALS = 6  # probabilities and times in the CSV are rounded to this many decimals
SHARE_DECIMALS, SECONDS_DECIMALS = 4, 2  # the summary table's shares and mean sentiment; its durations (0.01 s)
SUMMARY_LEAD = ("file", "status", "reason", "duration (s)", "language", "segments", "segments read", "speakers",
                "overall", "dominant emotion")  # the summary table's columns before the shares (summary_header)
SUMMARY_TAIL = ("mean sentiment", "notes", "json")  # and after them
FORMULA_STARTS = ("=", "+", "-", "@", "\t", "\r")  # a CSV text cell starting so would run in a spreadsheet
CUE_ARROW = re.compile(r"--+>")  # "-->", "--->", ...: in a cue's words, read as a time line; written "->"
FIGURE_CONFIG = {"displaylogo": False,  # the report's figures' toolbar: its own tools, no plotly logo,
                 "showSendToCloud": False}  # nor plotly.js 3's "Share chart..." (uploads the figure, words and all)
# The report's table of segments. Its box scrolls both ways under the header row, which stays in view: a sticky header
# sticks in the box that scrolls the table sideways (at a phone's width), never in the page. The box is at most the
# window's height less the line below it (5em), so that the page never scrolls the header out of view either.
REPORT_COLUMNS = ("time", "kind", "speaker", "words", "emotion", "sentiment", "senses read",  # speaker: only where
                  "each sense says", "contributions")  # the subtitles name them
FIGURE_TEXTS = {  # each figure of plots.FIGURES in words: what it shows and where the report gives its values
    "emotion_timeline": "Each emotion's probability over time, stacked (they add up to 1). The table of segments "
                        "gives each segment's top emotion.",
    "per_modality_timeline": "For each segment, the probability that each sense (words, voice, face) gives on its "
                             "own to the answer's emotion, beside the answer's (dashed). The table's column "
                             "\"each sense says\" gives what each sense reads.",
    "sentiment_timeline": "The sentiment score, p(positive) − p(negative), over time: above 0 positive, below 0 "
                          "negative. The table gives each segment's sentiment.",
    "emotion_share": "For each emotion, the share of the time read where it is the top emotion, and its mean "
                     "probability.",
    "modality_contributions": "For each segment, how much leaving each sense out changes the emotions (0: not at "
                              "all, 1: entirely), stacked. The table's column \"contributions\" gives them.",
}


def write_json(analysis: Analysis, path: str | os.PathLike) -> Path:
    """The analysis as JSON (schema in docs/schema.md), summary included."""
    analysis.to_json(path)
    return Path(path)


def csv_header(analysis: Analysis) -> list[str]:
    """Column names of write_csv, in order."""
    return [
        "start", "end", "kind", "speaker", "text", "translation", "top_emotion", "top_emotion_prob", "top_sentiment",
        "top_sentiment_prob",
        *(f"emotion_{k}" for k in analysis.emotion_labels),
        *(f"sentiment_{k}" for k in analysis.sentiment_labels),
        "modalities",
        *(f"contribution_{m}" for m in MODALITIES),
        *(f"{m}_{t}_{k}" for m, t, k in _reading_columns(analysis)),
        "face_box",
    ]


def _reading_columns(analysis: Analysis) -> list[tuple[str, str, str]]:
    """(modality, task, label) of each per-sense column, in MODALITIES, TASKS and label order."""
    labels = {"emotion": analysis.emotion_labels, "sentiment": analysis.sentiment_labels}
    return [(m, t, k) for m in MODALITIES for t in TASKS for k in labels[t]]


@checked_writer
def write_csv(analysis: Analysis, path: str | os.PathLike) -> Path:
    """One row per segment (UTF-8 with a byte order mark, comma-separated, quoted where needed); see csv_header.

    The mark is what tells Excel the file is UTF-8: without it, Excel reads Chinese, Arabic or a German
    umlaut as mojibake. Python reads it with ``encoding="utf-8-sig"`` (plain ``"utf-8"`` keeps it in the
    first column's name).

    ``modalities`` joins the modalities used with "+"; a contribution is empty for a modality
    not used in that segment, and so is a sense's own reading (``text_emotion_joy``, ...); the top
    labels and their probabilities are empty where nothing was read (``SegmentResult.read``).
    ``face_box`` is ``x0 y0 x1 y1`` (fractions of the frame), empty without a face. ``speaker`` is who says
    the words where the subtitles name them, else empty. ``speaker``, ``text`` and ``translation`` that start as
    a formula would start with a ' (``_text_cell``).
    """
    return _write_table(path, csv_header(analysis), (_csv_row(analysis, s) for s in analysis.segments))


def _csv_row(analysis: Analysis, s: SegmentResult) -> list[str]:
    """The CSV's row of segment ``s`` (csv_header)."""
    tops = [s.top_emotion[0], _num(s.top_emotion[1]), s.top_sentiment[0], _num(s.top_sentiment[1])]
    return [
        _num(s.start), _num(s.end), s.kind, _text_cell(s.speaker), _text_cell(s.text), _text_cell(s.translation),
        *(tops if s.read else [""] * 4),
        *(_num(s.emotion.get(k, 0.0)) for k in analysis.emotion_labels),
        *(_num(s.sentiment.get(k, 0.0)) for k in analysis.sentiment_labels),
        "+".join(s.modalities),
        *(_num(s.contributions[m]) if m in s.contributions else "" for m in MODALITIES),
        *(_num(s.per_modality[m][t][k]) if m in s.per_modality else ""
          for m, t, k in _reading_columns(analysis)),
        " ".join(map(_num, s.face_box)) if s.face_box else "",
    ]


def _write_table(path: str | os.PathLike, header: list[str], rows: Iterable[list[str]]) -> Path:
    """A CSV file (UTF-8 with a byte order mark, comma-separated, quoted where needed), written atomically."""
    buf = io.StringIO()
    writer = csv.writer(buf, lineterminator="\n")
    writer.writerow(header)
    writer.writerows(rows)
    return write_text_atomic(path, "\ufeff" + buf.getvalue())


def summary_row(file: str | os.PathLike, analysis: Analysis | None, status: str, reason: str = "",
                json_path: str | os.PathLike | None = None) -> dict[str, str]:
    """One input's row of the summary table (``write_summary``): its ``file`` as given, its ``status`` (``analysed``,
    ``done before``, ``failed``, ...), the ``reason`` it was not analysed, and, from its ``analysis`` where there is
    one, its duration, language (the ISO code, as in the JSON: one value per language for a spreadsheet's filter),
    segments, who speaks where the subtitles name them, overall emotion, each emotion's and sentiment's share of the
    time read, mean sentiment, number of notes,
    and the ``json_path`` of its result. A row is made as each file ends, not its Analysis kept: a run of a thousand
    hour-long files would hold gigabytes of segments for a table of kilobytes."""
    row = {"file": _text_cell(shown(file)), "status": status, "reason": _text_cell(reason)}
    if analysis is None:
        return row
    summary, read = analysis.summary(), sum(s.read for s in analysis.segments)
    row |= {"duration (s)": _num(analysis.media.duration, SECONDS_DECIMALS),
            "language": _text_cell(analysis.language or ""), "segments": str(len(analysis.segments)),
            "segments read": str(read), "speakers": _text_cell(speakers(analysis.speakers)),
            "overall": summary.overall or "nothing read",
            "dominant emotion": summary.dominant_emotion or ""}
    if read:  # nothing read: no shares, rather than zeros that a spreadsheet's mean would count
        row |= {f"share {k}": _num(v, SHARE_DECIMALS) for k, v in summary.emotion_share.items()}
        row |= {f"share {k} sentiment": _num(v, SHARE_DECIMALS) for k, v in summary.sentiment_share.items()}
        row["mean sentiment"] = _num(summary.mean_sentiment, SHARE_DECIMALS)
    return row | {"notes": str(len(analysis.notes)), "json": _text_cell(shown(json_path or ""))}


def _summary_header(rows: Iterable[dict[str, str]]) -> list[str]:
    """The summary table's columns: file, status, reason, duration (s), language, segments, segments read, overall,
    dominant emotion, ``share <emotion>`` for each of EMOTIONS, ``share <sentiment> sentiment`` for each of SENTIMENTS
    (then those of labels that a model of other labels named), mean sentiment, notes, json."""
    shares = [*(f"share {k}" for k in EMOTIONS), *(f"share {k} sentiment" for k in SENTIMENTS)]
    return list(dict.fromkeys([*SUMMARY_LEAD, *shares, *(k for row in rows for k in row if k.startswith("share ")),
                               *SUMMARY_TAIL]))


def write_summary(rows: Iterable[dict[str, str]], path: str | os.PathLike) -> Path:
    """The summary table of a run: one row per input (``summary_row``), in the order given, written as the per-file
    CSV is (UTF-8 with a byte order mark, atomically); a column that a row lacks is empty there (a failed file's
    numbers)."""
    rows = list(rows)
    header = _summary_header(rows)
    return _write_table(path, header, ([row.get(k, "") for k in header] for row in rows))


@checked_writer
def write_srt(analysis: Analysis, path: str | os.PathLike, include_gaps: bool = True) -> Path:
    """SubRip subtitles: one cue per segment, words then the label line; the speaker where known alone on the line
    above the words, as captions for the deaf and hard of hearing name one (``Ann:``, the name as the subtitles gave
    it), which ``--subtitles`` reads back as the speaker in mmsent's own files."""
    blocks = []
    for i, s in enumerate(_cue_segments(analysis, include_gaps), start=1):
        times = f"{timestamp(s.start, ',')} --> {timestamp(s.end, ',')}"
        named = [f"{_one_line(s.speaker)}:"] if s.speaker and s.kind != "gap" else []
        blocks.append("\n".join([str(i), times, *named, *_cue_lines(s)]))
    return write_text_atomic(path, "\n\n".join(blocks) + "\n" if blocks else "")


@checked_writer
def write_vtt(analysis: Analysis, path: str | os.PathLike, include_gaps: bool = True) -> Path:
    """WebVTT subtitles: like write_srt, with '.' before the milliseconds, escaped text, and the speaker where
    known in a voice tag before the words (``<v Bob>``), as players show it and ``--subtitles`` reads it."""
    blocks = ["WEBVTT"]
    for i, s in enumerate(_cue_segments(analysis, include_gaps), start=1):
        times = f"{timestamp(s.start, '.')} --> {timestamp(s.end, '.')}"
        lines = [html.escape(ln, quote=False) for ln in _cue_lines(s)]
        if s.speaker and s.kind != "gap":
            lines[0] = f"<v {html.escape(_one_line(s.speaker), quote=False)}>{lines[0]}"
        blocks.append("\n".join([str(i), times, *lines]))
    return write_text_atomic(path, "\n\n".join(blocks) + "\n")


def timestamp(seconds: float, sep: str) -> str:
    """'HH:MM:SS{sep}mmm' for SRT (sep ',') and WebVTT (sep '.'); negative times clamp to 0."""
    ms = max(0, round(seconds * 1000))
    h, rest = divmod(ms, 3_600_000)
    m, rest = divmod(rest, 60_000)
    s, ms = divmod(rest, 1000)
    return f"{h:02d}:{m:02d}:{s:02d}{sep}{ms:03d}"


@checked_writer
def write_html(analysis: Analysis, path: str | os.PathLike) -> Path:
    """A self-contained report: the plots (plotly.js inlined, works offline), notes, segments."""
    from mmsent import plots  # plotly is only needed here

    figures = [_figure(fig, _figure_text(analysis, name), include_plotlyjs=(i == 0))
               for i, (name, fig) in enumerate(plots.all_figures(analysis).items())]
    return write_text_atomic(path, _html_page(analysis, figures))


def _figure(fig, text: str, include_plotlyjs: bool) -> str:
    """One plot of the report: a figure named by its title, with what it shows in words beneath it (a screen reader
    reads plotly's drawing as scattered ticks and legend words)."""
    div = fig.to_html(full_html=False, include_plotlyjs=include_plotlyjs, config=FIGURE_CONFIG)
    return (f'<figure aria-label="{html.escape(fig.layout.title.text)}">{div}'
            f"<figcaption>{html.escape(text, quote=False)}</figcaption></figure>")


def _figure_text(analysis: Analysis, name: str) -> str:
    """A figure's text alternative (FIGURE_TEXTS); the emotion share's with its figures, most frequent first."""
    from mmsent.plots import NOTHING_READ

    if not any(s.read for s in analysis.segments):
        return f"{FIGURE_TEXTS[name]} Here {NOTHING_READ}."
    if name == "modality_contributions" and not any(s.contributions for s in analysis.segments):
        return ("How much leaving each sense out changes the emotions: not measured, as the analysis was made "
                "without (--no-contributions, or contributions=False).")
    summary = analysis.summary() if name == "emotion_share" else None
    if summary is None or summary.dominant_emotion is None:
        return FIGURE_TEXTS[name]
    shares = sorted(summary.emotion_share.items(), key=lambda kv: -kv[1])
    return FIGURE_TEXTS[name][:-1] + ": " + ", ".join(
        f"{k} {share:.0%} ({summary.emotion_mean[k]:.2f})" for k, share in shares) + "."


def formats_named(formats: list[str] | str, picture: bool = True) -> list[str]:
    """The FORMATS that ``formats`` names (a list, or one string as on the command line: ``"json, CSV"``; ``"all"``:
    every one, the annotated video only where there is a ``picture``), in lower case; ValueError where it names one
    unknown, or none."""
    named = names_given(formats)  # "json,csv", not the letters j, s, o, n
    if named is None:  # b"json", None: not an AttributeError from below
        raise TypeError(f"formats are named as a string ('json,csv') or a list of strings, not {formats!r:.80}")
    wanted = [f.strip().lower().lstrip(".") for f in named if f.strip()]
    if unknown := [f for f in wanted if f not in (*FORMATS, "all")]:  # also beside "all" (all,jsno: a typo)
        raise ValueError(f"unknown export format(s) {', '.join(unknown)}: choose from {', '.join(FORMATS)}, or all")
    if not wanted:
        raise ValueError(f"no export format named: choose from {', '.join(FORMATS)}, or all")
    return [f for f in FORMATS if picture or f != "mp4"] if "all" in wanted else wanted


def write(analysis: Analysis, out_dir: str | os.PathLike, formats: list[str] | str = "json",
          video_path: str | os.PathLike | None = None,
          progress: Callable[[int, int], None] | None = None) -> list[Path]:
    """Write FORMATS into ``out_dir`` as ``X.json``, ``X.csv``, ... ``X.annotated.mp4`` for ``X.mp4``.

    ``formats``: a list (``["json", "csv"]``) or, as on the command line, one string (``"json,csv"``;
    ``"all"``: every format, the annotated video where the file has a picture); the JSON alone by default, as
    there. The annotated video reads ``video_path``, else ``analysis.media.path``; ``progress(frames written, frames
    in all)`` follows its drawing.
    An unknown format, or an analysis that would not load back (``Analysis.check``), raises ValueError before
    anything is written.
    """
    wanted = formats_named(formats, analysis.media.has_video)
    checked = analysis.check()  # one built or edited by hand: refused as from_json would, before anything is written
    named = video_path if video_path is not None else analysis.media.path
    source = Path(named)
    if not source.stem:  # "" or "/": the results would be hidden files named ".json"
        raise ValueError(f"the results can't be named after {os.fspath(named)!r}, which names no file: set "
                         "analysis.media.path to the file's name (or give video_path)")
    paths = output_paths(source, out_dir, wanted)
    mine = [path for path in paths.values() if same_file(path, source)]
    if mine:  # clip.csv analysed into its own folder
        raise ValueError(f"the results would overwrite the input itself ({mine[0]}): write them into another folder")
    if long := too_long(paths):  # said before any is written
        raise ValueError(long)
    Path(out_dir).mkdir(parents=True, exist_ok=True)
    writers = {"csv": write_csv, "srt": write_srt, "vtt": write_vtt, "html": write_html}
    written = []
    for fmt, path in paths.items():  # each format once, in the order asked
        if fmt == "json":
            dump_json(checked, path)  # as write_json writes it, from the dict checked above
        elif fmt == "mp4":
            write_video.__wrapped__(analysis, source, path, progress)  # checked above, once, as the others
        else:
            writers[fmt].__wrapped__(analysis, path)  # the writer without its check: checked above, once
        written.append(path)
        log.info("wrote %s", path)
    return written


def output_paths(source: str | os.PathLike, out_dir: str | os.PathLike, formats: list[str]) -> dict[str, Path]:
    """Where ``write`` puts each format (each once, in the order given) for the input ``source``:
    ``out_dir/X.json``, ... ``X.annotated.mp4`` for ``X.mp4``."""
    stem, out_dir = Path(source).stem, Path(out_dir)
    return {fmt: out_dir / (f"{stem}{ANNOTATED_SUFFIX}" if fmt == "mp4" else f"{stem}.{fmt}")
            for fmt in dict.fromkeys(formats)}


def too_long(paths: dict[str, Path]) -> str | None:
    """What is wrong where a result's name is longer than file systems hold (``NAME_MAX_BYTES``: an input's name
    of 242 bytes or more gives an annotated video's that no file system takes); None where every name fits."""
    long = next((p.name for p in paths.values() if len(os.fsencode(p.name)) > NAME_MAX_BYTES), None)
    return long and (f"its results' names would be too long for the file system ({long!r} is "
                     f"{len(os.fsencode(long))} bytes, at most {NAME_MAX_BYTES}): give the file a shorter name")


def same_file(a: Path, b: Path) -> bool:
    """Whether two paths name one file (``a/../b.mp4`` and ``b.mp4``); a path that does not exist is only itself."""
    try:
        return a == b or a.samefile(b)
    except OSError:
        return False


def _text_cell(text: str) -> str:
    """A text cell that a spreadsheet shows and never runs: one that starts as a formula would (= + - @, a tab
    or a carriage return; subtitles or speech can say anything) gets a leading ' (OWASP's CSV injection advice).
    Its line breaks are written as the file's own ("\n"), which the csv module quotes: a lone carriage return,
    which it does not, ended the row there for a reader."""
    text = "'" + text if text.startswith(FORMULA_STARTS) else text
    return text.replace("\r\n", "\n").replace("\r", "\n")


def _num(x: float, decimals: int = CSV_DECIMALS) -> str:
    return repr(round(float(x), decimals))


def _cue_segments(analysis: Analysis, include_gaps: bool) -> list[SegmentResult]:
    return [s for s in analysis.segments if include_gaps or s.kind != "gap"]


def _cue_lines(seg: SegmentResult) -> list[str]:
    """The words on one line (no blank line or '-->' that would end the cue), their translation on the next
    where there is one, then the label."""
    readings = seg.readings_text(probabilities=False)
    tail = [f"({readings})"] if readings else []
    if seg.kind == "gap":
        return [f"[no speech: {label_line(seg)}]", *tail]
    lines = [_one_line(text) for text in (seg.text, seg.in_english)]
    return [line for line in lines if line] + [f"[{label_line(seg)}]", *tail]


def _one_line(text: str) -> str:
    """``text`` as a line of a cue: spaces collapsed (no line break, no blank line to end the cue), "-->" (and "--->")
    written "->" (a time line)."""
    return CUE_ARROW.sub("->", " ".join(text.split()))


def _segment_row(seg: SegmentResult, language: str | None, speakers: bool) -> str:
    """One row of the report's table of segments, with a speaker's cell where ``speakers`` (the subtitles name
    them). The words are marked with their language (``lang``: the right glyphs for Chinese or Japanese) and take
    their own direction (``dir="auto"``: Arabic and Hebrew right to left); their translation beside them is
    English, left to right. The speaker's name takes its own direction too (``bdi``), in a cell as wide as it
    needs (the words' cells are at least 12em wide)."""
    lang = f' lang="{html.escape(language)}"' if language else ""
    english = f' <span lang="en" dir="ltr">{html.escape(seg.in_english)}</span>' if seg.translation else ""
    tops = ((f"{seg.top_emotion[0]} {seg.top_emotion[1]:.2f}", f"{seg.top_sentiment[0]} {seg.top_sentiment[1]:.2f}")
            if seg.read else ("nothing read", ""))
    span = f"{timestamp(seg.start, '.')}–{timestamp(seg.end, '.')}"  # the row's header, read with each of its cells
    contributions = ", ".join(f"{MODALITY_NAMES[m]} {v:.2f}" for m, v in seg.contributions.items())
    after = _cells([*tops, ", ".join(MODALITY_NAMES[m] for m in seg.modalities), seg.readings_text(), contributions])
    kind = _cells([seg.kind]) + (f"<td><bdi>{html.escape(seg.speaker)}</bdi></td>" if speakers else "")  # not td[dir]
    return (f'<tr><th scope="row">{span}</th>{kind}<td dir="auto"{lang}>{html.escape(seg.text)}'
            f"{english}</td>{after}</tr>")


def _cells(texts: list[str]) -> str:
    return "".join(f"<td>{html.escape(t)}</td>" for t in texts)


def _speaker_item(analysis: Analysis, name: str) -> str:
    """The report's line of what one speaker's segments say, the name in its own direction (``bdi``): an Arabic name
    took the numbers after it into its own right-to-left run ("0.2 :ليلى s, mostly joy"), and a name holding a
    right-to-left override turned the whole line round."""
    return f"<li><bdi>{html.escape(name)}</bdi>: {html.escape(analysis.speaker_summary(name))}</li>"


def _html_page(analysis: Analysis, figures: list[str]) -> str:
    media, summary = analysis.media, analysis.summary()
    name = html.escape(Path(media.path).name)
    facts = [
        f"{media.duration:.1f} s", counted(len(analysis.segments), "segment"),
        f"language: {analysis.language_text}",
        f"transcript: {analysis.transcript_source or 'none'}",
        f"model: {analysis.model.get('name') or 'unnamed'}",
    ]
    if summary.dominant_emotion is not None:
        facts.append(f"overall: {summary.overall} (mean probability {summary.emotion_mean[summary.dominant_emotion]:.2f})")
        facts.append(f"mean sentiment: {summary.mean_sentiment:+.2f}")
    notes = "".join(f"<li>{html.escape(n)}</li>" for n in analysis.notes)
    by_speaker = "".join(_speaker_item(analysis, name) for name in analysis.speakers)
    speakers = bool(by_speaker)
    columns = [c for c in REPORT_COLUMNS if c != "speaker" or speakers]
    rows = "".join(_segment_row(s, analysis.language, speakers) for s in analysis.segments)
    return f"""<!DOCTYPE html>
<html lang="en"><head><meta charset="utf-8"><title>mmsent: {name}</title>
<meta name="viewport" content="width=device-width, initial-scale=1">
<style>body{{font-family:sans-serif;margin:2em;max-width:1100px}}
table{{border-collapse:collapse;font-size:90%}}
td,th{{border:1px solid #ccc;padding:3px 6px;vertical-align:top}}tbody th{{font-weight:normal;text-align:start}}
figure{{margin:0 0 1.5em}}figcaption,.facts{{color:#555}}h1,.facts,li{{overflow-wrap:anywhere}}
.scrolls{{overflow:auto;max-height:calc(100vh - 5em)}}td[dir]{{overflow-wrap:anywhere;min-width:12em}}
thead th{{position:sticky;top:0;z-index:1;background:#fff;box-shadow:inset 0 -1px #ccc}}</style></head><body>
<main><h1>mmsent: {name}</h1>
<p class="facts">{html.escape(" · ".join(facts))}</p>
{"<h2>By speaker</h2><ul>" + by_speaker + "</ul>" if by_speaker else ""}
{"<h2>Notes</h2><ul>" + notes + "</ul>" if notes else ""}
<h2>Plots</h2>
{"".join(figures)}
<h2 id="segments">Segments</h2>
<div class="scrolls" role="region" aria-labelledby="segments" tabindex="0"><table aria-labelledby="segments"><thead><tr>
{"".join(f'<th scope="col">{h}</th>' for h in columns)}</tr></thead><tbody>{rows}</tbody></table></div>
<p class="facts">schema version {analysis.schema_version}</p></main>
</body></html>
"""
