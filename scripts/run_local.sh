#!/usr/bin/env bash
# Start the embedded default: migrate, create demo users, then the Celery worker and beat in the
# background and the web server; once it answers, print its address and the demo logins last.
# Ctrl-C (or SIGTERM) stops all three.
#
# The console shows short human-readable lines at WARNING (CDP_DEVELOPMENT=true); LOG_LEVEL=INFO
# shows every request and task, LOG_FORMAT=json the production lines. Django's debug pages stay
# off unless DEBUG=true is set explicitly: a 404 or an error shows the product's own pages.
set -euo pipefail
cd "$(dirname "$0")/.."

export CDP_DEVELOPMENT="${CDP_DEVELOPMENT:-true}"
export LOG_LEVEL="${LOG_LEVEL:-WARNING}"
PY=.venv/bin/python
ADDR="${CDP_ADDR:-127.0.0.1:8000}"

echo "Preparing the database..."
$PY manage.py migrate --noinput -v 0
logins="$($PY manage.py create_demo_users)"
if [ -x scripts/load_demo_data.sh ]; then scripts/load_demo_data.sh; fi

# Beat runs as its own process: embedded in the worker (-B) it can hang the worker's shutdown.
# --quiet leaves out Celery's start-up banners; the log level says the rest.
.venv/bin/celery -A cdp_site --quiet worker --loglevel="$LOG_LEVEL" --concurrency=2 &
worker=$!
.venv/bin/celery -A cdp_site --quiet beat --loglevel="$LOG_LEVEL" &
beat=$!
$PY manage.py runserver --noreload "$ADDR" &
server=$!

stop() {
  kill -TERM "$server" "$worker" "$beat" 2>/dev/null || true
  for _ in $(seq 1 20); do
    kill -0 "$worker" 2>/dev/null || kill -0 "$beat" 2>/dev/null || kill -0 "$server" 2>/dev/null || return 0
    sleep 1
  done
  kill -KILL "$server" "$worker" "$beat" 2>/dev/null || true
}
trap stop EXIT INT TERM

# The address and the logins come last, once the server answers, so they stay in sight.
for _ in $(seq 1 60); do
  if $PY -c 'import sys, urllib.request; urllib.request.urlopen(sys.argv[1], timeout=1)' \
      "http://$ADDR/accounts/login/" 2>/dev/null; then
    break
  fi
  kill -0 "$server" 2>/dev/null || exit 1
  sleep 1
done
sleep 2  # the worker's and beat's first lines come before the banner, not after it
echo
echo "$logins"
echo
echo "Open http://$ADDR/ and log in with one of the demo users above. Ctrl-C stops everything."
wait "$server"
