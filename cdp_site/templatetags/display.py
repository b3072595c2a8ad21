"""Template helpers for showing values compactly: a time as a short date with the full time on
hover, a long text shortened with the whole of it on hover."""

from django import template
from django.template.defaultfilters import date as date_filter
from django.utils import timezone
from django.utils.html import format_html

register = template.Library()


@register.simple_tag
def short_time(value, empty: str = "—"):
    """`<time>` showing "1 Jun 2026 09:00" (the year left out within the current year), the
    full time with seconds and zone in its title, so dates stay on one line in tables."""
    if not value:
        return empty
    local = timezone.localtime(value) if timezone.is_aware(value) else value
    same_year = local.year == timezone.localtime().year
    shown = date_filter(local, "j M H:i" if same_year else "j M Y H:i")
    return format_html(
        '<time class="short-time" datetime="{}" title="{}">{}</time>',
        local.isoformat(),
        date_filter(local, "Y-m-d H:i:s T"),
        shown,
    )


@register.simple_tag
def clipped(value, length: int = 60):
    """`value` shortened to `length` characters with an ellipsis, the whole of it in the title
    (a long unbroken name stays inside its table cell or card)."""
    text = "" if value is None else str(value)
    if len(text) <= length:
        return format_html('<span class="clipped">{}</span>', text)
    return format_html(
        '<span class="clipped" title="{}">{}…</span>', text, text[: max(length - 1, 1)]
    )
