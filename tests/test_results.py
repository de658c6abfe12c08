"""Result types: JSON round trip, schema checks, summary figures.

``make_analysis`` is also used by tests/test_export.py and tests/test_plots.py.
"""

import json
import math
from dataclasses import replace
from pathlib import Path

import numpy as np
import pytest

from mmsent.labels import EMOTIONS, MODALITIES, SENTIMENTS
from mmsent.results import SCHEMA_VERSION, Analysis, MediaFacts, SegmentResult, duration_text, frame_box
from mmsent.validate import SUM_TOLERANCE

ROOT_PATH = Path(__file__).resolve().parents[1]
TRICKY_TEXT = 'She said "no, never",\nthen: «ça va?» 日本語 — ok'
WORLD_TEXTS = {  # words as said in other languages: no spaces, right to left, combining marks, joined emoji
    "zh": "我今天非常高兴，因为我们终于完成了这个项目，谢谢大家的帮助。",
    "ja": "今日はとても嬉しいです。ありがとうございました。",
    "ar": "أنا سعيد جدا اليوم، شكرا لكم جميعا!",
    "he": "אני מאוד שמח היום, תודה לכולם!",
    "hi": "मैं आज बहुत खुश हूँ, धन्यवाद",
    "ru": "Я очень рад сегодня, спасибо",
    "de": "Ich bin heute sehr glücklich: Grüße aus Köln",
    "emoji": "I love this 👩‍👩‍👧‍👦 family 🇩🇪 so much 😊",
}


def random_probs(rng, labels):
    p = rng.random(len(labels))
    return {k: float(v) for k, v in zip(labels, p / p.sum())}


def random_segment(rng, start, end, text, kind="speech", modalities=("text", "audio")):
    """A segment with random normalised probabilities, contributions and per-sense readings, and a
    face box when the video was used."""
    return SegmentResult(
        start=float(start), end=float(end), text=text,
        emotion=random_probs(rng, EMOTIONS), sentiment=random_probs(rng, SENTIMENTS),
        modalities=list(modalities),
        contributions={m: float(rng.random() * 0.5) for m in modalities},
        kind=kind,
        per_modality={m: {"emotion": random_probs(rng, EMOTIONS), "sentiment": random_probs(rng, SENTIMENTS)}
                      for m in MODALITIES if m in modalities},
        face_box=[0.25, 0.2, 0.6, 0.7] if "video" in modalities else None,
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


def with_gap_unread(a: Analysis) -> SegmentResult:
    """Make ``a``'s gap (its second segment) one where nothing was read; returns it."""
    gap = a.segments[1]
    gap.modalities, gap.contributions, gap.per_modality, gap.face_box = [], {}, {}, None
    return gap


def test_a_duration_over_a_limit_is_written_as_over_it():
    """A refusal said "lasts 10 min; this demo analyses up to 10 min" of 600.4 s."""
    assert [duration_text(s) for s in (25, 600, 3725)] == ["25 s", "10 min", "62 min 5 s"]
    assert duration_text(600.4, 600) == "10 min 0.4 s" and duration_text(20.04, 20) == "20.04 s"
    assert duration_text(25.3, 20) == "25 s"  # plainly over: no decimals
    assert duration_text(1.5) == "1.5 s" and duration_text(90.25) == "1 min 30.25 s"  # a limit, as given


def test_round_trip_through_dict_and_json_file(tmp_path):
    a = make_analysis(6)
    assert Analysis.from_dict(a.to_dict()) == a
    path = tmp_path / "a.json"
    text = a.to_json(path)
    assert Analysis.from_json(path) == a
    assert json.loads(path.read_text(encoding="utf-8")) == json.loads(text)
    assert "«ça va?» 日本語" in path.read_text(encoding="utf-8")  # unicode as such, not \u-escaped
    assert not [p for p in tmp_path.iterdir() if p.name != "a.json"]  # no temp file left


def test_a_dict_given_or_taken_is_the_caller_s_own(tmp_path):
    """to_dict()'s "model" was the analysis's own: an emotion added to it made the analysis unwritable; from_dict
    kept the caller's. Notes or languages given as one string were written a letter each."""
    a = make_analysis(2)
    a.model["emotions"] = list(EMOTIONS)
    a.to_dict()["model"]["emotions"].append("zzz")
    assert a.model["emotions"] == list(EMOTIONS)
    a.to_json(tmp_path / "a.json")  # refused before, as an analysis that would not load back
    assert Analysis.from_json(tmp_path / "a.json") == a
    source = a.to_dict()
    loaded = Analysis.from_dict(source)
    source["model"]["emotions"].append("zzz")
    assert loaded == a
    for field in ("notes", "languages"):
        with pytest.raises(ValueError, match=f"{field} must be a list of strings"):
            replace(a, **{field: "Check the sound"}).to_json()


def test_a_path_that_is_a_folder_or_in_none_is_named_as_given(tmp_path, monkeypatch):
    """The error named the hidden temporary file beside it (".x.json.0olk7wd0.tmp"), not the path given."""
    monkeypatch.chdir(tmp_path)
    (tmp_path / "r1").mkdir()
    with pytest.raises(IsADirectoryError, match=r"Is a folder, not a file: .*: 'r1'$"):
        make_analysis(2).to_json("r1")
    with pytest.raises(FileNotFoundError, match=r"No such folder to write it in \(make the folder first\): "
                                                r"'nd/deep/x.json'$"):
        make_analysis(2).to_json("nd/deep/x.json")
    assert [p.name for p in tmp_path.iterdir()] == ["r1"] and not list((tmp_path / "r1").iterdir())


def test_a_file_saved_with_a_byte_order_mark_loads(tmp_path):
    """Windows' Notepad saves UTF-8 with a byte order mark: a file edited there was refused as "not an mmsent
    analysis JSON file: Unexpected UTF-8 BOM"."""
    a = make_analysis(3)
    path = tmp_path / "edited.json"
    path.write_text(a.to_json(), encoding="utf-8-sig")
    assert Analysis.from_json(path) == a


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
    d["schema_version"] = version  # null was said to be missing
    with pytest.raises(ValueError, match=f"schema_version {version!r} is not a positive integer"):
        Analysis.from_dict(d)
    del d["schema_version"]
    with pytest.raises(ValueError, match="not an mmsent analysis: the key 'schema_version' is missing"):
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
    with pytest.raises(ValueError, match=r"this is JSON text: .*Analysis.from_dict\(json.loads\(text\)\)"):
        Analysis.from_json(make_analysis(2).to_json())  # the text, not a file's name ("File name too long")


def test_non_finite_numbers_are_refused_and_leave_no_file(tmp_path):
    a = make_analysis(3)
    a.segments[0].emotion["joy"] = math.nan
    with pytest.raises(ValueError, match=r"would not load back.*segments\[0\]\.emotion\.joy is nan"):
        a.to_json(tmp_path / "a.json")
    assert list(tmp_path.iterdir()) == []


def test_a_number_that_is_not_one_in_the_model_facts_is_refused_by_name(tmp_path):
    """``model`` is free-form: NaN there passed the check, and export.write wrote the CSV and the subtitles, then failed
    on the JSON ("Out of range float values are not JSON compliant", no field named); a file holding it loaded."""
    from mmsent import export

    a = make_analysis(3)
    a.model["metrics"] = {"f1": [0.5, math.nan]}
    with pytest.raises(ValueError, match=r"would not load back.*model\.metrics\.f1\[1\] is nan"):
        export.write(a, tmp_path / "out", ["csv", "srt", "json"])
    assert not (tmp_path / "out").exists()
    d = json.loads(make_analysis(3).to_json())
    d["model"]["score"] = math.inf  # json.loads reads Infinity
    with pytest.raises(ValueError, match=r"model\.score is inf"):
        Analysis.from_dict(d)


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
    assert s.dominant_emotion == "anger" and s.overall == "mostly anger"
    assert s.emotion_mean["anger"] == pytest.approx(0.75 * 0.9 + 0.25 * 0.1 / 6)
    assert s.sentiment_over_time == [(0.5, pytest.approx(0.85)), (2.5, pytest.approx(-0.85))]
    segs[0].end = segs[1].start = 1.315  # the midpoint of 0.315 and 1.315, as a float: 0.8149999999999999
    assert [t for t, _ in Analysis(MediaFacts("x.mp4", 4.0, True, False), segs, {"name": "t"}).summary()
            .sentiment_over_time] == [0.6575, 2.6575]
    assert s.mean_sentiment == pytest.approx(0.25 * 0.85 - 0.75 * 0.85)
    assert s.duration == pytest.approx(4.0)
    segs.append(SegmentResult(4, 8, "c", one_hot("sadness", EMOTIONS), one_hot("negative", SENTIMENTS), ["text"]))
    s = Analysis(MediaFacts("x.mp4", 8.0, True, False), segs, {"name": "t"}).summary()
    assert s.dominant_emotion == "sadness" and s.overall == "most often sadness"  # half the time: not "mostly"


def test_a_segment_where_nothing_was_read_has_no_answer():
    """Silence with no face: uniform probabilities, no evidence. Its first label (anger) is no answer:
    it must not count as anger for a third of the time, nor pull the mean sentiment to zero."""
    uniform = {k: 1 / len(EMOTIONS) for k in EMOTIONS}
    segs = [
        SegmentResult(0, 2, "a", one_hot("joy", EMOTIONS), one_hot("positive", SENTIMENTS), ["text"]),
        SegmentResult(2, 4, "", uniform, {k: 1 / 3 for k in SENTIMENTS}, [], kind="gap"),
        SegmentResult(4, 6, "b", one_hot("joy", EMOTIONS), one_hot("positive", SENTIMENTS), ["audio"]),
    ]
    s = Analysis(MediaFacts("x.mp4", 6.0, True, False), segs, {"name": "t"}).summary()
    assert [g.read for g in segs] == [True, False, True]
    assert s.emotion_share["joy"] == pytest.approx(1.0) and s.emotion_share["anger"] == 0
    assert s.emotion_mean["joy"] == pytest.approx(0.9) and s.mean_sentiment == pytest.approx(0.85)
    assert [t for t, _ in s.sentiment_over_time] == [1.0, 5.0] and s.duration == pytest.approx(6.0)
    s = Analysis(MediaFacts("x.mp4", 6.0, True, False), segs[1:2], {"name": "t"}).summary()
    assert s.dominant_emotion is None and s.overall is None and s.mean_sentiment is None
    assert sum(s.emotion_share.values()) == 0


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


def test_a_speaker_the_subtitles_do_not_name_is_refused_by_name():
    """``summary("Bob ")`` or ``summary("bob")`` (a name mistyped) gave an empty summary, as if Bob had said nothing,
    and ``summary("")`` the segments no one is named in: each is refused, saying who the subtitles name."""
    a = make_analysis(4)
    a.segments[0].speaker = a.segments[2].speaker = "Bob"
    assert a.summary("Bob").duration == pytest.approx(a.segments[0].duration + a.segments[2].duration)
    for name in ("bob", "Bob ", "", "Nobody"):
        with pytest.raises(ValueError, match=f"no segment is said by {name!r}: the speakers the subtitles name are "
                                             "'Bob'"):
            a.summary(name)
    with pytest.raises(ValueError, match="no segment is said by 'Bob': the subtitles name no one"):
        make_analysis(4).speaker_summary("Bob")


# ---- version 2: what each sense says, and the face box ----

def test_per_modality_round_trips_with_one_reading_per_used_sense(tmp_path):
    a = make_analysis(6)
    a.to_json(tmp_path / "a.json")
    b = Analysis.from_json(tmp_path / "a.json")
    assert b == a and b.schema_version == SCHEMA_VERSION == 2
    seen_absent = False
    for seg in b.segments:
        assert list(seg.per_modality) == [m for m in MODALITIES if m in seg.modalities]
        seen_absent |= len(seg.per_modality) < len(MODALITIES)
        for reading in seg.per_modality.values():
            assert list(reading["emotion"]) == list(EMOTIONS)
            assert sum(reading["emotion"].values()) == pytest.approx(1.0)
            assert sum(reading["sentiment"].values()) == pytest.approx(1.0)
        assert (seg.face_box is not None) == ("video" in seg.modalities)
    assert seen_absent  # absent senses are absent, not zeros
    d = json.loads((tmp_path / "a.json").read_text(encoding="utf-8"))
    assert "video" not in d["segments"][2]["per_modality"]  # segment 2 used text and audio only
    assert d["segments"][2]["face_box"] is None and d["segments"][0]["face_box"] == [0.25, 0.2, 0.6, 0.7]


def test_a_translation_round_trips_and_is_shown_beside_the_words():
    a = make_analysis(3)
    a.segments[0].translation = "I am so happy."
    d = a.to_dict()
    assert d["segments"][0]["translation"] == "I am so happy." and d["segments"][2]["translation"] == ""
    assert Analysis.from_dict(d) == a
    assert a.segments[0].shown_text == "utterance number 0, said plainly (in English: I am so happy.)"
    assert a.segments[2].shown_text == a.segments[2].text
    assert a.language_text == "en, translated into English"
    a.segments[0].translation = ""
    assert a.language_text == "en"
    d["segments"][0]["translation"] = 3
    with pytest.raises(ValueError, match=r"segments\[0\].translation must be a string, got 3"):
        Analysis.from_dict(d)


def test_a_version_1_file_still_loads(tmp_path):
    v1 = {
        "schema_version": 1,
        "media": {"path": "old.mp4", "duration": 3.0, "has_audio": True, "has_video": True,
                  "width": 640, "height": 360, "fps": 25.0, "rotation": 0},
        "model": {"name": "default"}, "language": "en", "transcript_source": "faster-whisper base",
        "notes": [],
        "segments": [{"start": 0.0, "end": 3.0, "text": "hello there", "kind": "speech",
                      "emotion": one_hot("joy", EMOTIONS), "sentiment": one_hot("positive", SENTIMENTS),
                      "modalities": ["text", "audio"], "contributions": {"text": 0.2, "audio": 0.1}}],
        "summary": {"dominant_emotion": "joy"},
    }
    path = tmp_path / "old.json"
    path.write_text(json.dumps(v1), encoding="utf-8")
    a = Analysis.from_json(path)
    seg = a.segments[0]
    assert seg.per_modality == {} and seg.face_box is None and seg.readings_text() == "" and seg.translation == ""
    assert seg.top_emotion == ("joy", 0.9)
    assert a.schema_version == 2  # upgraded as it is read: written back as version 2
    again = json.loads(a.to_json())
    assert again["schema_version"] == 2 and again["segments"][0]["per_modality"] == {}


def test_null_per_modality_and_face_box_mean_none():
    d = make_analysis(2).to_dict()
    d["segments"][0]["per_modality"] = None
    d["segments"][0]["face_box"] = None
    seg = Analysis.from_dict(d).segments[0]
    assert seg.per_modality == {} and seg.face_box is None


def test_readings_text_names_each_used_sense_in_order():
    seg = make_analysis(1).segments[0]  # segment 0 uses all three senses
    seg.per_modality["text"]["emotion"] = one_hot("joy", EMOTIONS)
    seg.per_modality["audio"]["emotion"] = {**dict.fromkeys(EMOTIONS, 0.075), "anger": 0.55}
    seg.per_modality["video"]["emotion"] = {**dict.fromkeys(EMOTIONS, 0.1), "neutral": 0.4}
    assert seg.readings_text() == "words: joy 0.90 · voice: anger 0.55 · face: neutral 0.40"
    assert seg.readings_text(probabilities=False) == "words: joy · voice: anger · face: neutral"
    del seg.per_modality["audio"]
    assert seg.readings_text() == "words: joy 0.90 · face: neutral 0.40"
    assert seg.reading("audio") is None and seg.reading("text", "sentiment")[0] in SENTIMENTS


def _reading(emotion=None, sentiment=None):
    return {"emotion": emotion or one_hot("joy", EMOTIONS),
            "sentiment": sentiment or one_hot("neutral", SENTIMENTS)}


@pytest.mark.parametrize("per_modality,message", [
    ([1, 2], r"per_modality must be an object"),
    ({"smell": _reading()}, r"unknown modality 'smell'"),
    ({"video": _reading()}, r"reading for 'video', a modality not used"),
    ({"text": {"emotion": one_hot("joy", EMOTIONS)}}, r"per_modality\.text must be an object with exactly"),
    ({"text": {**_reading(), "colour": {}}}, r"exactly the keys"),
    ({"text": _reading(emotion={**one_hot("joy", EMOTIONS), "boredom": 0.0})},
     r"text\.emotion.*unknown \['boredom'\]"),
    ({"text": _reading(sentiment={"negative": 0.5, "positive": 0.5})},
     r"text\.sentiment.*missing \['neutral'\]"),
    ({"text": _reading(emotion={**dict.fromkeys(EMOTIONS, 0.0), "joy": 1.5, "anger": -0.5})},
     r"text\.emotion\.anger is -0\.5, not a probability in \[0, 1\]"),
    ({"text": _reading(emotion={**one_hot("joy", EMOTIONS), "joy": "high"})},
     r"text\.emotion\.joy is 'high'"),
    ({"text": _reading(emotion=dict.fromkeys(EMOTIONS, 0.5))}, r"text\.emotion sums to 3\.5000, not 1"),
    ({"audio": "loud"}, r"per_modality\.audio must be an object"),
])
def test_hostile_per_modality_is_refused(per_modality, message):
    d = make_analysis(3).to_dict()  # segment 2 used text and audio
    d["segments"][2]["per_modality"] = per_modality
    with pytest.raises(ValueError, match=message) as caught:
        Analysis.from_dict(d)
    assert "segments[2].per_modality" in str(caught.value)


def test_non_finite_reading_in_a_file_is_refused(tmp_path):
    d = make_analysis(3).to_dict()
    text = json.dumps(d).replace(json.dumps(d["segments"][2]["per_modality"]["text"]["emotion"]["joy"]),
                                 "NaN", 1)
    path = tmp_path / "nan.json"
    path.write_text(text, encoding="utf-8")
    with pytest.raises(ValueError, match=r"nan.json.*segments\[2\]\.per_modality\.text\.emotion\.joy is nan"):
        Analysis.from_json(path)


def test_rounded_readings_within_the_tolerance_load():
    d = make_analysis(3).to_dict()
    emo = d["segments"][2]["per_modality"]["text"]["emotion"]
    for k in emo:
        emo[k] = round(emo[k], 3)  # a file rounded to 3 decimals sums to 1 only roughly
    emo["joy"] += SUM_TOLERANCE / 2 - (sum(emo.values()) - 1.0)
    assert Analysis.from_dict(d).segments[2].per_modality["text"]["emotion"]["joy"] == emo["joy"]


@pytest.mark.parametrize("box", [
    [0.1, 0.1, 0.5], [0.1, 0.1, 0.5, 0.5, 0.9], "0 0 1 1", {"x0": 0}, [0.1, None, 0.5, 0.5],
    [0.5, 0.1, 0.4, 0.6], [0.1, 0.6, 0.5, 0.6], [-0.1, 0.1, 0.5, 0.5], [0.1, 0.1, 1.2, 0.5],
    [0.1, 0.1, True, 0.5], [0.1, 0.1, float("inf"), 0.5],
])
def test_hostile_face_box_is_refused(box):
    d = make_analysis(2).to_dict()
    d["segments"][0]["face_box"] = box
    with pytest.raises(ValueError, match=r"segments\[0\]\.face_box"):
        Analysis.from_dict(d)


def test_face_box_on_the_frame_edges_is_accepted():
    d = make_analysis(2).to_dict()
    d["segments"][1]["face_box"] = [0, 0, 1, 1]
    assert Analysis.from_dict(d).segments[1].face_box == [0.0, 0.0, 1.0, 1.0]


def test_frame_box_turns_a_detector_box_into_a_face_box_that_loads_back():
    assert frame_box((64, 36, 320, 288), 640, 360) == [0.1, 0.1, 0.5, 0.8]
    assert frame_box((-20, 300, 700, 400), 640, 360) == [0.0, 300 / 360, 1.0, 1.0]  # past the edges
    assert frame_box((700, 10, 800, 50), 640, 360) is None  # wholly outside
    assert frame_box(None, 640, 360) is None
    a = make_analysis(2)
    seg = a.segments[1]
    box = tuple(np.float32(v) for v in (0.1, 0.2, 0.5, 0.6))
    a.segments[1] = SegmentResult(**{**vars(seg), "face_box": box})
    assert type(a.segments[1].face_box) is list  # stored as plain floats...
    assert all(type(v) is float for v in a.segments[1].face_box)
    assert Analysis.from_dict(json.loads(a.to_json())) == a  # ...so it round-trips


# ---- a malformed file is refused on loading, naming the field, not in a later export ----

def _edited(edit, n=3):
    d = make_analysis(n).to_dict()
    edit(d)
    return d


def test_every_segment_has_the_labels_of_the_file():
    """The labels are the model's (EMOTIONS and SENTIMENTS where it names none), not segment 0's: a
    segment 0 without joy loaded, and the CSV then dropped every segment's joy column."""
    d = _edited(lambda d: d["segments"][0]["emotion"].pop("joy"))
    with pytest.raises(ValueError, match=r"segments\[0\]\.emotion must have the labels .*missing \['joy'\]"):
        Analysis.from_dict(d)
    d = _edited(lambda d: d["segments"][2]["sentiment"].update(mixed=0.0))
    with pytest.raises(ValueError, match=r"segments\[2\]\.sentiment must have the labels .*unknown \['mixed'\]"):
        Analysis.from_dict(d)
    d = _edited(lambda d: [s["emotion"].update(boredom=0.0) for s in d["segments"]])  # all alike, yet not the model's
    with pytest.raises(ValueError, match=r"segments\[0\]\.emotion must have the labels .*unknown \['boredom'\]"):
        Analysis.from_dict(d)
    d = _edited(lambda d: d["model"].update(emotions=["a", "b"]))  # the model's labels, contradicted
    with pytest.raises(ValueError, match=r"segments\[0\]\.emotion must have the labels \('a', 'b'\)"):
        Analysis.from_dict(d)
    d = _edited(lambda d: d["model"].update(sentiments=["bad", "neutral", "good"]))  # no score over time
    with pytest.raises(ValueError, match=r"model\.sentiments must include negative and positive"):
        Analysis.from_dict(d)
    d = _edited(lambda d: d["model"].update(emotions="anger"))
    with pytest.raises(ValueError, match=r"model\.emotions must be a list of distinct label names"):
        Analysis.from_dict(d)


def test_a_version_1_file_whose_first_segment_lacks_a_label_is_refused():
    seg = {"start": 0.0, "end": 1.0, "text": "hi", "emotion": one_hot("joy", EMOTIONS),
           "sentiment": one_hot("positive", SENTIMENTS), "modalities": ["text"]}
    first = {**seg, "emotion": {k: v for k, v in one_hot("anger", EMOTIONS).items() if k != "joy"}}
    first["emotion"]["anger"] += 0.1 / 6  # still sums to 1
    d = {"schema_version": 1, "media": {"path": "x.mp4", "duration": 2.0, "has_audio": True, "has_video": False},
         "model": {"name": "default"}, "segments": [first, {**seg, "start": 1.0, "end": 2.0}]}
    with pytest.raises(ValueError, match=r"segments\[0\]\.emotion must have the labels .*missing \['joy'\]"):
        Analysis.from_dict(d)


def test_model_labels_of_another_order_or_set_load_in_that_order():
    a = make_analysis(3)
    labels = ("calm", "excited")
    for seg in a.segments:
        seg.emotion, seg.per_modality = {"excited": 0.25, "calm": 0.75}, {}
    a.model["emotions"] = list(labels)
    b = Analysis.from_dict(json.loads(a.to_json()))
    assert b.emotion_labels == labels and all(list(s.emotion) == list(labels) for s in b.segments)


def test_an_extra_fused_label_is_blamed_on_the_fused_emotion_not_on_a_sense():
    d = _edited(lambda d: d["segments"][0]["emotion"].update(boredom=0.0))  # segment 0 has readings of each sense
    with pytest.raises(ValueError) as caught:
        Analysis.from_dict(d)
    message = str(caught.value)
    assert "segments[0].emotion must have the labels" in message and "unknown ['boredom']" in message
    assert "per_modality" not in message


def _set(*path_and_value):
    *path, key, value = path_and_value

    def edit(d):
        for k in path:
            d = d[k]
        d[key] = value
    return edit


@pytest.mark.parametrize("edit,message", [
    (_set("segments", 0, "start", math.inf), r"segments\[0\]\.start is inf, not a finite number of seconds"),
    (_set("segments", 1, "end", math.nan), r"segments\[1\]\.end is nan, not a finite number of seconds"),
    (_set("segments", 0, "start", -1.0), r"segments\[0\] must lie within \[0, media\.duration\]"),
    (_set("segments", 2, "end", 7.0), r"segments\[2\] must lie within \[0, media\.duration\] = \[0, 6\.0\]"),
    (_set("segments", 1, "start", 5.0), r"segments\[1\]\.start \(5\.0\) is after its end"),
    (_set("media", "duration", "ten"), r"media\.duration must be a finite number of seconds >= 0, got 'ten'"),
    (_set("media", "duration", math.inf), r"media\.duration must be a finite number"),
    (_set("media", "duration", -3.0), r"media\.duration must be a finite number of seconds >= 0, got -3\.0"),
    (_set("media", "path", None), r"media\.path must be a string, got None"),
    (_set("media", "has_audio", "yes"), r"media\.has_audio must be true or false, got 'yes'"),
    (_set("segments", 0, "text", 42), r"segments\[0\]\.text must be a string, got 42"),
    (_set("notes", "hello"), r"notes must be a list of strings \(or null\), got 'hello'"),
    (_set("notes", ["fine", 3]), r"notes must be a list of strings"),
    (_set("language", 5), r"language must be a string or null, got 5"),
    (_set("model", "default"), r"model must be an object"),
    (_set("segments", 0, "emotion", "joy", math.nan), r"segments\[0\]\.emotion\.joy is nan, not a probability"),
    (_set("segments", 0, "emotion", "joy", -0.5), r"segments\[0\]\.emotion\.joy is -0\.5, not a probability"),
    (_set("segments", 1, "sentiment", "neutral", 1.0), r"segments\[1\]\.sentiment sums to \d\.\d+, not 1"),
    (_set("segments", 2, "modalities", "text"), r"segments\[2\]\.modalities must be a list of distinct modalities"),
    (_set("segments", 2, "modalities", ["text", "text", "audio"]), r"segments\[2\]\.modalities must be a list"),
    (_set("segments", 0, "contributions", "text", math.nan), r"segments\[0\]\.contributions must map"),
    (_set("segments", 0, "contributions", "text", 5.0), r"segments\[0\]\.contributions must map"),
    (_set("segments", 2, "contributions", "video", 0.1), r"segments\[2\]\.contributions must map the modalities used"),
    (_set("segments", 2, "start", 0.0), r"segments\[2\] starts at 0\.0 s, before segments\[1\] ends .* must be in "
                                        r"time order and must not overlap"),
    (_set("media", "width", "320"), r"media\.width must be null or a number of pixels > 0, got '320'"),
    (_set("media", "height", 0), r"media\.height must be null or a number of pixels > 0, got 0"),
    (_set("media", "fps", -25.0), r"media\.fps must be null or a number of frames per second > 0, got -25\.0"),
    (_set("media", "rotation", 45), r"media\.rotation must be one of \(0, 90, 180, 270\) \(degrees\), got 45"),
    (_set("media", "audio_track", 0), r"media\.audio_track must be null, a track's number >= 1 or a language code"),
    (_set("media", "audio_track", True), r"media\.audio_track must be null, a track's number >= 1"),
    (_set("media", "has_video", False), r"segments\[0\]\.face_box is set, but media\.has_video is false"),
])
def test_values_that_would_break_an_export_are_refused(edit, message):
    d = _edited(edit)  # make_analysis(3): three segments over 6 s
    with pytest.raises(ValueError, match=message):
        Analysis.from_dict(d)


def test_what_would_not_load_back_is_not_written(tmp_path):
    """A tester's analysis edited by hand (segments reversed, a probability of 5, an end of infinity) was written by
    to_json and export.write, then refused by from_json; now it is refused before any file is written."""
    from mmsent import export

    for edit in (lambda a: a.segments.reverse(), lambda a: a.segments[0].emotion.update(joy=5.0),
                 lambda a: setattr(a.segments[-1], "end", math.inf)):
        a = make_analysis(3)
        edit(a)
        with pytest.raises(ValueError, match="would not load back, so it is not written: mmsent analysis: segments"):
            a.to_json(tmp_path / "a.json")
        with pytest.raises(ValueError, match="would not load back"):
            export.write(a, tmp_path / "out", ["srt", "csv"])
        assert not (tmp_path / "a.json").exists() and not (tmp_path / "out").exists()


def test_labels_edited_by_hand_are_refused_by_name_not_by_the_summary(tmp_path):
    """A segment whose emotions lack labels, or whose probability is a string, broke the summary (KeyError,
    TypeError) before the check that names the field could run."""
    from mmsent import export

    for edit, field in ((lambda a: setattr(a.segments[0], "emotion", {"joy": 1.0}), r"segments\[0\]\.emotion"),
                        (lambda a: a.segments[2].sentiment.update(positive="0.5"), r"segments\[2\]\.sentiment")):
        a = make_analysis(3)
        edit(a)
        with pytest.raises(ValueError, match="would not load back, so it is not written: .*" + field):
            a.to_json(tmp_path / "a.json")
        with pytest.raises(ValueError, match="would not load back.*" + field):
            export.write(a, tmp_path / "out", ["json", "csv"])
        assert not (tmp_path / "a.json").exists() and not (tmp_path / "out").exists()


def test_numpy_numbers_and_paths_of_a_hand_built_analysis_are_written():
    a = make_analysis(3)
    a.segments[0].emotion = {k: np.float32(v) for k, v in a.segments[0].emotion.items()}
    a.model["checkpoint"] = ROOT_PATH
    d = json.loads(a.to_json())
    assert d["model"]["checkpoint"] == str(ROOT_PATH) and Analysis.from_dict(d).segments[0].emotion["joy"] > 0


def test_a_number_no_float_holds_is_refused_by_name():
    d = make_analysis(3).to_dict()
    d["media"]["duration"] = 10 ** 400
    with pytest.raises(ValueError, match="media.duration must be a finite number"):
        Analysis.from_dict(d)


def test_infinity_in_a_file_is_refused_by_name(tmp_path):
    path = tmp_path / "inf.json"
    path.write_text(make_analysis(3).to_json().replace('"start": 0.0', '"start": Infinity', 1), encoding="utf-8")
    with pytest.raises(ValueError, match=r"inf\.json: .*segments\[0\]\.start is inf"):
        Analysis.from_json(path)


def test_what_the_writer_writes_loads():
    """Segment times are rounded to the millisecond (an end may pass the duration by half of one), an
    empty media has one segment of no length, and probabilities rounded to 3 decimals sum to 1 roughly."""
    a = make_analysis(3, duration=2.0)
    a.media.duration = 2.0004  # pipeline: segments end at round(duration, 3)
    a.segments[-1].end = 2.0
    assert Analysis.from_dict(a.to_dict()) == a
    a.media.duration = 1.9996
    assert Analysis.from_dict(a.to_dict()) == a
    d = make_analysis(1, duration=1.0).to_dict()
    d["media"]["duration"], d["segments"][0]["end"] = 0.0, 0.0
    d["segments"][0]["emotion"] = {k: round(v, 3) for k, v in d["segments"][0]["emotion"].items()}
    d["notes"], d["language"], d["transcript_source"] = None, None, None
    assert Analysis.from_dict(d).segments[0].end == 0.0


# ---- what a REPL or a notebook shows ----

REPR_MAX_CHARS = 200  # a repr is a line to read at a glance (the generated one of 300 segments: 432,000 characters)


def test_an_analysis_shows_as_one_short_line_whatever_its_length():
    """``analysis`` typed in a REPL names the file, its length, language, segments, overall emotion, model and notes;
    the generated repr printed every probability of every segment."""
    a = make_analysis(300, duration=600.0)
    for s in a.segments:
        s.text *= 50  # long words change nothing
    shown = repr(a)
    assert len(shown) < REPR_MAX_CHARS and "\n" not in shown and str(a) == shown
    assert shown.startswith("Analysis('talk show.mp4', 10:00.00, en, 300 segments, ")  # all read
    assert f", {a.summary().overall}, model 'test-model', 1 note)" in shown
    assert len(repr(make_analysis(3000, duration=6000.0))) < REPR_MAX_CHARS
    assert "1:40:00.00" in repr(make_analysis(3, duration=6000.0))  # hours from an hour on, as the plots show them


def test_an_analysis_says_how_many_segments_were_read():
    a = make_analysis(300, duration=600.0)
    with_gap_unread(a)
    assert "300 segments (299 read)" in repr(a)
    for s in a.segments:
        s.modalities = []
    assert repr(a).endswith(", 300 segments (0 read), nothing read, model 'test-model', 1 note)")
    empty = Analysis(MediaFacts("x.mp4", 3.0, False, True), [], {})  # no model name, no notes: nothing left dangling
    assert repr(empty) == "Analysis('x.mp4', 0:03.00, unknown, 0 segments, nothing read)"


def test_a_segment_shows_its_times_cut_words_and_answer_on_one_line():
    words = "I can't believe it, " * 10  # 20 characters, 10 times: cut to its first 39 and an ellipsis
    s = SegmentResult(12.3, 15.1, words, one_hot("joy", EMOTIONS), one_hot("positive", SENTIMENTS), ["text", "audio"])
    shown = repr(s)
    assert shown == ('SegmentResult(0:12.30–0:15.10, speech, "I can\'t believe it, I can\'t believe it,…", joy 0.90, '
                     "positive sentiment 0.90, words+voice)") and str(s) == shown
    s.start, s.end = 3723.45, 3730.0
    assert repr(s).startswith("SegmentResult(1:02:03.45–1:02:10.00, speech, ")


def test_a_segment_s_words_with_line_breaks_quotes_or_emoji_keep_one_line():
    tricky = make_analysis(3).segments[2]
    shown = repr(tricky)
    assert "\n" not in shown and "\\n" not in shown
    assert """'She said "no, never", then: «ça va?» 日本…'""" in shown  # quoted as Python quotes it, cut at 40
    tricky.text = "a" * 38 + "👩‍👩‍👧‍👦 family"
    assert repr("a" * 38 + "👩‍👩‍👧‍👦…") in repr(tricky)  # cut after the whole emoji, not inside it (its joiners
    # are written \u200d, as Python writes them in any string's repr)


def test_a_segment_where_nothing_was_read_says_so():
    gap = with_gap_unread(make_analysis(3))
    gap.start, gap.end = 2.0, 4.5
    assert repr(gap) == "SegmentResult(0:02.00–0:04.50, gap, nothing read)"  # no label of its uniform probabilities
    gap.kind, gap.text = "speech", "mumbled"
    assert repr(gap) == "SegmentResult(0:02.00–0:04.50, speech, 'mumbled', nothing read)"


def test_a_summary_shows_its_figures_not_its_points():
    segs = [SegmentResult(0, 1, "a", one_hot("joy", EMOTIONS), one_hot("positive", SENTIMENTS), ["text"]),
            SegmentResult(1, 4, "b", one_hot("anger", EMOTIONS), one_hot("negative", SENTIMENTS), ["text"])]
    s = Analysis(MediaFacts("x.mp4", 4.0, True, False), segs, {"name": "t"}).summary()
    assert repr(s) == "Summary(0:04.00, mostly anger (75% of the time read), mean sentiment -0.42, 2 segments read)"
    assert str(s) == repr(s)
    assert len(repr(make_analysis(300, duration=600.0).summary())) < REPR_MAX_CHARS
    assert repr(Analysis(MediaFacts("x.mp4", 3.0, False, True), [], {}).summary()) == "Summary(0:00.00, nothing read)"
