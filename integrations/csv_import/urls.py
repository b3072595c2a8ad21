"""Pages of CSV upload sources (included in the integrations namespace)."""

from django.urls import path

from . import api, views

urlpatterns = [
    path("sources/<int:pk>/csv/", views.csv_source_page, name="csv_source"),
    path("sources/<int:pk>/csv/upload/", views.csv_upload, name="csv_upload"),
    path("sources/<int:pk>/csv/mapping/", views.csv_mapping_page, name="csv_mapping"),
    path("sources/<int:pk>/csv/import/", views.csv_import, name="csv_import"),
    path(
        "sources/<int:pk>/csv/runs/<int:run_id>/bad-rows.csv",
        views.csv_bad_rows,
        name="csv_bad_rows",
    ),
]

urlpatterns += [
    path("api/sources/<int:pk>/upload/", api.CsvUpload.as_view(), name="api_csv_upload"),
    path("api/sources/<int:pk>/mapping/", api.CsvMapping.as_view(), name="api_csv_mapping"),
    path("api/sources/<int:pk>/import/", api.CsvImport.as_view(), name="api_csv_import"),
]
