"""The ``[caspio]`` configuration section: which account to call and with what."""

from __future__ import annotations

from zoneinfo import ZoneInfo, ZoneInfoNotFoundError

from pydantic import BaseModel, ConfigDict, Field, field_validator

__all__ = ["CaspioSettings"]


class CaspioSettings(BaseModel):
    """``[caspio]``: the account and the REST profile caspira calls it as.

    ``client_id_env`` and ``client_secret_env`` name environment variables that hold
    the REST profile's client id and secret; the values never appear in the file.
    ``timezone`` is the account's time zone (an IANA name such as
    ``"Europe/Berlin"``): Caspio writes dates in it without saying so.
    """

    model_config = ConfigDict(extra="forbid", frozen=True)

    account_url: str
    client_id_env: str
    client_secret_env: str
    timeout_seconds: float = Field(default=30.0, gt=0)
    timezone: str = "UTC"

    @field_validator("account_url")
    @classmethod
    def _http_url(cls, value: str) -> str:
        if not value.startswith(("https://", "http://")):
            raise ValueError(
                "expected the account's address, like https://c0abc123.caspio.com"
            )
        return value.rstrip("/")

    @field_validator("timezone")
    @classmethod
    def _known_zone(cls, value: str) -> str:
        try:
            ZoneInfo(value)
        except (ValueError, OSError, ZoneInfoNotFoundError):
            raise ValueError(
                f"{value!r} is not a known time zone; give the Caspio account's "
                "zone as an IANA name, like 'UTC' or 'Europe/Berlin'"
            ) from None
        return value

    @property
    def zone(self) -> ZoneInfo:
        """The account's time zone, to read and write Caspio's zoneless dates."""
        return ZoneInfo(self.timezone)
