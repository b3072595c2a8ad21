"""URLs of the segments app: its pages and its REST API."""

app_name = "segments"

urlpatterns: list = []
