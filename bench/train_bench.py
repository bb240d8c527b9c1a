"""Training benchmark: wall time and steps/s of train_lora on 10 synthetic images.

    python bench/train_bench.py                       # tiny model, CPU-friendly defaults
    python bench/train_bench.py --arch sd15-random    # full SD 1.5 architecture, random weights (GPU)

Prints a table and a JSON object. ``projected_full_run_s`` = measured setup (load + latent/text caching)
+ the recipe's full step count for that many images at the measured steps/s.
"""

from __future__ import annotations

import argparse
import tempfile
import time

import torch
from _common import environment, print_json, print_table, resolve_model, synthetic_images

# after _common, which puts the repo root on sys.path and sets HF_HUB_OFFLINE
from workers.pipelines.training import TrainingConfig, TrainingProgress, train_lora


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--model", default="tiny", help="'tiny', a model dir or id (default: tiny)")
    parser.add_argument("--arch", choices=["tiny", "sd15-random"], help="random-weight architecture")
    parser.add_argument("--steps", type=int, help="steps to time (default: 10 on CPU, 200 on CUDA)")
    parser.add_argument("--images", type=int, default=10)
    parser.add_argument("--resolution", type=int, default=TrainingConfig.resolution)
    parser.add_argument("--batch-size", type=int, default=TrainingConfig.batch_size)
    parser.add_argument("--threads", type=int, help="torch CPU threads")
    parser.add_argument("--seed", type=int, default=0)
    args = parser.parse_args()
    if args.threads:
        torch.set_num_threads(args.threads)

    model = resolve_model(args.model, args.arch)
    steps = args.steps or (200 if torch.cuda.is_available() else 10)
    images = synthetic_images(args.images)
    full = TrainingConfig(resolution=args.resolution, batch_size=args.batch_size)
    config = TrainingConfig(resolution=args.resolution, batch_size=args.batch_size, max_steps=steps)
    reports: list[TrainingProgress] = []
    if torch.cuda.is_available():
        torch.cuda.reset_peak_memory_stats()

    with tempfile.TemporaryDirectory() as out:
        start = time.perf_counter()
        result = train_lora(model, images, "benchstyle", out, config=config, on_progress=reports.append, seed=args.seed)
        wall = time.perf_counter() - start
        lora_bytes = result.lora_path.stat().st_size

    train_s = result.steps / result.steps_per_second
    setup_s = wall - train_s
    full_steps = full.steps_for(args.images)
    row = {
        "model": model,
        "images": args.images,
        "resolution": args.resolution,
        "batch": args.batch_size,
        "steps": result.steps,
        "wall_s": wall,
        "setup_s": setup_s,
        "train_s": train_s,
        "steps_per_s": result.steps_per_second,
        "full_steps": full_steps,
        "projected_full_run_s": setup_s + full_steps / result.steps_per_second,
        "final_loss": result.final_loss,
        "lora_mb": lora_bytes / 1e6,
    }
    if torch.cuda.is_available():
        row["peak_gpu_gib"] = torch.cuda.max_memory_allocated() / 2**30
    print_table(
        [row],
        [
            "model",
            "resolution",
            "batch",
            "steps",
            "wall_s",
            "setup_s",
            "steps_per_s",
            "full_steps",
            "projected_full_run_s",
        ],
    )
    print_json({"environment": environment(), "result": row, "progress_reports": len(reports)})


if __name__ == "__main__":
    main()
