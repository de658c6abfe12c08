"""The demo in a real browser: headless Debian Chromium driven by Playwright against ``python app.py``.

Uploads a generated espeak-ng video (slides beside a photograph of a face, which does not move and is not read),
clicks Analyse, waits for the plots and the table and checks them (labels, what each sense says, hover words, row
count, downloads), then a real face (the RAVDESS clip of ../shared/data/clips), the speakers a subtitle file names,
an error toast and a one-click example in a second tab, a webcam recording (Chromium's synthetic camera and
microphone), and a sound alone, uploaded then recorded with the microphone. The page must not reach beyond the
loopback server. A full-page screenshot goes to the test's tmp folder; with ``MMSENT_UPDATE_SCREENSHOT=1`` it also
replaces docs/screenshot.png. ``MMSENT_APP_VIDEO=path.mp4`` analyses that video instead (for timing); the
click-to-plot time is printed (``pytest -s``).
"""

from __future__ import annotations

import itertools
import os
import re
import shutil
import tempfile
import time
from pathlib import Path

import pytest
from app_server import ROOT, AppServer, make_examples_module
from mediagen import dubbed_video, make_video, speak, talking_video

from mmsent.labels import EMOTIONS

CHROMIUM = Path("/usr/bin/chromium")
CHROMIUM_FLAGS = ["--no-sandbox", "--disable-gpu", "--disable-background-networking",
                  "--disable-component-update", "--disable-sync", "--no-first-run", "--disable-dev-shm-usage",
                  # a synthetic camera and microphone (test pattern and beeps), allowed without asking
                  "--use-fake-device-for-media-stream", "--use-fake-ui-for-media-stream"]
VIEWPORT = {"width": 1280, "height": 900}  # pixels
SENTENCES = ("What a wonderful surprise, I love this garden.",
             "The roses are beautiful this year.",
             "But the storm last night broke the old apple tree, and that makes me sad.")
KEYWORDS = ("garden", "roses", "apple")  # words the table must show
ANALYSIS_TIMEOUT_MS = 300_000  # click to plot, on a busy 2-core machine
UI_TIMEOUT_MS = 30_000  # page load, upload preview, toasts
SETTLE_S = 1.0  # s for plotly to finish drawing before the screenshot
RECORD_S = 3.0  # s of webcam recording
SCREENSHOT = ROOT / "docs" / "screenshot.png"

pytestmark = pytest.mark.skipif(not CHROMIUM.exists(), reason=f"Debian's chromium not found at {CHROMIUM}")


@pytest.fixture(scope="module")
def server(tmp_path_factory):
    with AppServer(tmp_path_factory.mktemp("browser_log") / "app.log") as app:
        yield app


@pytest.fixture(scope="module")
def playwright():
    sync_api = pytest.importorskip("playwright.sync_api")
    with sync_api.sync_playwright() as p:
        yield p


def launch(playwright, folder: Path, flags: list[str] = CHROMIUM_FLAGS):
    """Chromium with a profile of its own in ``folder``."""
    profile = tempfile.mkdtemp(prefix="chromium-", dir=folder)
    return playwright.chromium.launch_persistent_context(profile, executable_path=str(CHROMIUM), headless=True,
                                                         args=flags, viewport=VIEWPORT)


@pytest.fixture(scope="module")
def browser_context(playwright, tmp_path_factory):
    context = launch(playwright, tmp_path_factory.mktemp("browser"))
    try:
        yield context
    finally:
        context.close()


def open_page(context, server: AppServer, hosts: set[str]):
    """A new page of the app; the last tests' pages are closed first: each holds a connection for its heartbeat,
    and Chromium opens at most 6 to one server (the 7th request waits, as a Stop click did)."""
    for old in context.pages:
        if old.url.startswith(server.url):
            old.close()
    page = context.new_page()
    page.on("request", lambda r: hosts.add(r.url.split("/")[2]))
    page.goto(server.url)
    page.wait_for_selector("#analyse-btn", timeout=UI_TIMEOUT_MS)
    return page


def upload(page, video: Path) -> None:
    page.locator("#video-in input[type=file]").set_input_files(str(video))
    page.wait_for_selector("#video-in video", timeout=UI_TIMEOUT_MS)


def wait_for_results(page) -> None:
    page.wait_for_selector("#emotion-plot .js-plotly-plot", timeout=ANALYSIS_TIMEOUT_MS)
    page.wait_for_function(
        "document.querySelector('#segments-table [role=grid]')?.getAttribute('aria-rowcount') > 1",
        timeout=UI_TIMEOUT_MS)


# Page coordinates of the middle of the first segment (between the first trace's first two points, dates on the time
# axis), from plotly's own axes.
_FIRST_SEGMENT_MIDDLE_JS = """() => {
  const gd = document.querySelector('#emotion-plot .js-plotly-plot');
  const L = gd._fullLayout, box = gd.getBoundingClientRect(), x = gd.data[0].x, y = gd.data[0].y;
  return [box.left + L._size.l + L.xaxis.l2p((L.xaxis.d2l(x[0]) + L.xaxis.d2l(x[1])) / 2), box.top + L._size.t + L.yaxis.l2p(y[0] / 2)];
}"""


# Whether every point of each timeline is drawn where its time lies on the figure's time axis: the x of its
# points as plotly computed them (calcdata), inside the axis's range.
_POINTS_ON_THE_AXIS_JS = """() => [...document.querySelectorAll('.js-plotly-plot')].filter(gd => gd._fullLayout.xaxis.type === 'date')
  .map(gd => { const ax = gd._fullLayout.xaxis, [lo, hi] = ax.range.map(ax.r2l);
               const xs = gd.calcdata[0].map(p => p.x).filter(Number.isFinite);  // not a trace's breaks
               return xs.length > 0 && xs.every(x => x >= lo - 1 && x <= hi + 1); })"""


def hover_words(page) -> str:
    """The hover box of the emotion timeline in the middle of the first segment, far from its ends: one
    box with the segment's words and every emotion's probability."""
    page.locator("#emotion-plot .js-plotly-plot").scroll_into_view_if_needed()
    page.mouse.move(*page.evaluate(_FIRST_SEGMENT_MIDDLE_JS))
    page.wait_for_selector("#emotion-plot .hoverlayer .legend", timeout=UI_TIMEOUT_MS)
    return page.locator("#emotion-plot .hoverlayer").text_content()


def test_upload_analyse_plot_and_table(server, browser_context, tmp_path):
    video = Path(os.environ.get("MMSENT_APP_VIDEO", "") or tmp_path / "garden.mp4")
    if "MMSENT_APP_VIDEO" not in os.environ:
        make_examples_module().make_video(video, SENTENCES, title="The garden", colour=(56, 110, 60),
                                          portrait="portrait.jpg")  # a real face, but a photograph
    hosts: set[str] = set()
    page = open_page(browser_context, server, hosts)
    upload(page, video)
    t0 = time.monotonic()
    page.click("#analyse-btn")
    wait_for_results(page)
    click_to_plot = time.monotonic() - t0
    print(f"\nclick to plot: {click_to_plot:.1f} s for {video.name}")

    legend = set(page.locator("#emotion-plot .legendtext").all_text_contents())
    assert set(EMOTIONS) <= legend, legend
    for plot in ("senses-plot", "sentiment-plot", "share-plot", "contrib-plot"):
        assert page.locator(f"#{plot} .js-plotly-plot").count() == 1, plot
    # the times as the app's plotly.js reads them (milliseconds as numbers put every point off the axis)
    assert page.evaluate(_POINTS_ON_THE_AXIS_JS) == [True] * 4
    senses = set(page.locator("#senses-plot .legendtext").all_text_contents())
    assert {"words", "voice"} <= senses, senses  # what each sense says, by its everyday name
    if "MMSENT_APP_VIDEO" not in os.environ:  # the photograph's face is found, and not read: it does not move
        assert "face" not in senses, senses
        assert "face:" not in page.locator("#segments-table").inner_text()
        assert re.search(r"face was found in (\d+) of \1 segments", page.locator("#notes").inner_text())
        assert "the face does not move" in page.locator("#notes").inner_text()
    assert re.search(r"words: \w+ \d\.\d\d", page.locator("#segments-table").inner_text()), \
        "the table shows what each sense says"
    rows = int(page.locator("#segments-table [role=grid]").get_attribute("aria-rowcount")) - 1
    notes = page.locator("#notes").inner_text()
    assert re.search(rf"· {rows} segments? over", notes), notes  # the table shows every segment
    assert "Senses the model reads" in notes
    downloads = re.sub(r"\s+", "", page.locator("#downloads").inner_text())  # name and extension: 2 lines
    assert all(f"{video.stem}.{ext}" in downloads for ext in ("json", "csv", "srt", "html")), downloads
    # each link named after its file, as a screen reader reads it (Gradio's said only "1.2 KB ⇣")
    page.wait_for_function("() => [...document.querySelectorAll('#downloads a')].every(a => a.ariaLabel)")
    for ext in ("json", "csv", "srt", "html"):
        named = rf"^Download {re.escape(video.stem)}\.{ext} \(\d+(\.\d)? [KMG]?B\)$"
        assert page.locator("#downloads").get_by_role("link", name=re.compile(named)).count() == 1, ext
    # no "Remove this file" beside each download (Gradio's, for an output too): it took the link off the page
    assert page.locator("#downloads").get_by_role("button").count() == 0
    if "MMSENT_APP_VIDEO" not in os.environ:
        table = page.locator("#segments-table").inner_text().lower()
        assert all(k in table for k in KEYWORDS), table
        hover = hover_words(page).lower()
        assert re.search(r"wonderful|garden", hover) and all(e in hover for e in EMOTIONS), hover
    page.mouse.move(0, 0)
    time.sleep(SETTLE_S)
    shot = tmp_path / "screenshot.png"
    page.screenshot(path=str(shot), full_page=True)
    assert shot.stat().st_size > 50_000  # a rendered page, not a blank one
    if os.environ.get("MMSENT_UPDATE_SCREENSHOT") == "1":
        shutil.copyfile(shot, SCREENSHOT)
    assert hosts == {f"127.0.0.1:{server.port}"}, f"the page reached beyond the server: {hosts}"


def test_a_real_face_is_read_and_shown(server, browser_context, shared_data):
    """The RAVDESS clip (an actor says her sentence to the camera): the face is read beside the words and
    the voice, in the plot of what each sense says and in the table. While it runs, the progress shows
    on the result's video only (over the notes, it hid their text)."""
    hosts: set[str] = set()
    page = open_page(browser_context, server, hosts)
    upload(page, shared_data / "clips" / "ravdess_01-01-01-01-01-01-01.mp4")
    page.click("#analyse-btn")
    page.wait_for_selector("#video-out .progress-text", timeout=UI_TIMEOUT_MS)
    shown_on = page.evaluate("() => [...document.querySelectorAll('.progress-text')].map(e => e.closest('[id]').id)")
    assert shown_on == ["video-out"], shown_on
    wait_for_results(page)
    assert {"words", "voice", "face"} <= set(page.locator("#senses-plot .legendtext").all_text_contents())
    table = page.locator("#segments-table").inner_text()
    assert re.search(r"words: \w+ \d\.\d\d · voice: \w+ \d\.\d\d · face: \w+ \d\.\d\d", table), table
    notes = page.locator("#notes").inner_text()
    assert re.search(r"A face was found in (\d+) of \1 segments\.", notes) and "does not move" not in notes, notes
    assert hosts == {f"127.0.0.1:{server.port}"}, hosts


def test_error_toast_then_one_click_example(server, browser_context, tmp_path):
    """A refused file's message; then an example, with the options as set and without the subtitles given for the
    file before (they were kept, and their words read as the example's: another video's lines, in English)."""
    hosts: set[str] = set()
    page = open_page(browser_context, server, hosts)
    upload(page, make_video(tmp_path / "silent.mp4", 2.0, size=(160, 120), fps=5, audio=None))
    page.click("#analyse-btn")
    toast = page.wait_for_selector("[data-testid=toast-text]", timeout=UI_TIMEOUT_MS).inner_text()
    assert "silent.mp4 has no sound track" in toast and "Traceback" not in toast
    assert page.locator("#emotion-plot .js-plotly-plot").count() == 0  # nothing drawn for a rejected file
    page.click("[data-testid=toast-close]")

    page.get_by_text("Options", exact=True).click()
    page.get_by_role("checkbox", name="face").uncheck()
    (tmp_path / "silent.srt").write_text("1\n00:00:00,200 --> 00:00:01,800\nThe parrot sings loudly.\n")
    page.locator("#subs-in input[type=file]").set_input_files(str(tmp_path / "silent.srt"))
    page.locator("#subs-in").get_by_text("silent").wait_for(timeout=UI_TIMEOUT_MS)
    track = page.locator("#track-in").get_by_role("textbox")
    track.fill("2")  # another file's audio track: the example has one
    page.get_by_role("button", name="italian news").click()  # an example runs with one click, with the options as set
    wait_for_results(page)
    assert track.input_value() == ""
    table = page.locator("#segments-table").inner_text()
    assert "(in English:" in table and "happy" in table.lower(), table  # Italian, and the words read in English
    assert "parrot" not in table.lower() and "silent" not in page.locator("#subs-in").inner_text(), table
    notes = page.locator("#notes").inner_text()
    assert "language it, translated into English" in notes and "Left out, as asked: the face." in notes, notes
    page.locator("#video-in [aria-label='Clear']").click()  # the example's video out of the input
    upload(page, tmp_path / "silent.mp4")
    page.click("#analyse-btn")  # a refused file after results: the last results go, the message stays alone
    assert "silent.mp4 has no sound track" in page.wait_for_selector("[data-testid=toast-text]",
                                                                     timeout=UI_TIMEOUT_MS).inner_text()
    assert page.locator("#emotion-plot .js-plotly-plot").count() == 0
    assert "italian" not in page.locator("#notes").inner_text().lower()
    assert hosts == {f"127.0.0.1:{server.port}"}, hosts


def test_the_audio_track_typed_is_the_one_analysed(server, browser_context, tmp_path):
    """A dubbed film (track 1 a tone tagged ger, the one a player plays; track 2 the English speech): Options, Audio
    track chooses the track read. One the file lacks is refused in a toast that names the tracks it has, the video
    and the field kept as given; "eng" reads the speech, and the note says so, naming the page's field."""
    dubbed = dubbed_video(tmp_path / "dubbed.mp4", [SENTENCES[0]]).path
    page = open_page(browser_context, server, set())
    upload(page, dubbed)
    page.get_by_text("Options", exact=True).click()
    page.get_by_role("checkbox", name="face").uncheck()  # quicker: a test picture has no face to read
    track = page.locator("#track-in").get_by_role("textbox")
    track.fill("3")
    page.click("#analyse-btn")
    toast = page.locator("[data-testid=toast-text]", has_text="dubbed.mp4: has 2 audio tracks")
    toast.wait_for(timeout=UI_TIMEOUT_MS)
    assert ("track 1 (ger, default), track 2 (eng); the audio track asked for, 3, is none of them" in toast.inner_text()
            and "the page's Audio track" in toast.inner_text()), toast.inner_text()
    assert page.locator("#video-in video").count() == 1 and track.input_value() == "3"  # nothing lost
    page.click("[data-testid=toast-close]")
    track.fill("eng")
    page.click("#analyse-btn")
    wait_for_results(page)
    assert "garden" in page.locator("#segments-table").inner_text().lower()
    assert "track 2 (eng) was analysed, as chosen ('eng')." in page.locator("#notes").inner_text()


def test_the_speakers_the_subtitles_name_are_shown_as_typed(server, browser_context, tmp_path):
    """WebVTT subtitles that name who speaks (voice tags) for two of three sentences: each named sentence's words cell
    starts with its speaker's name (in its own direction, between U+2068 and U+2069), the unnamed one's has none, and
    the note's "By speaker" list gives both names as typed: "*Bo*" with its stars, not "Bo" in italics."""
    talk = talking_video(tmp_path / "voices.mp4", list(SENTENCES[:2]) + ["The old apple tree broke."], size=(160, 120),
                         fps=10)
    (start1, end1), (start2, end2), (start3, end3) = talk.spans
    cue = lambda start, end: f"00:{start:06.3f} --> 00:{end:06.3f}"  # noqa: E731 (under a minute)
    subtitles = tmp_path / "voices.vtt"
    subtitles.write_text(f"WEBVTT\n\n{cue(start1, end1)}\n<v Ann>{SENTENCES[0]}\n\n"
                         f"{cue(start2, end2)}\n<v *Bo*>{SENTENCES[1]}\n\n"
                         f"{cue(start3, end3)}\nThe old apple tree broke.\n", encoding="utf-8")
    hosts: set[str] = set()
    page = open_page(browser_context, server, hosts)
    upload(page, talk.path)
    page.locator("#subs-in input[type=file]").set_input_files(str(subtitles))
    page.locator("#subs-in").get_by_text("voices").wait_for(timeout=UI_TIMEOUT_MS)
    page.get_by_text("Options", exact=True).click()
    page.get_by_role("checkbox", name="face").uncheck()  # quicker: a test picture has no face to read
    page.click("#analyse-btn")
    wait_for_results(page)

    cells = page.locator("#segments-table .body-cell").all_text_contents()
    said = {k: [c.strip() for c in cells if k in c] for k in KEYWORDS}  # the words cells of each sentence
    assert all(len(c) == 1 for c in said.values()), (said, cells)  # one segment each: the words in one cell
    assert said["garden"][0] == f"\u2068Ann\u2069: {SENTENCES[0]}", said
    assert said["roses"][0] == f"\u2068*Bo*\u2069: {SENTENCES[1]}", said
    assert said["apple"][0] == "The old apple tree broke.", said  # no cue names who says it
    assert page.locator("#segments-table em").count() == 0  # "*Bo*" in the table as typed too

    notes = page.locator("#notes")
    by_speaker = notes.locator("p", has_text="By speaker:").locator("xpath=following-sibling::ul[1]/li")
    lines = [line.replace("\u2068", "").replace("\u2069", "") for line in by_speaker.all_inner_texts()]
    assert len(lines) == 2, (lines, notes.inner_text())  # the two named, not the unnamed sentence
    assert re.fullmatch(r"Ann: \d+\.\d s, (mostly|most often) \w+, mean sentiment [+-]\d\.\d\d", lines[0]), lines
    assert re.fullmatch(r"\*Bo\*: \d+\.\d s, (mostly|most often) \w+, mean sentiment [+-]\d\.\d\d", lines[1]), lines
    assert by_speaker.locator("em, i, strong").count() == 0, notes.inner_html()  # the stars shown, not italics
    assert not [line for line in lines if "\\" in line], lines  # nor the backslashes that escape them

    downloads = re.sub(r"\s+", "", page.locator("#downloads").inner_text())  # name and extension: 2 lines
    assert all(f"voices.{ext}" in downloads for ext in ("json", "csv", "srt", "vtt", "html")), downloads
    assert hosts == {f"127.0.0.1:{server.port}"}, hosts


def toasts(page, kind: str) -> list[str]:
    """The texts of the page's toasts of one kind (error, warning, info): Gradio shows those of a kind together."""
    return page.locator(f"[data-testid=toast-body].{kind} [data-testid=toast-text]").all_inner_texts()


def test_an_earlier_file_s_error_goes_as_a_new_analysis_starts(server, browser_context, tmp_path):
    """A refused file's message stayed its 10 s over the next analysis (Analyse or an example), beside that one's
    own. As a new analysis starts, the errors and "Stopped" of the last go; a warning on the upload just made (a
    file of the wrong type, not taken) stays: it tells why the input is not what was chosen."""
    page = open_page(browser_context, server, set())
    (tmp_path / "notes.mp4").write_text("this is a text file, not a video\n")
    page.locator("#video-in input[type=file]").set_input_files(str(tmp_path / "notes.mp4"))
    page.click("#analyse-btn")
    page.locator("[data-testid=toast-text]", has_text="notes.mp4: cannot be read").wait_for(timeout=UI_TIMEOUT_MS)

    page.locator("#video-in [aria-label='Clear']").click()
    page.click("#analyse-btn")
    page.locator("[data-testid=toast-text]", has_text="No video yet").wait_for(timeout=UI_TIMEOUT_MS)
    assert not [t for t in toasts(page, "error") if "notes.mp4" in t], toasts(page, "error")

    (tmp_path / "notes.txt").write_text("not a video either\n")
    page.locator("#video-in input[type=file]").set_input_files(str(tmp_path / "notes.txt"))
    page.locator("[data-testid=toast-text]", has_text="Invalid file type: notes.txt").wait_for(timeout=UI_TIMEOUT_MS)
    page.get_by_role("button", name="happy news").click()
    page.locator("[data-testid=toast-body].error").wait_for(state="detached", timeout=2000)  # at once, not in 10 s
    assert [t for t in toasts(page, "warning") if "notes.txt" in t], "the upload's warning stays"
    wait_for_results(page)
    assert toasts(page, "error") == []


def test_the_video_drawn_on_shows_no_captions_of_another(server, browser_context):
    """The video with its captions drawn in kept the last analysis's caption track: another video's words over
    it. One example analysed, then another with "Draw on the video": the first's results go at once (they stayed
    beside the second while it ran), no track, its own drawing."""
    page = open_page(browser_context, server, set())
    page.get_by_role("button", name="happy news").click()
    wait_for_results(page)
    assert page.locator("#video-out track").get_attribute("src").endswith("happy_news.vtt")
    page.get_by_text("Options", exact=True).click()
    page.get_by_role("checkbox", name="face").uncheck()  # quicker: the drawing, not the face, is the point
    page.get_by_role("checkbox", name="Draw on the video").check()
    page.get_by_role("button", name="sad goodbye").click()  # the last results go at once, as Analyse clears them
    page.wait_for_function("!document.querySelector('#emotion-plot .js-plotly-plot') && "
                           "!document.querySelector('#notes')?.innerText.includes('happy_news')", timeout=UI_TIMEOUT_MS)
    page.wait_for_function("document.querySelector('#video-out video')?.src.endsWith('sad_goodbye.annotated.mp4')",
                           timeout=ANALYSIS_TIMEOUT_MS)
    assert not [t.get_attribute("src") for t in page.locator("#video-out track").all() if t.get_attribute("src")]


def wait_for_progress(page) -> None:
    """Until the analysis shows its progress on the result's video (a stage, then its steps done)."""
    page.locator("#video-out").get_by_text(re.compile(r"(speech recognition|audio features) \(")).first.wait_for(
        timeout=ANALYSIS_TIMEOUT_MS)


# From now on, each new state of the result's video and the notes, as "video src | notes" (a MutationObserver): what a
# user saw, however briefly.
_WATCH_RESULTS_JS = """() => { window.shown = [];
  const look = () => { const now = (document.querySelector('#video-out video')?.src || '') + ' | ' +
                                   (document.querySelector('#notes')?.innerText || '');
                       if (window.shown.at(-1) !== now) window.shown.push(now); };
  new MutationObserver(look).observe(document.body, {subtree: true, childList: true, characterData: true,
                                                     attributes: true}); }"""


def test_a_file_analysed_during_another_s_analysis_shows_only_its_own_results(server, browser_context):
    """Another file uploaded and Analyse pressed while the first file's analysis ran: the first's results came in
    after the click had cleared the page, and stayed under the second's progress until its results came. The click
    stops the running analysis at its next step, without a word, and only the second file's results show."""
    page = open_page(browser_context, server, set())
    upload(page, ROOT / "examples" / "happy_news.mp4")
    page.click("#analyse-btn")
    wait_for_progress(page)
    page.locator("#video-in [aria-label='Clear']").click()
    upload(page, ROOT / "examples" / "sad_goodbye.mp4")
    before = len(server.log_tail(10**9))
    page.evaluate(_WATCH_RESULTS_JS)
    page.click("#analyse-btn")
    page.wait_for_function("document.querySelector('#video-out video')?.src.endsWith('sad_goodbye.mp4')",
                           timeout=ANALYSIS_TIMEOUT_MS)
    wait_for_results(page)
    shown = page.evaluate("window.shown")
    assert not [s for s in shown if "happy_news" in s or "Stopped" in s], shown
    assert "Stopped" not in page.locator("body").inner_text()  # no toast either
    log = server.log_tail(10**9)[before:]
    assert re.search(r"stopped \S*happy_news\.mp4 at .*, by a new analysis on its page", log), log


def test_a_double_click_runs_one_analysis(server, browser_context):
    """A double click on Analyse ran the file's analysis twice, one after the other (the results came, then the
    progress again over them): now one analysis runs and shows; the other does nothing (both are the second click's)
    or stops at its next step (the first click's, begun before the second click)."""
    page = open_page(browser_context, server, set())
    upload(page, ROOT / "examples" / "happy_news.mp4")
    before = len(server.log_tail(10**9))
    page.dblclick("#analyse-btn")
    other = r"(skipped|stopped) \S*happy_news\.mp4|analysed \S*happy_news\.mp4(.|\n)*analysed \S*happy_news"
    server.wait_for_log(other, before, ANALYSIS_TIMEOUT_MS / 1000)  # the other analysis, the first or the second
    log = server.wait_for_log(r"analysed \S*happy_news\.mp4", before, ANALYSIS_TIMEOUT_MS / 1000)
    assert len(re.findall(r"analysed \S*happy_news", log)) == 1, log
    assert re.search(r"skipped \S*happy_news\.mp4: its click was analysed already|stopped \S*happy_news\.mp4 at .*, "
                     "by a new analysis on its page", log), log
    wait_for_results(page)


def test_stop_ends_the_analysis(server, browser_context):
    """Stop ends the page's analysis at its next step, with a note and no results; the next click runs, and the
    "Stopped" toast goes as it starts (it stayed its 10 s, over the next analysis's results)."""
    page = open_page(browser_context, server, set())
    page.get_by_role("button", name="mission day").click()
    wait_for_progress(page)
    page.click("#stop-btn")
    page.wait_for_function("document.querySelector('#notes')?.innerText.includes('Stopped at')",
                           timeout=UI_TIMEOUT_MS)
    notes = page.locator("#notes").inner_text()
    assert "the analysis of mission_day.mp4 was stopped and nothing was kept" in notes, notes
    status = page.get_by_role("status").filter(has_text="Stopped at")  # the toast, which a screen reader reads
    assert "the analysis of mission_day.mp4 was stopped" in status.inner_text(timeout=UI_TIMEOUT_MS)
    assert page.locator("#emotion-plot .js-plotly-plot").count() == 0

    page.get_by_role("button", name="broken promise").click()  # a new click is not stopped by the last Stop
    status.wait_for(state="detached", timeout=2000)  # at once: shown a second ago, it would have stayed 10 s
    wait_for_results(page)
    assert "Stopped" not in page.locator("#notes").inner_text()


def test_a_closed_page_stops_its_analysis(server, browser_context):
    """A page closed during its analysis: the server stops it at its next step, where it went on to its end for
    nobody while the next in the queue waited."""
    page = open_page(browser_context, server, set())
    page.get_by_role("button", name="mission day").click()
    wait_for_progress(page)
    before = len(server.log_tail(10**9))
    page.close()
    log = server.wait_for_log(r"(stopped|analysed) \S*mission_day", before, UI_TIMEOUT_MS / 1000)
    assert re.search(r"stopped \S*mission_day\.mp4 at .*, its page closed", log), log


def test_on_a_phone_the_progress_comes_into_view(server, browser_context):
    """On a narrow screen the result's video, which shows the progress, is below the button and the examples:
    a tap showed nothing happening."""
    page = open_page(browser_context, server, set())
    page.set_viewport_size({"width": 390, "height": 844})
    upload(page, ROOT / "examples" / "happy_news.mp4")
    page.click("#analyse-btn")
    wait_for_progress(page)
    box = page.locator("#video-out").bounding_box()  # in the viewport's coordinates
    assert box["y"] < 844 and box["y"] + box["height"] > 0, box
    wait_for_results(page)


# Each figure's box and its texts (the title, the axes' tick labels and titles) and legend, as page boxes:
# {"figure": [left, top, right, bottom], "texts": [[kind, text, box], ...]}.
_FIGURE_TEXTS_JS = """() => [...document.querySelectorAll('.js-plotly-plot')].map(gd => {
  const box = e => { const b = e.getBoundingClientRect(); return [b.left, b.top, b.right, b.bottom]; };
  const texts = [];
  for (const [kind, selector] of [['title', '.gtitle'], ['x tick', '.xtick text'], ['y tick', '.ytick text'],
                                  ['y title', '.ytitle'], ['legend', '.legend .bg']])
    gd.querySelectorAll(selector).forEach(e => texts.push([kind, e.textContent, box(e)]));
  return {figure: box(gd), texts};
})"""


def crowded(figure: dict) -> list[str]:
    """What of a figure's texts overlaps another, of its kind or not (two tick labels), or leaves the figure (to a
    pixel)."""
    inside = lambda b: all(abs(min(0, (b[i] - figure["figure"][i]) * sign)) <= 1  # noqa: E731
                           for i, sign in enumerate((1, 1, -1, -1)))
    said = [f"{kind} {text!r} leaves the figure" for kind, text, b in figure["texts"] if not inside(b)]
    for (k1, t1, b1), (k2, t2, b2) in itertools.combinations(figure["texts"], 2):
        if min(b1[2], b2[2]) - max(b1[0], b2[0]) > 1 and min(b1[3], b2[3]) - max(b1[1], b2[1]) > 1:
            said.append(f"{k1} {t1!r} {b1} over {k2} {t2!r} {b2}")
    return said


def test_on_a_phone_no_text_of_a_plot_covers_another(server, browser_context):
    """390 px wide: the legend below each timeline covered the lower half of its time labels ("0:00", "0:05"), "0:00"
    touched the lowest probability ("0") at the corner, the title "How much each sense moved the answer (left out)"
    ran out of its figure, and the emotion share's names, slanted to fit below their bars, ran into each other. Each
    figure's title, axis labels (each apart from the others), axis title and legend lie apart, inside it."""
    page = open_page(browser_context, server, set())
    page.set_viewport_size({"width": 390, "height": 844})
    page.get_by_role("button", name="happy news").click()
    wait_for_results(page)
    time.sleep(SETTLE_S)
    figures = page.evaluate(_FIGURE_TEXTS_JS)
    assert len(figures) == 5 and all(any(t[0] == "legend" for t in f["texts"]) for f in figures), figures
    assert [crowded(f) for f in figures] == [[]] * 5


def test_webcam_recording_is_analysed(server, browser_context):
    hosts: set[str] = set()
    page = open_page(browser_context, server, hosts)
    page.click("#video-in [aria-label='Capture from camera']")
    page.get_by_text("Click to Access Webcam").click()
    page.click("#video-in [aria-label='start recording']")
    time.sleep(RECORD_S)
    page.locator("#video-in button", has_text="Stop").first.click()
    page.wait_for_selector("#video-in video[src]", timeout=UI_TIMEOUT_MS)
    page.get_by_text("Options", exact=True).click()
    page.get_by_role("checkbox", name="face").uncheck()  # the Senses option: words and voice only
    page.click("#analyse-btn")
    wait_for_results(page)
    notes = page.locator("#notes").inner_text()
    assert re.search(r"segments? over [1-9]", notes), notes  # a recording of some length was analysed
    assert "no audio track" not in notes  # the microphone was recorded with the picture
    assert "Left out, as asked: the face." in notes and "face was found" not in notes.lower(), notes
    assert hosts == {f"127.0.0.1:{server.port}"}, hosts


def test_a_webcam_that_can_not_be_opened_is_said(server, playwright, tmp_path):
    """On a machine without a camera "Click to Access Webcam" did nothing: Gradio threw the error in the page. This
    Chromium has none (the synthetic one left out); the video's box says so until it is clicked again."""
    context = launch(playwright, tmp_path, [f for f in CHROMIUM_FLAGS if f != "--use-fake-device-for-media-stream"])
    try:
        page = open_page(context, server, set())
        page.click("#video-in [aria-label='Capture from camera']")
        page.get_by_text("Click to Access Webcam").click()
        note = page.locator("#video-in #no-camera[role=alert]")
        note.wait_for(timeout=UI_TIMEOUT_MS)
        assert note.inner_text() == ("No camera was found: connect one and let this page use it, then reload the "
                                     "page; or upload a video file.")
        page.click("#video-in [aria-label='Upload file']")
        note.wait_for(state="detached", timeout=UI_TIMEOUT_MS)
    finally:
        context.close()


def test_a_sound_file_then_a_microphone_recording_is_analysed(server, browser_context, tmp_path):
    """Under "Or a sound alone": an uploaded sound's words are read and no video is shown; then a recording
    from the microphone (Chromium's synthetic one) is analysed in its place; then an example's video takes
    the sound's place."""
    hosts: set[str] = set()
    page = open_page(browser_context, server, hosts)
    page.get_by_text("Or a sound alone").click()
    page.locator("#sound-in input[type=file]").set_input_files(str(speak(SENTENCES[1], tmp_path / "memo.wav")))
    page.wait_for_selector("#sound-in audio", state="attached", timeout=UI_TIMEOUT_MS)
    page.click("#analyse-btn")
    wait_for_results(page)
    assert "roses" in page.locator("#segments-table").inner_text().lower()
    assert page.locator("#video-out video").count() == 0  # a sound: no video to show
    assert "The file has no video stream" in page.locator("#notes").inner_text()

    page.locator("#sound-in [aria-label='Clear']").click()
    page.click("#sound-in [aria-label='Record audio']")
    page.locator("#sound-in button", has_text="Record").first.click()
    time.sleep(RECORD_S)
    page.locator("#sound-in button", has_text="Stop").first.click()
    page.wait_for_selector("#sound-in audio", state="attached", timeout=UI_TIMEOUT_MS)
    page.click("#analyse-btn")
    page.wait_for_selector("#emotion-plot .js-plotly-plot", state="detached", timeout=UI_TIMEOUT_MS)  # cleared
    wait_for_results(page)
    notes = page.locator("#notes").inner_text()
    assert re.search(r"segments? over [1-9]", notes), notes  # a recording of some length was analysed
    assert "roses" not in page.locator("#segments-table").inner_text().lower()  # not the file before it
    assert "no audio track" not in notes and "The file has no video stream" in notes, notes

    page.get_by_role("button", name="happy news").click()  # an example takes the sound's place: one file at a time
    page.wait_for_selector("#video-out video", timeout=ANALYSIS_TIMEOUT_MS)
    assert page.locator("[data-testid=toast-text]").count() == 0  # the sound was cleared: not refused as a second file
    assert hosts == {f"127.0.0.1:{server.port}"}, hosts


def test_the_emotion_plot_of_an_hour_shows_its_emotions_in_their_shares(browser_context, tmp_path):
    """1,200 segments in an hour, mostly disgust, a pause where nothing was read after each utterance: the stacked
    emotion plot, a pixel or two a segment, is coloured mostly disgust-brown. Each label's edge lines, the last
    label's drawn over all, painted it surprise-blue."""
    import io

    import numpy as np
    from PIL import Image
    from test_results import make_analysis

    from mmsent import export
    from mmsent.plots import EMOTION_COLORS, hex_rgb

    analysis, rng = make_analysis(1200, duration=3600.0), np.random.default_rng(1)
    for seg in analysis.segments[1::2]:
        seg.kind, seg.text, seg.modalities, seg.contributions, seg.per_modality, seg.face_box = "gap", "", [], {}, {}, None
    for seg in analysis.segments:
        probs = 0.4 * rng.dirichlet(np.ones(len(EMOTIONS))) + 0.6 * (np.array(EMOTIONS) == "disgust")
        seg.emotion = dict(zip(EMOTIONS, map(float, probs)))
    mean = {k: np.mean([s.emotion[k] for s in analysis.segments if s.read]) for k in EMOTIONS}
    page = browser_context.new_page()
    page.goto(export.write_html(analysis, tmp_path / "talk.html").as_uri())
    area = page.locator(".js-plotly-plot").first.locator(".nsewdrag").first  # the first figure's plot area
    area.wait_for(state="attached", timeout=UI_TIMEOUT_MS)
    pixels = np.asarray(Image.open(io.BytesIO(page.screenshot(clip=area.bounding_box()))).convert("RGB"), float)
    colours = np.array([hex_rgb(EMOTION_COLORS[k]) for k in EMOTIONS], float)
    distance = np.linalg.norm(pixels.reshape(-1, 1, 3) - colours, axis=2)
    nearest = distance.argmin(1)[distance.min(1) < 40]  # pixels of one label's colour, not of a blend
    share = {k: float(np.mean(nearest == i)) for i, k in enumerate(EMOTIONS)}
    assert max(share, key=share.get) == "disgust" and share["disgust"] > 0.5, (share, mean)
    assert share["surprise"] < mean["surprise"] + 0.1, (share, mean)
    page.close()


def test_the_report_of_an_hour_ticks_its_time_in_hours(browser_context, tmp_path):
    """An hour's talk in the HTML report: its time axes read 0:10:00 ... 1:00:00 (they read "3000 s")."""
    from test_results import make_analysis

    from mmsent import export

    report = export.write_html(make_analysis(400, duration=3900.0), tmp_path / "talk.html")
    page = browser_context.new_page()
    page.goto(report.as_uri())
    page.wait_for_function("document.querySelectorAll('.js-plotly-plot .xtick').length > 0", timeout=UI_TIMEOUT_MS)
    assert all(page.evaluate(_POINTS_ON_THE_AXIS_JS))  # the report's plotly.js, as the app's
    ticks = page.locator(".js-plotly-plot").first.locator(".xtick text")  # the first figure's
    assert ticks.all_text_contents() == ["0:00:00", "0:10:00", "0:20:00", "0:30:00", "0:40:00", "0:50:00", "1:00:00"]
    page.close()


def test_the_report_of_a_day_and_more_reads_its_hours_past_24(browser_context, tmp_path):
    """A 25 h recording in the HTML report: its last tick read 0:00:00 for 24 h, and the hover's header 0:39:25 over
    a segment from 24:39:25.60 (a plotly date's hours start again after a day). Every time it shows is past 24 h
    where the time is."""
    from test_results import make_analysis

    from mmsent import export

    report = export.write_html(make_analysis(40, duration=25 * 3600.0), tmp_path / "day.html")
    page = browser_context.new_page()
    page.goto(report.as_uri())
    page.wait_for_function("document.querySelectorAll('.js-plotly-plot .xtick').length > 0", timeout=UI_TIMEOUT_MS)
    figure = page.locator(".js-plotly-plot").first
    assert figure.locator(".xtick text").all_text_contents() == ["0:00:00", "6:00:00", "12:00:00", "18:00:00",
                                                                "24:00:00"]
    area = figure.locator(".nsewdrag").first.bounding_box()
    page.mouse.move(area["x"] + area["width"] * 0.99, area["y"] + area["height"] / 2)  # the last segment, past 24 h
    page.wait_for_selector(".hoverlayer .legend", timeout=UI_TIMEOUT_MS)
    hover = figure.locator(".hoverlayer").text_content()
    times = re.findall(r"(\d+):\d\d:\d\d", hover)
    assert times and all(int(h) >= 24 for h in times), hover
    page.close()


_WORDS_COLUMN_JS = """() => {
  const box = document.querySelector('.scrolls'), cells = [...document.querySelectorAll('td[dir]')];
  return {table: box.scrollWidth, box: box.clientWidth, words: Math.min(...cells.map(c => c.getBoundingClientRect().width)),
          em: parseFloat(getComputedStyle(cells[0]).fontSize)};
}"""


def test_the_report_s_words_column_holds_a_long_word_and_reads_on_a_phone(browser_context, tmp_path):
    """A word of 280 letters (a URL, a name run together) made the words' column 1,961 px wide at a desktop's width:
    the table (2,510 px in its 1,100) put the emotion, sentiment and senses out of sight, and right-aligned Arabic
    far to the right. On a phone the words' column was as narrow as its longest word, one word a line (a transcript
    of thirty words thirty lines high). The long word breaks where it must and the table fits its box; on a phone
    the words keep a column of 12 letters' width (the table scrolls sideways, as it did)."""
    from test_results import WORLD_TEXTS, make_analysis

    from mmsent import export

    analysis = make_analysis(4)
    analysis.segments[0].text = "Pneumonoultramicroscopicsilicovolcanoconiosis" * 4 + "x" * 100
    analysis.segments[3].text = WORLD_TEXTS["ar"]
    report = export.write_html(analysis, tmp_path / "words.html")
    page = browser_context.new_page()
    page.set_viewport_size({"width": 1280, "height": 900})
    page.goto(report.as_uri())
    desktop = page.evaluate(_WORDS_COLUMN_JS)
    assert desktop["table"] <= desktop["box"], desktop
    page.set_viewport_size({"width": 390, "height": 844})
    phone = page.evaluate(_WORDS_COLUMN_JS)
    assert phone["words"] >= 12 * phone["em"], phone
    page.close()


def test_on_a_phone_the_report_s_long_names_stay_within_the_page(browser_context, tmp_path):
    """390 px wide: a subtitle file's long name in the facts ("transcript: subtitles:my_very_long_...srt") and a path in
    a note ran off the screen, and the whole page (679 px) scrolled sideways. They break where they must."""
    from test_results import make_analysis

    from mmsent import export

    analysis = make_analysis(3)
    analysis.transcript_source = "subtitles:my_very_long_subtitle_file_name_from_the_broadcaster_2024_episode_12.en.srt"
    analysis.notes.append("Could not read /data/archive/broadcaster/2024/episode_12/my_very_long_subtitle_file.srt")
    report = export.write_html(analysis, tmp_path / "names.html")
    page = browser_context.new_page()
    page.set_viewport_size({"width": 390, "height": 844})
    page.goto(report.as_uri())
    assert page.evaluate("[document.documentElement.scrollWidth, document.documentElement.clientWidth]") == [390, 390]
    page.close()


def test_the_report_offers_no_button_that_sends_its_figures_online(browser_context, tmp_path):
    """plotly.js 3 puts "Share chart..." in each figure's toolbar: one click and "Share" opened cloud.plotly.com to take
    the figure, whose hover carries the words said, from a report meant to stay on the machine (and a keyboard's Tab
    met it in every figure). The toolbar keeps its own tools (the picture's download, zoom)."""
    from test_results import make_analysis

    from mmsent import export

    report = export.write_html(make_analysis(3), tmp_path / "private.html")
    page = browser_context.new_page()
    page.goto(report.as_uri())
    page.wait_for_selector(".modebar-btn", state="attached", timeout=UI_TIMEOUT_MS)
    titles = page.evaluate("[...document.querySelectorAll('.modebar-btn')].map(b => b.getAttribute('data-title'))")
    assert titles.count("Download plot as a PNG") == 5 and "Zoom in" in titles, titles
    assert not [t for t in titles if "share" in t.lower() or "cloud" in t.lower()], titles
    page.close()


def test_the_report_draws_its_figures_without_a_warning(browser_context, tmp_path):
    """plotly.js warned 'Invalid color specifier: Array(7). Defaulting to "#000"' in the console as the report loaded:
    the template's hatching over the emotion share's mean bars takes its lines' colour from a colour of the bar, and
    the bars' colours are a list (6 times). The report loads without a warning or an error, the mean bars still hatched
    (a screenshot of the figure is the same to the pixel)."""
    from test_results import make_analysis

    from mmsent import export

    report = export.write_html(make_analysis(5), tmp_path / "quiet.html")
    page = browser_context.new_page()
    said = []
    page.on("console", lambda m: said.append(f"{m.type}: {m.text}"))
    page.goto(report.as_uri())
    page.wait_for_function("document.querySelectorAll('.js-plotly-plot .main-svg').length >= 5", timeout=UI_TIMEOUT_MS)
    share = page.locator(".js-plotly-plot").nth(3)  # the emotion share: its mean bars and its legend hatched
    assert share.locator(".legendtoggle").count() == 2
    assert share.locator("pattern").count() >= 1 + len(EMOTIONS), share.inner_html()[:2000]
    assert not [s for s in said if s.split(":")[0] in ("error", "warning", "trace")], said
    page.close()


# The header row of the report's table, after the page is scrolled past the table's start, then the table's box down
# and sideways: where its cells are, the element drawn at the middle of each (none of the rows over it), and where the
# first row's cells are (the header's columns over the table's).
_STUCK_HEADER_JS = """() => {
  const box = document.querySelector('.scrolls'), heads = [...document.querySelectorAll('thead th')];
  const seen = () => heads.map(th => { const r = th.getBoundingClientRect(), shown = box.getBoundingClientRect();
    const left = Math.max(r.left, shown.left), right = Math.min(r.right, shown.right);  // the part the box shows
    return {top: r.top, left: r.left,
            drawn: right <= left || th.contains(document.elementFromPoint((left + right) / 2, r.top + r.height / 2))}; });
  scrollTo(0, box.getBoundingClientRect().top + scrollY + 300);
  const page = seen();
  box.scrollTop = 2000; box.scrollLeft = 60;
  const cells = [...document.querySelector('tbody tr').children].map(c => c.getBoundingClientRect().left);
  return {page, box: seen(), cells, height: innerHeight, scrolled: [box.scrollTop, box.scrollLeft]};
}"""


@pytest.mark.parametrize("viewport", [{"width": 1280, "height": 900}, {"width": 640, "height": 450},
                                      {"width": 390, "height": 844}], ids=["desktop", "zoom-200", "phone"])
def test_the_report_s_table_keeps_its_header_row_in_view(browser_context, tmp_path, viewport):
    """Three hours' table (1,000 rows) lost its header row as soon as it was scrolled: which column was the emotion, which
    the senses? Scrolled past the table's start in the page, then down and sideways in the table's own box (at a
    phone's width and at 200% zoom the table scrolls sideways alone), the header row stays at the top of the window,
    drawn over the rows, each header over its column."""
    from test_results import make_analysis

    from mmsent import export

    report = export.write_html(make_analysis(1000, duration=3 * 3600.0), tmp_path / "long.html")
    page = browser_context.new_page()
    page.set_viewport_size(viewport)
    page.goto(report.as_uri())
    seen = page.evaluate(_STUCK_HEADER_JS)
    for where in ("page", "box"):
        assert all(0 <= th["top"] < seen["height"] / 4 and th["drawn"] for th in seen[where]), (where, seen)
        assert seen["scrolled"][0] > 0, seen["scrolled"]  # the box scrolled down
    assert [th["left"] for th in seen["box"]] == pytest.approx(seen["cells"], abs=1), seen
    page.close()
