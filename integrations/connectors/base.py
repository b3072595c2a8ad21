"""The connector contract: what a source (or destination) declares and does.

A connector class declares its configuration as `ConfigField`s (the setup form and the API are
built from them; `secret` fields are stored encrypted and never shown back), answers
`check_connection()` in words a person can act on, and, for a source, `read(checkpoint)`: batches
of records, each batch with the checkpoint reached after it, so a run resumes where the last
committed batch ended. Failures are told apart: `TransientError` is retried by the runner,
`TerminalError` fails the run with its message.
"""

from collections.abc import Iterator
from dataclasses import dataclass, field
from typing import ClassVar

FIELD_KINDS = ("text", "url", "integer", "choice", "boolean", "textarea", "secret", "json")


@dataclass(frozen=True)
class ConfigField:
    name: str  # key in the config dict
    label: str
    kind: str = "text"  # one of FIELD_KINDS
    help_text: str = ""
    required: bool = True
    default: object = None
    choices: tuple[tuple[str, str], ...] = ()

    @property
    def is_secret(self) -> bool:
        return self.kind == "secret"


@dataclass(frozen=True)
class ConnectionCheck:
    ok: bool
    message: str  # a clear human answer


@dataclass(frozen=True)
class SourceRecord:
    record_id: str  # the record's stable id in the source
    version: str  # changes when the record changes
    message: dict  # a Segment-spec message without messageId


@dataclass(frozen=True)
class RecordError:
    position: str  # "line 17", "order 4512"
    reason: str


@dataclass
class ReadBatch:
    records: list[SourceRecord]
    checkpoint: dict  # JSON state after this batch; read(checkpoint) resumes after it
    errors: list[RecordError] = field(default_factory=list)
    total: int | None = None  # records expected in the whole run, where the source can tell
    done: int | None = None  # records read so far in the run, where the source can tell


class ConnectorError(Exception):
    """A failure of a connector; `message` is for people."""

    def __init__(self, message: str):
        super().__init__(message)
        self.message = message


class TransientError(ConnectorError):
    """Timeouts, resets, 429, 5xx: worth trying again, after `retry_after` seconds if given."""

    def __init__(self, message: str, *, retry_after: float | None = None):
        super().__init__(message)
        self.retry_after = retry_after


class TerminalError(ConnectorError):
    """Refused credentials, a missing table, a bad mapping: trying again will not help until a
    person fixes what the message names."""


class Connector:
    key: ClassVar[str]
    label: ClassVar[str]
    kind: ClassVar[str] = "source"  # "source" | "destination"
    description: ClassVar[str] = ""
    fields: ClassVar[tuple[ConfigField, ...]] = ()
    pulls: ClassVar[bool] = True  # False for push sources (webhook): no runs, no schedule
    # True: the runner reads the next batch in a background thread while it stores this one
    # (only for connectors whose `read` does not use Django's database connection).
    prefetch: ClassVar[bool] = False
    # Config keys the connector writes itself (not form fields), kept when the settings change.
    state_keys: ClassVar[tuple[str, ...]] = ()

    def __init__(self, config: dict, secrets: dict):
        self.config = config
        self.secrets = secrets

    @classmethod
    def secret_field_names(cls) -> tuple[str, ...]:
        return tuple(f.name for f in cls.fields if f.is_secret)

    def value(self, name: str):
        """A setting by name, secret or not, falling back to the field's default."""
        if name in self.secrets:
            return self.secrets[name]
        value = self.config.get(name)
        if value is None or value == "":
            for spec in self.fields:
                if spec.name == name:
                    return spec.default
        return value

    def secret_required(self, name: str, label: str) -> str:
        """A secret setting, trimmed; a missing one stops the run with a message naming `label`
        ("The Mailchimp API key"), never a value."""
        value = str(self.secrets.get(name) or "").strip()
        if not value:
            raise TerminalError(f"{label} is missing: set it on the {self.kind}.")
        return value

    def check_connection(self) -> ConnectionCheck:
        raise NotImplementedError

    def read(self, checkpoint: dict) -> Iterator[ReadBatch]:
        raise NotImplementedError


# Destinations: what an audience sync hands a destination connector, and what it gets back.


@dataclass(frozen=True)
class AudienceRecord:
    """One profile as a destination receives it."""

    profile_id: int
    # {"email": [...], "phone": [...], "user_id": [...], "anonymous_id": [...]}, normalised as
    # identity resolution keeps them (e-mail trimmed and lower-cased, phone in E.164), first = main.
    identifiers: dict
    # The sync's field mapping applied: {"first_name": "Ada", ...}
    traits: dict


@dataclass(frozen=True)
class DeliveryBatch:
    """One request's worth of membership changes for one audience sync."""

    batch_id: str  # stable across retries and resumes: the receiver's idempotency key
    audience_key: str  # stable id of the audience sync, e.g. "cdp-sync-12"
    audience_name: str  # the segment's name
    entered: list[AudienceRecord]  # add or update
    exited: list[AudienceRecord]  # remove


@dataclass(frozen=True)
class RecordFailure:
    """A record the destination did not take, in its own words."""

    profile_id: int  # for `forward`, the message's index in the list given
    reason: str
    transient: bool


@dataclass
class DeliveryResult:
    """Every record of the batch not listed in `failures` was delivered."""

    failures: list[RecordFailure] = field(default_factory=list)


class DestinationConnector(Connector):
    """A connector that receives audiences (`deliver`) or events (`forward`).

    `deliver` and `forward` raise TransientError / TerminalError when the whole request failed;
    a destination that takes some records and refuses others lists the refused ones in the result.
    `subject_delete` asks the destination to forget one person (an erasure request): it returns
    `ConnectionCheck(ok, message)` saying what the destination answered, and raises TransientError
    when it could not be asked now and should be asked again.
    """

    kind: ClassVar[str] = "destination"
    pulls: ClassVar[bool] = False
    max_batch: ClassVar[int] = 1000
    can_delete: ClassVar[bool] = False

    def deliver(self, batch: DeliveryBatch) -> DeliveryResult:
        raise TerminalError(f"{self.label} does not take audiences.")

    def forward(self, messages: list[dict]) -> DeliveryResult:
        raise TerminalError(f"{self.label} does not take forwarded events.")

    def subject_delete(self, identifiers: dict) -> ConnectionCheck:
        raise TerminalError(f"{self.label} cannot delete a person.")
