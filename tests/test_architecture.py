"""The seams between the apps: imports, relations between models and migration dependencies.

The rules are written out below as data, one entry per app, as the project's dependency rules
state them; the checks read the source files (`ast`, imports at any depth), the installed models
and the migration graph. Each check is also fed a made-up violation, to show it can fail.
"""

import ast
from collections.abc import Iterable, Iterator
from pathlib import Path

import pytest
from django.apps import apps
from django.db import models
from django.db.migrations import Migration
from django.db.migrations.graph import MigrationGraph
from django.db.migrations.loader import MigrationLoader
from django.test.utils import isolate_apps

ROOT = Path(__file__).resolve().parents[1]

FIRST_PARTY = ("cdp_site", "profiles", "segments", "integrations", "compliance")

# What each app may import besides itself (and the standard and third-party libraries): a whole
# app, or one module of it.
MAY_IMPORT: dict[str, tuple[str, ...]] = {
    "cdp_site": (),
    "profiles": ("cdp_site",),
    "segments": ("cdp_site", "profiles", "compliance.selectors"),
    "integrations": ("cdp_site", "profiles", "segments", "compliance.selectors"),
    "compliance": ("cdp_site", "profiles", "integrations.selectors", "segments.selectors"),
}

# An app's interface: no module outside the app imports these.
INTERFACE_MODULES = ("views", "api", "admin", "urls")

# Single modules allowed more: the project's URL configuration names each app's URL module.
MODULE_MAY_ALSO_IMPORT: dict[str, tuple[str, ...]] = {
    "cdp_site.urls": tuple(f"{app}.urls" for app in FIRST_PARTY),
}

# The apps whose models an app's models may relate to (foreign key, one-to-one, many-to-many),
# and whose migrations its migrations may depend on: only apps whose models it may read. Rows that
# name a source (events, identities, consent records) keep a plain source id; `profiles` holds no
# relation into any other app and depends on no other app's migration.
SCHEMA_MAY_REFER_TO: dict[str, frozenset[str]] = {
    "cdp_site": frozenset(),
    "profiles": frozenset(),
    "segments": frozenset({"cdp_site", "profiles"}),
    "integrations": frozenset({"cdp_site", "profiles", "segments"}),
    "compliance": frozenset({"cdp_site", "profiles"}),
}


def _app_of(module: str) -> str | None:
    top = module.split(".", 1)[0]
    return top if top in FIRST_PARTY else None


def _within(module: str, prefix: str) -> bool:
    return module == prefix or module.startswith(prefix + ".")


def _only(names: Iterable[str]) -> str:
    names = sorted(names)
    return f"{', '.join(names)} only" if names else "no other app"


# -- imports ---------------------------------------------------------------------------------


def _is_module(dotted: str) -> bool:
    path = ROOT.joinpath(*dotted.split("."))
    return path.with_suffix(".py").is_file() or (path / "__init__.py").is_file()


def _imported_modules(tree: ast.AST, module: str, is_package: bool) -> Iterator[tuple[int, str]]:
    """(line, dotted module) of every import in the tree, relative ones resolved."""
    package = module if is_package else module.rpartition(".")[0]
    for node in ast.walk(tree):
        if isinstance(node, ast.Import):
            for alias in node.names:
                yield node.lineno, alias.name
        elif isinstance(node, ast.ImportFrom):
            if node.level:
                parts = package.split(".")
                base = ".".join(parts[: len(parts) - node.level + 1])
                base = f"{base}.{node.module}" if node.module else base
            else:
                base = node.module or ""
            for alias in node.names:
                # `from compliance import consent` imports the module compliance.consent.
                submodule = f"{base}.{alias.name}"
                yield node.lineno, submodule if _is_module(submodule) else base


def import_violations(module: str, source: str, *, path: str, is_package: bool = False):
    """The imports in `source` (the text of `module`) that break a rule, one line each."""
    app = _app_of(module)
    found = []
    for line, target in _imported_modules(ast.parse(source), module, is_package):
        target_app = _app_of(target)
        if app is None or target_app is None or target_app == app:
            continue
        if any(_within(target, entry) for entry in MODULE_MAY_ALSO_IMPORT.get(module, ())):
            continue
        if not any(_within(target, entry) for entry in MAY_IMPORT[app]):
            rule = f"{app} may import {_only(MAY_IMPORT[app])}"
            found.append(f"{path}:{line}: imports {target}: {rule}")
        if set(target.split(".")[1:]) & set(INTERFACE_MODULES):
            rule = f"only {target_app} imports its {', '.join(INTERFACE_MODULES)}"
            found.append(f"{path}:{line}: imports {target}: {rule}")
    # `from a import b, c` names its module once per name: one report per line is enough.
    return list(dict.fromkeys(found))


def _source_files() -> Iterator[tuple[str, Path]]:
    for app in FIRST_PARTY:
        for path in sorted((ROOT / app).rglob("*.py")):
            parts = path.relative_to(ROOT).with_suffix("").parts
            yield ".".join(parts[:-1] if parts[-1] == "__init__" else parts), path


def test_every_import_follows_the_rules():
    violations = []
    for module, path in _source_files():
        violations += import_violations(
            module,
            path.read_text(encoding="utf-8"),
            path=str(path.relative_to(ROOT)),
            is_package=path.name == "__init__.py",
        )
    assert not violations, "\n" + "\n".join(violations)


def test_the_import_check_reads_every_app():
    modules = {module for module, _ in _source_files()}
    assert {f"{app}.models" for app in FIRST_PARTY} <= modules
    assert "integrations.tracking.ingest" in modules


@pytest.mark.parametrize(
    ("module", "source", "target", "rule"),
    [
        (
            "profiles.selectors",
            "from integrations.models import Source\n",
            "integrations.models",
            "profiles may import cdp_site only",
        ),
        (
            "profiles.views",
            "def names():\n    from integrations import selectors\n",
            "integrations.selectors",
            "profiles may import cdp_site only",
        ),
        (
            "segments.services",
            "import compliance.consent\n",
            "compliance.consent",
            "segments may import cdp_site, compliance.selectors, profiles only",
        ),
        (
            "cdp_site.views",
            "from profiles.selectors import profile_search\n",
            "profiles.selectors",
            "cdp_site may import no other app",
        ),
        (
            "compliance.receivers",
            "from segments.views import segment_list\n",
            "segments.views",
            "compliance may import cdp_site, integrations.selectors, profiles, "
            "segments.selectors only",
        ),
        (
            "integrations.tracking.views",
            "from segments.api import SegmentSerializer\n",
            "segments.api",
            "only segments imports its views, api, admin, urls",
        ),
        (
            "segments.tasks",
            "from profiles import views\n",
            "profiles.views",
            "only profiles imports its views, api, admin, urls",
        ),
        (
            "cdp_site.views",
            "from profiles import urls\n",
            "profiles.urls",
            "only profiles imports its views, api, admin, urls",
        ),
    ],
)
def test_the_import_check_fails_on_a_forbidden_import(module, source, target, rule):
    found = import_violations(module, source, path="here.py")
    line = source.count("\n", 0, source.index("import")) + 1
    assert f"here.py:{line}: imports {target}: {rule}" in found


def test_the_import_check_allows_what_the_rules_allow():
    source = (
        "from . import selectors\n"
        "from cdp_site.errors import InUseError\n"
        "from profiles.models import Event\n"
        "from compliance.selectors import consent_latest\n"
        "import json\n"
    )
    assert import_violations("segments.receivers", source, path="here.py") == []
    assert import_violations("cdp_site.urls", "from profiles import urls\n", path="x") == []


def test_the_import_check_resolves_relative_imports_and_submodules():
    source = "from ..selectors import source_get_for_user\nfrom . import ingest\n"
    tree = ast.parse(source)
    assert list(_imported_modules(tree, "integrations.tracking.views", False)) == [
        (1, "integrations.selectors"),
        (2, "integrations.tracking.ingest"),
    ]


# -- relations between models ----------------------------------------------------------------


def _schema_violations(links: Iterable[tuple[str, str, str]], rule: str) -> list[str]:
    """The links (app label, description, app label it points into) that break the schema rule."""
    found = []
    for app_label, link, target_label in links:
        app, target = _app_of(app_label), _app_of(target_label)
        if app is None or target is None or target == app or target in SCHEMA_MAY_REFER_TO[app]:
            continue
        found.append(f"{link}: {app} {rule} {_only(SCHEMA_MAY_REFER_TO[app])}")
    return found


def relation_violations(model_classes: Iterable[type[models.Model]]) -> list[str]:
    """Relations from a first-party app's model into an app it may not refer to."""
    links = (
        (
            model._meta.app_label,
            f"{model._meta.label}.{field.name} -> {field.related_model._meta.label}",
            field.related_model._meta.app_label,
        )
        for model in model_classes
        for field in model._meta.get_fields(include_hidden=True)
        if field.is_relation and not field.auto_created and field.related_model is not None
    )
    return _schema_violations(links, "models may relate to")


def test_every_relation_between_models_follows_the_rules():
    first_party = [m for m in apps.get_models() if _app_of(m._meta.app_label)]
    assert {m._meta.app_label for m in first_party} >= {"profiles", "integrations", "compliance"}
    violations = relation_violations(first_party)
    assert not violations, "\n" + "\n".join(violations)


def test_the_relation_check_reads_relations_between_apps():
    # compliance's consent records point into profiles: a relation the check sees and allows.
    consent = apps.get_model("compliance", "ConsentRecord")
    related = {f.related_model._meta.label for f in consent._meta.get_fields() if f.many_to_one}
    assert "profiles.Profile" in related


@isolate_apps("profiles", "integrations", "segments")
def test_the_relation_check_fails_on_a_foreign_key_out_of_profiles():
    class Source(models.Model):  # noqa: DJ008 - made up for the check
        class Meta:
            app_label = "integrations"

    class Segment(models.Model):  # noqa: DJ008 - made up for the check
        class Meta:
            app_label = "segments"

    class Event(models.Model):  # noqa: DJ008 - made up for the check
        source = models.ForeignKey(Source, on_delete=models.PROTECT)
        segments = models.ManyToManyField(Segment)

        class Meta:
            app_label = "profiles"

    assert relation_violations([Source, Segment, Event]) == [
        "profiles.Event.source -> integrations.Source: profiles models may relate to no other app",
        "profiles.Event.segments -> segments.Segment: profiles models may relate to no other app",
    ]


# -- migrations ------------------------------------------------------------------------------


def migration_violations(graph: MigrationGraph) -> list[str]:
    """Dependencies of a first-party app's migration on an app it may not refer to."""
    links = (
        (
            app_label,
            f"{app_label}.{name} depends on {parent.key[0]}.{parent.key[1]}",
            parent.key[0],
        )
        for (app_label, name), node in sorted(graph.node_map.items())
        for parent in sorted(node.parents)
    )
    return _schema_violations(links, "migrations may depend on")


def test_every_migration_dependency_follows_the_rules():
    graph = MigrationLoader(None, ignore_no_migrations=True).graph
    assert ("profiles", "0001_initial") in graph.nodes
    violations = migration_violations(graph)
    assert not violations, "\n" + "\n".join(violations)


def test_the_migration_check_fails_on_a_profiles_migration_depending_on_another_app():
    graph = MigrationGraph()
    keys = [
        ("profiles", "0001_initial"),
        ("integrations", "0001_initial"),
        ("cdp_site", "0001_role_groups"),
        ("auth", "0001_initial"),
    ]
    for app_label, name in keys:
        graph.add_node((app_label, name), Migration(name, app_label))
    for parent in keys[1:]:
        graph.add_dependency(graph.nodes[keys[0]], keys[0], parent)
    assert migration_violations(graph) == [
        "profiles.0001_initial depends on cdp_site.0001_role_groups: "
        "profiles migrations may depend on no other app",
        "profiles.0001_initial depends on integrations.0001_initial: "
        "profiles migrations may depend on no other app",
    ]
