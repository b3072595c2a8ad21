"""What the customer 360 says and how: names from traits, nested traits as a list of parts,
short dates with the full time on hover, the merge history, and search inside e-mails."""

import datetime as dt

import pytest
from django.db import connection

from profiles.identity import events_resolve_pending
from profiles.models import Profile, ProfileMerge
from profiles.services import profile_merge_undo
from profiles.trait_display import trait_parts, trait_text
from tests.factories import EventFactory, merged_pair

pytestmark = pytest.mark.django_db

T0 = dt.datetime(2025, 3, 1, 8, 0, tzinfo=dt.UTC)


@pytest.fixture
def rosa():
    EventFactory(
        type="identify",
        anonymous_id="a-r",
        user_id="rosa-1",
        traits={
            "email": "rosa.silva@example.com",
            "name": "Rosa Silva",
            "address": {"city": "Lisbon", "country": "PT", "geo": {"lat": 38.7}},
            "interests": ["shoes", "bags"],
        },
        timestamp=T0,
    )
    events_resolve_pending()
    return Profile.objects.get(merged_into__isnull=True)


def test_nested_traits_read_as_parts_by_dotted_path():
    value = {"country": "PT", "city": "Lisbon", "geo": {"lat": 38.7, "lon": None}}
    assert trait_parts(value) == [
        ("city", "Lisbon"),
        ("country", "PT"),
        ("geo.lat", "38.7"),
        ("geo.lon", "—"),
    ]
    assert trait_text(["shoes", "bags"]) == "shoes, bags"
    assert trait_text(True) == "true"
    assert trait_text([{"a": 1}]) == '[{"a": 1}]'


def test_profile_page_shows_nested_traits_as_a_list_and_short_dates(
    rosa, support_agent, client_for
):
    body = client_for(support_agent).get(f"/customers/{rosa.pk}/").content.decode()
    assert '<dl class="kv"><dt>city</dt><dd>Lisbon</dd><dt>country</dt><dd>PT</dd>' in body
    assert "<dt>geo.lat</dt><dd>38.7</dd>" in body
    assert "{&quot;city&quot;" not in body  # no raw JSON
    assert "shoes, bags" in body
    # A short date in the cell, the full time in its title.
    assert 'title="2025-03-01 08:00:00 UTC">1 Mar 2025 08:00</time>' in body
    # The e-mail may break at its "@" only (two unbreakable parts), the whole of it on hover.
    assert 'title="rosa.silva@example.com"><span>rosa.silva</span><span>@example.com</span>' in body


def test_a_profile_without_a_name_is_called_by_its_email(support_agent, client_for):
    merge = merged_pair(T0)
    profile_merge_undo(merge=merge, user=support_agent)
    restored = Profile.objects.get(pk=merge.loser_id)
    body = client_for(support_agent).get(f"/customers/{restored.pk}/").content.decode()
    assert f"Profile {restored.pk}" not in body
    named = Profile.objects.exclude(pk=restored.pk).get(merged_into__isnull=True)
    title = "m@x.io" if named.traits.get("email") else f"Profile #{named.pk}"
    assert title in client_for(support_agent).get(f"/customers/{named.pk}/").content.decode()


def test_a_profile_with_nothing_to_name_it_is_profile_and_its_id(support_agent, client_for):
    profile = Profile.objects.create(traits={})
    body = client_for(support_agent).get(f"/customers/{profile.pk}/").content.decode()
    assert f'Profile <span class="muted">#{profile.pk}</span>' in body
    assert f"Profile {profile.pk} #" not in body


def test_merge_history_says_when_the_merging_event_happened_and_what_matched(
    support_agent, marketer, client_for
):
    merge = merged_pair(T0)
    # Ingested (and merged) today; the event that joined the two happened two days after T0.
    assert merge.merged_at.date() != (T0 + dt.timedelta(2)).date()
    url = f"/customers/{merge.winner_id}/"
    body = client_for(support_agent).get(url).content.decode()
    history = body[body.index("Merge history") :]
    assert "3 Mar 2025 08:00" in history
    assert "<code>m@x.io</code>" in history
    masked = client_for(marketer).get(url).content.decode()
    history = masked[masked.index("Merge history") :]
    assert "m@x.io" not in history
    assert "<code>m***@x.io</code>" in history


def test_merge_history_offers_undo_behind_a_confirmation_page(support_agent, client_for):
    merge = merged_pair(T0)
    body = client_for(support_agent).get(f"/customers/{merge.winner_id}/").content.decode()
    assert f'href="/customers/merges/{merge.pk}/undo/">Undo merge…</a>' in body
    assert 'method="post" action="/customers/merges/' not in body
    assert not ProfileMerge.objects.get().undone


@pytest.mark.parametrize("part", ["silva", "SILVA", "a.sil", "osa.s"])
def test_search_by_part_of_an_email_local_part(rosa, support_agent, client_for, part):
    EventFactory(type="identify", user_id="other-2", traits={"email": "someone@silvashop.example"})
    events_resolve_pending()
    body = client_for(support_agent).get("/customers/", {"q": part}).content.decode()
    assert f"/customers/{rosa.pk}/" in body


def test_search_inside_emails_is_not_offered_to_masked_roles(rosa, marketer, client_for):
    body = client_for(marketer).get("/customers/", {"q": "a.sil"}).content.decode()
    assert f"/customers/{rosa.pk}/" not in body


def test_search_inside_emails_needs_three_letters_and_not_the_domain(
    rosa, support_agent, client_for
):
    client = client_for(support_agent)
    assert f"/customers/{rosa.pk}/" not in client.get("/customers/", {"q": "a."}).content.decode()
    found = client.get("/customers/", {"q": "xample"}).content.decode()
    assert f"/customers/{rosa.pk}/" not in found


@pytest.mark.parametrize("query", [" ", "     ", "\t \t"])
def test_a_search_of_only_spaces_says_so(support_agent, client_for, query):
    body = client_for(support_agent).get("/customers/", {"q": query}).content.decode()
    assert "spaces alone find no one" in body
    assert "No customer matches" not in body


def test_search_inside_emails_reads_the_trigram_index(rosa):
    """With many e-mails (below a few thousand a scan is cheaper), a rare part is looked up in
    the trigram index of local parts, not found by reading every identity."""
    if connection.vendor != "postgresql":
        pytest.skip("PostgreSQL only: the trigram index")
    with connection.cursor() as cursor:
        cursor.execute(
            "INSERT INTO profiles_identity (profile_id, kind, value, first_seen, last_seen) "
            "SELECT %s, CASE WHEN n %% 2 = 0 THEN 'email' ELSE 'user_id' END, "
            "md5(n::text) || CASE WHEN n %% 2 = 0 THEN '@shop.example' ELSE '' END, now(), now() "
            "FROM generate_series(1, 100000) AS n",
            [rosa.pk],
        )
        cursor.execute("ANALYZE profiles_identity")
        cursor.execute(
            "EXPLAIN SELECT profile_id FROM profiles_identity WHERE kind = 'email' "
            "AND split_part(value, '@', 1) LIKE %s LIMIT 20",
            ["%silva%"],
        )
        plan = "\n".join(row[0] for row in cursor.fetchall())
    assert "identity_email_local_trgm" in plan
