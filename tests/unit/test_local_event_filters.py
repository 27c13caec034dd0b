"""The stream poller's FilterCriteria: Lambda's filter rule syntax, matched as Lambda matches it."""

from __future__ import annotations

import json

import pytest

from complaints_tools.local.filtering import FilterPatternError, compile_criteria, matches, parse_pattern

MESSENGER = '{"eventName": ["INSERT"], "dynamodb": {"Keys": {"pk": {"S": [{"prefix": "message#"}]}}}}'


def _record(event_name="INSERT", pk="message#10001", **image) -> dict:
    keys = {"pk": {"S": pk}}
    return {
        "eventID": "e",
        "eventName": event_name,
        "eventSource": "aws:dynamodb",
        "dynamodb": {"Keys": keys, "NewImage": {**keys, **image}, "SequenceNumber": "1", "SizeBytes": 9},
    }


def _matches(pattern: dict, record: dict) -> bool:
    return matches(parse_pattern(json.dumps(pattern)), record)


def test_the_messengers_pattern_takes_new_messages_only():
    pattern = parse_pattern(MESSENGER)
    assert matches(pattern, _record())
    assert not matches(pattern, _record(event_name="MODIFY"))
    assert not matches(pattern, _record(pk="ticket#10001"))
    assert not matches(pattern, _record(pk="Message#1"))  # prefixes are case-sensitive
    assert not matches(pattern, {"eventName": "INSERT", "dynamodb": {"Keys": {"pk": {"N": "1"}}}})


@pytest.mark.parametrize(
    ("condition", "value", "expected"),
    [
        ("INSERT", "INSERT", True),
        ("INSERT", "insert", False),
        ("", "", True),
        (5, 5, True),
        (5, 5.0, True),
        (5, "5", False),  # DynamoDB's N values are strings: no number equals them
        (True, True, True),
        (True, 1, False),
        (None, None, True),
        (None, "", False),
        ({"prefix": "message#"}, "message#1", True),
        ({"suffix": ".png"}, "a.png", True),
        ({"suffix": ".png"}, "a.jpg", False),
        ({"equals-ignore-case": "Eco"}, "ECO", True),
        ({"anything-but": ["eco", "water"]}, "roads", True),
        ({"anything-but": ["eco", "water"]}, "eco", False),
        ({"anything-but": "eco"}, "eco", False),
        ({"numeric": [">", 0, "<=", 5]}, 5, True),
        ({"numeric": [">", 0, "<=", 5]}, 0, False),
        ({"numeric": ["=", 3]}, 3, True),
        ({"numeric": [">=", 3]}, "4", False),
    ],
)
def test_each_condition_on_a_leaf(condition, value, expected):
    assert _matches({"field": [condition]}, {"field": value}) is expected


def test_a_list_of_conditions_is_an_or_and_keys_are_an_and():
    pattern = {"eventName": ["INSERT", "MODIFY"], "dynamodb": {"NewImage": {"agency": {"S": ["eco"]}}}}
    assert _matches(pattern, _record(event_name="MODIFY", agency={"S": "eco"}))
    assert not _matches(pattern, _record(event_name="MODIFY", agency={"S": "water"}))
    assert not _matches(pattern, _record(event_name="REMOVE", agency={"S": "eco"}))


def test_or_across_fields():
    pattern = {"$or": [{"eventName": ["REMOVE"]}, {"dynamodb": {"NewImage": {"urgent": {"BOOL": [True]}}}}]}
    assert _matches(pattern, _record(event_name="REMOVE"))
    assert _matches(pattern, _record(urgent={"BOOL": True}))
    assert not _matches(pattern, _record(urgent={"BOOL": False}))


def test_exists_is_about_leaves():
    # A DynamoDB attribute is an object ({"S": …}): exists asks about its S, N, … as Lambda's documentation says.
    assert _matches({"dynamodb": {"NewImage": {"phone": {"S": [{"exists": True}]}}}}, _record(phone={"S": "138"}))
    assert not _matches({"dynamodb": {"NewImage": {"phone": {"S": [{"exists": True}]}}}}, _record())
    assert not _matches({"dynamodb": {"NewImage": {"phone": [{"exists": True}]}}}, _record(phone={"S": "138"}))
    assert _matches({"dynamodb": {"NewImage": {"phone": {"S": [{"exists": False}]}}}}, _record())
    assert _matches({"dynamodb": {"OldImage": {"phone": {"S": [{"exists": False}]}}}}, _record())
    assert not _matches({"dynamodb": {"NewImage": {"phone": {"S": [{"exists": False}]}}}}, _record(phone={"S": "1"}))


def test_a_missing_field_matches_nothing_but_exists_false():
    assert not _matches({"missing": [{"anything-but": ["x"]}]}, {"other": 1})
    assert not _matches({"missing": [None]}, {"other": 1})
    assert _matches({"missing": [{"exists": False}]}, {"other": 1})


def test_a_list_in_the_record_matches_when_one_element_does():
    assert _matches({"tags": ["noise"]}, {"tags": ["road", "noise"]})
    assert not _matches({"tags": ["water"]}, {"tags": ["road", "noise"]})


def test_filters_are_ored_and_no_filters_let_everything_through():
    either = compile_criteria(
        {"Filters": [{"Pattern": '{"eventName": ["REMOVE"]}'}, {"Pattern": '{"eventName": ["INSERT"]}'}]}
    )
    assert either(_record("INSERT")) and either(_record("REMOVE")) and not either(_record("MODIFY"))
    assert compile_criteria(None)(_record()) and compile_criteria({"Filters": []})(_record())


@pytest.mark.parametrize(
    "pattern",
    [
        '{"eventName": [{"wildcard": "IN*"}]}',  # EventBridge has it; Lambda's filter syntax does not
        '{"eventName": [{"anything-but": {"prefix": "IN"}}]}',
        '{"eventName": [{"prefix": 1}]}',
        '{"eventName": [{"exists": "yes"}]}',
        '{"eventName": [{"prefix": "IN", "suffix": "T"}]}',
        '{"size": [{"numeric": [">", "1"]}]}',
        '{"size": [{"numeric": ["=", 1, "<", 5]}]}',
        '{"size": [{"numeric": [">", 1, ">", 5]}]}',
        '{"size": [{"numeric": ["~", 1]}]}',
        '{"eventName": "INSERT"}',
        '{"eventName": []}',
        '{"$or": [{"eventName": ["INSERT"]}]}',
        "{}",
        '["INSERT"]',
        "not json",
    ],
)
def test_patterns_lambda_would_refuse_are_refused(pattern):
    with pytest.raises(FilterPatternError):
        parse_pattern(pattern)


def test_a_pattern_must_be_the_json_string_cloudformation_takes():
    with pytest.raises(FilterPatternError):
        compile_criteria({"Filters": [{"Pattern": {"eventName": ["INSERT"]}}]})
