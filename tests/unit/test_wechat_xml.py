"""WeChat's message XML: every documented type read, unknown ones kept, hostile XML refused, unbreakable replies."""

from __future__ import annotations

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from complaints.adapters.wechat.messages import MAX_BODY_BYTES, parse, text_reply
from complaints.domain.wechat import WechatInbound, WechatMalformed, openid_key

HEAD = (
    "<ToUserName><![CDATA[gh_ruian]]></ToUserName><FromUserName><![CDATA[oUser123]]></FromUserName>"
    "<CreateTime>1764640000</CreateTime>"
)


def xml(msg_type: str, rest: str) -> bytes:
    return f"<xml>{HEAD}<MsgType><![CDATA[{msg_type}]]></MsgType>{rest}</xml>".encode()


def test_a_text_message():
    m = parse(xml("text", "<Content><![CDATA[路灯坏了 三天了]]></Content><MsgId>24000000000000001</MsgId>"))
    assert m == WechatInbound(
        to_user="gh_ruian",
        from_user="oUser123",
        create_time=1764640000,
        msg_type="text",
        msg_id="24000000000000001",
        content="路灯坏了 三天了",
    )
    assert m.dedup_key() == "msg#24000000000000001"


def test_an_image_message():
    m = parse(
        xml(
            "image",
            "<PicUrl><![CDATA[https://mmbiz.qpic.cn/abc]]></PicUrl><MediaId><![CDATA[media_1]]></MediaId>"
            "<MsgId>24000000000000002</MsgId>",
        )
    )
    assert (m.msg_type, m.pic_url, m.media_id) == ("image", "https://mmbiz.qpic.cn/abc", "media_1")
    assert m.msg_id == "24000000000000002"


def test_a_location_message_has_latitude_in_x_and_longitude_in_y():
    m = parse(
        xml(
            "location",
            "<Location_X>27.7836</Location_X><Location_Y>120.6578</Location_Y><Scale>15</Scale>"
            "<Label><![CDATA[浙江省温州市瑞安市安阳街道万松路]]></Label><MsgId>24000000000000003</MsgId>",
        )
    )
    assert (m.location_x, m.location_y, m.label) == (27.7836, 120.6578, "浙江省温州市瑞安市安阳街道万松路")


@pytest.mark.parametrize(
    "msg_type, rest, field, value",
    [
        (
            "voice",
            "<MediaId>v1</MediaId><Format>amr</Format><Recognition>井盖丢了</Recognition>",
            "recognition",
            "井盖丢了",
        ),
        ("video", "<MediaId>v2</MediaId><ThumbMediaId>t2</ThumbMediaId>", "media_id", "v2"),
        ("shortvideo", "<MediaId>v3</MediaId><ThumbMediaId>t3</ThumbMediaId>", "media_id", "v3"),
        ("link", "<Title>t</Title><Description>d</Description><Url>https://example.cn</Url>", "msg_id", "9"),
    ],
)
def test_media_and_link_messages(msg_type, rest, field, value):
    m = parse(xml(msg_type, rest + "<MsgId>9</MsgId>"))
    assert m.msg_type == msg_type
    assert getattr(m, field) == value


def test_an_event_has_no_msg_id_and_is_deduplicated_by_sender_and_time_without_the_openid():
    m = parse(xml("event", "<Event><![CDATA[subscribe]]></Event><EventKey><![CDATA[qrscene_7]]></EventKey>"))
    assert (m.msg_type, m.event, m.event_key, m.msg_id) == ("event", "subscribe", "qrscene_7", None)
    assert m.dedup_key() == f"event#{openid_key('gh_ruian', 'oUser123')}#1764640000"
    assert "oUser123" not in m.dedup_key()
    later = parse(xml("event", "<Event>subscribe</Event>").replace(b"1764640000", b"1764640001"))
    assert later.dedup_key() != m.dedup_key()


def test_an_unknown_message_type_is_kept_as_it_came():
    m = parse(xml("miniprogrampage", "<Title>x</Title><MsgId>10</MsgId>"))
    assert m.msg_type == "miniprogrampage"
    assert m.msg_id == "10"


def test_the_openid_key_is_a_32_character_hash_of_app_and_openid():
    import hashlib

    assert openid_key("wx1", "oUser123") == hashlib.sha256(b"wx1:oUser123").hexdigest()[:32]
    assert openid_key("wx2", "oUser123") != openid_key("wx1", "oUser123")


@pytest.mark.parametrize(
    "body",
    [
        pytest.param(b"<xml>" + HEAD.encode() + b"</xml>", id="no MsgType"),
        pytest.param(
            xml("text", "").replace(b"<FromUserName><![CDATA[oUser123]]></FromUserName>", b""), id="no sender"
        ),
        pytest.param(xml("text", "").replace(b"1764640000", b"yesterday"), id="CreateTime not a number"),
        pytest.param(xml("text", "").replace(b"1764640000", "１２３".encode()), id="CreateTime in wide digits"),
        pytest.param(xml("location", "<Location_X>north</Location_X>"), id="Location_X not a number"),
        pytest.param(xml("location", "<Location_X>nan</Location_X>"), id="Location_X nan"),
        pytest.param(xml("location", "<Location_Y>inf</Location_Y>"), id="Location_Y infinite"),
        pytest.param(b"<notxml>" + HEAD.encode() + b"</notxml>", id="another root"),
        pytest.param(b"<xml><ToUserName>", id="cut short"),
        pytest.param(b"", id="empty"),
        pytest.param(b'{"MsgType": "text"}', id="JSON"),
    ],
)
def test_bodies_that_are_not_wechat_messages_are_malformed(body):
    with pytest.raises(WechatMalformed):
        parse(body)


def test_billion_laughs_is_refused():
    lol = (
        b'<?xml version="1.0"?><!DOCTYPE xml [<!ENTITY a "lol"><!ENTITY b "&a;&a;&a;&a;&a;&a;&a;&a;&a;&a;">'
        b'<!ENTITY c "&b;&b;&b;&b;&b;&b;&b;&b;&b;&b;"><!ENTITY d "&c;&c;&c;&c;&c;&c;&c;&c;&c;&c;">]>'
    )
    with pytest.raises(WechatMalformed) as e:
        parse(lol + xml("text", "<Content>&d;</Content><MsgId>1</MsgId>"))
    assert str(e.value) == "a body with a DTD or entities"


def test_an_external_entity_is_refused(tmp_path):
    secret = tmp_path / "secret.txt"
    secret.write_text("AppSecret=abc")
    xxe = f'<?xml version="1.0"?><!DOCTYPE xml [<!ENTITY x SYSTEM "file://{secret}">]>'.encode()
    with pytest.raises(WechatMalformed) as e:
        parse(xxe + xml("text", "<Content>&x;</Content><MsgId>1</MsgId>"))
    assert "abc" not in str(e.value)


def test_a_bare_dtd_is_refused():
    with pytest.raises(WechatMalformed):
        parse(b"<!DOCTYPE xml>" + xml("text", "<Content>x</Content>"))


def test_an_oversized_body_is_refused_before_it_is_parsed():
    big = xml("text", "<Content>" + "长" * (MAX_BODY_BYTES // 3) + "</Content>")
    assert len(big) > MAX_BODY_BYTES
    with pytest.raises(WechatMalformed) as e:
        parse(big)
    assert str(e.value) == f"a body larger than {MAX_BODY_BYTES} bytes"
    assert parse(big, max_bytes=len(big)).content.startswith("长")


def test_a_malformed_message_never_repeats_the_body():
    with pytest.raises(WechatMalformed) as e:
        parse(xml("location", "<Location_X>13800138000</Location_X>").replace(b"CreateTime", b"Create"))
    assert "13800138000" not in str(e.value) and "oUser123" not in str(e.value)


def test_the_text_reply_is_the_documented_passive_reply():
    reply = text_reply("oUser123", "gh_ruian", "已受理，问题编号 RA-1", 1764640005)
    assert reply == (
        "<xml><ToUserName><![CDATA[oUser123]]></ToUserName><FromUserName><![CDATA[gh_ruian]]></FromUserName>"
        "<CreateTime>1764640005</CreateTime><MsgType><![CDATA[text]]></MsgType>"
        "<Content><![CDATA[已受理，问题编号 RA-1]]></Content></xml>"
    )


@pytest.mark.parametrize("content", ["a]]>b", "]]>", "]]]]>]]>", "<b>&amp;</b>", "x\x00\x08y\ufffe", "末尾]]"])
def test_whatever_the_reply_says_it_stays_one_well_formed_content(content):
    from defusedxml.ElementTree import fromstring

    root = fromstring(text_reply("oUser123", "gh_ruian", content, 1))
    expected = "".join(c for c in content if c not in "\x00\x08\ufffe")
    assert root.findtext("Content") == expected
    assert [child.tag for child in root] == ["ToUserName", "FromUserName", "CreateTime", "MsgType", "Content"]


@settings(max_examples=200, deadline=None)
@given(content=st.text())
def test_any_text_the_desk_replies_with_reads_back_as_that_text(content):
    from defusedxml.ElementTree import fromstring

    root = fromstring(text_reply("oUser123", "gh_ruian", content, 1))
    kept = "".join(c for c in content if _xml_char(c))
    assert root.findtext("Content") == kept.replace("\r\n", "\n").replace("\r", "\n")


def _xml_char(c: str) -> bool:
    n = ord(c)
    return n in (9, 10, 13) or 0x20 <= n <= 0xD7FF or 0xE000 <= n <= 0xFFFD or 0x10000 <= n <= 0x10FFFF
