"""A server shaped like Zendesk's cursor-based incremental ticket export
(`/api/v2/incremental/tickets/cursor.json`): `start_time` on the first call, then `cursor` from
`after_cursor`, `end_of_stream` on the last page, sideloaded `users` and `metric_sets` on
`include=`, Basic auth `{email}/token:{api_token}`, and `/api/v2/users/me.json`.

Tickets are ordered by their `generated_timestamp`, which a change moves to the end of the
stream, as Zendesk does: a cursor taken earlier sees the changed ticket again.
"""

from __future__ import annotations

import base64
import re
from datetime import UTC, datetime, timedelta

import orjson
from werkzeug import Request, Response

from tests.integrations.protocol_servers import ProtocolServer

EMAIL = "admin@example.com"
TOKEN = "zendesk_test_token_abcdef"
BASE_TIME = datetime(2026, 2, 1, tzinfo=UTC)


def iso(moment: datetime) -> str:
    return moment.strftime("%Y-%m-%dT%H:%M:%SZ")


class ZendeskServer(ProtocolServer):
    def __init__(
        self,
        *,
        email: str = EMAIL,
        token: str = TOKEN,
        page_size: int = 1000,
        role: str = "admin",
        **kwargs,
    ):
        super().__init__(**kwargs)
        self.email = email
        self.token = token
        self.page_size = page_size
        self.role = role
        self.tickets: dict[int, dict] = {}
        self.users: dict[int, dict] = {}
        self.metrics: dict[int, dict] = {}
        self._clock = int(BASE_TIME.timestamp())

    # -- data ---------------------------------------------------------------------------------
    def _tick(self) -> int:
        self._clock += 60
        return self._clock

    def add_user(self, user_id: int, email: str, name: str = "") -> None:
        self.users[user_id] = {
            "id": user_id,
            "email": email,
            "name": name or email.split("@")[0],
            "role": "end-user",
            "updated_at": iso(BASE_TIME),
        }

    def put_ticket(
        self, ticket_id: int, *, requester_id: int, status: str = "new", subject: str = ""
    ) -> dict:
        """Create or change a ticket; a change moves it to the end of the export stream."""
        now = self._tick()
        moment = datetime.fromtimestamp(now, UTC)
        ticket = self.tickets.get(ticket_id) or {
            "id": ticket_id,
            "created_at": iso(moment),
            "subject": subject or f"Ticket {ticket_id}",
            "requester_id": requester_id,
            "tags": ["test"],
            "via": {"channel": "email"},
        }
        previous = ticket.get("status")
        ticket.update(status=status, updated_at=iso(moment), generated_timestamp=now)
        self.tickets[ticket_id] = ticket
        metric = self.metrics.setdefault(ticket_id, {"ticket_id": ticket_id, "solved_at": None})
        if status == "solved" and previous != "solved":
            metric["solved_at"] = iso(moment)
        return ticket

    # -- protocol -----------------------------------------------------------------------------
    def routes(self) -> list:
        return [
            (re.compile(r"^/api/v2/incremental/tickets/cursor\.json$"), "GET", self.export),
            (re.compile(r"^/api/v2/users/me\.json$"), "GET", self.me),
        ]

    def _authorised(self, request: Request) -> bool:
        expected = base64.b64encode(f"{self.email}/token:{self.token}".encode()).decode()
        return request.headers.get("Authorization") == f"Basic {expected}"

    def me(self, request: Request) -> Response:
        if not self._authorised(request):
            return self.json(
                {"user": {"id": None, "email": "invalid@example.com", "role": "end-user"}}
            )
        return self.json({"user": {"id": 1, "email": self.email, "role": self.role}})

    def export(self, request: Request) -> Response:
        if not self._authorised(request):
            return Response("Couldn't authenticate you", status=401, content_type="text/plain")
        args = request.args
        order = sorted(self.tickets.values(), key=lambda t: (t["generated_timestamp"], t["id"]))
        if "cursor" in args:
            try:
                position = orjson.loads(base64.urlsafe_b64decode(args["cursor"].encode()))
            except (ValueError, orjson.JSONDecodeError):
                return self.json(
                    {"error": "InvalidPaginationParameter", "description": "cursor is invalid"},
                    status=400,
                )
            after = (position[0], position[1])
            rows = [t for t in order if (t["generated_timestamp"], t["id"]) > after]
        elif "start_time" in args:
            start = int(args["start_time"])
            latest = datetime.now(UTC) - timedelta(minutes=1)
            if start > latest.timestamp():
                return self.json(
                    {"error": "InvalidValue", "description": "start_time is too recent"}, status=422
                )
            after = (start - 1, 0)
            rows = [t for t in order if t["generated_timestamp"] >= start]
        else:
            return self.json(
                {"error": "InvalidValue", "description": "start_time or cursor is required"},
                status=400,
            )
        page = rows[: self.page_size]
        end = len(rows) <= self.page_size
        last = (page[-1]["generated_timestamp"], page[-1]["id"]) if page else after
        cursor = base64.urlsafe_b64encode(orjson.dumps(list(last))).decode()
        body = {
            "tickets": page,
            "after_cursor": cursor,
            "after_url": f"{self.base_url}/api/v2/incremental/tickets/cursor.json?cursor={cursor}",
            "before_cursor": None,
            "before_url": None,
            "end_of_stream": end,
        }
        include = set(filter(None, args.get("include", "").split(",")))
        if "users" in include:
            wanted = {t["requester_id"] for t in page}
            body["users"] = [user for uid, user in self.users.items() if uid in wanted]
        if "metric_sets" in include:
            body["metric_sets"] = [self.metrics[t["id"]] for t in page if t["id"] in self.metrics]
        return self.json(body, headers={"X-Rate-Limit": "700", "X-Rate-Limit-Remaining": "699"})
