"""Incoming webhook: JSON that another tool posts to the source's own URL, signed with a secret.

Nothing is pulled (`pulls = False`): each delivery is checked and stored as it arrives (see
`integrations.webhooks.services`). The configuration is the mapping of the body's fields, by
dotted paths, to one event; the signing secret is generated here, shown once, and only replaced.
"""

import secrets

from .base import ConfigField, ConnectionCheck, Connector
from .registry import register


def _path(name: str, label: str, help_text: str) -> ConfigField:
    return ConfigField(name, label, required=False, default="", help_text=help_text)


def signing_secret_generate() -> str:
    return "whsec_" + secrets.token_urlsafe(32)


@register
class WebhookConnector(Connector):
    key = "webhook"
    label = "Incoming webhook"
    kind = "source"
    description = (
        "JSON posted by another tool to this source's own URL, signed with HMAC-SHA256, each "
        "delivery mapped to an identify or track event."
    )
    pulls = False
    fields = (
        ConfigField(
            "type",
            "Event type",
            kind="choice",
            required=False,
            default="track",
            choices=(("track", "Track (something happened)"), ("identify", "Identify (a person)")),
        ),
        ConfigField(
            "event_name",
            "Event name",
            required=False,
            default="",
            help_text="Track: the event's name, e.g. “Form Submitted” (or give a path below).",
        ),
        _path("event_name_path", "Event name path", "Where the body holds the event name: `type`."),
        _path("user_id_path", "User id path", "Dotted path to the user id: `data.customer.id`."),
        _path("email_path", "E-mail path", "Dotted path to the e-mail: `data.customer.email`."),
        _path("anonymous_id_path", "Anonymous id path", "Dotted path to an anonymous id."),
        _path("phone_path", "Phone path", "Dotted path to a phone number."),
        _path("traits_path", "Traits path", "Path to an object of traits: `data.customer`."),
        _path(
            "properties_path",
            "Properties path",
            "Track: path to the object of properties (the whole body when empty).",
        ),
        _path("timestamp_path", "Timestamp path", "Path to an ISO-8601 time: `created_at`."),
        ConfigField(
            "signing_secret",
            "Signing secret",
            kind="secret",
            required=False,
            help_text="Leave empty to create one on the webhook page (shown once there); or "
            "paste the secret the sending tool gave you.",
        ),
        _path(
            "id_path",
            "Delivery id path",
            "Path to an id that is the same when the sender retries (`id`); the body's hash "
            "when empty.",
        ),
    )

    def check_connection(self) -> ConnectionCheck:
        if not self.secrets.get("signing_secret"):
            return ConnectionCheck(False, "No signing secret yet: create one on the webhook page.")
        if not any(
            self.config.get(name)
            for name in ("user_id_path", "email_path", "anonymous_id_path", "phone_path")
        ):
            return ConnectionCheck(
                False, "Map at least one identifier (user id, e-mail, anonymous id or phone path)."
            )
        return ConnectionCheck(True, "Ready: deliveries signed with the secret will be stored.")
