"""Cut a video's timeline into the segments that the model analyses, one prediction each.

Speech segments come from the transcript's sentences (an utterance is cut after each sentence end,
since emotion changes from one sentence to the next): a long one is split at word boundaries
(preferring a sentence end, then a comma, then the longest pause, near the middle) until each
piece lasts at most ``max_seconds``; a very short one is merged with a close neighbour, or padded
into the silence around it. The stretches without speech become "gap" segments of about
``gap_seconds``, analysed from sound and picture alone. The result is ordered, contiguous and
covers [0, duration] exactly: each segment starts where the previous one ends.
"""

from __future__ import annotations

import math
import re
import unicodedata
from bisect import bisect_left, bisect_right
from collections.abc import Callable
from dataclasses import dataclass, replace
from itertools import accumulate

from mmsent.transcript import SENTENCE_ENDS, Transcript, Utterance, Word

__all__ = ["Segment", "segment", "follow_sound", "voice_spans", "translate", "previous_texts", "SPEECH", "GAP"]

SPEECH, GAP = "speech", "gap"  # the two kinds of segment
MAX_SECONDS = 10.0  # s, longest speech segment unless a single word is longer
MIN_SECONDS = 1.0  # s, shorter speech is merged or padded; shorter silence joins the speech
GAP_SECONDS = 5.0  # s, length of the windows that cover silence
CONTINUE_PAUSE_S = 0.3  # s, the longest pause across which a sentence cut in two is rejoined
MERGE_PAUSE_S = 1.0  # s, the longest pause across which a short piece merges with a neighbour
STRONG_BREAK_S = 1.0  # s of pause a sentence end is worth when choosing where to split
WEAK_BREAK_S = 0.3  # s of pause a comma is worth
BALANCE_S = 2.0  # s of pause worth moving a split from the middle to an end of the utterance
SHORT_PIECE_S = 1.0  # s of pause a split that leaves a piece under min_seconds costs
TAIL_DB = 35.0  # dB: a speech segment's sound goes on while this close to its loudest frame (as the voice bank's span)
TAIL_MAX_S = 1.0  # s, the most a speech segment's end moves to follow its sound
TAIL_DIP_S = 0.2  # s, the longest quieter stretch inside speech that the end moves across
VOICE_TAIL_S = 0.5  # s, the most of the quiet after a speech segment that its voice is read with
LOOP_WORDS = 2  # words at least in a translated sentence said again that may be a loop: a word said twice is English
# ("Bye bye.", "No, no, no.")
_STRONG_PUNCT = SENTENCE_ENDS + tuple(";:…")
_SENTENCE_END = re.compile(r"(?<=[.!?…])\s+")  # between two sentences of a translation (English)
_CLAUSE_END = re.compile(r"(?<=[.!?…,;:])\s+")  # between two clauses or sentences
_WORD = re.compile(r"\w+")  # a word, as a translation's loop is compared (case and punctuation aside)
_WEAK_PUNCT = tuple(",，、-–—")


@dataclass
class Segment:
    start: float  # seconds from the start of the video
    end: float  # seconds
    text: str  # the words spoken; "" for a gap
    kind: str  # SPEECH or GAP (no speech: analysed from sound and picture only)
    translation: str = ""  # the words in English, when the speech was translated (``translate``)
    speaker: str = ""  # who says it, where subtitles name them (its utterance's ``speaker``); "" where unknown

    @property
    def duration(self) -> float:
        return self.end - self.start

    @property
    def read_text(self) -> str:
        """What the words' encoder reads: the translation, if any, else the text."""
        return self.translation or self.text


def segment(transcript: Transcript, duration: float, max_seconds: float = MAX_SECONDS,
            min_seconds: float = MIN_SECONDS, gap_seconds: float = GAP_SECONDS) -> list[Segment]:
    """The segments covering [0, duration] (seconds), in order; at least one, even for 0 s."""
    if not (math.isfinite(duration) and duration >= 0):
        raise ValueError(f"duration must be a finite number of seconds >= 0, got {duration!r}")
    if not 0 < min_seconds <= max_seconds or gap_seconds <= 0:
        raise ValueError(f"need 0 < min_seconds ({min_seconds}) <= max_seconds ({max_seconds}) "
                         f"and gap_seconds ({gap_seconds}) > 0")
    def pieces_of(groups: list[list[Word]]) -> list[list[Word]]:  # sentences, long ones split; by time
        return sorted((p for words in groups for sentence in _sentences(words)
                       for p in _split(sentence, max_seconds, min_seconds)), key=lambda p: p[0].start)

    groups = _word_groups(transcript, duration)
    if any(u.words for u in transcript.utterances):  # recognised: Whisper's 30 s windows cut sentences
        pieces = _merge_short(pieces_of(_join_continuations(groups)), max_seconds, min_seconds)
    else:  # subtitles: a cue's pieces merge among themselves only, and a short cue is padded (_pad_short)
        pieces = sorted((p for words in groups for p in _merge_short(pieces_of([words]), max_seconds, min_seconds)),
                        key=lambda p: p[0].start)
    speech = _resolve_overlaps([_to_segment(p) for p in pieces], max_seconds)
    _pad_short(speech, min_seconds, duration)
    segments = _drop_empty(_fill(speech, duration, min_seconds, max_seconds, gap_seconds))
    if any(u.speaker for u in transcript.utterances):  # subtitles that name them: a segment lies within one cue
        said_in = overlapping_most(transcript.utterances)
        for s in segments:
            s.speaker = said_in(s).speaker if s.kind == SPEECH else ""
    return segments


def overlapping_most(utterances: list[Utterance]) -> Callable[[Segment], Utterance]:
    """For ``utterances`` (at least one, ordered by start), a function that gives the one that overlaps a segment
    most, looking only at those near it where one overlaps it: each segment of a film's thousands of cues compared
    with all of them took 3.6 s for 3 hours' subtitles."""
    starts = [u.start for u in utterances]
    reach = list(accumulate((u.end for u in utterances), max))  # the latest end so far: ends are not in order

    def most(seg: Segment) -> Utterance:
        def overlap(u: Utterance) -> float:
            return min(u.end, seg.end) - max(u.start, seg.start)

        best = max(utterances[bisect_right(reach, seg.start):bisect_left(starts, seg.end)], key=overlap, default=None)
        return best if best is not None and overlap(best) > 0 else max(utterances, key=overlap)

    return most


def follow_sound(segments: list[Segment], level, frame_s: float, max_seconds: float = MAX_SECONDS) -> list[Segment]:
    """Move the end of each speech segment that a gap follows to where its sound ends (in place; a gap
    left empty is dropped). Whisper's word timestamps often end before the last word does (by 0.2 s
    or more in half of the dev clips of unseen acted speakers, 0.8 s in a tenth), and the rest of the
    word would fall into the gap, whose sound is not read. ``level``: the sound's loudness in dB, one value per
    ``frame_s`` seconds from the start; the end moves over the frames within TAIL_DB of the
    segment's loudest, across quieter stretches of at most TAIL_DIP_S, by at most TAIL_MAX_S and
    never past ``max_seconds`` of segment or into the next speech. A silence that this leaves shorter than
    MIN_SECONDS joins the speech around it, as ``segment`` joins one (``_fill``): the segments of mmsent's own
    subtitles given back are the same (a silence of 1 s, 0.95 s once followed, was a gap, then not)."""
    for _, seg, gap, last, top in _speech_before_gaps(segments, level, frame_s):
        limit = min(gap.end, seg.end + TAIL_MAX_S, seg.start + max_seconds)
        end = seg.end
        for t in range(last, min(len(level), int((limit + 1e-6) / frame_s))):
            if (t + 1) * frame_s - end > TAIL_DIP_S + frame_s:
                break  # a longer quiet stretch: the speech has ended
            if level[t] > top - TAIL_DB:
                end = min((t + 1) * frame_s, limit)
        seg.end = gap.start = max(seg.end, end)
    return _short_silences_joined([s for s in segments if s.kind == SPEECH or s.duration > 0 or len(segments) == 1],
                                  max_seconds)


def _short_silences_joined(segments: list[Segment], max_s: float) -> list[Segment]:
    """``segments`` with each run of gaps after speech that lasts less than MIN_SECONDS given to the speech on both
    sides (``_share_silence``), or to the speech before it at the end, as far as each stays within ``max_s``."""
    out: list[Segment] = []
    i = 0
    while i < len(segments):
        j = i
        while j < len(segments) and segments[j].kind == GAP:
            j += 1
        if j == i:
            out.append(segments[i])
            i += 1
            continue
        start, end = segments[i].start, segments[j - 1].end
        if not out or end - start >= MIN_SECONDS:  # (before the first speech: as it is)
            out += segments[i:j]
        elif j < len(segments):
            out += _share_silence(out[-1], segments[j], start, max_s)
        else:
            _take_tail(out, end, max_s)
        i = j
    return out


def voice_spans(segments: list[Segment], level, frame_s: float) -> list[tuple[float, float]]:
    """Where each segment's voice is read, (start, end) in seconds: a speech segment that a gap follows
    with the quiet after it, up to VOICE_TAIL_S and only while the gap stays more than TAIL_DB below
    the segment's loudest; every other segment as it is. The voice learned from utterances that end in
    silence, as recorded; read without it, the same speech is another input (unseen acted speakers,
    their voices read as the analysis cuts them: 0.64 without it, 0.73 with it). ``level``: as for
    ``follow_sound``, whose ends these start from."""
    spans = [(s.start, s.end) for s in segments]
    for i, seg, gap, last, top in _speech_before_gaps(segments, level, frame_s):
        t, stop = last, min(len(level), int((min(gap.end, seg.end + VOICE_TAIL_S) + 1e-6) / frame_s))
        while t < stop and level[t] <= top - TAIL_DB:
            t += 1
        spans[i] = (seg.start, min(max(seg.end, t * frame_s), gap.end))
    return spans


def _speech_before_gaps(segments: list[Segment], level, frame_s: float):
    """(i, the speech segment, the gap after it, the frame where the segment ends, its loudest level in
    dB) for each speech segment that a gap follows and that has sound frames in ``level``."""
    for i, (seg, gap) in enumerate(zip(segments, segments[1:])):
        first, last = int(seg.start / frame_s), min(int(seg.end / frame_s), len(level))
        if seg.kind == SPEECH and gap.kind == GAP and last > first:
            yield i, seg, gap, last, max(level[first:last])


def translate(segments: list[Segment], pieces: list[Utterance]) -> None:
    """Give each speech segment the ``translation`` of its time. A piece (the speech translated, with its
    times: ``transcribe.translate``) often spans several sentences, each a segment here: its sentences go
    one each, in order, to the speech segments whose middle it spans when they are as many; where they are
    fewer (a translation joins sentences with commas), its clauses go to them, cut nearest the pauses between
    them (``_cut``), and where it has too few clauses, none does (each such segment is translated alone,
    ``pipeline._translate``: a piece that left some of its speech untranslated, Whisper translating two
    languages' speech as one, gave its sentences to other sentences' times); where they are more, each sentence
    goes to the speech segment at its time (its place in the piece's text taken as a place in the piece's time),
    or the nearest one its time overlaps. A piece, or a sentence,
    whose time overlaps no speech segment (speech that the recognition heard none of there, or that the
    subtitles leave out) is left out; a segment's sentences are joined in order. A piece that says a sentence
    over and over where the speech does not is Whisper's loop, and gives one copy (``_unlooped``)."""
    speech = [s for s in segments if s.kind == SPEECH]
    got: dict[int, list[str]] = {}
    for p in pieces:
        overlapped = [i for i, s in enumerate(speech) if min(p.end, s.end) > max(p.start, s.start)]
        sentences = _unlooped([t for t in _SENTENCE_END.split(p.text.strip()) if t],
                              [speech[i].text for i in overlapped])
        targets = [i for i, s in enumerate(speech) if p.start <= (s.start + s.end) / 2 < p.end]
        if len(targets) > len(sentences):
            sentences = _cut(p, [speech[i] for i in targets]) or []
        if len(targets) != len(sentences):
            targets, done, size = [], 0, sum(map(len, sentences))
            for t in sentences:
                lo, hi = (p.start + (p.end - p.start) * chars / size for chars in (done, done + len(t)))
                at, heard = (lo + hi) / 2, [i for i in overlapped if min(hi, speech[i].end) > max(lo, speech[i].start)]
                targets.append(min(heard, key=lambda i: max(speech[i].start - at, at - speech[i].end, 0.0),
                                   default=None))
                done += len(t)
        for i, t in zip(targets, sentences):
            if i is not None:
                got.setdefault(i, []).append(t)
    for i, texts in got.items():
        speech[i].translation = " ".join(texts)


def _copies(sentence: str) -> list[str]:
    """``sentence`` cut into its copies where its words are one run of ``LOOP_WORDS`` or more said over and over
    (Whisper translating in a loop without punctuation: "I hope you get up soon I hope you get up soon"), the
    last copy cut short left out ("... I hope you": where the recogniser's tokens ran out); else the sentence
    alone."""
    found = list(_WORD.finditer(sentence.lower()))
    words = [m.group() for m in found]
    for size in range(LOOP_WORDS, len(words) // 2 + 1):
        if all(w == words[k % size] for k, w in enumerate(words)):
            cuts = [found[k].start() for k in range(0, len(words), size)] + [len(sentence)]
            copies = [sentence[a:b].strip() for a, b in zip(cuts, cuts[1:])]
            return copies if len(words) % size == 0 else copies[:-1]
    return [sentence]


def _unlooped(sentences: list[str], spoken: list[str]) -> list[str]:
    """A translated piece's ``sentences`` without Whisper's loop. Each sentence's copies (``_copies``) are sentences
    where they are no more than the speech segments the piece spans (one sentence each); where they are more, and
    the segments' recognised words ``spoken`` say nothing twice in a row, each copy of ``LOOP_WORDS`` or more that
    says the one before it again is left out. The compression-ratio filter misses a short loop: Whisper base gave
    EMOVO's m1 saying "Gli operai si alzano presto." once "I'm sorry, I'm sorry!" (now "I'm sorry"). Copies no
    more than the segments stay, one to each, as the speaker may have said it each time and the recogniser heard it
    a little differently: m3 saying that sentence four times gave "I will stop if they are arrested" three times
    without punctuation, all to one segment, and now a copy each to three of the four. A sentence said again
    where the speech says it again stays as it is ("Stop it, stop it!" for "Basta, basta!")."""
    copies = [c for t in sentences for c in _copies(t)]
    if len(copies) <= len(spoken):
        return copies
    said = [_WORD.findall(t.lower()) for t in copies]
    again = [k for k in range(1, len(said)) if said[k] == said[k - 1] and len(said[k]) >= LOOP_WORDS]
    if not again or _repeats(_WORD.findall(" ".join(spoken).lower())):
        return sentences
    return [t.rstrip(",;:") if k + 1 in again else t for k, t in enumerate(copies) if k not in again]


def _repeats(words: list[str]) -> bool:
    """Whether runs of ``words`` said twice in a row ("basta basta", "non lo so non lo so") are half of them or
    more: a translation said over and over may say them so. A word doubled in passing ("spero che che ti alzi
    presto", the speaker's stumble or the recogniser's) explains no loop."""
    said_again = set()
    for size in range(1, len(words) // 2 + 1):
        for i in range(len(words) - 2 * size + 1):
            if words[i:i + size] == words[i + size:i + 2 * size]:
                said_again.update(range(i, i + 2 * size))
    return 2 * len(said_again) >= len(words) > 0


def _cut(piece: Utterance, segments: list[Segment]) -> list[str] | None:
    """The piece's text in as many parts as ``segments``, cut after a comma or a sentence's end: each cut the
    one nearest the pause between two segments, taken as a place in the text as in the piece's time; None
    where there are too few places to cut."""
    text = piece.text.strip()
    places = [m.end() for m in _CLAUSE_END.finditer(text)]  # where a part may start
    if len(places) < len(segments) - 1:
        return None
    cuts: list[int] = []
    for k in range(len(segments) - 1):
        pause = (segments[k].end + segments[k + 1].start) / 2
        at = len(text) * (pause - piece.start) / (piece.end - piece.start)
        first = cuts[-1] + 1 if cuts else 0
        last = len(places) - (len(segments) - 1 - k)  # leaves a place for each cut after this one
        cuts.append(min(range(first, last + 1), key=lambda j: abs(places[j] - at)))
    bounds = [0] + [places[j] for j in cuts] + [len(text)]
    return [text[a:b].strip() for a, b in zip(bounds, bounds[1:])]


def previous_texts(segments: list[Segment], i: int, k: int) -> list[str]:
    """The texts (``read_text``) of up to ``k`` speech segments before ``segments[i]``, oldest first."""
    if k <= 0:
        return []
    return [s.read_text for s in segments[:i] if s.kind == SPEECH and s.text][-k:]


def _word_groups(transcript: Transcript, duration: float) -> list[list[Word]]:
    """Each utterance's words, clipped to [0, duration]; evenly spread when it has none. Its first word starts
    after a space, wherever Whisper's windows cut it (Thai phrases, which no punctuation ends, are joined)."""
    groups = []
    for u in transcript.utterances:
        words = u.words or _spread_words(u.text, u.start, u.end)
        clipped = sorted((_clip_word(w, duration) for w in words
                          if w.start < duration and w.text.strip()), key=lambda w: w.start)
        if clipped:
            groups.append([replace(clipped[0], spaced=True)] + clipped[1:])
    return groups


def _join_continuations(groups: list[list[Word]]) -> list[list[Word]]:
    """Join an utterance to the next when it stops mid-sentence and the next follows at once
    (Whisper's 30 s windows cut sentences); ``_split`` then cuts at the best place instead."""
    out: list[list[Word]] = []
    for words in sorted(groups, key=lambda g: g[0].start):
        prev = out[-1] if out else None
        if prev and not prev[-1].text.endswith(_STRONG_PUNCT) \
                and 0 <= words[0].start - prev[-1].end <= CONTINUE_PAUSE_S:
            out[-1] = prev + words
        else:
            out.append(words)
    return out


def _clip_word(w: Word, duration: float) -> Word:
    start = max(w.start, 0.0)
    return replace(w, start=start, end=min(max(w.end, start), duration))


def _spread_words(text: str, start: float, end: float) -> list[Word]:
    """Word times for a text without them (subtitles): spread in proportion to word length."""
    tokens = text.split()
    weights = [len(t) + 1 for t in tokens]
    total, words, t = sum(weights), [], start
    for token, weight in zip(tokens, weights):
        step = (end - start) * weight / total
        words.append(Word(t, t + step, token, 1.0))
        t += step
    if words:  # the sum of the steps may pass the cue's end by a rounding error: into the next cue, then merged
        words[-1] = replace(words[-1], end=end)
    return words


def _sentences(words: list[Word]) -> list[list[Word]]:
    """Cut after every word that ends a sentence; ``_merge_short`` rejoins pieces that are too short."""
    pieces, start = [], 0
    for i, w in enumerate(words[:-1]):
        if w.text.endswith(_STRONG_PUNCT):
            pieces.append(words[start:i + 1])
            start = i + 1
    return pieces + [words[start:]]


def _split(words: list[Word], max_s: float, min_s: float) -> list[list[Word]]:
    """Split recursively at the best word boundary until each piece lasts at most max_s."""
    if len(words) < 2 or words[-1].end - words[0].start <= max_s:
        return [words]
    k = max(range(1, len(words)), key=lambda k: _split_score(words, k, min_s))
    return _split(words[:k], max_s, min_s) + _split(words[k:], max_s, min_s)


def _split_score(words: list[Word], k: int, min_s: float) -> float:
    """How good a split before ``words[k]`` is, in seconds of pause (higher is better)."""
    t0, t1, left, right = words[0].start, words[-1].end, words[k - 1], words[k]
    score = max(right.start - left.end, 0.0)
    if left.text.endswith(_STRONG_PUNCT):
        score += STRONG_BREAK_S
    elif left.text.endswith(_WEAK_PUNCT):
        score += WEAK_BREAK_S
    cut = (left.end + right.start) / 2
    score -= BALANCE_S * abs(cut - (t0 + t1) / 2) / max(t1 - t0, 1e-9)
    if min(left.end - t0, t1 - right.start) < min_s:
        score -= SHORT_PIECE_S
    return score


def _merge_short(pieces: list[list[Word]], max_s: float, min_s: float) -> list[list[Word]]:
    """Merge each piece shorter than min_s into its closer neighbour, when close and it fits."""
    i = 0
    while i < len(pieces):
        piece = pieces[i]
        if piece[-1].end - piece[0].start >= min_s:
            i += 1
            continue
        options = []
        for j in (i - 1, i + 1):
            if 0 <= j < len(pieces):
                a, b = sorted((pieces[i], pieces[j]), key=lambda p: p[0].start)
                pause = b[0].start - a[-1].end
                if pause <= MERGE_PAUSE_S and max(a[-1].end, b[-1].end) - a[0].start <= max_s:
                    options.append((pause, j, a + b))
        if not options:
            i += 1
            continue
        _, j, merged = min(options, key=lambda o: o[0])
        lo = min(i, j)
        pieces[lo:lo + 2] = [merged]
        i = max(lo - 1, 0)  # the merged piece may now merge again with the one before
    return pieces


def _to_segment(words: list[Word]) -> Segment:
    return Segment(words[0].start, max(w.end for w in words), _join_words(words), SPEECH)


def _join_words(words: list[Word]) -> str:
    """The words as text: a space before each word that had one, as Whisper or the subtitles wrote them (Whisper's
    words of Chinese, Japanese or Thai are pieces of a text written without spaces, Korean has spaces; ".5", "%" and
    "'s" come without one, a quote that opens a word with one), except between two Chinese or Japanese characters
    (the lines of a subtitle cue, joined by a space)."""
    text = ""
    for w in words:
        token = w.text.strip()
        joined = not w.spaced or _is_cjk(text[-1:]) and _is_cjk(token[:1])
        if text and not joined:
            text += " "
        text += token
    return text


def _is_cjk(char: str) -> bool:
    """Whether ``char`` is a Chinese or Japanese letter or punctuation mark ("。"; wide, not Korean's Hangul)."""
    return (len(char) == 1 and not char.isspace() and unicodedata.east_asian_width(char) in ("W", "F")
            and not unicodedata.name(char, "").startswith("HANGUL"))


def _resolve_overlaps(speech: list[Segment], max_s: float) -> list[Segment]:
    """Merge overlapping speech segments when the union fits in max_s, else cut at the middle."""
    out: list[Segment] = []
    for seg in speech:
        prev = out[-1] if out else None
        if prev is None or seg.start >= prev.end:
            out.append(seg)
        elif max(prev.end, seg.end) - prev.start <= max_s or seg.end <= prev.end:
            prev.end, prev.text = max(prev.end, seg.end), f"{prev.text} {seg.text}"
        else:
            cut = max((seg.start + prev.end) / 2, prev.start)
            prev.end = seg.start = cut
            out.append(seg)
    return out


def _pad_short(speech: list[Segment], min_s: float, duration: float) -> None:
    """Widen speech shorter than min_s into the free time around it (in place)."""
    for i, seg in enumerate(speech):
        need = min_s - seg.duration
        if need <= 0:
            continue
        lo = speech[i - 1].end if i > 0 else 0.0
        hi = speech[i + 1].start if i + 1 < len(speech) else duration
        left = min(need / 2, seg.start - lo)
        right = min(need - left, hi - seg.end)
        left = min(need - right, seg.start - lo)
        seg.start, seg.end = seg.start - left, seg.end + right


def _fill(speech: list[Segment], duration: float, min_s: float, max_s: float,
          gap_s: float) -> list[Segment]:
    """Cover the silences: long ones with gap windows, short ones by widening the speech."""
    out: list[Segment] = []
    for seg in speech:
        cursor = out[-1].end if out else 0.0
        if seg.start - cursor >= min_s:
            out += _gap_windows(cursor, seg.start, gap_s)
        elif seg.start > cursor:
            out += _share_silence(out[-1] if out else None, seg, cursor, max_s)
        out.append(seg)
    cursor = out[-1].end if out else 0.0
    if not out or duration - cursor >= min_s:
        return out + _gap_windows(cursor, duration, gap_s)
    if duration > cursor:
        _take_tail(out, duration, max_s)
    return out


def _take_tail(out: list[Segment], end: float, max_s: float) -> None:
    """A short silence from the last speech of ``out`` to ``end`` (the media's): the speech takes what fits within
    max_s, and a gap the rest (in place)."""
    out[-1].end = min(end, max(out[-1].start + max_s, out[-1].end))
    if out[-1].end < end:
        out.append(Segment(out[-1].end, end, "", GAP))


def _share_silence(prev: Segment | None, seg: Segment, cursor: float,
                   max_s: float) -> list[Segment]:
    """Give a short silence [cursor, seg.start] to the speech on both sides, as far as each
    stays within max_s; returns the gap segment for what neither can take (usually none)."""
    lo = min(seg.start, max(cursor, seg.end - max_s))  # seg can start no earlier than this
    hi = min(seg.start, cursor + (max_s - prev.duration if prev else 0.0))  # prev ends by this
    hi = max(hi, cursor)
    if lo <= hi:
        lo = hi = min(max((cursor + seg.start) / 2 if prev else cursor, lo), hi)
    if prev:
        prev.end = hi
    seg.start = lo
    return [Segment(hi, lo, "", GAP)] if lo > hi else []


def _gap_windows(start: float, end: float, gap_s: float) -> list[Segment]:
    """Equal windows of about gap_s covering [start, end] exactly (one window when it is empty)."""
    n = max(1, round((end - start) / gap_s))
    edges = [start + (end - start) * j / n for j in range(n)] + [end]
    return [Segment(a, b, "", GAP) for a, b in zip(edges, edges[1:])]


def _drop_empty(segments: list[Segment]) -> list[Segment]:
    """Remove zero-length segments (their text joins the previous speech, or the next where they come first),
    keeping at least one."""
    out: list[Segment] = []
    for seg in segments:
        if out and out[-1].duration <= 0 < seg.duration:  # the first, of no length: this one takes its words
            first = out.pop()
            if first.text:
                seg.text, seg.kind = f"{first.text} {seg.text}".strip(), SPEECH
        if seg.duration > 0 or not out:
            out.append(seg)
        elif seg.text:
            out[-1].text = f"{out[-1].text} {seg.text}".strip()
            out[-1].kind = SPEECH
    return out
