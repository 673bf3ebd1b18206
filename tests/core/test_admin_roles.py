"""The role matrix, asserted by really calling every admin action and custom admin URL.

Rules (README "Who can do what"): owner and manager change; the analyst reads only (an action or
page that writes is neither offered nor obeyed, and no secret is shown); a cashier has no admin;
users, groups and job schedules are for superusers only. The walk covers every registered
ModelAdmin, so an action or a custom URL added later is covered without touching this file; an
admin with its own actions needs at least one row in `world` (the test says which).
"""

from __future__ import annotations

from datetime import timedelta

import pytest
from django.apps import apps
from django.contrib import admin
from django.contrib.admin.sites import AdminSite
from django.contrib.auth.models import Permission
from django.db import connection
from django.test import RequestFactory
from django.urls import reverse

from accounts.models import Member
from accounts.services import api_key_create
from campaigns.models import Partner
from fraud.models import FraudFlag, FraudRule
from loyalty_site.core.checks import admin_action_errors
from loyalty_site.core.events import event_emit
from loyalty_site.core.presets import preset_apply
from notifications.models import ChannelSettings, WebhookSubscription
from tests.campaigns.conftest import T0
from tests.factories import MemberFactory, ProgramFactory
from tiers.models import Tier
from tiers.services import tier_override_set

ROLES = ["owner", "manager", "analyst", "cashier", "superuser"]
WRITERS = {"owner", "manager", "superuser"}
SUPERUSER_ONLY = {
    "auth.user",
    "auth.group",
    "django_celery_beat.periodictask",
    "django_celery_beat.clockedschedule",
    "django_celery_beat.crontabschedule",
    "django_celery_beat.solarschedule",
    "django_celery_beat.intervalschedule",
    "axes.accessattempt",  # login lockouts (ops/admin.py): they name users of every merchant
}
STANDARD_VIEWS = ("changelist", "add", "history", "delete", "change", "autocomplete")
# Rows that change by merely being logged in or served, not by an action.
NOT_DATA = {"django_session"}
WEBHOOK_SECRET = "whsec_roles-test-signing-secret-0123456789"
CHAT_TOKEN = "bot-token-roles-test-0123456789"


def database_state() -> dict[str, int]:
    """Rows inserted, updated or deleted so far in this test's transaction, per table (PostgreSQL's
    own counters, rolled-back attempts included): equal before and after means nothing was written."""
    with connection.cursor() as cursor:
        cursor.execute(
            "SELECT relname, n_tup_ins + n_tup_upd + n_tup_del FROM pg_stat_xact_user_tables "
            "WHERE relname <> ALL(%s)",
            [list(NOT_DATA)],
        )
        return dict(cursor.fetchall())


def changed_tables(before: dict[str, int], after: dict[str, int]) -> list[str]:
    return sorted(table for table, count in after.items() if count != before.get(table, 0))


@pytest.fixture
def world(db, staff_user, django_user_model):
    """One merchant with the seed and demo presets, plus a row for every admin that has actions."""
    program = ProgramFactory(base_currency="AZN", time_zone="Asia/Baku")
    preset_apply(program=program, preset="seed", at=T0)
    preset_apply(program=program, preset="demo", at=T0)
    api_key_create(program=program, name="pos")
    WebhookSubscription.objects.create(
        program=program, url="https://hooks.example.com/in", events=[], secret=WEBHOOK_SECRET, created_at=T0
    )
    ChannelSettings.objects.update_or_create(
        program=program,
        defaults={
            "chat_enabled": True,
            "chat_base_url": "https://bot.example.com",
            "chat_bot_token": CHAT_TOKEN,
        },
    )
    member = Member.objects.filter(program=program).order_by("pk").first()
    event_emit(program=program, type="member.inactive", at=T0, member=member, data={"idle_days": 30})
    rule = FraudRule.objects.create(
        program=program, name="Ten a day", kinds=["earn"], window_minutes=1440, max_count=10
    )
    suspect = MemberFactory(program=program, at=T0)
    FraudFlag.objects.create(
        program=program,
        member=suspect,
        rule=rule,
        rule_name=rule.name,
        window_start=T0 - timedelta(days=1),
        window_end=T0,
        transactions=12,
        amount=100,
        detected_at=T0,
    )
    tier = Tier.objects.filter(program=program).order_by("-rank").first()
    tier_override_set(member=member, tier=tier, reason="VIP guest", ends_at=T0 + timedelta(days=30), at=T0)
    Partner.objects.get_or_create(program=program, code="air", defaults={"name": "Airline", "rate": 1})
    from django_celery_beat.models import IntervalSchedule, PeriodicTask

    every = IntervalSchedule.objects.create(every=1, period=IntervalSchedule.HOURS)
    PeriodicTask.objects.create(name="roles-test", task="loyalty.run_job", interval=every, enabled=False)

    users = {role: staff_user(program.merchant, role) for role in ROLES if role != "superuser"}
    users["superuser"] = django_user_model.objects.create_superuser("root", "root@example.com", "pw-12345!x")
    # a Django permission must not open platform admins to merchant staff
    users["owner"].user_permissions.add(Permission.objects.get(codename="view_user"))
    return {"program": program, "users": users}


def _request(user):
    request = RequestFactory().get("/admin/")
    request.user = user
    return request


def _url(model, view, *args):
    return reverse(f"admin:{model._meta.app_label}_{model._meta.model_name}_{view}", args=args)


def _custom_urls(model, model_admin):
    """(name, kwargs needing an object) of the admin's own URLs (get_urls beyond Django's)."""
    standard = {f"{model._meta.app_label}_{model._meta.model_name}_{view}" for view in STANDARD_VIEWS}
    for pattern in model_admin.get_urls():
        name = getattr(pattern, "name", None)
        if name and name not in standard:
            yield name, list(pattern.pattern.converters)


def _is_read(func) -> bool:
    """An action that only reads: it declares permissions and they are all "view"."""
    permissions = set(getattr(func, "allowed_permissions", None) or {"undeclared"})
    return permissions <= {"view"}


def _registry():
    return sorted(admin.site._registry.items(), key=lambda item: item[0]._meta.label)


def test_every_admin_action_declares_permissions():
    assert admin_action_errors() == []


def test_the_system_check_refuses_an_action_without_permissions():
    from django.contrib.auth.models import Group

    def shout(modeladmin, request, queryset):  # pragma: no cover - never run
        pass

    class Careless(admin.ModelAdmin):
        actions = [shout]

    site = AdminSite(name="careless")
    site.register(Group, Careless)
    errors = admin_action_errors(site)
    assert [error.id for error in errors] == ["loyalty.E001"]
    assert "shout" in errors[0].msg


@pytest.mark.parametrize("role", ROLES)
def test_role_matrix_over_every_admin_action(client, world, role):
    user = world["users"][role]
    client.force_login(user)
    request = _request(user)
    walked = 0
    for model, model_admin in _registry():
        label = model._meta.label_lower
        declared = {name: func for func, name, _ in model_admin._get_base_actions()}
        own_actions = set(model_admin.actions or ()) - {"delete_selected"}
        pks = list(model._default_manager.order_by("pk").values_list("pk", flat=True)[:20])
        if own_actions and label not in SUPERUSER_ONLY:
            assert pks, (
                f"seed a {model._meta.label} in the world fixture: its admin has actions {own_actions}"
            )
        offered = set(model_admin.get_actions(request)) if role != "cashier" else set()

        # what is offered follows the rule
        if role == "cashier" or (label in SUPERUSER_ONLY and role != "superuser"):
            assert offered == set(), (label, role, offered)
        elif role == "analyst":
            reads = {n for n, f in declared.items() if _is_read(f)}
            assert offered == reads, f"{label}: the analyst is offered {offered - reads}"
        else:
            reads = {n for n, f in declared.items() if _is_read(f)}
            assert reads <= offered, (label, role)

        # and so is what happens when the action is posted anyway
        for name, func in declared.items():
            if label in SUPERUSER_ONLY and name in offered and name != "export_selected_csv":
                continue  # celery-beat's own actions (run_tasks sends real tasks)
            walked += 1
            before = database_state()
            response = client.post(_url(model, "changelist"), {"action": name, "_selected_action": pks})
            after = database_state()
            read_only = _is_read(func)
            if name not in offered:
                assert changed_tables(before, after) == [], f"{role} ran {label}.{name}"
                assert response.status_code in (200, 302, 403), (label, name, response.status_code)
                assert "Content-Disposition" not in response, f"{role} exported via {label}.{name}"
                if role == "cashier":
                    assert response.status_code == 302 and "/login/" in response.url
            else:
                assert response.status_code in (200, 302), (label, name, role, response.status_code)
                if read_only:
                    assert changed_tables(before, after) == [], f"the read {label}.{name} wrote"
    assert walked > 40


@pytest.mark.parametrize("role", ROLES)
def test_role_matrix_over_every_custom_admin_url(client, world, role):
    """GET and POST every get_urls() page: a cashier is sent to the login, an analyst never
    writes, the superuser-only admins answer 403 to merchant staff."""
    user = world["users"][role]
    client.force_login(user)
    walked = 0
    for model, model_admin in _registry():
        label = model._meta.label_lower
        pk = model._default_manager.order_by("pk").values_list("pk", flat=True).first()
        for name, converters in _custom_urls(model, model_admin):
            if converters and pk is None:
                continue
            url = reverse(f"admin:{name}", kwargs={key: pk for key in converters})
            walked += 1
            before = database_state()
            got = client.get(url)
            posted = client.post(url, {})
            after = database_state()
            assert got.status_code < 500 and posted.status_code < 500, (url, got.status_code)
            if role == "cashier":
                assert got.status_code == 302 and "/login/" in got.url, url
                assert posted.status_code == 302, url
            if role in ("cashier", "analyst"):
                assert changed_tables(before, after) == [], f"{role} changed data through {url}"
            if label in SUPERUSER_ONLY and role != "superuser":
                assert got.status_code in (302, 403), url
    assert walked >= 3


def test_analyst_cannot_open_write_pages(client, world):
    client.force_login(world["users"]["analyst"])
    assert client.get(reverse("admin:ledger_posting_adjust")).status_code == 403
    assert client.get(reverse("reports:import")).status_code == 403
    member = Member.objects.filter(program=world["program"]).first()
    response = client.post(
        reverse("admin:ledger_posting_adjust"),
        {"member": member.pk, "points": 500, "reason": "x", "token": "t"},
    )
    assert response.status_code == 403
    assert member.balance == Member.objects.get(pk=member.pk).balance


@pytest.mark.parametrize("role", ["owner", "manager", "analyst"])
def test_platform_admins_are_superuser_only(client, world, role):
    client.force_login(world["users"][role])
    for label in SUPERUSER_ONLY:
        model = apps.get_model(label)
        assert client.get(_url(model, "changelist")).status_code == 403, label
    index = client.get(reverse("admin:index"))
    shown = {m["object_name"].lower() for app in index.context["app_list"] for m in app["models"]}
    assert not shown & {"user", "group", "periodictask"}
    client.force_login(world["users"]["superuser"])
    for label in SUPERUSER_ONLY:
        assert client.get(_url(apps.get_model(label), "changelist")).status_code == 200, label


@pytest.mark.parametrize(("role", "shown"), [("owner", True), ("manager", True), ("analyst", False)])
def test_secrets_and_write_links_follow_the_role(client, world, role, shown):
    client.force_login(world["users"][role])
    subscription = WebhookSubscription.objects.get(program=world["program"])
    page = client.get(_url(WebhookSubscription, "change", subscription.pk)).content.decode()
    assert (WEBHOOK_SECRET in page) is shown
    settings_row = ChannelSettings.objects.get(program=world["program"])
    page = client.get(_url(ChannelSettings, "change", settings_row.pk)).content.decode()
    assert (CHAT_TOKEN in page) is shown
    listing = client.get(_url(ChannelSettings, "changelist")).content.decode()
    assert CHAT_TOKEN not in listing
    for model, pk in ((WebhookSubscription, subscription.pk), (ChannelSettings, settings_row.pk)):
        export = client.post(
            _url(model, "changelist"), {"action": "export_selected_csv", "_selected_action": [pk]}
        )
        body = b"".join(export.streaming_content).decode()
        assert WEBHOOK_SECRET not in body and CHAT_TOKEN not in body

    import_url = reverse("reports:import")
    assert (import_url in client.get(reverse("admin:index")).content.decode()) is shown
    assert (import_url in client.get(reverse("reports:dashboard")).content.decode()) is shown
    adjust_url = reverse("admin:ledger_posting_adjust")
    from ledger.models import Posting

    assert (adjust_url in client.get(_url(Posting, "changelist")).content.decode()) is shown
    member = Member.objects.filter(program=world["program"]).first()
    assert (adjust_url in client.get(_url(Member, "change", member.pk)).content.decode()) is shown


@pytest.mark.parametrize("role", ROLES)
def test_report_pages_follow_the_role(client, world, role):
    from reports import exports

    client.force_login(world["users"][role])
    reads = [reverse("reports:dashboard"), reverse("reports:events")]
    reads += [
        reverse("reports:export", args=[name, fmt]) for name in exports.DATASETS for fmt in ("csv", "xlsx")
    ]
    for url in [*reads, reverse("reports:import")]:
        before = database_state()
        response = client.get(url)
        assert changed_tables(before, database_state()) == [], url
        if role == "cashier":
            assert response.status_code == 302 and "/login/" in response.url, url
        elif url == reverse("reports:import"):
            assert response.status_code == (403 if role == "analyst" else 200), url
        else:
            assert response.status_code in (200, 302), url
    before = database_state()
    response = client.post(reverse("reports:import"), {"program": world["program"].pk})
    if role in ("cashier", "analyst"):
        assert response.status_code in (302, 403)
        assert changed_tables(before, database_state()) == []


def test_one_export_action_per_format(world):
    """Issue 18: no two near-identical exports side by side; coupons and batches export their codes
    through the one "Export selected to CSV"."""
    request = _request(world["users"]["superuser"])
    for model, model_admin in _registry():
        descriptions = [str(description).lower() for _f, _n, description in model_admin._get_base_actions()]
        exports = [d for d in descriptions if "export" in d]
        for fmt in ("csv", "xlsx"):
            assert len([d for d in exports if fmt in d]) <= 1, (model._meta.label, exports)
        assert set(model_admin.get_actions(request)) >= {"export_selected_csv"}


def test_coupon_export_gives_codes(client, world):
    from campaigns.models import Coupon, CouponBatch

    client.force_login(world["users"]["analyst"])
    batch = CouponBatch.objects.filter(program=world["program"]).first()
    response = client.post(
        _url(CouponBatch, "changelist"), {"action": "export_selected_csv", "_selected_action": [batch.pk]}
    )
    body = response.content.decode()
    assert response.status_code == 200 and batch.coupons.first().code in body
    coupon = Coupon.objects.filter(program=world["program"]).first()
    response = client.post(
        _url(Coupon, "changelist"), {"action": "export_selected_csv", "_selected_action": [coupon.pk]}
    )
    assert coupon.code in response.content.decode()
