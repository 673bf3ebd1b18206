"""Operators' endpoints (ops app): liveness, readiness with bounded checks, Prometheus metrics behind a
token or a staff login, one log line without traceback for a 403 / 404, JSON logs, Sentry."""

import json
import logging
import os
import socket
import subprocess
import sys
from pathlib import Path
from time import monotonic

import pytest
from django.core.exceptions import PermissionDenied
from django.db import connection
from django.http import Http404
from django.test import override_settings
from django.urls import include, path

from loyalty_site.core.jobs import run_job

BASE_DIR = Path(__file__).resolve().parents[2]


def _forbidden(request):
    raise PermissionDenied


def _missing(request):
    raise Http404("no such thing")


urlpatterns = [
    path("forbidden/", _forbidden),
    path("missing/", _missing),
    path("", include("ops.urls")),
]


@pytest.fixture
def black_hole():
    """A listener that accepts connections and never answers."""
    listener = socket.socket()
    listener.bind(("127.0.0.1", 0))
    listener.listen(16)
    yield listener.getsockname()[1]
    listener.close()


def test_healthz_touches_nothing(client):
    response = client.get("/healthz/")
    assert response.status_code == 200
    assert response.json() == {"status": "ok"}


def test_readyz_reports_database_and_broker(client, db, tmp_path):
    with override_settings(CELERY_BROKER_URL=f"sqla+sqlite:///{tmp_path / 'broker.sqlite3'}"):
        response = client.get("/readyz/")
    assert response.status_code == 200, response.content
    body = response.json()
    assert body["status"] == "ok"
    assert body["checks"]["database"]["ok"] is True
    assert body["checks"]["broker"]["ok"] is True


@pytest.mark.parametrize("broker", ["refused", "black_hole_redis", "black_hole_amqp"])
def test_readyz_answers_503_in_bounded_time_when_the_broker_is_down(client, db, black_hole, broker):
    url = {
        "refused": "redis://127.0.0.1:1/0",
        "black_hole_redis": f"redis://127.0.0.1:{black_hole}/0",
        "black_hole_amqp": f"amqp://guest:guest@127.0.0.1:{black_hole}//",
    }[broker]
    started = monotonic()
    with override_settings(CELERY_BROKER_URL=url, READINESS_TIMEOUT=0.5):
        response = client.get("/readyz/")
    assert monotonic() - started < 10  # the whole request, on a loaded machine
    assert response.status_code == 503
    body = response.json()
    assert body["status"] == "unavailable"
    assert body["checks"]["broker"]["ok"] is False and body["checks"]["broker"]["error"]
    # The check gives up after its timeout (0.5 s; the margin is for a loaded machine: never answering
    # would take until the test's own limit).
    assert body["checks"]["broker"]["seconds"] < 5
    assert body["checks"]["database"]["ok"] is True


def test_readyz_answers_503_when_the_database_is_unreachable(client, db, black_hole, tmp_path, monkeypatch):
    params = connection.get_connection_params()
    monkeypatch.setattr(
        connection, "get_connection_params", lambda: {**params, "host": "127.0.0.1", "port": black_hole}
    )
    started = monotonic()
    with override_settings(
        CELERY_BROKER_URL=f"sqla+sqlite:///{tmp_path / 'broker.sqlite3'}", READINESS_TIMEOUT=1
    ):
        response = client.get("/readyz/")
    assert monotonic() - started < 10
    assert response.status_code == 503
    database = response.json()["checks"]["database"]
    assert database["ok"] is False
    assert database["seconds"] < 5


@override_settings(METRICS_TOKEN="s3cret-token")
def test_metrics_need_a_token_or_a_staff_login(client, db, staff_user, merchant, django_user_model):
    assert client.get("/metrics").status_code == 401
    assert client.get("/metrics", HTTP_AUTHORIZATION="Bearer wrong").status_code == 403
    client.force_login(staff_user(merchant, "cashier"))  # a cashier is not staff
    assert client.get("/metrics").status_code == 403
    client.logout()

    response = client.get("/metrics", HTTP_AUTHORIZATION="Bearer s3cret-token")
    assert response.status_code == 200
    assert response["Content-Type"].startswith("text/plain")
    client.force_login(django_user_model.objects.create_superuser("root", "r@example.com", "pw-12345!x"))
    assert client.get("/metrics").status_code == 200


@override_settings(METRICS_TOKEN="s3cret-token")
def test_metrics_count_requests_jobs_and_the_outbox(client, db, now):
    client.get("/healthz/")
    client.get("/no-such-page/")
    run_job("idempotency_purge", at=now)
    text = client.get("/metrics", HTTP_AUTHORIZATION="Bearer s3cret-token").content.decode()
    assert 'loyalty_http_requests_total{method="GET",status="200",view="ops:healthz"}' in text
    assert 'loyalty_http_requests_total{method="GET",status="404",view="<unresolved>"}' in text
    assert 'loyalty_http_request_duration_seconds_count{method="GET",status="200",view="ops:healthz"}' in text
    assert 'loyalty_job_runs_total{job="idempotency_purge",outcome="ok"}' in text
    assert 'loyalty_job_duration_seconds_count{job="idempotency_purge",outcome="ok"}' in text
    assert 'loyalty_outbox_pending{kind="notification"} 0.0' in text
    assert 'loyalty_outbox_oldest_pending_seconds{kind="webhook"} 0.0' in text


def test_metrics_count_a_failed_job(db, now, monkeypatch):
    from loyalty_site.core import jobs
    from ops.metrics import JOB_RUNS

    def broken(*, at):
        raise RuntimeError("boom")

    jobs.all_jobs()
    monkeypatch.setitem(jobs._JOBS, "broken_job", jobs.Job("broken_job", broken, "hourly", "test"))
    with pytest.raises(RuntimeError):
        run_job("broken_job", at=now)
    assert JOB_RUNS.labels(job="broken_job", outcome="error")._value.get() == 1


def test_metrics_sum_every_process_in_multiprocess_mode(db, tmp_path):
    """Under gunicorn each worker writes its samples to PROMETHEUS_MULTIPROC_DIR; /metrics of any
    worker answers the sum: here one process serves /healthz/ and exits, another serves /metrics."""
    env = {
        **os.environ,
        "PROMETHEUS_MULTIPROC_DIR": str(tmp_path),
        "LOYALTY_TESTING": "1",
        "METRICS_TOKEN": "t0ken",
        "DATABASE_URL": "postgres://{USER}@{HOST}:{PORT}/{NAME}".format(
            **{**connection.settings_dict, "PORT": connection.settings_dict["PORT"] or 5432}
        ),
    }
    script = (
        "import django, os, sys; os.environ.setdefault('DJANGO_SETTINGS_MODULE', 'loyalty_site.settings');"
        "django.setup(); from django.test import Client; c = Client();"
        "r = c.get(sys.argv[1], HTTP_AUTHORIZATION='Bearer t0ken'); sys.stdout.write(r.content.decode())"
    )
    for _ in range(2):
        subprocess.run(
            [sys.executable, "-c", script, "/healthz/"], env=env, cwd=BASE_DIR, check=True, timeout=120
        )
    text = subprocess.run(
        [sys.executable, "-c", script, "/metrics"],
        env=env,
        cwd=BASE_DIR,
        check=True,
        timeout=120,
        capture_output=True,
        text=True,
    ).stdout
    assert 'loyalty_http_requests_total{method="GET",status="200",view="ops:healthz"} 2.0' in text
    assert "loyalty_outbox_pending" in text


@override_settings(ROOT_URLCONF=__name__)
@pytest.mark.parametrize(
    ("url", "status", "message"),
    [
        ("/forbidden/", 403, "Forbidden (Permission denied): /forbidden/"),
        ("/missing/", 404, "Not Found: /missing/"),
    ],
)
def test_a_403_or_404_logs_one_line_without_traceback(client, db, caplog, url, status, message):
    with caplog.at_level(logging.INFO):
        assert client.get(url).status_code == status
    records = [record for record in caplog.records if record.name.startswith("django")]
    assert [record.getMessage() for record in records] == [message]
    assert records[0].exc_info is None
    assert "Traceback" not in caplog.text


def test_json_log_format(rf):
    from ops.logging import json_formatter

    formatter = json_formatter()
    record = logging.LogRecord(
        "django.request", logging.WARNING, __file__, 1, "Not Found: %s", ("/x/",), None
    )
    record.status_code = 404
    record.request = rf.get("/x/")
    line = formatter.format(record)
    assert "\n" not in line
    data = json.loads(line)
    assert data["level"] == "WARNING"
    assert data["logger"] == "django.request"
    assert data["message"] == "Not Found: /x/"
    assert data["status_code"] == 404


def test_log_format_json_setting_and_sentry_from_the_environment():
    """LOG_FORMAT=json makes the console handler write JSON; SENTRY_DSN turns Sentry on."""
    env = {
        **os.environ,
        "LOYALTY_TESTING": "1",
        "LOG_FORMAT": "json",
        "SENTRY_DSN": "http://public@127.0.0.1:9/1",
    }
    script = (
        "import django, logging, os;"
        "os.environ.setdefault('DJANGO_SETTINGS_MODULE', 'loyalty_site.settings');"
        "django.setup(); import sentry_sdk; print(sentry_sdk.get_client().is_active());"
        "logging.getLogger('loyalty.test').warning('hello %s', 'there')"
    )
    result = subprocess.run(
        [sys.executable, "-c", script],
        env=env,
        cwd=BASE_DIR,
        check=True,
        timeout=120,
        capture_output=True,
        text=True,
    )
    assert result.stdout.strip() == "True"
    line = [line for line in result.stderr.splitlines() if "hello" in line][0]
    assert json.loads(line)["message"] == "hello there"
