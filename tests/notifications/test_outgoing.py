"""The safe outgoing client: no request to a merchant-supplied URL reaches the platform's own
network, whether the URL is given to the API, to the admin, or stored already and re-resolved."""

import socket

import pytest
from django.urls import reverse

from loyalty_site.core.events import event_emit
from notifications import outgoing, signing
from notifications.models import (
    Channel,
    ChannelSettings,
    MemberContact,
    Notification,
    NotificationTemplate,
    OutboxStatus,
    WebhookDelivery,
    WebhookSubscription,
)
from notifications.services import outbox_deliver, webhook_subscription_create
from tests.api.conftest import make_tenant

pytestmark = pytest.mark.django_db

PUBLIC_IP = "93.184.215.14"  # a public address; nothing here connects to it

REFUSED = [
    "https://127.0.0.1/hook",
    "https://127.0.0.1:8443/hook",
    "https://[::1]:8443/hook",
    "https://[::ffff:127.0.0.1]/hook",
    "https://10.1.2.3/hook",
    "https://172.16.0.1/hook",
    "https://192.168.1.10/hook",
    "https://169.254.169.254/latest/meta-data/",
    "https://[fe80::1]/hook",
    "https://[fc00::1]/hook",
    "https://100.64.0.1/hook",
    "https://224.0.0.1/hook",
    "https://0.0.0.0/hook",
    "https://240.0.0.1/hook",
    "https://localhost/hook",  # a name that resolves to loopback
]


@pytest.mark.parametrize("url", REFUSED)
def test_private_loopback_link_local_multicast_and_reserved_addresses_are_refused(url):
    with pytest.raises(outgoing.UnsafeURL):
        outgoing.url_check(url)
    with pytest.raises(outgoing.UnsafeURL):
        outgoing.post(url, json={})


def test_public_https_passes_and_http_only_when_debug_is_on(settings):
    outgoing.url_check(f"https://{PUBLIC_IP}/hook")
    outgoing.url_check("https://[2606:4700:4700::1111]/hook")
    outgoing.url_check("https://hooks.example/x")  # does not resolve now: checked again before each send
    with pytest.raises(outgoing.UnsafeURL, match="https"):
        outgoing.url_check(f"http://{PUBLIC_IP}/hook")
    settings.DEBUG = True
    outgoing.url_check(f"http://{PUBLIC_IP}/hook")
    with pytest.raises(outgoing.UnsafeURL):
        outgoing.url_check("http://127.0.0.1:8000/hook")  # DEBUG allows http, never a private address


@pytest.mark.parametrize(
    "url",
    [
        "https://127.0.0.1:8443/hook",
        "https://[::1]:8443/hook",
        "https://10.0.0.7/hook",
        "https://169.254.169.254/latest/meta-data/",
        "https://localhost:8443/hook",
        f"http://{PUBLIC_IP}/hook",
    ],
)
def test_the_api_answers_400_with_fields_url(url):
    tenant = make_tenant()
    response = tenant.client.post("/api/v1/webhooks/", {"url": url, "events": []}, format="json")
    assert response.status_code == 400, response.content
    assert set(response.json()["error"]["fields"]) == {"url"}
    assert not WebhookSubscription.objects.exists()


def test_the_admin_forms_show_the_refusal(client, staff_user, program):
    client.force_login(staff_user(program.merchant, "manager"))
    page = client.post(
        reverse("admin:notifications_webhooksubscription_add"),
        {
            "program": program.pk,
            "url": "https://169.254.169.254/latest/",
            "description": "",
            "is_active": "on",
        },
    )
    assert page.status_code == 200 and "not reachable from the platform" in page.content.decode()
    assert not WebhookSubscription.objects.exists()
    page = client.post(
        reverse("admin:notifications_channelsettings_add"),
        {
            "program": program.pk,
            "email_enabled": "on",
            "chat_enabled": "on",
            "chat_base_url": "https://[::1]:9000",
            "chat_bot_token": "123:abc",
        },
    )
    assert page.status_code == 200 and "not reachable from the platform" in page.content.decode()
    assert not ChannelSettings.objects.exists()


def test_a_stored_url_that_now_points_inside_is_refused_at_delivery(program, member, now, local_server):
    # stored before the rule, or its name now resolves to loopback: the check runs again before sending
    port = local_server.url.rsplit(":", 1)[1]
    WebhookSubscription.objects.create(
        program=program,
        url=f"https://localhost:{port}/hook",
        events=[],
        secret=signing.secret_generate(),
        created_at=now,
    )
    event_emit(program=program, type="member.inactive", at=now, member=member, data={})
    assert outbox_deliver(at=now)["webhooks_failed"] == 1
    delivery = WebhookDelivery.objects.get()
    assert (delivery.status, delivery.attempts, delivery.last_status_code) == (OutboxStatus.PENDING, 1, None)
    assert delivery.last_error.startswith("Refused:")
    assert local_server.requests == []


def test_dns_rebinding_after_the_check_reaches_nothing(program, member, now, local_server, monkeypatch):
    """The name is public when the URL is saved and when it is checked before sending, and turns to
    loopback for the connection itself: the connection goes to the address checked at connect time,
    and that one is refused."""
    port = int(local_server.url.rsplit(":", 1)[1])
    real_getaddrinfo = socket.getaddrinfo
    answers = []

    def rebinding(host, *args, **kwargs):
        if host != "hooks.rebind.example":
            return real_getaddrinfo(host, *args, **kwargs)
        address = PUBLIC_IP if len(answers) < 2 else "127.0.0.1"
        answers.append(address)
        return [(socket.AF_INET, socket.SOCK_STREAM, 6, "", (address, port))]

    monkeypatch.setattr(socket, "getaddrinfo", rebinding)
    webhook_subscription_create(
        program=program, url=f"https://hooks.rebind.example:{port}/", events=[], at=now
    )
    event_emit(program=program, type="member.inactive", at=now, member=member, data={})
    assert outbox_deliver(at=now)["webhooks_failed"] == 1
    assert answers == [PUBLIC_IP, PUBLIC_IP, "127.0.0.1"]  # saved, checked, connected
    assert WebhookDelivery.objects.get().last_error.startswith("Refused:")
    assert local_server.requests == []


def test_a_redirect_is_an_answer_not_followed(program, member, now, local_server):
    local_server.status = 302
    local_server.headers = {"Location": local_server.url + "/internal"}
    webhook_subscription_create(program=program, url=local_server.url + "/hook", events=[], at=now)
    event_emit(program=program, type="member.inactive", at=now, member=member, data={})
    assert outbox_deliver(at=now)["webhooks_failed"] == 1
    assert [r.path for r in local_server.requests] == ["/hook"]
    delivery = WebhookDelivery.objects.get()
    assert (delivery.status, delivery.last_status_code, delivery.last_error) == (
        OutboxStatus.PENDING,
        302,
        "HTTP 302",
    )


def test_only_a_short_sanitised_excerpt_of_the_answer_is_kept(program, member, now, local_server):
    local_server.body = b"secret\x1b[31m\x00 line\r\nnext" + b"x" * 5000
    webhook_subscription_create(program=program, url=local_server.url, events=[], at=now)
    event_emit(program=program, type="member.inactive", at=now, member=member, data={})
    assert outbox_deliver(at=now)["webhooks_sent"] == 1
    stored = WebhookDelivery.objects.get().last_response
    assert len(stored) == outgoing.EXCERPT_CHARS
    assert stored.startswith("secret [31m line next")
    assert all(ch.isprintable() for ch in stored)


def test_the_allowlist_admits_one_internal_receiver_over_http(program, member, now, local_server, settings):
    allowed = local_server.url + "/hook"
    webhook_subscription_create(program=program, url=allowed, events=[], at=now)
    event_emit(program=program, type="member.inactive", at=now, member=member, data={})
    assert outbox_deliver(at=now)["webhooks_sent"] == 1
    assert len(local_server.requests) == 1

    # the same host on another port, or the receiver once it is off the list: refused
    host, port = local_server.url.removeprefix("http://").rsplit(":", 1)
    with pytest.raises(outgoing.UnsafeURL):
        outgoing.url_check(f"http://{host}:{int(port) + 1}/hook")
    settings.WEBHOOK_PRIVATE_ALLOWLIST = ""
    with pytest.raises(outgoing.UnsafeURL):
        outgoing.url_check(allowed)
    event_emit(program=program, type="member.inactive", at=now, member=member, data={"again": True})
    assert outbox_deliver(at=now)["webhooks_failed"] == 1
    assert len(local_server.requests) == 1


def test_the_chat_bot_base_url_goes_through_the_same_client(program, member, now, local_server):
    ChannelSettings.objects.create(
        program=program, chat_enabled=True, chat_base_url=local_server.url, chat_bot_token="123:abc"
    )
    MemberContact.objects.create(member=member, channel=Channel.CHAT, address="42")
    NotificationTemplate.objects.create(
        program=program, event_type="member.inactive", channel=Channel.CHAT, body="We miss you"
    )
    event_emit(program=program, type="member.inactive", at=now, member=member, data={})
    assert outbox_deliver(at=now)["notifications_sent"] == 1
    [received] = local_server.requests
    assert received.path == "/bot123:abc/sendMessage"
    assert received.json() == {"chat_id": "42", "text": "We miss you"}

    # a base URL pointing inside (saved before the rule) is refused when sending
    ChannelSettings.objects.update(chat_base_url="https://169.254.169.254")
    event_emit(program=program, type="member.inactive", at=now, member=member, data={"again": True})
    assert outbox_deliver(at=now)["notifications_failed"] == 1
    failed = Notification.objects.get(status=OutboxStatus.PENDING)
    assert "refused" in failed.last_error and "123:abc" not in failed.last_error
    assert len(local_server.requests) == 1
