"""Plotly figures built from an Analysis alone."""


import html
import itertools
import math
import re

import plotly.graph_objects as go
import pytest
from test_results import WORLD_TEXTS, make_analysis, with_gap_unread

from mmsent import plots
from mmsent.labels import EMOTIONS, MODALITIES, MODALITY_NAMES, SENTIMENTS
from mmsent.results import Analysis, MediaFacts


def _rounded(p: float) -> float:
    return round(p, plots.PROB_DECIMALS)


def test_emotion_timeline_steps_follow_the_segments():
    a = make_analysis(5, duration=12.0)
    fig = plots.emotion_timeline(a)
    names = [t.name for t in fig.data]
    assert names == [*EMOTIONS, "no speech"]  # one gap segment, so the shading trace is there
    joy = fig.data[EMOTIONS.index("joy")]
    assert len(joy.x) == 2 * len(a.segments)
    for k, seg in enumerate(a.segments):
        assert joy.x[2 * k] == plots.axis_time(seg.start) and joy.x[2 * k + 1] == plots.axis_time(seg.end)
        assert joy.y[2 * k] == joy.y[2 * k + 1] == _rounded(seg.emotion["joy"])
    assert list(fig.layout.xaxis.range) == [plots.axis_time(0.0), plots.axis_time(12.0)]
    assert joy.fillcolor == plots.EMOTION_COLORS["joy"]


def test_gap_shading_covers_exactly_the_gap_segments():
    a = make_analysis(5)
    gap = next(s for s in a.segments if s.kind == "gap")
    shade = plots.emotion_timeline(a).data[-1]
    xs = [x for x in shade.x if x is not None]
    assert min(xs) == plots.axis_time(gap.start) and max(xs) == plots.axis_time(gap.end)
    assert shade.name == "no speech" and not shade.fillpattern.shape  # a sense was read there: a veil, no hatching
    with_gap_unread(a)
    shade = plots.emotion_timeline(a).data[-1]
    assert shade.name == "nothing read" and shade.fillpattern.shape == "/"  # (a gap: no speech either)
    a.segments = [s for s in a.segments if s.kind != "gap"]
    assert [t.name for t in plots.emotion_timeline(a).data] == list(EMOTIONS)


def test_hover_shows_the_escaped_words():
    a = make_analysis(4)
    a.segments[0].text = "I <really> like it & more"
    trace = plots.emotion_timeline(a).data[0]
    assert "I &lt;really&gt; like it &amp; more" in trace.customdata[0][0]
    assert "(no speech)" in trace.customdata[2][0]  # segment 1 is the gap
    assert "customdata[0]" in trace.hovertemplate


def _hover_lines(a: Analysis, text: str) -> list[str]:
    """The lines of words the emotion timeline's hover shows for ``text``, each without its isolate marks."""
    a.segments[0].text = text
    lines = plots.emotion_timeline(a).data[0].customdata[0][0].split("<br>")
    assert all(ln.startswith("\u2068") and ln.endswith("\u2069") for ln in lines)
    return [ln[1:-1] for ln in lines]


def test_hover_breaks_words_without_spaces_between_characters():
    """Chinese and Japanese put no spaces between words: a long sentence was one line as wide as the screen. It
    breaks between characters, each of them as wide as two Latin letters; words with spaces break at spaces."""
    a = make_analysis(2)
    said = WORLD_TEXTS["zh"] * 3
    lines = _hover_lines(a, said)
    assert "".join(lines) == said and len(lines) == 3  # nothing lost, 87 characters of two columns in lines of 60
    assert all(len(ln) <= plots.HOVER_WRAP_COLUMNS // 2 for ln in lines)
    said = " ".join([WORLD_TEXTS["de"]] * 4)
    lines = _hover_lines(a, said)
    assert " ".join(lines) == said and len(lines) == 3 and all(len(ln) <= plots.HOVER_WRAP_COLUMNS for ln in lines)


def test_hover_cuts_a_long_text_between_characters_as_seen():
    """A text over HOVER_MAX_CHARS is cut with "…": a cut by code points left a woman of a family emoji, one
    letter of a flag or a Hindi syllable without its nasal mark."""
    a = make_analysis(2)
    for last in ("👩‍👩‍👧‍👦", "🇩🇪", "हूँ"):
        said = "x" * (plots.HOVER_MAX_CHARS - 2) + last * 3
        assert "".join(_hover_lines(a, said)) == said[: plots.HOVER_MAX_CHARS - 2] + last + "…"


def test_hover_lines_take_their_own_direction():
    """Plotly lays the hover box out left to right: an Arabic or Hebrew line showed its "!" on the right, and a
    Latin word or number in it on the wrong side. Each line is a first-strong isolate (U+2068 ... U+2069)."""
    a = make_analysis(2)
    for text in (WORLD_TEXTS["ar"], WORLD_TEXTS["he"], WORLD_TEXTS["hi"], WORLD_TEXTS["emoji"]):
        assert _hover_lines(a, text) == [text]


def test_hover_names_the_speaker_on_a_line_of_its_own():
    """"Ann: " before an Arabic line made the line's first strong letter Latin: the line was laid out left to
    right, the Arabic words after the name on its right. The speaker is on a line of their own above the words."""
    a = make_analysis(2)
    a.segments[0].speaker = "Ann <1>"
    lines = plots.emotion_timeline(a).data[0].customdata[0][0].split("<br>")
    assert lines == ["<b>\u2068Ann &lt;1&gt;\u2069</b>"] + [f"\u2068{html.escape(a.segments[0].text)}\u2069"]
    a.segments[0].text = WORLD_TEXTS["ar"]
    assert plots.emotion_timeline(a).data[0].customdata[0][0].split("<br>")[1:] == [f"\u2068{WORLD_TEXTS['ar']}\u2069"]


def test_sentiment_timeline_score():
    a = make_analysis(4)
    fig = plots.sentiment_timeline(a)
    assert [t.name for t in fig.data] == ["positive score", "negative score", "score",
                                          *(f"p({k})" for k in SENTIMENTS), "no speech"]
    above, below, score = fig.data[:3]
    assert "44, 160, 44" in above.fillcolor and "214, 39, 40" in below.fillcolor  # green above 0, red below
    for k, seg in enumerate(a.segments):
        expected = _rounded(seg.sentiment["positive"] - seg.sentiment["negative"])
        assert score.y[2 * k] == expected
        assert (above.y[2 * k], below.y[2 * k]) == ((max(expected, 0), min(expected, 0)) if seg.read else (0, 0))
    assert list(fig.layout.yaxis.range) == [-1.0, 1.0]


def test_emotion_share_bars_sum_to_one():
    a = make_analysis(8, seed=3)
    fig = plots.emotion_share(a)
    share, mean, *keys = fig.data
    assert list(share.y) == list(EMOTIONS) and share.orientation == "h"  # names level beside bars: phone-wide too
    assert sum(share.x) == pytest.approx(1.0) and sum(mean.x) == pytest.approx(1.0)
    assert fig.layout.yaxis.autorange == "reversed"  # anger on top, as in the other figures' legends
    assert list(share.marker.color) == [plots.EMOTION_COLORS[k] for k in EMOTIONS]
    # the legend's keys: both were anger's red (plotly draws a bar's key in its first bar's colour). One grey key per
    # kind of bar, plain and hatched, in the bars' places (not two more bars' room) and toggling them
    assert [t.name for t in fig.data if t.showlegend is not False] == ["time as top emotion", "mean probability"]
    assert [k.marker.color for k in keys] == [plots.LEGEND_KEY_COLOR] * 2 and not keys[0].marker.pattern.shape
    assert keys[1].marker.pattern.shape == "/" and not any(k.x[0] for k in keys)
    assert [(k.legendgroup, k.offsetgroup) for k in keys] == [(b.legendgroup, b.offsetgroup) for b in (share, mean)]


def test_modality_contributions_only_for_used_modalities():
    a = make_analysis(6)
    fig = plots.modality_contributions(a)
    assert [t.name for t in fig.data] == ["words", "voice", "face"]
    assert {t.stackgroup for t in fig.data} == {"contributions"}
    video = fig.data[MODALITIES.index("video")]
    for k, seg in enumerate(a.segments):
        assert list(video.x[2 * k:2 * k + 2]) == [plots.axis_time(seg.start), plots.axis_time(seg.end)]
        used = "video" in seg.modalities
        assert list(video.y[2 * k:2 * k + 2]) == [_rounded(seg.contributions["video"]) if used else None] * 2
        assert fig.data[0].customdata[2 * k][3] == " + ".join(MODALITY_NAMES[m] for m in seg.modalities)
    for seg in a.segments:  # a sense used nowhere has no trace (and no name in the legend)
        seg.modalities = [m for m in seg.modalities if m != "video"]
    assert [t.name for t in plots.modality_contributions(a).data] == ["words", "voice"]
    for seg in a.segments:  # one sense: its area still has its name in the legend (plotly hides a lone trace's)
        seg.modalities = [m for m in seg.modalities if m == "text"]
    fig = plots.modality_contributions(a)
    assert [t.name for t in fig.data] == ["words"] and fig.layout.showlegend is True
    for seg in a.segments:  # not measured (--no-contributions): said, not drawn as zeros
        seg.contributions = {}
    fig = plots.modality_contributions(a)
    assert not fig.data and [n.text for n in fig.layout.annotations] == ["not measured (contributions off)"]
    for seg in a.segments:  # nothing read anywhere (a recording without speech or face): said so, not "off"
        seg.modalities = []
    for fig in (plots.modality_contributions(a), plots.emotion_share(a)):
        assert not fig.data and [n.text for n in fig.layout.annotations] == [plots.NOTHING_READ]


def test_colours_are_fixed_and_distinct():
    assert set(plots.EMOTION_COLORS) == set(EMOTIONS)
    assert len(set(plots.EMOTION_COLORS.values())) == len(EMOTIONS)
    assert set(plots.SENTIMENT_COLORS) == set(SENTIMENTS)


# How a dichromat sees linear RGB: Machado, Oliveira and Fernandes (2009), severity 1
DICHROMATS = {
    "protanopia": ((0.152286, 1.052583, -0.204868), (0.114503, 0.786281, 0.099216), (-0.003882, -0.048116, 1.051998)),
    "deuteranopia": ((0.367322, 0.860646, -0.227968), (0.280085, 0.672501, 0.047413), (-0.011820, 0.042940, 0.968881)),
    "tritanopia": ((1.255528, -0.076749, -0.178779), (-0.078411, 0.930809, 0.147602), (0.004733, 0.691367, 0.303900)),
}
MIN_DELTA_E = 12.0  # CIELAB distance (ΔE*76) between two colours of a figure, as seen (2.3: just noticeable)


def _seen(color: str, matrix) -> tuple[float, float, float]:
    """A "#rrggbb" colour in CIELAB (D65) as seen through ``matrix`` (None: normal vision)."""
    rgb = [c / 255 for c in plots.hex_rgb(color)]
    lin = [c / 12.92 if c <= 0.04045 else ((c + 0.055) / 1.055) ** 2.4 for c in rgb]
    if matrix:
        lin = [min(max(sum(m * c for m, c in zip(row, lin)), 0.0), 1.0) for row in matrix]
    r, g, b = lin
    xyz = ((0.4124 * r + 0.3576 * g + 0.1805 * b) / 0.95047, 0.2126 * r + 0.7152 * g + 0.0722 * b,
           (0.0193 * r + 0.1192 * g + 0.9505 * b) / 1.08883)
    fx, fy, fz = (t ** (1 / 3) if t > 0.008856 else 7.787 * t + 16 / 116 for t in xyz)
    return 116 * fy - 16, 500 * (fx - fy), 200 * (fy - fz)


@pytest.mark.parametrize("colors", [plots.EMOTION_COLORS, {**plots.MODALITY_COLORS, "fused": plots.FUSED_COLOR}],
                         ids=["emotions", "senses"])
def test_colours_stay_apart_for_colour_blind_eyes(colors):
    """Each emotion (and each sense) keeps a colour of its own for the common colour-vision deficiencies: fear's
    purple was sadness's blue to a protanope (ΔE 5.7), the face's green the voice's orange (7.3). (Sentiment's red
    and green look alike to a deuteranope; the score's side of 0 tells them apart.)"""
    for vision, matrix in (("normal", None), *DICHROMATS.items()):
        for a, b in itertools.combinations(colors, 2):
            distance = math.dist(_seen(colors[a], matrix), _seen(colors[b], matrix))
            assert distance >= MIN_DELTA_E, f"{a} and {b}: ΔE {distance:.1f} for {vision} vision"


def test_empty_analysis_gives_empty_figures_with_a_note():
    a = Analysis(MediaFacts("x.mp4", 7.5, True, True), [], {"name": "t"})
    for name, fig in plots.all_figures(a).items():
        assert isinstance(fig, go.Figure), name
        assert len(fig.data) == 0, name
        note = fig.layout.annotations[0]
        assert "no segments" in note.text, name
        contrast = 1.05 / (plots._luminance([c / 255 for c in plots.hex_rgb(note.font.color)]) + 0.05)
        assert contrast >= plots.TEXT_CONTRAST, (name, note.font.color)  # it read 3.5:1 on white
    assert list(plots.emotion_timeline(a).layout.xaxis.range) == [plots.axis_time(0.0), plots.axis_time(7.5)]


def test_one_segment():
    a = make_analysis(1, duration=3.0)
    figs = plots.all_figures(a)
    assert len(figs["emotion_timeline"].data) == len(EMOTIONS)  # no gap
    assert len(figs["emotion_timeline"].data[0].x) == 2
    assert max(figs["emotion_share"].data[0].x) == pytest.approx(1.0)


def test_500_segments_give_two_steps_each():
    # (their time is measured by the benchmark: `python -m bench.analyze`'s export stage draws them)
    a = make_analysis(500, duration=1500.0, seed=5)
    figs = plots.all_figures(a)
    assert len(figs["emotion_timeline"].data[0].x) == 1000
    assert len(figs["modality_contributions"].data[0].x) == 1000


def test_per_modality_timeline_shows_each_sense_on_the_answer():
    a = make_analysis(6, duration=12.0)
    fig = plots.per_modality_timeline(a)
    assert [t.name for t in fig.data] == ["the answer", "words", "voice", "face", "no speech"]
    fused, words, voice, face = fig.data[:4]
    for k, seg in enumerate(a.segments):
        answer, p = seg.top_emotion
        assert fused.y[2 * k] == fused.y[2 * k + 1] == _rounded(p)
        assert list(fused.customdata[2 * k][3:]) == [answer, _rounded(p)]
        assert fused.text[2 * k] in ("\u00a0" + answer, "") and fused.text[2 * k + 1] == ""  # named once, if wide
        assert fused.textfont.color[2 * k] == plots.text_color(plots.EMOTION_COLORS[answer])
        for trace, m in ((words, "text"), (voice, "audio"), (face, "video")):
            if m in seg.per_modality:
                assert trace.y[2 * k] == trace.y[2 * k + 1] == _rounded(seg.per_modality[m]["emotion"][answer])
                label, q = seg.reading(m)
                assert list(trace.customdata[2 * k]) == [label, _rounded(q), answer]  # hover: its own top
            else:
                assert trace.y[2 * k] is None and trace.y[2 * k + 1] is None  # absent, not zero
    assert any(y is None for y in face.y) and any(y is not None for y in face.y)
    assert any(fused.text)
    assert "customdata[0]" in face.hovertemplate and "customdata[1]" in face.hovertemplate
    assert face.line.color == plots.MODALITY_COLORS["video"]
    assert list(fig.layout.yaxis.range) == [0.0, 1.0] and list(fig.layout.xaxis.range) == [plots.axis_time(0.0), plots.axis_time(12.0)]


def test_a_segment_where_nothing_was_read_is_a_break_in_every_timeline():
    a = make_analysis(4)
    with_gap_unread(a)
    figs = plots.all_figures(a)
    for name in ("emotion_timeline", "sentiment_timeline", "per_modality_timeline"):
        for trace in figs[name].data:
            if trace.name.endswith(" score") and trace.fill:  # the sentiment's area: none there (a break would be bridged)
                assert trace.y[2] == trace.y[3] == 0.0, (name, trace.name)
            elif trace.name not in ("no speech", "nothing read"):  # the gaps themselves
                assert trace.y[2] is None and trace.y[3] is None, (name, trace.name)
    assert figs["emotion_timeline"].data[0].y[0] is not None
    assert figs["per_modality_timeline"].data[0].text[2] == ""  # no answer named


def test_words_in_an_emotion_s_colour_read_on_white():
    def contrast(color):
        return 1.05 / (plots._luminance([int(color[i:i + 2], 16) / 255 for i in (1, 3, 5)]) + 0.05)

    assert contrast(plots.EMOTION_COLORS["joy"]) < 2  # yellow on white, as the plot wrote it
    for color in plots.EMOTION_COLORS.values():
        dark = plots.text_color(color)
        assert contrast(dark) >= plots.TEXT_CONTRAST  # dark enough...
        assert dark == color or contrast(dark) < plots.TEXT_CONTRAST + 0.5  # ...and no darker than needed
        rgb, drgb = ([int(c[i:i + 2], 16) for i in (1, 3, 5)] for c in (color, dark))
        assert max(abs(a / max(rgb) - b / max(drgb)) for a, b in zip(rgb, drgb)) < 0.05  # the same hue
    assert plots.text_color("#1f77b4") == "#1f77b4"  # sadness's blue reads as it is


def test_per_modality_timeline_has_no_trace_for_a_sense_used_nowhere():
    a = make_analysis(5)
    for seg in a.segments:
        seg.per_modality.pop("video", None)
    assert [t.name for t in plots.per_modality_timeline(a).data] == [
        "the answer", "words", "voice", "no speech"]


def test_per_modality_timeline_without_readings_says_so():
    a = make_analysis(3)
    for seg in a.segments:
        seg.per_modality = {}
    fig = plots.per_modality_timeline(a)
    assert len(fig.data) == 0 and "no per-sense readings" in fig.layout.annotations[0].text


def test_the_five_figures_in_their_order():
    a = make_analysis(4)
    assert list(plots.all_figures(a)) == list(plots.FIGURES) == [
        "emotion_timeline", "per_modality_timeline", "sentiment_timeline", "emotion_share", "modality_contributions"]
    empty = Analysis(MediaFacts("x.mp4", 2.0, True, True), [], {"name": "t"})
    fig = plots.per_modality_timeline(empty)
    assert len(fig.data) == 0 and "no segments" in fig.layout.annotations[0].text


def test_per_modality_timeline_of_500_segments_names_no_answer():
    a = make_analysis(500, duration=1500.0, seed=5)
    fig = plots.per_modality_timeline(a)  # (timed by the benchmark's export stage, as the others)
    assert len(fig.data[0].x) == 1000 and not any(fig.data[0].text)  # no segment is 1/15 of the time


@pytest.mark.parametrize("duration,clock", [(3900.0, "%-H:%M:%S"), (2700.0, "%-M:%S"), (3.0, "%-M:%S")])
def test_the_time_axis_reads_as_a_player_shows_time(duration, clock):
    """An hour's talk showed its ticks as "3000 s": the time axes are times (plotly's dates, from 0), ticked as a
    player shows them, hours from an hour on, milliseconds when zoomed in under a second (the ticks themselves, as
    a browser draws them: tests/test_browser.py)."""
    a = make_analysis(40, duration=duration)
    for name, fig in plots.all_figures(a).items():
        if name == "emotion_share":  # emotions along its axis, not times
            continue
        axis = fig.layout.xaxis
        assert axis.type == "date" and axis.hoverformat == clock and not axis.ticksuffix, name
        assert [(list(stop.dtickrange), stop.value) for stop in axis.tickformatstops] == [
            ([None, 1000], clock + ".%L"), ([1000, None], clock)], name
        assert list(axis.range) == ["1970-01-01 00:00:00.000", plots.axis_time(duration)], name
    # written out as dates (the app's plotly.js drew milliseconds as numbers off the axis: tests/test_browser.py)
    assert plots.axis_time(3723.456) == "1970-01-01 01:02:03.456" and plots.axis_time(0.05) == "1970-01-01 00:00:00.050"


def test_times_past_a_day_read_as_hours_on():
    """A 25 h recording's time axes read 0:00:00 ... 21:00:00, then 0:00:00 for 24 h (a plotly date's hours start again
    after a day): they are ticked at times of their own, every few hours, written as the hovers write them, and
    at most 5 of them (they fit a phone's width)."""
    a = make_analysis(40, duration=25 * 3600.0)
    hours = (0, 6, 12, 18, 24)
    for name, fig in plots.all_figures(a).items():
        if name == "emotion_share":
            continue
        axis = fig.layout.xaxis
        assert list(axis.ticktext) == [f"{h}:00:00" for h in hours], name
        assert list(axis.tickvals) == [plots.axis_time(h * 3600.0) for h in hours], name
        assert list(axis.range) == ["1970-01-01 00:00:00.000", "1970-01-02 01:00:00.000"], name
    assert plots.hover_time(25 * 3600 + 62.5, hours=True) == "25:01:02.50"
    assert len(plots.all_figures(make_analysis(40, duration=30 * 24 * 3600.0))["emotion_timeline"].layout.xaxis
               .ticktext) <= 5


def test_each_figure_carries_the_words_once():
    """The hover shows a segment's words once, with one trace of the figure: every trace carried a copy, 7 in the
    emotion timeline (an hour's talk made a report of 8.4 MB, and as much sent to the app's page)."""
    a = make_analysis(6)
    said = "utterance number 4, said plainly"
    for name, fig in plots.all_figures(a).items():
        carrying = [t.name for t in fig.data if t.customdata is not None and any(said in row[0] for row in t.customdata)]
        assert len(carrying) == (0 if name == "emotion_share" else 1), (name, carrying)


@pytest.mark.parametrize("seconds,hours,shown", [
    (1037.91, False, "17:17.91"), (1037.91, True, "0:17:17.91"), (3723.45, True, "1:02:03.45"), (0.0, False, "0:00.00"),
    (59.999, False, "1:00.00"), (3599.996, True, "1:00:00.00"), (4.05, False, "0:04.05")])
def test_hover_times_read_as_the_axis(seconds, hours, shown):
    assert plots.hover_time(seconds, hours) == shown


@pytest.mark.parametrize("duration", [3900.0, 2700.0])
def test_each_hover_gives_its_segment_times_as_the_axis_reads_them(duration):
    """The hovers said "1037.91–1052.17 s" beside an axis that reads 17:17: each figure's hover gives the segment's
    times as the axis reads them (hours from an hour of media on), to 0.01 s."""
    a = make_analysis(40, duration=duration)
    hours = duration >= 3600
    for name, fig in plots.all_figures(a).items():
        if name == "emotion_share":
            continue
        told = next(t for t in fig.data if t.customdata is not None and "customdata[1]" in t.hovertemplate)
        assert "customdata[1]}–%{customdata[2]}<br>" in told.hovertemplate and " s<br>" not in told.hovertemplate
        assert [tuple(row[1:3]) for row in told.customdata[::2]] == [
            (plots.hover_time(s.start, hours), plots.hover_time(s.end, hours)) for s in a.segments], name
        assert told.customdata[-1][2].count(":") == (2 if hours else 1)


def _numbers(values):
    """Every number in a trace's data (lists within lists)."""
    for v in values if values is not None else ():
        if isinstance(v, (list, tuple)):
            yield from _numbers(v)
        elif isinstance(v, (int, float)) and not isinstance(v, bool):
            yield v


def test_an_hour_s_figures_carry_short_numbers_and_only_what_their_hovers_show():
    """An hour's figures carried each probability with 17 digits, and each sense's hover data its segment's start and
    end, which no hover showed (with the digits, a report of 3,000 segments over 3 hours was 14.8 MB, 9.9 MB of it the
    figures): no number has more than 4 decimals (hovers show 2), and each field of a trace's hover data is shown."""
    a = make_analysis(400, duration=3900.0)
    for name, fig in plots.all_figures(a).items():
        for trace in fig.data:
            long = [v for v in _numbers([trace.y, trace.customdata]) if round(v, 4) != v]
            assert not long, (name, trace.name, long[:3])
            if trace.customdata is not None:
                shown = {int(i) for i in re.findall(r"customdata\[(\d+)\]", trace.hovertemplate)}
                assert all(shown == set(range(len(row))) for row in trace.customdata), (name, trace.name, shown)


def test_hover_shows_quotes_as_they_are():
    """html.escape's default wrote " as &quot;, which plotly shows as written (it reads &lt; &gt; &amp; only)."""
    a = make_analysis(4)
    a.segments[0].text, a.segments[0].speaker = 'She said "no" & left', 'Dr "Who"'
    hover = plots.emotion_timeline(a).data[0].customdata[0][0]
    assert hover == '<b>\u2068Dr "Who"\u2069</b><br>\u2068She said "no" &amp; left\u2069'


def test_a_figure_of_nothing_says_why_without_a_scale_of_nothing():
    """Where nothing was read, the per-sense figure said "no per-sense readings in this analysis", and the empty
    figures drew plotly's axes of nothing (-1 to 6, -1 to 4)."""
    a = make_analysis(3)
    for seg in a.segments:
        seg.modalities, seg.per_modality = [], {}
    figures = plots.all_figures(a)
    for name in ("per_modality_timeline", "modality_contributions", "emotion_share"):
        fig = figures[name]
        assert [n.text for n in fig.layout.annotations] == [plots.NOTHING_READ], name
        assert fig.layout.yaxis.visible is False, name
    assert figures["emotion_share"].layout.xaxis.visible is False
    assert figures["modality_contributions"].layout.xaxis.visible is not False  # time still runs along it
