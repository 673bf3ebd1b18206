"""OpenAPI helpers: the reusable `Error` component and `api_doc`, a thin `extend_schema` wrapper
that documents the error answers, the Idempotency-Key header and the replay header."""

from __future__ import annotations

from drf_spectacular.types import OpenApiTypes
from drf_spectacular.utils import OpenApiParameter, OpenApiResponse, extend_schema, inline_serializer
from rest_framework import serializers

ERROR_DESCRIPTIONS = {
    400: "Invalid input (`invalid` with `fields`, `parse_error`, `unsupported_currency`). Bodies nested "
    "deeper than 32 levels, and text with a NUL character or an unpaired surrogate (keys included), "
    "are `invalid` with `fields` naming where.",
    401: "No key, or an unknown or revoked key, or a key of an inactive program or suspended merchant "
    "(`not_authenticated`).",
    404: "Unknown id, or an id of another program (`not_found`).",
    405: "Method not allowed (`method_not_allowed`).",
    406: "Only `application/json` answers are available (`not_acceptable`).",
    409: "`idempotency_conflict`, `in_progress`, `duplicate` or `redemption_closed`.",
    413: "The body is larger than `API_MAX_BODY_BYTES` (1 MB by default) (`request_too_large`).",
    415: "Send `Content-Type: application/json` (`unsupported_media_type`).",
    422: "A business rule says no (`insufficient_points`, `limit_exceeded`, `member_blocked`, "
    "`coupon_invalid`, `coupon_expired`, `coupon_used`, `refund_exceeds_purchase`, `out_of_stock`, "
    "`reward_unavailable`).",
    429: "Too many requests for this key (`throttled`); see `Retry-After`.",
    500: "Unexpected error (`server_error`), logged on the server.",
}


class ErrorDetailSerializer(serializers.Serializer):
    code = serializers.CharField(help_text="Stable machine-readable code, e.g. `insufficient_points`.")
    message = serializers.CharField(help_text="A human sentence.")
    fields = serializers.DictField(
        child=serializers.ListField(child=serializers.CharField()),
        required=False,
        help_text="Validation errors per field (only for `invalid`).",
    )


class ErrorSerializer(serializers.Serializer):
    error = ErrorDetailSerializer()


def _error(status: int) -> OpenApiResponse:
    return OpenApiResponse(ErrorSerializer, description=ERROR_DESCRIPTIONS[status])


def _response_header(name: str, description: str, statuses: list[int], **extra) -> OpenApiParameter:
    kind = OpenApiTypes.INT if name == "Retry-After" else OpenApiTypes.STR
    return OpenApiParameter(
        name, kind, OpenApiParameter.HEADER, description=description, response=statuses, **extra
    )


IDEMPOTENCY_PARAMETER = OpenApiParameter(
    "Idempotency-Key",
    OpenApiTypes.STR,
    OpenApiParameter.HEADER,
    required=False,
    description="Any string up to 255 characters, scoped to the program. The same key with the same "
    "body within 24 h returns the first answer again (with `Idempotent-Replayed: true`); with another "
    "body 409 `idempotency_conflict`; while the first request runs 409 `in_progress`.",
)

REPLAYED_DESCRIPTION = "Present (`true`) when this answer is the stored answer of an earlier request."

COMMON_ERRORS = (401, 405, 406, 429, 500)


def api_doc(
    *,
    summary: str,
    responses: dict,
    errors: tuple[int, ...] = (),
    request=None,
    idempotent: bool = False,
    parameters: list | None = None,
    description: str = "",
    tags: list[str] | None = None,
    operation_id: str | None = None,
):
    """extend_schema with the error answers of `errors` plus those every endpoint can give."""
    documented: dict = dict(responses)
    all_errors = set(errors) | set(COMMON_ERRORS)
    if request is not None:
        all_errors |= {400, 413, 415}
    if idempotent:
        all_errors |= {400, 409, 413, 415}
    for status in sorted(all_errors):
        documented.setdefault(status, _error(status))
    params = list(parameters or [])
    params.append(_response_header("Retry-After", "Seconds to wait before retrying.", [429]))
    params.append(_response_header("WWW-Authenticate", "`Api-Key`: the expected scheme.", [401]))
    if idempotent:
        params.append(IDEMPOTENCY_PARAMETER)
        replayable = [s for s in documented if 200 <= s < 300 or s in (404, 409, 422)]
        params.append(
            _response_header("Idempotent-Replayed", REPLAYED_DESCRIPTION, replayable, enum=["true"])
        )
    kwargs = {}
    if operation_id:
        kwargs["operation_id"] = operation_id
    return extend_schema(
        summary=summary,
        description=description or None,
        request=request,
        responses=documented,
        parameters=params,
        tags=tags,
        **kwargs,
    )


__all__ = ["api_doc", "ErrorSerializer", "inline_serializer"]
