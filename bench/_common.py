"""Shared helpers for the bench scripts (not a test fixture module: plain functions)."""

from __future__ import annotations

import json
import os
import platform
import sys
import tempfile
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
if str(ROOT) not in sys.path:
    sys.path.insert(0, str(ROOT))
# Benchmarks never download anything.
os.environ.setdefault("HF_HUB_OFFLINE", "1")

import numpy as np  # noqa: E402
import torch  # noqa: E402
from PIL import Image, ImageDraw  # noqa: E402

ARCHES = {"tiny": "tiny", "sd15-random": "sd15-random"}


def resolve_model(model: str, arch: str | None) -> str:
    """``--arch`` (a random-weight architecture built from configs) wins over ``--model``."""
    return ARCHES[arch] if arch else model


def synthetic_images(count: int = 10, size: tuple[int, int] = (640, 512), seed: int = 0):
    """``(image, tags)`` pairs with some structure (gradients and shapes), like small artworks."""
    rng = np.random.default_rng(seed)
    out = []
    yy, xx = np.mgrid[0 : size[1], 0 : size[0]]
    for i in range(count):
        base = rng.integers(0, 255, 3)
        grad = (xx / size[0])[..., None] * rng.integers(-120, 120, 3) + (yy / size[1])[..., None] * 60
        pixels = np.clip(base + grad, 0, 255).astype(np.uint8)
        image = Image.fromarray(pixels)
        draw = ImageDraw.Draw(image)
        for _ in range(5):
            x0, y0 = (int(v) for v in rng.integers(0, min(size) - 100, 2))
            w, h = (int(v) for v in rng.integers(30, 100, 2))
            draw.ellipse((x0, y0, x0 + w, y0 + h), fill=tuple(int(v) for v in rng.integers(0, 255, 3)))
        out.append((image, [f"tag{i % 4}", "shapes"]))
    return out


def random_lora_bytes(unet: torch.nn.Module, seed: int = 0) -> bytes:
    """A platform-shaped LoRA (rank/targets of base_model) with random weights, saved through the same
    ``save_lora_weights`` path training uses, returned as safetensors bytes."""
    from diffusers import StableDiffusionPipeline
    from diffusers.utils import convert_state_dict_to_diffusers

    from workers.pipelines.base_model import LORA_RANK, LORA_TARGET_MODULES

    gen = torch.Generator().manual_seed(seed)
    suffixes = tuple("." + m for m in LORA_TARGET_MODULES)
    state = {}
    for name, module in unet.named_modules():
        if isinstance(module, torch.nn.Linear) and name.endswith(suffixes):
            a = torch.randn(LORA_RANK, module.in_features, generator=gen) / LORA_RANK
            b = torch.randn(module.out_features, LORA_RANK, generator=gen) * 0.01
            state[f"{name}.lora_A.weight"] = a.half()
            state[f"{name}.lora_B.weight"] = b.half()
    with tempfile.TemporaryDirectory() as tmp:
        StableDiffusionPipeline.save_lora_weights(
            tmp, unet_lora_layers=convert_state_dict_to_diffusers(state), safe_serialization=True
        )
        return (Path(tmp) / "pytorch_lora_weights.safetensors").read_bytes()


def environment() -> dict:
    """What ran the benchmark."""
    info = {
        "torch": torch.__version__,
        "python": platform.python_version(),
        "cpu_threads": torch.get_num_threads(),
        "device": "cuda" if torch.cuda.is_available() else "cpu",
    }
    if torch.cuda.is_available():
        info["gpu"] = torch.cuda.get_device_name(0)
    return info


def print_table(rows: list[dict], columns: list[str]) -> None:
    """A plain fixed-width table."""
    widths = {c: max(len(c), *(len(_fmt(r.get(c))) for r in rows)) for c in columns}
    print("  ".join(c.ljust(widths[c]) for c in columns))
    for row in rows:
        print("  ".join(_fmt(row.get(c)).ljust(widths[c]) for c in columns))


def print_json(payload: dict) -> None:
    print(json.dumps(payload, indent=2, default=str))


def _fmt(value: object) -> str:
    if isinstance(value, float):
        return f"{value:.3f}"
    return "" if value is None else str(value)


# --- a local stack for the end-to-end benches (API on a thread + one real Celery worker) ----------


def stack_env(folder: Path, *, database_url: str | None, broker: str | None, model: str) -> dict[str, str]:
    """Settings for an API + worker pair on SQLite and the filesystem broker unless told otherwise."""
    return {
        "STYLELICENSE_ENV": "development",
        "STYLELICENSE_INSTANCE": str(folder / "instance"),
        "SECRET_KEY": "bench-secret",
        "INTERNAL_API_TOKEN": "bench-internal-token-0123456789",
        "DATABASE_URL": database_url or f"sqlite:///{folder / 'bench.db'}",
        "STORAGE_URL": (folder / "storage").as_uri(),
        "CELERY_BROKER_URL": broker or "filesystem://",
        "CELERY_FILESYSTEM_FOLDER": str(folder / "broker"),
        "STYLELICENSE_DEV_LOGIN": "1",
        "RATELIMIT_ENABLED": "0",
        "STYLELICENSE_BASE_MODEL": model,
        "HF_HUB_OFFLINE": "1",
    }


def serve_app(env: dict[str, str], *, quiet: bool = False):
    """Serve the API over HTTP on a free port in a thread → (app, base_url, stop)."""
    import logging
    import threading

    from werkzeug.serving import make_server

    from stylelicense.app import create_app

    app = create_app(env=env)
    if quiet:
        for name in ("werkzeug", "stylelicense.access"):  # one line per poll would drown the numbers
            logging.getLogger(name).setLevel(logging.WARNING)
    server = make_server("127.0.0.1", 0, app, threaded=True)
    threading.Thread(target=server.serve_forever, daemon=True).start()
    return app, f"http://127.0.0.1:{server.server_port}", server.shutdown


def start_worker(env: dict[str, str], queue: str, log_path: Path, name: str, pool: list[str] | None = None):
    """A real `celery -A workers worker` process for one queue (its own session, for killpg); ``pool``
    replaces the default ``-c 1 --pool prefork``."""
    import subprocess

    log = open(log_path, "ab")  # noqa: SIM115 — lives as long as the worker
    return subprocess.Popen(
        [
            sys.executable,
            "-m",
            "celery",
            "-A",
            "workers",
            "worker",
            "-Q",
            queue,
            *(pool or ["-c", "1", "--pool", "prefork"]),
            "--without-gossip",
            "--without-mingle",
            "-l",
            "info",
            "-n",
            f"{name}@%h",
        ],
        cwd=ROOT,
        env={**os.environ, **env},
        stdout=log,
        stderr=subprocess.STDOUT,
        start_new_session=True,
    )


def stop_worker(worker) -> None:
    """Stop a worker from :func:`start_worker` (its whole process group): SIGTERM, then SIGKILL after 30 s."""
    import signal
    import subprocess

    if worker is None or worker.poll() is not None:
        return
    os.killpg(worker.pid, signal.SIGTERM)
    try:
        worker.wait(30)
    except subprocess.TimeoutExpired:
        os.killpg(worker.pid, signal.SIGKILL)
