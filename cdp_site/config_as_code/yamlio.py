"""YAML written for people reviewing a diff: block style, fields in a fixed order, nested
mappings sorted by key, text kept as it is (no line folding, Unicode as itself)."""

import yaml


class _Dumper(yaml.SafeDumper):
    pass


def _text(dumper: yaml.SafeDumper, value: str):
    style = "|" if "\n" in value else None
    return dumper.represent_scalar("tag:yaml.org,2002:str", value, style=style)


_Dumper.add_representer(str, _text)


def sorted_nested(value: object) -> object:
    """`value` with every mapping's keys sorted, at any depth (stable output whatever the
    database returned them in)."""
    if isinstance(value, dict):
        return {key: sorted_nested(value[key]) for key in sorted(value, key=str)}
    if isinstance(value, list):
        return [sorted_nested(item) for item in value]
    return value


def yaml_dump(document: dict) -> str:
    return yaml.dump(
        document,
        Dumper=_Dumper,
        sort_keys=False,
        allow_unicode=True,
        default_flow_style=False,
        width=100_000,
    )
