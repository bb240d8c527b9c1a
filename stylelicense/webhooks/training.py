"""Training webhooks: the GPU worker reports start/progress, completion and final failure (SPEC §6).

Idempotent and forward-only (``pending → training → completed | failed``): a repeated or late callback
changes nothing and answers 200 with the current state; a report for a finished style answers 409
TRAINING_FINISHED (progress) so the worker stops, and impossible moves (completing a failed style,
failing a completed one) answer 409 too.
"""

from __future__ import annotations

from ..api import endpoint, ok
from ..errors import error_response
from ..queueing.operations import TRAINING_QUEUE, record_service_time
from ..styles import training_status
from ..styles.schemas import TrainingCompleteBody, TrainingFailedBody, TrainingProgressBody, TrainingStateOut
from .auth import internal_webhook
from .blueprint import bp


def _state(style, changed: bool):
    return ok(
        {
            "style_id": style.id,
            "training_status": style.training_status,
            "training_attempts": style.training_attempts,
            "changed": changed,
        }
    )


@bp.patch("/training/progress")
@internal_webhook("training-server")
@endpoint(
    body=TrainingProgressBody,
    response=TrainingStateOut,
    summary="Training worker: attempt started (starting=true) or epoch/heartbeat progress",
)
def training_progress(body: TrainingProgressBody):
    style, changed = training_status.record_training_progress(**body.model_dump())
    if style.training_status in training_status.FINISHED:
        # Returned, not raised: the request still commits (e.g. a style failed for too many attempts).
        return error_response(
            training_status.TrainingFinished(
                details={"style_id": style.id, "training_status": style.training_status, "changed": changed}
            )
        )
    return _state(style, changed)


@bp.post("/training/complete")
@internal_webhook("training-server")
@endpoint(
    body=TrainingCompleteBody,
    response=TrainingStateOut,
    summary="Training worker: the LoRA is stored (style completed, artist notified)",
)
def training_complete(body: TrainingCompleteBody):
    style, changed = training_status.complete_training(**body.model_dump(exclude={"worker"}))
    if changed and body.seconds:  # counted once: a repeated callback changes nothing
        record_service_time(TRAINING_QUEUE, seconds=body.seconds, worker=body.worker)
    return _state(style, changed)


@bp.post("/training/failed")
@internal_webhook("training-server")
@endpoint(
    body=TrainingFailedBody,
    response=TrainingStateOut,
    summary="Training worker: final failure (style failed, artist notified)",
)
def training_failed(body: TrainingFailedBody):
    style, changed = training_status.report_training_failure(**body.model_dump())
    return _state(style, changed)
