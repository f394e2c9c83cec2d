"""The protocol simulator in its own process, started with `byok simulator`.

In-process, the simulator's request handling would run on this process's CPU
(and GIL) and be billed to whichever client is being measured; in its own
process it is a separate provider server, like the real thing. Its latency is
fixed per process, so the harness starts one per latency it needs.
"""

from __future__ import annotations

import os
import re
import signal
import subprocess
import sys
from pathlib import Path
from types import TracebackType
from typing import IO, Self

from providers.types import Protocol

__all__ = ["SimulatorProcess"]

_BANNER = re.compile(r"listening on (http://127\.0\.0\.1:\d+)")
_BASE_PATHS = {Protocol.ANTHROPIC: "", Protocol.OPENAI: "/v1", Protocol.GOOGLE: ""}
_STOP_TIMEOUT_S = 10.0


class SimulatorProcess:
    """`byok simulator --port 0 --latency-ms N` as a child process; a context manager."""

    def __init__(self, latency_ms: float) -> None:
        self.latency_ms = latency_ms
        self._process: subprocess.Popen[str] | None = None
        self._url: str | None = None

    def start(self) -> Self:
        """Start the process and return once it prints the address it serves on."""
        byok = Path(sys.executable).with_name("byok")
        command = [str(byok), "simulator", "--port", "0", "--latency-ms", f"{self.latency_ms:g}"]
        env = {**os.environ, "COLUMNS": "200", "NO_COLOR": "1"}
        process = subprocess.Popen(
            command, stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True, env=env
        )
        self._process = process
        self._url = _read_url(process.stdout)
        if self._url is None:
            _, stderr = self._stop()
            raise RuntimeError(f"`byok simulator` did not start: {stderr.strip()[-500:]}")
        return self

    @property
    def url(self) -> str:
        """The server root, e.g. `http://127.0.0.1:40123`."""
        if self._url is None:
            raise RuntimeError("the simulator process is not running: call start() first")
        return self._url

    def base_url(self, protocol: Protocol) -> str:
        """The base URL a key of `protocol` uses to reach this simulator."""
        return self.url + _BASE_PATHS[protocol]

    def stop(self) -> None:
        """Stop the process (SIGTERM, as `byok simulator` expects); safe to call twice."""
        self._stop()

    def _stop(self) -> tuple[str, str]:
        process, self._process, self._url = self._process, None, None
        if process is None:
            return "", ""
        if process.poll() is None:
            process.send_signal(signal.SIGTERM)
        try:
            return process.communicate(timeout=_STOP_TIMEOUT_S)
        except subprocess.TimeoutExpired:
            process.kill()
            return process.communicate()

    def __enter__(self) -> Self:
        return self.start()

    def __exit__(
        self,
        exc_type: type[BaseException] | None,
        exc: BaseException | None,
        traceback: TracebackType | None,
    ) -> None:
        self.stop()


def _read_url(stdout: IO[str] | None) -> str | None:
    """The URL from the banner's first line; None if the process ended first."""
    if stdout is None:
        return None
    for line in stdout:
        match = _BANNER.search(line)
        if match:
            return match.group(1)
    return None
