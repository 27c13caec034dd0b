"""Lambda's event filtering (an event source mapping's FilterCriteria), evaluated as Lambda evaluates it.

A record is sent to the function when it matches at least one of the filters (up to five per mapping); the others
are dropped, and count as processed. A pattern has the shape of the record: each key names a field of the record,
each value is either an object (a pattern for the object at that key) or a list of conditions on that field, of
which one must hold (`"$or": [pattern, …]` at any level: one of the patterns must match there). Keys are ANDed.
Where the record's value is a list, a condition holds when it holds for one of its elements.

The conditions of Lambda's filter rule syntax, and what each requires of the field:

- `"text"`, `5`, `true`: that exact string, number or boolean (`""`: the empty string); `null`: present and null.
- `{"prefix": "text"}`, `{"suffix": "text"}`: a string beginning or ending with `text`;
  `{"equals-ignore-case": "text"}`: that string, ignoring case.
- `{"anything-but": ["a", "b"]}` (or one value): present, and none of those values.
- `{"numeric": [">", 0, "<=", 5]}`, `{"numeric": ["=", 5]}`: a JSON number in that range (DynamoDB's `N` values
  are strings, which never are).
- `{"exists": true}` / `{"exists": false}`: present / absent as a leaf. An object is no leaf: DynamoDB attributes are
  objects (`{"S": …}`), so ask for the `S` of one.

Anything else in a pattern — an unknown operator, a condition that is not a list, a malformed range — is refused
when the pattern is read (`FilterPatternError`), as Lambda refuses to create such a mapping: a filter the local
stack did not understand must not silently let everything through, or nothing.
"""

from __future__ import annotations

import json
import numbers
from collections.abc import Callable
from typing import Any

OPERATORS = ("prefix", "suffix", "equals-ignore-case", "anything-but", "numeric", "exists")
_COMPARISONS = {
    "=": lambda a, b: a == b,
    "<": lambda a, b: a < b,
    "<=": lambda a, b: a <= b,
    ">": lambda a, b: a > b,
    ">=": lambda a, b: a >= b,
}


class FilterPatternError(ValueError):
    """A filter pattern Lambda would refuse (and so does the local stack, before it starts)."""


def compile_criteria(criteria: dict[str, Any] | None) -> Callable[[dict[str, Any]], bool]:
    """A predicate on records for an event source mapping's `FilterCriteria` (`{"Filters": [{"Pattern": "…"}]}`);
    without filters every record passes."""
    filters = (criteria or {}).get("Filters") or []
    if not isinstance(filters, list):
        raise FilterPatternError("FilterCriteria.Filters must be a list")
    patterns = [parse_pattern(f.get("Pattern") if isinstance(f, dict) else None) for f in filters]
    if not patterns:
        return lambda record: True
    return lambda record: any(matches(p, record) for p in patterns)


def parse_pattern(text: Any) -> dict[str, Any]:
    """A filter's `Pattern` (a JSON string, as CloudFormation and the Lambda API take it), checked."""
    if not isinstance(text, str):
        raise FilterPatternError(f"a filter's Pattern must be a JSON string, not {text!r}")
    try:
        pattern = json.loads(text)
    except json.JSONDecodeError as e:
        raise FilterPatternError(f"a filter's Pattern is not JSON: {e}") from None
    _check_pattern(pattern, "")
    return pattern


def _check_pattern(pattern: Any, where: str) -> None:
    if not isinstance(pattern, dict) or not pattern:
        raise FilterPatternError(f"{where or 'a pattern'} must be a non-empty JSON object")
    for key, value in pattern.items():
        at = f"{where}.{key}" if where else key
        if key == "$or":
            if not isinstance(value, list) or len(value) < 2:
                raise FilterPatternError(f"{at} must be a list of at least two patterns")
            for i, sub in enumerate(value):
                _check_pattern(sub, f"{at}[{i}]")
        elif isinstance(value, dict):
            _check_pattern(value, at)
        elif isinstance(value, list):
            if not value:
                raise FilterPatternError(f"{at}: an empty list of conditions matches nothing")
            for condition in value:
                _check_condition(condition, at)
        else:
            raise FilterPatternError(f"{at}: conditions must be in a list (`[{json.dumps(value)}]`), or an object")


def _is_number(value: Any) -> bool:
    return isinstance(value, numbers.Real) and not isinstance(value, bool)


def _check_condition(condition: Any, at: str) -> None:
    if condition is None or isinstance(condition, str | bool) or _is_number(condition):
        return
    if not isinstance(condition, dict) or len(condition) != 1:
        raise FilterPatternError(f"{at}: {json.dumps(condition)} is no condition (a value, or one operator)")
    ((op, arg),) = condition.items()
    if op not in OPERATORS:
        raise FilterPatternError(f"{at}: unknown operator {op!r} (known: {', '.join(OPERATORS)})")
    if op in ("prefix", "suffix", "equals-ignore-case") and not isinstance(arg, str):
        raise FilterPatternError(f"{at}: {op} takes a string")
    if op == "exists" and not isinstance(arg, bool):
        raise FilterPatternError(f"{at}: exists takes true or false")
    if op == "anything-but":
        values = arg if isinstance(arg, list) else [arg]
        if not values or not all(v is None or isinstance(v, str | bool) or _is_number(v) for v in values):
            raise FilterPatternError(f"{at}: anything-but takes a value or a non-empty list of values")
    if op == "numeric":
        _check_numeric(arg, at)


def _check_numeric(arg: Any, at: str) -> None:
    if not isinstance(arg, list) or len(arg) not in (2, 4):
        raise FilterPatternError(f'{at}: numeric takes ["=", n], or one or two comparisons like [">", 0, "<=", 5]')
    ops = arg[0::2]
    if not all(op in _COMPARISONS for op in ops) or not all(_is_number(n) for n in arg[1::2]):
        raise FilterPatternError(f"{at}: numeric takes comparisons (=, <, <=, >, >=) each followed by a number")
    if len(arg) == 4 and ("=" in ops or {ops[0][0], ops[1][0]} != {"<", ">"}):
        raise FilterPatternError(f"{at}: a numeric range is one lower and one upper bound")


# ------------------------------------------------------------------ matching
_ABSENT = object()


def matches(pattern: dict[str, Any], event: Any) -> bool:
    """Whether `event` (a record as the function would receive it) matches a checked pattern."""
    for key, want in pattern.items():
        if key == "$or":
            if not any(matches(p, event) for p in want):
                return False
            continue
        value = event.get(key, _ABSENT) if isinstance(event, dict) else _ABSENT
        if isinstance(want, dict):
            ok = matches(want, value) if isinstance(value, dict) else _matches_absent(want)
        else:
            ok = _field_matches(want, value)
        if not ok:
            return False
    return True


def _matches_absent(pattern: dict[str, Any]) -> bool:
    """Whether a pattern for an object matches where there is none (only `exists: false` conditions can)."""
    for key, want in pattern.items():
        if key == "$or":
            ok = any(_matches_absent(p) for p in want)
        elif isinstance(want, dict):
            ok = _matches_absent(want)
        else:
            ok = any(c == {"exists": False} for c in want)
        if not ok:
            return False
    return True


def _field_matches(conditions: list[Any], value: Any) -> bool:
    leaf = value is not _ABSENT and not isinstance(value, dict)
    values = (value if isinstance(value, list) else [value]) if leaf else []
    for condition in conditions:
        if isinstance(condition, dict) and "exists" in condition:
            if condition["exists"] == leaf:
                return True
        elif any(_holds(condition, v) for v in values):
            return True
    return False


def _equal(want: Any, got: Any) -> bool:
    if want is None or isinstance(want, bool):
        return got is want
    if isinstance(want, str):
        return isinstance(got, str) and got == want
    return _is_number(got) and got == want


def _holds(condition: Any, value: Any) -> bool:
    if not isinstance(condition, dict):
        return _equal(condition, value)
    ((op, arg),) = condition.items()
    if op == "prefix":
        return isinstance(value, str) and value.startswith(arg)
    if op == "suffix":
        return isinstance(value, str) and value.endswith(arg)
    if op == "equals-ignore-case":
        return isinstance(value, str) and value.casefold() == arg.casefold()
    if op == "anything-but":
        return not any(_equal(v, value) for v in (arg if isinstance(arg, list) else [arg]))
    if op == "numeric":
        return _is_number(value) and all(_COMPARISONS[o](value, n) for o, n in zip(arg[0::2], arg[1::2], strict=True))
    raise AssertionError(op)  # refused by _check_condition
