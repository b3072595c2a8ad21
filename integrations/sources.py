"""Writes of connector sources: create and update from a connector's fields (secrets encrypted,
kept unless replaced), and the connection test.

Values arrive from a form or the API as a flat dict by field name; `connector_values_clean`
checks them against the connector's `ConfigField`s and splits them into the non-secret config
and the secrets. A secret left blank on an update keeps the stored one.
"""

import json
import logging

from django.db import IntegrityError, transaction
from guardian.shortcuts import assign_perm

from cdp_site.audit import AuditAction
from cdp_site.errors import InvalidInputError

from .connectors.base import ConfigField, ConnectionCheck, Connector, ConnectorError
from .connectors.registry import connector_class
from .models import Source
from .secrets import secrets_decrypt, secrets_encrypt
from .services import SOURCE_OWNER_PERMISSIONS, source_audit

logger = logging.getLogger("cdp.sources")

TRUE_WORDS = frozenset({"1", "true", "on", "yes"})


def _field_value(spec: ConfigField, raw: object) -> object:
    """One value converted to its field's kind; InvalidInputError naming the field if it is not."""
    problem = None
    if spec.kind == "integer":
        try:
            if isinstance(raw, bool):
                raise ValueError
            return int(str(raw).strip())
        except ValueError:
            problem = f"{spec.label} must be a whole number."
    elif spec.kind == "boolean":
        return raw if isinstance(raw, bool) else str(raw).strip().lower() in TRUE_WORDS
    elif spec.kind == "json":
        if isinstance(raw, dict | list):
            return raw
        try:
            return json.loads(str(raw))
        except ValueError:
            problem = f"{spec.label} must be JSON."
    elif spec.kind == "choice":
        if str(raw) in {value for value, _ in spec.choices}:
            return str(raw)
        problem = f"{spec.label} must be one of: {', '.join(v for v, _ in spec.choices)}."
    elif isinstance(raw, str):
        value = raw if spec.kind in ("textarea", "secret") else raw.strip()
        if spec.kind == "url" and not value.startswith(("http://", "https://")):
            problem = f"{spec.label} must be an http:// or https:// address."
        else:
            return value
    else:
        problem = f"{spec.label} must be text."
    raise InvalidInputError(problem, field=spec.name)


def _blank(value: object) -> bool:
    return value is None or (isinstance(value, str) and not value.strip())


def connector_values_clean(
    cls: type[Connector], values: dict, *, stored_secrets: dict | None = None
) -> tuple[dict, dict]:
    """(config, secrets) from submitted values; blank secrets keep `stored_secrets`."""
    config: dict = {}
    secrets: dict = {}
    stored_secrets = stored_secrets or {}
    for spec in cls.fields:
        raw = values.get(spec.name)
        if spec.is_secret:
            if not _blank(raw):
                secrets[spec.name] = _field_value(spec, raw)
            elif spec.name in stored_secrets:
                secrets[spec.name] = stored_secrets[spec.name]
            elif spec.required:
                raise InvalidInputError(f"{spec.label} is required.", field=spec.name)
            continue
        if _blank(raw) or (spec.kind == "boolean" and raw is None):
            if spec.kind == "boolean":
                config[spec.name] = bool(spec.default)
            elif spec.default is not None:
                config[spec.name] = spec.default
            elif spec.required:
                raise InvalidInputError(f"{spec.label} is required.", field=spec.name)
            continue
        config[spec.name] = _field_value(spec, raw)
    validate = getattr(cls, "config_validate", None)
    if validate is not None:
        validate(config)
    return config, secrets


def _name_clean(name: object) -> str:
    if not isinstance(name, str) or not name.strip():
        raise InvalidInputError("Give the source a name.", field="name")
    name = name.strip()
    if len(name) > 200:
        raise InvalidInputError("A name has at most 200 characters.", field="name")
    return name


def source_connector_create(*, name: str, kind: str, values: dict, created_by=None) -> Source:
    """A new connector source; its creator may manage it."""
    cls = connector_class(kind)
    if cls.kind != "source":
        raise InvalidInputError(f"“{cls.label}” is not a source.", field="kind")
    name = _name_clean(name)
    config, secrets = connector_values_clean(cls, values)
    if Source.objects.filter(name__iexact=name).exists():
        raise InvalidInputError("A source with this name already exists.", field="name")
    try:
        with transaction.atomic():
            source = Source.objects.create(
                name=name,
                kind=kind,
                config=config,
                secrets_encrypted=secrets_encrypt(secrets),
                created_by=created_by,
            )
            if created_by is not None:
                for perm in SOURCE_OWNER_PERMISSIONS:
                    assign_perm(perm, created_by, source)
            source_audit(
                user=created_by, action=AuditAction.SOURCE_CREATE, source=source, kind=kind
            )
    except IntegrityError:
        raise InvalidInputError("A source with this name already exists.", field="name") from None
    return source


def source_connector_update(*, source: Source, values: dict, name: str | None = None) -> Source:
    """New settings for a connector source; secrets left blank stay as they were."""
    cls = connector_class(source.kind)
    config, secrets = connector_values_clean(
        cls, values, stored_secrets=secrets_decrypt(source.secrets_encrypted)
    )
    if name is not None:
        name = _name_clean(name)
        if Source.objects.filter(name__iexact=name).exclude(pk=source.pk).exists():
            raise InvalidInputError("A source with this name already exists.", field="name")
        source.name = name
    # What the connector keeps for itself in its config (an uploaded file, a mapping) stays.
    kept = {key: source.config[key] for key in cls.state_keys if key in (source.config or {})}
    source.config = {**kept, **config}
    source.secrets_encrypted = secrets_encrypt(secrets)
    try:
        source.save(update_fields=["name", "config", "secrets_encrypted"])
    except IntegrityError:
        raise InvalidInputError("A source with this name already exists.", field="name") from None
    return source


def connection_test(
    *, kind: str, values: dict | None = None, source: Source | None = None
) -> ConnectionCheck:
    """Try the connection with the submitted values (a saved source's secrets fill the blanks),
    or with the saved source's settings; the answer is for people, never an exception."""
    cls = connector_class(kind)
    try:
        if values is None and source is not None:
            config, secrets = dict(source.config), secrets_decrypt(source.secrets_encrypted)
        else:
            stored = secrets_decrypt(source.secrets_encrypted) if source is not None else None
            config, secrets = connector_values_clean(cls, values or {}, stored_secrets=stored)
        return cls(config=config, secrets=secrets).check_connection()
    except InvalidInputError as problem:
        return ConnectionCheck(ok=False, message=problem.message)
    except ConnectorError as problem:
        return ConnectionCheck(ok=False, message=problem.message)
    except Exception as problem:
        logger.exception("connection test failed", extra={"kind": kind})
        return ConnectionCheck(
            ok=False, message=f"The test stopped on an unexpected error ({type(problem).__name__})."
        )
