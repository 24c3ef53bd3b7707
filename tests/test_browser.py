"""The explorer page in a real browser: headless Chromium driven by Playwright.

A real ``bayesleg serve`` runs on a free loopback port; the page is read
the way a person reads it (the text on screen), and each number is checked
against the service's JSON answer for the same evidence.  Every request the
browser makes is recorded and must stay on the service's origin.

The browser is the system's Chromium (``apt-get install chromium``; another
one through ``BAYESLEG_CHROMIUM``), never one Playwright downloads.  Without
it, or without the ``playwright`` package, these tests skip and say why;
under CI (``CI`` set) they fail instead.  Screenshots at desktop and phone
width go to ``BAYESLEG_TEST_ARTIFACTS`` (default: a folder under pytest's
temporary directory).
"""

from __future__ import annotations

import importlib.util
import os
import shutil
from pathlib import Path
from urllib.parse import urlsplit

import httpx
import pytest
from serve_process import served

import bayesleg

CHROMIUM_ARGS = [
    "--headless",
    "--no-sandbox",
    "--disable-gpu",
    "--disable-quic",
    "--no-first-run",
    "--disable-background-networking",
    "--disable-component-update",
    "--disable-sync",
]
DESKTOP = {"width": 1280, "height": 900}
PHONE = {"width": 390, "height": 844}
MODEL = bayesleg.load()


def _chromium() -> str | None:
    named = os.environ.get("BAYESLEG_CHROMIUM")
    if named:
        return named if Path(named).is_file() else None
    for name in ("chromium", "chromium-browser"):
        found = shutil.which(name)
        if found:
            return found
    return "/usr/bin/chromium" if Path("/usr/bin/chromium").exists() else None


def _unavailable(reason: str) -> None:
    if os.environ.get("CI"):
        pytest.fail(f"CI runs the browser tests, but {reason}", pytrace=False)
    pytest.skip(reason)


@pytest.fixture(scope="module")
def server():
    """A ``bayesleg serve`` of the shipped model; yields its origin."""
    with served() as address:
        yield f"http://{address}"


@pytest.fixture(scope="module")
def artifacts(tmp_path_factory):
    named = os.environ.get("BAYESLEG_TEST_ARTIFACTS")
    folder = Path(named) if named else tmp_path_factory.mktemp("browser-artifacts")
    folder.mkdir(parents=True, exist_ok=True)
    return folder


@pytest.fixture(scope="module")
def browser(tmp_path_factory):
    """A headless Chromium with a fresh profile; yields its context, with every request recorded."""
    if importlib.util.find_spec("playwright") is None:
        _unavailable("the playwright package is not installed (pip install '.[test]')")
    executable = _chromium()
    if executable is None:
        _unavailable(
            "no Chromium is installed (apt-get install chromium, or name one in BAYESLEG_CHROMIUM)"
        )
    from playwright.sync_api import sync_playwright

    with sync_playwright() as playwright:
        context = playwright.chromium.launch_persistent_context(
            str(tmp_path_factory.mktemp("chromium-profile")),
            executable_path=executable,
            args=CHROMIUM_ARGS,
            headless=True,
            viewport=DESKTOP,
            service_workers="block",
        )
        context.requests = []
        context.on("request", lambda request: context.requests.append(request.url))
        try:
            yield context
        finally:
            context.close()


@pytest.fixture
def page(browser, server):
    """A new tab of the explorer; after the test, no console error and no other origin."""
    tab = browser.new_page()
    tab.set_viewport_size(DESKTOP)
    problems = []
    tab.on("console", lambda m: problems.append(m.text) if m.type == "error" else None)
    tab.on("pageerror", lambda error: problems.append(str(error)))
    start = len(browser.requests)
    tab.console_errors = problems  # a test that provokes an error takes it out
    yield tab
    tab.close()
    made = browser.requests[start:]
    assert made, "the page made no request at all"
    elsewhere = [url for url in made if _origin(url) != server]
    assert not elsewhere, f"requests outside the service: {elsewhere}"
    assert not problems, problems


def _origin(url: str) -> str:
    parts = urlsplit(url)
    return f"{parts.scheme}://{parts.netloc}"


# --------------------------------------------------------------------------
# Reading the page
# --------------------------------------------------------------------------

READY = """(want) => {
  const results = document.getElementById("results");
  if (results.getAttribute("aria-busy") !== "false" || results.dataset.evidence === undefined) {
    return false;
  }
  const link = new URLSearchParams(results.dataset.evidence.replace(/^#/, ""));
  const got = {};
  for (const id of (link.get("yes") || "").split(",").filter(Boolean)) got[id] = true;
  for (const id of (link.get("no") || "").split(",").filter(Boolean)) got[id] = false;
  const same = (a) => JSON.stringify(Object.keys(a).sort().map((k) => [k, a[k]]));
  return same(got) === same(want);
}"""


def wait_ready(page, evidence):
    """Wait until the page shows the answers to ``evidence`` (id to True/False)."""
    page.wait_for_function(READY, arg=evidence, timeout=15_000)


def open_explorer(page, server, fragment=""):
    page.goto(f"{server}/{fragment}")
    page.wait_for_selector("#groups fieldset.question")


def answer(page, node, value):
    page.click(f"label[for='{node}-{value}']")


def api(server, path, body):
    response = httpx.post(f"{server}{path}", json=body, timeout=30)
    assert response.status_code == 200, response.text
    return response.json()


def percent_on_screen(text):
    assert text.endswith("%"), text
    return float(text[:-1]) / 100


def shown_differential(page):
    return page.eval_on_selector_all(
        "#differential li.cause",
        """items => items.map(item => ({
            id: item.dataset.id,
            label: item.querySelector('.cause-label').textContent,
            posterior: item.querySelector('.posterior .value').textContent,
            prior: item.querySelector('.prior .value').textContent,
            ratio: item.querySelector('.lr .value').textContent,
        }))""",
    )


def assert_differential_matches(page, diagnosis):
    shown = shown_differential(page)
    assert len(shown) == min(8, len(diagnosis["ranked"]))
    for row, cause in zip(shown, diagnosis["ranked"], strict=False):
        assert (row["id"], row["label"]) == (cause["id"], cause["label"])
        # One decimal of a percentage: within half of 0.1 percentage point.
        assert abs(percent_on_screen(row["posterior"]) - cause["posterior"]) <= 0.0005 + 1e-12
        assert abs(percent_on_screen(row["prior"]) - cause["prior"]) <= 0.0005 + 1e-12
        ratio = cause["likelihood_ratio"]
        assert row["ratio"].startswith("×")
        if ratio is None:
            assert row["ratio"] == "×∞"
        else:  # three significant digits
            assert float(row["ratio"][1:]) == pytest.approx(ratio, rel=5e-3)


def assert_triage_matches(page, diagnosis):
    level = page.inner_text("#triage-level .level-name")
    words = {"self_care": "Self-care", "see_doctor": "See a doctor", "urgent": "Seek care now"}
    assert level == words[diagnosis["triage"]["level"]]
    reasons = page.eval_on_selector_all(
        "#triage-reasons .reason-text", "items => items.map(i => i.textContent)"
    )
    assert reasons == [reason["text"] for reason in diagnosis["triage"]["reasons"]]


def signed(share):
    """A share of log odds as the page writes it: two decimals, signed unless 0.00."""
    shown = f"{abs(share):.2f}"
    return shown if shown == "0.00" else f"{'+' if share > 0 else '−'}{shown}"


def checked_answers(page):
    return page.eval_on_selector_all(
        "#groups input[type=radio]:checked",
        "inputs => Object.fromEntries(inputs.filter(i => i.value !== 'unknown')"
        ".map(i => [i.name, i.value === 'yes']))",
    )


# --------------------------------------------------------------------------
# The tests
# --------------------------------------------------------------------------


def test_answers_update_the_differential_triage_and_advice_as_the_api_says(page, server, artifacts):
    open_explorer(page, server)
    wait_ready(page, {})
    assert_differential_matches(page, api(server, "/v1/diagnose", {"evidence": {}}))
    groups = page.eval_on_selector_all(
        "#groups > fieldset > legend", "ls => ls.map(l => l.textContent)"
    )
    symptoms = len(MODEL.symptoms)
    factors = len(MODEL.factors)
    assert groups == [f"What you notice ({symptoms})", f"The session and you ({factors})"]
    assert page.locator("#groups fieldset.question").count() == symptoms + factors

    evidence = {}
    for node, value in [
        ("tingling", True),
        ("weakness", True),
        ("swelling", True),
        ("fasted", False),
    ]:
        answer(page, node, "yes" if value else "no")
        evidence[node] = value
        wait_ready(page, evidence)
    diagnosis = api(server, "/v1/diagnose", {"evidence": evidence})
    assert_differential_matches(page, diagnosis)
    assert_triage_matches(page, diagnosis)
    assert diagnosis["triage"]["level"] == "see_doctor"  # a red flag: tingling with weakness
    advice = page.eval_on_selector_all(
        "#advice > li",
        "items => items.map(i => [i.dataset.id, i.querySelector('blockquote p').textContent])",
    )
    assert advice == [[a["condition"], a["source"]["quote"]] for a in diagnosis["advice"]]
    summary = page.inner_text("#differential-summary")
    assert summary.startswith(f"Most likely: {diagnosis['ranked'][0]['label']}")

    # The explanation follows the top cause until another is chosen.
    top = diagnosis["ranked"][0]["id"]
    explanation = api(server, "/v1/explain", {"evidence": evidence, "cause": top})
    assert page.get_attribute("#explanation", "data-cause") == top
    shares = page.eval_on_selector_all(
        "#explanation .shares li",
        "items => items.map(i => [i.dataset.id, i.querySelector('.share-value').textContent])",
    )
    assert shares == [
        [c["id"], signed(c["log_likelihood_ratio"])] for c in explanation["contributions"]
    ]
    page.evaluate("window.scrollTo(0, 0)")
    page.screenshot(path=str(artifacts / "explorer-desktop.png"))
    page.evaluate("document.getElementById('questions-title').scrollIntoView()")
    page.screenshot(path=str(artifacts / "explorer-desktop-questions.png"))


def test_choosing_a_cause_explains_it(page, server):
    open_explorer(page, server, "#yes=cramps,hot_environment")
    evidence = {"cramps": True, "hot_environment": True}
    wait_ready(page, evidence)
    page.locator("#differential li.cause[data-id='dehydration'] button").click()
    page.wait_for_selector("#explanation[data-cause='dehydration']")
    assert page.evaluate("document.activeElement.id") == "explanation-title"
    assert page.input_value("#cause") == "dehydration"
    explanation = api(server, "/v1/explain", {"evidence": evidence, "cause": "dehydration"})
    ids = page.eval_on_selector_all(
        "#explanation .shares li", "items => items.map(i => i.dataset.id)"
    )
    assert ids == [c["id"] for c in explanation["contributions"]]
    assert "explain=dehydration" in page.get_attribute("#share", "href")


def test_a_next_question_click_answers_it(page, server):
    evidence = {"weakness": True, "long_session": True}
    open_explorer(page, server, "#yes=weakness,long_session")
    wait_ready(page, evidence)
    questions = api(server, "/v1/next-questions", {"evidence": evidence, "k": 5})
    shown = page.eval_on_selector_all("#questions li", "items => items.map(i => i.dataset.id)")
    assert shown == [q["id"] for q in questions["questions"]]
    first = questions["questions"][0]
    text = page.inner_text("#questions li:first-child .figures")
    assert f"gain {first['expected_gain']:.2f} bits" in text

    # The question's name moves focus to its answers in the form ...
    page.locator("#questions li:first-child button.ask").click()
    assert page.evaluate("document.activeElement.name") == first["id"]
    # ... and its Yes answers it.
    page.locator("#questions li:first-child button[data-answer='yes']").click()
    evidence[first["id"]] = True
    wait_ready(page, evidence)
    assert checked_answers(page) == evidence
    assert_differential_matches(page, api(server, "/v1/diagnose", {"evidence": evidence}))
    after = page.eval_on_selector_all("#questions li", "items => items.map(i => i.dataset.id)")
    assert first["id"] not in after


def test_the_share_link_restores_the_evidence(page, browser, server):
    open_explorer(page, server)
    wait_ready(page, {})
    evidence = {"cramps": True, "heavy_sweating": True, "low_fluid_intake": False}
    for node, value in evidence.items():
        answer(page, node, "yes" if value else "no")
    wait_ready(page, evidence)
    page.select_option("#cause", "electrolyte_imbalance")
    page.wait_for_selector("#explanation[data-cause='electrolyte_imbalance']")
    link = page.get_attribute("#share", "href")
    assert link.startswith(f"{server}/#")
    assert page.url == link  # the address bar holds the same link

    other = browser.new_page()
    try:
        other.goto(link)
        wait_ready(other, evidence)
        assert checked_answers(other) == evidence
        assert other.get_attribute("#explanation", "data-cause") == "electrolyte_imbalance"
        assert_differential_matches(other, api(server, "/v1/diagnose", {"evidence": evidence}))
    finally:
        other.close()


def test_a_link_to_unknown_ids_says_so_and_keeps_the_rest(page, server):
    open_explorer(page, server, "#yes=cramps,not_a_node")
    wait_ready(page, {"cramps": True})
    assert "not_a_node" in page.inner_text("#error")


def test_the_page_works_from_the_keyboard_and_shows_sources_on_focus(page, server, artifacts):
    open_explorer(page, server)
    wait_ready(page, {})
    page.keyboard.press("Tab")
    assert page.evaluate("document.activeElement.textContent") == "Skip to the results"
    page.keyboard.press("Tab")
    assert page.evaluate("document.activeElement.id") == "clear"
    page.keyboard.press("Tab")  # into the first question's answers: unknown is checked
    first = MODEL.symptoms[0]
    assert page.evaluate("document.activeElement.id") == f"{first}-unknown"
    page.keyboard.press("ArrowLeft")  # no
    page.keyboard.press("ArrowLeft")  # yes
    wait_ready(page, {first: True})

    # The numbers of the top cause show their source passages when focused.
    top = page.get_attribute("#differential li.cause:first-child", "data-id")
    figures = page.locator("#differential li.cause:first-child .sourced")
    tip = figures.locator(".tip")
    assert not tip.is_visible()
    figures.focus()
    assert tip.is_visible()
    leak = MODEL.spec.nodes[[n.id for n in MODEL.spec.nodes].index(top)].leak
    assert leak.source.quote in tip.inner_text()
    described = page.evaluate(
        "document.getElementById(document.activeElement.getAttribute('aria-describedby')).textContent"
    )
    assert leak.source.quote in described
    page.screenshot(path=str(artifacts / "explorer-source.png"))


def test_the_page_fits_a_phone(page, server, artifacts):
    page.set_viewport_size(PHONE)
    open_explorer(page, server, "#yes=tingling,weakness,diabetes")
    wait_ready(page, {"tingling": True, "weakness": True, "diabetes": True})
    width = page.evaluate("document.documentElement.scrollWidth")
    assert width <= PHONE["width"], f"the page is {width} px wide on a {PHONE['width']} px screen"
    diagnosis = api(
        server, "/v1/diagnose", {"evidence": {"tingling": True, "weakness": True, "diabetes": True}}
    )
    top = diagnosis["ranked"][0]
    bar = page.locator("#summary-bar")
    assert bar.is_visible()  # fixed at the foot of the screen, linking to the results
    assert bar.inner_text().startswith(
        f"See a doctor · {top['label']} {100 * top['posterior']:.1f}%"
    )
    page.screenshot(path=str(artifacts / "explorer-phone.png"))
    # A passage shown on focus stays on the screen too.
    page.locator("#differential li.cause:first-child .sourced").focus()
    width = page.evaluate("document.documentElement.scrollWidth")
    assert width <= PHONE["width"], f"with a passage shown the page is {width} px wide"
    bar.click()
    page.wait_for_function("() => document.activeElement.id === 'results' && window.scrollY > 1000")
    assert checked_answers(page) == {"tingling": True, "weakness": True, "diabetes": True}
    page.screenshot(path=str(artifacts / "explorer-phone-results.png"))


def test_a_failed_call_is_shown_as_an_alert(page, server):
    open_explorer(page, server)
    wait_ready(page, {})
    page.route("**/v1/next-questions", lambda route: route.fulfill(status=503, body="Busy"))
    answer(page, "cramps", "yes")
    alert = page.locator("#error[role=alert]")
    alert.wait_for(state="visible", timeout=15_000)
    assert alert.inner_text() == "/v1/next-questions: 503 Service Unavailable"
    page.unroute("**/v1/next-questions")
    answer(page, "numbness", "no")  # the next answer succeeds and clears it
    wait_ready(page, {"cramps": True, "numbness": False})
    assert not alert.is_visible()
    expected = "Failed to load resource: the server responded with a status of 503"
    assert len(page.console_errors) == 1 and page.console_errors[0].startswith(expected)
    page.console_errors.clear()
