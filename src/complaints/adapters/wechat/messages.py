"""WeChat's message XML: what a user's message looks like when it reaches us, and the passive reply we send back.

    <xml><ToUserName><![CDATA[gh_…]]></ToUserName><FromUserName><![CDATA[o…]]></FromUserName>
    <CreateTime>1764640000</CreateTime><MsgType><![CDATA[text]]></MsgType><Content><![CDATA[…]]></Content>
    <MsgId>24000000000000000</MsgId></xml>

The body comes from the internet, so it is parsed by defusedxml with DTDs, entities and external references refused
(billion laughs, XXE), after a size cap; anything else is `WechatMalformed`, whose message never repeats the body.
"""

from __future__ import annotations

import math
import re
from xml.etree.ElementTree import Element

from defusedxml import DefusedXmlException
from defusedxml.ElementTree import ParseError, fromstring

from complaints.domain.wechat import WechatInbound, WechatMalformed

# A WeChat message is a few hundred bytes (a text holds at most 2,048 bytes of content); 64 KiB is ample.
MAX_BODY_BYTES = 64 * 1024
# What WeChat wants as the answer when there is nothing to reply: it then neither retries nor tells the user.
SUCCESS = "success"

# Characters XML 1.0 cannot hold at all, even in CDATA: a reply with one would be refused as a whole.
_NOT_XML = re.compile("[^\t\n\r\x20-\ud7ff\ue000-\ufffd\U00010000-\U0010ffff]")

_TEXT_FIELDS = {
    "msg_id": "MsgId",
    "content": "Content",
    "pic_url": "PicUrl",
    "media_id": "MediaId",
    "label": "Label",
    "recognition": "Recognition",
    "event": "Event",
    "event_key": "EventKey",
}


def xml_root(body: bytes | str, max_bytes: int = MAX_BODY_BYTES) -> Element:
    """The `<xml>` element of a body from outside, parsed safely; WechatMalformed for anything else."""
    raw = body.encode("utf-8") if isinstance(body, str) else body
    if len(raw) > max_bytes:
        raise WechatMalformed(f"a body larger than {max_bytes} bytes")
    try:
        root = fromstring(raw, forbid_dtd=True, forbid_entities=True, forbid_external=True)
    except DefusedXmlException:
        raise WechatMalformed("a body with a DTD or entities") from None
    except (ParseError, ValueError, RecursionError):
        raise WechatMalformed("a body that is not well-formed XML") from None
    if root.tag != "xml":
        raise WechatMalformed("a body whose root is not <xml>")
    return root


def child_text(root: Element, tag: str) -> str | None:
    child = root.find(tag)
    return None if child is None else (child.text or "").strip()


def parse(body: bytes | str, max_bytes: int = MAX_BODY_BYTES) -> WechatInbound:
    """One message or event; unknown message types are kept as they came."""
    root = xml_root(body, max_bytes)
    required = {tag: child_text(root, tag) for tag in ("ToUserName", "FromUserName", "CreateTime", "MsgType")}
    missing = [tag for tag, value in required.items() if not value]
    if missing:
        raise WechatMalformed(f"a message without {', '.join(missing)}")
    create_time = required["CreateTime"] or ""
    if not create_time.isascii() or not create_time.isdigit() or len(create_time) > 12:
        raise WechatMalformed("a message whose CreateTime is not a time")
    fields: dict[str, object] = {name: child_text(root, tag) for name, tag in _TEXT_FIELDS.items()}
    fields["location_x"] = _coordinate(root, "Location_X")
    fields["location_y"] = _coordinate(root, "Location_Y")
    return WechatInbound(
        to_user=required["ToUserName"],
        from_user=required["FromUserName"],
        create_time=int(create_time),
        msg_type=(required["MsgType"] or "").lower(),
        **{k: v for k, v in fields.items() if v not in (None, "")},
    )


def _coordinate(root: Element, tag: str) -> float | None:
    text = child_text(root, tag)
    if not text:
        return None
    try:
        value = float(text)
    except ValueError:
        raise WechatMalformed(f"a message whose {tag} is not a number") from None
    if not math.isfinite(value):
        raise WechatMalformed(f"a message whose {tag} is not a number")
    return value


def cdata(text: str) -> str:
    """`text` as CDATA that nothing in it can end early: a `]]>` is split across two sections. Characters XML cannot
    hold are dropped, and line ends written as "\\n" (what any XML reader makes of "\\r\\n" and "\\r" anyway)."""
    clean = _NOT_XML.sub("", text).replace("\r\n", "\n").replace("\r", "\n")
    return "<![CDATA[" + clean.replace("]]>", "]]]]><![CDATA[>") + "]]>"


def text_reply(to_user: str, from_user: str, content: str, create_time: int) -> str:
    """The passive reply to a message: `to_user` is the sender's OpenID, `from_user` the account's id."""
    return (
        f"<xml><ToUserName>{cdata(to_user)}</ToUserName><FromUserName>{cdata(from_user)}</FromUserName>"
        f"<CreateTime>{int(create_time)}</CreateTime><MsgType><![CDATA[text]]></MsgType>"
        f"<Content>{cdata(content)}</Content></xml>"
    )
