"""URLs of the integrations app: its pages, and the tracking API under /v1/."""

from django.urls import include, path

from . import views

app_name = "integrations"

urlpatterns = [
    path("sources/", views.source_list, name="source_list"),
    path("sources/new/", views.source_create_page, name="source_create"),
    path("sources/<int:pk>/", views.source_detail, name="source_detail"),
    path("sources/<int:pk>/enabled/", views.source_enabled, name="source_enabled"),
    path("sources/<int:pk>/debugger/", views.source_debugger, name="source_debugger"),
    path(
        "sources/<int:pk>/debugger/messages/<int:event_id>/",
        views.source_debugger_message,
        name="source_debugger_message",
    ),
    path("sources/<int:pk>/quarantine/", views.quarantine_list, name="quarantine_list"),
    path(
        "sources/<int:pk>/quarantine/<int:entry_id>/",
        views.quarantine_message,
        name="quarantine_message",
    ),
    path(
        "sources/<int:pk>/quarantine/replay/",
        views.quarantine_replay_page,
        name="quarantine_replay",
    ),
    path("", include("integrations.activation.urls")),
    path("v1/", include("integrations.tracking.urls")),
]
