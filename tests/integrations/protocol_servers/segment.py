"""A Segment Tracking API stand-in for `/v1/batch`: the write key, the size limits, de-duplication.

Auth is HTTP Basic with the write key as user name. A request over 500 KB or a batch over 2,500
messages is refused with 400, as Segment does; a message over 32 KB is dropped. Messages are kept
once per `messageId` (`messages`), and `largest_request` records the biggest body received.
"""

import base64

from tests.integrations.protocol_servers.scripted import Reply, Request, ScriptedServer

MAX_REQUEST_BYTES = 500 * 1024
MAX_MESSAGE_BYTES = 32 * 1024


class SegmentServer(ScriptedServer):
    def __init__(self, write_key: str = "wk-test", **kwargs):
        super().__init__(**kwargs)
        self.write_key = write_key
        self.messages: dict[str, dict] = {}
        self.duplicates = 0
        self.largest_request = 0

    def handle(self, request: Request) -> Reply:
        header = request.headers.get("authorization", "")
        user = ""
        if header.startswith("Basic "):
            user = base64.b64decode(header[6:]).decode().partition(":")[0]
        if user != self.write_key:
            return Reply(401, {"code": "unauthorized", "message": "Invalid write key"})
        if request.path != "/v1/batch" or request.method != "POST":
            return Reply(404, {"code": "not_found", "message": "Not found"})
        self.largest_request = max(self.largest_request, len(request.body))
        if len(request.body) > MAX_REQUEST_BYTES:
            return Reply(400, {"code": "payload_too_large", "message": "Request over 500 KB"})
        try:
            batch = request.json()["batch"]
        except (ValueError, KeyError, TypeError):
            return Reply(400, {"code": "invalid_json", "message": "Invalid JSON"})
        if len(batch) > 2500:
            return Reply(400, {"code": "batch_too_large", "message": "Over 2500 messages"})
        for message in batch:
            if message["messageId"] in self.messages:
                self.duplicates += 1
            else:
                self.messages[message["messageId"]] = message
        return Reply(200, {"success": True})
