"""The record of processing activities (GDPR Art. 30), generated from the live configuration.

It reads the sources and destinations through `integrations.selectors`, the consent purposes and
retention periods of this app, and the roles of `cdp_site.roles`; nothing in it is typed by hand,
so it is as current as the configuration. Rendered as a printable page, as Markdown and as CSV.
"""

import csv
import io

from django.contrib.auth.models import Permission
from django.utils import timezone

from cdp_site.roles import PERSONAL_DATA_UNMASKED, PROFILE_READERS, ROLE_PERMISSIONS
from integrations.selectors import processing_destinations, processing_sources

from .models import ConsentPurpose, RetentionPolicy

SEEN_DAYS = 90

# Categories of personal data, by the trait keys that reveal them (compared lower-cased, with
# `_` and `-` removed, so `firstName`, `first_name` and `first-name` match alike).
CATEGORY_KEYS: dict[str, tuple[str, ...]] = {
    "Contact details": ("email", "phone", "mobile", "address", "street", "postalcode", "zip"),
    "Name": ("name", "firstname", "lastname", "username", "displayname"),
    "Location": ("city", "country", "region", "state", "location", "timezone"),
    "Demographics": ("birthday", "birthdate", "age", "gender", "title"),
    "Work": ("company", "jobtitle", "industry", "employees", "website"),
    "Online identifiers": ("ip", "useragent", "deviceid", "advertisingid", "cookie"),
}


def _norm(key: str) -> str:
    return key.lower().replace("_", "").replace("-", "")


def data_categories(source: dict) -> list[str]:
    """Categories of data a source collects, from what its stored messages showed."""
    keys = {_norm(key) for key in source["trait_keys"]}
    found = [
        category
        for category, words in CATEGORY_KEYS.items()
        if any(key == word or key.endswith(word) for key in keys for word in words)
    ]
    types = set(source["message_types"])
    if types:
        found.insert(0, "Identifiers (user id, anonymous id)")
    if types & {"track"}:
        found.append("Behaviour (tracked events)")
    if types & {"page", "screen"}:
        found.append("Browsing (pages and screens viewed)")
    if types & {"group"}:
        found.append("Account membership (groups)")
    matched = {
        key
        for key in keys
        for words in CATEGORY_KEYS.values()
        if any(key == word or key.endswith(word) for word in words)
    }
    if keys - matched:
        found.append("Other profile traits")
    return found


def _retention(sources: list[dict]) -> dict:
    policies = list(RetentionPolicy.objects.all())
    default = next((p.days for p in policies if p.source_id is None), None)
    per_source = {p.source_id: p.days for p in policies if p.source_id is not None}
    names = {source["id"]: source["name"] for source in sources}
    rows = [
        {"applies_to": names.get(source_id, f"Source {source_id}"), "days": days}
        for source_id, days in sorted(per_source.items())
    ]
    return {"default": default, "per_source": per_source, "rows": rows}


def _roles() -> list[dict]:
    codes = {code for codes in ROLE_PERMISSIONS.values() for code in codes}
    words = {
        f"{app}.{codename}": name
        for app, codename, name in Permission.objects.filter(
            codename__in={code.split(".", 1)[1] for code in codes}
        ).values_list("content_type__app_label", "codename", "name")
    }
    rows = []
    for role, role_codes in ROLE_PERMISSIONS.items():
        if role in PERSONAL_DATA_UNMASKED:
            personal = "Unmasked"
        elif role in PROFILE_READERS:
            personal = "Masked"
        else:
            personal = "None (no customer pages)"
        rows.append(
            {
                "role": role.label,
                "personal_data": personal,
                "may": [words.get(code, code) for code in role_codes],
            }
        )
    return rows


def processing_record() -> dict:
    """The whole record, as plain data for the page and the exports."""
    sources = processing_sources(days=SEEN_DAYS)
    retention = _retention(sources)
    for source in sources:
        source["categories"] = data_categories(source)
        days = retention["per_source"].get(source["id"], retention["default"])
        source["retention_days"] = days
    purposes = list(ConsentPurpose.objects.order_by("name"))
    return {
        "generated_at": timezone.now(),
        "seen_days": SEEN_DAYS,
        "sources": sources,
        "purposes": [
            {
                "key": p.key,
                "name": p.name,
                "legal_basis": p.get_legal_basis_display(),
                "description": p.description,
            }
            for p in purposes
        ],
        "destinations": processing_destinations(),
        "retention": retention,
        "roles": _roles(),
    }


def _days(days) -> str:
    return f"{days} days" if days else "kept (no period set)"


def _md(text) -> str:
    """One table cell: pipes escaped and lines joined, so the table keeps its shape."""
    return " ".join(str(text).split()).replace("|", "\\|")


def processing_record_markdown(record: dict) -> str:
    lines = [
        "# Record of processing activities (GDPR Art. 30)",
        "",
        f"Generated {record['generated_at']:%Y-%m-%d %H:%M} UTC from the live configuration.",
        "",
        "## Sources and the categories of data they collect",
        "",
        f"Categories as seen in the messages of the last {record['seen_days']} days.",
        "",
        "| Source | Kind | Categories of data | Trait keys | Retention |",
        "| --- | --- | --- | --- | --- |",
    ]
    for s in record["sources"]:
        lines.append(
            f"| {_md(s['name'])} | {_md(s['kind_label'])} | {_md(', '.join(s['categories']))} "
            f"| {_md(', '.join(s['trait_keys']))} | {_days(s['retention_days'])} |"
        )
    if not record["sources"]:
        lines.append("| No sources are configured. | | | | |")
    lines += ["", "## Purposes and legal bases", ""]
    lines += ["| Purpose | Key | Legal basis | Description |", "| --- | --- | --- | --- |"]
    for p in record["purposes"]:
        lines.append(
            f"| {_md(p['name'])} | {_md(p['key'])} | {_md(p['legal_basis'])} "
            f"| {_md(p['description'])} |"
        )
    if not record["purposes"]:
        lines.append("| No consent purposes are defined. | | | |")
    lines += ["", "## Recipients: destinations that receive personal data", ""]
    if record["destinations"]:
        lines += ["| Destination | Kind | Purpose | Audiences |", "| --- | --- | --- | --- |"]
        for d in record["destinations"]:
            lines.append(
                f"| {_md(d['name'])} | {_md(d['kind_label'])} | {_md(d['purpose'] or '-')} "
                f"| {_md(', '.join(d['audiences']) or '-')} |"
            )
    else:
        lines.append("No destinations are configured: personal data is not sent anywhere.")
    lines += ["", "## Retention", "", f"Default: {_days(record['retention']['default'])}."]
    for row in record["retention"]["rows"]:
        lines.append(f"- {_md(row['applies_to'])}: {_days(row['days'])}")
    lines += ["", "## Who can see what", ""]
    lines += ["| Role | Personal data | May |", "| --- | --- | --- |"]
    for r in record["roles"]:
        lines.append(f"| {r['role']} | {r['personal_data']} | {_md('; '.join(r['may']))} |")
    return "\n".join(lines) + "\n"


def _cell(value) -> str:
    """A cell a spreadsheet shows as text: a leading =, +, - or @ would make it a formula."""
    text = str(value)
    return "'" + text if text[:1] in ("=", "+", "-", "@") else text


class _SafeWriter:
    def __init__(self, out):
        self._writer = csv.writer(out)

    def writerow(self, row):
        self._writer.writerow([_cell(value) for value in row])


def processing_record_csv(record: dict) -> str:
    """One row per entry of the record: section, name, then the section's facts."""
    out = io.StringIO()
    writer = _SafeWriter(out)
    writer.writerow(["section", "name", "kind_or_basis", "detail", "retention"])
    for s in record["sources"]:
        writer.writerow(
            [
                "source",
                s["name"],
                s["kind_label"],
                "; ".join(s["categories"]),
                _days(s["retention_days"]),
            ]
        )
    for p in record["purposes"]:
        writer.writerow(["purpose", p["name"], p["legal_basis"], p["description"], ""])
    for d in record["destinations"]:
        writer.writerow(["destination", d["name"], d["kind_label"], d["purpose"], ""])
    writer.writerow(["retention", "Default", "", "", _days(record["retention"]["default"])])
    for row in record["retention"]["rows"]:
        writer.writerow(["retention", row["applies_to"], "", "", _days(row["days"])])
    for r in record["roles"]:
        writer.writerow(["role", r["role"], r["personal_data"], "; ".join(r["may"]), ""])
    return out.getvalue()
