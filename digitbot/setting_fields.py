"""How a setting is declared, checked and put into words (for digitbot.settings).

Each field of `Settings` is a `variable(...)`: the environment variable it is read from, its
default, its constraints, and what docs/configuration.md shows as its type and default. The value
types below check what a plain type cannot (a URL's scheme, a cron expression), and
`describe_invalid` turns pydantic's errors into the one line a person reads.
"""

from __future__ import annotations

import ipaddress
from collections.abc import Callable
from pathlib import Path
from types import UnionType
from typing import Annotated, Any, Literal, Union, get_args, get_origin
from urllib.parse import urlsplit

from annotated_types import Ge
from pydantic import (
    AfterValidator,
    BaseModel,
    BeforeValidator,
    Field,
    StringConstraints,
    ValidationError,
)
from pydantic.fields import FieldInfo

from digitbot.cron import CronSchedule
from digitbot.errors import InvalidSettingError

REDIS_SCHEMES = ("redis", "rediss", "unix")
LogLevel = Literal["DEBUG", "INFO", "WARNING", "ERROR", "CRITICAL"]


def _http_url(value: str) -> str:
    if urlsplit(value).scheme not in ("http", "https") or not urlsplit(value).netloc:
        raise ValueError(f"expected an http:// or https:// URL, got {value!r}")
    return value


def _redis_url(value: str) -> str:  # the value may hold a password: never in the message
    if urlsplit(value).scheme not in REDIS_SCHEMES:
        raise ValueError("expected a redis://, rediss:// or unix:// URL (redis://host:6379/0)")
    return value


def _proxy_address(value: str) -> str:
    if value not in ("*", "localhost"):
        try:
            ipaddress.ip_address(value)
        except ValueError:
            raise ValueError(f"expected an IP address, localhost or *, got {value!r}") from None
    return value


def _id_list(value: Any) -> Any:
    if isinstance(value, str):  # "1, 22,333"
        return [part for part in value.replace(" ", "").split(",") if part]
    return value


def _seconds_list(value: Any) -> Any:
    if isinstance(value, str):  # "5, 10,20"
        value = [part for part in value.replace(" ", "").split(",") if part]
    if isinstance(value, list | tuple) and not value:
        raise ValueError("expected at least one number of seconds, like 5,10,20")
    return value


HttpUrl = Annotated[str, AfterValidator(_http_url)]
RedisUrl = Annotated[str, AfterValidator(_redis_url)]
ProxyAddress = Annotated[str, AfterValidator(_proxy_address)]
CronExpression = Annotated[str, AfterValidator(lambda text: CronSchedule.parse(text).expression)]
IdList = Annotated[frozenset[int], BeforeValidator(_id_list)]
Level = Annotated[LogLevel, BeforeValidator(lambda v: v.upper() if isinstance(v, str) else v)]
Password = Annotated[str, StringConstraints(strip_whitespace=False)]  # spaces are its own
SecondsList = Annotated[tuple[Annotated[int, Ge(0)], ...], BeforeValidator(_seconds_list)]


def variable(
    name: str,
    default: Any = None,
    *,
    factory: Callable[[], Any] | None = None,
    kind: str | None = None,
    shown_default: str | None = None,
    secret: bool = False,
    **constraints: Any,
) -> Any:
    """The field read from environment variable `name`; `kind` and `shown_default` override
    what the table of docs/configuration.md derives from the type and the default."""
    extra = {"kind": kind, "shown_default": shown_default, "secret": secret or None}
    options: dict[str, Any] = {"default_factory": factory} if factory else {"default": default}
    return Field(
        alias=name,
        repr=not secret,
        json_schema_extra={key: value for key, value in extra.items() if value is not None},
        **options,
        **constraints,
    )


def describe_invalid(settings_cls: type[BaseModel], exc: ValidationError) -> InvalidSettingError:
    """One line naming each wrong variable, what it expects and (secrets excepted) what it got."""
    fields = {**settings_cls.model_fields}
    fields.update({str(f.alias): f for f in settings_cls.model_fields.values()})
    parts: dict[str, str] = {}
    for error in exc.errors():
        field = fields[str(error["loc"][0])]
        name = str(field.alias)
        if name in parts:  # one reason per variable (a list may hold several wrong items)
            continue
        if error["type"] == "value_error":
            parts[name] = f"{name}: {error['ctx']['error']}"
        elif is_secret(field):
            parts[name] = f"{name}: expected {kind(field)}"
        else:
            parts[name] = f"{name}: expected {kind(field)}, got {error['input']!r}"
    return InvalidSettingError("; ".join(parts.values()), variables=tuple(parts))


def is_secret(field: FieldInfo) -> bool:
    return bool(_extra(field).get("secret"))


def shown_default(field: FieldInfo) -> str | None:
    """The default in words, where the value itself would mislead (computed, or None)."""
    text = _extra(field).get("shown_default")
    return str(text) if text else None


def kind(field: FieldInfo) -> str:
    """What a variable holds, in words: its declared kind, else derived from its type."""
    declared = _extra(field).get("kind")
    if declared:
        return str(declared)
    annotation = field.annotation
    if get_origin(annotation) in (Union, UnionType):  # X | None
        annotation = next(a for a in get_args(annotation) if a is not type(None))
    if get_origin(annotation) is Annotated:
        annotation = get_args(annotation)[0]
    if get_origin(annotation) is Literal:
        return "one of " + ", ".join(get_args(annotation))
    if annotation is bool:
        return "0 or 1"
    if annotation is int:
        return " ".join(["integer", *(f"≥ {m.ge}" for m in field.metadata if isinstance(m, Ge))])
    return "path" if annotation is Path else "text"


def _extra(field: FieldInfo) -> dict[str, Any]:
    return field.json_schema_extra if isinstance(field.json_schema_extra, dict) else {}
