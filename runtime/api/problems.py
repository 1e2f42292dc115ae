"""Errors as RFC 9457 problem details (`application/problem+json`), everywhere.

Handlers turn every failure into one shape: `{"type", "title", "status",
"detail", "errors": [{"field", "message"}]}`. Validation errors name the
field path; an unexpected exception is logged on the server and answered
with a 500 that carries no stack trace.
"""

from __future__ import annotations

import logging
from collections.abc import Sequence
from dataclasses import dataclass, field
from http import HTTPStatus
from typing import Any

from fastapi import FastAPI, Request
from fastapi.exceptions import RequestValidationError
from fastapi.responses import JSONResponse
from starlette.exceptions import HTTPException as StarletteHTTPException

MEDIA_TYPE = "application/problem+json"
log = logging.getLogger("reframe.api")

#: The JSON schema of every problem body, `#/components/schemas/Problem` in the OpenAPI.
PROBLEM_SCHEMA: dict[str, Any] = {
    "title": "Problem",
    "description": "An error, as RFC 9457 problem details; `errors` names the fields at fault.",
    "type": "object",
    "properties": {
        "type": {"type": "string"},
        "title": {"type": "string"},
        "status": {"type": "integer"},
        "detail": {"type": "string"},
        "errors": {
            "type": "array",
            "items": {
                "type": "object",
                "properties": {"field": {"type": "string"}, "message": {"type": "string"}},
                "required": ["field", "message"],
            },
        },
    },
    "required": ["type", "title", "status", "detail", "errors"],
}
#: The problems any operation may answer (API.md, Errors), for the OpenAPI document.
PROBLEM_STATUSES: dict[int, str] = {
    400: "Bad request: an unknown parameter, field, operator or include, or a malformed value",
    401: "No or bad credentials",
    403: "A visible row or action the caller may not use",
    404: "No such row, or one the caller may not see",
    409: "A transition not allowed from the current state, or a unique conflict",
    412: "Stale If-Match",
    422: "Invalid input; `errors` names the fields",
    429: "Too many failed attempts; `Retry-After` says when to try again",
}
_PROBLEM_REF = {"$ref": "#/components/schemas/Problem"}
#: `responses=` of an endpoint: every problem, as problem+json.
PROBLEMS: dict[int | str, dict[str, Any]] = {
    status: {"description": meaning, "content": {MEDIA_TYPE: {"schema": _PROBLEM_REF}}}
    for status, meaning in PROBLEM_STATUSES.items()
}


@dataclass(frozen=True)
class FieldError:
    field: str
    message: str


@dataclass
class Problem(Exception):
    """Raise anywhere in a request; the client gets exactly this, as problem+json."""

    status: int
    detail: str
    errors: Sequence[FieldError] = field(default_factory=tuple)
    headers: dict[str, str] | None = None

    def __post_init__(self) -> None:
        super().__init__(self.detail)

    @property
    def title(self) -> str:
        return HTTPStatus(self.status).phrase

    def body(self) -> dict[str, Any]:
        return {
            "type": "about:blank",
            "title": self.title,
            "status": self.status,
            "detail": self.detail,
            "errors": [{"field": e.field, "message": e.message} for e in self.errors],
        }


def bad_request(detail: str, field_name: str | None = None) -> Problem:
    errors = (FieldError(field_name, detail),) if field_name else ()
    return Problem(400, detail, errors)


def not_found(entity_label: str) -> Problem:
    # The same answer whether the row does not exist or the caller may not see it.
    return Problem(404, f"No {entity_label.lower()} with this id.")


def problem_response(problem: Problem) -> JSONResponse:
    return JSONResponse(
        problem.body(), status_code=problem.status, media_type=MEDIA_TYPE, headers=problem.headers
    )


def document_problems(document: dict[str, Any]) -> dict[str, Any]:
    """Make an OpenAPI document tell the truth about errors: every operation may answer
    each problem as problem+json (FastAPI's own 422 schema is not what the handlers send)."""
    schemas = document.setdefault("components", {}).setdefault("schemas", {})
    schemas["Problem"] = PROBLEM_SCHEMA
    for operations in document.get("paths", {}).values():
        for operation in operations.values():
            responses = operation.setdefault("responses", {})
            for status, answer in PROBLEMS.items():
                responses[str(status)] = answer
    for unused in ("HTTPValidationError", "ValidationError"):
        schemas.pop(unused, None)
    return document


def install_problem_handlers(app: FastAPI) -> None:
    app.add_exception_handler(Problem, _on_problem)  # type: ignore[arg-type]
    app.add_exception_handler(RequestValidationError, _on_validation)  # type: ignore[arg-type]
    app.add_exception_handler(StarletteHTTPException, _on_http)  # type: ignore[arg-type]
    app.add_exception_handler(Exception, _on_unexpected)


async def _on_problem(request: Request, problem: Problem) -> JSONResponse:
    return problem_response(problem)


async def _on_validation(request: Request, exc: RequestValidationError) -> JSONResponse:
    errors = tuple(
        FieldError(_field_path(error.get("loc", ())), str(error.get("msg", "invalid")))
        for error in exc.errors()
    )
    fields = ", ".join(e.field for e in errors)
    return problem_response(Problem(422, f"Invalid input: {fields}.", errors))


def _field_path(location: Sequence[Any]) -> str:
    """`("body", "lines", 0, "quantity")` -> `lines[0].quantity`."""
    path = ""
    for part in (
        location[1:]
        if location and location[0] in ("body", "query", "path", "header")
        else location
    ):
        path += f"[{part}]" if isinstance(part, int) else (f".{part}" if path else str(part))
    return path or "body"


async def _on_http(request: Request, exc: StarletteHTTPException) -> JSONResponse:
    detail = exc.detail if isinstance(exc.detail, str) else HTTPStatus(exc.status_code).phrase
    return problem_response(Problem(exc.status_code, detail, headers=dict(exc.headers or {})))


async def _on_unexpected(request: Request, exc: Exception) -> JSONResponse:
    log.exception("unexpected error on %s %s", request.method, request.url.path)
    return problem_response(
        Problem(500, "An unexpected error occurred; it was logged on the server.")
    )
