"""Running ``wrk`` (one thread, keep-alive, ``--latency``) and reading what it prints."""

from __future__ import annotations

import re
import subprocess
from dataclasses import dataclass

_UNITS_MS = {"us": 0.001, "ms": 1.0, "s": 1000.0, "m": 60_000.0}


@dataclass(frozen=True)
class WrkResult:
    requests: int
    rps: float
    p50_ms: float
    p99_ms: float
    non_2xx: int  # wrk counts 3xx with the errors' complement: "Non-2xx or 3xx responses"
    socket_errors: int  # connect + read + write + timeout

    @property
    def errors(self) -> int:
        return self.non_2xx + self.socket_errors


def duration_ms(text: str) -> float:
    """wrk's latency figures (``812.00us``, ``3.41ms``, ``1.02s``, ``1.50m``) in milliseconds."""
    match = re.fullmatch(r"([\d.]+)(us|ms|s|m)", text.strip())
    if match is None:
        raise ValueError(f"not a wrk duration: {text!r}")
    return float(match.group(1)) * _UNITS_MS[match.group(2)]


def parse_wrk_output(output: str) -> WrkResult:
    """The figures of one ``wrk --latency`` run; ValueError if a required line is missing."""

    def required(pattern: str) -> str:
        match = re.search(pattern, output)
        if match is None:
            raise ValueError(f"wrk output has no match for {pattern!r}:\n{output}")
        return match.group(1)

    non_2xx = re.search(r"Non-2xx or 3xx responses: (\d+)", output)
    socket = re.search(r"Socket errors: connect (\d+), read (\d+), write (\d+), timeout (\d+)", output)
    return WrkResult(
        requests=int(required(r"(\d+) requests in")),
        rps=float(required(r"Requests/sec:\s+([\d.]+)")),
        p50_ms=duration_ms(required(r"\n\s+50%\s+(\S+)")),
        p99_ms=duration_ms(required(r"\n\s+99%\s+(\S+)")),
        non_2xx=int(non_2xx.group(1)) if non_2xx else 0,
        socket_errors=sum(int(n) for n in socket.groups()) if socket else 0,
    )


def wrk_command(url: str, headers: dict[str, str], connections: int, duration: float) -> list[str]:
    # wrk takes whole seconds only; a smoke run asks for ~1 s.
    command = ["wrk", "-t1", f"-c{connections}", f"-d{max(1, round(duration))}s", "--latency"]
    for name, value in headers.items():
        command += ["-H", f"{name}: {value}"]
    return [*command, url]


def run_wrk(url: str, headers: dict[str, str], connections: int, duration: float) -> WrkResult:
    done = subprocess.run(
        wrk_command(url, headers, connections, duration),
        capture_output=True,
        text=True,
        check=True,
        timeout=duration + 30,
    )
    return parse_wrk_output(done.stdout)
