"""The peak-season replay's pieces (bench/peak.py): the arrival curve, the mix, a tiny run of both queue
disciplines through the product's real intake, and determinism (the bench tier: what the benchmark
computes, never how fast)."""

from __future__ import annotations

from collections import Counter

import pytest

from bench import peak


@pytest.fixture(scope="module")
def detector_loaded() -> None:
    """Load the language models once, outside the timed runs (the intake function does it at cold start)."""
    peak.detect_languages(peak.make_arrivals(1, 5))


def _rush(seed: int, tickets: int = 300) -> list[peak.SimTicket]:
    """The week's arrivals squeezed 16× into one Monday from 07:00: a queue forms, so priority matters."""
    arrivals = peak.make_arrivals(seed, tickets)
    for ticket in arrivals:
        lead = ticket.ship_at - ticket.at if ticket.ship_at is not None else None
        ticket.at = 7 * 3600 + ticket.at / 16
        if lead is not None:
            ticket.ship_at = ticket.at + lead
    peak.detect_languages(arrivals)
    return arrivals


def _both(arrivals: list[peak.SimTicket]) -> tuple[peak.DisciplineResult, peak.DisciplineResult]:
    shifts = peak.ShiftTable(peak.AGENTS, peak._start(), arrivals[-1].at + 3 * 86400)
    product = peak.simulate(arrivals, "product", shifts)
    fifo = peak.simulate(arrivals, "fifo", shifts)
    samples = peak._samples(arrivals, product, fifo)
    return peak.summarise(arrivals, product, samples), peak.summarise(arrivals, fifo, samples)


def test_arrival_curve_peaks_on_black_friday() -> None:
    arrivals = peak.make_arrivals(3, 2000)
    per_day = Counter(peak._day_of(ticket.at) for ticket in arrivals)
    assert set(per_day) == set(range(8))
    assert per_day.most_common(1)[0][0] == 4  # Friday 28 November
    assert per_day[4] > 2 * per_day[0]  # Black Friday ×3 the Monday before
    assert per_day[7] > per_day[6]  # Cyber Monday above the Sunday
    assert [ticket.at for ticket in arrivals] == sorted(ticket.at for ticket in arrivals)
    weights = peak.arrival_weights()
    assert max(range(len(weights)), key=weights.__getitem__) // 24 == 4


def test_mix_is_close_to_the_targets() -> None:
    arrivals = peak.make_arrivals(3, 2000)
    count = len(arrivals)
    languages = Counter(ticket.language for ticket in arrivals)
    for code, share in peak.LANGUAGE_MIX.items():
        assert abs(languages[code] / count * 100 - share) < 3, code
    intents = Counter(ticket.intent for ticket in arrivals)
    assert abs(intents["cancellation"] / count * 100 - 10) < 3
    assert abs(intents["wismo"] / count * 100 - 45) < 4
    wismo = [ticket for ticket in arrivals if ticket.intent == "wismo"]
    assert abs(sum(ticket.has_tracking for ticket in wismo) / len(wismo) - 0.6) < 0.06
    assert len({ticket.store.store_id for ticket in arrivals}) > 60
    assert Counter(store.channel.value for store in peak.STORES) == {"mirakl": 110, "email": 8, "ebay": 6, "shopify": 6}
    for ticket in arrivals:
        if ticket.intent == "cancellation":  # ordered 1–20 h before, ships 24 h after the order
            assert ticket.ship_at is not None
            assert 4 * 3600 <= ticket.ship_at - ticket.at <= 23 * 3600
    handling = sorted(ticket.handling_s / 60 for ticket in arrivals if ticket.intent != "cancellation")
    assert 3.5 < handling[len(handling) // 2] < 4.5


def test_a_tiny_run_is_complete(detector_loaded: None) -> None:
    result = peak.run(seed=5, tickets=300)  # its speed is printed by `make bench`, never asserted here
    assert len(result.product.frt) == len(result.fifo.frt) == 300
    assert result.product.unanswered == result.fifo.unanswered == 0
    assert result.product.auto_answered > 0 and result.fifo.auto_answered == 0
    assert result.product.human_work_h < result.fifo.human_work_h
    assert result.cancellation_recall > 0.8
    report = "\n".join(peak.lines(result))
    assert "| first response within 24 h (all tickets)" in report
    assert ("PASS" in report) or ("MISS" in report)


def test_the_product_answers_cancellations_sooner_than_fifo_under_load(detector_loaded: None) -> None:
    product, fifo = _both(_rush(7))
    assert product.cancellation_frt_mean < fifo.cancellation_frt_mean
    assert product.cancellation_frt_p90 <= fifo.cancellation_frt_p90
    assert product.cancellations_within_2h >= fifo.cancellations_within_2h


def test_same_seed_same_numbers(detector_loaded: None) -> None:
    first, first_fifo = _both(_rush(11, 200))
    again, again_fifo = _both(_rush(11, 200))
    assert first.frt == again.frt
    assert first_fifo.frt == again_fifo.frt
    assert first.open_series == again.open_series
    other = peak.make_arrivals(12, 200)
    assert [ticket.at for ticket in other] != [ticket.at for ticket in peak.make_arrivals(11, 200)]


def test_a_night_request_shipping_before_the_first_shift_counts_as_out_of_reach() -> None:
    """Monday 23:00 in Rome, after the late shift: an order shipping at 06:00 could not be answered by
    anyone; one shipping at 08:00 could (the early shift starts at 07:00)."""
    (ticket,) = peak.make_arrivals(1, 1)
    shifts = peak.ShiftTable(peak.AGENTS, peak._start(), 3 * 86400)
    ticket.language, ticket.at = "it", 23 * 3600
    ticket.ship_at = 30 * 3600
    assert not peak._staffed_between(shifts, ticket)
    ticket.ship_at = 32 * 3600
    assert peak._staffed_between(shifts, ticket)
