"""A database connection the server dropped between two requests costs no request: health checks
(CONN_HEALTH_CHECKS) find it when the next request first uses it and reconnect."""

import io

import psycopg
from django.core.handlers.wsgi import WSGIHandler
from django.db import connection


def _get(handler, path):
    """One request through Django's real WSGI handler (unlike the test client, it runs the
    request_started / request_finished signals that manage persistent connections)."""
    environ = {
        "REQUEST_METHOD": "GET",
        "PATH_INFO": path,
        "SERVER_NAME": "testserver",
        "SERVER_PORT": "80",
        "wsgi.url_scheme": "http",
        "wsgi.input": io.BytesIO(b""),
        "REMOTE_ADDR": "127.0.0.1",
    }
    statuses = []
    response = handler(environ, lambda status, headers: statuses.append(status))
    body = b"".join(response)
    response.close()
    return int(statuses[0].split()[0]), body


def test_request_after_the_backend_was_killed_answers(transactional_db, member):
    assert connection.settings_dict["CONN_HEALTH_CHECKS"] is True
    assert connection.settings_dict["CONN_MAX_AGE"] > 0  # persistent: the connection outlives a request
    handler = WSGIHandler()
    url = f"/card/{member.card_token}/"
    assert _get(handler, url)[0] == 200
    pid = connection.connection.info.backend_pid

    settings = connection.settings_dict
    with psycopg.connect(
        dbname=settings["NAME"],
        user=settings["USER"],
        host=settings["HOST"],
        port=settings["PORT"] or 5432,
        password=settings["PASSWORD"] or None,
        autocommit=True,
    ) as other:
        assert other.execute("SELECT pg_terminate_backend(%s)", [pid]).fetchone()[0] is True

    status, body = _get(handler, url)
    assert status == 200, body[:500]
    assert connection.connection.info.backend_pid != pid
