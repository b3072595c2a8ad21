"""The audit log's filters as people and programs send them (`user`, `action`, `profile`,
`since`, `until`, `before`), checked: a value that cannot be used is reported with what is
wrong, never silently left out."""

from collections.abc import Mapping

from cdp_site.params import iso_date, keyset_cursor, positive_id, storable_text

from .selectors import AuditFilter

FILTER_NAMES = ("user", "action", "profile", "since", "until", "before")
TEXT_LIMITS = {"user": 150, "action": 64}


def audit_filter_parse(params: Mapping[str, str]) -> tuple[AuditFilter, dict[str, str]]:
    """The filters, and {parameter: message} for each value that is not valid.

    With any error the filters should not be applied: a page shows the messages in place of
    rows, the API answers 400.
    """
    errors: dict[str, str] = {}
    texts = {}
    for name, limit in TEXT_LIMITS.items():
        text = str(params.get(name, "")).strip()
        if len(text) > limit:
            errors[name] = f"At most {limit} characters."
        elif not storable_text(text):
            errors[name] = "This text holds characters no entry can contain."
        texts[name] = text[:limit]
    profile_text = str(params.get("profile", "")).strip()
    profile_id = positive_id(profile_text) if profile_text else None
    if profile_text and profile_id is None:
        errors["profile"] = f"“{profile_text[:40]}” is not a profile id: use its number, as 2452."
    dates = {}
    for name, label in (("since", "From"), ("until", "To")):
        text = str(params.get(name, "")).strip()
        dates[name] = iso_date(text) if text else None
        if text and dates[name] is None:
            errors[name] = f"{label}: “{text[:40]}” is not a date; write it as YYYY-MM-DD."
    if dates["since"] and dates["until"] and dates["since"] > dates["until"]:
        errors["until"] = (
            f"To ({dates['until']:%Y-%m-%d}) is before From ({dates['since']:%Y-%m-%d}): "
            "no entry can match. Swap them or widen the range."
        )
    before_text = str(params.get("before", "")).strip()
    before = keyset_cursor(before_text) if before_text else None
    if before_text and before is None:
        errors["before"] = "This page link is broken: start again from the newest entries."
    filters = AuditFilter(
        username=texts["user"],
        action=texts["action"],
        profile_id=profile_id,
        since=dates["since"],
        until=dates["until"],
        before=before,
    )
    return filters, errors
