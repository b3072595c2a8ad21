"""Audit the installed dependencies for known vulnerabilities: pip-audit over the virtualenv's
Python packages (PyPI's vulnerability data) and `npm audit` over the Node SDK test packages.

Each service is asked first whether it answers. One that does not is said once, loudly, with
what to do, instead of a "not found" line per package that looks like a clean audit.

Exit status: 0 audited and clean; 1 a known vulnerability (or a package that could not be
audited); 3 an audit could not run because its service does not answer from this machine.
"""

import importlib.metadata
import json
import shutil
import subprocess
import sys
import urllib.error
import urllib.request
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
BIN = Path(sys.executable).parent
# What pip-audit asks PyPI for each package: one version's JSON, with its vulnerabilities.
PYPI_PROBE = f"https://pypi.org/pypi/pip/{importlib.metadata.version('pip')}/json"
NODE_DIR = ROOT / "tests" / "node"
CLEAN, VULNERABLE, UNREACHABLE = 0, 1, 3


def _pypi_answers() -> str | None:
    """None if PyPI's JSON API (which carries the vulnerability data) answers, else why not."""
    try:
        with urllib.request.urlopen(PYPI_PROBE, timeout=15) as response:
            if "vulnerabilities" not in json.load(response):
                return f"{PYPI_PROBE} answers without vulnerability data"
    except (urllib.error.URLError, TimeoutError, ValueError) as error:
        return f"{PYPI_PROBE} does not answer ({error})"
    return None


def audit_python() -> int:
    problem = _pypi_answers()
    if problem:
        print(f"NOT AUDITED: Python packages. PyPI's vulnerability service: {problem}.")
        return UNREACHABLE
    # --strict: a package that cannot be audited fails the audit instead of being skipped.
    command = [str(BIN / "pip-audit"), "--local", "--strict", "--skip-editable"]
    return CLEAN if subprocess.run(command, check=False).returncode == 0 else VULNERABLE  # noqa: S603


def audit_node() -> int:
    npm = shutil.which("npm")
    if not npm or not (NODE_DIR / "node_modules").is_dir():
        print("Node SDK test packages not installed (make test installs them): nothing to audit.")
        return CLEAN
    result = subprocess.run(  # noqa: S603
        [npm, "audit", "--json", "--prefix", str(NODE_DIR)],
        capture_output=True,
        text=True,
        check=False,
    )
    try:
        report = json.loads(result.stdout or "{}")
    except ValueError:
        report = {}
    if "metadata" not in report:
        # npm says why in one of two shapes: an error object, or the failed request itself.
        error = report.get("error") or {}
        summary = error.get("summary") or report.get("message") or result.stderr.strip()[-300:]
        print(f"NOT AUDITED: Node SDK test packages. npm's audit service: {summary}.")
        return UNREACHABLE
    found = report.get("metadata", {}).get("vulnerabilities", {})
    total = sum(count for level, count in found.items() if level != "total")
    if total:
        print(f"npm audit: {total} known vulnerabilities in tests/node: {found}")
        subprocess.run([npm, "audit", "--prefix", str(NODE_DIR)], check=False)  # noqa: S603
        return VULNERABLE
    print("npm audit: no known vulnerabilities in the Node SDK test packages.")
    return CLEAN


def main() -> int:
    results = [audit_python(), audit_node()]
    if VULNERABLE in results:
        return VULNERABLE
    if UNREACHABLE in results:
        print(
            "The dependency audit is INCOMPLETE: run `make audit` on a machine that reaches "
            "pypi.org and registry.npmjs.org."
        )
        return UNREACHABLE
    return CLEAN


if __name__ == "__main__":
    sys.exit(main())
