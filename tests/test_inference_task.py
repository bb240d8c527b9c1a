"""The generation task's own rules, without a worker: fault injection (tests only), retry countdowns,
which errors are retried, and progress throttling (the shared job lifecycle, workers/lifecycle.py)."""

from __future__ import annotations

import pytest
import requests
from celery.exceptions import SoftTimeLimitExceeded

from stylelicense.storage import ObjectNotFound, StorageError
from workers.generation import RETRY_DELAYS_ENV, announce, classify, report_step, step_reporter
from workers.lifecycle import DEFAULT_RETRY_DELAYS, Faults, Finished, TransientError, load_faults, retry_delays
from workers.pipelines.inference import InferenceInputError, LoraMissingError, PromptError


def test_faults_are_parsed_in_tests_only():
    testing = {"STYLELICENSE_ENV": "testing"}
    assert load_faults(env={}) == Faults()
    assert load_faults(env={**testing, "STYLELICENSE_FAULTS": "transient:3"}) == Faults(transient=3)
    assert load_faults(env={**testing, "STYLELICENSE_FAULTS": "fatal, sleep:2.5"}) == Faults(fatal=True, sleep=2.5)
    assert load_faults("TRAINING_FAULTS", {**testing, "TRAINING_FAULTS": "transient:1"}).transient == 1
    # Outside the test environment (production, but also a developer's machine) nothing is injected.
    for env in ("production", "development", ""):
        assert load_faults(env={"STYLELICENSE_FAULTS": "transient:3,fatal", "STYLELICENSE_ENV": env}) == Faults()
    with pytest.raises(ValueError, match="unknown fault"):
        load_faults(env={**testing, "STYLELICENSE_FAULTS": "explode"})


def test_retry_countdowns_default_to_0_30_120_and_are_configurable():
    assert retry_delays(RETRY_DELAYS_ENV, {}) == DEFAULT_RETRY_DELAYS == (0, 30, 120)
    assert retry_delays(RETRY_DELAYS_ENV, {"GENERATION_RETRY_DELAYS": "0,1,1"}) == (0.0, 1.0, 1.0)
    assert retry_delays(RETRY_DELAYS_ENV, {"GENERATION_RETRY_DELAYS": "5"}) == (5.0,)


@pytest.mark.parametrize(
    "error, expected",
    [
        (
            __import__("torch").OutOfMemoryError("CUDA out of memory. Tried to allocate 2.00 GiB"),
            (True, "GPU_OUT_OF_MEMORY"),
        ),
        (RuntimeError("CUDA error: out of memory"), (True, "GPU_OUT_OF_MEMORY")),
        (SoftTimeLimitExceeded(), (True, "TIMEOUT")),
        (requests.ReadTimeout("read timed out"), (True, "TIMEOUT")),
        (TimeoutError("slow"), (True, "TIMEOUT")),
        (requests.ConnectionError("refused"), (True, "CONNECTION_ERROR")),
        (ConnectionResetError("reset"), (True, "CONNECTION_ERROR")),
        (StorageError("S3 unreachable"), (True, "CONNECTION_ERROR")),
        (TransientError("API could not see the result"), (True, "CONNECTION_ERROR")),
        (LoraMissingError("LoRA 'x' not found"), (False, "MODEL_MISSING")),
        (PromptError("the prompt is empty"), (False, "INVALID_PROMPT")),
        (InferenceInputError("width must be a multiple of 8"), (False, "INVALID_INPUT")),
        (ObjectNotFound("styles/1/lora.safetensors"), (False, "GENERATION_FAILED")),
        (ValueError("a bug"), (False, "GENERATION_FAILED")),
    ],
)
def test_only_infrastructure_errors_are_retried(error, expected):
    assert classify(error) == expected


class RecordingClient:
    """Stands in for the webhook client: records calls and answers like the API would."""

    def __init__(self, answers=None):
        self.calls: list[dict] = []
        self.answers = answers or {}

    def call(self, method, path, payload, *, retries=None, final=False):
        self.calls.append(payload)
        return self.answers.get(payload["current_step"], {"_status": 200, "data": {}})


def test_progress_is_throttled_but_first_and_last_steps_always_go():
    client = RecordingClient()
    reporter = step_reporter(client, 7, attempt=2, run_id="r", interval=3600)
    announce(reporter, 30)
    for step in range(1, 31):
        report_step(reporter, step, 30)
    assert [call["current_step"] for call in client.calls] == [0, 1, 30]
    last = client.calls[-1]
    assert last == {
        "generation_id": 7,
        "current_step": 30,
        "total_steps": 30,
        "progress_percent": 100,
        "estimated_seconds": 0,
        "attempt": 2,
        "run_id": "r",
    }
    assert client.calls[0]["estimated_seconds"] is None and client.calls[1]["progress_percent"] == 3

    every = RecordingClient()
    reporter = step_reporter(every, 7, attempt=1, run_id="r", interval=0)
    for step in range(1, 6):
        report_step(reporter, step, 5)
    assert [call["current_step"] for call in every.calls] == [1, 2, 3, 4, 5]


def test_a_finished_generation_stops_the_worker():
    finished = {
        "_status": 409,
        "success": False,
        "error": {"code": "GENERATION_FINISHED", "details": {"status": "completed"}},
    }
    with pytest.raises(Finished, match="completed"):
        announce(step_reporter(RecordingClient({0: finished}), 1, attempt=1, run_id="r"), 30)
    reporter = step_reporter(RecordingClient({1: finished}), 1, attempt=1, run_id="r")
    with pytest.raises(Finished):
        report_step(reporter, 1, 30)


def test_a_refused_start_is_not_silently_ignored_but_a_failed_step_report_is():
    refused = {"_status": 401, "success": False, "error": {"code": "UNAUTHORIZED"}}
    with pytest.raises(TransientError):
        announce(step_reporter(RecordingClient({0: refused}), 1, attempt=1, run_id="r"), 30)

    class Down(RecordingClient):
        def call(self, method, path, payload, *, retries=None, final=False):
            raise requests.ConnectionError("API down")

    report_step(step_reporter(Down(), 1, attempt=1, run_id="r"), 1, 30)  # the image matters more than a progress bar


def test_injected_transient_fault_fires_on_the_first_n_attempts_only():
    import torch

    with pytest.raises(torch.OutOfMemoryError):
        report_step(step_reporter(RecordingClient(), 1, attempt=2, run_id="r", faults=Faults(transient=2)), 1, 30)
    report_step(step_reporter(RecordingClient(), 1, attempt=3, run_id="r", faults=Faults(transient=2)), 1, 30)
