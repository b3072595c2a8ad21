"""A connector's settings as a person sends them, checked against its `ConfigField`s and split
into what is stored plainly and what is encrypted."""

import json

from cdp_site.errors import InvalidInputError

from ..connectors.base import Connector


def config_split(
    cls: type[Connector], values: dict, *, keep_secrets: dict | None = None
) -> tuple[dict, dict]:
    """(config, secrets) from `values`; InvalidInputError naming the first bad field.

    A secret left blank keeps its stored value (`keep_secrets`): secrets are never shown back,
    only replaced.
    """
    if not isinstance(values, dict):
        raise InvalidInputError("The settings must be an object of field names to values.")
    known = {spec.name for spec in cls.fields}
    unknown = sorted(set(values) - known)
    if unknown:
        raise InvalidInputError(
            f"{cls.label} has no setting “{unknown[0]}”.", field=str(unknown[0])
        )
    config, secrets = {}, {}
    for spec in cls.fields:
        raw = values.get(spec.name)
        if spec.is_secret and raw in (None, "") and keep_secrets and spec.name in keep_secrets:
            secrets[spec.name] = keep_secrets[spec.name]
            continue
        if raw in (None, ""):
            if spec.required and spec.default in (None, "") and spec.kind != "boolean":
                raise InvalidInputError(f"{spec.label} is required.", field=spec.name)
            if spec.kind == "boolean":
                config[spec.name] = bool(spec.default)
            continue
        value = _typed(spec, raw)
        (secrets if spec.is_secret else config)[spec.name] = value
    return config, secrets


def _typed(spec, raw):
    if spec.kind == "integer":
        try:
            return int(raw)
        except (TypeError, ValueError):
            raise InvalidInputError(
                f"{spec.label} must be a whole number.", field=spec.name
            ) from None
    if spec.kind == "boolean":
        return raw in (True, "true", "on", "1", 1)
    if spec.kind == "json":
        if isinstance(raw, str):
            try:
                return json.loads(raw)
            except ValueError:
                raise InvalidInputError(f"{spec.label} must be JSON.", field=spec.name) from None
        return raw
    if not isinstance(raw, str):
        raise InvalidInputError(f"{spec.label} must be text.", field=spec.name)
    if spec.kind == "choice" and spec.choices and raw not in {c for c, _ in spec.choices}:
        raise InvalidInputError(
            f"{spec.label}: “{raw}” is not one of the choices.", field=spec.name
        )
    if spec.kind == "url" and not raw.startswith(("http://", "https://")):
        raise InvalidInputError(f"{spec.label} must be an http(s) address.", field=spec.name)
    return raw.strip() if spec.kind != "textarea" else raw
