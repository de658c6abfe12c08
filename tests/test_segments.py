"""Segmentation: properties checked over many random transcripts, plus the named edge cases."""

from __future__ import annotations

import random
import re
from collections import Counter

import pytest

from mmsent.segments import (GAP, MIN_SECONDS, SPEECH, TAIL_DB, TAIL_MAX_S, VOICE_TAIL_S, Segment, follow_sound,
                             overlapping_most, previous_texts, segment, translate, voice_spans)
from mmsent.transcribe import Transcript, Utterance, Word

EPS = 1e-9
N_RANDOM = 400  # random transcripts per property test (about a second in all)


def _utt(words: list[tuple[float, float, str]], timed: bool = True) -> Utterance:
    ws = [Word(s, e, t, 0.9) for s, e, t in words]
    return Utterance(ws[0].start, ws[-1].end, " ".join(t for _, _, t in words), ws if timed else [])


def _random_transcript(rng: random.Random, overlapping: bool) -> tuple[Transcript, float]:
    """Utterances of random words with random pauses; some without word times (as subtitles)."""
    t, utts = rng.uniform(0, 8), []
    for _ in range(rng.randint(0, 8)):
        words = []
        for _ in range(rng.randint(1, 60)):
            length = rng.uniform(0.1, 0.6)
            if rng.random() < 0.05:  # now and then an empty or an overlong word
                length = rng.choice([0.0, rng.uniform(2, 14)])
            text = f"w{rng.randint(0, 999)}" + rng.choice(["", "", "", ",", "."])
            words.append((t, t + length, text))
            t += length + rng.choice([0.0, 0.05, 0.2, 0.8, 2.5])
        utts.append(_utt(words, timed=rng.random() < 0.8))
        t += rng.choice([0.0, 0.1, 0.5, 1.5, 6.0, 30.0])
        if overlapping and rng.random() < 0.4:
            t -= rng.uniform(0, 3)
    utts.sort(key=lambda u: u.start)
    duration = rng.choice([t + rng.uniform(0, 20), rng.uniform(0, t + 1), 0.0, 0.01])
    return Transcript("en", utts, "test"), duration


def _check_timeline(segs: list[Segment], duration: float, max_s: float, gap_s: float) -> None:
    assert segs, "at least one segment"
    assert segs[0].start == 0.0
    assert segs[-1].end == pytest.approx(duration, abs=EPS)
    for a, b in zip(segs, segs[1:]):
        assert a.end == pytest.approx(b.start, abs=EPS), f"hole or overlap between {a} and {b}"
    for s in segs:
        assert s.kind in (SPEECH, GAP)
        assert s.end >= s.start
        if duration > 0:
            assert s.end > s.start, f"empty segment {s}"
        if s.kind == GAP:
            assert s.text == "" and s.duration <= 1.5 * gap_s + EPS
        elif len(s.text.split()) > 1:
            assert s.duration <= max_s + 1e-6, f"speech segment too long: {s}"


def _words_within(transcript: Transcript, duration: float) -> list[str]:
    words = []
    for u in transcript.utterances:
        if u.words:
            words += [w.text for w in u.words if w.start < duration]
        elif u.start < duration:  # spread evenly: only the part before the end survives
            words += u.text.split()
    return words


@pytest.mark.parametrize("overlapping", [False, True])
def test_random_transcripts_give_a_full_ordered_timeline(overlapping):
    rng = random.Random(1234 + overlapping)
    for _ in range(N_RANDOM):
        transcript, duration = _random_transcript(rng, overlapping)
        max_s, min_s, gap_s = rng.choice([(10.0, 1.0, 5.0), (4.0, 0.5, 2.0), (30.0, 3.0, 10.0)])
        segs = segment(transcript, duration, max_s, min_s, gap_s)
        _check_timeline(segs, duration, max_s, gap_s)
        spoken = " ".join(s.text for s in segs if s.kind == SPEECH).split()
        assert all(s.text for s in segs if s.kind == SPEECH)
        if all(u.words for u in transcript.utterances):
            assert Counter(spoken) == Counter(_words_within(transcript, duration))
        if not overlapping and all(u.words for u in transcript.utterances):
            assert spoken == _words_within(transcript, duration), "words lost or reordered"
            _check_words_inside_speech(transcript, segs, duration)


def _check_words_inside_speech(transcript: Transcript, segs: list[Segment], duration: float):
    """Every timed word's middle lies in a speech segment: speech is never labelled a gap."""
    for u in transcript.utterances:
        for w in u.words:
            if w.start < duration and w.end > w.start:
                middle = (w.start + min(w.end, duration)) / 2
                home = [s for s in segs if s.start <= middle <= s.end]
                assert any(s.kind == SPEECH for s in home), f"{w} fell in {home}"


def test_long_utterance_splits_at_sentence_end_not_mid_phrase():
    words = [(0.3 * i, 0.3 * i + 0.25, f"a{i}") for i in range(20)]  # 0 .. 5.95 s
    words[11] = (3.3, 3.55, "a11.")  # a sentence ends at 3.55 s
    words += [(6.0 + 0.3 * i, 6.25 + 0.3 * i, f"b{i}") for i in range(20)]  # to 11.95 s
    segs = segment(Transcript("en", [_utt(words)], "t"), 12.0, max_seconds=10.0)
    speech = [s for s in segs if s.kind == SPEECH]
    assert len(speech) == 2
    assert speech[0].text.endswith("a11.") and speech[1].text.startswith("a12")


def test_long_utterance_splits_at_the_longest_pause():
    words = [(0.3 * i, 0.3 * i + 0.25, f"a{i}") for i in range(25)]
    words += [(9.0 + 0.3 * i, 9.25 + 0.3 * i, f"b{i}") for i in range(15)]  # 1.55 s pause at 7.45
    speech = [s for s in segment(Transcript("en", [_utt(words)], "t"), 14.0) if s.kind == SPEECH]
    assert [s.text.split()[0] for s in speech] == ["a0", "b0"]
    assert all(s.duration <= 10.0 for s in speech)


def test_single_word_longer_than_max_stays_whole():
    segs = segment(Transcript("en", [_utt([(1.0, 15.0, "loooong")])], "t"), 20.0)
    speech = [s for s in segs if s.kind == SPEECH]
    assert len(speech) == 1 and speech[0].text == "loooong" and speech[0].duration >= 14.0


def test_short_utterances_merge_with_a_close_neighbour_but_not_a_far_one():
    close = [_utt([(1.0, 1.3, "Yes.")]), _utt([(1.6, 3.5, "I"), (3.5, 4.0, "agree.")])]
    speech = [s for s in segment(Transcript("en", close, "t"), 10.0) if s.kind == SPEECH]
    assert [s.text for s in speech] == ["Yes. I agree."]
    far = [_utt([(3.0, 3.3, "Yes.")]), _utt([(6.0, 8.0, "Later"), (8.0, 9.0, "then.")])]
    speech = [s for s in segment(Transcript("en", far, "t"), 20.0) if s.kind == SPEECH]
    assert [s.text for s in speech] == ["Yes.", "Later then."]
    assert (speech[0].start, speech[0].end) == pytest.approx((2.65, 3.65))  # padded to 1 s


@pytest.mark.parametrize("duration", [0.0, 0.2, 3.0, 61.0])
def test_no_speech_gives_gap_windows_over_the_whole_video(duration):
    segs = segment(Transcript(None, [], "t"), duration)
    _check_timeline(segs, duration, 10.0, 5.0)
    assert all(s.kind == GAP for s in segs)
    assert len(segs) == max(1, round(duration / 5.0))


def test_speech_after_the_end_is_dropped_and_zero_duration_gives_one_segment():
    transcript = Transcript("en", [_utt([(5.0, 6.0, "late")])], "t")
    assert [s.kind for s in segment(transcript, 4.0)] == [GAP]
    assert segment(transcript, 0.0) == [Segment(0.0, 0.0, "", GAP)]


def test_subtitle_cues_without_word_times_are_split_too():
    text = " ".join(f"word{i}" for i in range(60))
    segs = segment(Transcript(None, [Utterance(2.0, 26.0, text, [])], "subtitles:x.srt"), 30.0)
    speech = [s for s in segs if s.kind == SPEECH]
    assert len(speech) >= 3 and all(s.duration <= 10.0 for s in speech)
    assert " ".join(s.text for s in speech) == text


@pytest.mark.parametrize("args", [(-1.0,), (float("nan"),), (10.0, 1.0, 2.0),
                                  (10.0, 5.0, 1.0, 0.0)])
def test_bad_arguments_raise_value_error(args):
    with pytest.raises(ValueError):
        segment(Transcript(None, [], "t"), *args)


def test_previous_texts_returns_the_last_k_speech_texts_oldest_first():
    segs = [Segment(0, 1, "a", SPEECH), Segment(1, 2, "", GAP), Segment(2, 3, "b", SPEECH),
            Segment(3, 4, "c", SPEECH), Segment(4, 5, "d", SPEECH)]
    assert previous_texts(segs, 4, 2) == ["b", "c"]
    assert previous_texts(segs, 2, 5) == ["a"]
    assert previous_texts(segs, 0, 3) == [] and previous_texts(segs, 4, 0) == []


def test_a_translated_piece_gives_its_sentences_to_the_speech_segments_of_their_time():
    segs = [Segment(0, 2, "Uno.", SPEECH), Segment(2, 4, "", GAP), Segment(4, 6, "Due.", SPEECH),
            Segment(6, 8, "Tre!", SPEECH)]
    pieces = [Utterance(0.1, 1.9, "One."), Utterance(2.5, 3.5, "Heard in the gap only."),
              Utterance(3.9, 8.0, "Two, which is a much longer sentence than the next. Three!")]
    translate(segs, pieces)  # the last piece spans the middles of two segments, and has two sentences: one each
    assert [s.translation for s in segs] == ["One.", "", "Two, which is a much longer sentence than the next.",
                                             "Three!"]
    assert [s.read_text for s in segs] == [s.translation for s in segs]
    assert previous_texts(segs, 3, 2) == ["One.", "Two, which is a much longer sentence than the next."]
    two = [Segment(0, 4, "A.", SPEECH), Segment(4, 6, "B.", SPEECH)]
    translate(two, [Utterance(0.0, 6.0, "One two three four five six seven eight. Nine. Ten.")])
    assert [s.translation for s in two] == ["One two three four five six seven eight.", "Nine. Ten."]  # by place
    one = [Segment(0, 2, "Davvero? Incredibile!", SPEECH)]
    translate(one, [Utterance(0.0, 4.0, "Really? I can't believe it, it's incredible!")])  # ends after the segment
    assert one[0].translation == "Really? I can't believe it, it's incredible!"
    cues = [Segment(0.0, 1.75, "Ho il lavoro.", SPEECH), Segment(1.75, 5.45, "È il giorno più bello.", SPEECH),
            Segment(5.45, 10.08, "", GAP)]  # subtitles that leave out the speech from 6.4 s on (happy_news)
    said = "This is the best day of my life. I am so happy. Thank you all so much. This is wonderful."
    translate(cues, [Utterance(0.0, 1.7, "I got the job."), Utterance(1.8, 9.25, said)])  # its last two: no cue's
    assert [s.translation for s in cues] == ["I got the job.", "This is the best day of my life. I am so happy.", ""]
    untouched = [Segment(0, 2, "Uno.", SPEECH)]
    translate(untouched, [])
    assert untouched[0].translation == "" and untouched[0].read_text == "Uno."


def test_a_translation_that_joins_sentences_with_commas_is_cut_at_them_for_each_segment():
    """Whisper translated four back-to-back Italian cues (espeak-ng's speech) as two sentences: the second
    spans three segments, which were left in Italian; its clauses now go to them, cut nearest their pauses."""
    segs = [Segment(0.0, 1.6, "Ciao, come stai oggi?", SPEECH), Segment(1.6, 3.18, "Il tempo è molto bello.", SPEECH),
            Segment(3.18, 4.79, "Sono felice di vederti.", SPEECH),
            Segment(4.79, 6.58, "Che notizia meravigliosa!", SPEECH)]
    translate(segs, [Utterance(0.0, 6.88, "Hello, how are you today? The weather is very nice, I am happy to see you, "
                                          "that you are very happy.")])
    assert [s.translation for s in segs] == ["Hello, how are you today?", "The weather is very nice,",
                                             "I am happy to see you,", "that you are very happy."]
    two = [Segment(0.0, 1.0, "Sì.", SPEECH), Segment(1.0, 4.0, "Non lo so, davvero, non lo so proprio.", SPEECH)]
    translate(two, [Utterance(0.0, 4.0, "Yes. I don't know, really, I really don't know.")])  # as many sentences
    assert [s.translation for s in two] == ["Yes.", "I don't know, really, I really don't know."]
    three = [Segment(0.0, 1.0, "Sì.", SPEECH), Segment(1.0, 2.0, "No.", SPEECH), Segment(2.0, 3.0, "Forse.", SPEECH)]
    translate(three, [Utterance(0.0, 3.0, "Yes, no and maybe.")])  # too few places to cut: none placed (each is
    assert [s.translation for s in three] == ["", "", ""]  # translated alone, pipeline._translate)


def test_a_translation_that_says_a_sentence_over_and_over_keeps_one_copy_where_the_speech_says_it_once():
    """Whisper base translating EMOVO's m3 saying "Gli operai si alzano presto." four ways gave a chunk of four
    segments "I will stop if they are arrested" three times, without punctuation, under the compression-ratio
    filter's bound: one segment read all three. Copies said more times than the speech has segments, whose own
    words say nothing twice, are a loop: one is kept. Where the speech says it again, or has a segment for each
    copy, the copies stay, one a segment."""
    said = "I hope you get up soon"
    one = [Segment(0.0, 2.0, "Spero che ti alzi presto.", SPEECH)]
    translate(one, [Utterance(0.0, 2.0, f"{said}. {said}. {said}.")])
    assert one[0].translation == f"{said}."
    translate(one, [Utterance(0.0, 2.0, f"{said} {said} {said}")])  # without punctuation too
    assert one[0].translation == said
    translate(one, [Utterance(0.0, 2.0, f"{said} {said} I hope you")])  # the last copy cut short
    assert one[0].translation == said
    stumble = [Segment(0.0, 2.0, "Spero che che ti alzi presto.", SPEECH)]  # a word doubled in passing
    translate(stumble, [Utterance(0.0, 2.0, f"{said}. {said}. {said}.")])
    assert stumble[0].translation == f"{said}."
    two = [Segment(0.0, 2.0, "Ciao.", SPEECH), Segment(2.0, 4.0, "Spero che ti alzi presto.", SPEECH)]
    translate(two, [Utterance(0.0, 4.0, f"Hello. {said}, {said}, {said}.")])  # after a sentence of its own
    assert [s.translation for s in two] == ["Hello.", said]
    four = [Segment(k, k + 2.0, text, SPEECH) for k, text in zip((0.0, 2.0, 4.0, 6.0), (
        "Io perai si alzano presto", "Io perai si alzano presto", "Io perai si alza in un prooista",
        "Io perai se alzano presto"))]  # as recognised: one sentence, said four times
    loop = "I will stop if they are arrested"
    translate(four, [Utterance(0.0, 8.0, f"{loop} {loop} {loop}")])  # a copy for three of the four: none placed,
    assert [s.translation for s in four] == ["", "", "", ""]  # each is translated alone (pipeline._translate)
    basta = [Segment(0.0, 1.2, "Basta, basta!", SPEECH), Segment(1.2, 3.0, "Ciao.", SPEECH)]  # said twice: stays
    translate(basta, [Utterance(0.0, 3.0, "Stop it, stop it! Bye.")])
    assert [s.translation for s in basta] == ["Stop it, stop it!", "Bye."]
    once = [Segment(0.0, 2.0, "Basta!", SPEECH)]
    translate(once, [Utterance(0.0, 2.0, "Stop it, stop it!")])
    assert once[0].translation == "Stop it"
    for text in ("No, no, no.", "Bye bye.", "No. No. No."):  # a word said again is no loop
        translate(once, [Utterance(0.0, 2.0, text)])
        assert once[0].translation == text


def test_subtitle_cues_are_never_joined_even_without_punctuation_or_when_short():
    """A tester's captions without full stops (auto-generated ones have none) came out as two segments, the first
    "I got the job This is great I am so happy Thank you all" read as anger; cues under a second were merged
    ("Yes I hate this place No"). Cues (no word times) are the user's cut: one segment each. Recognised words
    whose utterance stops mid-sentence are still joined (above)."""
    lines = [(0.0, 1.5, "I got the job"), (1.6, 3.0, "This is great"), (3.1, 5.0, "I am so happy"),
             (5.1, 7.0, "Thank you all"), (7.1, 9.0, "Wonderful")]
    cues = [Utterance(a, b, text, []) for a, b, text in lines]
    speech = [s for s in segment(Transcript("en", cues, "subtitles:talk.srt"), 9.5) if s.kind == SPEECH]
    assert [s.text for s in speech] == [text for _, _, text in lines]
    short = [Utterance(0.0, 0.5, "Yes", []), Utterance(0.6, 2.0, "I hate this place", []), Utterance(2.1, 2.6, "No", [])]
    speech = [s for s in segment(Transcript("en", short, "subtitles:talk.srt"), 4.0) if s.kind == SPEECH]
    assert [s.text for s in speech] == ["Yes", "I hate this place", "No"]
    assert speech[0].end <= speech[1].start and speech[2].end - speech[2].start >= 0.9  # padded into the quiet


@pytest.mark.parametrize("edge", [1.8, 1.7, 2.3, 0.7])
def test_cues_that_touch_stay_apart(edge):
    """A tester's two cues, 0-1.8 s and 1.8-5.4 s, came out as one segment: the first cue's word times, spread over
    it, summed to 1.8000000000000003, into the next cue, and overlapping speech is merged (1.7 s stayed apart)."""
    cues = [Utterance(0.0, edge, "I got the job.", []), Utterance(edge, 5.4, "This is the best day of my life.", [])]
    speech = [s for s in segment(Transcript("en", cues, "subtitles:c18.srt"), 6.0) if s.kind == SPEECH]
    assert [s.text for s in speech] == ["I got the job.", "This is the best day of my life."]
    assert speech[0].end <= speech[1].start


def test_a_cue_of_no_length_at_the_start_joins_the_next_segment():
    """A cue of no length at 0 s (00:00:00,000 --> 00:00:00,000), the next one starting at 0 s too, stayed a segment
    of no length: its words in a subtitle cue that never shows, read with no sound. The first segment's words join
    the next one, as a later segment's of no length join the one before."""
    cues = [Utterance(0.0, 0.0, "Hi", []), Utterance(0.0, 2.0, "there you are", [])]
    segs = segment(Transcript("en", cues, "subtitles:talk.srt"), 12.0)
    _check_timeline(segs, 12.0, 10.0, 5.0)
    assert (segs[0].kind, segs[0].text) == (SPEECH, "Hi there you are")


def test_sentence_cut_between_two_utterances_is_rejoined():
    """Whisper may end an utterance mid-sentence; the cut moves to the sentence end."""
    first = [(0.5 * i, 0.5 * i + 0.4, f"a{i}") for i in range(12)]  # 0 .. 5.9 s, no full stop
    second = [(6.0, 6.6, "end.")] + [(7.0 + 0.5 * i, 7.4 + 0.5 * i, f"b{i}") for i in range(10)]
    segs = segment(Transcript("en", [_utt(first), _utt(second)], "t"), 12.0)
    speech = [s for s in segs if s.kind == SPEECH]
    assert [s.text.split()[-1] for s in speech] == ["end.", "b9"]


def test_words_are_joined_as_written():
    """Whisper's pieces of a word (".5", "%,", "'s") come without the space before, and a quote that opens one comes
    with it: " 'no'" (Whisper's words of "She said 'no' to rock 'n' roll" were run together, "said'no'")."""
    words = [(0.0, 0.3, " It"), (0.3, 0.6, " costs"), (0.6, 0.8, " 2"), (0.8, 0.9, ".5"), (0.9, 1.0, "%,"),
             (1.0, 1.3, " Anna"), (1.3, 1.4, "'s"), (1.4, 1.6, " 'no',"), (1.6, 1.8, " rock"), (1.8, 1.9, " 'n'"),
             (1.9, 2.0, " roll"), (2.0, 2.2, " 我"), (2.2, 2.4, "喜"), (2.4, 2.6, "欢")]
    said = [Word(s, e, t.strip(), 0.9, t.startswith(" ")) for s, e, t in words]
    speech = [s for s in segment(Transcript("en", [Utterance(0.0, 2.6, "", said)], "t"), 3.0) if s.kind == SPEECH]
    assert [s.text for s in speech] == ["It costs 2.5%, Anna's 'no', rock 'n' roll 我喜欢"]


def test_subtitles_words_are_read_as_written():
    """A subtitle cue's words keep their spaces: quotes that open a word ("She said'no'" before), and the rest."""
    text = "She said 'no' to rock ’n’ roll ( really ) , \"Jerry\" 'quote' ..."
    cue = Utterance(0.5, 4.0, text, [])
    assert [s.text for s in segment(Transcript("en", [cue], "subtitles:q.srt"), 5.0) if s.kind == SPEECH] == [text]


def test_words_are_joined_with_the_spaces_whisper_wrote():
    """Whisper writes Thai, like Chinese and Japanese, without spaces between words, and its words there are pieces
    of the text, a vowel or tone mark starting some (as faster-whisper gave them for Thai): they were joined with a
    space before each, "ฮ ั ส ม ี", marks torn from their letters. Korean is written with spaces, but its letters are
    as wide as Chinese ones: its words ran together."""
    cases = (("th", "ฉันมีความสุขมาก ขอบคุณทุกคน", r" ?\S"),  # pieces of a character, a mark starting some
             ("ja", "今日はとても嬉しい", r" ?\S"),
             ("ko", " 오늘 정말 행복합니다", r" ?\S+"))  # words, each after a space
    for language, text, piece in cases:
        pieces = re.findall(piece, text)
        words = [Word(0.2 * i, 0.2 * (i + 1), p.strip(), 0.9, p.startswith(" ")) for i, p in enumerate(pieces)]
        said = Utterance(0.0, words[-1].end, text.strip(), words)
        speech = [s for s in segment(Transcript(language, [said], "t"), 9.0) if s.kind == SPEECH]
        assert [s.text for s in speech] == [text.strip()]


def test_utterances_joined_in_a_segment_are_spaced_as_their_script_is():
    """Whisper's windows cut Thai, which no punctuation ends, between phrases: the utterances joined in one segment
    are spaced as Thai phrases are (they were run together); Chinese sentences stay joined, after their "。" too."""
    for language, said, joined in (("th", ["ฉันมีความสุขมาก", "ขอบคุณทุกคน"], "ฉันมีความสุขมาก ขอบคุณทุกคน"),
                                   ("zh", ["我们去公园", "散步吧。"], "我们去公园散步吧。"),
                                   ("zh", ["今天天气很好。", "走吧"], "今天天气很好。走吧"),
                                   ("en", ["I love", "this."], "I love this.")):
        utterances = [Utterance(i, i + 0.9, text, [Word(i, i + 0.9, text, 0.9, False)]) for i, text in enumerate(said)]
        speech = [s for s in segment(Transcript(language, utterances, "t"), 9.0) if s.kind == SPEECH]
        assert [s.text for s in speech] == [joined], language


def test_each_sentence_of_an_utterance_is_its_own_segment():
    words = [(0.5, 0.8, "I"), (0.8, 1.2, "love"), (1.2, 1.9, "this."), (2.6, 3.0, "But"), (3.0, 3.4, "now"),
             (3.4, 3.8, "I'm"), (3.8, 4.5, "sad!"), (5.0, 5.3, "Ok.")]
    speech = [s for s in segment(Transcript("en", [_utt(words)], "t"), 8.0) if s.kind == SPEECH]
    # the short "Ok." (0.3 s) merges with its close neighbour; the two sentences stay apart
    assert [s.text for s in speech] == ["I love this.", "But now I'm sad! Ok."]


def _level(duration: float, loud: list[tuple[float, float]], frame_s: float = 0.025) -> list[float]:
    """dB per frame: 0 inside the loud spans, 20 dB beyond TAIL_DB below elsewhere."""
    t = [(i + 0.5) * frame_s for i in range(int(duration / frame_s))]
    return [0.0 if any(a <= x < b for a, b in loud) else -TAIL_DB - 20 for x in t]


def test_a_speech_end_follows_its_sound_into_the_gap_across_short_dips_only():
    def follow(loud, segs):
        return [(round(s.start, 3), round(s.end, 3), s.kind) for s in follow_sound(segs, _level(6.0, loud), 0.025)]

    segs = lambda: [Segment(0.0, 1.0, "hi there", SPEECH), Segment(1.0, 6.0, "", GAP)]  # noqa: E731
    assert follow([(0.2, 1.4)], segs()) == [(0.0, 1.4, SPEECH), (1.4, 6.0, GAP)]
    assert follow([(0.2, 1.4), (1.5, 1.7)], segs()) == [(0.0, 1.7, SPEECH), (1.7, 6.0, GAP)]  # a 0.1 s dip
    assert follow([(0.2, 1.4), (1.8, 2.0)], segs()) == [(0.0, 1.4, SPEECH), (1.4, 6.0, GAP)]  # 0.4 s: a new sound
    assert follow([(0.2, 0.8)], segs()) == [(0.0, 1.0, SPEECH), (1.0, 6.0, GAP)]  # quiet at its end: unchanged
    assert follow([(0.2, 5.0)], segs()) == [(0.0, 1.0 + TAIL_MAX_S, SPEECH), (1.0 + TAIL_MAX_S, 6.0, GAP)]
    # never into the next speech, and a gap it fills is gone
    both = [Segment(0.0, 1.0, "a b", SPEECH), Segment(1.0, 2.0, "c d", SPEECH), Segment(2.0, 2.3, "", GAP),
            Segment(2.3, 6.0, "e f", SPEECH)]
    assert follow([(0.2, 3.0)], both) == [(0.0, 1.0, SPEECH), (1.0, 2.3, SPEECH), (2.3, 6.0, SPEECH)]


def test_following_the_sound_keeps_a_full_timeline_and_moves_only_speech_ends():
    """Speech ends move into the gaps after them; a silence that leaves under MIN_SECONDS joins the speech around it
    (a speech start moves back into it), as ``segment`` joins one, unless the speech is as long as it may be."""
    rng = random.Random(7)
    for _ in range(N_RANDOM):
        transcript, duration = _random_transcript(rng, overlapping=False)
        segs = segment(transcript, duration)
        before = [(s.start, s.end, s.kind, s.text) for s in segs]
        loud = [(a, a + rng.uniform(0.05, 2.0)) for a in (rng.uniform(0, duration) for _ in range(rng.randint(0, 12)))]
        after = follow_sound(segs, _level(duration, loud), 0.025)
        _check_timeline(after, duration, 10.0 + TAIL_MAX_S, 5.0)
        speech = [(s.start, s.end, s.text) for s in after if s.kind == SPEECH]
        old = [(a, b, t) for a, b, k, t in before if k == SPEECH]
        assert [t for _, _, t in speech] == [t for _, _, t in old]  # the words unchanged
        for (a, b, _), (a_old, b_old, _) in zip(speech, old):
            assert a_old - MIN_SECONDS < a <= a_old + EPS and b_old - EPS <= b <= b_old + TAIL_MAX_S + MIN_SECONDS
        for k, s in enumerate(after):
            if s.kind == GAP and k and after[k - 1].kind == SPEECH:  # a run of gaps after speech
                then = next((g for g in after[k:] if g.kind == SPEECH), None)  # the speech after it, if any
                silence = (then.start if then else duration) - s.start
                full = [after[k - 1]] + ([then] if then else [])
                assert silence >= MIN_SECONDS - EPS or all(x.duration >= 10.0 - 1e-6 for x in full), (s, after)


def test_a_speech_segments_voice_is_read_with_the_quiet_after_it():
    """voice_spans: a speech segment's voice takes up to VOICE_TAIL_S of the quiet gap after it (the
    training utterances end in silence), stops at the gap's own sound, never enters the next
    segment; gaps, and speech followed by speech, are read as they are; the segments don't move."""
    def spans(loud, segs):
        before = [(s.start, s.end) for s in segs]
        out = [(round(a, 3), round(b, 3)) for a, b in voice_spans(segs, _level(6.0, loud), 0.025)]
        assert [(s.start, s.end) for s in segs] == before
        return out

    segs = lambda: [Segment(0.0, 1.0, "hi there", SPEECH), Segment(1.0, 6.0, "", GAP)]  # noqa: E731
    assert spans([(0.2, 1.0)], segs()) == [(0.0, 1.0 + VOICE_TAIL_S), (1.0, 6.0)]
    assert spans([(0.2, 1.0), (1.2, 1.4)], segs()) == [(0.0, 1.2), (1.0, 6.0)]  # the gap's sound after 0.2 s
    assert spans([(0.2, 1.0)], [Segment(0.0, 1.0, "a", SPEECH), Segment(1.0, 1.3, "", GAP),
                                Segment(1.3, 6.0, "b", SPEECH)]) == [(0.0, 1.3), (1.0, 1.3), (1.3, 6.0)]
    assert spans([(0.2, 3.0)], [Segment(0.0, 1.0, "a", SPEECH), Segment(1.0, 6.0, "b", SPEECH)]) == [(0.0, 1.0), (1.0, 6.0)]
    assert spans([], [Segment(0.0, 1.0, "a", SPEECH), Segment(1.0, 6.0, "", GAP)]) == [(0.0, 1.0), (1.0, 6.0)]  # silent
    assert spans([(0.2, 1.0)], [Segment(0.0, 6.0, "a", SPEECH)]) == [(0.0, 6.0)]  # the last segment


def test_the_utterance_overlapping_a_segment_most_is_found_among_those_near_it():
    """``overlapping_most`` looks only at the utterances near a segment (a film's thousands of cues, each segment
    compared with all of them, took seconds): it finds what a look at all of them finds, where utterances overlap,
    end in any order, or none overlaps the segment (then the nearest)."""
    rng = random.Random(0)
    for _ in range(N_RANDOM):
        starts = sorted(rng.uniform(0, 30) for _ in range(rng.randint(1, 12)))
        utts = [Utterance(a, a + rng.choice([0.0, rng.uniform(0, 8)]), f"u{i}") for i, a in enumerate(starts)]
        most = overlapping_most(utts)
        for _ in range(10):
            a = rng.uniform(-2, 35)
            seg = Segment(a, a + rng.choice([0.0, rng.uniform(0, 6)]), "", SPEECH)
            overlap = [min(u.end, seg.end) - max(u.start, seg.start) for u in utts]
            assert overlap[utts.index(most(seg))] == max(overlap)
