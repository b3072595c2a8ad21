"""Names of sources for apps that hold a source id but may not import `integrations`.

`profiles` keeps a plain source id on events and identities, so it installs and tests on its own,
yet the customer 360 and the profiles API show each source by its name. `integrations`, which owns
sources, registers the one provider here when it starts (`IntegrationsConfig.ready`), and readers
ask for every id of a page in one call: one query per page, however many rows.

A function rather than template tags or htmx fragments from `integrations`: the names are needed
outside templates too (the API's `source` field, the activity chart's legend and its order), and
a fragment per row would cost a request per event. The dependency keeps pointing one way:
`integrations` knows this module, `profiles` knows only this module.
"""

from collections.abc import Callable, Iterable

SourceNamesProvider = Callable[[set[int]], dict[int, str]]

_provider: SourceNamesProvider | None = None


def source_names_provider_register(provider: SourceNamesProvider) -> None:
    """Make `provider(ids) -> {id: name}` the answer to `source_names` (the last one wins)."""
    # One provider for the process, set once at start-up.
    global _provider
    _provider = provider


def source_names(ids: Iterable[int | None]) -> dict[int, str]:
    """{id: name} of the sources among `ids` that exist; empty without a provider or ids."""
    wanted = {source_id for source_id in ids if source_id is not None}
    if not wanted or _provider is None:
        return {}
    return _provider(wanted)
