"""Arbitrary bodies against the Caspio webhook parser: it refuses, it never crashes.

Whatever it accepts, every store can hold: JSON without NaN, UTF-8, no NUL.
"""

from __future__ import annotations

import json
import re
from typing import Any

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from caspira_caspio import EVENT_OPERATIONS, parse_delivery
from caspira_hookspecs import InboundEvent, WebhookRejected
from tests.caspio.test_webhook import BUGS, COMMENTED, SECRETS, case

FLOWS = {"bugs": BUGS, "commented": COMMENTED}
RECORD_ID = re.compile(r"[1-9][0-9]*")
INSERT = case("insert")

# Hypothesis leaves lone surrogates out of text unless asked for them.
characters = st.one_of(
    st.characters(),
    st.characters(min_codepoint=0xD800, max_codepoint=0xDFFF),
    st.sampled_from('\x00\u2028\ufeff"\\'),
)
texts = st.text(characters, max_size=12)
scalars = st.one_of(
    st.none(),
    st.booleans(),
    st.integers(),
    st.integers(min_value=-(10**60), max_value=10**60),
    st.floats(),
    texts,
)
json_values = st.recursive(
    scalars,
    lambda inner: st.one_of(
        st.lists(inner, max_size=4), st.dictionaries(texts, inner, max_size=4)
    ),
    max_leaves=12,
)


def mostly(valid: st.SearchStrategy, other: st.SearchStrategy) -> st.SearchStrategy:
    """Mostly ``valid``, so that checks after this value are reached too."""
    # Hypothesis favours small draws, so the rare branch sits at the top.
    return st.integers(0, 9).flatmap(lambda roll: other if roll == 9 else valid)


pk_ids = mostly(
    st.one_of(
        st.integers(min_value=1, max_value=2**63 - 1),
        st.sampled_from([123, "0123", " 123 ", 123.0]),
        st.integers(min_value=1, max_value=2**63 - 1).map(lambda n: f"00{n}"),
    ),
    st.one_of(
        st.sampled_from([0, -1, 10**100, 2**63, 1.5, " ", "abc", "\uff11", True]),
        json_values,
    ),
)
records = st.builds(
    lambda pk_id, fields: {**fields, "PK_ID": pk_id},
    pk_ids,
    st.dictionaries(texts, json_values, max_size=4),
)
comment_rows = st.fixed_dictionaries(
    {
        "PK_ID": pk_ids,
        "RecordID": pk_ids,
        "Body": texts,
        "Author": st.one_of(st.none(), texts),
    }
)


def delivery_of(rows: list[Any], **envelope: Any) -> dict[str, Any]:
    """The case's insert delivery, right secret included, carrying ``rows``."""
    return {**INSERT, **envelope, "data": rows}


# Each part of the envelope: what Caspio sends, or anything at all.
envelopes = st.fixed_dictionaries(
    {
        "eventType": st.one_of(st.sampled_from(sorted(EVENT_OPERATIONS)), json_values),
        "objectName": st.one_of(st.just("BugReports"), json_values),
        "messageId": st.one_of(st.uuids().map(str), json_values),
        "eventDate": st.one_of(
            st.datetimes().map(lambda moment: moment.isoformat()),
            st.sampled_from(["0001-01-01T00:00:00", "9999-12-31T23:59:59"]),
            json_values,
        ),
        "data": st.one_of(st.just(INSERT["data"]), json_values),
    }
)


# Pieces of JSON text, including what Python's parser reads but no store keeps.
STRUCTURE = ["[", "]", "{", "}", ",", ":"]
NAMES = ['"secret"', '"data"', '"PK_ID"', '"text"']
LITERALS = ["NaN", "-Infinity", "1e999", "-0", "0.5", "true", "null"]
ESCAPES = [r'"\ud800"', r'"\u0000"', r'"\udc00\ud800"']
fragments = st.one_of(
    st.sampled_from(STRUCTURE + NAMES + LITERALS + ESCAPES),
    st.integers(min_value=1, max_value=6000).map(lambda digits: "9" * digits),
    st.integers(min_value=1, max_value=3000).map(lambda depth: "[" * depth),
)
json_ish = st.lists(fragments, max_size=30).map("".join)

fuzzing = settings(
    max_examples=100, deadline=None, suppress_health_check=[HealthCheck.too_slow]
)


def parse(body: bytes, flow: str = "bugs") -> list[InboundEvent] | WebhookRejected:
    """The events ``body`` gives, or the refusal: anything else fails the test."""
    try:
        return parse_delivery(flow, body, FLOWS, SECRETS.__getitem__)
    except WebhookRejected as refused:
        return refused


def storable(event: InboundEvent) -> bool:
    """What PostgreSQL's JSONB and text columns and SQLite's JSON all accept."""
    try:
        text = json.dumps(event.payload, allow_nan=False, ensure_ascii=False)
        stored = f"{text}{event.key}{event.delivery_id}".encode()
    except (TypeError, ValueError):
        return False
    return b"\x00" not in stored


@fuzzing
@given(st.binary(max_size=200))
def test_any_bytes_are_parsed_or_refused_with_400_or_401(body):
    outcome = parse(body)

    assert isinstance(outcome, list) or outcome.status in (400, 401)


@fuzzing
@given(json_ish)
def test_json_ish_text_is_parsed_or_refused_with_400_or_401(text):
    outcome = parse(text.encode("utf-8", "surrogatepass"))

    assert isinstance(outcome, list) or outcome.status in (400, 401)


@fuzzing
@given(json_values)
def test_any_json_document_is_parsed_or_refused_with_400_or_401(document):
    body = json.dumps(document).encode()

    outcome = parse(body)

    assert isinstance(outcome, list) or outcome.status in (400, 401)


def refused_or_storable(outcome: list[InboundEvent] | WebhookRejected) -> bool:
    if isinstance(outcome, WebhookRejected):
        return outcome.status == 400 and len(outcome.reason) < 400
    ids = [event.delivery_id for event in outcome]
    return all(storable(event) for event in outcome) and len(set(ids)) == len(ids)


@fuzzing
@given(envelopes)
def test_envelope_is_refused_or_its_record_kept_storable(envelope):
    outcome = parse(json.dumps({**INSERT, **envelope}).encode())

    assert refused_or_storable(outcome)


@fuzzing
@given(st.lists(records, min_size=1, max_size=3))
def test_record_rows_are_refused_or_every_one_kept_storable(rows):
    # Python's own writer: NaN and big numbers become the text a sender would send.
    body = json.dumps(delivery_of(rows, eventType="table.recordUpdate")).encode()

    outcome = parse(body)

    assert refused_or_storable(outcome)
    if isinstance(outcome, list):
        assert len(outcome) == len(rows)
        assert all(RECORD_ID.fullmatch(event.payload["record_id"]) for event in outcome)


@fuzzing
@given(st.lists(comment_rows, min_size=1, max_size=3))
def test_comment_rows_are_refused_or_kept_storable(rows):
    body = json.dumps(delivery_of(rows, objectName="BugComments")).encode()

    outcome = parse(body, "commented")

    assert refused_or_storable(outcome)


@pytest.mark.parametrize(
    "body",
    [
        b'{"x": ' + b"9" * 5000 + b"}",
        b"[" * 200_000,
        b"{" * 200_000,
        b'{"secret": "\\ud800"}',
        b'{"secret": "\xed\xa0\x80"}',
    ],
    ids=["5,000 digits", "nested arrays", "nested objects", "escaped", "raw bytes"],
)
def test_bodies_that_crashed_the_parser_are_refused(body):
    outcome = parse(body)

    assert isinstance(outcome, WebhookRejected)
    assert outcome.status in (400, 401)
