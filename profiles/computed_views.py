"""Pages of computed traits: the list, a definition's page with its distribution, and the form
that creates or changes one. For marketers (and superusers)."""

from django.contrib import messages
from django.shortcuts import redirect, render
from django.views.decorators.http import require_http_methods, require_POST

from cdp_site.errors import InvalidInputError
from cdp_site.roles import Role, role_required

from . import charts
from .computed_sql import PROPERTY_KINDS, computed_supported
from .computed_traits import (
    FILTER_OPERATORS,
    computed_trait_create,
    computed_trait_delete,
    computed_trait_update,
    definition_errors,
    value_type,
)
from .models import ComputedTrait
from .selectors import computed_trait_get, computed_trait_list_all

FILTER_ROWS = 3


def _trait(trait_id: int) -> ComputedTrait:
    return computed_trait_get(trait_id=trait_id)


def _number(text: str):
    text = text.strip().replace(",", ".")
    try:
        return int(text)
    except ValueError:
        pass
    try:
        return float(text)
    except ValueError:
        return text


def _form_data(post) -> dict:
    """The definition a form post describes (validated by the service)."""
    where = []
    for index in range(FILTER_ROWS):
        prop = post.get(f"where-{index}-property", "").strip()
        if not prop:
            continue
        operator = post.get(f"where-{index}-operator", "equals")
        raw = post.get(f"where-{index}-value", "")
        value = _number(raw) if operator not in ("contains",) else raw.strip()
        if operator in ("equals", "not_equals") and isinstance(value, str):
            value = value.strip()
        where.append({"property": prop, "operator": operator, "value": value})
    window = post.get("window_days", "").strip()
    return {
        "key": post.get("key", "").strip(),
        "name": post.get("name", ""),
        "description": post.get("description", ""),
        "kind": post.get("kind", ""),
        "event": post.get("event", ""),
        "property": post.get("property", ""),
        "window_days": (int(window) if window.isdigit() else window) if window else None,
        "where": where,
    }


def _form_context(data: dict, errors: dict, trait: ComputedTrait | None) -> dict:
    rows = list(data.get("where") or [])
    rows += [{"property": "", "operator": "equals", "value": ""}] * (FILTER_ROWS - len(rows))
    return {
        "data": data,
        "errors": errors,
        "trait": trait,
        "kinds": ComputedTrait.Kind.choices,
        "property_kinds": list(PROPERTY_KINDS),
        "filter_rows": [
            {"index": i, **row, "error": errors.get(f"where.{i}", "")} for i, row in enumerate(rows)
        ],
        "filter_operators": list(FILTER_OPERATORS.items()),
    }


@role_required(Role.MARKETER)
def computed_trait_list(request):
    traits = computed_trait_list_all()
    for trait in traits:
        trait.value_type = value_type(trait.kind)
    return render(
        request,
        "profiles/computed_trait_list.html",
        {"traits": traits, "supported": computed_supported()},
    )


@role_required(Role.MARKETER)
@require_http_methods(["GET", "POST"])
def computed_trait_new(request):
    data: dict = {"kind": ComputedTrait.Kind.EVENT_COUNT, "where": []}
    errors: dict = {}
    if request.method == "POST":
        data = _form_data(request.POST)
        errors = definition_errors(data)
        if not errors:
            try:
                trait = computed_trait_create(data=data, user=request.user)
            except InvalidInputError as exc:
                errors = {exc.field or "key": exc.message}
            else:
                messages.success(request, f"“{trait.name}” is being computed for every profile.")
                return redirect("profiles:computed_trait_detail", trait_id=trait.pk)
    return render(
        request,
        "profiles/computed_trait_form.html",
        _form_context(data, errors, None),
        status=400 if errors else 200,
    )


@role_required(Role.MARKETER)
@require_http_methods(["GET", "POST"])
def computed_trait_edit(request, trait_id: int):
    trait = _trait(trait_id)
    if trait.builtin:
        messages.info(request, "Built-in computed traits cannot be changed.")
        return redirect("profiles:computed_trait_detail", trait_id=trait.pk)
    data = {
        "key": trait.key,
        "name": trait.name,
        "description": trait.description,
        "kind": trait.kind,
        "event": trait.event,
        "property": trait.property,
        "window_days": trait.window_days,
        "where": trait.where,
    }
    errors: dict = {}
    if request.method == "POST":
        data = {**_form_data(request.POST), "key": trait.key}
        errors = definition_errors(data, instance=trait)
        if not errors:
            computed_trait_update(trait=trait, data=data)
            messages.success(request, f"“{trait.name}” is being recomputed.")
            return redirect("profiles:computed_trait_detail", trait_id=trait.pk)
    return render(
        request,
        "profiles/computed_trait_form.html",
        _form_context(data, errors, trait),
        status=400 if errors else 200,
    )


@role_required(Role.MARKETER)
def computed_trait_detail(request, trait_id: int):
    trait = _trait(trait_id)
    return render(
        request,
        "profiles/computed_trait_detail.html",
        {
            "trait": trait,
            "value_type": value_type(trait.kind),
            "operators": FILTER_OPERATORS,
            "chart": charts.distribution_figure(trait.distribution or {}),
            "supported": computed_supported(),
        },
    )


@role_required(Role.MARKETER)
@require_POST
def computed_trait_delete_view(request, trait_id: int):
    trait = _trait(trait_id)
    if trait.builtin:
        messages.error(request, "Built-in computed traits cannot be deleted.")
        return redirect("profiles:computed_trait_detail", trait_id=trait.pk)
    name = trait.name
    computed_trait_delete(trait=trait)
    messages.success(request, f"“{name}” was deleted, and its values with it.")
    return redirect("profiles:computed_trait_list")


@role_required(Role.MARKETER)
@require_POST
def computed_trait_recompute(request, trait_id: int):
    from cdp_site.celery import task_publish

    from .tasks import computed_traits_compute_task

    trait = _trait(trait_id)
    if task_publish(computed_traits_compute_task, [trait.pk]) is None:
        messages.error(request, "The background worker cannot be reached; try again shortly.")
    else:
        messages.success(request, f"“{trait.name}” is being recomputed for every profile.")
    return redirect("profiles:computed_trait_detail", trait_id=trait.pk)
