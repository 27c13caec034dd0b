"""What the desk reads out of a mention: text, picture, place, and the reply it writes back."""

from __future__ import annotations

import dataclasses
import re

import pytest
from hypothesis import given
from hypothesis import strategies as st
from weibo_fakes import ACCOUNT, mention

from complaints.domain.weibo import (
    MAX_COMMENT_CHARS,
    WeiboStatus,
    answer_comment,
    clean_text,
    closed_comment,
    comment_length,
    error_for,
    picture_url,
    reply_text,
)


@pytest.mark.parametrize(
    ("raw", "clean"),
    [
        ("@瑞网议事厅 塘下镇路灯坏了 http://t.cn/A6Xk9dP2", "塘下镇路灯坏了"),
        ("@瑞网议事厅：飞云街道占道经营", "飞云街道占道经营"),
        ("仙降街道减速带坏了 @瑞网议事厅 https://t.cn/A6ZpQwE1 ", "仙降街道减速带坏了"),
        ("@瑞网议事厅 @瑞安发布 东门社区噪音扰民", "@瑞安发布 东门社区噪音扰民"),  # only our account goes
        ("@瑞网议事厅厅长 你好", "@瑞网议事厅厅长 你好"),  # another account whose name starts like ours
        ("@瑞网议事厅 http://t.cn/A6YqZ3aB", ""),
        ("@瑞网议事厅 ！！！", ""),
    ],
)
def test_clean_text(raw, clean):
    assert clean_text(raw, ACCOUNT) == clean


def test_ids_and_times_follow_the_documented_shapes():
    s = WeiboStatus.model_validate(
        {"id": 9223372036854775807, "created_at": "Tue Nov 24 09:12:00 +0800 2026", "text": "x", "geo": None}
    )
    assert s.idstr == "9223372036854775807" and s.created_at.utcoffset().total_seconds() == 8 * 3600
    with pytest.raises(ValueError):
        WeiboStatus.model_validate({"idstr": "12a", "created_at": "Tue Nov 24 09:12:00 +0800 2026"})


def test_geo_is_lat_then_lng_and_nonsense_is_dropped():
    assert mention(1, geo={"type": "Point", "coordinates": [27.86, 120.64]}).location.lng == 120.64
    assert mention(1, geo={"type": "Point", "coordinates": [120.64, 27.86]}).location is None


def test_the_large_picture_is_preferred():
    thumb = "https://wx1.sinaimg.cn/thumbnail/abc.jpg"
    assert picture_url(mention(1, pic_urls=[{"thumbnail_pic": thumb}])) == "https://wx1.sinaimg.cn/large/abc.jpg"
    assert (
        picture_url(mention(1, original_pic="https://x/o.jpg", pic_urls=[{"thumbnail_pic": thumb}]))
        == "https://x/o.jpg"
    )
    assert picture_url(mention(1)) is None


def test_reply_names_the_ticket_and_its_link_within_140_characters(city):
    text = reply_text(10042, city)
    assert "问题编号10042" in text and city.ticket_link(10042) in text and len(text) <= MAX_COMMENT_CHARS


ANSWER = "经核查，该工厂已被责令停产整改，环保部门将持续跟踪监测河道水质，感谢您的监督。"


def excerpt(comment: str) -> str:
    """The answer's part of an answer comment."""
    return comment.split("已有部门答复：", 1)[1].rsplit(" 阅读全文并评价：", 1)[0]


def test_an_answer_comment_carries_the_number_the_answer_and_the_whole_link(city):
    text = answer_comment(10042, ANSWER, city)
    assert text.startswith("您好，您反映的问题（编号10042）") and text.endswith(city.ticket_link(10042))
    assert excerpt(text) == ANSWER and len(text) <= MAX_COMMENT_CHARS


def test_a_long_answer_is_shortened_with_an_ellipsis_to_fill_the_comment_exactly(city):
    text = answer_comment(10042, ANSWER * 5, city)
    assert comment_length(text) == MAX_COMMENT_CHARS and text.endswith(city.ticket_link(10042))
    assert excerpt(text).endswith("…") and (ANSWER * 5).startswith(excerpt(text)[:-1])


def test_one_line_no_mentions_of_other_accounts(city):
    text = answer_comment(10042, "@瑞安发布 已处理\n\n\t请知悉\x00。", city)
    assert excerpt(text) == "＠瑞安发布 已处理 请知悉 。"


@pytest.mark.parametrize("pad", range(0, 80, 3))
def test_personal_numbers_in_the_answer_are_masked_even_where_the_cut_falls_inside_one(city, pad):
    answer = "办" * pad + "请联系13812345678或身份证330381199001011234，邮箱zhang.san@example.cn" + ANSWER
    shown = excerpt(answer_comment(10042, answer, city))
    assert not re.search(r"[0-9]{4}", shown.replace("3303", "")), shown  # an ID keeps its first four digits
    assert "zhang.san" not in shown
    assert comment_length(answer_comment(10042, answer, city)) <= MAX_COMMENT_CHARS


def test_characters_outside_the_bmp_count_twice_and_are_never_split(city):
    for unit in ("😀", "👩\u200d👩\u200d👧", "a\u0301", "👍🏽"):
        text = answer_comment(10042, unit * 100, city)
        assert comment_length(text) <= MAX_COMMENT_CHARS and text.endswith(city.ticket_link(10042))
        body = excerpt(text)[:-1]
        assert body and body == unit * (len(body) // len(unit)), unit  # whole characters, whole sequences


def test_surrogates_written_as_two_code_points_are_joined_and_lone_ones_dropped(city):
    text = answer_comment(10042, "\ud83d\ude00 已处理 \ud83d", city)
    assert excerpt(text) == "😀 已处理" and text.encode("utf-8")


def test_a_link_too_long_for_the_answer_drops_the_answer_and_one_too_long_for_a_comment_is_never_cut(city):
    longer = dataclasses.replace(city, public_base_url="https://" + "x" * 90 + ".example")
    text = answer_comment(10042, ANSWER, longer)
    assert text.endswith(longer.ticket_link(10042)) and "经核查" not in text and len(text) <= MAX_COMMENT_CHARS
    far_too_long = dataclasses.replace(city, public_base_url="https://" + "x" * 140 + ".example")
    for text in (answer_comment(10042, ANSWER, far_too_long), closed_comment(10042, far_too_long)):
        assert "10042" in text and "xxx" not in text and len(text) <= MAX_COMMENT_CHARS


def test_a_closed_comment_names_the_ticket_and_its_link(city):
    text = closed_comment(10042, city)
    assert "编号10042" in text and "已办结" in text and text.endswith(city.ticket_link(10042))
    assert comment_length(text) <= MAX_COMMENT_CHARS


@given(answer=st.text(max_size=600), ticket_no=st.integers(min_value=1, max_value=10**12))
def test_any_answer_makes_a_comment_weibo_takes(city, answer, ticket_no):
    text = answer_comment(ticket_no, answer, city)
    assert comment_length(text) <= MAX_COMMENT_CHARS and text.endswith(city.ticket_link(ticket_no))
    assert text.encode("utf-8") and "@" not in text and "\n" not in text


@pytest.mark.parametrize(
    ("code", "kind"),
    [
        (10022, "RateLimited"),
        (10023, "RateLimited"),
        (10024, "RateLimited"),
        (21327, "TokenInvalid"),
        (21332, "TokenInvalid"),
        (10001, "Unavailable"),
        (20101, "Rejected"),
    ],
)
def test_error_codes_map_to_error_classes(code, kind):
    assert type(error_for(code, "x")).__name__ == f"Weibo{kind}"
