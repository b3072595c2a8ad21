"""Meta Custom Audience destination, in the Marketing API's shape, hashing everything it sends.

- Entries: `POST {base}/{version}/{audience_id}/users`; exits: `DELETE` on the same path, both
  with `{"payload": {"schema": ["EMAIL", "PHONE"], "data": [[...], ...]}, "session": {...}}`
  (Meta's multi-key schema, whose values are SHA-256 hashes), at most 10,000 rows a request.
- Each profile is one row: its main e-mail and main phone, normalised as Meta specifies and
  SHA-256 hashed here (`hashing`), "" where unknown. No plain identifier is ever put in a request.
- A batch's requests share one `session` (`session_id` derived from the batch id, `batch_seq`,
  `last_batch_flag`), so a retried batch is the same upload to Meta.
- The access token travels in the `Authorization` header, never in a URL.
- Meta reports throttling as 400 with error code 4, 17, 613 or 80003 (or `is_transient: true`):
  that is a TransientError; a bad token (code 190) or missing permission (200, 294, 10) names
  the access token; other refusals quote Meta's `error_user_msg` / `message`.
"""

import hashlib
from typing import ClassVar
from urllib.parse import quote, urlsplit

import httpx

from integrations.connectors.audience_events import chunks, first
from integrations.connectors.base import (
    AudienceRecord,
    ConfigField,
    ConnectionCheck,
    DeliveryBatch,
    DeliveryResult,
    DestinationConnector,
    RecordFailure,
    TerminalError,
    TransientError,
)
from integrations.connectors.hashing import hashed_email, hashed_phone
from integrations.connectors.http import trimmed
from integrations.connectors.http_delivery import DeliveryClient
from integrations.connectors.options import int_option, option
from integrations.connectors.registry import register

MAX_ROWS_PER_REQUEST = 10_000
SCHEMA = ["EMAIL", "PHONE"]
THROTTLE_CODES = frozenset({4, 17, 32, 613, 80003})
CREDENTIAL_CODES = frozenset({10, 102, 190, 200, 294})
NOTHING_TO_MATCH = "No e-mail or phone to match on: Meta audiences match people by them."


def _graph_error(response: httpx.Response) -> dict:
    try:
        error = response.json().get("error")
    except (ValueError, AttributeError):
        return {}
    return error if isinstance(error, dict) else {}


def classify(response: httpx.Response) -> str | None:
    error = _graph_error(response)
    if error.get("is_transient") is True or error.get("code") in THROTTLE_CODES:
        return "transient"
    if error.get("code") in CREDENTIAL_CODES:
        return "credential"
    return None


def audience_row(record: AudienceRecord) -> list[str]:
    """The profile's hashed row in `SCHEMA` order; "" marks an unknown key."""
    return [
        hashed_email(first(record.identifiers, "email")),
        hashed_phone(first(record.identifiers, "phone")),
    ]


def _session_id(batch_id: str, operation: str) -> int:
    # A positive integer that fits JSON numbers everywhere (53 bits), the same on every retry.
    digest = hashlib.sha256(f"{batch_id}:{operation}".encode()).hexdigest()
    return int(digest[:13], 16)


@register
class MetaAudienceDestination(DestinationConnector):
    key: ClassVar[str] = "meta_audience"
    label: ClassVar[str] = "Meta custom audience"
    description: ClassVar[str] = (
        "Keeps a Meta (Facebook, Instagram) custom audience in step; e-mails and phones are "
        "normalised and SHA-256 hashed before they leave the platform."
    )
    max_batch: ClassVar[int] = MAX_ROWS_PER_REQUEST
    can_delete: ClassVar[bool] = True
    fields: ClassVar[tuple[ConfigField, ...]] = (
        ConfigField(
            "access_token",
            "Access token",
            kind="secret",
            help_text="A system user's token with the ads_management permission.",
        ),
        ConfigField("audience_id", "Custom audience ID"),
        ConfigField(
            "api_version", "Graph API version", required=False, default="v25.0", help_text="vNN.0"
        ),
        ConfigField(
            "base_url",
            "API address",
            kind="url",
            required=False,
            default="https://graph.facebook.com",
        ),
        ConfigField(
            "timeout_seconds", "Timeout (seconds)", kind="integer", required=False, default=60
        ),
    )

    def __init__(self, config: dict, secrets: dict):
        super().__init__(config, secrets)
        self._timeout = int_option(self.fields, config, "timeout_seconds", low=1, high=600)
        self._client = None

    def _token(self) -> str:
        return self.secret_required("access_token", "The Meta access token")

    def _audience_url(self, suffix: str = "") -> str:
        base_url = str(option(self.fields, self.config, "base_url")).strip().rstrip("/")
        if urlsplit(base_url).scheme not in ("http", "https"):
            raise TerminalError("The API address must start with https://.")
        version = str(option(self.fields, self.config, "api_version")).strip()
        if not (version.startswith("v") and version[1:].replace(".", "").isdigit()):
            raise TerminalError(f"The Graph API version must look like v25.0, not {version!r}.")
        audience_id = str(option(self.fields, self.config, "audience_id") or "").strip()
        if not audience_id.isdigit():
            raise TerminalError("The custom audience ID must be the audience's number.")
        return f"{base_url}/{version}/{quote(audience_id)}{suffix}"

    def _http(self) -> DeliveryClient:
        if self._client is None:
            token = self._token()
            self._client = DeliveryClient(
                service="Meta",
                credential="access token",
                timeout=self._timeout,
                headers={"Authorization": f"Bearer {token}"},
                classify=classify,
                secrets=(token,),
            )
        return self._client

    # Delivering ------------------------------------------------------------------------------

    def _send(self, method: str, rows: list[list[str]], session_id: int) -> list[dict]:
        """Send `rows` in requests of at most 10,000; the answers, in order."""
        answers = []
        parts = list(chunks(rows, MAX_ROWS_PER_REQUEST))
        for sequence, part in enumerate(parts, start=1):
            body = {
                "payload": {"schema": SCHEMA, "data": list(part)},
                "session": {
                    "session_id": session_id,
                    "batch_seq": sequence,
                    "last_batch_flag": sequence == len(parts),
                    "estimated_num_total": len(rows),
                },
            }
            http = self._http()
            answers.append(http.json(http.request(method, self._audience_url("/users"), json=body)))
        return answers

    def _apply(
        self, method: str, records: list[AudienceRecord], session_id: int, failures: list
    ) -> None:
        rows, profiles_by_hash = [], {}
        for record in records:
            row = audience_row(record)
            if not any(row):
                failures.append(RecordFailure(record.profile_id, NOTHING_TO_MATCH, False))
                continue
            rows.append(row)
            for value in row:
                if value:
                    profiles_by_hash.setdefault(value, set()).add(record.profile_id)
        if not rows:
            return
        refused: dict[int, str] = {}
        for answer in self._send(method, rows, session_id):
            samples = answer.get("invalid_entry_samples")
            # Meta samples some of the entries it could not use, keyed by the value sent.
            for value, why in (samples if isinstance(samples, dict) else {}).items():
                for profile_id in profiles_by_hash.get(value, ()):
                    refused[profile_id] = trimmed(f"Meta could not use this entry: {why}")
        failures.extend(RecordFailure(pid, reason, False) for pid, reason in refused.items())

    def deliver(self, batch: DeliveryBatch) -> DeliveryResult:
        failures: list[RecordFailure] = []
        self._apply("POST", batch.entered, _session_id(batch.batch_id, "add"), failures)
        self._apply("DELETE", batch.exited, _session_id(batch.batch_id, "remove"), failures)
        return DeliveryResult(failures=failures)

    # Checking and erasing --------------------------------------------------------------------

    def check_connection(self) -> ConnectionCheck:
        try:
            http = self._http()
            answer = http.json(
                http.request(
                    "GET",
                    self._audience_url(),
                    params={"fields": "name,approximate_count_lower_bound"},
                )
            )
        except (TransientError, TerminalError) as error:
            return ConnectionCheck(False, error.message)
        count = answer.get("approximate_count_lower_bound")
        size = f" (at least {count:,} people)" if isinstance(count, int) and count >= 0 else ""
        return ConnectionCheck(
            True, f'Connected to the custom audience "{answer.get("name")}"{size}.'
        )

    def subject_delete(self, identifiers: dict) -> ConnectionCheck:
        """Remove the person from the audience by every e-mail and phone they had."""
        rows = [[hashed_email(email), ""] for email in identifiers.get("email") or ()]
        rows += [["", hashed_phone(phone)] for phone in identifiers.get("phone") or ()]
        rows = [row for row in rows if any(row)]
        if not rows:
            return ConnectionCheck(True, "No e-mail or phone: nothing to remove from Meta.")
        key = "|".join(sorted(value for row in rows for value in row if value))
        try:
            self._send("DELETE", rows, _session_id(key, "erase"))
        except TerminalError as error:
            return ConnectionCheck(False, error.message)
        return ConnectionCheck(
            True, f"Meta took the removal of {len(rows)} hashed identifier(s) from the audience."
        )
