"""The error envelope and its stable codes (SPEC §6).

Raise an APIError subclass anywhere in a request; one handler turns it into
``{"success": false, "error": {"code", "message", "details"}}``.
"""

from __future__ import annotations

from typing import TYPE_CHECKING, Any

if TYPE_CHECKING:
    from flask import Flask

# Flask is imported inside the two functions that need it: the error classes and codes are shared with
# Flask-free code (text cleaning, the shared layer's tests).


class APIError(Exception):
    """Base class: an error a client can act on, with an HTTP status and a stable code."""

    status = 400
    code = "VALIDATION_ERROR"
    message = "The request could not be processed."

    def __init__(
        self,
        message: str | None = None,
        *,
        details: dict[str, Any] | None = None,
        code: str | None = None,
        status: int | None = None,
    ):
        super().__init__(message or self.message)
        self.message = message or self.message
        self.details = details or {}
        if code:
            self.code = code
        if status:
            self.status = status

    def to_dict(self) -> dict[str, Any]:
        return {"code": self.code, "message": self.message, "details": self.details}


class ValidationError(APIError):
    status, code, message = 422, "VALIDATION_ERROR", "Some fields are invalid."


class BadRequest(APIError):
    status, code, message = 400, "VALIDATION_ERROR", "The request is malformed."


class Unauthorized(APIError):
    status, code, message = 401, "UNAUTHORIZED", "Please sign in."


class Forbidden(APIError):
    status, code, message = 403, "FORBIDDEN", "You are not allowed to do this."


class ArtistOnly(APIError):
    status, code, message = 403, "ARTIST_ONLY", "Only artists can do this."


class NotFound(APIError):
    status, code, message = 404, "NOT_FOUND", "Not found."


class Conflict(APIError):
    status, code, message = 409, "CONFLICT", "This conflicts with existing data."


class InsufficientTokens(APIError):
    status, code, message = 402, "INSUFFICIENT_TOKENS", "Not enough tokens."


class PaymentFailed(APIError):
    status, code, message = 400, "PAYMENT_FAILED", "The payment could not be completed."


class StyleLimitReached(APIError):
    status, code, message = 409, "STYLE_LIMIT_REACHED", "An artist can own one style."


class StyleNotReady(APIError):
    status, code, message = 409, "STYLE_NOT_READY", "This style has not finished training."


class TrainingFailed(APIError):
    status, code, message = 409, "TRAINING_FAILED", "Training failed."


class InvalidImageFormat(APIError):
    status, code, message = 422, "INVALID_IMAGE_FORMAT", "Only JPG and PNG images are accepted."


class ImageSizeExceeded(APIError):
    status, code, message = 413, "IMAGE_SIZE_EXCEEDED", "The image is too large."


class GenerationFailed(APIError):
    status, code, message = 409, "GENERATION_FAILED", "The generation failed."


class DuplicateFollow(APIError):
    status, code, message = 409, "DUPLICATE_FOLLOW", "You already follow this artist."


class SelfFollowNotAllowed(APIError):
    status, code, message = 400, "SELF_FOLLOW_NOT_ALLOWED", "You cannot follow yourself."


class ReplyDepthExceeded(APIError):
    status, code, message = 422, "REPLY_DEPTH_EXCEEDED", "Replies can only be one level deep."


class RateLimited(APIError):
    status, code, message = 429, "RATE_LIMITED", "Too many requests; try again later."


class ServiceUnavailable(APIError):
    status, code, message = 503, "SERVICE_UNAVAILABLE", "A required service is unavailable."


# Werkzeug's HTTP errors mapped to our codes so every response uses the envelope.
_HTTP_CODES = {
    400: "VALIDATION_ERROR",
    401: "UNAUTHORIZED",
    403: "FORBIDDEN",
    404: "NOT_FOUND",
    405: "METHOD_NOT_ALLOWED",
    409: "CONFLICT",
    413: "PAYLOAD_TOO_LARGE",
    415: "VALIDATION_ERROR",
    422: "VALIDATION_ERROR",
    429: "RATE_LIMITED",
}


def http_error_codes() -> set[str]:
    """The codes HTTP errors are answered with."""
    return set(_HTTP_CODES.values())


def error_response(error: APIError):
    from flask import jsonify

    response = jsonify({"success": False, "error": error.to_dict()})
    response.status_code = error.status
    return response


def _service_down(error: BaseException) -> bool:
    """A connection-level failure of a backing service (PostgreSQL, S3, RabbitMQ), not a bug."""
    from sqlalchemy.exc import DBAPIError, OperationalError

    from .storage import StorageError

    if isinstance(error, OperationalError) or (isinstance(error, DBAPIError) and error.connection_invalidated):
        return True
    if isinstance(error, StorageError | ConnectionError | TimeoutError):
        return True
    name = type(error).__name__
    if type(error).__module__.startswith(("botocore", "kombu", "amqp")) and (
        "Connect" in name or "Timeout" in name or name == "OperationalError"
    ):
        return True
    if type(error).__name__ == "ClientError" and type(error).__module__.startswith("botocore"):
        status = getattr(error, "response", {}).get("ResponseMetadata", {}).get("HTTPStatusCode", 0)
        return status >= 500
    return False


def register_error_handlers(app: Flask) -> None:
    """One handler per kind: our errors, HTTP errors, CSRF, rate limits, and crashes."""
    from flask import current_app
    from flask_wtf.csrf import CSRFError
    from werkzeug.exceptions import HTTPException

    @app.errorhandler(APIError)
    def _api_error(error: APIError):
        return error_response(error)

    @app.errorhandler(CSRFError)
    def _csrf_error(error: CSRFError):
        return error_response(Forbidden(f"CSRF check failed: {error.description}", code="CSRF_FAILED"))

    @app.errorhandler(429)
    def _rate_limited(error):
        response = error_response(RateLimited(details={"limit": str(getattr(error, "description", ""))}))
        return response

    @app.errorhandler(HTTPException)
    def _http_error(error: HTTPException):
        status = error.code or 500
        message = error.description or error.name
        if status == 413:
            message = "The request body is too large."
        return error_response(APIError(message, code=_HTTP_CODES.get(status, "ERROR"), status=status))

    @app.errorhandler(Exception)
    def _crash(error: Exception):
        if _service_down(error):
            # The database, broker or storage is restarting: a retry will do, nothing is half done
            # (the request's transaction rolled back).
            current_app.logger.warning("service unavailable", extra={"error": repr(error)[:300]})
            return error_response(ServiceUnavailable())
        current_app.logger.exception("unhandled error")
        return error_response(APIError("Something went wrong on our side.", code="INTERNAL_ERROR", status=500))
