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
    # Car moving's notifier: the owners' phones are sealed with the vehicle key; the call comes from this identity
    # (a phone number or pool of End User Messaging SMS and Voice; empty: the account's voice number) in this voice.
    vehicle_key_id: str | None = None
    voice_origination_identity: str = ""
    voice_id: str = Field(default="Zhiyu", pattern=r"^[A-Za-z]{2,20}$")
    photo_link_role_arn: str | None = None
    max_request_bytes: int = Field(default=6_000_000, gt=0)
    citizen_email_sender: str | None = None
    sms_sender_id: str | None = None
    board_table: str | None = None
    wechat_api_base: str | None = None
    wechat_app_id: str | None = Field(default=None, pattern=r"^wx[0-9a-f]{16}$")
    wechat_parameter_prefix: str | None = Field(default=None, pattern=r"^/[A-Za-z0-9_.\-/]+[^/]$")
    wechat_template_id: str | None = None
    vehicles_table: str | None = None
    phone_key_parameter: str | None = None
    owner_link_base: str | None = None

    @field_validator("weibo_api_base")
    @classmethod
    def _weibo_api_base(cls, value: str | None) -> str | None:
        from complaints.adapters.weibo.http import checked_api_base

        return None if value is None else checked_api_base(value)

    @field_validator("wechat_api_base")
    @classmethod
    def _wechat_api_base(cls, value: str | None) -> str | None:
        from complaints.adapters.wechat.http import checked_api_base

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
    """The one use case that opens sealed contacts: the only function with kms:Decrypt on the contact key. Answers
    to WeChat users go through WeChat where the desk has an account (WECHAT_APP_ID)."""
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
        wechat=_wechat_delivery(s) if s.wechat_app_id else None,
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


# ---------------------------------------------------------------- WeChat
def _wechat_settings() -> Settings:
    return Settings.from_env("wechat_api_base", "wechat_app_id", "wechat_parameter_prefix")


def _wechat_secret(s: Settings, name: str):
    """`<WECHAT_PARAMETER_PREFIX>/<name>`, an SSM SecureString, cached by Powertools Parameters. Never logged."""
    from aws_lambda_powertools.utilities.parameters import SSMProvider

    provider = SSMProvider()
    parameter = f"{s.wechat_parameter_prefix}/{name}"

    def read() -> str:
        return provider.get(parameter, decrypt=True, max_age=TOKEN_CACHE_SECONDS)

    return read


def wechat_api(s: Settings | None = None):
    from complaints.adapters.wechat.http import WechatHttpApi, picture_fetcher

    s = s or _wechat_settings()
    pictures = picture_fetcher(s.media_fetch_hosts) if s.media_fetch_hosts else None
    return WechatHttpApi(s.wechat_api_base, s.wechat_app_id, _wechat_secret(s, "app-secret"), pictures=pictures)


def wechat_tokens(s: Settings | None = None):
    """The access token: one item in the tickets table, refreshed by one refresher (WechatTokenFunction)."""
    from complaints.adapters.wechat.token_store import DynamoTokenStore
    from complaints.domain.wechat_token import TokenKeeper

    s = s or _wechat_settings()
    return TokenKeeper(api=wechat_api(s), store=DynamoTokenStore(s.tickets_table), clock=clock_epoch)


def clock_epoch() -> float:
    from complaints.domain import clock

    return clock.epoch()


def _wechat_delivery(s: Settings):
    from complaints.adapters.citizen_channels import SnsSmsSender
    from complaints.adapters.wechat.dynamo import DynamoWechatStore
    from complaints.domain.desk.wechat_answers import WechatDelivery
    from complaints.domain.wechat import openid_key

    store = DynamoWechatStore(s.tickets_table)
    return WechatDelivery(
        api=wechat_api(s),
        tokens=wechat_tokens(s),
        last_seen=lambda openid: store.last_seen(openid_key(s.wechat_app_id, openid)),
        send_sms=SnsSmsSender(sender_id=s.sms_sender_id).send_sms,
        template_id=None if s.wechat_template_id in (None, "", "none") else s.wechat_template_id,
        clock=clock_epoch,
    )


def wechat_endpoint():
    """`/wechat`: signatures and safe mode with the account's keys from SSM, each delivery handled once."""
    from complaints.adapters.aws import KmsContactVault
    from complaints.adapters.wechat.crypto import WechatCrypto
    from complaints.adapters.wechat.dynamo import DynamoWechatStore
    from complaints.domain.desk.wechat_conversation import WechatConversation, Wording
    from complaints.domain.desk.wechat_inbox import WechatInbox
    from complaints.domain.wechat import openid_key
    from complaints.wechat_endpoint import WechatEndpoint

    s = Settings.from_env("wechat_app_id", "wechat_parameter_prefix", "contact_key_id")
    token, aes_key = _wechat_secret(s, "token"), _wechat_secret(s, "aes-key")
    store = DynamoWechatStore(s.tickets_table, clock=clock_epoch)
    the_city = city(s.city_config)
    conversation = WechatConversation(
        wording=Wording(**{name: text for name, text in the_city.wechat_texts if name != "received"}),
        users=store,  # replaced per delivery by the inbox's unit of work
        drafts=None,  # type: ignore[arg-type]
        tickets=_tickets(s),
        user_key=lambda openid: openid_key(s.wechat_app_id, openid),
        seal=KmsContactVault(s.contact_key_id).seal,
        clock=clock_epoch,
        car_moving=car_moving() if s.vehicles_table and the_city.car_moving else None,  # 挪车
    )
    crypto: dict[tuple[str, str], WechatCrypto] = {}

    def account() -> WechatCrypto:
        keys = (token(), aes_key())
        if keys not in crypto:  # a rotated token or key is picked up within the cache's minutes
            crypto.clear()
            crypto[keys] = WechatCrypto(keys[0], keys[1], s.wechat_app_id)
        return crypto[keys]

    return WechatEndpoint(crypto=account, inbox=WechatInbox(store=store, conversation=conversation))


def wechat_drafts():
    """Drafts to tickets: the intake use case, WeChat's media API and the user items."""
    from complaints.adapters.wechat.dynamo import DynamoWechatStore
    from complaints.domain.desk.wechat_drafts import WechatDrafts

    s = _wechat_settings()
    return WechatDrafts(
        intake=intake(), api=wechat_api(s), tokens=wechat_tokens(s), users=DynamoWechatStore(s.tickets_table)
    )


def car_moving_notice():
    """The car owner's notices, from the tickets table's stream: the only use case that opens an owner's phone (the
    only function with kms:Decrypt on the vehicle key)."""
    from complaints.adapters.vehicles import DynamoNoticeStore, PinpointVoiceCaller, SnsOwnerTexter, VehicleVault
    from complaints.domain.desk.car_moving_notice import CarMovingNotice

    s = Settings.from_env("vehicle_key_id")
    return CarMovingNotice(
        notices=DynamoNoticeStore(s.tickets_table),
        phones=VehicleVault(s.vehicle_key_id),
        texter=SnsOwnerTexter(sender_id=s.sms_sender_id),
        caller=PinpointVoiceCaller(s.voice_origination_identity, s.voice_id),
    )


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
