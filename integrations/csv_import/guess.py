"""A first mapping guessed from a file's header, for the person to correct.

Only the obvious is guessed: a column called "E-mail", "email_address" or "Mail" is an e-mail,
"Customer ID" a user id, "First name" the `first_name` trait. Every other column becomes a trait
(identify) or a property (track) named after the column; a column named like an event name makes
the import a track.
"""

import re


def _norm(name: str) -> str:
    """ "E-mail Address" -> "emailaddress": case, spaces and punctuation do not matter."""
    return re.sub(r"[^a-z0-9]+", "", name.lower())


_SYNONYMS: dict[str, tuple[str, ...]] = {
    "userId": (
        "userid",
        "user",
        "customerid",
        "customernumber",
        "customerno",
        "clientid",
        "memberid",
        "accountid",
        "contactid",
        "externalid",
        "uid",
    ),
    "anonymousId": ("anonymousid", "anonid", "visitorid", "cookieid"),
    "email": ("email", "emailaddress", "mail", "emailid", "courriel", "contactemail"),
    "phone": ("phone", "phonenumber", "mobile", "mobilephone", "mobilenumber", "telephone", "tel"),
    "timestamp": (
        "timestamp",
        "time",
        "when",
        "date",
        "datetime",
        "createdat",
        "occurredat",
        "eventtime",
        "eventdate",
        "orderdate",
    ),
    "event": ("event", "eventname", "eventtype", "action"),
}
_TRAITS: dict[str, str] = {
    "firstname": "first_name",
    "givenname": "first_name",
    "forename": "first_name",
    "lastname": "last_name",
    "surname": "last_name",
    "familyname": "last_name",
    "name": "name",
    "fullname": "name",
    "company": "company",
    "companyname": "company",
    "title": "title",
    "jobtitle": "title",
    "city": "city",
    "country": "country",
    "birthday": "birthday",
    "dateofbirth": "birthday",
    "gender": "gender",
    "age": "age",
    "website": "website",
}
_TARGETS = {synonym: target for target, names in _SYNONYMS.items() for synonym in names}


def key_from_column(column: str) -> str:
    """A trait or property name from a column name: "Loyalty tier" -> "loyalty_tier"."""
    key = re.sub(r"[^A-Za-z0-9]+", "_", column.strip()).strip("_").lower()
    return key[:100] or "column"


def mapping_guess(header: tuple[str, ...], previous: dict | None = None) -> dict:
    """A mapping for `header`: the `previous` one's choice for every column it names (it is
    remembered per source), a guess for the others."""
    previous_columns = (previous or {}).get("columns", {})
    columns: dict[str, str] = {}
    taken: set[str] = set()
    for column in header:
        if column in previous_columns:
            columns[column] = previous_columns[column]
            continue
        target = _TARGETS.get(_norm(column))
        if target and target not in taken:
            columns[column] = target
            taken.add(target)
    has_event_column = "event" in columns.values()
    kind = (previous or {}).get("type") or ("track" if has_event_column else "identify")
    for column in header:
        if column in columns:
            continue
        trait = _TRAITS.get(_norm(column))
        if trait and kind == "identify":
            columns[column] = f"trait:{trait}"
        else:
            prefix = "trait" if kind == "identify" else "property"
            columns[column] = f"{prefix}:{key_from_column(column)}"
    return {"type": kind, "event": (previous or {}).get("event", ""), "columns": columns}
