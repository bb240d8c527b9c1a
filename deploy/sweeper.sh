#!/usr/bin/env bash
# The scheduled sweeps (the `sweeper` service in deploy/docker-compose.yml): every SWEEP_INTERVAL
# seconds (default 300) settle what nobody else will:
#   - purchases stuck in "confirming" are checked against Toss (credited once, or closed);
#   - every SWEEP_PAID_EVERY rounds (default 12: hourly), purchases paid in the last 3 days are
#     re-checked, so a payment canceled at Toss whose webhook was lost is taken back from the ledger;
#   - trainings whose worker went silent are failed, lost pending trainings re-sent;
#   - generations that stopped moving are failed and refunded.
# Each command is idempotent and safe next to live workers and API containers, so a second sweeper
# (or an operator running one by hand) does no harm. `--once`: one round, exit 1 if a command failed.
set -u
FLASK=${FLASK:-flask}
INTERVAL=${SWEEP_INTERVAL:-300}

PAID_EVERY=${SWEEP_PAID_EVERY:-12}
rounds=0

round() {
  local failed=0
  "$FLASK" --app wsgi purchases sweep-confirming --minutes "${SWEEP_CONFIRMING_MINUTES:-10}" || failed=1
  if [ $((rounds % PAID_EVERY)) -eq 0 ]; then
    "$FLASK" --app wsgi purchases sweep-paid --days "${SWEEP_PAID_DAYS:-3}" || failed=1
  fi
  rounds=$((rounds + 1))
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
