"""The city file: gazetteer lookups and the SNS filter policies that decide who is notified."""

from __future__ import annotations

import pytest

from complaints.city import CityConfigError, load_city


def test_full_names_communities_and_short_forms_find_the_district(city):
    assert city.locate("上望街道有人烧垃圾").district.name == "上望街道"
    assert city.locate("薛里村路边有人烧垃圾").district.name == "上望街道"
    assert city.locate("塘下这边工厂偷排").district.name == "塘下镇"
    assert city.locate("上望有人烧垃圾").source == "text"


def test_short_forms_that_are_everyday_words_do_not_count_alone(city):
    # 高楼 is "tall building", 安阳 a city in Henan: neither names a Rui'an district on its own.
    assert city.locate("小区旁边的高楼晚上灯光太亮").district is None
    assert city.locate("我从安阳市来瑞安打工").district is None
    assert city.locate("高楼镇的路灯坏了").district.name == "高楼镇"


def test_the_most_named_district_wins(city):
    text = "我住塘下镇，但是在上望街道上班，上望街道薛里村那边一直在烧垃圾"
    assert city.locate(text).district.name == "上望街道"


def test_coordinates_decide_before_the_text(city):
    shangwang = city.district_by_name("上望街道")
    match = city.locate("塘下镇的朋友说这里有人烧垃圾", shangwang.lat, shangwang.lng)
    assert (match.district.name, match.source) == ("上望街道", "location")


def test_coordinates_outside_the_city_are_ignored(city):
    match = city.locate("上望街道有人烧垃圾", 39.9, 116.4)  # Beijing
    assert (match.district.name, match.source) == ("上望街道", "text")


def test_every_category_has_a_department_and_every_district_a_town_government(city):
    for c in city.categories:
        assert city.department_for(c.name).kind == "department"
    for d in city.districts:
        assert city.agency(d.agency).kind == "town"
    assert len(city.districts) == 23 and len(city.categories) == 7


def test_filter_policies(city):
    eco = city.agency("eco")
    policies = [city.filter_policy(eco, n) for n in eco.notify]
    assert {"department": ["市生态环境局"], "audience": ["agency"]} in policies
    assert {"department": ["市生态环境局"], "audience": ["agency"], "district": ["塘下镇"]} in policies
    town = city.agency("town-shangwang")  # a co-recipient: the masked copy only
    assert city.filter_policy(town, town.notify[0]) == {"district": ["上望街道"], "audience": ["copy"]}
    triage = next(a for a in city.agencies if a.kind == "triage")
    assert city.filter_policy(triage, triage.notify[0]) is None


def test_a_category_naming_an_unknown_agency_is_rejected(tmp_path, city_file):
    bad = city_file.read_text(encoding="utf-8").replace('agency = "eco"', 'agency = "nobody"', 1)
    path = tmp_path / "bad.toml"
    path.write_text(bad, encoding="utf-8")
    with pytest.raises(CityConfigError, match="nobody"):
        load_city(path)
