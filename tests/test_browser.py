"""The notebooks as an analyst uses them: JupyterLab on loopback, each notebook opened in headless
Chromium, saved untouched (no git diff), then Run All twice; no cell may end in an error. A
screenshot per notebook goes to test-artifacts/. Run with ``make browser-test`` (installs what it
needs); the test fails, saying how to fix it, when Chromium or Playwright is missing."""
from __future__ import annotations

import json
import os
import secrets
import shutil
import socket
import subprocess
import sys
import time
import urllib.request
from pathlib import Path

import nbformat
import pytest

from kit.runner import source_notebooks

pytestmark = pytest.mark.browser

ROOT = Path(__file__).resolve().parent.parent
ARTIFACTS = ROOT / "test-artifacts"
CHROMIUM = Path(os.environ.get("CHROMIUM", "/usr/bin/chromium"))
CHROMIUM_FLAGS = ["--headless", "--no-sandbox", "--disable-gpu", "--disable-background-networking",
                  "--disable-component-update", "--disable-sync", "--no-first-run"]
NO_NEWS = {"fetchNews": "false", "checkForUpdates": False}
RUN_ALL = ("Run", "Run All Cells")
SAVE = ("File", "Save Notebook")
RUN_TIMEOUT_MS = 240_000
NOTEBOOK = ".jp-NotebookPanel:not(.lm-mod-hidden) .jp-Notebook"


def _free_port() -> int:
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        return probe.getsockname()[1]


def _wait_for_server(url: str, process: subprocess.Popen, seconds: float = 90) -> None:
    deadline = time.monotonic() + seconds
    while time.monotonic() < deadline:
        if process.poll() is not None:
            raise AssertionError(f"jupyter lab exited with {process.returncode}")
        try:
            with urllib.request.urlopen(url, timeout=2):
                return
        except OSError:
            time.sleep(0.5)
    raise AssertionError(f"jupyter lab did not answer on {url} within {seconds:.0f} s")


@pytest.fixture(scope="module")
def lab(tmp_path_factory):
    """JupyterLab on 127.0.0.1 (a free port, a random token) serving a copy of notebooks/."""
    home = tmp_path_factory.mktemp("lab")
    served = home / "notebooks"
    shutil.copytree(ROOT / "notebooks", served, ignore=shutil.ignore_patterns(".ipynb_checkpoints"))
    settings = home / "settings" / "@jupyterlab" / "apputils-extension"
    settings.mkdir(parents=True)
    (settings / "notification.jupyterlab-settings").write_text(json.dumps(NO_NEWS))
    port, token = _free_port(), secrets.token_hex(16)
    env = {**os.environ, "JUPYTERLAB_SETTINGS_DIR": str(home / "settings"),
           "JUPYTERLAB_WORKSPACES_DIR": str(home / "workspaces"), "JUPYTER_RUNTIME_DIR": str(home / "runtime"),
           "JUPYTER_CONFIG_DIR": str(home / "config")}
    command = [sys.executable, "-m", "jupyterlab", "--no-browser", "--ServerApp.ip=127.0.0.1",
               f"--ServerApp.port={port}", "--ServerApp.port_retries=0", f"--IdentityProvider.token={token}",
               f"--ServerApp.root_dir={served}"]
    if os.geteuid() == 0:
        command.append("--allow-root")
    log = (home / "lab.log").open("w")
    process = subprocess.Popen(command, env=env, stdout=log, stderr=subprocess.STDOUT)
    try:
        _wait_for_server(f"http://127.0.0.1:{port}/api/status?token={token}", process)
        yield f"http://127.0.0.1:{port}", token, served
    finally:
        process.terminate()
        try:
            process.wait(timeout=20)
        except subprocess.TimeoutExpired:
            process.kill()
        log.close()


@pytest.fixture(scope="module")
def browser():
    """Headless Debian Chromium driven by Playwright (no browser download)."""
    try:
        from playwright.sync_api import sync_playwright
    except ImportError:
        pytest.fail("Playwright is missing: `make browser-test` installs it (pip install -e '.[browser]')")
    if not CHROMIUM.is_file():
        pytest.fail(f"no Chromium at {CHROMIUM}: `apt-get install chromium` (as root; `make browser-test` "
                    "does it) or set CHROMIUM to its path")
    with sync_playwright() as playwright:
        chromium = playwright.chromium.launch(executable_path=str(CHROMIUM), headless=True, args=CHROMIUM_FLAGS)
        yield chromium
        chromium.close()


def _command(page, command: tuple[str, str]) -> None:
    """Run a JupyterLab command on the notebook through its menu bar (what a user clicks)."""
    menu, item = command
    page.locator(f"{NOTEBOOK} .jp-Cell .jp-InputPrompt").first.click()
    page.locator(".lm-MenuBar-itemLabel", has_text=menu).first.click()
    page.locator(".lm-Menu-item").filter(has=page.locator(".lm-Menu-itemLabel", has_text=item)).first.click()


def _wait_until_idle(page) -> None:
    """Until no cell waits or runs ([*]) and the kernel reports idle."""
    page.wait_for_function(
        """() => {
            const notebook = document.querySelector('.jp-NotebookPanel:not(.lm-mod-hidden)');
            const prompts = [...notebook.querySelectorAll('.jp-InputArea-prompt')];
            const pending = prompts.some(p => p.textContent.includes('*'));
            const status = notebook.querySelector('.jp-Notebook-ExecutionIndicator');
            return prompts.length > 0 && !pending && (!status || status.dataset.status === 'idle');
        }""", timeout=RUN_TIMEOUT_MS, polling=500)


def _save(page, path: Path) -> None:
    before = path.stat().st_mtime_ns
    _command(page, SAVE)
    deadline = time.monotonic() + 30
    while path.stat().st_mtime_ns == before and time.monotonic() < deadline:
        time.sleep(0.2)
    assert path.stat().st_mtime_ns != before, f"{path.name}: saving from the browser wrote nothing"
    time.sleep(0.5)  # let the write finish


def _errors(path: Path) -> list[str]:
    notebook = nbformat.read(path, as_version=4)
    return [f"cell {index}: {output.ename}: {output.evalue}"[:300]
            for index, cell in enumerate(notebook.cells) if cell.cell_type == "code"
            for output in cell.get("outputs", []) if output.output_type == "error"]


@pytest.mark.parametrize("name", [notebook.name for notebook in source_notebooks()])
def test_open_save_and_run_all_twice_in_the_browser(lab, browser, name):
    url, token, served = lab
    path = served / name
    committed = path.read_bytes()
    ARTIFACTS.mkdir(exist_ok=True)
    (ARTIFACTS / f"{path.stem}-failed.png").unlink(missing_ok=True)  # from an earlier run
    page = browser.new_page(viewport={"width": 1400, "height": 1000})
    try:
        page.on("dialog", lambda dialog: dialog.dismiss())
        page.goto(f"{url}/lab/workspaces/{path.stem}/tree/{name}?reset&token={token}", wait_until="domcontentloaded")
        page.locator(f"{NOTEBOOK} .jp-Cell").first.wait_for(timeout=60_000)
        page.locator(".jp-NotebookPanel:not(.lm-mod-hidden) .jp-Notebook-ExecutionIndicator[data-status='idle']"
                     ).first.wait_for(timeout=60_000)
        page.wait_for_timeout(1500)  # Lab writes the kernel's metadata into the model once it is connected
        _save(page, path)
        assert path.read_bytes() == committed, f"{name}: opening and saving in JupyterLab changed the file"
        for _ in range(2):
            _command(page, RUN_ALL)
            page.wait_for_timeout(1000)
            _wait_until_idle(page)
        page.screenshot(path=str(ARTIFACTS / f"{path.stem}.png"))
        _save(page, path)
    except Exception:
        page.screenshot(path=str(ARTIFACTS / f"{path.stem}-failed.png"))
        raise
    finally:
        page.close()
    assert not _errors(path), f"{name}: {_errors(path)}"
    executed = nbformat.read(path, as_version=4)
    assert executed.metadata.kernelspec == json.loads(committed)["metadata"]["kernelspec"], \
        f"{name}: JupyterLab writes another kernelspec than the committed one"
    assert all(cell.execution_count for cell in executed.cells if cell.cell_type == "code"), \
        f"{name}: not every cell ran"
