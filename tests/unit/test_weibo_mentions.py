"""What the desk reads out of a mention: text, picture, place, and the reply it writes back."""

from __future__ import annotations

import pytest
from weibo_fakes import ACCOUNT, mention

from complaints.domain.weibo import (
    MAX_COMMENT_CHARS,
    WeiboStatus,
    clean_text,
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
