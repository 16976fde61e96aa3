"""The emulator's OAuth token endpoint and the bearer check on every API call."""

from __future__ import annotations

import httpx
import pytest

from caspira_caspio.emulator import create_app
from tests.caspio.conftest import ACCOUNT_URL, CLIENT_ID, CLIENT_SECRET

pytestmark = pytest.mark.anyio


@pytest.fixture
async def http(caspio_transport):
    async with httpx.AsyncClient(
        transport=caspio_transport, base_url=ACCOUNT_URL
    ) as plain:
        yield plain


def _credentials(secret: str = CLIENT_SECRET) -> dict[str, str]:
    return {
        "grant_type": "client_credentials",
        "client_id": CLIENT_ID,
        "client_secret": secret,
    }


async def test_token_answers_bearer_token_with_lifetime_and_refresh_token(http):
    answer = await http.post("/oauth/token", data=_credentials())

    token = answer.json()
    assert answer.status_code == 200
    assert set(token) == {"access_token", "token_type", "expires_in", "refresh_token"}
    assert (token["token_type"], token["expires_in"]) == ("bearer", 86399)


async def test_token_accepts_the_client_as_basic_auth(http):
    answer = await http.post(
        "/oauth/token",
        data={"grant_type": "client_credentials"},
        auth=(CLIENT_ID, CLIENT_SECRET),
    )

    assert answer.status_code == 200


async def test_token_refuses_a_wrong_secret_in_caspio_error_shape(http):
    answer = await http.post("/oauth/token", data=_credentials("guess"))

    body = answer.json()
    assert answer.status_code == 401
    assert set(body) == {"Code", "Message", "Resource", "RequestId"}
    assert answer.headers["X-Caspio-Request-ID"] == body["RequestId"]


async def test_token_refuses_an_unknown_grant_type(http):
    answer = await http.post("/oauth/token", data={"grant_type": "password"})

    assert (answer.status_code, answer.json()["Code"]) == (
        400,
        "IncorrectBodyParameter",
    )


async def test_refresh_token_buys_a_new_access_token_once(http):
    first = (await http.post("/oauth/token", data=_credentials())).json()
    refresh = {"grant_type": "refresh_token", "refresh_token": first["refresh_token"]}

    renewed = await http.post("/oauth/token", data=refresh)
    reused = await http.post("/oauth/token", data=refresh)

    assert renewed.status_code == 200
    assert renewed.json()["access_token"] != first["access_token"]
    assert reused.status_code == 401


@pytest.mark.parametrize("emulator_options", [{"token_ttl": "120"}])
async def test_token_ttl_option_sets_expires_in(http):
    answer = await http.post("/oauth/token", data=_credentials())

    assert answer.json()["expires_in"] == 120


@pytest.mark.parametrize(
    "emulator_options", [{"client_id": "acme", "client_secret": "acme-secret"}]
)
async def test_client_options_choose_the_accepted_credentials(http):
    wrong = await http.post("/oauth/token", data=_credentials())
    right = await http.post(
        "/oauth/token",
        data={
            "grant_type": "client_credentials",
            "client_id": "acme",
            "client_secret": "acme-secret",
        },
    )

    assert (wrong.status_code, right.status_code) == (401, 200)


async def test_api_call_without_a_token_gets_401(unchecked_api):
    answer = await unchecked_api.get("/tables", headers={"Authorization": ""})

    assert answer.status_code == 401
    assert answer.json()["Code"] == "Unauthorized"
    assert answer.headers["X-Caspio-Request-ID"] == answer.json()["RequestId"]


async def test_api_call_with_an_unknown_token_gets_401(api):
    answer = await api.get("/tables", headers={"Authorization": "Bearer forged"})

    assert answer.status_code == 401


@pytest.mark.parametrize("emulator_options", [{"token_ttl": "60"}])
async def test_api_call_with_an_expired_token_gets_401(api, emulator):
    emulator.advance_clock(60)

    answer = await api.get("/tables")

    assert answer.status_code == 401


async def test_every_api_answer_carries_a_request_id(api):
    answer = await api.get("/tables")

    assert answer.status_code == 200
    assert len(answer.headers["X-Caspio-Request-ID"]) == 36


def test_unknown_option_is_refused_naming_the_known_ones():
    with pytest.raises(ValueError, match="token_ttl"):
        create_app(token_life="5")


def test_unknown_timezone_option_is_refused_naming_it():
    with pytest.raises(ValueError, match=r"'Mars/Olympus'.*Europe/Berlin"):
        create_app(timezone="Mars/Olympus")
