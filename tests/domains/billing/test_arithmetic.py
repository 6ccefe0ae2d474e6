"""Day rules and tiers against hand-computed values: month ends, February of leap and common years,
every band edge; and the one rounding rule. Pure arithmetic: no database."""

from __future__ import annotations

from datetime import date
from decimal import Decimal

import pytest

from engine.domains.billing import dayrules, money, tiers

D = Decimal
MONTHLY = D("3100")
YEARLY = D("36500")


@pytest.mark.parametrize(("rule", "day", "line"), [
    ("month_div_31", date(2026, 1, 31), "100.00"),
    ("month_div_31", date(2024, 2, 29), "100.00"),
    ("month_x12_div_365", date(2024, 2, 29), "101.92"),  # 37200 / 365 = 101.9178...
    ("month_x12_div_365", date(2026, 12, 31), "101.92"),
    ("month_div_days_in_month", date(2026, 1, 31), "100.00"),
    ("month_div_days_in_month", date(2026, 4, 30), "103.33"),  # 3100 / 30 = 103.333...
    ("month_div_days_in_month", date(2024, 2, 29), "106.90"),  # leap February: 3100 / 29 = 106.8965...
    ("month_div_days_in_month", date(2026, 2, 28), "110.71"),  # common February: 3100 / 28 = 110.7142...
    ("month_x12_div_days_in_year", date(2024, 2, 1), "101.64"),  # 37200 / 366 = 101.6393...
    ("month_x12_div_days_in_year", date(2026, 2, 1), "101.92"),
])
def test_every_monthly_day_rule_gives_the_hand_computed_day_price(rule, day, line):
    assert money.round_line(dayrules.day_price(MONTHLY, "month", rule, day)) == D(line)


@pytest.mark.parametrize(("rule", "day", "line"), [
    ("year_div_365", date(2024, 12, 31), "100.00"),
    ("year_div_365", date(2026, 6, 1), "100.00"),
    ("year_div_days_in_year", date(2024, 2, 29), "99.73"),  # 36500 / 366 = 99.7267...
    ("year_div_days_in_year", date(2026, 2, 28), "100.00"),
])
def test_every_yearly_day_rule_gives_the_hand_computed_day_price(rule, day, line):
    assert money.round_line(dayrules.day_price(YEARLY, "year", rule, day)) == D(line)


def test_the_fixed_day_rule_takes_its_own_price_for_months_and_years():
    assert dayrules.day_price(MONTHLY, "month", "fixed_day", date(2024, 2, 29), D("99.99")) == D("99.99")
    assert dayrules.day_price(YEARLY, "year", "fixed_day", date(2026, 1, 1), D("88")) == D("88")


def test_a_rule_of_the_other_unit_is_refused():
    with pytest.raises(ValueError):
        dayrules.day_price(MONTHLY, "month", "year_div_365", date(2026, 1, 1))
    with pytest.raises(ValueError):
        dayrules.day_price(MONTHLY, "hour", "month_div_31", date(2026, 1, 1))


def test_a_whole_february_billed_daily_sums_rounded_lines():
    """One line a day, each rounded: 29 x 106.90 in a leap February, 28 x 110.71 in a common one."""
    for year, days, total in ((2024, 29, "3100.10"), (2026, 28, "3099.88")):
        lines = [money.round_line(dayrules.day_price(MONTHLY, "month", "month_div_days_in_month", date(year, 2, d)))
                 for d in range(1, days + 1)]
        assert sum(lines) == D(total)


BANDS = tiers.check([{"up_to": "100", "price": "1"}, {"up_to": "200", "price": "2"}, {"up_to": None, "price": "3"}])


@pytest.mark.parametrize(("quantity", "graduated", "volume"), [
    ("0", "0", "0"),
    ("1", "1", "1"),
    ("100", "100", "100"),  # an edge belongs to the lower band
    ("100.000001", "100.000002", "200.000002"),
    ("101", "102", "202"),
    ("150", "200", "300"),  # the example: 100 x 1 + 50 x 2, or 150 x 2
    ("200", "300", "400"),
    ("201", "303", "603"),
])
def test_graduated_and_volume_at_every_band_edge(quantity, graduated, volume):
    assert tiers.graduated(D(quantity), BANDS) == D(graduated)
    assert tiers.volume(D(quantity), BANDS) == D(volume)


@pytest.mark.parametrize(("bands", "problem"), [
    ([], "a list of 1"),
    ([{"up_to": "100", "price": "1"}], "the last band must be open"),
    ([{"up_to": None, "price": "1"}, {"up_to": None, "price": "2"}], "only the last band"),
    ([{"up_to": "100", "price": "1"}, {"up_to": "50", "price": "2"}, {"up_to": None, "price": "3"}], "above"),
    ([{"up_to": None, "price": "-1"}], "non-negative"),
])
def test_bands_that_do_not_make_sense_are_refused(bands, problem):
    assert problem in tiers.check(bands)


@pytest.mark.parametrize(("amount", "line"), [("0.005", "0.01"), ("0.0049999", "0.00"), ("-0.005", "-0.01"),
                                              ("2.675", "2.68"), ("100.00", "100.00")])
def test_a_line_is_rounded_once_to_the_cent_half_up(amount, line):
    assert money.round_line(D(amount)) == D(line)


def test_amounts_are_read_exactly_and_never_from_binary_floats():
    assert money.parse("0.1") == D("0.1")
    assert money.parse(0.1) == D("0.1")  # a JSON number: its literal, not the binary float
    assert money.parse("1e400") is None or money.parse("1e400").is_finite()
    assert money.parse("NaN") is None and money.parse(True) is None and money.parse("-1") is None
    assert money.parse("1.234", places=2) is None
