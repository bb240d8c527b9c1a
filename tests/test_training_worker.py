"""The training worker's decisions that the end-to-end tests cannot force: which errors are retried,
the retry schedule, and the title → tag/trigger rule the API and the worker share."""

from __future__ import annotations

import pytest
import requests
from celery.exceptions import SoftTimeLimitExceeded

from stylelicense.storage import ObjectNotFound, StorageError
from stylelicense.styles.operations import title_tag
from workers.training import RETRY_DELAYS_ENV, BadInput, TransientError, classify, retry_delays


def test_transient_errors_are_retried_and_bad_input_is_not():
    import torch

    from workers.pipelines.training import TrainingDivergedError, TrainingInputError

    retried = [
        torch.OutOfMemoryError("CUDA out of memory"),
        RuntimeError("CUDA error: out of memory"),
        requests.ConnectionError("refused"),
        requests.Timeout("slow"),
        ConnectionResetError(),
        StorageError("S3 down"),
        TransientError("API refused the start"),
        TrainingDivergedError("nan"),
    ]
    for error in retried:
        assert classify(error)[0] is True, error
    assert classify(torch.OutOfMemoryError("x"))[1] == "GPU_OUT_OF_MEMORY"

    final = {
        BadInput("missing image"): "INVALID_INPUT",
        ObjectNotFound("styles/1/x.jpg"): "INVALID_INPUT",
        TrainingInputError("no images"): "INVALID_INPUT",
        SoftTimeLimitExceeded(): "TIME_LIMIT",
        ValueError("a bug"): "TRAINING_FAILED",
        KeyError("images"): "TRAINING_FAILED",
    }
    for error, code in final.items():
        assert classify(error) == (False, code), error


def test_retry_schedule():
    assert retry_delays(RETRY_DELAYS_ENV, {}) == (0, 30, 120)  # three retries: 0 s, 30 s, 120 s
    assert retry_delays(RETRY_DELAYS_ENV, {"TRAINING_RETRY_DELAYS": "0,1"}) == (0.0, 1.0)


@pytest.mark.parametrize(
    "title, tag",
    [
        ("Watercolor Dreams", "watercolor dreams"),
        ("  Ink & Wash: Autumn!  ", "ink wash autumn"),
        ("Café Noir", "cafe noir"),
        ("Neo-Tokyo 2049", "neo-tokyo 2049"),
        ("word " * 20, ("word " * 10).strip()),
    ],
)
def test_title_becomes_a_tag(title, tag):
    assert title_tag(title) == tag
    assert len(title_tag(title)) <= 50


def test_a_title_that_is_not_english_gives_no_tag():
    """SPEC §13 Titles: free text in any language; only an English title becomes the tag."""
    assert title_tag("수채화 꿈") is None
    assert title_tag("수채화 Dreams") is None  # mixed scripts: not an English title
    assert title_tag("!!! ---") is None


def test_training_and_generation_messages_go_to_their_own_queue_only():
    """Each task is routed to one queue through its own exchange and routing key: a shared binding would
    copy every training job into the generation queue (and the reverse)."""
    from workers import app

    routes = {
        name: app.amqp.router.route({}, name) for name in ("workers.tasks.train_style", "workers.tasks.generate_image")
    }
    train, generate = routes["workers.tasks.train_style"], routes["workers.tasks.generate_image"]
    assert train["queue"].name == "model_training" and generate["queue"].name == "image_generation"
    for route in (train, generate):
        queue = route["queue"]
        assert (queue.exchange.name, queue.routing_key) == (queue.name, queue.name)
    assert {q.name: (q.exchange.name, q.routing_key) for q in app.conf.task_queues} == {
        "model_training": ("model_training", "model_training"),
        "image_generation": ("image_generation", "image_generation"),
    }
