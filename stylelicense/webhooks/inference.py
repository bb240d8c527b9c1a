"""Inference webhooks: the GPU worker reports progress, completion and final failure (SPEC §6).

Idempotent: a repeated or late callback changes nothing and answers 200 with the current status;
progress for a finished generation answers 409 GENERATION_FINISHED so the worker stops.
"""

from __future__ import annotations

from ..api import endpoint, ok
from ..errors import error_response
from ..generations import generation_status, operations
from ..generations.schemas import (
    InferenceCompleteBody,
    InferenceFailedBody,
    InferenceProgressBody,
    WebhookStateOut,
)
from ..queueing.operations import GENERATION_QUEUE, record_service_time
from .auth import internal_webhook
from .blueprint import bp


def _state(generation, changed: bool):
    return ok(
        {
            "generation_id": generation.id,
            "status": generation.status,
            "attempts": generation.attempts,
            "changed": changed,
        }
    )


@bp.patch("/inference/progress")
@internal_webhook("inference-server")
@endpoint(
    body=InferenceProgressBody,
    response=WebhookStateOut,
    summary="Inference worker: attempt started, step progress, or retrying",
)
def inference_progress(body: InferenceProgressBody):
    generation, changed = generation_status.record_progress(**body.model_dump())
    if generation.status in operations.FINISHED:
        # Returned, not raised: the request still commits (e.g. a generation failed for too many attempts).
        return error_response(
            operations.GenerationFinished(
                details={"generation_id": generation.id, "status": generation.status, "changed": changed}
            )
        )
    return _state(generation, changed)


@bp.post("/inference/complete")
@internal_webhook("inference-server")
@endpoint(
    body=InferenceCompleteBody,
    response=WebhookStateOut,
    summary="Inference worker: the signed image and thumbnail are stored",
)
def inference_complete(body: InferenceCompleteBody):
    generation, changed = generation_status.complete_generation(
        generation_id=body.generation_id,
        result_key=body.result_key,
        thumbnail_key=body.thumbnail_key,
        provenance_report=body.provenance.model_dump() if body.provenance else None,
    )
    if changed and body.service is not None:  # counted once: a repeated callback changes nothing
        record_service_time(GENERATION_QUEUE, **body.service.model_dump())
    return _state(generation, changed)


@bp.post("/inference/failed")
@internal_webhook("inference-server")
@endpoint(
    body=InferenceFailedBody,
    response=WebhookStateOut,
    summary="Inference worker: final failure (refund and notification)",
)
def inference_failed(body: InferenceFailedBody):
    generation, changed = generation_status.report_failure(
        generation_id=body.generation_id, error_code=body.error_code, reason=body.reason
    )
    return _state(generation, changed)
