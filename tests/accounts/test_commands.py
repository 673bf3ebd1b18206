import json
import os
import subprocess
import sys
from io import StringIO
from pathlib import Path

import pytest
from django.core.management import call_command

from accounts.models import ApiKey, Member, Merchant, Program
from accounts.selectors import api_key_authenticate
from accounts.services import api_key_create, api_key_hash, api_key_revoke

ROOT = Path(__file__).resolve().parents[2]


def run_command(*args):
    out, err = StringIO(), StringIO()
    call_command(*args, stdout=out, stderr=err)
    return out.getvalue()


@pytest.mark.django_db
def test_bootstrap_program_prints_json_and_the_key_authenticates():
    output = run_command(
        "bootstrap_program",
        "--merchant",
        "Shop",
        "--program",
        "Points",
        "--currency",
        "azn",
        "--preset",
        "seed",
    )
    payload = json.loads(output.strip().splitlines()[-1])
    assert set(payload) == {"merchant_id", "program_id", "api_key"}
    program = Program.objects.get(pk=payload["program_id"])
    assert program.merchant_id == payload["merchant_id"] == Merchant.objects.get(name="Shop").pk
    assert program.base_currency == "AZN"
    # PRODUCT.md §2 defaults
    assert program.expiry_warning_hours == 48
    assert program.renewal_window_hours == 24
    assert program.inactivity_days == 30
    assert program.decay_percent == 5
    assert program.cashout_daily_limit == 5000
    assert program.cashout_monthly_limit == 20000
    assert program.cashout_fee_percent < 0.5

    key = api_key_authenticate(payload["api_key"])
    assert key is not None and key.program_id == program.pk
    assert key.last_used_at is not None
    stored = ApiKey.objects.get(program=program)
    assert stored.hashed_key == api_key_hash(payload["api_key"])
    assert payload["api_key"] not in {stored.hashed_key, stored.prefix, stored.name}
    assert stored.prefix in payload["api_key"]


@pytest.mark.django_db
def test_bootstrap_refuses_a_duplicate_program():
    run_command("bootstrap_program", "--merchant", "Shop", "--program", "Points")
    from django.core.management.base import CommandError

    with pytest.raises(CommandError):
        run_command("bootstrap_program", "--merchant", "Shop", "--program", "Points")
    assert Program.objects.count() == 1


@pytest.mark.django_db
def test_create_api_key_prints_a_working_key_last(program):
    output = run_command("create_api_key", "--program", str(program.pk))
    raw = output.strip().splitlines()[-1]
    assert api_key_authenticate(raw).program == program


@pytest.mark.django_db
def test_revoked_or_wrong_keys_do_not_authenticate(program):
    key, raw = api_key_create(program=program)
    assert api_key_authenticate(raw[:-1] + ("A" if raw[-1] != "A" else "B")) is None
    assert api_key_authenticate("") is None
    assert api_key_authenticate("garbage") is None
    api_key_revoke(key=key)
    assert api_key_authenticate(raw) is None


@pytest.mark.django_db
def test_load_demo_is_idempotent():
    run_command("load_demo")
    counts = (Merchant.objects.count(), Program.objects.count(), Member.objects.count())
    run_command("load_demo")
    assert (Merchant.objects.count(), Program.objects.count(), Member.objects.count()) == counts
    assert counts[2] >= 8


def test_check_deploy_is_clean_with_a_production_environment():
    env = {
        **{
            k: v
            for k, v in os.environ.items()
            if k not in {"DEBUG", "LOYALTY_TESTING", "DJANGO_ALLOW_ASYNC_UNSAFE"}
        },
        "SECRET_KEY": "x" * 30 + "production-like-secret-" + "y" * 30,
        "ALLOWED_HOSTS": "loyalty.example.com",
        "DATABASE_URL": "postgres://postgres@127.0.0.1:5432/postgres",
        "DEBUG": "0",
    }
    result = subprocess.run(
        [sys.executable, "manage.py", "check", "--deploy", "--fail-level", "WARNING"],
        cwd=ROOT,
        env=env,
        capture_output=True,
        text=True,
        timeout=120,
    )
    assert result.returncode == 0, result.stdout + result.stderr
    assert "no issues" in result.stdout


def test_settings_refuse_to_start_without_secret_key_when_debug_is_off():
    env = {k: v for k, v in os.environ.items() if k not in {"DEBUG", "LOYALTY_TESTING", "SECRET_KEY"}}
    result = subprocess.run(
        [sys.executable, "manage.py", "check"], cwd=ROOT, env=env, capture_output=True, text=True, timeout=120
    )
    assert result.returncode != 0
    assert "SECRET_KEY" in result.stderr


@pytest.mark.django_db
def test_the_database_broker_of_make_run_runs_a_task():
    """`make run` with no CELERY_BROKER_URL: the broker is kombu's SQLAlchemy transport on the
    database itself. A worker comes up on it and runs a task sent through it."""
    from django.conf import settings
    from sqlalchemy.engine import URL

    db = settings.DATABASES["default"]
    socket = (db["HOST"] or "").startswith("/")  # the embedded server listens on a unix socket
    url = URL.create(
        "postgres",
        username=db["USER"] or None,
        host=None if socket else (db["HOST"] or None),
        port=int(db["PORT"]) if db["PORT"] else None,
        database=db["NAME"],
        query={"host": db["HOST"]} if socket else {},
    )
    env = {
        **{
            k: v for k, v in os.environ.items() if k not in {"CELERY_BROKER_URL", "DJANGO_ALLOW_ASYNC_UNSAFE"}
        },
        "DEBUG": "1",
        "DATABASE_URL": url.render_as_string(hide_password=False),
    }
    worker = subprocess.Popen(
        [sys.executable, "-m", "celery", "-A", "loyalty_site", "worker", "-P", "solo"]
        + ["--without-mingle", "--without-gossip", "--without-heartbeat", "--loglevel", "INFO"],
        cwd=ROOT,
        env=env,
        stdout=subprocess.PIPE,
        stderr=subprocess.STDOUT,
        text=True,
    )
    lines = []
    try:
        for line in worker.stdout:
            lines.append(line)
            if " ready." in line:
                send = (
                    "from loyalty_site.celery import app; app.send_task('notifications.events_deliver', [[]])"
                )
                subprocess.run([sys.executable, "-c", send], cwd=ROOT, env=env, check=True, timeout=60)
            if "succeeded" in line or "Unrecoverable" in line or len(lines) > 400:
                break
    finally:
        worker.terminate()
        worker.wait(timeout=30)
    output = "".join(lines)
    assert "sqla+postgresql+psycopg://" in output, output
    assert "Task notifications.events_deliver[" in output and "succeeded" in output, output


def test_cache_url_puts_throttle_counters_in_redis(redis_url):
    """With CACHE_URL every web process shares one cache (the API and card-page throttles)."""
    env = {
        **{k: v for k, v in os.environ.items() if k != "DJANGO_ALLOW_ASYNC_UNSAFE"},
        "DEBUG": "1",
        "CACHE_URL": redis_url,
    }
    script = (
        "import django; django.setup()\n"
        "from django.core.cache import caches\n"
        "cache = caches['default']\n"
        "cache.set('loyalty-cache-check', 41); cache.incr('loyalty-cache-check')\n"
        "print(type(cache).__name__, cache.get('loyalty-cache-check'))\n"
        "cache.delete('loyalty-cache-check')\n"
    )
    result = subprocess.run(
        [sys.executable, "-c", script],
        cwd=ROOT,
        env={**env, "DJANGO_SETTINGS_MODULE": "loyalty_site.settings"},
        capture_output=True,
        text=True,
        timeout=120,
    )
    assert result.returncode == 0, result.stderr
    assert result.stdout.split() == ["RedisCache", "42"]
