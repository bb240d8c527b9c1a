#!/usr/bin/env bash
# `make run`: API + a worker for both queues + Flower on one machine, with embedded defaults.
# The project is installed in .venv (`make install`), so no PYTHONPATH is needed; `python -m celery` keeps
# this checkout first on sys.path (a shared venv may have another checkout installed).
set -euo pipefail
cd "$(dirname "$0")/.."
PORT="${PORT:-5000}"
FLOWER_PORT="${FLOWER_PORT:-5555}"
export API_BASE_URL="${API_BASE_URL:-http://127.0.0.1:$PORT}"
# The tiny model learns nothing from the full recipe (1,500 steps at 512 px, ~40 min on a CPU):
# locally, a short run at a small size shows the whole flow in about a minute. Unset them with a real model.
if [ "${STYLELICENSE_BASE_MODEL:-tiny}" = "tiny" ]; then
  export TRAINING_MAX_STEPS="${TRAINING_MAX_STEPS:-20}" TRAINING_RESOLUTION="${TRAINING_RESOLUTION:-128}"
  export GENERATION_STEPS="${GENERATION_STEPS:-12}"
fi
mkdir -p instance/logs
# The API generated this once per instance folder (migrations ran first); workers need the same token
# for the webhooks and for the development watermark key.
if [ -z "${INTERNAL_API_TOKEN:-}" ] && [ -f instance/internal_api_token ]; then
  export INTERNAL_API_TOKEN="$(cat instance/internal_api_token)"
fi
# The local C2PA signing chain (created once per instance folder, like the token): every output is signed.
if [ -z "${C2PA_SIGNING_KEY_PATH:-}" ] && [ -f instance/c2pa/c2pa-signer.key ]; then
  export C2PA_SIGNING_KEY_PATH="$PWD/instance/c2pa/c2pa-signer.key"
  export C2PA_CERT_CHAIN_PATH="$PWD/instance/c2pa/c2pa-chain.pem"
  export C2PA_TRUST_ANCHORS_PATH="$PWD/instance/c2pa/c2pa-root.pem"
fi
pids=()
cleanup() { kill "${pids[@]}" 2>/dev/null || true; wait 2>/dev/null || true; }
trap cleanup EXIT INT TERM

.venv/bin/python -m flask --app wsgi run --host 127.0.0.1 --port "$PORT" --no-reload >instance/logs/api.log 2>&1 &
pids+=($!)
# One worker for both queues locally; production runs one per GPU per queue. Threads pool: generation
# tasks hand their requests to one rendering thread that batches them (workers/serving.py).
.venv/bin/python -m celery -A workers worker -Q model_training,image_generation -P threads -c 8 -l info \
  >instance/logs/worker.log 2>&1 &
pids+=($!)
.venv/bin/python -m celery -A workers flower --port="$FLOWER_PORT" --address=127.0.0.1 >instance/logs/flower.log 2>&1 &
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
    Flower       http://127.0.0.1:$FLOWER_PORT/  (login: ${FLOWER_BASIC_AUTH:-see instance/flower_basic_auth})
  Sign in with the development login (any e-mail and username). Ctrl-C stops everything.

MSG
wait -n "${pids[@]}"
echo "a process exited; see instance/logs/" >&2
exit 1
