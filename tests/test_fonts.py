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


def drawn(text, font, letter_by_letter=False):
    """``text`` drawn in white on black, whole or one letter after the other from the left."""
    img = Image.new("L", (SIZE[0], 2 * font.size))
    draw, x = ImageDraw.Draw(img), 0
    for part in text if letter_by_letter else [text]:
        draw.text((x, 0), part, font=font, fill=255)
        x += font.getlength(part)
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


@pytest.mark.parametrize("text, language, forms", [(SAID["zh"], "zh", "SC"), ("今天天氣很好，我們去公園散步吧。", "zh", "TC"),
                                                  (SAID["ja"], "ja", "JP")], ids=["simplified", "traditional", "ja"])
def test_chinese_is_drawn_in_the_forms_of_its_script(text, language, forms):
    """Whisper says 'zh' for simplified and traditional Chinese alike: each is drawn in its own forms (the
    same character, '直', differs), not in Japanese ones."""
    from fontTools.ttLib import TTFont

    (path, index), _ = fonts.fit(text, language)
    with TTFont(path, fontNumber=index, lazy=True) as font:
        assert font["name"].getDebugName(1).endswith(f" {forms}")


def test_arabic_letters_are_joined():
    """Shaped, 'ببب' is three joined forms, narrower than three isolated letters (as Pillow draws without raqm)."""
    _, font = painter(segment(SAID["ar"]), language="ar").words[0]
    assert font.getlength("ببب") < 2 * font.getlength("ب")


def test_hebrew_is_drawn_right_to_left_and_aligned_on_the_right():
    word = "שלום"  # Hebrew letters have no joined forms: drawn right to left, its last letter comes first
    p = painter(segment(SAID["he"]), segment("hello there"), language="he")
    _, font = p.words[0]
    assert np.array_equal(drawn(word, font), drawn(word[::-1], font, letter_by_letter=True))
    assert not np.array_equal(drawn(word, font), drawn(word, font, letter_by_letter=True))
    pad = p.font.size // 3
    hebrew, english = (p._render(i)[0] for i in (0, 1))
    rows = slice(0, hebrew.shape[0] // 3)  # the words' line, above the label line
    assert SIZE[0] - pad - ink(hebrew[rows]).max() < 3 and ink(hebrew[rows]).min() > SIZE[0] // 4
    assert ink(english[rows]).min() - pad < 3


def test_a_long_right_to_left_caption_is_wrapped_in_reading_order():
    text = " ".join([SAID["he"]] * 5)
    p = painter(segment(text), language="he")
    _, font = p.words[0]
    pad = p.font.size // 3
    lines = overlay._wrap(text, font, SIZE[0] - 2 * pad)
    assert len(lines) == 2 and text.startswith(lines[0]) and lines[1].endswith("…")
    first = Image.new("L", SIZE)  # the first word alone, where the caption's first line ends on the right
    ImageDraw.Draw(first).text((SIZE[0] - pad, pad), text.split()[0], font=font, anchor="ra", fill=255)
    rows, cols = slice(0, 2 * pad + p.font.size), slice(SIZE[0] - pad - round(font.getlength(text.split()[0])), None)
    caption = p._render(0)[0][rows, cols].min(axis=2) > 128
    assert np.array_equal(caption, np.asarray(first)[rows, cols] > 128)


@pytest.mark.parametrize("language", ["zh", "ja"])
def test_a_long_caption_without_spaces_is_wrapped_between_characters(language):
    text = SAID[language] * 3  # longer than the frame is wide, without a space
    p = painter(segment(text), language=language)
    words, font = p.words[0]
    max_px = SIZE[0] - 2 * (p.font.size // 3)
    assert font.getlength(text) > max_px
    lines = overlay._wrap(words, font, max_px)
    assert len(lines) == 2 and "".join(lines) == text
    assert all(font.getlength(line) <= max_px for line in lines)
    lines = overlay._wrap(text * 3, font, max_px)  # too long for two lines: the second ends with '…'
    assert len(lines) == 2 and lines[1].endswith("…") and font.getlength(lines[1]) <= max_px
    rgb, _, _, _ = p._render(0)
    assert rgb.shape[0] > 3 * p.font.size and ink(rgb).max() < SIZE[0] - 2  # three lines, none past the frame


def test_a_word_too_long_for_a_line_is_cut_between_letters_not_inside_one():
    """A Hindi letter is a consonant with its vowel sign ('पा'), or consonants joined by a virama ('र्क')."""
    text = "पार्क" * 6  # प ा र ् क, six times
    _, font = painter(segment(text), language="hi").words[0]
    assert overlay._fitting(text, font, font.getlength(text[:6])) == 5  # 'पार्कप' fits: cut before 'पा'
    assert overlay._fitting(text, font, font.getlength(text[:9])) == 7  # 'पार्कपार्' fits: cut before 'र्क'
    assert overlay._wrap(text, font, font.getlength(text[:9]))[0] == "पार्कपा"
    lines = overlay._wrap(text * 10, font, SIZE[0])  # more than the lines shown: the last cut, and '…' added
    shown = "".join(lines)[:-2]
    assert lines[-1].endswith(" …") and font.getlength(lines[-1]) <= SIZE[0] and (text * 10).startswith(shown)
    assert (text * 10)[len(shown)] == "प"  # the cut is before a letter, as between the lines


def test_a_symbol_that_the_font_lacks_is_left_out_not_drawn_as_a_box():
    """Symbols do not choose the font: an emoji that DejaVu Sans lacks is left out, those that it has are kept."""
    with warnings.catch_warnings():
        warnings.simplefilter("error")  # nothing to warn about: the words are all drawn
        p = painter(segment("great job 🎉 see you 😀"), segment("♪ la la ♪"))
    assert [words for words, _ in p.words] == ["great job see you 😀", "♪ la la ♪"]
    font = p.words[0][1]
    assert font.path.endswith("DejaVuSans.ttf") and mask(font, "🎉") == mask(font, ABSENT) != mask(font, "😀")


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


@pytest.mark.parametrize("size", [(160, 120), (405, 720)], ids=["small webcam", "phone upright"])
def test_the_label_line_of_a_narrow_picture_is_drawn_whole(size):
    """On 160x120 the label line read "neutral 0.66 · neutral sent", cut at the picture's edge (the words were
    wrapped, the label drawn at full length): it is drawn shorter ("sentiment" left out), wrapped if need be."""
    seg = segment("Hello there.")
    p = overlay._OverlayPainter([seg], size, None)
    pad = max(2, p.font.size // 3)
    rgb, _, _, _ = p._render(0)
    label = rgb[pad + p.font.size + pad:]  # below the words' line
    inked = np.flatnonzero((np.abs(label - label[:, :1]).max(axis=(0, 2)) > 40))  # columns that differ from the box
    assert inked.size and inked.max() < size[0] - pad // 2, (inked.max(), size)  # its right margin left clear
    assert overlay.label_line(seg).removesuffix(" sentiment") == p._labels(seg, pad)[0]
    wide = overlay._OverlayPainter([seg], (1280, 720), None)  # where it fits, it is written out
    assert wide._labels(seg, max(2, wide.font.size // 3)) == [overlay.label_line(seg)]


def test_nothing_read_is_drawn_legibly():
    """"nothing read" was drawn in dark grey (#444444) on the dark caption box: now in light grey, its brightest
    pixel at least 70 % of white."""
    seg = segment("")
    seg.modalities = []
    rgb, _, _, _ = overlay._OverlayPainter([seg], SIZE, None)._render(0)
    assert overlay.label_line(seg) == "nothing read" and rgb.max() >= 0.7 * 255


def test_without_libraqm_right_to_left_and_joined_captions_warn(monkeypatch):
    """Pillow lays out right to left and joins letters only with libraqm, which loads the system's FriBiDi:
    without it, Arabic is drawn unjoined and backwards, silently. libfribidi0 is installed here, so its absence
    is stood in for by Pillow's own feature check answering no."""
    from PIL import features

    monkeypatch.setattr(features, "check", lambda feature: False if feature == "raqm" else True)
    with pytest.warns(UserWarning, match="apt-get install libfribidi0"):
        painter(segment("Hello there."), segment(SAID["ar"]))
    with warnings.catch_warnings():
        warnings.simplefilter("error")
        painter(segment("Hello there, café."), segment(SAID["zh"]), language="zh")  # none needs a layout
