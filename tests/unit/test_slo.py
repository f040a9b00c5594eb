"""The call window and SLO burn rates: windows in seconds, calls placed at chosen times."""

from __future__ import annotations

import contextlib

import pytest
from pydantic import SecretStr

from aegis_ray.config import BurnWindow, LeasePolicy, SloObjective, SloSettings, WindowPolicy
from aegis_ray.control.slo import burn_rate, evaluate_slo
from aegis_ray.errors import ProviderServerError
from aegis_ray.providers import EndpointConfig, FunctionModel, ModelEndpoint, ModelRef
from aegis_ray.providers.admission import EndpointAuthority, LeasedAdmission
from aegis_ray.providers.window import CallSample, CallWindow, WindowBucket, combined
from aegis_ray.types import Message, ModelRequest

pytestmark = pytest.mark.unit

NOW = 1_000_000.0
MODEL = "openai:gpt-4o-mini"
# The workbook's pair of alerts, shrunk from hours to seconds.
SETTINGS = SloSettings(
    default=SloObjective(latency_p95_s=1.0, error_rate=0.02),
    windows=[BurnWindow(name="fast", long_s=60, short_s=5, burn_rate=14.4, severity="page"),
             BurnWindow(name="slow", long_s=360, short_s=30, burn_rate=6, severity="ticket")],
    min_calls=10)


def window(*spans: tuple[float, float, int, float, float]) -> CallWindow:
    """Calls spread evenly over `(start, end)` seconds before NOW: `count` of them, that share failing,
    each taking `latency_s`."""
    found = CallWindow(policy=WindowPolicy(bucket_s=1, retain_s=600))
    for start, end, count, failing, latency_s in spans:
        for i in range(count):
            at = NOW - start + (start - end) * i / count
            error = "ProviderServerError" if int((i + 1) * failing) > int(i * failing) else None  # spread evenly
            found.add([CallSample(at=at, latency_s=latency_s, error=error, cost_usd=0.001, tokens=10)])
    return found


def alert(report: object, name: str, indicator: str) -> object:
    return next(a for a in report.alerts if a.window == name and a.indicator == indicator)  # type: ignore[attr-defined]


def test_a_bucket_knows_rates_quantiles_and_the_share_of_slow_calls() -> None:
    bucket = WindowBucket()
    for i in range(100):
        bucket.add(CallSample(at=0, latency_s=0.1 if i < 90 else 2.0, error="X" if i < 3 else None, cost_usd=0.01))
    assert bucket.error_rate == pytest.approx(0.03) and bucket.cost_per_call == pytest.approx(0.01)
    assert bucket.latency_quantile(0.5) == pytest.approx(0.1, rel=0.2)
    assert bucket.latency_quantile(0.95) == pytest.approx(2.0, rel=0.2)
    assert bucket.share_slower(1.0) == pytest.approx(0.10)
    assert bucket.share_slower(0.5) == pytest.approx(0.10) and bucket.share_slower(3.0) == 0


def test_the_window_keeps_only_retain_s_and_spans_do_not_overlap() -> None:
    found = CallWindow(policy=WindowPolicy(bucket_s=1, retain_s=10))
    for second in range(100):
        found.add([CallSample(at=NOW - 100 + second, latency_s=0.1)])
    assert len(found.buckets) <= 11
    assert found.last(5, NOW).calls == 5
    assert found.span(NOW - 6, NOW - 3).calls + found.span(NOW - 3, NOW).calls == found.span(NOW - 6, NOW).calls
    doubled = combined(found, found)
    assert doubled.last(5, NOW).calls == 10 and found.last(5, NOW).calls == 5


def test_a_fast_burn_over_both_windows_pages() -> None:
    report = evaluate_slo(MODEL, window((60, 0, 600, 0.5, 0.1)), SETTINGS, now=NOW)
    fast = alert(report, "fast", "errors")
    assert fast.firing and fast.long_burn == pytest.approx(25, rel=0.05)  # type: ignore[attr-defined]
    assert report.status == "breach" and report.error_rate == pytest.approx(0.5, rel=0.05)
    assert not alert(report, "fast", "latency").firing  # type: ignore[attr-defined]


def test_a_burn_that_stopped_does_not_page_though_the_long_window_still_shows_it() -> None:
    # failures 60..30 s ago, clean since: the long window burns, the short one does not
    report = evaluate_slo(MODEL, window((60, 30, 300, 1.0, 0.1), (30, 0, 300, 0.0, 0.1)), SETTINGS, now=NOW)
    fast = alert(report, "fast", "errors")
    assert fast.long_burn > SETTINGS.windows[0].burn_rate and fast.short_burn == 0  # type: ignore[attr-defined]
    assert not fast.firing  # type: ignore[attr-defined]


def test_a_slow_steady_burn_opens_a_ticket_not_a_page() -> None:
    # 15% of calls slower than the 1 s objective: burn 3 over the fast pair, 3 over the slow one...
    report = evaluate_slo(MODEL, window((360, 0, 3600, 0.0, 0.1)), SETTINGS, now=NOW)
    assert report.status == "ok"
    # ...and a steady 15% failing: burn 7.5, past the ticket's 6, short of the page's 14.4
    report = evaluate_slo(MODEL, window((360, 0, 3600, 0.15, 0.1)), SETTINGS, now=NOW)
    assert alert(report, "slow", "errors").firing and not alert(report, "fast", "errors").firing  # type: ignore
    assert report.status == "warning"


def test_slow_calls_burn_the_latency_budget() -> None:
    report = evaluate_slo(MODEL, window((60, 0, 300, 0.0, 3.0)), SETTINGS, now=NOW)
    latency = alert(report, "fast", "latency")
    assert latency.firing and latency.long_burn == pytest.approx(20)  # type: ignore[attr-defined]
    assert report.latency_p95_s == pytest.approx(3.0, rel=0.2) and report.status == "breach"


def test_too_few_calls_are_no_data_and_per_endpoint_objectives_override_the_default() -> None:
    assert evaluate_slo(MODEL, window((60, 0, 5, 1.0, 9.0)), SETTINGS, now=NOW).status == "no_data"
    own = SETTINGS.model_copy(update={"endpoints": {MODEL: SloObjective(latency_p95_s=5.0)}})
    assert own.objective(MODEL) == SloObjective(latency_p95_s=5.0, error_rate=0.02)
    assert evaluate_slo(MODEL, window((60, 0, 300, 0.0, 3.0)), own, now=NOW).status == "ok"
    assert burn_rate(WindowBucket(), SETTINGS.default, "errors") is None


def test_windows_longer_than_the_measurements_kept_are_refused() -> None:
    with pytest.raises(ValueError, match="kept"):
        SloSettings(windows=[BurnWindow(name="week", long_s=7 * 86400, short_s=3600, burn_rate=2)])


async def test_calls_reach_the_authoritys_window_through_leased_reports() -> None:
    """What the `ProviderActor` holds: every process's calls, in the reports they already send."""
    calls = 0

    def model(messages: tuple[Message, ...], info: object) -> str:
        nonlocal calls
        calls += 1
        if calls % 4 == 0:
            raise ProviderServerError("simulated 500", model=MODEL, status=500)
        return "Canberra."

    config = EndpointConfig(ref=ModelRef(provider="openai", model="gpt-4o-mini"), api_key=SecretStr("x"),
                            lease=LeasePolicy(report_s=0.01), retry={"max_attempts": 1})  # type: ignore[arg-type]
    authority = EndpointAuthority(config, WindowPolicy(bucket_s=1))
    endpoint = ModelEndpoint(config, adapter=FunctionModel(model, MODEL), admission=LeasedAdmission(authority, config))
    for _ in range(20):
        with contextlib.suppress(ProviderServerError):
            await endpoint.complete(ModelRequest(messages=(Message.user("capital of Australia?"),)))
    seen = (await endpoint.window()).last(60)
    assert seen.calls == 20 and seen.errors == 5 and seen.error_kinds == {"ProviderServerError": 5}
    assert seen.cost_usd > 0 and seen.tokens > 0
    assert (await authority.stats()).calls == 20  # the counters as before, without the samples
    await endpoint.aclose()
