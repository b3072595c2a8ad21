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

import httpx

from integrations.connectors.base import TerminalError, TransientError
from integrations.connectors.http import blanked, retry_after_seconds, server_message, trimmed

DEFAULT_TIMEOUT_SECONDS = 30.0


@functools.cache
def _tls_context() -> ssl.SSLContext:
    """One verifying TLS context for every client: loading the CA bundle costs ~0.2 s each time."""
    return httpx.create_ssl_context()


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
        said = self.blank(server_message(response)) or response.reason_phrase
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
        return blanked(text, self._secrets)

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
