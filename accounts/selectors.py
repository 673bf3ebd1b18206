"""Reads for accounts."""

from __future__ import annotations

import copy
import hmac
from datetime import timedelta

from django.db import connection
from django.utils import timezone

from .models import ApiKey, Member, Program
from .services import api_key_hash

# last_used_at is written at most this often per key, so hot keys do not write on every request.
LAST_USED_RESOLUTION = timedelta(minutes=1)


# prefix -> (key, program with its merchant), per process: see api_key_authenticate
_KEYS: dict[str, tuple[ApiKey, Program]] = {}
_KEYS_MAX = 1024


def api_key_authenticate(raw_key: str) -> ApiKey | None:
    """The active key matching `raw_key` (with its program and merchant), or None.

    The key, its program and merchant are kept per process (by prefix); each request checks them
    with one small statement (not revoked, the program's `config_version` unchanged, which every
    change of the program row renews, the merchant's `is_active` unchanged) and reads them again
    when anything differs. The request gets its own copies."""
    if not raw_key or not raw_key.startswith("lk_") or "." not in raw_key:
        return None
    prefix = raw_key[3:].split(".", 1)[0]
    cached = _KEYS.get(prefix)
    if cached is not None and _still_valid(*cached):
        key, program = copy.copy(cached[0]), copy.copy(cached[1])
        key.program = program
    else:
        _KEYS.pop(prefix, None)
        key = (
            ApiKey.objects.select_related("program__merchant")
            .filter(prefix=prefix, revoked_at__isnull=True)
            .first()
        )
        if key is None:
            return None
        if len(_KEYS) >= _KEYS_MAX:
            _KEYS.clear()
        _KEYS[prefix] = (copy.copy(key), copy.copy(key.program))
    if not hmac.compare_digest(key.hashed_key, api_key_hash(raw_key)):
        return None
    now = timezone.now()
    if key.last_used_at is None or now - key.last_used_at > LAST_USED_RESOLUTION:
        ApiKey.objects.filter(pk=key.pk).update(last_used_at=now)
        key.last_used_at = now
        if prefix in _KEYS:
            _KEYS[prefix][0].last_used_at = now
    return key


def _still_valid(key: ApiKey, program: Program) -> bool:
    with connection.cursor() as cursor:
        cursor.execute(
            "SELECT k.revoked_at, p.config_version, m.is_active FROM accounts_apikey k "
            "JOIN accounts_program p ON p.id = k.program_id JOIN accounts_merchant m ON m.id = p.merchant_id "
            "WHERE k.id = %s",
            [key.pk],
        )
        row = cursor.fetchone()
    if row is None or row[0] is not None:
        return False
    return row[1] == program.config_version and row[2] == program.merchant.is_active


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
