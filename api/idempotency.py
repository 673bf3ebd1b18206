"""Idempotency-Key semantics of API.md, safe under concurrent requests.

For a POST with `Idempotency-Key: K` (1-255 characters) in program P:

1. Claim: INSERT a row (P, K, fingerprint, in_progress) in its own committed transaction. The
   unique constraint decides the race: exactly one request inserts; the others read the row.
2. The winner runs the view inside one transaction and, in that same transaction, stores the
   response on the row (state done). A crash rolls back the effect and leaves the claim
   in_progress; after `STALE_AFTER` an identical request may take it over.
3. A loser with another fingerprint answers 409 `idempotency_conflict`; with the same one, 409
   `in_progress` while the winner runs, else the stored response with `Idempotent-Replayed: true`.

Decisions: the fingerprint is the method, the path and the body (JSON canonicalised, so key order
and whitespace do not matter). Responses kept: 2xx, and the business outcomes 404/409/422
(a retry would get the same answer); 400, 401, 429 and 5xx free the key so a corrected or later
retry runs. Keys are kept 24 h; after that the key is a new request (its old record is taken over
or, once the `idempotency_purge` job deleted it, claimed anew; its postings get new references), and
no answer names an internal reference. A purchase without a key is made idempotent by its `external_id` in the
ledger (`purchase_create` replays the original or raises IdempotencyConflict); the API marks such a
replay with `Idempotent-Replayed: true` and shows the current balance and tier (no second copy of
every purchase answer is stored, which keeps the hot path at the ledger's own writes).
"""

from __future__ import annotations

import hashlib
import json
import random
import time
import uuid
from datetime import datetime, timedelta

from django.db import transaction
from django.utils.translation import gettext
from rest_framework.response import Response

from loyalty_site.core.db import is_retryable, row_insert
from loyalty_site.core.errors import IdempotencyConflict, InProgress, InvalidInput

from .models import IdempotencyRecord

HEADER = "Idempotency-Key"
REPLAY_HEADER = "Idempotent-Replayed"
MAX_KEY_LENGTH = 255
RETENTION = timedelta(hours=24)
STALE_AFTER = timedelta(minutes=2)  # longer than any request may run (gunicorn timeout 30 s)
RETRY_ATTEMPTS = 5
KEPT_ERROR_STATUSES = frozenset({404, 409, 422})


def request_fingerprint(request) -> str:
    raw = request.body or b""
    try:
        canonical = json.dumps(json.loads(raw), sort_keys=True, separators=(",", ":")).encode()
    except (ValueError, UnicodeDecodeError):
        canonical = raw
    digest = hashlib.sha256()
    digest.update(request.method.encode() + b" " + request.path.encode() + b"\n")
    digest.update(canonical)
    return digest.hexdigest()


def header_key(request) -> str | None:
    """The request's Idempotency-Key, or None. Raises InvalidInput when it is empty or too long."""
    key = request.headers.get(HEADER)
    if key is None:
        return None
    if not key.strip() or len(key) > MAX_KEY_LENGTH:
        raise InvalidInput(
            gettext("The Idempotency-Key header must be 1 to 255 characters."),
            fields={HEADER: [gettext("Use 1 to 255 characters.")]},
        )
    return key


def _claim(*, program, scoped_key: str, fingerprint: str, request, at: datetime):
    """Return (record, claimed). Claimed means this request must run the effect."""
    for _attempt in range(5):
        record = IdempotencyRecord(
            program=program,
            key=scoped_key,
            request_hash=fingerprint,
            method=request.method,
            path=request.path[:255],
            created_at=at,
            locked_at=at,
        )
        # a key in use already skips the insert (no error, so no rollback: on PostgreSQL a
        # rollback would also make psycopg drop the connection's prepared statements)
        if row_insert(record, skip_conflict="idempotency_unique_key"):
            return record, True
        record = IdempotencyRecord.objects.filter(program=program, key=scoped_key).first()
        if record is None:
            continue  # the first attempt failed and freed the key meanwhile: claim it again
        if record.created_at <= at - RETENTION:
            # Expired: the key starts over. Compare-and-set so only one request takes it.
            taken = IdempotencyRecord.objects.filter(pk=record.pk, created_at=record.created_at).update(
                request_hash=fingerprint,
                method=request.method,
                path=request.path[:255],
                state=IdempotencyRecord.State.IN_PROGRESS,
                response_status=None,
                response_body=None,
                created_at=at,
                locked_at=at,
                completed_at=None,
            )
            if taken:
                record.refresh_from_db()
                return record, True
            continue
        if (
            record.state == IdempotencyRecord.State.IN_PROGRESS
            and record.request_hash == fingerprint
            and record.locked_at <= at - STALE_AFTER
        ):
            # The first attempt died without committing its effect: take the claim over.
            taken = IdempotencyRecord.objects.filter(
                pk=record.pk, state=IdempotencyRecord.State.IN_PROGRESS, locked_at=record.locked_at
            ).update(locked_at=at)
            if taken:
                record.locked_at = at
                return record, True
        return record, False
    raise InProgress()  # pragma: no cover - five lost races in a row


def _store(record: IdempotencyRecord, response: Response, at: datetime) -> None:
    IdempotencyRecord.objects.filter(pk=record.pk).update(
        state=IdempotencyRecord.State.DONE,
        response_status=response.status_code,
        response_body=response.data,
        completed_at=at,
    )


def run_idempotent(view, request, handler, *, scoped_key: str, at: datetime) -> Response:
    """Run `handler()` (which returns a Response or raises) at most once per (program, key)."""
    program = request.auth.program
    fingerprint = request_fingerprint(request)
    record, claimed = _claim(
        program=program, scoped_key=scoped_key, fingerprint=fingerprint, request=request, at=at
    )
    # the postings this request makes are named after this claim (`posting_reference`): a key
    # reused after its window is a new claim, so it posts anew instead of meeting its old posting
    request.idempotency_claimed_at = record.created_at
    if not claimed:
        if record.request_hash != fingerprint:
            raise IdempotencyConflict(
                gettext("This idempotency key was already used with a different request.")
            )
        if record.state == IdempotencyRecord.State.IN_PROGRESS:
            raise InProgress()
        response = Response(record.response_body, status=record.response_status)
        response[REPLAY_HEADER] = "true"
        return response

    # This transaction is the outermost one, so the bounded retry of deadlocks and serialization
    # failures that the services do on their own (atomic_with_retry) has to happen here.
    for attempt in range(1, RETRY_ATTEMPTS + 1):
        error: Exception | None = None
        response: Response | None = None
        with transaction.atomic():
            try:
                response = handler()
            except Exception as exc:  # rendered below, after the effect is rolled back
                error = exc
            if error is None and response.status_code < 400:
                _store(record, response, at)
                return response
            transaction.set_rollback(True)
        if error is not None and is_retryable(error) and attempt < RETRY_ATTEMPTS:
            time.sleep(random.uniform(0, 0.005 * 2**attempt))
            continue
        break
    if response is None:
        response = view.handle_exception(error)
    if response.status_code in KEPT_ERROR_STATUSES:
        _store(record, response, at)
    else:
        IdempotencyRecord.objects.filter(pk=record.pk).delete()
    return response


def idempotent(method):
    """Decorator for a POST handler of an `ApiView`: applies the Idempotency-Key header."""

    def wrapper(self, request, *args, **kwargs):
        key = header_key(request)
        if key is None:
            return method(self, request, *args, **kwargs)
        return run_idempotent(
            self,
            request,
            lambda: method(self, request, *args, **kwargs),
            scoped_key=f"key:{key}",
            at=self.at,
        )

    wrapper.__name__ = method.__name__
    wrapper.__doc__ = method.__doc__
    wrapper.__wrapped__ = method
    return wrapper


def posting_reference(request, *, kind: str) -> str:
    """The ledger `reference` of a posting made by this request.

    With an Idempotency-Key it is derived from the program, the key and the moment the key was
    claimed, so even a request that takes over a stale claim cannot post twice (the ledger returns
    the original posting), while the same key used again after its 24 h window (a new claim) is a
    new posting; without a key every request is a new posting."""
    key = request.headers.get(HEADER)
    claimed_at = getattr(request, "idempotency_claimed_at", None)
    if key and claimed_at is not None:
        scope = f"{request.auth.program_id}:{kind}:{key}:{claimed_at.isoformat()}"
        return f"api:{kind}:{hashlib.sha256(scope.encode()).hexdigest()[:40]}"
    return f"api:{kind}:{uuid.uuid4().hex}"
