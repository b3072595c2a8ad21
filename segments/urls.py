"""URLs of the segments app: its pages and its REST API."""

from django.urls import path

from . import api, views

app_name = "segments"

urlpatterns = [
    path("segments/", views.segment_list, name="list"),
    path("segments/new/", views.segment_builder, name="new"),
    path("segments/preview/", views.segment_builder_preview, name="preview"),
    path("segments/<int:segment_id>/", views.segment_detail, name="detail"),
    path("segments/<int:segment_id>/edit/", views.segment_builder, name="edit"),
    path("segments/<int:segment_id>/action/", views.segment_action, name="action"),
    path("segments/<int:segment_id>/export.csv", views.segment_export, name="export"),
    path("segments/profile/<int:profile_id>/", views.profile_segments, name="profile_segments"),
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
