"""URLs of the profiles app: its pages and its REST API."""

from django.urls import path

from . import api, views

app_name = "profiles"

urlpatterns = [
    path("customers/", views.profile_search, name="search"),
    path("customers/<int:profile_id>/", views.profile_detail, name="detail"),
    path("customers/<int:profile_id>/timeline/", views.profile_timeline, name="timeline"),
    path("customers/merges/<int:merge_id>/undo/", views.merge_undo, name="merge_undo"),
    path("data-catalogue/", views.data_catalogue, name="data_catalogue"),
    path(
        "data-catalogue/<int:field_id>/classify/",
        views.data_field_classify,
        name="data_field_classify",
    ),
    path("api/profiles/", api.ProfileList.as_view(), name="api_list"),
    path("api/profiles/<int:profile_id>/", api.ProfileDetail.as_view(), name="api_detail"),
    path("api/profiles/<int:profile_id>/events/", api.ProfileEvents.as_view(), name="api_events"),
]
