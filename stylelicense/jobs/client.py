"""The API's enqueue client: jobs go out by task name after the request commits; the API never imports
worker code (payload types and task names: :mod:`stylelicense.jobs.payloads`)."""

from __future__ import annotations

import os
from collections.abc import Callable
from dataclasses import asdict

from celery import Celery
from flask import current_app, g


def _client() -> Celery:
    client = current_app.extensions.get("stylelicense.celery")
    if client is None:
        client = Celery("stylelicense-api")
        client.config_from_object("celery_config")
        client.conf.broker_url = current_app.config["CELERY_BROKER_URL"]
        if client.conf.broker_url.startswith("filesystem://"):
            # The app's folder, not the one celery_config read from this process's environment at import:
            # an app built with its own settings (tests, benchmarks) must meet its workers in that folder.
            folder = current_app.config["CELERY_FILESYSTEM_FOLDER"]
            os.makedirs(folder, exist_ok=True)
            client.conf.broker_transport_options = {
                **(client.conf.broker_transport_options or {}),
                "data_folder_in": folder,
                "data_folder_out": folder,
                "control_folder": f"{folder}/control",
            }
        current_app.extensions["stylelicense.celery"] = client
    return client


def enqueue_after_commit(task_name: str, payload, *, task_id: str | None = None) -> None:
    """Queue a task to be sent once the request's transaction has committed, so a worker never
    sees a row that does not exist yet (``api.endpoint`` calls ``send_pending``)."""
    g.setdefault("_pending_jobs", []).append((task_name, asdict(payload), task_id))


_ON_SEND_FAILURE: dict[str, Callable[[dict], None]] = {}


def on_send_failure(task_name: str):
    """Register (decorator) what settles a committed job whose message the broker refused:
    ``handler(payload)``, run in its own transaction."""

    def register(handler: Callable[[dict], None]) -> Callable[[dict], None]:
        _ON_SEND_FAILURE[task_name] = handler
        return handler

    return register


def send_now(task_name: str, payload: dict, task_id: str | None = None) -> None:
    _client().send_task(task_name, kwargs={"payload": payload}, task_id=task_id)


def send_pending() -> None:
    """Send the jobs queued during this request. A broker failure is logged, not raised (the row is
    committed): its :func:`on_send_failure` handler settles it at once (a generation is failed and
    refunded), else the stale-job sweeper does, later."""
    from ..extensions import db

    jobs = g.pop("_pending_jobs", [])
    for task_name, payload, task_id in jobs:
        try:
            send_now(task_name, payload, task_id)
        except Exception:  # broker down (restarting): nothing will ever run this job
            current_app.logger.exception("enqueue failed", extra={"task": task_name})
            handler = _ON_SEND_FAILURE.get(task_name)
            if handler is None:
                continue
            try:
                handler(payload)
                db.session.commit()
            except Exception:  # the database is down too: the sweeper settles the row
                db.session.rollback()
                current_app.logger.exception("could not settle an unsent job", extra={"task": task_name})


def discard_pending() -> None:
    g.pop("_pending_jobs", None)


def broker_reachable(timeout: float = 3.0) -> None:
    """Raise if the broker cannot be reached (used by /readyz)."""
    with _client().connection_for_write() as connection:
        connection.ensure_connection(max_retries=1, timeout=timeout)


def queue_size(queue: str, timeout: float = 3.0) -> int | None:
    """How many messages wait (ready, not yet delivered) in ``queue``: 0 when the queue does not exist,
    None when the broker cannot say (unreachable). Used by the stale-job sweepers."""
    from kombu.exceptions import ChannelError, OperationalError

    try:
        with _client().connection_for_write() as connection:
            connection.ensure_connection(max_retries=1, timeout=timeout)
            channel = connection.channel()
            try:
                return int(channel.queue_declare(queue=queue, passive=True).message_count)
            except ChannelError:
                return 0  # never declared: nothing can be waiting in it
            finally:
                try:
                    channel.close()
                except Exception:  # a channel closed by the broker's NOT_FOUND
                    pass
    except (OperationalError, OSError):
        return None
