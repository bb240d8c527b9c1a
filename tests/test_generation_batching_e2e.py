"""Batched serving end to end: the image_generation worker as deployed (``-P threads -c 8``, one GPU
thread batching what waits), real RabbitMQ, the API over HTTP, the tiny model.

Jobs are queued before the worker starts, so its prefetch hands it several at once and they share
denoising batches (the worker logs the batch size of every image).
"""

from __future__ import annotations

import re

import numpy as np
import pytest
from PIL import Image

from tests import test_generations_e2e as base
from tests.conftest import wait_for
from tests.test_generations_e2e import DELIVERED_FILES, TRIGGER, WORKER_ENV, _create, _files, _ledger

# The same fixtures as the single-job tests: a trained tiny LoRA and a shop (artist, styles, buyer).
lora_bytes = base.lora_bytes
shop = base.shop

pytestmark = [pytest.mark.e2e, pytest.mark.slow]

# A long gathering window: on a shared CI machine the eight task threads may take a while to start.
BATCH_ENV = {**WORKER_ENV, "GENERATION_BATCH_WINDOW_MS": "1500", "GENERATION_STEPS": "4"}


def _follow_all(shop, ids, worker, timeout=300.0) -> tuple[dict, dict]:
    """Poll every job together (as My Page does); final payloads and each job's (status, step) history."""
    seen: dict[int, list] = {i: [] for i in ids}
    final: dict[int, dict] = {}

    def check():
        for i in ids:
            if i in final:
                continue
            data = shop.client.get(f"/api/generations/{i}").get_json()["data"]
            state = (data["status"], (data["progress"] or {}).get("current_step"))
            if not seen[i] or seen[i][-1] != state:
                seen[i].append(state)
            if data["status"] in ("completed", "failed"):
                final[i] = data
        return len(final) == len(ids)

    try:
        wait_for(check, timeout=timeout, interval=0.05, message=f"generations {ids} to finish")
    except AssertionError:
        print(worker.output())
        raise
    return final, seen


def _alone(lora_bytes: bytes, data: dict) -> Image.Image:
    """The unsigned render of this generation alone (batch of one), with the worker's engine."""
    from workers.pipelines.batching import BatchEngine, RenderRequest
    from workers.pipelines.inference import build_prompt

    request = RenderRequest(
        prompt=build_prompt(TRIGGER, data["prompt_tags"]),
        seed=data["seed"],
        width=data["width"],
        height=data["height"],
        steps=int(BATCH_ENV["GENERATION_STEPS"]),
        lora_key="reference",
        lora_loader=lambda: lora_bytes,
    )
    (outcome,) = BatchEngine("tiny", device="cpu").render([request])
    assert outcome.ok and outcome.batch_size == 1
    return outcome.image


def _batch_sizes(output: str) -> list[int]:
    return [int(n) for n in re.findall(r"\(batch of (\d+)\)", output)]


def test_burst_is_batched_with_progress_for_each_and_one_bad_request_fails_alone(
    live_app, start_worker, shop, lora_bytes
):
    import io

    good = [_create(shop, seed=seed) for seed in (1, 2, 3, 4)]
    bad = _create(shop, style_id=shop.broken_style_id, seed=5)  # its LoRA is missing from storage
    worker = start_worker("image_generation", **BATCH_ENV, GENERATION_WARMUP="1")

    final, seen = _follow_all(shop, [g["id"] for g in good] + [bad["id"]], worker)
    results = {g["id"]: final[g["id"]] for g in good}
    for generation_id, data in results.items():
        assert data["status"] == "completed", (data, worker.output())
        # its own progress was visible while it ran
        assert [step for status, step in seen[generation_id] if status == "processing" and step], seen
    failed = final[bad["id"]]
    assert failed["status"] == "failed" and failed["error_code"] == "MODEL_MISSING" and failed["attempts"] == 1

    log = worker.log_path.read_text(errors="replace")
    assert max(_batch_sizes(log)) >= 2, worker.output()  # some images shared a denoising loop
    # the GPU thread started with the worker and rendered the three product sizes before any job
    assert re.search(r"warm-up of the product sizes: \{'512x512': [0-9.]+, '1024x1024'", log), worker.output()
    for generation_id in results:
        facts = _ledger(live_app, generation_id)
        assert facts.movements == ["charge", "credit"] and facts.notifications == ["generation_complete"]
        assert len(_files(shop.storage_root, generation_id)) == DELIVERED_FILES
    facts = _ledger(live_app, bad["id"])
    assert facts.movements == ["charge", "refund"] and facts.notifications == ["generation_failed"]
    assert facts.balance == 100 - 4 * 10 and facts.earned == 4 * 10 and facts.drift == []
    assert _files(shop.storage_root, bad["id"]) == []

    # A batched image is the render of its own seed (the signature box aside), as if it ran alone.
    data = results[good[2]["id"]]
    stored = np.asarray(Image.open(io.BytesIO(shop.client.get(data["result_url"]).data)).convert("RGB"), np.int16)
    reference = np.asarray(_alone(lora_bytes, data).convert("RGB"), dtype=np.int16)
    assert np.median(np.abs(stored - reference)) <= 2, "not the render of this seed"

    # The worker reported its service times: waiting jobs now get an estimate.
    queued = _create(shop, seed=9)
    assert queued["queue"]["position"] == 1 and queued["queue"]["eta_seconds"] > 0
    final, _ = _follow_all(shop, [queued["id"]], worker)
    assert final[queued["id"]]["status"] == "completed" and final[queued["id"]]["queue"] is None


def test_worker_killed_mid_batch_redelivers_every_job_once(live_app, start_worker, shop):
    created = [_create(shop, seed=seed) for seed in (11, 12, 13)]
    # Each task thread pauses after reporting step 1, so the kill lands with every message unacknowledged.
    first = start_worker("image_generation", **BATCH_ENV, STYLELICENSE_FAULTS="sleep:300")
    for job in created:
        wait_for(
            lambda job=job: (shop.client.get(f"/api/generations/{job['id']}").get_json()["data"]["progress"] or {}).get(
                "current_step", 0
            )
            >= 1,
            timeout=180,
            message=f"{job['id']} at step 1",
        )
    first.kill()

    second = start_worker("image_generation", **BATCH_ENV)
    final, _ = _follow_all(shop, [job["id"] for job in created], second)
    for job in created:
        data = final[job["id"]]
        assert data["status"] == "completed", second.output()
        assert data["attempts"] == 2  # redelivered once, run once more
        facts = _ledger(live_app, job["id"])
        assert facts.movements == ["charge", "credit"] and facts.notifications == ["generation_complete"]
        files = _files(shop.storage_root, job["id"])
        assert len(files) == DELIVERED_FILES and all(name.startswith("private/") for name in files)
    facts = _ledger(live_app, created[0]["id"])
    assert facts.balance == 100 - 3 * 10 and facts.earned == 3 * 10 and facts.drift == []
