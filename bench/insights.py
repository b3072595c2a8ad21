"""Insights benchmark: computed traits (`bench/insights_traits.py`: full and incremental
recompute) and scores, journeys and dashboards (`bench/insights_scores.py`: RFM, churn, a
4-step funnel over 30 days, the home dashboard), each in its own process on the same dataset.

Prints every `name=value` line of both, prefixed with its part (`traits_`, `scores_`), then
`targets_met` (both parts met theirs) and the two headlines joined, last. Options are passed on
(`--quick`: the 100,000-profile dataset).

    .venv/bin/python bench/insights.py [--quick]
"""

from __future__ import annotations

import subprocess
import sys
from pathlib import Path

HERE = Path(__file__).resolve().parent
PARTS = (("traits", HERE / "insights_traits.py"), ("scores", HERE / "insights_scores.py"))


def _run(part: str, script: Path, argv: list[str]) -> tuple[bool, str, int]:
    """Run one part, echoing its lines prefixed; (targets met, its headline, exit code)."""
    process = subprocess.Popen(
        [sys.executable, str(script), *argv], stdout=subprocess.PIPE, text=True
    )
    met, last = False, ""
    for line in process.stdout or ():
        line = line.rstrip("\n")
        name, sep, value = line.partition("=")
        if not sep:
            print(line, flush=True)
            continue
        if name == "targets_met":
            met = value == "yes"
        last = f"{part}: {value}" if name == "headline" else last
        print(f"{part}_{name}={value}", flush=True)
    return met, last, process.wait()


def main(argv: list[str] | None = None) -> int:
    argv = sys.argv[1:] if argv is None else argv
    if "-h" in argv or "--help" in argv:
        print(__doc__)
        return 0
    results = [_run(part, script, argv) for part, script in PARTS]
    print(f"targets_met={'yes' if all(met for met, _, _ in results) else 'no'}")
    print("headline=" + "; ".join(headline for _, headline, _ in results if headline))
    return max(code for _, _, code in results)


if __name__ == "__main__":
    sys.exit(main())
