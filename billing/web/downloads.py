"""CSV downloads (the ops trends, the staff payouts, a client's invoice): one response shape, and
money as a plain decimal next to its minor units.

``csv_response(filename, header, rows)`` writes the header and the rows with ``csv.writer`` (its
defaults: ``,``, ``"`` where needed, ``\\r\\n``) into a ``text/csv; charset=utf-8`` response that
downloads as ``filename``. ``money_decimal`` is the amount in major units with the currency's
minor-unit digits (``billing.invoices.EXPONENTS``), without thousands separators or currency code,
so a spreadsheet reads it as a number. ``csv_safe`` keeps a free-text cell (a name someone typed)
from being run as a formula by a spreadsheet.
"""

from __future__ import annotations

import csv
import io
from collections.abc import Iterable, Sequence
from decimal import Decimal

from django.http import HttpResponse

from billing.invoices import EXPONENTS

CONTENT_TYPE = "text/csv; charset=utf-8"
FORMULA_STARTS = ("=", "+", "-", "@", "\t", "\r")


def csv_response(filename: str, header: Sequence[str], rows: Iterable[Sequence]) -> HttpResponse:
    out = io.StringIO()
    writer = csv.writer(out)
    writer.writerow(header)
    writer.writerows(rows)
    response = HttpResponse(out.getvalue(), content_type=CONTENT_TYPE)
    response["Content-Disposition"] = f'attachment; filename="{filename}"'
    return response


def money_decimal(amount: int, currency: str) -> str:
    """Minor units as a decimal in major units: ``123456, "USD"`` → ``"1234.56"``; ``-5, "USD"`` →
    ``"-0.05"``; ``5, "JPY"`` → ``"5"``; ``0, "KWD"`` → ``"0.000"`` (exact: ``Decimal``, no float)."""
    exponent = EXPONENTS.get(currency, 2)
    return f"{Decimal(amount).scaleb(-exponent).quantize(Decimal(1).scaleb(-exponent)):f}"


def csv_safe(text: str) -> str:
    """A cell a spreadsheet would run as a formula (``=``, ``+``, ``-``, ``@``) is quoted with ``'``."""
    return "'" + text if text[:1] in FORMULA_STARTS else text
