"""Citizens are told of an answer exactly once while SNS (their SMS) and SES (their e-mail) fail a share of the
time: a failed send is retried from the table's stream, a redelivered record sends nothing again, and once the
retries settle no citizen is missing their message and none has two."""

from __future__ import annotations

from concurrent.futures import ThreadPoolExecutor

from loop_helpers import Desk, delivered, file_complaint, outbox, staff, wait_until

TICKETS = 30
SHARE = 0.3  # of SNS Publish (agencies' notices as well as the 15 SMS)
# Of SES sends: only the 15 e-mails roll for it, so at 0.3 a run with no failed e-mail at all (0.7**15, one in 200)
# would prove nothing about e-mail; at 0.5 that is one run in 30,000.
EMAIL_SHARE = 0.5


def _contact(i: int) -> dict[str, str]:
    return {"phone": f"1391234{i:04d}"} if i % 2 else {"email": f"citizen{i}@example.cn"}


def _endpoint(contact: dict[str, str]) -> tuple[str, str]:
    return ("sms", "+86" + contact["phone"]) if "phone" in contact else ("email", contact["email"])


def _messenger_stream(stack) -> dict:
    streams = stack.request("GET", "/_local/health").json()["streams"]
    (messenger,) = [s for s in streams if s["function"] == "MessengerFunction"]
    return messenger


def test_every_citizen_hears_of_the_answer_once_while_sms_and_email_sends_fail(stack, faults):
    def filed(i: int) -> dict:
        return {**file_complaint(stack, _contact(i)), "contact": _contact(i)}

    with ThreadPoolExecutor(6) as pool:
        tickets = list(pool.map(filed, range(TICKETS)))
    eco = Desk(stack, staff(stack, "eco"))
    for t in tickets:
        assert eco.accept(t["id"]).status == 200
    before = _messenger_stream(stack)

    faults(sns_publish_fail=SHARE, ses_send_fail=EMAIL_SHARE)
    with ThreadPoolExecutor(6) as pool:
        replies = list(pool.map(lambda t: eco.reply(t["id"], f"问题{t['ticket_no']}已处理完毕"), tickets))
    assert [r.status for r in replies] == [200] * TICKETS, [r.body for r in replies if r.status != 200][:2]

    def undelivered() -> list[int]:
        return [t["ticket_no"] for t in tickets if not delivered(stack, t["id"], "answer-1")]

    settled = wait_until(lambda: not undelivered(), timeout=120, every=0.5)
    assert settled, f"still not delivered after the retries: {undelivered()}"
    injected = stack.request("GET", "/_local/faults").json()["injected"]
    assert injected["sns_publish_fail"] > 0 and injected["ses_send_fail"] > 0, injected
    faults()

    for t in tickets:
        channel = "sms" if "phone" in t["contact"] else "email"
        assert delivered(stack, t["id"], "answer-1") == {channel: "sent"}, t["ticket_no"]
        sent = [(e["protocol"], e["endpoint"]) for e in outbox(stack, t["ticket_no"], "citizen")]
        assert sent == [_endpoint(t["contact"])], (t["ticket_no"], sent)
    after = _messenger_stream(stack)
    assert after["retries"] > before["retries"]  # the failed sends came back from the stream, and went out then
    assert after["dead_lettered"] == before["dead_lettered"]
    dead = stack.aws("sqs").get_queue_attributes(
        QueueUrl=stack.resource("MessengerDeadLetterQueue"), AttributeNames=["ApproximateNumberOfMessages"]
    )
    assert dead["Attributes"]["ApproximateNumberOfMessages"] == "0"
