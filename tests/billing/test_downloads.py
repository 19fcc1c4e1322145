"""The CSV downloads' shared parts (billing/web/downloads.py): the response and money as decimals."""

from __future__ import annotations

from datetime import date

import pytest
from hypothesis import given
from hypothesis import strategies as st

from billing.invoices import EXPONENTS, money_format
from billing.web.downloads import csv_response, csv_safe, money_decimal

BIGINT = st.integers(min_value=-(2**63), max_value=2**63 - 1)


@pytest.mark.parametrize(
    ("amount", "currency", "text"),
    [
        (123456, "USD", "1234.56"),
        (-5, "USD", "-0.05"),
        (0, "USD", "0.00"),
        (100, "EUR", "1.00"),
        (5, "JPY", "5"),
        (-1234567, "JPY", "-1234567"),
        (0, "KWD", "0.000"),
        (1, "CLF", "0.0001"),
        (2**63 - 1, "USD", "92233720368547758.07"),
        (7, "XYZ", "0.07"),  # an unknown currency has 2 digits, as in money_format
    ],
)
def test_money_decimal_examples(amount, currency, text):
    assert money_decimal(amount, currency) == text


@given(amount=BIGINT, currency=st.sampled_from(["USD", "XYZ", *EXPONENTS]))
def test_money_decimal_is_money_format_without_separators_or_currency(amount, currency):
    """What the downloads wrote before (``money_format`` cut at the space, commas dropped)."""
    assert money_decimal(amount, currency) == money_format(amount, currency).split(" ")[0].replace(",", "")


def test_csv_response_is_a_csv_file_download():
    response = csv_response(
        "trends-2025-03-01-2025-03-05.csv",
        ["day", "name", "amount"],
        ([date(2025, 3, 1), "a, b", n] for n in (1, -2)),
    )
    assert response.status_code == 200
    assert response["Content-Type"] == "text/csv; charset=utf-8"
    assert response["Content-Disposition"] == 'attachment; filename="trends-2025-03-01-2025-03-05.csv"'
    assert response.content == b'day,name,amount\r\n2025-03-01,"a, b",1\r\n2025-03-01,"a, b",-2\r\n'


def test_a_header_without_rows_is_one_line():
    assert csv_response("x.csv", ["a", "b"], []).content == b"a,b\r\n"


@pytest.mark.parametrize(
    ("text", "cell"),
    [("=SUM(A1)", "'=SUM(A1)"), ("+1", "'+1"), ("-1", "'-1"), ("@x", "'@x"), ("Lidar", "Lidar"), ("", "")],
)
def test_csv_safe_quotes_what_a_spreadsheet_would_run(text, cell):
    assert csv_safe(text) == cell
