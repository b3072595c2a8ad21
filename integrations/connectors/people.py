"""How the API connectors say whom a record is about, in the tracking spec's terms.

A service's own id for a person (a shop customer id, a help-desk requester id, a CRM contact id)
always travels as a typed `context.externalIds` entry, so it matches the same person across runs
and never collides with another service's ids. Whether it is also the message's `userId` is the
admin's choice (`person_id_as`): right when the service's ids are the company's user ids, wrong
when the website sends other user ids (a profile holds one user id, so two kinds of user id would
split the person in two). Without it, the message is keyed by an anonymous id derived from the
service id, and people are joined to the rest of their profile by e-mail.
"""

from __future__ import annotations

from integrations.connectors.base import ConfigField

PERSON_ID_FIELD = ConfigField(
    name="person_id_as",
    label="The service's id for a person is sent as",
    kind="choice",
    choices=(
        ("user_id", "userId: the service's ids are your user ids"),
        ("external_id", "an external id only: people are matched by e-mail"),
    ),
    help_text=(
        "Choose an external id when your website or app sends other user ids: a profile holds "
        "one user id, so two kinds would split a person in two."
    ),
    required=False,
    default="user_id",
)


def id_as_user_id(config: dict) -> bool:
    """Whether the connector's config sends the service's person id as the userId."""
    return config.get("person_id_as", "user_id") != "external_id"


def person_keys(
    *, id_type: str, person_id: object, email: object = None, as_user_id: bool = True
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
    if service_id and as_user_id:
        return {"userId": service_id, "context": context}
    if service_id:
        return {"anonymousId": f"{id_type}:{service_id}", "context": context}
    if email_text:
        return {"anonymousId": f"{id_type}:email:{email_text.lower()}", "context": context}
    return None
