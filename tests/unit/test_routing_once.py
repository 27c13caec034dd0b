"""Routing publishes each ticket once: redeliveries, racing workers, failed publishes and crashed workers."""

from __future__ import annotations

import pytest
from test_desk import make_desk

from complaints.adapters.memory import MemoryNotifier
from complaints.domain.desk.dispatch import PartlyPublished
from complaints.domain.desk.intake import NewComplaint
from complaints.domain.errors import RoutingInProgress
from complaints.domain.tickets import Status


class FlakyNotifier(MemoryNotifier):
    """Fails the first `failures` calls as a whole, as SNS does when throttled or down."""

    def __init__(self, failures: int) -> None:
        super().__init__()
        self.failures = failures

    def publish_batch(self, *args, **kwargs) -> list[str]:
        if self.failures:
            self.failures -= 1
            raise ConnectionError("SNS unavailable")
        return super().publish_batch(*args, **kwargs)


class WorkerDied(BaseException):
    """The process vanished (Lambda timeout, out of memory): nothing after it runs."""


def audiences(notifier) -> list[str]:
    return [p["attributes"].get("audience") for p in notifier.published]


def classified(city, text="上望街道有人烧垃圾，黑烟很大", **kw):
    desk = make_desk(city, **kw)
    r = desk.submit(NewComplaint(text=text))
    desk.classify(r.id)
    return desk, r.id


def test_a_failed_publish_releases_the_ticket_and_the_retry_publishes_once(city):
    desk, ticket_id = classified(city)
    desk.notifier = FlakyNotifier(failures=2)
    for _ in range(2):
        with pytest.raises(ConnectionError):
            desk.route(ticket_id)
        assert desk.tickets.get(ticket_id).status is Status.CLASSIFIED  # released: SQS will retry
    assert desk.route(ticket_id) is Status.DISPATCHED
    assert desk.route(ticket_id) is Status.DISPATCHED
    assert audiences(desk.notifier) == ["agency", "copy"]
    assert [h.status for h in desk.tickets.get(ticket_id).history] == ["received", "classified", "dispatched"]


def test_a_copy_that_sns_refuses_is_retried_without_notifying_the_agency_again(city):
    desk, ticket_id = classified(city)

    class CopyFailsOnce(MemoryNotifier):
        failed = False

        def publish(self, channel, subject, messages, attributes):
            if attributes["audience"] == "copy" and not self.failed:
                self.failed = True
                raise ConnectionError("SNS unavailable")
            super().publish(channel, subject, messages, attributes)

    desk.notifier = CopyFailsOnce()
    with pytest.raises(PartlyPublished):  # SNS took the agency's notice and refused the copy
        desk.route(ticket_id)
    assert desk.tickets.get(ticket_id).status is Status.CLASSIFIED
    assert desk.tickets.get(ticket_id).notified == ["agency"]
    assert desk.route(ticket_id) is Status.DISPATCHED
    assert audiences(desk.notifier) == ["agency", "copy"]


def test_a_second_worker_publishes_nothing_while_the_first_holds_the_ticket(city):
    desk, ticket_id = classified(city)
    second_delivery = []

    class RacingNotifier(MemoryNotifier):
        def publish(self, *args, **kwargs):
            # While the first worker publishes, SQS hands the same ticket to a second one.
            with pytest.raises(RoutingInProgress):
                desk.route(ticket_id)
            second_delivery.append("refused")
            super().publish(*args, **kwargs)

    desk.notifier = RacingNotifier()
    assert desk.route(ticket_id) is Status.DISPATCHED
    assert second_delivery == ["refused", "refused"] and audiences(desk.notifier) == ["agency", "copy"]
    assert desk.route(ticket_id) is Status.DISPATCHED  # the second worker's retry: done already
    assert audiences(desk.notifier) == ["agency", "copy"]


def test_a_worker_dying_after_publishing_never_notifies_the_agency_twice(city):
    desk, ticket_id = classified(city)

    class DiesAfterPublishing(MemoryNotifier):
        def publish(self, *args, **kwargs):
            super().publish(*args, **kwargs)
            raise WorkerDied

    agency = DiesAfterPublishing()
    desk.notifier = agency
    with pytest.raises(WorkerDied):
        desk.route(ticket_id)
    assert desk.tickets.get(ticket_id).status is Status.ROUTING
    desk.notifier = MemoryNotifier()
    with pytest.raises(RoutingInProgress):  # within the lease, the redelivery waits
        desk.route(ticket_id)
    desk.routing_lease_s = 0  # the lease is over: the first worker is certainly gone
    assert desk.route(ticket_id) is Status.TRIAGE
    assert desk.route(ticket_id) is Status.TRIAGE
    assert [p["channel"] for p in agency.published] == ["dispatch"]
    (to_triage,) = desk.notifier.published
    assert to_triage["channel"] == "triage" and "派单中断" in to_triage["messages"]["email"]
    assert to_triage["attributes"]["reason"] == "interrupted"
    ticket = desk.tickets.get(ticket_id)
    assert (ticket.routing_claim, ticket.triage_reason) == (None, "interrupted")


def test_a_worker_dying_before_publishing_loses_nothing(city):
    desk, ticket_id = classified(city)

    class DiesBeforePublishing(MemoryNotifier):
        def publish(self, *args, **kwargs):
            raise WorkerDied

    desk.notifier = DiesBeforePublishing()
    with pytest.raises(WorkerDied):
        desk.route(ticket_id)
    desk.notifier, desk.routing_lease_s = MemoryNotifier(), 0
    assert desk.route(ticket_id) is Status.TRIAGE
    assert len(desk.notifier.published) == 1


PERSONAL = "我的手机13812345678，身份证330381199001011234，座机0577-65812345。上望街道有人烧垃圾"


def test_the_assigned_agency_reads_the_text_as_written(city):
    desk, ticket_id = classified(city, text=PERSONAL, confidence=0.9)
    desk.route(ticket_id)
    msg, copy = desk.notifier.published
    assert msg["channel"] == "dispatch" and "13812345678" in msg["messages"]["email"]
    assert msg["attributes"]["audience"] == "agency"


def test_the_town_copy_reads_the_text_with_personal_numbers_masked(city):
    desk, ticket_id = classified(city, text=PERSONAL, confidence=0.9)
    desk.route(ticket_id)
    _, copy = desk.notifier.published
    email = copy["messages"]["email"]
    assert copy["attributes"]["audience"] == "copy" and copy["attributes"]["district"] == "上望街道"
    assert "上望街道有人烧垃圾" in email and "(抄送)" in email
    for secret in ("13812345678", "330381199001011234", "65812345"):
        assert secret not in email


def test_triage_reads_the_text_with_personal_numbers_masked(city):
    desk, ticket_id = classified(city, text=PERSONAL, confidence=0.3)
    desk.route(ticket_id)
    (msg,) = desk.notifier.published
    email = msg["messages"]["email"]
    assert msg["channel"] == "triage" and "上望街道有人烧垃圾" in email
    for secret in ("13812345678", "330381199001011234", "65812345"):
        assert secret not in email


def test_recording_a_published_ticket_outlasts_a_burst_of_throttling(city, monkeypatch):
    monkeypatch.setattr("complaints.domain.desk.dispatch.time.sleep", lambda s: None)
    desk, ticket_id = classified(city)
    real, failures = desk.tickets.record_dispatched, iter([True, True, True])

    def throttled(*args, **kwargs):
        if next(failures, False):
            raise ConnectionError("ProvisionedThroughputExceeded")
        return real(*args, **kwargs)

    desk.tickets.record_dispatched = throttled
    assert desk.route(ticket_id) is Status.DISPATCHED
    assert audiences(desk.notifier) == ["agency", "copy"]
    assert next(failures, "spent") == "spent"  # all three failures happened
