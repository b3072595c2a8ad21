"""Shared fixtures: one persona per role, a logged-in client per persona, and the browser."""

import os
import shutil

import pytest
from django.test import Client

from cdp_site import celery_app
from cdp_site.celery import broker_health
from cdp_site.roles import Role
from tests.factories import UserFactory

# Fixtures of real source databases for the table connectors' tests.
pytest_plugins = ["tests.integrations.tables"]

PASSWORD = "correct-horse-battery"
PERSONAS = ("marketer", "support_agent", "integration_admin", "compliance_officer", "superuser")
CHROMIUM = "/usr/bin/chromium"


# Tasks run inline in tests, and keep their results so pages that poll for them work. Set when
# this file is imported, before any test module is collected: a task caches its result backend
# the first time it is used, and must cache this one.
celery_app.conf.update(
    task_always_eager=True,
    task_eager_propagates=True,
    task_store_eager_result=True,
    result_backend="cache+memory://",
)


@pytest.fixture(autouse=True)
def _fresh_cache():
    """Each test starts with an empty cache: the rate limits' counts (per user, per source, per
    address) must not carry over from the tests before it."""
    from django.core.cache import cache

    cache.clear()


@pytest.fixture(autouse=True)
def _broker_known_up():
    """A test that made publishing fail must not leave the broker "known down" for the next."""
    yield
    broker_health.recovered()


@pytest.fixture(autouse=True)
def _catalogue_read_afresh():
    """What a process read of the data catalogue must not outlive the test that wrote it."""
    from profiles.catalogue.selectors import field_classes_forget

    field_classes_forget()
    yield
    field_classes_forget()


def _persona(role: Role | None, username: str):
    if role is None:
        return UserFactory(username=username, is_superuser=True, is_staff=True)
    return UserFactory(username=username, roles=[role])


@pytest.fixture
def marketer(db):
    return _persona(Role.MARKETER, "mia_marketer")


@pytest.fixture
def support_agent(db):
    return _persona(Role.SUPPORT_AGENT, "sam_support")


@pytest.fixture
def integration_admin(db):
    return _persona(Role.INTEGRATION_ADMIN, "ian_integrations")


@pytest.fixture
def compliance_officer(db):
    return _persona(Role.COMPLIANCE_OFFICER, "cora_compliance")


@pytest.fixture
def superuser(db):
    return _persona(None, "ada_admin")


@pytest.fixture(params=PERSONAS)
def persona(request):
    """Each persona in turn: `(name, user)`."""
    return request.param, request.getfixturevalue(request.param)


@pytest.fixture
def client_for():
    """`client_for(user)` gives a test client logged in as that user."""

    def make(user) -> Client:
        client = Client()
        client.force_login(user)
        return client

    return make


# --- Browser tests -------------------------------------------------------------------------


@pytest.fixture(scope="session")
def browser():
    """Debian's Chromium driven by Playwright (it cannot download browsers of its own here)."""
    if not shutil.which(CHROMIUM):
        if os.environ.get("CDP_REQUIRE_BROWSER"):
            pytest.fail(f"{CHROMIUM} is required for browser tests (apt-get install chromium)")
        pytest.skip(f"{CHROMIUM} is not installed (apt-get install chromium)")
    from playwright.sync_api import sync_playwright

    # Playwright's sync API runs an event loop in this thread; Django's ORM calls made by the
    # test itself are still synchronous and safe.
    os.environ["DJANGO_ALLOW_ASYNC_UNSAFE"] = "true"
    with sync_playwright() as playwright:
        browser = playwright.chromium.launch(
            executable_path=CHROMIUM,
            headless=True,
            args=[
                "--no-sandbox",
                "--disable-gpu",
                "--disable-background-networking",
                "--disable-component-update",
                "--disable-sync",
                "--no-first-run",
            ],
        )
        yield browser
        browser.close()


# Every page reports what its Content-Security-Policy blocked to the console, where the `page`
# fixture collects it (Chromium logs most violations itself; the event catches the rest).
CSP_VIOLATION_REPORTER = """
document.addEventListener("securitypolicyviolation", (event) => {
  console.error(`CSP violation: ${event.effectiveDirective} refused ${event.blockedURI || "inline"}`
    + ` in ${event.sourceFile || document.location.href}:${event.lineNumber}`);
});
"""


def is_csp_violation(text: str) -> bool:
    return text.startswith("CSP violation") or "Content Security Policy" in text


@pytest.fixture
def page(browser, live_server):
    """A browser page on the live server. Any test whose pages break the Content-Security-Policy
    (an inline script or style, eval, an asset from elsewhere) fails, naming what was refused."""
    context = browser.new_context(base_url=live_server.url)
    context.add_init_script(CSP_VIOLATION_REPORTER)
    violations: list[str] = []
    context.on(
        "console",
        lambda message: violations.append(message.text) if is_csp_violation(message.text) else None,
    )
    page = context.new_page()
    page.set_default_timeout(10_000)
    yield page
    context.close()
    assert not violations, "The Content-Security-Policy refused:\n" + "\n".join(violations)


@pytest.fixture
def login(page):
    """`login(user)` logs in through the real login form."""

    def do_login(user):
        page.goto("/accounts/login/")
        page.get_by_label("User name").fill(user.username)
        page.get_by_label("Password").fill(PASSWORD)
        page.get_by_role("button", name="Log in").click()
        page.wait_for_url("**/")
        return page

    return do_login


def pytest_terminal_summary(terminalreporter):
    """Say so when tests that need PostgreSQL were skipped, and how to run them."""
    skipped = [
        report
        for report in terminalreporter.stats.get("skipped", [])
        if isinstance(report.longrepr, tuple) and "PostgreSQL" in report.longrepr[2]
    ]
    if skipped:
        terminalreporter.write_line(
            f"{len(skipped)} PostgreSQL-only tests were skipped (this run used SQLite). To run "
            "them: `make test` with a PostgreSQL server at 127.0.0.1:5432 (user postgres), or "
            "DATABASE_URL=postgres://user@host:5432/name .venv/bin/pytest",
            yellow=True,
            bold=True,
        )


@pytest.fixture(scope="session")
def django_db_setup(django_db_setup, django_db_blocker):
    """The test database, and at the end no session left on it that would stop its removal.

    An idle session another thread left open (a live server's request thread, say) would make
    the removal fail: PostgreSQL refuses to drop a database anyone is connected to.
    """
    yield
    from django.db import connection

    if connection.vendor != "postgresql":
        return
    with django_db_blocker.unblock(), connection.cursor() as cursor:
        cursor.execute(
            "SELECT pg_terminate_backend(pid) FROM pg_stat_activity "
            "WHERE datname = current_database() AND pid <> pg_backend_pid()"
        )
