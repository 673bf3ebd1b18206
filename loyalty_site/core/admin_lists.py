"""Admin change lists and inlines over the big tables (members, ledger, purchases, events, grants).

At a million members Django's defaults cost seconds a page: the paginator counts every row of the
(scoped, filtered) list, `show_full_result_count` counts the unfiltered list again, a
`date_hierarchy` reads the distinct years / months of the whole table, a list filter on a plain
column reads its distinct values, `search_fields` are `UPPER(col) LIKE '%q%'` over every field (no
index can serve them), and an inline shows every row of a member's history. bench/admin/ times the
pages; bench/README.md has the figures and plans.

- `BigListAdmin` (a mixin before `ScopedAdmin`): `EstimatedCountPaginator`, no full result count,
  newest first by primary key (an index scan that stops after a page), no date hierarchy.
- the member search of these lists is the accounts app's (`accounts.admin_search.MemberSearchMixin`).
- `LimitedInlineFormSet`: an inline shows its first `limit` rows (the inline's ordering), with a link
  to the full, filtered change list.
"""

from __future__ import annotations

import json

from django.core.paginator import Paginator
from django.db.models import QuerySet
from django.forms.models import BaseInlineFormSet
from django.utils.functional import cached_property

EXACT_COUNT_LIMIT = 10_000


def estimated_count(queryset: QuerySet) -> int:
    """The planner's estimate of the queryset's rows (EXPLAIN, nothing read)."""
    plan = queryset.order_by().explain(format="json")
    data = json.loads(plan) if isinstance(plan, str) else plan
    return int(data[0]["Plan"]["Plan Rows"])


class EstimatedCountPaginator(Paginator):
    """Counts exactly up to EXACT_COUNT_LIMIT rows (a count over `LIMIT n + 1`, so never more than
    that many rows are read); beyond, the planner's estimate (at least the limit). The pages past
    the real end, if the estimate is high, are simply empty."""

    exact_limit = EXACT_COUNT_LIMIT

    @cached_property
    def count(self) -> int:
        queryset = self.object_list
        if not isinstance(queryset, QuerySet):
            return super().count
        capped = queryset.order_by()[: self.exact_limit + 1].count()
        if capped <= self.exact_limit:
            return capped
        self.estimated = True
        return max(estimated_count(queryset), capped)

    estimated = False


class BigListAdmin:
    """Change-list options for a table of millions of rows (mix in before ScopedAdmin)."""

    paginator = EstimatedCountPaginator
    show_full_result_count = False
    ordering = ["-id"]
    date_hierarchy = None


class LimitedInlineFormSet(BaseInlineFormSet):
    """The first `limit` rows of an inline (in the inline's ordering). Read-only inlines only: a
    formset that saves needs every row it shows, and shows every row it saves."""

    limit = 50

    def get_queryset(self):
        if not hasattr(self, "_limited_queryset"):
            self._limited_queryset = super().get_queryset()[: self.limit]
        return self._limited_queryset
