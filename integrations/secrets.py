"""Secrets of connectors, encrypted at rest with MultiFernet.

`CDP_SECRET_KEYS` lists Fernet keys, comma-separated: the first encrypts, every one decrypts, so a
new key is rolled out by putting it first (old tokens still read), running `manage.py
secrets_reencrypt` (every stored secret re-encrypted with the new key), then dropping the old
key. Without the setting, one key derived from SECRET_KEY serves the embedded default.

Secret values leave this module only as a dict handed to a connector; nothing here logs them.
"""

import base64
import functools
import hashlib
import json

from cryptography.fernet import Fernet, InvalidToken, MultiFernet
from django.conf import settings

from cdp_site.errors import InvalidInputError


def derived_key(secret_key: str) -> bytes:
    """A Fernet key derived from Django's SECRET_KEY (for when no key is configured)."""
    digest = hashlib.sha256(b"cdp-connector-secrets\x00" + secret_key.encode()).digest()
    return base64.urlsafe_b64encode(digest)


@functools.lru_cache(maxsize=4)
def _multifernet(keys: tuple[str, ...], secret_key: str) -> MultiFernet:
    if not keys:
        return MultiFernet([Fernet(derived_key(secret_key))])
    try:
        return MultiFernet([Fernet(key.encode()) for key in keys])
    except ValueError:
        raise ValueError(
            "CDP_SECRET_KEYS must list Fernet keys (32 url-safe base64-encoded bytes each), "
            "comma-separated."
        ) from None


def keyring() -> MultiFernet:
    """The MultiFernet of the configured keys (read from settings each call, cached by value)."""
    keys = tuple(key.strip() for key in settings.CDP_SECRET_KEYS if key.strip())
    return _multifernet(keys, settings.SECRET_KEY)


def secrets_encrypt(values: dict[str, str]) -> str:
    """A token holding `values` (a JSON object), encrypted with the first key; "" when empty."""
    if not values:
        return ""
    return keyring().encrypt(json.dumps(values, sort_keys=True).encode()).decode()


def secrets_decrypt(token: str) -> dict[str, str]:
    """The values in a token; InvalidInputError when no configured key opens it."""
    if not token:
        return {}
    try:
        return json.loads(keyring().decrypt(token.encode()))
    except InvalidToken:
        raise InvalidInputError(
            "The stored secrets cannot be decrypted with the configured keys (CDP_SECRET_KEYS): "
            "add back the key they were encrypted with.",
            code="secrets_unreadable",
        ) from None


def secrets_rotate(token: str) -> str:
    """The same secrets, re-encrypted with the first key."""
    if not token:
        return ""
    try:
        return keyring().rotate(token.encode()).decode()
    except InvalidToken:
        raise InvalidInputError(
            "A stored secret cannot be decrypted with the configured keys (CDP_SECRET_KEYS).",
            code="secrets_unreadable",
        ) from None


def generate_key() -> str:
    """A new Fernet key, for CDP_SECRET_KEYS."""
    return Fernet.generate_key().decode()
