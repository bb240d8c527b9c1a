"""workers/serving.render_image: step reports reach the task on its own thread (the GPU thread never
waits on a webhook), a task that stops drops its request from the batch, errors and timeouts surface."""

from __future__ import annotations

import threading

import pytest

from workers import serving
from workers.batcher import RequestBatcher
from workers.pipelines.batching import RenderOutcome

KW = {
    "lora_key": None,
    "lora_loader": None,
    "prompt": "x",
    "width": 64,
    "height": 64,
    "seed": 1,
    "steps": 3,
    "guidance_scale": 7.5,
}


@pytest.fixture
def fake_gpu(monkeypatch):
    """A batcher whose 'engine' runs each request's steps on the batcher thread, like BatchEngine does."""
    log = {"threads": set(), "dropped": []}

    def render(requests):
        outcomes = []
        for request in requests:
            outcome = RenderOutcome(image=f"image-{request.seed}", batch_size=len(requests), batch_seconds=0.5)
            for step in range(1, request.steps + 1):
                log["threads"].add(threading.current_thread().name)
                try:
                    request.on_step(step, request.steps)
                except Exception as error:  # noqa: BLE001
                    outcome = RenderOutcome(error=error)
                    log["dropped"].append(request.seed)
                    break
            if request.prompt == "explode" and outcome.error is None:
                outcome = RenderOutcome(error=ValueError("bad request"))
            outcomes.append(outcome)
        return outcomes

    monkeypatch.setattr(serving, "_BATCHER", RequestBatcher(render, max_batch=4, window_s=0.0))
    return log


def test_steps_are_reported_from_the_task_thread(fake_gpu):
    reported = []
    rendered = serving.render_image(
        **KW, on_step=lambda s, t: reported.append((s, t, threading.current_thread())), timeout=30
    )
    assert rendered.image == "image-1" and rendered.batch_size == 1 and rendered.batch_seconds == 0.5
    assert [(s, t) for s, t, _ in reported] == [(1, 3), (2, 3), (3, 3)]
    assert {th for _, _, th in reported} == {threading.current_thread()}
    assert fake_gpu["threads"] == {"gpu-batcher"}


def test_a_task_that_stops_raises_and_the_batch_goes_on(fake_gpu):
    def stop(step, total):
        raise RuntimeError("the API says this generation is finished")

    with pytest.raises(RuntimeError, match="finished"):
        serving.render_image(**KW, on_step=stop, timeout=30)
    # the GPU thread is fine and serves the next request
    assert serving.render_image(**{**KW, "seed": 2}, on_step=None, timeout=30).image == "image-2"


def test_a_request_error_is_raised_in_its_task(fake_gpu):
    with pytest.raises(ValueError, match="bad request"):
        serving.render_image(**{**KW, "prompt": "explode"}, on_step=None, timeout=30)


def test_no_image_within_the_timeout_raises_timeout(monkeypatch):
    release = threading.Event()
    monkeypatch.setattr(
        serving,
        "_BATCHER",
        RequestBatcher(lambda reqs: [RenderOutcome(image="late") for _ in reqs if release.wait(30)], window_s=0.0),
    )
    with pytest.raises(TimeoutError):
        serving.render_image(**KW, on_step=None, timeout=0.3)
    release.set()
