from datetime import timedelta

import pytest
from django.urls import reverse

from accounts.models import Member
from fraud.models import FraudFlag, FraudRule
from fraud.services import fraud_monitor_run
from ledger.services import points_earn
from loyalty_site.core.events import event_emit
from notifications.models import Channel, NotificationTemplate, WebhookDelivery, WebhookSubscription
from notifications.presets import seed_notification_templates
from notifications.services import webhook_subscription_create
from tests.factories import MemberFactory, MerchantFactory, ProgramFactory

pytestmark = pytest.mark.django_db


def url(model, view, *args):
    return reverse(f"admin:{model._meta.app_label}_{model._meta.model_name}_{view}", args=args)


def test_template_preview_renders_and_syntax_errors_are_refused(client, staff_user, program, member, now):
    seed_notification_templates(program=program, at=now)
    client.force_login(staff_user(program.merchant, "manager"))
    template = NotificationTemplate.objects.get(
        program=program, event_type="tier.changed", channel=Channel.EMAIL
    )
    page = client.get(url(NotificationTemplate, "change", template.pk))
    assert page.status_code == 200
    assert "You are now Silver" in page.content.decode()
    assert f"your {program.name} level changed from Bronze to Silver." in page.content.decode()
    # every language's version previewed (issue 19)
    assert "Yeni səviyyəniz: Silver" in page.content.decode()
    assert "Ваш новый уровень: Silver" in page.content.decode()
    assert "Жаңа деңгейіңіз: Silver" in page.content.decode()

    response = client.post(
        url(NotificationTemplate, "change", template.pk),
        {
            "program": program.pk,
            "event_type": "tier.changed",
            "channel": "email",
            "subject_en": "ok",
            "body_en": "Hello",
            "body_ru": "{% if %}",  # every language's version is checked
            "is_active": "on",
        },
    )
    assert response.status_code == 200 and "Template error" in response.content.decode()
    template.refresh_from_db()
    assert template.subject == "You are now {{ data.to_name }}"


def test_staff_see_only_their_merchants_notification_rows(client, staff_user, program, member, now):
    other = ProgramFactory(merchant=MerchantFactory())
    seed_notification_templates(program=program, at=now)
    seed_notification_templates(program=other, at=now)
    theirs, _ = webhook_subscription_create(program=other, url="https://other.test/h", events=[], at=now)
    event_emit(
        program=other, type="member.inactive", at=now, member=MemberFactory(program=other, at=now), data={}
    )
    client.force_login(staff_user(program.merchant, "analyst"))
    listing = client.get(url(NotificationTemplate, "changelist"))
    assert listing.status_code == 200 and listing.context["cl"].result_count == 18
    response = client.get(url(WebhookSubscription, "change", theirs.pk))
    # the admin answers a row outside the user's scope like a missing one: back to the index
    assert response.status_code == 302 and response.url == reverse("admin:index")
    assert client.get(url(WebhookDelivery, "changelist")).context["cl"].result_count == 0


def test_subscription_added_in_the_admin_gets_a_secret_and_can_be_rotated(client, staff_user, program, now):
    client.force_login(staff_user(program.merchant, "owner"))
    response = client.post(
        url(WebhookSubscription, "add"),
        {
            "program": program.pk,
            "url": "https://crm.test/hook",
            "events": ["points.earned"],
            "is_active": "on",
        },
    )
    assert response.status_code == 302, response.content
    subscription = WebhookSubscription.objects.get()
    assert subscription.secret.startswith("whsec_") and subscription.events == ["points.earned"]
    old = subscription.secret
    client.post(
        url(WebhookSubscription, "changelist"),
        {"action": "rotate_secret", "_selected_action": [subscription.pk]},
    )
    subscription.refresh_from_db()
    assert subscription.previous_secret == old and subscription.secret != old


def test_unblock_action_clears_the_flag_and_the_block(client, staff_user, program, member, now):
    for i in range(3):
        points_earn(member=member, points=10, at=now, reference=f"r{i}")
    FraudRule.objects.create(
        program=program, name="v", window_minutes=60, max_count=2, enforce_in_real_time=False
    )
    fraud_monitor_run(at=now + timedelta(minutes=1))
    flag = FraudFlag.objects.get()
    client.force_login(staff_user(program.merchant, "manager"))
    assert client.get(url(FraudFlag, "changelist")).context["cl"].result_count == 1
    client.post(url(FraudFlag, "changelist"), {"action": "unblock", "_selected_action": [flag.pk]})
    flag.refresh_from_db()
    assert flag.status == "cleared" and flag.reviewed_by is not None
    assert Member.objects.get(pk=member.pk).status == Member.Status.ACTIVE
