#!/usr/bin/env bash
# PostgreSQL backup to object storage with retention, and the matching restore.
#   deploy/backup.sh backup              pg_dump → $BACKUP_BUCKET_URL/stylelicense-<UTC>.dump, prune > $BACKUP_KEEP_DAYS
#   deploy/backup.sh restore FILE|KEY    restore into $RESTORE_DATABASE_URL (default: $DATABASE_URL)
#   deploy/backup.sh list
# Needs: pg_dump/pg_restore (postgresql-client), python3 with boto3 (AWS_* / S3_ENDPOINT_URL from the env).
# BACKUP_BUCKET_URL may also be file:///path for a local folder.
set -euo pipefail
: "${DATABASE_URL:?set DATABASE_URL}"
: "${BACKUP_BUCKET_URL:?set BACKUP_BUCKET_URL (s3://bucket/prefix or file:///path)}"
KEEP_DAYS="${BACKUP_KEEP_DAYS:-14}"
PY="${PYTHON:-python3}"
pg_url() { echo "$1" | sed -E 's#^postgresql\+psycopg2://#postgresql://#'; }

store() {  # store.py-like helper in Python: put/get/list/prune against S3 or a folder
  "$PY" - "$@" <<'PYEOF'
import os, sys, time
from urllib.parse import urlparse
action, url = sys.argv[1], os.environ["BACKUP_BUCKET_URL"]
u = urlparse(url)
if u.scheme == "file":
    root = u.path
    os.makedirs(root, exist_ok=True)
    if action == "put":
        import shutil; shutil.copyfile(sys.argv[2], os.path.join(root, sys.argv[3]))
    elif action == "get":
        import shutil; shutil.copyfile(os.path.join(root, sys.argv[2]), sys.argv[3])
    elif action == "list":
        for name in sorted(os.listdir(root)): print(name)
    elif action == "prune":
        cutoff = time.time() - int(sys.argv[2]) * 86400
        for name in os.listdir(root):
            path = os.path.join(root, name)
            if name.startswith("stylelicense-") and os.path.getmtime(path) < cutoff:
                os.remove(path); print("pruned", name)
else:
    import boto3, datetime
    s3 = boto3.client("s3", endpoint_url=os.environ.get("S3_ENDPOINT_URL"))
    bucket, prefix = u.netloc, u.path.strip("/") + "/" if u.path.strip("/") else ""
    if action == "put":
        s3.upload_file(sys.argv[2], bucket, prefix + sys.argv[3])
    elif action == "get":
        s3.download_file(bucket, prefix + sys.argv[2], sys.argv[3])
    elif action in ("list", "prune"):
        objects = s3.list_objects_v2(Bucket=bucket, Prefix=prefix).get("Contents", [])
        cutoff = datetime.datetime.now(datetime.timezone.utc) - datetime.timedelta(days=int(sys.argv[2]) if action == "prune" else 0)
        for obj in sorted(objects, key=lambda o: o["Key"]):
            name = obj["Key"][len(prefix):]
            if action == "list": print(name)
            elif name.startswith("stylelicense-") and obj["LastModified"] < cutoff:
                s3.delete_object(Bucket=bucket, Key=obj["Key"]); print("pruned", name)
PYEOF
}

case "${1:-}" in
  backup)
    name="stylelicense-$(date -u +%Y%m%dT%H%M%SZ).dump"
    tmp=$(mktemp -d); trap 'rm -rf "$tmp"' EXIT
    pg_dump --format=custom --no-owner --no-privileges --file "$tmp/$name" "$(pg_url "$DATABASE_URL")"
    store put "$tmp/$name" "$name"
    store prune "$KEEP_DAYS"
    echo "$name"
    ;;
  restore)
    src="${2:?backup file or key}"
    target="$(pg_url "${RESTORE_DATABASE_URL:-$DATABASE_URL}")"
    tmp=$(mktemp -d); trap 'rm -rf "$tmp"' EXIT
    if [ -f "$src" ]; then cp "$src" "$tmp/restore.dump"; else store get "$src" "$tmp/restore.dump"; fi
    pg_restore --clean --if-exists --no-owner --no-privileges --exit-on-error --dbname "$target" "$tmp/restore.dump"
    echo "restored $src"
    ;;
  list) store list ;;
  *) echo "usage: $0 backup | restore FILE|KEY | list" >&2; exit 2 ;;
esac
