"""Inference benchmark: seconds per image at the product sizes, InferenceEngine with a fused LoRA
(load → fuse → generate → unfuse/unload/restore, the real per-request path) vs plain diffusers on the
same warm pipeline. ``lora_switch_s`` is the engine's own measure of the LoRA load/fuse + unfuse/restore
part of the last call (the rest is the same denoising as plain).

    python bench/inference_bench.py                       # tiny model, few steps (CPU)
    python bench/inference_bench.py --arch sd15-random    # SD 1.5 architecture, 30 steps (GPU)
"""

from __future__ import annotations

import argparse
import statistics
import time

import torch
from _common import environment, print_json, print_table, random_lora_bytes, resolve_model

# after _common, which puts the repo root on sys.path and sets HF_HUB_OFFLINE
from workers.pipelines.inference import SIZES, InferenceEngine


def _sync() -> None:
    if torch.cuda.is_available():
        torch.cuda.synchronize()


def _time(fn, repeats: int) -> float:
    """Median seconds of ``repeats`` calls."""
    samples = []
    for _ in range(repeats):
        _sync()
        start = time.perf_counter()
        fn()
        _sync()
        samples.append(time.perf_counter() - start)
    return statistics.median(samples)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--model", default="tiny", help="'tiny', a model dir or id (default: tiny)")
    parser.add_argument("--arch", choices=["tiny", "sd15-random"], help="random-weight architecture")
    parser.add_argument("--steps", type=int, help="denoising steps (default: 30 on CUDA, 4 on CPU)")
    parser.add_argument("--repeats", type=int, help="timed images per size (default: 5 on CUDA, 2 on CPU)")
    parser.add_argument("--sizes", nargs="+", default=list(SIZES), choices=list(SIZES))
    parser.add_argument("--guidance", type=float, default=7.5)
    parser.add_argument("--threads", type=int, help="torch CPU threads")
    args = parser.parse_args()
    if args.threads:
        torch.set_num_threads(args.threads)

    cuda = torch.cuda.is_available()
    steps = args.steps or (30 if cuda else 4)
    repeats = args.repeats or (5 if cuda else 2)
    model = resolve_model(args.model, args.arch)

    engine = InferenceEngine(model)
    start = time.perf_counter()
    pipe = engine.pipeline
    load_s = time.perf_counter() - start
    lora = random_lora_bytes(pipe.unet)
    prompt = "benchstyle, a lighthouse on a cliff at dusk"

    rows = []
    for size in args.sizes:
        width, height = SIZES[size]

        def plain(width: int = width, height: int = height) -> None:
            with torch.inference_mode():
                pipe(
                    prompt,
                    width=width,
                    height=height,
                    num_inference_steps=steps,
                    guidance_scale=args.guidance,
                    generator=torch.Generator(device=pipe.device).manual_seed(0),
                )

        def with_lora(width: int = width, height: int = height) -> None:
            engine.generate(
                lora_key="bench",
                lora_loader=lambda: lora,
                prompt=prompt,
                width=width,
                height=height,
                steps=steps,
                guidance_scale=args.guidance,
                seed=0,
            )

        plain()  # warm-up: kernels, allocator, LoRA cache
        with_lora()
        plain_s = _time(plain, repeats)
        lora_s = _time(with_lora, repeats)
        switch_s = engine.last_timings["lora_s"] + engine.last_timings["cleanup_s"]
        rows.append(
            {
                "size": f"{size} {width}x{height}",
                "plain_s_per_image": plain_s,
                "engine_lora_s_per_image": lora_s,
                "lora_overhead_s": lora_s - plain_s,
                "lora_switch_s": switch_s,
                "overhead_pct": 100 * (lora_s - plain_s) / plain_s,
            }
        )
    print(f"model={model} steps={steps} repeats={repeats} guidance={args.guidance} load_s={load_s:.2f}")
    print_table(
        rows,
        [
            "size",
            "plain_s_per_image",
            "engine_lora_s_per_image",
            "lora_overhead_s",
            "overhead_pct",
            "lora_switch_s",
        ],
    )
    print_json(
        {
            "environment": environment(),
            "model": model,
            "steps": steps,
            "repeats": repeats,
            "pipeline_load_s": load_s,
            "lora_file_mb": len(lora) / 1e6,
            "results": rows,
        }
    )


if __name__ == "__main__":
    main()
