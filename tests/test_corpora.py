"""Corpus readers on the real MELD and RAVDESS files, the synthetic generator, and broken input."""

import logging
import re
import shutil
import wave
from collections import Counter

import numpy as np
import pytest

from mmsent import media
from mmsent.config import tiny_config
from mmsent.model import build_model
from mmsent.labels import EMOTIONS, SENTIMENTS
from train.corpora import CorpusError, clean_text, parse_actors, read_data_spec, read_meld, read_ravdess
from train.extract import EMPTY, audio_features
from train.synthetic import CLASSES, make_synthetic


def test_meld_dev_reads_every_utterance_with_labels(shared_data):
    samples = read_meld(shared_data / "meld" / "dev_sent_emo.csv", context=2)
    assert len(samples) == 1109
    assert len({s.id for s in samples}) == len(samples)
    assert all(s.corpus == "meld" and s.media is None and not s.has_video for s in samples)  # no clips here
    assert {EMOTIONS[s.emotion] for s in samples} == set(EMOTIONS)
    assert {SENTIMENTS[s.sentiment] for s in samples} == set(SENTIMENTS)
    assert not any("\u2019" in (s.text or "") for s in samples)  # curly quotes normalised
    first, second = samples[0], samples[1]
    assert first.context == () and second.group == first.group
    assert second.context == (first.text,)  # previous utterance of the same dialogue, plain text


def test_ravdess_labels_come_from_file_names_and_split_by_actor(shared_data, caplog):
    with caplog.at_level(logging.WARNING):
        train = read_ravdess(shared_data / "ravdess", "1-16")
    assert "no clips of actor 5, asked for" in caplog.text  # not there: said, not dropped silently
    dev = read_ravdess(shared_data / "ravdess", "17-20")
    actors = {s.group for s in train}  # actor 05 is held back from the shared data
    assert actors == {f"actor{a:02d}" for a in range(1, 17)} - {"actor05"}
    assert len(train) == 60 * len(actors) == 900 and len(dev) == 240  # 60 speech clips per actor
    assert not {s.group for s in train} & {s.group for s in dev}
    counts = Counter(EMOTIONS[s.emotion] for s in dev)
    assert counts["neutral"] == 4 * 12  # neutral (4 clips per actor) and calm (8) both train "neutral"
    assert counts["joy"] == counts["surprise"] == 4 * 8
    for s in dev[:20]:
        code = s.id.split("/")[1].split("-")
        assert s.sentiment is None and s.text.endswith("by the door.")
        assert ("Kids" in s.text) == (code[4] == "01")
        assert s.media.is_file() and s.group == f"actor{code[6]}"


def test_parse_actors_and_data_specs(shared_data):
    assert parse_actors("1-3,7") == {1, 2, 3, 7}
    assert parse_actors(None) is None
    with pytest.raises(CorpusError, match="bad actor list"):
        parse_actors("one-two")
    name, samples = read_data_spec(f"ravdess={shared_data / 'ravdess'}:20")
    assert name == "ravdess" and len(samples) == 60
    with pytest.raises(CorpusError, match="unknown corpus"):
        read_data_spec("iemocap=/nowhere")


def test_a_mistyped_data_spec_is_told_what_was_meant(tmp_path):
    """Before, "folders:DIR" got "bad --data" and "Folders=DIR" or "folder=DIR" "unknown corpus", a list of the
    known names; "folders= DIR" looked for a folder named " DIR" ("labelled folder not found"). Each now says the
    spec that was meant."""
    for spec, why in ((f"folders:{tmp_path}", "a corpus's name is followed by '=', not ':'"),
                      (f"Folders={tmp_path}", "'Folders' is no corpus's name"),
                      (f"folder={tmp_path}", "'folder' is no corpus's name"),
                      (f" folders={tmp_path}", "' folders' is no corpus's name"),
                      (f"folders= {tmp_path}", f"the path ' {tmp_path}' starts or ends with a space")):
        with pytest.raises(CorpusError) as e:
            read_data_spec(spec)
        assert str(e.value) == f"--data {spec!r}: {why}; did you mean folders={tmp_path}?"
    with pytest.raises(CorpusError, match="did you mean ravdess=/x:17-20[?]"):
        read_data_spec("RAVDESS=/x:17-20")
    with pytest.raises(CorpusError, match="^unknown corpus 'nonsense'"):  # nothing close: the known names
        read_data_spec(f"nonsense={tmp_path}")


def test_open_ended_and_reversed_actor_ranges_are_refused(shared_data):
    """"17-" read as actor 17 alone, and "18-17" as nobody ("no RAVDESS speech files found")."""
    for spec, why in (("17-", "the range '17-' is open-ended .give both ends."),
                      ("1-3,-20", "the range '-20' is open-ended .give both ends."),
                      ("18-17", "the range '18-17' is reversed .write it 17-18.")):
        with pytest.raises(CorpusError, match=f"bad actor list '{spec}': {why}; use e.g. '1-16'"):
            parse_actors(spec)
    with pytest.raises(CorpusError, match="open-ended"):
        read_data_spec(f"ravdess={shared_data / 'ravdess'}:17-")
    assert parse_actors(" 17 - 18 ") == {17, 18}
    actors = ", ".join(str(a) for a in range(1, 21) if a != 5)  # the shared copy's (without actor 05)
    with pytest.raises(CorpusError, match=re.escape(f"found for actors [21, 22, 23, 24] (its actors: {actors})")):
        read_data_spec(f"ravdess={shared_data / 'ravdess'}:21-24")  # it named none of them


def test_an_empty_data_path_is_refused_not_read_as_the_current_folder(tmp_path, monkeypatch):
    """``--data folders=$UNSET`` read the current folder (here one of labelled clips)."""
    _wav(tmp_path / "Angry" / "a.wav")
    _wav(tmp_path / "Actor_17" / "03-01-05-01-01-01-17.wav")
    monkeypatch.chdir(tmp_path)
    for spec, what in (("folders=", "the folder"), ("ravdess=", "the folder"), ("ravdess=:17-20", "the folder"),
                       ("meld=", "the CSV file"), ("fer2013=:test", "the folder or fer2013.csv")):
        with pytest.raises(CorpusError, match=f"--data {spec}: the path is empty; give {what}"):
            read_data_spec(spec)
    assert len(read_data_spec("folders=.")[1]) == 1  # the current folder, named, is still read


def test_ravdess_skips_hidden_files_and_folders(tmp_path, caplog):
    """A hidden folder's copies (.Trash, an rsync's temporary folder) were read as more clips."""
    clip = _wav(tmp_path / "Actor_17" / "03-01-05-01-01-01-17.wav")
    shutil.copy(clip, tmp_path / "Actor_17" / "._03-01-05-01-01-01-17.wav")  # macOS's AppleDouble twin
    (tmp_path / ".Trash").mkdir()
    shutil.copy(clip, tmp_path / ".Trash" / "03-01-05-01-01-02-17.wav")
    with caplog.at_level(logging.INFO):
        samples = read_ravdess(tmp_path)
    assert [s.id for s in samples] == ["ravdess/03-01-05-01-01-01-17"]
    assert "2 hidden files or folders skipped (.Trash, ._03-01-05-01-01-01-17.wav)" in caplog.text


def test_ravdess_counts_and_names_files_outside_its_naming(tmp_path, caplog):
    """Files of a RAVDESS folder named otherwise (notes, a name a field short) were passed over without a
    word, and a modality RAVDESS has not (04) was read as a clip; they are counted and named in the log,
    as the other readers do."""
    actor = tmp_path / "Actor_17"
    _wav(actor / "03-01-05-01-01-01-17.wav")
    for name in ("notes.wav", "03-01-01-01-01-01.wav", "04-01-05-01-01-02-17.wav"):
        _wav(actor / name, seconds=0.3)
    (actor / "readme.txt").write_text("take 2 was better")
    with caplog.at_level(logging.INFO):
        samples = read_ravdess(tmp_path)
    assert [s.id for s in samples] == ["ravdess/03-01-05-01-01-01-17"]
    assert "2 files with other names skipped (03-01-01-01-01-01.wav, notes.wav)" in caplog.text
    assert "1 other files skipped (readme.txt)" in caplog.text
    assert "1 unknown code skipped (04-01-05-01-01-02-17.wav)" in caplog.text


def _wav(path, seconds=0.2, rate=16000):
    """A short 440 Hz tone as 16-bit mono WAV."""
    path.parent.mkdir(parents=True, exist_ok=True)
    tone = (0.3 * 32767 * np.sin(2 * np.pi * 440 * np.arange(int(seconds * rate)) / rate)).astype("<i2")
    with wave.open(str(path), "wb") as f:
        f.setnchannels(1)
        f.setsampwidth(2)
        f.setframerate(rate)
        f.writeframes(tone.tobytes())
    return path


def test_bad_paths_and_files_give_clear_errors(tmp_path):
    with pytest.raises(CorpusError, match="MELD CSV not found"):
        read_meld(tmp_path / "missing.csv")
    bad = tmp_path / "bad.csv"
    bad.write_text("a,b\n1,2\n")
    with pytest.raises(CorpusError, match="missing columns"):
        read_meld(bad)
    with pytest.raises(CorpusError, match="no RAVDESS speech files"):
        read_ravdess(tmp_path)


def test_clean_text():
    assert clean_text("You must\u2019ve  had \u201cfun\u201d\u2026") == 'You must\'ve had "fun"...'


def test_synthetic_corpus_in_meld_layout_with_broken_clips(tmp_path):
    folder = make_synthetic(tmp_path, n_train=6, n_dev=3)
    clips = folder / "train_splits"
    (clips / "dia1_utt0.mp4").unlink()  # a missing clip: text only
    (clips / "dia0_utt1.mp4").write_bytes(b"\x00not a video" * 100)  # a corrupt clip
    samples = read_meld(folder / "train_sent_emo.csv")
    assert len(samples) == 6
    assert [s.media is not None for s in samples] == [True, True, True, True, True, False]
    assert [(EMOTIONS[s.emotion], SENTIMENTS[s.sentiment]) for s in samples[:3]] == list(CLASSES)
    info = media.probe(samples[0].media)
    assert info.has_audio and info.has_video and abs(info.duration - 1.0) < 0.2
    feats = audio_features(build_model(tiny_config()), samples, root=None)  # the corrupt clip is skipped, not a crash
    assert feats[samples[1].feature_id("audio")].numel() == EMPTY.numel() == 0
    first = feats[samples[0].feature_id("audio")]
    assert first.shape[0] == 64 and np.isfinite(first.numpy()).all()
