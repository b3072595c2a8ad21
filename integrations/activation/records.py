"""The records a batch carries: each profile's identifiers and its traits as the sync's field
mapping names them, read for the whole batch in two queries."""

from django.db.models.fields.json import KeyTransform

from profiles.models import Identity, Profile

from ..connectors.base import AudienceRecord
from .plan import RECORD_IDENTIFIER_KINDS


def _mapped(traits: dict, identifiers: dict, field_mapping: dict) -> dict:
    mapped = {}
    for field, spec in field_mapping.items():
        if not isinstance(spec, str) or ":" not in spec:
            continue
        where, key = spec.split(":", 1)
        if where == "trait":
            value = traits.get(key)
        elif where == "identifier":
            values = identifiers.get(key) or []
            value = values[0] if values else None
        else:
            continue
        if value is not None:
            mapped[field] = value
    return mapped


def audience_records(
    profile_ids: list[int], field_mapping: dict, *, id_query=None
) -> list[AudienceRecord]:
    """One record per profile id (in the order given); a profile that no longer exists (erased)
    gets a record with no identifiers and no traits.

    `id_query`, a subquery of the same ids, spares sending thousands of ids as parameters (whose
    quoting cost more than the queries)."""
    wanted = profile_ids if id_query is None else id_query
    # Only the mapped traits travel from the database, not each profile's whole JSON.
    keys = sorted(
        {spec.split(":", 1)[1] for spec in field_mapping.values() if spec.startswith("trait:")}
    )
    columns = {f"t{i}": KeyTransform(key, "traits") for i, key in enumerate(keys)}
    traits = {
        row[0]: dict(zip(keys, row[1:], strict=True))
        for row in Profile.objects.filter(pk__in=wanted)
        .annotate(**columns)
        .values_list("pk", *columns)
    }
    identifiers: dict[int, dict[str, list[str]]] = {}
    rows = (
        Identity.objects.filter(profile_id__in=wanted, kind__in=RECORD_IDENTIFIER_KINDS)
        .order_by()
        .values_list("profile_id", "kind", "value")
    )
    # Sorted here rather than by the database: the same order every time, at less cost.
    for profile_id, kind, value in sorted(rows):
        identifiers.setdefault(profile_id, {}).setdefault(kind, []).append(value)
    records = []
    for profile_id in profile_ids:
        found = identifiers.get(profile_id, {})
        records.append(
            AudienceRecord(
                profile_id=profile_id,
                identifiers={kind: found.get(kind, []) for kind in RECORD_IDENTIFIER_KINDS},
                traits=_mapped(traits.get(profile_id) or {}, found, field_mapping),
            )
        )
    return records
