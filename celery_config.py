"""Celery settings (lowercase, JSON only). Read by the worker (`celery -A workers`) and by the API's
enqueue client, so both sides agree on broker, queues and routes."""

import os
from pathlib import Path

from kombu import Exchange, Queue

_instance = Path(__file__).resolve().parent / "instance"

broker_url = os.environ.get("CELERY_BROKER_URL") or "filesystem://"
if broker_url.startswith("filesystem://"):
    # Embedded broker for `make run`: one folder shared by the API and the worker processes.
    _folder = os.environ.get("CELERY_FILESYSTEM_FOLDER") or str(_instance / "broker")
    Path(_folder).mkdir(parents=True, exist_ok=True)
    # control_folder too: by default kombu writes pidbox/exchange files into the current directory.
    broker_transport_options = {
        "data_folder_in": _folder,
        "data_folder_out": _folder,
        "store_processed": False,
        "control_folder": str(Path(_folder) / "control"),
    }

# Job state lives in PostgreSQL rows reported through webhooks, not in a result backend.
result_backend = None
task_ignore_result = True

task_serializer = "json"
result_serializer = "json"
accept_content = ["json"]

task_acks_late = True
task_reject_on_worker_lost = True
# Prefetch = concurrency. The image_generation worker runs `-P threads -c 16`: 16 messages in hand, each
# task waiting for the process's batching GPU thread (workers/serving.py) and acked late on its own.
worker_prefetch_multiplier = 1
worker_cancel_long_running_tasks_on_connection_loss = True
broker_connection_retry_on_startup = True

TRAINING_QUEUE = "model_training"
GENERATION_QUEUE = "image_generation"
# Each queue gets its own direct exchange and routing key. A bare Queue(name) is bound to Celery's default
# exchange with the default routing key ("image_generation" for both), so every message would be routed
# into BOTH queues: generation workers would run training jobs and vice versa.
task_queues = tuple(
    Queue(name, Exchange(name, type="direct"), routing_key=name) for name in (TRAINING_QUEUE, GENERATION_QUEUE)
)
task_default_queue = GENERATION_QUEUE
task_routes = {
    "workers.tasks.train_style": {"queue": TRAINING_QUEUE},
    "workers.tasks.generate_image": {"queue": GENERATION_QUEUE},
}

# Hard limits so a hung job cannot hold a GPU forever; the API's sweeper handles the row.
task_soft_time_limit = int(os.environ.get("CELERY_SOFT_TIME_LIMIT", 3 * 3600))
task_time_limit = int(os.environ.get("CELERY_TIME_LIMIT", 3 * 3600 + 300))
worker_send_task_events = True
task_send_sent_event = True
