"""The Content-Security-Policy: strict on every answer, met by every template, and enforced in
the browser tests (the `page` fixture fails a test whose pages break it)."""

import datetime as dt
import re
from pathlib import Path

import plotly
import pytest
from django.conf import settings
from django.utils import timezone
from playwright.sync_api import expect

from segments.models import Segment, SegmentSnapshot
from tests.conftest import CSP_VIOLATION_REPORTER, is_csp_violation

TEMPLATE_DIRS = [Path(settings.BASE_DIR) / "templates"]
PLOTLY_CSS = Path(settings.BASE_DIR) / "static" / "css" / "plotly.css"
PLOTLY_JS = Path(plotly.__file__).parent / "package_data" / "plotly.min.js"

INLINE = {
    "an inline script": re.compile(r"<script(?![^>]*\bsrc=)[^>]*>", re.IGNORECASE),
    "a <style> element": re.compile(r"<style\b", re.IGNORECASE),
    "a style attribute": re.compile(r"\sstyle\s*=", re.IGNORECASE),
    "an inline event handler": re.compile(r"\s(on[a-z]+|hx-on[:\w-]*)\s*=", re.IGNORECASE),
    "a javascript: URL": re.compile(r"javascript:", re.IGNORECASE),
}


def _policy(response) -> dict[str, str]:
    header = response.headers["Content-Security-Policy"]
    return {part.split()[0]: part.strip() for part in header.split(";") if part.strip()}


@pytest.mark.parametrize("path", ["/accounts/login/", "/", "/segments/", "/api/docs/"])
def test_every_answer_carries_a_strict_policy(client_for, superuser, path):
    response = client_for(superuser).get(path)
    assert response.status_code == 200
    header = response.headers["Content-Security-Policy"]
    assert "unsafe-inline" not in header
    assert "unsafe-eval" not in header
    policy = _policy(response)
    assert policy["script-src"] == "script-src 'self'"
    assert policy["style-src"] == "style-src 'self'"
    assert policy["object-src"] == "object-src 'none'"
    assert policy["frame-ancestors"] == "frame-ancestors 'none'"


def test_the_api_docs_start_from_a_script_file(client_for, superuser):
    html = client_for(superuser).get("/api/docs/").content.decode()
    assert not INLINE["an inline script"].search(html)


@pytest.mark.parametrize("kind", sorted(INLINE))
def test_no_template_needs_inline_script_or_style(kind):
    """Data for scripts goes in `json_script` blocks, behaviour in static files, looks in CSS."""
    offenders = [
        f"{path.relative_to(settings.BASE_DIR)}:{number}"
        for folder in TEMPLATE_DIRS
        for path in sorted(folder.rglob("*.html"))
        for number, line in enumerate(path.read_text().splitlines(), start=1)
        if INLINE[kind].search(line)
    ]
    assert offenders == [], f"{kind} in {offenders}"


@pytest.mark.browser
def test_a_violation_is_noticed_by_the_browser_tests(browser, live_server):
    """What the `page` fixture relies on: a refused inline style reaches the console."""
    context = browser.new_context(base_url=live_server.url)
    context.add_init_script(CSP_VIOLATION_REPORTER)
    messages: list[str] = []
    context.on("console", lambda message: messages.append(message.text))
    page = context.new_page()
    page.goto("/accounts/login/")
    page.evaluate("document.body.setAttribute('style', 'color: red')")
    page.wait_for_timeout(300)
    context.close()
    assert any(is_csp_violation(text) for text in messages), messages


@pytest.mark.browser
def test_our_copy_of_plotlys_styles_is_the_installed_plotlys(browser):
    """Plotly leaves its styles to static/css/plotly.css, under the ids charts.js marks; they
    must be the ones the installed Plotly would inject, under those ids."""
    page = browser.new_page()
    page.set_content("<html><head></head><body><div id='chart'></div></body></html>")
    page.add_script_tag(path=str(PLOTLY_JS))
    page.evaluate("Plotly.newPlot('chart', [{y: [1, 2]}], {}, {displayModeBar: false})")
    injected = page.evaluate(
        "Array.from(document.querySelectorAll('style')).map(style => [style.id,"
        " Array.from(style.sheet.cssRules).map(rule => rule.cssText)])"
    )
    page.close()
    charts_js = (Path(settings.BASE_DIR) / "static" / "js" / "charts.js").read_text()
    assert all(f'"{style_id}"' in charts_js for style_id, _ in injected)
    rules = "\n".join(rule for _, style_rules in injected for rule in style_rules)
    assert PLOTLY_CSS.read_text().split("*/\n", 1)[1] == rules + "\n"


@pytest.mark.browser
@pytest.mark.django_db(transaction=True)
def test_plotly_draws_a_segments_charts_under_the_policy(marketer, login):
    """Line and bar charts drawn by the served Plotly bundle; the `page` fixture fails the test
    on any violation (an eval, an injected style)."""
    segment = Segment.objects.create(
        name="Charted", definition={"match": "all", "conditions": []}, owner=marketer
    )
    now = timezone.now()
    for days_ago, size in ((2, 10), (1, 12)):
        SegmentSnapshot.objects.create(
            segment=segment, taken_at=now - dt.timedelta(days=days_ago), size=size, entered=size
        )
    page = login(marketer)
    page.goto(f"/segments/{segment.pk}/")
    expect(page.locator("[data-chart] .main-svg").first).to_be_visible()
    assert page.locator("[data-chart] .main-svg").count() >= 2
    # Plotly's styles apply from our stylesheet: its hover layer sits on top, as it would.
    assert (
        page.evaluate(
            "getComputedStyle(document.querySelector('.js-plotly-plot .plotly .main-svg')).position"
        )
        == "absolute"
    )


@pytest.mark.browser
@pytest.mark.django_db(transaction=True)
def test_the_print_button_of_the_record_of_processing_prints(compliance_officer, login):
    page = login(compliance_officer)
    page.add_init_script("window.print = () => { window.printed = (window.printed || 0) + 1; };")
    page.goto("/compliance/processing-record/")
    page.get_by_role("button", name="Print").click()
    assert page.evaluate("window.printed") == 1
