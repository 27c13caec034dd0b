"""The whole pipeline on one machine: moto's server on loopback (in a process of its own, see aws_server.py),
resources from template.yaml, the real handlers.

    complaints run            # serves http://127.0.0.1:3000 (PORT overrides)

Requests to the API routes of template.yaml become API Gateway proxy events for the intake handler, once the web
ACL's per-address rate rule (waf.py) lets them through; the SQS queues are polled into the classify and route
handlers as batch events, and table streams into the functions of their `Type: DynamoDB` events (StreamPoller);
scheduled functions (the Weibo poller) run on a scheduler thread at the template's rate; `GET /_local/outbox` shows
what each agency would have received.
"""

from __future__ import annotations

import ipaddress
import json
import logging
import os
import secrets
import signal
import threading
import time
import urllib.request
from functools import lru_cache, partial
from http import HTTPStatus
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path
from typing import Any
from urllib.parse import parse_qs, urlsplit

import boto3

from complaints.domain import clock
from complaints_tools.local import state
from complaints_tools.local.alarms import alarm_states
from complaints_tools.local.authorizer import CognitoAuthorizer, Unauthorized
from complaints_tools.local.faults import FaultInjector, Faults
from complaints_tools.local.resources import create_all
from complaints_tools.local.runtime import (
    MAX_BODY_BYTES,
    Function,
    QueuePoller,
    Route,
    Scheduler,
    StreamPoller,
    compile_route,
    gateway_response,
    load_handler,
    match_route,
    powertools_state_per_thread,
    proxy_event,
    schedule_seconds,
)
from complaints_tools.local.template import ACCOUNT, Template
from complaints_tools.local.waf import RateLimiter, rate_rules
from complaints_tools.local.web import WebEdge
from complaints_tools.web import site_config

log = logging.getLogger("complaints.local")

REGION = "us-east-1"


class LocalStack:
    """Start with `start()`; `url` is where the API answers; `stop()` ends everything."""

    def __init__(
        self,
        root: Path,
        port: int = 3000,
        host: str = "127.0.0.1",
        parameters: dict[str, str] | None = None,
        retry_after: int | None = None,
        max_environments: int = int(os.environ.get("LOCAL_MAX_ENVIRONMENTS", "4")),
        state_dir: Path | None = None,
    ) -> None:
        self.root = Path(root)
        self.host, self.port = host, port
        self.parameters = parameters or {}
        self.retry_after = retry_after
        self.max_environments = max_environments
        self.state_dir = Path(state_dir) if state_dir else None
        self.saver = None
        self.template: Template | None = None
        self.routes: list[Route] = []
        self.pollers: list[QueuePoller] = []
        self.stream_pollers: list[StreamPoller] = []
        self.schedulers: dict[str, Scheduler] = {}
        self.env_overrides: dict[str, str] = {}
        self.fake_weibo = None
        self.fake_wechat = None
        self.functions: dict[str, Function] = {}
        self.limiters: list[RateLimiter] = []
        self.skipped: list[str] = []
        self.faults = FaultInjector(Faults.parse(os.environ.get("LOCAL_FAULTS")))
        self._moto = None
        self._http: ThreadingHTTPServer | None = None
        self.web: WebEdge | None = None
        self.city = None

    @property
    def url(self) -> str:
        return f"http://{self.host}:{self.port}"

    # ---------------------------------------------------------------- start
    def start(self) -> LocalStack:
        from complaints_tools.local.aws_server import AwsServer

        t0 = time.monotonic()
        self._moto = AwsServer(REGION).start()
        # Every boto3 client in this process — the handlers' included — now talks to moto. Nothing else differs.
        os.environ.update(
            {
                "AWS_ENDPOINT_URL": self._moto.endpoint,
                "AWS_ACCESS_KEY_ID": "local",
                "AWS_SECRET_ACCESS_KEY": "local",
                "AWS_DEFAULT_REGION": REGION,
                "AWS_REGION": REGION,
            }
        )
        os.environ.pop("AWS_PROFILE", None)
        self.faults.install()  # before any handler creates its clients

        tpl = Template.load(self.root / "template.yaml", region=REGION, parameters=self.parameters)
        self.template = tpl
        self.skipped = create_all(tpl)
        self.limiters = [RateLimiter(rule) for rule in rate_rules(tpl)]
        if self.state_dir:
            restored = state.restore(tpl, self.state_dir)
            log.info("state kept in %s: %d items and objects restored", self.state_dir, restored)
            self.saver = state.Saver(tpl, self.state_dir)
            self.saver.start()
        self._subscribe_agencies()
        self._open_web()
        self._connect_weibo()
        self._connect_wechat()
        self._seed_car_moving()
        self._start_functions()
        self._serve()
        if self.fake_wechat is not None:  # the fake's messages go to this stack's /wechat
            self.fake_wechat.server_url = f"{self.url}/wechat"
        for scheduler in self.schedulers.values():
            scheduler.start()
        log.info("local stack ready at %s in %.1f s", self.url, time.monotonic() - t0)
        return self

    def _subscribe_agencies(self) -> None:
        from complaints.city import load_city
        from complaints_tools.agencies import sync

        tpl = self.template
        cities = [env["CITY_CONFIG"] for env in map(tpl.function_environment, tpl.functions()) if "CITY_CONFIG" in env]
        if not cities or "DispatchTopic" not in tpl.physical:  # a template of another shape (a test's)
            return
        city_file = cities[0]
        city = self.city = load_city(city_file)
        sync(city, tpl.physical["DispatchTopic"]["Ref"], tpl.physical["TriageTopic"]["Ref"])
        if "StaffUserPool" in tpl.physical:  # one group per agency, as `complaints subscribe-agencies` makes them
            from complaints_tools.staff import StaffPool

            idp = boto3.client("cognito-idp", region_name=REGION)
            StaffPool(
                tpl.physical["StaffUserPool"]["Ref"], tpl.physical["StaffUserPoolClient"]["Ref"], idp
            ).sync_groups(city)

    def _open_web(self) -> None:
        """CloudFront's part, if the template has a distribution: pages from web/, /config.json, the headers."""
        tpl = self.template
        if not tpl.of_type("AWS::CloudFront::Function") or self.city is None:
            return
        endpoint = os.environ["AWS_ENDPOINT_URL"]
        config = site_config(
            self.city,
            cognito_endpoint=endpoint.rstrip("/") + "/",
            region=REGION,
            client_id=tpl.physical["StaffUserPoolClient"]["Ref"],
        )
        self.web = WebEdge(tpl, self.root / "web", endpoint, lambda: config)

    def _cognito_authorizers(self) -> dict[str, CognitoAuthorizer]:
        """The API's Cognito authorizers, checking tokens against the moto pools the template's pools became."""
        tpl, endpoint = self.template, os.environ["AWS_ENDPOINT_URL"]
        out = {}
        for name, pool in tpl.cognito_authorizers().items():
            pool_id = tpl.physical[pool]["Ref"]
            clients = frozenset(
                tpl.physical[logical]["Ref"]
                for logical, res in tpl.of_type("AWS::Cognito::UserPoolClient").items()
                if res["Properties"]["UserPoolId"] == {"Ref": pool}
            )
            out[name] = CognitoAuthorizer(pool_id, REGION, clients, partial(_published_keys, endpoint, pool_id))
        return out

    def _connect_weibo(self) -> None:
        """Point the Weibo poller at WEIBO_API_BASE if set, else at a fake Weibo started here; seed its token.

        The token goes where the deployed function reads it: the SSM SecureString named in the template.
        """
        tpl = self.template
        pollers = [f for f in tpl.functions() if "WEIBO_API_BASE" in tpl.function_environment(f)]
        if not pollers:
            return
        base, token, self.fake_weibo = weibo_endpoint(os.environ)
        self.env_overrides["WEIBO_API_BASE"] = base
        hosts = media_fetch_hosts(self._media_hosts(pollers[0]), base)
        if hosts:
            self.env_overrides["MEDIA_FETCH_HOSTS"] = hosts
        parameter = tpl.function_environment(pollers[0])["WEIBO_TOKEN_PARAMETER"]
        if token:
            boto3.client("ssm", region_name=REGION).put_parameter(
                Name=parameter, Value=token, Type="SecureString", Overwrite=True
            )
        else:
            log.warning("WEIBO_API_BASE is set but WEIBO_ACCESS_TOKEN is not: %s stays empty", parameter)
        log.info("Weibo poller reads %s", base)

    def _media_hosts(self, logical: str) -> str | None:
        return self.env_overrides.get("MEDIA_FETCH_HOSTS") or self.template.function_environment(logical).get(
            "MEDIA_FETCH_HOSTS"
        )

    def _connect_wechat(self) -> None:
        """Point the WeChat functions at WECHAT_API_BASE if set, else at a fake WeChat started here; seed the
        account's SecureStrings (<WECHAT_PARAMETER_PREFIX>/token, /aes-key, /app-secret) where the deployed
        functions read them, from WECHAT_TOKEN, WECHAT_AES_KEY and WECHAT_APP_SECRET or the fake's own values."""
        tpl = self.template
        users = [f for f in tpl.functions() if "WECHAT_PARAMETER_PREFIX" in tpl.function_environment(f)]
        if not users:
            return
        account, self.fake_wechat = wechat_account(os.environ)
        self.env_overrides["WECHAT_API_BASE"] = account["api_base"]
        self.env_overrides["WECHAT_APP_ID"] = account["app_id"]
        fetching = [f for f in users if "MEDIA_FETCH_HOSTS" in tpl.function_environment(f)]
        if fetching:
            hosts = media_fetch_hosts(self._media_hosts(fetching[0]), account["api_base"])
            if hosts:
                self.env_overrides["MEDIA_FETCH_HOSTS"] = hosts
        prefix = tpl.function_environment(users[0])["WECHAT_PARAMETER_PREFIX"]
        ssm = boto3.client("ssm", region_name=REGION)
        for name in ("token", "aes-key", "app-secret"):
            if account[name]:
                ssm.put_parameter(Name=f"{prefix}/{name}", Value=account[name], Type="SecureString", Overwrite=True)
            else:
                log.warning("WECHAT_API_BASE is set without its %s: %s/%s stays empty", name, prefix, name)
        log.info("WeChat functions call %s as %s", account["api_base"], account["app_id"])

    def _seed_car_moving(self) -> None:
        """The phone-key secret where the deployed function reads it (a random one, unless a kept state or the
        operator put one there), and the owner's link to this stack's own address."""
        tpl = self.template
        users = [f for f in tpl.functions() if "PHONE_KEY_PARAMETER" in tpl.function_environment(f)]
        if not users:
            return
        parameter = tpl.function_environment(users[0])["PHONE_KEY_PARAMETER"]
        ssm = boto3.client("ssm", region_name=REGION)
        try:
            ssm.get_parameter(Name=parameter, WithDecryption=True)
        except ssm.exceptions.ParameterNotFound:
            ssm.put_parameter(Name=parameter, Value=secrets.token_hex(32), Type="SecureString")
        self.env_overrides["OWNER_LINK_BASE"] = self.url

    def _start_functions(self) -> None:
        tpl = self.template
        env: dict[str, str] = {}
        for logical in tpl.functions():
            for k, v in tpl.function_environment(logical).items():
                if env.get(k, v) != v:
                    # One process hosts all functions, so they must agree on every shared variable.
                    raise RuntimeError(f"{k} differs between functions; the local stack cannot host them together")
                env[k] = v
        # Where the local stack deliberately differs from AWS (an endpoint); only variables the template defines.
        env.update({k: v for k, v in self.env_overrides.items() if k in env})
        os.environ.update(env)
        if "ROUTE_QUEUE_URL" in env:  # the classify worker's sends there are where `kill_classify` strikes
            self.faults.kill_queue_urls.add(env["ROUTE_QUEUE_URL"])
        globals_ = tpl.doc.get("Globals", {}).get("Function", {})
        powertools_state_per_thread()  # one process hosts every environment: see there
        authorizers = self._cognito_authorizers()
        for logical, res in tpl.functions().items():
            props = res["Properties"]
            code_dir, module, attr = tpl.function_code(logical)
            fn = Function(
                logical,
                partial(_loader, code_dir, module, attr, logical, self.faults, tpl.function_environment(logical)),
                int(props.get("MemorySize", globals_.get("MemorySize", 512))),
                int(props.get("Timeout", globals_.get("Timeout", 15))),
                max_environments=self.max_environments,
            )
            self.functions[logical] = fn
            guarded = tpl.api_route_authorizers(logical)
            for method, path in tpl.api_routes(logical):
                authorizer = authorizers[guarded[(method, path)]] if (method, path) in guarded else None
                self.routes.append(compile_route(method, path, fn, authorizer))
            for ev in tpl.sqs_events(logical):
                queue_arn = tpl.resolve(ev["Queue"])
                logical_queue = next(k for k, v in tpl.physical.items() if v.get("Arn") == queue_arn)
                # Lambda reads a queue with several batches at once (five at first), each in its own environment.
                for _ in range(self.max_environments):
                    poller = QueuePoller(
                        fn,
                        tpl.physical[logical_queue]["QueueUrl"],
                        queue_arn,
                        int(ev.get("BatchSize", 10)),
                        REGION,
                        self.retry_after,
                    )
                    poller.start()
                    self.pollers.append(poller)
            for ev in tpl.dynamodb_events(logical):
                self._start_stream_poller(fn, ev)
            for i, ev in enumerate(tpl.schedule_events(logical)):
                every = schedule_seconds(ev["Schedule"])
                if os.environ.get("WEIBO_POLL_SECONDS") and "WEIBO_API_BASE" in tpl.function_environment(logical):
                    every = float(os.environ["WEIBO_POLL_SECONDS"])
                rule = f"arn:aws:events:{REGION}:{ACCOUNT}:rule/{tpl.stack_name}-{logical}-{i}"
                self.schedulers[logical] = Scheduler(fn, rule, every, REGION)

    def _start_stream_poller(self, fn: Function, event: dict[str, Any]) -> None:
        """Lambda's event source mapping for a `Type: DynamoDB` event: a StreamPoller (runtime.py) on the stream."""
        stream_arn = event["Stream"]
        if not isinstance(stream_arn, str) or "/stream/" not in stream_arn:
            raise RuntimeError(f"{fn.name} reads a stream the local stack cannot find: {event['Stream']}")
        poller = StreamPoller(fn, stream_arn, event, REGION)
        if not poller.settings.enabled:
            log.info("%s: its stream event is disabled (Enabled: false)", fn.name)
            return
        poller.start()
        self.stream_pollers.append(poller)

    # ----------------------------------------------------------------- http
    def _serve(self) -> None:
        stack = self

        class Handler(BaseHTTPRequestHandler):
            protocol_version = "HTTP/1.1"
            # An answer goes out as two writes (headers, body): with Nagle's algorithm the body waits for the
            # client's delayed ACK of the headers, 40 ms on every request of a kept-alive connection.
            disable_nagle_algorithm = True

            def log_message(self, fmt: str, *args: Any) -> None:  # requests are logged by the handlers
                pass

            def do_GET(self) -> None:  # noqa: N802
                stack._handle(self, "GET")

            def do_POST(self) -> None:  # noqa: N802
                stack._handle(self, "POST")

            def do_PUT(self) -> None:  # noqa: N802
                stack._handle(self, "PUT")

            def do_DELETE(self) -> None:  # noqa: N802
                stack._handle(self, "DELETE")

            def do_PATCH(self) -> None:  # noqa: N802
                stack._handle(self, "PATCH")

            def __getattr__(self, name: str) -> Any:
                # Any other method (HEAD, OPTIONS, TRACE, …) reaches the gateway too, as it does API Gateway.
                if name.startswith("do_") and name[3:].isalpha():
                    return lambda: stack._handle(self, name[3:])
                raise AttributeError(name)

        self._http = _GatewayServer((self.host, self.port), Handler)
        self._http.daemon_threads = True
        self.port = self._http.server_address[1]
        threading.Thread(target=self._http.serve_forever, name="gateway", daemon=True).start()

    def _handle(self, req: BaseHTTPRequestHandler, method: str) -> None:
        path = req.path.split("?", 1)[0]
        if path.startswith("/_local/"):
            return self._local_route(req, method, path)
        if self.web is not None:  # CloudFront answers pages and files before the API's WAF and gateway
            page = self.web.answer(method, path, dict(req.headers.items()))
            if page is not None:
                _drain(req, int(req.headers.get("Content-Length") or 0))
                return self._send(req, page.status, page.headers, page.body)
        length = int(req.headers.get("Content-Length") or 0)
        # WAF answers before API Gateway: every limiter counts the request, the first over its limit answers.
        blocked = [limiter.rule for limiter in self.limiters if limiter.blocks(req.client_address[0])]
        if blocked:
            _drain(req, length)
            return self._send(req, blocked[0].status, {"Content-Type": blocked[0].content_type}, blocked[0].body)
        if length > MAX_BODY_BYTES:
            _drain(req, length)
            return self._gateway_response(
                req, "REQUEST_TOO_LARGE", HTTPStatus.REQUEST_ENTITY_TOO_LARGE, "Request Too Long"
            )
        body = req.rfile.read(length) if length else b""
        found = match_route(self.routes, method, path)
        if found is None:
            return self._gateway_response(
                req, "MISSING_AUTHENTICATION_TOKEN", HTTPStatus.FORBIDDEN, "Missing Authentication Token"
            )
        route, params = found
        claims = None
        if route.authorizer is not None:  # API Gateway checks the token before any function runs
            try:
                claims = route.authorizer.claims(req.headers.get("Authorization"))
            except Unauthorized as e:
                log.info("token refused for %s %s: %s", method, route.template, e)
                return self._gateway_response(req, "UNAUTHORIZED", HTTPStatus.UNAUTHORIZED, "Unauthorized")
        event = proxy_event(
            method, req.path, dict(req.headers.items()), body, route, self.template.parameter("Stage"), params
        )
        if claims is not None:
            event["requestContext"]["authorizer"] = {"claims": claims}
        try:
            result = route.function.invoke(event)
        except Exception:
            log.exception("%s crashed", route.function.name)
            return self._gateway_response(req, "INTEGRATION_FAILURE", HTTPStatus.BAD_GATEWAY, "Internal server error")
        # Proxy responses may carry headers in either field (the REST resolver uses multiValueHeaders).
        headers = dict(result.get("headers") or {})
        headers.update({k: v[-1] for k, v in (result.get("multiValueHeaders") or {}).items() if v})
        return self._send(req, int(result["statusCode"]), headers, (result.get("body") or "").encode("utf-8"))

    def _gateway_response(self, req: BaseHTTPRequestHandler, response_type: str, status: int, message: str) -> None:
        """API Gateway's own answer, where no function runs (no route, body too large, crash), as configured."""
        status, body = gateway_response(self.template.gateway_responses(), response_type, status, message)
        self._send(req, status, {"Content-Type": "application/json"}, body)

    def _local_route(self, req: BaseHTTPRequestHandler, method: str, path: str) -> None:
        labels = {
            v["Ref"]: k.removesuffix("Topic").lower() for k, v in self.template.physical.items() if "TopicArn" in v
        }
        if method == "GET" and path in ("/_local/outbox", "/_local/published"):
            entries = self._moto.get("/_outbox/deliveries" if path.endswith("outbox") else "/_outbox/published", labels)
            # ?ticket_no=10008: what was sent about one ticket (repeat it for several).
            wanted = parse_qs(urlsplit(req.path).query).get("ticket_no")
            if wanted:
                entries = [e for e in entries if e["ticket_no"] in wanted]
            return self._send_json(req, HTTPStatus.OK, entries)
        if method == "POST" and path.startswith("/_local/schedules/"):
            scheduler = self.schedulers.get(path.rsplit("/", 1)[1])
            if scheduler is None:
                return self._send_json(req, HTTPStatus.NOT_FOUND, {"error": {"code": "not_found", "message": path}})
            return self._send_json(req, HTTPStatus.OK, scheduler.run_now())
        if path == "/_local/clock" and method in ("GET", "POST"):
            return self._clock_route(req, method)
        if path == "/_local/faults" and method in ("GET", "POST"):
            return self._faults_route(req, method)
        if method == "GET" and path == "/_local/health":
            pollers: dict[str, dict[str, int]] = {}
            for p in self.pollers:  # several read each queue
                counts = pollers.setdefault(p.function.name, {"pollers": 0, "invocations": 0, "errors": 0})
                counts["pollers"] += 1
                counts["invocations"] += p.invocations
                counts["errors"] += p.errors
            for p in self.stream_pollers:  # one reads each stream (each of its shards, one batch at a time)
                counts = pollers.setdefault(p.function.name, {"pollers": 0, "invocations": 0, "errors": 0})
                counts["pollers"] += 1
                counts["invocations"] += p.invocations
                counts["errors"] += p.errors
            streams = [{"function": p.function.name, **p.as_dict()} for p in self.stream_pollers]
            schedules = {
                name: {"every_s": s.every_s, "invocations": s.invocations, "errors": s.errors, "last": s.last_result}
                for name, s in self.schedulers.items()
            }
            return self._send_json(
                req,
                HTTPStatus.OK,
                {
                    "ok": True,
                    "aws_endpoint": os.environ["AWS_ENDPOINT_URL"],
                    "region": REGION,
                    "resources": {k: v["Ref"] for k, v in self.template.physical.items()},
                    "skipped_resources": self.skipped,
                    "pollers": pollers,
                    "streams": streams,
                    "schedules": schedules,
                    "functions": {
                        n: {"environments": f.environments, "init_errors": f.init_errors}
                        for n, f in self.functions.items()
                    },
                    "alarms": alarm_states(self.template, [*self.pollers, *self.stream_pollers], self.schedulers),
                    "faults": self.faults.as_dict(),
                    "rate_limits": [
                        {"rule": r.rule.name, "limit": r.rule.limit, "window_s": r.rule.window_s} for r in self.limiters
                    ],
                    "weibo_api_base": self.env_overrides.get("WEIBO_API_BASE"),
                    "wechat_api_base": self.env_overrides.get("WECHAT_API_BASE"),
                    "fake_wechat": self.fake_wechat.url if self.fake_wechat else None,
                },
            )
        return self._send_json(req, HTTPStatus.NOT_FOUND, {"error": {"code": "not_found", "message": "no such route"}})

    def _clock_route(self, req: BaseHTTPRequestHandler, method: str) -> None:
        """`{"offset_s": N}` moves every handler's clock N seconds ahead of the system's (forward only)."""
        if method == "POST":
            length = int(req.headers.get("Content-Length") or 0)
            try:
                offset = json.loads(req.rfile.read(length) or b"{}")["offset_s"]
                if isinstance(offset, bool) or not isinstance(offset, int | float) or offset < clock.offset_s():
                    raise ValueError("offset_s must be a number of seconds, no smaller than the current offset")
                clock.set_offset_s(offset)
            except (ValueError, KeyError, TypeError) as e:
                message = str(e) if isinstance(e, ValueError) else 'send {"offset_s": seconds}'
                return self._send_json(
                    req, HTTPStatus.BAD_REQUEST, {"error": {"code": "bad_clock", "message": message}}
                )
        return self._send_json(req, HTTPStatus.OK, {"offset_s": clock.offset_s(), "now": clock.now().isoformat()})

    def _faults_route(self, req: BaseHTTPRequestHandler, method: str) -> None:
        if method == "POST":
            length = int(req.headers.get("Content-Length") or 0)
            try:
                faults = Faults.parse(json.loads(req.rfile.read(length) or b"{}"))
            except (ValueError, TypeError) as e:
                return self._send_json(
                    req, HTTPStatus.BAD_REQUEST, {"error": {"code": "bad_faults", "message": str(e)}}
                )
            model_changed = faults.model != self.faults.faults.model
            self.faults.faults = faults
            if model_changed:  # new environments load the model as the fault now says
                for fn in self.functions.values():
                    fn.reset()
        return self._send_json(req, HTTPStatus.OK, self.faults.as_dict())

    def _send_json(self, req: BaseHTTPRequestHandler, status: int, data: Any) -> None:
        self._send(
            req,
            status,
            {"Content-Type": "application/json; charset=utf-8"},
            json.dumps(data, ensure_ascii=False).encode("utf-8"),
        )

    def _send(self, req: BaseHTTPRequestHandler, status: int, headers: dict[str, str], body: bytes) -> None:
        req.send_response(status)
        # The distribution's response headers policy, on every answer (Override: the policy's values win).
        if self.web is not None and not req.path.startswith("/_local/"):
            headers = {**headers, **self.web.headers}
        for k, v in headers.items():
            if k.lower() != "content-length":
                req.send_header(k, v)
        req.send_header("Content-Length", str(len(body)))
        req.end_headers()
        if req.command != "HEAD":  # a HEAD answer has the headers of its body only (RFC 9110), as on API Gateway
            req.wfile.write(body)

    # ------------------------------------------------------------------ stop
    def stop(self) -> None:
        for p in [*self.pollers, *self.stream_pollers, *self.schedulers.values()]:
            p.stopping.set()
        if self._http:
            self._http.shutdown()
        for p in [*self.pollers, *self.stream_pollers]:
            p.join(timeout=3)
        if self.saver:
            self.saver.stop()
        if self.fake_weibo:
            self.fake_weibo.stop()
        if self.fake_wechat:
            self.fake_wechat.stop()
        if self._moto:
            self._moto.stop()


@lru_cache(maxsize=8)
def _published_keys(endpoint: str, pool_id: str) -> dict[str, Any]:
    """A pool's JWKS, from the URL Cognito publishes it at (moto serves it unsigned, as AWS does)."""
    with urllib.request.urlopen(f"{endpoint}/{pool_id}/.well-known/jwks.json", timeout=10) as r:
        return json.loads(r.read())


def _drain(req: BaseHTTPRequestHandler, length: int) -> None:
    """Read a body that will not be used, so that the client hears the answer instead of a reset."""
    while length > 0:
        length -= len(req.rfile.read(min(length, 1 << 20)) or b"\0" * length)


class _GatewayServer(ThreadingHTTPServer):
    # The default listen backlog (5) resets connections as soon as a few dozen clients connect at once.
    request_queue_size = 256


def weibo_endpoint(environ) -> tuple[str, str | None, Any]:
    """(API base, token, fake server or None): WEIBO_API_BASE if set, else a fake Weibo started on a free port."""
    if environ.get("WEIBO_API_BASE"):
        return environ["WEIBO_API_BASE"], environ.get("WEIBO_ACCESS_TOKEN"), None
    from complaints_tools.fake_weibo import FakeWeibo

    # No mentions until asked for (`POST /_fake/samples`, as `make demo` does): a new user's first complaint is the
    # first ticket, and the outbox shows only what they sent.
    fake = FakeWeibo(samples=False).start()
    return fake.api_base, environ.get("WEIBO_ACCESS_TOKEN") or fake.token, fake


def wechat_account(environ) -> tuple[dict[str, str | None], Any]:
    """({"api_base", "app_id", "token", "aes-key", "app-secret"}, fake server or None): the WECHAT_* variables; a fake
    WeChat on a free port unless WECHAT_API_BASE is set, with the account's values where they are given."""
    given = {
        "token": environ.get("WECHAT_TOKEN") or None,
        "app_id": environ.get("WECHAT_APP_ID") or None,
        "app-secret": environ.get("WECHAT_APP_SECRET") or None,
        "aes-key": environ.get("WECHAT_AES_KEY") or None,
    }
    if environ.get("WECHAT_API_BASE"):
        return {
            **given,
            "api_base": environ["WECHAT_API_BASE"],
            "app_id": given["app_id"] or DEFAULT_WECHAT_APP_ID,
        }, None
    from complaints_tools.fake_wechat import FakeWechat

    fake = FakeWechat(
        token=given["token"], app_id=given["app_id"], app_secret=given["app-secret"], aes_key=given["aes-key"]
    ).start()
    account = {
        "api_base": fake.api_base,
        "app_id": fake.app_id,
        "token": fake.token,
        "aes-key": fake.aes_key,
        "app-secret": fake.app_secret,
    }
    return account, fake


DEFAULT_WECHAT_APP_ID = "wx0000000000000000"  # the template parameter's default


def media_fetch_hosts(template_hosts: str | None, weibo_base: str) -> str | None:
    """The template's allow-list plus the exact origin of a Weibo or WeChat on loopback, whose pictures it serves
    itself.

    An exact origin (`http://127.0.0.1:8090`) admits that scheme, address and port only; the template parameter's
    pattern admits no such entry, so only the local stack can add one.
    """
    split = urlsplit(weibo_base)
    try:
        on_loopback = ipaddress.ip_address(split.hostname or "").is_loopback and split.port is not None
    except ValueError:
        on_loopback = False
    if template_hosts is None or not on_loopback:
        return template_hosts
    return f"{template_hosts},{split.scheme}://{split.netloc}"


def _loader(
    code_dir: Path, module: str, attr: str, logical: str, faults: FaultInjector, env: dict[str, str], number: int
):
    with faults.environment(env):
        return load_handler(code_dir, module, attr, f"lambda_{logical}_{number}")


def serve_forever(
    root: Path,
    port: int,
    retry_after: int | None = None,
    parameters: dict[str, str] | None = None,
    state_dir: Path | None = None,
) -> None:
    """Run until Ctrl-C or SIGTERM. `retry_after` (s) brings failed queue messages back sooner, for tests and
    load runs (see QueuePoller); else the queue's visibility timeout applies. With `state_dir`, tables and
    buckets are kept there across restarts."""

    def interrupt(signum, frame):
        raise KeyboardInterrupt

    signal.signal(signal.SIGTERM, interrupt)  # `kill` stops the stack as Ctrl-C does: state saved
    stack = LocalStack(root, port=port, retry_after=retry_after, parameters=parameters, state_dir=state_dir).start()
    print(f"Complaint desk running at {stack.url}/  (outbox: {stack.url}/_local/outbox, Ctrl-C stops)", flush=True)
    if stack.web is not None:
        u = stack.url
        print(f"  pages: {u}/ (complain)  {u}/board (public board)  {u}/agency (staff)  {u}/triage", flush=True)
    if stack.fake_wechat:
        wx = stack.fake_wechat
        print(
            f"Fake WeChat at {wx.url} (AppID {wx.app_id}), sending to {wx.server_url}: a user's message is"
            f' curl -X POST {wx.url}/_fake/send -d \'{{"openid": "o-me", "content": "…"}}\';'
            f" what reached WeChat users: {wx.url}/_fake/messages",
            flush=True,
        )
    if stack.fake_weibo:
        fake = stack.fake_weibo
        print(
            f"Fake Weibo at {fake.api_base}, no mentions yet (add samples: curl -X POST {fake.url}/_fake/samples; "
            f"replies: {fake.url}/_fake/comments)",
            flush=True,
        )
    try:
        while True:
            time.sleep(3600)
    except KeyboardInterrupt:
        pass
    finally:
        stack.stop()
        if state_dir:
            print(f"Stopped. Tickets, photos and the Weibo cursor are saved in {state_dir}/ (make reset forgets them)")
        else:
            print("Stopped. Nothing was kept (no --state folder).")
