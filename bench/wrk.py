"""Drive load with wrk (C, from Debian) instead of a Python loop sharing the server's cores.

Each run writes a Lua script that rotates through the scenario's POST bodies,
sends its headers (Authorization for signed-in scenarios), counts every
response that is not a 200 or carries a GraphQL ``errors`` member, and prints
one ``WRKJSON`` line with the figures when wrk ends. wrk itself runs pinned to
one core with ``taskset`` when there is more than one, so the server gets the
rest and the client's share is bounded.
"""

from __future__ import annotations

import json
import os
import shutil
import subprocess
import tempfile
from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from pathlib import Path

WRK = os.environ.get("WRK", "wrk")
MARKER = "WRKJSON "

_LUA = """
local bodies = {%(bodies)s}
local headers = {%(headers)s}
local n = 0
errors = 0
sample = ""

request = function()
  n = n + 1
  return wrk.format("POST", "%(path)s", headers, bodies[(n %% #bodies) + 1])
end

response = function(status, _, body)
  if status ~= 200 or string.find(body, '"errors"', 1, true) then
    errors = errors + 1
    if sample == "" then sample = status .. " " .. string.sub(body, 1, 200) end
  end
end

local threads = {}
function setup(thread) table.insert(threads, thread) end

function done(summary, latency, requests)
  local errs, first = 0, ""
  for _, t in ipairs(threads) do
    errs = errs + t:get("errors")
    if first == "" then first = t:get("sample") end
  end
  local e = summary.errors
  io.write(string.format(
    '%(marker)s{"requests":%%.0f,"duration_us":%%.0f,"p50_us":%%.0f,"p99_us":%%.0f,"errors":%%.0f,' ..
    '"socket_errors":%%.0f,"non_2xx":%%.0f}\\n',
    summary.requests, summary.duration, latency:percentile(50), latency:percentile(99), errs,
    e.connect + e.read + e.write + e.timeout, e.status))
  if first ~= "" then io.write("WRKSAMPLE " .. first .. "\\n") end
end
"""


def lua_string(text: str) -> str:
    """``text`` as a Lua string literal (a long bracket whose level cannot clash with the text)."""
    level = 0
    while f"]{'=' * level}]" in text:
        level += 1
    eq = "=" * level
    return f"[{eq}[{text}]{eq}]"


def script(path: str, bodies: Sequence[bytes], headers: Mapping[str, str]) -> str:
    """The Lua script of one scenario: rotate ``bodies``, send ``headers``, count failures."""
    if not bodies:
        raise ValueError("a scenario needs at least one body")
    return _LUA % {
        "bodies": ", ".join(lua_string(body.decode()) for body in bodies),
        "headers": ", ".join(
            f"[ {lua_string(k)} ] = {lua_string(v)}"
            for k, v in {"Content-Type": "application/json", **headers}.items()
        ),
        "path": path,
        "marker": MARKER,
    }


@dataclass(frozen=True)
class WrkResult:
    """wrk's figures for one run."""

    requests: int
    duration: float  # seconds
    p50_ms: float
    p99_ms: float
    errors: int  # non-200 responses and 200s with GraphQL errors (counted by the script)
    socket_errors: int  # connect, read, write and timeout errors
    non_2xx: int
    sample_error: str = ""

    @property
    def throughput(self) -> float:
        return self.requests / self.duration if self.duration > 0 else 0.0

    @property
    def failures(self) -> int:
        return self.errors + self.socket_errors


def parse(output: str) -> WrkResult:
    """The figures from wrk's output (the line the script's ``done`` prints)."""
    sample = ""
    figures: dict[str, int] | None = None
    for line in output.splitlines():
        if line.startswith(MARKER):
            figures = json.loads(line[len(MARKER) :])
        elif line.startswith("WRKSAMPLE "):
            sample = line[len("WRKSAMPLE ") :]
    if figures is None:
        raise RuntimeError(f"wrk printed no figures:\n{output[-2000:]}")
    return WrkResult(
        requests=figures["requests"],
        duration=figures["duration_us"] / 1e6,
        p50_ms=figures["p50_us"] / 1000,
        p99_ms=figures["p99_us"] / 1000,
        errors=figures["errors"],
        socket_errors=figures["socket_errors"],
        non_2xx=figures["non_2xx"],
        sample_error=sample,
    )


def command(url: str, script_path: Path, connections: int, seconds: float, threads: int = 1) -> list[str]:
    """wrk's command line, pinned to the last core when the machine has more than one."""
    wrk = [
        WRK,
        f"-t{threads}",
        f"-c{connections}",
        f"-d{max(1, round(seconds))}s",
        "--latency",
        "--timeout",
        "10s",
        "-s",
        str(script_path),
        url,
    ]
    cores = os.cpu_count() or 1
    if cores > 1 and shutil.which("taskset"):
        return ["taskset", "-c", str(cores - 1), *wrk]
    return wrk


def available() -> bool:
    """Whether wrk can be run."""
    return shutil.which(WRK) is not None


def run(
    base_url: str,
    path: str,
    bodies: Sequence[bytes],
    headers: Mapping[str, str],
    connections: int,
    seconds: float,
) -> WrkResult:
    """One wrk run against ``base_url`` + ``path``."""
    with tempfile.NamedTemporaryFile("w", suffix=".lua", prefix="bench-wrk-", delete=False) as file:
        file.write(script(path, bodies, headers))
        script_path = Path(file.name)
    try:
        completed = subprocess.run(
            command(base_url, script_path, connections, seconds),
            capture_output=True,
            text=True,
            timeout=seconds + 60,
            check=False,
        )
    finally:
        script_path.unlink(missing_ok=True)
    if completed.returncode != 0:
        raise RuntimeError(f"wrk failed ({completed.returncode}):\n{completed.stderr[-2000:]}")
    return parse(completed.stdout + completed.stderr)
