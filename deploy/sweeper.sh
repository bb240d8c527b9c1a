#!/usr/bin/env bash
# The scheduled sweeps (the `sweeper` service in deploy/docker-compose.yml): every SWEEP_INTERVAL
# seconds (default 300) settle what nobody else will:
#   - purchases stuck in "confirming" are checked against Toss (credited once, or closed);
#   - trainings whose worker went silent are failed, lost pending trainings re-sent;
#   - generations that stopped moving are failed and refunded.
# Each command is idempotent and safe next to live workers and API containers, so a second sweeper
# (or an operator running one by hand) does no harm. `--once`: one round, exit 1 if a command failed.
set -u
FLASK=${FLASK:-flask}
INTERVAL=${SWEEP_INTERVAL:-300}

round() {
  local failed=0
  "$FLASK" --app wsgi purchases sweep-confirming --minutes "${SWEEP_CONFIRMING_MINUTES:-10}" || failed=1
  "$FLASK" --app wsgi styles sweep-stale || failed=1
  "$FLASK" --app wsgi generations sweep-stale --minutes "${SWEEP_GENERATION_MINUTES:-30}" || failed=1
  return $failed
}

if [ "${1:-}" = "--once" ]; then
  round
  exit $?
fi
trap 'exit 0' TERM INT
while true; do
  round || echo "sweeper: a sweep failed; retrying in ${INTERVAL}s" >&2
  sleep "$INTERVAL" & wait $!
done
