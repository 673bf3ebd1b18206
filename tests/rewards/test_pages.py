"""The till, the card, the admin, the presets and the notification templates of the rewards."""

import pytest
from django.core.files.uploadedfile import SimpleUploadedFile
from django.urls import reverse
from django.utils import timezone

from accounts.models import Member
from ledger import services as ledger
from loyalty_site.core.presets import preset_apply
from notifications.models import Event, NotificationTemplate
from notifications.rendering import template_render_strict
from notifications.services import template_context
from rewards.models import Redemption, Reward, RewardCode
from rewards.presets import REWARD_TEMPLATES
from rewards.services import redemption_cancel, redemption_fulfil, reward_redeem
from tests.factories import MemberFactory, ProgramFactory

from .conftest import add_codes, make_reward


def _funded(program, points, **fields):
    member = MemberFactory(program=program, **fields)
    ledger.points_bonus(
        member=member, points=points, at=timezone.now(), reference=f"f{member.pk}", description="f"
    )
    return Member.objects.get(pk=member.pk)


# --- presets ----------------------------------------------------------------------------------------


def test_seed_preset_is_the_cafe_catalogue_and_betting_the_free_bet(db, now):
    cafe = ProgramFactory()
    preset_apply(program=cafe, preset="seed", at=now)
    preset_apply(program=cafe, preset="seed", at=now)  # idempotent
    rows = [
        (r.name, r.kind, r.cost_points, sorted(t.code for t in r.tiers.all()))
        for r in Reward.objects.filter(program=cafe)
    ]
    assert rows == [
        ("Free coffee", "gift", 100, []),
        ("5 AZN voucher", "coupon", 500, []),
        ("Branded mug", "gift", 3000, ["gold", "platinum"]),
    ]
    betting = ProgramFactory()
    preset_apply(program=betting, preset="betting", at=now)
    assert [(r.name, r.kind, r.cost_points) for r in Reward.objects.filter(program=betting)] == [
        ("Free bet 10 AZN", "bonus", 1000)
    ]
    assert betting.tiers.count() == 4  # the rest of the seed came along
    assert NotificationTemplate.objects.filter(program=betting, event_type__in=REWARD_TEMPLATES).count() == 6


def test_reward_templates_render_real_events_strictly(seeded_program, now):
    program = seeded_program
    member = MemberFactory(program=program, at=now, first_name="Ada", email="ada@example.com")
    ledger.points_bonus(member=member, points=1000, at=now, reference="f", description="f")
    base = Member.objects.get(pk=member.pk).balance  # 1000 and the seed's welcome bonus
    coffee = Reward.objects.get(program=program, name="Free coffee")
    voucher = Reward.objects.get(program=program, name="5 AZN voucher")
    first = reward_redeem(
        program=program, member=member, reward=coffee, reference="1", at=now, channel="till"
    )
    redemption_fulfil(redemption=first, at=now)
    second = reward_redeem(
        program=program, member=member, reward=voucher, reference="2", at=now, channel="api"
    )
    redemption_cancel(redemption=second, at=now)

    texts = {}
    for event in Event.objects.filter(program=program, type__startswith="reward.").order_by("id"):
        template = NotificationTemplate.objects.get(program=program, event_type=event.type, channel="email")
        context = template_context(event=event, member=event.member, program=program)
        texts.setdefault(event.type, []).append(template_render_strict(template=template, context=context))

    coupon = Redemption.objects.get(pk=second.pk).coupon.code
    assert texts["reward.redeemed"] == [
        (
            "Your reward: Free coffee",
            f"Hello Ada, you exchanged 100 points for Free coffee. Collect it at {program.name}. "
            f"Balance: {base - 100} points.",
        ),
        (
            "Your reward: 5 AZN voucher",
            f"Hello Ada, you exchanged 500 points for 5 AZN voucher. Your coupon {coupon} is ready for your "
            f"next purchase. Balance: {base - 600} points.",
        ),
    ]
    assert texts["reward.fulfilled"] == [
        ("Free coffee is yours", "Hello Ada, Free coffee is yours. Enjoy it!")
    ]
    assert texts["reward.cancelled"] == [
        (
            "5 AZN voucher was cancelled",
            "Hello Ada, your 5 AZN voucher was cancelled and its 500 points are back. "
            f"Balance: {base - 100} points.",
        )
    ]


# --- till and card ---------------------------------------------------------------------------------


def test_till_redeems_a_voucher_and_shows_the_code(client, staff_user, program):
    member = _funded(program, 300)
    reward = make_reward(program, name="Cinema ticket", kind=Reward.Kind.VOUCHER, cost_points=120)
    add_codes(reward, 1, prefix="CINEMA-")
    make_reward(program, name="API only", channel=Reward.Channel.API)
    client.force_login(staff_user(program.merchant, "cashier"))

    panel = client.get(reverse("cashier:member", args=[member.pk])).content.decode()
    assert "Cinema ticket" in panel and "API only" not in panel

    url = reverse("rewards:till-redeem", args=[member.pk, reward.pk])
    response = client.post(url, {"reference": "till-1"}, follow=True)
    page = response.content.decode()
    assert "give the member the code CINEMA-0000" in page and "Balance 180 points" in page
    client.post(url, {"reference": "till-1"})  # a double click replays
    assert Redemption.objects.count() == 1 and Member.objects.get(pk=member.pk).balance == 180
    refused = client.post(url, {"reference": "till-2"}, follow=True).content.decode()
    assert "has no codes left" in refused


def test_till_hands_over_a_pending_gift(client, staff_user, program):
    member = _funded(program, 300)
    gift = make_reward(program, name="Branded mug", cost_points=100)
    client.force_login(staff_user(program.merchant, "cashier"))
    page = client.post(
        reverse("rewards:till-redeem", args=[member.pk, gift.pk]), {"reference": "g"}, follow=True
    ).content.decode()
    assert "Hand over the gift: Branded mug." in page and 'id="pending-gifts"' in page
    redemption = Redemption.objects.get()

    page = client.post(reverse("rewards:till-fulfil", args=[redemption.pk]), follow=True).content.decode()

    assert "Branded mug handed over." in page and 'id="pending-gifts"' not in page
    assert Redemption.objects.get().status == "fulfilled"


def test_till_cannot_touch_another_programs_reward_or_redemption(client, staff_user, program):
    member = _funded(program, 300)
    other = ProgramFactory()
    foreign = make_reward(other)
    foreign_member = _funded(other, 300)
    redemption = reward_redeem(
        program=other, member=foreign_member, reward=foreign, reference="x", at=timezone.now(), channel="till"
    )
    client.force_login(staff_user(program.merchant, "cashier"))
    assert client.post(reverse("rewards:till-redeem", args=[member.pk, foreign.pk])).status_code == 404
    assert client.post(reverse("rewards:till-fulfil", args=[redemption.pk])).status_code == 404
    assert Redemption.objects.get(pk=redemption.pk).status == "pending"


def test_card_shows_the_catalogue_and_the_points_the_next_one_needs(client, program):
    member = _funded(program, 150)
    make_reward(program, name="Free coffee", cost_points=100)
    make_reward(program, name="Big gift", cost_points=400)

    page = client.get(reverse("cashier:card", args=[member.card_token])).content.decode()

    assert 'id="card-rewards"' in page and "Yours now" in page
    assert "250 more points for <strong>Big gift</strong>" in page


# --- admin -----------------------------------------------------------------------------------------


def test_code_upload_detects_duplicates_and_needs_change_permission(client, staff_user, program):
    reward = make_reward(program, kind=Reward.Kind.VOUCHER)
    add_codes(reward, 1, prefix="A")  # A0000
    url = reverse("admin:rewards_reward_codes", args=[reward.pk])
    upload = SimpleUploadedFile("codes.csv", b"code\nA0000\nB1\nB2\nB1\n\n", content_type="text/csv")

    client.force_login(staff_user(program.merchant, "analyst"))
    assert client.post(url, {"file": upload}).status_code == 403
    client.force_login(staff_user(program.merchant, "manager"))
    upload.seek(0)
    page = client.post(url, {"file": upload}).content.decode()

    assert sorted(RewardCode.objects.filter(reward=reward).values_list("code", flat=True)) == [
        "A0000",
        "B1",
        "B2",
    ]
    assert "Repeated in the file (added once): B1" in page and "Already in the pool (left out): A0000" in page
    client.post(url, {"generate": 5, "prefix": "gen"})
    assert RewardCode.objects.filter(reward=reward, code__startswith="GEN-").count() == 5
    other = make_reward(ProgramFactory(), kind=Reward.Kind.VOUCHER)
    assert client.get(reverse("admin:rewards_reward_codes", args=[other.pk])).status_code == 404


def test_admin_actions_fulfil_cancel_and_export(client, staff_user, program, now):
    member = _funded(program, 500)
    gift = make_reward(program, name="Mug", cost_points=100)
    one = reward_redeem(program=program, member=member, reward=gift, reference="1", at=now, channel="till")
    two = reward_redeem(program=program, member=member, reward=gift, reference="2", at=now, channel="till")
    url = reverse("admin:rewards_redemption_changelist")

    client.force_login(staff_user(program.merchant, "analyst"))
    export = client.post(url, {"action": "export_selected_csv", "_selected_action": [one.pk, two.pk]})
    assert export.status_code == 200 and export.content.decode().count("Mug") == 2
    client.post(url, {"action": "cancel", "_selected_action": [one.pk]})
    assert Redemption.objects.get(pk=one.pk).status == "pending"  # analysts only read

    client.force_login(staff_user(program.merchant, "owner"))
    client.post(url, {"action": "fulfil", "_selected_action": [one.pk]})
    client.post(url, {"action": "cancel", "_selected_action": [two.pk]})
    assert Redemption.objects.get(pk=one.pk).status == "fulfilled"
    assert Redemption.objects.get(pk=two.pk).status == "cancelled"
    assert Member.objects.get(pk=member.pk).balance == 400

    report = client.get(reverse("admin:rewards_reward_report")).content.decode()
    assert "<td>Mug</td>" not in report and ">Mug</a>" in report
    csv_text = client.get(reverse("admin:rewards_reward_report") + "?format=csv").content.decode()
    assert f"{program.name},Mug,gift,1,1,100,1.00,0,AZN,," in csv_text


@pytest.mark.parametrize("path", ["rewards/reward/", "rewards/redemption/", "rewards/reward/add/"])
def test_admin_pages_render(client, staff_user, program, path, now):
    make_reward(program)
    client.force_login(staff_user(program.merchant, "owner"))
    assert client.get(f"/admin/{path}").status_code == 200


def test_cashier_has_no_rewards_admin(client, staff_user, program):
    client.force_login(staff_user(program.merchant, "cashier"))
    response = client.get(reverse("admin:rewards_reward_report"))
    assert response.status_code in (302, 403)
