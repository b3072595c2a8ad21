"""CRM contacts from HubSpot's CRM v3 search (`POST /crm/v3/objects/contacts/search`).

Each contact becomes an `identify` with its properties as traits. The search is filtered on
`lastmodifieddate` from the checkpoint, sorted by `lastmodifieddate` then `hs_object_id`, and
paged by `after`.

HubSpot serves at most 10,000 results of one search. Before `after` reaches that window the
search starts again from the last contact read: `lastmodifieddate` greater than its, or equal with
a greater `hs_object_id`, so thousands of contacts sharing one modification time (an import)
neither loop nor get skipped.

Checkpoint: `{"since_ms", "since_id"}`, the last contact read (the next run searches after it);
during a run also the `after` of the next page and how far into the window it is, so a resumed
run carries on from the next page. HubSpot makes a change searchable a moment after it is made,
and a contact changed during the run moves to the end of the sort: so the next run starts no
later than `SEARCHABLE_LAG_MS` before the server's clock at the start of this one (contacts read
again are stored once). Version: the contact's `lastmodifieddate`.
"""

from __future__ import annotations

import email.utils
from collections.abc import Iterator

from integrations.connectors.base import (
    ConfigField,
    ConnectionCheck,
    Connector,
    ConnectorError,
    ReadBatch,
    RecordError,
    SourceRecord,
    TerminalError,
)
from integrations.connectors.http import ApiConnectorMixin, HttpClient
from integrations.connectors.people import PERSON_ID_FIELD, id_as_user_id, person_keys
from integrations.connectors.registry import register
from integrations.connectors.values import id_text, parse_time

SEARCH_PATH = "/crm/v3/objects/contacts/search"
PAGE_SIZE = 100
# The most results one search serves; past it HubSpot answers 400.
SEARCH_WINDOW = 10_000
DEFAULT_PROPERTIES = (
    "email",
    "firstname",
    "lastname",
    "phone",
    "mobilephone",
    "company",
    "jobtitle",
    "city",
    "country",
    "lifecyclestage",
    "hs_lead_status",
    "createdate",
    "lastmodifieddate",
    "hs_object_id",
)
# How long a change may take to become searchable, by the search's own clock.
SEARCHABLE_LAG_MS = 5 * 60 * 1000
# HubSpot's names for traits the tracking spec names otherwise.
TRAIT_NAMES = {"firstname": "first_name", "lastname": "last_name", "jobtitle": "title"}
# Bookkeeping properties that are not traits of the person.
NOT_TRAITS = {"hs_object_id", "lastmodifieddate"}


def _millis(value: object) -> int | None:
    parsed = parse_time(value)
    return None if parsed is None else int(parsed.timestamp() * 1000)


def server_millis(date_header: str | None) -> int | None:
    """A `Date` header as epoch milliseconds, or None."""
    if not date_header:
        return None
    try:
        return int(email.utils.parsedate_to_datetime(date_header).timestamp() * 1000)
    except (TypeError, ValueError):
        return None


def next_start(last_ms: int | None, last_id: str | None, started_ms: int | None) -> dict:
    """The next run's start: after the last contact read, but no later than the searchable lag
    before the server's clock when this run began (see the module docstring)."""
    if last_ms is not None and started_ms is not None and last_ms > started_ms - SEARCHABLE_LAG_MS:
        return {"since_ms": started_ms - SEARCHABLE_LAG_MS, "since_id": None}
    return {"since_ms": last_ms, "since_id": last_id}


def search_body(
    *, since_ms: int | None, since_id: str | None, after: str | None, properties: list[str]
) -> dict:
    """The search request for contacts modified after (since_ms, since_id), sorted for paging."""
    if since_ms is None:
        groups = []
    elif since_id:
        groups = [
            {
                "filters": [
                    {"propertyName": "lastmodifieddate", "operator": "GT", "value": str(since_ms)}
                ]
            },
            {
                "filters": [
                    {"propertyName": "lastmodifieddate", "operator": "EQ", "value": str(since_ms)},
                    {"propertyName": "hs_object_id", "operator": "GT", "value": since_id},
                ]
            },
        ]
    else:
        groups = [
            {
                "filters": [
                    {"propertyName": "lastmodifieddate", "operator": "GTE", "value": str(since_ms)}
                ]
            }
        ]
    body = {
        "filterGroups": groups,
        "sorts": [
            {"propertyName": "lastmodifieddate", "direction": "ASCENDING"},
            {"propertyName": "hs_object_id", "direction": "ASCENDING"},
        ],
        "properties": properties,
        "limit": PAGE_SIZE,
    }
    if after:
        body["after"] = after
    return body


def contact_record(contact: dict, *, as_user_id: bool) -> SourceRecord:
    """The `identify` of one contact. Raises ValueError with a reason when it is unusable."""
    contact_id = id_text(contact.get("id"))
    if contact_id is None:
        raise ValueError("the contact has no id")
    props = contact.get("properties") if isinstance(contact.get("properties"), dict) else {}
    modified = props.get("lastmodifieddate") or contact.get("updatedAt")
    if parse_time(modified) is None:
        raise ValueError("the contact has no valid lastmodifieddate")
    keys = person_keys(
        id_type="hubspot_contact_id",
        person_id=contact_id,
        email=props.get("email"),
        as_user_id=as_user_id,
    )
    traits = {
        TRAIT_NAMES.get(name, name): value
        for name, value in props.items()
        if name not in NOT_TRAITS and value not in (None, "")
    }
    traits["hubspot_contact_id"] = contact_id
    return SourceRecord(
        record_id=f"contact {contact_id}",
        version=str(modified),
        message={"type": "identify", "traits": traits, "timestamp": modified, **keys},
    )


@register
class HubspotContacts(ApiConnectorMixin, Connector):
    key = "hubspot_contacts"
    label = "CRM contacts (HubSpot)"
    kind = "source"
    description = (
        "Contacts from HubSpot's CRM search API: each contact becomes an identify with its "
        "properties as traits. Incremental on lastmodifieddate."
    )
    # The next pages are fetched while the runner stores this batch (`read` uses no database).
    prefetch = True
    fields = (
        ConfigField(
            name="base_url",
            label="API URL",
            kind="url",
            help_text="https://api.hubapi.com",
            default="https://api.hubapi.com",
        ),
        ConfigField(
            name="access_token",
            label="Private app access token",
            kind="secret",
            help_text="A private app's token (pat-...) with the crm.objects.contacts.read scope.",
        ),
        ConfigField(
            name="properties",
            label="Contact properties",
            help_text="Comma-separated property names read as traits, beside the usual ones.",
            required=False,
        ),
        PERSON_ID_FIELD,
    )

    def client_make(self) -> HttpClient:
        token = self.secrets.get("access_token") or ""
        return HttpClient(
            self.config.get("base_url") or "https://api.hubapi.com",
            service="HubSpot",
            credential="the private app access token",
            headers={"Authorization": f"Bearer {token}"},
            secrets=(token,),
        )

    def _properties(self) -> list[str]:
        extra = str(self.config.get("properties") or "")
        names = list(DEFAULT_PROPERTIES)
        for name in extra.split(","):
            name = name.strip()
            if name and name not in names:
                names.append(name)
        return names

    def check_connection(self) -> ConnectionCheck:
        try:
            answer = self.client.post(
                SEARCH_PATH, json={"limit": 1, "properties": ["email"], "filterGroups": []}
            )
        except ConnectorError as exc:
            return ConnectionCheck(ok=False, message=exc.message)
        finally:
            self.close()
        total = answer.data.get("total") if isinstance(answer.data, dict) else None
        if not isinstance(total, int):
            return ConnectionCheck(
                ok=False, message="HubSpot answered without a total: check the URL."
            )
        return ConnectionCheck(ok=True, message=f"Connected: {total:,} contacts visible.")

    def read(self, checkpoint: dict) -> Iterator[ReadBatch]:
        as_user_id = id_as_user_id(self.config)
        properties = self._properties()
        state = {
            "since_ms": checkpoint.get("since_ms"),
            "since_id": checkpoint.get("since_id"),
            "after": checkpoint.get("after"),
            "offset": int(checkpoint.get("offset") or 0),
            "done": int(checkpoint.get("done") or 0),
            "total": checkpoint.get("total"),
            "started_ms": checkpoint.get("started_ms"),
        }
        # Where the current search began, and the last contact read (the next search's start).
        last_ms, last_id = state["since_ms"], state["since_id"]
        if checkpoint.get("last_ms") is not None:
            last_ms, last_id = checkpoint["last_ms"], checkpoint.get("last_id")
        if last_ms is not None and not isinstance(last_ms, int):
            raise TerminalError("The saved checkpoint is not one this connector wrote.")
        while True:
            body = search_body(
                since_ms=state["since_ms"],
                since_id=state["since_id"],
                after=state["after"],
                properties=properties,
            )
            answer = self.client.post(SEARCH_PATH, json=body)
            if state.get("started_ms") is None:
                state["started_ms"] = server_millis(answer.headers.get("Date"))
            data = answer.data if isinstance(answer.data, dict) else {}
            results = data.get("results")
            if not isinstance(results, list):
                raise self.client.malformed("the contact search without results")
            self.client.answer_used()
            if state["total"] is None and isinstance(data.get("total"), int):
                state["total"] = data["total"]

            records: list[SourceRecord] = []
            errors: list[RecordError] = []
            for contact in results:
                contact_id = contact.get("id") if isinstance(contact, dict) else None
                try:
                    if not isinstance(contact, dict):
                        raise ValueError("the contact is not a JSON object")
                    records.append(contact_record(contact, as_user_id=as_user_id))
                except ValueError as exc:
                    errors.append(RecordError(position=f"contact {contact_id}", reason=str(exc)))
                    continue
                props = contact.get("properties") or {}
                modified_ms = _millis(props.get("lastmodifieddate") or contact.get("updatedAt"))
                if modified_ms is not None:
                    last_ms, last_id = modified_ms, id_text(contact.get("id"))
            state["done"] += len(results)
            state["offset"] += len(results)

            paging = data.get("paging") if isinstance(data.get("paging"), dict) else {}
            next_page = paging.get("next") if isinstance(paging.get("next"), dict) else {}
            after = id_text(next_page.get("after"))
            if after and state["offset"] + PAGE_SIZE > SEARCH_WINDOW:
                # The next page would cross the search window: search again after the last one.
                if last_ms is None:
                    raise TerminalError(
                        f"HubSpot returned {SEARCH_WINDOW:,} contacts without a usable "
                        "lastmodifieddate: the search cannot continue past them."
                    )
                state.update(since_ms=last_ms, since_id=last_id, after=None, offset=0)
                more = True
            elif after:
                state["after"] = after
                more = True
            else:
                more = False
            if more:
                saved = {**state, "last_ms": last_ms, "last_id": last_id}
            else:
                saved = next_start(last_ms, last_id, state.get("started_ms"))
            yield ReadBatch(
                records=records,
                checkpoint=saved,
                errors=errors,
                total=state["total"],
                done=state["done"],
            )
            if not more:
                self.close()
                return
