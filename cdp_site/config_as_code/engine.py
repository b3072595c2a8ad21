"""Export the configuration, and apply a file: check it whole, plan it, write it in one
transaction.

Applying is idempotent: the plan compares each object of the file with the same object as
`export` writes it, so a file exported from a deployment applies to it as nothing but
"unchanged", and only what differs is written.
"""

from __future__ import annotations

from dataclasses import dataclass, field

import yaml
from django.db import transaction

from cdp_site import db
from cdp_site.errors import DomainError, InvalidInputError

from .sections import Checked, ConfigSection, Context, Problem, config_sections
from .yamlio import yaml_dump

VERSION = 1
# Two applies at once would each plan against what the other is changing: the second waits.
APPLY_LOCK_KEY = 0x0C0F_1600


class ConfigInvalidError(InvalidInputError):
    """The file cannot be applied; `problems` says where and why, each with its YAML path."""

    code = "config_invalid"

    def __init__(self, problems: list[Problem]):
        self.problems = problems
        lines = "\n".join(f"  {problem}" for problem in problems)
        super().__init__(f"The configuration has {len(problems)} problem(s):\n{lines}")


@dataclass(frozen=True)
class Change:
    section: str
    key: str
    action: str  # "create" | "update" | "unchanged" | "delete"
    fields: tuple[str, ...] = ()
    note: str = ""

    def __str__(self) -> str:
        sign = {"create": "+", "update": "~", "delete": "-", "unchanged": "="}[self.action]
        text = f"  {sign} {self.action} {self.section} “{self.key}”"
        if self.fields:
            text += f" ({', '.join(self.fields)})"
        if self.note:
            text += f": {self.note}"
        return text


@dataclass
class Plan:
    changes: list[Change] = field(default_factory=list)

    def count(self, action: str) -> int:
        return sum(1 for change in self.changes if change.action == action)

    @property
    def writes(self) -> bool:
        return any(change.action != "unchanged" for change in self.changes)

    def summary(self) -> str:
        counts = [f"{self.count(action)} to {action}" for action in ("create", "update", "delete")]
        return ", ".join([*counts, f"{self.count('unchanged')} unchanged"])

    def lines(self, *, verbose: bool = False) -> list[str]:
        shown = [str(c) for c in self.changes if verbose or c.action != "unchanged"]
        return [*shown, f"Plan: {self.summary()}."]


def config_export() -> str:
    """The whole configuration as YAML text, secrets left out."""
    document: dict = {"version": VERSION}
    for section in config_sections():
        document[section.name] = section.export()
    return yaml_dump(document)


def _load(text: str) -> dict:
    try:
        document = yaml.safe_load(text)
    except yaml.YAMLError as error:
        mark = getattr(error, "problem_mark", None)
        where = f"line {mark.line + 1}, column {mark.column + 1}" if mark else "file"
        problem = getattr(error, "problem", None) or str(error)
        raise ConfigInvalidError([Problem(where, f"Not valid YAML: {problem}.")]) from None
    if document is None:
        document = {}
    if not isinstance(document, dict):
        raise ConfigInvalidError([Problem("(top)", "The file must be a mapping of sections.")])
    return document


def _shape_problems(document: dict, sections: dict[str, ConfigSection]) -> list[Problem]:
    problems = []
    if document.get("version", VERSION) != VERSION:
        problems.append(Problem("version", f"This deployment reads version {VERSION} files."))
    for name, items in document.items():
        if name == "version":
            continue
        if name not in sections:
            known = ", ".join(sections)
            problems.append(Problem(str(name), f"Unknown section; the sections are: {known}."))
            continue
        if not isinstance(items, list):
            problems.append(Problem(name, "A section is a list of objects."))
            continue
        seen: dict[str, int] = {}
        for index, item in enumerate(items):
            path = f"{name}[{index}]"
            if not isinstance(item, dict):
                problems.append(Problem(path, "Each entry is a mapping of fields."))
                continue
            key = sections[name].key(item)
            if key is None:
                continue  # the section's check names the missing field
            if key in seen:
                problems.append(Problem(path, f"“{key}” is also at {name}[{seen[key]}]."))
            else:
                seen[key] = index
    return problems


def _compared(section: ConfigSection, item: dict) -> dict:
    return {k: v for k, v in item.items() if k not in section.uncompared}


def _plan_section(
    section: ConfigSection, checked: Checked, stored: list[dict], prune: bool
) -> tuple[list[Change], list[Problem]]:
    changes, problems = [], []
    by_key = {section.key(item): item for item in stored}
    in_file = set()
    for item in checked.items:
        key = section.key(item)
        in_file.add(key)
        note = checked.notes.get(key, "")
        if key not in by_key:
            changes.append(Change(section.name, key, "create", note=note))
            continue
        old, new = _compared(section, by_key[key]), _compared(section, item)
        differing = tuple(sorted(k for k in old.keys() | new.keys() if old.get(k) != new.get(k)))
        action = "update" if differing else "unchanged"
        changes.append(Change(section.name, key, action, differing, note if differing else ""))
    if prune:
        for key in sorted(set(by_key) - in_file):
            refusal = section.delete_problem(key)
            if refusal:
                problems.append(Problem(section.name, f"“{key}” cannot be deleted: {refusal}"))
            changes.append(Change(section.name, key, "delete"))
    return changes, problems


@dataclass
class _Checked:
    plan: Plan
    items: dict[str, list[dict]]
    sections: list[ConfigSection]


def _check(text: str, *, prune: bool) -> _Checked:
    document = _load(text)
    sections = config_sections()
    by_name = {section.name: section for section in sections}
    problems = _shape_problems(document, by_name)
    if problems:
        raise ConfigInvalidError(problems)
    stored = {section.name: section.export() for section in sections}
    context = Context(
        document,
        prune=prune,
        stored_keys=lambda name: {by_name[name].key(i) for i in stored.get(name, [])},
    )
    plan, items = Plan(), {}
    for section in sections:
        if section.name not in document:
            continue
        checked = section.check(document[section.name], context)
        problems += checked.problems
        if checked.problems:
            continue
        items[section.name] = checked.items
        changes, refusals = _plan_section(section, checked, stored[section.name], prune)
        plan.changes += changes
        problems += refusals
    problems += _cascade_problems(plan, sections, document)
    if problems:
        raise ConfigInvalidError(problems)
    return _Checked(plan, items, sections)


def _cascade_problems(plan: Plan, sections: list[ConfigSection], document: dict) -> list[Problem]:
    """Deletes that would take along objects of a section the file does not have (and so does
    not show in the plan): refused, naming what uses them."""
    deleted: dict[str, set[str]] = {}
    for change in plan.changes:
        if change.action == "delete":
            deleted.setdefault(change.section, set()).add(change.key)
    problems = []
    for section in sections:
        if section.name in document:
            continue  # its own check already refused references to what is deleted
        for used_section, users_of in section.uses.items():
            for key in sorted(deleted.get(used_section, ())):
                users = users_of({key})
                if users:
                    names = ", ".join(f"“{user}”" for user in sorted(users))
                    problems.append(
                        Problem(
                            used_section,
                            f"“{key}” cannot be deleted: {section.name} {names} use it, and the "
                            f"file has no {section.name} section.",
                        )
                    )
    return problems


def config_apply(text: str, *, prune: bool = False, dry_run: bool = False) -> Plan:
    """Make the deployment match `text` (deleting what it lacks only with `prune`), in one
    transaction; with `dry_run`, only the plan. Nothing is written when anything is invalid."""
    with transaction.atomic():
        if db.on_postgresql():
            db.execute("SELECT pg_advisory_xact_lock(%s)", [APPLY_LOCK_KEY])
        checked = _check(text, prune=prune)
        if dry_run or not checked.plan.writes:
            return checked.plan
        by_section: dict[str, dict[str, list]] = {}
        for change in checked.plan.changes:
            by_section.setdefault(change.section, {}).setdefault(change.action, []).append(
                change.key
            )
        # Creates and updates with referenced objects first; deletes of referring objects first.
        for section in checked.sections:
            actions = by_section.get(section.name, {})
            writes = set(actions.get("create", [])) | set(actions.get("update", []))
            items = [i for i in checked.items.get(section.name, []) if section.key(i) in writes]
            creates = [i for i in items if section.key(i) in set(actions.get("create", []))]
            updates = [i for i in items if section.key(i) not in set(actions.get("create", []))]
            if creates or updates:
                _run(section, creates, updates, [])
        for section in reversed(checked.sections):
            deletes = by_section.get(section.name, {}).get("delete", [])
            if deletes:
                _run(section, [], [], deletes)
    return checked.plan


def _run(section: ConfigSection, creates: list, updates: list, deletes: list) -> None:
    try:
        section.apply(creates, updates, deletes)
    except DomainError as error:
        where = f"{section.name}.{error.field}" if error.field else section.name
        raise ConfigInvalidError([Problem(where, error.message)]) from None
