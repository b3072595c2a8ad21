#!/usr/bin/env bash
# First start only: fill an empty database with a small synthetic shop (a few thousand
# customers, their web and app activity, orders, tickets and e-mails), resolved into profiles,
# so the customer 360 and the segment builder have something to show.
set -euo pipefail
cd "$(dirname "$0")/.."
PY=.venv/bin/python
$PY manage.py generate_data --if-empty --profiles "${CDP_DEMO_PROFILES:-2000}" --seed 1
