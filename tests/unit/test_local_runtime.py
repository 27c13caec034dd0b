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
