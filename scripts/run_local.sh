#!/usr/bin/env bash
# Start the embedded default: migrate, create demo users, then the Celery worker and beat in the
# background and the web server in the foreground. Ctrl-C (or SIGTERM) stops all three.
set -euo pipefail
cd "$(dirname "$0")/.."

export DEBUG="${DEBUG:-true}"
PY=.venv/bin/python
ADDR="${CDP_ADDR:-127.0.0.1:8000}"

$PY manage.py migrate --noinput
$PY manage.py create_demo_users
if [ -x scripts/load_demo_data.sh ]; then scripts/load_demo_data.sh; fi

# Beat runs as its own process: embedded in the worker (-B) it can hang the worker's shutdown.
.venv/bin/celery -A cdp_site worker --loglevel=INFO --concurrency=2 &
worker=$!
.venv/bin/celery -A cdp_site beat --loglevel=INFO &
beat=$!

stop() {
  kill -TERM "$worker" "$beat" 2>/dev/null || true
  for _ in $(seq 1 20); do
    kill -0 "$worker" 2>/dev/null || kill -0 "$beat" 2>/dev/null || return 0
    sleep 1
  done
  kill -KILL "$worker" "$beat" 2>/dev/null || true
}
trap stop EXIT INT TERM

echo "Open http://$ADDR/ and log in with one of the demo users above."
$PY manage.py runserver --noreload "$ADDR"
