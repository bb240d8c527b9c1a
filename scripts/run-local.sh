#!/usr/bin/env bash
# `make run`: API + a worker for both queues + Flower on one machine, with embedded defaults.
set -euo pipefail
cd "$(dirname "$0")/.."
PORT="${PORT:-5000}"
FLOWER_PORT="${FLOWER_PORT:-5555}"
export API_BASE_URL="${API_BASE_URL:-http://127.0.0.1:$PORT}"
mkdir -p instance/logs
pids=()
cleanup() { kill "${pids[@]}" 2>/dev/null || true; wait 2>/dev/null || true; }
trap cleanup EXIT INT TERM

.venv/bin/python -m flask --app wsgi run --host 127.0.0.1 --port "$PORT" --no-reload >instance/logs/api.log 2>&1 &
pids+=($!)
# One worker for both queues locally; production runs one per GPU per queue.
.venv/bin/celery -A workers worker -Q model_training,image_generation -c 1 -l info \
  >instance/logs/worker.log 2>&1 &
pids+=($!)
.venv/bin/celery -A workers flower --port="$FLOWER_PORT" --address=127.0.0.1 >instance/logs/flower.log 2>&1 &
pids+=($!)

for _ in $(seq 1 60); do
  curl -fsS "http://127.0.0.1:$PORT/healthz" >/dev/null 2>&1 && break
  sleep 0.5
done
cat <<MSG

  Style License is running (logs in instance/logs/):
    Web app      http://127.0.0.1:$PORT/
    API docs     http://127.0.0.1:$PORT/api/docs
    Readiness    http://127.0.0.1:$PORT/readyz
    Flower       http://127.0.0.1:$FLOWER_PORT/
  Sign in with the development login (any e-mail and username). Ctrl-C stops everything.

MSG
wait -n "${pids[@]}"
echo "a process exited; see instance/logs/" >&2
exit 1
