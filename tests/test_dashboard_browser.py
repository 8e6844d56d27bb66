"""The dashboard in a real browser: `workbench dashboard` as a subprocess on a free localhost port, driven by headless
Chromium (Debian's `chromium` package) through Playwright. Saves a screenshot of each page it checks."""

from __future__ import annotations

import os
import subprocess
import sys
import time
import urllib.request
from contextlib import contextmanager
from pathlib import Path

import pytest
from dashboard_fixture import build
from testing_utils import free_port, listening, serve_viewer, stop

CHROMIUM = "/usr/bin/chromium"
# WORKBENCH_SCREENSHOTS=docs also writes the README's screenshot of a real run there (docs/development.md)
SCREENSHOTS = os.environ.get("WORKBENCH_SCREENSHOTS")
ERROR_TEXT = ("Traceback", "Error:", "Exception", "StreamlitAPIException", "KeyError", "BinderException")


def serve(root: Path):
    """`workbench dashboard` on `root` at a free port, until the generator is closed; yields (url, port)."""
    port = free_port()
    log_path = root.parent / f"dashboard-{port}.log"
    log = open(log_path, "w")
    # started beside the root, so the page shows the store as "runs", as a user's would
    proc = subprocess.Popen([sys.executable, "-m", "workbench", "dashboard", "--root", root.name, "--port", str(port)],
                            stdout=log, stderr=subprocess.STDOUT, env=dict(os.environ, PYTHONUNBUFFERED="1"),
                            cwd=root.parent)
    url = f"http://127.0.0.1:{port}"
    deadline = time.time() + 60
    while True:
        try:
            if urllib.request.urlopen(f"{url}/_stcore/health", timeout=2).read() == b"ok":
                break
        except OSError:
            pass
        assert proc.poll() is None, log_path.read_text()
        assert time.time() < deadline, "dashboard did not start in 60 s: " + log_path.read_text()
        time.sleep(0.3)
    try:
        yield url, port
    finally:
        proc.terminate()
        proc.wait(timeout=20)
        log.close()


def launch(pw):
    return pw.chromium.launch(
        executable_path=CHROMIUM,
        args=["--headless", "--no-sandbox", "--disable-gpu", "--disable-background-networking",
              "--disable-component-update", "--disable-sync"],
    )


@pytest.fixture(scope="module")
def dashboard(tmp_path_factory):
    root = tmp_path_factory.mktemp("browser-store") / "runs"
    root.mkdir()
    build(root)
    yield from serve(root)


def test_dashboard_listens_on_localhost_only(dashboard):
    _, port = dashboard
    assert listening(port) == ["127.0.0.1"]  # one socket, on loopback only (not 0.0.0.0, not IPv6)


def test_pages_render_in_chromium(dashboard, tmp_path):
    from playwright.sync_api import sync_playwright

    url, _ = dashboard
    with sync_playwright() as pw:
        browser = launch(pw)
        page = browser.new_page(viewport={"width": 1500, "height": 1300})
        page.goto(url)
        # Runs page: the finished run's and the running run's headline numbers
        # Each element is awaited (Streamlit draws the page in pieces), by its widget: the runs table is a canvas
        # grid whose hidden cells hold the same texts.
        for run in ("run-done", "run-live"):
            page.get_by_role("heading", name=run).wait_for(timeout=60_000)
        for value in ("0.7500", "1 / 3", "finished", "incomplete"):
            page.locator('[data-testid="stMetricValue"]', has_text=value).first.wait_for(timeout=30_000)
        body = page.inner_text("body")
        assert not [e for e in ERROR_TEXT if e in body], body[:2000]
        page.screenshot(path=str(tmp_path / "runs.png"), full_page=True)

        # Curves page: the metrics table and the plotly charts
        page.get_by_text("Curves", exact=True).click()
        page.get_by_text("Over-optimization: proxy vs gold").first.wait_for(timeout=30_000)
        page.get_by_text("is not in these runs").first.wait_for(timeout=30_000)
        page.locator(".js-plotly-plot").nth(2).wait_for(timeout=30_000)  # plotly's bundle loads lazily
        body = page.inner_text("body")
        assert not [e for e in ERROR_TEXT if e in body], body[:2000]
        assert "no data yet: metric lc_win_rate is not in these runs" in body
        assert page.locator(".js-plotly-plot").count() >= 3
        page.screenshot(path=str(tmp_path / "curves.png"), full_page=True)

        # Pairs page, opened by a link that names page and run: the count and a pair's two responses
        page.goto(f"{url}/?page=Pairs&run=run-done")
        page.get_by_text("pairs match").first.wait_for(timeout=30_000)
        # the top pair by margin (dpo1-3), shown verbatim below the table
        page.locator('[data-testid="stText"]', has_text="Coffee is bitter and dark.").first.wait_for(timeout=30_000)
        body = page.inner_text("body")
        assert "8 pairs match" in body
        assert not [e for e in ERROR_TEXT if e in body], body[:2000]
        page.screenshot(path=str(tmp_path / "pairs.png"), full_page=True)
        browser.close()
    for name in ("runs", "curves", "pairs"):
        assert (tmp_path / f"{name}.png").stat().st_size > 10_000
    print(f"screenshots: {tmp_path}")


@contextmanager
def opened(root: Path, query: str, height: int):
    """Chromium on `workbench dashboard` served on `root`, at `?query`; yields the page."""
    from playwright.sync_api import sync_playwright

    server = serve(root)
    url, _ = next(server)
    try:
        with sync_playwright() as pw:
            browser = launch(pw)
            page = browser.new_page(viewport={"width": 1400, "height": height})
            page.goto(f"{url}/?{query}")
            yield page
            browser.close()
    finally:
        server.close()


def settled_body(page, plots: int) -> str:
    """The page's text once its first `plots` plotly charts are drawn; fails on any error text."""
    page.locator(".js-plotly-plot").nth(plots - 1).wait_for(timeout=30_000)
    page.wait_for_timeout(1500)  # plotly draws after the element appears
    body = page.inner_text("body")
    assert not [e for e in ERROR_TEXT if e in body], body[:2000]
    return body


def screenshot(page, name: str, tmp_path: Path) -> None:
    out = Path(SCREENSHOTS) if SCREENSHOTS else tmp_path
    page.screenshot(path=str(out / name), full_page=False)
    assert (out / name).stat().st_size > 10_000


def test_a_quick_run_in_chromium(quick_cli_run, tmp_path):
    """The session's quick run (conftest.py) on the Reward distributions page: the page names the run and draws its
    histograms. The screenshot is the README's (docs/dashboard.png) when WORKBENCH_SCREENSHOTS is set."""
    root, run_id = quick_cli_run  # the session's root is <tmp>/runs<n>: serve a link named runs beside it
    link = tmp_path / "runs"
    link.symlink_to(root, target_is_directory=True)
    with opened(link, f"page=Reward%20distributions&run={run_id}", 1000) as page:
        page.get_by_role("heading", name="Reward distributions").wait_for(timeout=60_000)
        page.get_by_text("Chosen vs rejected (selected pairs)").first.wait_for(timeout=30_000)
        assert run_id in settled_body(page, 2)
        screenshot(page, "dashboard.png", tmp_path)


def test_experiments_page_in_chromium(quick_experiment, tmp_path):
    """?page=Experiments&experiment=ID shows the session's two-seed experiment: every cell of its markdown table,
    a chart per metric and links to each arm's runs."""
    root, experiment_id, _ = quick_experiment
    md = (root / "experiments" / f"{experiment_id}.md").read_text()
    rows = [line.strip("| ").split(" | ") for line in md.splitlines() if line.startswith("| ") and "---" not in line]
    with opened(Path(root), f"page=Experiments&experiment={experiment_id}", 1100) as page:
        page.get_by_role("heading", name="Experiments").wait_for(timeout=60_000)
        page.get_by_text("Per-seed values behind each cell").first.wait_for(timeout=30_000)
        body = settled_body(page, 4)
        for row in rows[1:]:  # the header row's names are the table's columns; every arm's cells are shown
            for cell in row:
                assert cell in body, (cell, row)
        assert "page=Curves" in page.locator("a", has_text="online").first.get_attribute("href")
        screenshot(page, "experiments.png", tmp_path)


OVERFLOW = """() => [document.documentElement.scrollWidth, document.documentElement.clientWidth,
    [...document.querySelectorAll('[data-testid="stText"], textarea')].map(e => e.scrollWidth - e.clientWidth)]"""


@contextmanager
def narrow_page(url: str, shot: Path):
    """Chromium at `url`, 1,100 px wide; after the caller's checks, asserts that neither the page nor any text box
    scrolls sideways, and saves a screenshot to `shot`."""
    from playwright.sync_api import sync_playwright

    with sync_playwright() as pw:
        browser = launch(pw)
        page = browser.new_page(viewport={"width": 1100, "height": 1000})
        page.goto(url)
        yield page
        page_width, view_width, inner = page.evaluate(OVERFLOW)
        assert page_width <= view_width and max(inner) <= 1, (page_width, view_width, inner)
        page.screenshot(path=str(shot), full_page=True)
        browser.close()


def test_long_answers_stay_inside_the_pages(tmp_path):
    """A real model's long answers (markdown lists, long lines, an unbreakable URL) on the Pairs page and in the
    viewer: shown whole, wrapped inside their columns, and the page never scrolls sideways."""
    from dashboard_fixture import LONG_ANSWERS, build_long
    from playwright.sync_api import expect

    root = tmp_path / "runs"
    root.mkdir()
    run = build_long(root)
    server = serve(root)
    url, _ = next(server)
    try:
        with narrow_page(f"{url}/?page=Pairs&run={run}", tmp_path / "pairs-long.png") as page:
            page.get_by_text("1 pairs match").first.wait_for(timeout=30_000)
            for answer in LONG_ANSWERS:
                shown = page.locator('[data-testid="stText"]', has_text=answer[:30]).first
                shown.wait_for(timeout=30_000)
                assert " ".join(shown.inner_text().split()) == " ".join(answer.split())
    finally:
        server.close()

    proc, viewer_url = serve_viewer(root)
    try:
        with narrow_page(viewer_url, tmp_path / "viewer-long.png") as page:
            page.locator("#labeler textarea, #labeler input").first.fill("chromium")
            page.keyboard.press("Enter")
            expect(page.locator("#status")).to_contain_text("left in queue", timeout=30_000)
            assert {page.locator(f"#response-{side} textarea").input_value() for side in "ab"} == set(LONG_ANSWERS)
    finally:
        stop(proc)
