"""Faults the Caspio emulator injects: which, how often, where, and what they change."""

from __future__ import annotations

import contextlib
from collections import Counter

import anyio
import httpx
import pytest

from caspira_caspio.emulator import EmulatorState, Faults, create_app
from tests.caspio.conftest import ACCOUNT_URL, CLIENT_ID, CLIENT_SECRET, served

pytestmark = pytest.mark.anyio

API = "/integrations/rest/v3"
RECORDS = f"{API}/tables/BugReports/records"
TOKEN_FORM = {
    "grant_type": "client_credentials",
    "client_id": CLIENT_ID,
    "client_secret": CLIENT_SECRET,
}


async def token_of(http: httpx.AsyncClient) -> str:
    answer = await http.post("/oauth/token", data=TOKEN_FORM)
    return answer.json()["access_token"]


@pytest.fixture
async def raw(emulator_app) -> httpx.AsyncClient:
    """An HTTP client on the emulator's root, with no spec checks in the way."""
    async with httpx.AsyncClient(
        transport=httpx.ASGITransport(emulator_app), base_url=ACCOUNT_URL
    ) as http:
        token = await token_of(http)
        http.headers["Authorization"] = f"Bearer {token}"
        yield http


@pytest.fixture
def table(emulator: EmulatorState) -> str:
    emulator.create_table("BugReports", [{"Name": "Title", "Type": "STRING"}])
    return "BugReports"


def kinds(emulator: EmulatorState) -> list[str]:
    return [fault.kind for fault in emulator.injected]


# --- what each fault answers -------------------------------------------------------


async def test_rate_limit_answers_429_in_caspio_shape_with_retry_after(
    raw, emulator, table
):
    emulator.set_faults(rate_429=1, retry_after="7")

    answer = await raw.get(RECORDS)

    assert answer.status_code == 429
    assert answer.headers["Retry-After"] == "7"
    assert answer.json()["Code"] == "TooManyRequests"
    assert answer.headers["X-Caspio-Request-ID"] == answer.json()["RequestId"]


async def test_empty_retry_after_setting_sends_no_header(raw, emulator, table):
    emulator.set_faults(rate_429=1, retry_after=None)

    answer = await raw.get(RECORDS)

    assert answer.status_code == 429
    assert "Retry-After" not in answer.headers


async def test_server_errors_are_500_502_and_503(raw, emulator, table):
    emulator.set_faults(rate_5xx=1, seed=3)

    statuses = {(await raw.get(RECORDS)).status_code for _ in range(30)}

    assert statuses == {500, 502, 503}


async def test_only_503_of_the_server_errors_says_when_to_retry(raw, emulator, table):
    emulator.set_faults(rate_5xx=1, seed=3, retry_after="30")

    answers = [await raw.get(RECORDS) for _ in range(30)]

    told = {a.status_code: a.headers.get("Retry-After") for a in answers}
    assert told == {500: None, 502: None, 503: "30"}


async def test_500_is_caspio_internal_error(raw, emulator, table):
    emulator.set_faults(rate_5xx=1, seed=3)

    answers = [await raw.get(RECORDS) for _ in range(30)]

    first = next(a for a in answers if a.status_code == 500)
    assert first.json()["Code"] == "InternalError"


async def test_502_is_a_gateway_page_without_a_caspio_request_id(raw, emulator, table):
    emulator.set_faults(rate_5xx=1, seed=3)

    answers = [await raw.get(RECORDS) for _ in range(30)]

    gateway = next(a for a in answers if a.status_code == 502)
    assert gateway.headers["Content-Type"].startswith("text/html")
    assert "502 Bad Gateway" in gateway.text
    assert "X-Caspio-Request-ID" not in gateway.headers


async def test_drop_is_a_transport_error_under_asgi_transport(raw, emulator, table):
    emulator.set_faults(rate_drop=1)

    with pytest.raises(httpx.RemoteProtocolError):
        await raw.get(RECORDS)

    assert kinds(emulator) == ["drop"]


async def test_drop_under_uvicorn_closes_the_connection_without_a_byte(
    emulator_app, emulator, table
):
    emulator.set_faults(rate_drop=1)
    request = (
        f"GET {RECORDS} HTTP/1.1\r\nHost: 127.0.0.1\r\n"
        "Authorization: Bearer whatever\r\n\r\n"
    ).encode()

    async with served(emulator_app) as base_url:
        port = int(base_url.rsplit(":", 1)[1])
        async with await anyio.connect_tcp("127.0.0.1", port) as stream:
            await stream.send(request)
            received = b""
            with anyio.fail_after(5):
                try:
                    while chunk := await stream.receive():
                        received += chunk
                except (anyio.EndOfStream, anyio.BrokenResourceError):
                    pass

    assert received == b""
    assert emulator.calls == [("GET", RECORDS)]


async def test_drop_under_uvicorn_is_seen_by_httpx_as_no_response(
    emulator_app, emulator, table
):
    emulator.set_faults(rate_drop=1, path=API)

    async with (
        served(emulator_app) as base_url,
        httpx.AsyncClient(base_url=base_url, trust_env=False) as http,
    ):
        token = await token_of(http)
        with pytest.raises(httpx.RemoteProtocolError, match="without sending"):
            await http.get(RECORDS, headers={"Authorization": f"Bearer {token}"})


async def test_latency_delays_every_answer(raw, emulator, table):
    emulator.set_faults(latency=(0.05, 0.05))

    started = anyio.current_time()
    answer = await raw.get(RECORDS)

    assert answer.status_code == 200
    assert anyio.current_time() - started >= 0.05


async def test_latency_range_draws_each_delay_within_it(raw, emulator, table):
    emulator.set_faults(latency=(0.01, 0.03), seed=5)
    delays = []

    for _ in range(5):
        started = anyio.current_time()
        await raw.get(RECORDS)
        delays.append(anyio.current_time() - started)

    assert min(delays) >= 0.01
    assert len({round(delay, 3) for delay in delays}) > 1


# --- how often, and repeatably -------------------------------------------------------


async def test_rate_is_the_share_of_failed_calls(raw, emulator, table):
    emulator.set_faults(rate_429=0.25, seed=1)

    statuses = Counter([(await raw.get(RECORDS)).status_code for _ in range(200)])

    assert 30 <= statuses[429] <= 70
    assert statuses[429] + statuses[200] == 200


async def test_same_seed_injects_the_same_faults_in_the_same_order():
    runs = []
    for _ in range(2):
        app = create_app(
            fault_rate_429="0.2", fault_rate_5xx="0.2", fault_rate_drop="0.1",
            fault_seed="42",
        )  # fmt: skip
        app.state.emulator.create_table("BugReports", [])
        async with httpx.AsyncClient(
            transport=httpx.ASGITransport(app), base_url=ACCOUNT_URL
        ) as http:
            for _ in range(40):
                with contextlib.suppress(httpx.RemoteProtocolError):
                    await http.get(RECORDS)
        runs.append(kinds(app.state.emulator))

    assert runs[0] == runs[1]
    assert {"429", "drop"} <= set(runs[0])


async def test_another_seed_injects_other_faults(raw, emulator, table):
    outcomes = []
    for seed in (1, 2):
        emulator.set_faults(rate_429=0.5, seed=seed)
        outcomes.append([(await raw.get(RECORDS)).status_code for _ in range(20)])

    assert outcomes[0] != outcomes[1]


async def test_set_faults_without_settings_stops_them(raw, emulator, table):
    emulator.set_faults(rate_429=1)
    emulator.set_faults()

    answer = await raw.get(RECORDS)

    assert answer.status_code == 200
    assert emulator.faults == Faults()


# --- before any change, except a lost write -----------------------------------------


@pytest.mark.parametrize(
    "faults", [{"rate_429": 1}, {"rate_5xx": 1}, {"rate_drop": 1}], ids=str
)
async def test_failed_write_changes_nothing(raw, emulator, table, faults):
    emulator.set_faults(**faults)

    with contextlib.suppress(httpx.RemoteProtocolError):
        await raw.post(RECORDS, json={"Title": "Crash"})

    assert emulator.tables["BugReports"].records == {}


async def test_lost_write_is_done_but_its_answer_never_comes(raw, emulator, table):
    emulator.set_faults(rate_lost_write=1)

    with pytest.raises(httpx.RemoteProtocolError):
        await raw.post(RECORDS, json={"Title": "Crash"})

    assert emulator.tables["BugReports"].records[1]["Title"] == "Crash"
    assert kinds(emulator) == ["lost_write"]


async def test_lost_write_spares_reads(raw, emulator, table):
    emulator.set_faults(rate_lost_write=1)

    answer = await raw.get(RECORDS)

    assert answer.status_code == 200
    assert emulator.injected == []


async def test_refused_write_is_answered_even_when_lost_writes_are_on(
    raw, emulator, table
):
    emulator.set_faults(rate_lost_write=1)

    answer = await raw.post(RECORDS, json={"NoSuchField": "x"})

    assert answer.status_code == 400
    assert emulator.injected == []


# --- where ------------------------------------------------------------------------


async def test_path_prefix_limits_the_faults(raw, emulator, table):
    emulator.set_faults(rate_429=1, path=RECORDS)

    tables = await raw.get(f"{API}/tables")
    records = await raw.get(RECORDS)

    assert (tables.status_code, records.status_code) == (200, 429)


async def test_writes_only_spares_reads_and_tokens(raw, emulator, table):
    emulator.set_faults(rate_429=1, writes_only=True)

    read = await raw.get(RECORDS)
    token = await raw.post("/oauth/token", data=TOKEN_FORM)
    write = await raw.post(RECORDS, json={"Title": "Crash"})

    assert (read.status_code, token.status_code, write.status_code) == (
        200,
        200,
        429,
    )


async def test_token_endpoint_is_in_reach_of_the_faults(raw, emulator):
    emulator.set_faults(rate_429=1)

    answer = await raw.post("/oauth/token", data=TOKEN_FORM)

    assert answer.status_code == 429
    assert kinds(emulator) == ["429"]


async def test_emulator_state_dump_is_never_faulted(raw, emulator):
    emulator.set_faults(rate_5xx=1)

    answer = await raw.get("/_emulator/state")

    assert answer.status_code == 200


async def test_state_dump_lists_the_injected_faults(raw, emulator, table):
    emulator.set_faults(rate_429=1, path=RECORDS)
    await raw.get(RECORDS)

    dump = (await raw.get("/_emulator/state")).json()

    assert dump["faults"]["settings"]["rate_429"] == 1
    assert dump["faults"]["injected"] == [
        {"method": "GET", "target": RECORDS, "kind": "429"}
    ]


# --- tokens -------------------------------------------------------------------------


async def test_token_ended_early_is_refused_on_its_next_call(raw, emulator, table):
    emulator.set_faults(rate_token_expiry=1)

    first = await raw.get(RECORDS)
    second = await raw.get(RECORDS)

    assert (first.status_code, second.status_code) == (200, 401)
    assert kinds(emulator) == ["token_expiry"]


async def test_token_ended_early_stays_refused(raw, emulator, table):
    emulator.set_faults(rate_token_expiry=1)
    await raw.get(RECORDS)
    await raw.get(RECORDS)
    emulator.set_faults()

    answer = await raw.get(RECORDS)

    assert answer.status_code == 401


@pytest.mark.parametrize(
    "emulator_options", [{"token_ttl": "60", "expired_token_status": "400"}]
)
async def test_expired_token_can_be_answered_400_incorrect_query_parameter(
    raw, emulator, table
):
    emulator.advance_clock(61)

    answer = await raw.get(RECORDS)

    assert answer.status_code == 400
    assert answer.json()["Code"] == "IncorrectQueryParameter"


@pytest.mark.parametrize("emulator_options", [{"expired_token_status": "400"}])
async def test_unknown_token_is_401_even_when_expired_ones_get_400(raw, table):
    answer = await raw.get(RECORDS, headers={"Authorization": "Bearer made-up"})

    assert answer.status_code == 401


@pytest.mark.parametrize(
    "emulator_options", [{"token_ttl": "60", "expired_token_status": "400"}]
)
async def test_token_ended_early_gets_the_accounts_expired_answer(raw, emulator, table):
    emulator.set_faults(rate_token_expiry=1)
    await raw.get(RECORDS)

    answer = await raw.get(RECORDS)

    assert answer.status_code == 400


# --- options ------------------------------------------------------------------------


def test_fault_options_are_read_from_set_strings():
    app = create_app(
        fault_rate_429="0.1",
        fault_rate_5xx="0.2",
        fault_rate_drop="0.05",
        fault_rate_lost_write="0.3",
        fault_rate_token_expiry="0.01",
        fault_latency="0.1-0.5",
        fault_retry_after="",
        fault_path="/integrations/rest/v3/tables",
        fault_writes_only="true",
        fault_seed="7",
    )

    assert app.state.emulator.faults == Faults(
        rate_429=0.1,
        rate_5xx=0.2,
        rate_drop=0.05,
        rate_lost_write=0.3,
        rate_token_expiry=0.01,
        latency=(0.1, 0.5),
        retry_after=None,
        path="/integrations/rest/v3/tables",
        writes_only=True,
        seed=7,
    )


def test_fixed_latency_option_is_one_delay():
    app = create_app(fault_latency="0.25")

    assert app.state.emulator.faults.latency == (0.25, 0.25)


def test_unknown_fault_option_is_refused_with_the_known_ones():
    with pytest.raises(ValueError, match=r"'fault_rate_404'.*fault_rate_429"):
        create_app(fault_rate_404="1")


def test_unreadable_fault_option_says_what_to_give():
    with pytest.raises(ValueError, match=r"fault_latency='soon'.*range of seconds"):
        create_app(fault_latency="soon")


def test_rate_above_one_is_refused():
    with pytest.raises(ValueError, match=r"rate_5xx=1\.5 is not a rate"):
        create_app(fault_rate_5xx="1.5")


def test_rates_of_one_request_adding_up_over_one_are_refused():
    with pytest.raises(ValueError, match=r"add up to 1\.2"):
        Faults(rate_429=0.6, rate_drop=0.6)


def test_latency_range_upside_down_is_refused():
    with pytest.raises(ValueError, match=r"latency=\(0\.5, 0\.1\)"):
        create_app(fault_latency="0.5-0.1")


def test_token_ttl_below_a_second_is_refused():
    with pytest.raises(ValueError, match="token_ttl=0"):
        create_app(token_ttl="0")


def test_expired_token_status_other_than_400_or_401_is_refused():
    with pytest.raises(ValueError, match="expired_token_status=403"):
        create_app(expired_token_status="403")
