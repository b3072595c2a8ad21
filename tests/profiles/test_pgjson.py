"""The JSON-in, JSON-out helpers: values come back exactly as the ORM and `json` give them."""

import datetime as dt
import json

import pytest
from django.db import IntegrityError, connection

from profiles import pgjson
from profiles.models import Profile

on_postgresql = pytest.mark.skipif(
    connection.vendor != "postgresql", reason="the helpers' SQL is PostgreSQL's"
)


@pytest.mark.parametrize(
    "text",
    [
        '{"a": 1, "b": [1.5, "x", null, true], "c": {"d": "é"}}',
        '{"big": 123456789012345678901234567890}',  # orjson alone would make this a float
        '{"huge": 1e400}',  # orjson alone refuses this; the standard library reads infinity
        '{"id": "0000000000000000000123"}',  # a long digit run inside a string
        "[]",
    ],
)
def test_loads_reads_as_the_standard_library(text):
    assert pgjson.loads(text) == json.loads(text)
    assert type(pgjson.loads(text)) is type(json.loads(text))


def test_loads_keeps_big_integers_exact():
    value = pgjson.loads('{"n": 123456789012345678901}')["n"]
    assert value == 123456789012345678901
    assert isinstance(value, int)


def test_dumps_writes_what_only_the_standard_library_can():
    at = dt.datetime(2026, 1, 1, 12, 0, 0, 5, tzinfo=dt.UTC)
    assert json.loads(pgjson.dumps([at, {"n": 2**70}])) == [
        "2026-01-01T12:00:00.000005+00:00",
        {"n": 2**70},
    ]
    assert json.loads(pgjson.dumps({1: "a"})) == {"1": "a"}


def test_bigint_array_and_timestamp():
    assert pgjson.bigint_array([3, 1, 2]) == "{3,1,2}"
    assert pgjson.bigint_array([]) == "{}"
    assert pgjson.timestamp(None) is None
    assert pgjson.timestamp("2026-01-01T12:00:00.1+00:00") == dt.datetime(
        2026, 1, 1, 12, 0, 0, 100000, tzinfo=dt.UTC
    )


@on_postgresql
@pytest.mark.django_db
def test_select_returns_what_the_orm_returns():
    at = dt.datetime(2026, 1, 1, 12, 0, 0, 123456, tzinfo=dt.UTC)
    profile = Profile.objects.create(
        traits={"big": 2**70, "name": "Zoë"}, trait_meta={}, first_seen=at, last_seen=at
    )
    rows = pgjson.select(
        "SELECT id, traits, first_seen, merged_into_id FROM profiles_profile "
        "WHERE id = ANY(%s::bigint[])",
        [pgjson.bigint_array([profile.pk])],
    )
    orm = Profile.objects.values("id", "traits", "first_seen", "merged_into_id").get()
    assert [{**rows[0], "first_seen": pgjson.timestamp(rows[0]["first_seen"])}] == [orm]
    assert pgjson.timestamp(rows[0]["first_seen"]).tzinfo is orm["first_seen"].tzinfo


@on_postgresql
@pytest.mark.django_db
def test_select_orders_and_answers_an_empty_list():
    Profile.objects.bulk_create([Profile(traits={"n": n}) for n in (2, 1, 3)])
    rows = pgjson.select("SELECT traits ->> 'n' AS n FROM profiles_profile", order="t.n DESC")
    assert [row["n"] for row in rows] == ["3", "2", "1"]
    assert pgjson.select("SELECT id FROM profiles_profile WHERE false") == []


@on_postgresql
@pytest.mark.django_db(transaction=True)
def test_execute_raises_djangos_errors():
    profile = Profile.objects.create()
    with pytest.raises(IntegrityError):
        pgjson.execute(
            "INSERT INTO profiles_profile (id, traits, trait_meta, created_at, updated_at) "
            "SELECT (r ->> 0)::bigint, '{}', '{}', now(), now() "
            "FROM jsonb_array_elements(%s::jsonb) AS r",
            [pgjson.dumps([[profile.pk]])],
        )
