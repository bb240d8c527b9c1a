"""Serving benchmark, three ways side by side in one run:

1. **plain diffusers, batch 1** — the bare pipeline in this process, no LoRA, no output stage;
2. **this worker, one job at a time** — POST a generation, wait until its signed image is stored, next;
3. **this worker under a burst** — ``--jobs`` (64) generations queued at once over ``--styles`` (16)
   styles whose popularity follows a Zipf law (s = ``--zipf``).

For 2 and 3 the latency is the API's own ``created_at`` (enqueue) → ``completed_at`` (the signed image
is stored and reported); images/s of the burst is jobs / (last completed − first created). The worker is
the real one as deployed: ``celery -A workers worker -Q image_generation -P threads -c 16`` feeding one
batching GPU thread (workers/serving.py), with the API served on loopback.

    python bench/serving_bench.py                                   # tiny model on CPU (ratios only)
    python bench/serving_bench.py --broker amqp://guest:guest@127.0.0.1:5672/bench  # RabbitMQ (vhost exists)
    python bench/serving_bench.py --arch sd15-random --steps 30     # SD 1.5 architecture, on a GPU
    python bench/serving_bench.py --save bench/results/serving_cpu_tiny.json

On a CPU the tiny model's numbers say nothing about a GPU: read the ratios between the three columns.
"""

from __future__ import annotations

import argparse
import json
import os
import re
import statistics
import subprocess
import sys
import tempfile
import time
from collections import Counter
from datetime import datetime
from pathlib import Path

import numpy as np
import requests
from _common import (  # puts the repo root on sys.path
    ROOT,
    environment,
    print_json,
    print_table,
    random_lora_bytes,
    resolve_model,
    serve_app,
    stack_env,
    start_worker,
    stop_worker,
)

SIZES = {"1:1": (512, 512), "2:2": (1024, 1024), "1:2": (512, 1024)}


def _pct(values: list[float], q: float) -> float:
    return float(np.percentile(np.asarray(values), q)) if values else float("nan")


def _ts(value: str) -> datetime:
    return datetime.fromisoformat(value.replace("Z", "+00:00"))


def zipf_styles(n_jobs: int, n_styles: int, s: float, seed: int = 0) -> list[int]:
    """Style index (0 = most popular) for each job: P(k) ∝ 1 / (k+1)^s."""
    weights = 1.0 / np.arange(1, n_styles + 1) ** s
    rng = np.random.default_rng(seed)
    return [int(k) for k in rng.choice(n_styles, size=n_jobs, p=weights / weights.sum())]


def plain_batch1(model: str, steps: int, size: tuple[int, int], runs: int) -> dict:
    """The bare diffusers pipeline, one image per call (warm)."""
    import torch

    from workers.pipelines.base_model import load_pipeline

    pipe = load_pipeline(model)
    width, height = size

    def one(seed: int) -> float:
        start = time.perf_counter()
        with torch.inference_mode():
            pipe(
                "benchstyle, portrait",
                width=width,
                height=height,
                num_inference_steps=steps,
                guidance_scale=7.5,
                generator=torch.Generator(device=pipe.device).manual_seed(seed),
            )
        if torch.cuda.is_available():
            torch.cuda.synchronize()
        return time.perf_counter() - start

    one(0)  # warm-up
    samples = [one(i + 1) for i in range(runs)]
    return {"images": runs, "images_per_s": runs / sum(samples), "p50_s": _pct(samples, 50), "p95_s": _pct(samples, 95)}


def _seed_styles(app, model: str, n_styles: int) -> list[int]:
    """``n_styles`` artists, each with a completed style and a platform-shaped random LoRA in storage."""
    from stylelicense.extensions import db
    from stylelicense.storage import get_storage
    from stylelicense.styles.models import Style
    from stylelicense.users.models import Artist, User
    from workers.pipelines.base_model import load_pipeline

    unet = load_pipeline(model, device="cpu").unet
    ids = []
    with app.app_context():
        for i in range(n_styles):
            user = User(
                google_sub=f"dev:artist{i}@bench.example",
                email=f"artist{i}@bench.example",
                username=f"bench_artist{i}",
                role="artist",
            )
            db.session.add(user)
            db.session.flush()
            artist = Artist(
                user_id=user.id, artist_name=f"Bench Artist {i}", contact_email=user.email, signature_image_key=""
            )
            db.session.add(artist)
            db.session.flush()
            style = Style(
                artist_id=artist.id,
                title=f"Bench Style {i}",
                trigger=f"benchstyle{i}",
                description="",
                generation_cost_tokens=1,
                training_status="completed",
                lora_key=f"styles/bench{i}/lora.safetensors",
            )
            db.session.add(style)
            get_storage().put(style.lora_key, random_lora_bytes(unet, seed=i))
            db.session.flush()
            ids.append(style.id)
        db.session.commit()
    return ids


class Client:
    def __init__(self, base: str) -> None:
        self.base, self.http = base, requests.Session()
        for step in ("csrf", "login", "csrf"):  # signing in starts a new session, with a new token
            if step == "csrf":
                self.http.headers["X-CSRFToken"] = self.get("/api/auth/csrf")["csrf_token"]
            else:
                self.post("/api/auth/dev-login", {"email": "buyer@bench.example", "username": "buyer"})

    def get(self, path: str) -> dict:
        response = self.http.get(self.base + path, timeout=60)
        response.raise_for_status()
        return response.json()["data"]

    def post(self, path: str, body: dict) -> dict:
        response = self.http.post(self.base + path, json=body, timeout=60)
        if response.status_code >= 300:
            raise SystemExit(f"POST {path} -> {response.status_code}: {response.text[:300]}")
        return response.json()["data"]

    def create(self, style_id: int, ratio: str, seed: int) -> int:
        return self.post(
            "/api/generations",
            {"style_id": style_id, "prompt_tags": ["portrait", "garden"], "aspect_ratio": ratio, "seed": seed},
        )["id"]

    def wait(self, ids: list[int], timeout: float) -> list[dict]:
        pending, done = set(ids), {}
        deadline = time.monotonic() + timeout
        while pending and time.monotonic() < deadline:
            for generation_id in sorted(pending):
                data = self.get(f"/api/generations/{generation_id}")
                if data["status"] == "failed":
                    raise SystemExit(f"generation {generation_id} failed: {data['error_code']}")
                if data["status"] == "completed":
                    done[generation_id] = data
                    pending.discard(generation_id)
            time.sleep(0.2)
        if pending:
            raise SystemExit(f"generations {sorted(pending)} did not finish within {timeout}s")
        return [done[i] for i in ids]


def _latencies(rows: list[dict]) -> list[float]:
    return [(_ts(r["completed_at"]) - _ts(r["created_at"])).total_seconds() for r in rows]


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--model", default="tiny")
    parser.add_argument("--arch", choices=["tiny", "sd15-random"])
    parser.add_argument("--steps", type=int, help="denoising steps (default: 30 on CUDA, 4 on CPU)")
    parser.add_argument("--size", default="1:1", choices=list(SIZES))
    parser.add_argument("--jobs", type=int, default=64)
    parser.add_argument("--styles", type=int, default=16)
    parser.add_argument("--zipf", type=float, default=1.1)
    parser.add_argument("--sequential", type=int, help="one-at-a-time jobs (default: 16 on CUDA, 6 on CPU)")
    parser.add_argument("--plain-runs", type=int, help="plain diffusers images (default: 16 on CUDA, 6 on CPU)")
    parser.add_argument("--batch-size", type=int, default=8)
    parser.add_argument("--concurrency", type=int, default=16, help="worker threads (-c)")
    parser.add_argument("--window-ms", type=float, default=50)
    parser.add_argument(
        "--mix-styles", default="0", help="GENERATION_MIX_STYLES for the worker (0: one batch per style)"
    )
    parser.add_argument("--compile", action="store_true", help="GENERATION_COMPILE=1 (CUDA only)")
    parser.add_argument("--database-url")
    parser.add_argument("--broker", help="default: the embedded filesystem broker")
    parser.add_argument("--timeout", type=float, default=3600)
    parser.add_argument("--save", type=Path, help="also write the JSON result here")
    parser.add_argument(
        "--threads",
        type=int,
        default=1,
        help="CPU threads for torch here and in the worker (default 1: on a shared machine more "
        "threads spin against each other)",
    )
    args = parser.parse_args()

    import torch

    torch.set_num_threads(args.threads)

    cuda = torch.cuda.is_available()
    steps = args.steps or (30 if cuda else 4)
    sequential = args.sequential or (16 if cuda else 6)
    plain_runs = args.plain_runs or (16 if cuda else 6)
    model = resolve_model(args.model, args.arch)
    size = SIZES[args.size]

    plain = plain_batch1(model, steps, size, plain_runs)
    print(f"plain diffusers batch 1: {plain}", flush=True)

    with tempfile.TemporaryDirectory(prefix="sl-serving-bench-") as tmp:
        folder = Path(tmp)
        env = stack_env(folder, database_url=args.database_url, broker=args.broker, model=model)
        os.environ.update(env)  # celery_config reads the broker settings when the API's client is built
        subprocess.run(
            [sys.executable, "-m", "flask", "--app", "wsgi", "db", "upgrade"],
            cwd=ROOT,
            env={**os.environ, **env},
            check=True,
            capture_output=True,
        )
        app, base, stop_server = serve_app(env, quiet=True)
        worker = None
        log_path = folder / "worker.log"
        try:
            style_ids = _seed_styles(app, model, args.styles)
            worker_env = {
                **env,
                "API_BASE_URL": base,
                "GENERATION_STEPS": str(steps),
                "GENERATION_BATCH_SIZE": str(args.batch_size),
                "GENERATION_BATCH_WINDOW_MS": str(args.window_ms),
                "GENERATION_MIX_STYLES": args.mix_styles,
                "GENERATION_PROGRESS_INTERVAL": "1",
                "GENERATION_COMPILE": "1" if args.compile else "0",
                "OMP_NUM_THREADS": str(args.threads),
            }
            worker = start_worker(
                worker_env,
                "image_generation",
                log_path,
                "serving-bench",
                pool=["--pool", "threads", "-c", str(args.concurrency)],
            )
            client = Client(base)
            with app.app_context():  # enough tokens for every job (price 1 each)
                from stylelicense.extensions import db
                from stylelicense.tokens import ledger
                from stylelicense.users.models import User

                buyer = db.session.query(User).filter_by(username="buyer").one()
                ledger.grant_tokens(buyer, args.jobs + sequential + 10, memo="bench", key="grant:serving-bench")
                db.session.commit()

            client.wait([client.create(style_ids[0], args.size, 0)], args.timeout)  # warm: model, kernels, LoRA
            seq_rows = []
            seq_started = time.perf_counter()
            for i in range(sequential):  # one at a time, rotating styles (each job switches style)
                seq_rows += client.wait([client.create(style_ids[i % args.styles], args.size, 100 + i)], args.timeout)
            seq_wall = time.perf_counter() - seq_started
            seq_lat = _latencies(seq_rows)

            choice = zipf_styles(args.jobs, args.styles, args.zipf)
            ids = [client.create(style_ids[k], args.size, 1000 + i) for i, k in enumerate(choice)]
            burst_rows = client.wait(ids, args.timeout)
            burst_lat = _latencies(burst_rows)
            span = (
                max(_ts(r["completed_at"]) for r in burst_rows) - min(_ts(r["created_at"]) for r in burst_rows)
            ).total_seconds()

            sizes = [int(n) for n in re.findall(r"\(batch of (\d+)\)", log_path.read_text(errors="replace"))]
            burst_sizes = sizes[-args.jobs :]
            rows = [
                {
                    "mode": "plain diffusers, batch 1",
                    "images": plain["images"],
                    "images_per_s": plain["images_per_s"],
                    "p50_s": plain["p50_s"],
                    "p95_s": plain["p95_s"],
                },
                {
                    "mode": "worker, one job at a time",
                    "images": sequential,
                    "images_per_s": sequential / seq_wall,
                    "p50_s": _pct(seq_lat, 50),
                    "p95_s": _pct(seq_lat, 95),
                },
                {
                    "mode": f"worker, burst of {args.jobs} over {args.styles} styles",
                    "images": args.jobs,
                    "images_per_s": args.jobs / span,
                    "p50_s": _pct(burst_lat, 50),
                    "p95_s": _pct(burst_lat, 95),
                },
            ]
            print_table(rows, ["mode", "images", "images_per_s", "p50_s", "p95_s"])
            ratios = {
                "burst_vs_one_at_a_time_images_per_s": rows[2]["images_per_s"] / rows[1]["images_per_s"],
                "burst_vs_plain_images_per_s": rows[2]["images_per_s"] / rows[0]["images_per_s"],
                "one_at_a_time_vs_plain_images_per_s": rows[1]["images_per_s"] / rows[0]["images_per_s"],
            }
            result = {
                "model": model,
                "steps": steps,
                "size": args.size,
                "jobs": args.jobs,
                "styles": args.styles,
                "zipf_s": args.zipf,
                "jobs_per_style": sorted(Counter(choice).values(), reverse=True),
                "worker": {
                    "pool": "threads",
                    "concurrency": args.concurrency,
                    "batch_size": args.batch_size,
                    "window_ms": args.window_ms,
                    "mix_styles": args.mix_styles,
                    "compile": args.compile,
                },
                "broker": "filesystem" if not args.broker else args.broker.split("://")[0],
                "database": env["DATABASE_URL"].split(":")[0],
                "environment": environment(),
                "load_average": os.getloadavg(),
                "results": rows,
                "ratios": ratios,
                "burst_batch_sizes": dict(sorted(Counter(burst_sizes).items())),
                "one_at_a_time_median_s": statistics.median(seq_lat),
            }
            print_json(result)
            if args.save:
                args.save.parent.mkdir(parents=True, exist_ok=True)
                args.save.write_text(json.dumps(result, indent=2, default=str) + "\n")
        except BaseException:
            if log_path.exists():
                print("--- worker log (tail) ---\n" + log_path.read_text(errors="replace")[-4000:], file=sys.stderr)
            raise
        finally:
            stop_worker(worker)
            stop_server()


if __name__ == "__main__":
    main()
