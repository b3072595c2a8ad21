"""URLs of the segments app: its pages, one URL per action on a segment, and its REST API."""

from django.urls import path

from . import api, journey_views, views

app_name = "segments"

urlpatterns = [
    path("segments/", views.segment_list, name="list"),
    path("segments/new/", views.segment_builder, name="new"),
    path("segments/preview/", views.segment_preview, name="preview"),
    path("segments/fields/values/", views.builder_field_values, name="field_values"),
    path("segments/<int:segment_id>/", views.segment_detail, name="detail"),
    path("segments/<int:segment_id>/edit/", views.segment_builder, name="edit"),
    path("segments/<int:segment_id>/duplicate/", views.segment_duplicate, name="duplicate"),
    path("segments/<int:segment_id>/delete/", views.segment_delete, name="delete"),
    path("segments/<int:segment_id>/refresh/", views.segment_refresh, name="refresh"),
    path("segments/<int:segment_id>/rename/", views.segment_rename, name="rename"),
    path("segments/<int:segment_id>/share/", views.segment_share, name="share"),
    path("segments/<int:segment_id>/unshare/", views.segment_unshare, name="unshare"),
    path("segments/<int:segment_id>/export.csv", views.segment_export, name="export"),
    path("segments/profile/<int:profile_id>/", views.profile_segments, name="profile_segments"),
    path("dashboard/segments/", journey_views.dashboard_panel, name="dashboard"),
    path("journeys/funnel/", journey_views.funnel, name="funnel"),
    path("journeys/funnel/dropped/", journey_views.funnel_dropped, name="funnel_dropped"),
    path("journeys/paths/", journey_views.paths, name="paths"),
    path("segments/from-rfm-group/", journey_views.from_rfm_group, name="from_rfm_group"),
    path("api/segments/", api.SegmentList.as_view(), name="api_list"),
    path("api/segments/preview/", api.SegmentPreview.as_view(), name="api_preview"),
    path("api/segments/<int:segment_id>/", api.SegmentDetail.as_view(), name="api_detail"),
    path(
        "api/segments/<int:segment_id>/members/", api.SegmentMembers.as_view(), name="api_members"
    ),
    path(
        "api/profiles/<int:profile_id>/segments/",
        api.ProfileSegments.as_view(),
        name="api_profile_segments",
    ),
]
