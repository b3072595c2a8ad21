"""Journeys turned into action: run a funnel or a path under a time budget, and create the
segments a person asks for from them (the people who dropped out at a step, an RFM group).
"""

from __future__ import annotations

import datetime as dt

from django.db import OperationalError, connection, transaction

from profiles.scores.rfm import GROUPS

from ..models import Segment
from ..services import segment_create
from .spec import Funnel, JourneyError, Path
from .sql import funnel_run, path_run

# A funnel or path a person asks for runs at most this long (PostgreSQL), then says so.
TIME_BUDGET_SECONDS = 30

# The condition that reads a score from the computed values (`profiles.ProfileComputed`): the
# segment definition's "computed" condition, with a trait condition's key, operator and value.
RFM_GROUP_KEY = "rfm_group"


def _budgeted(run, spec):
    try:
        with transaction.atomic():
            if connection.vendor == "postgresql":
                with connection.cursor() as cursor:
                    cursor.execute("SET LOCAL jit = off")
                    cursor.execute("SET LOCAL work_mem = '64MB'")
                    cursor.execute(f"SET LOCAL statement_timeout = '{TIME_BUDGET_SECONDS}s'")
            return run(spec)
    except OperationalError as exc:
        if "statement timeout" in str(exc) or "canceling statement" in str(exc):
            raise JourneyError(
                f"This took longer than {TIME_BUDGET_SECONDS} seconds: choose a shorter period "
                "or a segment.",
                field="start",
            ) from exc
        raise


def funnel_answer_for(funnel: Funnel) -> list[dict]:
    """The funnel's steps with counts, conversion from the step before and from the entry,
    people who dropped out after each, and the median time from the step before."""
    rows = _budgeted(funnel_run, funnel)
    entered = rows[0]["reached"] if rows else 0
    answer = []
    for index, row in enumerate(rows):
        previous = rows[index - 1]["reached"] if index else row["reached"]
        following = rows[index + 1]["reached"] if index + 1 < len(rows) else None
        answer.append(
            {
                **row,
                "event": funnel.steps[index].event,
                "where": funnel.steps[index].where,
                "from_previous": (row["reached"] / previous) if previous else 0.0,
                "from_entry": (row["reached"] / entered) if entered else 0.0,
                "dropped": None if following is None else row["reached"] - following,
            }
        )
    return answer


def path_answer_for(path: Path) -> dict:
    return _budgeted(path_run, path)


def _event_condition(step, window: dict, *, none: bool = False) -> dict:
    condition = {"type": "event", "event": step.event, "where": list(step.where), "window": window}
    if none:
        condition["count"] = {"operator": "at_most", "value": 0}
    return condition


def funnel_dropped_segment_create(*, user, funnel: Funnel, step: int) -> Segment:
    """A segment of the people who did steps 1..`step` in the funnel's period and not the step
    after it by the end of the conversion window.

    A segment definition has no notion of event order, so the segment reads: did each of steps
    1..`step` (step 1 in the period, the others by the end of the window after it), did not do
    step `step`+1 by then, and is in the funnel's segment. It is the funnel's drop-out without
    the order of the steps, as the segment's description says.
    """
    if not 1 <= step < len(funnel.steps):
        raise JourneyError("Choose a step that has a step after it.", field="step")
    period = funnel.period
    entry = {"from": period.start.isoformat(), "to": period.end.isoformat()}
    later = {
        "from": period.start.isoformat(),
        "to": (period.end + dt.timedelta(days=funnel.window_days)).isoformat(),
    }
    conditions = [_event_condition(funnel.steps[0], entry)]
    conditions += [_event_condition(s, later) for s in funnel.steps[1:step]]
    conditions.append(_event_condition(funnel.steps[step], later, none=True))
    if funnel.segment_id is not None:
        conditions.append({"type": "segment", "segment": funnel.segment_id})
    names = " → ".join(s.event for s in funnel.steps[: step + 1])
    return segment_create(
        user=user,
        name=f"Dropped before {funnel.steps[step].event} ({period.start} to {period.end})"[:200],
        description=(
            f"From the funnel {names}: people who did {funnel.steps[step - 1].event} and then not "
            f"{funnel.steps[step].event} within {funnel.window_days} days. As a segment it does "
            "not check the order of the steps, so its count can differ slightly from the funnel's."
        ),
        definition={"match": "all", "negate": False, "conditions": conditions},
    )


def rfm_group_definition(group: str) -> dict:
    return {
        "match": "all",
        "negate": False,
        "conditions": [
            {"type": "computed", "trait": RFM_GROUP_KEY, "operator": "equals", "value": group}
        ],
    }


def rfm_group_segment_create(*, user, group: str) -> Segment:
    """A segment of the customers in one RFM group (see `profiles.scores.rfm`)."""
    if group not in GROUPS:
        raise JourneyError(f"There is no RFM group {group!r}.", field="group")
    return segment_create(
        user=user,
        name=f"RFM: {group}",
        description=f"Customers in the RFM group {group}: {GROUPS[group]}",
        definition=rfm_group_definition(group),
    )
