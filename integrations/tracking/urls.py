"""Routes of the tracking API, with or without a trailing slash, as SDKs differ.

Segment's browser SDK (analytics-next) posts each call to the first letter of its type (`/v1/t`,
`/v1/i`...) and batches to `/v1/b`; the other SDKs use the full names.
"""

from django.urls import re_path

from . import views
from .ingest import MESSAGE_TYPES

urlpatterns = [
    re_path(r"^(?:batch|b)/?$", views.tracking_batch, name="tracking_batch"),
    re_path(
        rf"^(?P<kind>{'|'.join(sorted(MESSAGE_TYPES))})/?$",
        views.tracking_call,
        name="tracking_call",
    ),
    re_path(
        rf"^(?P<letter>[{''.join(views.SHORT_PATHS)}])/?$",
        views.tracking_call_short,
        name="tracking_call_short",
    ),
]
