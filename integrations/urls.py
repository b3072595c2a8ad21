"""URLs of the integrations app: its pages and its REST API."""

app_name = "integrations"

urlpatterns: list = []
