"""The review page in headless Chromium: load, edit, lock, save, see the new version on disk.

Uses the system browser (Debian's ``chromium`` at /usr/bin/chromium) through Playwright's
Python package; no browser is ever downloaded.
"""

from __future__ import annotations

import json
import os
import shutil
from pathlib import Path

import pytest

from cotclip.optimizer.loop.runs import RunDir
from cotclip.optimizer.review.rundata import load_review_data
from cotclip.optimizer.review.server import make_server
from cotclip.optimizer.review.session import ReviewSession, load_version

pytestmark = pytest.mark.browser

CHROMIUM = "/usr/bin/chromium"
LAUNCH_ARGS = [
    "--headless",
    "--no-sandbox",
    "--disable-gpu",
    "--disable-background-networking",
    "--disable-component-update",
    "--disable-sync",
    "--no-first-run",
]


@pytest.fixture(scope="module")
def browser():
    # `make test` installs both and sets COTCLIP_REQUIRE_BROWSER, so a missing browser fails there
    # instead of hiding behind a skip; elsewhere the tests skip with the reason.
    missing = pytest.fail if os.environ.get("COTCLIP_REQUIRE_BROWSER") else pytest.skip
    try:
        from playwright import sync_api
    except ImportError:
        missing("install the test extra (playwright): pip install -e '.[test]'")
    if not shutil.which(CHROMIUM):
        missing("Debian chromium is not installed (apt-get install -y chromium)")
    with sync_api.sync_playwright() as playwright:
        chromium = playwright.chromium.launch(executable_path=CHROMIUM, args=LAUNCH_ARGS)
        yield chromium
        chromium.close()


@pytest.fixture
def page(browser, run_dir: Path):
    record = load_version(run_dir)
    session = ReviewSession(run_dir, record, load_review_data(run_dir, record.system))
    with make_server(session, port=0) as server:
        tab = browser.new_page()
        tab.set_default_timeout(10_000)
        tab.goto(server.url)
        tab.wait_for_function("document.getElementById('status').textContent.startsWith('val accuracy')")
        yield tab
        tab.close()


def _versions(run: Path) -> list[str]:
    return sorted(p.name for p in (run / "versions").glob("*.json"))


def test_page_flags_the_rule_the_data_disagrees_with(page, broken_system):
    first, group = broken_system.classes[0], broken_system.groups[0].name
    assert page.inner_text("#version") == "0001"
    assert "disagrees" in page.locator(f'select[data-rule-class="{first}"][data-rule-group="{group}"]').locator(
        "xpath=.."
    ).get_attribute("class")
    assert page.locator("td.disagrees").count() >= 1
    page.locator(f'select[data-rule-class="{first}"][data-rule-group="{group}"]').locator("xpath=..").get_by_text(
        "evidence"
    ).click()
    page.wait_for_selector("#evidence .thumbs.disagree img")
    assert "drawn placeholder" in page.inner_text("#evidence")
    assert page.locator("#evidence img").first.get_attribute("alt").startswith("placeholder for synthetic:")


def test_edit_lock_note_and_save_write_a_new_version(page, run_dir: Path, broken_system):
    first, group = broken_system.classes[0], broken_system.groups[0]
    fixed = (broken_system.rule(first, group.name) - 1) % len(group.options)
    locked_group = broken_system.groups[2].name
    page.select_option(f'select[data-rule-class="{first}"][data-rule-group="{group.name}"]', str(fixed))
    page.wait_for_function("document.getElementById('status').textContent.startsWith('edited system: val accuracy')")
    page.check(f'input[data-lock-group="{locked_group}"]')
    page.check(f'input[data-lock-class="{first}"][data-lock-rule-group="{group.name}"]')
    page.fill("#note", "fixed the colour of the first class")
    page.click("#save")
    page.wait_for_function("document.getElementById('saved').textContent.startsWith('saved version 0002')")
    assert _versions(run_dir) == ["0001.json", "0002.json"]
    stored = json.loads((run_dir / "versions" / "0002.json").read_text())
    assert stored["move"] == "human-edit" and stored["parent"] == "0001"
    assert stored["system"]["rules"][first][group.name] == fixed
    assert stored["system"]["locks"] == {"groups": [locked_group], "rules": [[first, group.name]]}
    assert stored["system"]["notes"][-1] == "fixed the colour of the first class"
    assert {e["op"] for e in stored["details"]["edits"]} == {"set_rule", "lock_group", "lock_rule"}
    assert page.inner_text("#version") == "0002"
    assert page.is_checked(f'input[data-lock-group="{locked_group}"]')
    record = RunDir(run_dir).load_versions()[-1]
    assert f"{100 * record.val_accuracy:.1f}%" in page.inner_text("#saved")


def test_adopting_the_favoured_option_previews_it(page, broken_system):
    first, group = broken_system.classes[0], broken_system.groups[0].name
    cell = page.locator(f'select[data-rule-class="{first}"][data-rule-group="{group}"]').locator("xpath=..")
    label = cell.locator("button.adopt").inner_text()
    cell.locator("button.adopt").click()
    assert page.input_value(f'select[data-rule-class="{first}"][data-rule-group="{group}"]') == label.split()[-1]
    page.wait_for_function("document.getElementById('status').textContent.startsWith('edited system: val accuracy')")
    assert "changed" in cell.get_attribute("class")


def test_empty_option_shows_an_inline_error_and_writes_nothing(page, run_dir: Path, broken_system):
    group = broken_system.groups[1].name
    page.fill(f'input[data-option="{group}"][data-index="0"]', "")
    page.wait_for_function("document.getElementById('error').textContent.includes('option text is empty')")
    page.click("#save")
    page.wait_for_timeout(300)
    assert "option text is empty" in page.inner_text("#error")
    assert page.inner_text("#saved") == ""
    assert _versions(run_dir) == ["0001.json"]
    page.fill(f'input[data-option="{group}"][data-index="0"]', "a better wording")
    page.wait_for_function("document.getElementById('error').textContent === ''")
