"""The API side of the one job lifecycle, shared by training (styles) and generation.

- statuses move only forward and end in :data:`FINISHED` (a finished row never changes again; a
  generation can also end ``cancelled``);
- every worker report is applied under a row lock (:func:`lock_for_report`), so concurrent reports and
  the sweeper apply one after the other;
- every report names its run (``run_id``): the same start sent again (:func:`repeated_start`) and a
  report of a run that was taken over (:func:`from_older_run`) change nothing;
- the sweepers fail rows whose worker went silent and resend (or fail) rows whose message was lost, but
  only while nothing waits in the queue (:func:`queue_is_empty`).
"""

from __future__ import annotations

from typing import Any

from sqlalchemy import select

from ..errors import NotFound
from ..extensions import db
from .client import queue_size

FINISHED = ("completed", "failed")


def lock_for_report(model, row_id: int, what: str):
    """The row, locked until the transaction ends; NOT_FOUND (``No such <what>.``) when it does not exist."""
    # populate_existing: an object already in the session is refreshed with the locked row's values.
    row = db.session.scalar(
        select(model).where(model.id == row_id).with_for_update().execution_options(populate_existing=True)
    )
    if row is None:
        raise NotFound(f"No such {what}.")
    return row


def repeated_start(progress: dict[str, Any] | None, run_id: str | None) -> bool:
    """The start report of the run already recorded (a redelivered or retried webhook)."""
    return run_id is not None and (progress or {}).get("run_id") == run_id


def from_older_run(progress: dict[str, Any] | None, run_id: str | None) -> bool:
    """A report of another run than the one recorded (a newer delivery took over)."""
    return run_id is not None and (progress or {}).get("run_id") not in (None, run_id)


def queue_is_empty(queue: str) -> bool:
    """Nothing waits in ``queue`` (False as well when the broker cannot say: act on the next sweep)."""
    return queue_size(queue) == 0
