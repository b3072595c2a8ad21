"""The API description's error answers: every operation documents the errors it can give.

drf-spectacular describes the success of each operation; this post-processing hook adds, to each
operation, the error statuses the project's views and exception handler can answer with, all
sharing one `Error` body (`cdp_site.rest.exception_handler`). Which ones follow from the shape of
the operation: anyone may be unauthenticated (401), lack the role (403) or be throttled (429);
an operation naming an object by id may not find it (404), as may a page past the last one; one
that takes input may refuse it (400, 415 for a body it cannot parse); one that changes state may
conflict with the object's current state (409).
"""

ERROR_SCHEMA = {
    "type": "object",
    "description": (
        "An error. Domain refusals carry `code`, `message` and, when about one input, `field`; "
        "framework errors carry `detail` and `code`; invalid input is keyed by field name, each "
        "with a list of messages."
    ),
    "properties": {
        "code": {"type": "string", "description": "Stable, for programs to branch on."},
        "message": {"type": "string", "description": "For people."},
        "detail": {"type": "string"},
        "field": {"type": "string", "description": "The input the error is about."},
    },
    "additionalProperties": True,
}

DESCRIPTIONS = {
    "400": "The input is invalid; the body says which input and why.",
    "401": "No valid credentials (a token in `Authorization: Token ...`, or a session).",
    "403": "Signed in, but without the role or the permission this needs.",
    "404": "No such object (or one the caller may not see), or no such page.",
    "409": "The object's current state does not allow this (in use, already done).",
    "415": "The body is not in a media type this operation reads.",
    "429": "Too many requests; try again after `Retry-After` seconds.",
}

UNSAFE_METHODS = {"post", "put", "patch", "delete"}


def _error_codes(method: str, operation: dict) -> list[str]:
    parameters = operation.get("parameters", [])
    in_path = any(p.get("in") == "path" for p in parameters)
    in_query = any(p.get("in") == "query" for p in parameters)
    # A page past the last, or a `format` the view cannot render (DRF answers 404 for it).
    paginated = any(
        p.get("in") == "query" and p.get("name") in ("page", "format") for p in parameters
    )
    has_body = "requestBody" in operation
    codes = ["401", "403", "429"]
    if in_path or paginated:
        codes.append("404")
    if has_body or in_query:
        codes.append("400")
    if has_body:
        codes.append("415")
    if method in UNSAFE_METHODS:
        codes.append("409")
    return codes


def document_error_responses(result, generator, request, public):
    """drf-spectacular post-processing hook: add the `Error` component and each operation's
    error responses (those an operation documents itself are kept as they are)."""
    result.setdefault("components", {}).setdefault("schemas", {})["Error"] = ERROR_SCHEMA
    error_content = {"application/json": {"schema": {"$ref": "#/components/schemas/Error"}}}
    for path_item in result.get("paths", {}).values():
        for method, operation in path_item.items():
            if not isinstance(operation, dict) or "responses" not in operation:
                continue
            responses = operation["responses"]
            for code in _error_codes(method, operation):
                responses.setdefault(code, {"description": DESCRIPTIONS[code]})
            for code, response in responses.items():
                # Errors an operation documents itself (a description) share the same body.
                if code.startswith(("4", "5")) and "content" not in response:
                    response["content"] = error_content
            operation["responses"] = dict(sorted(responses.items()))
    return result
