"""The raw SQL helpers: values come back exactly as the ORM and `json` give them, bulk writes
store what the ORM would, on PostgreSQL and on SQLite."""

import datetime as dt
import json

import pytest
from django.db import IntegrityError, connection

from cdp_site import db
from profiles.models import Identity, Profile

on_postgresql = pytest.mark.skipif(
    connection.vendor != "postgresql", reason="the helpers' SQL is PostgreSQL's"
)


def test_dumps_writes_what_only_the_standard_library_can():
    at = dt.datetime(2026, 1, 1, 12, 0, 0, 5, tzinfo=dt.UTC)
    assert json.loads(db.dumps([at, {"n": 2**70}])) == [
        "2026-01-01T12:00:00.000005+00:00",
        {"n": 2**70},
    ]
    assert json.loads(db.dumps({1: "a"})) == {"1": "a"}


def test_bigint_array_and_timestamp():
    assert db.bigint_array([3, 1, 2]) == "{3,1,2}"
    assert db.bigint_array([]) == "{}"
    assert db.timestamp(None) is None
    assert db.timestamp("2026-01-01T12:00:00.1+00:00") == dt.datetime(
        2026, 1, 1, 12, 0, 0, 100000, tzinfo=dt.UTC
    )


@on_postgresql
@pytest.mark.django_db
def test_select_returns_what_the_orm_returns():
    at = dt.datetime(2026, 1, 1, 12, 0, 0, 123456, tzinfo=dt.UTC)
    profile = Profile.objects.create(
        traits={"big": 2**70, "name": "Zoë"}, trait_meta={}, first_seen=at, last_seen=at
    )
    rows = db.select(
        "SELECT id, traits, first_seen, merged_into_id FROM profiles_profile "
        "WHERE id = ANY(%s::bigint[])",
        [db.bigint_array([profile.pk])],
    )
    orm = Profile.objects.values("id", "traits", "first_seen", "merged_into_id").get()
    assert [{**rows[0], "first_seen": db.timestamp(rows[0]["first_seen"])}] == [orm]
    assert db.timestamp(rows[0]["first_seen"]).tzinfo is orm["first_seen"].tzinfo


@on_postgresql
@pytest.mark.django_db
def test_select_orders_and_answers_an_empty_list():
    Profile.objects.bulk_create([Profile(traits={"n": n}) for n in (2, 1, 3)])
    rows = db.select("SELECT traits ->> 'n' AS n FROM profiles_profile", order="t.n DESC")
    assert [row["n"] for row in rows] == ["3", "2", "1"]
    assert db.select("SELECT id FROM profiles_profile WHERE false") == []


@on_postgresql
@pytest.mark.django_db(transaction=True)
def test_execute_raises_djangos_errors():
    profile = Profile.objects.create()
    with pytest.raises(IntegrityError):
        db.execute(
            "INSERT INTO profiles_profile (id, traits, trait_meta, created_at, updated_at) "
            "SELECT (r ->> 0)::bigint, '{}', '{}', now(), now() "
            "FROM jsonb_array_elements(%s::jsonb) AS r",
            [db.dumps([[profile.pk]])],
        )


@pytest.mark.django_db
def test_rows_insert_returning_ids_gives_each_row_its_id_in_order():
    at = dt.datetime(2026, 1, 1, 12, 0, 0, 123456, tzinfo=dt.UTC)
    ids = db.rows_insert_returning_ids(
        Profile,
        ("traits", "trait_meta", "first_seen", "last_seen"),
        [({"n": n, "big": 2**70}, {}, at, None) for n in (1, 2, 3)],
        constants={"created_at": at, "updated_at": at},
    )
    assert ids == sorted(ids)
    stored = Profile.objects.order_by("pk").values_list("pk", "traits", "first_seen", "last_seen")
    assert list(stored) == [
        (pk, {"n": n, "big": 2**70}, at, None) for pk, n in zip(ids, (1, 2, 3), strict=True)
    ]
    assert db.rows_insert_returning_ids(Profile, ("traits",), []) == []


@pytest.mark.django_db
def test_rows_insert_counts_and_skips_conflicts():
    at = dt.datetime(2026, 1, 1, tzinfo=dt.UTC)
    profile = Profile.objects.create()
    columns = ("kind", "value", "profile_id", "first_seen")
    rows = [("email", "a@x.io", profile.pk, at), ("email", "b@x.io", profile.pk, at)]
    constants = {"last_seen": at}
    assert db.rows_insert(Identity, columns, rows, constants=constants) == 2
    again = [("email", "b@x.io", profile.pk, at), ("email", "c@x.io", profile.pk, at)]
    assert db.rows_insert(Identity, columns, again, constants=constants, skip_conflicts=True) == 1
    assert (
        db.rows_insert(
            Identity, columns, again, constants=constants, skip_conflicts=("kind", "value")
        )
        == 0
    )
    assert list(Identity.objects.order_by("pk").values_list("value", "last_seen")) == [
        ("a@x.io", at),
        ("b@x.io", at),
        ("c@x.io", at),
    ]
    assert db.rows_insert(Identity, columns, []) == 0


@pytest.mark.django_db(transaction=True)
def test_rows_insert_raises_on_a_conflict_it_was_not_told_to_skip():
    at = dt.datetime(2026, 1, 1, tzinfo=dt.UTC)
    profile = Profile.objects.create()
    row = ("email", "a@x.io", profile.pk, at, at)
    columns = ("kind", "value", "profile_id", "first_seen", "last_seen")
    db.rows_insert(Identity, columns, [row])
    with pytest.raises(IntegrityError):
        db.rows_insert(Identity, columns, [row])
    assert Identity.objects.count() == 1


@pytest.mark.django_db
def test_rows_update_sets_each_row_its_own_values():
    at = dt.datetime(2026, 1, 1, tzinfo=dt.UTC)
    first, second, _untouched = (Profile.objects.create(traits={"n": n}) for n in range(3))
    db.rows_update(
        Profile,
        ["traits", "last_seen", "merged_into_id"],
        [(first.pk, {"n": "one"}, at, None), (second.pk, {"n": "two"}, None, first.pk)],
    )
    assert list(
        Profile.objects.order_by("pk").values_list("traits", "last_seen", "merged_into_id")
    ) == [({"n": "one"}, at, None), ({"n": "two"}, None, first.pk), ({"n": 2}, None, None)]


@pytest.mark.django_db
def test_like_escape_matches_wildcards_literally():
    Profile.objects.bulk_create(
        [Profile(traits={"name": name}) for name in ("100% a_b\\", "1000 axb")]
    )
    with connection.cursor() as cursor:
        cursor.execute(
            "SELECT count(*) FROM profiles_profile WHERE CAST(traits AS text) LIKE %s ESCAPE '\\'",
            [f"%{db.like_escape('0% a_b')}%"],
        )
        assert cursor.fetchone()[0] == 1
    assert db.like_escape("a%b_c\\") == "a\\%b\\_c\\\\"


@on_postgresql
@pytest.mark.django_db(transaction=True)
def test_heavy_query_transaction_turns_jit_off_for_its_transaction_only():
    def setting(name):
        with connection.cursor() as cursor:
            cursor.execute(f"SHOW {name}")
            return cursor.fetchone()[0]

    before = (setting("jit"), setting("work_mem"))
    with db.heavy_query_transaction():
        assert (setting("jit"), setting("work_mem")) == ("off", "64MB")
    assert (setting("jit"), setting("work_mem")) == before
