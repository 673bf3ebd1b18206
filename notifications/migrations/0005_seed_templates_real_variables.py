"""Existing programs' seeded templates read what their events carry: a template whose subject and
body are still exactly the former seed text (never edited by the merchant) gets the new seed text
(`tier.changed` read `new_tier` / `old_tier`, which no event has; `reward.granted` showed the
campaign's code; `points.expired` promised a fixed 24 hours). Edited templates stay as they are."""

from django.db import migrations

# event type -> ((former subject, former body), (subject, body))
CHANGES = {
    "points.expired": [
        [
            "{{ data.points }} points expired",
            "Hello {{ member.first_name|default:'there' }}, {{ data.points }} points expired. Any purchase in the next 24 hours restores them. Balance: {{ data.balance }}."
        ],
        [
            "{{ data.points }} points expired",
            "Hello {{ member.first_name|default:'there' }}, {{ data.points }} points expired. Any purchase in the next {{ program.renewal_window_hours }} hours restores them. Balance: {{ data.balance }}."
        ]
    ],
    "tier.changed": [
        [
            "You are now {{ data.new_tier }}",
            "Hello {{ member.first_name|default:'there' }}, your {{ program.name }} level changed from {{ data.old_tier|default:'none' }} to {{ data.new_tier }}."
        ],
        [
            "You are now {{ data.to_name }}",
            "Hello {{ member.first_name|default:'there' }}, your {{ program.name }} level changed{% if data.from_name %} from {{ data.from_name }}{% endif %} to {{ data.to_name }}."
        ]
    ],
    "reward.granted": [
        [
            "A reward for you",
            "Hello {{ member.first_name|default:'there' }}, you received {% if data.points %}{{ data.points }} points{% else %}a reward{% endif %}{% if data.campaign %} from {{ data.campaign }}{% endif %}."
        ],
        [
            "A reward for you",
            "Hello {{ member.first_name|default:'there' }}, you received {% if data.points %}{{ data.points }} points{% else %}a reward{% endif %}{% if data.campaign_name %}: {{ data.campaign_name }}{% endif %}."
        ]
    ],
    "coupon.issued": [
        [
            "Your coupon {{ data.code }}",
            "Hello {{ member.first_name|default:'there' }}, here is your coupon {{ data.code }}{% if data.valid_until %}, valid until {{ data.valid_until|slice:':10' }}{% endif %}."
        ],
        [
            "Your coupon {{ data.code }}",
            "Hello {{ member.first_name|default:'there' }}, here is your coupon {{ data.code }}{% if data.kind == 'percent' %}: {{ data.value|floatformat }}% off{% elif data.kind == 'fixed' %}: {{ data.value }} off{% endif %}{% if data.valid_until %}, valid until {{ data.valid_until|slice:':10' }}{% endif %}."
        ]
    ],
    "member.inactive": [
        [
            "We miss you at {{ program.name }}",
            "Hello {{ member.first_name|default:'there' }}, it has been {{ data.idle_days }} days since your last visit. Your balance is {{ member.balance }} points."
        ],
        [
            "We miss you at {{ program.name }}",
            "Hello {{ member.first_name|default:'there' }}, {% if data.idle_days %}it has been {{ data.idle_days }} days since your last visit{% else %}we have not seen you for a while{% endif %}. Your balance is {{ member.balance }} points."
        ]
    ],
    "member.winback": [
        [
            "Come back to {{ program.name }}: an offer for you",
            "Hello {{ member.first_name|default:'there' }}, it has been {{ data.idle_days }} days. Come back this week and earn extra points on your next purchase."
        ],
        [
            "Come back to {{ program.name }}: an offer for you",
            "Hello {{ member.first_name|default:'there' }},{% if data.idle_days %} it has been {{ data.idle_days }} days.{% endif %} {% if data.message %}{{ data.message }}{% else %}Come back this week and earn extra points on your next purchase.{% endif %}"
        ]
    ]
}


def update(apps, schema_editor, *, forward=True):
    NotificationTemplate = apps.get_model("notifications", "NotificationTemplate")
    for event_type, (former, current) in CHANGES.items():
        old, new = (former, current) if forward else (current, former)
        # the chat templates have no subject
        NotificationTemplate.objects.filter(
            event_type=event_type, channel="email", subject=old[0], body=old[1]
        ).update(subject=new[0], body=new[1])
        NotificationTemplate.objects.filter(
            event_type=event_type, channel="chat", subject="", body=old[1]
        ).update(body=new[1])


def backward(apps, schema_editor):
    update(apps, schema_editor, forward=False)


class Migration(migrations.Migration):
    dependencies = [("notifications", "0004_event_type_rate_review_due")]

    operations = [migrations.RunPython(update, backward)]
