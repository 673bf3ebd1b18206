"""Production URLs plus `/bench/floor/`, which exists only here (never in production URLs)."""

from django.db import connection, transaction
from django.urls import path
from rest_framework.parsers import JSONParser
from rest_framework.renderers import JSONRenderer
from rest_framework.response import Response
from rest_framework.views import APIView

from loyalty_site.urls import urlpatterns as production

CREATE_TABLES = """
CREATE TABLE IF NOT EXISTS bench_account (id integer PRIMARY KEY, balance bigint NOT NULL DEFAULT 0);
CREATE TABLE IF NOT EXISTS bench_history (
    id bigserial PRIMARY KEY, account_id integer NOT NULL, delta integer NOT NULL,
    created_at timestamptz NOT NULL DEFAULT now()
);
"""


class FloorView(APIView):
    """A bare DRF endpoint doing the three TPC-B-like statements in one transaction: the best a
    DRF write can do on this machine, the floor the purchase endpoint is compared with."""

    authentication_classes: list = []
    permission_classes: list = []
    throttle_classes: list = []
    parser_classes = [JSONParser]
    renderer_classes = [JSONRenderer]

    def post(self, request):
        account_id, delta = int(request.data["account"]), int(request.data["delta"])
        with transaction.atomic(), connection.cursor() as cursor:
            cursor.execute(
                "UPDATE bench_account SET balance = balance + %s WHERE id = %s", [delta, account_id]
            )
            cursor.execute("SELECT balance FROM bench_account WHERE id = %s", [account_id])
            (balance,) = cursor.fetchone()
            cursor.execute(
                "INSERT INTO bench_history (account_id, delta) VALUES (%s, %s)", [account_id, delta]
            )
        return Response({"account": account_id, "balance": balance}, status=201)


urlpatterns = [path("bench/floor/", FloorView.as_view()), *production]
