"""The annotated video's captions in every script Whisper writes: real fonts (those ``setup.sh`` installs),
real rendering with Pillow, read back from the pixels."""

import warnings

import numpy as np
import pytest
from PIL import Image, ImageDraw, ImageFont
from test_results import random_segment

from mmsent import fonts, overlay

SIZE = (480, 270)  # width, height of the frames the captions are drawn for
ABSENT = "\U0010fffd"  # a private-use code point that no font here has: drawn as the font's .notdef box
SAID = {  # a sentence in each language, as Whisper writes it
    "zh": "今天天气很好，我们去公园散步吧。",
    "ja": "今日はいい天気ですね、公園を散歩しましょう。",
    "ko": "오늘 날씨가 좋네요, 공원에서 산책해요.",
    "hi": "आज मौसम अच्छा है, चलो पार्क में टहलने चलते हैं।",
    "th": "วันนี้อากาศดีมาก ไปเดินเล่นที่สวนกันเถอะ",
    "ar": "الطقس جميل اليوم، لنتمشى في الحديقة.",
    "he": "מזג האוויר יפה היום, בוא נטייל בפארק.",
}


def painter(*segments, language=None):
    return overlay._OverlayPainter(list(segments), SIZE, language)


def segment(text, translation=""):
    seg = random_segment(np.random.default_rng(0), 0.0, 1.0, text)
    seg.translation = translation
    return seg


def mask(font, char):
    drawn = font.getmask(char)
    return drawn.size, bytes(drawn)


def ink(image) -> np.ndarray:
    """The columns of a caption image (RGB floats) where its white words are drawn."""
    return np.flatnonzero((image.min(axis=2) > 128).any(axis=0))


def drawn(text, font):
    """``text`` drawn in white on black."""
    img = Image.new("L", (SIZE[0], 2 * font.size))
    ImageDraw.Draw(img).text((0, 0), text, font=font, fill=255)
    return np.asarray(img, dtype=float)


@pytest.mark.parametrize("language", SAID)
def test_a_caption_is_drawn_with_the_glyphs_of_its_language(language):
    text = SAID[language]
    p = painter(segment(text), language=language)
    words, font = p.words[0]
    assert words == text
    tofu = mask(font, ABSENT)
    boxes = [c for c in set(text) - {" "} if mask(font, c) == tofu]
    assert not boxes, f"{language}: {font.path} draws {boxes} as .notdef boxes"
    dejavu = ImageFont.truetype(fonts.faces()[0][0], font.size)
    if language not in ("ar", "he"):  # DejaVu Sans has no glyphs for these: another font is needed
        assert font.path != dejavu.path and mask(dejavu, text[0]) == mask(dejavu, ABSENT)
    # laid out by libraqm (FriBiDi and HarfBuzz): right to left and shaped, not letter after letter
    assert font.layout_engine == ImageFont.Layout.RAQM
    pad = p.font.size // 3
    caption = ink(p._render(0)[0][: 2 * pad + p.font.size])  # the caption's first line: its words
    alone = np.flatnonzero((drawn(text, font) > 128).any(axis=0))
    assert abs(np.ptp(caption) - np.ptp(alone)) <= 1


def test_arabic_letters_are_joined():
    """Shaped, 'ببب' is three joined forms, narrower than three isolated letters (as Pillow draws without raqm)."""
    _, font = painter(segment(SAID["ar"]), language="ar").words[0]
    assert font.getlength("ببب") < 2 * font.getlength("ب")


@pytest.fixture
def only_dejavu(tmp_path, monkeypatch):
    """fontconfig restricted to DejaVu Sans: this machine has fonts for every script here, so a machine
    without them is made by a fontconfig configuration that knows one font file only."""
    (tmp_path / "fonts").mkdir()
    (tmp_path / "fonts" / "DejaVuSans.ttf").symlink_to(fonts.faces()[0][0])
    conf = tmp_path / "fonts.conf"
    conf.write_text(f"<?xml version='1.0'?>\n<fontconfig><dir>{tmp_path / 'fonts'}</dir>"
                    f"<cachedir>{tmp_path / 'cache'}</cachedir></fontconfig>\n")
    monkeypatch.setenv("FONTCONFIG_FILE", str(conf))
    fonts.faces.cache_clear()
    yield
    fonts.faces.cache_clear()


def test_without_a_font_for_its_script_a_caption_falls_back_and_warns_once(only_dejavu):
    assert {face[0].rsplit("/", 1)[1] for face in fonts.faces("zh")} == {"DejaVuSans.ttf"}
    translated = segment(SAID["zh"], translation="The weather is fine today, let's walk in the park.")
    with pytest.warns(UserWarning) as caught:
        p = painter(translated, segment(SAID["zh"]), segment(SAID["hi"]), segment("plain words"), language="zh")
    told = sorted(str(w.message) for w in caught)
    assert len(told) == 2, told  # once for each script, not for each segment
    assert "CJK script" in told[0] and "apt-get install fonts-noto-cjk" in told[0]
    assert "Devanagari script" in told[1] and "apt-get install fonts-noto-core" in told[1]
    assert p.words[0][0] == "in English: The weather is fine today, let's walk in the park."
    assert [p.words[i][0] for i in (1, 2, 3)] == ["", "", "plain words"]  # the label line alone, no boxes
    with warnings.catch_warnings():
        warnings.simplefilter("error")
        label_only = p._render(1)[0]
    assert label_only.shape[0] == 2 * (p.font.size // 3) + p.font.size  # one line: the label's
