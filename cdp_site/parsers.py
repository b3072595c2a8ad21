"""The REST API's request parsers, referenced from settings.

A module of its own that imports only DRF's parsers and exceptions: `rest_framework.views` reads
the parser setting while it loads, so a module importing it back would be loaded half-way.
"""

from rest_framework.exceptions import ParseError
from rest_framework.parsers import JSONParser


class SafeJSONParser(JSONParser):
    """DRF's JSON parser, with nesting too deep for the parser answered as a 400, not a 500."""

    def parse(self, stream, media_type=None, parser_context=None):
        try:
            return super().parse(stream, media_type, parser_context)
        except RecursionError:
            raise ParseError("JSON parse error - the body is nested too deeply.") from None
