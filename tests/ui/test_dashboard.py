"""The dashboard at /ui/, used as a person would (keyboard and clicks, in chromium), checked
against what the API answers to the same key."""

from __future__ import annotations

import re
from typing import Any

import httpx
from playwright.sync_api import Page, expect

from tests.gateway.conftest import RunningGateway

# uPlot's stroke of the first and second series (gateway/static/ui/charts.js).
ACTIVITY_STROKE = (0x1B, 0x6A, 0xC9)
BEST_STROKE = (0xC2, 0x41, 0x0C)
# A chart's container carries data-drawn once uPlot has drawn it.
DRAWN = re.compile(r"^\d+$")


def sign_in(page: Page, stack: RunningGateway, *, admin_key: str | None = None) -> None:
    """Open /ui/ and give it the key with the keyboard alone."""
    page.goto(f"{stack.url}/ui/")
    key = page.get_by_label("Gateway API key")
    expect(key).to_be_focused()
    page.keyboard.type(stack.key)
    if admin_key is not None:
        page.keyboard.press("Tab")  # past the key's hint to the operator key
        expect(page.get_by_label("Operator key (optional)")).to_be_focused()
        page.keyboard.type(admin_key)
    page.keyboard.press("Enter")
    expect(page.locator("body")).to_have_attribute("data-loaded", "true")
    assert stack.key not in page.url


def walk(client: httpx.Client, path: str, limit: int, pages: int) -> list[list[str]]:
    """The ids of the first `pages` pages of a list, following next_cursor."""
    found: list[list[str]] = []
    cursor: str | None = None
    for _ in range(pages):
        answer = client.get(path, params={"limit": limit, **({"cursor": cursor} if cursor else {})})
        answer.raise_for_status()
        found.append([item["id"] for item in answer.json()["items"]])
        cursor = answer.json()["next_cursor"]
        assert cursor is not None
    return found


def shown_activities(page: Page) -> list[str]:
    rows = page.locator("#activities-table tbody tr")
    return [rows.nth(i).get_attribute("data-activity-id") or "" for i in range(rows.count())]


def a_ride(client: httpx.Client) -> dict[str, Any]:
    """A recorded SweatStack ride with power and heart rate."""
    answer = client.get(
        "/v1/activities",
        params={"provider": "sweatstack", "sport": "cycling", "status": "completed", "limit": 50},
    )
    answer.raise_for_status()
    rides = [a for a in answer.json()["items"] if {"power", "heart_rate"} <= set(a["metrics"])]
    assert rides, answer.json()
    ride: dict[str, Any] = rides[0]
    return ride


def open_activity(page: Page, activity_id: str) -> None:
    """Page through the list until the activity's row is there, and open it."""
    table = page.locator("#activities-table")
    page.get_by_label("Activities per page").select_option("50")
    row = table.locator(f'tbody tr[data-activity-id="{activity_id}"]')
    for _ in range(20):
        expect(table).to_have_attribute("aria-busy", "false")
        if row.count():
            break
        page.get_by_role("button", name="Next page of activities").click()
    row.get_by_role("button").click()
    expect(page.locator("#activity-heading")).to_be_focused()


def stroke_pixels(page: Page, selector: str, colour: tuple[int, int, int]) -> int:
    """How many pixels of the chart's canvas are (nearly) the given stroke colour."""
    count: int = page.evaluate(
        """([selector, [r, g, b]]) => {
            const canvas = document.querySelector(selector + " canvas");
            const pixels = canvas.getContext("2d").getImageData(0, 0, canvas.width, canvas.height).data;
            let found = 0;
            for (let i = 0; i < pixels.length; i += 4) {
                const d = Math.abs(pixels[i] - r) + Math.abs(pixels[i + 1] - g) + Math.abs(pixels[i + 2] - b);
                if (pixels[i + 3] > 200 && d < 60) found += 1;
            }
            return found;
        }""",
        [selector, list(colour)],
    )
    return count


def test_pages_through_activities_as_the_api_walks_them(page: Page, stack: RunningGateway) -> None:
    sign_in(page, stack)
    with stack.client() as client:
        expected = walk(client, "/v1/activities", limit=5, pages=3)
    page.get_by_label("Activities per page").select_option("5")
    expect(page.locator("#activities-page")).to_have_text("Page 1, 5 activities")
    assert shown_activities(page) == expected[0]
    expect(page.get_by_role("button", name="Previous page of activities")).to_be_disabled()
    for number in (2, 3):
        page.get_by_role("button", name="Next page of activities").click()
        expect(page.locator("#activities-page")).to_have_text(f"Page {number}, 5 activities")
        assert shown_activities(page) == expected[number - 1]
    page.get_by_role("button", name="Previous page of activities").click()
    expect(page.locator("#activities-page")).to_have_text("Page 2, 5 activities")
    assert shown_activities(page) == expected[1]


def test_a_rides_mean_max_chart_plots_the_apis_curves_with_attribution(
    page: Page, stack: RunningGateway
) -> None:
    with stack.client() as client:
        ride = a_ride(client)
        own = client.get(f"/v1/activities/{ride['id']}/mean-max", params={"metric": "power"})
        best = client.get(
            "/v1/activities/longitudinal-mean-max",
            params={"metric": "power", "sport": "cycling", "after": 0},
        )
    own_points = {p["duration_s"]: p for p in own.json()["points"]}
    best_points = {p["duration_s"]: p for p in best.json()["points"]}
    assert own_points and best_points
    sign_in(page, stack)
    open_activity(page, ride["id"])
    chart = page.locator("#mean-max-chart")
    expect(chart).to_have_attribute("data-drawn", DRAWN)
    expect(page.get_by_label("Mean-max metric")).to_have_value("power")

    plotted = page.evaluate("() => window.dashboard.charts.meanMax.data")
    durations = sorted(own_points.keys() | best_points.keys())
    assert plotted[0] == durations
    assert plotted[1] == [own_points[d]["value"] if d in own_points else None for d in durations]
    assert plotted[2] == [best_points[d]["value"] if d in best_points else None for d in durations]
    # Both curves are on the canvas, not only in the data handed to uPlot.
    assert stroke_pixels(page, "#mean-max-chart", ACTIVITY_STROKE) > 50
    assert stroke_pixels(page, "#mean-max-chart", BEST_STROKE) > 50

    # Each best-ever point names its activity: in the table, and at the keyboard's cursor.
    for duration, point in best_points.items():
        row = page.locator(f'#mean-max-table tbody tr[data-duration="{duration}"]')
        expect(row.locator("td").nth(3)).to_have_text(point["activity_id"])
        expect(row.locator("td").nth(4)).to_have_text(point["provider"])
    chart.focus()
    page.keyboard.press("Home")
    first = best_points[durations[0]]
    expect(page.locator("#mean-max-point")).to_contain_text(first["activity_id"])
    page.keyboard.press("ArrowRight")
    second = best_points[durations[1]]
    expect(page.locator("#mean-max-point")).to_contain_text(f"{second['activity_id']} (")
    assert page.evaluate("() => window.dashboard.charts.meanMax.cursor.idx") == 1


def test_an_hr_fit_draws_measured_against_predicted_and_keeps_the_estimates(
    page: Page, stack: RunningGateway
) -> None:
    with stack.client() as client:
        ride = a_ride(client)
        samples = client.get(
            f"/v1/activities/{ride['id']}/data",
            params={"metrics": "heart_rate,power"},
            headers={"Accept": "application/json"},
        ).json()["data"]
    measured = [
        (t, hr)
        for t, hr, power in zip(
            samples["duration"], samples["heart_rate"], samples["power"], strict=True
        )
        if t is not None and hr is not None and power is not None and hr > 0
    ]
    sign_in(page, stack)
    open_activity(page, ride["id"])
    page.get_by_role("button", name="Fit the heart-rate model").click()
    expect(page.locator("#hr-history-chart")).to_have_attribute("data-drawn", DRAWN)
    expect(page.locator("#status")).to_contain_text(f"{len(measured)} samples")

    fit = page.evaluate("() => window.dashboard.charts.hrFit.data")
    assert fit[0] == [t for t, _ in measured]
    assert fit[1] == [hr for _, hr in measured]
    assert len(fit[2]) == len(measured) and all(50 < bpm < 220 for bpm in fit[2])
    assert stroke_pixels(page, "#hr-fit-chart", ACTIVITY_STROKE) > 50
    assert stroke_pixels(page, "#hr-fit-chart", BEST_STROKE) > 50

    # The memory's estimates the page shows are the ones the gateway kept.
    with stack.client() as client:
        profile = client.get("/v1/hr-model/profile", params={"sport": "cycling"}).json()
    latest = profile["history"][0]
    memory = page.locator('#hr-estimates tr[data-estimate="P"] td').nth(1)
    expect(memory).to_have_text(f"{latest['trueP']:.4f}".rstrip("0").rstrip("."))
    history = page.evaluate("() => window.dashboard.charts.hrHistory.data")
    assert history[1] == [entry["trueP"] for entry in reversed(profile["history"])]


def test_disconnects_and_connects_a_provider_through_its_oauth_flow(
    page: Page, stack: RunningGateway
) -> None:
    sign_in(page, stack)
    row = page.locator('#providers-table tr[data-provider="astral"]')
    expect(row).to_have_attribute("data-status", "active")
    page.get_by_role("button", name="Disconnect Astral (nexrex)").click()
    expect(row).to_have_attribute("data-status", "none")
    expect(page.locator("#status")).to_contain_text("Disconnected astral")
    with stack.client() as client:
        assert "astral" not in {c["provider"] for c in client.get("/v1/connections").json()}
    expect(page.locator('#activities-table tbody tr[data-activity-id^="astral:"]')).to_have_count(0)

    # Connect: the page asks the gateway for the authorization URL, the browser goes to the
    # provider (the mock approves), comes back through the gateway's callback to /ui/.
    with page.expect_navigation(url=f"{stack.url}/ui/?connected=astral"):
        page.get_by_role("button", name="Connect Astral (nexrex)").click()
    expect(page.locator("#status")).to_have_text("Connected astral.")
    expect(page.locator("body")).to_have_attribute("data-loaded", "true")
    expect(row).to_have_attribute("data-status", "active")
    assert page.url == f"{stack.url}/ui/"  # the query is tidied away, and no key was ever in it
    with stack.client() as client:
        connections = {c["provider"]: c for c in client.get("/v1/connections").json()}
    assert connections["astral"]["status"] == "active"
    expect(row.locator("td.sync")).to_contain_text("activity:")


def test_lab_tests_dailies_and_the_webhook_log_match_the_api(
    page: Page, stack: RunningGateway
) -> None:
    sign_in(page, stack, admin_key=stack.demo.admin_key)
    with stack.client() as client:
        tests = client.get("/v1/tests", params={"limit": 10}).json()["items"]
        start = page.get_by_label("Dailies from").input_value()
        end = page.get_by_label("Dailies to").input_value()
        dailies = client.get("/v1/dailies", params={"start": start, "end": end}).json()["items"]
    with stack.client(stack.demo.admin_key) as operator:
        (endpoint,) = operator.get("/v1/webhooks").json()["items"]
        deliveries = operator.get(f"/v1/webhooks/{endpoint['id']}/deliveries").json()["items"]
    assert tests and dailies and deliveries
    rows = page.locator("#tests-table tbody tr")
    expect(rows).to_have_count(len(tests))
    assert [rows.nth(i).get_attribute("data-test-id") for i in range(len(tests))] == [
        t["id"] for t in tests
    ]
    expect(page.locator("#dailies-table tbody tr")).to_have_count(len({d["date"] for d in dailies}))
    shown = page.locator("#deliveries-table tbody tr")
    expect(shown).to_have_count(len(deliveries))
    assert [shown.nth(i).get_attribute("data-delivery-id") for i in range(len(deliveries))] == [
        d["id"] for d in deliveries
    ]
