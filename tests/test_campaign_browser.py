"""report.html in headless Chromium (Debian's, through Playwright), offline: it must render whole
from its own bytes (no request leaves the file), its chart must decode, and a screenshot is kept in
test-artifacts/. Run with ``pytest tests/test_campaign_browser.py -m browser``."""
from __future__ import annotations

import pytest

from test_browser import ARTIFACTS, browser  # noqa: F401  (the Chromium fixture)
from test_campaign import campaign  # noqa: F401  (three consecutive sample plans)

pytestmark = pytest.mark.browser


@pytest.mark.parametrize("page_name", ["report.html", "reports/444455556666.html"])
def test_report_renders_offline_with_its_chart(browser, campaign, page_name):  # noqa: F811
    _, later, _ = campaign
    context = browser.new_context(offline=True, viewport={"width": 1200, "height": 900})
    page = context.new_page()
    requests, errors = [], []
    page.on("request", lambda request: requests.append(request.url))
    page.on("console", lambda message: errors.append(message.text) if message.type == "error" else None)
    page.on("pageerror", lambda error: errors.append(str(error)))
    page.goto((later / page_name).as_uri())
    page.wait_for_load_state("load")
    assert [url for url in requests if not url.startswith(("file:", "data:"))] == []
    assert errors == []
    assert page.locator("text=How to read this report").count() == 1
    widths = page.eval_on_selector_all("img", "images => images.map(image => image.naturalWidth)")
    assert widths and all(width > 300 for width in widths)
    changes = page.locator("table tr td strong").all_inner_texts()
    assert {"new", "priority-down"} <= set(changes) if page_name != "report.html" else \
        {"new", "moved", "gone", "priority-up", "priority-down"} <= set(changes)
    assert page.locator("pre").first.inner_text().startswith("sts-kit plan --source local")
    ARTIFACTS.mkdir(exist_ok=True)
    page.screenshot(path=str(ARTIFACTS / f"campaign-{page_name.replace('/', '-')}.png"), full_page=True)
    context.close()
