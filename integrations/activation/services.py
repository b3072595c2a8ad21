"""Writes of activation: destinations (settings, secrets, sharing, pause and resume), audience
syncs, and the replay of dead letters."""

from datetime import timedelta

from django.db import IntegrityError, transaction
from django.db.models import Max
from django.utils import timezone
from guardian.shortcuts import assign_perm, remove_perm

from cdp_site.errors import ConflictError, InvalidInputError
from compliance.selectors import consent_purposes

from ..connectors.base import ConnectionCheck, TerminalError, TransientError
from ..connectors.registry import connector_class
from ..models import AudienceSync, AudienceSyncMember, DeadLetter, Destination, SyncRun
from ..secrets import secrets_decrypt, secrets_encrypt
from .config import config_split
from .plan import RECORD_IDENTIFIER_KINDS
from .runner import audience_sync_run_start

DESTINATION_OWNER_PERMISSIONS = (
    "integrations.view_destination",
    "integrations.change_destination",
    "integrations.delete_destination",
)
MAPPING_FIELDS_MAX = 50


def _destination_class(kind: str):
    cls = connector_class(kind, kind="destination")
    if cls.kind != "destination":
        raise InvalidInputError(f"“{kind}” is not a destination connector.", field="kind")
    return cls


def _clean_name(name: str) -> str:
    name = (name or "").strip()
    if not name or len(name) > 200:
        raise InvalidInputError("Give the destination a name of 1 to 200 characters.", field="name")
    return name


def destination_create(*, kind: str, name: str, values: dict, created_by=None) -> Destination:
    """A new destination of a connector kind, its secrets encrypted; its creator manages it."""
    cls = _destination_class(kind)
    config, secrets = config_split(cls, values)
    try:
        with transaction.atomic():
            destination = Destination.objects.create(
                kind=kind,
                name=_clean_name(name),
                config=config,
                secrets_encrypted=secrets_encrypt(secrets),
                created_by=created_by,
            )
            if created_by is not None:
                for perm in DESTINATION_OWNER_PERMISSIONS:
                    assign_perm(perm, created_by, destination)
    except IntegrityError:
        raise InvalidInputError(
            "A destination with this name already exists.", field="name"
        ) from None
    return destination


def destination_update(*, destination: Destination, name: str, values: dict) -> Destination:
    """New settings; secrets left blank keep their stored values."""
    cls = _destination_class(destination.kind)
    config, secrets = config_split(
        cls, values, keep_secrets=secrets_decrypt(destination.secrets_encrypted)
    )
    destination.name = _clean_name(name)
    destination.config = config
    destination.secrets_encrypted = secrets_encrypt(secrets)
    try:
        with transaction.atomic():
            destination.save(update_fields=["name", "config", "secrets_encrypted"])
    except IntegrityError:
        raise InvalidInputError(
            "A destination with this name already exists.", field="name"
        ) from None
    return destination


def destination_check(
    *, kind: str, values: dict, destination: Destination | None = None
) -> ConnectionCheck:
    """Test a connection with these settings (blank secrets: the destination's stored ones)."""
    cls = _destination_class(kind)
    keep = secrets_decrypt(destination.secrets_encrypted) if destination else None
    config, secrets = config_split(cls, values, keep_secrets=keep)
    try:
        return cls(config=config, secrets=secrets).check_connection()
    except (TransientError, TerminalError) as problem:
        return ConnectionCheck(ok=False, message=problem.message)


def destination_pause(*, destination: Destination, reason: str) -> Destination:
    Destination.objects.filter(pk=destination.pk).update(
        paused=True, paused_at=timezone.now(), paused_reason=reason.strip() or "Paused by an admin."
    )
    destination.refresh_from_db()
    return destination


def destination_resume(*, destination: Destination) -> Destination:
    """Deliveries start again; the failure count starts from zero."""
    Destination.objects.filter(pk=destination.pk).update(
        paused=False, paused_at=None, paused_reason="", consecutive_failures=0
    )
    destination.refresh_from_db()
    return destination


def destination_share(*, destination: Destination, group) -> None:
    """Let the people of a team send audiences to this destination."""
    assign_perm("integrations.use_destination", group, destination)


def destination_unshare(*, destination: Destination, group) -> None:
    remove_perm("integrations.use_destination", group, destination)


def mapping_clean(field_mapping) -> dict:
    """{destination field: "trait:<key>" | "identifier:<kind>"}; InvalidInputError otherwise."""
    if not isinstance(field_mapping, dict):
        raise InvalidInputError("The field mapping must map destination fields to values.")
    if len(field_mapping) > MAPPING_FIELDS_MAX:
        raise InvalidInputError(f"Map at most {MAPPING_FIELDS_MAX} fields.")
    clean = {}
    for field, spec in field_mapping.items():
        field = str(field).strip()
        if not field or len(field) > 100:
            raise InvalidInputError("Destination field names have 1 to 100 characters.")
        where, _, key = str(spec).partition(":")
        key = key.strip()
        if where == "identifier" and key in RECORD_IDENTIFIER_KINDS:
            clean[field] = f"identifier:{key}"
        elif where == "trait" and key and len(key) <= 200:
            clean[field] = f"trait:{key}"
        else:
            raise InvalidInputError(
                f"“{field}” must come from a trait (trait:first_name) or an identifier "
                f"({', '.join('identifier:' + k for k in RECORD_IDENTIFIER_KINDS)}).",
                field="field_mapping",
            )
    return clean


def _purpose_clean(purpose: str) -> str:
    purpose = (purpose or "").strip()
    if purpose and not consent_purposes().filter(key=purpose).exists():
        raise InvalidInputError(
            f"There is no consent purpose “{purpose}”.", field="consent_purpose"
        )
    return purpose


def _mode_clean(mode: str, interval_minutes) -> tuple[str, int]:
    if mode not in AudienceSync.Mode.values:
        raise InvalidInputError("Choose when the sync runs.", field="mode")
    try:
        minutes = int(interval_minutes or 60)
    except (TypeError, ValueError):
        raise InvalidInputError(
            "The interval is a number of minutes.", field="interval_minutes"
        ) from None
    if not 5 <= minutes <= 7 * 24 * 60:
        raise InvalidInputError(
            "The interval is between 5 minutes and a week.", field="interval_minutes"
        )
    return mode, minutes


def audience_sync_create(
    *,
    user,
    segment,
    destination: Destination,
    field_mapping: dict,
    consent_purpose: str,
    mode: str = AudienceSync.Mode.MANUAL,
    interval_minutes: int = 60,
) -> AudienceSync:
    """Link a segment to a destination (both already checked for `user`)."""
    mode, minutes = _mode_clean(mode, interval_minutes)
    try:
        with transaction.atomic():
            return AudienceSync.objects.create(
                segment=segment,
                destination=destination,
                field_mapping=mapping_clean(field_mapping),
                consent_purpose=_purpose_clean(consent_purpose),
                mode=mode,
                interval_minutes=minutes,
                created_by=user,
            )
    except IntegrityError:
        raise ConflictError(
            f"This segment is already sent to “{destination.name}”.", code="sync_exists"
        ) from None


def audience_sync_update(
    *,
    sync: AudienceSync,
    field_mapping: dict,
    consent_purpose: str,
    mode: str,
    interval_minutes: int,
    enabled: bool,
) -> AudienceSync:
    """New settings; the next run sends every record whose mapped values changed."""
    sync.mode, sync.interval_minutes = _mode_clean(mode, interval_minutes)
    mapping = mapping_clean(field_mapping)
    if mapping != sync.field_mapping:
        # Every record now carries other values: the next run sends them all again.
        AudienceSyncMember.objects.filter(sync=sync).update(hash="")
    sync.field_mapping = mapping
    sync.consent_purpose = _purpose_clean(consent_purpose)
    sync.enabled = bool(enabled)
    sync.save(
        update_fields=["field_mapping", "consent_purpose", "mode", "interval_minutes", "enabled"]
    )
    return sync


def audience_syncs_due_start() -> int:
    """Start a run of each enabled interval sync whose last run began an interval ago or more."""
    now = timezone.now()
    started = 0
    syncs = (
        AudienceSync.objects.filter(
            mode=AudienceSync.Mode.INTERVAL, enabled=True, destination__paused=False
        )
        .select_related("destination")
        .annotate(last=Max("sync_runs__created_at"))
    )
    for sync in syncs:
        if sync.last is not None and sync.last > now - timedelta(minutes=sync.interval_minutes):
            continue
        try:
            with transaction.atomic():
                audience_sync_run_start(sync=sync, trigger=SyncRun.Trigger.SCHEDULE)
            started += 1
        except ConflictError:
            continue
    return started


def dead_letters_replay(*, destination: Destination, user, ids: list[int] | None = None) -> dict:
    """Mark the waiting dead letters (or those of `ids`) replayed and start a run of each sync
    they belong to: a record not held by the destination is in that run's difference, so it is
    sent again if its person still belongs there. Returns {"replayed": n, "runs": [ids]}."""
    if destination.paused:
        raise ConflictError(
            "Resume the destination before replaying its dead letters.", code="destination_paused"
        )
    now = timezone.now()
    with transaction.atomic():
        letters = DeadLetter.objects.select_for_update().filter(
            destination=destination, status=DeadLetter.Status.PENDING
        )
        if ids is not None:
            letters = letters.filter(pk__in=ids)
        sync_ids = set(letters.values_list("sync_id", flat=True))
        replayed = letters.update(
            status=DeadLetter.Status.REPLAYED, replayed_at=now, replayed_by=user
        )
        runs = []
        for sync in AudienceSync.objects.filter(pk__in=sync_ids).select_related("destination"):
            try:
                with transaction.atomic():
                    runs.append(
                        audience_sync_run_start(
                            sync=sync, trigger=SyncRun.Trigger.MANUAL, user=user
                        ).pk
                    )
            except ConflictError:
                # A run is going: records not held yet are in its difference or the next.
                continue
    return {"replayed": replayed, "runs": runs}
