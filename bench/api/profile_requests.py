"""Profile the quote and purchase endpoints in-process, on the bench data set.

Sends N requests per endpoint through Django's test client (the whole stack: middleware, DRF,
authentication, services), sequentially, and prints the median and p90 time and the number of
queries per request; with --profile, the cProfile of the requests, and with --sql, the statements of
one request of each kind.

    export DATABASE_URL=postgres://postgres@127.0.0.1:5432/loyalty_bench
    export DJANGO_SETTINGS_MODULE=bench.api.settings
    .venv/bin/python -m bench.api.profile_requests -n 200
    .venv/bin/python -m bench.api.profile_requests -n 200 --profile purchase --sort tottime --lines 40
    .venv/bin/python -m bench.api.profile_requests -n 5 --sql purchase
"""

import argparse
import cProfile
import json
import pstats
import random
import statistics
import time
import uuid
from contextlib import nullcontext
from pathlib import Path

import django


def main() -> None:
    parser = argparse.ArgumentParser(
        description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter
    )
    parser.add_argument("-n", type=int, default=100, help="requests per endpoint")
    parser.add_argument("--profile", choices=["quote", "purchase"], help="cProfile this endpoint")
    parser.add_argument("--sort", default="cumulative")
    parser.add_argument("--profile-out", help="also write the raw cProfile stats to this file")
    parser.add_argument("--lines", type=int, default=50)
    parser.add_argument("--sql-chars", type=int, default=400, help="with --sql: characters per statement")
    parser.add_argument("--sql", choices=["quote", "purchase"], help="print the statements of one request")
    parser.add_argument(
        "--statements",
        choices=["quote", "purchase"],
        help="time every statement of this endpoint's requests (perf_counter around execute) and "
        "print them grouped by their first words: count and ms per request",
    )
    args = parser.parse_args()

    django.setup()
    from django.conf import settings
    from django.db import connection
    from django.test import Client
    from django.test.utils import CaptureQueriesContext

    settings.ALLOWED_HOSTS = ["*"]
    state = json.loads((Path(__file__).parent / "state.json").read_text())
    client = Client(HTTP_AUTHORIZATION=f"Api-Key {state['api_key']}")
    first, count = state["member_first"], state["member_count"]
    run = uuid.uuid4().hex[:8]
    rng = random.Random()  # not seeded: repeated runs must not pile up on the fraud limits of a few members

    def body(endpoint: str, n: int) -> dict:
        data = {
            "member": first + rng.randrange(count),
            "amount": f"{rng.randint(5, 300)}.{rng.randint(0, 99):02d}",
            "currency": rng.choice(["USD", "AZN", "EUR", "GBP"]),
        }
        if endpoint == "purchase":
            data["external_id"] = f"P-{run}-{n}"
        return data

    paths = {"quote": "/api/v1/purchases/quote/", "purchase": "/api/v1/purchases/"}

    def send(endpoint: str, n: int):
        response = client.post(paths[endpoint], body(endpoint, n), content_type="application/json")
        assert response.status_code in (200, 201), (response.status_code, response.content[:300])
        return response

    for endpoint in ("quote", "purchase"):
        for n in range(3):  # warm up: imports, connection, caches
            send(endpoint, -1 - n)
        times, queries, db_times = [], [], []
        profiler = cProfile.Profile() if args.profile == endpoint else None
        timed: dict[str, list[float]] = {}

        def timing(execute, sql, params, many, context, timed=timed):
            started = time.perf_counter()
            try:
                return execute(sql, params, many, context)
            finally:
                label = " ".join(sql.split())[:90]
                timed.setdefault(label, []).append((time.perf_counter() - started) * 1000)

        for n in range(args.n):
            wrapper = connection.execute_wrapper(timing) if args.statements == endpoint else nullcontext()
            with wrapper, CaptureQueriesContext(connection) as captured:
                started = time.perf_counter()
                if profiler:
                    profiler.enable()
                send(endpoint, n)
                if profiler:
                    profiler.disable()
                times.append((time.perf_counter() - started) * 1000)
            queries.append(len(captured))
            db_times.append(sum(float(query["time"]) for query in captured) * 1000)
            if args.sql == endpoint and n == 0:
                for query in captured:
                    print(f"  {query['time']}s  {query['sql'][: args.sql_chars]}")
        times.sort()
        print(
            f"{endpoint:9} n={args.n} median={statistics.median(times):.2f} ms "
            f"p90={times[int(len(times) * 0.9) - 1]:.2f} ms  queries median={statistics.median(queries)} "
            f"min={min(queries)} max={max(queries)}  "
            f"in cursor.execute median={statistics.median(db_times):.2f} ms"
        )
        if timed:
            total = sum(sum(values) for values in timed.values()) / args.n
            print(f"statements: {total:.2f} ms per request in execute (ORM-built ones included)")
            for label, values in sorted(timed.items(), key=lambda item: -sum(item[1])):
                print(f"  {len(values) / args.n:5.2f}x {sum(values) / args.n:6.3f} ms  {label}")
        if profiler:
            if args.profile_out:
                profiler.dump_stats(args.profile_out)
            pstats.Stats(profiler).sort_stats(args.sort).print_stats(args.lines)


if __name__ == "__main__":
    main()
