"""The playground in a real browser: headless Chromium (Debian's) driven by Playwright for Python.

These are the only tests allowed to skip: when /usr/bin/chromium or the playwright package is missing
(``make test`` installs both), with a message that names what is missing.
"""
from __future__ import annotations

import json
import time
from pathlib import Path
from urllib.parse import parse_qsl, urlsplit

import numpy as np
import pytest

import vecprop as vp
from playground_helpers import running_server
from vecprop.walkthrough import steps

CHROMIUM = Path("/usr/bin/chromium")
CHROMIUM_ARGS = ["--headless", "--no-sandbox", "--disable-gpu", "--disable-background-networking",
                 "--disable-component-update", "--disable-sync", "--no-first-run"]
try:
    from playwright.sync_api import sync_playwright
except ImportError:
    sync_playwright = None
MISSING = ([] if CHROMIUM.exists() else [f"{CHROMIUM} (apt-get install chromium; make test does it as root)"]) + \
    ([] if sync_playwright else ["the playwright package (pip install playwright; in requirements-dev.txt)"])
pytestmark = pytest.mark.skipif(bool(MISSING), reason="browser tests need " + " and ".join(MISSING))


@pytest.fixture(scope="module")
def server():
    with running_server() as s:
        yield s


@pytest.fixture(scope="module")
def browser():
    with sync_playwright() as p:
        b = p.chromium.launch(executable_path=str(CHROMIUM), args=CHROMIUM_ARGS)
        yield b
        b.close()


@pytest.fixture
def page(browser, server):
    """A fresh tab (its own session) that records console errors; ``page.open(query)`` loads the playground."""
    context = browser.new_context(viewport={"width": 1400, "height": 1200}, accept_downloads=True)
    tab = context.new_page()
    tab.errors = []
    tab.on("console", lambda msg: tab.errors.append(msg.text) if msg.type == "error" else None)
    tab.on("pageerror", lambda err: tab.errors.append(str(err)))

    def open_(query: str = "") -> None:
        tab.goto(server.url + query)
        wait_until(tab, "window.playground && window.playground.frame !== null")

    tab.open = open_
    yield tab
    context.close()


def wait_until(page, expression: str, timeout: float = 15.0) -> None:
    """Poll a JavaScript expression until it is true. (Playwright's wait_for_function evaluates strings with
    eval, which the page's Content-Security-Policy forbids, as it should.)"""
    deadline = time.monotonic() + timeout
    while not page.evaluate(f"() => Boolean({expression})"):
        if time.monotonic() > deadline:
            raise AssertionError(f"still false after {timeout:g} s: {expression}")
        time.sleep(0.05)


def frame(page) -> dict:
    """The last server answer the page drew (the JSON, exactly as it came)."""
    return page.evaluate("window.playground.frame")


def text(page, testid: str) -> str:
    return page.inner_text(f"[data-testid={testid}]")


def step_and_wait(page, n_steps: int) -> None:
    page.click("[data-testid=step]")
    wait_until(page, f"window.playground.frame.steps === {n_steps}")


def hover_cell(page, testid: str, i: int, j: int) -> float:
    """Move the mouse over cell (i, j) of a matrix panel; the exact value the page shows for it."""
    canvas = page.locator(f"[data-testid={testid}] canvas")
    cw, ch = (float(canvas.get_attribute(f"data-{k}")) for k in ("cw", "ch"))
    box = canvas.bounding_box()
    page.mouse.move(box["x"] + (j + 0.5) * cw, box["y"] + (i + 0.5) * ch)
    hover = page.locator("[data-testid=hover-value]")
    assert hover.get_attribute("data-i") == str(i) and hover.get_attribute("data-j") == str(j)
    return float(hover.get_attribute("data-value"))


def test_the_page_loads_without_console_errors(page):
    page.open()
    assert text(page, "epoch") == "000000"
    assert float(text(page, "train-loss")) > 0 and float(text(page, "test-loss")) > 0
    assert page.locator("[data-testid=network] canvas").count() == 7 + 4 + 4 + 1  # features, 2 hidden, output
    step_and_wait(page, 1)
    assert page.errors == []


def test_training_xor_from_a_link_reaches_a_low_test_loss(page):
    page.open("?data=xor&n=200&hidden=4&act=tanh&lr=0.03&batch=10&stop=25&seed=1")
    page.click("[data-testid=play]")
    wait_until(page, "document.querySelector('[data-testid=epoch]').textContent === '000025'", timeout=40)
    wait_until(page, "document.querySelector('[data-testid=play]').dataset.playing === '0'")
    assert float(page.get_attribute("[data-testid=test-loss]", "data-value")) < 0.1
    rows = page.evaluate("window.playground.rows")
    assert [r[0] for r in rows] == list(range(26)) and rows[-1][2] < rows[0][2] / 5
    assert page.errors == []


def test_the_matrix_panels_have_the_networks_shapes(page):
    page.open("?data=spirals&n=90&hidden=5,4&act=relu&batch=7&features=x1,x2,x1_x2")
    step_and_wait(page, 1)
    sizes, m = [3, 5, 4, 3], 7

    def shapes(l):
        n, p = sizes[l], sizes[l - 1]
        want = {f"A-{l - 1}": (p, m), f"Theta-{l}": (n, p), f"b-{l}": (n, 1), f"Z-{l}": (n, m),
                f"A-{l}": (n, m), f"dZ-{l}": (n, m), f"dTheta-{l}": (n, p), f"db-{l}": (n, 1)}
        if l < 3:
            want[f"dA-{l}"] = (n, m)
        if l > 1:
            want[f"dA-{l - 1}"] = (p, m)
        return want

    for l in (1, 2, 3):
        page.click(f"[data-testid=show-layer-{l}]")
        wait_until(page, f"window.playground.frame.setup.layer === '{l}'")
        for name, (r, c) in shapes(l).items():
            assert page.get_attribute(f"[data-testid=matrix-{name}]", "data-shape") == f"{r}x{c}", (l, name)
    # softmax + cross-entropy fuse: dA[3] is not formed until (5) and (C) are unfused
    assert page.get_attribute("[data-testid=matrix-dA-3]", "data-formed") == "no"
    page.check("[data-testid=unfused]")
    wait_until(page, "window.playground.frame.setup.unfused === '1'")
    step_and_wait(page, 2)
    assert page.get_attribute("[data-testid=matrix-dA-3]", "data-shape") == f"3x{m}"


def test_the_numbers_of_a_step_equal_network_gradients_on_the_same_batch(page):
    page.open("?data=moons&n=60&hidden=3&act=tanh&batch=5&opt=sgd&lr=0.1")
    step_and_wait(page, 1)
    sid = page.evaluate("window.playground.session")
    js = page.evaluate("""sid => fetch('/api/state', {method: 'POST', headers: {'Content-Type': 'application/json'},
        body: JSON.stringify({session: sid, layers: [1, 2]})}).then(r => r.json())""", sid)
    M, net_json = js["step"]["matrices"], js["network"]
    net = vp.Network(net_json["sizes"], net_json["activations"], net_json["loss"], dtype="float64")
    for l, (Theta, b) in enumerate(net.params, start=1):  # the weights the step used, before its update
        Theta[...], b[...] = M[f"Theta[{l}]"]["values"], M[f"b[{l}]"]["values"]
    X, Y = np.array(M["A[0]"]["values"]), np.array(js["step"]["Y"]["values"])
    grads = net.gradients(X, Y)
    for l, (dTheta, db) in enumerate(grads, start=1):
        np.testing.assert_allclose(M[f"dTheta[{l}]"]["values"], dTheta, rtol=1e-12, atol=1e-15)
        np.testing.assert_allclose(M[f"db[{l}]"]["values"], db, rtol=1e-12, atol=1e-15)
        np.testing.assert_allclose(M[f"dZ[{l}]"]["values"], net.cache.dZ[l], rtol=1e-12, atol=1e-15)
    shown = np.array([[hover_cell(page, "matrix-dTheta-1", i, j) for j in range(2)] for i in range(3)])
    np.testing.assert_allclose(shown, grads[0][0], rtol=1e-12, atol=1e-15)  # what the page shows, cell by cell
    shown_db = [hover_cell(page, "matrix-db-1", i, 0) for i in range(3)]
    np.testing.assert_allclose(shown_db, grads[0][1][:, 0], rtol=1e-12, atol=1e-15)
    eq10 = text(page, "eq10")
    assert eq10.startswith("eq. (10): (A) dTheta[1]_00 = 1/m sum_c dZ[1]_0^(c) A[0]_0^(c) = 1/5 (")
    assert eq10.endswith(f"= {float(f'{grads[0][0][0, 0]:.4g}')}") or f"{grads[0][0][0, 0]:.3e}"[:5] in eq10


def test_the_url_round_trips_the_state(page, browser):
    page.open("?data=moons&n=80&hidden=6&act=relu&lr=0.01&l2=0.001&opt=sgd&stop=7&layer=2&unfused=1")
    first = dict(parse_qsl(urlsplit(page.url).query, keep_blank_values=True))
    assert first == frame(page)["setup"]  # the address bar holds the server's canonical setup
    assert first["hidden"] == "6" and first["opt"] == "sgd" and first["layer"] == "2" and first["unfused"] == "1"
    page.select_option("[data-testid=lr]", "0.3")
    wait_until(page, "location.search.includes('lr=0.3')")
    link = page.url
    other = browser.new_page()
    try:
        other.goto(link)
        wait_until(other, "window.playground && window.playground.frame !== null")
        assert frame(other)["setup"] == {**first, "lr": "0.3"}
        assert other.input_value("[data-testid=lr]") == "0.3" and other.input_value("[data-testid=opt]") == "sgd"
        assert other.input_value("[data-testid=stop]") == "7" and other.is_checked("[data-testid=unfused]")
        assert frame(other)["steps"] == 0  # a new tab is a new session
    finally:
        other.close()


def test_a_bad_link_is_refused_with_its_reason(page):
    page.open("?lr=fast&hidden=3")
    wait_until(page, "document.querySelector('[data-testid=banner]').textContent !== ''")
    assert text(page, "banner").startswith("The link's setup was refused: setting lr='fast'")
    assert frame(page)["setup"]["lr"] == "0.03"  # the default setup, in the address bar too
    assert "lr=0.03" in page.url


def test_an_export_loads_with_vecprop(page, tmp_path):
    page.open("?data=circles&n=60&features=x1_sq,x2_sq&hidden=2")
    step_and_wait(page, 1)
    with page.expect_download() as info:
        page.click("[data-testid=export]")
    path = tmp_path / "model.npz"
    info.value.save_as(path)
    model = vp.load_model(path)
    assert model.network.sizes == (2, 2, 1) and model.feature_names == ("x1", "x2")  # raw points in
    assert model.preprocessing.features == (("square", (0,)), ("square", (1,)))   # x1^2, x2^2 computed inside
    assert info.value.suggested_filename == "playground-circles-epoch0.npz"


def test_step_through_walks_every_equation_in_order(page):
    page.open("?n=60&hidden=3&act=tanh&opt=momentum&l2=0.01")
    page.click("[data-testid=walk-start]")
    wait_until(page, "window.playground.walkAt === 0 && window.playground.frame.steps === 1")
    net = vp.Network([2, 3, 1], ["tanh", "sigmoid"], "binary_cross_entropy")
    expected = steps(net, l2=0.01, optimizer="momentum")
    seen = []
    for k, step in enumerate(expected):
        assert text(page, "walk-pos").startswith(f"step {k + 1} of {len(expected)}")
        seen.append(" ".join(page.locator("[data-testid=walk-eq] span").all_inner_texts()))
        if step.tag != "update" and step.symbol != "J":  # the panel of the matrix it computes is lit
            symbol, layer = step.name.rstrip("]").split("[")
            assert "highlight" in page.get_attribute(f"[data-testid=matrix-{symbol}-{layer}]", "class"), step.name
        if k < len(expected) - 1:
            page.click("[data-testid=walk-next]")
    assert seen == [f"{s.tag} {s.equation}" for s in expected]
    assert "1/m sum_c" in text(page, "walk-entry") or "->" in text(page, "walk-entry")
    assert page.errors == []


def test_gradient_check_and_timings_are_shown(page):
    page.open("?n=60&hidden=3&dropout=0.2")
    step_and_wait(page, 1)
    page.click("[data-testid=gradcheck-run]")
    page.wait_for_selector("[data-testid=gradcheck-dTheta-2]")
    rows = page.locator("[data-testid=gradcheck] tr").all_inner_texts()
    assert len(rows) == 5 and all(r.rstrip().endswith("yes") for r in rows[1:])
    for testid in ("step-ms", "frame-ms", "render-ms"):
        assert float(text(page, testid)) > 0, testid
    assert int(page.get_attribute("[data-testid=payload-bytes]", "data-value")) > 1000


def test_a_divergence_is_explained_on_the_page(page):
    page.open("?data=sine&n=100&lr=5&opt=sgd&hidden=8,8&act=relu&stop=200")
    page.click("[data-testid=play]")
    wait_until(page, "window.playground.frame.diverged !== null", timeout=30)
    banner = text(page, "banner")
    assert banner.startswith("Training diverged at epoch") and "(layer " in banner and "Try " in banner
    assert page.get_attribute("[data-testid=play]", "data-playing") == "0"
    assert page.errors == []


def test_a_click_adds_a_point_of_the_chosen_class(page):
    page.open("?n=40")
    before = len(page.evaluate("window.playground.points.train.x1"))
    page.select_option("[data-testid=click-class]", "1")
    box = page.locator("[data-testid=map]").bounding_box()
    page.mouse.click(box["x"] + box["width"] / 2, box["y"] + box["height"] / 2)
    wait_until(page, f"window.playground.points.train.x1.length === {before + 1}")
    assert page.evaluate("window.playground.points.train.y.at(-1)") == 1
    assert json.dumps(page.errors) == "[]"

