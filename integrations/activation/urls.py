"""URLs of activation's pages (included by `integrations.urls`, in its namespace)."""

from django.urls import path

from . import views

urlpatterns = [
    path("destinations/", views.destination_list, name="destination_list"),
    path("destinations/new/", views.destination_create_page, name="destination_create"),
    path("destinations/<int:pk>/", views.destination_detail, name="destination_detail"),
    path("destinations/<int:pk>/pause/", views.destination_pause_page, name="destination_pause"),
    path("destinations/<int:pk>/resume/", views.destination_resume_page, name="destination_resume"),
    path("destinations/<int:pk>/share/", views.destination_share_page, name="destination_share"),
    path("destinations/<int:pk>/dead-letters/", views.dead_letter_list, name="dead_letter_list"),
    path(
        "destinations/<int:pk>/dead-letters/replay/",
        views.dead_letter_replay,
        name="dead_letter_replay",
    ),
    path(
        "destinations/<int:pk>/forwards/new/",
        views.event_forward_create_page,
        name="event_forward_create",
    ),
    path(
        "destinations/<int:pk>/forwards/<int:forward_id>/enabled/",
        views.event_forward_enabled_page,
        name="event_forward_enabled",
    ),
    path(
        "destinations/<int:pk>/forwards/<int:forward_id>/run/",
        views.event_forward_run_page,
        name="event_forward_run",
    ),
    path(
        "destinations/<int:pk>/forwards/<int:forward_id>/delete/",
        views.event_forward_delete_page,
        name="event_forward_delete",
    ),
    path(
        "destinations/<int:pk>/runs/<int:run_id>/",
        views.destination_run_detail,
        name="destination_run_detail",
    ),
    path(
        "destinations/<int:pk>/runs/<int:run_id>/cancel/",
        views.destination_run_cancel,
        name="destination_run_cancel",
    ),
    path(
        "destinations/<int:pk>/runs/<int:run_id>/retry/",
        views.destination_run_retry,
        name="destination_run_retry",
    ),
    path("destinations/segment/<int:segment_id>/", views.segment_syncs, name="segment_syncs"),
    path("audience-syncs/<int:pk>/", views.audience_sync_detail, name="audience_sync_detail"),
    path("audience-syncs/<int:pk>/run/", views.audience_sync_run, name="audience_sync_run"),
]

from . import api  # noqa: E402

urlpatterns += [
    path("api/destinations/", api.DestinationList.as_view(), name="api_destination_list"),
    path("api/destinations/<int:pk>/", api.DestinationDetail.as_view(), name="api_destination"),
    path(
        "api/destinations/<int:pk>/dead-letters/",
        api.DeadLetterList.as_view(),
        name="api_dead_letters",
    ),
    path(
        "api/destinations/<int:pk>/dead-letters/replay/",
        api.DeadLetterReplay.as_view(),
        name="api_dead_letters_replay",
    ),
    path(
        "api/destinations/<int:pk>/forwards/",
        api.EventForwardList.as_view(),
        name="api_event_forward_list",
    ),
    path(
        "api/event-forwards/<int:pk>/", api.EventForwardDetail.as_view(), name="api_event_forward"
    ),
    path(
        "api/event-forwards/<int:pk>/run/",
        api.EventForwardRun.as_view(),
        name="api_event_forward_run",
    ),
    path("api/audience-syncs/", api.AudienceSyncList.as_view(), name="api_audience_sync_list"),
    path(
        "api/audience-syncs/<int:pk>/", api.AudienceSyncDetail.as_view(), name="api_audience_sync"
    ),
    path(
        "api/audience-syncs/<int:pk>/run/",
        api.AudienceSyncRun.as_view(),
        name="api_audience_sync_run",
    ),
]
