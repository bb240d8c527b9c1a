"""End-to-end generation latency: time from `POST /api/generations` to `completed`, through the real API
(served on loopback), a broker and a real `celery -A workers worker` process, including the signing,
upload and the completion webhook. The GPU cost of the pipeline alone is `bench/inference_bench.py`.

    python bench/generation_e2e_bench.py                      # tiny model, SQLite, embedded broker
    python bench/generation_e2e_bench.py --steps 30 --runs 5 --sizes 1:1,2:2,1:2
    python bench/generation_e2e_bench.py --broker amqp://guest:guest@127.0.0.1:5672/ \\
        --database-url postgresql+psycopg2://postgres@127.0.0.1/sl_bench   # an empty, migrated-here DB

The first generation is reported apart ("cold": worker boot, model load, LoRA load); the others are
"warm" (the worker's pipeline and LoRA cache are hot). `server_s` is the API's own created_at →
completed_at; `e2e_s` is what a client polling every 200 ms sees.
"""

from __future__ import annotations

import argparse
import os
import statistics
import subprocess
import sys
import tempfile
import time
from datetime import datetime
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
)

POLL_S = 0.2  # light: on a small machine the polling competes with the worker for CPU


def _seed(app, model: str, price: int) -> int:
    """An artist with a completed style whose LoRA (trained for 2 steps) is in private storage."""
    from _common import synthetic_images

    from stylelicense.extensions import db
    from stylelicense.storage import get_storage
    from stylelicense.styles.models import Style
    from stylelicense.users.models import Artist, User
    from workers.pipelines.training import TrainingConfig, train_lora

    with tempfile.TemporaryDirectory() as tmp:
        result = train_lora(
            model,
            synthetic_images(4, (128, 128)),
            "bench style",
            tmp,
            config=TrainingConfig(resolution=64, max_steps=2, epochs=1),
        )
        lora = result.lora_path.read_bytes()
    with app.app_context():
        user = User(
            google_sub="dev:artist@bench.example", email="artist@bench.example", username="bench_artist", role="artist"
        )
        db.session.add(user)
        db.session.flush()
        artist = Artist(user_id=user.id, artist_name="Bench Artist", contact_email=user.email, signature_image_key="")
        db.session.add(artist)
        db.session.flush()
        style = Style(
            artist_id=artist.id,
            title="Bench Style",
            trigger="bench style",
            description="",
            generation_cost_tokens=price,
            training_status="completed",
            lora_key="styles/bench/lora.safetensors",
        )
        db.session.add(style)
        get_storage().put(style.lora_key, lora)
        db.session.commit()
        return style.id


def _ts(value: str) -> datetime:
    return datetime.fromisoformat(value.replace("Z", "+00:00"))


def _generate(http: requests.Session, base: str, style_id: int, ratio: str, seed: int, timeout: float) -> dict:
    started = time.perf_counter()
    response = http.post(
        f"{base}/api/generations",
        json={"style_id": style_id, "prompt_tags": ["portrait"], "aspect_ratio": ratio, "seed": seed},
        timeout=60,
    )
    if response.status_code != 201:
        raise SystemExit(f"POST /api/generations -> {response.status_code}: {response.text[:300]}")
    generation_id = response.json()["data"]["id"]
    deadline = started + timeout
    while time.perf_counter() < deadline:
        data = http.get(f"{base}/api/generations/{generation_id}", timeout=60).json()["data"]
        if data["status"] in ("completed", "failed"):
            e2e = time.perf_counter() - started
            if data["status"] == "failed":
                raise SystemExit(f"generation {generation_id} failed: {data['error_code']}")
            server = (_ts(data["completed_at"]) - _ts(data["created_at"])).total_seconds()
            return {"e2e_s": e2e, "server_s": server, "attempts": data["attempts"]}
        time.sleep(POLL_S)
    raise SystemExit(f"generation {generation_id} did not finish within {timeout}s")


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--model", default="tiny", help="tiny | sd15-random | a model id or path")
    parser.add_argument("--steps", type=int, default=8, help="denoising steps (production default: 30)")
    parser.add_argument("--sizes", default="1:1", help="comma-separated aspect ratios: 1:1,2:2,1:2")
    parser.add_argument("--runs", type=int, default=3, help="warm runs per size")
    parser.add_argument("--database-url", default=None, help="default: a fresh SQLite file")
    parser.add_argument("--broker", default=None, help="default: the embedded filesystem broker")
    parser.add_argument("--timeout", type=float, default=600.0, help="per generation")
    args = parser.parse_args()
    sizes = [s.strip() for s in args.sizes.split(",") if s.strip()]

    with tempfile.TemporaryDirectory(prefix="sl-gen-bench-") as tmp:
        folder = Path(tmp)
        env = stack_env(folder, database_url=args.database_url, broker=args.broker, model=args.model)
        # celery_config reads the broker settings from os.environ when the API's client is built.
        os.environ.update(env)
        subprocess.run(
            [sys.executable, "-m", "flask", "--app", "wsgi", "db", "upgrade"],
            cwd=ROOT,
            env={**os.environ, **env},
            check=True,
            capture_output=True,
        )
        app, base, stop_server = serve_app(env, quiet=True)
        worker = None
        try:
            style_id = _seed(app, args.model, price=1)
            worker = start_worker(
                {**env, "API_BASE_URL": base, "GENERATION_STEPS": str(args.steps)},
                "image_generation",
                folder / "worker.log",
                "bench",
            )
            http = requests.Session()
            for step in ("csrf", "login", "csrf"):  # signing in starts a new session, with a new token
                if step == "csrf":
                    token = http.get(f"{base}/api/auth/csrf", timeout=60).json()["data"]["csrf_token"]
                    http.headers["X-CSRFToken"] = token
                else:
                    http.post(
                        f"{base}/api/auth/dev-login",
                        json={"email": "buyer@bench.example", "username": "buyer"},
                        timeout=60,
                    ).raise_for_status()

            cold = _generate(http, base, style_id, sizes[0], 0, args.timeout)
            rows = [{"size": sizes[0], "run": "cold", **cold}]
            summary = {"cold_e2e_s": cold["e2e_s"]}
            for ratio in sizes:
                _generate(http, base, style_id, ratio, 1, args.timeout)  # first of this shape: not counted
                samples = [_generate(http, base, style_id, ratio, 100 + i, args.timeout) for i in range(args.runs)]
                for sample in samples:
                    rows.append({"size": ratio, "run": "warm", **sample})
                e2e = sorted(s["e2e_s"] for s in samples)
                summary[ratio] = {
                    "median_e2e_s": statistics.median(e2e),
                    "max_e2e_s": e2e[-1],
                    "median_server_s": statistics.median(s["server_s"] for s in samples),
                }
            print_table(rows, ["size", "run", "e2e_s", "server_s", "attempts"])
            print("worker stages:")
            for line in (folder / "worker.log").read_text(errors="replace").splitlines():
                if " timings: " in line:
                    print("  " + line.split("generation ", 1)[-1])
            print_json(
                {
                    "model": args.model,
                    "steps": args.steps,
                    "runs": args.runs,
                    "broker": "filesystem" if not args.broker else args.broker.split("://")[0],
                    "database": env["DATABASE_URL"].split(":")[0],
                    "environment": environment(),
                    "load_average": os.getloadavg(),
                    "summary": summary,
                }
            )
        except BaseException:
            log = folder / "worker.log"
            if log.exists():
                print("--- worker log (tail) ---\n" + log.read_text(errors="replace")[-4000:], file=sys.stderr)
            raise
        finally:
            stop_worker(worker)
            stop_server()


if __name__ == "__main__":
    main()
