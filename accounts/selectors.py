"""Reads for accounts."""

from __future__ import annotations

import hmac
from datetime import timedelta

from django.utils import timezone

from .models import ApiKey, Member, Program
from .services import api_key_hash

# last_used_at is written at most this often per key, so hot keys do not write on every request.
LAST_USED_RESOLUTION = timedelta(minutes=1)


def api_key_authenticate(raw_key: str) -> ApiKey | None:
    """The active key matching `raw_key` (with its program and merchant), or None."""
    if not raw_key or not raw_key.startswith("lk_") or "." not in raw_key:
        return None
    prefix = raw_key[3:].split(".", 1)[0]
    key = (
        ApiKey.objects.select_related("program__merchant")
        .filter(prefix=prefix, revoked_at__isnull=True)
        .first()
    )
    if key is None or not hmac.compare_digest(key.hashed_key, api_key_hash(raw_key)):
        return None
    now = timezone.now()
    if key.last_used_at is None or now - key.last_used_at > LAST_USED_RESOLUTION:
        ApiKey.objects.filter(pk=key.pk).update(last_used_at=now)
        key.last_used_at = now
    return key


def member_find(*, program: Program, query: str) -> Member | None:
    """Find a member by card number, card token (QR), phone, email or external id."""
    from .services import InvalidInput, phone_normalize

    query = (query or "").strip()
    if not query:
        return None
    members = Member.objects.filter(program=program)
    if "/card/" in query:  # a scanned QR code holds the card page's URL
        query = query.rstrip("/").rsplit("/", 1)[-1]
    digits = query.replace(" ", "")
    if digits.isdigit() and len(digits) == 13:
        found = members.filter(card_number=digits).first()
        if found:
            return found
    found = members.filter(card_token=query).first() or members.filter(external_id=query).first()
    if found:
        return found
    if "@" in query:
        return members.filter(email=query.lower()).first()
    try:
        return members.filter(phone=phone_normalize(query)).first()
    except InvalidInput:
        return None
