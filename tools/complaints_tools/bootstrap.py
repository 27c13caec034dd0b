"""A deterministic generator of a bootstrap training corpus of citizen complaints for Rui'an (瑞安).

The shipped default classifier has to be trained on something before a city has labelled messages of its own.
This module writes that something: realistic messages such as citizens post on the city board 瑞网议事厅 or on
Weibo, composed from hand-written template families. Every text is written for this project; no data set
is copied.

How a text is built
-------------------
* Each category has ≥ 25 *problem kinds* (``KINDS``). A kind is a small family of phrasings: problems
  (``p``), harms (``h``), wishes (``w``) and questions (``q``), plus the kind of spot it happens at (a road,
  a 小区, a village, a factory, a hospital …). The kinds are data, in ``data/bootstrap_kinds.txt``; the
  invented spots and the phrases shared by all kinds are in ``data/bootstrap_pools.txt``.
* A template may hold choices ``[a|b|]`` (an empty option makes a part optional) and slots ``{L}`` (the
  location: a place from ``places`` plus an invented spot), ``{R}`` (a road), ``{X}`` (a 小区) and ``{n}``
  (a house number).
* A frame (a polite letter, a short angry Weibo post, a question, a plain report, a one-liner, a long
  narrative) puts the parts together with time clauses, generic harms/wishes shared by all categories and
  openings/closings. About 15 % of the texts name no place from ``places``.
* Confusable neighbours are deliberate and labelled one way, as a real board does: construction-site noise
  and dust → 环境保护, site safety → 城乡建设, migrant workers' unpaid wages on a site → 劳动和社会保障;
  restaurant kitchens/food poisoning → 卫生计生, restaurant prices and expired food in shops → 商贸旅游;
  paying into 医保 → 劳动和社会保障, reimbursement at a hospital → 卫生计生; rubbish collection → 城乡建设,
  burning rubbish → 环境保护; school canteens → 教育文体; road potholes → 交通运输, roads dug up for pipes →
  城乡建设; prepaid cards of training centres → 商贸旅游, unlicensed training → 教育文体.

Determinism: one ``random.Random(seed)``, tuples only, no set or dict iteration that depends on hashing.
The same arguments give the same rows on any machine with Python ≥ 3.11.
"""

from __future__ import annotations

import csv
import json
import random
import re
from collections.abc import Iterable, Iterator, Sequence
from dataclasses import dataclass
from importlib import resources
from pathlib import Path

CATEGORIES = ("城乡建设", "环境保护", "交通运输", "教育文体", "劳动和社会保障", "商贸旅游", "卫生计生")

NO_PLACE_RATE = 0.15
MIN_LEN, MAX_LEN = 15, 250


@dataclass(frozen=True)
class Place:
    district: str  # official name, e.g. "上望街道"
    short: str  # e.g. "上望"
    communities: tuple[str, ...] = ()  # e.g. ("薛里村", "董田村")


@dataclass(frozen=True)
class Kind:
    category: str
    name: str
    spot: str
    problems: tuple[str, ...]
    harms: tuple[str, ...]
    wants: tuple[str, ...]
    asks: tuple[str, ...]


# --------------------------------------------------------------------------------------------------------
# The phrase data lives in data/bootstrap_kinds.txt (the problem kinds) and data/bootstrap_pools.txt (the
# invented spots and the phrases shared by all kinds); the formats are described at the top of each file.
# --------------------------------------------------------------------------------------------------------
_DATA = resources.files("complaints_tools") / "data"
KINDS_FILE = "bootstrap_kinds.txt"
POOLS_FILE = "bootstrap_pools.txt"


class DataError(ValueError):
    """A malformed line in a data file; the message starts with "file:line: "."""

    def __init__(self, source: str, lineno: int, message: str) -> None:
        super().__init__(f"{source}:{lineno}: {message}")


def _lines(text: str) -> Iterator[tuple[int, str]]:
    """(line number, stripped line) for each line that is neither blank nor a "#" comment."""
    for lineno, raw in enumerate(text.splitlines(), 1):
        line = raw.strip()
        if line and not line.startswith("#"):
            yield lineno, line


def _make_kind(source: str, category: str, head: tuple[int, str], lines: list[tuple[int, str]]) -> Kind:
    """One kind from its "@ name spot" line and its p/h/w/q lines."""
    head_no, head_line = head
    fields = head_line.split()
    if len(fields) != 3:
        raise DataError(source, head_no, f'a kind starts "@ name spot", not {head_line!r}')
    _, name, spot = fields
    if spot not in _SPOTS:
        raise DataError(source, head_no, f"kind {name}: unknown spot {spot} (known: {', '.join(_SPOTS)})")
    parts: dict[str, list[str]] = {"p": [], "h": [], "w": [], "q": []}
    for lineno, line in lines:
        tag, _, body = line.partition(" ")
        if tag not in parts or not body:
            raise DataError(source, lineno, f'kind {name}: a line is "p|h|w|q text", not {line!r}')
        if spot == "none" and "{L}" in body:
            raise DataError(source, lineno, f"kind {name} has spot none but uses {{L}}: {body}")
        parts[tag].append(body + "？" if tag == "q" and not body.endswith("？") else body)
    if not parts["p"] or not parts["w"]:
        raise DataError(source, head_no, f"kind {name} needs at least one p and one w line")
    p, h, w, q = (tuple(parts[t]) for t in ("p", "h", "w", "q"))
    return Kind(category, name, spot, p, h, w, q)


def parse_kinds(text: str, source: str = KINDS_FILE) -> tuple[Kind, ...]:
    """Kinds from the text: "== 类别 ==" starts a category, "@ name spot" a kind, then its p/h/w/q lines."""
    blocks: list[tuple[str, tuple[int, str], list[tuple[int, str]]]] = []
    category, in_kind = "", False
    for lineno, line in _lines(text):
        if line.startswith("=="):
            category, in_kind = line.strip("= "), False
            if category not in CATEGORIES:
                raise DataError(source, lineno, f"unknown category {category} (known: {', '.join(CATEGORIES)})")
        elif line.startswith("@ ") and category:
            blocks.append((category, (lineno, line), []))
            in_kind = True
        elif in_kind:
            blocks[-1][2].append((lineno, line))
        else:
            raise DataError(source, lineno, f'line outside a kind ("== 类别 ==", then "@ name spot"): {line!r}')
    return tuple(_make_kind(source, c, head, lines) for c, head, lines in blocks)


# The pools the generator draws from: "name" or "name key" → entries.
_PLAIN_POOLS = (
    "road_names", "road_suffixes", "xq_names", "factory_prefixes", "factory_types", "company_types",
    "times", "harms", "wants", "background_home", "background_person", "short_wants", "tried",
    "polite_open", "long_close", "long_open", "polite_close", "weibo_open", "weibo_end", "ask_prefix",
    "ask_generic", "intro_polite", "intro_question", "intro_weibo",
    "village_no_place", "village_suffix", "question_thanks", "narrative_and",
)  # fmt: skip
_PLACE_SPOTS = (
    "road", "xq", "area", "site", "factory", "river", "station", "school", "kinder", "hospital", "company",
    "market", "scenic",
)  # fmt: skip
_POOL_NAMES = (
    *_PLAIN_POOLS,
    *(f"{k} {s}" for k in ("spot", "spot_no_place") for s in _PLACE_SPOTS),
    *(f"{k} {c}" for k in ("cat_harms", "cat_wants") for c in CATEGORIES),
)


def _pool_entry(source: str, lineno: int, line: str) -> str:
    """The entry of a "- text" line; text starting with '"' is a JSON string (to keep spaces, or be empty)."""
    if not line.startswith("- "):
        raise DataError(source, lineno, f'an entry is "- text", not {line!r}')
    entry = line[2:]
    if not entry.startswith('"'):
        return entry
    try:
        value = json.loads(entry)
    except json.JSONDecodeError as e:
        raise DataError(source, lineno, f"not a JSON string: {entry} ({e.msg})") from None
    if not isinstance(value, str):
        raise DataError(source, lineno, f"not a JSON string: {entry}")
    return value


def parse_pools(text: str, source: str = POOLS_FILE) -> dict[str, tuple[str, ...]]:
    """Pools from the text: "== name ==" starts a pool, "- entry" (or - "JSON string") adds an entry."""
    pools: dict[str, list[str]] = {}
    heads: dict[str, int] = {}
    name = ""
    for lineno, line in _lines(text):
        if line.startswith("==") and line.endswith("=="):
            name = " ".join(line.strip("= ").split())
            if name not in _POOL_NAMES:
                raise DataError(source, lineno, f"unknown pool {name!r}")
            if name in pools:
                raise DataError(source, lineno, f"pool {name!r} already started on line {heads[name]}")
            pools[name], heads[name] = [], lineno
        elif not name:
            raise DataError(source, lineno, f'line before the first "== pool ==": {line!r}')
        else:
            pools[name].append(_pool_entry(source, lineno, line))
    for name, lineno in heads.items():
        if not pools[name]:
            raise DataError(source, lineno, f"pool {name!r} has no entries")
    missing = [n for n in _POOL_NAMES if n not in pools]
    if missing:
        raise ValueError(f"{source}: missing pools: {', '.join(missing)}")
    return {n: tuple(entries) for n, entries in pools.items()}


_POOLS = parse_pools((_DATA / POOLS_FILE).read_text(encoding="utf-8"))

# Invented spots: roads, 小区, factories … (no real district names among them).
_ROAD_NAMES = _POOLS["road_names"]
_ROAD_SUFFIXES = _POOLS["road_suffixes"]
_XQ_NAMES = _POOLS["xq_names"]
_FACTORY_PREFIXES = _POOLS["factory_prefixes"]
_FACTORY_TYPES = _POOLS["factory_types"]
_COMPANY_TYPES = _POOLS["company_types"]
# spot: (entries used with a place, entries used without one). A spot entry starting with "^" is never
# prefixed with the place; {S}/{D} are the place's short/official name, so such entries exist only when there
# is a place.
_SPOTS: dict[str, tuple[tuple[str, ...], tuple[str, ...]]] = {
    **{s: (_POOLS[f"spot {s}"], _POOLS[f"spot_no_place {s}"]) for s in _PLACE_SPOTS},
    "village": ((), ()),  # built from the communities
    "none": ((), ()),
}

KINDS: tuple[Kind, ...] = parse_kinds((_DATA / KINDS_FILE).read_text(encoding="utf-8"))
KINDS_BY_CATEGORY: dict[str, tuple[Kind, ...]] = {c: tuple(k for k in KINDS if k.category == c) for c in CATEGORIES}

# --------------------------------------------------------------------------------------------------------
# Shared pools
# --------------------------------------------------------------------------------------------------------
_TIMES = _POOLS["times"]
_HARMS = _POOLS["harms"]
_WANTS = _POOLS["wants"]
_BACKGROUND_HOME = _POOLS["background_home"]
_BACKGROUND_PERSON = _POOLS["background_person"]
_HOME_SPOTS = ("xq", "road", "area", "village", "river", "site", "factory")
_SHORT_WANTS = _POOLS["short_wants"]
_TRIED = _POOLS["tried"]
_CAT_HARMS = {c: _POOLS[f"cat_harms {c}"] for c in CATEGORIES}
_CAT_WANTS = {c: _POOLS[f"cat_wants {c}"] for c in CATEGORIES}
_POLITE_OPEN = _POOLS["polite_open"]
_LONG_CLOSE = _POOLS["long_close"]
_LONG_OPEN = _POOLS["long_open"]
_POLITE_CLOSE = _POOLS["polite_close"]
_WEIBO_OPEN = _POOLS["weibo_open"]
_WEIBO_END = _POOLS["weibo_end"]
_ASK_PREFIX = _POOLS["ask_prefix"]
_ASK_GENERIC = _POOLS["ask_generic"]
_INTRO_POLITE = _POOLS["intro_polite"]
_INTRO_QUESTION = _POOLS["intro_question"]
_INTRO_WEIBO = _POOLS["intro_weibo"]
_VILLAGE_NO_PLACE = _POOLS["village_no_place"]
_VILLAGE_SUFFIX = _POOLS["village_suffix"]
_QUESTION_THANKS = _POOLS["question_thanks"]
_NARRATIVE_AND = _POOLS["narrative_and"]

_BRACKET = re.compile(r"\[([^\[\]]*)\]")
_SLOT = re.compile(r"\{(\w+)\}")
_LONG_DIGITS = re.compile(r"\d{6,}")


class _Ctx:
    """The random source and the slot values of the text being built."""

    def __init__(self, rng: random.Random, place: Place | None) -> None:
        self.rng = rng
        self.place = place
        self.slots: dict[str, str] = {}
        self.problem_template = ""
        self.harm_template = ""

    def choice(self, seq: Sequence[str]) -> str:
        return seq[self.rng.randrange(len(seq))]

    def fill(self, template: str) -> str:
        s = template
        while True:
            m = _BRACKET.search(s)
            if m is None:
                break
            s = s[: m.start()] + self.choice(m.group(1).split("|")) + s[m.end() :]
        return _SLOT.sub(lambda m: self._slot(m.group(1)), s)

    def _slot(self, name: str) -> str:
        if name in self.slots:
            return self.slots[name]
        rng = self.rng
        if name == "R":
            self._road = self.choice(_ROAD_NAMES)
            return self._road + self.choice(_ROAD_SUFFIXES)
        if name == "R2":  # a second road, different from the last {R}
            others = tuple(r for r in _ROAD_NAMES if r != getattr(self, "_road", ""))
            return self.choice(others) + self.choice(_ROAD_SUFFIXES)
        if name == "X":
            x = self.choice(_XQ_NAMES)
            return x if x.endswith(("小区", "新村", "公寓")) or rng.random() < 0.4 else x + "小区"
        if name == "F":
            return self.choice(_FACTORY_PREFIXES) + self.choice(_FACTORY_TYPES)
        if name == "T":
            return self.choice(_FACTORY_TYPES).replace("鞋业", "鞋厂")
        if name == "K":
            return self.choice(_COMPANY_TYPES).replace("有限公司", "厂")
        if name == "n":
            return str(rng.randint(1, 298))
        if name == "b":
            return str(rng.randint(1, 32))
        if name in ("S", "D", "P"):
            p = self.place
            if p is None:
                raise KeyError(name)
            return {"S": p.short, "D": p.district, "P": _place_phrase(self, p)}[name]
        raise KeyError(name)


def _place_phrase(ctx: _Ctx, p: Place) -> str:
    forms = ["d", "s", "d", "s", "rs"]
    if p.communities:
        forms += ["dc", "sc", "c", "c", "sc"]
    form = ctx.choice(forms)
    c = ctx.choice(p.communities) if p.communities else ""
    return {"d": p.district, "s": p.short, "rs": "瑞安" + p.short, "dc": p.district + c, "sc": p.short + c, "c": c}[
        form
    ]


def _location(ctx: _Ctx, spot: str) -> str:
    p = ctx.place
    if spot == "none":
        return ""
    if spot == "village":
        if p is None:
            return ctx.choice(_VILLAGE_NO_PLACE)
        if not p.communities:
            return ctx.choice((p.short, p.district)) + ctx.choice(_VILLAGE_SUFFIX)
        c = ctx.choice(p.communities)
        return ctx.choice((c, c, p.short + c, p.district + c))
    with_place, without = _SPOTS[spot]
    if p is None:
        return ctx.fill(ctx.choice(without))
    entry = ctx.choice(with_place)
    if entry.startswith("^"):
        return ctx.fill(entry[1:])
    spot_text = ctx.fill(entry)
    if "{S}" in entry or "{D}" in entry:
        return spot_text
    joiner = "" if spot_text.startswith("的") else ctx.choice(("", "", "", "的"))
    return _place_phrase(ctx, p) + joiner + spot_text


def _mentions(text: str, p: Place) -> bool:
    return p.district in text or p.short in text or any(c in text for c in p.communities)


def _harm(ctx: _Ctx, kind: Kind, avoid: str = "") -> str:
    """A harm sentence; with avoid (the first harm's text), one from another template, or "" if none came up."""
    for _ in range(6):
        template = _harm_template(ctx, kind)
        if template != ctx.harm_template or not avoid:
            h = ctx.fill(template)
            if h[:4] != avoid[:4]:
                ctx.harm_template = template
                return h
    return ""


def _harm_template(ctx: _Ctx, kind: Kind) -> str:
    r = ctx.rng.random()
    if kind.harms and r < 0.55:
        return ctx.choice(kind.harms)
    if r < 0.8:
        return ctx.choice(_CAT_HARMS[kind.category])
    return ctx.choice(_HARMS)


def _want(ctx: _Ctx, kind: Kind) -> str:
    r = ctx.rng.random()
    if r < 0.55:
        return ctx.fill(ctx.choice(kind.wants))
    if r < 0.75:
        return ctx.fill(ctx.choice(_CAT_WANTS[kind.category]))
    return ctx.fill(ctx.choice(_WANTS))


def _background(ctx: _Ctx, kind: Kind) -> str:
    home = kind.category in ("城乡建设", "环境保护", "交通运输") and kind.spot in _HOME_SPOTS
    return ctx.fill(ctx.choice(_BACKGROUND_HOME if home else _BACKGROUND_PERSON))


def _intro(ctx: _Ctx, frame: str) -> str:
    pool = {"weibo": _INTRO_WEIBO, "question": _INTRO_QUESTION, "minimal": _INTRO_QUESTION}.get(frame, _INTRO_POLITE)
    return ctx.fill(ctx.choice(pool))


def _with_time(ctx: _Ctx, problem: str, timed: bool, p: float) -> str:
    if timed and ctx.rng.random() < p:
        return problem + "，" + ctx.fill(ctx.choice(_TIMES))
    return problem


def _frame_letter(ctx: _Ctx, kind: Kind, problem: str, timed: bool) -> tuple[list[str], list[str]]:
    rng = ctx.rng
    head = [ctx.fill(ctx.choice(_POLITE_OPEN))]
    body = [_with_time(ctx, problem, timed, 0.7) + "。"]
    if rng.random() < 0.3:
        body.append(_background(ctx, kind) + "。")
    body.append(_harm(ctx, kind) + "。")
    if rng.random() < 0.4:
        body.append(ctx.fill(ctx.choice(_TRIED)) + "。")
    body.append(_want(ctx, kind) + "。")
    body.append(ctx.fill(ctx.choice(_LONG_CLOSE if rng.random() < 0.2 else _POLITE_CLOSE)))
    return head, body


def _frame_weibo(ctx: _Ctx, kind: Kind, problem: str, timed: bool) -> tuple[list[str], list[str]]:
    rng = ctx.rng
    head = [ctx.fill(ctx.choice(_WEIBO_OPEN))]
    body = [_with_time(ctx, problem, timed, 0.5) + ctx.choice(("！", "！！", "。", "，"))]
    if rng.random() < 0.5:
        body.append(_harm(ctx, kind) + ctx.choice(("！", "。")))
    if rng.random() < 0.3:
        body.append(_want(ctx, kind) + "。")
    body.append(ctx.fill(ctx.choice(_WEIBO_END)))
    return head, body


def _frame_question(ctx: _Ctx, kind: Kind, problem: str, timed: bool) -> tuple[list[str], list[str]]:
    rng = ctx.rng
    head = [ctx.fill(ctx.choice(_ASK_PREFIX))]
    body = []
    if rng.random() < 0.55:
        body.append(problem + "，")
        if ctx.slots["L"]:  # refer back instead of repeating the location
            ctx.slots["L"] = ctx.choice(("这里", "这里", "这边"))
    ask = ctx.fill(ctx.choice(kind.asks or _ASK_GENERIC))
    if head[0].startswith("麻烦问") and ask.startswith("请问"):
        ask = ask[2:]
    body.append(ask)
    if rng.random() < 0.3:
        body.append(ctx.choice(_QUESTION_THANKS))
    return head, body


def _frame_plain(ctx: _Ctx, kind: Kind, problem: str, timed: bool) -> tuple[list[str], list[str]]:
    body = [_with_time(ctx, problem, timed, 0.6) + "。"]
    if ctx.rng.random() < 0.5:
        body.append(_harm(ctx, kind) + "。")
    body.append(_want(ctx, kind) + "。")
    return [], body


def _frame_minimal(ctx: _Ctx, kind: Kind, problem: str, timed: bool) -> tuple[list[str], list[str]]:
    w = ctx.choice(_SHORT_WANTS) if ctx.rng.random() < 0.6 else _want(ctx, kind)
    end = "？" if w == "有没有人管" else ctx.choice(("。", "！"))
    return [], [problem + "，" + w + end]


def _frame_narrative(ctx: _Ctx, kind: Kind, problem: str, timed: bool) -> tuple[list[str], list[str]]:
    rng = ctx.rng
    head = []
    if rng.random() < 0.6:
        head.append(ctx.fill(ctx.choice(_POLITE_OPEN)))
        if rng.random() < 0.5:
            head.append(ctx.choice(_LONG_OPEN))
    body = [problem + "。"]
    others = tuple(p for p in kind.problems if p != ctx.problem_template)
    if others and rng.random() < 0.5:
        if ctx.slots["L"]:
            ctx.slots["L"] = ctx.choice(("这里", "这边"))
        body.append(ctx.choice(_NARRATIVE_AND) + ctx.fill(ctx.choice(others)) + "。")
    body.append(_background(ctx, kind) + "。")
    t = ctx.fill(ctx.choice(_TIMES)) + "，" if timed else ""
    h1 = _harm(ctx, kind)
    h2 = _harm(ctx, kind, avoid=h1)
    body.append(t + h1 + "。" + (h2 + "。" if h2 else ""))
    if rng.random() < 0.7:
        body.append(ctx.fill(ctx.choice(_TRIED)) + "。")
    body.append(_want(ctx, kind) + "，" + ctx.fill(ctx.choice(_WANTS)) + "。")
    r = rng.random()
    if r < 0.4:
        body.append(ctx.fill(ctx.choice(_LONG_CLOSE)))
    elif r < 0.8:
        body.append(ctx.fill(ctx.choice(_POLITE_CLOSE)))
    return head, body


_FRAMES = {
    "letter": (_frame_letter, 22),
    "weibo": (_frame_weibo, 20),
    "question": (_frame_question, 15),
    "plain": (_frame_plain, 23),
    "minimal": (_frame_minimal, 8),
    "narrative": (_frame_narrative, 12),
}
_FRAME_NAMES = tuple(_FRAMES)  # insertion order: fixed
_FRAME_WEIGHTS = tuple(_FRAMES[n][1] for n in _FRAME_NAMES)


def _compose(ctx: _Ctx, kind: Kind) -> str:
    rng = ctx.rng
    ctx.slots = {"L": _location(ctx, kind.spot)}
    frame = rng.choices(_FRAME_NAMES, weights=_FRAME_WEIGHTS)[0]
    template = kind.problems[rng.randrange(len(kind.problems))]
    problem = ctx.fill(template)
    ctx.problem_template = template
    timed = not problem.startswith(("建议", "希望", "听说"))  # no "since when" after a suggestion
    # an explicit introduction now and then even when the location already names the place
    intro = ""
    if ctx.place is not None and frame in ("letter", "narrative", "plain", "question") and rng.random() < 0.3:
        intro = _intro(ctx, frame)
    head, body = _FRAMES[frame][0](ctx, kind, problem, timed)
    text = "".join(head) + intro + "".join(body)
    if ctx.place is not None and not _mentions(text, ctx.place):
        text = "".join(head) + _intro(ctx, frame) + "".join(body)
    return _tidy(text)


def _tidy(text: str) -> str:
    text = text.strip()
    text = re.sub(r"，([。！？])", r"\1", text)
    text = re.sub(r"([。！？])，", r"\1", text)
    text = text.replace("。。", "。").replace("，，", "，")
    return text


def generate(
    places: Sequence[Place], per_category: int = 200, seed: int = 20261128, *, by_kind: bool = False
) -> list[tuple[str, str]]:
    """(text, label) rows, per_category rows for each category, deterministic for the same arguments.

    The label is the category, or with `by_kind` the kind of problem (its name: the service catalogue's `name`).
    The kinds of a category take turns, so each gets per_category / kinds rows, give or take one."""
    if per_category < 0:
        raise ValueError("per_category must be >= 0")
    places = tuple(places)
    rng = random.Random(seed)
    seen: set[str] = set()  # membership only, never iterated
    rows: list[tuple[str, str]] = []
    for category in CATEGORIES:
        kinds = list(KINDS_BY_CATEGORY[category])
        made, attempts = 0, 0
        max_attempts = 50 * per_category + 1000
        queue: list[Kind] = []
        failures = [0] * len(kinds)  # consecutive rejects per kind; a kind that keeps failing is dropped
        while made < per_category:
            if attempts >= max_attempts or not kinds:
                raise RuntimeError(
                    f"{category}: only {made} distinct texts after {attempts} attempts; "
                    f"per_category={per_category} is too many for the templates"
                )
            attempts += 1
            if not queue:  # every kind in turn, in a fresh random order each round
                queue = kinds[:]
                rng.shuffle(queue)
            kind = queue.pop()
            if kind not in kinds:  # dropped earlier in this round
                continue
            place = places[rng.randrange(len(places))] if places and rng.random() >= NO_PLACE_RATE else None
            text = _compose(_Ctx(rng, place), kind)
            i = kinds.index(kind)
            if not (MIN_LEN <= len(text) <= MAX_LEN) or _LONG_DIGITS.search(text) or text in seen:
                failures[i] += 1
                if failures[i] >= 200:  # exhausted: stop drawing it
                    del kinds[i], failures[i]
                else:
                    queue.append(kind)  # retry the same kind so the kinds stay balanced
                continue
            failures[i] = 0
            seen.add(text)
            rows.append((text, kind.name if by_kind else category))
            made += 1
    rng.shuffle(rows)
    return rows


def write_csv(rows: Iterable[tuple[str, str]], path: str | Path) -> None:
    """UTF-8 CSV with the header text,label and "\\n" line endings."""
    with open(path, "w", encoding="utf-8", newline="") as f:
        w = csv.writer(f, lineterminator="\n")
        w.writerow(("text", "label"))
        for text, label in rows:
            w.writerow((text, label))


EXAMPLE_PLACES = (
    Place("上望街道", "上望", ("薛里村", "董田村")),
    Place("塘下镇", "塘下", ("韩田村", "场桥村")),
    Place("安阳街道", "安阳", ("西山社区", "万松社区")),
)


if __name__ == "__main__":
    sample = generate(EXAMPLE_PLACES, per_category=5)
    for cat in CATEGORIES:
        print(f"== {cat} ==")
        for text, label in sample:
            if label == cat:
                print("  " + text)
