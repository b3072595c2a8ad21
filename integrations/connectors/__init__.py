"""Connectors: one module per connector, each registering its class (see `registry`).

Importing this package imports every module in it, so the registry is complete without a list
to keep in step; helper modules (base, registry, shared clients) register nothing.
"""

import pkgutil
from importlib import import_module

for _module in pkgutil.iter_modules(__path__):
    import_module(f"{__name__}.{_module.name}")
