"""The difference an audience sync run delivers, computed set-based in the database.

wanted  = the segment's current members with consent for the sync's purpose, less suppressed
          people (erased, whose identifiers came back) and restricted ones (who restricted or
          objected to processing: no marketing activation), each with the hash of what a record
          of theirs would carry (mapped traits and identifiers);
entered = wanted minus what the destination holds with the same hash (added, or changed);
exited  = held minus wanted.

Both go into `AudiencePlanEntry` in one INSERT ... SELECT, numbered into batches, when the run
starts: a run that resumes after its worker died delivers the same batches under the same batch
ids. The members, consent and profile tables are read through their apps' querysets (the SQL of
`segments.selectors.segment_member_ids`, `compliance.selectors.consent_granted_profile_ids`,
`compliance.selectors.restricted_profile_ids` and the profiles' models), never named here.
Who is left out is counted by reason; who was sent before and is left out now exits.
"""

from dataclasses import dataclass

from django.db import connection
from django.db.models import Aggregate, Count, F, OuterRef, Subquery, TextField, Value
from django.db.models.expressions import RawSQL
from django.db.models.fields.json import KT
from django.db.models.functions import MD5, Cast, Coalesce, Concat, JSONObject

from compliance.selectors import (
    consent_granted_profile_ids,
    consent_purpose_names,
    restricted_profile_ids,
    suppressed_profile_ids_among,
)
from profiles.models import Identity, Profile
from segments.selectors import segment_member_ids

from ..models import AudiencePlanEntry, AudienceSync, AudienceSyncMember, DeadLetter

# The identifier kinds a record carries (AudienceRecord.identifiers).
RECORD_IDENTIFIER_KINDS = ("email", "phone", "user_id", "anonymous_id")


class _IdentifierList(Aggregate):
    """The identifiers of a profile as one sorted text (for the hash): STRING_AGG on
    PostgreSQL, GROUP_CONCAT elsewhere (unsorted there: at worst a record is sent again)."""

    function = "GROUP_CONCAT"
    output_field = TextField()

    def as_postgresql(self, compiler, connection, **extra):
        sql, params = compiler.compile(self.get_source_expressions()[0])
        return f"STRING_AGG({sql}, ',' ORDER BY {sql})", (*params, *params)


def mapping_traits(field_mapping: dict) -> dict[str, str]:
    """{destination field: trait key} of the mapping's trait entries."""
    return {
        field: spec.split(":", 1)[1]
        for field, spec in sorted(field_mapping.items())
        if isinstance(spec, str) and spec.startswith("trait:")
    }


LEFT_OUT_SUPPRESSED = "suppressed"
LEFT_OUT_RESTRICTED = "restricted"


def consented_profiles(sync: AudienceSync):
    """The segment's members with consent for the sync's purpose."""
    members = Profile.objects.filter(pk__in=segment_member_ids(sync.segment_id))
    if sync.consent_purpose:
        members = members.filter(pk__in=consent_granted_profile_ids(sync.consent_purpose))
    return members.order_by()


def suppressed_members(sync: AudienceSync) -> set[int]:
    """The segment's members on the suppression list (read once per run)."""
    return suppressed_profile_ids_among(segment_member_ids(sync.segment_id))


def wanted_profiles(sync: AudienceSync, suppressed: set[int] | None = None):
    """The profiles the destination should hold: the members with consent, neither suppressed
    nor restricted. `suppressed`: `suppressed_members(sync)` when the caller has it already."""
    if suppressed is None:
        suppressed = suppressed_members(sync)
    wanted = consented_profiles(sync).exclude(pk__in=restricted_profile_ids())
    if suppressed:
        wanted = wanted.exclude(pk__in=sorted(suppressed))
    return wanted


def record_hash(field_mapping: dict):
    """The hash of what a profile's record carries: its mapped traits and its identifiers."""
    traits = mapping_traits(field_mapping)
    traits_text = (
        Cast(
            JSONObject(**{f"f{i}": KT(f"traits__{key}") for i, key in enumerate(traits.values())}),
            TextField(),
        )
        if traits
        else Value("")
    )
    identifiers = (
        Identity.objects.filter(profile_id=OuterRef("pk"), kind__in=RECORD_IDENTIFIER_KINDS)
        .order_by()
        .values("profile_id")
        .annotate(ids=_IdentifierList(Concat(F("kind"), F("value"), output_field=TextField())))
        .values("ids")
    )
    return MD5(
        Concat(
            traits_text,
            Value("|"),
            Coalesce(Subquery(identifiers), Value(""), output_field=TextField()),
            output_field=TextField(),
        )
    )


def candidates(sync: AudienceSync):
    """The profiles of `stale` with the hash of their record now.

    Read inside the plan's statement, where `wanted` (the members to hold, computed once)
    and `stale` (the wanted profiles the destination does not hold, or that changed since they
    were sent: `updated_at`, which every write of the profiles app sets) are common tables.
    Hashing only these keeps a run after a small change small, whatever the audience's size.
    """
    return (
        Profile.objects.filter(pk__in=RawSQL("SELECT wanted_id FROM stale", ()))
        .order_by()
        .annotate(record_hash=record_hash(sync.field_mapping))
        .values_list("pk", "record_hash")
    )


@dataclass(frozen=True)
class Plan:
    entered: int
    exited: int
    batches: int
    members: int
    left_out: dict[str, int]  # reason -> people left out


def plan_build(*, sync: AudienceSync, run_id: int, batch_size: int) -> Plan:
    """Write the run's difference as numbered entries (see the module docstring); the counts.

    Call it in the run's transaction: the entries and the checkpoint saying they exist commit
    together.
    """
    changed_sql, changed_params = candidates(sync).query.sql_with_params()
    suppressed = suppressed_members(sync)
    wanted_sql, wanted_params = (
        wanted_profiles(sync, suppressed)
        .annotate(wanted_id=F("pk"), wanted_at=F("updated_at"))
        .values("wanted_id", "wanted_at")
        .query.sql_with_params()
    )
    quote = connection.ops.quote_name
    held = quote(AudienceSyncMember._meta.db_table)
    plan = quote(AudiencePlanEntry._meta.db_table)
    dead = quote(DeadLetter._meta.db_table)
    # A record waiting in the dead-letter list is held back until an admin replays it.
    waiting = (
        f"NOT EXISTS (SELECT 1 FROM {dead} dl WHERE dl.sync_id = %s "  # noqa: S608
        "AND dl.profile_id = {alias}.profile_id AND dl.status = 'pending')"
    )
    # Our own tables by name, the other apps' through their querysets' SQL; values as parameters.
    # `wanted` (the members to hold) is computed once and read three times: by the candidates,
    # by the exits and, on PostgreSQL, for the count of people to hold.
    ctes = (
        f"WITH wanted AS MATERIALIZED ({wanted_sql}), "  # noqa: S608
        f"stale AS (SELECT w.wanted_id FROM wanted w WHERE NOT EXISTS (SELECT 1 FROM {held} h "
        "WHERE h.sync_id = %s AND h.profile_id = w.wanted_id AND h.sent_at >= w.wanted_at "
        "AND h.hash <> '')), "
        f"changed (profile_id, hash) AS ({changed_sql}) "
    )
    insert = (
        f"INSERT INTO {plan} (run_id, batch, action, profile_id, hash) "  # noqa: S608
        "SELECT %s, (ROW_NUMBER() OVER (ORDER BY d.action, d.profile_id) - 1) / %s, "
        "d.action, d.profile_id, d.hash FROM ("
        "SELECT 'e' AS action, w.profile_id AS profile_id, w.hash AS hash FROM changed w "
        f"WHERE NOT EXISTS (SELECT 1 FROM {held} h WHERE h.sync_id = %s "
        f"AND h.profile_id = w.profile_id AND h.hash = w.hash) AND {waiting.format(alias='w')} "
        "UNION ALL "
        f"SELECT 'x', h.profile_id, '' FROM {held} h WHERE h.sync_id = %s "
        "AND NOT EXISTS (SELECT 1 FROM wanted w WHERE w.wanted_id = h.profile_id) "
        f"AND {waiting.format(alias='h')}"
        ") d"
    )
    params = [
        *wanted_params,
        sync.pk,
        *changed_params,
        run_id,
        batch_size,
        sync.pk,
        sync.pk,
        sync.pk,
        sync.pk,
    ]
    with connection.cursor() as cursor:
        if connection.vendor == "postgresql":
            cursor.execute(
                f"{ctes}, planned AS ({insert} RETURNING 1) SELECT count(*) FROM wanted",  # noqa: S608
                params,
            )
            wanted = cursor.fetchone()[0]
        else:
            cursor.execute(ctes + insert, params)
            wanted = wanted_profiles(sync, suppressed).count()
    counts = dict(
        AudiencePlanEntry.objects.filter(run_id=run_id)
        .order_by()
        .values("action")
        .annotate(n=Count("id"))
        .values_list("action", "n")
    )
    entered = counts.get(AudiencePlanEntry.Action.ENTER, 0)
    exited = counts.get(AudiencePlanEntry.Action.EXIT, 0)
    members = segment_member_ids(sync.segment_id).count()
    left_out = {}
    # Each person left out is counted once: under no consent first, then suppressed, then
    # restricted.
    consented = consented_profiles(sync)
    suppressed_n = consented.filter(pk__in=sorted(suppressed)).count() if suppressed else 0
    restricted_n = 0
    if restricted_profile_ids().exists():
        restricted = consented.filter(pk__in=restricted_profile_ids())
        if suppressed:
            restricted = restricted.exclude(pk__in=sorted(suppressed))
        restricted_n = restricted.count()
    no_consent = members - wanted - suppressed_n - restricted_n
    if no_consent:
        name = consent_purpose_names([sync.consent_purpose]).get(
            sync.consent_purpose, sync.consent_purpose
        )
        left_out[f"no consent for {name}"] = no_consent
    if suppressed_n:
        left_out[LEFT_OUT_SUPPRESSED] = suppressed_n
    if restricted_n:
        left_out[LEFT_OUT_RESTRICTED] = restricted_n
    held_back = (
        DeadLetter.objects.filter(sync=sync, status=DeadLetter.Status.PENDING)
        .values("profile_id")
        .distinct()
        .count()
    )
    if held_back:
        left_out["waiting in the dead-letter list"] = held_back
    batches = -(-(entered + exited) // batch_size)
    return Plan(entered, exited, batches, members, left_out)
