"""HTTP calls for destination connectors, with the destination's failures sorted into two kinds.

A destination answers in one of three ways that matter to a run: it took the request (2xx); it
may take it later (429 with `Retry-After`, 5xx, a timeout, a reset connection, a garbled answer),
which becomes `TransientError` so the run retries with backoff; or it refused it for a reason
retrying cannot fix (401/403: the credential; other 4xx: the request), which becomes
`TerminalError` carrying the destination's own words, trimmed. Messages never hold a secret: they
name the credential, never its value, and request headers are never echoed.
"""

import functools
import ssl
from collections.abc import Callable
from email.utils import parsedate_to_datetime

import httpx
from django.utils import timezone

from integrations.connectors.base import TerminalError, TransientError

DEFAULT_TIMEOUT_SECONDS = 30.0
# A destination's error text is shown to people and kept on runs: long enough to say what is wrong.
MAX_MESSAGE_CHARS = 300
# A Retry-After beyond this is taken as this: the run's own backoff cap decides beyond it.
MAX_RETRY_AFTER_SECONDS = 3600.0


@functools.cache
def _tls_context() -> ssl.SSLContext:
    """One verifying TLS context for every client: loading the CA bundle costs ~0.2 s each time."""
    return httpx.create_ssl_context()


def retry_after_seconds(value: str | None) -> float | None:
    """Seconds to wait from a `Retry-After` header (delta-seconds or an HTTP date), or None."""
    if not value:
        return None
    value = value.strip()
    try:
        seconds = float(value)
    except ValueError:
        try:
            when = parsedate_to_datetime(value)
        except (TypeError, ValueError):
            return None
        if when.tzinfo is None:
            return None
        seconds = (when - timezone.now()).total_seconds()
    if seconds != seconds:  # NaN
        return None
    return min(max(seconds, 0.0), MAX_RETRY_AFTER_SECONDS)


def trimmed(text: str, limit: int = MAX_MESSAGE_CHARS) -> str:
    """`text` on one line, cut to `limit` characters."""
    text = " ".join(str(text).split())
    return text if len(text) <= limit else text[: limit - 1] + "…"


def server_message(response: httpx.Response) -> str:
    """The destination's own explanation of a refusal, from the usual JSON error shapes or text."""
    try:
        body = response.json()
    except ValueError:
        return trimmed(response.text) or response.reason_phrase
    return trimmed(_message_in(body)) or response.reason_phrase


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
    # Mailchimp problem+json adds field errors: [{"field", "message"}].
    for item in body.get("errors") or []:
        if isinstance(item, dict) and item.get("message"):
            parts.append(f"{item.get('field') or 'request'}: {item['message']}")
    return " ".join(dict.fromkeys(parts))


class DeliveryClient:
    """One keep-alive HTTP client for a connector instance, raising the errors runs understand.

    `credential` names the secret for people ("API key", "access token") in refusal messages.
    `classify(response)` lets a connector read a refusal the status code does not tell: it returns
    "transient" (Meta reports throttling as 400 with error code 17 or 613), "credential" (Meta
    reports a bad token as 400 with code 190), or None to go by the status.
    """

    def __init__(
        self,
        *,
        service: str,
        credential: str,
        timeout: float = DEFAULT_TIMEOUT_SECONDS,
        auth: httpx.Auth | tuple[str, str] | None = None,
        headers: dict | None = None,
        classify: Callable[[httpx.Response], str | None] | None = None,
        secrets: tuple[str, ...] = (),
    ):
        self.service = service
        # The name opening a sentence: "The webhook receiver refused ...".
        self.title = service[:1].upper() + service[1:]
        self.credential = credential
        self.classify = classify
        # Blanked out of any text quoted from the destination, in case it echoes a credential.
        self._secrets = tuple(secret for secret in secrets if secret)
        self._client = httpx.Client(
            timeout=httpx.Timeout(timeout),
            auth=auth,
            headers={"User-Agent": "cdp-destination/1", **(headers or {})},
            follow_redirects=False,
            verify=_tls_context(),
        )

    def close(self) -> None:
        self._client.close()

    def request(self, method: str, url: str, *, ok_statuses: tuple[int, ...] = (), **kwargs):
        """Send one request; a 2xx (or a status in `ok_statuses`) answer is returned as it is."""
        try:
            response = self._client.request(method, url, **kwargs)
        except httpx.TimeoutException as error:
            raise TransientError(
                f"{self.title} did not answer in time ({_kind(error)})."
            ) from error
        except httpx.TransportError as error:
            raise TransientError(f"Could not reach {self.service}: {_kind(error)}.") from error
        if response.is_success or response.status_code in ok_statuses:
            return response
        self.raise_for(response)
        return response  # not reached: raise_for always raises

    def raise_for(self, response: httpx.Response) -> None:
        """Raise the error a refusal means: TransientError or TerminalError."""
        status = response.status_code
        said = self.blank(server_message(response))
        kind = self.classify(response) if self.classify is not None else None
        if status == 429:
            raise TransientError(
                f"{self.title} asked us to slow down (429): {said}",
                retry_after=retry_after_seconds(response.headers.get("Retry-After")),
            )
        if status >= 500 or kind == "transient":
            raise TransientError(
                f"{self.title} failed ({status}): {said}",
                retry_after=retry_after_seconds(response.headers.get("Retry-After")),
            )
        if status in (401, 403) or kind == "credential":
            raise TerminalError(
                f"{self.title} refused the {self.credential} ({status}): {said.rstrip('.')}. "
                f"Check the {self.credential} and its permissions."
            )
        if 300 <= status < 400:
            raise TerminalError(f"{self.title} answered with a redirect ({status}); check the URL.")
        raise TerminalError(f"{self.title} refused the request ({status}): {said}")

    def blank(self, text: str) -> str:
        for secret in self._secrets:
            text = text.replace(secret, "[secret]")
        return text

    def json(self, response: httpx.Response) -> dict:
        """The answer's JSON object; a garbled answer is transient (a proxy's error page)."""
        try:
            body = response.json()
        except ValueError as error:
            raise TransientError(
                f"{self.title} sent an answer that is not JSON ({response.status_code}): "
                f"{self.blank(trimmed(response.text, 120))}"
            ) from error
        if not isinstance(body, dict):
            raise TransientError(
                f"{self.title} sent an unexpected answer: {self.blank(trimmed(body, 120))}"
            )
        return body


def _kind(error: Exception) -> str:
    """A short name for a transport failure, without its URL (which may carry a token)."""
    return {
        httpx.ConnectTimeout: "connecting timed out",
        httpx.ReadTimeout: "the answer timed out",
        httpx.WriteTimeout: "sending timed out",
        httpx.PoolTimeout: "no free connection",
        httpx.ConnectError: "the connection was refused or failed",
        httpx.ReadError: "the connection broke while reading",
        httpx.WriteError: "the connection broke while sending",
        httpx.RemoteProtocolError: "the server closed the connection",
    }.get(type(error), type(error).__name__)
