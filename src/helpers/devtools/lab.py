"""Proof of the analysts' path: JupyterLab as `make lab` starts it, the section notebooks
opened and run in Debian's Chromium, every request to another host refused.

- `start_lab(...)`    context manager: `make lab NO_BROWSER=1` (or, with `root_dir`, the
                      same JupyterLab on another folder) on a free port with a random
                      token and its own state folders; stopped by its process group id.
- `open_browser(lab)` context manager: a Chromium context driving that JupyterLab, in
                      which any request to another host is aborted and recorded, and
                      console errors are collected.
- `open_lab(browser, lab)`  context manager: JupyterLab's page, once started (`LabPage`).
- `run_notebook(lab_page, name)`  open one notebook, check it is not marked modified,
                      choose Run All, report what the analyst sees (`NotebookRun`).
- `reopen_notebook(lab_page, name, charts)`  open a saved notebook without running it.

Used by tests/test_lab.py; see docs/decisions.md ("JupyterLab for analysts"). The
browser is Debian's Chromium (`/usr/bin/chromium`); no browser is ever downloaded.
The page sees JupyterLab's application object (`window.jupyterapp`) because the test
adds `LabApp.expose_app_in_browser` through `JUPYTER_CONFIG_PATH`; `make lab` does not.
"""

from __future__ import annotations

import contextlib
import json
import os
import secrets
import signal
import socket
import subprocess
import tempfile
import time
import urllib.error
import urllib.parse
import urllib.request
from collections.abc import Iterator
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from helpers import paths
from helpers.devtools.browser import CHROMIUM, BrowserMissing, browser_available

LAUNCH_ARGS = (
    "--headless",
    "--no-sandbox",
    "--disable-gpu",
    "--disable-background-networking",
    "--disable-component-update",
    "--disable-sync",
    "--no-first-run",
)
VIEWPORT = {"width": 1280, "height": 900}
VEGA_MIMETYPE = "application/vnd.vega.v5+json"
START_TIMEOUT_S = 90
KERNEL_TIMEOUT_MS = 120_000
RUN_TIMEOUT_MS = 240_000


class LabFailed(RuntimeError):
    """JupyterLab did not start (its log is in the message)."""


@dataclass
class LabServer:
    """A running JupyterLab: where it listens, its token, its process and its log."""

    port: int
    token: str
    pid: int
    log: Path
    root_dir: Path

    @property
    def base(self) -> str:
        return f"http://127.0.0.1:{self.port}"

    def api(self, path: str, method: str = "GET") -> Any:
        """JSON from the server's REST API (`/api/...`), authenticated with the token."""
        request = urllib.request.Request(
            f"{self.base}{path}", method=method, headers={"Authorization": f"token {self.token}"}
        )
        with urllib.request.urlopen(request, timeout=30) as response:
            body = response.read()
        return json.loads(body) if body else None

    def shutdown_kernels(self) -> None:
        """End every session (and so its kernel) through the API."""
        for session in self.api("/api/sessions"):
            self.api(f"/api/sessions/{session['id']}", method="DELETE")

    def log_text(self) -> str:
        return self.log.read_text(encoding="utf-8", errors="replace") if self.log.exists() else ""


def free_port() -> int:
    """A TCP port nothing listens on right now (the server is told not to try others)."""
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return sock.getsockname()[1]


def lab_state_env(cache: Path) -> dict[str, str]:
    """The variables `make lab` exports (mk/analyst.mk): the project's Jupyter config and
    every state folder under `<cache>/jupyter/`, so nothing is read from or written to ~."""
    state = Path(cache).resolve() / "jupyter"
    return {
        "JUPYTER_CONFIG_DIR": str(paths.ROOT / "jupyter"),
        "JUPYTER_DATA_DIR": str(state / "data"),
        "JUPYTER_RUNTIME_DIR": str(state / "runtime"),
        "JUPYTERLAB_SETTINGS_DIR": str(state / "user-settings"),
        "JUPYTERLAB_WORKSPACES_DIR": str(state / "workspaces"),
        "IPYTHONDIR": str(state / "ipython"),
    }


@contextlib.contextmanager
def start_lab(
    cache: Path, *, data: Path | None = None, root_dir: Path | None = None, env: dict[str, str] | None = None
) -> Iterator[LabServer]:
    """Start JupyterLab and yield a LabServer once its API answers; stop it afterwards.

    Without `root_dir` it runs `make lab NO_BROWSER=1 [DATA=data]` exactly as an analyst
    would (as root, the recipe adds --allow-root); with `root_dir` it runs the same
    JupyterLab with the same config on that folder instead of notebooks/. `cache` is
    KFWK_CACHE (the figure store and JupyterLab's state folders live there). The server
    runs in its own process group, which is terminated (then killed) by its id.
    """
    port, token = free_port(), secrets.token_hex(16)
    extra_config = Path(tempfile.mkdtemp(prefix="kefu-lab-config-"))
    # Test-only: lets the page reach JupyterLab's application object (commands, models).
    (extra_config / "jupyter_server_config.json").write_text(
        json.dumps({"LabApp": {"expose_app_in_browser": True}}), encoding="utf-8"
    )
    run_env = {
        k: v
        for k, v in (env or os.environ).items()
        if k not in ("MAKEFLAGS", "MFLAGS", "MAKELEVEL") and not k.startswith(("KFWK_", "JUPYTER"))
    }
    run_env.update(
        {
            "KFWK_CACHE": str(Path(cache).resolve()),
            "JUPYTER_PORT": str(port),
            "JUPYTER_PORT_RETRIES": "0",
            "JUPYTER_TOKEN": token,
            "JUPYTER_CONFIG_PATH": str(extra_config),
        }
    )
    log = Path(cache) / f"lab-{port}.log"
    log.parent.mkdir(parents=True, exist_ok=True)
    if root_dir is None:
        # `-o .venv/.ready`: use the environment this code runs in, never reinstall it here.
        command = ["make", "--no-print-directory", "-o", ".venv/.ready", "lab", "NO_BROWSER=1"]
        if data is not None:
            command.append(f"DATA={Path(data).resolve()}")
        root = paths.NOTEBOOKS
    else:
        run_env.update(lab_state_env(cache))
        if data is not None:
            run_env["KFWK_DATA"] = str(Path(data).resolve())
        command = [
            str(paths.ROOT / ".venv" / "bin" / "jupyter"),
            "lab",
            "--no-browser",
            f"--ServerApp.root_dir={Path(root_dir).resolve()}",
        ]
        if os.geteuid() == 0:
            command.append("--allow-root")
        root = Path(root_dir).resolve()
    with log.open("wb") as out:
        proc = subprocess.Popen(
            command,
            cwd=paths.ROOT,
            env=run_env,
            stdout=out,
            stderr=subprocess.STDOUT,
            stdin=subprocess.DEVNULL,
            start_new_session=True,
        )
    server = LabServer(port=port, token=token, pid=proc.pid, log=log, root_dir=root)
    try:
        deadline = time.monotonic() + START_TIMEOUT_S
        while True:
            if proc.poll() is not None:
                raise LabFailed(f"JupyterLab exited with {proc.returncode}:\n{server.log_text()[-4000:]}")
            try:
                server.api("/api/status")
                break
            except (urllib.error.URLError, ConnectionError, TimeoutError):
                if time.monotonic() > deadline:
                    raise LabFailed(
                        f"JupyterLab did not answer in {START_TIMEOUT_S} s:\n{server.log_text()[-4000:]}"
                    ) from None
                time.sleep(0.25)
        yield server
    finally:
        _stop(proc)
        for item in extra_config.iterdir():
            item.unlink()
        extra_config.rmdir()


def _group_alive(pgid: int) -> bool:
    try:
        os.killpg(pgid, 0)
        return True
    except ProcessLookupError:
        return False


def _stop(proc: subprocess.Popen, grace_s: float = 15) -> None:
    """Stop the process group we started (make, its shell and JupyterLab): SIGTERM, which
    JupyterLab answers by shutting its kernels down, then SIGKILL for whatever is left."""
    with contextlib.suppress(ProcessLookupError):
        os.killpg(proc.pid, signal.SIGTERM)
    deadline = time.monotonic() + grace_s
    while time.monotonic() < deadline:
        proc.poll()  # reap make, so the group empties once JupyterLab is gone
        if not _group_alive(proc.pid):
            break
        time.sleep(0.1)
    else:
        with contextlib.suppress(ProcessLookupError):
            os.killpg(proc.pid, signal.SIGKILL)
    proc.wait(timeout=10)


@dataclass
class LabBrowser:
    """One Chromium context for JupyterLab servers, with what left (or tried to leave) the
    host: any request other than to a server `allow`ed here is aborted and recorded."""

    context: Any
    ports: set[int] = field(default_factory=set)
    refused: list[str] = field(default_factory=list)
    console_errors: list[str] = field(default_factory=list)

    def allow(self, lab: LabServer) -> LabBrowser:
        self.ports.add(lab.port)
        return self

    def on_host(self, url: str) -> bool:
        parts = urllib.parse.urlsplit(url)
        if parts.scheme in ("data", "blob", "about"):
            return True
        return parts.scheme in ("http", "ws") and parts.hostname == "127.0.0.1" and parts.port in self.ports

    def new_page(self) -> Any:
        page = self.context.new_page()
        page.on("console", lambda m: m.type == "error" and self.console_errors.append(m.text))
        page.on("pageerror", lambda exc: self.console_errors.append(f"page error: {exc}"))
        return page


@contextlib.contextmanager
def open_browser(*labs: LabServer) -> Iterator[LabBrowser]:
    """Chromium (Debian's, headless) for the given servers (more with `.allow(lab)`);
    every other request is aborted and recorded. Raises BrowserMissing without Chromium."""
    if not browser_available():
        raise BrowserMissing(f"Chromium not found at {CHROMIUM}: apt-get install chromium fonts-noto-cjk")
    from playwright.sync_api import sync_playwright  # imported late: only proof needs it

    with sync_playwright() as pw:
        chromium = pw.chromium.launch(executable_path=str(CHROMIUM), args=list(LAUNCH_ARGS), headless=True)
        try:
            context = chromium.new_context(viewport=VIEWPORT, device_scale_factor=1)
            browser = LabBrowser(context=context)
            for lab in labs:
                browser.allow(lab)

            def refuse(route: Any) -> None:
                browser.refused.append(route.request.url)
                route.abort("blockedbyclient")

            def refuse_ws(ws: Any) -> None:
                browser.refused.append(ws.url)
                ws.close()

            context.route(lambda url: not browser.on_host(url), refuse)
            context.route_web_socket(lambda url: not browser.on_host(url), refuse_ws)
            yield browser
        finally:
            chromium.close()


# ---------------------------------------------------------------- in the page

# The notebook being checked is kept as `window.kfNotebook` (a NotebookPanel).
_APP_JS = """
async () => {
  const app = window.jupyterapp;
  await app.started; await app.restored;
  return true;
}
"""

# Open a notebook as a double-click in the file browser does; resolves once its kernel
# answered kernel_info and JupyterLab applied it (language_info, kernelspec) to the
# notebook, i.e. once an opened notebook would have been marked modified.
_OPEN_JS = """
async ([path, ms]) => {
  const app = window.jupyterapp;
  const open = async () => {
    const w = await app.commands.execute('docmanager:open', {path: path, factory: 'Notebook'});
    window.kfNotebook = w;
    await w.context.ready;
    await w.sessionContext.ready;
    const kernel = w.sessionContext.session.kernel;
    const info = await kernel.info;
    await kernel.spec;
    await new Promise(r => setTimeout(r, 500));
    return {kernel: kernel.name, language: info.language_info.name, dirty: w.context.model.dirty,
            path: w.context.path};
  };
  const late = new Promise((_, no) => setTimeout(() => no(new Error(`${path}: no kernel in ${ms} ms`)), ms));
  return await Promise.race([open(), late]);
}
"""

_RUN_ALL_JS = """
async (ms) => {
  const app = window.jupyterapp;
  app.shell.activateById(window.kfNotebook.id);
  const late = new Promise((_, no) => setTimeout(() => no(new Error(`Run All took over ${ms} ms`)), ms));
  return await Promise.race([app.commands.execute('notebook:run-all-cells'), late]);
}
"""

# Close without saving (as "Discard" would) and shut the kernel down.
_CLOSE_JS = """
async () => {
  const w = window.kfNotebook;
  window.kfNotebook = null;
  if (!w) return;
  await w.sessionContext.shutdown();
  w.context.model.dirty = false;
  w.dispose();
}
"""

# As JupyterLab sends it to the server on save (JSON text: undefined fields left out).
_MODEL_JS = "() => JSON.stringify(window.kfNotebook.context.model.toJSON())"
_DIRTY_JS = "() => window.kfNotebook.context.model.dirty"

# Every Vega output of the notebook: drawn (an svg/canvas inside) and how wide.
_CHARTS_JS = """
() => Array.from(window.kfNotebook.content.node.querySelectorAll('.jp-RenderedVegaCommon5')).map(el => {
  const g = el.querySelector('svg.marks, canvas.marks') || el.querySelector('svg, canvas');
  const box = el.getBoundingClientRect();
  return {drawn: !!g, width: g ? Math.round(g.getBoundingClientRect().width) : 0,
          output_width: Math.round(box.width), text: (el.textContent || '').trim().slice(0, 60)};
})
"""

# `n` charts drawn, each as wide as its output (they follow their container's width).
_CHARTS_SETTLED_JS = """
(n) => {
  const els = Array.from(window.kfNotebook.content.node.querySelectorAll('.jp-RenderedVegaCommon5'));
  return els.length >= n && els.every(el => {
    const g = el.querySelector('svg, canvas');
    return g && g.getBoundingClientRect().width >= el.getBoundingClientRect().width - 2;
  });
}
"""

# Computed styles of the house elements (KPI cards, store tables) as JupyterLab draws them.
_STYLES_JS = """
() => {
  const pick = (sel, props) => {
    const el = window.kfNotebook.content.node.querySelector(sel);
    if (!el) return null;
    const cs = getComputedStyle(el);
    return Object.fromEntries(props.map(p => [p, cs.getPropertyValue(p)]));
  };
  return {
    kpis: pick('.kf-kpis', ['display', 'flex-wrap']),
    kpi: pick('.kf-kpi', ['border-top-color', 'background-color']),
    kpi_value: pick('.kf-kpi-value', ['color', 'font-weight']),
    th: pick('table.kf-table th', ['background-color', 'color']),
  };
}
"""

# Whether any code cell with outputs is trusted (a notebook saved elsewhere is not).
_TRUSTED_JS = """
() => Array.from(window.kfNotebook.content.model.cells)
        .some(c => c.type === 'code' && c.outputs.length > 0 && c.trusted)
"""

# Pop-ups: notification toasts (the news question was one) and dialogs.
_POPUPS_JS = """
() => Array.from(document.querySelectorAll('.Toastify__toast, .jp-Dialog'))
        .map(el => (el.textContent || '').trim())
"""


@dataclass
class LabPage:
    """JupyterLab open in one browser page, and the pop-ups it showed on start."""

    page: Any
    lab: LabServer
    popups_on_start: list[str]


@contextlib.contextmanager
def open_lab(browser: LabBrowser, lab: LabServer, *, settle_ms: int = 2_000) -> Iterator[LabPage]:
    """JupyterLab's main page (a fresh workspace) in a new page of `browser`; waits until
    the application is restored and `settle_ms` more, then notes any pop-up shown."""
    browser.allow(lab)
    page = browser.new_page()
    try:
        page.goto(f"{lab.base}/lab?reset&token={lab.token}")
        page.wait_for_function("() => !!window.jupyterapp", timeout=KERNEL_TIMEOUT_MS)
        page.evaluate(_APP_JS)
        page.wait_for_timeout(settle_ms)
        yield LabPage(page=page, lab=lab, popups_on_start=page.evaluate(_POPUPS_JS))
    finally:
        page.close()


@dataclass
class NotebookRun:
    """What an analyst saw after opening a notebook and choosing Run All."""

    name: str
    opened: dict
    ran: bool
    model: dict
    charts: list[dict]
    styles: dict
    popups: list[str]
    seconds: float

    @property
    def dirty_after_open(self) -> bool:
        return bool(self.opened["dirty"])

    def errors(self) -> list[str]:
        """Each error output as `cell id: ename: evalue`."""
        return [
            f"{cell.get('id')}: {out.get('ename')}: {out.get('evalue')}"
            for cell in self.model["cells"]
            for out in cell.get("outputs", [])
            if out.get("output_type") == "error"
        ]

    def unexecuted(self) -> list[str]:
        """Code cells Run All did not reach (a cell before them failed)."""
        return [
            c.get("id")
            for c in self.model["cells"]
            if c["cell_type"] == "code" and c.get("execution_count") is None
        ]

    def chart_outputs(self) -> int:
        return _chart_outputs(self.model)

    def saved_bytes(self) -> bytes:
        """The notebook as JupyterLab's save would write it (nbformat, as jupyter_server)."""
        import nbformat

        text = nbformat.writes(nbformat.from_dict(self.model), version=nbformat.NO_CONVERT)
        return (text if text.endswith("\n") else text + "\n").encode("utf-8")


def _chart_outputs(model: dict) -> int:
    return sum(
        VEGA_MIMETYPE in out.get("data", {}) for cell in model["cells"] for out in cell.get("outputs", [])
    )


def _wait_for_charts(page: Any, count: int, timeout_ms: int = 30_000) -> None:
    with contextlib.suppress(Exception):  # a chart that never draws is reported by the caller
        page.wait_for_function(_CHARTS_SETTLED_JS, arg=count, timeout=timeout_ms)


def run_notebook(lab_page: LabPage, name: str) -> NotebookRun:
    """Open `name` (a path under the server's root) as a double-click would, note whether
    it is marked modified once its kernel is up, choose Run All, wait until every chart
    drew at its output's width, and collect the notebook model (never saved), the charts,
    the house styles and any pop-up. The notebook is then closed without saving and its
    kernel shut down."""
    page = lab_page.page
    start = time.monotonic()
    try:
        opened = page.evaluate(_OPEN_JS, [name, KERNEL_TIMEOUT_MS])
        ran = bool(page.evaluate(_RUN_ALL_JS, RUN_TIMEOUT_MS))
        _wait_for_charts(page, _chart_outputs(json.loads(page.evaluate(_MODEL_JS))))
        return NotebookRun(
            name=name,
            opened=opened,
            ran=ran,
            model=json.loads(page.evaluate(_MODEL_JS)),
            charts=page.evaluate(_CHARTS_JS),
            styles=page.evaluate(_STYLES_JS),
            popups=page.evaluate(_POPUPS_JS),
            seconds=time.monotonic() - start,
        )
    finally:
        page.evaluate(_CLOSE_JS)


def reopen_notebook(lab_page: LabPage, name: str, charts: int) -> dict:
    """Open a saved notebook (outputs included) without running anything: is it marked
    modified, is it trusted, and do its `charts` Vega outputs draw at their outputs' width?"""
    page = lab_page.page
    try:
        opened = page.evaluate(_OPEN_JS, [name, KERNEL_TIMEOUT_MS])
        _wait_for_charts(page, charts)
        page.wait_for_timeout(500)  # a renderer that writes back into the model has done so by now
        return {
            "opened": opened,
            "dirty": page.evaluate(_DIRTY_JS),
            "charts": page.evaluate(_CHARTS_JS),
            "trusted": page.evaluate(_TRUSTED_JS),
        }
    finally:
        page.evaluate(_CLOSE_JS)
