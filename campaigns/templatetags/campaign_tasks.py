"""`{% daily_tasks member as tasks %}`: today's daily tasks with done / not done (the card page)."""

from django import template
from django.utils import timezone

from campaigns.selectors import member_tasks_today

register = template.Library()


@register.simple_tag
def daily_tasks(member):
    return member_tasks_today(member=member, at=timezone.now())
