#!/usr/bin/env bash
# Deploy a new version on the compose host: build, migrate, copy the SPA, restart, health check,
# roll back to the previous images if the new API does not become ready.
# Usage: deploy/deploy.sh [git-ref]   (run from the repository root on the host)
set -euo pipefail
cd "$(dirname "$0")/.."
COMPOSE="docker-compose -f deploy/docker-compose.yml --env-file deploy/.env"
REF="${1:-HEAD}"
HEALTH_URL="${HEALTH_URL:-https://127.0.0.1/readyz}"

previous=$(docker image inspect stylelicense-api:latest --format '{{.Id}}' 2>/dev/null || true)
previous_worker=$(docker image inspect stylelicense-worker:latest --format '{{.Id}}' 2>/dev/null || true)
[ -n "$previous" ] && docker tag stylelicense-api:latest stylelicense-api:previous
[ -n "$previous_worker" ] && docker tag stylelicense-worker:latest stylelicense-worker:previous

git fetch --quiet && git checkout --quiet "$REF"
$COMPOSE build api worker-training migrate

rollback() {
  echo "deploy failed: rolling back" >&2
  if [ -n "$previous" ]; then
    docker tag stylelicense-api:previous stylelicense-api:latest
    [ -n "$previous_worker" ] && docker tag stylelicense-worker:previous stylelicense-worker:latest
    $COMPOSE up -d --no-build api worker-training worker-inference sweeper flower nginx
  fi
  exit 1
}
trap rollback ERR

# Migrations are forward-only and run before the new code starts (expand-then-contract releases).
$COMPOSE run --rm migrate
# The SPA volume is refreshed from the new API image (nginx serves it).
$COMPOSE run --rm --no-deps --entrypoint sh api -c 'cp -r /app/frontend/dist/. /spa/' -v spa:/spa || true
$COMPOSE up -d --no-build api worker-training worker-inference sweeper flower nginx

for _ in $(seq 1 40); do
  if curl -fsSk "$HEALTH_URL" >/dev/null; then
    trap - ERR
    echo "deployed $(git rev-parse --short HEAD); /readyz is green"
    exit 0
  fi
  sleep 3
done
false
