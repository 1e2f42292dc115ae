"""What-if of bench/api_speed.py (`--what-if`): the generated app, rows kept as native values.

`runtime.api.reading` turns every value of a row into a JSON-ready string
(`json_value`: uuids, datetimes, decimals) and the generated route's
`response_model` then parses those strings back into UUID, datetime and
Decimal before pydantic serialises them again. This module serves the
generated app unchanged except `_Reader.decode`, which keeps the driver's
values (lists still go through `json_value`), to measure what that round
trip costs. The JSON must stay identical; bench/api_speed.py checks it.

    APIBENCH_PACKAGE=<generated package> uvicorn bench.api_whatif:app
"""

from __future__ import annotations

import importlib
import os
from collections.abc import Sequence
from typing import Any

from sqlalchemy.engine import RowMapping

from runtime.api import reading


def decode(self: Any, outs: Sequence[Any], record: RowMapping) -> dict[str, Any]:
    item: dict[str, Any] = {}
    for out in outs:
        if out.visible is not None and not record[out.visible]:
            continue
        value = record[out.label]
        if isinstance(value, list | tuple):
            value = reading.json_value(value)
        if out.poly_type is not None and value is not None:
            value = {"type": record[out.poly_type], "id": reading.json_value(value)}
        item[out.field.name] = value
    return item


reading._Reader.decode = decode  # type: ignore[method-assign]
app = importlib.import_module(os.environ["APIBENCH_PACKAGE"] + ".api.app").app
