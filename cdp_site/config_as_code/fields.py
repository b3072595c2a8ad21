"""Reading one object of the file field by field: each bad value becomes a `Problem` with its
YAML path, so a check reports everything wrong at once instead of stopping at the first."""

from __future__ import annotations

import os
import re

from .sections import Problem

ENV_NAME = re.compile(r"[A-Za-z_][A-Za-z0-9_]*")


class ItemReader:
    """The fields of the mapping at `path`; unknown fields are problems too (a typo would
    otherwise be ignored silently)."""

    def __init__(self, item: dict, path: str, problems: list[Problem], allowed: tuple[str, ...]):
        self.item = item
        self.path = path
        self.problems = problems
        for name in item:
            if name not in allowed:
                self.fail(str(name), f"Unknown field; the fields are: {', '.join(allowed)}.")

    def at(self, name: str) -> str:
        return f"{self.path}.{name}"

    def fail(self, name: str, message: str) -> None:
        self.problems.append(Problem(self.at(name) if name else self.path, message))

    def text(
        self, name: str, *, required: bool = False, default: str = "", max_length: int = 200
    ) -> str:
        value = self.item.get(name)
        if value is None:
            if required:
                self.fail(name, "Required.")
            return default
        if not isinstance(value, str):
            self.fail(name, "Must be text.")
            return default
        value = value.strip() if max_length <= 200 else value
        if required and not value:
            self.fail(name, "Required.")
        elif len(value) > max_length:
            self.fail(name, f"At most {max_length} characters.")
        elif "\x00" in value or (max_length <= 200 and any(ord(c) < 32 for c in value)):
            self.fail(name, "May not hold control characters.")
        return value

    def integer(self, name: str, *, default: int, minimum: int, maximum: int) -> int:
        value = self.item.get(name, default)
        if not isinstance(value, int) or isinstance(value, bool):
            self.fail(name, "Must be a whole number.")
            return default
        if not minimum <= value <= maximum:
            self.fail(name, f"Must be from {minimum} to {maximum}.")
        return value

    def boolean(self, name: str, *, default: bool) -> bool:
        value = self.item.get(name, default)
        if not isinstance(value, bool):
            self.fail(name, "Must be true or false.")
            return default
        return value

    def mapping(self, name: str) -> dict:
        value = self.item.get(name, {})
        if value is None:
            return {}
        if not isinstance(value, dict):
            self.fail(name, "Must be a mapping.")
            return {}
        return value

    def text_list(self, name: str) -> list[str]:
        value = self.item.get(name, [])
        if value is None:
            return []
        if not isinstance(value, list) or not all(isinstance(v, str) for v in value):
            self.fail(name, "Must be a list of text.")
            return []
        return value

    def secret_refs(self, name: str, secret_fields: tuple[str, ...]) -> dict[str, str]:
        """{secret field: environment variable name} from `secrets: {field: {env: NAME}}`."""
        refs = {}
        for field, ref in self.mapping(name).items():
            path = f"{name}.{field}"
            if field not in secret_fields:
                known = ", ".join(secret_fields) or "none"
                self.fail(path, f"Not a secret of this kind (its secrets: {known}).")
            elif not isinstance(ref, dict) or set(ref) != {"env"}:
                self.fail(path, "A secret is given as {env: VARIABLE_NAME}, never as a value.")
            elif not isinstance(ref["env"], str) or not ENV_NAME.fullmatch(ref["env"]):
                self.fail(f"{path}.env", "Must be an environment variable name.")
            else:
                refs[field] = ref["env"]
        return refs


def env_name(prefix: str, name: str, field: str) -> str:
    """The environment variable an exported file names for a secret: CDP_<PREFIX>_<NAME>_<FIELD>
    in capitals, anything else an underscore."""
    words = re.sub(r"[^A-Za-z0-9]+", "_", f"{name}_{field}").strip("_").upper()
    return f"CDP_{prefix.upper()}_{words}"


def secrets_from_env(refs: dict[str, str]) -> tuple[dict[str, str], list[str]]:
    """(secret values found in the environment, names of the variables that are not set)."""
    found, missing = {}, []
    for field, variable in refs.items():
        value = os.environ.get(variable, "")
        if value:
            found[field] = value
        else:
            missing.append(variable)
    return found, missing
