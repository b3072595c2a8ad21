#!/usr/bin/env bash
# Smoke test of a running deployment: start the app, log in over HTTP, queue a task from a page
# and wait for the worker's answer.
#   .ci/smoke.sh embedded    the `make run` default: SQLite and the folder broker, runserver
#   .ci/smoke.sh production  PostgreSQL and Redis from DATABASE_URL / CELERY_BROKER_URL, gunicorn
set -euo pipefail
cd "$(dirname "$0")/.."
mode="${1:-embedded}"
port="${SMOKE_PORT:-8765}"
base="http://127.0.0.1:$port"
work="$(mktemp -d)"
jar="$work/cookies.txt"
log="$work/app.log"
export CDP_VAR_DIR="$work/var"

pids=()
cleanup() {
  for pid in "${pids[@]}"; do kill -- "-$pid" 2>/dev/null || kill "$pid" 2>/dev/null || true; done
  wait 2>/dev/null || true
  rm -rf "$work"
}
trap cleanup EXIT

fail() {
  echo "smoke ($mode): FAILED: $*" >&2
  echo "--- application log (last 60 lines) ---" >&2
  tail -n 60 "$log" >&2 || true
  exit 1
}

case "$mode" in
  embedded)
    unset DATABASE_URL CELERY_BROKER_URL CELERY_RESULT_BACKEND
    CDP_ADDR="127.0.0.1:$port" setsid make run >"$log" 2>&1 &
    pids+=($!)
    ;;
  production)
    : "${DATABASE_URL:?production smoke needs DATABASE_URL}"
    : "${CELERY_BROKER_URL:?production smoke needs CELERY_BROKER_URL}"
    export DEBUG=false SECURE_SSL_REDIRECT=false SESSION_COOKIE_SECURE=false
    export CSRF_COOKIE_SECURE=false ALLOWED_HOSTS=127.0.0.1
    export SECRET_KEY="smoke-$(head -c 32 /dev/urandom | od -An -tx1 | tr -d ' \n')"
    .venv/bin/python manage.py migrate --noinput >"$log" 2>&1
    .venv/bin/python manage.py collectstatic --noinput >>"$log" 2>&1
    .venv/bin/python manage.py create_demo_users >>"$log" 2>&1
    setsid .venv/bin/celery -A cdp_site worker --loglevel=INFO --concurrency=1 >>"$log" 2>&1 &
    pids+=($!)
    setsid .venv/bin/gunicorn -c python:cdp_site.gunicorn_conf cdp_site.wsgi -w 2 -b "127.0.0.1:$port" >>"$log" 2>&1 &
    pids+=($!)
    ;;
  *) echo "usage: $0 embedded|production" >&2; exit 2 ;;
esac

for _ in $(seq 1 180); do
  curl -fsS -o /dev/null "$base/accounts/login/" 2>/dev/null && break
  sleep 1
done
curl -fsS -c "$jar" -b "$jar" -o "$work/login.html" "$base/accounts/login/" \
  || fail "the login page was not served"
grep -q 'name="username"' "$work/login.html" || fail "the login page has no form"

csrf() { awk '$6 == "csrftoken" { print $7 }' "$jar"; }
status=$(curl -sS -c "$jar" -b "$jar" -o /dev/null -w '%{http_code}' \
  -H "Referer: $base/accounts/login/" \
  --data-urlencode "csrfmiddlewaretoken=$(csrf)" \
  --data-urlencode "username=integrations" \
  --data-urlencode "password=cdp-demo-password" \
  "$base/accounts/login/")
[ "$status" = "302" ] || fail "log in answered $status, not a redirect"

curl -fsS -c "$jar" -b "$jar" -o "$work/system.html" "$base/system/" || fail "system page"
curl -fsS -c "$jar" -b "$jar" -o "$work/check.html" -X POST \
  -H "X-CSRFToken: $(csrf)" -H "Referer: $base/system/" -H "HX-Request: true" \
  "$base/system/worker-check/" || fail "queueing the worker check"
task_id=$(grep -oE '/system/worker-check/[0-9a-f-]{36}/' "$work/check.html" | head -1)
[ -n "$task_id" ] || fail "no task id in the worker-check answer"

for _ in $(seq 1 120); do
  curl -fsS -c "$jar" -b "$jar" -H "HX-Request: true" -o "$work/result.html" "$base$task_id" \
    || fail "polling the task"
  if grep -q 'data-state="SUCCESS"' "$work/result.html"; then
    echo "smoke ($mode): OK: logged in, queued a task, the worker answered:"
    grep -o 'The worker.*answered at [^.]*' "$work/result.html" | sed 's/<[^>]*>//g'
    exit 0
  fi
  sleep 1
done
fail "the worker did not answer within two minutes"
