"""Time the real admin and report pages on a built data set (bench/dataset/build.py): p95 per page.

    BENCH_DATABASE_URL=postgres://postgres@127.0.0.1:5432/loyalty_bench_million \\
        .venv/bin/python -u bench/admin/bench_admin.py --repeat 7
    ... --only member_search_name --explain        # the slowest statement of a page, EXPLAIN ANALYZE'd
    ... --smoke                                     # 10 000-member CI smoke: every page 200, once

An owner of the set's merchant (created once, `bench-admin-owner`) logs in; Django's test Client
sends every request through the whole stack (middleware, admin_view, templates), with the
production settings (DEBUG off). Each page is requested --repeat times after one warm-up request;
the figures are wall-clock seconds per request (p50, p95, max), the number of statements and the
slowest statement's time (captured on the connection). Sample values (a phone, a card, a name, an
external id, the member with the most entries, a campaign) are read from the set first.
Results in bench/admin/results-<members>.json; a page over --target seconds at p95 is flagged.
"""

from __future__ import annotations

import argparse
import json
import os
import statistics
import sys
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parents[2]
if str(ROOT) not in sys.path:
    sys.path.insert(0, str(ROOT))


def setup(url: str) -> None:
    os.environ["DATABASE_URL"] = url
    os.environ.setdefault("LOYALTY_TESTING", "1")  # development secret key; no broker publishing
    os.environ.setdefault("DJANGO_SETTINGS_MODULE", "loyalty_site.settings")
    os.environ.setdefault("LOG_LEVEL", "WARNING")
    os.environ.setdefault("SECURE_HTTPS", "0")
    import django

    django.setup()


def samples() -> dict:
    """Values to search and pages to open, read from the set."""
    from django.db import connection

    from accounts.models import Member, Program
    from campaigns.models import Campaign

    program = Program.objects.order_by("id").first()
    with connection.cursor() as cursor:
        # a member with the most entries among a sample (the set's members have 1-8 purchases)
        cursor.execute(
            """SELECT member_id FROM ledger_entry WHERE member_id IN (
                   SELECT id FROM accounts_member WHERE program_id = %s ORDER BY id LIMIT 2000)
               GROUP BY member_id ORDER BY count(*) DESC LIMIT 1""",
            [program.pk],
        )
        busiest = cursor.fetchone()[0]
    middle = Member.objects.filter(program=program).order_by("id")[
        Member.objects.filter(program=program).count() // 2
    ]
    with_external_id = (
        Member.objects.filter(program=program, external_id__isnull=False).order_by("id").first()
    )
    campaign = (
        Campaign.objects.filter(program=program, grants__isnull=False).order_by("id").distinct().first()
        or Campaign.objects.filter(program=program).order_by("id").first()
    )
    tier = program.tiers.order_by("rank").last() if hasattr(program, "tiers") else None
    return {
        "program": program,
        "busiest": busiest,
        "member": middle,
        # the data set's members have no external id: an id that matches none costs the same plan
        "external_id": with_external_id.external_id if with_external_id else f"X-{middle.pk}",
        "campaign": campaign,
        "tier_id": tier.pk if tier else None,
    }


def pages(sample: dict) -> list[tuple[str, str, dict]]:
    member = sample["member"]
    program = sample["program"]
    campaign = sample["campaign"]
    tier_filter = {"tier__id__exact": sample["tier_id"]} if sample["tier_id"] else {}
    return [
        ("member_list", "/admin/accounts/member/", {}),
        ("member_list_filtered", "/admin/accounts/member/", {"status__exact": "active", **tier_filter}),
        ("member_search_phone", "/admin/accounts/member/", {"q": member.phone}),
        ("member_search_card", "/admin/accounts/member/", {"q": member.card_number}),
        ("member_search_name", "/admin/accounts/member/", {"q": member.last_name}),
        ("member_search_external_id", "/admin/accounts/member/", {"q": sample["external_id"]}),
        ("member_change", f"/admin/accounts/member/{sample['busiest']}/change/", {}),
        ("entry_list", "/admin/ledger/entry/", {}),
        ("entry_list_filtered", "/admin/ledger/entry/", {"kind__exact": "earn", "account__exact": "member"}),
        ("entry_list_member", "/admin/ledger/entry/", {"member__id__exact": sample["busiest"]}),
        ("posting_list", "/admin/ledger/posting/", {}),
        ("purchase_list", "/admin/ledger/purchase/", {}),
        (
            "purchase_list_filtered",
            "/admin/ledger/purchase/",
            {"currency__exact": "EUR", "kind__exact": "purchase"},
        ),
        ("purchase_search_card", "/admin/ledger/purchase/", {"q": member.card_number}),
        ("lot_list", "/admin/ledger/lot/", {}),
        ("event_list", "/admin/notifications/event/", {}),
        ("event_list_filtered", "/admin/notifications/event/", {"type__exact": "tier.changed"}),
        ("grant_list", "/admin/campaigns/campaigngrant/", {}),
        ("campaign_report", f"/admin/campaigns/campaign/{campaign.pk}/roi/", {}),
        ("dashboard", "/admin/reports/", {"program": program.pk}),
        ("event_log", "/admin/reports/events/", {"program": program.pk}),
        ("event_log_member", "/admin/reports/events/", {"program": program.pk, "member": member.card_number}),
    ]


def owner_client(program):
    from django.contrib.auth import get_user_model
    from django.test import Client

    from accounts import services as account_services

    user = get_user_model().objects.filter(username="bench-admin-owner").first()
    if user is None:
        user = account_services.staff_user_create(
            merchant=program.merchant, username="bench-admin-owner", password="pw-12345!x", role="owner"
        )
    client = Client()
    client.force_login(user)
    return client


def time_page(client, url: str, params: dict, repeat: int) -> dict:
    from django.db import connection
    from django.test.utils import CaptureQueriesContext

    response = client.get(url, params)  # warm-up: caches, the connection, the plans
    if response.status_code != 200:
        return {"status": response.status_code, "error": response.content[:300].decode(errors="replace")}
    seconds = []
    for _ in range(repeat):
        with CaptureQueriesContext(connection) as captured:
            started = time.perf_counter()
            response = client.get(url, params)
            if hasattr(response, "streaming_content"):
                b"".join(response.streaming_content)
            seconds.append(time.perf_counter() - started)
        assert response.status_code == 200, (url, response.status_code)
    queries = captured.captured_queries
    slowest = max(queries, key=lambda q: float(q["time"])) if queries else {"time": "0", "sql": ""}
    ordered = sorted(seconds)
    return {
        "status": 200,
        "p50": round(statistics.median(ordered), 3),
        "p95": round(ordered[min(len(ordered) - 1, int(round(0.95 * (len(ordered) - 1))))], 3),
        "max": round(ordered[-1], 3),
        "queries": len(queries),
        "counts": sum(1 for q in queries if "COUNT(*)" in q["sql"].upper()),
        "slowest_ms": round(float(slowest["time"]) * 1000, 1),
        "slowest_sql": slowest["sql"],
    }


def explain(sql: str) -> str:
    from django.db import connection

    with connection.cursor() as cursor:
        cursor.execute("EXPLAIN (ANALYZE, BUFFERS) " + sql)
        return "\n".join(row[0] for row in cursor.fetchall())


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--repeat", type=int, default=7)
    parser.add_argument("--only", action="append", help="page names (repeatable)")
    parser.add_argument("--explain", action="store_true", help="EXPLAIN ANALYZE each page's slowest query")
    parser.add_argument("--target", type=float, default=1.0, help="p95 seconds a page must stay under")
    parser.add_argument("--smoke", action="store_true", help="every page once (CI)")
    parser.add_argument("--show-sql", action="store_true")
    args = parser.parse_args()
    url = os.environ.get("BENCH_DATABASE_URL", "postgres://postgres@127.0.0.1:5432/loyalty_bench_million")
    setup(url)
    from accounts.models import Member

    repeat = 1 if args.smoke else args.repeat
    sample = samples()
    client = owner_client(sample["program"])
    members = Member.objects.count()
    results = {}
    print(f"{'page':28} {'p50':>7} {'p95':>7} {'max':>7} {'queries':>7} {'counts':>6} {'slowest':>9}")
    for name, page_url, params in pages(sample):
        if args.only and name not in args.only:
            continue
        result = time_page(client, page_url, params, repeat)
        results[name] = {"url": page_url, "params": {k: str(v) for k, v in params.items()}, **result}
        if result["status"] != 200:
            print(f"{name:28} HTTP {result['status']}: {result['error']}")
            continue
        flag = "  <-- over target" if result["p95"] > args.target else ""
        print(
            f"{name:28} {result['p50']:7.3f} {result['p95']:7.3f} {result['max']:7.3f} "
            f"{result['queries']:7d} {result['counts']:6d} {result['slowest_ms']:7.1f}ms{flag}",
            flush=True,
        )
        if args.show_sql:
            print("   ", result["slowest_sql"][:600])
        if args.explain:
            result["explain"] = explain(result["slowest_sql"])
            print(result["explain"])
    failed = [name for name, r in results.items() if r["status"] != 200]
    out = Path(__file__).with_name(f"results-{members}.json")
    if not args.smoke:
        out.write_text(
            json.dumps(
                {"members": members, "repeat": repeat, "load_average": os.getloadavg(), "pages": results},
                indent=2,
                default=str,
            )
            + "\n"
        )
        print(f"written {out}")
    if failed:
        raise SystemExit(f"pages not 200: {failed}")


if __name__ == "__main__":
    main()
