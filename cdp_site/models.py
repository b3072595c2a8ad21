"""Models of the project package: API tokens as the admin shows them."""

from rest_framework.authtoken.models import TokenProxy


class ApiToken(TokenProxy):
    """An API token named by the start of its key only.

    A token is a password: the admin's lists, titles and breadcrumbs name it by the model's
    text, which for DRF's own token is the whole key.
    """

    class Meta:
        proxy = True
        verbose_name = "API token"

    def __str__(self) -> str:
        return f"{self.key[:6]}…"
