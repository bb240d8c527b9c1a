"""How many GPUs does generation need? A small discrete-event simulation of the image_generation queue.

Jobs arrive as a Poisson process; each picks a style with Zipf popularity. GPU workers share one FIFO
queue (RabbitMQ hands messages to whichever worker has room). When a GPU is free it takes up to
``batch`` waiting jobs, groups them by style and renders each group as one batch (its own LoRA fused or
hot-swapped); a group whose style differs from the GPU's active style first pays the style switch. The
output stage (signing, upload) runs on CPU threads beside the GPU and is not a GPU cost. Reported: the
fewest GPUs whose p95 wait (arrival → its batch starts) stays under the target, per load and policy.

Service times are INPUTS, not measured here. The defaults are NOTES §7 (NVIDIA H200, plain diffusers,
random SD 1.5 weights, fp16, DPM-Solver++ 30 steps, 512x512): 0.78 s for one image, 0.23 s per image at
batch 4 (0.92 s per batch), LoRA load + activate 0.14 s. Batch time is modelled as a + c*b through those
two points (a = 0.733 s, c = 0.047 s/image), with a per-image floor (``--floor``, default 0.10 s: an
assumption, the H200 batch-8 time was not measured) so large batches cannot get cheaper than that.
Replace them with this platform's own numbers (``bench/serving_bench.py --arch sd15-random`` on a GPU):
``--t1``, ``--t4``, ``--switch``.

    python bench/capacity_sim.py                          # target, 10x and 100x; today vs batched
    python bench/capacity_sim.py --rate 1.67 --styles 500 --zipf 1.1 --p95-wait 10
"""

from __future__ import annotations

import argparse
import heapq
import json
from collections import deque
from dataclasses import dataclass

import numpy as np


@dataclass(frozen=True)
class Service:
    t1: float = 0.78  # s, batch of 1 (NOTES §7)
    t4: float = 0.92  # s, batch of 4 = 4 x 0.23 s (NOTES §7)
    switch: float = 0.14  # s, LoRA load + activate (NOTES §7)
    floor: float = 0.10  # s per image, assumed compute floor for large batches

    def batch_seconds(self, b: int) -> float:
        c = (self.t4 - self.t1) / 3
        a = self.t1 - c
        return max(a + c * b, self.floor * b)

    def mixed_factor(self, k: int) -> float:
        """Cost of one batch with ``k`` distinct unfused LoRAs (per-sample adapters) relative to a fused
        batch, in eager mode: kernel launches per SD 1.5 UNet call at batch 8 (NOTES §9: fused 1,615; one
        unfused 2,895; 4 distinct 9,807; 8 distinct 17,999), time taken as proportional to launches."""
        return (2895 + (k - 1) * 2304) / 1615 if k > 1 else 1.0


@dataclass(frozen=True)
class Policy:
    name: str
    batch: int  # most images in one denoising batch
    take: int  # jobs a GPU takes from the queue at once (the worker's threads in hand)
    keep_style: bool  # LoRA stays active across batches (pay the switch only on change)
    mixed: bool = False  # several styles in one batch through per-sample adapters


TODAY = Policy("today: 1 job at a time, LoRA per image", 1, 1, False)
SPLIT = Policy("take 8, one batch per style", 8, 8, True)
GATHER = Policy("take 16, one batch (<=8) per style", 8, 16, True)
MIXED = Policy("take 8, one mixed-style batch (eager)", 8, 8, True, mixed=True)
POLICIES = (TODAY, SPLIT, GATHER, MIXED)


def simulate(
    rate: float, gpus: int, policy: Policy, service: Service, *, styles: int, zipf: float, jobs: int, seed: int = 0
) -> dict:
    """Waits (arrival → batch start) and latencies (arrival → batch end) of ``jobs`` Poisson arrivals."""
    rng = np.random.default_rng(seed)
    arrivals = np.cumsum(rng.exponential(1 / rate, size=jobs))
    weights = 1.0 / np.arange(1, styles + 1) ** zipf
    style_of = rng.choice(styles, size=jobs, p=weights / weights.sum())
    queue: deque[int] = deque()
    free = list(range(gpus))  # idle GPUs
    active = [-1] * gpus  # each GPU's active style
    events: list[tuple[float, int, int]] = []  # (time, kind 0=GPU free / 1=arrival, payload)
    for i, t in enumerate(arrivals):
        heapq.heappush(events, (float(t), 1, i))
    waits = np.zeros(jobs)
    latency = np.zeros(jobs)
    busy = 0.0

    def start(gpu: int, now: float) -> None:
        nonlocal busy
        take = [queue.popleft() for _ in range(min(policy.take, len(queue)))]
        t = now
        if policy.mixed:  # one batch; adapters of styles not yet loaded are loaded first
            distinct = {int(style_of[j]) for j in take}
            t += service.switch * len(distinct - {active[gpu]})
            active[gpu] = int(style_of[take[-1]])
            begin, t = t, t + service.batch_seconds(len(take)) * service.mixed_factor(len(distinct))
            for j in take:
                waits[j], latency[j] = begin - arrivals[j], t - arrivals[j]
            busy += t - now
            heapq.heappush(events, (t, 0, gpu))
            return
        groups: dict[int, list[int]] = {}
        for j in take:
            groups.setdefault(int(style_of[j]), []).append(j)
        # the active style first: no switch for it
        order = sorted(groups, key=lambda s: s != active[gpu])
        batches = [(s, groups[s][i : i + policy.batch]) for s in order for i in range(0, len(groups[s]), policy.batch)]
        for style, members in batches:
            if not policy.keep_style or style != active[gpu]:
                t += service.switch
            active[gpu] = style
            begin = t
            t += service.batch_seconds(len(members))
            for j in members:
                waits[j] = begin - arrivals[j]
                latency[j] = t - arrivals[j]
        busy += t - now
        heapq.heappush(events, (t, 0, gpu))

    now = 0.0
    while events:
        now, kind, payload = heapq.heappop(events)
        if kind == 1:
            queue.append(payload)
        else:
            free.append(payload)
        while free and queue:
            start(free.pop(), now)
    return {
        "p50_wait_s": float(np.percentile(waits, 50)),
        "p95_wait_s": float(np.percentile(waits, 95)),
        "p95_latency_s": float(np.percentile(latency, 95)),
        "utilisation": busy / (gpus * now),
    }


def gpus_needed(
    rate: float, policy: Policy, service: Service, *, target: float, max_gpus: int = 2000, **kw
) -> tuple[int, dict]:
    """Fewest GPUs with p95 wait < ``target`` (a lower bound from throughput, then upwards)."""
    per_gpu = policy.batch / (service.batch_seconds(policy.batch) + (0 if policy.keep_style else service.switch))
    gpus = max(1, int(rate / per_gpu))  # never enough: even perfect batches need this many
    while gpus <= max_gpus:
        result = simulate(rate, gpus, policy, service, **kw)
        if result["p95_wait_s"] < target:
            return gpus, result
        gpus += max(1, gpus // 20)
    raise SystemExit(f"more than {max_gpus} GPUs needed at {rate}/s")


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument(
        "--rate",
        type=float,
        default=100 / 60,
        help="target load, images/s (default 1.67: 100 concurrent users x 1 image a minute)",
    )
    parser.add_argument("--multipliers", default="1,10,100")
    parser.add_argument("--styles", type=int, default=500)
    parser.add_argument("--zipf", type=float, default=1.1)
    parser.add_argument("--p95-wait", type=float, default=10.0)
    parser.add_argument("--jobs", type=int, default=20000, help="simulated arrivals per point")
    parser.add_argument("--t1", type=float, default=Service.t1)
    parser.add_argument("--t4", type=float, default=Service.t4)
    parser.add_argument("--switch", type=float, default=Service.switch)
    parser.add_argument("--floor", type=float, default=Service.floor)
    parser.add_argument("--json", action="store_true")
    args = parser.parse_args()
    service = Service(args.t1, args.t4, args.switch, args.floor)
    rows = []
    for multiplier in (float(m) for m in args.multipliers.split(",")):
        rate = args.rate * multiplier
        for policy in POLICIES:
            gpus, result = gpus_needed(
                rate, policy, service, target=args.p95_wait, styles=args.styles, zipf=args.zipf, jobs=args.jobs
            )
            rows.append(
                {
                    "load": f"{multiplier:g}x",
                    "images_per_s": round(rate, 2),
                    "policy": policy.name,
                    "gpus": gpus,
                    **{k: round(v, 3) for k, v in result.items()},
                }
            )
    if args.json:
        print(
            json.dumps(
                {
                    "inputs": vars(args),
                    "batch_seconds": {b: round(service.batch_seconds(b), 3) for b in (1, 2, 4, 8)},
                    "rows": rows,
                },
                indent=2,
            )
        )
        return
    print(
        "service times (INPUTS from NOTES §7, H200; batch 8 extrapolated):",
        {b: round(service.batch_seconds(b), 3) for b in (1, 2, 4, 8)},
        "s per batch; switch",
        service.switch,
        "s",
    )
    columns = ["load", "images_per_s", "policy", "gpus", "p50_wait_s", "p95_wait_s", "p95_latency_s", "utilisation"]
    widths = {c: max(len(c), *(len(str(r[c])) for r in rows)) for c in columns}
    print("  ".join(c.ljust(widths[c]) for c in columns))
    for row in rows:
        print("  ".join(str(row[c]).ljust(widths[c]) for c in columns))


if __name__ == "__main__":
    main()
