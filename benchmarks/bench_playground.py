"""How fast the playground is: one step of the default network on the server, the frame it sends, its drawing.

Usage: ``python benchmarks/bench_playground.py [--steps 300] [--shots docs/img]``. Prints medians:
the server's compute time of one step (forward, cost, backward, update: the readable engine), the
time to build the frame (maps, matrices, losses), the JSON payload, and, in headless Chromium, the
time the page takes to draw a frame (``performance.now()`` around its render). ``--shots DIR`` also
saves the screenshots of docs/playground.md there.
"""
from __future__ import annotations

import argparse
import json
import sys
import threading
import time
from pathlib import Path
from statistics import median

sys.path.insert(0, str(Path(__file__).resolve().parent.parent / "src"))

from vecprop.playground.app import Playground  # noqa: E402
from vecprop.playground.server import PlaygroundServer  # noqa: E402

CHROMIUM_ARGS = ["--headless", "--no-sandbox", "--disable-gpu", "--disable-background-networking",
                 "--disable-component-update", "--disable-sync", "--no-first-run"]


def server_side(steps: int) -> dict[str, float]:
    """Medians over ``steps`` single steps of the default setup, as the page asks for them."""
    app = Playground()
    f = app.act("new", {"setup": {}})
    sid, have = f["session"], {"points": f["points"]["version"], "run": f["history"]["run"], "history_from": 1}
    step_ms, frame_ms, payload = [], [], []
    for _ in range(steps):
        g = app.act("step", {"session": sid, "layers": [1], "have": have})
        have["history_from"] = g["history"]["from"] + len(g["history"]["rows"])
        step_ms.append(g["step"]["step_ms"])
        frame_ms.append(g["frame_ms"])
        payload.append(len(json.dumps(g, allow_nan=False, separators=(",", ":"))))
    return {"step_ms": median(step_ms), "frame_ms": median(frame_ms), "payload_bytes": median(payload)}


def browser_side(steps: int, shots: Path | None) -> dict[str, float]:
    from playwright.sync_api import sync_playwright

    server = PlaygroundServer("127.0.0.1", 0)
    threading.Thread(target=server.serve_forever, daemon=True).start()
    render = []
    with sync_playwright() as p:
        browser = p.chromium.launch(executable_path="/usr/bin/chromium", args=CHROMIUM_ARGS)
        page = browser.new_page(viewport={"width": 1400, "height": 1000})
        page.goto(server.url)
        _wait(page, "window.playground.frame !== null")
        for k in range(1, steps + 1):
            page.click("[data-testid=step]")
            _wait(page, f"window.playground.frame.steps === {k}")
            render.append(float(page.get_attribute("[data-testid=render-ms]", "data-value")))
        if shots:
            _screenshots(page, server.url, shots)
        browser.close()
    server.shutdown()
    return {"render_ms": median(render), "render_ms_max": max(render)}


def _screenshots(page, url: str, folder: Path) -> None:
    folder.mkdir(parents=True, exist_ok=True)
    page.set_viewport_size({"width": 1400, "height": 1000})
    page.goto(url + "?data=spirals&n=450&noise=0.15&features=x1,x2,sin_x1,sin_x2&hidden=8,6&act=tanh"
                    "&lr=0.01&batch=10&stop=150&layer=2&seed=2")
    _wait(page, "window.playground.frame !== null")
    page.click("[data-testid=play]")
    _wait(page, "document.querySelector('[data-testid=play]').dataset.playing === '0'", timeout=120)
    page.click("[data-testid=step]")
    _wait(page, "window.playground.frame.step !== null")
    page.screenshot(path=str(folder / "playground.png"), full_page=True)
    _compact(folder / "playground.png")
    page.click("[data-testid=walk-start]")
    _wait(page, "window.playground.walkAt === 0")
    for _ in range(8):  # to (A) of the output layer, eq. (10) written out
        page.click("[data-testid=walk-next]")
    page.locator("[data-testid=walkthrough]").scroll_into_view_if_needed()
    box = page.locator(".matrices").bounding_box()
    walk = page.locator("[data-testid=walkthrough]").bounding_box()
    page.screenshot(path=str(folder / "playground_step_through.png"),
                    clip={"x": 0, "y": box["y"] - 8, "width": 1400, "height": walk["y"] + walk["height"] - box["y"] + 16})
    _compact(folder / "playground_step_through.png")


def _compact(path: Path) -> None:
    """A 256-colour palette PNG: the page is flat colours and smooth maps, a third of the bytes."""
    from PIL import Image

    Image.open(path).convert("RGB").quantize(256, method=Image.Quantize.MEDIANCUT).save(path, optimize=True)


def _wait(page, expression: str, timeout: float = 30.0) -> None:
    deadline = time.monotonic() + timeout
    while not page.evaluate(f"() => Boolean({expression})"):
        if time.monotonic() > deadline:
            raise TimeoutError(expression)
        time.sleep(0.05)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--steps", type=int, default=300, help="server steps to time (default 300)")
    parser.add_argument("--browser-steps", type=int, default=40, help="steps drawn in the browser (default 40)")
    parser.add_argument("--shots", type=Path, help="also save the screenshots in this folder")
    args = parser.parse_args()
    server = server_side(args.steps)
    page = browser_side(args.browser_steps, args.shots)
    print("| default setup (xor, 2-4-4-1 tanh/sigmoid, batch 10) | median |")
    print("| --- | --- |")
    print(f"| one step on the server (forward, cost, backward, adam update) | {server['step_ms']:.3f} ms |")
    print(f"| building the frame (maps, matrices of one layer, losses) | {server['frame_ms']:.2f} ms |")
    print(f"| JSON payload of a step | {server['payload_bytes'] / 1024:.1f} KiB |")
    print(f"| drawing it in the page (headless Chromium) | {page['render_ms']:.1f} ms (max {page['render_ms_max']:.1f}) |")


if __name__ == "__main__":
    main()
