"""The seed + demo presets through preset_apply (what load_demo runs), twice."""

from datetime import timedelta

from campaigns.models import ActivityEvent, CampaignGrant, Coupon, Segment
from ledger.models import Purchase
from loyalty_site.core.presets import preset_apply
from tests.campaigns.conftest import T0
from tests.factories import ProgramFactory


def snapshot(program):
    return (
        Purchase.objects.filter(program=program).count(),
        ActivityEvent.objects.filter(member__program=program).count(),
        CampaignGrant.objects.filter(campaign__program=program).count(),
        Coupon.objects.filter(program=program).count(),
        sum(Segment.objects.filter(program=program).values_list("member_count", flat=True)),
    )


def test_demo_history_is_idempotent(db):
    program = ProgramFactory(base_currency="AZN", time_zone="Asia/Baku")
    preset_apply(program=program, preset="seed", at=T0)
    preset_apply(program=program, preset="demo", at=T0)
    first = snapshot(program)
    # 8 demo members with 2,3,4,1,2,3,4,1 purchases
    purchases, events, grants, coupons, segmented = first
    assert purchases == 20
    assert events == 8 * 2 + 1
    assert segmented == 8  # every active member is in exactly one of low / medium / high
    sizes = dict(Segment.objects.filter(program=program).values_list("code", "member_count"))
    # RFM: all active in the last days; 4 purchases and 150+ AZN paid is high (one member: 4 x 45
    # less 2 %), 2+ purchases and 50+ AZN medium, the rest low
    assert sizes == {"low_value": 3, "medium_value": 4, "high_value": 1}
    # 8 welcome bonuses, 6 second-purchase bonuses, 4 frequent-buyer coupons, 1 review bonus
    assert grants == 8 + 6 + 4 + 1
    assert coupons == 20 + 4  # the demo batch and the frequent buyers' personal coupons
    preset_apply(program=program, preset="seed", at=T0 + timedelta(hours=1))
    preset_apply(program=program, preset="demo", at=T0 + timedelta(hours=1))
    assert snapshot(program) == first


def test_demo_members_read_every_language_and_get_their_messages_in_it(db):
    """Issue 19: the demo shows the languages: its members read az, ru, kk, en or the program's, and
    the notifications the demo gave them (welcome bonus, tier) are in their language."""
    from accounts.models import Member
    from notifications.models import Notification

    program = ProgramFactory(base_currency="AZN", time_zone="Asia/Baku", default_language="az")
    preset_apply(program=program, preset="seed", at=T0)
    preset_apply(program=program, preset="demo", at=T0)
    languages = dict(Member.objects.filter(program=program).values_list("external_id", "language"))
    assert sorted(languages.values()) == ["", "az", "az", "en", "kk", "kk", "ru", "ru"]
    greetings = {"az": "Salam", "ru": "Здравствуйте", "kk": "Сәлеметсіз бе", "en": "Hello", "": "Salam"}
    for external_id, language in languages.items():
        bodies = Notification.objects.filter(
            member__external_id=external_id, member__program=program, event__type="tier.changed"
        ).values_list("body", flat=True)
        assert bodies and all(body.startswith(greetings[language]) for body in bodies), (
            language,
            list(bodies),
        )
