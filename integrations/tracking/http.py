"""Reading a tracking request: size limits, gzip, JSON and the write key, before any message logic.

Every failure is a `TrackingRequestError` carrying the HTTP status and the stable code that the
view turns into `{"code": ..., "message": ...}`; nothing a client sends reaches a 500.
"""

import base64
import binascii
import codecs
import zlib

from cdp_site.jsonparse import loads

from .ingest import MAX_REQUEST_BYTES


class TrackingRequestError(Exception):
    def __init__(self, status: int, code: str, message: str, retry_after: int | None = None):
        super().__init__(message)
        self.status = status
        self.code = code
        self.message = message
        # For a 429: the seconds the client should wait (the `Retry-After` header).
        self.retry_after = retry_after


def _too_large() -> TrackingRequestError:
    return TrackingRequestError(
        413, "request_too_large", f"A request may be at most {MAX_REQUEST_BYTES} bytes."
    )


def _is_chunked(request) -> bool:
    encoding = request.META.get("HTTP_TRANSFER_ENCODING", "")
    return "chunked" in encoding.lower() and not request.META.get("CONTENT_LENGTH")


def _chunked_read(request) -> bytes:
    """A body sent without a length, in chunks, up to one byte past the limit.

    Django reads no further than the Content-Length, so without one it sees an empty body. A
    server that decodes chunks itself says so with `wsgi.input_terminated` (gunicorn does): its
    input then ends where the body ends. Any other (the development server) would hand over the
    raw chunk framing, so the request is refused with a clear answer instead of misread.
    """
    if not request.META.get("wsgi.input_terminated"):
        raise TrackingRequestError(
            411,
            "length_required",
            "This server cannot read a chunked body: send the request with a Content-Length.",
        )
    stream = request.META["wsgi.input"]
    parts, size = [], 0
    while size <= MAX_REQUEST_BYTES:
        part = stream.read(min(64 * 1024, MAX_REQUEST_BYTES + 1 - size))
        if not part:
            break
        parts.append(part)
        size += len(part)
    return b"".join(parts)


def body_read(request) -> bytes:
    """The request body, decompressed, within the request size limit.

    The body is read as JSON whatever its Content-Type says, as the reference gateways do:
    RudderStack's Node SDK posts its gzipped batch as `application/x-www-form-urlencoded`, and
    browsers send `text/plain` to spare a CORS preflight. (Django parses a form body only when
    `request.POST` is read, which nothing here does.)
    """
    try:
        declared = int(request.META.get("CONTENT_LENGTH") or 0)
    except ValueError:
        declared = 0
    if declared > MAX_REQUEST_BYTES:
        raise _too_large()
    body = _chunked_read(request) if _is_chunked(request) else request.read(MAX_REQUEST_BYTES + 1)
    if len(body) > MAX_REQUEST_BYTES:
        raise _too_large()
    encoding = request.META.get("HTTP_CONTENT_ENCODING", "").strip().lower()
    if encoding in ("gzip", "deflate"):
        # Bounded output: a small compressed body may not expand past the limit (zip bombs).
        decompressor = zlib.decompressobj(wbits=47)  # 32 + 15: gzip or zlib header, detected
        try:
            body = decompressor.decompress(body, MAX_REQUEST_BYTES + 1)
        except zlib.error:
            raise TrackingRequestError(
                400, "invalid_encoding", "The body is not valid gzip data."
            ) from None
        if len(body) > MAX_REQUEST_BYTES or decompressor.unconsumed_tail:
            raise _too_large()
        if not decompressor.eof:
            raise TrackingRequestError(
                400, "invalid_encoding", "The gzip data ends before its end: it was cut short."
            )
        if decompressor.unused_data:
            raise TrackingRequestError(
                400, "invalid_encoding", "The body holds more data after its gzip data."
            )
    elif encoding not in ("", "identity"):
        raise TrackingRequestError(
            400, "invalid_encoding", "Content-Encoding must be gzip, deflate or none."
        )
    return body


def json_parse(body: bytes) -> dict:
    """The body as a JSON object, every value as the client wrote it (`jsonparse.loads`, strict).

    Integers beyond 64 bits stay exact, and a lone surrogate (a cut emoji, which browsers'
    JSON.stringify writes) does not refuse the whole body: it fails its own message only, which
    is quarantined, and the rest of the batch is stored.
    """
    if body.startswith(codecs.BOM_UTF8):
        body = body[len(codecs.BOM_UTF8) :]
    try:
        data = loads(body, strict=True)
    except (ValueError, RecursionError) as error:
        raise TrackingRequestError(
            400, "invalid_json", f"The body is not valid JSON: {error}"
        ) from None
    if not isinstance(data, dict):
        raise TrackingRequestError(400, "invalid_json", "The body must be a JSON object.")
    return data


def write_key_get(request, data: dict) -> str:
    """The write key from HTTP Basic (key as user name), else from `writeKey` in the body."""
    header = request.META.get("HTTP_AUTHORIZATION", "")
    scheme, _, credentials = header.partition(" ")
    if scheme.lower() == "basic" and credentials.strip():
        try:
            decoded = base64.b64decode(credentials.strip(), validate=True).decode()
        except (binascii.Error, UnicodeDecodeError):
            raise TrackingRequestError(
                401, "invalid_write_key", "The Basic credentials are not base64-encoded UTF-8."
            ) from None
        key = decoded.partition(":")[0]
        if key:
            return key
    key = data.get("writeKey")
    if isinstance(key, str) and key:
        return key
    raise TrackingRequestError(
        401,
        "missing_write_key",
        "Send the source's write key as the Basic user name or as writeKey in the body.",
    )
