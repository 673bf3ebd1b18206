"""`{% load content %}`: merchant content (loyalty_site/core/content.py) in a template.

`{% content_text obj "name" member %}` is what `member` reads (their language, else the program's
default, else any version), whatever language the page itself is in (the till is in the cashier's);
without a member, the page's language. `... as var` keeps it for a `blocktranslate`."""

from django import template
from django.utils import translation

from loyalty_site.core import content

register = template.Library()


@register.simple_tag
def content_text(obj, field, member=None):
    if member is not None:
        return content.text(obj, field, member=member)
    return content.text(obj, field, language=translation.get_language())
