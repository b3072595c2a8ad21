"""Routes of the tracking API, with or without a trailing slash, as SDKs differ."""

from django.urls import re_path

from . import views

urlpatterns = [
    re_path(r"^batch/?$", views.tracking_batch, name="tracking_batch"),
    re_path(
        r"^(?P<kind>identify|track|page|screen|group|alias)/?$",
        views.tracking_call,
        name="tracking_call",
    ),
]
