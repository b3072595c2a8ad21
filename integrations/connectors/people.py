"""How the API connectors say whom a record is about, in the tracking spec's terms.

A service's own id for a person (a shop customer id, a help-desk requester id, a CRM contact id)
always travels as a typed `context.externalIds` entry, so it matches the same person across runs
and never collides with another service's ids. Whether it is also the message's `userId` is the
admin's choice (`id_as_user_id`): right when the service's ids are the company's user ids, wrong
when the website sends other user ids (a profile holds one user id, so two kinds of user id would
split the person in two). Without it, the message is keyed by an anonymous id derived from the
service id, and people are joined to the rest of their profile by e-mail.
"""

from __future__ import annotations

from integrations.connectors.base import ConfigField

ID_AS_USER_ID_FIELD = ConfigField(
    name="id_as_user_id",
    label="Use the service's person id as userId",
    kind="boolean",
    help_text=(
        "On: the service's id for a person becomes the events' userId. Turn it off when your "
        "website or app sends other user ids; people are then matched by e-mail and by the "
        "service id kept as an external id."
    ),
    required=False,
    default=True,
)


def person_keys(
    *, id_type: str, person_id: object, email: object = None, id_as_user_id: bool = True
) -> dict | None:
    """The identifying part of a message for a person known by `person_id` in a service
    (`userId` or `anonymousId`, and `context`), or None when there is nothing to identify them."""
    service_id = "" if person_id is None else str(person_id).strip()
    email_text = email.strip() if isinstance(email, str) else ""
    context: dict = {}
    if service_id:
        context["externalIds"] = [
            {"id": service_id, "type": id_type, "collection": "users", "encoding": "none"}
        ]
    if email_text:
        context["traits"] = {"email": email_text}
    if service_id and id_as_user_id:
        return {"userId": service_id, "context": context}
    if service_id:
        return {"anonymousId": f"{id_type}:{service_id}", "context": context}
    if email_text:
        return {"anonymousId": f"{id_type}:email:{email_text.lower()}", "context": context}
    return None


def config_flag(config: dict, name: str, default: bool) -> bool:
    """A boolean config value, whether it was saved as a bool or as form text."""
    value = config.get(name, default)
    if isinstance(value, str):
        return value.strip().lower() in ("1", "true", "on", "yes")
    return bool(value)
