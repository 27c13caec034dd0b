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
    # A department hears of what is addressed to it by id: as main handler, or as co-recipient (masked).
    assert {"agency": ["eco"], "audience": ["agency", "co"]} in policies
    assert {"agency": ["eco"], "audience": ["agency", "co"], "district": ["塘下镇"]} in policies
    town = city.agency("town-shangwang")  # a local matter's handler, and the masked copy of the rest
    assert city.filter_policy(town, town.notify[0]) == {
        "$or": [
            {"agency": ["town-shangwang"], "audience": ["agency", "co"]},
            {"district": ["上望街道"], "audience": ["copy"]},
        ]
    }
    triage = next(a for a in city.agencies if a.kind == "triage")
    assert city.filter_policy(triage, triage.notify[0]) is None


def test_a_category_naming_an_unknown_agency_is_rejected(tmp_path, city_file):
    bad = city_file.read_text(encoding="utf-8").replace('agency = "eco"', 'agency = "nobody"', 1)
    path = tmp_path / "bad.toml"
    path.write_text(bad, encoding="utf-8")
    with pytest.raises(CityConfigError, match="nobody"):
        load_city(path)


# ------------------------------------------------------------------ the service catalogue


def test_every_department_handles_a_service_and_every_service_names_real_agencies(city):
    departments = {a.id for a in city.agencies if a.kind == "department"}
    assert departments <= {s.agency for s in city.services if not s.local}
    for s in city.services:
        assert city.category(s.category) is not None
        assert city.agency(s.agency).kind == "department"
    # the misroutings: each now has the department that handles it
    by_name = {s.name: s for s in city.services}
    assert by_name["违章搭建"].agency == "zhzf"
    assert by_name["红绿灯"].agency == "jjdd"
    assert by_name["食品卫生"].agency == "scjg"


def test_a_local_service_goes_to_the_districts_town_and_to_no_one_without_a_district(city):
    village_road = next(s for s in city.services if s.name == "村道破损")
    assert village_road.local
    assert city.handlers(village_road.code, None, "塘下镇").main.id == "town-tangxia"
    assert city.handlers(village_road.code, None, None).main is None
    muck = next(s for s in city.services if s.name == "渣土车")
    handlers = city.handlers(muck.code, None, "塘下镇")
    assert handlers.main.id == "zhzf" and [a.id for a in handlers.co] == ["jjdd"]


def test_a_services_own_deadline_overrides_its_categorys(city):
    affairs = next(s for s in city.services if s.name == "村务公开")
    assert city.limits_for("城乡建设", affairs.code).answer_within_days == 10
    assert city.limits_for("城乡建设").answer_within_days == 5


def test_a_models_label_reads_as_a_service_a_category_or_an_agency(city):
    assert city.read("cj01").service.name == "违章搭建" and city.read("cj01").category == "城乡建设"
    assert city.read("环境保护").agency.id == "eco" and city.read("环境保护").service is None
    assert city.read("jjdd").agency.id == "jjdd" and city.read("jjdd").category is None
    assert city.read("triage-desk").agency is None


@pytest.mark.parametrize(
    ("old", "new", "message"),
    [
        ('code = "cj02"', 'code = "cj01"', "codes must be unique"),
        ('name = "小区物业"', 'name = "违章搭建"', "names must be unique"),
        ('code = "cj02"', 'code = "CJ 02"', "lower-case ascii"),
        ('category = "城乡建设"\nagency = "zjj"', 'category = "城建"\nagency = "zjj"', "unknown category"),
        ('agency = "slj"\n', 'agency = "nobody"\n', "unknown agency"),
        ('agency = "slj"\n', 'agency = "town-mayu"\n', "must be a department"),
        ('co_agencies = ["jjdd"]', 'co_agencies = ["triage-desk"]', "triage desk"),
        ("local = true\ndescription", 'local = "yes"\ndescription', "local must be true or false"),
        ('code = "cj02"', 'code = "cj02"\nowner = "x"', "unknown keys"),
    ],
)
def test_a_broken_catalogue_is_refused_when_the_file_loads(tmp_path, city_file, old, new, message):
    text = city_file.read_text(encoding="utf-8")
    assert old in text
    path = tmp_path / "bad.toml"
    path.write_text(text.replace(old, new, 1), encoding="utf-8")
    with pytest.raises(CityConfigError, match=message):
        load_city(path)


def test_a_department_with_no_service_is_refused(tmp_path, city_file):
    text = city_file.read_text(encoding="utf-8")
    # 市退役军人事务局 handles one service; given to another department, it would receive nothing
    path = tmp_path / "bad.toml"
    path.write_text(text.replace('agency = "tyjr"\n', 'agency = "rsj"\n'), encoding="utf-8")
    with pytest.raises(CityConfigError, match="tyjr"):
        load_city(path)


def test_the_wechat_texts_are_the_conversations_and_are_checked(tmp_path, city_file):
    import dataclasses

    from complaints.city import WECHAT_TEXTS
    from complaints.domain.desk.wechat_conversation import Wording

    assert {f.name for f in dataclasses.fields(Wording)} | {"received"} == set(WECHAT_TEXTS)
    city = load_city(city_file)
    assert city.wechat_text("status", ticket_no=10001, status="已受理") == "问题10001：已受理"
    text = city_file.read_text(encoding="utf-8")
    for old, new, message in [
        ('nothing_to_cancel = "', 'nothing_to_cancl = "', "unknown text"),
        ('car_police = "已转交交警处理，问题编号{ticket_no}。"', 'car_police = "{phone}"', "may hold only"),
    ]:
        path = tmp_path / "bad.toml"
        path.write_text(text.replace(old, new, 1), encoding="utf-8")
        with pytest.raises(CityConfigError, match=message):
            load_city(path)
