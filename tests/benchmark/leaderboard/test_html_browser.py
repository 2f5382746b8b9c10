"""The generated page in a real headless Chromium: it sorts by a column and fetches nothing.

Driven over the DevTools protocol (``devtools_pipe.py``: ``--remote-debugging-pipe``, no extra
package): the test watches every request the page makes, clicks headers, and reads the row
order from the DOM. Skipped only when no Chromium is installed (``.ci/run`` installs it).
"""

from __future__ import annotations

import pytest
from devtools_pipe import Browser, find_chromium
from leaderboard_helpers import reported_folder, variant

from asabench.benchmark.leaderboard.build import build_leaderboards
from asabench.benchmark.leaderboard.store import add_entry

CHROMIUM = find_chromium()
pytestmark = pytest.mark.skipif(CHROMIUM is None, reason="no chromium on PATH (apt-get install chromium; "
                                "CI's .ci/run installs it)")

ORDER = "Array.from(document.querySelectorAll('#board tbody tr')).map(r => r.getAttribute('data-system'))"


@pytest.fixture(scope="module")
def page(demo_entry, tmp_path_factory):
    tmp = tmp_path_factory.mktemp("page")
    store = tmp / "results"
    add_entry(store, variant(demo_entry, "Worse", shift=+0.05))
    add_entry(store, variant(demo_entry, "Better", shift=-0.05))
    add_entry(store, demo_entry)
    # a reported row with SELD only: its USS cells are empty and must sort last both ways
    reported = reported_folder(tmp, ["P,T,r,Paper system,demo-multitask,learned,0.9,0.1,90,0.1,0.95,"
                                      "seld_mode=deepasa average=macro,\n"])
    build_leaderboards("demo-multitask", store=store, out=tmp / "boards", reported=reported)
    return tmp / "boards" / "demo-multitask.html"


@pytest.fixture
def browser(tmp_path):
    b = Browser(CHROMIUM, tmp_path / "profile")
    yield b
    b.close()


def test_page_sorts_by_clicked_columns_offline(page, browser):
    browser.open(page.as_uri())
    assert browser.evaluate("document.body.getAttribute('data-ready')") == "1"
    # the board order: SELD ascending (lower is better); the paper row's 0.95 is the worst (the mixture scores 0.84)
    assert browser.evaluate(ORDER) == ["Better", "mixture x1", "Worse", "Paper system"]
    # click SI-SNRi ch0 (higher is better): first click best first, the empty cell last
    click = "document.querySelector('#board th[data-key=\"uss.si_snr_i_ref0\"]').click()"
    browser.evaluate(click)
    assert browser.evaluate(ORDER) == ["Worse", "mixture x1", "Better", "Paper system"]
    assert browser.evaluate("location.hash") == "#sort=uss.si_snr_i_ref0&dir=desc"
    browser.evaluate(click)
    assert browser.evaluate(ORDER) == ["Better", "mixture x1", "Worse", "Paper system"]
    # a text column: by system name
    browser.evaluate("document.querySelector('#board th[data-key=\"system\"]').click()")
    assert browser.evaluate(ORDER) == ["Better", "mixture x1", "Paper system", "Worse"]
    urls = browser.requested_urls()
    assert urls and all(u.startswith(("file:", "data:")) for u in urls), urls


def test_fragment_drives_the_sort(page, browser):
    browser.open(page.as_uri() + "#sort=seld.seld&dir=desc")
    assert browser.evaluate(ORDER) == ["Paper system", "Worse", "mixture x1", "Better"]
    assert browser.evaluate("document.querySelector('#board th[data-key=\"seld.seld\"]').getAttribute('aria-sort')") \
        == "descending"
    assert browser.evaluate("document.querySelectorAll('figure svg').length") >= 1
    assert all(u.startswith(("file:", "data:")) for u in browser.requested_urls())
