import copy

from django import forms
from django.conf import settings
from django.contrib import admin, messages
from django.template import Template, TemplateSyntaxError
from django.utils import formats, timezone, translation
from django.utils.html import format_html, format_html_join
from django.utils.translation import gettext, ngettext
from django.utils.translation import gettext_lazy as _

from accounts.admin_search import MemberSearchMixin
from accounts.models import Member
from loyalty_site.core import content
from loyalty_site.core.admin import ScopedAdmin, can_write
from loyalty_site.core.admin_lists import BigListAdmin
from loyalty_site.core.content_admin import ContentAdminMixin, ContentForm
from loyalty_site.core.data_tables import data_table

from . import outgoing, services
from .models import (
    ChannelSettings,
    Event,
    MemberContact,
    Notification,
    NotificationTemplate,
    WebhookDelivery,
    WebhookSubscription,
)
from .rendering import missing_variables

#: the data of each seeded event type as its emitter writes it, for a preview before the program
#: has a real event of the type
SAMPLE_DATA = {
    "points.expiring": {
        "points": 250,
        "expires_at": "2026-12-01T10:00:00+00:00",
        "lot_count": 2,
        "lots": [
            {"lot_id": 1, "points": 200, "expires_at": "2026-12-01T10:00:00+00:00"},
            {"lot_id": 2, "points": 50, "expires_at": "2026-12-02T10:00:00+00:00"},
        ],
    },
    "points.expired": {"points": 250, "balance": 1200, "lot_count": 1, "lots": []},
    "points.decayed": {"points": 60, "balance": 1140},
    "tier.changed": {"from": "bronze", "from_name": "Bronze", "to": "silver", "to_name": "Silver"},
    "reward.granted": {"campaign_name": "Welcome bonus", "points": 100},
    "coupon.issued": {
        "code": "WELCOME20",
        "kind": "percent",
        "value": "20.00",
        "valid_until": "2026-12-31T23:59:00+00:00",
        "campaign_name": "Welcome bonus",
    },
    "member.birthday": {"campaign_name": "Birthday gift", "message": "Happy birthday!"},
    "member.inactive": {"campaign_name": "We miss you", "idle_days": 30},
    "member.winback": {"campaign_name": "Win-back offer", "idle_days": 60, "message": "Come back!"},
}


class NotificationTemplateForm(ContentForm):
    class Meta:
        model = NotificationTemplate
        fields = ["program", "event_type", "channel", "subject", "body", "is_active"]

    def clean(self):
        cleaned = super().clean()
        for field in [name for name in self.fields if name.startswith(("subject_", "body_"))]:
            try:
                Template(cleaned.get(field) or "")
            except TemplateSyntaxError as error:
                self.add_error(field, gettext("Template error: %(error)s") % {"error": error})
        return cleaned


@admin.register(NotificationTemplate)
class NotificationTemplateAdmin(ScopedAdmin, ContentAdminMixin):
    form = NotificationTemplateForm
    list_display = ["event_type", "channel", "program", "subject", "is_active", "updated_at"]
    list_filter = ["channel", "event_type", "is_active"]
    search_fields = ["subject", "body"]
    readonly_fields = ["preview"]
    fieldsets = [
        (None, {"fields": ["program", "event_type", "channel", "is_active"]}),
        # each language's version side by side (loyalty_site/core/content_admin.py)
        (_("Message"), {"fields": ["subject", "body"]}),
        (_("Preview"), {"fields": ["preview"]}),
    ]

    @admin.display(description=_("Preview"))
    def preview(self, obj):
        """The template rendered with the program's latest real event of its type (and that event's
        member), or with sample data before there is one; variables the event lacks are named."""
        if obj is None or obj.pk is None:
            return gettext("Save to see a preview.")
        event = (
            Event.objects.filter(program=obj.program, type=obj.event_type, member__isnull=False)
            .select_related("member")
            .order_by("-at", "-id")
            .first()
        )
        if event is not None:
            member = event.member
            source = gettext("the latest %(type)s event (%(at)s)") % {
                "type": obj.event_type,
                "at": formats.localize(timezone.localtime(event.at)),
            }
        else:
            member = Member.objects.filter(program=obj.program).order_by("pk").first() or Member(
                program=obj.program, first_name="Ada", last_name="Sample", card_number="7000000000000"
            )
            event = Event(
                program=obj.program,
                member=member,
                type=obj.event_type,
                data=SAMPLE_DATA.get(obj.event_type, {}),
                at=timezone.now(),
            )
            source = gettext("sample data (the program has no such event yet)")
        blocks = [format_html("<p>{}</p>", gettext("With %(source)s.") % {"source": source})]
        names = dict(settings.LANGUAGES)
        # one preview per language the template has a version in, as a member reading it gets it
        for language in [code for code, body in content.versions(obj, "body").items() if body]:
            reader = copy.copy(member)
            reader.language = language
            with translation.override(language):
                context = services.template_context(event=event, member=reader, program=obj.program)
                try:
                    subject, body = services.template_render(template=obj, context=context)
                except Exception as error:  # noqa: BLE001 - shown to the editor
                    subject, body = "", gettext("Cannot render: %(error)s") % {"error": error}
                missing = missing_variables(content.version(obj, "subject", language), context)
                missing += missing_variables(content.version(obj, "body", language), context)
            warning = ""
            if missing:
                warning = gettext("This event has no %(names)s (shown empty).") % {
                    "names": ", ".join(dict.fromkeys(missing))
                }
            blocks.append(
                format_html(
                    "<h4>{}</h4><strong>{}</strong><pre style='white-space:pre-wrap'>{}</pre>"
                    "<p style='color:#ba2121'>{}</p>",
                    names[language],
                    subject or gettext("(no subject)"),
                    body,
                    warning,
                )
            )
        return format_html_join("", "{}", ((block,) for block in blocks))


def _safe_url(url: str | None) -> str | None:
    """`url` unless the outgoing client refuses it (then a form error saying why)."""
    if url:
        try:
            outgoing.url_check(url)
        except outgoing.UnsafeURL as refused:
            raise forms.ValidationError(str(refused))
    return url


class ChannelSettingsForm(forms.ModelForm):
    chat_base_url = forms.URLField(
        required=False,
        assume_scheme="https",
        label=_("Chat base URL"),
        help_text=_("Bot API base URL; messages are POSTed to <base>/bot<token>/sendMessage."),
    )

    class Meta:
        model = ChannelSettings
        fields = ["program", "email_enabled", "email_from", "chat_enabled", "chat_base_url", "chat_bot_token"]

    def clean_chat_base_url(self):
        return _safe_url(self.cleaned_data.get("chat_base_url"))


@admin.register(ChannelSettings)
class ChannelSettingsAdmin(ScopedAdmin):
    form = ChannelSettingsForm
    writer_only_fields = ("chat_bot_token",)
    list_display = ["program", "email_enabled", "chat_enabled", "chat_base_url"]


@admin.register(MemberContact)
class MemberContactAdmin(ScopedAdmin):
    list_display = ["member", "channel", "address", "created_at"]
    list_filter = ["channel"]
    raw_id_fields = ["member"]
    search_fields = ["address", "member__phone", "member__card_number"]


@admin.register(Event)
class EventAdmin(BigListAdmin, MemberSearchMixin, ScopedAdmin):
    read_only_for_staff = True
    list_display = ["id", "type", "program", "member", "at", "key"]
    list_filter = ["type", "at"]
    exact_search_fields = (("key", "program_id"),)
    list_select_related = ["program__merchant", "member"]  # and the member's identifiers and names
    fields = ["uid", "program", "member", "type", "data_shown", "at", "key", "created_at"]
    readonly_fields = fields

    @admin.display(description=_("Data"))
    def data_shown(self, obj):
        return data_table(obj.data)

    def has_add_permission(self, request, *args):
        return False

    def has_change_permission(self, request, obj=None):
        return False


class OutboxAdmin(ScopedAdmin):
    list_filter = ["status"]
    actions = ["retry_now"]

    def has_add_permission(self, request, *args):
        return False

    def has_change_permission(self, request, obj=None):
        return False

    def has_retry_permission(self, request):
        """Rows are never edited, but owners and managers may send them again."""
        return can_write(request)

    @admin.action(description=_("Retry now (fresh attempt budget)"), permissions=["retry"])
    def retry_now(self, request, queryset):
        count = services.outbox_retry_now(queryset=queryset, at=timezone.now())
        self.message_user(
            request,
            ngettext(
                "%(count)s row will be sent by the next delivery run.",
                "%(count)s rows will be sent by the next delivery run.",
                count,
            )
            % {"count": count},
            messages.SUCCESS,
        )


@admin.register(Notification)
class NotificationAdmin(OutboxAdmin):
    list_display = [
        "id",
        "channel",
        "recipient",
        "subject",
        "status",
        "attempts",
        "next_attempt_at",
        "created_at",
    ]
    list_filter = ["status", "channel"]
    search_fields = ["recipient", "subject"]
    readonly_fields = [f.name for f in Notification._meta.fields]


@admin.register(WebhookDelivery)
class WebhookDeliveryAdmin(OutboxAdmin):
    list_display = [
        "id",
        "event_type",
        "subscription",
        "status",
        "attempts",
        "last_status_code",
        "next_attempt_at",
        "delivered_at",
    ]
    list_select_related = ["event", "subscription"]
    readonly_fields = [f.name for f in WebhookDelivery._meta.fields]

    @admin.display(description=_("event"))
    def event_type(self, obj):
        return obj.event.type


class WebhookSubscriptionForm(forms.ModelForm):
    url = forms.URLField(
        max_length=500,
        assume_scheme="https",
        label=_("URL"),
        help_text=_("The endpoint that receives the POSTs."),
    )
    events = forms.MultipleChoiceField(
        choices=[(t, t) for t in services.WEBHOOK_EVENT_TYPES],
        required=False,
        widget=forms.CheckboxSelectMultiple,
        label=_("Events"),
        help_text=_("Leave all unticked to receive every type."),
    )

    class Meta:
        model = WebhookSubscription
        fields = ["program", "url", "events", "description", "is_active"]

    def clean_url(self):
        return _safe_url(self.cleaned_data.get("url"))


@admin.register(WebhookSubscription)
class WebhookSubscriptionAdmin(ScopedAdmin):
    form = WebhookSubscriptionForm
    list_display = ["url", "program", "events", "is_active", "created_at"]
    list_filter = ["is_active"]
    readonly_fields = ["secret_shown", "previous_secret_expires_at", "created_at"]
    writer_only_fields = ("secret_shown",)
    actions = ["rotate_secret"]

    @admin.display(description=_("Signing secret"))
    def secret_shown(self, obj):
        return obj.secret if obj and obj.pk else gettext("Generated on save.")

    def save_model(self, request, obj, form, change):
        if change:
            obj.save()
            return
        subscription, secret = services.webhook_subscription_create(
            program=obj.program,
            url=obj.url,
            events=list(form.cleaned_data.get("events") or []),
            at=timezone.now(),
            description=obj.description,
        )
        obj.pk, obj.secret, obj.created_at = subscription.pk, secret, subscription.created_at
        self.message_user(
            request,
            gettext("Signing secret (also shown on the subscription): %(secret)s") % {"secret": secret},
        )

    @admin.action(description=_("Rotate the signing secret (old one valid 24 h)"), permissions=["change"])
    def rotate_secret(self, request, queryset):
        for subscription in queryset:
            services.webhook_secret_rotate(subscription=subscription, at=timezone.now())
        count = queryset.count()
        self.message_user(
            request,
            ngettext("Rotated %(count)s secret.", "Rotated %(count)s secrets.", count) % {"count": count},
            messages.SUCCESS,
        )
