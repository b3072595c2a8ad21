"""Help-desk tickets from Zendesk's cursor-based incremental ticket export
(`GET /api/v2/incremental/tickets/cursor.json`).

Each ticket becomes `Ticket Created`, and `Ticket Solved` once its status is solved or closed,
for its requester; a sideloaded requester also becomes an `identify` with their e-mail and name.

Checkpoint: `{"cursor": after_cursor}`. The first run starts from `start_time` (the config's start
date, or the beginning); every page's `after_cursor` is committed with its tickets, and the cursor
of the last page (`end_of_stream`) is where the next run starts, so nothing is read twice.

Versions: a ticket is created once, so `Ticket Created` is versioned by `created_at`. `Ticket
Solved` is versioned by the solve time from the sideloaded ticket metrics (`solved_at`), so the
move from solved to closed, or a comment on a solved ticket, is not a second solve, while a
ticket reopened and solved again is; without metrics it falls back to `updated_at`.
"""

from __future__ import annotations

import base64
from collections.abc import Iterator
from datetime import UTC, datetime

from cdp_site.errors import InvalidInputError
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
from integrations.connectors.values import drop_none, id_text, parse_time

EXPORT_PATH = "/api/v2/incremental/tickets/cursor.json"
SOLVED = frozenset({"solved", "closed"})
# Zendesk refuses a start_time less than a minute old.
START_MARGIN_SECONDS = 60


def ticket_records(
    ticket: dict, *, users: dict, metrics: dict, as_user_id: bool
) -> list[SourceRecord]:
    """The events of one exported ticket. Raises ValueError with a reason when it is unusable."""
    ticket_id = id_text(ticket.get("id"))
    if ticket_id is None:
        raise ValueError("the ticket has no id")
    status = ticket.get("status")
    if status == "deleted":
        return []
    created = ticket.get("created_at")
    if parse_time(created) is None:
        raise ValueError("the ticket has no valid created_at")
    requester_id = ticket.get("requester_id")
    requester = users.get(id_text(requester_id)) or {}
    keys = person_keys(
        id_type="zendesk_user_id",
        person_id=requester_id,
        email=requester.get("email"),
        as_user_id=as_user_id,
    )
    if keys is None:
        raise ValueError("the ticket has no requester")
    via = ticket.get("via") if isinstance(ticket.get("via"), dict) else {}
    properties = drop_none(
        {
            "ticket_id": ticket_id,
            "subject": ticket.get("subject") or ticket.get("raw_subject"),
            "status": status,
            "priority": ticket.get("priority"),
            "type": ticket.get("type"),
            "channel": via.get("channel"),
            "tags": ticket.get("tags") or None,
            "group_id": id_text(ticket.get("group_id")),
            "assignee_id": id_text(ticket.get("assignee_id")),
        }
    )
    records = [
        SourceRecord(
            record_id=f"ticket {ticket_id} created",
            version=str(created),
            message={
                "type": "track",
                "event": "Ticket Created",
                # The ticket's status now is not its status when it was created.
                "properties": {k: v for k, v in properties.items() if k != "status"},
                "timestamp": created,
                **keys,
            },
        )
    ]
    if status in SOLVED:
        metric = metrics.get(ticket_id) or {}
        solved_at = metric.get("solved_at") or ticket.get("updated_at") or created
        records.append(
            SourceRecord(
                record_id=f"ticket {ticket_id} solved",
                version=str(solved_at),
                message={
                    "type": "track",
                    "event": "Ticket Solved",
                    "properties": properties,
                    "timestamp": solved_at,
                    **keys,
                },
            )
        )
    if requester and requester.get("updated_at"):
        traits = {
            key: value
            for key, value in {
                "email": requester.get("email"),
                "name": requester.get("name"),
                "phone": requester.get("phone"),
                "zendesk_user_id": str(requester_id),
            }.items()
            if value
        }
        records.append(
            SourceRecord(
                record_id=f"user {requester_id}",
                version=str(requester["updated_at"]),
                message={
                    "type": "identify",
                    "traits": traits,
                    "timestamp": requester["updated_at"],
                    **keys,
                },
            )
        )
    return records


def _start_moment(value: object) -> datetime | None:
    text = str(value).strip()
    return parse_time(text if "T" in text else f"{text}T00:00:00+00:00")


@register
class ZendeskTickets(ApiConnectorMixin, Connector):
    key = "zendesk_tickets"
    label = "Help-desk tickets (Zendesk)"
    kind = "source"
    description = (
        "Tickets from Zendesk's incremental export: Ticket Created and Ticket Solved events for "
        "each requester, and the requester's e-mail and name. Incremental by export cursor."
    )
    # The next pages are fetched while the runner stores this batch (`read` uses no database).
    prefetch = True
    fields = (
        ConfigField(
            name="base_url",
            label="Zendesk URL",
            kind="url",
            help_text="https://your-subdomain.zendesk.com",
        ),
        ConfigField(
            name="email",
            label="Agent e-mail",
            help_text="The admin whose API token is used.",
        ),
        ConfigField(
            name="api_token",
            label="API token",
            kind="secret",
            help_text="Admin Center > Apps and integrations > Zendesk API > API tokens.",
        ),
        ConfigField(
            name="start_date",
            label="Tickets changed since",
            help_text="ISO-8601 date for the first run; empty reads every ticket.",
            required=False,
        ),
        PERSON_ID_FIELD,
    )

    @classmethod
    def config_validate(cls, config: dict) -> None:
        if config.get("start_date") and _start_moment(config["start_date"]) is None:
            raise InvalidInputError(
                "Tickets changed since must be an ISO-8601 date, like 2026-01-01.",
                field="start_date",
            )

    def client_make(self) -> HttpClient:
        token = self.secrets.get("api_token") or ""
        user = f"{str(self.config.get('email') or '').strip()}/token"
        basic = base64.b64encode(f"{user}:{token}".encode()).decode()
        return HttpClient(
            self.config["base_url"],
            service="Zendesk",
            credential="the agent e-mail and API token",
            headers={"Authorization": f"Basic {basic}"},
            secrets=(token, basic),
        )

    def _start_time(self) -> int:
        start = self.config.get("start_date")
        if not start:
            return 0
        parsed = _start_moment(start)
        if parsed is None:
            raise TerminalError(f"'Tickets changed since' is not an ISO-8601 date: {start!r}.")
        latest = datetime.now(UTC).timestamp() - START_MARGIN_SECONDS
        return max(0, min(int(parsed.timestamp()), int(latest)))

    def check_connection(self) -> ConnectionCheck:
        try:
            answer = self.client.get("/api/v2/users/me.json")
        except ConnectorError as exc:
            return ConnectionCheck(ok=False, message=exc.message)
        finally:
            self.close()
        user = answer.data.get("user") if isinstance(answer.data, dict) else None
        if not isinstance(user, dict):
            return ConnectionCheck(
                ok=False, message="Zendesk answered without a user: check the URL."
            )
        if not user.get("id"):
            # Zendesk answers an anonymous user when the credentials are not accepted.
            return ConnectionCheck(
                ok=False, message="Zendesk did not accept the agent e-mail and API token."
            )
        role = user.get("role")
        if role != "admin":
            return ConnectionCheck(
                ok=False,
                message=f"Connected as {user.get('email')}, a {role}: the export needs an admin.",
            )
        return ConnectionCheck(ok=True, message=f"Connected as {user.get('email')} (admin).")

    def read(self, checkpoint: dict) -> Iterator[ReadBatch]:
        as_user_id = id_as_user_id(self.config)
        cursor = checkpoint.get("cursor")
        done = int(checkpoint.get("done") or 0)
        include = {"include": "users,metric_sets"}
        if cursor:
            params = {"cursor": cursor, **include}
        else:
            params = {"start_time": self._start_time(), **include}
        while True:
            answer = self.client.get(EXPORT_PATH, params=params)
            data = answer.data if isinstance(answer.data, dict) else {}
            tickets = data.get("tickets")
            after = data.get("after_cursor")
            if not isinstance(tickets, list) or "end_of_stream" not in data:
                raise self.client.malformed("the ticket export without tickets and end_of_stream")
            self.client.answer_used()
            users = {
                id_text(user.get("id")): user
                for user in data.get("users") or []
                if isinstance(user, dict)
            }
            metrics = {
                id_text(metric.get("ticket_id")): metric
                for metric in data.get("metric_sets") or []
                if isinstance(metric, dict)
            }
            records: dict[tuple[str, str], SourceRecord] = {}
            errors: list[RecordError] = []
            for ticket in tickets:
                ticket_id = ticket.get("id") if isinstance(ticket, dict) else None
                try:
                    if not isinstance(ticket, dict):
                        raise ValueError("the ticket is not a JSON object")
                    for record in ticket_records(
                        ticket, users=users, metrics=metrics, as_user_id=as_user_id
                    ):
                        records[(record.record_id, record.version)] = record
                except ValueError as exc:
                    errors.append(RecordError(position=f"ticket {ticket_id}", reason=str(exc)))
            done += len(tickets)
            end = bool(data.get("end_of_stream"))
            cursor = after or cursor
            # `done` counts this run only: the next run starts its count again.
            state = {"cursor": cursor} if end else {"cursor": cursor, "done": done}
            yield ReadBatch(
                records=list(records.values()), checkpoint=state, errors=errors, done=done
            )
            if end or not after:
                self.close()
                return
            params = {"cursor": after, **include}
