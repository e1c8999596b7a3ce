"""A throwaway JupyterLab server and a headless Chromium page, for the browser tests.

The server's settings are for these tests only: it listens on 127.0.0.1, has no token (nothing
but this machine can reach it, and it lives only as long as the test module), runs in a temporary
copy of ``notebooks/`` (so the repository's notebooks are never written), and has every outgoing
request turned off (news feed, update check, PyPI extension manager). The README's command for
users keeps Jupyter's defaults (token on, localhost).

Teardown always stops the server's process group and any kernel it started (kernels run in a
session of their own, so a group kill alone would leave them running).
"""

import json
import os
import pathlib
import shutil
import signal
import socket
import subprocess
import sys
import time
import urllib.error
import urllib.request

import pytest

REPO = pathlib.Path(__file__).resolve().parents[2]
NOTEBOOKS = REPO / "notebooks"
ARTIFACTS = REPO / "test-artifacts" / "e2e"
CHROMIUM = "/usr/bin/chromium"
# Chromium flags: no sandbox (CI runs as root in a container), no GPU (no display), and no
# requests of its own (component updates, safe browsing, ...): the only traffic is to the test server.
CHROMIUM_ARGS = ["--no-sandbox", "--disable-gpu", "--disable-background-networking"]
SERVER_START_TIMEOUT = 90  # seconds: a cold start on a slow CI machine takes ~10 s


def free_port():
    with socket.socket(socket.AF_INET, socket.SOCK_STREAM) as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def lab_settings(settings_dir, theme=None):
    """User settings for this server only: never ask about or fetch news, never check for updates;
    ``theme`` (e.g. "JupyterLab Dark") as a user would choose it in Settings > Theme."""
    path = settings_dir / "@jupyterlab" / "apputils-extension" / "notification.jupyterlab-settings"
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_text(json.dumps({"fetchNews": "false", "checkForUpdates": False}))
    if theme is not None:
        (path.parent / "themes.jupyterlab-settings").write_text(json.dumps({"theme": theme}))


def server_command(port, root_dir, app="jupyterlab"):
    """The command that starts ``app`` (``jupyterlab``, or ``notebook`` for Notebook 7) on ``port``."""
    return [
        sys.executable, "-m", app,
        "--no-browser",
        "--allow-root",
        "--ServerApp.ip=127.0.0.1",
        f"--ServerApp.port={port}",
        "--ServerApp.port_retries=0",
        f"--ServerApp.root_dir={root_dir}",
        "--IdentityProvider.token=",  # loopback-only test server; see the module docstring
        "--LabApp.news_url=None",
        "--LabApp.check_for_updates_class=jupyterlab.handlers.announcements.NeverCheckForUpdate",
        "--LabApp.extension_manager=readonly",
    ]


def children_of(pid):
    """(pid, start time) of every process below ``pid`` (Linux /proc; empty elsewhere)."""
    parents = {}
    for entry in pathlib.Path("/proc").glob("[0-9]*"):
        try:
            fields = (entry / "stat").read_text().rsplit(")", 1)[1].split()
        except OSError:  # the process ended while we looked
            continue
        parents[int(entry.name)] = (int(fields[1]), fields[19])  # ppid, starttime
    found, todo = [], [pid]
    while todo:
        parent = todo.pop()
        for child, (ppid, start) in parents.items():
            if ppid == parent:
                found.append((child, start))
                todo.append(child)
    return found


def still_running(pid, start):
    """True if ``pid`` is alive and is the same process (not a reused pid)."""
    try:
        fields = pathlib.Path(f"/proc/{pid}/stat").read_text().rsplit(")", 1)[1].split()
    except OSError:
        return False
    return fields[19] == start and fields[0] != "Z"


class LabServer:
    """A running ``jupyter lab``: ``url``, ``root`` (its notebook folder) and ``log()``."""

    def __init__(self, workdir, notebooks=NOTEBOOKS, theme=None, app="jupyterlab"):
        self.workdir = workdir
        self.theme = theme
        self.app = app
        self.root = workdir / "notebooks"
        shutil.copytree(notebooks, self.root, ignore=shutil.ignore_patterns(".ipynb_checkpoints"))
        self.log_path = workdir / "jupyter.log"
        self.proc = None
        self.url = None
        self._kernels = []

    def env(self):
        env = dict(os.environ)
        home = self.workdir
        # Config, runtime files, lab settings and workspaces in the temporary folder: nothing of the
        # user's leaks in and nothing is left behind.
        env.update(JUPYTER_CONFIG_DIR=str(home / "config"), JUPYTER_RUNTIME_DIR=str(home / "runtime"),
                   JUPYTERLAB_SETTINGS_DIR=str(home / "settings"),
                   JUPYTERLAB_WORKSPACES_DIR=str(home / "workspaces"), IPYTHONDIR=str(home / "ipython"))
        # The kernel imports this checkout's ppl_kernel/extension, whatever is installed.
        env["PYTHONPATH"] = os.pathsep.join([str(REPO)] + [p for p in [env.get("PYTHONPATH")] if p])
        env.pop("JUPYTER_TOKEN", None)
        # A virtual environment made with --system-site-packages imports the base interpreter's packages
        # (ipywidgets, anywidget) but Jupyter looks for their front-end parts only under the venv's
        # prefix: without this, every widget fails with "Exception opening new comm".
        base = pathlib.Path(sys.base_prefix) / "share" / "jupyter"
        if sys.base_prefix != sys.prefix and base.is_dir():
            env["JUPYTER_PATH"] = os.pathsep.join([p for p in [env.get("JUPYTER_PATH")] if p] + [str(base)])
        return env

    def start(self):
        lab_settings(self.workdir / "settings", self.theme)
        for _attempt in range(3):  # the free port can be taken between finding it and binding it
            port = free_port()
            with open(self.log_path, "ab") as log:
                self.proc = subprocess.Popen(server_command(port, self.root, self.app), cwd=self.root, env=self.env(),
                                             stdout=log, stderr=subprocess.STDOUT, stdin=subprocess.DEVNULL,
                                             start_new_session=True)
            self.url = f"http://127.0.0.1:{port}"
            if self._wait_ready():
                return self
            self.stop()
        raise RuntimeError(f"jupyter lab did not start; its log:\n{self.log()}")

    def _wait_ready(self):
        deadline = time.monotonic() + SERVER_START_TIMEOUT
        while time.monotonic() < deadline:
            if self.proc.poll() is not None:
                return False
            try:
                with urllib.request.urlopen(f"{self.url}/api/status", timeout=2) as r:
                    if r.status == 200:
                        return True
            except (urllib.error.URLError, ConnectionError, TimeoutError):
                pass
            time.sleep(0.2)
        return False

    def log(self):
        try:
            return self.log_path.read_text(errors="replace")[-6000:]
        except OSError:
            return "(no log)"

    def stop(self):
        """Stop the server (SIGTERM: it shuts its kernels down), then kill whatever is left."""
        if self.proc is None:
            return
        kernels = children_of(self.proc.pid)
        try:
            os.killpg(self.proc.pid, signal.SIGTERM)
        except ProcessLookupError:
            pass
        try:
            self.proc.wait(timeout=20)
        except subprocess.TimeoutExpired:
            os.killpg(self.proc.pid, signal.SIGKILL)
            self.proc.wait(timeout=10)
        # Kernels live in their own session: kill any the server did not shut down, by pid.
        for pid, start in kernels:
            if still_running(pid, start):
                os.kill(pid, signal.SIGKILL)
        self.proc = None


@pytest.fixture(scope="module")
def lab(tmp_path_factory):
    """A JupyterLab server on 127.0.0.1 serving a copy of notebooks/; always stopped afterwards."""
    server = LabServer(tmp_path_factory.mktemp("lab"))
    try:
        yield server.start()
    finally:
        server.stop()


@pytest.fixture(scope="module")
def browser():
    """Debian's headless Chromium driven by Playwright (no browser download); skipped if missing."""
    if not os.access(CHROMIUM, os.X_OK):
        pytest.skip(f"no browser: {CHROMIUM} is missing (install it with `apt-get install -y chromium`)")
    from playwright.sync_api import sync_playwright

    with sync_playwright() as p:
        chromium = p.chromium.launch(executable_path=CHROMIUM, headless=True, args=CHROMIUM_ARGS)
        try:
            yield chromium
        finally:
            chromium.close()


@pytest.fixture
def artifacts():
    """The folder for screenshots (test-artifacts/e2e at the repository root, git-ignored)."""
    ARTIFACTS.mkdir(parents=True, exist_ok=True)
    return ARTIFACTS
