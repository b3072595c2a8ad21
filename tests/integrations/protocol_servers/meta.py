"""A Meta Marketing API stand-in for Custom Audience users: add, remove, read the audience.

`POST` / `DELETE /{version}/{audience_id}/users` take `{"payload": {"schema", "data"}, "session"}`
with at most 10,000 rows. The server matches people as Meta does, by any hashed key of a row: a
removal takes out every held row sharing a key with a removed row. It keeps every value it was
sent in `values_seen`, so a test can prove no plain e-mail or phone ever arrived, and answers a
value that is not a SHA-256 hex digest as an invalid entry. Errors use the Graph API shape
`{"error": {"message", "type", "code", "error_subcode", "is_transient", "fbtrace_id"}}`; the
extra failure mode "throttle" answers 400 with code 17, as Meta does when an ad account is over
its limit.
"""

import re
from dataclasses import dataclass, field

from tests.integrations.protocol_servers.scripted import Reply, Request, ScriptedServer

USERS_PATH = re.compile(r"^/(v\d+\.\d+)/(\d+)/users$")
AUDIENCE_PATH = re.compile(r"^/(v\d+\.\d+)/(\d+)$")
SHA256_HEX = re.compile(r"^[0-9a-f]{64}$")
KNOWN_KEYS = {"EMAIL", "PHONE", "EMAIL_SHA256", "PHONE_SHA256", "FN", "LN", "COUNTRY"}


def graph_error(
    status: int, message: str, code: int, *, subcode: int | None = None, transient=False
) -> Reply:
    error = {
        "message": message,
        "type": "OAuthException",
        "code": code,
        "is_transient": transient,
        "fbtrace_id": "AbCdEf123",
    }
    if subcode is not None:
        error["error_subcode"] = subcode
    return Reply(status, {"error": error})


@dataclass
class Audience:
    name: str
    rows: set[tuple[str, ...]] = field(default_factory=set)
    sessions: list[dict] = field(default_factory=list)

    def keys(self) -> set[str]:
        """Every hashed key held (e-mail or phone hashes)."""
        return {value for row in self.rows for value in row if value}


class MetaServer(ScriptedServer):
    def __init__(self, access_token: str = "EAAtest-token", **kwargs):  # noqa: S107
        super().__init__(**kwargs)
        self.access_token = access_token
        self.audiences: dict[str, Audience] = {"23850000000000001": Audience("Big spenders")}
        self.values_seen: set[str] = set()

    def _failure_reply(self, mode: str, retry_after: float | None) -> Reply | None:
        if mode == "throttle":
            return graph_error(
                400,
                "(#17) User request limit reached",
                17,
                subcode=2446079,
                transient=True,
            )
        return super()._failure_reply(mode, retry_after)

    def error_body(self, status: int) -> object:
        return {"error": {"message": f"scripted failure {status}", "code": 1, "type": "Scripted"}}

    def handle(self, request: Request) -> Reply:
        if request.headers.get("authorization") != f"Bearer {self.access_token}":
            return graph_error(400, "Invalid OAuth access token - Cannot parse access token", 190)
        users = USERS_PATH.match(request.path)
        audience_path = AUDIENCE_PATH.match(request.path)
        match = users or audience_path
        audience = self.audiences.get(match.group(2)) if match else None
        if audience is None:
            return graph_error(
                400,
                "Unsupported request - object does not exist or cannot be loaded",
                100,
                subcode=33,
            )
        if audience_path and request.method == "GET":
            return Reply(
                200,
                {
                    "id": audience_path.group(2),
                    "name": audience.name,
                    "approximate_count_lower_bound": len(audience.rows),
                },
            )
        if users and request.method in ("POST", "DELETE"):
            return self._users(audience, request, users.group(2))
        return graph_error(400, "Unsupported request method", 100)

    def _users(self, audience: Audience, request: Request, audience_id: str) -> Reply:
        try:
            body = request.json()
            schema, data = body["payload"]["schema"], body["payload"]["data"]
        except (ValueError, KeyError, TypeError):
            return graph_error(400, "(#100) The parameter payload is required", 100)
        if not isinstance(schema, list) or not set(schema) <= KNOWN_KEYS:
            return graph_error(400, "(#100) Invalid schema", 100)
        if len(data) > 10_000:
            return graph_error(400, "(#100) Too many entries: at most 10000 a request", 100)
        invalid: dict[str, str] = {}
        good_rows = []
        for row in data:
            if len(row) != len(schema):
                return graph_error(400, "(#100) Each row must match the schema", 100)
            self.values_seen.update(value for value in row if value)
            bad = [value for value in row if value and not SHA256_HEX.match(value)]
            for value in bad:
                invalid[value] = "Invalid format"
            if not bad:
                good_rows.append(tuple(row))
        if request.method == "POST":
            audience.rows.update(good_rows)
        else:
            removed = {value for row in good_rows for value in row if value}
            audience.rows = {row for row in audience.rows if not removed & set(row)}
        audience.sessions.append(body.get("session") or {})
        return Reply(
            200,
            {
                "audience_id": audience_id,
                "session_id": str((body.get("session") or {}).get("session_id", "")),
                "num_received": len(data),
                "num_invalid_entries": len(invalid),
                "invalid_entry_samples": invalid,
            },
        )
