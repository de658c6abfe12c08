"""Helpers for the app tests: run ``python app.py`` as a real server on a free loopback port (or import it), make media."""

from __future__ import annotations

import importlib.util
import re
import socket
import subprocess
import sys
import time
import urllib.request
from pathlib import Path


ROOT = Path(__file__).resolve().parents[1]
START_TIMEOUT_S = 240  # s: importing torch and gradio and loading the model on a busy 2-core machine
STOP_TIMEOUT_S = 15  # s given to the server to exit after SIGTERM
POLL_S = 0.5  # s between checks that the server is up


def make_examples_module():
    """examples/make_examples.py as a module (examples/ is not a package)."""
    spec = importlib.util.spec_from_file_location("make_examples", ROOT / "examples" / "make_examples.py")
    module = importlib.util.module_from_spec(spec)
    sys.modules[spec.name] = module  # its dataclasses look their module up there
    spec.loader.exec_module(module)
    return module


def load_app():
    """app.py as a module, for tests that call its functions in this process."""
    spec = importlib.util.spec_from_file_location("app", ROOT / "app.py")
    module = importlib.util.module_from_spec(spec)
    sys.modules[spec.name] = module
    spec.loader.exec_module(module)
    return module


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


class AppServer:
    """``python app.py --host 127.0.0.1 --port <free> ...`` in a subprocess, its output in a log file."""

    def __init__(self, log_path: Path, *args: str, env: dict[str, str] | None = None):
        self.port = free_port()
        self.url = f"http://127.0.0.1:{self.port}/"
        self.log_path = log_path
        self._log = open(log_path, "wb")
        cmd = [sys.executable, str(ROOT / "app.py"), "--host", "127.0.0.1", "--port", str(self.port), *args]
        self.proc = subprocess.Popen(cmd, cwd=ROOT, stdout=self._log, stderr=subprocess.STDOUT, env=env)

    def log_tail(self, chars: int = 4000) -> str:
        self._log.flush()
        return self.log_path.read_text(errors="replace")[-chars:]

    def wait_for_log(self, pattern: str, since: int = 0, timeout: float = 30.0) -> str:
        """The log from its character ``since`` on, once that matches ``pattern``; AssertionError with it if it
        does not within ``timeout`` s."""
        deadline = time.monotonic() + timeout
        while not re.search(pattern, log := self.log_tail(10**9)[since:]):
            assert time.monotonic() < deadline, f"no {pattern!r} in the app's log within {timeout:.0f} s:\n{log}"
            time.sleep(POLL_S)
        return log

    def wait_until_up(self, timeout: float = START_TIMEOUT_S) -> float:
        """Seconds it took until the page answers; RuntimeError with the log if it never does."""
        t0 = time.monotonic()
        while time.monotonic() - t0 < timeout:
            if self.proc.poll() is not None:
                raise RuntimeError(f"app.py exited with {self.proc.returncode}:\n{self.log_tail()}")
            try:
                with urllib.request.urlopen(self.url, timeout=5) as r:
                    if r.status == 200:
                        return time.monotonic() - t0
            except OSError:
                time.sleep(POLL_S)
        raise RuntimeError(f"app.py did not answer at {self.url} within {timeout:.0f} s:\n{self.log_tail()}")

    def __enter__(self) -> "AppServer":
        """Started and answering; stopped again on exit, whatever happened."""
        try:
            self.wait_until_up()
        except BaseException:
            self.stop()
            raise
        return self

    def __exit__(self, *exc) -> None:
        self.stop()

    def stop(self) -> None:
        self.proc.terminate()
        try:
            self.proc.wait(STOP_TIMEOUT_S)
        except subprocess.TimeoutExpired:
            self.proc.kill()
            self.proc.wait()
        self._log.close()
