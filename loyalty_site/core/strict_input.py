"""What a number typed or sent by a client may look like (the API's serializers and the till's
forms share it, so both read "1_000" the same way: as an error).

- Points: whole numbers. In JSON a number without a fraction or exponent (no string, no float, no
  true/false); typed at the till, ASCII digits with an optional sign.
- Amounts: ASCII digits with an optional sign and an optional decimal point, as text or (in JSON)
  as a number written that way. Python's `Decimal` and `int` also read "1_000", "1e3", "١٠٠"
  (Arabic-Indic digits) and " 1 000"-like forms; none of them is accepted here.
"""

from __future__ import annotations

import re
from decimal import Decimal

from django.utils.translation import gettext_lazy as _

AMOUNT_TEXT = re.compile(r"^[+-]?[0-9]+(\.[0-9]+)?$")
POINTS_TEXT = re.compile(r"^[+-]?[0-9]+$")
AMOUNT_MESSAGE = _(
    'Use digits with an optional decimal point, e.g. "1000.00" (no "_", exponent or other digits).'
)
POINTS_MESSAGE = _("Use a whole number of points (digits only).")


def amount_text(text: str) -> Decimal | None:
    """The Decimal `text` (surrounding spaces ignored) writes, or None when it is not plain digits."""
    text = text.strip()
    return Decimal(text) if AMOUNT_TEXT.fullmatch(text) else None


def points_text(text: str) -> int | None:
    """The int `text` writes, or None when it is not plain ASCII digits (with an optional sign)."""
    text = text.strip()
    return int(text) if POINTS_TEXT.fullmatch(text) else None
