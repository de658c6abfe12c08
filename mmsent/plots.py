"""Plotly figures of an Analysis: pure functions, no model, no state.

Every figure takes an :class:`~mmsent.results.Analysis` (fresh or loaded from JSON) and returns a
``go.Figure``. Probabilities are drawn as steps, constant over each segment. Stretches without
speech ("gap" segments) are veiled ("no speech"), hatched where nothing was read there ("nothing read"). An
analysis without segments gives an empty figure that says so. ``FIGURES`` are the five figures the app and the
HTML report show, in their order.
"""

from __future__ import annotations

import functools
import html
import logging
import math
import unicodedata
from datetime import datetime, timedelta

import plotly.graph_objects as go

from mmsent.labels import MODALITIES, MODALITY_NAMES
from mmsent.results import Analysis, SegmentResult, characters, hover_time, one_line

log = logging.getLogger(__name__)

EPOCH = datetime(1970, 1, 1)  # 0:00 of the media on the figures' time axes (plotly dates)

# Fixed colours, so that an emotion looks the same in every figure, export and annotated video. Each pair stays
# apart for the common colour-vision deficiencies (tests/test_plots.py): fear is a light purple, as plotly's
# "#9467bd" looked the same as sadness's blue to a protanope.
EMOTION_COLORS = {
    "anger": "#d62728",
    "disgust": "#8c564b",
    "fear": "#a87de8",
    "joy": "#f2b701",
    "neutral": "#9e9e9e",
    "sadness": "#1f77b4",
    "surprise": "#17becf",
}
SENTIMENT_COLORS = {"negative": "#d62728", "neutral": "#9e9e9e", "positive": "#2ca02c"}
MODALITY_COLORS = {"text": "#4c72b0", "audio": "#dd8452", "video": "#2a9d8f"}  # the face in teal: a green
# beside the voice's orange was the same colour to a protanope
FALLBACK_COLOR = "#444444"  # for a label outside the tables above
NOTE_COLOR = "#666666"  # a figure's note in words ("no segments to show"): grey that reads on white (5.7:1)
TEXT_CONTRAST = 4.5  # words written in a label's colour are darkened to this contrast with white (WCAG AA)
GAP_FILL = "rgba(255, 255, 255, 0.35)"  # "no speech" stretches: a light veil...
GAP_HATCH = "rgba(60, 60, 60, 0.7)"  # ...with dark hatching, visible over any colour
HOVER_WRAP_COLUMNS = 60  # width of a line of the words shown on hover, in Latin letters (a Chinese character: two)
HOVER_MAX_CHARS = 300  # longer transcripts are cut with an ellipsis on hover (as seen: ``characters``)
FIGURE_HEIGHT = 360  # pixels
TITLE_SIZE = 15  # px: the longest title fits a phone's width (at plotly's 17, two ran out of their figures)
TIME_LABELS_BELOW = 6  # px between a time axis and its labels: "0:00" touched the lowest y label at the corner
SHARE_NAMES_BESIDE = 4  # px between the emotion share's bars and their names ("surprise" touched its bar)
LEGEND_KEY_COLOR = "#757575"  # the emotion share's keys: neither bar is one emotion's colour
FUSED_COLOR = "#333333"  # the fused answer's line among the senses' lines
PROB_DECIMALS = 4  # probabilities in the figures' data: hovers show 2 decimals, and 0.0001 of a figure's height is
# under a tenth of a pixel (the 17 digits of a float made an hour's figures a third larger)
LABEL_MIN_SHARE = 1 / 15  # segments at least this share of the timeline show the answer's name
DAY_S = 24 * 3600  # s: from a day of media on, the time axes are ticked at times of their own (``_day_long_ticks``)
DAY_LONG_STEPS_H = (1, 2, 3, 4, 6, 8, 12, 24, 48, 168)  # hours between those ticks: the first that gives...
DAY_LONG_TICKS = 5  # ...at most this many ticks (their labels, such as 24:00:00, fit side by side on a phone)


def emotion_timeline(analysis: Analysis) -> go.Figure:
    """The emotion probabilities over time, one stacked step area per label (sums to 1)."""
    fig = _base(analysis, "Emotion over time", "probability", (0.0, 1.0))
    if not analysis.segments:
        return fig
    x, custom = _steps_x(analysis.segments, _hours(analysis))
    for i, label in enumerate(analysis.emotion_labels):
        fig.add_trace(
            go.Scatter(
                x=x, y=_steps_y(analysis.segments, lambda s, k=label: s.emotion.get(k, 0.0)),
                # no edge lines: an hour's segments are a pixel or two wide each, and every label's edges, the
                # last label's drawn over all, painted the whole figure surprise-blue
                name=label, mode="lines", stackgroup="emotion", line={"width": 0},
                fillcolor=EMOTION_COLORS.get(label, FALLBACK_COLOR),
                line_color=EMOTION_COLORS.get(label, FALLBACK_COLOR),  # the hover's swatch
                customdata=custom if i == 0 else None,  # the hover's words once (see _HOVER_TAIL)
                hovertemplate=f"<b>{label}</b> %{{y:.2f}}" + (f"<br>{_HOVER_TAIL}" if i == 0 else _NO_TAIL),
            )
        )
    _add_gaps(fig, analysis, 0.0, 1.0)
    return fig


def sentiment_timeline(analysis: Analysis) -> go.Figure:
    """Sentiment score p(positive) - p(negative) over time; the 3 probabilities in the legend."""
    fig = _base(analysis, "Sentiment over time", "p(positive) − p(negative)", (-1.0, 1.0))
    if not analysis.segments:
        return fig
    x, custom = _steps_x(analysis.segments, _hours(analysis))
    score = _steps_y(analysis.segments, SegmentResult.sentiment_score.fget)
    for side, keep in (("positive", lambda v: max(v, 0.0)), ("negative", lambda v: min(v, 0.0))):
        fig.add_trace(go.Scatter(  # the area between the score and 0 in the colour of its side
            x=x, y=[0.0 if v is None else keep(v) for v in score], name=f"{side} score", mode="lines",  # no
            # area where nothing was read (a break would be bridged by the fill)
            fill="tozeroy", fillcolor=_with_alpha(SENTIMENT_COLORS[side], 0.25), line={"width": 0},
            hoverinfo="skip", showlegend=False))
    fig.add_trace(
        go.Scatter(
            x=x, y=score, name="score", mode="lines", line={"color": "#333333", "width": 1.5}, customdata=custom,
            hovertemplate=f"<b>score</b> %{{y:.2f}}<br>{_HOVER_TAIL}",  # "+.2f" showed every digit in the page
        )
    )
    for label in analysis.sentiment_labels:
        fig.add_trace(
            go.Scatter(
                x=x, y=_steps_y(analysis.segments, lambda s, k=label: s.sentiment.get(k, 0.0)),
                name=f"p({label})", mode="lines", visible="legendonly",
                line={"color": SENTIMENT_COLORS.get(label, FALLBACK_COLOR), "width": 1, "dash": "dot"},
                hovertemplate=f"<b>p({label})</b> %{{y:.2f}}{_NO_TAIL}",
            )
        )
    fig.add_hline(y=0.0, line={"color": "#888888", "width": 1})
    _add_gaps(fig, analysis, -1.0, 1.0)
    return fig


def emotion_share(analysis: Analysis) -> go.Figure:
    """Per emotion: share of time as the top emotion, and duration-weighted mean probability. Bars across, the
    emotions' names beside them, level, in their order from the top (below upright bars, slanted at a phone's width,
    they ran into each other); no axis title: the legend names both bars."""
    fig = go.Figure(layout=_layout("Emotion share", ""))
    if not analysis.segments:
        return _say_empty(fig)
    if not any(s.read for s in analysis.segments):
        return _say_empty(fig, NOTHING_READ)
    summary = analysis.summary()
    labels = list(analysis.emotion_labels)
    colors = [EMOTION_COLORS.get(k, FALLBACK_COLOR) for k in labels]
    fig.add_trace(
        go.Bar(
            y=labels, x=[summary.emotion_share[k] for k in labels], orientation="h", name="time as top emotion",
            marker={"color": colors}, hovertemplate="%{y}: %{x:.1%} of the time<extra></extra>",
            legendgroup="share", offsetgroup="share", showlegend=False,
        )
    )
    fig.add_trace(
        go.Bar(
            y=labels, x=[summary.emotion_mean[k] for k in labels], orientation="h", name="mean probability",
            # hatched: plotly draws each bar's in the bar's colour. Left to the bars' list, the pattern's background
            # made plotly.js warn "Invalid color specifier: Array(7)" (6 times as a report loaded)
            marker={"color": colors, "opacity": 0.45, "pattern": {"shape": "/", "bgcolor": colors[0]}},
            hovertemplate="%{y}: mean probability %{x:.2f}<extra></extra>",
            legendgroup="mean", offsetgroup="mean", showlegend=False,
        )
    )
    # the legend's keys in grey, each in its bars' place and toggling them: plotly draws a bar's key in its first bar's
    # colour, and both keys were anger's red
    hatched = {"opacity": 0.45, "pattern": {"shape": "/", "bgcolor": LEGEND_KEY_COLOR}}
    for bars, look in zip(fig.data[:2], ({}, hatched)):
        fig.add_trace(go.Bar(y=[None], x=[None], orientation="h", name=bars.name, legendgroup=bars.legendgroup,
                             offsetgroup=bars.offsetgroup, marker={"color": LEGEND_KEY_COLOR, **look},
                             hoverinfo="skip"))
    reversed_ = {"autorange": "reversed", "ticklabelstandoff": SHARE_NAMES_BESIDE}  # the first emotion and bar on top
    fig.update_layout(barmode="group", xaxis={"range": [0, 1], "tickformat": ".0%"}, yaxis=reversed_)
    return fig


def modality_contributions(analysis: Analysis) -> go.Figure:
    """Per segment, stacked steps of how much each modality moved the emotion distribution.

    A contribution is the total-variation distance (0..1) between the emotion probabilities with
    and without that modality. A modality not used for a segment has no step there (None), and one
    used nowhere has no trace; none measured (contributions off), the figure says so; hover lists the
    modalities used. (Steps, not bars: plotly puts the
    ticks of a few bars at their centres, which on a time axis reads as odd times.)
    """
    fig = _base(analysis, "How much each sense moved the answer", "change when left out", None)  # the title
    # fits a phone's width ("... (left out)" ran out of the figure)
    fig.update_layout(showlegend=True)  # plotly hides the legend of one trace: one sense's area had no name
    if not analysis.segments:
        return fig
    segs = analysis.segments
    if not any(s.read for s in segs):
        return _say_empty(fig, NOTHING_READ)
    if not any(s.contributions for s in segs):  # not measured (--no-contributions): no line of zeros
        return _say_empty(fig, "not measured (contributions off)")
    x, custom = _steps_x(segs, _hours(analysis))
    custom = [row + [" + ".join(MODALITY_NAMES[m] for m in s.modalities) or "none"]
              for row, s in zip(custom, _twice(segs))]
    for i, m in enumerate(m for m in MODALITIES if any(m in s.modalities and m in s.contributions for s in segs)):
        fig.add_trace(
            go.Scatter(
                x=x, y=_steps_y(segs, lambda s, m=m: s.contributions.get(m) if m in s.modalities else None),
                name=MODALITY_NAMES[m], mode="lines", stackgroup="contributions", line={"width": 0.5},
                fillcolor=MODALITY_COLORS.get(m, FALLBACK_COLOR), line_color=MODALITY_COLORS.get(m, FALLBACK_COLOR),
                customdata=custom if i == 0 else None,
                hovertemplate=f"<b>{MODALITY_NAMES[m]}</b> %{{y:.2f}}"
                              + (f"<br>used: %{{customdata[3]}}<br>{_HOVER_TAIL}" if i == 0 else _NO_TAIL),
            )
        )
    return fig


def per_modality_timeline(analysis: Analysis) -> go.Figure:
    """Why the answer is what it is: per segment, the probability each sense gives, on its own,
    to the fused top emotion (the answer), beside the fused probability (dashed, named in the
    answer's colour on segments wide enough).

    A sense high on this line backs the answer; a low one disagrees, and hover says what it reads
    instead (its own top emotion and probability). A sense not used in a segment has no point there
    (a break in its line, never a zero); a sense used nowhere has no trace.
    """
    fig = _base(analysis, "What each sense says about the answer", "p(answer's emotion)", (0.0, 1.0))
    segs = analysis.segments
    if not segs:
        return fig
    if not any(s.read for s in segs):
        return _say_empty(fig, NOTHING_READ)
    senses = [m for m in MODALITIES if any(m in s.per_modality for s in segs)]
    if not senses:
        return _say_empty(fig, "no per-sense readings in this analysis")
    hours = _hours(analysis)
    x, _ = _steps_x(segs, hours)
    fused = [[_hover_words(s), hover_time(s.start, hours), hover_time(s.end, hours), s.top_emotion[0],
              _rounded(s.top_emotion[1])] for s in segs]
    wide = LABEL_MIN_SHARE * _time_end(analysis)
    # named a space (no-break, kept by plotly) right of the segment's start: clear of the y axis' ticks
    names = [t for s in segs for t in (("\u00a0" + s.top_emotion[0] if s.read and s.duration >= wide else ""), "")]
    fig.add_trace(go.Scatter(
        x=x, y=_steps_y(segs, lambda s: s.top_emotion[1]), name="the answer", mode="lines+text",  # short (_add_gaps)
        line={"color": FUSED_COLOR, "width": 1.5, "dash": "dash"}, customdata=_twice(fused),
        text=names, textposition="top right",
        textfont={"color": [text_color(EMOTION_COLORS.get(s.top_emotion[0], FALLBACK_COLOR))
                            for s in segs for _ in "ab"]},
        hovertemplate=f"<b>the answer</b>: %{{customdata[3]}} %{{customdata[4]:.2f}}<br>{_HOVER_TAIL}",
    ))
    for m in senses:
        custom = [[label, _rounded(p), s.top_emotion[0]] for s in segs  # the words and times: the fused's
                  for label, p in [s.reading(m) or ("", 0.0)]]
        fig.add_trace(go.Scatter(
            x=x, y=_steps_y(segs, lambda s, m=m: _answer_prob(s, m)), name=MODALITY_NAMES[m],
            mode="lines", line={"color": MODALITY_COLORS.get(m, FALLBACK_COLOR), "width": 2.5},
            customdata=_twice(custom), connectgaps=False,
            hovertemplate=(f"<b>{MODALITY_NAMES[m]}</b> says %{{customdata[0]}} %{{customdata[1]:.2f}}, "
                           f"gives %{{customdata[2]}} (the answer) %{{y:.2f}}{_NO_TAIL}"),
        ))
    _add_gaps(fig, analysis, 0.0, 1.0)
    return fig


def _luminance(rgb: tuple[float, ...]) -> float:
    """WCAG's relative luminance of an sRGB colour (components 0..1)."""
    lin = [c / 12.92 if c <= 0.04045 else ((c + 0.055) / 1.055) ** 2.4 for c in rgb]
    return 0.2126 * lin[0] + 0.7152 * lin[1] + 0.0722 * lin[2]


@functools.lru_cache(maxsize=None)  # a few label colours, asked for twice per segment
def text_color(color: str) -> str:
    """A "#rrggbb" colour darkened, its hue kept, until words written in it read on white (contrast
    TEXT_CONTRAST: joy's yellow, neutral's grey and surprise's cyan are too pale as they are)."""
    rgb = [c / 255 for c in hex_rgb(color)]
    scale = 1.0
    while (1.05 / (_luminance([c * scale for c in rgb]) + 0.05)) < TEXT_CONTRAST:
        scale -= 0.02
    return "#" + "".join(f"{round(c * scale * 255):02x}" for c in rgb)


def _answer_prob(seg: SegmentResult, modality: str) -> float | None:
    """The probability a sense gives to the fused top emotion; None when not used in ``seg``."""
    reading = seg.per_modality.get(modality)
    return reading["emotion"].get(seg.top_emotion[0]) if reading else None


def _twice(rows: list) -> list:
    """Per-segment rows repeated for the 2 step points of each segment."""
    return [r for r in rows for _ in range(2)]


FIGURES = {  # name -> builder: the figures the app and the HTML report show, in their order
    "emotion_timeline": emotion_timeline,
    "per_modality_timeline": per_modality_timeline,
    "sentiment_timeline": sentiment_timeline,
    "emotion_share": emotion_share,
    "modality_contributions": modality_contributions,
}


def all_figures(analysis: Analysis) -> dict[str, go.Figure]:
    """Every figure of FIGURES for one analysis."""
    return {name: build(analysis) for name, build in FIGURES.items()}


# One hover box lists every trace at the time pointed at ("x unified"): the segment's times and words
# come once, with the figure's first trace; the others give their values only, and carry no words (each
# trace's copy of an hour's words added 0.14 MB to the report and to the page).
_HOVER_TAIL = "%{customdata[1]}–%{customdata[2]}<br>%{customdata[0]}<extra></extra>"  # times: ``hover_time``
_NO_TAIL = "<extra></extra>"


def _layout(title: str, ytitle: str) -> go.Layout:
    return go.Layout(
        title={"text": title, "font": {"size": TITLE_SIZE}}, height=FIGURE_HEIGHT, template="plotly_white",
        yaxis={"title": {"text": ytitle}}, margin={"l": 60, "r": 20, "t": 50, "b": 45},
        # at the foot of the figure, where it wraps on a narrow screen without covering the title or the data, and
        # makes room for itself below the axis's labels (placed below the plot by a share of its height, on a
        # phone, where it wraps over many rows and leaves the plot low, it covered them)
        legend={"orientation": "h", "yref": "container", "yanchor": "bottom", "y": 0.0, "xanchor": "left", "x": 0.0,
                "traceorder": "normal"},
    )


def _base(analysis: Analysis, title: str, ytitle: str, yrange) -> go.Figure:
    """A time-axis figure spanning the whole media, empty or not."""
    fig = go.Figure(layout=_layout(title, ytitle))
    end = _time_end(analysis)  # no axis title: the legend is below
    clock = "%-H:%M:%S" if _hours(analysis) else "%-M:%S"  # times as a player shows them: 1:02:03, not "3723 s"
    # a time axis (plotly dates, from EPOCH) picks its steps as one zooms in: 10 min, 1 min, 5 s, 100 ms
    fig.update_xaxes(type="date", range=[axis_time(0.0), axis_time(end)], hoverformat=clock,
                     tickformatstops=[{"dtickrange": [None, 1000], "value": clock + ".%L"},
                                      {"dtickrange": [1000, None], "value": clock}],
                     ticklabelstandoff=TIME_LABELS_BELOW)
    fig.update_layout(hovermode="x unified", hoverdistance=-1)  # anywhere over a segment, not only near its ends
    if end >= DAY_S:
        _day_long_ticks(fig, end)
    if yrange is not None:
        fig.update_yaxes(range=list(yrange))
    return fig if analysis.segments else _say_empty(fig)


def _day_long_ticks(fig: go.Figure, end: float) -> None:
    """The time axis of media of a day or more (``end`` s), ticked at times of its own, as "25:00:00": a plotly
    date's hours start again after a day, so that 25 h read 1:00:00. They are fixed (zoomed in, the axis keeps
    them), every few hours; the hover's header, a date's time too, is left out: each hover gives its segment's
    times."""
    step = 3600 * next((h for h in DAY_LONG_STEPS_H if end // (3600 * h) < DAY_LONG_TICKS),
                       math.ceil(end / 3600 / (DAY_LONG_TICKS - 1)))
    ticks = [i * step for i in range(int(end // step) + 1)]
    fig.update_xaxes(tickmode="array", tickvals=[axis_time(t) for t in ticks],
                     ticktext=[f"{t // 3600}:{t // 60 % 60:02d}:{t % 60:02d}" for t in ticks],
                     unifiedhovertitle={"text": " "})  # blank: "" is plotly's default, the date's time


NOTHING_READ = "nothing was read (no words, voice or face)"


def _say_empty(fig: go.Figure, why: str = "no segments to show") -> go.Figure:
    fig.update_yaxes(visible=False)  # no scale of nothing (plotly's -1 to 4); a time axis stays
    if fig.layout.xaxis.type != "date":
        fig.update_xaxes(visible=False)
    fig.add_annotation(text=why, showarrow=False, xref="paper", yref="paper",
                       x=0.5, y=0.5, font={"size": 16, "color": NOTE_COLOR})
    return fig


def axis_time(seconds: float) -> str:
    """Where a time of the media lies on the figures' time axis: a plotly date, 1970-01-01 being 0:00, written
    out to the millisecond. As a number (milliseconds) the app's plotly.js (Gradio's 3.3) put the points outside
    the axis, drawing each trace as one slope across it; the report's (plotly.py's 4.1) drew them right."""
    return (EPOCH + timedelta(seconds=seconds)).isoformat(sep=" ", timespec="milliseconds")


def _hours(analysis: Analysis) -> bool:
    """Whether the figures' times show hours: from an hour of media on."""
    return _time_end(analysis) >= 3600


def _time_end(analysis: Analysis) -> float:
    ends = [s.end for s in analysis.segments]
    end = max([analysis.media.duration or 0.0, *ends])
    return float(end) if end > 0 else 1.0


def _steps_x(segs: list[SegmentResult], hours: bool) -> tuple[list[str], list[list]]:
    """x at each segment's start and end (2 points per segment) and matching hover data (times: ``hover_time``)."""
    x, custom = [], []
    for s in segs:
        row = [_hover_words(s), hover_time(s.start, hours), hover_time(s.end, hours)]
        x += [axis_time(s.start), axis_time(s.end)]
        custom += [row, row]
    return x, custom


def hex_rgb(color: str) -> tuple[int, ...]:
    """'#rrggbb' -> (r, g, b), 0-255."""
    return tuple(int(color[i:i + 2], 16) for i in (1, 3, 5))


def _with_alpha(color: str, alpha: float) -> str:
    """'#rrggbb' -> 'rgba(r, g, b, alpha)'."""
    r, g, b = hex_rgb(color)
    return f"rgba({r}, {g}, {b}, {alpha})"


def _steps_y(segs: list[SegmentResult], value) -> list[float | None]:
    """value(segment), rounded, at its 2 step points; None (a break) where nothing was read (``SegmentResult.read``).
    (One point a segment, drawn as steps by line_shape="hv", would halve them, but a hover shows the point nearest
    the pointer: over the second half of each segment, the next segment's values.)"""
    return [v for s in segs for v in ((_rounded(value(s)),) * 2 if s.read else (None, None))]


def _rounded(p: float | None) -> float | None:
    return None if p is None else round(p, PROB_DECIMALS)


def _hover_words(seg: SegmentResult) -> str:
    """The segment's words, HTML-escaped and wrapped for plotly's hover box: lines break at spaces, and a word
    too long for a line (Chinese, Japanese: no spaces) between its characters; a long text is cut, never inside a
    character (an emoji of several code points, a letter with its marks). Each line takes its own direction
    (between U+2068 and U+2069, a first-strong isolate), in a box laid out left to right: Arabic and Hebrew read
    right to left with their "!", digits and Latin words where they belong. The speaker, where known, is on a line
    of its own above them (before them on one line, an English name set an Arabic line left to right)."""
    if seg.kind == "gap" or not seg.text.strip():
        return "<i>(no speech)</i>"
    text = one_line(seg.shown_text.removeprefix(seg.said_by), HOVER_MAX_CHARS)
    lines, line = [], ""
    for word in text.split(" "):
        if line and _columns(f"{line} {word}") <= HOVER_WRAP_COLUMNS:
            line = f"{line} {word}"
            continue
        if line:
            lines.append(line)
        line = ""
        for char in characters(word):  # on a line of its own, broken where it is wider than the line
            if line and _columns(line + char) > HOVER_WRAP_COLUMNS:
                lines.append(line)
                line = ""
            line += char
    lines.append(line)
    # quotes as they are: plotly shows &lt; &gt; &amp; as their characters, not &quot;
    speaker = [f"<b>\u2068{html.escape(seg.speaker, quote=False)}\u2069</b>"] if seg.speaker else []
    return "<br>".join(speaker + [f"\u2068{html.escape(ln, quote=False)}\u2069" for ln in lines])


def _columns(text: str) -> int:
    """How wide a text shows, in Latin letters: a Chinese or Japanese character (and an emoji) is two."""
    return sum(2 if unicodedata.east_asian_width(c[0]) in "WF" else 1 for c in characters(text))


def _add_gaps(fig: go.Figure, analysis: Analysis, y0: float, y1: float) -> None:
    """Rectangles over the gap segments (no speech): a light veil where another sense was read there
    (the sound, a face), hatched where nothing was; no trace for a kind that is not there."""
    # short names: a legend that wraps gives each entry the widest one's width, and "no speech, nothing read" kept it
    # to one column on a phone, nine rows under a plot left a few pixels high
    for name, read in (("no speech", True), ("nothing read", False)):
        x, y = [], []
        for s in analysis.segments:
            if s.kind == "gap" and s.read == read:
                x += [*map(axis_time, (s.start, s.start, s.end, s.end, s.start)), None]
                y += [y0, y1, y1, y0, y0, None]
        if x:
            look = ({"fillcolor": GAP_FILL} if read else
                    {"fillpattern": {"shape": "/", "fgcolor": GAP_HATCH, "bgcolor": GAP_FILL, "fillmode": "overlay"}})
            fig.add_trace(go.Scatter(x=x, y=y, name=name, mode="lines", fill="toself", line={"width": 0},
                                     hoverinfo="skip", **look))
