"""Result types: JSON round trip, schema checks, summary figures.

``make_analysis`` is also used by tests/test_export.py and tests/test_plots.py.
"""

import json
import math

import numpy as np
import pytest

from mmsent.labels import EMOTIONS, MODALITIES, SENTIMENTS
from mmsent.results import SCHEMA_VERSION, Analysis, MediaFacts, SegmentResult

TRICKY_TEXT = 'She said "no, never",\nthen: «ça va?» 日本語 — ok'


def random_segment(rng, start, end, text, kind="speech", modalities=("text", "audio")):
    """A segment with random normalised probabilities and contributions."""
    emo = rng.random(len(EMOTIONS))
    sen = rng.random(len(SENTIMENTS))
    emo, sen = emo / emo.sum(), sen / sen.sum()
    return SegmentResult(
        start=float(start), end=float(end), text=text,
        emotion={k: float(p) for k, p in zip(EMOTIONS, emo)},
        sentiment={k: float(p) for k, p in zip(SENTIMENTS, sen)},
        modalities=list(modalities),
        contributions={m: float(rng.random() * 0.5) for m in modalities},
        kind=kind,
    )


def make_analysis(n_segments=5, duration=None, seed=0, path="/videos/talk show.mp4") -> Analysis:
    """Contiguous segments over ``duration`` seconds; the second one is a gap, the third tricky text."""
    rng = np.random.default_rng(seed)
    bounds = np.sort(rng.uniform(0, duration or 2.0 * n_segments, n_segments - 1))
    total = float(duration or 2.0 * n_segments)
    edges = [0.0, *map(float, bounds), total]
    segments = []
    for i in range(n_segments):
        if i == 1:
            segments.append(random_segment(rng, edges[i], edges[i + 1], "", "gap", ("audio", "video")))
        else:
            text = TRICKY_TEXT if i == 2 else f"utterance number {i}, said plainly"
            mods = MODALITIES if i % 3 == 0 else ("text", "audio")
            segments.append(random_segment(rng, edges[i], edges[i + 1], text, modalities=mods))
    media = MediaFacts(path=path, duration=total, has_audio=True, has_video=True, width=320,
                       height=240, fps=25.0, rotation=0)
    return Analysis(media=media, segments=segments, model={"name": "test-model", "labels": list(EMOTIONS)},
                    language="en", transcript_source="hand-made",
                    notes=["the video branch of this model is untrained: not used"])


def test_round_trip_through_dict_and_json_file(tmp_path):
    a = make_analysis(6)
    assert Analysis.from_dict(a.to_dict()) == a
    path = tmp_path / "a.json"
    text = a.to_json(path)
    assert Analysis.from_json(path) == a
    assert json.loads(path.read_text(encoding="utf-8")) == json.loads(text)
    assert "«ça va?» 日本語" in path.read_text(encoding="utf-8")  # unicode as such, not \u-escaped
    assert not [p for p in tmp_path.iterdir() if p.name != "a.json"]  # no temp file left


def test_json_layout_has_the_documented_keys():
    d = json.loads(make_analysis(3).to_json())
    assert d["schema_version"] == SCHEMA_VERSION
    seg = d["segments"][0]
    for key in ("start", "end", "text", "emotion", "sentiment", "modalities", "contributions", "kind"):
        assert key in seg
    assert list(seg["emotion"]) == list(EMOTIONS) and list(seg["sentiment"]) == list(SENTIMENTS)
    assert set(d["summary"]) >= {"emotion_share", "dominant_emotion", "sentiment_over_time"}


def test_summary_in_the_file_is_ignored_on_load():
    a = make_analysis(4)
    d = a.to_dict()
    d["summary"]["dominant_emotion"] = "not an emotion"
    assert Analysis.from_dict(d).summary() == a.summary()


def test_refuses_a_newer_schema_version():
    d = make_analysis(2).to_dict()
    d["schema_version"] = SCHEMA_VERSION + 1
    with pytest.raises(ValueError, match="newer.*upgrade mmsent"):
        Analysis.from_dict(d)


@pytest.mark.parametrize("version", [0, "1", None, True])
def test_refuses_a_wrong_schema_version(version):
    d = make_analysis(2).to_dict()
    d["schema_version"] = version
    with pytest.raises(ValueError, match="schema_version"):
        Analysis.from_dict(d)


def test_missing_keys_are_named():
    d = make_analysis(2).to_dict()
    del d["segments"][1]["emotion"]
    with pytest.raises(ValueError, match=r"segments\[1\] lacks the key\(s\) emotion"):
        Analysis.from_dict(d)
    d = make_analysis(2).to_dict()
    del d["media"]
    with pytest.raises(ValueError, match="lacks the key.*media"):
        Analysis.from_dict(d)


@pytest.mark.parametrize("key,value,message", [
    ("start", "0:01", r"segments\[0\]\.start is '0:01', not a number"),
    ("emotion", {}, r"segments\[0\]\.emotion must map labels to probabilities"),
    ("sentiment", {"positive": "high"}, r"segments\[0\]\.sentiment must map"),
    ("kind", "music", r"segments\[0\]\.kind is 'music'"),
])
def test_bad_segment_values_are_named(key, value, message):
    d = make_analysis(2).to_dict()
    d["segments"][0][key] = value
    with pytest.raises(ValueError, match=message):
        Analysis.from_dict(d)


def test_from_json_names_a_file_that_is_not_an_analysis(tmp_path):
    bad = tmp_path / "notes.json"
    bad.write_text("{not json", encoding="utf-8")
    with pytest.raises(ValueError, match="notes.json"):
        Analysis.from_json(bad)
    bad.write_text("[1, 2]", encoding="utf-8")
    with pytest.raises(ValueError, match="notes.json.*JSON object"):
        Analysis.from_json(bad)


def test_non_finite_numbers_are_refused_and_leave_no_file(tmp_path):
    a = make_analysis(3)
    a.segments[0].emotion["joy"] = math.nan
    with pytest.raises(ValueError, match="non-finite"):
        a.to_json(tmp_path / "a.json")
    assert list(tmp_path.iterdir()) == []


def test_segment_properties():
    s = SegmentResult(1.5, 4.0, "hi", {"joy": 0.2, "anger": 0.7, "fear": 0.1},
                      {"negative": 0.1, "neutral": 0.3, "positive": 0.6}, ["text"])
    assert s.top_emotion == ("anger", 0.7)
    assert s.top_sentiment == ("positive", 0.6)
    assert s.duration == pytest.approx(2.5)
    assert s.sentiment_score == pytest.approx(0.5)


def one_hot(label, labels):
    return {k: (0.9 if k == label else 0.1 / (len(labels) - 1)) for k in labels}


def test_summary_weights_by_duration():
    segs = [
        SegmentResult(0, 1, "a", one_hot("joy", EMOTIONS), one_hot("positive", SENTIMENTS), ["text"]),
        SegmentResult(1, 4, "b", one_hot("anger", EMOTIONS), one_hot("negative", SENTIMENTS), ["text"]),
    ]
    a = Analysis(MediaFacts("x.mp4", 4.0, True, False), segs, {"name": "t"})
    s = a.summary()
    assert s.emotion_share["anger"] == pytest.approx(0.75) and s.emotion_share["joy"] == pytest.approx(0.25)
    assert s.dominant_emotion == "anger"
    assert s.emotion_mean["anger"] == pytest.approx(0.75 * 0.9 + 0.25 * 0.1 / 6)
    assert s.sentiment_over_time == [(0.5, pytest.approx(0.85)), (2.5, pytest.approx(-0.85))]
    assert s.mean_sentiment == pytest.approx(0.25 * 0.85 - 0.75 * 0.85)
    assert s.duration == pytest.approx(4.0)


@pytest.mark.parametrize("n", [1, 5, 40])
def test_summary_shares_sum_to_one(n):
    s = make_analysis(n, seed=n).summary()
    for shares in (s.emotion_share, s.emotion_mean, s.sentiment_share):
        assert sum(shares.values()) == pytest.approx(1.0)
    assert s.dominant_emotion == max(s.emotion_share, key=s.emotion_share.get)
    assert len(s.sentiment_over_time) == n
    assert -1.0 <= s.mean_sentiment <= 1.0


def test_empty_analysis_has_a_summary_and_round_trips():
    a = Analysis(MediaFacts("x.mp4", 3.0, False, True), [], {"name": "t"})
    s = a.summary()
    assert s.dominant_emotion is None and s.mean_sentiment is None
    assert set(s.emotion_share) == set(EMOTIONS) and sum(s.emotion_share.values()) == 0
    assert Analysis.from_dict(json.loads(a.to_json())) == a
