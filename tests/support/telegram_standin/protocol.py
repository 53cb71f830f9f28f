"""The Bot API's wire format: limits, parameters as they arrive, and the answer envelope."""

from __future__ import annotations

import email.parser
import email.utils
import json
from contextlib import suppress
from dataclasses import dataclass
from typing import Any
from urllib.parse import parse_qsl

JSONDict = dict[str, Any]
Params = dict[str, Any]

# Limits of the real Bot API (https://core.telegram.org/bots/api).
MAX_TEXT_LENGTH = 4096
MAX_CAPTION_LENGTH = 1024
MAX_CALLBACK_DATA_BYTES = 64
MAX_CALLBACK_ANSWER_LENGTH = 200
MAX_DOWNLOAD_BYTES = 20 * 1024 * 1024  # getFile refuses bigger files
MAX_PHOTO_UPLOAD_BYTES = 10 * 1024 * 1024
MAX_UPDATES_PER_POLL = 100

DOWNLOAD = "download"  # pseudo-method name for file downloads in logs, counters and faults
NOT_MODIFIED = (
    "message is not modified: specified new message content and reply markup are"
    " exactly the same as a current content and reply markup of the message"
)
NGINX_502 = (
    b"<html>\r\n<head><title>502 Bad Gateway</title></head>\r\n<body>\r\n"
    b"<center><h1>502 Bad Gateway</h1></center>\r\n<hr><center>nginx/1.18.0</center>\r\n"
    b"</body>\r\n</html>\r\n"
)


@dataclass(frozen=True)
class Upload:
    """A file part of a multipart request."""

    filename: str | None
    content_type: str | None
    data: bytes


class ApiError(Exception):
    """An error answer in Telegram's envelope."""

    def __init__(self, status: int, description: str, parameters: JSONDict | None = None) -> None:
        super().__init__(description)
        self.status = status
        self.description = description
        self.parameters = parameters


def bad_request(detail: str) -> ApiError:
    return ApiError(400, f"Bad Request: {detail}")


def envelope(result: Any) -> bytes:
    return json.dumps({"ok": True, "result": result}, ensure_ascii=False).encode("utf-8")


def error_envelope(error: ApiError) -> bytes:
    body: JSONDict = {"ok": False, "error_code": error.status, "description": error.description}
    if error.parameters:
        body["parameters"] = error.parameters
    return json.dumps(body, ensure_ascii=False).encode("utf-8")


def parse_params(query: str, content_type: str, boundary: str | None, body: bytes) -> Params:
    """Merge query-string and body parameters the way the Bot API accepts them."""
    params: Params = dict(parse_qsl(query, keep_blank_values=True))
    if not body:
        return params
    if content_type == "application/json":
        try:
            decoded = json.loads(body)
        except ValueError as exc:
            raise bad_request("can't parse JSON body") from exc
        if not isinstance(decoded, dict):
            raise bad_request("JSON body must be an object")
        params.update(decoded)
    elif content_type == "multipart/form-data":
        params.update(_parse_multipart(body, boundary))
    else:  # Telegram treats anything else as urlencoded
        params.update(parse_qsl(body.decode("utf-8", "replace"), keep_blank_values=True))
    return params


def _parse_multipart(body: bytes, boundary: str | None) -> Params:
    if not boundary:
        raise bad_request("multipart body without boundary")
    params: Params = {}
    header_parser = email.parser.BytesHeaderParser()
    # The CRLF before each delimiter belongs to the delimiter, so split on it too.
    for part in (b"\r\n" + body).split(b"\r\n--" + boundary.encode("latin-1"))[1:]:
        if part.startswith(b"--"):
            break  # closing delimiter
        head, separator, data = part.removeprefix(b"\r\n").partition(b"\r\n\r\n")
        if not separator:
            continue
        headers = header_parser.parsebytes(head + b"\r\n\r\n")
        name = headers.get_param("name", header="content-disposition")
        if not name:
            continue
        name = email.utils.collapse_rfc2231_value(name)
        filename = headers.get_filename()
        if filename is not None:
            params[name] = Upload(filename, headers.get("content-type"), data)
        else:
            params[name] = data.decode("utf-8", "replace")
    return params


# Values arrive as strings from form posts and are coerced per parameter, as Telegram does.


def opt_str(params: Params, name: str) -> str | None:
    value = params.get(name)
    if value is None or isinstance(value, Upload):
        return None
    return value if isinstance(value, str) else json.dumps(value)


def opt_int(params: Params, name: str) -> int | None:
    value = params.get(name)
    if value is None or value == "":
        return None
    if isinstance(value, int) and not isinstance(value, bool):
        return value
    if isinstance(value, float) and value.is_integer():
        return int(value)
    if isinstance(value, str):
        with suppress(ValueError):
            return int(value.strip())
    raise bad_request(f"invalid {name} specified")


def opt_float(params: Params, name: str) -> float | None:
    value = params.get(name)
    if value is None or value == "":
        return None
    try:
        return float(value)
    except (TypeError, ValueError) as exc:
        raise bad_request(f"invalid {name} specified") from exc


def opt_bool(params: Params, name: str) -> bool:
    value = params.get(name)
    if isinstance(value, str):
        return value.strip().lower() in ("true", "1", "yes")
    return bool(value)


def opt_json(params: Params, name: str) -> Any:
    """Form posts carry objects JSON-encoded inside a string; JSON posts carry them as is."""
    value = params.get(name)
    if not isinstance(value, str):
        return value
    if value == "":
        return None
    try:
        return json.loads(value)
    except ValueError as exc:
        raise bad_request(f"can't parse {name} JSON object") from exc


def summarise_params(params: Params) -> Params:
    """The parameters with each upload replaced by a one-line summary, for the records."""
    return {
        key: f"<upload {value.filename!r}, {len(value.data)} bytes>"
        if isinstance(value, Upload)
        else value
        for key, value in params.items()
    }


def utf16_length(text: str) -> int:
    """Length as the Bot API counts entity offsets: in UTF-16 code units."""
    return len(text.encode("utf-16-le")) // 2
