"""End-to-end training latency: `POST /api/styles` with 10 images → `completed`, through the real API
(served on loopback), a broker and a real `celery -A workers worker -Q model_training` process: upload
validation and storage, the queue, model load, latent caching, the LoRA steps, the LoRA upload and the
completion webhook. The pipeline alone is `bench/train_bench.py`.

    python bench/training_e2e_bench.py                          # tiny model, 6 steps, SQLite, embedded broker
    python bench/training_e2e_bench.py --steps 0                # the full recipe (~1,500 steps)
    python bench/training_e2e_bench.py --model sd15-random --steps 200   # GPU: real SD 1.5 architecture
    python bench/training_e2e_bench.py --broker amqp://guest:guest@127.0.0.1:5672/ \\
        --database-url postgresql+psycopg2://postgres@127.0.0.1/sl_bench   # an empty, migrated-here DB

Columns: `post_s` the upload request (validation, re-encoding, storage), `queue_s` created → the worker's
start report, `train_s` start report → completed (model load + caching + steps + upload), `e2e_s` what a
client polling every 100 ms sees from the POST to `completed`.
"""

from __future__ import annotations

import argparse
import io
import os
import subprocess
import sys
import tempfile
import time
from pathlib import Path

import requests
from _common import (  # puts the repo root on sys.path
    ROOT,
    environment,
    print_json,
    print_table,
    serve_app,
    stack_env,
    start_worker,
    stop_worker,
    synthetic_images,
)

POLL_S = 0.1


def _env(folder: Path, args) -> dict[str, str]:
    env = stack_env(folder, database_url=args.database_url, broker=args.broker, model=args.model)
    if args.steps:
        env["TRAINING_MAX_STEPS"] = str(args.steps)
    if args.resolution:
        env["TRAINING_RESOLUTION"] = str(args.resolution)
    return env


def _seed_artist(app) -> None:
    """An artist account the dev login signs in as (google_sub ``dev:<email>``)."""
    from stylelicense.extensions import db
    from stylelicense.users.models import Artist, User

    with app.app_context():
        user = User(
            google_sub="dev:artist@bench.example", email="artist@bench.example", username="bench_artist", role="artist"
        )
        db.session.add(user)
        db.session.flush()
        db.session.add(
            Artist(user_id=user.id, artist_name="Bench Artist", contact_email=user.email, signature_image_key="")
        )
        db.session.commit()


def _wait_ready(worker: subprocess.Popen, log_path: Path, timeout: float = 300.0) -> None:
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        if worker.poll() is not None:
            raise SystemExit(f"the worker exited: {log_path.read_text(errors='replace')[-2000:]}")
        if log_path.exists() and " ready." in log_path.read_text(errors="replace"):
            return
        time.sleep(0.2)
    raise SystemExit("the worker did not become ready")


def _session(base: str) -> requests.Session:
    http = requests.Session()
    for step in ("csrf", "login", "csrf"):  # signing in starts a new session, with a new token
        if step == "csrf":
            http.headers["X-CSRFToken"] = http.get(f"{base}/api/auth/csrf", timeout=60).json()["data"]["csrf_token"]
        else:
            http.post(
                f"{base}/api/auth/dev-login",
                json={"email": "artist@bench.example", "username": "bench_artist"},
                timeout=60,
            ).raise_for_status()
    return http


def _files(count: int) -> list[tuple[str, tuple[str, bytes, str]]]:
    files = []
    for i, (image, _) in enumerate(synthetic_images(count, (640, 512))):
        buffer = io.BytesIO()
        image.save(buffer, "PNG")
        files.append(("images", (f"art-{i}.png", buffer.getvalue(), "image/png")))
    return files


def _timestamps(app, style_id: int) -> dict:
    from stylelicense.extensions import db
    from stylelicense.styles.models import Style

    with app.app_context():
        style = db.session.get(Style, style_id)
        values = {
            "created": style.created_at,
            "started": style.training_started_at,
            "finished": style.training_finished_at,
            "attempts": style.training_attempts,
        }
        db.session.remove()
        return values


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--model", default="tiny", help="tiny | sd15-random | a model id or path")
    parser.add_argument("--steps", type=int, default=6, help="training steps (0: the full recipe for the images)")
    parser.add_argument("--resolution", type=int, default=0, help="training resolution (default: the recipe's 512)")
    parser.add_argument("--images", type=int, default=10)
    parser.add_argument("--database-url", default=None, help="default: a fresh SQLite file")
    parser.add_argument("--broker", default=None, help="default: the embedded filesystem broker")
    parser.add_argument("--timeout", type=float, default=3600.0)
    args = parser.parse_args()

    with tempfile.TemporaryDirectory(prefix="sl-train-bench-") as tmp:
        folder = Path(tmp)
        env = _env(folder, args)
        subprocess.run(
            [sys.executable, "-m", "flask", "--app", "wsgi", "db", "upgrade"],
            cwd=ROOT,
            env={**os.environ, **env},
            check=True,
            capture_output=True,
        )
        app, base, stop_server = serve_app(env)
        worker = None
        try:
            _seed_artist(app)
            worker = start_worker({**env, "API_BASE_URL": base}, "model_training", folder / "worker.log", "bench-train")
            _wait_ready(worker, folder / "worker.log")  # queue_s must not include the worker's boot
            http = _session(base)
            files = _files(args.images)
            data = {"title": "Bench Style", "description": "benchmark", "generation_cost_tokens": "5"}

            started = time.perf_counter()
            response = http.post(f"{base}/api/styles", data=data, files=files, timeout=600)
            post_s = time.perf_counter() - started
            if response.status_code != 201:
                raise SystemExit(f"POST /api/styles -> {response.status_code}: {response.text[:300]}")
            style_id = response.json()["data"]["id"]
            epochs_seen = set()
            deadline = started + args.timeout
            while True:
                style = http.get(f"{base}/api/styles/{style_id}", timeout=60).json()["data"]
                if style["progress"]:
                    epochs_seen.add(style["progress"]["current_epoch"])
                if style["training_status"] in ("completed", "failed"):
                    break
                if time.perf_counter() > deadline:
                    raise SystemExit(f"style {style_id} did not finish within {args.timeout}s")
                time.sleep(POLL_S)
            e2e_s = time.perf_counter() - started
            if style["training_status"] == "failed":
                print((folder / "worker.log").read_text(errors="replace")[-3000:])
                raise SystemExit(f"style {style_id} failed")
            stamps = _timestamps(app, style_id)
            row = {
                "images": args.images,
                "steps": args.steps or "recipe",
                "post_s": post_s,
                "queue_s": (stamps["started"] - stamps["created"]).total_seconds(),
                "train_s": (stamps["finished"] - stamps["started"]).total_seconds(),
                "e2e_s": e2e_s,
                "epochs_seen": len(epochs_seen),
                "attempts": stamps["attempts"],
            }
            print_table([row], list(row))
            print_json(
                {
                    "model": args.model,
                    "resolution": args.resolution or 512,
                    "broker": "filesystem" if not args.broker else args.broker.split("://")[0],
                    "database": env["DATABASE_URL"].split(":")[0],
                    "load_average": os.getloadavg(),
                    "environment": environment(),
                    "result": row,
                }
            )
        finally:
            stop_worker(worker)
            stop_server()


if __name__ == "__main__":
    main()
