"""The local stack hosts every execution environment in one process; what Powertools keeps per process must not leak."""

from __future__ import annotations

import threading
import time

from aws_lambda_powertools.event_handler import APIGatewayRestResolver

from complaints_tools.local.runtime import powertools_state_per_thread


def _event(n: int) -> dict:
    return {
        "httpMethod": "GET",
        "path": "/whose",
        "resource": "/whose",
        "headers": {"X-Receipt": str(n)},
        "multiValueHeaders": {"X-Receipt": [str(n)]},
        "requestContext": {"stage": "dev", "requestId": f"r{n}"},
        "body": None,
    }


def test_concurrent_requests_in_two_environments_each_read_their_own_headers():
    # Two environments of one function: two imports of its handler module, so two resolvers, in one process.
    powertools_state_per_thread()
    environments = [APIGatewayRestResolver() for _ in range(2)]
    for app in environments:

        @app.get("/whose")
        def whose(app=app) -> dict:
            time.sleep(0.05)  # another request starts meanwhile
            return {"receipt": app.current_event.headers["X-Receipt"]}

    answers: dict[int, str] = {}

    def call(n: int) -> None:
        answers[n] = environments[n % 2].resolve(_event(n), None)["body"]

    threads = [threading.Thread(target=call, args=(n,)) for n in range(8)]
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    assert answers == {n: f'{{"receipt":"{n}"}}' for n in range(8)}


def test_each_function_s_log_lines_carry_its_own_name_and_ticket_while_they_share_a_process():
    # Every function's Logger has the same service name, so in one process they share one formatter.
    import json
    from types import SimpleNamespace

    from complaints import logs

    powertools_state_per_thread()
    import io
    import logging

    out = io.StringIO()
    # One service name, so the second Logger reuses the first one's handler and formatter, as in the local stack.
    service = "complaint-desk-shared-formatter"
    classify = logs.logger(service=service, logger_handler=logging.StreamHandler(out))
    weibo = logs.logger(service=service)
    lines: dict[str, str] = {}
    in_classify, weibo_logged = threading.Event(), threading.Event()

    def run(logger, name: str, ticket: str | None) -> None:
        context = SimpleNamespace(
            function_name=name, memory_limit_in_mb=512, invoked_function_arn=f"arn:{name}", aws_request_id=name
        )

        @logger.inject_lambda_context
        def handler(event, context):
            if ticket:
                logger.append_keys(ticket_id=ticket)
                in_classify.set()
                weibo_logged.wait(5)  # the other function logs while this one holds its keys
            else:
                in_classify.wait(5)
            logger.info(f"line of {name}")
            if not ticket:
                weibo_logged.set()

        handler({}, context)

    threads = [
        threading.Thread(target=run, args=(classify, "ClassifyFunction", "a" * 32)),
        threading.Thread(target=run, args=(weibo, "WeiboFunction", None)),
    ]
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    logs.logger(service=service).info("local stack ready")
    for line in out.getvalue().splitlines():
        record = json.loads(line)
        lines[record["message"]] = record
    assert lines["line of ClassifyFunction"]["function_name"] == "ClassifyFunction"
    assert lines["line of ClassifyFunction"]["ticket_id"] == "a" * 32
    assert lines["line of WeiboFunction"]["function_name"] == "WeiboFunction"
    assert "ticket_id" not in lines["line of WeiboFunction"]
    assert "function_name" not in lines["local stack ready"]
    for record in lines.values():  # and each keeps what every record has
        assert record["level"] == "INFO"
        assert record["timestamp"] and record["location"] and record["service"]
