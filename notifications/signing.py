"""Standard Webhooks signing (https://www.standardwebhooks.com/).

A secret is `whsec_` + base64 of 24 random bytes; the HMAC key is the decoded bytes. The signature
of a message is `v1,` + base64(HMAC-SHA256(key, f"{id}.{timestamp}.{body}")); several signatures
(during a secret rotation) are space separated in one `Webhook-Signature` header.
"""

from __future__ import annotations

import base64
import hashlib
import hmac
import secrets

SECRET_PREFIX = "whsec_"
TOLERANCE_SECONDS = 5 * 60


def secret_generate() -> str:
    return SECRET_PREFIX + base64.b64encode(secrets.token_bytes(24)).decode()


def _key(secret: str) -> bytes:
    return base64.b64decode(secret.removeprefix(SECRET_PREFIX))


def signature(*, secret: str, msg_id: str, timestamp: int, body: bytes) -> str:
    signed = f"{msg_id}.{timestamp}.".encode() + body
    digest = hmac.new(_key(secret), signed, hashlib.sha256).digest()
    return "v1," + base64.b64encode(digest).decode()


def headers(*, secrets_: list[str], msg_id: str, timestamp: int, body: bytes) -> dict[str, str]:
    """The three Standard Webhooks headers, signed with every secret given (new one first)."""
    return {
        "Webhook-Id": msg_id,
        "Webhook-Timestamp": str(timestamp),
        "Webhook-Signature": " ".join(
            signature(secret=s, msg_id=msg_id, timestamp=timestamp, body=body) for s in secrets_
        ),
    }


def verify(*, secret: str, headers: dict[str, str], body: bytes, now: int) -> bool:
    """What a receiver does: True when one of the signatures matches and the timestamp is within
    five minutes of `now` (epoch seconds)."""
    lowered = {k.lower(): v for k, v in headers.items()}
    msg_id, timestamp = lowered.get("webhook-id", ""), lowered.get("webhook-timestamp", "")
    if not msg_id or not timestamp.isdigit() or abs(now - int(timestamp)) > TOLERANCE_SECONDS:
        return False
    expected = signature(secret=secret, msg_id=msg_id, timestamp=int(timestamp), body=body)
    return any(
        hmac.compare_digest(expected, candidate)
        for candidate in lowered.get("webhook-signature", "").split(" ")
    )
