"""The mapping of a CSV file's columns to a Segment-spec message, and its use on each row.

A mapping is JSON, kept in the source's configuration so it is remembered for the next file:

    {"type": "identify" | "track",
     "event": "Order Completed",             # track: the event name when no column gives it
     "columns": {"Customer ID": "userId", "E-mail": "email", "First name": "trait:first_name",
                 "Amount": "property:amount", "Date": "timestamp", "Notes": "ignore"}}

Targets: `userId`, `anonymousId`, `email`, `phone` (identifiers), `timestamp`, `event` (track's
event name), `trait:<key>`, `property:<key>`, `ignore`. A column the mapping does not name is
ignored. `RowMapper` turns the mapping into a list of steps once, then each row into a message,
or a `RowError` with a reason people can act on.
"""

import hashlib
import re
from dataclasses import dataclass

import orjson

from cdp_site.errors import InvalidInputError
from integrations.tracking.ingest import MAX_LENGTHS, InvalidMessageError, timestamp_parse

IDENTIFIERS = ("userId", "anonymousId", "email", "phone")
PLAIN_TARGETS = (*IDENTIFIERS, "timestamp", "event", "ignore")
TARGET_LABELS = {
    "ignore": "Ignore",
    "userId": "User id",
    "anonymousId": "Anonymous id",
    "email": "E-mail",
    "phone": "Phone",
    "timestamp": "Timestamp",
    "event": "Event name",
    "trait": "Trait",
    "property": "Property",
}
MESSAGE_TYPES = {"identify": "Identify (people and their traits)", "track": "Track (events)"}
_KEY = re.compile(r"^[A-Za-z0-9_.$ -]{1,100}$")
# Cheap shape checks: full validation and normalisation happen in identity resolution.
_EMAIL = re.compile(r"^[^@\s]+@[^@\s]+$")
_PHONE = re.compile(r"^\+?[0-9 ().\-/]{5,30}$")


class RowError(Exception):
    """One row that cannot become a message; `reason` is for people."""

    def __init__(self, reason: str):
        super().__init__(reason)
        self.reason = reason


def target_parse(target: object) -> tuple[str, str]:
    """`"trait:first_name"` -> `("trait", "first_name")`, `"email"` -> `("email", "")`."""
    if not isinstance(target, str):
        raise InvalidInputError("A column's target must be text.", code="invalid_mapping")
    kind, _, key = target.partition(":")
    if kind in PLAIN_TARGETS and not key:
        return kind, ""
    if kind in ("trait", "property"):
        key = key.strip()
        if not _KEY.match(key):
            raise InvalidInputError(
                f"“{target}”: a {kind} needs a name of letters, digits, _ . $ - or spaces.",
                code="invalid_mapping",
            )
        return kind, key
    raise InvalidInputError(f"“{target}” is not a column target.", code="invalid_mapping")


def mapping_clean(mapping: object, header: tuple[str, ...] | None = None) -> dict:
    """A mapping checked and normalised, or `InvalidInputError` saying what to fix. With the
    file's `header`, the mapping must name an identifier column present in it."""
    if not isinstance(mapping, dict):
        raise InvalidInputError("The mapping must be a JSON object.", code="invalid_mapping")
    kind = mapping.get("type", "identify")
    if kind not in MESSAGE_TYPES:
        raise InvalidInputError("type must be identify or track.", code="invalid_mapping")
    columns = mapping.get("columns", {})
    if not isinstance(columns, dict):
        raise InvalidInputError("columns must be a JSON object.", code="invalid_mapping")
    clean_columns = {}
    for column, target in columns.items():
        kind_of, key = target_parse(target)
        # Ignored columns are kept: the choice is remembered for the source's next file.
        clean_columns[str(column)] = f"{kind_of}:{key}" if key else kind_of
    event = mapping.get("event") or ""
    if not isinstance(event, str) or len(event) > MAX_LENGTHS["event"]:
        raise InvalidInputError(
            f"The event name must be text of at most {MAX_LENGTHS['event']} characters.",
            code="invalid_mapping",
        )
    event = event.strip()
    for target in ("userId", "anonymousId", "timestamp", "event"):
        named = [column for column, value in clean_columns.items() if value == target]
        if len(named) > 1:
            raise InvalidInputError(
                f"Only one column can be the {TARGET_LABELS[target].lower()} ({', '.join(named)}).",
                code="invalid_mapping",
            )
    if kind == "track" and not event and "event" not in clean_columns.values():
        raise InvalidInputError(
            "A track import needs an event name: type one, or map a column to Event name.",
            code="invalid_mapping",
        )
    if header is not None:
        present = [c for c, t in clean_columns.items() if c in header and t in IDENTIFIERS]
        if not present:
            raise InvalidInputError(
                "Map at least one column to an identifier (user id, e-mail, anonymous id or "
                "phone), so each row can be matched to a customer.",
                code="invalid_mapping",
            )
    return {"type": kind, "event": event, "columns": clean_columns}


def mapping_fingerprint(mapping: dict) -> str:
    """A short hash of a mapping: a row's version includes it, so re-importing a file with a
    corrected mapping stores the corrected events."""
    encoded = orjson.dumps(mapping, option=orjson.OPT_SORT_KEYS)
    return hashlib.blake2b(encoded, digest_size=8).hexdigest()


def anonymous_id_for(kind: str, value: str) -> str:
    """A stable anonymous id for a row known only by its e-mail or phone: the tracking spec needs
    a userId or anonymousId, and the same person gets the same one from any file."""
    digest = hashlib.blake2b(value.strip().lower().encode(), digest_size=12).hexdigest()
    return f"{kind}-{digest}"


@dataclass(frozen=True)
class _Step:
    index: int
    column: str
    kind: str
    key: str


class RowMapper:
    """A mapping compiled against one header: `message(fields)` per row."""

    def __init__(self, mapping: dict, header: tuple[str, ...]):
        self.mapping = mapping_clean(mapping, header)
        self.header = header
        self.width = len(header)
        self.type = self.mapping["type"]
        self.event = self.mapping["event"]
        positions = {name: index for index, name in enumerate(header)}
        # In the file's order (the stored mapping's key order is not kept by the database).
        self.steps = sorted(
            (
                _Step(positions[column], column, *target_parse(target))
                for column, target in self.mapping["columns"].items()
                if column in positions and target != "ignore"
            ),
            key=lambda step: step.index,
        )
        self.identifier_columns = [step.column for step in self.steps if step.kind in IDENTIFIERS]
        # Traits and properties: (index, key, whether it goes to traits).
        self._plain = [
            (step.index, step.key, step.kind == "trait" or self.type == "identify")
            for step in self.steps
            if step.kind in ("trait", "property")
        ]
        self._special = [step for step in self.steps if step.kind not in ("trait", "property")]
        self.fingerprint = mapping_fingerprint(
            {
                "type": self.type,
                "event": self.event,
                "columns": [[step.index, step.kind, step.key] for step in self.steps],
            }
        )

    def message(self, fields: list[str]) -> dict:
        """The message of one row (without messageId), or `RowError`."""
        if len(fields) != self.width:
            raise RowError(
                f"The row has {len(fields)} field{'s' if len(fields) != 1 else ''}; "
                f"the header has {self.width}."
            )
        # The common columns (traits, properties) take the short path; identifiers, the time
        # and the event name are checked one by one. This runs once per row of every file.
        traits: dict[str, str] = {}
        bag: dict[str, str] = {}  # track: the properties
        for index, key, to_traits in self._plain:
            value = fields[index]
            if value:
                value = value.strip()
                if value:
                    if "\x00" in value:
                        raise RowError(f"Column “{self.header[index]}” holds a NUL character.")
                    if to_traits:
                        traits[key] = value
                    else:
                        bag[key] = value
        ids: dict[str, str] = {}
        timestamp = ""
        event = self.event
        for step in self._special:
            value = fields[step.index].strip()
            if not value:
                continue
            if "\x00" in value:
                raise RowError(f"Column “{step.column}” holds a NUL character.")
            kind = step.kind
            if kind in ("userId", "anonymousId"):
                if len(value) > MAX_LENGTHS[kind]:
                    raise RowError(
                        f"Column “{step.column}”: an id may have at most "
                        f"{MAX_LENGTHS[kind]} characters."
                    )
                ids[kind] = value
            elif kind == "email":
                if not _EMAIL.match(value):
                    raise RowError(f"Column “{step.column}”: “{value}” is not an e-mail address.")
                traits["email"] = value
                ids.setdefault("email", value)
            elif kind == "phone":
                if not _PHONE.match(value):
                    raise RowError(f"Column “{step.column}”: “{value}” is not a phone number.")
                traits["phone"] = value
                ids.setdefault("phone", value)
            elif kind == "timestamp":
                try:
                    timestamp_parse(value, f"Column “{step.column}”")
                except InvalidMessageError as problem:
                    raise RowError(f"{problem.message} (“{value}”)") from None
                timestamp = value
            elif kind == "event":
                if len(value) > MAX_LENGTHS["event"]:
                    raise RowError(
                        f"Column “{step.column}”: an event name may have at most "
                        f"{MAX_LENGTHS['event']} characters."
                    )
                event = value
        if not ids:
            raise RowError(
                "No identifier: "
                + ", ".join(f"“{column}”" for column in self.identifier_columns)
                + (" is empty." if len(self.identifier_columns) == 1 else " are all empty.")
            )
        message: dict = {"type": self.type}
        if "userId" in ids:
            message["userId"] = ids["userId"]
        if "anonymousId" in ids:
            message["anonymousId"] = ids["anonymousId"]
        elif "userId" not in ids:
            kind = "email" if "email" in ids else "phone"
            message["anonymousId"] = anonymous_id_for(kind, ids[kind])
        if self.type == "identify":
            message["traits"] = traits
        else:
            if not event:
                raise RowError("No event name: the event name column is empty.")
            message["event"] = event
            message["properties"] = bag
            if traits:
                # Identifiers and traits of a track travel in context.traits, as SDKs send them.
                message["context"] = {"traits": traits}
        if timestamp:
            message["timestamp"] = timestamp
        return message


def row_version(fingerprint: str, fields: list[str]) -> str:
    """The version of a row: changes when any of its fields (or the mapping) changes."""
    return hashlib.blake2b(
        "\x1f".join(fields).encode("utf-8", "surrogatepass"),
        digest_size=16,
        key=fingerprint.encode(),
    ).hexdigest()
