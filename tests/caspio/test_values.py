"""Caspio's value conventions and the ``q.where`` builders."""

from __future__ import annotations

from datetime import UTC, date, datetime, timedelta, timezone
from zoneinfo import ZoneInfo

import pytest

from caspira_caspio import (
    format_datetime,
    list_texts,
    parse_datetime,
    sql_literal,
    where_equals,
    where_in,
)


def test_where_equals_doubles_single_quotes():
    assert where_equals("ReporterName", "O'Brien") == "ReporterName='O''Brien'"


def test_where_equals_writes_yes_no_as_one_and_zero():
    assert where_equals("Urgent", True) == "Urgent=1"
    assert where_equals("Urgent", False) == "Urgent=0"


def test_where_equals_writes_numbers_bare():
    assert where_equals("PK_ID", 123) == "PK_ID=123"


def test_where_equals_writes_none_as_is_null():
    assert where_equals("JiraKey", None) == "JiraKey IS NULL"


def test_where_equals_writes_dates_without_zone():
    moment = datetime(2026, 1, 16, 19, 52, 55, 123456)

    assert where_equals("SubmittedAt", moment) == "SubmittedAt='2026-01-16T19:52:55'"


def test_where_equals_refuses_a_field_name_that_could_inject():
    with pytest.raises(ValueError, match="not a Caspio field name"):
        where_equals("Title='' OR 1", "x")


def test_where_in_lists_every_value_quoted():
    assert where_in("Severity", ["High", "Won't fix"]) == (
        "Severity IN ('High','Won''t fix')"
    )


def test_where_in_needs_a_value():
    with pytest.raises(ValueError, match="at least one value"):
        where_in("Severity", [])


def test_sql_literal_writes_a_date():
    assert sql_literal(date(2026, 1, 16)) == "'2026-01-16'"


def test_sql_literal_refuses_other_types():
    with pytest.raises(TypeError, match="cannot write list"):
        sql_literal(["a"])


def test_parse_datetime_keeps_caspio_dates_without_zone():
    parsed = parse_datetime("2026-01-16T19:52:55")

    assert parsed == datetime(2026, 1, 16, 19, 52, 55)
    assert parsed.tzinfo is None


def test_parse_datetime_puts_a_caspio_date_in_the_given_zone():
    parsed = parse_datetime("2026-01-16T19:52:55", ZoneInfo("Europe/Berlin"))

    assert parsed.isoformat() == "2026-01-16T19:52:55+01:00"


def test_parse_datetime_keeps_an_offset_the_date_carries():
    parsed = parse_datetime("2026-01-16T19:52:55+05:30", ZoneInfo("Europe/Berlin"))

    assert parsed.utcoffset() == timedelta(hours=5, minutes=30)


def test_parse_datetime_reads_empty_as_none():
    assert parse_datetime("") is None
    assert parse_datetime(None) is None


def test_format_datetime_moves_an_aware_date_to_utc():
    moment = datetime(2026, 1, 16, 21, 52, 55, tzinfo=timezone(timedelta(hours=2)))

    assert format_datetime(moment) == "2026-01-16T19:52:55"


def test_format_datetime_moves_an_aware_date_to_the_account_zone():
    moment = datetime(2026, 7, 1, 10, 0, 0, tzinfo=UTC)

    assert format_datetime(moment, ZoneInfo("Europe/Berlin")) == "2026-07-01T12:00:00"


def test_list_texts_reads_a_list_field_in_id_order():
    assert list_texts({"10": "Billing", "1": "Hardware", "3": "Access"}) == [
        "Hardware",
        "Access",
        "Billing",
    ]


def test_list_texts_reads_none_as_nothing_chosen():
    assert list_texts(None) == []


def test_list_texts_reads_a_plain_text_as_one_choice():
    assert list_texts("Hardware") == ["Hardware"]
