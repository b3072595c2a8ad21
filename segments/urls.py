"""URLs of the segments app: its pages and its REST API."""

from django.urls import path

from . import views

app_name = "segments"

urlpatterns = [
    path("segments/", views.segment_list, name="list"),
    path("segments/<int:segment_id>/", views.segment_detail, name="detail"),
    path("segments/profile/<int:profile_id>/", views.profile_segments, name="profile_segments"),
]
