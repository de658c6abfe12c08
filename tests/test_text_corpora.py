"""GoEmotions reader (train.text_corpora) on the real files in ../shared/data/goemotions."""

import csv
import shutil
from collections import Counter

import pytest

from mmsent.labels import EMOTIONS, SENTIMENTS
from train.args import parse_args, read_corpora
from train.corpora import CorpusError, clean_text, read_data_spec
from train.text_corpora import cap_per_emotion, read_goemotions

# What the GoEmotions paper (Demszky et al. 2020, table 4 / figure 2) groups each label under,
# written out here rather than read from the mapping file the reader uses.
PAPER_GROUPS = {"amusement": "joy", "gratitude": "joy", "annoyance": "anger", "disapproval": "anger",
                "nervousness": "fear", "grief": "sadness", "embarrassment": "sadness", "realization": "surprise",
                "curiosity": "surprise", "disgust": "disgust", "neutral": "neutral"}
NEGATIVE = {"anger", "disgust", "fear", "sadness"}


@pytest.fixture(scope="module")
def folder(shared_data):
    return shared_data / "goemotions"


@pytest.fixture(scope="module")
def raw(folder):
    """split -> list of (text, [label names], comment id), read with the csv module alone."""
    names = (folder / "emotions.txt").read_text().split()
    out = {}
    for split in ("train", "dev", "test"):
        with open(folder / f"{split}.tsv", newline="", encoding="utf-8") as f:
            out[split] = [(t, [names[int(i)] for i in ids.split(",")], c)
                          for t, ids, c in csv.reader(f, delimiter="\t", quoting=csv.QUOTE_NONE)]
    return out


@pytest.fixture(scope="module")
def train(folder):
    samples = read_goemotions(folder / "train.tsv")
    return samples, Counter(read_goemotions.last_counts)


def test_counts_match_the_published_splits(folder, raw, train):
    samples, counts = train
    assert len(raw["train"]) == 43410  # the README's figures
    assert counts["disagreeing labels"] == 3855
    assert len(samples) + sum(counts.values()) == 43410
    assert len({s.id for s in samples}) == len(samples)
    for split in ("dev", "test"):
        kept = read_goemotions(folder / f"{split}.tsv")
        left = read_goemotions.last_counts["disagreeing labels"]
        assert len(kept) + left == len(raw[split]) and 0 < left < len(raw[split]) // 5
        assert all(s.id.startswith(f"goemotions/{split}/") for s in kept)


def test_sample_fields(raw, train):
    samples, _ = train
    by_comment = {c: (t, labels) for t, labels, c in raw["train"]}
    for s in samples[:500]:
        comment = s.id.removeprefix("goemotions/train/")
        assert s.corpus == "goemotions" and s.group == comment and s.media is None and not s.has_video
        assert s.text and s.text == clean_text(by_comment[comment][0])
        assert s.context == ()


def test_label_mapping_follows_the_ekman_groups(raw, train):
    samples, _ = train
    by_id = {s.id: s for s in samples}
    checked = Counter()
    for _, labels, comment in raw["train"]:
        if len(set(labels)) == 1 and labels[0] in PAPER_GROUPS:
            s = by_id[f"goemotions/train/{comment}"]
            assert EMOTIONS[s.emotion] == PAPER_GROUPS[labels[0]], (comment, labels)
            checked[labels[0]] += 1
    assert set(checked) == set(PAPER_GROUPS)  # every listed label had single-label comments to check
    share = Counter(EMOTIONS[s.emotion] for s in samples)
    assert set(share) == set(EMOTIONS)
    assert share.most_common(1)[0][0] == "joy" and 0.35 < share["joy"] / len(samples) < 0.42


def test_rows_whose_labels_disagree_are_left_out_and_agreeing_ones_kept(raw, train):
    samples, _ = train
    ids = {s.id for s in samples}
    mixed = [c for _, labels, c in raw["train"] if {"amusement", "anger"} <= set(labels)]  # joy + anger
    with_neutral = [c for _, labels, c in raw["train"] if "neutral" in labels and "sadness" in labels]
    same_group = [c for _, labels, c in raw["train"] if set(labels) == {"admiration", "approval"}]  # both joy
    assert mixed and with_neutral and same_group
    assert not any(f"goemotions/train/{c}" in ids for c in mixed + with_neutral)
    assert all(f"goemotions/train/{c}" in ids for c in same_group)


def test_sentiment_follows_the_labels_and_surprise_is_masked(train):
    samples, _ = train
    for s in samples:
        emotion = EMOTIONS[s.emotion]
        if emotion == "surprise":  # its labels are "ambiguous" in sentiment_dict.json
            assert s.sentiment is None
        else:
            expected = "negative" if emotion in NEGATIVE else "positive" if emotion == "joy" else "neutral"
            assert SENTIMENTS[s.sentiment] == expected, s
    masked = sum(s.sentiment is None for s in samples)
    assert masked == sum(EMOTIONS[s.emotion] == "surprise" for s in samples) > 3000


def test_cap_per_emotion_balances_and_is_repeatable(train):
    samples, _ = train
    capped = cap_per_emotion(samples, 2000, seed=0)
    share = Counter(EMOTIONS[s.emotion] for s in capped)
    full = Counter(EMOTIONS[s.emotion] for s in samples)
    assert max(share.values()) == 2000 and share["joy"] == 2000
    assert all(share[e] == min(full[e], 2000) for e in EMOTIONS)  # rare classes (fear, disgust) kept whole
    assert [s.id for s in capped] == [s.id for s in cap_per_emotion(samples, 2000, seed=0)]
    assert [s.id for s in capped] != [s.id for s in cap_per_emotion(samples, 2000, seed=1)]
    order = {s.id: i for i, s in enumerate(samples)}
    assert [order[s.id] for s in capped] == sorted(order[s.id] for s in capped)
    assert len(cap_per_emotion(samples, 0)) == len(samples)


def test_data_spec_and_training_options(folder, tmp_path):
    name, dev = read_data_spec(f"goemotions={folder / 'dev.tsv'}")
    assert name == "goemotions" and dev and dev[0].corpus == "goemotions"
    args = parse_args(["--goemotions", str(folder), "--goemotions-cap", "500", "--out", str(tmp_path)])
    train_set, dev_sets, _ = read_corpora(args)
    assert max(Counter(s.emotion for s in train_set).values()) == 500
    assert list(dev_sets) == ["goemotions"]  # alone, it selects on its own dev split
    meld = folder.parent / "meld"
    args = parse_args(["--goemotions", str(folder), "--goemotions-cap", "500", "--meld", str(meld),
                       "--out", str(tmp_path)])
    train_set, dev_sets, _ = read_corpora(args)
    assert list(dev_sets) == ["meld"]  # with MELD, selection stays on MELD dev
    assert {s.corpus for s in train_set} == {"meld", "goemotions"}


def test_bad_files_are_refused_with_the_reason(folder, tmp_path):
    shutil.copy(folder / "dev.tsv", tmp_path / "dev.tsv")
    with pytest.raises(CorpusError, match="emotions.txt"):
        read_goemotions(tmp_path / "dev.tsv")  # mapping files missing beside it
    for name in ("emotions.txt", "ekman_mapping.json", "sentiment_dict.json"):
        shutil.copy(folder / name, tmp_path / name)
    (tmp_path / "bad.tsv").write_text("fine text\t3\tabc\nbroken\t99\tdef\n")
    with pytest.raises(CorpusError, match="line 2.*label ids"):
        read_goemotions(tmp_path / "bad.tsv")
    with pytest.raises(CorpusError, match="not found"):
        read_goemotions(tmp_path / "missing.tsv")


def test_files_saved_with_a_byte_order_mark_read_as_the_originals(folder, tmp_path):
    """An editor that saves UTF-8 with a byte order mark (Notepad, Excel's "CSV UTF-8"): the first comment kept it
    in its words, and the mapping files beside the TSV were refused (a label "\\ufeffadmiration", JSON's "Unexpected
    UTF-8 BOM")."""
    for name in ("emotions.txt", "ekman_mapping.json", "sentiment_dict.json"):
        (tmp_path / name).write_text("\ufeff" + (folder / name).read_text(encoding="utf-8"), encoding="utf-8")
    lines = (folder / "dev.tsv").read_text(encoding="utf-8").splitlines(keepends=True)[:50]
    (tmp_path / "dev.tsv").write_text("\ufeff" + "".join(lines), encoding="utf-8")
    original = [s for s in read_goemotions(folder / "dev.tsv") if s.group in {ln.split("\t")[2].strip() for ln in lines}]
    assert read_goemotions(tmp_path / "dev.tsv") == original and not original[0].text.startswith("\ufeff")
