"""The accounts app's views: the language switcher's target (the staff member's language)."""

from __future__ import annotations

from django.views.i18n import set_language as django_set_language

from loyalty_site.core.i18n import supported

from .models import StaffMember


def set_language(request):
    """The language switcher's target (POST language, next): Django's set_language (the cookie,
    so anyone is remembered on this browser) and, for a staff member, their StaffMember.language,
    so the choice follows them to other browsers and the till."""
    response = django_set_language(request)
    language = supported(request.POST.get("language")) if request.method == "POST" else None
    user = getattr(request, "user", None)
    if language and getattr(user, "is_authenticated", False):
        StaffMember.objects.filter(user=user).update(language=language)
    return response
