"""Reading a connector's settings: the value saved, else the field's default, checked for range.

A bad value found when a connector runs is the configuration's fault, so it is a TerminalError
that names the setting; retrying would not help.
"""

from integrations.connectors.base import ConfigField, TerminalError


def option(fields: tuple[ConfigField, ...], config: dict, name: str):
    value = config.get(name)
    if value in (None, ""):
        spec = next(f for f in fields if f.name == name)
        return spec.default
    return value


def int_option(
    fields: tuple[ConfigField, ...], config: dict, name: str, *, low: int, high: int
) -> int:
    value = option(fields, config, name)
    label = next(f.label for f in fields if f.name == name)
    try:
        number = int(value)
    except (TypeError, ValueError):
        raise TerminalError(f"{label} must be a whole number, not {value!r}.") from None
    if not low <= number <= high:
        raise TerminalError(f"{label} must be between {low:,} and {high:,} (it is {number:,}).")
    return number


def lines_option(fields: tuple[ConfigField, ...], config: dict, name: str) -> list[str]:
    """A list setting kept as text, one item per line or comma-separated, blanks dropped."""
    value = option(fields, config, name) or ""
    items = value if isinstance(value, list | tuple) else str(value).replace(",", "\n").splitlines()
    return [item.strip() for item in items if str(item).strip()]
