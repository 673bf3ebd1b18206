"""Texts the ledger stores for a member to read (posting descriptions: the card's history, the API's
`entries`): written once, in the member's language (`loyalty_site.core.i18n.member_language`),
whoever triggered the posting (an API client, a cashier, a job)."""

from __future__ import annotations

from collections.abc import Callable

from loyalty_site.core.i18n import for_member


def member_text(member, render: Callable[[], object]) -> str:
    """`render()` (which calls gettext) evaluated in `member`'s language."""
    with for_member(member):
        return str(render())
