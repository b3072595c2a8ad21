"""URLs of the integrations app: its pages, and the tracking API under /v1/."""

from django.urls import include, path

from . import api, dashboard_views, sync_views, views

app_name = "integrations"

urlpatterns = [
    path("dashboard/syncs/", dashboard_views.dashboard_panel, name="dashboard"),
    path("sources/", views.source_list, name="source_list"),
    path("sources/new/", views.source_create_page, name="source_create"),
    path("sources/add/", sync_views.source_kind_choose, name="source_kind_choose"),
    path("sources/add/<slug:kind>/", sync_views.source_add, name="source_add"),
    path("sources/<int:pk>/edit/", sync_views.source_edit, name="source_edit"),
    path("sources/<int:pk>/test/", sync_views.source_test, name="source_test"),
    path("sources/<int:pk>/sync/", sync_views.source_sync, name="source_sync"),
    path("sources/<int:pk>/schedule/", sync_views.source_schedule, name="source_schedule"),
    path(
        "sources/<int:pk>/runs/<int:run_id>/",
        sync_views.sync_run_detail,
        name="sync_run_detail",
    ),
    path(
        "sources/<int:pk>/runs/<int:run_id>/cancel/",
        sync_views.sync_run_cancel_page,
        name="sync_run_cancel",
    ),
    path(
        "sources/<int:pk>/runs/<int:run_id>/retry/",
        sync_views.sync_run_retry_page,
        name="sync_run_retry",
    ),
    path("api/sources/", api.SourceList.as_view(), name="api_sources"),
    path("api/sources/<int:pk>/", api.SourceDetail.as_view(), name="api_source"),
    path("api/sources/<int:pk>/test/", api.SourceTest.as_view(), name="api_source_test"),
    path("api/sources/<int:pk>/sync/", api.SourceSync.as_view(), name="api_source_sync"),
    path(
        "api/sources/<int:pk>/rotate-key/",
        api.SourceKeyRotate.as_view(),
        name="api_source_key_rotate",
    ),
    path(
        "api/sources/<int:pk>/quarantine/",
        api.QuarantineList.as_view(),
        name="api_quarantine",
    ),
    path(
        "api/sources/<int:pk>/quarantine/replay/",
        api.QuarantineReplay.as_view(),
        name="api_quarantine_replay",
    ),
    path(
        "api/sources/<int:pk>/quarantine/<int:entry_id>/discard/",
        api.QuarantineDiscard.as_view(),
        name="api_quarantine_discard",
    ),
    path("api/sync-runs/", api.SyncRunList.as_view(), name="api_sync_runs"),
    path("api/sync-runs/<int:run_id>/", api.SyncRunDetail.as_view(), name="api_sync_run"),
    path(
        "api/sync-runs/<int:run_id>/cancel/",
        api.SyncRunCancel.as_view(),
        name="api_sync_run_cancel",
    ),
    path(
        "api/sync-runs/<int:run_id>/retry/", api.SyncRunRetry.as_view(), name="api_sync_run_retry"
    ),
    path("sources/<int:pk>/", views.source_detail, name="source_detail"),
    path("sources/<int:pk>/enabled/", views.source_enabled, name="source_enabled"),
    path("sources/<int:pk>/rotate-key/", views.source_key_rotate_page, name="source_key_rotate"),
    path("sources/<int:pk>/delete/", views.source_delete_page, name="source_delete"),
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
        "sources/<int:pk>/quarantine/discard/",
        views.quarantine_discard_page,
        name="quarantine_discard",
    ),
    path(
        "sources/<int:pk>/quarantine/replay/",
        views.quarantine_replay_page,
        name="quarantine_replay",
    ),
    path("", include("integrations.activation.urls")),
    path("v1/", include("integrations.tracking.urls")),
    # CSV upload and incoming webhook sources: their own pages, API and receiver.
    path("", include("integrations.csv_import.urls")),
    path("", include("integrations.webhooks.urls")),
]
