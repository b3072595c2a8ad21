"""`manage.py config export` / `config apply`: the whole configuration as one YAML file, applied
idempotently, checked whole before anything is written, secrets never in the file."""

import io
from datetime import time
from pathlib import Path

import pytest
import yaml
from django.contrib.auth import get_user_model
from django.contrib.auth.models import Group
from django.core.management import call_command
from django.core.management.base import CommandError
from django_celery_beat.models import PeriodicTask

from compliance.models import ConsentPurpose
from integrations.activation.services import (
    audience_sync_create,
    destination_create,
    destination_share,
)
from integrations.models import AudienceSync, Destination, Source
from integrations.secrets import secrets_decrypt
from integrations.services import source_create, source_enabled_set
from integrations.sources import source_connector_create
from integrations.sync.schedules import source_schedule_set
from profiles.models import IdentityRule
from segments.models import Segment
from segments.services import segment_create, segment_share
from tests.factories import EventFactory, UserFactory

pytestmark = pytest.mark.django_db

WEBHOOK_SECRET = "whsec-very-secret-value"
DB_PASSWORD = "db-password-never-exported"


def _definition(plan: str) -> dict:
    return {
        "match": "all",
        "negate": False,
        "conditions": [{"type": "trait", "trait": "plan", "operator": "equals", "value": plan}],
    }


@pytest.fixture
def configured():
    """A deployment with one of everything, made through the services the pages use."""
    owner = UserFactory(username="olga")
    team = Group.objects.create(name="growth team")
    ConsentPurpose.objects.get_or_create(key="newsletter", defaults={"name": "Newsletter"})
    IdentityRule.objects.create(kind="email", limit=3, priority=10, blocked_values=["test@.*"])
    tracking = source_create(name="Website")
    source_enabled_set(source=tracking, enabled=False)
    shop_db = source_connector_create(
        name="Shop database",
        kind="postgres_table",
        values={
            "host": "db.internal",
            "database": "shop",
            "user": "reader",
            "password": DB_PASSWORD,
            "table": "public.customers",
        },
    )
    source_schedule_set(source=shop_db, schedule=Source.Schedule.DAILY, at=time(4, 30))
    pro = segment_create(user=owner, name="Pro", definition=_definition("pro"))
    segment_share(segment=pro, user=owner, target_group_id=team.pk, can_edit=True)
    segment_share(segment=pro, user=owner, target_user_id=UserFactory(username="vic").pk)
    segment_create(
        user=None,
        name="Pro or trial",
        definition={
            "match": "any",
            "negate": False,
            "conditions": [
                {"type": "segment", "segment": pro.pk},
                {"type": "trait", "trait": "plan", "operator": "equals", "value": "trial"},
            ],
        },
        description="Everyone who pays or may.",
    )
    hooks = destination_create(
        kind="webhook",
        name="Our hooks",
        values={"url": "https://hooks.example.com/cdp", "signing_secret": WEBHOOK_SECRET},
    )
    destination_share(destination=hooks, group=team)
    audience_sync_create(
        user=None,
        segment=pro,
        destination=hooks,
        field_mapping={"email": "identifier:email", "first_name": "trait:first_name"},
        consent_purpose="newsletter",
        mode=AudienceSync.Mode.INTERVAL,
        interval_minutes=30,
    )
    return {"owner": owner, "hooks": hooks, "shop_db": shop_db, "tracking": tracking}


def _export() -> str:
    out = io.StringIO()
    call_command("config", "export", stdout=out)
    return out.getvalue()


def _apply(path, *flags) -> str:
    out = io.StringIO()
    call_command("config", "apply", str(path), *flags, stdout=out)
    return out.getvalue()


def _write(tmp_path, document) -> object:
    path = tmp_path / "config.yaml"
    path.write_text(document if isinstance(document, str) else yaml.safe_dump(document))
    return path


def _counts() -> dict:
    return {
        model.__name__: model.objects.count()
        for model in (
            ConsentPurpose,
            IdentityRule,
            Source,
            Segment,
            Destination,
            AudienceSync,
            PeriodicTask,
        )
    }


def test_the_export_holds_everything_by_name_and_no_secret(configured):
    text = _export()
    document = yaml.safe_load(text)
    assert list(document) == [
        "version",
        "consent_purposes",
        "identity_rules",
        "sources",
        "segments",
        "destinations",
        "audience_syncs",
    ]
    for secret in (WEBHOOK_SECRET, DB_PASSWORD, configured["tracking"].write_key):
        assert secret not in text
    sources = {s["name"]: s for s in document["sources"]}
    assert sources["Website"] == {"name": "Website", "kind": "tracking_api", "enabled": False}
    assert sources["Shop database"]["schedule"] == "daily at 04:30"
    assert sources["Shop database"]["secrets"] == {
        "password": {"env": "CDP_SOURCE_SHOP_DATABASE_PASSWORD"}
    }
    segments = {s["name"]: s for s in document["segments"]}
    assert segments["Pro"]["owner"] == "olga"
    assert segments["Pro"]["shared_with"] == {
        "groups": {"growth team": "edit"},
        "users": {"vic": "view"},
    }
    assert segments["Pro or trial"]["shared_with"] == {}
    assert segments["Pro or trial"]["definition"]["conditions"][0] == {
        "type": "segment",
        "segment": "Pro",
    }
    assert document["destinations"] == [
        {
            "name": "Our hooks",
            "kind": "webhook",
            "config": {"url": "https://hooks.example.com/cdp"},
            "secrets": {"signing_secret": {"env": "CDP_DESTINATION_OUR_HOOKS_SIGNING_SECRET"}},
            "teams": ["growth team"],
        }
    ]
    assert document["audience_syncs"] == [
        {
            "segment": "Pro",
            "destination": "Our hooks",
            "consent_purpose": "newsletter",
            "field_mapping": {"email": "identifier:email", "first_name": "trait:first_name"},
            "schedule": "every 30 minutes",
            "enabled": True,
        }
    ]
    assert {"kind": "email", "limit": 3, "priority": 10, "blocked_values": ["test@.*"]} in (
        document["identity_rules"]
    )


def test_applying_the_exported_file_to_the_same_deployment_changes_nothing(configured, tmp_path):
    text = _export()
    before = _counts()
    output = _apply(_write(tmp_path, text))
    assert "Plan: 0 to create, 0 to update, 0 to delete" in output
    assert "Nothing to change." in output
    assert _counts() == before
    assert _export() == text
    # With --prune too: everything stored is in the file.
    assert "0 to delete" in _apply(_write(tmp_path, text), "--prune")


def _empty_the_configuration() -> None:
    AudienceSync.objects.all().delete()
    Destination.objects.all().delete()
    Segment.objects.all().delete()
    for source in Source.objects.all():
        if source.schedule_task_id:
            source.schedule_task.delete()
    Source.objects.all().delete()
    IdentityRule.objects.all().delete()
    ConsentPurpose.objects.all().delete()


def test_applying_an_export_to_an_empty_database_gives_back_the_same_file(
    configured, tmp_path, monkeypatch
):
    text = _export()
    _empty_the_configuration()
    monkeypatch.setenv("CDP_SOURCE_SHOP_DATABASE_PASSWORD", "new-db-password")
    monkeypatch.setenv("CDP_DESTINATION_OUR_HOOKS_SIGNING_SECRET", "new-signing-secret")

    output = _apply(_write(tmp_path, text))

    assert "+ create destinations “Our hooks”: secrets from " in output
    assert "Applied." in output
    assert _export() == text
    hooks = Destination.objects.get(name="Our hooks")
    assert secrets_decrypt(hooks.secrets_encrypted) == {"signing_secret": "new-signing-secret"}
    shop_db = Source.objects.get(name="Shop database")
    assert secrets_decrypt(shop_db.secrets_encrypted) == {"password": "new-db-password"}
    assert shop_db.schedule_task.crontab.hour == "4"
    assert shop_db.schedule_task.crontab.minute == "30"
    pro_or_trial = Segment.objects.get(name="Pro or trial")
    pro = Segment.objects.get(name="Pro")
    assert pro_or_trial.definition["conditions"][0]["segment"] == pro.pk
    assert Source.objects.get(name="Website").write_key != configured["tracking"].write_key


def test_dry_run_prints_the_plan_and_writes_nothing(configured, tmp_path):
    document = yaml.safe_load(_export())
    document["consent_purposes"].append({"key": "ads", "name": "Advertising"})
    document["segments"][0]["description"] = "Paying customers."
    document["audience_syncs"][0]["schedule"] = "realtime"
    before, text = _counts(), _export()

    output = _apply(_write(tmp_path, document), "--dry-run")

    assert "+ create consent_purposes “ads”" in output
    assert "~ update segments “Pro” (description)" in output
    assert "~ update audience_syncs “Pro → Our hooks” (schedule)" in output
    assert "Plan: 1 to create, 2 to update, 0 to delete" in output
    assert "Pro or trial" not in output
    assert "Dry run: nothing was written." in output
    assert _counts() == before
    assert _export() == text

    _apply(_write(tmp_path, document))
    assert ConsentPurpose.objects.filter(key="ads").exists()
    assert Segment.objects.get(name="Pro").description == "Paying customers."
    assert AudienceSync.objects.get().mode == AudienceSync.Mode.REALTIME
    exported = yaml.safe_load(_export())
    assert exported["segments"] == document["segments"]
    assert exported["audience_syncs"] == document["audience_syncs"]


def test_an_invalid_file_is_refused_whole_with_the_path_of_each_problem(
    configured, tmp_path, monkeypatch
):
    monkeypatch.delenv("MISSING_KEY", raising=False)
    document = yaml.safe_load(_export())
    document["consent_purposes"].append({"key": "ads", "name": "Advertising"})
    document["identity_rules"].append({"kind": "phone", "limit": 0, "blocked_values": ["("]})
    document["segments"].append(
        {"name": "Broken", "definition": {"match": "all", "conditions": [{"type": "trait"}]}}
    )
    document["segments"].append(
        {"name": "Lost", "definition": {"conditions": [{"type": "segment", "segment": "Nope"}]}}
    )
    document["destinations"].append(
        {
            "name": "Mailchimp",
            "kind": "mailchimp_list",
            "config": {"list_id": "abc"},
            "secrets": {"api_key": {"env": "MISSING_KEY"}},
        }
    )
    document["destinations"].append(
        {
            "name": "Leaky",
            "kind": "webhook",
            "config": {"url": "https://x.example"},
            "secrets": {"signing_secret": "in-the-file"},
        }
    )
    document["audience_syncs"].append({"segment": "Pro", "destination": "Nowhere"})
    document["audience_syncs"][0]["consent_purpose"] = "unknown_purpose"
    before, text = _counts(), _export()

    with pytest.raises(CommandError) as raised:
        _apply(_write(tmp_path, document))

    message = str(raised.value)
    for expected in (
        "identity_rules[1].limit: Must be from 1 to 10000.",
        "identity_rules[1].blocked_values[0]: Not a regular expression",
        "segments[2].definition.conditions.0.trait: Choose a trait.",
        "segments[3].definition.conditions.0.segment: There is no segment “Nope”",
        "destinations[1].secrets.api_key: Needs a secret: set the environment variable "
        "MISSING_KEY.",
        "destinations[2].secrets.signing_secret: A secret is given as {env: VARIABLE_NAME}",
        "audience_syncs[1].destination: There is no destination “Nowhere”",
        "audience_syncs[0].consent_purpose: There is no consent purpose “unknown_purpose”.",
    ):
        assert expected in message
    assert _counts() == before
    assert _export() == text


@pytest.mark.parametrize(
    ("text", "expected"),
    [
        ("sources: [\n", "Not valid YAML"),
        ("- a list\n", "(top): The file must be a mapping of sections."),
        ("sauces: []\n", "sauces: Unknown section"),
        ("segments: {name: x}\n", "segments: A section is a list of objects."),
        ("consent_purposes:\n- {key: ads, name: A}\n- {key: ads, name: B}\n", "is also at"),
        ("identity_rules:\n- {kind: email, limt: 3}\n", "identity_rules[0].limt: Unknown field"),
        ("version: 2\n", "version: This deployment reads version 1 files."),
    ],
)
def test_a_malformed_file_says_where(db, tmp_path, text, expected):
    with pytest.raises(CommandError) as raised:
        _apply(_write(tmp_path, text))
    assert expected in str(raised.value)


def test_objects_missing_from_the_file_are_deleted_only_with_prune(configured, tmp_path):
    document = yaml.safe_load(_export())
    document["audience_syncs"] = []
    document["segments"] = [s for s in document["segments"] if s["name"] == "Pro"]
    path = _write(tmp_path, document)

    assert "0 to delete" in _apply(path)
    assert Segment.objects.filter(name="Pro or trial").exists()
    assert AudienceSync.objects.exists()

    output = _apply(path, "--prune")
    assert "- delete segments “Pro or trial”" in output
    assert "- delete audience_syncs “Pro → Our hooks”" in output
    assert not Segment.objects.filter(name="Pro or trial").exists()
    assert not AudienceSync.objects.exists()
    assert Segment.objects.filter(name="Pro").exists()


def test_prune_leaves_the_sections_the_file_does_not_have(configured, tmp_path):
    _apply(_write(tmp_path, {"consent_purposes": [{"key": "ads", "name": "Ads"}]}), "--prune")
    assert list(ConsentPurpose.objects.values_list("key", flat=True)) == ["ads"]
    assert Segment.objects.count() == 2
    assert Destination.objects.count() == 1


def test_a_source_with_events_is_not_pruned(configured, tmp_path):
    EventFactory(source_id=configured["tracking"].pk)
    document = yaml.safe_load(_export())
    document["sources"] = [s for s in document["sources"] if s["name"] != "Website"]
    with pytest.raises(CommandError) as raised:
        _apply(_write(tmp_path, document), "--prune")
    assert "sources: “Website” cannot be deleted: it has events" in str(raised.value)
    assert Source.objects.filter(name="Website").exists()


def test_an_existing_secret_is_kept_when_its_object_changes(configured, tmp_path, monkeypatch):
    monkeypatch.setenv("CDP_DESTINATION_OUR_HOOKS_SIGNING_SECRET", "another-secret")
    document = yaml.safe_load(_export())
    document["destinations"][0]["config"]["batch_size"] = 100
    document["destinations"][0]["teams"] = []

    output = _apply(_write(tmp_path, document))

    assert "~ update destinations “Our hooks” (config, teams)" in output
    hooks = Destination.objects.get(name="Our hooks")
    assert hooks.config["batch_size"] == 100
    assert secrets_decrypt(hooks.secrets_encrypted) == {"signing_secret": WEBHOOK_SECRET}
    assert yaml.safe_load(_export())["destinations"][0]["teams"] == []


def test_a_new_destination_without_its_secret_is_reported_as_needing_one(db, tmp_path):
    document = {
        "destinations": [{"name": "Hooks", "kind": "webhook", "config": {"url": "https://x.io"}}]
    }
    with pytest.raises(CommandError) as raised:
        _apply(_write(tmp_path, document))
    assert "destinations[0].secrets: Needs the secret “signing_secret”" in str(raised.value)
    assert not Destination.objects.exists()


def test_a_bad_reference_is_reported_at_its_path_with_the_definitions_other_problems(db, tmp_path):
    document = {
        "segments": [
            {
                "name": "Loyal",
                "definition": {
                    "conditions": [
                        {"type": "segment", "segment": 3},
                        {"type": "trat"},
                        {"type": "segment", "segment": "Nobody"},
                    ]
                },
            }
        ]
    }
    with pytest.raises(CommandError) as raised:
        _apply(_write(tmp_path, document))
    message = str(raised.value)
    assert "The configuration has 3 problem(s)" in message
    for expected in (
        "segments[0].definition.conditions.0.segment: Refer to segments by name, not by id (3).",
        "segments[0].definition.conditions.1.type: Unknown condition type 'trat'.",
        "segments[0].definition.conditions.2.segment: There is no segment “Nobody”",
    ):
        assert expected in message


def test_segments_refer_to_each_other_by_name_and_cycles_are_refused(db, tmp_path):
    document = {
        "segments": [
            {"name": "A", "definition": {"conditions": [{"type": "segment", "segment": "B"}]}},
            {"name": "B", "definition": {"conditions": [{"type": "segment", "segment": "A"}]}},
        ]
    }
    with pytest.raises(CommandError) as raised:
        _apply(_write(tmp_path, document))
    assert (
        "segments[0].definition.conditions.0.segment: This would make the segment include "
        "itself (through “B” → “A”)."
    ) in str(raised.value)
    assert not Segment.objects.exists()

    document["segments"][1]["definition"] = _definition("pro")
    _apply(_write(tmp_path, document))
    a, b = Segment.objects.get(name="A"), Segment.objects.get(name="B")
    assert a.definition["conditions"][0]["segment"] == b.pk


def test_a_kind_cannot_change_and_a_schedule_can(configured, tmp_path):
    document = yaml.safe_load(_export())
    shop = next(s for s in document["sources"] if s["name"] == "Shop database")
    shop["schedule"] = "every 15 minutes"
    _apply(_write(tmp_path, document))
    source = Source.objects.get(name="Shop database")
    assert source.schedule == Source.Schedule.MINUTES
    assert source.schedule_task.interval.every == 15

    shop["kind"] = "mysql_table"
    with pytest.raises(CommandError) as raised:
        _apply(_write(tmp_path, document))
    assert "a kind cannot change" in str(raised.value)


def test_prune_refuses_to_take_along_objects_of_a_section_the_file_lacks(configured, tmp_path):
    document = yaml.safe_load(_export())
    del document["audience_syncs"]
    document["destinations"] = []
    with pytest.raises(CommandError) as raised:
        _apply(_write(tmp_path, document), "--prune")
    assert (
        "destinations: “Our hooks” cannot be deleted: audience_syncs “Pro → Our hooks” use it, "
        "and the file has no audience_syncs section."
    ) in str(raised.value)
    assert Destination.objects.exists()


def test_segment_shares_follow_the_file(configured, tmp_path):
    UserFactory(username="wes")
    document = yaml.safe_load(_export())
    pro = next(s for s in document["segments"] if s["name"] == "Pro")
    pro["shared_with"] = {"groups": {"growth team": "view"}, "users": {"wes": "edit"}}

    output = _apply(_write(tmp_path, document))

    assert "~ update segments “Pro” (shared_with)" in output
    segment = Segment.objects.get(name="Pro")
    wes, vic = (get_user_model().objects.get(username=n) for n in ("wes", "vic"))
    assert wes.has_perm("segments.change_segment", segment)
    assert not vic.has_perm("segments.view_segment", segment)
    assert yaml.safe_load(_export())["segments"] == document["segments"]

    pro["shared_with"] = {"groups": {"nobody's team": "view"}}
    with pytest.raises(CommandError) as raised:
        _apply(_write(tmp_path, document))
    assert "segments[0].shared_with.groups: There is no group “nobody's team” here." in str(
        raised.value
    )


def test_the_readme_example_applies(db, tmp_path, monkeypatch):
    readme = (Path(__file__).resolve().parents[2] / "README.md").read_text(encoding="utf-8")
    section = readme[readme.index("## Configuration as code") :]
    example = section[
        section.index("```yaml\n") + 8 : section.index("\n```", section.index("```yaml"))
    ]
    UserFactory(username="olga")
    Group.objects.create(name="growth team")
    monkeypatch.setenv("MAILCHIMP_KEY", "0123456789abcdef-us6")

    output = _apply(_write(tmp_path, example))

    assert "Plan: 3 to create, 0 to update, 0 to delete" in output
    sync = AudienceSync.objects.get()
    assert (sync.segment.name, sync.destination.name, sync.mode) == (
        "Pro",
        "Newsletter",
        "realtime",
    )
    assert "0 to create, 0 to update" in _apply(_write(tmp_path, example))


def test_a_source_of_a_kind_no_connector_knows_is_exported_and_refused_on_apply(db, tmp_path):
    Source.objects.create(name="Legacy", kind="no_such_connector", config={"a": 1})
    document = yaml.safe_load(_export())
    assert document["sources"] == [
        {"name": "Legacy", "kind": "no_such_connector", "enabled": True, "config": {"a": 1}}
    ]
    document["sources"].append({"name": "Other", "kind": "no_such_connector"})
    with pytest.raises(CommandError) as raised:
        _apply(_write(tmp_path, document))
    assert "sources[1].kind: There is no connector of kind “no_such_connector”." in str(
        raised.value
    )
