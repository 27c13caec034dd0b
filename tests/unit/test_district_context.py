"""Districts as citizens write them: short names that are everyday words, in context, and the gazetteer's checks.

The sentences are written for this test in the voice of people on the app, Weibo or WeChat; none comes from the
bootstrap generator or from an evaluation set.
"""

from __future__ import annotations

import pytest

from complaints.city import CityConfigError, load_city

# (text, the district it names, or None when it names none)
NAMED = [
    # 安阳
    ("安阳这边的垃圾桶好几天没人清理了，臭得不行", "安阳街道"),
    ("在安阳开店的都知道，晚上十点以后还有人拿音箱放歌", "安阳街道"),
    ("安阳的虹桥路一下雨就积水，电动车根本过不去", "安阳街道"),
    ("我家住安阳，楼下烧烤摊油烟太大，窗户都不敢开", "安阳街道"),
    ("瑞安安阳一带最近老是停水，也不提前通知", "安阳街道"),
    ("安阳万松路上有个井盖松了，踩上去哐哐响", "安阳街道"),
    ("安阳菜场门口天天堵车，能不能派人管管", "安阳街道"),
    ("安阳市场门口的流动摊贩把人行道全占了", "安阳街道"),
    ("安阳 附近那个工地晚上十二点还在打桩", "安阳街道"),
    # 东山
    ("东山那边的厂子半夜偷偷排污水，河都黑了", "东山街道"),
    ("在东山上班，每天早上那个路口都堵死", "东山街道"),
    ("东山这个路口红绿灯坏了两天了，很危险", "东山街道"),
    ("东山菜场里卖活禽的摊位卫生太差了", "东山街道"),
    ("东山派出所门口乱停车，救护车都进不去", "东山街道"),
    ("东山这一块的路灯晚上全是黑的", "东山街道"),
    ("瑞安市东山中学门口早上乱停车", "东山街道"),
    # 锦湖
    ("锦湖这边的路灯一到晚上就不亮", "锦湖街道"),
    ("在锦湖住了十年，从没见过这么乱的停车", "锦湖街道"),
    ("锦湖这一块的夜宵摊吵到凌晨两点", "锦湖街道"),
    ("锦湖小区门口的垃圾堆成山了也没人管", "锦湖街道"),
    ("锦湖那个菜场的地面全是污水", "锦湖街道"),
    ("家住锦湖，小区电梯坏了一个月物业不修", "锦湖街道"),
    ("我们锦湖的路灯什么时候能修好", "锦湖街道"),
    ("锦湖的居民都在骂，垃圾车天天凌晨三点来", "锦湖街道"),
    # 玉海
    ("在玉海开了家小店，门口天天有人乱停电动车", "玉海街道"),
    ("玉海这边老房子的电线乱拉，很危险", "玉海街道"),
    ("玉海那边的老街晚上有人飙车，吵死了", "玉海街道"),
    ("玉海楼旁边的公厕一直锁着门", "玉海街道"),
    ("玉海的忠义街上共享单车堆得走不了人", "玉海街道"),
    # 飞云
    ("飞云这个路口红绿灯坏了，车子乱开", "飞云街道"),
    ("在飞云开车，那段路全是坑", "飞云街道"),
    ("飞云一带的垃圾中转站臭味很大", "飞云街道"),
    ("飞云那边新开的工厂噪音太大", "飞云街道"),
    ("飞云江边上，飞云这边的堤坝有裂缝", "飞云街道"),
    # 南滨
    ("南滨这边新修的路又被挖开了", "南滨街道"),
    ("在南滨上班，公交车半小时都等不到一班", "南滨街道"),
    ("南滨附近的沙场灰尘太大，衣服都不能晒", "南滨街道"),
    ("南滨的学校门口早上堵得不行", "南滨街道"),
    ("南滨路口那个摊子占道经营好久了", "南滨街道"),
    # 云周
    ("云周那边山上有人乱砍树", "云周街道"),
    ("在云周种地的农户说水渠被堵了", "云周街道"),
    ("云周这一带的村道坑坑洼洼", "云周街道"),
    ("云周的卫生院周末没有医生值班", "云周街道"),
    # 高楼
    ("高楼那边的寨寮溪有人炸鱼", "高楼镇"),
    ("在高楼开民宿的，晚上经常停电", "高楼镇"),
    ("高楼这边山路塌方了，车子过不去", "高楼镇"),
    ("高楼卫生院挂号要排两个小时", "高楼镇"),
    ("寨寮溪景区的厕所太脏了", "高楼镇"),
    # the other gazetteer additions
    ("隆山公园里有人遛狗不牵绳", "安阳街道"),
    ("瑞安市人民医院门口黄牛倒号", "安阳街道"),
    ("天井垟那边的田里有人烧秸秆", "曹村镇"),
    ("河埭桥社区的小区路灯坏了", "锦湖街道"),
    ("东镇社区的下水道堵了好几天", "玉海街道"),
]

NOT_NAMED = [
    # 安阳: the Henan city
    ("我老家河南安阳的，来瑞安打工三年了，想问下社保怎么转", None),
    ("从安阳市寄过来的快递一直卡在中转站不动", None),
    ("上周去安阳东站坐高铁，回来发现行李被人翻过", None),
    ("安阳工学院毕业的，想问下人才补贴怎么申请", None),
    ("上海的安阳路有家店卖假货", None),
    # 东山: the idiom, Fujian, Suzhou, and a village of 马屿
    ("老板说厂子倒了还能东山再起，工资却一直拖着不发", None),
    ("去年去福建东山岛玩，回来发现被多扣了房费", None),
    ("苏州东山的枇杷快递过来全烂了", None),
    ("马屿东山头村的路灯坏了半个月", "马屿镇"),
    ("听说丽水市东山中学的食堂出了问题，我们这边的学校也要查查", None),
    ("网上说外地有个东山学校乱收补课费，我们这里有没有", None),
    # 锦湖: the tyre brand and the airline
    ("车上刚换的锦湖轮胎就鼓包了，店家不给退", None),
    ("锦湖韩亚的机票退款一直没到账", None),
    ("轮胎店卖锦湖的胎，价格比网上贵一倍", None),
    # 玉海: the encyclopaedia
    ("孩子要读《玉海》，图书馆能不能借到", None),
    ("在温州的玉海宾馆住了一晚，房间有虫", None),
    # 飞云: the river through the whole city, a person's name
    ("飞云江边有人电鱼，鱼都死了一片", None),
    ("飞云江大桥上天天堵车", None),
    ("我同事张飞云说他的工资被拖欠了", None),
    ("飞云江上游水质变差了，水是黄的", None),
    ("塘下有人往温瑞塘河里倒垃圾", "塘下镇"),
    # 南滨: Chongqing's road
    ("重庆南滨路夜景很漂亮，就是人太多", None),
    ("南滨路那家火锅店卫生太差", None),
    # 云周: a substring of ordinary words
    ("白云周边的小区停车太难了", None),
    ("风云周刊上说的那个事情是真的吗", None),
    ("彩云周末去哪玩都是人挤人", None),
    # 高楼: a tall building
    ("小区旁边的高楼晚上灯光太亮", None),
    ("小区对面那栋高楼晚上灯光照进卧室", None),
    ("高楼大厦越盖越多，老人出门都没地方坐", None),
    ("住在高楼上，电梯三天两头坏", None),
    ("现在高楼越来越多，消防车都进不来", None),
    ("高楼层的水压太低，洗澡都没水", None),
    ("我们高楼的电梯又坏了，物业电话打不通", None),
    ("高楼的灯光照到小区里，晚上睡不着", None),
    ("老房子夹在高楼厦中间，采光全没了", None),
    # other places, and a common word next to a Rui'an place named in full
    ("河南安阳人在瑞安东山这边开店被收保护费", "东山街道"),
    ("我从安阳市来，在塘下这边打工，工资被拖欠", "塘下镇"),
    ("在温州鹿城的路上看到有人乱扔垃圾", None),
    ("高楼大厦边上的上望街道有人烧垃圾", "上望街道"),
    ("我是外省捞刀河镇高岭村的，来这边打工被拖欠工资", None),  # 高岭村 is also a village of 高楼镇
    ("高楼镇高岭村的山路塌方了", "高楼镇"),
    ("瑞安市薛里村有人烧垃圾", "上望街道"),
    # one sense per text: a name seen as another place's is that place's all the text long
    ("听说永康市东山小学乱收费，我侄子在东山小学读书也被收了", None),
    ("老家是捞刀河镇高岭村的，从小在高岭村长大，宅基地被占了", None),
]


@pytest.mark.parametrize(("text", "district"), NAMED + NOT_NAMED)
def test_the_district_a_citizen_means(city, text, district):
    found = city.district_in_text(text)
    assert (found.name if found else None) == district


def test_every_common_word_short_name_is_tested_both_ways(city):
    commons = [d for d in city.districts if d.short_is_common_word]
    assert {d.short for d in commons} == {"安阳", "东山", "锦湖", "玉海", "飞云", "南滨", "云周", "高楼"}
    for d in commons:
        assert any(d.short in t and want == d.name for t, want in NAMED), d.short
        assert any(d.short in t and want != d.name for t, want in NOT_NAMED), d.short
    assert len(NAMED) + len(NOT_NAMED) >= 60


def test_locate_says_the_text_decided(city):
    match = city.locate("锦湖这边的垃圾没人收")
    assert (match.district.name, match.source) == ("锦湖街道", "text")
    assert city.locate("东山再起").district is None


def test_the_most_named_district_still_wins_and_ties_go_to_the_first(city):
    assert city.district_in_text("我住东山这边，去锦湖那边上班，锦湖的菜场门口天天堵").name == "锦湖街道"
    assert city.district_in_text("在飞云上班，在南滨住").name == "飞云街道"


def test_places_are_tokenizer_words(city):
    words = set(city.tokenizer_words())
    assert {"隆山公园", "玉海楼", "寨寮溪", "飞云江"} <= words


# ------------------------------------------------------------------ the loader's checks
def _variant(tmp_path, city_file, old: str, new: str):
    text = city_file.read_text(encoding="utf-8")
    assert old in text
    path = tmp_path / "variant.toml"
    path.write_text(text.replace(old, new, 1), encoding="utf-8")
    return path


def test_a_place_listed_in_two_districts_is_refused(tmp_path, city_file):
    # 寨寮溪 also under 安阳街道: which district a complaint about it is in would depend on the file's order.
    path = _variant(tmp_path, city_file, 'places = ["隆山公园",', 'places = ["寨寮溪", "隆山公园",')
    with pytest.raises(CityConfigError, match="寨寮溪.*安阳街道.*高楼镇"):
        load_city(path)


def test_a_name_declared_ambiguous_may_be_shared_and_decides_no_district(tmp_path, city_file):
    path = _variant(tmp_path, city_file, 'places = ["隆山公园",', 'places = ["寨寮溪", "隆山公园",')
    text = path.read_text(encoding="utf-8").replace(
        'ambiguous = ["飞云江", "温瑞塘河"]', 'ambiguous = ["飞云江", "温瑞塘河", "寨寮溪"]'
    )
    path.write_text(text, encoding="utf-8")
    shared = load_city(path)
    assert shared.district_in_text("寨寮溪有人炸鱼") is None
    assert shared.district_in_text("高楼那边的寨寮溪有人炸鱼").name == "高楼镇"


def test_a_community_shared_with_another_district_is_refused(tmp_path, city_file):
    path = _variant(tmp_path, city_file, '"篁社村",', '"篁社村", "薛里村",')
    with pytest.raises(CityConfigError, match="薛里村"):
        load_city(path)


def test_a_negative_phrase_must_contain_the_short_form(tmp_path, city_file):
    path = _variant(tmp_path, city_file, '"东山再起",', '"再起",')
    with pytest.raises(CityConfigError, match="再起"):
        load_city(path)


def test_unknown_gazetteer_keys_are_refused(tmp_path, city_file):
    path = _variant(tmp_path, city_file, "name_chars = 4", "name_chars = 4\nshort_befor = []")
    with pytest.raises(CityConfigError, match="short_befor"):
        load_city(path)


def test_a_gazetteer_word_list_written_as_one_string_is_refused(tmp_path, city_file):
    path = _variant(tmp_path, city_file, 'ambiguous = ["飞云江", "温瑞塘河"]', 'ambiguous = "飞云江"')
    with pytest.raises(CityConfigError, match="ambiguous must be a list"):
        load_city(path)


def test_without_a_gazetteer_table_common_words_never_count_alone(tmp_path, city_file):
    text = city_file.read_text(encoding="utf-8")
    start = text.index("[gazetteer]")
    end = text.index("# ---------------------------------------------------------------- districts")
    path = tmp_path / "plain.toml"
    path.write_text(text[:start] + text[end:], encoding="utf-8")
    plain = load_city(path)
    assert plain.district_in_text("锦湖这边的路灯不亮") is None
    assert plain.district_in_text("锦湖街道的路灯不亮").name == "锦湖街道"
