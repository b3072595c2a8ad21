"""The HTTP client the API connectors share: one place that turns what a web service answers into
data, a `TransientError` the runner retries, or a `TerminalError` that tells a person what to fix.

- Timeouts, connection resets and 5xx are transient; 429 is transient with the server's
  `Retry-After` (seconds or an HTTP date).
- 401/403 are terminal and name the credential to check; other 4xx are terminal and quote what the
  server said (trimmed).
- A body that is not JSON is transient a few times in a row (a proxy's error page, a cut-off
  answer), then terminal: a server that keeps answering garbage will not heal by itself.

Secrets travel only in headers or `httpx` auth. No message built here contains a header, and any
text quoted from the server has the secret values blanked out, in case a server echoes them.
"""

from __future__ import annotations

import email.utils
import time
from dataclasses import dataclass
from datetime import UTC, datetime

import httpx
import orjson

from integrations.connectors.base import TerminalError, TransientError

DEFAULT_TIMEOUT = 30.0
CONNECT_TIMEOUT = 10.0
# Malformed answers in a row before the run gives up.
MALFORMED_LIMIT = 3
# How much of a server's error text is quoted to people.
QUOTE_CHARS = 300
# A Retry-After beyond this is a server asking for something else than a retry soon.
MAX_RETRY_AFTER = 3600.0


@dataclass(frozen=True)
class JsonResponse:
    data: object
    headers: httpx.Headers
    status: int


def retry_after_seconds(value: str | None) -> float | None:
    """The wait a `Retry-After` header asks for, in seconds (it may be a number or an HTTP date)."""
    if not value:
        return None
    value = value.strip()
    try:
        seconds = float(value)
    except ValueError:
        try:
            when = email.utils.parsedate_to_datetime(value)
        except (TypeError, ValueError):
            return None
        if when.tzinfo is None:
            when = when.replace(tzinfo=UTC)
        seconds = (when - datetime.now(UTC)).total_seconds()
    if seconds != seconds:  # NaN
        return None
    return min(max(seconds, 0.0), MAX_RETRY_AFTER)


class HttpClient:
    """JSON over HTTP to one service, with its credential in headers or `auth`.

    `service` names the service in messages ("Shopify"); `credential` names what a person would
    change after a 401/403 ("the access token"); `secrets` are values to blank out of any text
    quoted back from the server.
    """

    def __init__(
        self,
        base_url: str,
        *,
        service: str,
        credential: str,
        headers: dict[str, str] | None = None,
        auth: httpx.Auth | tuple[str, str] | None = None,
        secrets: tuple[str, ...] = (),
        timeout: float = DEFAULT_TIMEOUT,
        transport: httpx.BaseTransport | None = None,
    ):
        self.service = service
        self.credential = credential
        self._secrets = tuple(s for s in secrets if s)
        self._malformed = 0
        self._client = httpx.Client(
            base_url=base_url.rstrip("/"),
            headers={
                "Accept": "application/json",
                "User-Agent": "cdp-connector/1",
                **(headers or {}),
            },
            auth=auth,
            timeout=httpx.Timeout(timeout, connect=min(timeout, CONNECT_TIMEOUT)),
            transport=transport,
            follow_redirects=False,
        )

    def close(self) -> None:
        self._client.close()

    def __enter__(self) -> HttpClient:
        return self

    def __exit__(self, *exc_info: object) -> None:
        self.close()

    def get(self, url: str, *, params: dict | None = None) -> JsonResponse:
        return self.request("GET", url, params=params)

    def post(self, url: str, *, json: object) -> JsonResponse:
        return self.request("POST", url, json=json)

    def request(
        self, method: str, url: str, *, params: dict | None = None, json: object = None
    ) -> JsonResponse:
        """The decoded JSON answer of a 2xx, or the error the answer means."""
        what = f"{method} {httpx.URL(url).path or url}"
        content = None if json is None else orjson.dumps(json)
        headers = {"Content-Type": "application/json"} if content is not None else None
        started = time.monotonic()
        try:
            response = self._client.request(
                method, url, params=params, content=content, headers=headers
            )
        except httpx.TimeoutException:
            raise TransientError(
                f"{self.service} did not answer {what} within "
                f"{time.monotonic() - started:.0f} s; it will be tried again."
            ) from None
        except httpx.TransportError as exc:
            raise TransientError(
                f"Could not reach {self.service} ({what}): "
                f"{type(exc).__name__} {self._quote(str(exc))}"
            ) from None
        self._raise_for_status(response, what)
        try:
            data = orjson.loads(response.content)
        except orjson.JSONDecodeError:
            text = self._quote(response.text) or "an empty body"
            raise self.malformed(f"{what} with something that is not JSON: {text}") from None
        return JsonResponse(data=data, headers=response.headers, status=response.status_code)

    def malformed(self, what: str) -> TransientError | TerminalError:
        """The error for an answer that cannot be used ("GET /x with ..."): transient until it
        has happened `MALFORMED_LIMIT` times in a row, then terminal. Raise what it returns."""
        self._malformed += 1
        if self._malformed >= MALFORMED_LIMIT:
            return TerminalError(
                f"{self.service} answered {what} ({self._malformed} times in a row). "
                f"Check that the base URL points at the {self.service} API."
            )
        return TransientError(f"{self.service} answered {what}")

    def answer_used(self) -> None:
        """The last answer was usable: the count of malformed answers in a row starts again."""
        self._malformed = 0

    def _raise_for_status(self, response: httpx.Response, what: str) -> None:
        status = response.status_code
        if status < 300:
            return
        said = self._said(response)
        if status == 429:
            wait = retry_after_seconds(response.headers.get("Retry-After"))
            raise TransientError(
                f"{self.service} is throttling requests (429)"
                + (f"; it asked to wait {wait:g} s." if wait is not None else "."),
                retry_after=wait,
            )
        if status >= 500:
            raise TransientError(f"{self.service} had a server error ({status}) on {what}: {said}")
        if status in (401, 403):
            refused = "refused" if status == 401 else "does not allow this request with"
            raise TerminalError(
                f"{self.service} {refused} {self.credential} ({status}): {said}. "
                f"Check {self.credential} and its permissions, then save it again."
            )
        if 300 <= status < 400:
            raise TerminalError(
                f"{self.service} redirected {what} ({status}) to "
                f"{response.headers.get('Location', 'elsewhere')}: check the base URL."
            )
        raise TerminalError(f"{self.service} refused {what} ({status}): {said}")

    def _said(self, response: httpx.Response) -> str:
        return blanked(server_message(response), self._secrets) or "no explanation"

    def _quote(self, text: str) -> str:
        return blanked(trimmed(text), self._secrets)


def trimmed(text: object, limit: int = QUOTE_CHARS) -> str:
    """`text` on one line, cut to `limit` characters."""
    text = " ".join(str(text).split())
    return text if len(text) <= limit else text[: limit - 1] + "…"


def blanked(text: str, secrets: tuple[str, ...]) -> str:
    """`text` with every secret value replaced, in case a server echoes a credential."""
    for secret in secrets:
        text = text.replace(secret, "[secret]")
    return text


def server_message(response: httpx.Response) -> str:
    """A service's own explanation of a refusal, from the usual JSON error shapes or its text,
    trimmed (empty when it said nothing)."""
    try:
        body = orjson.loads(response.content)
    except orjson.JSONDecodeError:
        return trimmed(response.text)
    return trimmed(_message_in(body) or response.text)


def _message_in(body: object) -> str:
    if isinstance(body, str):
        return body
    if not isinstance(body, dict):
        return ""
    error = body.get("error")
    if isinstance(error, dict):
        # Meta Graph API: {"error": {"message", "error_user_msg", "code"}}
        return str(error.get("error_user_msg") or error.get("message") or "")
    parts = [
        str(body[key])
        for key in ("title", "detail", "message", "error", "error_description", "description")
        if isinstance(body.get(key), str | int) and body.get(key) != ""
    ]
    errors = body.get("errors")
    if isinstance(errors, list) and all(isinstance(item, dict) for item in errors):
        # Mailchimp problem+json adds field errors: [{"field", "message"}].
        parts += [
            f"{item.get('field') or 'request'}: {item['message']}"
            for item in errors
            if item.get("message")
        ]
    elif errors:
        # Shopify and Zendesk: {"errors": "Not Found"} or {"errors": {"field": ["..."]}}.
        parts.append(errors if isinstance(errors, str) else orjson.dumps(errors).decode())
    return "; ".join(dict.fromkeys(parts))


class ApiConnectorMixin:
    """For connectors that talk to one web service: a lazily made `HttpClient` kept for the
    connector's life, so the count of malformed answers in a row survives the runner's retries
    (which call `read` again on the same connector), and closed when a read or check ends."""

    _client: HttpClient | None = None

    def client_make(self) -> HttpClient:
        raise NotImplementedError

    @property
    def client(self) -> HttpClient:
        if self._client is None:
            self._client = self.client_make()
        return self._client

    def close(self) -> None:
        if self._client is not None:
            self._client.close()
            self._client = None
