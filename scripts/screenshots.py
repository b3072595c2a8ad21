"""Screenshots of the main pages of a running demo, at 1,440 px and 390 px wide.

    make run                                  # in one terminal: the demo on 127.0.0.1:8000
    .venv/bin/python scripts/screenshots.py   # in another: PNGs into docs/screenshots/

Each page is opened as the demo person whose work it is (the support agent for customers, the
marketer for segments...), through the real login form, in Debian's Chromium (/usr/bin/chromium)
driven by Playwright. A shot is the first screen of the page (the viewport, not the whole
page), so the files stay small. Without a segment to show, one ("Customers with an e-mail") is
created through the REST API as the marketer.

The script also reports any page that is wider than the window (a horizontal scroll bar), so a
layout that breaks shows up here too; it exits with status 1 if one does.
"""

from __future__ import annotations

import argparse
import sys
from dataclasses import dataclass
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
CHROMIUM = "/usr/bin/chromium"
WIDTHS = ((1440, 900), (390, 844))  # a desktop and a phone

# How much wider than the window the page is, in pixels (0: it fits).
PAGE_OVERFLOW_JS = "document.documentElement.scrollWidth - document.documentElement.clientWidth"


@dataclass(frozen=True)
class Shot:
    name: str
    user: str
    path: str  # may name {profile} or {segment}
    wait_for: str = "main"


SHOTS = (
    Shot("home", "support", "/"),
    Shot("customers-search", "support", "/customers/?q={search}", ".search-results"),
    Shot("customer-360", "support", "/customers/{profile}/", "#activity-chart"),
    Shot("segments-list", "marketer", "/segments/"),
    Shot("segment-builder", "marketer", "/segments/new/"),
    Shot("segment-detail", "marketer", "/segments/{segment}/"),
    Shot("sources", "integrations", "/sources/"),
    Shot("destinations", "integrations", "/destinations/"),
    Shot("compliance-requests", "compliance", "/compliance/requests/"),
    Shot("audit-log", "compliance", "/compliance/audit/"),
)


def _login(page, base: str, user: str, password: str) -> None:
    page.goto(f"{base}/accounts/login/")
    page.get_by_label("User name").fill(user)
    page.get_by_label("Password").fill(password)
    page.get_by_role("button", name="Log in").click()
    page.wait_for_url(f"{base}/")


def _a_customer(page, base: str) -> tuple[int, str]:
    """A customer with a merge in their history, else the first found: (id, search text)."""
    found = page.request.get(f"{base}/api/profiles/", params={"page_size": "50"}).json()
    rows = found.get("results", found) if isinstance(found, dict) else found
    if not rows:
        raise SystemExit("The demo has no customers: start it with `make run` first.")
    chosen = next((r for r in rows if r.get("merged_from")), rows[0])
    email = (chosen.get("traits") or {}).get("email") or ""
    search = email.split("@")[0][-6:] if "@" in email else str(chosen["id"])
    return int(chosen["id"]), search


def _a_segment(page, base: str) -> int:
    listed = page.request.get(f"{base}/api/segments/").json()
    rows = listed.get("results", listed) if isinstance(listed, dict) else listed
    if rows:
        return int(rows[0]["id"])
    token = next(c["value"] for c in page.context.cookies() if c["name"] == "csrftoken")
    created = page.request.post(
        f"{base}/api/segments/",
        headers={"X-CSRFToken": token, "Referer": f"{base}/segments/"},
        data={
            "name": "Customers with an e-mail",
            "description": "Everyone the shop can write to.",
            "definition": {
                "match": "all",
                "negate": False,
                "conditions": [{"type": "identifier", "kind": "email"}],
            },
        },
    )
    if not created.ok:
        raise SystemExit(f"Could not create a segment: {created.status} {created.text()[:300]}")
    return int(created.json()["id"])


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--base-url", default="http://127.0.0.1:8000")
    parser.add_argument("--password", default="cdp-demo-password")
    parser.add_argument("--out", type=Path, default=ROOT / "docs" / "screenshots")
    args = parser.parse_args()
    base = args.base_url.rstrip("/")

    from playwright.sync_api import sync_playwright

    args.out.mkdir(parents=True, exist_ok=True)
    overflowing = []
    with sync_playwright() as playwright:
        browser = playwright.chromium.launch(
            executable_path=CHROMIUM, headless=True, args=["--no-sandbox", "--disable-gpu"]
        )
        places: dict[str, object] = {}
        for user in dict.fromkeys(shot.user for shot in SHOTS):
            for width, height in WIDTHS:
                context = browser.new_context(viewport={"width": width, "height": height})
                page = context.new_page()
                page.set_default_timeout(20_000)
                _login(page, base, user, args.password)
                if user == "support" and "profile" not in places:
                    places["profile"], places["search"] = _a_customer(page, base)
                if user == "marketer" and "segment" not in places:
                    places["segment"] = _a_segment(page, base)
                for shot in (s for s in SHOTS if s.user == user):
                    page.goto(base + shot.path.format(**places))
                    page.wait_for_selector(shot.wait_for, state="attached")
                    page.wait_for_load_state("networkidle")
                    overflow = page.evaluate(PAGE_OVERFLOW_JS)
                    if overflow > 0:
                        overflowing.append(f"{shot.name} at {width} px: {overflow} px too wide")
                    path = args.out / f"{shot.name}-{width}.png"
                    page.screenshot(path=str(path))
                    print(f"{path} ({path.stat().st_size // 1024} KB)")
                context.close()
        browser.close()
    for line in overflowing:
        print(f"wider than the window: {line}", file=sys.stderr)
    return 1 if overflowing else 0


if __name__ == "__main__":
    sys.exit(main())
