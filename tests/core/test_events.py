"""`events_batched()`: inside the block events are buffered, and the outermost block hands them to
the `events_emitted_mixed` hook in one call when it ends normally."""

from datetime import timedelta

import pytest

from loyalty_site.core import hooks
from loyalty_site.core.events import event_emit, event_emit_many, events_batched
from notifications.models import Event

pytestmark = pytest.mark.django_db


@pytest.fixture
def calls():
    """The calls of the events hooks, in order: (hook name, kwargs)."""
    seen: list[tuple[str, dict]] = []

    def collector(name):
        return lambda **kwargs: seen.append((name, kwargs))

    collectors = {
        name: collector(name) for name in ("event_emitted", "events_emitted", "events_emitted_mixed")
    }
    for name, collect in collectors.items():
        hooks.register(name)(collect)
    yield seen
    for name, collect in collectors.items():
        hooks._HOOKS[name].remove(collect)


def _types(events):
    return [(e["type"], e["key"]) for e in events]


def test_outside_a_block_each_emit_runs_its_hook_at_once(program, member, now, calls):
    event_emit(program=program, type="tier.changed", at=now, member=member, data={}, key="t:1")
    assert [name for name, _ in calls] == ["event_emitted"]
    event_emit_many(program=program, type="points.expiring", at=now, events=[{"data": {}, "key": "e:1"}])
    assert [name for name, _ in calls] == ["event_emitted", "events_emitted"]


def test_a_block_hands_its_events_over_once_at_its_end_in_emission_order(program, member, now, calls):
    later = now + timedelta(minutes=1)
    with events_batched():
        event_emit(program=program, type="reward.granted", at=now, member=member, data={"points": 5})
        event_emit_many(
            program=program,
            type="points.expiring",
            at=later,
            events=[{"data": {"points": 1}, "member": member, "key": "e:1"}, {"data": {"points": 2}}],
        )
        event_emit(program=program, type="tier.changed", at=later, member=member, data={}, key="t:1")
        assert calls == []
        assert not Event.objects.exclude(type="member.created").exists()
    [(name, kwargs)] = calls
    assert name == "events_emitted_mixed"
    assert kwargs["events"] == [
        {
            "program": program,
            "type": "reward.granted",
            "at": now,
            "data": {"points": 5},
            "member": member,
            "key": None,
        },
        {
            "program": program,
            "type": "points.expiring",
            "at": later,
            "data": {"points": 1},
            "member": member,
            "key": "e:1",
        },
        {
            "program": program,
            "type": "points.expiring",
            "at": later,
            "data": {"points": 2},
            "member": None,
            "key": None,
        },
        {"program": program, "type": "tier.changed", "at": later, "data": {}, "member": member, "key": "t:1"},
    ]
    assert list(
        Event.objects.exclude(type="member.created").order_by("id").values_list("type", flat=True)
    ) == [
        "reward.granted",
        "points.expiring",
        "points.expiring",
        "tier.changed",
    ]


def test_a_nested_block_joins_the_outer_one(program, member, now, calls):
    with events_batched():
        event_emit(program=program, type="reward.granted", at=now, member=member, data={}, key="r")
        with events_batched():
            event_emit(program=program, type="tier.changed", at=now, member=member, data={}, key="t")
        assert calls == []
        event_emit(program=program, type="points.earned", at=now, member=member, data={}, key="p")
    [(name, kwargs)] = calls
    assert (name, _types(kwargs["events"])) == (
        "events_emitted_mixed",
        [("reward.granted", "r"), ("tier.changed", "t"), ("points.earned", "p")],
    )


def test_an_exception_drops_the_blocks_events_and_the_next_block_starts_empty(program, member, now, calls):
    with pytest.raises(RuntimeError), events_batched():
        event_emit(program=program, type="reward.granted", at=now, member=member, data={}, key="r")
        raise RuntimeError("the cause failed")
    assert calls == []
    with events_batched():
        event_emit(program=program, type="tier.changed", at=now, member=member, data={}, key="t")
    [(name, kwargs)] = calls
    assert _types(kwargs["events"]) == [("tier.changed", "t")]
    # and outside a block again, emits are not buffered
    event_emit(program=program, type="points.earned", at=now, member=member, data={}, key="p")
    assert [name for name, _ in calls] == ["events_emitted_mixed", "event_emitted"]


def test_an_exception_out_of_a_nested_block_drops_only_its_events(program, member, now, calls):
    with events_batched():
        event_emit(program=program, type="reward.granted", at=now, member=member, data={}, key="r")
        with pytest.raises(RuntimeError), events_batched():
            event_emit(program=program, type="tier.changed", at=now, member=member, data={}, key="t")
            raise RuntimeError("a savepoint rolled back")
        event_emit(program=program, type="points.earned", at=now, member=member, data={}, key="p")
    [(_, kwargs)] = calls
    assert _types(kwargs["events"]) == [("reward.granted", "r"), ("points.earned", "p")]


def test_an_unknown_type_is_refused_at_once_inside_a_block(program, now, calls):
    with events_batched():
        with pytest.raises(ValueError, match="Unknown event type"):
            event_emit(program=program, type="points.stolen", at=now, data={})
        with pytest.raises(ValueError, match="Unknown event type"):
            event_emit_many(program=program, type="points.stolen", at=now, events=[{"data": {}}])
        event_emit_many(program=program, type="points.expiring", at=now, events=[])
    assert calls == []  # nothing was buffered, so nothing is handed over
