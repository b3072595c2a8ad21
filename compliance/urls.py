"""URLs of the compliance app: its pages and its REST API."""

app_name = "compliance"

urlpatterns: list = []
