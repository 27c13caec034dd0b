"""moto's DynamoDB Query and responses at what DynamoDB's cost: a page, not the table (installed by aws_server.py).

moto 5.2.5 answers a Query by sorting every item of the table (`Table.all_items`), picking the partition's out of
them, sorting those again and walking them from the first, and then serialises each AttributeValue of the answer by
probing all ten of its members under six kinds of alias: with 20,000 board entries a first page cost ~0.5 s, where
DynamoDB reads the partition from where the page starts, as far as the page goes. Two repairs, neither of which
decides anything moto's own code decides:

- Query. Each index (and the table itself, partition by partition) keeps its items in the order moto's Query sorts
  them into — the same key tuple of the same `cast_value`s — kept current by every write (PutItem, UpdateItem,
  DeleteItem, and so BatchWriteItem, TransactWriteItems and PartiQL, which write through them). A Query finds where
  its page starts in that order by bisection (the ExclusiveStartKey, and a key condition on the sort key: items
  before the first that meets it are never kept nor counted, so moto's loop would pass them by), and then hands
  moto's own `Table.query` a window of the items from there on in place of the whole table, widening it until
  moto's loop stopped inside it (a LastEvaluatedKey) or the window reached the partition's end. Everything else —
  which items are kept, their order, Limit before the filter, the 1 MB page, LastEvaluatedKey, projections,
  FilterExpression, ConsistentRead and every validation error — is moto's code running on a list that holds, in
  the same order, every item moto's loop would have looked at. A query this does not cover (QueryFilter, a Limit
  below 1, an index whose key values are of mixed types, a key value that is a set or a map) runs moto's own way.
- Serialisation. An AttributeValue given as a dict of type tags (as moto's DynamoDB and DynamoDB Streams results
  all are) is serialised by reading its tags, not by probing; each member is then serialised by moto's serializer.

`LOCAL_MOTO_QUERY_CHECK=1` in the moto process runs moto's own Query beside each repaired one and logs any
difference (and answers moto's). tests/unit/test_local_moto_query.py compares the two on random tables.
"""

from __future__ import annotations

import bisect
import json
import logging
import os
import threading
from operator import itemgetter
from typing import Any

log = logging.getLogger("complaints.local.moto_query")

ATTR = "_local_key_order"  # on a moto Table: its _Orders
KEY_TYPES = ("S", "N", "B")
RANGE_OPS = ("=", "<", "<=", ">", ">=", "BETWEEN", "BEGINS_WITH")
FIRST_WINDOW = 64

_state = threading.local()  # .off: moto's own code (the test's reference answers)
_installed: dict[str, Any] = {}


def repaired() -> bool:
    return not getattr(_state, "off", False)


class moto_as_shipped:  # noqa: N801 - used as `with moto_as_shipped():`
    """Within it (in this thread), moto's Query and serializer run their own way."""

    def __enter__(self) -> None:
        self._was = getattr(_state, "off", False)
        _state.off = True

    def __exit__(self, *exc: Any) -> None:
        _state.off = self._was


class Unsupported(Exception):
    """A query left to moto's own code."""


# ---------------------------------------------------------------- the order moto's Query sorts into
class _Order:
    """The items of one index (`None`: the table), by partition, each partition's sort keys ascending as moto sorts
    them, with the primary keys of the items beside them."""

    def __init__(self, hash_attrs: list[str], sort_attrs: list[str], needs: list[str], lazy: bool) -> None:
        self.hash_attrs, self.sort_attrs, self.needs = hash_attrs, sort_attrs, needs
        self.lazy = lazy  # the table's own order: a partition is sorted when first queried
        self.parts: dict[tuple, tuple[list[tuple], list[tuple]]] = {}
        self.of: dict[tuple, tuple[tuple, tuple]] = {}  # primary key -> (partition, sort key)
        self.types: list[str | None] = [None] * len(sort_attrs)
        self.broken = False

    def entry(self, item: Any) -> tuple[tuple, tuple] | None:
        attrs = item.attrs
        if any(a not in attrs for a in self.needs):
            return None  # not in this index (a sparse index), and not among moto's candidates either
        part = []
        for a in self.hash_attrs:
            v = attrs[a]
            if v.type not in KEY_TYPES or (v.type == "B" and not isinstance(v.value, str)):
                raise Unsupported(a)
            part.append((v.type, v.cast_value))
        key = []
        for i, a in enumerate(self.sort_attrs):
            v = attrs[a]
            if v.type not in KEY_TYPES or (v.type == "B" and not isinstance(v.value, str)):
                raise Unsupported(a)
            if self.types[i] is None:
                self.types[i] = v.type
            elif self.types[i] != v.type:
                raise Unsupported(a)  # mixed types: moto's order compares them its own way
            key.append(v.cast_value)
        return tuple(part), tuple(key)

    def add(self, pk: tuple, item: Any) -> None:
        found = self.entry(item)
        if found is None:
            return
        part, key = found
        if self.lazy and part not in self.parts:
            return  # sorted when first queried
        keys, pks = self.parts.setdefault(part, ([], []))
        i = bisect.bisect_left(keys, key)
        keys.insert(i, key)
        pks.insert(i, pk)
        self.of[pk] = (part, key)

    def remove(self, pk: tuple) -> None:
        old = self.of.pop(pk, None)
        if old is None:
            return
        keys, pks = self.parts[old[0]]
        i = bisect.bisect_left(keys, old[1])
        while pks[i] != pk:  # sort keys are unique (they end in the primary key); this never runs
            i += 1
        del keys[i], pks[i]

    def touched(self, pk: tuple, item: Any) -> None:
        try:
            self.remove(pk)
            if item is not None:
                self.add(pk, item)
        except Exception:  # noqa: BLE001 - anything this cannot place: moto's own way from now on
            self.broken = True

    def partition(self, table: Any, part: tuple, hash_key: Any) -> tuple[list[tuple], list[tuple]]:
        if self.lazy and part not in self.parts:
            self.parts[part] = ([], [])
            for pk, item in _partition_items(table, hash_key):
                self.add(pk, item)
        return self.parts.get(part, ([], []))


class _Orders:
    def __init__(self, table: Any) -> None:
        self.items = table.items  # the dict they index: a table given a new one (a restore) is indexed afresh
        self.by_index: dict[str | None, _Order] = {}


def _orders(table: Any) -> _Orders:
    orders = table.__dict__.get(ATTR)
    if orders is None or orders.items is not table.items:
        orders = _Orders(table)
        table.__dict__[ATTR] = orders
    return orders


def _primary_key(item: Any) -> tuple:
    return (item.hash_key, item.range_key)


def _all_items(table: Any):
    from moto.dynamodb.models.dynamo_type import Item

    for value in list(table.items.values()):
        if table.range_key_attr:
            for item in list(value.values()):
                yield _primary_key(item), item
        elif isinstance(value, Item):
            yield _primary_key(value), value


def _partition_items(table: Any, hash_key: Any):
    from moto.dynamodb.models.dynamo_type import Item

    value = table.items.get(hash_key)  # `get`: moto's defaultdict would make an empty partition
    if value is None:
        return
    if table.range_key_attr:
        for item in list(value.values()):
            yield _primary_key(item), item
    elif isinstance(value, Item):
        yield _primary_key(value), value


def _item_at(table: Any, pk: tuple) -> Any:
    from moto.dynamodb.models.dynamo_type import Item

    value = table.items.get(pk[0])
    if value is None:
        return None
    if table.range_key_attr:
        return value.get(pk[1]) if isinstance(value, dict) else None
    return value if isinstance(value, Item) else None


def _order_for(table: Any, index_name: str | None) -> tuple[_Order, list[str]]:
    """The index's order, and moto's sort attributes for it (`Table._generate_attr_to_sort_by`)."""
    orders = _orders(table)
    order = orders.by_index.get(index_name)
    if order is None:
        order = _new_order(table, index_name)
        orders.by_index[index_name] = order
        if not order.lazy:
            try:
                for pk, item in _all_items(table):
                    order.add(pk, item)
            except Exception:  # noqa: BLE001
                order.broken = True
    if order.broken:
        raise Unsupported(index_name)
    return order, order.hash_attrs + order.sort_attrs


def _new_order(table: Any, index_name: str | None) -> _Order:
    from moto.dynamodb.models.table import GlobalSecondaryIndex

    if index_name is None:
        attrs = table._generate_attr_to_sort_by([table.hash_key_attr], [table.range_key_attr])
        return _Order(attrs[:1], attrs[1:], list(attrs), lazy=True)
    index = {i.name: i for i in table.all_indexes()}.get(index_name)
    if index is None:
        raise Unsupported(index_name)  # moto says which indexes there are
    # As Table.query builds them.
    index_hash = [k["AttributeName"] for k in index.schema if k["KeyType"] == "HASH"]
    index_range = [k["AttributeName"] for k in index.schema if k["KeyType"] == "RANGE"]
    if not index_hash:
        raise Unsupported(index_name)
    hash_attrs = index_hash + [table.hash_key_attr]
    if index_range:
        range_attrs: list[str | None] = [*index_range, table.range_key_attr]
    elif isinstance(index, GlobalSecondaryIndex) and table.range_key_attr:
        range_attrs = [table.range_key_attr, table.range_key_attr]
    else:
        range_attrs = [table.hash_key_attr, table.range_key_attr]
    attrs = table._generate_attr_to_sort_by(hash_attrs, range_attrs)
    if attrs[: len(index_hash)] != index_hash:
        raise Unsupported(index_name)
    needs = sorted(set(attrs))  # moto keeps only items with every range attribute, and sorts by all of these
    return _Order(index_hash, attrs[len(index_hash) :], needs, lazy=False)


# ---------------------------------------------------------------- Query
class _View:
    """The table as moto's Query sees it, but holding only `items` (in moto's order)."""

    __slots__ = ("_table", "_items")

    def __init__(self, table: Any, items: list[Any]) -> None:
        self._table, self._items = table, items

    def all_items(self) -> list[Any]:
        return list(self._items)

    def __getattr__(self, name: str) -> Any:
        return getattr(self._table, name)


def _typed(value: Any) -> tuple[str, Any]:
    from moto.dynamodb.models.dynamo_type import DynamoType

    v = value if isinstance(value, DynamoType) else DynamoType(value)
    if v.type not in KEY_TYPES or (v.type == "B" and not isinstance(v.value, str)):
        raise Unsupported(v.type)
    return v.type, v.cast_value


def _span(
    table: Any,
    index_name: str | None,
    hash_key: Any,
    range_comparison: str | None,
    range_objs: list[Any],
    limit: Any,
    exclusive_start_key: dict[str, Any] | None,
    forward: bool,
    hash_key_conditions: list[tuple[str, Any]] | None,
    range_key_conditions: list[tuple[str, str, list[Any]]] | None,
    filter_kwargs: dict[str, Any],
) -> tuple[list[tuple], int, int]:
    """The partition's primary keys in moto's order, and the part [lo, hi) of them moto's loop would go through
    (forward from lo, or backward from hi), without the items it would pass by before its first."""
    if filter_kwargs or (limit is not None and (not isinstance(limit, int) or limit < 1)):
        raise Unsupported("QueryFilter or Limit")
    order, attrs = _order_for(table, index_name)
    if index_name is None:
        if hash_key is None:
            raise Unsupported("no hash key")
        given = {table.hash_key_attr: hash_key}
    else:
        given = dict(hash_key_conditions or [])
        if set(given) != set(order.hash_attrs):
            raise Unsupported("hash key conditions")
    part = tuple(_typed(given[a]) for a in order.hash_attrs)
    keys, pks = order.partition(table, part, given[order.hash_attrs[0]])
    lo, hi = 0, len(keys)
    if not keys:
        return pks, lo, hi
    if exclusive_start_key is not None:
        lo, hi = _after_start_key(order, attrs, part, keys, exclusive_start_key, forward, lo, hi)
    if range_comparison and range_key_conditions:
        lo, hi = _within_condition(order, keys, range_comparison, range_objs, range_key_conditions, forward, lo, hi)
    return pks, lo, hi


def _after_start_key(order, attrs, part, keys, start_key, forward, lo, hi) -> tuple[int, int]:
    # moto skips each item `_item_comes_before_dct` the start key: the first attribute (of `attrs`) that differs
    # decides, an item equal on all of them is skipped too. In moto's order that is a prefix of the loop.
    if any(a not in start_key for a in attrs):
        raise Unsupported("start key")
    given = [_typed(start_key[a]) for a in attrs]
    n_hash = len(order.hash_attrs)
    for (kind, value), (start_kind, start) in zip(part, given[:n_hash], strict=True):
        if kind != start_kind:
            raise Unsupported("start key type")
        if value != start:
            every_one_before = (value < start) == forward
            if every_one_before:
                return (hi, hi) if forward else (lo, lo)
            return lo, hi
    if any(kind != order.types[i] for i, (kind, _) in enumerate(given[n_hash:])):
        raise Unsupported("start key type")
    start = tuple(value for _, value in given[n_hash:])
    if forward:
        return max(lo, bisect.bisect_right(keys, start)), hi
    return lo, min(hi, bisect.bisect_left(keys, start))


def _within_condition(order, keys, op, range_objs, conditions, forward, lo, hi) -> tuple[int, int]:
    # Items that fail the sort key's condition are neither kept nor counted by moto's loop, and before the first it
    # keeps there is nothing for it to stop at: the loop may start at the first item that meets it.
    (name, condition_op, _), *more = conditions
    if more or name != order.sort_attrs[0] or condition_op != op or op not in RANGE_OPS:
        return lo, hi
    if any(_typed(v)[0] != order.types[0] for v in range_objs):
        raise Unsupported("condition type")
    values = [_typed(v)[1] for v in range_objs]
    first = itemgetter(0)
    if forward:
        if op in ("=", ">=", "BETWEEN") or (op == "BEGINS_WITH" and order.types[0] in ("S", "B")):
            return max(lo, bisect.bisect_left(keys, values[0], key=first)), hi
        if op == ">":
            return max(lo, bisect.bisect_right(keys, values[0], key=first)), hi
        return lo, hi  # < and <= hold from the partition's first item
    if op in ("=", "<=", "BETWEEN"):
        return lo, min(hi, bisect.bisect_right(keys, values[-1], key=first))
    if op == "<":
        return lo, min(hi, bisect.bisect_left(keys, values[0], key=first))
    if op == "BEGINS_WITH" and order.types[0] == "S":
        start = bisect.bisect_left(keys, values[0], key=first)
        prefix = values[0]
        end = bisect.bisect_left(keys, True, lo=start, key=lambda k: not k[0].startswith(prefix))
        return lo, min(hi, end)
    return lo, hi  # > and >= hold up to the partition's last item


def _query(original: Any) -> Any:
    def query(self: Any, hash_key: Any, range_comparison: Any, range_objs: Any, limit: Any, exclusive_start_key: Any,
              scan_index_forward: Any, projection_expressions: Any, index_name: Any = None,
              consistent_read: bool = False, filter_expression: Any = None, hash_key_conditions: Any = None,
              range_key_conditions: Any = None, **filter_kwargs: Any) -> Any:  # fmt: skip
        args = (hash_key, range_comparison, range_objs, limit, exclusive_start_key, scan_index_forward,
                projection_expressions, index_name, consistent_read, filter_expression)  # fmt: skip
        kwargs = {"hash_key_conditions": hash_key_conditions, "range_key_conditions": range_key_conditions}
        if not repaired():
            return original(self, *args, **kwargs, **filter_kwargs)
        forward = scan_index_forward is not False
        try:
            pks, lo, hi = _span(self, index_name, hash_key, range_comparison, range_objs, limit,
                                exclusive_start_key, forward, hash_key_conditions, range_key_conditions,
                                filter_kwargs)  # fmt: skip
        except Unsupported:
            return original(self, *args, **kwargs, **filter_kwargs)
        width = max(FIRST_WINDOW, (limit or 0) + 1)
        while True:
            start, end = (lo, min(len(pks), lo + width)) if forward else (max(0, hi - width), hi)
            window = [item for item in (_item_at(self, pk) for pk in pks[start:end]) if item is not None]
            answer = original(_View(self, window), *args, **kwargs)
            if answer[2] is not None or (end >= len(pks) if forward else start <= 0):
                break
            width *= 4
        if os.environ.get("LOCAL_MOTO_QUERY_CHECK"):
            answer = _checked(original, self, args, kwargs, answer)
        return answer

    return query


def _checked(original: Any, table: Any, args: tuple, kwargs: dict, answer: Any) -> Any:
    mine, theirs = _comparable(answer), _comparable(reference := original(table, *args, **kwargs))
    if mine != theirs:
        log.error("repaired Query differs from moto's on %s %s: %s != %s", table.name, args, mine, theirs)
        return reference
    return answer


def _comparable(answer: Any) -> str:
    from moto.dynamodb.models.utilities import dynamo_to_dict

    items, scanned, last = answer
    return json.dumps([[i.to_json() for i in items], scanned, dynamo_to_dict(last)], sort_keys=True, default=repr)


# ---------------------------------------------------------------- writes keep the orders current
def _touched(table: Any, pk: tuple) -> None:
    orders = table.__dict__.get(ATTR)
    if orders is None or orders.items is not table.items:
        return  # nothing ordered yet, or a table given new items: ordered afresh when next queried
    item = _item_at(table, pk)
    for order in orders.by_index.values():
        order.touched(pk, item)


def _key_of(table: Any, key: Any) -> tuple | None:
    from moto.dynamodb.models.dynamo_type import DynamoType

    try:
        if isinstance(key, dict) and table.hash_key_attr in key:
            hash_key = DynamoType(key[table.hash_key_attr])
            range_key = DynamoType(key[table.range_key_attr]) if table.range_key_attr in key else None
            return hash_key, range_key
        return DynamoType(key), None
    except Exception:  # noqa: BLE001 - no such key: the write wrote nothing
        return None


def _writes_keep_orders() -> None:
    from moto.dynamodb.models import DynamoDBBackend
    from moto.dynamodb.models.table import Table

    put, delete, update = Table.put_item, Table.delete_item, DynamoDBBackend.update_item

    def put_item(self: Any, item_attrs: dict[str, Any], *args: Any, **kwargs: Any) -> Any:
        try:
            return put(self, item_attrs, *args, **kwargs)
        finally:
            if ATTR in self.__dict__ and (pk := _key_of(self, item_attrs)) is not None:
                _touched(self, pk)

    def delete_item(self: Any, hash_key: Any, range_key: Any) -> Any:
        try:
            return delete(self, hash_key, range_key)
        finally:
            if ATTR in self.__dict__:
                _touched(self, (hash_key, range_key))

    def update_item(self: Any, table_name: str, key: dict[str, Any], *args: Any, **kwargs: Any) -> Any:
        try:
            return update(self, table_name, key, *args, **kwargs)
        finally:  # UpdateItem changes the item in place (and may create it)
            table = self.tables.get(table_name)
            if table is not None and ATTR in table.__dict__ and (pk := _key_of(table, key)) is not None:
                _touched(table, pk)

    Table.put_item, Table.delete_item, DynamoDBBackend.update_item = put_item, delete_item, update_item


# ---------------------------------------------------------------- serialisation
def _quicker_attribute_values() -> None:
    from moto.core.serialize import BaseJSONSerializer

    structure = BaseJSONSerializer._serialize_type_structure

    def serialize_structure(self: Any, serialized: Any, value: Any, shape: Any, key: str) -> None:
        members = shape.members
        if (
            key
            and shape.name == "AttributeValue"
            and _tagged(value, members)
            and repaired()
            and not self._value_picker.response_transformers
            and self.operation_model.service_model.service_name in ("dynamodb", "dynamodbstreams")
        ):
            # What moto's AttributePicker finds for each member of a dict holding only type tags is the tag's value
            # (its aliases — ListAttributeValue, list_attribute_value, l, … — are never keys of it); each member
            # is then what moto's JSON serializer makes of a string, blob, boolean, list or map of those.
            wrapper = _attribute_value(self, value, shape)
            self._default_serialize(serialized, wrapper, shape, key)
            return
        structure(self, serialized, value, shape, key)

    BaseJSONSerializer._serialize_type_structure = serialize_structure


_STRINGS, _BLOBS = ("S", "N"), ("B",)


def _attribute_value(self: Any, value: dict[str, Any], shape: Any) -> dict[str, Any]:
    members = shape.members
    out: dict[str, Any] = {}
    for tag in members:  # in the shape's order, as moto's loop goes
        v = value.get(tag)
        if v is None:
            continue
        if tag in _STRINGS:
            out[tag] = _string(v)
        elif tag in _BLOBS:
            out[tag] = self._base64(v)
        elif tag in ("SS", "NS"):
            out[tag] = [_string(x) for x in v]
        elif tag == "BS":
            out[tag] = [self._base64(x) for x in v]
        elif tag == "M" and type(v) is dict and all(_tagged(x, members) for x in v.values()):
            out[tag] = {k: _attribute_value(self, x, shape) for k, x in v.items()}
        elif tag == "L" and type(v) is list and all(_tagged(x, members) for x in v):
            out[tag] = [_attribute_value(self, x, shape) for x in v]
        elif tag in ("NULL", "BOOL"):
            out[tag] = v
        else:  # anything else: moto's serializer, member by member
            members[tag].parent = shape
            self._serialize(out, v, members[tag], tag)
    return out


def _tagged(value: Any, members: Any) -> bool:
    return type(value) is dict and all(tag in members for tag in value)


def _string(v: Any) -> Any:
    # moto's JSON serializer for a string shape (an Enum is never among DynamoDB's values)
    return str(v) if v not in [None, {}, []] else v


def install() -> None:
    """Once per process."""
    from moto.dynamodb.models.table import Table

    if _installed:
        return
    _installed["query"] = Table.query
    Table.query = _query(Table.query)
    _writes_keep_orders()
    _quicker_attribute_values()
