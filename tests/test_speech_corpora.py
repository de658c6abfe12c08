"""Speech corpus readers: EMOVO on the real files; EMO-DB, CREMA-D and emotion folders on files
generated here with their published names (a 440 Hz tone in a wav, an mp3 and an mp4 container)."""

import logging
import re
import shutil
from collections import Counter
from pathlib import Path

import numpy as np
import pytest
from mediagen import ffmpeg, make_audio, make_video

from mmsent import media
from mmsent.labels import EMOTIONS
from train.corpora import CorpusError, read_data_spec
from train.speech_corpora import (FOLDER_NAMES, folder_emotion, read_cremad, read_emodb, read_emovo,
                                  read_folders, read_voices)


@pytest.fixture(scope="module")
def clips(tmp_path_factory):
    """One tiny file per container, copied under every name a test needs."""
    folder = tmp_path_factory.mktemp("clips")
    return {".wav": make_audio(folder / "tone.wav", duration=0.5),
            ".mp3": make_audio(folder / "tone.mp3", duration=0.5),
            ".mp4": make_video(folder / "tone.mp4", duration=0.5, size=(64, 48))}


def put(clips, path, suffix=".wav"):
    path = path.with_suffix(suffix)
    path.parent.mkdir(parents=True, exist_ok=True)
    shutil.copy(clips[suffix], path)
    return path


def put_own(clips, path, suffix=".wav"):
    """``put``, with bytes of its own (its path as a metadata tag): the same bytes under two emotion
    folders are one clip labelled twice, which read_folders refuses."""
    path = path.with_suffix(suffix)
    path.parent.mkdir(parents=True, exist_ok=True)
    ffmpeg("-i", clips[suffix], "-c", "copy", "-metadata", f"comment={path}", path)
    return path


def names(samples):
    return Counter(EMOTIONS[s.emotion] for s in samples)


def test_emovo_real_files_counts_and_speaker_split(shared_data):
    samples = read_emovo(shared_data / "emovo")
    assert len(samples) == 588 and len({s.id for s in samples}) == 588
    assert names(samples) == {e: 84 for e in EMOTIONS}  # 6 speakers x 14 sentences per emotion
    assert Counter(s.group for s in samples) == {f"emovo-{k}": 98 for k in ("f1", "f2", "f3", "m1", "m2", "m3")}
    for s in samples:  # the label is the file's own code, through the documented mapping
        code, speaker, _ = s.media.stem.split("-")
        assert s.media.parent.name == speaker and s.group == f"emovo-{speaker}"
        assert EMOTIONS[s.emotion] == {"dis": "disgust", "gio": "joy", "neu": "neutral", "pau": "fear",
                                       "rab": "anger", "sor": "surprise", "tri": "sadness"}[code]
        assert s.text is None and s.sentiment is None and not s.has_video and s.corpus == "emovo"
    train, dev = read_emovo(shared_data / "emovo", "f1,f2,m1,m2"), read_emovo(shared_data / "emovo", ["F3", "m3"])
    assert len(train) == 4 * 98 and len(dev) == 2 * 98
    assert not {s.group for s in train} & {s.group for s in dev}
    assert names(dev) == {e: 28 for e in EMOTIONS}
    audio = media.load_audio(dev[0].media)
    assert audio.dtype.name == "float32" and 0.5 < len(audio) / media.SAMPLE_RATE < 15


def test_emodb_names_boredom_left_out_and_counted(tmp_path, clips, caplog):
    codes = {"W": "anger", "E": "disgust", "A": "fear", "F": "joy", "T": "sadness", "N": "neutral"}
    for speaker in ("03", "16"):
        for i, code in enumerate([*codes, "L"]):
            put(clips, tmp_path / "wav" / f"{speaker}a0{i + 1}{code}a")
    put(clips, tmp_path / "wav" / "03b10Wc", ".mp4")  # another container, another version letter
    put(clips, tmp_path / "wav" / "README", ".wav")  # a name outside the layout
    with caplog.at_level(logging.INFO):
        samples = read_emodb(tmp_path)
    assert len(samples) == 13 and "2 boredom (L) skipped" in caplog.text
    for s in samples:
        assert EMOTIONS[s.emotion] == codes[s.media.stem[5]] and s.group == f"emodb-{s.media.stem[:2]}"
        assert s.id == f"emodb/{s.media.stem}" and s.text is None and s.sentiment is None
    assert [s.has_video for s in samples if s.media.suffix == ".mp4"] == [True]
    assert len(read_emodb(tmp_path, "16")) == 6
    assert [s.id for s in read_emodb(tmp_path, "3")] == [s.id for s in read_emodb(tmp_path, "03")]  # either way
    name, spec = read_data_spec(f"emodb={tmp_path}")
    assert name == "emodb" and [s.id for s in spec] == [s.id for s in samples]


def test_cremad_names_in_any_container_one_clip_per_name(tmp_path, clips, caplog):
    codes = {"ANG": "anger", "DIS": "disgust", "FEA": "fear", "HAP": "joy", "NEU": "neutral", "SAD": "sadness"}
    for actor, suffix in (("1001", ".wav"), ("1091", ".mp3")):
        for code, level in zip(codes, ("XX", "LO", "MD", "HI", "XX", "X")):  # X: older copies' one letter
            put(clips, tmp_path / "AudioWAV" / f"{actor}_DFA_{code}_{level}", suffix)
    put(clips, tmp_path / "VideoFlash" / "1001_DFA_ANG_XX", ".mp4")  # the same clip as a video
    put(clips, tmp_path / "AudioWAV" / "1003_ZZZ_ANG_XX", ".wav")  # none of its 12 sentences: left out, counted
    with caplog.at_level(logging.INFO):
        samples = read_cremad(tmp_path)
    assert "1 unknown sentence code 'ZZZ' skipped" in caplog.text
    assert len(samples) == 12 and names(samples) == {e: 2 for e in codes.values()}
    assert {s.group for s in samples} == {"cremad-1001", "cremad-1091"}
    assert all(s.text == "Don't forget a jacket." and s.sentiment is None for s in samples)
    both = [s for s in samples if s.id == "cremad/1001_DFA_ANG_XX"]
    assert len(both) == 1 and both[0].has_video and both[0].media.suffix == ".mp4"  # the video copy is kept
    assert media.load_audio(samples[-1].media).size > 0  # the mp3 decodes
    assert read_data_spec(f"cremad={tmp_path}:1091")[1] == [s for s in samples if s.group == "cremad-1091"]


def test_folders_synonyms_and_name(tmp_path, clips, caplog):
    root = tmp_path / "street_talk"
    layout = {"Angry": "anger", "HAPPY": "joy", "sadness": "sadness", "scared": "fear", "Disgusted": "disgust",
              "surprised": "surprise", "Calm": "neutral"}
    for folder in layout:
        put_own(clips, root / folder / "a", ".wav")
        put_own(clips, root / folder / "take2" / "a", ".mp4")  # nested, same stem: a different clip
    put(clips, root / "Boredom" / "x")  # unknown emotion: skipped, named in the log
    put_own(clips, root / "Angry" / "sad" / "b", ".wav")  # another emotion's name inside: the outer one's, said
    (root / "notes.txt").write_text("not media")
    with caplog.at_level(logging.INFO):
        name, samples = read_data_spec(f"folders={root}/")
    assert name == "street_talk" and "Boredom" in caplog.text
    assert ("1 clip(s) in a folder named for another emotion, inside an emotion folder, labelled as the outer "
            "folder says: Angry/sad/b.wav") in caplog.text
    assert len(samples) == 15 and len({s.id for s in samples}) == 15 and len({s.group for s in samples}) == 15
    assert names(samples) == {e: 3 if e == "anger" else 2 for e in layout.values()}
    assert all(s.corpus == "street_talk" and s.id.startswith("street_talk/") for s in samples)
    assert sum(s.has_video for s in samples) == 7


def test_emotion_folders_that_hold_no_clip_are_named(tmp_path, clips, caplog):
    """Before, an empty Fear/ (or one holding only notes) was passed over without a word: the figures simply
    had no fear, and nothing said that the folder meant for it gave none."""
    put(clips, tmp_path / "mine" / "Angry" / "a")
    (tmp_path / "mine" / "Fear").mkdir()
    (tmp_path / "mine" / "Sad").mkdir()
    (tmp_path / "mine" / "Sad" / "notes.txt").write_text("to record")
    with caplog.at_level(logging.WARNING):
        _, samples = read_data_spec(f"folders={tmp_path / 'mine'}")
    assert names(samples) == {"anger": 1}
    assert "2 emotion folder(s) hold no audio or video files: Fear, Sad" in caplog.text


def test_an_emotion_folder_a_flat_folder_or_a_folder_of_speakers_is_told_what_to_pass(tmp_path, clips):
    """Before, the first two were 'no emotion folders (found folders: none)', with nothing on the clips right there,
    and a folder of speakers' emotion folders listed the known names."""
    put(clips, tmp_path / "mine" / "Angry" / "a")
    with pytest.raises(CorpusError, match=r"Angry is itself an emotion folder: pass the folder that holds it, "
                                          r"folders=\S*mine$"):
        read_folders(tmp_path / "mine" / "Angry")
    put(clips, tmp_path / "flat" / "a")
    put(clips, tmp_path / "flat" / "b", ".mp4")
    with pytest.raises(CorpusError, match=r"2 audio or video files lie in it, outside any emotion folder: sort them "
                                          r"into sub-folders named for their emotion \(Angry/, Happy/, ...\)"):
        read_folders(tmp_path / "flat")
    put(clips, tmp_path / "speakers" / "spk1" / "Angry" / "a")  # one level too high: the speakers' folder
    put(clips, tmp_path / "speakers" / "spk2" / "Sad" / "a")
    with pytest.raises(CorpusError, match=r"its folders spk1, spk2 hold emotion folders: pass each as a --data of its "
                                          r"own, e.g. folders=\S*speakers/spk1$"):
        read_folders(tmp_path / "speakers")


def test_folders_of_clips_under_names_not_known_are_a_warning_that_says_the_names(tmp_path, clips, caplog):
    """Before, Wut/ and felicità/ (German, Italian) were skipped with an info line among the others: their clips
    were left out of the figures unnoticed. Folders without clips (notes/) stay an info line."""
    put(clips, tmp_path / "mine" / "Angry" / "a")
    put(clips, tmp_path / "mine" / "Wut" / "a")
    put(clips, tmp_path / "mine" / "felicità" / "deep" / "a", ".mp4")
    (tmp_path / "mine" / "notes").mkdir()
    with caplog.at_level(logging.INFO):
        _, samples = read_data_spec(f"folders={tmp_path / 'mine'}")
    assert names(samples) == {"anger": 1}
    warned = [r.getMessage() for r in caplog.records if r.levelno == logging.WARNING]
    assert len(warned) == 1 and "2 folder(s) of audio or video with no emotion name left out: Wut, felicità" in warned[0]
    assert ("the model answers anger, disgust, fear, joy, neutral, sadness, surprise: rename a folder that holds one "
            "of these for it (known names: afraid, anger, angry") in warned[0] and "notes" not in warned[0]


def test_folders_of_other_emotions_are_not_told_to_be_renamed(tmp_path, clips, caplog):
    """Before, Bored/ and Contempt/ were told 'rename each for its emotion': there is none among the seven to
    rename them for, and a user would file boredom under neutral to obey."""
    put(clips, tmp_path / "mine" / "Angry" / "a")
    put(clips, tmp_path / "mine" / "Bored" / "a")
    put(clips, tmp_path / "mine" / "Contempt" / "a")
    with caplog.at_level(logging.WARNING):
        read_folders(tmp_path / "mine")
    assert "rename each" not in caplog.text
    assert "leave out those of other emotions (bored, contempt, ...)" in caplog.text


def test_the_log_says_what_each_folder_was_read_as_and_the_emotions_no_clip_has(tmp_path, clips, caplog):
    """Before, the log said '3 mine clips': nothing showed that Calm/ was read as neutral, Mad/ as anger, nor that
    no clip was of fear (its folder misspelt, say): the figures had to be opened to see it."""
    put_own(clips, tmp_path / "mine" / "Calm" / "a")
    put_own(clips, tmp_path / "mine" / "Mad" / "a")
    put_own(clips, tmp_path / "mine" / "Mad" / "b")
    with caplog.at_level(logging.INFO):
        read_folders(tmp_path / "mine")
    assert ("emotion folders read as Calm -> neutral (1), Mad -> anger (2); no clips of disgust, fear, joy, sadness, "
            "surprise") in caplog.text
    assert "mine: 3 clips of mine" in caplog.text  # its count, one clip or several
    put_own(clips, tmp_path / "one" / "Sad" / "a")
    with caplog.at_level(logging.INFO):
        read_folders(tmp_path / "one")
    assert "one: 1 clip of one" in caplog.text


def test_a_tilde_in_the_path_is_the_home_folder(tmp_path, clips, monkeypatch):
    """Before, "folders=~/clips" quoted (a name with spaces) or written --data=folders=~/clips, which no shell
    expands, was '~/clips: labelled folder not found'."""
    put(clips, tmp_path / "my clips" / "Angry" / "a")
    monkeypatch.setenv("HOME", str(tmp_path))
    name, samples = read_data_spec("folders=~/my clips")
    assert name == "my clips" and names(samples) == {"anger": 1}


def test_a_folder_that_can_t_be_listed_is_said(tmp_path, clips, monkeypatch):
    """Before, a DIR the user may not read (another user's, chmod 700) ended train.evaluate in a PermissionError
    traceback. (Tests may run as root, whom no mode stops: listing the folder is made to fail instead.)"""
    put(clips, tmp_path / "mine" / "Angry" / "a")
    listed = Path.iterdir

    def iterdir(self):
        if self == tmp_path / "mine":
            raise PermissionError(13, "Permission denied", str(self))
        return listed(self)
    monkeypatch.setattr(Path, "iterdir", iterdir)
    with pytest.raises(CorpusError, match=r"mine: can't list the folder \(Permission denied\); make it readable"):
        read_data_spec(f"folders={tmp_path / 'mine'}")


def test_folder_names_cover_the_listed_synonyms():
    expected = {"anger": "angry anger mad", "joy": "happy happiness joy joyful", "sadness": "sad sadness",
                "fear": "fear fearful afraid scared", "disgust": "disgust disgusted",
                "surprise": "surprise surprised", "neutral": "neutral calm"}
    for emotion, words in expected.items():
        for word in words.split():
            assert folder_emotion(word) == folder_emotion(word.upper()) == emotion
            assert folder_emotion(f" {word.title()} ") == emotion
    assert set(FOLDER_NAMES.values()) == set(EMOTIONS)
    assert folder_emotion("boredom") is None and folder_emotion("angry_speech") is None


def test_wrong_folders_give_clear_errors(tmp_path, clips, shared_data):
    with pytest.raises(CorpusError, match="EMOVO|emovo folder not found"):
        read_emovo(tmp_path / "missing")
    with pytest.raises(CorpusError, match="no emovo clips"):
        read_emovo(shared_data / "ravdess" / "Actor_01")  # RAVDESS names are not EMOVO names
    with pytest.raises(CorpusError, match=r"for speakers \['x9'\]"):
        read_emovo(shared_data / "emovo", "x9")
    with pytest.raises(CorpusError, match="no emodb clips"):
        read_emodb(tmp_path)
    with pytest.raises(CorpusError, match="no cremad clips"):
        read_cremad(shared_data / "emovo")
    put(clips, tmp_path / "labelled" / "Bored" / "a")
    put(clips, tmp_path / "labelled" / "a")  # files beside the folders, not in one
    with pytest.raises(CorpusError, match="no emotion folders .found folders: Bored.*known names: afraid"):
        read_folders(tmp_path / "labelled")
    (tmp_path / "empty" / "Happy").mkdir(parents=True)
    (tmp_path / "empty" / "sad").mkdir()
    with pytest.raises(CorpusError, match=r"emotion folders \(Happy, sad\) hold no audio or video files$"):
        read_folders(tmp_path / "empty")
    (tmp_path / "empty" / "sad" / "face.png").write_bytes(b"\x89PNG")  # faces sorted as a face corpus is
    with pytest.raises(CorpusError, match=r"\(1 other files skipped \(face.png\)\); they hold images: for faces "
                                          r"pass fer2013=DIR or ckplus=DIR"):
        read_folders(tmp_path / "empty")
    with pytest.raises(CorpusError, match="labelled folder not found"):
        read_data_spec(f"folders={tmp_path / 'nowhere'}")
    with pytest.raises(CorpusError, match=r"folders= takes a path alone, not a list of speakers or a split after"):
        read_data_spec(f"folders={tmp_path / 'labelled'}:f2")
    for kind, where in (("meld", "dev_sent_emo.csv:dev"), ("ckplus", "CK+48:m1"), ("goemotions", "dev.tsv:1-3")):
        with pytest.raises(CorpusError, match=rf"{kind}= takes a path alone"):  # each reader said "not found"
            read_data_spec(f"{kind}={tmp_path / where}")
    with pytest.raises(CorpusError, match="unknown corpus 'iemocap'") as error:
        read_data_spec(f"iemocap={tmp_path}")
    assert all(name in str(error.value) for name in ("emovo", "emodb", "cremad", "folders"))  # the known list


def test_folders_read_every_container_the_decoder_reads_and_count_other_files(tmp_path, caplog):
    """.caf, .mka and .au decode (PyAV) but were left out of the suffix list, without a word; files of
    other kinds (a cover image, notes) are skipped and counted, named in the log."""
    root = tmp_path / "formats"
    for folder, suffix in (("Happy", ".caf"), ("Angry", ".mka"), ("Sad", ".au")):
        (root / folder).mkdir(parents=True)
        make_audio(root / folder / f"clip{suffix}", duration=0.5)
    (root / "Happy" / "cover.jpg").write_bytes(b"\xff\xd8")
    (root / "Happy" / "notes.txt").write_text("take 2 was better")
    with caplog.at_level(logging.INFO):
        samples = read_folders(root)
    assert sorted(s.media.name for s in samples) == ["clip.au", "clip.caf", "clip.mka"]
    assert names(samples) == {"joy": 1, "anger": 1, "sadness": 1} and not any(s.has_video for s in samples)
    assert "2 other files skipped (cover.jpg, notes.txt)" in caplog.text
    assert all(media.load_audio(s.media).size > 0 for s in samples)  # the decoder reads them


def test_hidden_files_and_folders_are_skipped_and_counted(tmp_path, clips, caplog):
    """macOS's AppleDouble files (``._a.wav``), .DS_Store and hidden folders were taken as clips (that
    then failed to decode and counted as unreadable)."""
    root = tmp_path / "mac"
    put_own(clips, root / "Angry" / "a")
    put_own(clips, root / "Sad" / "b")
    (root / "Angry" / "._a.wav").write_bytes(b"\x00\x05\x16\x07" * 300)  # AppleDouble: resource fork, no sound
    (root / "Sad" / ".DS_Store").write_bytes(b"\x00\x00\x00\x01Bud1")
    put_own(clips, root / "Sad" / ".Trash" / "old")
    (root / ".DS_Store").write_bytes(b"\x00\x00\x00\x01Bud1")
    with caplog.at_level(logging.INFO):
        samples = read_folders(root)
    assert sorted(s.media.name for s in samples) == ["a.wav", "b.wav"]
    assert "4 hidden files or folders skipped (.DS_Store, ._a.wav, .DS_Store, ...)" in caplog.text
    put(clips, tmp_path / "emodb" / "wav" / "03a01Fa")
    put(clips, tmp_path / "emodb" / "wav" / ".backup" / "03a01Wa")  # a hidden copy: not read
    assert [s.id for s in read_emodb(tmp_path / "emodb")] == ["emodb/03a01Fa"]
    assert [s.media.name for s in read_voices(root / "Sad")] == ["b.wav"]


def test_folders_follow_links_at_any_depth_under_the_name_given(tmp_path, clips, caplog):
    """A linked folder inside an emotion folder was not followed (its clips silently missing), and the
    report was named after the link's target; a loop of links ends, a broken link is counted."""
    elsewhere = tmp_path / "elsewhere"
    put_own(clips, elsewhere / "n1")
    put_own(clips, elsewhere / "deeper" / "n2")
    real = tmp_path / "real_named"
    put_own(clips, real / "Angry" / "a")
    (real / "Neutral").mkdir()
    (real / "Neutral" / "linked_sub").symlink_to(elsewhere)
    (elsewhere / "back").symlink_to(real / "Neutral")  # a loop: Neutral/linked_sub/back is Neutral again
    (real / "Angry" / "gone.wav").symlink_to(tmp_path / "deleted.wav")
    (tmp_path / "links").mkdir()
    (tmp_path / "links" / "my_clips").symlink_to(real)
    with caplog.at_level(logging.INFO):
        name, samples = read_data_spec(f"folders={tmp_path / 'links' / 'my_clips'}")
    assert name == "my_clips" and {s.corpus for s in samples} == {"my_clips"}
    assert sorted(s.id for s in samples) == ["my_clips/Angry/a", "my_clips/Neutral/linked_sub/deeper/n2",
                                             "my_clips/Neutral/linked_sub/n1"]
    assert names(samples) == {"anger": 1, "neutral": 2}
    assert "1 broken links skipped (gone.wav)" in caplog.text


def test_a_clip_under_two_emotion_folders_is_refused(tmp_path, clips):
    """The same file through a link, or a copy of the same bytes, under two emotion folders was counted
    once with each label."""
    root = tmp_path / "labels"
    angry = put_own(clips, root / "Angry" / "a")
    put_own(clips, root / "Sad" / "b")
    (root / "Sad" / "also_sad.wav").symlink_to(angry)
    with pytest.raises(CorpusError, match=r"Angry/a.wav and .*Sad/also_sad.wav are the same clip, labelled both "
                                          r"Angry and Sad"):
        read_folders(root)
    (root / "Sad" / "also_sad.wav").unlink()
    (root / "Sad" / "copy").mkdir()
    shutil.copy(angry, root / "Sad" / "copy" / "a.wav")
    with pytest.raises(CorpusError, match="labelled both Angry and Sad"):
        read_folders(root)
    (root / "Sad" / "copy" / "a.wav").unlink()
    (root / "Angry" / "stub.wav").write_bytes(b"")  # empty stubs are alike, not one clip: counted unreadable later
    (root / "Sad" / "stub.wav").write_bytes(b"")
    assert len(read_folders(root)) == 4


def test_copies_of_a_clip_under_one_label_are_read_once(tmp_path, clips, caplog):
    """A copy of a clip under the same emotion (another name, a link) was read as another clip, and a RAVDESS
    clip in two folders twice under one id: it counted twice in training and in the dev figures. The first by
    path is kept; the others are counted and named in the log."""
    from train.corpora import read_ravdess

    root = tmp_path / "mine"
    a = put_own(clips, root / "Happy" / "a")
    shutil.copy(a, root / "Happy" / "copy_of_a.wav")
    (root / "Happy" / "take2").mkdir()
    (root / "Happy" / "take2" / "link.wav").symlink_to(a)
    put_own(clips, root / "Sad" / "b")
    with caplog.at_level(logging.INFO):
        samples = read_folders(root)
    assert [s.id for s in samples] == ["mine/Happy/a", "mine/Sad/b"]
    assert "2 copies of another clip skipped (copy_of_a.wav, link.wav)" in caplog.text
    ravdess = tmp_path / "ravdess"
    first = put(clips, ravdess / "Actor_17" / "03-01-05-01-01-01-17")
    put(clips, ravdess / "backup" / "Actor_17" / first.stem)  # the same name in another folder
    caplog.clear()
    with caplog.at_level(logging.INFO):
        assert [s.media for s in read_ravdess(ravdess)] == [first]
    assert "1 copies in another container skipped (03-01-05-01-01-01-17.wav)" in caplog.text


def test_lossless_copy_of_a_clip_is_kept_over_a_lossy_one(tmp_path, clips, caplog):
    """EMO-DB's 03a01Wa.wav beside 03a01Wa.mp3 kept the mp3 (the first by name); a video copy is still
    kept first (it gives the face)."""
    for suffix in (".mp3", ".wav"):
        put(clips, tmp_path / "emodb" / "wav" / "03a01Wa", suffix)
    with caplog.at_level(logging.INFO):
        (sample,) = read_emodb(tmp_path / "emodb")
    assert sample.media.name == "03a01Wa.wav" and "1 copies in another container skipped (03a01Wa.mp3)" in caplog.text
    put(clips, tmp_path / "cremad" / "AudioMP3" / "1001_DFA_ANG_XX", ".mp3")
    put(clips, tmp_path / "cremad" / "AudioWAV" / "1001_DFA_ANG_XX", ".wav")
    assert read_cremad(tmp_path / "cremad")[0].media.suffix == ".wav"
    put(clips, tmp_path / "cremad" / "VideoFlash" / "1001_DFA_ANG_XX", ".mp4")
    assert read_cremad(tmp_path / "cremad")[0].media.suffix == ".mp4"


def test_speaker_ranges_are_refused_and_missing_speakers_named(tmp_path, clips, caplog):
    """No speaker name holds a dash: "1001-1003" named nobody, and beside a real speaker ("03,16-")
    shrank the selection without a word."""
    for name in ("03a01Fa", "16a01Fa"):
        put(clips, tmp_path / name)
    for speakers in ("03-16", "03,16-", ","):
        with pytest.raises(CorpusError, match="bad speaker list.*ranges are not read"):
            read_emodb(tmp_path, speakers)
    with caplog.at_level(logging.WARNING):
        assert len(read_emodb(tmp_path, "03,17")) == 1
    assert "no emodb clips of speakers ['17'] (its speakers: 16, 3)" in caplog.text
    with pytest.raises(CorpusError, match=re.escape("found for speakers ['17'] (its speakers: 16, 3)")):
        read_emodb(tmp_path, "17")  # it named none of them


def test_perturbed_training_copies_are_fixed_draws_of_the_same_clip(shared_data):
    """--audio-augment: of the --ravdess-repeat appearances of each EMOVO (or RAVDESS) training clip,
    that many are copies whose sound train.extract.clip_audio perturbs, the same way every time."""
    from train.args import parse_args, read_corpora
    from train.extract import clip_audio, perturb_waveform

    args = parse_args(["--emovo", str(shared_data / "emovo"), "--emovo-dev", "m3", "--ravdess-repeat", "3",
                       "--audio-augment", "2", "--out", "unused"])
    train, dev, _ = read_corpora(args)
    assert len(train) == len({s.id for s in train}) == 3 * 5 * 98  # once as recorded, two perturbed copies
    assert Counter(s.augment for s in train) == {0: 490, 1: 490, 2: 490}
    assert not any(s.augment for s in dev["emovo"])
    original = next(s for s in train if not s.augment)
    copies = [s for s in train if s.id.startswith(original.id + "~aug")]
    assert len(copies) == 2 and all(c.media == original.media and c.emotion == original.emotion for c in copies)

    counts = Counter()
    clean = clip_audio(original, counts)
    one, again, two = (clip_audio(c, counts) for c in (copies[0], copies[0], copies[1]))
    assert not counts and np.array_equal(one, again) and not np.array_equal(one, two)
    for x in (one, two):  # speed 0.9-1.1 changes the length; full scale kept
        assert x.dtype == np.float32 and np.abs(x).max() <= 1.0 and 0.89 < len(x) / len(clean) < 1.12
        assert not np.allclose(x[: min(len(x), len(clean))], clean[: min(len(x), len(clean))], atol=1e-3)
    assert np.array_equal(perturb_waveform(clean, 7), perturb_waveform(clean, 7))

    with pytest.raises(SystemExit):  # every clip keeps at least one unperturbed appearance
        parse_args(["--emovo", str(shared_data / "emovo"), "--ravdess-repeat", "2", "--audio-augment", "2",
                    "--out", "unused"])


def test_cut_training_copies_end_where_their_speech_ends(shared_data):
    """--audio-cut: each speech training clip appears once more, from its start to where its speech
    ends (the 35 dB rule by which the analysis's segments follow their sound); dev clips stay whole,
    and only the recorded clips are originals (what the voice bank keeps)."""
    from train.args import parse_args, read_corpora
    from train.extract import clip_audio, speech_end

    args = parse_args(["--emovo", str(shared_data / "emovo"), "--emovo-dev", "m3", "--audio-augment", "1",
                       "--audio-cut", "--out", "unused"])
    train, dev, _ = read_corpora(args)
    assert len(train) == 4 * 5 * 98 and len({s.id for s in train}) == 3 * 5 * 98  # twice as recorded, perturbed once, cut once
    cut = [s for s in train if s.cut]
    assert len(cut) == 490 and not any(s.augment for s in cut)
    assert sum(s.original for s in train) == 2 * 490 and all(s.original for s in dev["emovo"])
    counts, kept = Counter(), []
    for c in cut[::97]:
        whole = clip_audio(next(s for s in train if s.id == c.id.removesuffix("~cut")), counts)
        x = clip_audio(c, counts)
        end = speech_end(whole)
        assert np.array_equal(x, whole[:end]) and len(x) % 320 == 0
        kept.append(end / len(whole))
        frames = whole[: len(whole) // 320 * 320].astype(np.float64).reshape(-1, 320)
        level = 10 * np.log10(np.square(frames).mean(1) + 1e-12)
        assert level[end // 320 - 1] > level.max() - 35 >= level[end // 320:].max(initial=-np.inf)
    assert not counts and 0.5 < min(kept) and np.mean(kept) < 0.95  # most EMOVO clips end in silence
