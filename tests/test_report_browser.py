"""The HTML report opened in a real browser: headless Chromium (Debian's ``chromium``, installed by
``.ci/run``) driven through the DevTools protocol over ``--remote-debugging-pipe`` — no websocket
library, no Playwright download. Asserted: the page renders, every chart is visible with a non-zero
size, no console errors, nothing requested beyond the file itself, and hostile kernel names show as
text without running (no dialog, no script element, no image fetched).
"""

from __future__ import annotations

import fcntl
import json
import os
import select
import shutil
import subprocess
import time
from pathlib import Path
from typing import Any

import pytest
from typer.testing import CliRunner

from roofline.cli import app

DATA = Path(__file__).parent / "data"
REPO = Path(__file__).resolve().parent.parent
SCRIPT = "<script>alert(1)</script>"
BREAKOUT = '"><img src=x onerror=alert(1)>'
BROWSERS = ("chromium", "chromium-browser", "google-chrome", "google-chrome-stable")
TIMEOUT_S = 60.0

HOSTILE = Path(__file__).parent / "data" / "hostile_kernels.yaml"


def _browser() -> str | None:
    return next((path for name in BROWSERS if (path := shutil.which(name))), None)


class Chromium:
    """A headless Chromium and one page, spoken to in DevTools protocol messages: JSON, each ended
    by a NUL byte, written to the browser's fd 3 and read from its fd 4."""

    def __init__(self, executable: str, profile: Path) -> None:
        to_browser_r, self._to_browser = os.pipe()
        self._from_browser, from_browser_w = os.pipe()
        # The browser reads fd 3 and writes fd 4: bash (dash takes single-digit fds only) puts the
        # pipe ends there and execs it; they are first moved above 9 so neither redirection
        # overwrites the other.
        to_browser_r, from_browser_w = (self._high(fd) for fd in (to_browser_r, from_browser_w))
        self.process = subprocess.Popen(
            ["bash", "-c", f'exec "$0" "$@" 3<&{to_browser_r} 4>&{from_browser_w}', executable,
             "--headless=new", "--no-sandbox", "--disable-gpu", "--remote-debugging-pipe",
             f"--user-data-dir={profile}", "--no-first-run", "--no-default-browser-check", "--disable-extensions",
             "--disable-background-networking", "--disable-component-update", "--disable-sync",
             "--window-size=1280,1000", "about:blank"],
            pass_fds=(to_browser_r, from_browser_w),
            stdin=subprocess.DEVNULL, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL,
        )
        os.close(to_browser_r)
        os.close(from_browser_w)
        self._buffer = b""
        self._next_id = 0
        self.events: list[dict[str, Any]] = []
        self.session: str | None = None

    @staticmethod
    def _high(fd: int) -> int:
        moved = fcntl.fcntl(fd, fcntl.F_DUPFD_CLOEXEC, 10)
        os.close(fd)
        return moved

    def send(self, method: str, params: dict[str, Any] | None = None, *, browser: bool = False) -> dict[str, Any]:
        self._next_id += 1
        message: dict[str, Any] = {"id": self._next_id, "method": method, "params": params or {}}
        if self.session is not None and not browser:
            message["sessionId"] = self.session
        os.write(self._to_browser, json.dumps(message).encode() + b"\0")
        reply = self._read_until(lambda m: m.get("id") == self._next_id)
        if "error" in reply:
            raise RuntimeError(f"{method}: {reply['error']}")
        return reply.get("result", {})

    def wait_event(self, method: str) -> dict[str, Any]:
        return self._read_until(lambda m: m.get("method") == method)

    def _read_until(self, wanted: Any) -> dict[str, Any]:
        deadline = time.monotonic() + TIMEOUT_S
        while True:
            while b"\0" in self._buffer:
                raw, self._buffer = self._buffer.split(b"\0", 1)
                message = json.loads(raw)
                if "method" in message:
                    self._on_event(message)
                if wanted(message):
                    return message
            left = deadline - time.monotonic()
            if left <= 0:
                raise TimeoutError("no answer from chromium")
            ready, _, _ = select.select([self._from_browser], [], [], left)
            if ready:
                chunk = os.read(self._from_browser, 1 << 20)
                if not chunk:
                    raise RuntimeError("chromium closed the DevTools pipe")
                self._buffer += chunk

    def _on_event(self, message: dict[str, Any]) -> None:
        self.events.append(message)
        if message["method"] == "Page.javascriptDialogOpening":
            # Record it (the test fails on it) and dismiss it, so the page does not hang.
            frame = {"id": self._next_id + 10_000, "method": "Page.handleJavaScriptDialog",
                     "params": {"accept": False}, "sessionId": message.get("sessionId")}
            os.write(self._to_browser, json.dumps(frame).encode() + b"\0")

    def open_page(self) -> None:
        target = self.send("Target.createTarget", {"url": "about:blank"}, browser=True)["targetId"]
        self.session = self.send("Target.attachToTarget", {"targetId": target, "flatten": True},
                                 browser=True)["sessionId"]
        for domain in ("Page", "Runtime", "Log", "Network"):
            self.send(f"{domain}.enable")

    def load(self, url: str) -> None:
        self.events.clear()
        self.send("Page.navigate", {"url": url})
        self.wait_event("Page.loadEventFired")

    def evaluate(self, expression: str) -> Any:
        result = self.send("Runtime.evaluate", {"expression": expression, "returnByValue": True})
        if "exceptionDetails" in result:
            raise RuntimeError(f"page script failed: {result['exceptionDetails']}")
        return result["result"].get("value")

    def close(self) -> None:
        try:
            self.send("Browser.close", browser=True)
            self.process.wait(timeout=10)
        except Exception:  # noqa: BLE001 - a browser that will not close is killed
            self.process.kill()
            self.process.wait(timeout=10)
        finally:
            os.close(self._to_browser)
            os.close(self._from_browser)

    # -- what the tests look at ------------------------------------------------------------------

    def requested_urls(self) -> list[str]:
        return [e["params"]["request"]["url"] for e in self.events if e["method"] == "Network.requestWillBeSent"]

    def console_errors(self) -> list[str]:
        errors = []
        for e in self.events:
            params = e.get("params", {})
            if e["method"] == "Runtime.exceptionThrown":
                errors.append(json.dumps(params.get("exceptionDetails", {}))[:300])
            elif e["method"] == "Runtime.consoleAPICalled" and params.get("type") in ("error", "assert"):
                errors.append(json.dumps(params.get("args", []))[:300])
            elif e["method"] == "Log.entryAdded" and params.get("entry", {}).get("level") == "error":
                errors.append(params["entry"].get("text", "")[:300])
        return errors

    def dialogs(self) -> list[str]:
        return [e["params"].get("message", "") for e in self.events if e["method"] == "Page.javascriptDialogOpening"]


@pytest.fixture(scope="module")
def browser(tmp_path_factory: pytest.TempPathFactory):
    executable = _browser()
    if executable is None:
        pytest.skip("chromium is not installed (apt-get install chromium; .ci/run installs it in CI)")
    chromium = Chromium(executable, tmp_path_factory.mktemp("chromium-profile"))
    try:
        chromium.open_page()
        yield chromium
    finally:
        chromium.close()


def _report(tmp_path: Path, *inputs: Path) -> Path:
    out = tmp_path / "report.html"
    result = CliRunner().invoke(app, ["report", *[str(i) for i in inputs], "-o", str(out)])
    assert result.exit_code == 0, result.output
    return out


# Each chart: its size on the page, and whether the element at its centre (scrolled into view) is
# part of it, i.e. nothing covers it.
_CHARTS = """
Array.from(document.querySelectorAll('figure')).map(f => {
  const svg = f.querySelector('svg');
  if (!svg) return {id: f.id, svg: false};
  svg.scrollIntoView({block: 'center'});
  const r = svg.getBoundingClientRect();
  const style = getComputedStyle(svg);
  const hit = document.elementFromPoint(r.left + r.width / 2, r.top + r.height / 2);
  return {id: f.id, svg: true, width: r.width, height: r.height, display: style.display,
          visibility: style.visibility, uncovered: !!hit && svg.contains(hit),
          texts: svg.querySelectorAll('text').length};
})
"""


def _check_page(chromium: Chromium, page: Path) -> list[dict[str, Any]]:
    url = page.resolve().as_uri()
    chromium.load(url)
    assert chromium.evaluate("document.readyState") == "complete"
    assert chromium.evaluate("document.querySelectorAll('script').length") == 0
    charts = chromium.evaluate(_CHARTS)
    for chart in charts:
        assert chart["svg"], chart
        assert chart["width"] > 300 and chart["height"] > 150, chart
        assert chart["display"] != "none" and chart["visibility"] == "visible", chart
        assert chart["uncovered"], chart
        assert chart["texts"] > 5, chart  # axis labels and titles are text, not paths
    assert chromium.console_errors() == []
    assert chromium.dialogs() == []
    assert chromium.requested_urls() == [url], "the report fetched something beyond itself"
    return charts


def test_trace_and_plan_report_renders_with_every_chart_visible(browser: Chromium, tmp_path: Path) -> None:
    page = _report(tmp_path, DATA / "h200" / "kineto" / "mini_decode_eager.json.gz",
                   REPO / "examples" / "llama70b_h100_tp8.yaml")
    charts = _check_page(browser, page)
    assert {c["id"] for c in charts} == {
        "figure-roofline", "figure-timeline", "figure-plan-steps", "figure-plan-frontier",
        "figure-plan-roofline"}
    text = browser.evaluate("document.body.innerText")
    # Memory-bound once the profiler's own host overhead is out of the launch wait; the page says so.
    assert "Verdict: memory-bound" in text and "within the profiler's own host overhead" in text
    assert "Serving plan: llama-3-70b on 8× h100-sxm" in text
    shot = browser.send("Page.captureScreenshot", {"format": "png"})
    assert len(shot["data"]) > 10_000  # a rendered page, not a blank one


def test_hostile_kernel_names_show_as_text_and_never_run(browser: Chromium, tmp_path: Path) -> None:
    hostile = tmp_path / "hostile.yaml"
    hostile.write_text(HOSTILE.read_text(encoding="utf-8"), encoding="utf-8")
    page = _report(tmp_path, hostile)
    charts = _check_page(browser, page)
    assert [c["id"] for c in charts] == ["figure-roofline"]
    text = browser.evaluate("document.body.innerText")
    assert SCRIPT in text and BREAKOUT in text
    # The names are text nodes: no element was made from them, and the chart labels hold them as text.
    assert browser.evaluate("document.querySelectorAll('img, iframe, object, embed').length") == 0
    # The kernel table cell: the (shortened) name as text, the full name as its hover title.
    assert browser.evaluate(
        "Array.from(document.querySelectorAll('td')).some(td => td.title === " + json.dumps(SCRIPT)
        + " && td.textContent.startsWith('<script>'))")
    assert browser.evaluate(
        "Array.from(document.querySelectorAll('svg text')).some(t => t.textContent.includes('<script>'))")
