"""Mailchimp audience (list) destination, in the Mailchimp Marketing API 3.0 shape.

- Entries: `POST /3.0/lists/{list_id}` with up to 500 `members` (`email_address`, `status_if_new`,
  `merge_fields`) and `update_existing: true`, an upsert, so a retried batch changes nothing twice.
  An existing member keeps the status they have: a person who unsubscribed in Mailchimp is never
  subscribed again by a sync; only new members get `status_if_new`.
- Per-member refusals come back in the 2xx answer's `errors` array; each becomes a RecordFailure
  with Mailchimp's own words.
- Exits: `DELETE /3.0/lists/{list_id}/members/{subscriber_hash}` archives the member (404 means
  there is nothing to archive, which is what we wanted). The subscriber hash is the MD5 hex of the
  lower-cased e-mail.
- Erasure: `POST .../members/{subscriber_hash}/actions/delete-permanent`.
- Auth: HTTP Basic with any user name and the API key as password; the API key's suffix after
  `-` names the data centre (`...-us6` -> `https://us6.api.mailchimp.com`).
"""

import hashlib
import json
from typing import ClassVar
from urllib.parse import quote, urlsplit

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
from integrations.connectors.http import server_message, trimmed
from integrations.connectors.http_delivery import DeliveryClient
from integrations.connectors.options import int_option, option
from integrations.connectors.registry import register

MAX_MEMBERS_PER_REQUEST = 500
DEFAULT_MERGE_FIELDS = {"first_name": "FNAME", "last_name": "LNAME", "phone": "PHONE"}
# Answers about one member that do not stop a batch (404: not on the list, nothing to archive).
MEMBER_REFUSALS = (400, 404, 405, 422)
NO_EMAIL = "No e-mail address: a Mailchimp list keeps people by e-mail."


def subscriber_hash(email: str) -> str:
    """Mailchimp's member id: MD5 hex of the lower-cased address (not a security use)."""
    return hashlib.md5(email.strip().lower().encode(), usedforsecurity=False).hexdigest()


@register
class MailchimpListDestination(DestinationConnector):
    key: ClassVar[str] = "mailchimp_list"
    label: ClassVar[str] = "Mailchimp audience"
    description: ClassVar[str] = (
        "Keeps a Mailchimp audience (list) in step: people entering are subscribed or updated, "
        "people leaving are archived."
    )
    max_batch: ClassVar[int] = MAX_MEMBERS_PER_REQUEST
    can_delete: ClassVar[bool] = True
    fields: ClassVar[tuple[ConfigField, ...]] = (
        ConfigField("api_key", "API key", kind="secret", help_text="Ends in the data centre: -us6"),
        ConfigField("list_id", "Audience ID", help_text="Audience > Settings > Audience ID."),
        ConfigField(
            "status_if_new",
            "Status of new members",
            kind="choice",
            required=False,
            default="subscribed",
            choices=(
                ("subscribed", "Subscribed"),
                ("pending", "Pending (Mailchimp sends a confirmation e-mail)"),
                ("transactional", "Transactional (no marketing e-mail)"),
            ),
            help_text="Existing members keep their status: nobody who unsubscribed is re-added.",
        ),
        ConfigField(
            "merge_fields",
            "Merge fields",
            kind="json",
            required=False,
            default=DEFAULT_MERGE_FIELDS,
            help_text='Mapped field -> Mailchimp merge tag, e.g. {"first_name": "FNAME"}.',
        ),
        ConfigField(
            "base_url",
            "API address",
            kind="url",
            required=False,
            help_text="Leave blank to use the data centre named in the API key.",
        ),
        ConfigField(
            "timeout_seconds", "Timeout (seconds)", kind="integer", required=False, default=30
        ),
    )

    def __init__(self, config: dict, secrets: dict):
        super().__init__(config, secrets)
        self._timeout = int_option(self.fields, config, "timeout_seconds", low=1, high=300)
        self._client = None

    # Settings ------------------------------------------------------------------------------

    def _api_key(self) -> str:
        return self.secret_required("api_key", "The Mailchimp API key")

    def _base_url(self) -> str:
        base_url = str(option(self.fields, self.config, "base_url") or "").strip().rstrip("/")
        if base_url:
            if urlsplit(base_url).scheme not in ("http", "https"):
                raise TerminalError("The API address must start with https://.")
            return base_url
        _, dash, data_centre = self._api_key().rpartition("-")
        if not dash or not data_centre.isalnum():
            raise TerminalError(
                "The API key does not end in a data centre such as -us6: copy the whole key "
                "from Mailchimp, or give the API address."
            )
        return f"https://{data_centre}.api.mailchimp.com"

    def _list_url(self, suffix: str = "") -> str:
        list_id = str(option(self.fields, self.config, "list_id") or "").strip()
        if not list_id:
            raise TerminalError("The audience ID is missing.")
        return f"{self._base_url()}/3.0/lists/{quote(list_id, safe='')}{suffix}"

    def _merge_tags(self) -> dict:
        mapping = option(self.fields, self.config, "merge_fields")
        if isinstance(mapping, str):
            try:
                mapping = json.loads(mapping)
            except ValueError:
                raise TerminalError("Merge fields must be a JSON object.") from None
        if not isinstance(mapping, dict) or not all(
            isinstance(k, str) and isinstance(v, str) and v for k, v in mapping.items()
        ):
            raise TerminalError('Merge fields must map field names to merge tags: {"a": "TAG"}.')
        return mapping

    def _http(self) -> DeliveryClient:
        if self._client is None:
            self._client = DeliveryClient(
                service="Mailchimp",
                credential="API key",
                timeout=self._timeout,
                auth=("cdp", self._api_key()),
                secrets=(self._api_key(),),
            )
        return self._client

    # Delivering ------------------------------------------------------------------------------

    def _member(self, record: AudienceRecord, email: str, tags: dict, status: str) -> dict:
        merge_fields = {
            tag: value
            for field_name, tag in tags.items()
            if (value := record.traits.get(field_name)) not in (None, "")
        }
        return {"email_address": email, "status_if_new": status, "merge_fields": merge_fields}

    def _subscribe(self, records: list[AudienceRecord], failures: list[RecordFailure]) -> None:
        tags = self._merge_tags()
        status = option(self.fields, self.config, "status_if_new")
        for chunk in chunks(records, MAX_MEMBERS_PER_REQUEST):
            profiles_by_email: dict[str, list[int]] = {}
            members = []
            for record in chunk:
                email = first(record.identifiers, "email")
                if not email:
                    failures.append(RecordFailure(record.profile_id, NO_EMAIL, transient=False))
                    continue
                if email.lower() not in profiles_by_email:
                    members.append(self._member(record, email, tags, status))
                profiles_by_email.setdefault(email.lower(), []).append(record.profile_id)
            if not members:
                continue
            http = self._http()
            answer = http.json(
                http.request(
                    "POST", self._list_url(), json={"members": members, "update_existing": True}
                )
            )
            for error in answer.get("errors") or []:
                email = str(error.get("email_address") or "").lower()
                reason = trimmed(error.get("error") or "Mailchimp refused this member.")
                if error.get("error_code"):
                    reason = f"{reason} ({error['error_code']})"
                for profile_id in profiles_by_email.get(email, []):
                    failures.append(RecordFailure(profile_id, reason, transient=False))

    def _archive(self, records: list[AudienceRecord], failures: list[RecordFailure]) -> None:
        for record in records:
            email = first(record.identifiers, "email")
            if not email:
                continue  # never sent, so nothing to archive
            url = self._list_url(f"/members/{subscriber_hash(email)}")
            # A refusal of this one member is the member's failure; a refused API key, a throttle
            # or an outage still raises and stops the whole batch.
            response = self._http().request("DELETE", url, ok_statuses=MEMBER_REFUSALS)
            if response.status_code in MEMBER_REFUSALS and response.status_code != 404:
                said = self._http().blank(server_message(response))
                reason = f"Mailchimp refused ({response.status_code}): {said}"
                failures.append(RecordFailure(record.profile_id, reason, transient=False))

    def deliver(self, batch: DeliveryBatch) -> DeliveryResult:
        failures: list[RecordFailure] = []
        self._subscribe(batch.entered, failures)
        self._archive(batch.exited, failures)
        return DeliveryResult(failures=failures)

    # Checking and erasing --------------------------------------------------------------------

    def check_connection(self) -> ConnectionCheck:
        try:
            http = self._http()
            response = http.request(
                "GET", self._list_url(), params={"fields": "name,stats.member_count"}
            )
            answer = http.json(response)
        except (TransientError, TerminalError) as error:
            if "(404)" in error.message:
                return ConnectionCheck(
                    False, "Mailchimp has no audience with this ID: check the audience ID."
                )
            return ConnectionCheck(False, error.message)
        count = (answer.get("stats") or {}).get("member_count")
        size = f" ({count:,} subscribed)" if isinstance(count, int) else ""
        return ConnectionCheck(True, f'Connected to the audience "{answer.get("name")}"{size}.')

    def subject_delete(self, identifiers: dict) -> ConnectionCheck:
        """Permanently delete every e-mail of the person from the list (it cannot be re-added)."""
        emails = [email for email in identifiers.get("email") or () if email]
        deleted = 0
        for email in dict.fromkeys(e.strip().lower() for e in emails):
            url = self._list_url(f"/members/{subscriber_hash(email)}/actions/delete-permanent")
            try:
                response = self._http().request("POST", url, ok_statuses=(404,))
            except TerminalError as error:
                return ConnectionCheck(False, error.message)
            deleted += response.status_code != 404
        missing = len({e.strip().lower() for e in emails}) - deleted
        if not emails:
            return ConnectionCheck(True, "No e-mail address: nothing is kept in Mailchimp.")
        return ConnectionCheck(
            True,
            f"Mailchimp deleted {deleted} member(s) permanently; "
            f"{missing} address(es) were not on the list.",
        )
