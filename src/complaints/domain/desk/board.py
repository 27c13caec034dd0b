"""The public board (公开栏): every ticket from its dispatch (or its arrival in triage) on, as anyone may see it.

Nothing personal is on it: no contact, receipt, location or ticket id, and the question and answers with their
personal numbers masked (complaints.domain.privacy). A citizen who asked at submission not to be shown
(`public: false`), and a ticket the triage desk hid (moderation), are on it as their number, category, district and
status only: their entries hold no text, no photo keys and no search terms at all, so nothing can find or show them.

Two halves over one store (ports.BoardStore; BoardTable in template.yaml):
- `BoardProjection.apply(image)` writes a ticket's entry from its image in the tickets table's stream. It is
  idempotent and keeps the newest: an entry's `version` is the length of the ticket's history (every move and
  event the board shows appends to it), and an older image than the stored one changes nothing. Search postings
  (`term#<token>` → `<created_at>#<ticket_no>`) are written before the entry, so a retry after a crash finds the
  same difference to make again.
- `Board` reads it: a page of entries newest first, from the index of the most selective filter (the others
  checked by the store's filter), or the postings of one word of `q`; and one ticket by its number. Neither scans:
  every read is a query of one index partition or a get by key, within a read budget per request.
"""

from __future__ import annotations

import base64
import binascii
import hashlib
import json
import re
from collections.abc import Iterable
from dataclasses import dataclass
from decimal import Decimal
from functools import lru_cache
from typing import Any

from complaints.city import City
from complaints.domain.errors import DeskError, InvalidComplaint, TicketNotFound
from complaints.domain.lifecycle import ON_BOARD
from complaints.domain.ports import BoardStore, Hit, PhotoStore
from complaints.domain.privacy import mask_personal_numbers
from complaints.domain.tickets import Status, Ticket, photo_keys

# Links to photos on the board: signed on each read, for as long as a page stays open.
BOARD_LINK_SECONDS = 900
DEFAULT_LIMIT, MAX_LIMIT = 20, 50
MAX_QUERY_CHARS = 50
# Distinct words indexed per ticket (the question's first, then the answers'): each is one posting, one write.
# A complaint of a few hundred characters has 30 to 60 distinct words of two characters or more.
MAX_TERMS = 64
# Index items or postings read per round trip when a filter or a search thins what is read, and at most per request:
# a rare combination answers with fewer items (even none) and a cursor to read on, instead of reading on and on.
READ_CHUNK = 50
READ_BUDGET = 500
# The board's filters, most selective first (the city has ~36 agencies, ~23 districts, 7 categories, 7 states on
# the board): the first one given picks the index, the rest are checked by the store's filter.
FILTERS = ("agency", "district", "category", "status")
# The index of each filter: its partition attribute in the entry. `feed` holds every entry in one partition.
INDEX = {"agency": "by_agency", "district": "by_district", "category": "by_category", "status": "by_status"}
FEED = "feed"
_ORDER = re.compile(r"^\d{4}-\d{2}-\d{2}T\d{2}:\d{2}:\d{2}(\.\d{1,6})?Z#\d{10}$")


class BadCursor(DeskError):
    """A `cursor` this board did not give out for these filters (400)."""

    code = "bad_cursor"


def order_of(created_at: str, ticket_no: int) -> str:
    """The board's sort key: newest first by submission time, the ticket number breaking ties."""
    return f"{created_at}#{ticket_no:010d}"


@lru_cache(maxsize=4)
def _analyzer(words: tuple[str, ...]):
    # The classifier's jieba setup (shipped dictionary, user words, stop words) with the city's place names, as
    # training uses it: loaded once per process, it takes about a second.
    from complaints.classifier.features import Analyzer

    return Analyzer(extra_words=words)


def terms_of(city: City, texts: Iterable[str], limit: int = MAX_TERMS) -> list[str]:
    """The search words of `texts`: jieba words without stop words and single characters, distinct, in order of
    first appearance, at most `limit`. Digits are folded to 0 (normalize), so no number is ever searchable."""
    analyzer = _analyzer(tuple(city.tokenizer_words()))
    seen: dict[str, None] = {}
    for text in texts:
        for word in analyzer.words(text):
            if len(word) > 1 and word not in seen:
                seen[word] = None
                if len(seen) == limit:
                    return list(seen)
    return list(seen)


@dataclass
class BoardProjection:
    """Writes the board from tickets: `apply` one ticket image (as stored in the tickets table) at a time."""

    city: City
    store: BoardStore

    def apply(self, image: dict[str, Any]) -> str:
        """Bring the ticket's board entry up to this image. Returns what it did: `written`, `stale` (the board
        holds a newer image already), `not_on_board` (not dispatched yet) or `ignored` (not a ticket)."""
        item = _plain(image)
        if not str(item.pop("pk", "ticket#")).startswith("ticket#"):
            return "ignored"
        ticket = Ticket.model_validate(item)
        if ticket.status not in ON_BOARD:
            return "not_on_board"
        entry = self.entry_of(ticket)
        # As last written: an eventually consistent read a moment after the previous record's write could return the
        # entry before it, and the postings' difference would be made against the wrong words.
        stored = self.store.entry(ticket.ticket_no, consistent=True)
        if stored is not None and stored["version"] > entry["version"]:
            return "stale"
        self._repost(entry, stored)
        if not self.store.save(entry):
            # A newer image was saved meanwhile (only concurrent callers can do this; the stream is in order):
            # its postings are the ones to keep.
            self._repost(self.store.entry(ticket.ticket_no, consistent=True) or entry, entry)
            return "stale"
        return "written"

    def _repost(self, entry: dict[str, Any], stored: dict[str, Any] | None) -> None:
        old, new = set((stored or {}).get("terms", ())), set(entry.get("terms", ()))
        self.store.unpost(sorted(old - new), entry["order"])
        self.store.post(sorted(new - old), entry["order"], entry["ticket_no"])

    def entry_of(self, ticket: Ticket) -> dict[str, Any]:
        """The ticket's board entry: what the board shows, its indexes' keys and its search terms."""
        shown = ticket.public and not ticket.hidden
        entry: dict[str, Any] = {
            "ticket_no": ticket.ticket_no,
            "version": len(ticket.history),
            "order": order_of(ticket.created_at, ticket.ticket_no),
            "created_at": ticket.created_at,
            "updated_at": ticket.history[-1].at if ticket.history else ticket.created_at,
            "status": ticket.status.value,
            "district": ticket.district,
            "category": ticket.category,
            "public": shown,
            FEED: "all",
            "by_status": ticket.status.value,
            "by_district": ticket.district,
            "by_category": ticket.category,
        }
        if not shown:
            # Not in the agency index either: the short shape does not name the agency, and no filter may tell it.
            entry["withheld"] = "citizen" if not ticket.public else "moderation"
            return _without_none(entry)
        question = mask_personal_numbers(ticket.text)
        answers = [
            {"text": mask_personal_numbers(a.text), "at": a.at, "agency": {"id": a.agency, "name": a.agency_name}}
            for a in ticket.answers
        ]
        holder = self.city.agency(ticket.agency) if ticket.agency in self.city.agency_ids() else None
        rating = ticket.current_rating()
        entry |= {
            "question": question,
            "agency": {"id": holder.id, "name": holder.name} if holder else None,
            "by_agency": holder.id if holder else None,
            "answers": answers,
            "rating": rating.score if rating else None,
            "dispatched_at": _first_at(ticket, Status.DISPATCHED),
            "answered_at": ticket.answers[-1].at if ticket.answers else None,
            "closed_at": _last_at(ticket, Status.CLOSED) if ticket.status is Status.CLOSED else None,
            "terms": terms_of(self.city, [question, *(a["text"] for a in answers)]),
        }
        if ticket.photo is not None and ticket.photo.status == "ready":
            keys = photo_keys(ticket.id)
            entry["photo"] = {"thumbnail": keys["thumbnail"], "display": keys["display"]}
        return _without_none(entry)


@dataclass
class Board:
    city: City
    store: BoardStore
    photos: PhotoStore

    def page(
        self,
        *,
        district: str | None = None,
        category: str | None = None,
        agency: str | None = None,
        status: str | None = None,
        q: str | None = None,
        cursor: str | None = None,
        limit: int = DEFAULT_LIMIT,
    ) -> dict[str, Any]:
        """`{"items", "next_cursor"}`: entries newest first, filtered, searched; `next_cursor` continues."""
        filters = self._filters(district=district, category=category, agency=agency, status=status)
        if not 1 <= limit <= MAX_LIMIT:
            raise InvalidComplaint(f"limit must be 1 to {MAX_LIMIT}")
        words = None
        if q is not None:
            if not 1 <= len(q) <= MAX_QUERY_CHARS:
                raise InvalidComplaint(f"q must be 1 to {MAX_QUERY_CHARS} characters")
            words = terms_of(self.city, [q])
        scope = _scope(filters, words)
        after = _read_cursor(cursor, scope)
        if words is not None and not words:
            # Nothing on the board can match: only words of two characters or more are indexed.
            return {"items": [], "next_cursor": None}
        if words:
            entries, last = self._search(words, filters, after, limit)
        else:
            entries, last = self._list(filters, after, limit)
        return {"items": [self._item(e) for e in entries], "next_cursor": _write_cursor(last, scope)}

    def ticket(self, ticket_no: str | int) -> dict[str, Any]:
        """One ticket of the board with its answers and photo links; not found if it is not on the board."""
        number = str(ticket_no)
        entry = self.store.entry(int(number)) if number.isascii() and number.isdigit() and len(number) < 11 else None
        if entry is None:
            raise TicketNotFound("no ticket with this number on the board")
        if not entry["public"]:
            return _withheld(entry)
        photo = entry.get("photo")
        return _shown(entry) | {
            "photo": {
                "thumbnail_url": self.photos.link(photo["thumbnail"], BOARD_LINK_SECONDS),
                "display_url": self.photos.link(photo["display"], BOARD_LINK_SECONDS),
            }
            if photo
            else None,
            "answers": entry.get("answers", []),
            "dispatched_at": entry.get("dispatched_at"),
            "answered_at": entry.get("answered_at"),
            "closed_at": entry.get("closed_at"),
        }

    # ---------------------------------------------------------------- reading
    def _filters(self, **given: str | None) -> dict[str, str]:
        allowed = {
            "district": [d.name for d in self.city.districts],
            "category": [c.name for c in self.city.categories],
            "agency": sorted(self.city.agency_ids()),
            "status": sorted(s.value for s in ON_BOARD),
        }
        filters = {}
        for name in FILTERS:
            value = given.get(name)
            if value is None:
                continue
            if value not in allowed[name]:
                raise InvalidComplaint(f"{name} must be one of the city's: {', '.join(allowed[name])}")
            filters[name] = value
        return filters

    def _list(self, filters: dict[str, str], after: str | None, limit: int) -> tuple[list[dict], str | None]:
        """The entries of the most selective filter's index, the other filters checked by the store."""
        if filters:
            first = next(iter(filters))
            index, value = INDEX[first], filters[first]
        else:
            index, value = FEED, "all"
        rest = {INDEX[k]: v for k, v in filters.items() if INDEX[k] != index}
        hits: list[Hit] = []
        position, read = after, 0
        while len(hits) <= limit and read < READ_BUDGET:
            # One more than the page: then the last page says it is the last (no cursor to an empty page).
            want = READ_CHUNK if rest else limit + 1 - len(hits)
            found, position = self.store.index_page(index, value, rest, position, want)
            read += want
            hits += found
            if position is None:
                break
        return self._entries(hits, filters, limit, position)

    def _search(
        self, words: list[str], filters: dict[str, str], after: str | None, limit: int
    ) -> tuple[list[dict], str | None]:
        """Walk the postings of the query's longest word (the longer a Chinese word, the fewer tickets have it),
        newest first; keep the entries that have every word and pass the filters."""
        walk = max(words, key=len)
        wanted = set(words)
        checks = {INDEX[k]: v for k, v in filters.items()}
        matches: list[dict] = []
        position, read = after, 0
        while read < READ_BUDGET:
            postings, position = self.store.postings(walk, position, READ_CHUNK)
            read += READ_CHUNK
            entries = self._by_number(h.ticket_no for h in postings)
            for i, hit in enumerate(postings):
                entry = entries.get(hit.ticket_no)
                if entry and wanted <= set(entry.get("terms", ())) and _passes(entry, checks):
                    matches.append(entry)
                    if len(matches) == limit:
                        more = i + 1 < len(postings) or position is not None
                        return matches, hit.order if more else None
            if position is None:
                break
        return matches, position

    def _entries(
        self, hits: list[Hit], filters: dict[str, str], limit: int, position: str | None
    ) -> tuple[list[dict], str | None]:
        last = position
        if len(hits) > limit:
            hits, last = hits[:limit], hits[limit - 1].order
        entries = self._by_number(h.ticket_no for h in hits)
        checks = {INDEX[k]: v for k, v in filters.items()}
        # Checked again on the entries: an index is updated a moment after its table.
        shown = [entries[h.ticket_no] for h in hits if h.ticket_no in entries]
        return [e for e in shown if _passes(e, checks)], last

    def _by_number(self, numbers: Iterable[int]) -> dict[int, dict]:
        wanted = list(dict.fromkeys(numbers))
        return {e["ticket_no"]: e for e in self.store.entries(wanted)} if wanted else {}

    def _item(self, entry: dict[str, Any]) -> dict[str, Any]:
        if not entry["public"]:
            return _withheld(entry)
        photo = entry.get("photo")
        return _shown(entry) | {
            "answers": len(entry.get("answers", [])),
            "thumbnail_url": self.photos.link(photo["thumbnail"], BOARD_LINK_SECONDS) if photo else None,
        }


def _shown(entry: dict[str, Any]) -> dict[str, Any]:
    """What a shown entry has in a page and on its own page alike."""
    return {
        "ticket_no": entry["ticket_no"],
        "public": True,
        "question": entry["question"],
        "district": entry.get("district"),
        "category": entry.get("category"),
        "agency": entry.get("agency"),
        "status": entry["status"],
        "rating": entry.get("rating"),
        "created_at": entry["created_at"],
        "updated_at": entry["updated_at"],
    }


def _withheld(entry: dict[str, Any]) -> dict[str, Any]:
    return {
        "ticket_no": entry["ticket_no"],
        "public": False,
        "withheld": entry["withheld"],
        "district": entry.get("district"),
        "category": entry.get("category"),
        "status": entry["status"],
    }


def _passes(entry: dict[str, Any], checks: dict[str, str]) -> bool:
    return all(entry.get(attribute) == value for attribute, value in checks.items())


def _first_at(ticket: Ticket, status: Status) -> str | None:
    return next((h.at for h in ticket.history if h.status is status), None)


def _last_at(ticket: Ticket, status: Status) -> str | None:
    return next((h.at for h in reversed(ticket.history) if h.status is status), None)


def _without_none(entry: dict[str, Any]) -> dict[str, Any]:
    return {k: v for k, v in entry.items() if v is not None}


def _plain(value: Any) -> Any:
    """A stream image as plain JSON values: DynamoDB's numbers arrive as Decimal."""
    if isinstance(value, dict):
        return {k: _plain(v) for k, v in value.items()}
    if isinstance(value, list | tuple | set):
        return [_plain(v) for v in value]
    if isinstance(value, Decimal):
        return int(value) if value == value.to_integral_value() else float(value)
    return value


# ---------------------------------------------------------------- cursors
def _scope(filters: dict[str, str], words: list[str] | None) -> str:
    """What a cursor is bound to: the filters and the query's words. A cursor of another listing is refused."""
    canonical = json.dumps({"f": filters, "q": sorted(words) if words is not None else None}, ensure_ascii=False)
    return hashlib.sha256(canonical.encode("utf-8")).hexdigest()[:16]


def _write_cursor(order: str | None, scope: str) -> str | None:
    if order is None:
        return None
    raw = json.dumps({"a": order, "s": scope}, separators=(",", ":")).encode()
    return base64.urlsafe_b64encode(raw).decode().rstrip("=")


def _read_cursor(cursor: str | None, scope: str) -> str | None:
    """The sort key to read on from. Anything but a cursor of this listing is a BadCursor; a cursor only says where
    to go on reading the public board from, so a forged one can reach nothing the board does not show anyway."""
    if cursor is None:
        return None
    try:
        data = json.loads(base64.urlsafe_b64decode(cursor + "=" * (-len(cursor) % 4)))
    except (binascii.Error, ValueError, UnicodeDecodeError):
        raise BadCursor("cursor is not one this board gave out") from None
    if not isinstance(data, dict) or set(data) != {"a", "s"} or not all(isinstance(v, str) for v in data.values()):
        raise BadCursor("cursor is not one this board gave out")
    if data["s"] != scope:
        raise BadCursor("cursor is not one this board gave out for these filters and this search")
    if not _ORDER.match(data["a"]):
        raise BadCursor("cursor is not one this board gave out")
    return data["a"]
