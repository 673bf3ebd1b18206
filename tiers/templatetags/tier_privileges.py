"""`{% member_privileges member as privileges %}`: the tier's privileges and personal manager (till)."""

from django import template

from tiers import selectors

register = template.Library()


@register.simple_tag
def member_privileges(member):
    return selectors.member_privileges(member=member)
