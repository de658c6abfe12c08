"""The HTML report of a long recording: its size, and how long Chromium takes to open it and draw its figures.

    .venv/bin/python -m bench.report                 # 3,000 segments over 3 hours, words, voice and face read
    .venv/bin/python -m bench.report --segments 1000 --hours 1

The analysis is made by hand (random probabilities, as tests/test_results.py makes them; every tenth segment a gap
without words). Prints the report's size, the figures' share of it (plotly.js aside) and the median of --runs
loads: from opening the file in headless Chromium (/usr/bin/chromium, Playwright) to the five figures drawn.
"""

from __future__ import annotations

import argparse
import statistics
import sys
import tempfile
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
sys.path[:0] = [str(ROOT), str(ROOT / "tests")]

from train.args import number  # noqa: E402

DRAWN_JS = """() => { const figs = [...document.querySelectorAll('.js-plotly-plot')];
  return figs.length === 5 && figs.every(gd => gd._fullLayout && gd.querySelector('.main-svg')); }"""


def long_analysis(n: int, seconds: float):
    import numpy as np
    from test_results import make_analysis, random_segment

    from mmsent.labels import MODALITIES

    a, rng = make_analysis(n, duration=seconds), np.random.default_rng(1)
    a.segments = [random_segment(rng, s.start, s.end, "" if i % 10 == 1 else s.text or "said plainly",
                                 "gap" if i % 10 == 1 else "speech", ("audio", "video") if i % 10 == 1 else MODALITIES)
                  for i, s in enumerate(a.segments)]
    return a


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--segments", type=number(int, 1), default=3000)
    parser.add_argument("--hours", type=number(float, 0, above=True), default=3.0)
    parser.add_argument("--runs", type=number(int, 1), default=3)
    args = parser.parse_args()
    from playwright.sync_api import sync_playwright

    from plotly.offline import get_plotlyjs

    from mmsent import export

    with tempfile.TemporaryDirectory() as tmp:
        started = time.perf_counter()
        report = export.write_html(long_analysis(args.segments, args.hours * 3600), Path(tmp) / "long.html")
        written = time.perf_counter() - started
        text = report.read_text(encoding="utf-8")
        plotly_js = len(get_plotlyjs())  # the inlined library, the same in every report
        print(f"{args.segments} segments over {args.hours:g} h: report {len(text.encode()) / 1e6:.2f} MB "
              f"(without plotly.js {(len(text) - plotly_js) / 1e6:.2f} MB), written in {written:.1f} s")
        with sync_playwright() as p:
            browser = p.chromium.launch(executable_path="/usr/bin/chromium", args=["--no-sandbox", "--disable-gpu"])
            times = []
            for _ in range(args.runs):
                page = browser.new_page(viewport={"width": 1280, "height": 900})
                started = time.perf_counter()
                page.goto(report.as_uri(), wait_until="commit")
                page.wait_for_function(DRAWN_JS, timeout=300_000, polling=50)
                times.append(time.perf_counter() - started)
                page.close()
            browser.close()
        print(f"opened and drawn in Chromium: median {statistics.median(times):.2f} s of "
              f"{', '.join(f'{t:.2f}' for t in times)}")


if __name__ == "__main__":
    main()
