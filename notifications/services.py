"""Writes of the notifications app: storing events with their outbox rows, and webhook
subscriptions. Delivering the outbox is `delivery.py` (its names are importable from here too);
every request to a subscriber's URL goes through `outgoing.py`.
"""

from __future__ import annotations

import functools
import json
import logging
import os
import uuid
from datetime import datetime, timedelta
from typing import Any

from django.conf import settings as django_settings
from django.core.exceptions import ValidationError
from django.core.serializers.json import DjangoJSONEncoder
from django.core.validators import URLValidator
from django.db import connection, transaction
from django.template import Context, Template
from django.utils import timezone, translation
from django.utils.translation import gettext

from loyalty_site.core import content
from loyalty_site.core.db import pg_array
from loyalty_site.core.errors import InvalidInput, NotFound
from loyalty_site.core.events import EVENT_TYPES
from loyalty_site.core.i18n import member_language, program_language

from . import outgoing, publisher, signing
from .channels import channel_get
from .delivery import (  # noqa: F401 - the delivery names, importable from the services module
    BACKOFF_SECONDS,
    LEASE,
    MAX_ATTEMPTS,
    notification_send,
    outbox_deliver,
    outbox_retry_now,
    webhook_body,
    webhook_delivery_send,
    webhook_signing_secrets,
)
from .models import (
    Channel,
    ChannelSettings,
    Event,
    Notification,
    NotificationTemplate,
    OutboxStatus,
    WebhookDelivery,
    WebhookSubscription,
)
from .names import NameBook, event_data_localized

logger = logging.getLogger("loyalty.notifications")

#: After a rotation the previous secret keeps signing for this long.
ROTATION_GRACE = timedelta(hours=24)
#: Webhook types a subscription may ask for: every event type (API.md's list, plus the events that
#: also send member messages, member.birthday and member.winback, which a CRM may want as well).
WEBHOOK_EVENT_TYPES = EVENT_TYPES


# --- events and the outbox ---------------------------------------------------------------------


def event_store(
    *, program, type: str, at: datetime, data: dict[str, Any], member=None, key: str | None = None
) -> Event | None:
    """The `event_emitted` hook: store the event and, in the caller's transaction, its outbox rows
    (one delivery per matching active webhook subscription, one notification per active template
    whose channel is enabled and reaches the member). Returns None, writing nothing, when an event
    with the same `key` already exists in the program. Delivery is queued after commit."""
    stored = events_store_mixed(
        events=[{"program": program, "type": type, "at": at, "data": data, "member": member, "key": key}]
    )
    return stored[0] if stored else None


def events_store_many(*, program, type: str, at: datetime, events: list[dict[str, Any]]) -> list[Event]:
    """The `events_emitted` hook: `event_store` for many events of one program, type and moment
    (`events`: dicts with `data` and optional `member` and `key`), as `events_store_mixed` does."""
    return _events_store(events=events, program=program, type=type, at=at)


# One round trip per call: the events (any programs, types and moments) are inserted and, in the
# same statement, their programs' active subscriptions, the active templates of their types and the
# channel settings are read (each row as JSON, tagged). Jobs emit an event per member, so this is
# the hot path: an inserted event comes back as its id and uid only, and its `created_at`, now()
# (the transaction's start, the same for every row of the transaction), is read once. unnest()
# yields the rows in array order, so the ids follow the order of the events, and of two rows with
# the same key the first is inserted and the second conflicts with it. An event's moment is an
# index into the distinct moments (a job's thousands of events share one: parsed once).
EVENTS_INSERT_SQL = """
WITH inserted AS (
    INSERT INTO notifications_event (uid, program_id, member_id, type, data, at, key, created_at)
    SELECT t.uid, t.program_id, t.member_id, t.type, t.data::jsonb,
           (%(moments)s::timestamptz[])[t.moment], t.key, now()
    FROM unnest(
        %(uids)s::uuid[], %(programs)s::bigint[], %(members)s::bigint[], %(types)s::text[],
        %(datas)s::text[], %(moment_indexes)s::int[], %(keys)s::text[]
    ) AS t(uid, program_id, member_id, type, data, moment, key)
    ON CONFLICT (program_id, key) WHERE key IS NOT NULL DO NOTHING
    RETURNING id, uid
)
SELECT 'event', id, uid::text, NULL::timestamptz FROM inserted
UNION ALL
SELECT 'created', NULL, NULL, now()
UNION ALL
SELECT 'subscription', NULL,
       json_build_object('id', id, 'program_id', program_id, 'events', events)::text, NULL
FROM notifications_webhooksubscription
WHERE program_id = ANY(%(program_ids)s::bigint[]) AND is_active
UNION ALL
SELECT 'template', NULL, row_to_json(t)::text, NULL FROM notifications_notificationtemplate t
WHERE program_id = ANY(%(program_ids)s::bigint[]) AND event_type = ANY(%(event_types)s::text[])
      AND is_active
UNION ALL
SELECT 'settings', NULL, row_to_json(c)::text, NULL FROM notifications_channelsettings c
WHERE program_id = ANY(%(program_ids)s::bigint[])
"""

#: What storing events reads back: {event uid: (id, created_at)} of the events inserted, and the
#: tagged configuration rows ("subscription" / "template" / "settings", the row as a dict).
Inserted = tuple[dict[str, tuple[int, datetime]], list[tuple[str, dict]]]


_FLAT_JSON_TYPES = (str, int, bool, type(None))


def _json_copy(data: dict[str, Any], text: str) -> dict[str, Any]:
    """`data` as it reads back from JSON (`text` is its encoding): a plain copy when it is flat
    with JSON-native values (the jobs' event data; parsing thousands of them back is a cost),
    else the parsed text (dates, decimals, nesting)."""
    if all(type(value) in _FLAT_JSON_TYPES for value in data.values()) and all(type(k) is str for k in data):
        return dict(data)
    return json.loads(text)


@functools.cache
def _event_fields() -> list[tuple[str, Any, Any]]:
    """(attname, default factory or None, constant default) of Event's concrete fields."""
    return [
        (field.attname, field.get_default, None)
        if field.has_default() and callable(field.default)
        else (field.attname, None, field.get_default())
        for field in Event._meta.concrete_fields
    ]


def _event_new(*, program, member, **values: Any) -> Event:
    """`Event(program=program, member=member, **values)` (`values` by attname), built positionally
    as `Model.from_db` builds loaded rows: a few times faster, which counts for a job's thousands
    of events. The program and member are cached on it, as keyword assignment does."""
    values.update(program_id=program.pk, member_id=member.pk if member is not None else None)
    event = Event(
        *[
            values[name] if name in values else factory() if factory else constant
            for name, factory, constant in _event_fields()
        ]
    )
    Event.program.field.set_cached_value(event, program)
    Event.member.field.set_cached_value(event, member)
    return event


def events_store_mixed(*, events: list[dict[str, Any]]) -> list[Event]:
    """The `events_emitted_mixed` hook (the flush of `events_batched()`): `event_store` for events
    of any programs, types and moments (`events`: dicts with `program`, `type`, `at`, `data` and
    optional `member` and `key`), in one statement plus one bulk insert per kind of outbox row
    written, and one delivery request after commit. Events whose key exists already in their
    program, or came earlier in `events`, are skipped; returns the events stored, in the given
    order. A concurrent insert of the same key waits for the other transaction and then inserts
    nothing."""
    return _events_store(events=events)


def _events_store(*, events: list[dict[str, Any]], program=None, type=None, at=None) -> list[Event]:
    """`events_store_mixed`; an event without `program`, `type` or `at` takes the one given here
    (a job's chunk shares them: no dict per event to build)."""
    if not events:
        return []
    encode = DjangoJSONEncoder().encode
    texts = [encode(item.get("data") or {}) for item in events]
    random = os.urandom(16 * len(events))  # the events' uuid4s, read in one call
    rows = [
        _event_new(
            program=item.get("program") or program,
            member=item.get("member"),
            uid=uuid.UUID(bytes=random[16 * i : 16 * i + 16], version=4),
            type=item.get("type") or type,
            data=_json_copy(item.get("data") or {}, text),
            at=item.get("at") or at,
            key=item.get("key"),
        )
        for i, (item, text) in enumerate(zip(events, texts, strict=True))
    ]
    uids = [str(row.uid) for row in rows]
    inserted, config = _events_insert_pg(rows=rows, uids=uids, texts=texts)
    stored = []
    for uid, row in zip(uids, rows, strict=True):
        if uid in inserted:
            row.pk, row.created_at = inserted[uid]
            stored.append(row)
    if stored:
        _outbox_write(events=stored, config=config)
    return stored


def _events_insert_pg(*, rows: list[Event], uids: list[str], texts: list[str]) -> Inserted:
    """EVENTS_INSERT_SQL for `rows` (`uids`, `texts`: their uids and their data as JSON)."""
    moments = list(dict.fromkeys(row.at for row in rows))
    indexes = {at: str(i) for i, at in enumerate(moments, start=1)}
    with connection.cursor() as cursor:
        cursor.execute(
            EVENTS_INSERT_SQL,
            {
                # each column as one array literal: one string to send, not thousands of
                # elements for psycopg to adapt and quote one by one
                "uids": pg_array(uids),
                "programs": pg_array([row.program_id for row in rows]),
                "members": pg_array([row.member_id for row in rows]),
                "types": pg_array([row.type for row in rows]),
                "datas": pg_array(texts),
                "moments": pg_array(moments),
                "moment_indexes": "{" + ",".join([indexes[row.at] for row in rows]) + "}",
                "keys": pg_array([row.key for row in rows]),
                "program_ids": pg_array(sorted({row.program_id for row in rows})),
                "event_types": pg_array(sorted({row.type for row in rows})),
            },
        )
        fetched = cursor.fetchall()
    created_at = next(moment for kind, _pk, _text, moment in fetched if kind == "created")
    inserted = {uid: (pk, created_at) for kind, pk, uid, _moment in fetched if kind == "event"}
    config = [
        (kind, json.loads(text)) for kind, _pk, text, _moment in fetched if kind not in ("event", "created")
    ]
    return inserted, config


def _outbox_write(*, events: list[Event], config: list[tuple[str, dict]]) -> None:
    """The outbox rows of `events` (just stored) from their programs' configuration `config`:
    webhook deliveries and notifications, each kind in one bulk insert, in event order; their
    delivery is requested once, after commit."""
    subscriptions: dict[int, list[dict]] = {}
    templates: dict[tuple[int, str], list[NotificationTemplate]] = {}
    settings: dict[int, ChannelSettings] = {}
    for kind, item in config:
        if kind == "subscription":
            subscriptions.setdefault(item["program_id"], []).append(item)
        elif kind == "template":
            template = _from_row(NotificationTemplate, item)
            templates.setdefault((template.program_id, template.event_type), []).append(template)
        else:
            settings[item["program_id"]] = _from_row(ChannelSettings, item)
    deliveries = [
        WebhookDelivery(subscription_id=sub["id"], event=event, next_attempt_at=event.at, created_at=event.at)
        for event in events
        for sub in subscriptions.get(event.program_id, ())
        if not sub["events"] or event.type in sub["events"]
    ]
    if deliveries:
        WebhookDelivery.objects.bulk_create(deliveries)
    for event in events:
        if event.program_id not in settings:
            settings[event.program_id] = ChannelSettings(program=event.program)
    notifications = _notifications_build(templates=templates, settings=settings, events=events)
    if notifications:
        Notification.objects.bulk_create(notifications)
    pending = {n.event_id for n in notifications if n.status == OutboxStatus.PENDING}
    pending.update(delivery.event_id for delivery in deliveries)
    if pending:
        ids = sorted(pending)
        transaction.on_commit(lambda: _publish(ids))


def _from_row(model, item: dict):
    """A model instance from a row_to_json() row (text, boolean and id columns only)."""
    fields = {f.attname: item[f.column] for f in model._meta.concrete_fields if f.column in item}
    return model(**{k: v for k, v in fields.items() if not k.endswith("_at")})


def template_context(*, event: Event, member, program, book: NameBook | None = None) -> dict[str, Any]:
    """The variables of a template rendered for `member`: `data` is the event's, with the names it
    carries read again in the member's language (notifications/names.py; `book` caches the rows
    over a batch)."""
    language = member_language(member, program=program) if member is not None else program_language(program)
    data = event_data_localized(data=event.data, program=program, language=language, book=book)
    return {"member": member, "program": program, "event": event, "data": data}


def template_texts(*, template: NotificationTemplate, program) -> tuple[str, str]:
    """The template's (subject, body) source in the active language (rendering runs in the
    reader's), else in the program's default language, else in any language that has a body: the
    subject always comes from the same language as the body."""
    language = content.first_language(template, "body", language=translation.get_language(), program=program)
    if language is None:
        return template.subject or "", template.body or ""
    return content.version(template, "subject", language), content.version(template, "body", language)


def template_render(*, template: NotificationTemplate, context: dict[str, Any]) -> tuple[str, str]:
    """(subject, body) of `template` in `context`, as plain text, in the active language's version
    (`template_texts`). Raises TemplateSyntaxError."""
    subject_source, body_source = template_texts(template=template, program=context.get("program"))
    subject = Template(subject_source).render(Context(context, autoescape=False)).strip()
    body = Template(body_source).render(Context(context, autoescape=False)).strip()
    return " ".join(subject.split()), body


def _notifications_build(
    *,
    templates: dict[tuple[int, str], list[NotificationTemplate]],
    settings: dict[int, ChannelSettings],
    events: list[Event],
) -> list[Notification]:
    """The notifications of `events`, in event order: one per event with a member and active
    template of its (program id, type) in `templates` whose channel is enabled in its program's
    `settings` and reaches the member. A channel's addresses are read once per program."""
    events = [event for event in events if event.member_id and (event.program_id, event.type) in templates]
    members: dict[tuple[int, str], dict[int, Any]] = {}  # (program id, channel) -> members to reach
    for event in events:
        for template in templates[event.program_id, event.type]:
            members.setdefault((event.program_id, template.channel), {})[event.member_id] = event.member
    recipients: dict[tuple[int, str], dict[int, str]] = {}
    for (program_id, code), reached in members.items():
        channel = channel_get(code)
        if channel is not None and channel.enabled(settings=settings[program_id]):
            recipients[program_id, code] = channel.recipients(
                members=list(reached.values()), settings=settings[program_id]
            )
    rows = []
    book = NameBook()
    for event in events:
        for template in templates[event.program_id, event.type]:
            recipient = recipients.get((event.program_id, template.channel), {}).get(event.member_id)
            if not recipient:
                continue
            row = Notification(
                program=event.program,
                member=event.member,
                event=event,
                channel=template.channel,
                recipient=recipient[:255],
                next_attempt_at=event.at,
                created_at=event.at,
            )
            context = template_context(event=event, member=event.member, program=event.program, book=book)
            # rendered in the member's language (else the program's): the template's text in that
            # language, and the numbers, dates and words it formats
            with translation.override(member_language(event.member, program=event.program)):
                try:
                    row.subject, row.body = template_render(template=template, context=context)
                    if not row.subject and template.channel == Channel.EMAIL:  # an e-mail needs one
                        row.subject = str(event.get_type_display())
                    row.subject = row.subject[:255]
                except Exception as error:  # noqa: BLE001 - a broken template must not fail the cause
                    row.status, row.last_error, row.body = OutboxStatus.FAILED, f"template error: {error}", ""
            rows.append(row)
    return rows


def _publish(event_ids: list[int]) -> None:
    """Ask a worker to deliver these events' outbox now (`publisher.events_publish`: one bounded
    try; a broker that is down or hanging only delays delivery to the next `deliver_notifications`
    run). Off under tests unless NOTIFICATIONS_DELIVER_ON_COMMIT is set (so test runs do not fill a
    shared broker)."""
    if not getattr(django_settings, "NOTIFICATIONS_DELIVER_ON_COMMIT", not django_settings.TESTING):
        return
    publisher.events_publish(event_ids)


# --- webhook subscriptions ---------------------------------------------------------------------


def _validate_subscription(*, url: str, events: list[str]) -> list[str]:
    errors: dict[str, list[str]] = {}
    try:
        URLValidator(schemes=["http", "https"])(url)
        outgoing.url_check(url)
    except ValidationError:
        errors["url"] = [gettext("Enter a valid http(s) URL.")]
    except outgoing.UnsafeURL as refused:
        errors["url"] = [str(refused)]
    if not isinstance(events, list | tuple) or not all(isinstance(e, str) for e in events):
        errors["events"] = [gettext("Give a list of event types.")]
    else:
        unknown = sorted(set(events) - set(WEBHOOK_EVENT_TYPES))
        if unknown:
            errors["events"] = [gettext("Unknown event types: %(types)s.") % {"types": ", ".join(unknown)}]
    if errors:
        raise InvalidInput(fields=errors)
    return sorted(set(events))


def webhook_subscription_create(
    *, program, url: str, events: list[str], at: datetime | None = None, description: str = ""
) -> tuple[WebhookSubscription, str]:
    """Subscribe `url` to `events` (empty = every type). Returns the subscription and its signing
    secret, which the API shows once. Raises InvalidInput for a bad URL or unknown event types."""
    events = _validate_subscription(url=url, events=events)
    secret = signing.secret_generate()
    subscription = WebhookSubscription.objects.create(
        program=program,
        url=url,
        events=events,
        secret=secret,
        description=description[:200],
        created_at=at or timezone.now(),
    )
    return subscription, secret


def webhook_subscription_delete(*, subscription: WebhookSubscription) -> None:
    """Delete the subscription and its delivery log; nothing more is sent to it."""
    subscription.delete()


def webhook_secret_rotate(
    *, subscription: WebhookSubscription, at: datetime, grace: timedelta = ROTATION_GRACE
) -> str:
    """Give the subscription a new secret; the old one keeps signing (a second signature in the
    header) until `at + grace`, so the receiver can switch without losing messages."""
    with transaction.atomic():
        locked = WebhookSubscription.objects.select_for_update().get(pk=subscription.pk)
        locked.previous_secret = locked.secret
        locked.previous_secret_expires_at = at + grace
        locked.secret = signing.secret_generate()
        locked.save(update_fields=["secret", "previous_secret", "previous_secret_expires_at"])
    subscription.refresh_from_db()
    return locked.secret


def webhook_subscription_list(*, program):
    return WebhookSubscription.objects.filter(program=program).order_by("id")


def webhook_subscription_get(*, program, subscription_id: Any) -> WebhookSubscription:
    """Raises NotFound unless the subscription exists in `program`."""
    try:
        return WebhookSubscription.objects.get(program=program, pk=int(subscription_id))
    except (WebhookSubscription.DoesNotExist, TypeError, ValueError):
        raise NotFound(gettext("Webhook subscription not found."))
