"""The file export destination: whole files, a manifest, and nothing outside the export root."""

import csv
import hashlib
import json
import os

import pytest

from integrations.connectors.base import TerminalError
from integrations.connectors.file_export import FileExportDestination
from integrations.connectors.registry import connector_class
from tests.integrations.destinations.records import batch, person


@pytest.fixture
def root(tmp_path, settings):
    settings.CDP_EXPORT_ROOT = tmp_path / "exports"
    (tmp_path / "exports" / "crm").mkdir(parents=True)
    return tmp_path / "exports"


def _files(folder):
    return sorted(p.name for p in folder.iterdir())


def test_registered_with_its_form():
    cls = connector_class("file_export", kind="destination")
    assert cls is FileExportDestination
    assert not cls.can_delete
    assert [f.name for f in cls.fields] == ["directory", "format", "file_prefix"]


def test_a_batch_becomes_one_csv_file_and_its_manifest(root):
    connector = FileExportDestination({"directory": "crm", "file_prefix": "vip"}, {})
    ada = person(1, "ada@example.com", "+447700900123", first_name="Ada", plan="pro")
    bob = person(2, "bob@example.com", first_name="Bob")
    assert connector.deliver(batch("sync-1/run-4/0", entered=[ada], exited=[bob])).failures == []

    names = _files(root / "crm")
    assert len(names) == 2
    data_name = next(n for n in names if n.endswith(".csv"))
    manifest_name = next(n for n in names if n.endswith(".manifest.json"))
    assert data_name.startswith("vip-")
    assert "/" not in data_name
    content = (root / "crm" / data_name).read_bytes()
    assert list(csv.reader(content.decode().splitlines())) == [
        ["change", "profile_id", "email", "phone", "user_id", "anonymous_id", "first_name", "plan"],
        ["entered", "1", "ada@example.com", "+447700900123", "user-1", "", "Ada", "pro"],
        ["exited", "2", "bob@example.com", "", "user-2", "", "Bob", ""],
    ]
    manifest = json.loads((root / "crm" / manifest_name).read_text())
    assert manifest["batch_id"] == "sync-1/run-4/0"
    assert (manifest["entered"], manifest["exited"]) == (1, 1)
    assert manifest["files"] == [
        {
            "name": data_name,
            "rows": 2,
            "bytes": len(content),
            "sha256": hashlib.sha256(content).hexdigest(),
        }
    ]


def test_json_lines_keep_every_identifier(root):
    connector = FileExportDestination({"directory": "crm", "format": "jsonl"}, {})
    record = person(1, "ada@example.com", first_name="Ada")
    record.identifiers["email"].append("ada@work.example")
    connector.deliver(batch("b-1", entered=[record]))
    data = next(p for p in (root / "crm").iterdir() if p.suffix == ".jsonl")
    assert data.name.startswith("cdp-sync-1-")
    assert [json.loads(line) for line in data.read_text().splitlines()] == [
        {
            "change": "entered",
            "profile_id": 1,
            "identifiers": {
                "email": ["ada@example.com", "ada@work.example"],
                "user_id": ["user-1"],
            },
            "traits": {"first_name": "Ada"},
        }
    ]


def test_a_retried_batch_replaces_its_files_and_leaves_no_temporary_file(root):
    connector = FileExportDestination({"directory": "crm"}, {})
    delivery = batch("b-1", entered=[person(1, "ada@example.com")])
    connector.deliver(delivery)
    first = _files(root / "crm")
    connector.deliver(delivery)
    assert _files(root / "crm") == first
    assert not [n for n in first if n.startswith(".tmp-")]


def test_spreadsheet_formulas_are_neutralised_but_phones_are_not(root):
    connector = FileExportDestination({"directory": "crm"}, {})
    record = person(1, "ada@example.com", "+447700900123", note='=HYPERLINK("http://x")')
    connector.deliver(batch("b-1", entered=[record]))
    data = next(p for p in (root / "crm").iterdir() if p.suffix == ".csv")
    row = list(csv.reader(data.read_text().splitlines()))[1]
    assert row[3] == "+447700900123"
    assert row[-1] == '\'=HYPERLINK("http://x")'


@pytest.mark.parametrize("folder", ["../elsewhere", "/etc", "crm/../../outside"])
def test_folders_outside_the_export_root_are_refused(root, folder):
    connector = FileExportDestination({"directory": folder}, {})
    check = connector.check_connection()
    assert not check.ok
    assert "outside the export root" in check.message
    with pytest.raises(TerminalError):
        connector.deliver(batch("b-1", entered=[person(1, "ada@example.com")]))


def test_a_symbolic_link_out_of_the_root_is_refused(root, tmp_path):
    (tmp_path / "secret").mkdir()
    os.symlink(tmp_path / "secret", root / "link")
    check = FileExportDestination({"directory": "link"}, {}).check_connection()
    assert "outside the export root" in check.message


def test_check_connection_answers_in_words(root):
    assert FileExportDestination({"directory": "crm"}, {}).check_connection().message == (
        f"Ready: CSV files will be written to {root / 'crm'}."
    )
    missing = FileExportDestination({"directory": "nope"}, {}).check_connection()
    assert missing.message == f"The folder {root / 'nope'} does not exist: create it first."
    (root / "locked").mkdir(mode=0o500)
    locked = FileExportDestination({"directory": "locked"}, {}).check_connection()
    if os.geteuid() != 0:  # root may write anywhere
        assert not locked.ok
        assert locked.message.startswith(f"The folder {root / 'locked'} is not writable")
