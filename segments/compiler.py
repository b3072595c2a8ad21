"""The one segment compiler: a definition becomes one SQL query over profiles, through the ORM.

Every consumer (the builder's live count, saved membership, the API, exports)
goes through `segment_queryset`; `explain` evaluates each condition of a definition for a single
profile. The SQL runs unchanged on PostgreSQL and SQLite.

Semantics, mirrored by the reference evaluator in the tests:
- Trait and property values are JSON. Text operators match JSON strings only, ignoring case;
  numeric operators match JSON numbers only (a string "42" or a boolean never matches and never
  raises); date operators match strings that begin with an ISO date (`YYYY-MM-DD...`) and compare
  them by calendar day in UTC.
- A key with dots (`address.country`) is a path into nested objects, unless the object holds
  that key itself (then the key is read as it is); a path never steps into a list. A key
  without dots compiles exactly as before (`column -> key`).
- A negative operator is `NOT` of its positive, so `not_equals` matches a missing trait too.
- An event condition counts the profile's events of that name inside the window that pass every
  property filter, with the events still stored under profiles merged into it (a
  merged-away profile's `ProfileLink` names the live one until its events have moved);
  `at_most`/`exactly` include zero. Event counts of 2 or more are computed as a grouped set
  (`profile_id IN (... GROUP BY ... HAVING COUNT(*) >= n)`), which the database can hash once
  instead of counting per profile.
- Where the event aggregates (`profiles.aggregates`) give exactly the same answer, an event
  condition without property filters reads them instead of the raw events: per profile and
  event, the count and the last time answer "ever" counts and "at least once in the last N days";
  per profile, event and UTC day, the counts answer windows of whole days. Raw events answer
  everything else (among them a window that starts inside a day and asks for 2 or more
  events), and everything while the aggregates are not built or some merged-away profile
  still holds events (a link).
- A computed condition tests a computed trait or score (`ProfileComputed.values`) as a trait
  condition tests a trait; a profile without computed values has none set.
- Consent: the latest record for the profile and purpose is a grant.
- A segment condition inlines the referenced segment's definition, so the answer is always
  current and never depends on the order in which saved segments were refreshed.
- An empty `all` group matches everyone; an empty `any` group matches no one.
- Merged-away profiles are never members.
"""

from __future__ import annotations

import datetime as dt
import json
from collections.abc import Callable, Iterable
from dataclasses import dataclass, field
from decimal import Decimal

from django.db.models import (
    BooleanField,
    Count,
    Exists,
    Expression,
    F,
    OuterRef,
    Q,
    QuerySet,
    Sum,
)
from django.db.models.functions import Coalesce
from django.utils import timezone

from cdp_site.db import like_escape
from compliance.selectors import consent_granted_profile_ids
from profiles.models import (
    Event,
    EventDayAggregate,
    EventTotal,
    Identity,
    Profile,
    ProfileComputed,
)
from profiles.selectors import (
    event_aggregates_ready,
    profile_links_exist,
    profiles_stored_ids,
)

from .definition import NEGATIVE_OPERATORS, DefinitionError, parse_date, segment_references
from .selectors import segment_definition_lookup

SegmentLookup = Callable[[int], dict | None]
# The start of a text that is a date: year, month 01-12, day 01-31.
DATE_PATTERN = r"^[0-9]{4}-(0[1-9]|1[0-2])-(0[1-9]|[12][0-9]|3[01])"


@dataclass
class _Context:
    now: dt.datetime
    lookup: SegmentLookup
    profile_ids: list[int] | None = None
    trail: tuple[int, ...] = ()
    cache: dict[int, dict | None] = field(default_factory=dict)
    _stored_ids: list[int] | None = None
    _linked: bool | None = None
    _aggregates: bool | None = None

    def aggregates(self) -> bool:
        """Whether the event aggregates may answer (asked once per compilation)."""
        if self._aggregates is None:
            self._aggregates = event_aggregates_ready() and not self.linked()
        return self._aggregates

    def linked(self) -> bool:
        """Whether some merged-away profile still holds events (asked once per compilation)."""
        if self._linked is None:
            self._linked = profile_links_exist()
        return self._linked

    def stored_ids(self) -> list[int]:
        """The profile ids the events of `profile_ids` are stored under (one look-up)."""
        if self._stored_ids is None:
            self._stored_ids = profiles_stored_ids(profile_ids=self.profile_ids or [])
        return self._stored_ids

    def definition_of(self, segment_id: int) -> dict | None:
        if segment_id not in self.cache:
            self.cache[segment_id] = self.lookup(segment_id)
        return self.cache[segment_id]


class _Raw(Expression):
    """A boolean SQL constant (`1=1` / `1=0`), which unlike an empty Q() survives `|` and `~`."""

    output_field = BooleanField()
    conditional = True

    def __init__(self, value: bool):
        super().__init__()
        self.value = value

    def as_sql(self, compiler, connection):
        return ("1=1" if self.value else "1=0"), []


TRUE = _Raw(True)
FALSE = _Raw(False)


class JsonTest(Expression):
    """`<operator applied to json_column[key]>`; never raises.

    With `strict`, wrapped in `COALESCE(..., FALSE)` so it is never NULL either: needed under a
    NOT, where NULL would make `NOT (...)` drop the row. Elsewhere a WHERE treats NULL as false,
    and the bare predicate keeps the planner's row estimates (and so its plans) good.
    """

    output_field = BooleanField()
    conditional = True

    def __init__(
        self,
        column: str | Expression,
        key: str,
        operator: str,
        value,
        today: dt.date,
        strict: bool = True,
    ):
        super().__init__()
        self.strict = strict
        self.column = F(column) if isinstance(column, str) else column
        self.key = key
        self.operator = NEGATIVE_OPERATORS.get(operator, operator)
        self.value = value
        self.today = today
        if operator in NEGATIVE_OPERATORS:
            raise ValueError("JsonTest takes positive operators; negate the Q instead.")

    def get_source_expressions(self):
        return [self.column]

    def set_source_expressions(self, exprs):
        (self.column,) = exprs

    def resolve_expression(
        self, query=None, allow_joins=True, reuse=None, summarize=False, for_save=False
    ):
        clone = self.copy()
        clone.column = self.column.resolve_expression(
            query, allow_joins, reuse, summarize, for_save
        )
        return clone

    def as_sql(self, compiler, connection):
        column_sql, column_params = compiler.compile(self.column)
        parts = key_path(self.key)
        if connection.vendor == "postgresql":
            # The value: `column -> key`; for a dotted path, the key itself if the object has
            # it, else the walk through nested objects (`->` with a text key never indexes an
            # array, so a path only ever goes through objects, as on SQLite).
            value, value_params = f"({column_sql} -> %s)", [*column_params, self.key]
            if parts:
                steps = " -> ".join(["%s"] * len(parts))
                value = f"COALESCE({column_sql} -> %s, {column_sql} -> {steps})"
                value_params = [*column_params, self.key, *column_params, *parts]
            typ = f"jsonb_typeof({value})"
            typ_params = value_params
            if parts:
                txt, txt_params = f"({value} #>> '{{}}')", value_params
            else:
                txt, txt_params = f"({column_sql} ->> %s)", [*column_params, self.key]
            is_string, is_number = f"{typ} = 'string'", f"{typ} = 'number'"
            # numeric, not double precision: exact for 64-bit ids and never out of range for a
            # long number a customer sent (the ingest keeps them exact).
            num = f"(CASE WHEN {is_number} THEN {value}::numeric END)"
            num_params = [*typ_params, *value_params]
            is_true = (f"{value} = 'true'::jsonb", value_params)
            is_false = (f"{value} = 'false'::jsonb", value_params)
        else:
            path_sql, path_params = "%s", ["$." + json.dumps(self.key)]
            if parts:
                nested = "$." + ".".join(json.dumps(part) for part in parts)
                path_sql = f"(CASE WHEN json_type({column_sql}, %s) IS NULL THEN %s ELSE %s END)"
                path_params = [*column_params, path_params[0], nested, path_params[0]]
            typ = f"json_type({column_sql}, {path_sql})"
            typ_params = [*column_params, *path_params]
            txt = f"json_extract({column_sql}, {path_sql})"
            txt_params = [*column_params, *path_params]
            is_string, is_number = f"{typ} = 'text'", f"{typ} IN ('integer', 'real')"
            num = f"(CASE WHEN {is_number} THEN {txt} END)"
            num_params = [*typ_params, *txt_params]
            is_true = (f"{typ} = 'true'", typ_params)
            is_false = (f"{typ} = 'false'", typ_params)

        def string_test(sql: str, params: list) -> tuple[str, list]:
            return f"({is_string} AND {sql})", [*typ_params, *params]

        def date_test(sql: str, params: list) -> tuple[str, list]:
            # A real month and day, so "2024-13-45" (or a legacy "0000-00-00") is no date.
            match = "~" if connection.vendor == "postgresql" else "REGEXP"
            return string_test(f"{txt} {match} %s AND {sql}", [*txt_params, DATE_PATTERN, *params])

        def like(pattern: str) -> tuple[str, list]:
            return string_test(f"LOWER({txt}) LIKE %s ESCAPE '\\'", [*txt_params, pattern])

        op, value = self.operator, self.value
        number = _exact if connection.vendor == "postgresql" else (lambda v: v)
        if op == "is_set":
            sql, params = f"({typ} IS NOT NULL AND {typ} <> 'null')", [*typ_params, *typ_params]
        elif op == "is_true":
            sql, params = is_true
        elif op == "is_false":
            sql, params = is_false
        elif op in ("equals", "in"):
            values = value if op == "in" else [value]
            strings = [v.lower() for v in values if isinstance(v, str)]
            numbers = [v for v in values if _is_number(v)]
            parts, params = [], []
            if strings:
                marks = ", ".join(["%s"] * len(strings))
                s_sql, s_params = f"LOWER({txt}) IN ({marks})", [*txt_params, *strings]
                if any(_could_be_json_text(v) for v in strings):
                    s_sql, s_params = string_test(s_sql, s_params)
                parts.append(s_sql)
                params += s_params
            if numbers:
                marks = ", ".join(["%s"] * len(numbers))
                parts.append(f"{num} IN ({marks})")
                params += [*num_params, *map(number, numbers)]
            sql = "(" + " OR ".join(parts) + ")" if parts else "1=0"
        elif op == "contains":
            sql, params = like("%" + like_escape(str(value).lower()) + "%")
        elif op == "starts_with":
            sql, params = like(like_escape(str(value).lower()) + "%")
        elif op == "ends_with":
            sql, params = like("%" + like_escape(str(value).lower()))
        elif op in ("greater_than", "greater_or_equal", "less_than", "less_or_equal"):
            symbol = {
                "greater_than": ">",
                "greater_or_equal": ">=",
                "less_than": "<",
                "less_or_equal": "<=",
            }[op]
            sql, params = f"{num} {symbol} %s", [*num_params, number(value)]
        elif op == "between":
            low, high = value
            if _is_number(low) and _is_number(high):
                sql, params = f"{num} BETWEEN %s AND %s", [*num_params, number(low), number(high)]
            else:
                start, end = parse_date(low), parse_date(high)
                sql, params = date_test(
                    f"{txt} >= %s AND {txt} < %s",
                    [*txt_params, start.isoformat(), *txt_params, _next_day(end)],
                )
        elif op == "before":
            sql, params = date_test(f"{txt} < %s", [*txt_params, parse_date(value).isoformat()])
        elif op == "after":
            sql, params = date_test(f"{txt} >= %s", [*txt_params, _next_day(parse_date(value))])
        elif op == "within_last_days":
            since = (self.today - dt.timedelta(days=value)).isoformat()
            sql, params = date_test(f"{txt} >= %s", [*txt_params, since])
        elif op == "more_than_days_ago":
            cutoff = (self.today - dt.timedelta(days=value)).isoformat()
            sql, params = date_test(f"{txt} < %s", [*txt_params, cutoff])
        else:  # pragma: no cover - validation rejects unknown operators first
            raise DefinitionError("", f"Unknown operator {op!r}.")
        if self.strict:
            return f"COALESCE(({sql}), FALSE)", params
        return f"({sql})", params


def key_path(key: str) -> list[str] | None:
    """The parts of a dotted path into nested objects (`address.country`), or None for a plain
    key. A key holding the dots itself, when an object has one, is read before the path."""
    if "." not in key:
        return None
    parts = key.split(".")
    return parts if all(parts) else None


def _is_number(value: object) -> bool:
    return isinstance(value, int | float) and not isinstance(value, bool)


def _could_be_json_text(text: str) -> bool:
    """Could `text` be the ->> text of a JSON number, boolean, null, array or object?

    If not, a text comparison cannot match a non-string value, and the type check can go.
    """
    if text in ("true", "false", "null") or text[:1] in ("[", "{"):
        return True
    try:
        float(text)
    except ValueError:
        return False
    return True


def _exact(value: int | float) -> Decimal:
    """A number as PostgreSQL `numeric`: compared with a float, numeric would be cast to float."""
    return Decimal(value) if isinstance(value, int) else Decimal(repr(value))


def _next_day(day: dt.date) -> str:
    return (day + dt.timedelta(days=1)).isoformat()


def _value_q(column: str, node: dict, today: dt.date, strict: bool) -> Q:
    operator = node["operator"]
    positive = NEGATIVE_OPERATORS.get(operator, operator)
    strict = strict or operator in NEGATIVE_OPERATORS
    test = Q(
        JsonTest(
            column,
            node["trait"] if "trait" in node else node["property"],
            positive,
            node.get("value"),
            today,
            strict=strict,
        )
    )
    return ~test if operator in NEGATIVE_OPERATORS else test


def _window_q(window: dict | None, now: dt.datetime) -> Q:
    if not window:
        return Q()
    if "last_days" in window:
        return Q(timestamp__gte=now - dt.timedelta(days=window["last_days"]))
    q = Q()
    if window.get("from"):
        start = parse_date(window["from"])
        q &= Q(timestamp__gte=dt.datetime.combine(start, dt.time.min, tzinfo=dt.UTC))
    if window.get("to"):
        end = parse_date(window["to"]) + dt.timedelta(days=1)
        q &= Q(timestamp__lt=dt.datetime.combine(end, dt.time.min, tzinfo=dt.UTC))
    return q


def _utc_midnight(day: dt.date) -> dt.datetime:
    return dt.datetime.combine(day, dt.time.min, tzinfo=dt.UTC)


def _aggregates_at_least(node: dict, n: int, ctx: _Context, correlated: bool) -> Q | None:
    """`_events_at_least` answered from the event aggregates, or None where they cannot give
    exactly the same answer (property filters) or may not be used (see `_Context.aggregates`)."""
    if node.get("where") or not ctx.aggregates():
        return None
    name, window = node["event"], node.get("window") or {}
    restrict = {} if ctx.profile_ids is None else {"profile_id__in": ctx.profile_ids}
    if not window or ("last_days" in window and n == 1):
        totals = EventTotal.objects.filter(event=name, **restrict)
        if window:
            # At least one event since then: the last one is recent enough.
            totals = totals.filter(last_at__gte=ctx.now - dt.timedelta(days=window["last_days"]))
        if n > 1:
            totals = totals.filter(count__gte=n)
        if correlated:
            return Q(Exists(totals.filter(profile_id=OuterRef("pk"))))
        return Q(pk__in=totals.values("profile_id"))
    if "last_days" in window:
        since = ctx.now - dt.timedelta(days=window["last_days"])
        edge = since.astimezone(dt.UTC).date()
        if since != _utc_midnight(edge):
            # The window starts inside a day: the day aggregates cannot split it. (Adding that
            # day's raw events to the later days' aggregates measured 3x slower than the raw
            # events alone at 10M events, as a union the planner cannot merge into an OR.)
            return None
        # The window starts at midnight: whole days only.
        window = {"from": edge.isoformat()}
    days = EventDayAggregate.objects.filter(event=name, **restrict)
    if window.get("from"):
        days = days.filter(day__gte=parse_date(window["from"]))
    if window.get("to"):
        days = days.filter(day__lte=parse_date(window["to"]))
    if n == 1:
        if correlated:
            return Q(Exists(days.filter(profile_id=OuterRef("pk"))))
        return Q(pk__in=days.values("profile_id"))
    grouped = (
        days.order_by()
        .values("profile_id")
        .annotate(matching=Sum("count"))
        .filter(matching__gte=n)
        .values("profile_id")
    )
    return Q(pk__in=grouped)


def _events_at_least(node: dict, n: int, ctx: _Context, correlated: bool) -> Q:
    """Profiles with at least `n` (>= 1) matching events.

    `correlated` picks `EXISTS (... WHERE profile_id = outer.id)`, which the planner turns into
    an anti-join when negated; otherwise `id IN (SELECT profile_id ...)`, which it can hash once
    even under an OR (where a correlated EXISTS would be run per profile).

    An event counts for the profile it is stored under, or, while that profile is linked
    (merged away with a long history whose events are still being moved), for the live
    profile its link names. Only while some link exists do the queries read through the links:
    the correlated form asks the two questions apart, each through an index (the link's by
    live profile, then the events' by name and profile); the others join the few links to the
    events and take `COALESCE(link.live_id, profile_id)` as the profile. That join costs the
    semi-joins their parallel plans (PostgreSQL has no statistics for the expression), about
    1.5x on the benchmark's largest counts, so it is kept to the minutes a consolidation takes.
    """
    from_aggregates = _aggregates_at_least(node, n, ctx, correlated)
    if from_aggregates is not None:
        return from_aggregates
    events = Event.objects.filter(event=node["event"]).filter(
        _window_q(node.get("window"), ctx.now)
    )
    for item in node.get("where", []):
        # Inside the subquery the filters are only ANDed, so NULL reads as false: not strict.
        events = events.filter(_value_q("properties", item, ctx.now.date(), strict=False))
    if not ctx.linked():
        # Every event is stored under its live profile (the usual state): the plain forms.
        if n == 1 and correlated:
            return Q(Exists(events.filter(profile_id=OuterRef("pk"))))
        if ctx.profile_ids is not None:
            events = events.filter(profile_id__in=ctx.profile_ids)
        events = events.filter(profile_id__isnull=False).order_by()
        if n == 1:
            return Q(pk__in=events.values("profile_id"))
        grouped = (
            events.values("profile_id")
            .annotate(matching=Count("*"))
            .filter(matching__gte=n)
            .values("profile_id")
        )
        return Q(pk__in=grouped)
    if n == 1 and correlated:
        return Q(Exists(events.filter(profile_id=OuterRef("pk")))) | Q(
            Exists(events.filter(profile_link__live_id=OuterRef("pk")))
        )
    if ctx.profile_ids is not None:
        events = events.filter(profile_id__in=ctx.stored_ids())
    events = events.filter(profile_id__isnull=False).order_by()
    live = events.values(live_id=Coalesce("profile_link__live_id", "profile_id"))
    if n == 1:
        return Q(pk__in=live)
    grouped = live.annotate(matching=Count("*")).filter(matching__gte=n).values("live_id")
    return Q(pk__in=grouped)


def _event_q(node: dict, ctx: _Context, strict: bool) -> Q:
    """`strict` (under a NOT): the positive parts get negated, so they take the EXISTS form."""
    count = node.get("count") or {}
    operator, n = count.get("operator", "at_least"), count.get("value", 1)
    if operator == "at_least":
        return Q(TRUE) if n == 0 else _events_at_least(node, n, ctx, correlated=strict)
    if operator == "at_most":
        return _events_fewer_than(node, n + 1, ctx, correlated=not strict)
    if n == 0:
        return _events_fewer_than(node, 1, ctx, correlated=not strict)
    return _events_at_least(node, n, ctx, correlated=strict) & _events_fewer_than(
        node, n + 1, ctx, correlated=not strict
    )


def _events_fewer_than(node: dict, n: int, ctx: _Context, correlated: bool) -> Q:
    """NOT `_events_at_least`, with NOT pushed inside its OR: `NOT EXISTS (own) AND NOT EXISTS
    (linked)` are two anti-joins, where PostgreSQL would test `NOT (EXISTS ... OR EXISTS ...)`
    row by row (it pulls up sublinks before it applies De Morgan's laws)."""
    q = _events_at_least(node, n, ctx, correlated)
    if q.connector == Q.OR and not q.negated:
        negated = Q()
        for child in q.children:
            negated &= ~(child if isinstance(child, Q) else Q(child))
        return negated
    return ~q


def _consent_q(node: dict, strict: bool) -> Q:
    granted = consent_granted_profile_ids(node["purpose"])
    if strict:
        return Q(Exists(granted.filter(profile_id=OuterRef("pk"))))
    return Q(pk__in=granted)


def _identifier_q(node: dict) -> Q:
    identities = Identity.objects.filter(profile_id=OuterRef("pk"), kind=node["kind"])
    operator = node.get("operator")
    if operator:
        positive = NEGATIVE_OPERATORS.get(operator, operator)
        value = node.get("value")
        lookup = {
            "equals": "value__iexact",
            "contains": "value__icontains",
            "starts_with": "value__istartswith",
            "ends_with": "value__iendswith",
        }.get(positive)
        if positive == "in":
            match = Q()
            for item in value:
                match |= Q(value__iexact=str(item))
        else:
            match = Q(**{lookup: str(value)})
        test = Q(Exists(identities.filter(match)))
        return ~test if operator in NEGATIVE_OPERATORS else test
    return Q(Exists(identities))


def _segment_q(node: dict, ctx: _Context, strict: bool) -> Q:
    ref = node["segment"]
    if ref in ctx.trail:
        raise DefinitionError("", "The referenced segments include each other in a loop.")
    definition = ctx.definition_of(ref)
    if definition is None:
        # A deleted segment has no members.
        return Q(FALSE)
    inner = _Context(ctx.now, ctx.lookup, ctx.profile_ids, (*ctx.trail, ref), ctx.cache)
    return _group_q(definition, inner, strict)


def _in_subquery(q: Q):
    """The subquery of a plain `Q(pk__in=<queryset>)`, else None."""
    if q.negated or len(q.children) != 1 or not isinstance(q.children[0], tuple):
        return None
    lookup, value = q.children[0]
    return value if lookup == "pk__in" and isinstance(value, QuerySet) else None


def _group_q(node: dict, ctx: _Context, strict: bool) -> Q:
    children = [_node_q(child, ctx, strict) for child in node.get("conditions", [])]
    if node.get("match", "all") == "any":
        # `id IN (a) OR id IN (b)` -> `id IN (a UNION ALL b)`: one semi-join over the union
        # instead of a hashed subplan per alternative tested on every profile.
        sets = [sq for sq in map(_in_subquery, children) if sq is not None]
        if len(sets) >= 2:
            others = [q for q in children if _in_subquery(q) is None]
            children = [*others, Q(pk__in=sets[0].union(*sets[1:], all=True))]
    if not children:
        q = Q(TRUE) if node.get("match", "all") == "all" else Q(FALSE)
    else:
        q = children[0]
        for child in children[1:]:
            q = (q & child) if node.get("match", "all") == "all" else (q | child)
    return q


def _computed_q(node: dict, ctx: _Context) -> Q:
    """A test of a computed value: a set of profiles whose row passes it; a negative operator is
    NOT of its positive, so it matches profiles without computed values too."""
    operator = node["operator"]
    positive = {**node, "operator": NEGATIVE_OPERATORS.get(operator, operator)}
    rows = ProfileComputed.objects.filter(_value_q("values", positive, ctx.now.date(), False))
    if ctx.profile_ids is not None:
        rows = rows.filter(profile_id__in=ctx.profile_ids)
    test = Q(pk__in=rows.values("profile_id"))
    return ~test if operator in NEGATIVE_OPERATORS else test


def _leaf_q(node: dict, ctx: _Context, strict: bool) -> Q:
    kind = node["type"]
    if kind == "trait":
        return _value_q("traits", node, ctx.now.date(), strict)
    if kind == "computed":
        return _computed_q(node, ctx)
    if kind == "event":
        return _event_q(node, ctx, strict)
    if kind == "consent":
        return _consent_q(node, strict)
    if kind == "identifier":
        return _identifier_q(node)
    if kind == "segment":
        return _segment_q(node, ctx, strict)
    return _group_q(node, ctx, strict)


def _node_q(node: dict, ctx: _Context, strict: bool = False) -> Q:
    """`strict`: the node sits under a NOT, so its predicates must never be NULL."""
    negate = bool(node.get("negate"))
    q = _leaf_q(node, ctx, strict or negate)
    return ~q if node.get("negate") else q


def definition_q(
    definition: dict,
    *,
    now: dt.datetime | None = None,
    segment_lookup: SegmentLookup | None = None,
    profile_ids: Iterable[int] | None = None,
    self_id: int | None = None,
) -> Q:
    """The filter on Profile that a (validated) definition stands for."""
    ctx = _Context(
        now=now or timezone.now(),
        lookup=segment_lookup or segment_definition_lookup,
        profile_ids=None if profile_ids is None else list(profile_ids),
        trail=(self_id,) if self_id is not None else (),
    )
    return _node_q({**definition, "type": "group"}, ctx)


def segment_queryset(
    definition: dict,
    *,
    now: dt.datetime | None = None,
    segment_lookup: SegmentLookup | None = None,
    profile_ids: Iterable[int] | None = None,
    self_id: int | None = None,
) -> QuerySet[Profile]:
    """Profiles (never merged-away ones) matching `definition`, optionally among `profile_ids`."""
    ids = None if profile_ids is None else list(profile_ids)
    profiles = Profile.objects.filter(merged_into__isnull=True)
    if ids is not None:
        profiles = profiles.filter(pk__in=ids)
    return profiles.filter(
        definition_q(
            definition, now=now, segment_lookup=segment_lookup, profile_ids=ids, self_id=self_id
        )
    )


@dataclass
class Explanation:
    """Whether one profile meets one condition (and, for groups, each of its children)."""

    path: str
    label: str
    met: bool
    negate: bool = False
    children: list[Explanation] = field(default_factory=list)


def explain(
    definition: dict,
    profile_id: int,
    *,
    now: dt.datetime | None = None,
    segment_lookup: SegmentLookup | None = None,
) -> Explanation:
    """Evaluate every condition of `definition` for one profile, for "why is this person in?"."""
    from .describe import describe_condition
    from .models import Segment

    names = dict(
        Segment.objects.filter(pk__in=segment_references(definition)).values_list("pk", "name")
    )

    ctx = _Context(
        now=now or timezone.now(),
        lookup=segment_lookup or segment_definition_lookup,
        profile_ids=[profile_id],
    )
    base = Profile.objects.filter(pk=profile_id, merged_into__isnull=True)

    def meets(q: Q) -> bool:
        return base.filter(q).exists()

    def walk(node: dict, path: str) -> Explanation:
        met = meets(_node_q(node, ctx))
        result = Explanation(
            path=path,
            label=describe_condition(node, names),
            met=met,
            negate=bool(node.get("negate")),
        )
        if node.get("type") == "group":
            result.children = [
                walk(child, f"{path}.conditions.{i}" if path else f"conditions.{i}")
                for i, child in enumerate(node.get("conditions", []))
            ]
        return result

    return walk({**definition, "type": "group"}, "")
