"""URLs of the profiles app: its pages and its REST API."""

app_name = "profiles"

urlpatterns: list = []
