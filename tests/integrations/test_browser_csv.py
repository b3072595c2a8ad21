"""The integration admin's CSV journey in a real browser: add a CSV source, upload a file, map its
columns, import it while a worker process runs the import, watch the progress bar finish, and
find a customer from the file in the customer 360."""

import os
import subprocess
import sys
from pathlib import Path

import pytest
from django.db import connection
from playwright.sync_api import expect

from cdp_site.celery import broker_health
from integrations.models import Source, SyncRun

pytestmark = [pytest.mark.browser, pytest.mark.django_db(transaction=True)]

ROOT = Path(__file__).resolve().parents[2]
ROWS = 1500


def _customers_file(path: Path) -> Path:
    lines = ["Customer ID;E-mail;First name;Plan"]
    lines += [
        f"c-{i};person{i}@example.com;Person {i};{'pro' if i % 2 else 'free'}" for i in range(ROWS)
    ]
    lines.append(";;No id;free")  # one bad row, reported by its line
    path.write_text("\n".join(lines) + "\n", encoding="utf-8")
    return path


def test_admin_imports_a_csv_file_and_finds_a_customer_from_it(
    integration_admin, support_agent, login, page, settings, tmp_path
):
    settings.VAR_DIR = tmp_path
    page = login(integration_admin)
    page.get_by_role("navigation", name="Main").get_by_role("link", name="Sources").click()
    page.get_by_role("link", name="Add a source").click()
    page.get_by_role("link", name="CSV upload").click()
    page.get_by_label("Name").fill("Shop customers")
    page.get_by_role("button", name="Save source").click()
    source = Source.objects.get(name="Shop customers")

    page.get_by_role("link", name="Upload a file and map its columns").click()
    page.get_by_text("No file yet").wait_for()
    page.get_by_label("CSV file").set_input_files(_customers_file(tmp_path / "customers.csv"))
    page.get_by_role("button", name="Upload").click()

    # The mapping page: guessed from the header; the plan becomes the trait "tier".
    page.get_by_role("heading", name="Map the columns").wait_for()
    expect(page.get_by_label("Customer ID", exact=True)).to_have_value("userId")
    expect(page.get_by_label("E-mail", exact=True)).to_have_value("email")
    page.get_by_label("Name for Plan").fill("tier")
    page.get_by_label("Name for Plan").press("Tab")  # a change: the preview is re-rendered
    expect(page.locator("#samples")).to_contain_text('"tier": "free"')
    page.get_by_role("button", name="Save the mapping").click()
    page.get_by_text("Mapping saved.").wait_for()
    page.get_by_role("link", name="Back to the file to import it").click()
    expect(page.locator("#preview")).to_contain_text("person0@example.com")

    # The broker is known to be down: the import waits in the queue, and a worker process
    # takes it, as one would once the broker is back.
    settings.CDP_BROKER_RETRY_SECONDS = 600
    broker_health.failed()
    page.get_by_role("button", name=f"Import {ROWS + 1} lines").click()
    broker_health.recovered()
    run = SyncRun.objects.get(source=source)
    expect(page.locator("#run-status")).to_have_text("Queued")
    worker = _worker(run.pk, tmp_path)
    try:
        expect(page.locator("#run-status")).to_have_text("Succeeded", timeout=60_000)
    finally:
        worker.wait(timeout=60)
    expect(page.locator("#run-progress")).to_have_attribute("value", "100")
    expect(page.locator("[data-count=stored]")).to_have_text(f"{ROWS:,}")
    expect(page.locator("[data-count=failed]")).to_have_text("1")
    expect(page.locator("#run-errors")).to_contain_text(f"line {ROWS + 2}")

    page.get_by_role("button", name="Log out").click()
    page = login(support_agent)
    page.get_by_role("navigation", name="Main").get_by_role("link", name="Customers").click()
    page.get_by_label("Find a customer").fill("person42@example.com")
    page.locator("#results tr", has_text="person42@example.com").get_by_role("link").first.click()
    expect(page.get_by_role("heading", level=1)).to_contain_text("Person 42")
    expect(page.locator("main")).to_contain_text("person42@example.com")
    expect(page.locator("main")).to_contain_text("c-42")


def _worker(run_id: int, var_dir: Path) -> subprocess.Popen:
    """A worker process: the import, then identity resolution of what it stored."""
    env = {
        **os.environ,
        "DJANGO_SETTINGS_MODULE": "cdp_site.test_settings",
        "DATABASE_URL": f"postgres://postgres@127.0.0.1:5432/{connection.settings_dict['NAME']}",
        "CDP_VAR_DIR": str(var_dir),
        "CDP_CSV_BATCH_ROWS": "100",
        "CELERY_BROKER_URL": "memory://",
    }
    script = (
        "import django; django.setup(); "
        "from integrations.sync.runner import sync_run_execute; "
        "from profiles.identity import events_resolve_pending; "
        f"sync_run_execute({run_id}); events_resolve_pending()"
    )
    return subprocess.Popen([sys.executable, "-c", script], env=env, cwd=ROOT)  # noqa: S603
