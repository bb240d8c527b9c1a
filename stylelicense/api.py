"""Request/response plumbing shared by every blueprint.

- ``@endpoint(...)`` validates the query string, JSON body or multipart form with pydantic schemas,
  checks login/role, records the route for the OpenAPI document, and is the request's single
  commit point (commit on success, roll back on any error).
- ``ok()`` / ``created()`` wrap data in the success envelope.
- ``paginate()`` is the keyset (cursor) pagination every list uses.
"""

from __future__ import annotations

import base64
import functools
import json
import math
from collections.abc import Callable, Iterable, Sequence
from datetime import datetime
from typing import Any

from flask import current_app, jsonify, request
from flask_login import current_user
from pydantic import BaseModel, ConfigDict, Field
from pydantic import ValidationError as PydanticValidationError
from sqlalchemy import Select, and_, or_
from sqlalchemy.exc import DataError, IntegrityError
from werkzeug.exceptions import RequestEntityTooLarge

from .errors import APIError, ArtistOnly, BadRequest, Conflict, Unauthorized, ValidationError
from .extensions import db
from .jobs import client as jobs

DEFAULT_PAGE_SIZE = 20
MAX_PAGE_SIZE = 100


class Schema(BaseModel):
    """Base for request schemas: unknown fields are refused, strings are stripped."""

    model_config = ConfigDict(extra="forbid", str_strip_whitespace=True)


class PageQuery(Schema):
    cursor: str | None = Field(default=None, max_length=1000)
    limit: int = DEFAULT_PAGE_SIZE

    def model_post_init(self, __context: Any) -> None:
        if not 1 <= self.limit <= MAX_PAGE_SIZE:
            raise ValueError(f"limit must be between 1 and {MAX_PAGE_SIZE}")


def ok(data: Any = None, status: int = 200):
    response = jsonify({"success": True, "data": data})
    response.status_code = status
    return response


def created(data: Any):
    return ok(data, 201)


def _field_errors(error: PydanticValidationError) -> list[dict[str, str]]:
    return [
        {"field": ".".join(str(part) for part in item["loc"]) or "body", "message": item["msg"]}
        for item in error.errors(include_url=False)
    ]


# Crafted input stops here, before pydantic or the database sees it: PostgreSQL refuses NUL
# characters in text and integers beyond 64 bits (a 500 if they reach it), and deep nesting costs.
INT64_MIN, INT64_MAX = -(2**63), 2**63 - 1
UINT64_MAX = 2**64 - 1  # unsigned 64-bit values are legitimate (perceptual hashes)
MAX_NESTING = 32


def refuse_crafted(data: Any, where: str = "body") -> None:
    """Raise VALIDATION_ERROR (422) for a NUL character in any string or key, an integer outside
    64 bits or nesting deeper than ``MAX_NESTING`` anywhere in ``data``. Iterative: no recursion."""
    stack: list[tuple[Any, str, int]] = [(data, where, 0)]
    while stack:
        value, path, depth = stack.pop()
        problem = None
        if depth > MAX_NESTING:
            problem = "nested too deeply"
        elif isinstance(value, str):
            problem = "contains a NUL character" if "\x00" in value else None
        elif isinstance(value, int) and not isinstance(value, bool):
            problem = None if INT64_MIN <= value <= UINT64_MAX else "is out of range"
        elif isinstance(value, dict):
            for key, item in value.items():
                if isinstance(key, str) and "\x00" in key:
                    problem = "has a key with a NUL character"
                    break
                stack.append((item, f"{path}.{key}", depth + 1))
        elif isinstance(value, list | tuple):
            stack.extend((item, f"{path}.{i}", depth + 1) for i, item in enumerate(value))
        if problem:
            raise ValidationError(details={"fields": [{"field": path, "message": problem}]})


def parse(schema: type[BaseModel], data: Any) -> BaseModel:
    """Validate ``data`` against ``schema`` or raise VALIDATION_ERROR (422) with per-field details."""
    refuse_crafted(data)
    try:
        return schema.model_validate(data)
    except PydanticValidationError as error:
        raise ValidationError(details={"fields": _field_errors(error)}) from None
    except ValueError as error:
        raise ValidationError(str(error)) from None


def _too_large() -> APIError:
    return APIError("The request body is too large.", code="PAYLOAD_TOO_LARGE", status=413)


def limit_body(max_bytes: int) -> None:
    """Cap this request's body before anything reads it. Werkzeug enforces the cap while reading,
    so it also holds for a chunked body (no Content-Length): reading past it raises 413."""
    if request.content_length is not None and request.content_length > max_bytes:
        raise _too_large()
    request.max_content_length = max_bytes


def _read_capped(max_bytes: int) -> bytes:
    """The raw body, refused (413) as soon as it passes ``max_bytes``: a chunked body has no
    Content-Length to check up front, and Werkzeug's own cap truncates instead of refusing."""
    chunks: list[bytes] = []
    total = 0
    while True:
        chunk = request.stream.read(min(64 * 1024, max_bytes + 1 - total))
        if not chunk:
            return b"".join(chunks)
        total += len(chunk)
        if total > max_bytes:
            raise _too_large()
        chunks.append(chunk)


def _json_body() -> Any:
    max_bytes = current_app.config["MAX_JSON_BYTES"]
    if request.content_length is not None and request.content_length > max_bytes:
        raise _too_large()
    if not request.is_json:
        raise BadRequest("Send a JSON body with Content-Type: application/json.")
    try:
        data = json.loads(_read_capped(max_bytes))
    except RequestEntityTooLarge:
        raise _too_large() from None
    except RecursionError:  # absurdly deep nesting
        raise BadRequest("The request body is nested too deeply.") from None
    except ValueError:  # not JSON, or not UTF-8
        data = None
    if data is None:
        raise BadRequest("The request body is not valid JSON.")
    return data


def _form() -> dict[str, Any]:
    try:
        return request.form.to_dict()
    except RequestEntityTooLarge:
        raise _too_large() from None


def _query_args() -> dict[str, Any]:
    args: dict[str, Any] = {}
    for key in request.args:
        values = request.args.getlist(key)
        args[key] = values if len(values) > 1 else values[0]
    return args


def endpoint(
    *,
    body: type[BaseModel] | None = None,
    query: type[BaseModel] | None = None,
    form: type[BaseModel] | None = None,
    files: dict[str, str] | None = None,
    response: type[BaseModel] | None = None,
    auth: str | None = None,
    summary: str = "",
    status: int = 200,
    paginated: bool = False,
    max_bytes: int | None = None,
):
    """Decorate a route: validation, auth (``None`` | ``"login"`` | ``"artist"``), OpenAPI, commit.

    The view receives ``body=``, ``query=`` and/or ``form=`` keyword arguments with parsed models.
    With both ``body`` and ``form``, a JSON or a multipart request is accepted (the other is None).
    ``files`` documents multipart file fields for OpenAPI (``{"images": "array"}``); the view reads
    them from ``request.files`` and validates their content itself. ``max_bytes`` caps a multipart
    body (413 before it is parsed; JSON bodies are capped by MAX_JSON_BYTES).
    """

    def decorator(view: Callable):
        @functools.wraps(view)
        def wrapper(*args, **kwargs):
            if auth and not current_user.is_authenticated:
                raise Unauthorized()
            if auth == "artist" and current_user.artist is None:
                raise ArtistOnly()
            if query is not None:
                kwargs["query"] = parse(query, _query_args())
            if body is not None and form is not None:
                # Both given: the client sends JSON, or multipart when it attaches a file; the view
                # gets the parsed one and None for the other.
                multipart = request.mimetype == "multipart/form-data"
                if multipart and max_bytes:
                    limit_body(max_bytes)
                kwargs["form"] = parse(form, _form()) if multipart else None
                kwargs["body"] = None if multipart else parse(body, _json_body())
            elif body is not None:
                kwargs["body"] = parse(body, _json_body())
            elif form is not None or files:
                if max_bytes:
                    limit_body(max_bytes)
                if form is not None:
                    kwargs["form"] = parse(form, _form())
            try:
                result = view(*args, **kwargs)
                session = db.session()
                # An answer from the public cache touched no row: no COMMIT to send, no session to end.
                if session.in_transaction() or session.new or session.dirty or session.deleted:
                    session.commit()
            except IntegrityError as error:
                db.session.rollback()
                jobs.discard_pending()
                current_app.logger.info("integrity conflict", extra={"detail": str(error.orig)[:300]})
                raise Conflict() from None
            except DataError as error:
                # A value the database cannot hold (e.g. an id beyond its column's range): the
                # client's input, not our failure.
                db.session.rollback()
                jobs.discard_pending()
                current_app.logger.info("data refused by the database", extra={"detail": str(error.orig)[:300]})
                raise ValidationError("A value is out of range.") from None
            except BaseException:
                db.session.rollback()
                jobs.discard_pending()
                raise
            jobs.send_pending()
            return result

        wrapper._openapi = {  # read by openapi.build_document()
            "body": body,
            "query": query,
            "form": form,
            "files": files or {},
            "response": response,
            "auth": auth,
            "summary": summary or (view.__doc__ or "").strip().split("\n")[0],
            "status": status,
            "paginated": paginated,
        }
        return wrapper

    return decorator


# --- cursor pagination -------------------------------------------------------------------------


def _encode_value(value: Any) -> Any:
    if isinstance(value, datetime):
        return {"t": value.isoformat()}
    return value


def _decode_value(value: Any) -> Any:
    if isinstance(value, dict) and "t" in value:
        return datetime.fromisoformat(value["t"])
    return value


def encode_cursor(values: Sequence[Any]) -> str:
    raw = json.dumps([_encode_value(v) for v in values], separators=(",", ":")).encode()
    return base64.urlsafe_b64encode(raw).decode().rstrip("=")


def decode_cursor(cursor: str, size: int) -> list[Any]:
    try:
        raw = base64.urlsafe_b64decode(cursor + "=" * (-len(cursor) % 4))
        values = json.loads(raw)
        if not isinstance(values, list) or len(values) != size:
            raise ValueError
        return [_decode_value(v) for v in values]
    except (ValueError, TypeError, RecursionError):
        raise ValidationError(
            "The cursor is invalid.", details={"fields": [{"field": "cursor", "message": "invalid"}]}
        ) from None


def _cursor_value_fits(value: Any, column: Any) -> bool:
    """A decoded cursor value must have its column's type (a forged cursor otherwise reaches SQL)."""
    try:
        python_type = column.type.python_type
    except (AttributeError, NotImplementedError):
        python_type = None
    if value is None or isinstance(value, bool | list | dict):
        return False
    if python_type is datetime:
        return isinstance(value, datetime) and 1900 <= value.year <= 9000
    if python_type is int:
        return isinstance(value, int) and INT64_MIN <= value <= INT64_MAX
    if python_type is float:
        return isinstance(value, int | float) and math.isfinite(value) and abs(value) < 1e300
    if python_type is str:
        return isinstance(value, str) and "\x00" not in value and len(value) <= 1000
    if isinstance(value, str):
        return "\x00" not in value and len(value) <= 1000
    if isinstance(value, float):
        return math.isfinite(value)
    return not isinstance(value, int) or INT64_MIN <= value <= INT64_MAX


def paginate(
    stmt: Select,
    order_by: Sequence[Any],
    serialize: Callable[[Any], Any],
    page: PageQuery,
    *,
    key: Callable[[Any], Sequence[Any]] | None = None,
) -> dict[str, Any]:
    """Keyset pagination, newest first: ``order_by`` columns are sorted descending and must end
    with a unique column (usually the id). ``key(row)`` returns those columns' values for a row
    (defaults to reading attributes of the same names)."""
    if page.cursor:
        values = decode_cursor(page.cursor, len(order_by))
        if not all(_cursor_value_fits(value, column) for value, column in zip(values, order_by, strict=True)):
            raise ValidationError(
                "The cursor is invalid.", details={"fields": [{"field": "cursor", "message": "invalid"}]}
            )
        # (a, b, c) < (x, y, z) spelled out, so it works on every database and with NULL-free keys.
        clauses = []
        for i, column in enumerate(order_by):
            equal = [order_by[j] == values[j] for j in range(i)]
            clauses.append(and_(*equal, column < values[i]))
        stmt = stmt.where(or_(*clauses))
    stmt = stmt.order_by(*[column.desc() for column in order_by]).limit(page.limit + 1)
    rows = list(db.session.execute(stmt).scalars().all()) if _is_entity(stmt) else list(db.session.execute(stmt).all())
    has_more = len(rows) > page.limit
    rows = rows[: page.limit]
    key = key or (lambda row: [getattr(row, column.key) for column in order_by])
    next_cursor = encode_cursor(key(rows[-1])) if has_more and rows else None
    return {"results": [serialize(row) for row in rows], "next_cursor": next_cursor, "has_more": has_more}


def _is_entity(stmt: Select) -> bool:
    descriptions = stmt.column_descriptions
    return (
        len(descriptions) == 1
        and descriptions[0].get("entity") is not None
        and descriptions[0].get("expr") is descriptions[0].get("entity")
    )


def iso(value: datetime | None) -> str | None:
    """Datetimes leave the API as ISO 8601 in UTC."""
    if value is None:
        return None
    return value.isoformat().replace("+00:00", "Z") if value.tzinfo else value.isoformat() + "Z"


def unique_list(items: Iterable[str]) -> list[str]:
    seen: dict[str, None] = {}
    for item in items:
        seen.setdefault(item, None)
    return list(seen)
