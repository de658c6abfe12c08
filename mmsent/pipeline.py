"""analyze(): one video in, one Analysis out.

probe -> audio (once) -> transcript (ASR or subtitles) -> segments (each speech segment's end following
its sound) -> speech in another language translated into English for an English words' encoder (the ASR's
model again; each sentence given to the segment of its time) -> words and sound read and encoded (Whisper
states from the ASR's own model, tokens) ->
each segment's face and its crops -> expressions -> batched model with a modality mask per segment ->
fused and per-sense probabilities and leave-one-out contributions.

The picture is read in a background thread (only when the model has a trained video branch), in one
decoding pass that keeps few frames at once: the face branch's faces on a grid of times, which needs
no segments, from the start, while the speech is recognised (``faces.FaceGrid``); the original
design's R3D-18 clips, the frames of each segment, once the segments are known.
"""

from __future__ import annotations

import contextlib
import dataclasses
import logging
import re
import threading
import warnings
from collections import Counter
from collections.abc import Callable, Iterator
from concurrent.futures import Future, ThreadPoolExecutor
from os import PathLike
from pathlib import Path

import numpy as np
import torch

from . import faces, features, media
from .config import AUDIO_TRACK_OPTION, ENGLISH_TEXT_SOURCES, WHISPER_LAYERS, AnalysisOptions
from .labels import MODALITIES, MODALITY_NAMES
from .model import FusionModel, Inputs
from .results import Analysis, MediaFacts, SegmentResult, duration_text
from .segments import (GAP, SPEECH, Segment, follow_sound, overlapping_most, previous_texts, segment, translate,
                       voice_spans)
from .weights import SourceUnavailable
from .transcribe import (Transcript, TranscriptionError, clip_to, load_backend, load_subtitles, spoken_language,
                         transcribe)
from .transcribe import translate as translate_speech

log = logging.getLogger(__name__)

Progress = Callable[[str, int, int], None]  # (stage, done, total)
SECOND_LISTEN = "second listen"  # the stage where parts of the speech are heard again (transcribe's progress_again)
SILENCE_RMS = 1e-4  # a segment whose audio is quieter than this (digital silence) has no usable audio
FRAME = 400  # samples (25 ms) per frame of the sound-activity measure
ACTIVE_DB = 40.0  # a frame more than this below the file's loud frames (99th percentile) is silence
LENGTH_SLACK_S = 0.5  # s: a sound file whose sound's length differs more from its header's is as long as its sound
MIN_ACTIVE_SHARE = 0.5  # a gap (no words) is read from its sound only when sound fills this share of it


class AnalysisError(ValueError):
    """The input can't be analysed as asked (for example: longer than the allowed duration)."""


def analyze(path: str | PathLike, model: FusionModel | None = None, options: AnalysisOptions | None = None,
            progress: Progress | None = None, *, info: media.MediaInfo | None = None, **fields) -> Analysis:
    """Analyse one video (or audio) file, given by its path (a TypeError for bytes or a file object: write
    those to a temporary file first).

    ``model``: a loaded model (``load_model``); None uses the embedded default, loaded at the first such call
    (after ``readable``'s checks) and kept for the process (``checkpoint.shared_default``, on CUDA when present).
    ``options``: None for ``AnalysisOptions()``; or its ``fields`` given to ``analyze`` itself (``analyze(path,
    language="en")``). ``info``: what ``media.probe(path)`` gave, when the caller already probed the file (the app
    checks its limits first): the file is then not probed again (unless that was for another audio track than
    ``options.audio_track``).

    ``progress(stage, done, total)`` is called from the calling thread as the work goes on. The stages, in
    this order, each only where it runs: "decode" (0 then 1 of 1), "speech recognition" (seconds of sound
    done), "second listen" (the seconds of sound reached while parts of the speech are recognised again: speech
    the first pass wrote no words for, each run of one language where the speech mixes languages), "translation"
    (seconds; speech in another language, translation on), "audio features" and
    "text features" (batches of segments, the two taking turns), "frames" (0 then 1 of 1: waiting for the
    picture's decoding and faces), "expressions" (or "video features") and "model" (batches, taking turns).
    Within a stage ``done`` only grows and ``total`` stays; each stage ends at (total, total) (a batch stage
    reports each batch as it starts, and its end once its last batch is done); the last call is ("model", n, n).
    An exception that ``progress`` raises cancels the analysis: the picture's reading stops and the exception
    comes out of ``analyze``.

    Raises MediaError for unreadable files and for audio tracks none of which is ``options.audio_track`` (before
    any decoding), AnalysisError for inputs outside the options' limits or that give none of the senses asked for
    (``nothing_to_read``, before any decoding),
    TranscriptionError when speech recognition can't run, SubtitleError for unreadable subtitles; with no
    model given, what ``load_model`` raises (CheckpointError, SourceUnavailable)."""
    from .checkpoint import shared_default

    _check_arguments(path, model, options, progress)
    options = _options(options, fields)
    report = _forward(progress) if progress else (lambda stage, done, total: None)
    info = readable(path, options, info)  # a file that can't be analysed is said before the default model loads
    model = model if model is not None else shared_default()
    given = senses_given(options, info)
    if not set(given) & set(model.encoders):  # a silent video, a model that reads no faces
        raise AnalysisError(not_read_by(path, model, given))
    sees = "video" in options.senses and info.has_video
    detector_missing = _face_detector_missing(model) if sees else None
    reads_picture = "video" in model.encoders and sees and not detector_missing
    stop = threading.Event()
    with ThreadPoolExecutor(max_workers=1, thread_name_prefix="mmsent-frames") as pool:
        try:
            picture = grid = None
            damage: list[str] = []  # what was wrong in the picture but could be read past: in the notes
            if reads_picture and model.config.video_source == "face-expression":
                grid = faces.FaceGrid(info.duration)
                picture = pool.submit(grid.read, path, stop, damage)  # needs no segments
            report("decode", 0, 1)
            problems: list[str] = []  # what was wrong but could be read past (the sound, subtitles): in the notes
            audio = media.load_audio(path, problems=problems, track=options.audio_track) if info.has_audio else None
            report("decode", 1, 1)
            if audio is not None:
                info = _as_heard(path, info, len(audio) / features.SAMPLE_RATE, options, problems)
            transcript = _transcript(audio, info.duration, options, str(model.device), report, problems)
            unnamed = options.subtitles and transcript.language is None  # subtitles in a language unknown
            if unnamed and audio is not None and _reads_english(model, options):
                problems += _unnamed_subtitles(audio, options, str(model.device))
            elif not options.subtitles and transcript.utterances:  # recognised: in the language given, or detected
                problems += (_language_doubted(transcript, audio, options, str(model.device)) if options.language
                             else _language_unsure(transcript))
            for problem in problems:
                log.warning("%s: %s", Path(path).name, problem)
            segs = segment(transcript, info.duration, max_seconds=options.max_segment_seconds,
                           gap_seconds=options.gap_seconds)
            level = None
            if audio is not None:
                level = _levels(audio)
                segs = follow_sound(segs, level, FRAME / features.SAMPLE_RATE, options.max_segment_seconds)
            if grid is not None:
                grid.need([(s.start, s.end) for s in segs])
            elif reads_picture:
                picture = pool.submit(media.load_frames, path, [(s.start, s.end) for s in segs], n=features.N_FRAMES,
                                      short_side=features.RESIZE_SHORT_SIDE, problems=damage, stop=stop)
            untranslated = UNTRANSLATED_OFF  # what the notes say when no segment's words were translated
            if _translates(model, options, transcript, audio):  # beside the faces, as the recognition was
                untranslated = _translate(segs, audio, transcript, options, str(model.device), report)
            elif options.translate and audio is None:  # subtitles in another language on a file without sound
                untranslated = "; there is no sound to translate them from."
            results, unfamiliar, still = _run_model(model, segs, audio, level, picture, options, report)
        finally:
            stop.set()  # a failure ends the reading of the faces or frames at once, not after the whole video
    return Analysis(
        media=MediaFacts(str(path), info.duration, info.has_audio, info.has_video, info.width, info.height,
                         info.fps, info.rotation, options.audio_track),
        segments=results,
        model=model_facts(model, senses_given(options, info)),
        language=transcript.language,
        languages=transcript.languages,
        transcript_source=transcript.source,
        notes=(problems + damage
               + _notes(model, info, transcript, results, options.senses, unfamiliar, still, untranslated)
               + ([detector_missing] if detector_missing else [])),
    )


def readable(path: str | PathLike, options: AnalysisOptions, info: media.MediaInfo | None = None) -> media.MediaInfo:
    """``path``'s probe (``info``, where it was probed for ``options.audio_track``), where some model could analyse
    the file with ``options``: the checks of ``analyze`` that need no model, and no decoding. Raises MediaError for an
    unreadable file, AnalysisError for one outside the options' limits or that gives none of the senses asked for
    (``nothing_to_read``). The command line runs them before it loads the model (seconds): a path mistyped is said
    at once."""
    if not (isinstance(info, media.MediaInfo) and info.audio_chosen == options.audio_track
            and info.path == str(path)):  # none, or another file's, or probed for another audio track: probed here
        info = media.probe(path, options.audio_track)
    _within_limit(path, info.duration, options)
    if not options.senses or set(options.senses) - set(MODALITIES):
        raise AnalysisError(f"senses {options.senses!r}: choose one or more of {', '.join(MODALITIES)}")
    if not senses_given(options, info):  # a sound read for the face alone
        raise AnalysisError(nothing_to_read(path, options, info))
    return info


def _within_limit(path, duration: float, options: AnalysisOptions) -> None:
    """AnalysisError where ``duration`` (s) passes ``options.max_seconds``."""
    if options.max_seconds and duration > options.max_seconds:
        raise AnalysisError(f"{path}: lasts {duration_text(duration, options.max_seconds)}, longer than the "
                            f"allowed {duration_text(options.max_seconds)}: cut it, or raise the limit (max_seconds; "
                            "--max-seconds on the command line)")


def _as_heard(path, info: media.MediaInfo, heard: float, options: AnalysisOptions,
              problems: list[str]) -> media.MediaInfo:
    """``info`` with the length of a sound file as decoded (``heard``, s) where its header's differs: an MP3 without
    a length header announces a guess (14 s of sound read as 18 s, its last 4 s a segment of nothing), and files
    joined end to end the first one's (28 s read as 14 s, the second's speech left out without a word). A video's
    picture keeps its length; sound past it is said. Within ``options.max_seconds`` still."""
    if heard > info.duration + LENGTH_SLACK_S:
        kept = "the sound's length is used" if not info.has_video else (
            f"only its first {duration_text(info.duration)} were analysed: re-mux it (ffmpeg -i IN -c copy OUT) so "
            "that its header gives its length")
        problems.append(f"Its sound lasts {duration_text(round(heard, 1))}, past the "
                        f"{duration_text(round(info.duration, 1))} that the file's header announces: {kept}.")
    if info.has_video or abs(heard - info.duration) <= LENGTH_SLACK_S:
        return info
    _within_limit(path, heard, options)
    return dataclasses.replace(info, duration=heard)


def _check_arguments(path, model, options, progress) -> None:
    """A TypeError that says what to give, for arguments of the wrong kind (else an AttributeError from deep inside,
    or a TypeError after the recognition); a ValueError for a model left training (its dropout on: answers at
    random)."""
    if not isinstance(path, (str, PathLike)):  # bytes, an upload's file object: not a path
        raise TypeError(f"analyze takes the path of a file (str or os.PathLike), not {type(path).__name__}: write "
                        "uploaded bytes or a file object to a temporary file first, and give its path")
    if model is not None and not isinstance(model, FusionModel):
        raise TypeError(f"model must be a loaded model, not {type(model).__name__} {model!r:.80}: load it once with "
                        "mmsent.load_model(checkpoint, device) and pass it to each call (or None for the default)")
    if model is not None and model.training:  # not set to eval here: the model may be shared, read by threads
        raise ValueError("the model is in training mode (model.train()), where dropout makes its answers random: "
                         "call model.eval() before analysing with it")
    if progress is not None and not callable(progress):
        raise TypeError(f"progress must be a function progress(stage, done, total), not {progress!r:.80}")
    if options is not None and not isinstance(options, AnalysisOptions):
        raise TypeError(f"options must be mmsent.AnalysisOptions, not {type(options).__name__}: "
                        "e.g. AnalysisOptions(language='en'), or AnalysisOptions(**your_dict); or the fields "
                        "themselves: analyze(path, language='en')")


def _options(options: AnalysisOptions | None, fields: dict) -> AnalysisOptions:
    """The options of ``analyze``: ``options``, or AnalysisOptions of the ``fields`` given to it, one way or the
    other; a TypeError naming a field that AnalysisOptions lacks (``lang``), with those it has."""
    if not fields:
        return options or AnalysisOptions()
    if options is not None:
        raise TypeError(f"analyze: give the options either as options=AnalysisOptions(...) or as its fields "
                        f"({', '.join(f'{k}={v!r}' for k, v in fields.items())}), not both")
    known = [f.name for f in dataclasses.fields(AnalysisOptions)]
    unknown = [k for k in fields if k not in known]
    if unknown:
        raise TypeError(f"analyze got {', '.join(map(repr, unknown))}, which is no option: the options "
                        f"(AnalysisOptions' fields) are {', '.join(known)}")
    return AnalysisOptions(**fields)


def _forward(progress: Progress) -> Progress:
    """``progress`` as the caller sees it: each step once, a stage's count never going back."""
    last = (None, -1)

    def report(stage: str, done: int, total: int) -> None:
        nonlocal last
        if stage == last[0] and done <= last[1]:
            return
        last = (stage, done)
        progress(stage, done, total)
    return report


def _face_detector_missing(model: FusionModel) -> str | None:
    """None when the model reads no faces or can; else a note on what is missing and what still works."""
    if "video" not in model.encoders or model.config.video_source != "face-expression":
        return None
    try:
        faces.load_detector()
    except SourceUnavailable as e:
        warnings.warn(str(e), stacklevel=3)
        return f"{e} The picture is not analysed; words and sound are."
    return None


UNTRANSLATED_OFF = "; with translation on, the speech recognition writes them in English."


def _translates(model: FusionModel, options: AnalysisOptions, transcript: Transcript,
                audio: np.ndarray | None) -> bool:
    """Whether the speech is translated into English: speech in another language (recognised, or subtitles
    whose language was given), whose words an encoder that learned English only reads."""
    return (options.translate and audio is not None and bool(transcript.utterances)
            and any(language != "en" for language in transcript.languages) and _reads_english(model, options))


def _reads_english(model: FusionModel, options: AnalysisOptions) -> bool:
    """Whether the words are read, by an encoder that learned English only."""
    return ("text" in options.senses and "text" in model.encoders
            and model.config.text_source in ENGLISH_TEXT_SOURCES)


SPOKEN_SURE = 0.5  # Whisper's probability of the spoken language from which it is sure: a note says it beside
# subtitles that name no language, and a language detected below it is noted as unsure (_language_unsure)


def _unnamed_subtitles(audio: np.ndarray, options: AnalysisOptions, device: str) -> list[str]:
    """A note when subtitles whose language nothing names, and whose text is too short to tell it, go with
    speech that Whisper hears in another language than English: they may be in it (then read as English
    words, and not translated) or a translation into English (then right as read)."""
    try:
        language, probability = spoken_language(audio, backend=options.asr, model=options.asr_model, device=device)
    except TranscriptionError as e:  # a recogniser that cannot load (openai-whisper offline): only the note is lost
        log.warning("the spoken language was not checked against the subtitles: %s", e)
        return []
    if language in (None, "en") or probability < SPOKEN_SURE:
        return []
    name = Path(options.subtitles)
    return [f"The speech sounds like {language!r} (Whisper's probability {probability:.2f}), and the subtitles name no "
            f"language: their words were read as English. If they are in {language!r}, give it (--language "
            f"{language}, the page's Spoken language, or name them {name.stem}.{language}{name.suffix}) to translate "
            "the speech for the words."]


LANGUAGE_DOUBT = 0.8  # Whisper's probability of another language than the one given above which a note says so


def _language_doubted(transcript: Transcript, audio: np.ndarray, options: AnalysisOptions, device: str) -> list[str]:
    """A note where the speech, recognised in the language the user gave, sounds clearly like another: Whisper
    then writes words of the language given, made up from the sound (English speech read as German). What the
    recognition heard as it read the speech, else (openai-whisper) a detection of its own."""
    try:
        language, probability = transcript.heard or spoken_language(audio, backend=options.asr,
                                                                    model=options.asr_model, device=device)
    except TranscriptionError as e:
        log.warning("the spoken language was not checked against the one given: %s", e)
        return []
    if language not in (None, options.language) and probability >= LANGUAGE_DOUBT:
        return [f"The language given is {options.language!r}, but the speech sounds like {language!r} (Whisper's "
                f"probability {probability:.2f}): it was recognised as {options.language!r}, and its words may be "
                f"made up. If it is {language!r}, give that (--language {language}, the page's Spoken language), or "
                "let the language be detected."]
    elsewhere = [(lang, p) for lang, p in transcript.windows if lang != options.language and p >= LANGUAGE_DOUBT]
    if not elsewhere:  # the first window is in the language given; a later one may not be (speech that mixes them)
        return []
    other = Counter(lang for lang, _ in elsewhere).most_common(1)[0][0]
    return [f"The language given is {options.language!r}, but parts of the speech sound like {other!r} (Whisper's "
            f"probability up to {max(p for lang, p in elsewhere if lang == other):.2f}, in {len(elsewhere)} of the "
            f"{len(transcript.windows)} windows it read): they were recognised as {options.language!r}, and their "
            "words may be made up. If the speech mixes languages, let the language be detected."]


def _language_unsure(transcript: Transcript) -> list[str]:
    """A note where Whisper detected the spoken language below ``SPOKEN_SURE``: a few seconds of speech may be heard
    as a language they are not in (Italian as Greek or Spanish), and then read as made-up words of that language."""
    language, probability = transcript.heard or (None, 1.0)
    if language != transcript.language or probability >= SPOKEN_SURE:
        return []
    return [f"Whisper was unsure which language is spoken: it heard {language!r} (probability {probability:.2f} "
            f"only) and recognised the speech as {language!r}. If it is in another language, its words are made up: "
            "give that language (--language CODE, the page's Spoken language)."]


SAME_SPAN_S = 0.01  # s: a stretch whose ends are this close to another's is the same sound to translate (a feature
# frame; the pieces' times are rounded to 1 ms)


def _translate(segs: list[Segment], audio: np.ndarray, transcript: Transcript, options: AnalysisOptions,
               device: str, report: Progress) -> str:
    """Translate the speech into English and give each speech segment its sentences (``segments.translate``): all
    of it from the transcript's language, or, where the speech mixes languages, the utterances of each language
    but English from theirs. A speech segment left without a translation (its chunk's piece dropped by the filters,
    as a sentence said again is, read as a loop; or a piece with fewer sentences than its segments) is translated
    again alone, each such segment one piece: nothing more where every segment got one, nor for a segment whose
    own stretch was the piece dropped (a chunk of one segment: the same sound gives the same piece, dropped again).
    Returns what the notes say if no segment got any: a failure loses only the translation."""
    total, progress = _in_seconds(report, "translation", audio)
    mixed = len(transcript.languages) > 1
    languages = [language for language in transcript.languages if language != "en"]
    dropped: list[tuple[float, float]] = []  # the stretches whose piece the filters dropped

    def pieces(language: str, spans: list[tuple[float, float]] | None, progress=None) -> list:  # its speech, in English
        return translate_speech(audio, language, backend=options.asr, model=options.asr_model, device=device,
                                progress=progress, spans=spans, dropped=dropped)

    def tried(s: Segment) -> bool:  # its own stretch already translated, and dropped
        return any(abs(s.start - a) <= SAME_SPAN_S and abs(s.end - b) <= SAME_SPAN_S for a, b in dropped)

    try:
        found = []
        for language in languages:
            spans = [(u.start, u.end) for u in transcript.utterances
                     if (u.language or transcript.language) == language] if mixed else None
            found += pieces(language, spans, progress)
        translate(segs, found)
        for language in languages:
            left = [s for s in segs if s.kind == SPEECH and not s.translation and not tried(s)
                    and (not mixed or _spoken_in(s, transcript) == language)]
            if left:
                translate(left, pieces(language, [(s.start, s.end) for s in left]))
    except RuntimeError as e:  # e.g. a GPU without the memory for the translation's beam
        log.warning("translation failed: %s", e)  # the segments translated before it keep their translation
        return (f"; their translation into English failed ({type(e).__name__}: {e}). Turn translation off, or "
                "use a smaller speech recognition model.")
    report("translation", total, total)
    return "; their translation into English gave nothing usable."


def _spoken_in(seg: Segment, transcript: Transcript) -> str | None:
    """The language of the utterance that overlaps ``seg`` most."""
    return overlapping_most(transcript.utterances)(seg).language or transcript.language


def _in_seconds(report: Progress, stage: str, audio: np.ndarray) -> tuple[int, Callable[[float, float], None]]:
    """A stage over ``audio`` reported in whole seconds: reports its start; returns the seconds and the
    recogniser's ``progress(done_seconds, total_seconds)`` that reports the rest."""
    total = max(1, int(round(len(audio) / features.SAMPLE_RATE)))
    report(stage, 0, total)
    return total, lambda done, _: report(stage, min(int(done), total), total)


def _transcript(audio: np.ndarray | None, duration: float, options: AnalysisOptions, device: str,
                report: Progress, problems: list[str] | None = None) -> Transcript:
    if options.subtitles:
        return clip_to(load_subtitles(options.subtitles, problems, options.language, until=duration), duration)
    if audio is None:
        return Transcript(language=options.language, utterances=[], source="none: no audio track")
    total, progress = _in_seconds(report, "speech recognition", audio)
    again = []  # whether the second listen started

    def progress_again(done: float, _: float) -> None:
        if not again:  # the first pass is done
            again.append(True)
            report("speech recognition", total, total)
            report(SECOND_LISTEN, 0, total)
        report(SECOND_LISTEN, min(int(done), total), total)

    transcript = transcribe(audio, backend=options.asr, model=options.asr_model, language=options.language,
                            device=device, progress=progress, progress_again=progress_again)
    report(SECOND_LISTEN if again else "speech recognition", total, total)
    return transcript


def _run_model(model: FusionModel, segs: list[Segment], audio: np.ndarray | None, level: np.ndarray | None,
               picture: Future | None, options: AnalysisOptions, report: Progress
               ) -> tuple[list[SegmentResult], int, int]:
    """``picture``: what the picture gives, being computed in the background (None: no video input):
    the video's faces (``faces.FaceGrid``) for the face branch, else the segments' frames.
    Meanwhile the words and the sound of every batch are read and encoded at once, so that only
    their embeddings are kept (a segment's Whisper states are ~100 KB a second of speech); then,
    batch by batch, the expressions and the fusion. Returns the segments' results, how many voices
    were unlike the training voices enough for the model to trust them less, and how many faces did
    not move (``faces.still``: those are not read)."""
    size = max(1, options.batch_size)
    batches = [list(range(i, min(i + size, len(segs)))) for i in range(0, len(segs), size)]
    hears = audio is not None and "audio" in model.encoders and "audio" in options.senses
    sound = _sound_usable(segs, audio, level) if hears else None
    spans = voice_spans(segs, level, FRAME / features.SAMPLE_RATE) if sound is not None else None
    words = "text" in model.encoders and "text" in options.senses
    heard = [_hear(model, segs, rows, audio, sound, spans, words,
                   lambda stage: _batch(report, stage, done, len(batches))) for done, rows in enumerate(batches)]
    still = 0
    if picture is not None:
        report("frames", 0, 1)  # what is left of their decoding (and face detection)
        picture = picture.result()
        if model.config.video_source == "face-expression":
            picture = [picture.span_face(s.start, s.end) for s in segs]
            moves = [not faces.still(crops) for crops, _ in picture]  # a still picture shows nothing of the moment
            still = moves.count(False)
            picture = [face if move else (face[0][:0], None) for face, move in zip(picture, moves)]
        report("frames", 1, 1)
    results, unfamiliar = [], 0
    seeing = "expressions" if model.config.video_source == "face-expression" else "video features"
    for done, (rows, (embeddings, mask, distances)) in enumerate(zip(batches, heard)):
        seen = Inputs(mask=torch.zeros(len(rows), len(MODALITIES), dtype=torch.bool))
        boxes = [None] * len(rows)
        if picture is not None:  # a picture to read (not a sound file, nor the face left out)
            with _batch(report, seeing, done, len(batches)):
                boxes = _video_inputs(model, rows, picture, seen)
        with _batch(report, "model", done, len(batches)), torch.inference_mode():
            if seen.mask.any():
                embeddings["video"] = model.embed(seen.to(model.device))["video"]
            mask = mask | seen.mask.to(mask.device)
            out = model.fuse(embeddings, mask, distances=distances)
            contributions = _contributions(model, embeddings, out, options.contributions)
            if "audio" in out.distances:
                unfamiliar += int((model.encoders["audio"].doubt(out.distances["audio"]) > 1).sum())
        results += _segment_results(model, [segs[i] for i in rows], out, contributions, boxes)
    return results, unfamiliar, still


@contextlib.contextmanager
def _batch(report: Progress, stage: str, done: int, total: int) -> Iterator[None]:
    """One batch of a batch stage: reported as it starts, and the stage's end once its last batch is done."""
    report(stage, done, total)
    yield
    if done + 1 == total:
        report(stage, total, total)


def _hear(model: FusionModel, segs: list[Segment], rows: list[int], audio: np.ndarray | None,
          sound: list[bool] | None, spans: list[tuple[float, float]] | None, words: bool,
          step: Callable[[str], contextlib.AbstractContextManager]):
    """The batch's words (if ``words``) and sound (if ``sound``), encoded: (embeddings, mask (B, 3), distances) of
    ``FusionModel.embed``, ``Inputs.mask`` and ``FusionModel.distances``; their inputs are dropped. Each is a stage
    of its own only where it is read (``step(stage)``: the batch's ``_batch``)."""
    x = Inputs(mask=torch.zeros(len(rows), len(MODALITIES), dtype=torch.bool))
    if sound is not None:
        with step("audio features"):
            _audio_inputs(model, spans, rows, audio, sound, x)
    x = x.to(model.device)
    with torch.inference_mode():
        distances = model.distances(x)
    if words:
        with step("text features"):
            _text_inputs(model, segs, rows, x, _trusted_voices(model, x.mask, distances))
    x = x.to(model.device)
    with torch.inference_mode():
        return model.embed(x), x.mask, distances


def _levels(audio: np.ndarray) -> np.ndarray:
    """The sound's loudness, dB per FRAME samples."""
    n = len(audio) // FRAME
    frames = audio[: n * FRAME].reshape(n, FRAME)
    return 10 * np.log10(np.einsum("ij,ij->i", frames, frames, dtype=np.float64) / FRAME + 1e-12)


def _sound_usable(segs: list[Segment], audio: np.ndarray, level: np.ndarray) -> list[bool]:
    """Which segments the audio branch reads: none that is digital silence, and a gap (no words)
    only when sound fills most of it. The branch learned from utterances: a gap that is silence
    around the tail of a word is not one, and reading it gives confident nonsense. ``level``: ``_levels(audio)``.
    Past the end of the sound (a file cut short, a sound track shorter than the picture) is silence: a 4 s gap
    with a word's tail of 0.05 s was read as a voice, the sound it had being all of its sound."""
    floor = np.percentile(level, 99) - ACTIVE_DB if len(level) else 0.0
    usable = []
    for s in segs:
        a, b = int(s.start * features.SAMPLE_RATE), int(s.end * features.SAMPLE_RATE)
        energy = np.sum(np.square(audio[a:b], dtype=np.float64)) / max(1, b - a)
        ok = min(b, len(audio)) > a and float(np.sqrt(energy)) > SILENCE_RMS
        if ok and s.kind == GAP:
            loud = int(np.sum(level[a // FRAME: b // FRAME] > floor))
            ok = loud >= MIN_ACTIVE_SHARE * max(1, b // FRAME - a // FRAME)
        usable.append(ok)
    return usable


def _trusted_voices(model: FusionModel, mask: torch.Tensor, distances: dict[str, torch.Tensor]) -> list[bool]:
    """Which rows' voices the fusion reads undoubted: present, and no further from the training
    voices than the familiarity gate's d0 (every present voice, without a gate)."""
    heard = mask[:, MODALITIES.index("audio")]
    doubt = model.doubts(distances).get("audio")
    return (heard if doubt is None else heard & (doubt <= 1)).tolist()


def said_plainly(text: str) -> str:
    """``text`` with its exclamation marks made full stops ("What?!" -> "What?", "Great!!" -> "Great.").

    A "!" says how the words sounded, not what they say: the recogniser writes it for an aroused
    voice (RAVDESS 17-20: 65 of the 240 clips, none of the 48 neutral or calm ones), and the words'
    encoder reads it as strong evidence (MELD dev, typed lines: 0.553 -> 0.327 on the 349 with one,
    made "."). The fusion learned from MELD words joined with unrelated voices, so beside a voice it
    trusts, the sound would count twice: the words then count only what they say."""
    return re.sub(r"([?.]?)!+", lambda m: m.group(1) or ".", text)


def _text_inputs(model: FusionModel, segs: list[Segment], rows: list[int], x: Inputs, heard: list[bool]) -> None:
    """Fill the text inputs of the batch ``rows``; the words of a row whose voice is ``heard`` (trusted)
    are read ``said_plainly``."""
    if "text" not in model.encoders:
        return
    chosen, k = [segs[i] for i in rows], model.config.text_context
    contexts = [previous_texts(segs, i, k) for i in rows] if k else None
    texts = [said_plainly(s.read_text) if h else s.read_text for s, h in zip(chosen, heard)]
    tok = features.tokenize(model.tokenizer, texts, contexts)
    x.input_ids, x.attention_mask, x.token_type_ids = tok["input_ids"], tok["attention_mask"], tok.get("token_type_ids")
    x.mask[:, 0] = torch.tensor([s.kind == "speech" and bool(s.text.strip()) for s in chosen])


def _audio_inputs(model: FusionModel, spans: list[tuple[float, float]], rows: list[int], audio: np.ndarray,
                  sound: list[bool], x: Inputs) -> None:
    """Fill the audio inputs of the batch ``rows``: each segment's sound over its span (``voice_spans``)."""
    x.mask[:, 1] = torch.tensor([sound[i] for i in rows])
    clips = [audio[int(spans[i][0] * features.SAMPLE_RATE):int(spans[i][1] * features.SAMPLE_RATE)] if sound[i]
             else audio[:0] for i in rows]  # unusable sound is not encoded
    if model.config.audio_source in WHISPER_LAYERS:
        whisper = load_backend("faster-whisper", "base", str(model.device)).model  # the ASR's own model
        voiced = [j for j, c in enumerate(clips) if len(c)]
        layer = model.config.voice_bank_layer
        out = features.whisper_batch([clips[j] for j in voiced], whisper, WHISPER_LAYERS[model.config.audio_source],
                                     mean_after=layer)
        states, lengths = out[:2]
        x.audio_states = torch.zeros(len(rows), max(1, states.shape[1]), features.WHISPER_WIDTH)
        x.audio_lengths = torch.ones(len(rows), dtype=torch.int64)
        x.audio_states[voiced], x.audio_lengths[voiced] = states, lengths
        if layer:
            x.voice_means = torch.zeros(len(rows), features.WHISPER_WIDTH)
            x.voice_means[voiced] = out[2]
    else:
        x.mel, x.mel_lengths = features.audio_batch(clips)


def _video_inputs(model: FusionModel, rows: list[int], picture, x: Inputs) -> list[list[float] | None]:
    """Fill the video inputs of the batch from ``picture`` (see _run_model); returns each segment's
    face box (None: no face)."""
    if model.config.video_source != "face-expression":
        x.clips = features.video_batch([picture[i] for i in rows])
        x.mask[:, 2] = True
        return [None] * len(rows)
    found = [picture[i] for i in rows]
    with_face = [j for j, (crops, _) in enumerate(found) if len(crops)]
    feats = model.encoders["video"].frozen([found[j][0] for j in with_face])
    x.video_features = torch.zeros(len(rows), feats.shape[1])
    x.video_features[with_face] = feats.cpu()
    x.mask[with_face, 2] = True
    return [box for _, box in found]


def _contributions(model: FusionModel, embeddings, out, enabled: bool) -> torch.Tensor | None:
    """(B, 3): total-variation distance between the emotion distribution with and without each
    used modality (0 where it was not used); None where they are not measured (``enabled`` off)."""
    if not enabled:
        return None
    contrib = torch.zeros_like(out.mask, dtype=torch.float32)
    probs = out.emotion_logits.softmax(-1)
    for i in range(len(MODALITIES)):
        if out.mask[:, i].any():
            without = out.mask.clone()
            without[:, i] = False
            other = model.fuse(embeddings, without, out.per_modality, out.distances).emotion_logits.softmax(-1)
            contrib[:, i] = 0.5 * (probs - other).abs().sum(-1) * out.mask[:, i]
    return contrib


def _segment_results(model: FusionModel, segs: list[Segment], out, contrib: torch.Tensor | None,
                     boxes: list[list[float] | None]) -> list[SegmentResult]:
    cfg = model.config
    emotions = out.emotion_logits.float().softmax(-1).cpu().tolist()
    sentiments = out.sentiment_logits.float().softmax(-1).cpu().tolist()
    senses = {m: (em.float().softmax(-1).cpu().tolist(), se.float().softmax(-1).cpu().tolist())
              for m, (em, se) in out.per_modality.items()}
    mask, contrib = out.mask.cpu().tolist(), None if contrib is None else contrib.cpu().tolist()
    results = []
    for j, s in enumerate(segs):
        used = [m for i, m in enumerate(MODALITIES) if mask[j][i]]
        results.append(SegmentResult(
            start=round(s.start, 3), end=round(s.end, 3), text=s.text,
            emotion=dict(zip(model.config.emotions, emotions[j])),
            sentiment=dict(zip(model.config.sentiments, sentiments[j])),
            modalities=used,
            contributions={m: contrib[j][MODALITIES.index(m)] for m in used} if contrib is not None else {},
            kind=s.kind, translation=s.translation, speaker=s.speaker,
            per_modality={m: {"emotion": dict(zip(cfg.emotions, senses[m][0][j])),
                              "sentiment": dict(zip(cfg.sentiments, senses[m][1][j]))} for m in used if m in senses},
            face_box=boxes[j],
        ))
    return results


def senses_given(options: AnalysisOptions, info: media.MediaInfo | MediaFacts) -> tuple[str, ...]:
    """The senses asked for that the file can give (``senses_in``)."""
    return tuple(m for m in options.senses if m in senses_in(options, info))


def senses_in(options: AnalysisOptions, info: media.MediaInfo | MediaFacts) -> tuple[str, ...]:
    """The senses the file can give: the voice needs sound, the face a picture, the words sound or subtitles."""
    can = {"text": info.has_audio or bool(options.subtitles), "audio": info.has_audio, "video": info.has_video}
    return tuple(m for m in MODALITIES if can[m])


def nothing_to_read(path: str | PathLike, options: AnalysisOptions, info: media.MediaInfo) -> str:
    """Why ``analyze`` refuses a file that gives none of the senses asked for (``senses_given`` is empty: a sound
    read for the face alone, a video without sound read for the words or the voice), and what to ask for."""
    lacks = "sound track" if not info.has_audio else "picture that can be decoded" if info.picture_lost else "picture"
    asked = [MODALITY_NAMES[m] for m in options.senses]
    why = (f"the {asked[0]}, the only sense asked for, needs one" if len(asked) == 1 else
           f"the senses asked for, the {' and the '.join(asked)}, need one")
    can = [MODALITY_NAMES[m] for m in senses_in(options, info)]
    named = ",".join(can)
    ask = f"Ask for the {' or the '.join(can)} (senses=\"{named}\"; --senses {named} on the command line)"
    if not info.has_audio and not options.subtitles:
        ask += ", or give subtitles for the words (subtitles; --subtitles)"
    return f"{path}: has no {lacks}, and {why}: there is nothing to read. {ask}."


def not_read_by(path: str | PathLike, model: FusionModel, given: tuple[str, ...]) -> str:
    """Why ``analyze`` refuses a file whose senses asked for and given are none the model reads (its branches of
    them untrained: a silent video, a model of the words and the voice), and what to do."""
    names = " and the ".join(MODALITY_NAMES[m] for m in given)
    reads = " and the ".join(MODALITY_NAMES[m] for m in MODALITIES if m in model.encoders)
    return (f"{path}: gives the {names} only, which this model does not read (it was trained to read the {reads}): "
            "there is nothing to read. Use a model trained on them (the default reads all three senses: "
            "--checkpoint default).")


def model_facts(model: FusionModel, senses: tuple[str, ...] = MODALITIES) -> dict:
    """What produced an analysis, for its JSON (``used_branches``: those of the senses read)."""
    cfg, checkpoint = model.config, getattr(model, "checkpoint", None)
    return {
        "name": Path(checkpoint).name if checkpoint else None,  # the checkpoint folder's name
        "checkpoint": checkpoint,
        "weights_sha256": getattr(model, "weights_sha256", None),  # a checkpoint trained again into its folder differs
        "text_source": cfg.text_source,
        "audio_source": cfg.audio_source,
        "video_source": cfg.video_source,
        "fusion": cfg.fusion,
        "trained_branches": list(cfg.trained_branches),
        "used_branches": [m for m in MODALITIES if m in model.encoders and m in senses],
        "emotions": list(cfg.emotions),
        "sentiments": list(cfg.sentiments),
    }


def _notes(model: FusionModel, info: media.MediaInfo, transcript: Transcript, results: list[SegmentResult],
           senses: tuple[str, ...] = MODALITIES, unfamiliar: int = 0, still: int = 0,
           untranslated: str = UNTRANSLATED_OFF) -> list[str]:
    """The analysis's notes; ``untranslated`` ends the one on words in another language that were not
    translated (``_translate``)."""
    notes = [f"The {m} branch of this model is untrained, so {m} is not used." for m in MODALITIES
             if m not in model.encoders]
    left_out = [MODALITY_NAMES[m] for m in MODALITIES if m not in senses]
    if left_out:
        notes.append(f"Left out, as asked: the {' and the '.join(left_out)}.")
    if info.audio_tracks > 1:
        how = ("the one a player plays first. To analyse another, choose it by its number or language "
               f"({AUDIO_TRACK_OPTION})." if info.audio_chosen is None else
               f"as chosen ({info.audio_chosen!r})."
               + (f" Also in that language: {', '.join(info.audio_alike)}, not analysed (the one a player plays first "
                  f"of them was): choose one by its number to analyse it ({AUDIO_TRACK_OPTION})."
                  if info.audio_alike else ""))
        notes.append(f"The file has {info.audio_tracks} audio tracks: {info.audio_track} was analysed, {how}")
    if not info.has_audio:
        notes.append("The file has no audio track: no sound analysed, and its words are only those of its subtitles."
                     if transcript.utterances else
                     "The file has no audio track: no speech recognition, and no sound or words analysed.")
    elif not transcript.utterances:
        read = [name for m, name in (("audio", "sound"), ("video", "faces")) if any(m in r.modalities for r in results)]
        notes.append(f"No speech was found: the timeline comes from {' and '.join(read)} alone." if "sound" in read else
                     "No speech was found, and no sound fills half of any stretch of it (silence, or short sounds "
                     "such as beeps): nothing is read from it.")
    language = transcript.language or ""
    heard = transcript.spoken()
    if len(heard) > 1:  # recognised speech only: a subtitle cue names no language of its own
        said = ", ".join(f"{lang!r} {seconds:.0f} s" for lang, seconds in heard.items())
        notes.append(f"The speech mixes languages ({said} of words). Each stretch of speech was recognised in the "
                     "language Whisper heard in it, and the analysis's language is the one most spoken; a short "
                     "stretch may be heard in the wrong one (its words then translated, or made up from its sounds). "
                     "To have all of it read as one language, give that language (--language, the page's Spoken "
                     "language).")
        language = ", ".join(lang for lang in heard if lang and lang != "en")  # the words not in English
    translated = sum(bool(r.translation) for r in results)
    if translated:
        spoken = sum(r.kind == "speech" for r in results)
        subtitled = transcript.source.startswith("subtitles:")  # the words are the subtitles', not the speech's
        notes.append(f"The {'subtitles are' if subtitled else 'speech is'} in a language other than English "
                     f"({language!r}): the speech recognition translated {'the speech' if subtitled else 'it'} into "
                     f"English in {translated} of {spoken} speech segments (shown beside the words), for the words' "
                     f"encoder ({model.config.text_source}), which learned English: the words read what the "
                     "translation says, right or wrong. Turn translation off to keep the words as spoken.")
    elif (language and language != "en" and model.config.text_source in ENGLISH_TEXT_SOURCES
            and any("text" in r.modalities for r in results)):
        notes.append(f"The words are in a language other than English ({language!r}): the words' encoder "
                     f"({model.config.text_source}) learned English and reads them poorly{untranslated}")
    if unfamiliar:
        voiced = sum("audio" in r.modalities for r in results)
        notes.append(f"The voice in {unfamiliar} of {voiced} segments is unlike the voices the model learned from, "
                     "so what the sound says counts for less there.")
    if info.picture_lost:
        notes.append(f"The file's picture ({info.video_codec}) can't be decoded: it is damaged, or in a format the "
                     "decoder lacks. Its sound was analysed, nothing from the picture; to have the faces read, "
                     "re-export the video.")
    elif not info.has_video:
        notes.append("The file has no video stream: nothing is analysed from the picture.")
    elif "video" in senses and "video" in model.encoders and model.config.video_source == "face-expression" and results:
        n = still + sum(r.face_box is not None for r in results)
        read = [name for m, name in (("text", "words"), ("audio", "sound")) if any(m in r.modalities for r in results)]
        rest = f"the timeline comes from {' and '.join(read)} alone" if read else "nothing was read"
        notes.append(f"A face was found in {n} of {len(results)} segments." if n else
                     f"No face turned to the camera was found in the picture: {rest}.")
        if still:
            notes.append(f"In {still} of them the face does not move, as in a still picture (a cover, a photograph): "
                         "it shows nothing of the moment, so it is not read there.")
    return notes
