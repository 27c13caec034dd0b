"""Personal numbers in a complaint are masked however the citizen wrote them; ordinary numbers are left as written."""

from __future__ import annotations

import re
import string
import unicodedata
from datetime import date

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from complaints.domain.privacy import MASK, contains_personal_numbers, mask_personal_numbers

FEW = settings(max_examples=150)

# --- how citizens write -----------------------------------------------------------------------------------------

HAN = st.characters(min_codepoint=0x4E00, max_codepoint=0x9FA5)
PUNCTUATION = st.sampled_from(list("，。！？、；：（）《》“” "))
SEPARATORS = st.sampled_from([" ", "-", ".", "－", "—", "–", "  ", "\u200b", "\u3000", " - ", "\u00a0"])


def sentence() -> st.SearchStrategy[str]:
    """Chinese text with punctuation; no digits, so any digit in a masked text came from the number itself."""
    return st.text(HAN | PUNCTUATION, max_size=12)


def latin_word() -> st.SearchStrategy[str]:
    return st.text(st.sampled_from(string.ascii_letters), min_size=1, max_size=4)


# Around a number: Chinese text, sometimes ending or starting with a Latin word ("call me", "ok").
PREFIX = st.one_of(sentence(), st.tuples(sentence(), latin_word()).map("".join))
SUFFIX = st.one_of(sentence(), st.tuples(latin_word(), sentence()).map("".join))
# Around a keyword or an address: a Latin word right before it would be part of it ("lwx", "bob.a@x.cn").
PREFIX_NO_LATIN = st.one_of(sentence(), st.tuples(sentence(), PUNCTUATION).map("".join))
SUFFIX_NO_LATIN = st.one_of(sentence(), st.tuples(PUNCTUATION, sentence()).map("".join))

FULL_WIDTH = str.maketrans("0123456789Xx", "０１２３４５６７８９Ｘｘ")


def starting_with(first: str, then: str, min_size: int, max_size: int) -> st.SearchStrategy[str]:
    rest = st.text(st.sampled_from(then), min_size=min_size, max_size=max_size)
    return st.tuples(st.sampled_from(first), rest).map("".join)


def digit_strings(first: str, length: int) -> st.SearchStrategy[str]:
    """`length` digits, the first one from `first`."""
    return starting_with(first, string.digits, length - 1, length - 1)


@st.composite
def grouped(draw, digits: str) -> str:
    """The digits split anywhere into groups, each split by any separator, maybe in full-width digits."""
    cuts = sorted(draw(st.sets(st.integers(1, len(digits) - 1), max_size=4)))
    parts = [digits[i:j] for i, j in zip([0, *cuts], [*cuts, len(digits)], strict=True)]
    out = parts[0] + "".join(draw(SEPARATORS) + p for p in parts[1:])
    return out.translate(FULL_WIDTH) if draw(st.booleans()) else out


def luhn_check_digit(payload: str) -> str:
    total = 0
    for i, d in enumerate(reversed(payload)):
        n = int(d) * (2 if i % 2 == 0 else 1)
        total += n - 9 if n > 9 else n
    return str(-total % 10)


def luhn_valid(digits: str) -> bool:
    return luhn_check_digit(digits[:-1]) == digits[-1]


MOBILES = digit_strings("1", 11).filter(lambda d: d[1] in "3456789")
COUNTRY_CODES = st.sampled_from(["", "+86", "+86 ", "86", "(+86)", "（+86）", "0086 ", "+86-", "＋８６ "])
AREA_CODES = st.sampled_from(["0577", "010", "021", "0571", "0755"])
LOCAL_NUMBERS = st.one_of(digit_strings("23456789", 8), digit_strings("23456789", 7))
BIRTH_DATES = st.dates(min_value=date(1900, 1, 1), max_value=date(2026, 11, 30))
AREAS_OF_BIRTH = digit_strings("123456789", 6)


def local_written(local: str) -> st.SearchStrategy[str]:
    """7–8 digits whole, or with the last four apart (6581 2345, 658-1234)."""
    return SEPARATORS.map(lambda sep: local[:-4] + sep + local[-4:]) | st.just(local)


@st.composite
def landlines(draw) -> tuple[str, str, str]:
    """(country code, the number as written, its digits): 0577-6581 2345, (0577)65812345, +86 577 6581 2345."""
    area = draw(AREA_CODES)
    local = draw(digit_strings("23456789", 8) if len(area) == 3 else LOCAL_NUMBERS)  # 010, 02x: 8-digit numbers
    written_local = draw(local_written(local))
    sep = draw(SEPARATORS | st.just(""))
    form = draw(st.sampled_from(["plain", "brackets", "full-width brackets", "+86"]))
    if form == "plain":
        return "", f"{area}{sep}{written_local}", area + local
    if form == "brackets":
        return "", f"({area}){sep}{written_local}", area + local
    if form == "full-width brackets":
        return "", f"（{area}）{written_local}".translate(FULL_WIDTH), area + local
    return draw(st.sampled_from(["+86 ", "+86-", "0086 ", "(+86)"])), f"{area[1:]} {written_local}", area[1:] + local


@st.composite
def resident_ids(draw) -> str:
    """18-digit IDs with a real birth date and a check digit or X; old 15-digit ones with a yymmdd birth date."""
    born = draw(BIRTH_DATES)
    if draw(st.booleans()):
        return (
            draw(AREAS_OF_BIRTH)
            + born.strftime("%Y%m%d")
            + draw(digit_strings(string.digits, 3))
            + draw(st.sampled_from([*string.digits, "X", "x"]))
        )
    return draw(AREAS_OF_BIRTH) + born.strftime("%y%m%d") + draw(digit_strings(string.digits, 3))


@st.composite
def bank_cards(draw) -> tuple[str, str]:
    payload = draw(st.integers(15, 18).flatmap(lambda n: digit_strings("3456", n)))
    digits = payload + luhn_check_digit(payload)
    sep = draw(st.sampled_from(["", " ", "-", "  ", "\u3000"]))
    written = sep.join(digits[i : i + 4] for i in range(0, len(digits), 4))
    return (written.translate(FULL_WIDTH) if draw(st.booleans()) else written), digits


def visible(text: str) -> str:
    """What a reader sees: NFKC, without zero-width characters."""
    return re.sub("[\u200b-\u200d\u2060\ufeff]", "", unicodedata.normalize("NFKC", text))


def assert_number_hidden(masked: str, digits: str, before: str, after: str) -> None:
    """The number is gone: at most half its digits are still shown, never all in a row; what is around it, as written.

    `before` and `after` hold no digits but a country code's, so every other digit shown is one of the number's.
    """
    assert masked.startswith(before) and masked.endswith(after), masked
    shown = re.sub(r"[^0-9Xx]", "", visible(masked[len(before) : len(masked) - len(after)]))
    assert digits not in shown and len(shown) <= len(digits) // 2 and MASK in masked, masked


# --- personal numbers are masked ----------------------------------------------------------------------------------


@FEW
@given(PREFIX, COUNTRY_CODES, MOBILES.flatmap(lambda d: st.tuples(grouped(d), st.just(d))), SUFFIX)
def test_mobile_numbers_are_masked_whatever_their_grouping_separators_or_digits(prefix, country, mobile, suffix):
    written, digits = mobile
    masked = mask_personal_numbers(prefix + country + written + suffix)
    assert_number_hidden(masked, digits, prefix + country, suffix)


@FEW
@given(PREFIX, landlines(), SUFFIX)
def test_landline_numbers_with_an_area_code_are_masked_in_every_usual_form(prefix, landline, suffix):
    country, written, digits = landline
    masked = mask_personal_numbers(prefix + country + written + suffix)
    assert_number_hidden(masked, digits, prefix + country, suffix)


@FEW
@given(
    PREFIX_NO_LATIN,
    st.sampled_from(["电话号码", "电话号码：", "座机", "座机:", "打", "电话", "电话是", "联系电话 ", "tel:", "TEL "]),
    LOCAL_NUMBERS.flatmap(lambda d: st.tuples(local_written(d), st.just(d))),
    SUFFIX,
)
def test_a_local_number_after_a_word_for_phone_is_masked_whole(prefix, word, local, suffix):
    written, digits = local
    masked = mask_personal_numbers(prefix + word + written + suffix)
    assert masked == prefix + word + MASK * len(digits) + suffix


@FEW
@given(PREFIX, resident_ids().flatmap(lambda d: st.tuples(grouped(d), st.just(d))), SUFFIX)
def test_resident_id_numbers_old_and_new_are_masked_however_written(prefix, resident_id, suffix):
    written, digits = resident_id
    assert_number_hidden(mask_personal_numbers(prefix + written + suffix), digits, prefix, suffix)


@FEW
@given(PREFIX, bank_cards(), SUFFIX)
def test_bank_card_numbers_whole_or_in_groups_of_four_are_masked(prefix, card, suffix):
    written, digits = card
    assert_number_hidden(mask_personal_numbers(prefix + written + suffix), digits, prefix, suffix)


ALNUM = string.ascii_letters + string.digits
LOCAL_PARTS = starting_with(ALNUM, ALNUM + "._%+-", 0, 15)
DOMAINS = st.sampled_from(["example.cn", "qq.com", "163.com", "mail.ruian.gov.cn", "ＥＸＡＭＰＬＥ．ＣＮ"])


@FEW
@given(PREFIX_NO_LATIN, LOCAL_PARTS, st.sampled_from(["@", "＠"]), DOMAINS, SUFFIX)
def test_e_mail_addresses_lose_their_name_and_keep_their_domain(prefix, name, at, domain, suffix):
    masked = mask_personal_numbers(prefix + name + at + domain + suffix)
    assert masked == prefix + MASK + at + domain + suffix


@FEW
@given(
    PREFIX_NO_LATIN,
    st.sampled_from(["QQ", "qq", "QQ号", "qq号:", "QQ：", "扣扣", "ＱＱ号码 "]),
    digit_strings("123456789", 5) | digit_strings("123456789", 9) | digit_strings("123456789", 10),
    SUFFIX,
)
def test_qq_numbers_after_their_keyword_are_masked_whole(prefix, word, qq, suffix):
    masked = mask_personal_numbers(prefix + word + qq + suffix)
    assert masked == prefix + word + MASK * len(qq) + suffix


WECHAT_IDS = starting_with(string.ascii_letters, ALNUM + "_-", 5, 19)


@FEW
@given(
    PREFIX_NO_LATIN,
    st.sampled_from(["微信", "微信号", "微信号：", "微信:", "vx", "VX:", "wx ", "Wx号", "ｗｘ："]),
    WECHAT_IDS | MOBILES,
    SUFFIX_NO_LATIN,
)
def test_wechat_ids_after_their_keyword_are_masked(prefix, word, wechat, suffix):
    masked = mask_personal_numbers(prefix + word + wechat + suffix)
    assert masked.startswith(prefix + word) and masked.endswith(suffix) and MASK in masked
    assert wechat not in visible(masked)


# --- ordinary numbers are left alone ------------------------------------------------------------------------------


@st.composite
def order_numbers(draw) -> str:
    """Order numbers: 20 digits, or 16–19 digits that fail the Luhn check (so they are not bank cards)."""
    if draw(st.booleans()):
        return "订单号" + draw(digit_strings("123456789", 20))
    digits = draw(st.integers(16, 19).flatmap(lambda n: digit_strings("123456789", n)))
    if len(digits) == 18:  # digits 7–8 reading 18/19/20 would make it an ID number's birth year
        digits = digits[:6] + "3" + digits[7:]
    if luhn_valid(digits):
        digits = digits[:-1] + str((int(digits[-1]) + 1) % 10)
    return draw(st.sampled_from(["订单号", "订单号：", "快递单号", "运单号 "])) + digits


ORDINARY = st.one_of(
    BIRTH_DATES.map(lambda d: f"{d.year}年{d.month}月{d.day}日"),
    BIRTH_DATES.map(lambda d: d.strftime("%Y-%m-%d")),
    BIRTH_DATES.map(lambda d: d.strftime("%Y.%m.%d")),
    st.tuples(st.integers(0, 23), st.integers(0, 59)).map(lambda t: f"{t[0]}:{t[1]:02d}"),
    st.tuples(st.integers(0, 23), st.integers(0, 59)).map(lambda t: f"{t[0]}点{t[1]}分"),
    st.integers(1, 99999).map(lambda n: f"¥{n}"),
    st.decimals(0, 9999, places=1).map(lambda n: f"{n}元"),
    st.tuples(st.integers(1, 999), st.integers(1, 30), st.integers(101, 3305)).map(
        lambda t: f"锦湖街道罗阳大道{t[0]}号{t[1]}幢{t[2]}室"
    ),
    st.integers(10001, 999999).map(lambda n: f"问题编号:{n}"),
    st.tuples(st.sampled_from("ABCDEFGHJK"), digit_strings(string.digits, 5)).map(lambda t: f"浙{t[0]}{t[1]}"),
    st.tuples(st.sampled_from("ABCDEFGHJK"), st.sampled_from("DF"), digit_strings(string.digits, 5)).map(
        lambda t: f"浙{t[0]}{t[1]}{t[2]}"
    ),
    order_numbers(),
)


@settings(max_examples=300)
@given(PREFIX, ORDINARY, SUFFIX)
def test_dates_times_prices_addresses_plates_and_order_numbers_are_left_as_written(prefix, ordinary, suffix):
    text = prefix + ordinary + suffix
    assert mask_personal_numbers(text) == text and not contains_personal_numbers(text)


# --- the forms the security review listed, exactly -------------------------------------------------------------------


@pytest.mark.parametrize(
    "written, masked",
    [
        pytest.param("我的手机１３８１２３４５６７８。", "我的手机１３８＊＊＊＊＊＊７８。", id="full-width digits"),
        pytest.param("电话138.1234.5678", "电话138＊＊＊＊＊＊78", id="dots"),
        pytest.param("手机138－1234－5678", "手机138＊＊＊＊＊＊78", id="full-width dashes"),
        pytest.param("手机138—1234—5678", "手机138＊＊＊＊＊＊78", id="long dashes"),
        pytest.param("手机138  1234  5678", "手机138＊＊＊＊＊＊78", id="double spaces"),
        pytest.param("手机138\u200b1234\u200b5678", "手机138＊＊＊＊＊＊78", id="zero-width spaces"),
        pytest.param("手机1381 234 5678", "手机138＊＊＊＊＊＊78", id="4-3-4 grouping"),
        pytest.param("手机(+86)13812345678", "手机(+86)138＊＊＊＊＊＊78", id="(+86) in brackets"),
        pytest.param("老身份证330381900101123", "老身份证3303＊＊＊＊＊＊＊＊＊23", id="old 15-digit ID"),
        pytest.param(
            "身份证330381 19900101 123X", "身份证3303＊＊＊＊＊＊＊＊＊＊＊＊3X", id="ID in 6-8-4 groups with X"
        ),
        pytest.param("身份证3303-8119-9001-0112-34", "身份证3303＊＊＊＊＊＊＊＊＊＊＊＊34", id="ID with dashes"),
        pytest.param("座机+86 577 6581 2345", "座机+86 577＊＊＊＊＊＊45", id="+86 landline without its 0"),
        pytest.param("座机0577 6581 2345", "座机057＊＊＊＊＊＊＊45", id="landline with spaces"),
        pytest.param("座机（0577）6581 2345", "座机057＊＊＊＊＊＊＊45", id="landline with full-width brackets"),
        pytest.param("有事打65812345", "有事打＊＊＊＊＊＊＊＊", id="local number after 打"),
        pytest.param("电话号码6581 2345", "电话号码＊＊＊＊＊＊＊＊", id="local number after 电话号码"),
        pytest.param("卡号6222 0212 3456 7894", "卡号6222＊＊＊＊＊＊＊＊7894", id="bank card in groups"),
        pytest.param("卡号6228480012345678903", "卡号6228＊＊＊＊＊＊＊＊＊＊＊8903", id="19-digit bank card"),
        pytest.param("邮箱a.person＠example.cn。", "邮箱＊＠example.cn。", id="full-width at sign"),
        pytest.param("QQ号123456789", "QQ号＊＊＊＊＊＊＊＊＊", id="QQ after QQ号"),
        pytest.param("扣扣：12345", "扣扣：＊＊＊＊＊", id="QQ after 扣扣"),
        pytest.param("加我微信号abc_def-12谢谢", "加我微信号＊谢谢", id="WeChat id after 微信号"),
        pytest.param("vx:wxid_abcdefg", "vx:＊", id="WeChat id after vx"),
    ],
)
def test_the_forms_the_review_found_unmasked_are_masked(written, masked):
    assert mask_personal_numbers(written) == masked and contains_personal_numbers(written)


def test_a_long_complaint_full_of_numbers_is_masked_throughout():
    text = ("上望街道有人烧垃圾，电话１３８ １２３４ ５６７８，2026年11月30日8:30，" * 150)[:5000]
    masked = mask_personal_numbers(text)
    assert "１２３４ ５６７８" not in masked and masked.count("１３８＊＊＊＊＊＊７８") == text.count("１３８ １２３４")
    assert masked.count("2026年11月30日8:30") == text.count("2026年11月30日8:30")


# Shapes that make a backtracking pattern take seconds (their time is in `make bench`: bench/bench_privacy.py).
@pytest.mark.parametrize(
    "text",
    ["a@" * 2500, "a@" + "a." * 2499, "wx" + "a" * 4998, "qq" + "1" * 4998, "1\u200b" * 2500],
    ids=["at signs", "a long domain", "a long id", "a long qq", "digits between zero-width spaces"],
)
def test_long_runs_of_what_numbers_and_addresses_are_made_of_are_no_personal_number(text):
    assert mask_personal_numbers(text) == text and not contains_personal_numbers(text)
