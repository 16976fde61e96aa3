"""The client's OAuth token: fetched once, renewed early, renewed when refused."""

from __future__ import annotations

import logging

import pytest

from caspira_caspio import CaspioClient
from caspira_caspio.emulator import EmulatorState
from caspira_hookspecs import RemoteError, RetryableError
from tests.caspio.conftest import ACCOUNT_URL, CLIENT_ID, CLIENT_SECRET

pytestmark = pytest.mark.anyio


class ManualClock:
    """A clock the test moves by hand, handed to the client as its ``clock``."""

    def __init__(self) -> None:
        self.seconds = 1000.0

    def __call__(self) -> float:
        return self.seconds


def _field_calls(emulator: EmulatorState) -> list[tuple[str, str]]:
    return [call for call in emulator.calls if call[1].endswith("/fields")]


async def test_one_token_serves_many_calls(client, emulator, bug_reports):
    await client.list_fields(bug_reports)
    await client.list_fields(bug_reports)

    # The bug_reports fixture took one token of its own.
    assert emulator.token_grants == 2


async def test_token_is_renewed_before_it_expires(
    caspio_transport, emulator, bug_reports
):
    clock = ManualClock()
    async with CaspioClient(
        ACCOUNT_URL, CLIENT_ID, CLIENT_SECRET, transport=caspio_transport, clock=clock
    ) as client:
        await client.list_fields(bug_reports)
        grants = emulator.token_grants
        # 86399 s of life less the 300 s safety margin have passed.
        clock.seconds += 86399 - 300
        await client.list_fields(bug_reports)

    assert emulator.token_grants == grants + 1
    assert len(_field_calls(emulator)) == 2


async def test_token_is_kept_until_the_safety_margin(
    caspio_transport, emulator, bug_reports
):
    clock = ManualClock()
    async with CaspioClient(
        ACCOUNT_URL, CLIENT_ID, CLIENT_SECRET, transport=caspio_transport, clock=clock
    ) as client:
        await client.list_fields(bug_reports)
        grants = emulator.token_grants
        clock.seconds += 86399 - 301
        await client.list_fields(bug_reports)

    assert emulator.token_grants == grants


@pytest.mark.parametrize("emulator_options", [{"token_ttl": "60"}])
async def test_expired_token_is_renewed_once_and_the_call_repeated(
    client, emulator, bug_reports
):
    await client.list_fields(bug_reports)
    grants = emulator.token_grants
    emulator.advance_clock(61)

    fields = await client.list_fields(bug_reports)

    assert fields[0]["Name"] == "PK_ID"
    assert emulator.token_grants == grants + 1
    assert len(_field_calls(emulator)) == 3


async def test_incorrect_query_parameter_answer_renews_the_token(
    client, emulator, bug_reports
):
    await client.list_fields(bug_reports)
    grants = emulator.token_grants
    emulator.fail_next(400, "IncorrectQueryParameter", "Token has expired")

    fields = await client.list_fields(bug_reports)

    assert len(fields) == 13
    assert emulator.token_grants == grants + 1


async def test_token_refused_after_renewal_raises_remote_error(
    client, emulator, bug_reports
):
    await client.list_fields(bug_reports)
    grants = emulator.token_grants
    emulator.fail_next(401, "Unauthorized", "Access denied", times=2)

    with pytest.raises(RemoteError) as raised:
        await client.list_fields(bug_reports)

    assert not isinstance(raised.value, RetryableError)
    assert raised.value.status == 401
    assert "Unauthorized: Access denied" in str(raised.value)
    assert emulator.token_grants == grants + 1


async def test_wrong_client_secret_is_reported_without_the_secret(
    caspio_transport, bug_reports
):
    async with CaspioClient(
        ACCOUNT_URL, CLIENT_ID, "not-the-secret", transport=caspio_transport
    ) as client:
        with pytest.raises(RemoteError) as raised:
            await client.list_fields(bug_reports)

    assert raised.value.operation == "token"
    assert raised.value.status == 401
    assert "client id and secret" in str(raised.value)
    assert "not-the-secret" not in str(raised.value)


async def test_logs_hold_neither_the_secret_nor_a_token(
    client, emulator, bug_reports, caplog
):
    caplog.set_level(logging.DEBUG)
    await client.list_fields(bug_reports)
    emulator.fail_next(401, "Unauthorized", "Access denied")
    await client.list_fields(bug_reports)

    logged = " ".join(
        f"{record.getMessage()} {record.__dict__}" for record in caplog.records
    )
    assert "caspio.token.issued" in logged
    assert CLIENT_SECRET not in logged
    for token in emulator.tokens:
        assert token not in logged
