"""Builds the use case each function runs, with exactly the ports it uses, from its environment, once, at Lambda init.

A missing or malformed variable fails here, loudly, before the first request — not in the middle of one.
"""

from __future__ import annotations

import os
from functools import lru_cache

from pydantic import BaseModel, Field, ValidationError, field_validator

from complaints.adapters.fetch import FetchPolicy
from complaints.city import City, load_city
from complaints.domain.desk.classify import Classification
from complaints.domain.desk.dispatch import Dispatch
from complaints.domain.desk.intake import MAX_PHOTO_WAIT_SECONDS, Intake
from complaints.domain.desk.photo_upload import PhotoUploads


class Settings(BaseModel):
    tickets_table: str = Field(min_length=1)
    city_config: str = Field(min_length=1)
    photos_bucket: str | None = None
    classify_queue_url: str | None = None
    route_queue_url: str | None = None
    dispatch_topic_arn: str | None = None
    triage_topic_arn: str | None = None
    model_dir: str | None = None
    auto_dispatch_threshold: float = Field(default=0.6, ge=0.0, le=1.0)
    weibo_api_base: str | None = None
    weibo_token_parameter: str | None = None
    media_fetch_hosts: FetchPolicy | None = None
    photo_wait_seconds: int = Field(default=MAX_PHOTO_WAIT_SECONDS, ge=1, le=MAX_PHOTO_WAIT_SECONDS)
    keep_photo_originals: bool = False
    idempotency_table: str | None = None
    contact_key_id: str | None = None
    photo_link_role_arn: str | None = None
    max_request_bytes: int = Field(default=6_000_000, gt=0)
    citizen_email_sender: str | None = None
    sms_sender_id: str | None = None
    board_table: str | None = None
    vehicles_table: str | None = None
    phone_key_parameter: str | None = None
    owner_link_base: str | None = None

    @field_validator("weibo_api_base")
    @classmethod
    def _weibo_api_base(cls, value: str | None) -> str | None:
        from complaints.adapters.weibo.http import checked_api_base

        return None if value is None else checked_api_base(value)

    @field_validator("media_fetch_hosts", mode="before")
    @classmethod
    def _media_fetch_hosts(cls, value: object) -> object:
        return FetchPolicy.parse(value) if isinstance(value, str) else value

    @classmethod
    def from_env(cls, *required: str) -> Settings:
        values = {name: os.environ[name.upper()] for name in cls.model_fields if name.upper() in os.environ}
        missing = [name.upper() for name in ("tickets_table", "city_config", *required) if not values.get(name)]
        if missing:
            raise RuntimeError(f"missing environment variables: {', '.join(missing)}")
        try:
            return cls.model_validate(values)
        except ValidationError as e:
            # Say which variable and why, never its value: a misplaced token must not reach the logs.
            problems = "; ".join(
                f"{'.'.join(map(str, err['loc'])).upper()}: {err['msg']}"
                for err in e.errors(include_url=False, include_input=False, include_context=False)
            )
            raise RuntimeError(f"malformed environment variables: {problems}") from None


@lru_cache(maxsize=4)
def city(path: str) -> City:
    return load_city(path)


def _tickets(settings: Settings):
    from complaints.adapters.aws import DynamoTicketRepository

    return DynamoTicketRepository(settings.tickets_table, first_ticket_no=city(settings.city_config).ticket_no_start)


def intake() -> Intake:
    from complaints.adapters.aws import KmsContactVault, S3PhotoStore, SqsWorkQueue

    s = Settings.from_env("photos_bucket", "classify_queue_url", "contact_key_id")
    return Intake(
        city=city(s.city_config),
        tickets=_tickets(s),
        photos=S3PhotoStore(s.photos_bucket),
        classify_queue=SqsWorkQueue(s.classify_queue_url),
        contacts=KmsContactVault(s.contact_key_id),
        photo_wait_s=s.photo_wait_seconds,
    )


def max_request_bytes() -> int:
    return Settings.from_env().max_request_bytes


def once_per_key(name: str, fn, answer):
    """`fn` (a pydantic model in, the model `answer` out) behind the Idempotency-Key: see
    complaints.adapters.idempotency."""
    from complaints.adapters.idempotency import OncePerKey

    return OncePerKey(name, fn, answer, Settings.from_env("idempotency_table").idempotency_table)


def photo_uploads() -> PhotoUploads:
    from complaints.adapters.aws import S3PhotoStore, SqsWorkQueue

    s = Settings.from_env("photos_bucket", "classify_queue_url")
    return PhotoUploads(
        tickets=_tickets(s),
        photos=S3PhotoStore(s.photos_bucket),
        classify_queue=SqsWorkQueue(s.classify_queue_url),
        keep_photo_originals=s.keep_photo_originals,
    )


def classification() -> Classification:
    from complaints.adapters.aws import SqsWorkQueue
    from complaints.classifier.model import TextClassifier

    s = Settings.from_env("route_queue_url", "model_dir")
    try:
        classifier = TextClassifier.load(s.model_dir)
    except Exception as e:
        # An init error: every batch fails, tickets wait in the queue and then its dead-letter queue (alarms
        # ClassifyFunctionErrorsAlarm and ClassifyDeadLetterQueueAlarm). Say plainly what is wrong.
        raise RuntimeError(f"the classifier model in {s.model_dir} cannot be loaded ({type(e).__name__}: {e})") from e
    return Classification(
        city=city(s.city_config),
        tickets=_tickets(s),
        route_queue=SqsWorkQueue(s.route_queue_url),
        classifier=classifier,
    )


def dispatch() -> Dispatch:
    from complaints.adapters.aws import S3PhotoStore, SnsNotifier

    s = Settings.from_env("photos_bucket", "dispatch_topic_arn", "triage_topic_arn", "photo_link_role_arn")
    return Dispatch(
        city=city(s.city_config),
        tickets=_tickets(s),
        photos=S3PhotoStore(s.photos_bucket, link_role_arn=s.photo_link_role_arn),
        notifier=SnsNotifier({"dispatch": s.dispatch_topic_arn, "triage": s.triage_topic_arn}),
        threshold=s.auto_dispatch_threshold,
    )


def weibo_channel():
    """The Weibo poller: the intake use case (same validation, same queue) plus the Weibo API and the mention ledger."""
    from aws_lambda_powertools.utilities.parameters import SSMProvider

    from complaints.adapters.weibo.dynamo import DynamoMentionLedger
    from complaints.adapters.weibo.http import WeiboHttpApi, picture_fetcher
    from complaints.domain.weibo_channel import WeiboChannel

    s = Settings.from_env(
        "photos_bucket", "classify_queue_url", "weibo_api_base", "weibo_token_parameter", "media_fetch_hosts"
    )
    taking = intake()
    if not taking.city.weibo_account:
        raise RuntimeError(f"{s.city_config}: no weibo_account in [city]; the Weibo poller needs it")
    return WeiboChannel(
        intake=taking,
        api=WeiboHttpApi(
            s.weibo_api_base,
            weibo_token(s.weibo_token_parameter, SSMProvider()),
            pictures=picture_fetcher(s.media_fetch_hosts),
        ),
        ledger=DynamoMentionLedger(s.tickets_table),
        account=taking.city.weibo_account,
    )


# Long enough to spare SSM a call on most runs, short enough that a renewed token is used within minutes.
TOKEN_CACHE_SECONDS = 300


def weibo_token(parameter: str, provider):
    """The access token from an SSM SecureString, cached by Powertools Parameters. Never logged."""
    from aws_lambda_powertools.utilities.parameters.exceptions import GetParameterError

    from complaints.domain.weibo import WeiboTokenInvalid

    def token(force: bool) -> str:
        try:
            return provider.get(parameter, decrypt=True, max_age=TOKEN_CACHE_SECONDS, force_fetch=force)
        except GetParameterError as e:
            raise WeiboTokenInvalid(f"the access token parameter {parameter} cannot be read") from e

    return token


def staff_city() -> City:
    """The city file, for the agency API: which agency a staff member's group names."""
    return city(Settings.from_env().city_config)


def citizen(taking: Intake):
    """The citizen's side of the answer loop (rating), next to the intake it shares the receipt check with."""
    from complaints.domain.desk.citizen import Citizen

    return Citizen(city=taking.city, tickets=taking.tickets, intake=taking)


def agency_work():
    from complaints.adapters.aws import S3PhotoStore
    from complaints.domain.desk.agency_work import AgencyWork

    s = Settings.from_env("photos_bucket")
    return AgencyWork(city=city(s.city_config), tickets=_tickets(s), photos=S3PhotoStore(s.photos_bucket))


def triage(work):
    from complaints.domain.desk.triage import Triage

    return Triage(city=work.city, tickets=work.tickets, work=work)


def deadlines():
    from complaints.domain.desk.due import Deadlines

    s = Settings.from_env()
    return Deadlines(city=city(s.city_config), tickets=_tickets(s))


def messenger():
    """The one use case that opens sealed contacts: the only function with kms:Decrypt on the contact key."""
    from complaints.adapters.aws import DynamoOutbox, KmsContactVault, SnsNotifier
    from complaints.adapters.citizen_channels import CitizenChannels, SesEmailSender, SnsSmsSender
    from complaints.adapters.weibo.dynamo import DynamoMentionLedger
    from complaints.domain.desk.messenger import Messenger

    s = Settings.from_env("contact_key_id", "citizen_email_sender", "dispatch_topic_arn", "triage_topic_arn")
    return Messenger(
        city=city(s.city_config),
        tickets=_tickets(s),
        outbox=DynamoOutbox(s.tickets_table),
        contacts=KmsContactVault(s.contact_key_id),
        citizens=CitizenChannels(
            SnsSmsSender(sender_id=s.sms_sender_id),
            SesEmailSender(s.citizen_email_sender),
            DynamoMentionLedger(s.tickets_table),
        ),
        notifier=SnsNotifier({"dispatch": s.dispatch_topic_arn, "triage": s.triage_topic_arn}),
    )


def board():
    """The public board's reads: BoardTable only, and links to the derived photos of what it shows."""
    from complaints.adapters.aws import DynamoBoardStore, S3PhotoStore
    from complaints.domain.desk.board import Board

    s = Settings.from_env("board_table", "photos_bucket")
    return Board(city=city(s.city_config), store=DynamoBoardStore(s.board_table), photos=S3PhotoStore(s.photos_bucket))


def board_projection():
    """The board's writer, from the tickets table's stream."""
    from complaints.adapters.aws import DynamoBoardStore
    from complaints.domain.desk.board import BoardProjection

    s = Settings.from_env("board_table")
    return BoardProjection(city=city(s.city_config), store=DynamoBoardStore(s.board_table))


def car_moving():
    """Car moving for the app and WeChat: verified requesters (SMS codes; phones sealed under ContactKey, keyed by an
    HMAC whose secret is in SSM), the vehicle registry, and the intake for the hand-over to the traffic police."""
    from aws_lambda_powertools.utilities.parameters import SSMProvider

    from complaints.adapters.aws import KmsContactVault
    from complaints.adapters.car_moving import DynamoCarMovingStore, DynamoVehicleRegistry, HmacPhoneKeys
    from complaints.adapters.citizen_channels import SnsSmsSender
    from complaints.domain.desk.car_moving import CarMoving

    s = Settings.from_env("vehicles_table", "phone_key_parameter", "contact_key_id")
    taking = intake()
    if taking.city.car_moving is None:
        raise RuntimeError(f"{s.city_config}: no [car_moving]; the car-moving function needs it")
    try:
        secret = SSMProvider().get(s.phone_key_parameter, decrypt=True)
    except Exception as e:
        # Say which parameter, never its value.
        raise RuntimeError(f"the phone-key parameter {s.phone_key_parameter} cannot be read") from e
    return CarMoving(
        city=taking.city,
        store=DynamoCarMovingStore(s.tickets_table),
        registry=DynamoVehicleRegistry(s.vehicles_table),
        phone_keys=HmacPhoneKeys(secret),
        contacts=KmsContactVault(s.contact_key_id),
        texter=SnsSmsSender(sender_id=s.sms_sender_id),  # the code's SMS is about no ticket
        intake=taking,
        # Empty in the template (the API's URL there would be a circular reference): the city's public site.
        owner_link_base=s.owner_link_base or taking.city.public_base_url,
    )
