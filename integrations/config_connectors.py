"""What sources and destinations share in the configuration file: a connector's settings
checked with its own cleaning, and its secrets taken from the environment.

Secrets are never in the file. The file names, per secret, the environment variable that holds
it (`secrets: {api_key: {env: MAILCHIMP_KEY}}`); an object that exists keeps its stored secrets,
and a new one takes them from those variables or is reported as needing them.
"""

from __future__ import annotations

from collections.abc import Callable

from cdp_site.config_as_code.fields import ItemReader, env_name, secrets_from_env
from cdp_site.errors import InvalidInputError

from .connectors.base import Connector
from .secrets import secrets_decrypt


def secrets_exported(prefix: str, name: str, token: str) -> dict:
    """{secret field: {env: VARIABLE}} for each secret stored: where the file says to find it."""
    stored = secrets_decrypt(token) if token else {}
    return {
        field: {"env": env_name(prefix, name, field)}
        for field in sorted(stored)
        if stored[field] not in (None, "")
    }


def connector_settings_check(
    read: ItemReader,
    cls: type[Connector],
    *,
    stored_token: str | None,
    clean: Callable[[type[Connector], dict, dict | None], tuple[dict, dict]],
) -> tuple[dict, dict, str]:
    """(config, secrets for a new object, plan note) of one item, problems left in `read`.

    `stored_token` is the existing object's encrypted secrets (None for a new object); `clean`
    is the cleaning the pages use for this kind of object, given (class, values, stored secrets).
    """
    config = read.mapping("config")
    refs = read.secret_refs("secrets", cls.secret_field_names())
    for field in config:
        if field in cls.secret_field_names():
            read.fail(f"config.{field}", "A secret; give it under secrets as {env: VARIABLE}.")
    note = ""
    stored = secrets_decrypt(stored_token) if stored_token else None
    secrets: dict = {}
    if stored is None:
        secrets, missing = secrets_from_env(refs)
        for field in cls.secret_field_names():
            spec = next(f for f in cls.fields if f.name == field)
            if field in refs and refs[field] in missing:
                read.fail(
                    f"secrets.{field}",
                    f"Needs a secret: set the environment variable {refs[field]}.",
                )
            elif spec.required and field not in refs:
                read.fail(
                    "secrets",
                    f"Needs the secret “{field}”: give {field}: {{env: VARIABLE_NAME}}.",
                )
        if secrets:
            note = "secrets from " + ", ".join(sorted(refs[f] for f in secrets))
    values = {
        **{k: v for k, v in config.items() if k not in cls.secret_field_names()},
        **secrets,
    }
    known = {spec.name for spec in cls.fields}
    for field in sorted(set(config) - known):
        read.fail(f"config.{field}", f"{cls.label} has no setting “{field}”.")
    if any(p.path.startswith(read.path) for p in read.problems):
        return config, secrets, note
    # The secrets' presence is checked above; the cleaning may still need values for them.
    filler = dict.fromkeys(cls.secret_field_names(), "configured")
    try:
        config_clean, _ = clean(cls, {**values}, {**filler, **(stored or {}), **secrets})
    except InvalidInputError as error:
        where = "secrets" if error.field in cls.secret_field_names() else "config"
        read.fail(f"{where}.{error.field}" if error.field else "config", error.message)
        return config, secrets, note
    return config_clean, secrets, note
