"""``{% load money %}``: ``{{ amount|money:currency }}`` renders minor units as money
(``billing.invoices.money_format``), ``{{ value|percent }}`` a 0–1 fraction as a percentage."""

from django import template

from billing.invoices import money_format

register = template.Library()


@register.filter
def money(amount, currency="USD"):
    if amount is None or amount == "":
        return "—"
    return money_format(int(amount), currency or "USD")


@register.filter
def percent(value, digits=0):
    if value is None or value == "":
        return "—"
    return f"{float(value) * 100:.{int(digits)}f}%"


@register.filter
def bp(value):
    """Basis points as a percentage: ``1234`` → ``12.34%``."""
    if value is None or value == "":
        return "—"
    value = int(value)
    sign = "-" if value < 0 else ""
    whole, frac = divmod(abs(value), 100)
    return f"{sign}{whole}.{frac:02d}%"


@register.filter
def ms_hours(value):
    """Milliseconds as hours with two decimals: ``5_400_000`` → ``1.50``."""
    if value is None or value == "":
        return "—"
    hundredths = (int(value) * 100 + 1_800_000) // 3_600_000
    return f"{hundredths // 100}.{hundredths % 100:02d}"
