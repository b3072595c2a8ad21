"""A server shaped like HubSpot's CRM v3 contact search (`POST /crm/v3/objects/contacts/search`):
filter groups (ORed) of filters (ANDed) with EQ/GT/GTE/LT/LTE on `lastmodifieddate` (epoch
milliseconds) and `hs_object_id`, sorts, `properties`, `limit` (at most 200), `after` paging, the
10,000-result window (smaller here when a test says so) answered with 400 past it, and Bearer auth.
"""

from __future__ import annotations

import re
from datetime import UTC, datetime, timedelta

from werkzeug import Request, Response

from tests.integrations.protocol_servers import ProtocolServer

TOKEN = "pat-na1-test-token-0000"
BASE_TIME = datetime(2026, 3, 1, tzinfo=UTC)
NUMERIC = {"lastmodifieddate", "createdate", "hs_object_id"}


def iso(moment: datetime) -> str:
    return moment.strftime("%Y-%m-%dT%H:%M:%S.") + f"{moment.microsecond // 1000:03d}Z"


def _millis(value: str) -> int:
    return int(datetime.fromisoformat(value.replace("Z", "+00:00")).timestamp() * 1000)


class HubspotServer(ProtocolServer):
    def __init__(self, *, token: str = TOKEN, window: int = 10_000, **kwargs):
        super().__init__(**kwargs)
        self.token = token
        self.window = window
        self.contacts: dict[int, dict] = {}
        self._minute = 0

    def put_contact(self, contact_id: int, *, modified: datetime | None = None, **props) -> dict:
        """Create or change a contact (its lastmodifieddate moves on unless given)."""
        if modified is None:
            self._minute += 1
            modified = BASE_TIME + timedelta(minutes=self._minute)
        contact = self.contacts.get(contact_id) or {
            "id": str(contact_id),
            "properties": {
                "hs_object_id": str(contact_id),
                "createdate": iso(modified),
                "email": f"contact{contact_id}@example.com",
                "firstname": "Contact",
                "lastname": str(contact_id),
            },
            "createdAt": iso(modified),
            "archived": False,
        }
        contact["properties"].update(props, lastmodifieddate=iso(modified))
        contact["updatedAt"] = iso(modified)
        self.contacts[contact_id] = contact
        return contact

    def routes(self) -> list:
        return [(re.compile(r"^/crm/v3/objects/contacts/search$"), "POST", self.search)]

    @staticmethod
    def _error(status: int, message: str, category: str) -> Response:
        return ProtocolServer.json(
            {
                "status": "error",
                "message": message,
                "correlationId": "test-correlation",
                "category": category,
            },
            status=status,
        )

    @staticmethod
    def _value(contact: dict, name: str):
        value = contact["properties"].get(name)
        if value is None:
            return None
        if name in ("lastmodifieddate", "createdate"):
            return _millis(value)
        if name in NUMERIC:
            return int(value)
        return value

    def _matches(self, contact: dict, group: dict) -> bool:
        for rule in group.get("filters", []):
            name, op = rule["propertyName"], rule["operator"]
            have = self._value(contact, name)
            want = int(rule["value"]) if name in NUMERIC else rule.get("value")
            if have is None:
                return False
            ok = {
                "EQ": have == want,
                "NEQ": have != want,
                "GT": have > want,
                "GTE": have >= want,
                "LT": have < want,
                "LTE": have <= want,
            }.get(op)
            if not ok:
                return False
        return True

    def search(self, request: Request) -> Response:
        if request.headers.get("Authorization") != f"Bearer {self.token}":
            return self._error(
                401,
                "Authentication credentials not found. This API supports OAuth 2.0 "
                "authentication and you can find more details at https://developers.hubspot.com/docs/methods/auth/oauth-overview",
                "INVALID_AUTHENTICATION",
            )
        body = request.get_json(silent=True)
        if not isinstance(body, dict):
            return self._error(400, "Invalid input JSON", "VALIDATION_ERROR")
        limit = int(body.get("limit", 10))
        if limit > 200:
            return self._error(400, "limit must be at most 200", "VALIDATION_ERROR")
        offset = int(body.get("after") or 0)
        if offset + limit > self.window:
            return self._error(
                400,
                f"There was a problem with the request. Paging past {self.window} results is "
                "not supported.",
                "VALIDATION_ERROR",
            )
        groups = body.get("filterGroups") or []
        rows = [
            c
            for c in self.contacts.values()
            if not groups or any(self._matches(c, g) for g in groups)
        ]
        for rule in reversed(body.get("sorts") or []):
            rows.sort(
                key=lambda c, name=rule["propertyName"]: self._value(c, name) or 0,
                reverse=rule.get("direction") == "DESCENDING",
            )
        page = rows[offset : offset + limit]
        wanted = set(
            body.get("properties")
            or ["createdate", "email", "firstname", "hs_object_id", "lastmodifieddate", "lastname"]
        )
        results = [
            {**c, "properties": {k: v for k, v in c["properties"].items() if k in wanted}}
            for c in page
        ]
        answer = {"total": len(rows), "results": results}
        if offset + limit < len(rows):
            after = str(offset + limit)
            answer["paging"] = {"next": {"after": after, "link": f"?after={after}"}}
        return self.json(answer)
