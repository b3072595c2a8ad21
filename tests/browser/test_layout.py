"""Long unbroken strings stay inside their boxes: no page is wider than the window at 1,440 px
or 390 px, and the customer 360's tables show every column at 1,440 px without scrolling."""

import datetime as dt

import pytest

from compliance.requests import request_create
from profiles.identity import events_resolve_pending
from profiles.models import Identity
from segments.services import segment_create, segment_refresh
from tests.factories import EventFactory, SourceFactory

pytestmark = [pytest.mark.browser, pytest.mark.django_db(transaction=True)]

T0 = dt.datetime(2026, 6, 1, 9, 0, tzinfo=dt.UTC)
LONG = "Averyveryverylongunbrokenname" * 6  # 174 characters without a space
WIDTHS = (1440, 390)

# How much wider than the window the page is (0: it fits), and the outermost elements that
# stick out of it (not those a scrolling box holds), to say what to fix.
PAGE_OVERFLOW = """() => {
  const width = document.documentElement.clientWidth;
  const overflow = document.documentElement.scrollWidth - width;
  let culprits = [];
  for (const el of document.querySelectorAll('body *')) {
    // Text spilling out of a box counts too, unless the box scrolls or clips it.
    const spills = getComputedStyle(el).overflowX === 'visible' ? el.scrollWidth : 0;
    const right = el.getBoundingClientRect();
    if (Math.max(right.right, right.left + spills) <= width + 1) continue;
    let held = false;
    for (let up = el.parentElement; up; up = up.parentElement) {
      if (getComputedStyle(up).overflowX !== 'visible') { held = up.tagName !== 'HTML'; break; }
    }
    if (!held) culprits = culprits.filter(c => !c.el.contains(el)).concat([{el}]);
  }
  const box = el => el.getBoundingClientRect();
  const name = el => `${el.tagName}.${el.className}`;
  return [overflow, culprits.slice(0, 5).map(
    c => `${name(c.el)} ${Math.round(box(c.el).left)}..${Math.round(box(c.el).right)}`
  )];
}"""
CHARTS_DRAWN = """() => [...document.querySelectorAll('[data-chart]')]
    .every(el => !document.getElementById(el.dataset.chart) || el.querySelector('.main-svg'))"""
# Table boxes that scroll sideways (their cells are clipped until one scrolls), by heading.
CLIPPED_TABLES = """() => [...document.querySelectorAll('.table-wrap')]
    .filter(el => el.scrollWidth > el.clientWidth + 1)
    .map(el => (el.closest('section')?.querySelector('h2')?.textContent || '?').trim())"""


@pytest.fixture
def long_strings(marketer):
    source = SourceFactory(name=f"Source {LONG}")
    EventFactory(
        source=source,
        type="identify",
        anonymous_id=f"anon-{LONG}",
        user_id=f"user-{LONG}",
        traits={
            "email": f"{LONG.lower()}@example.com",
            "name": f"Rosa {LONG}",
            "address": {"city": "Lisbon", "country": "PT", "street": f"Rua {LONG}"},
            "favourite": LONG,
        },
        timestamp=T0,
    )
    EventFactory(
        source=source,
        type="track",
        event=f"Order {LONG}",
        user_id=f"user-{LONG}",
        anonymous_id="",
        properties={"note": LONG},
        timestamp=T0 + dt.timedelta(hours=1),
    )
    events_resolve_pending()
    segment = segment_create(
        user=marketer,
        name=f"Segment {LONG}",
        description=LONG,
        definition={
            "match": "all",
            "negate": False,
            "conditions": [{"type": "identifier", "kind": "email"}],
        },
    )
    segment_refresh(segment_id=segment.pk)
    profile = Identity.objects.get(kind="user_id", value=f"user-{LONG}").profile
    request_create(user=None, type="access", identifiers={"email": f"{LONG.lower()}@example.com"})
    return {"profile": profile, "segment": segment, "source": source}


def pages(data, width: int) -> list[str]:
    return [
        "/",
        f"/customers/?q={LONG}",
        "/customers/?q=nobody-" + LONG,
        f"/customers/{data['profile'].pk}/",
        "/segments/",
        # The builder's phone layout is tested with the builder (tests/segments).
        *(["/segments/new/"] if width > 720 else []),
        f"/segments/{data['segment'].pk}/",
        "/sources/",
        f"/sources/{data['source'].pk}/",
        "/destinations/",
        "/compliance/requests/",
        "/compliance/audit/",
    ]


@pytest.mark.parametrize("width", WIDTHS)
def test_no_main_page_is_wider_than_the_window(long_strings, superuser, login, page, width):
    page.set_viewport_size({"width": width, "height": 900})
    page.set_default_timeout(30_000)  # a dozen pages on a shared machine
    login(superuser)
    too_wide = {}
    for path in pages(long_strings, width):
        response = page.goto(path)
        assert response.status == 200, path
        page.wait_for_load_state("networkidle")
        page.wait_for_function(CHARTS_DRAWN)  # Plotly draws at its own size, then fits
        overflow, culprits = page.evaluate(PAGE_OVERFLOW)
        if overflow > 0:
            too_wide[path] = (overflow, culprits)
    assert too_wide == {}


def test_the_customer_360_shows_every_column_at_1440(long_strings, support_agent, login, page):
    page.set_viewport_size({"width": 1440, "height": 900})
    login(support_agent)
    page.goto(f"/customers/{long_strings['profile'].pk}/")
    page.wait_for_load_state("networkidle")
    assert page.evaluate(CLIPPED_TABLES) == []
    for heading in ("First seen", "By source", "Last set"):
        cell = page.get_by_role("columnheader", name=heading)
        box = cell.bounding_box()
        assert box is not None
        assert box["x"] + box["width"] <= 1440
    # Dates stay on one line, with the full time on hover.
    date = page.locator("table.identities time.short-time").first
    assert date.evaluate("el => el.getClientRects().length") == 1
    assert date.get_attribute("title").startswith("2026-06-01 09:00:00")
    # A nested trait is a list of its parts, not JSON.
    assert page.locator("dl.kv dt", has_text="address.country").count() == 0
    assert page.locator("dl.kv dt", has_text="country").count() == 1
    assert "{" not in page.locator("table.traits").inner_text()
    # The e-mail in the header breaks, if at all, only at its "@".
    email = page.locator(".profile-header dd.email")
    one_line_parts = email.evaluate(
        "el => [...el.querySelectorAll('span')].map(part => part.getBoundingClientRect().height"
        " < 1.5 * parseFloat(getComputedStyle(part).lineHeight))"
    )
    assert one_line_parts == [True, True]
    assert email.get_attribute("title").startswith(LONG.lower())
