"""Segments in the configuration file (`segments`), keyed by name.

A definition refers to other segments by name in the file (`{"type": "segment", "segment":
"Buyers"}`) and by id in the database, so export and apply translate between the two. The file's
definitions are checked with the compiler's own validation, over the segments as they will be
once the file is applied, cycles included; new segments are written referenced-first.
"""

from __future__ import annotations

import re
from collections import Counter
from graphlib import CycleError, TopologicalSorter

from django.contrib.auth import get_user_model
from django.contrib.auth.models import Group
from django.contrib.contenttypes.models import ContentType
from guardian.models import GroupObjectPermission, UserObjectPermission

from cdp_site.config_as_code.fields import ItemReader
from cdp_site.config_as_code.sections import (
    Checked,
    ConfigSection,
    Context,
    Problem,
    config_section_register,
)
from cdp_site.errors import InvalidInputError

from .definition import definition_problems, empty_definition
from .models import Segment
from .selectors import segment_definition_lookup
from .services import (
    segment_create,
    segment_delete,
    segment_share,
    segment_unshare,
    segment_update,
)

FIELDS = ("name", "description", "owner", "shared_with", "definition")
ACCESS = {"view": ("view_segment",), "edit": ("view_segment", "change_segment")}
ID_IN_MESSAGE = re.compile(r"-?\d+")
# Below any id a new segment of a file gets (minus its position in the file).
UNRESOLVED_BASE = -(10**12)


def _key(item: dict) -> str | None:
    name = item.get("name")
    return name.strip() if isinstance(name, str) and name.strip() else None


def _references_mapped(node: object, mapping) -> object:
    """A copy of the definition with each segment reference replaced by `mapping(reference)`."""
    if isinstance(node, dict):
        copy = {key: _references_mapped(value, mapping) for key, value in node.items()}
        if node.get("type") == "segment" and "segment" in node:
            copy["segment"] = mapping(node["segment"])
        return copy
    if isinstance(node, list):
        return [_references_mapped(child, mapping) for child in node]
    return node


def _named_references(node: object) -> set[str]:
    found: set[str] = set()

    def collect(reference):
        if isinstance(reference, str):
            found.add(reference)
        return reference

    _references_mapped(node, collect)
    return found


def segments_export() -> list[dict]:
    segments = list(Segment.objects.select_related("owner").order_by("name", "pk"))
    twice = sorted(name for name, n in Counter(s.name for s in segments).items() if n > 1)
    if twice:
        raise InvalidInputError(
            "Segments are exported by name, and these names are used more than once: "
            f"{', '.join(twice)}. Rename them first."
        )
    names = {segment.pk: segment.name for segment in segments}
    shares = _shares()
    return [
        {
            "name": segment.name,
            "description": segment.description,
            "owner": segment.owner.get_username() if segment.owner else None,
            "shared_with": shares.get(segment.pk, {}),
            # A reference to a segment that no longer exists stays an id, for the check to name.
            "definition": _references_mapped(segment.definition, lambda ref: names.get(ref, ref)),
        }
        for segment in segments
    ]


def _shares() -> dict[int, dict]:
    """{segment id: {"groups": {name: "view"|"edit"}, "users": {...}}}, in two queries."""
    content_type = ContentType.objects.get_for_model(Segment)
    found: dict[int, dict[str, dict[str, set]]] = {}
    for model, holder in ((GroupObjectPermission, "group__name"), (UserObjectPermission, None)):
        holder = holder or f"user__{get_user_model().USERNAME_FIELD}"
        rows = model.objects.filter(
            content_type=content_type, permission__codename__in=ACCESS["edit"]
        ).values_list("object_pk", holder, "permission__codename")
        kind = "groups" if model is GroupObjectPermission else "users"
        for object_pk, name, codename in rows:
            found.setdefault(int(object_pk), {}).setdefault(kind, {}).setdefault(name, set()).add(
                codename
            )
    return {
        pk: {
            kind: {
                name: "edit" if "change_segment" in codenames else "view"
                for name, codenames in sorted(holders.items())
                if "view_segment" in codenames
            }
            for kind, holders in sorted(kinds.items())
        }
        for pk, kinds in found.items()
    }


def _shared_with_check(read: ItemReader) -> dict:
    shared = read.mapping("shared_with")
    clean = {}
    for kind in sorted(shared):
        holders = shared[kind]
        if kind not in ("groups", "users"):
            read.fail(f"shared_with.{kind}", "Share with groups or users.")
        elif not isinstance(holders, dict) or not all(
            isinstance(name, str) and access in ACCESS for name, access in holders.items()
        ):
            read.fail(f"shared_with.{kind}", "A mapping of names to view or edit.")
        elif holders:
            clean[kind] = dict(sorted(holders.items()))
    return clean


def _share_holders_check(clean: list[dict], readers: list[ItemReader]) -> None:
    user_field = get_user_model().USERNAME_FIELD
    wanted = {
        kind: {name for item in clean for name in item["shared_with"].get(kind, {})}
        for kind in ("groups", "users")
    }
    known = {
        "groups": set(
            Group.objects.filter(name__in=wanted["groups"]).values_list("name", flat=True)
        ),
        "users": set(
            get_user_model()
            .objects.filter(**{f"{user_field}__in": wanted["users"]})
            .values_list(user_field, flat=True)
        ),
    }
    for item, read in zip(clean, readers, strict=True):
        for kind, holders in item["shared_with"].items():
            for name in sorted(set(holders) - known[kind]):
                read.fail(f"shared_with.{kind}", f"There is no {kind[:-1]} “{name}” here.")


def segments_check(items: list, context: Context) -> Checked:
    problems: list[Problem] = []
    clean = []
    readers = []
    for index, item in enumerate(items):
        read = ItemReader(item, f"segments[{index}]", problems, FIELDS)
        definition = item.get("definition")
        if definition is None:
            definition = empty_definition()
        owner = item.get("owner")
        if owner is not None and not isinstance(owner, str):
            read.fail("owner", "Must be a user name.")
            owner = None
        clean.append(
            {
                "name": read.text("name", required=True),
                "description": read.text("description", max_length=100_000),
                "owner": owner,
                "shared_with": _shared_with_check(read),
                "definition": definition,
            }
        )
        readers.append(read)
    _owners_check(clean, readers)
    _share_holders_check(clean, readers)
    problems += _definitions_check(clean, context)
    return Checked(items=clean, problems=problems)


def _owners_check(clean: list[dict], readers: list[ItemReader]) -> None:
    known = _owners(clean)
    for item, read in zip(clean, readers, strict=True):
        if item["owner"] and item["owner"] not in known:
            read.fail("owner", f"There is no user “{item['owner']}” in this deployment.")


def _definitions_check(clean: list[dict], context: Context) -> list[Problem]:
    """The compiler's validation of every definition of the file, against the segments as they
    will be: those of the file, and the stored ones unless they are pruned."""
    problems = []
    # Names are unique here: the export that planned the file refused duplicates.
    stored = dict(Segment.objects.values_list("name", "pk"))
    in_file = [item["name"] for item in clean]
    # New segments get ids below zero until they exist.
    ids = {name: stored.get(name, -position) for position, name in enumerate(in_file, start=1)}
    keep_stored = not context.prune
    if keep_stored:
        ids = {**stored, **ids}

    names = {pk: name for name, pk in ids.items()}
    # A reference that names no segment (or gives an id) becomes an id no segment has, so the
    # validation reports it at its path, with the definition's other problems.
    unresolved: dict[int, str] = {}

    def to_id(reference):
        if isinstance(reference, str) and reference in ids:
            return ids[reference]
        if isinstance(reference, str) or (
            isinstance(reference, int) and not isinstance(reference, bool)
        ):
            marker = UNRESOLVED_BASE - len(unresolved)
            unresolved[marker] = (
                f"There is no segment “{reference}” (in the file or this deployment)."
                if isinstance(reference, str)
                else f"Refer to segments by name, not by id ({reference})."
            )
            return marker
        return reference

    definitions: dict[int, dict] = {}
    for item in clean:
        definitions[ids[item["name"]]] = _references_mapped(item["definition"], to_id)

    def lookup(segment_id: int) -> dict | None:
        if segment_id in definitions:
            return definitions[segment_id]
        if keep_stored and segment_id > 0:
            return segment_definition_lookup(segment_id)
        return None

    for index, item in enumerate(clean):
        path = f"segments[{index}].definition"
        for problem in definition_problems(
            definitions[ids[item["name"]]], segment_lookup=lookup, self_id=ids[item["name"]]
        ):
            where = f"{path}.{problem.path}" if problem.path else path
            problems.append(Problem(where, _message(problem.message, names, unresolved)))
    return problems


def _message(message: str, names: dict[int, str], unresolved: dict[int, str]) -> str:
    """The validation's messages about references name segments by id; the file knows names
    (and new segments have no id yet)."""
    if not message.startswith(("This would make", "Segment ")):
        return message
    for number in ID_IN_MESSAGE.findall(message):
        if int(number) in unresolved:
            return unresolved[int(number)]
    return ID_IN_MESSAGE.sub(
        lambda m: f"“{names[int(m[0])]}”" if int(m[0]) in names else m[0], message
    )


def _owners(items: list[dict]) -> dict[str, object]:
    user_model = get_user_model()
    wanted = {item["owner"] for item in items if item["owner"]}
    return {
        user.get_username(): user
        for user in user_model.objects.filter(**{f"{user_model.USERNAME_FIELD}__in": wanted})
    }


def segments_apply(creates: list[dict], updates: list[dict], deletes: list[str]) -> None:
    items = {item["name"]: item for item in creates + updates}
    order = TopologicalSorter(
        {name: _named_references(item["definition"]) & items.keys() for name, item in items.items()}
    )
    owners = _owners(list(items.values()))
    ids = dict(Segment.objects.values_list("name", "pk"))

    def to_id(reference):
        return ids[reference] if isinstance(reference, str) else reference

    created = {item["name"] for item in creates}
    for name in order.static_order():
        item = items[name]
        definition = _references_mapped(item["definition"], to_id)
        owner = owners.get(item["owner"]) if item["owner"] else None
        if name in created:
            segment = segment_create(
                user=owner, name=name, definition=definition, description=item["description"]
            )
            ids[name] = segment.pk
            continue
        segment = Segment.objects.get(name=name)
        changed = definition != segment.definition
        segment_update(
            segment=segment,
            description=item["description"],
            definition=definition if changed else None,
        )
        if segment.owner_id != (owner.pk if owner else None):
            Segment.objects.filter(pk=segment.pk).update(owner=owner)
    shares = _shares()
    for name in items:
        _shares_apply(ids[name], shares.get(ids[name], {}), items[name]["shared_with"])
    _segments_delete(deletes)


def _shares_apply(segment_id: int, have: dict, want: dict) -> None:
    if have == want:
        return
    segment = Segment.objects.get(pk=segment_id)
    user_model = get_user_model()
    targets = {
        "groups": lambda name: {"target_group_id": Group.objects.get(name=name).pk},
        "users": lambda name: {
            "target_user_id": user_model.objects.get(**{user_model.USERNAME_FIELD: name}).pk
        },
    }
    for kind, target in targets.items():
        old, new = have.get(kind, {}), want.get(kind, {})
        for name in sorted(old.keys() - new.keys()):
            segment_unshare(segment=segment, user=None, **target(name))
        for name, access in sorted(new.items()):
            if old.get(name) != access:
                segment_share(segment=segment, user=None, can_edit=access == "edit", **target(name))


def _segments_delete(names: list[str]) -> None:
    """Delete referring segments before the segments they refer to."""
    doomed = {segment.pk: segment for segment in Segment.objects.filter(name__in=names)}
    graph = {
        pk: {ref for ref in _references_mapped_ids(segment.definition) if ref in doomed}
        for pk, segment in doomed.items()
    }
    try:
        order = list(TopologicalSorter(graph).static_order())
    except CycleError:
        order = list(doomed)
    for pk in reversed(order):
        segment_delete(segment=doomed[pk])


def _references_mapped_ids(definition: dict) -> set[int]:
    found: set[int] = set()

    def collect(reference):
        if isinstance(reference, int):
            found.add(reference)
        return reference

    _references_mapped(definition, collect)
    return found


config_section_register(
    ConfigSection(
        name="segments",
        order=40,
        key=_key,
        export=segments_export,
        check=segments_check,
        apply=segments_apply,
    )
)
