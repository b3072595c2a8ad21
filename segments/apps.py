"""App config for segments."""

from django.apps import AppConfig


class SegmentsConfig(AppConfig):
    name = "segments"
    verbose_name = "Segments"
    # Entries of the main navigation (cdp_site.navigation.NavItem); who sees each is read from
    # the view its URL resolves to.
    navigation = ()
