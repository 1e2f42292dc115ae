"""Shapes the generated schemas share.

`Text` and `Json` are what PostgreSQL can store: a text value or a JSON
document with a NUL character is refused by the database, so the API
refuses it first, as a 422 naming the field. `Email` and `Url` are text in
the shape their OpenAPI `format` promises (`name@host.tld`; a scheme, then
no spaces), checked as loosely as that.
"""

from __future__ import annotations

import re
from typing import Annotated, Any

from pydantic import AfterValidator, BaseModel

_NUL = "\x00"


def _text(value: str) -> str:
    if _NUL in value:
        raise ValueError("a NUL character (\\u0000) cannot be stored")
    return value


def _json(value: Any) -> Any:
    if isinstance(value, str):
        _text(value)
    elif isinstance(value, dict):
        for key, item in value.items():
            _text(str(key))
            _json(item)
    elif isinstance(value, list):
        for item in value:
            _json(item)
    return value


def _shaped(pattern: str, what: str) -> AfterValidator:
    compiled = re.compile(pattern)

    def check(value: str) -> str:
        if not compiled.fullmatch(value):
            raise ValueError(f"not {what}")
        return value

    return AfterValidator(check)


#: A string a text column can hold.
Text = Annotated[str, AfterValidator(_text)]
#: An email address: something@host.tld (the same check as sign-up's).
Email = Annotated[Text, _shaped(r"[^@\s]+@[^@\s]+\.[^@\s]+", "an email address")]
#: An absolute URL: a scheme, a colon, no whitespace.
Url = Annotated[Text, _shaped(r"[A-Za-z][A-Za-z0-9+.-]*:\S+", "a URL")]
#: A JSON document a jsonb column can hold.
Json = Annotated[Any, AfterValidator(_json)]


class PolyRef(BaseModel):
    """A reference to one of several entities: which one, and its key."""

    type: Text
    id: Text
