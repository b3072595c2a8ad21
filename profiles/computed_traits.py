"""Computed traits: definitions people create, their validation, and their computation.

A definition (`ComputedTrait`) names a kind of computation over a profile's events (a counter, a
sum, the last value of a property...); `computed_traits_compute` runs every definition as one
set-based SELECT (`profiles.computed_sql`) and merges the values into `ProfileComputed`, for
every profile on a schedule, or for the profiles that just received events. A definition that
fails is recorded on itself and skipped; the others still compute.
"""

from __future__ import annotations

import re
import time
from collections.abc import Iterable

from django.db import DatabaseError, transaction
from django.utils import timezone

from cdp_site.errors import InvalidInputError

from . import computed_sql
from .aggregates import aggregates_built, aggregates_rebuild
from .computed_sql import Scope, Spec
from .links import links_exist, stored_ids_of
from .models import ComputedTrait

Kind = ComputedTrait.Kind
KEY_PATTERN = re.compile(r"^[a-z][a-z0-9_]{0,63}$")
# Keys other writers of `ProfileComputed` own (the scores).
RESERVED_KEYS = frozenset(
    {"rfm_recency", "rfm_frequency", "rfm_monetary", "rfm_group", "churn_probability"}
)
FILTER_OPERATORS = {
    "equals": "is",
    "not_equals": "is not",
    "contains": "contains",
    "greater_than": ">",
    "greater_or_equal": "≥",
    "less_than": "<",
    "less_or_equal": "≤",
    "is_set": "is set",
    "is_not_set": "is not set",
}
NUMBER_FILTERS = ("greater_than", "greater_or_equal", "less_than", "less_or_equal")
MAX_FILTERS = 10
MAX_WINDOW_DAYS = 36500

BUILTINS: tuple[dict, ...] = (
    {"key": "order_count", "name": "Orders", "kind": Kind.EVENT_COUNT, "event": "Order Completed"},
    {
        "key": "lifetime_value",
        "name": "Lifetime value",
        "kind": Kind.SUM,
        "event": "Order Completed",
        "property": "revenue",
    },
    {
        "key": "average_order_value",
        "name": "Average order value",
        "kind": Kind.AVERAGE,
        "event": "Order Completed",
        "property": "revenue",
    },
    {
        "key": "first_order_at",
        "name": "First order",
        "kind": Kind.FIRST_TIME,
        "event": "Order Completed",
    },
    {
        "key": "last_order_at",
        "name": "Last order",
        "kind": Kind.LAST_TIME,
        "event": "Order Completed",
    },
    {"key": "last_seen_at", "name": "Last seen", "kind": Kind.LAST_TIME, "event": ""},
    {
        "key": "days_since_last_seen",
        "name": "Days since last seen",
        "kind": Kind.DAYS_SINCE_LAST,
        "event": "",
    },
)


def value_type(kind: str) -> str:
    """The type of a kind's values, as the segment builder names types."""
    if kind in (Kind.FIRST_TIME, Kind.LAST_TIME):
        return "date"
    if kind in (Kind.FIRST_VALUE, Kind.LAST_VALUE, Kind.MOST_FREQUENT):
        return "string"
    return "number"


def _is_number(value: object) -> bool:
    return isinstance(value, int | float) and not isinstance(value, bool)


def definition_errors(data: dict, *, instance: ComputedTrait | None = None) -> dict[str, str]:
    """Field -> message for everything wrong with a definition's fields; empty when valid."""
    errors: dict[str, str] = {}
    key = str(data.get("key") or "").strip()
    if instance is None or instance.key != key:
        if not KEY_PATTERN.match(key):
            errors["key"] = (
                "Use lower-case letters, digits and underscores, starting with a letter "
                "(at most 64)."
            )
        elif key in RESERVED_KEYS:
            errors["key"] = "That key belongs to a score."
        elif ComputedTrait.objects.filter(key=key).exists():
            errors["key"] = "A computed trait with this key exists."
    if not str(data.get("name") or "").strip():
        errors["name"] = "Give it a name."
    kind = data.get("kind")
    if kind not in Kind.values:
        errors["kind"] = "Choose what to compute."
    event = str(data.get("event") or "").strip()
    if kind in computed_sql.PROPERTY_KINDS and not event:
        errors["event"] = "Choose the event whose property is read."
    if kind in computed_sql.PROPERTY_KINDS and not str(data.get("property") or "").strip():
        errors["property"] = "Choose a property."
    window = data.get("window_days")
    if window not in (None, ""):
        if not isinstance(window, int) or isinstance(window, bool):
            errors["window_days"] = "Enter a whole number of days."
        elif not 1 <= window <= MAX_WINDOW_DAYS:
            errors["window_days"] = f"Days must be from 1 to {MAX_WINDOW_DAYS}."
    where = data.get("where") or []
    if not isinstance(where, list) or len(where) > MAX_FILTERS:
        errors["where"] = f"Give at most {MAX_FILTERS} property filters."
        return errors
    for index, item in enumerate(where):
        problem = _filter_problem(item)
        if problem:
            errors[f"where.{index}"] = problem
    return errors


def _filter_problem(item: object) -> str | None:
    if not isinstance(item, dict) or not str(item.get("property") or "").strip():
        return "Choose a property."
    operator = item.get("operator")
    if operator not in FILTER_OPERATORS:
        return "Choose how to compare."
    value = item.get("value")
    if operator in ("is_set", "is_not_set"):
        return None
    if operator in NUMBER_FILTERS:
        if not _is_number(value) or abs(value) >= computed_sql.MAX_NUMBER:
            return "Enter a number."
        return None
    if operator == "contains":
        return None if isinstance(value, str) and value else "Enter some text."
    if isinstance(value, str) and value:
        return None
    if _is_number(value) and abs(value) < computed_sql.MAX_NUMBER:
        return None
    return "Enter a value."


def _clean(data: dict) -> dict:
    kind = data["kind"]
    window = data.get("window_days")
    return {
        "name": str(data["name"]).strip(),
        "description": str(data.get("description") or "").strip(),
        "kind": kind,
        "event": str(data.get("event") or "").strip(),
        "property": (
            str(data.get("property") or "").strip() if kind in computed_sql.PROPERTY_KINDS else ""
        ),
        "where": [
            {
                "property": str(w["property"]).strip(),
                "operator": w["operator"],
                **({} if w["operator"] in ("is_set", "is_not_set") else {"value": w.get("value")}),
            }
            for w in data.get("where") or []
        ],
        "window_days": window if window not in (None, "") else None,
    }


def computed_trait_create(*, data: dict, user=None) -> ComputedTrait:
    """Create a definition; its values are computed by the next run (queued at commit)."""
    errors = definition_errors(data)
    if errors:
        field, message = next(iter(errors.items()))
        raise InvalidInputError(message, field=field)
    with transaction.atomic():
        trait = ComputedTrait.objects.create(
            key=str(data["key"]).strip(),
            created_by=user if getattr(user, "is_authenticated", False) else None,
            **_clean(data),
        )
        transaction.on_commit(lambda: _compute_one_queue(trait.pk))
    return trait


def computed_trait_update(*, trait: ComputedTrait, data: dict) -> ComputedTrait:
    """Change a definition (not its key); its values are recomputed (queued at commit)."""
    data = {**data, "key": trait.key}
    errors = definition_errors(data, instance=trait)
    if errors:
        field, message = next(iter(errors.items()))
        raise InvalidInputError(message, field=field)
    with transaction.atomic():
        for name, value in _clean(data).items():
            setattr(trait, name, value)
        trait.save()
        transaction.on_commit(lambda: _compute_one_queue(trait.pk))
    return trait


def computed_trait_delete(*, trait: ComputedTrait) -> None:
    """Delete a definition and its values from every profile."""
    with transaction.atomic():
        key = trait.key
        trait.delete()
        if computed_sql.computed_supported():
            computed_sql.key_remove(key)


def _compute_one_queue(trait_id: int) -> None:
    from cdp_site.celery import task_publish

    from .tasks import computed_traits_compute_task

    task_publish(computed_traits_compute_task, [trait_id])


def computed_traits_compute(
    *,
    profile_ids: Iterable[int] | None = None,
    trait_ids: Iterable[int] | None = None,
    now=None,
) -> dict:
    """Compute the definitions (all, or `trait_ids`) for every live profile, or for
    `profile_ids`; returns {"profiles": rows written, "seconds": duration, "failed": [keys]}.

    A full run (no `profile_ids`) records on each definition when it ran, how long its query
    took and how its values are spread; it first builds the event aggregates if they are
    missing, since the built-in traits read them.
    """
    if not computed_sql.computed_supported():
        return {"profiles": 0, "seconds": 0.0, "failed": []}
    started = time.perf_counter()
    now = now or timezone.now()
    full = profile_ids is None
    if full and not aggregates_built():
        aggregates_rebuild()
    traits = ComputedTrait.objects.all().order_by("pk")
    if trait_ids is not None:
        traits = traits.filter(pk__in=list(trait_ids))
    traits = list(traits)
    ids = None if profile_ids is None else sorted(set(profile_ids))
    if not traits or ids == []:
        return {"profiles": 0, "seconds": 0.0, "failed": []}
    totals = aggregates_built()
    with transaction.atomic():
        scope = Scope(
            profile_ids=ids,
            stored_ids=None if ids is None else stored_ids_of(ids),
            linked=links_exist(),
            now=now,
        )
        computed_sql.stage_create()
        done, failed, timings = [], [], {}
        for trait in traits:
            spec = Spec.of(trait)
            began = time.perf_counter()
            try:
                with transaction.atomic():
                    computed_sql.stage_insert(spec, scope, totals=totals)
            except DatabaseError as exc:
                failed.append((trait, str(exc).splitlines()[0][:500]))
                continue
            timings[trait.pk] = time.perf_counter() - began
            done.append((trait, spec))
        written = computed_sql.stage_merge([spec for _t, spec in done], scope) if done else 0
        if ids is not None:
            computed_sql.merged_away_forget(ids)
        merge_seconds = time.perf_counter() - started - sum(timings.values())
        if full:
            for trait, _spec in done:
                trait.last_computed_at = now
                # Its own query, and its share of the one write that merged every value.
                trait.last_duration_ms = round(
                    (timings[trait.pk] + merge_seconds / len(done)) * 1000
                )
                trait.last_error = ""
                trait.distribution = computed_sql.distribution(trait.key, value_type(trait.kind))
                trait.last_profiles = trait.distribution.get("total", 0)
                trait.save(
                    update_fields=[
                        "last_computed_at",
                        "last_duration_ms",
                        "last_error",
                        "distribution",
                        "last_profiles",
                    ]
                )
        for trait, message in failed:
            ComputedTrait.objects.filter(pk=trait.pk).update(last_error=message)
    return {
        "profiles": written,
        "seconds": time.perf_counter() - started,
        "failed": [trait.key for trait, _m in failed],
    }
