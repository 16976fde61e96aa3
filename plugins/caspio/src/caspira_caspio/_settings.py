"""The ``[caspio]`` configuration section: which account to call and with what."""

from __future__ import annotations

from pydantic import BaseModel, ConfigDict, Field, field_validator

__all__ = ["CaspioSettings"]


class CaspioSettings(BaseModel):
    """``[caspio]``: the account and the REST profile caspira calls it as.

    ``client_id_env`` and ``client_secret_env`` name environment variables that hold
    the REST profile's client id and secret; the values never appear in the file.
    """

    model_config = ConfigDict(extra="forbid", frozen=True)

    account_url: str
    client_id_env: str
    client_secret_env: str
    timeout_seconds: float = Field(default=30.0, gt=0)

    @field_validator("account_url")
    @classmethod
    def _http_url(cls, value: str) -> str:
        if not value.startswith(("https://", "http://")):
            raise ValueError(
                "expected the account's address, like https://c0abc123.caspio.com"
            )
        return value.rstrip("/")
