"""Pages of journeys (funnels and paths), the segments made from them and from RFM groups, and
the home dashboard's segments panel.

A funnel or path is asked with GET, so its address can be kept and sent; creating a segment is
a POST carrying the same fields.
"""

from django.contrib import messages
from django.shortcuts import redirect, render
from django.urls import reverse
from django.utils import timezone
from django.views.decorators.http import require_GET, require_POST

from cdp_site.dashboard import dashboard_aggregate
from cdp_site.errors import DomainError
from cdp_site.params import positive_id
from cdp_site.roles import Role, role_required

from . import charts as segment_charts
from . import selectors
from .dashboard import AGGREGATE_KEY as SEGMENTS_KEY
from .journeys import charts, services
from .journeys.spec import MAX_STEPS, JourneyError, funnel_parse, path_parse

FILTER_OPERATORS = (
    ("equals", "is"),
    ("not_equals", "is not"),
    ("contains", "contains"),
    ("greater_than", ">"),
    ("less_than", "<"),
    ("is_set", "is set"),
)
NUMBER_OPERATORS = ("greater_than", "less_than")
PANEL_SEGMENTS = 10


def _segment_id(user, raw: str | None) -> int | None:
    """A segment the person may see, from the form; None for everyone."""
    if not raw:
        return None
    segment_id = positive_id(raw)
    if segment_id is None or not selectors.segment_list_for_user(user).filter(pk=segment_id):
        raise JourneyError("Choose one of your segments.", field="segment")
    return segment_id


def _step_rows(data) -> list[dict]:
    """The step rows of the form as typed (for showing them back)."""
    events = data.getlist("event")
    props, ops, values = data.getlist("prop"), data.getlist("op"), data.getlist("value")
    rows = []
    for i in range(MAX_STEPS):
        rows.append(
            {
                "event": events[i] if i < len(events) else "",
                "prop": props[i] if i < len(props) else "",
                "op": ops[i] if i < len(ops) else "equals",
                "value": values[i] if i < len(values) else "",
            }
        )
    return rows


def _filter(row: dict) -> list[dict]:
    if not row["prop"]:
        return []
    operator = row["op"]
    item = {"property": row["prop"], "operator": operator}
    if operator == "is_set":
        return [item]
    value: object = row["value"]
    if operator in NUMBER_OPERATORS:
        try:
            value = float(row["value"])
            value = int(value) if value.is_integer() else value
        except ValueError:
            raise JourneyError(
                f"{row['value']!r} is not a number.", field=f"value.{row['event']}"
            ) from None
    item["value"] = value
    return [item]


def _funnel_from(request, data):
    rows = _step_rows(data)
    steps = [{"event": r["event"], "where": _filter(r)} for r in rows if r["event"]]
    rules = selectors.definition_rules_for(request.user)
    return rows, funnel_parse(
        steps=steps,
        start=data.get("start"),
        end=data.get("end"),
        window_days=data.get("window_days") or 7,
        segment_id=_segment_id(request.user, data.get("segment")),
        today=timezone.now().date(),
        personal=rules["personal"],
    )


def _choices(user) -> dict:
    catalogue = selectors.segment_builder_choices(user)["catalogue"]
    return {
        "events": [f.event or f.path for f in catalogue["events"]],
        "segments": selectors.segment_list_for_user(user).only("pk", "name"),
        "filter_operators": FILTER_OPERATORS,
    }


@role_required(Role.MARKETER)
@require_GET
def funnel(request):
    data = request.GET
    context = {**_choices(request.user), "rows": _step_rows(data), "form": data}
    if "event" in data:
        try:
            context["rows"], spec = _funnel_from(request, data)
            steps = services.funnel_answer_for(spec)
            context.update(
                {
                    "funnel": spec,
                    "steps": steps,
                    "figure": charts.funnel_figure(steps) if steps[0]["reached"] else None,
                    "query": data.urlencode(),
                }
            )
        except DomainError as error:
            context["error"] = error
    return render(request, "segments/journeys_funnel.html", context)


@role_required(Role.MARKETER)
@require_POST
def funnel_dropped(request):
    """Create the segment of the people who dropped out after a step of the funnel."""
    try:
        _rows, spec = _funnel_from(request, request.POST)
        step = positive_id(request.POST.get("step", "")) or 0
        segment = services.funnel_dropped_segment_create(user=request.user, funnel=spec, step=step)
    except DomainError as error:
        messages.error(request, error.message)
        return redirect(f"{reverse('segments:funnel')}?{request.POST.get('query', '')}")
    messages.success(request, f"Segment “{segment.name}” created; its members are being computed.")
    return redirect("segments:detail", segment_id=segment.pk)


@role_required(Role.MARKETER)
@require_GET
def paths(request):
    data = request.GET
    context = {**_choices(request.user), "form": data}
    if data.get("event"):
        try:
            spec = path_parse(
                event=data.get("event"),
                start=data.get("start"),
                end=data.get("end"),
                direction=data.get("direction") or "next",
                depth=data.get("depth") or 3,
                segment_id=_segment_id(request.user, data.get("segment")),
                today=timezone.now().date(),
            )
            answer = services.path_answer_for(spec)
            context.update(
                {
                    "path": spec,
                    "answer": answer,
                    "figure": (
                        charts.sankey_figure(answer, direction=spec.direction, event=spec.event)
                        if answer["links"]
                        else None
                    ),
                }
            )
        except DomainError as error:
            context["error"] = error
    return render(request, "segments/journeys_paths.html", context)


@role_required(Role.MARKETER)
@require_POST
def from_rfm_group(request):
    """Create the segment of the customers in one RFM group."""
    try:
        segment = services.rfm_group_segment_create(
            user=request.user, group=request.POST.get("group", "")
        )
    except DomainError as error:
        messages.error(request, f"The segment could not be created: {error}")
        return redirect("profiles:rfm")
    messages.success(request, f"Segment “{segment.name}” created; its members are being computed.")
    return redirect("segments:detail", segment_id=segment.pk)


@role_required(Role.MARKETER)
@require_GET
def dashboard_panel(request):
    """The home dashboard's segments panel: the largest segments the person may see, and their
    sizes over the last 30 days."""
    aggregate = dashboard_aggregate(SEGMENTS_KEY)
    context = {"aggregate": aggregate}
    if aggregate is not None:
        visible = set(selectors.segment_list_for_user(request.user).values_list("pk", flat=True))
        shown = [s for s in aggregate.value["segments"] if s["id"] in visible][:PANEL_SEGMENTS]
        links = {s["id"]: reverse("segments:detail", args=[s["id"]]) for s in shown}
        context.update(
            {
                "segments": shown,
                "sizes_figure": segment_charts.segment_sizes_figure(shown, links),
                "trends_figure": segment_charts.segment_trends_figure(shown[:5], links),
                "has_trends": any(s["trend"] for s in shown[:5]),
            }
        )
    return render(request, "segments/_dashboard.html", context)
