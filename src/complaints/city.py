"""The city configuration (`city/<code>.toml`): districts, agencies, categories, services — data, not code.

See city/SCHEMA.md for the file format. Everything city-specific that the code needs is read from here.
"""

from __future__ import annotations

import dataclasses
import math
import re
import tomllib
from dataclasses import dataclass, field
from datetime import date, time
from functools import cached_property
from pathlib import Path
from typing import Any, Literal
from zoneinfo import ZoneInfo, ZoneInfoNotFoundError

from complaints.domain.deadlines import WEEKDAYS, CalendarError, ServiceLimits, WorkingCalendar

# A coordinate farther than this from every district centre is outside the city: it decides nothing.
MAX_DISTRICT_DISTANCE_KM = 40.0
# The `audience` attribute of a dispatched notice: the assigned agency's (text as written) or the copy for
# co-recipients such as the district's town (personal numbers masked). Subscriptions filter on it.
AGENCY, COPY = "agency", "copy"
# The `audience` of the masked copy for a service's co-recipients (协办单位), addressed by their agency id.
CO = "co"
# Characters no road or estate name is made of in "安阳的虹桥路": function words and common verbs of a sentence.
_NOT_IN_NAMES = "的了是在到得很太有没不也都就把被让给对和与跟照说看要会能"


class CityConfigError(ValueError):
    """The city file is inconsistent (unknown agency id, duplicate name, ...)."""


@dataclass(frozen=True)
class NotifyEndpoint:
    protocol: Literal["email", "sms"]
    endpoint: str
    districts: tuple[str, ...] = ()


@dataclass(frozen=True)
class Agency:
    id: str
    name: str
    kind: Literal["department", "town", "triage"]
    notify: tuple[NotifyEndpoint, ...] = ()


@dataclass(frozen=True)
class Category:
    name: str
    agency: str
    keywords: tuple[str, ...] = ()
    limits: ServiceLimits = ServiceLimits()  # `[deadlines]`, with this category's own values over them


@dataclass(frozen=True)
class Service:
    """A kind of problem of the city's catalogue (派单目录): who handles it, and how long they have."""

    code: str
    name: str
    category: str
    agency: str  # the department in charge citywide
    local: bool = False  # 属地: the town government of the ticket's district handles it
    co_agencies: tuple[str, ...] = ()
    keywords: tuple[str, ...] = ()
    description: str = ""
    limits: ServiceLimits = ServiceLimits()  # the category's, with this service's own values over them


@dataclass(frozen=True)
class Handlers:
    """Who handles a ticket: the main handler (承办单位), which may be missing for a local matter with no district,
    and the co-recipients (协办单位) who get a masked copy."""

    main: Agency | None
    co: tuple[Agency, ...] = ()


@dataclass(frozen=True)
class Reading:
    """What one of a model's labels says about a ticket: a service code (and so its category), a category alone,
    or an agency id alone, depending on what the model was trained on."""

    service: Service | None
    category: str | None
    agency: Agency | None  # the department in charge, when the label names one

    @property
    def title(self) -> str:
        """How a person reads the label: the service's name, else the category, else the agency's name."""
        if self.service is not None:
            return self.service.name
        return self.category or (self.agency.name if self.agency else "")


@dataclass(frozen=True)
class District:
    id: str
    name: str
    kind: str
    short: str
    lat: float
    lng: float
    agency: str
    short_is_common_word: bool = False
    aliases: tuple[str, ...] = ()
    communities: tuple[str, ...] = ()
    places: tuple[str, ...] = ()  # roads, landmarks, markets, schools, hospitals... inside the district
    short_not_in: tuple[str, ...] = ()  # phrases in which a common-word short form is another word (东山再起)
    short_elsewhere: tuple[str, ...] = ()  # phrases in which it names another place (河南安阳): then, all the text


@dataclass(frozen=True)
class Gazetteer:
    """`[gazetteer]`: when a short form that is an everyday word (安阳, 东山 ...) names its district.

    Such a short form counts when a word of `short_before` is right before it (在锦湖), or right after it: a word
    of `short_after` (锦湖这边); a noun of `short_nouns` or a name of the gazetteer, a word of `short_links`
    between or not (东山菜场, 飞云这个路口, 安阳万松路); a noun of `short_link_nouns` after a link (东山的学校);
    or 的, a name of at most `name_chars` characters and a word of `road_suffixes` (安阳的虹桥路).
    It does not count inside a phrase of its district's `short_not_in` (东山再起) nor inside a name of
    `ambiguous` (飞云江: names of no single district). Right after a word of `other_place_before` (C4市东山中学)
    or inside a phrase of its district's `short_elsewhere` (河南安阳) it names another place, and then counts
    nowhere in the text; so does a community right after such a word (捞刀河镇高岭村).
    """

    short_before: tuple[str, ...] = ()
    short_before_not: tuple[str, ...] = ()  # 现在/正在 ...: the 在 of a longer word, not "in"
    other_place_before: tuple[str, ...] = ()  # 市/县/镇 ...: right before, the name is in another address
    short_after: tuple[str, ...] = ()
    short_links: tuple[str, ...] = ()
    short_nouns: tuple[str, ...] = ()
    short_link_nouns: tuple[str, ...] = ()  # only after a link: 东山中学 is a school of many cities, 东山的学校 ours
    road_suffixes: tuple[str, ...] = ()
    name_chars: int = 4
    ambiguous: tuple[str, ...] = ()


@dataclass(frozen=True)
class DistrictMatch:
    """Which district a complaint is in, and what decided it."""

    district: District | None
    source: Literal["location", "text"] | None


# The texts of car moving (自助移车) and the placeholders each must hold; {sign} is the city's SMS sign.
_CAR_MOVING_TEXTS = {
    "code_sms": ("code", "minutes"),
    "owner_sms": ("plate", "location", "link"),
    "owner_voice": ("plate", "location"),
    "reminder_sms": ("plate", "location", "link"),
    "reminder_voice": ("plate", "location"),
    "police_text": ("plate", "location", "minutes"),
    "moved_page": (),
    "confirm_page": ("plate",),
}
_CAR_MOVING_PLACEHOLDERS = {"sign", "code", "minutes", "plate", "location", "link"}


# [wechat]: what the desk says in WeChat (desk/wechat_conversation.Wording, and `received` for the messenger), each
# text with the placeholders it may hold. A text the city file leaves out keeps the code's default.
WECHAT_TEXTS: dict[str, set[str]] = {
    "received": {"ticket_no", "link"},
    "welcome": set(),
    "help": set(),
    "picture_kept": set(),
    "location_kept": set(),
    "submitted": set(),
    "cancelled": set(),
    "nothing_to_cancel": set(),
    "not_found": set(),
    "status": {"ticket_no", "status"},
    "answer": {"answer"},
    "unsupported": set(),
    "car_phone": set(),
    "car_code_sent": set(),
    "car_plate": set(),
    "car_notified": {"plate", "minutes"},
    "car_reminded": {"plate"},
    "car_police": {"ticket_no"},
    "car_moved": {"plate"},
    "car_no_request": set(),
    "car_bad_phone": set(),
    "car_bad_code": set(),
    "car_bad_plate": set(),
    "car_limit": {"minutes"},
    "car_not_yet": set(),
    "car_blocked": set(),
    "car_unknown_plate": set(),
    "car_unavailable": set(),
}
WECHAT_RECEIVED = "您反映的问题已登记，问题编号{ticket_no}。进度：{link}\n发送“查询 {ticket_no}”可查看"


@dataclass(frozen=True)
class CarMovingRules:
    """Self-service car moving (自助移车): limits, the police's service code, and the texts ([car_moving])."""

    police_service: str
    texts: dict[str, str]
    code_valid_minutes: int = 10
    code_max_tries: int = 5
    code_interval_seconds: int = 60
    codes_per_day: int = 5
    token_valid_days: int = 30
    requests_per_month: int = 5
    plate_interval_minutes: int = 10
    remind_after_minutes: int = 10

    def text(self, name: str, **values: Any) -> str:
        return self.texts[name].format(**values)


@dataclass(frozen=True)
class City:
    code: str
    name: str
    board: str
    sms_sign: str
    public_base_url: str
    ticket_no_start: int
    categories: tuple[Category, ...]
    agencies: tuple[Agency, ...]
    districts: tuple[District, ...]
    services: tuple[Service, ...] = ()
    weibo_account: str | None = None  # the board's Weibo screen name, as citizens @-mention it
    gazetteer: Gazetteer = Gazetteer()
    calendar: WorkingCalendar = WorkingCalendar()
    car_moving: CarMovingRules | None = None
    wechat_texts: tuple[tuple[str, str], ...] = ()  # [wechat]: (name, text), as WECHAT_TEXTS names them
    _default_limits: ServiceLimits = ServiceLimits()
    _agency_by_id: dict[str, Agency] = field(init=False, repr=False, compare=False)
    _service_by_code: dict[str, Service] = field(init=False, repr=False, compare=False)

    def __post_init__(self) -> None:
        object.__setattr__(self, "_agency_by_id", {a.id: a for a in self.agencies})
        object.__setattr__(self, "_service_by_code", {s.code: s for s in self.services})
        self._check()

    # ----------------------------------------------------------------- lookups
    def agency(self, agency_id: str) -> Agency:
        return self._agency_by_id[agency_id]

    def triage_desk(self) -> Agency:
        """The agency of kind `triage`: the human dispatchers who route what the model does not."""
        desk = next((a for a in self.agencies if a.kind == "triage"), None)
        if desk is None:
            raise CityConfigError(f"{self.code}: no agency of kind triage; the answer loop needs one")
        return desk

    def agency_ids(self) -> frozenset[str]:
        return frozenset(self._agency_by_id)

    def category(self, name: str) -> Category | None:
        return next((c for c in self.categories if c.name == name), None)

    def service(self, code: str | None) -> Service | None:
        return self._service_by_code.get(code) if code else None

    def limits_for(self, category: str | None, service: str | None = None) -> ServiceLimits:
        """How long agencies have for a ticket of this service, else of this category (else the `[deadlines]`)."""
        found_service = self.service(service)
        if found_service is not None:
            return found_service.limits
        found = self.category(category) if category else None
        return found.limits if found else self._default_limits

    def department_for(self, category: str) -> Agency | None:
        """The agency that answers complaints of this category when no service is known."""
        found = self.category(category)
        return self.agency(found.agency) if found else None

    def read(self, label: str) -> Reading:
        """A model's label in the city's terms: a service code, a category name or an agency id (in that order)."""
        found = self.service(label)
        if found is not None:
            return Reading(found, found.category, self.agency(found.agency))
        category = self.category(label)
        if category is not None:
            return Reading(None, category.name, self.agency(category.agency))
        agency = self._agency_by_id.get(label)
        if agency is not None and agency.kind != "triage":
            return Reading(None, None, agency)
        return Reading(None, None, None)

    def handlers(self, service: str | None, category: str | None, district: str | None) -> Handlers:
        """Who handles a ticket of this service (or, with none, of this category) in this district.

        A local service (属地) goes to the district's town government; with no district there is no one to give it
        to automatically (a person finds where it is). Co-recipients never include the main handler.
        """
        found = self.service(service)
        if found is None:
            department = self.department_for(category) if category else None
            return Handlers(department)
        main: Agency | None = self.agency(found.agency)
        if found.local:
            where = self.district_by_name(district) if district else None
            main = self.agency(where.agency) if where else None
        co = tuple(self.agency(a) for a in found.co_agencies if main is None or a != main.id)
        return Handlers(main, co)

    def agency_by_name(self, name: str) -> Agency | None:
        return next((a for a in self.agencies if a.name == name), None)

    def district_by_name(self, name: str) -> District | None:
        return next((d for d in self.districts if d.name == name), None)

    def ticket_link(self, ticket_no: int) -> str:
        """The citizen's and the public's page of a ticket."""
        return f"{self.public_base_url.rstrip('/')}/t/{ticket_no}"

    def workspace_link(self, ticket_id: str) -> str:
        """The ticket in the agency workspace, where staff sign in, read it with fresh photo links and answer."""
        return f"{self.public_base_url.rstrip('/')}/agency/tickets/{ticket_id}"

    def tokenizer_words(self) -> list[str]:
        """Words the tokenizer keeps whole: every place name (short forms, communities, roads and landmarks,
        names of no single district), category terms."""
        terms: list[str] = []
        for d in self.districts:
            terms += [d.name, d.short, *d.aliases, *d.communities, *d.places]
        terms += self.gazetteer.ambiguous
        for c in self.categories:
            terms += c.keywords
        for sv in self.services:
            terms += [sv.name, *sv.keywords]
        return terms

    def filter_policy(self, agency: Agency, endpoint: NotifyEndpoint) -> dict[str, list[str]] | None:
        """The SNS filter policy of one notification endpoint of an agency (see city/SCHEMA.md).

        Triage dispatchers see every ticket sent to triage: no filter. Every other agency gets the notices addressed
        to it by its id (`agency`): as the main handler (`audience` `agency`, the only one with the text as written)
        or as a co-recipient (`co`, masked). A town also gets the masked copy of every ticket in its districts
        (`audience` `copy`) that it does not handle itself.
        """
        if agency.kind == "triage":
            return None
        policy: dict[str, Any] = {"agency": [agency.id], "audience": [AGENCY, CO]}
        if endpoint.districts:
            policy["district"] = list(endpoint.districts)
        if agency.kind == "town":
            copies = {"district": [d.name for d in self.districts if d.agency == agency.id], "audience": [COPY]}
            return {"$or": [policy, copies]}
        return policy

    # --------------------------------------------------------------- district
    def locate(self, text: str, lat: float | None = None, lng: float | None = None) -> DistrictMatch:
        """The district of a complaint: its coordinates first, then place names in its text, else none."""
        if lat is not None and lng is not None:
            nearest = self.nearest_district(lat, lng)
            if nearest is not None:
                return DistrictMatch(nearest, "location")
        named = self.district_in_text(text)
        if named is not None:
            return DistrictMatch(named, "text")
        return DistrictMatch(None, None)

    def nearest_district(self, lat: float, lng: float) -> District | None:
        best = min(self.districts, key=lambda d: _distance_km(lat, lng, d.lat, d.lng))
        return best if _distance_km(lat, lng, best.lat, best.lng) <= MAX_DISTRICT_DISTANCE_KM else None

    def district_in_text(self, text: str) -> District | None:
        """The district named most often in the text (ties: the one named first).

        Full names, aliases, communities, places and plain short forms count wherever they appear. Short forms
        that are everyday words (高楼 "tall building", 东山 ...) count only in the contexts of `[gazetteer]`
        (锦湖这边, 在玉海, 安阳的虹桥路 ...), never inside a phrase that means something else (高楼大厦) or inside
        a name of no single district (飞云江). A short form or community that names another place somewhere in
        the text (河南安阳, C4市东山中学, 捞刀河镇高岭村) counts nowhere in it: one sense per text.
        """
        found: list[tuple[str, str, int]] = []  # (district id, the name as written, where)
        elsewhere: set[str] = set()  # names that, in this text, are another place's
        previous_end = -1
        for m in self._place_pattern.finditer(text):
            name, did = m.group(0), self._place_index.get(m.group(0))
            follows_name, previous_end = m.start() == previous_end, m.end()
            if did is not None:
                if name in self._communities and not follows_name and self._after_other_place(text, m.start()):
                    elsewhere.add(name)  # 捞刀河镇高岭村: another town's village with the name of one of ours
                else:
                    found.append((did, name, m.start()))
                continue
            common = self._common_short.get(name)
            sense = self._short_sense(common, text, m.start(), m.end()) if common else "other"
            if sense == "elsewhere":
                elsewhere.add(name)
            elif sense == "district":
                found.append((common.id, name, m.start()))
        counts: dict[str, int] = {}
        first: dict[str, int] = {}
        for did, name, at in found:
            if name not in elsewhere:
                counts[did] = counts.get(did, 0) + 1
                first.setdefault(did, at)
        if not counts:
            return None
        best = min(counts, key=lambda did: (-counts[did], first[did]))
        return next(d for d in self.districts if d.id == best)

    def _short_sense(self, d: District, text: str, start: int, end: int) -> Literal["district", "elsewhere", "other"]:
        """What the common-word short form of `d` at text[start:end] means: the district, another place, or
        something else (an idiom, a brand, a building, an unmarked use)."""
        after = self._short_after_pattern.match(text, end)
        elsewhere, not_in = self._phrase_patterns[d.id]
        if _inside_phrase(elsewhere, text, start, end, after):
            return "elsewhere"
        if _inside_phrase(not_in, text, start, end, after):
            return "other"
        g = self.gazetteer
        before = text[:start].rstrip()
        if before.endswith(g.short_before):
            return "district" if not before.endswith(g.short_before_not) or after is not None else "other"
        if self._after_other_place(text, start):
            return "elsewhere"  # C4市东山中学: another city's school
        return "district" if after is not None else "other"

    def _after_other_place(self, text: str, start: int) -> bool:
        """Whether text[start:] follows the name of another place (C4市, 捞刀河镇), not one of short_before."""
        before = text[:start].rstrip()
        return before.endswith(self.gazetteer.other_place_before) and not before.endswith(self.gazetteer.short_before)

    @cached_property
    def _phrase_patterns(self) -> dict[str, tuple[_Phrases | None, _Phrases | None]]:
        # One regex per district and kind, searched only around an occurrence: cheaper than a loop over phrases.
        def compiled(phrases: tuple[str, ...], short: str) -> _Phrases | None:
            if not phrases:
                return None
            pattern = re.compile("|".join(re.escape(p) for p in sorted(phrases, key=len, reverse=True)))
            return _Phrases(pattern, max(p.find(short) for p in phrases), max(len(p) for p in phrases))

        return {
            d.id: (compiled(d.short_elsewhere, d.short), compiled(d.short_not_in, d.short))
            for d in self.districts
            if d.short_is_common_word
        }

    @cached_property
    def _communities(self) -> frozenset[str]:
        return frozenset(c for d in self.districts for c in d.communities)

    @cached_property
    def _common_short(self) -> dict[str, District]:
        return {d.short: d for d in self.districts if d.short_is_common_word}

    @cached_property
    def _place_index(self) -> dict[str, str]:
        # Every name that decides a district on its own; _check has refused a name listed in two districts.
        index: dict[str, str] = {}
        for d in self.districts:
            for term in _own_names(d):
                index[term] = d.id
        for term in self.gazetteer.ambiguous:
            index.pop(term, None)
        return index

    @cached_property
    def _place_pattern(self) -> re.Pattern[str]:
        # Longest first, so that 上望街道 wins over 上望, and 飞云江 (no district) over 飞云, at the same position.
        terms = {*self._place_index, *self._common_short, *self.gazetteer.ambiguous}
        return re.compile("|".join(re.escape(t) for t in sorted(terms, key=len, reverse=True)))

    @cached_property
    def _short_after_pattern(self) -> re.Pattern[str]:
        g = self.gazetteer

        def alt(words: tuple[str, ...] | list[str]) -> str:
            return "|".join(re.escape(w) for w in sorted(words, key=len, reverse=True)) or "(?!)"

        names = [t for t in self._place_index if len(t) > 1]
        links = alt(g.short_links)
        # 的, then a name of a few characters that are no function words (高楼的灯光照到小区 is no road), then 路/街...
        road = f"的[^\\W\\d_{_NOT_IN_NAMES}]{{1,{g.name_chars}}}?"
        # A space may stand between (锦湖 这边): people type one on phones.
        return re.compile(
            f"\\s*(?:{alt(g.short_after)}|(?:{links})?(?:{alt(g.short_nouns)}|{alt(names)})"
            f"|(?:{links})(?:{alt(g.short_link_nouns)})"
            f"|{road}(?:{alt(g.road_suffixes)}))"
        )

    def _check_gazetteer(self) -> None:
        """A name listed in two districts is refused unless `[gazetteer] ambiguous` declares it (then it decides
        neither); a district's negative phrases must contain its short form."""
        owner: dict[str, str] = {}
        ambiguous = set(self.gazetteer.ambiguous)
        for d in self.districts:
            for key in ("short_not_in", "short_elsewhere"):
                for phrase in getattr(d, key):
                    if d.short not in phrase:
                        raise CityConfigError(f"district {d.name}: {key} {phrase!r} does not contain {d.short!r}")
            for term in dict.fromkeys([*_own_names(d), d.short]):
                other = owner.setdefault(term, d.name)
                if other != d.name and term not in ambiguous:
                    raise CityConfigError(
                        f"{term!r} is listed in {other} and {d.name}: list it in one, or declare it in "
                        "[gazetteer] ambiguous"
                    )

    def _check(self) -> None:
        ids = [a.id for a in self.agencies]
        if len(set(ids)) != len(ids):
            raise CityConfigError("agency ids must be unique")
        for c in self.categories:
            if c.agency not in self._agency_by_id:
                raise CityConfigError(f"category {c.name}: unknown agency {c.agency!r}")
        names = [d.name for d in self.districts]
        if len(set(names)) != len(names):
            raise CityConfigError("district names must be unique")
        for d in self.districts:
            if d.agency not in self._agency_by_id:
                raise CityConfigError(f"district {d.name}: unknown agency {d.agency!r}")
        self._check_services()
        self._check_gazetteer()
        self._check_car_moving()
        self._check_wechat()
        for a in self.agencies:
            if a.kind not in ("department", "town", "triage"):
                raise CityConfigError(f"agency {a.id}: kind must be department, town or triage, not {a.kind!r}")
            for n in a.notify:
                if n.protocol not in ("email", "sms"):
                    raise CityConfigError(f"agency {a.id}: protocol must be email or sms, not {n.protocol!r}")
                unknown = set(n.districts) - set(names)
                if unknown:
                    raise CityConfigError(f"agency {a.id}: unknown districts {sorted(unknown)}")

    def wechat_text(self, name: str, **values: Any) -> str | None:
        """A [wechat] text of the city file, its placeholders filled; None if the file leaves it to the default."""
        text = dict(self.wechat_texts).get(name)
        return None if text is None else text.format(**values)

    def _check_wechat(self) -> None:
        for name, text in self.wechat_texts:
            if name not in WECHAT_TEXTS:
                raise CityConfigError(f"[wechat]: unknown text {name!r}")
            if not isinstance(text, str) or not text.strip():
                raise CityConfigError(f"[wechat] {name}: a text is needed")
            used = {m.group(1) for m in re.finditer(r"\{(\w*)\}", text)}
            if used - WECHAT_TEXTS[name]:
                raise CityConfigError(f"[wechat] {name}: may hold only {sorted(WECHAT_TEXTS[name])}")

    def _check_car_moving(self) -> None:
        rules = self.car_moving
        if rules is None:
            return
        if self.service(rules.police_service) is None:
            raise CityConfigError(f"[car_moving] police_service: no service {rules.police_service!r}")
        for name, needed in _CAR_MOVING_TEXTS.items():
            text = rules.texts.get(name)
            if not isinstance(text, str) or not text.strip():
                raise CityConfigError(f"[car_moving] {name}: a text is needed")
            used = {m.group(1) for m in re.finditer(r"\{(\w*)\}", text)}
            if used - _CAR_MOVING_PLACEHOLDERS or set(needed) - used:
                raise CityConfigError(
                    f"[car_moving] {name}: must hold {sorted(needed)}, may hold {sorted(_CAR_MOVING_PLACEHOLDERS)}"
                )
        for f in dataclasses.fields(rules):
            value = getattr(rules, f.name)
            if f.type == "int" and (isinstance(value, bool) or not isinstance(value, int) or value < 1):
                raise CityConfigError(f"[car_moving] {f.name}: a whole number of at least 1")

    def _check_service(self, sv: Service, categories: set[str]) -> None:
        where = f"service {sv.code} ({sv.name})"
        if not re.fullmatch(r"[a-z0-9][a-z0-9-]*", sv.code):
            raise CityConfigError(f"service {sv.code!r}: a code is lower-case ascii letters, digits and -")
        if sv.category not in categories:
            raise CityConfigError(f"{where}: unknown category {sv.category!r}")
        for agency_id in (sv.agency, *sv.co_agencies):
            found = self._agency_by_id.get(agency_id)
            if found is None:
                raise CityConfigError(f"{where}: unknown agency {agency_id!r}")
            if found.kind == "triage":
                raise CityConfigError(f"{where}: {agency_id} is the triage desk")
        if self._agency_by_id[sv.agency].kind != "department":
            raise CityConfigError(f"{where}: agency must be a department (use local = true for the town)")
        if sv.agency in sv.co_agencies:
            raise CityConfigError(f"{where}: {sv.agency} is both agency and co-agency")

    def _check_services(self) -> None:
        if not self.services:
            return  # a city without a catalogue routes by category alone
        codes = [s.code for s in self.services]
        names = [s.name for s in self.services]
        for what, values in (("code", codes), ("name", names)):
            dup = sorted({v for v in values if values.count(v) > 1})
            if dup:
                raise CityConfigError(f"service {what}s must be unique: {dup}")
        categories = {c.name for c in self.categories}
        for sv in self.services:
            self._check_service(sv, categories)
        owners = {s.agency for s in self.services if not s.local}
        idle = [a.id for a in self.agencies if a.kind == "department" and a.id not in owners]
        if idle:
            raise CityConfigError(f"departments that handle no service (give each at least one): {idle}")


@dataclass(frozen=True)
class _Phrases:
    pattern: re.Pattern[str]
    lead: int  # the most characters a phrase has before the short form
    longest: int


def _inside_phrase(phrases: _Phrases | None, text: str, start: int, end: int, after: re.Match[str] | None) -> bool:
    """Whether the short form at text[start:end] is part of one of `phrases` as written there.

    安阳市场 is no 安阳市: a context word after the short form that runs past the end of the phrase says the
    phrase is not what is written.
    """
    if phrases is None:
        return False
    lo = max(0, start - phrases.lead)
    for m in phrases.pattern.finditer(text, lo, lo + phrases.longest + phrases.lead):
        if m.start() <= start and m.end() >= end:
            rest = m.end() - end
            if not (rest and after is not None and after.end() - end > rest):
                return True
    return False


def _own_names(d: District) -> list[str]:
    """The names that decide `d` wherever they appear: all but a short form that is an everyday word."""
    names = [d.name, *d.aliases, *d.communities, *d.places]
    return names if d.short_is_common_word else [*names, d.short]


def _distance_km(lat1: float, lng1: float, lat2: float, lng2: float) -> float:
    p1, p2 = math.radians(lat1), math.radians(lat2)
    dp, dl = p2 - p1, math.radians(lng2 - lng1)
    a = math.sin(dp / 2) ** 2 + math.cos(p1) * math.cos(p2) * math.sin(dl / 2) ** 2
    return 6371.0 * 2 * math.asin(math.sqrt(a))


def load_city(path: str | Path) -> City:
    """Read and check a city file."""
    with open(path, "rb") as f:
        raw = tomllib.load(f)
    try:
        c = raw["city"]
        limits = _limits(raw.get("deadlines", {}), ServiceLimits(), "[deadlines]")
        categories = {x["name"]: _limits(x, limits, f"category {x['name']}") for x in raw["categories"]}
        return City(
            code=c["code"],
            name=c["name"],
            board=c["board"],
            sms_sign=c["sms_sign"],
            public_base_url=c["public_base_url"],
            ticket_no_start=int(c.get("ticket_no_start", 1)),
            weibo_account=c.get("weibo_account"),
            categories=tuple(
                Category(
                    name=x["name"],
                    agency=x["agency"],
                    keywords=tuple(x.get("keywords", ())),
                    limits=_limits(x, limits, f"category {x['name']}"),
                )
                for x in raw["categories"]
            ),
            services=tuple(_service(x, categories, limits) for x in raw.get("services", ())),
            agencies=tuple(
                Agency(
                    id=x["id"],
                    name=x["name"],
                    kind=x["kind"],
                    notify=tuple(
                        NotifyEndpoint(n["protocol"], n["endpoint"], tuple(n.get("districts", ())))
                        for n in x.get("notify", ())
                    ),
                )
                for x in raw["agencies"]
            ),
            districts=tuple(
                District(
                    id=x["id"],
                    name=x["name"],
                    kind=x["kind"],
                    short=x["short"],
                    lat=float(x["lat"]),
                    lng=float(x["lng"]),
                    agency=x["agency"],
                    short_is_common_word=bool(x.get("short_is_common_word", False)),
                    aliases=tuple(x.get("aliases", ())),
                    communities=tuple(x.get("communities", ())),
                    places=tuple(x.get("places", ())),
                    short_not_in=tuple(x.get("short_not_in", ())),
                    short_elsewhere=tuple(x.get("short_elsewhere", ())),
                )
                for x in raw["districts"]
            ),
            gazetteer=_gazetteer(raw.get("gazetteer", {})),
            calendar=_calendar(raw.get("calendar", {}), raw.get("service_hours", {})),
            car_moving=_car_moving(raw["car_moving"]) if "car_moving" in raw else None,
            wechat_texts=tuple(raw.get("wechat", {}).items()),
            _default_limits=limits,
        )
    except KeyError as e:
        raise CityConfigError(f"{path}: missing key {e}") from e
    except CalendarError as e:
        raise CityConfigError(f"{path}: {e}") from e


_LIMIT_KEYS = {f.name for f in dataclasses.fields(ServiceLimits)}
_SERVICE_KEYS = {"code", "name", "category", "agency", "local", "co_agencies", "keywords", "description", *_LIMIT_KEYS}


def _service(x: dict[str, Any], categories: dict[str, ServiceLimits], defaults: ServiceLimits) -> Service:
    where = f"service {x.get('code', '?')}"
    unknown = set(x) - _SERVICE_KEYS
    if unknown:
        raise CityConfigError(f"{where}: unknown keys {sorted(unknown)}")
    if not isinstance(x.get("local", False), bool):
        raise CityConfigError(f"{where}: local must be true or false")
    return Service(
        code=x["code"],
        name=x["name"],
        category=x["category"],
        agency=x["agency"],
        local=x.get("local", False),
        co_agencies=tuple(x.get("co_agencies", ())),
        keywords=tuple(x.get("keywords", ())),
        description=x.get("description", ""),
        limits=_limits(x, categories.get(x["category"], defaults), where),
    )


_GAZETTEER_KEYS = {f.name for f in dataclasses.fields(Gazetteer)}


def _car_moving(table: dict[str, Any]) -> CarMovingRules:
    numbers = {f.name for f in dataclasses.fields(CarMovingRules)} - {"police_service", "texts"}
    unknown = set(table) - numbers - set(_CAR_MOVING_TEXTS) - {"police_service"}
    if unknown:
        raise CityConfigError(f"[car_moving]: unknown keys {sorted(unknown)}")
    return CarMovingRules(
        police_service=table["police_service"],
        texts={name: table.get(name) for name in _CAR_MOVING_TEXTS},
        **{name: table[name] for name in numbers if name in table},
    )


def _gazetteer(table: dict[str, Any]) -> Gazetteer:
    """`[gazetteer]`; optional: without it, a short form that is an everyday word never counts alone."""
    unknown = set(table) - _GAZETTEER_KEYS
    if unknown:
        raise CityConfigError(f"[gazetteer]: unknown keys {sorted(unknown)}")
    values: dict[str, Any] = {}
    for key, words in table.items():
        if key == "name_chars":
            continue
        # a bare string would pass as its characters: "瑞安" is no ["瑞", "安"]
        if not isinstance(words, list) or not all(isinstance(w, str) and w for w in words):
            raise CityConfigError(f"[gazetteer]: {key} must be a list of non-empty strings")
        values[key] = tuple(words)
    if "name_chars" in table:
        if isinstance(table["name_chars"], bool) or not isinstance(table["name_chars"], int) or table["name_chars"] < 1:
            raise CityConfigError("[gazetteer]: name_chars must be a positive whole number")
        values["name_chars"] = table["name_chars"]
    return Gazetteer(**values)


def _limits(table: dict[str, Any], defaults: ServiceLimits, where: str) -> ServiceLimits:
    values = {k: v for k, v in table.items() if k in _LIMIT_KEYS}
    if where == "[deadlines]" and set(table) - _LIMIT_KEYS:
        raise CityConfigError(f"[deadlines]: unknown keys {sorted(set(table) - _LIMIT_KEYS)}")
    for key, value in values.items():
        if isinstance(value, bool) or not isinstance(value, (int, float)):
            raise CityConfigError(f"{where}: {key} must be a number")
    return dataclasses.replace(defaults, **values)


def _calendar(cal: dict[str, Any], hours: dict[str, Any]) -> WorkingCalendar:
    """`[calendar]` and `[service_hours]`; the defaults are a Monday-to-Friday week with no holidays listed."""
    defaults = WorkingCalendar()
    days = cal.get("working_days", WEEKDAYS[:5])
    if not days or set(days) - set(WEEKDAYS):
        raise CityConfigError(f"[calendar]: working_days must be some of {', '.join(WEEKDAYS)}")
    zone = cal.get("time_zone", defaults.time_zone)
    try:
        ZoneInfo(zone)
    except (ValueError, ZoneInfoNotFoundError) as e:
        raise CityConfigError(f"[calendar]: unknown time_zone {zone!r}") from e
    try:
        weekdays = frozenset(WEEKDAYS.index(d) for d in days)
        periods = tuple((time.fromisoformat(start), time.fromisoformat(end)) for start, end in hours.get("periods", ()))
        holidays = frozenset(_day(d) for d in cal.get("holidays", ()))
        make_up = frozenset(_day(d) for d in cal.get("make_up_working_days", ()))
    except ValueError as e:
        raise CityConfigError(f"[calendar]/[service_hours]: {e}") from e
    listed = frozenset(int(y) for y in cal.get("listed_years", ()))
    for day in sorted(holidays | make_up):
        if day.year not in listed:
            raise CityConfigError(f"[calendar]: {day} is in a year missing from listed_years")
    return WorkingCalendar(
        time_zone=zone,
        working_weekdays=weekdays,
        service_hours=periods or defaults.service_hours,
        holidays=holidays,
        make_up_working_days=make_up,
        listed_years=listed,
    )


def _day(value: Any) -> date:
    # TOML has dates of its own (2026-10-01); a quoted "2026-10-01" is accepted too.
    return value if isinstance(value, date) else date.fromisoformat(str(value))
