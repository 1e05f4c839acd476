"""Every shell example in README.md and docs/*.md (fenced `sh` blocks) runs against `make demo`'s data.

The demo is built in a temporary folder laid out like the repository after `make demo`
(`demo/`, and `.venv` pointing at this environment), so each block runs as written, from
that folder, in bash with `set -euo pipefail`. What the test stands in for is left out:
`make` lines (it built the demo itself) and `roi ... serve` lines (it runs one `roi serve` on
a free loopback port, and the examples' `127.0.0.1:8000` is pointed at it). A block sees the
`export` lines of the blocks before it in the same file (a block of exports only is not run
alone). Each must exit 0 and print something, and nothing that means "no data" or an error.
"""

from __future__ import annotations

import os
import re
import shutil
import socket
import subprocess
import sys
import time
from pathlib import Path

import pytest
import requests

from roi.demo import run_demo

ROOT = Path(__file__).resolve().parent.parent
FILES = [ROOT / "README.md", *sorted((ROOT / "docs").glob("*.md"))]
FENCE = re.compile(r"^```(\w*)[^\n]*\n(.*?)^```", re.S | re.M)
EMPTY = re.compile(r'"(cohorts|series|items|periods)":\s*\[\]')


def shell_blocks(path: Path) -> list[tuple[int, str]]:
    """(line, text) of each fenced `sh` block."""
    text = path.read_text(encoding="utf-8")
    return [(text[: match.start()].count("\n") + 1, match.group(2))
            for match in FENCE.finditer(text) if match.group(1) in ("sh", "bash", "shell")]


def commands(block: str) -> list[str]:
    """The block's commands, continuation lines joined; comments and blank lines dropped."""
    joined = re.sub(r"\\\n", " ", block)
    return [line for line in joined.splitlines() if line.strip() and not line.lstrip().startswith("#")]


def runnable(command: str) -> bool:
    stripped = command.strip()
    return not stripped.startswith("make ") and not re.search(r"\broi\b.*\sserve\b", stripped)


def _free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return sock.getsockname()[1]


@pytest.fixture(scope="module")
def checkout(tmp_path_factory):
    """A folder as the repository is after `make demo`, and `roi serve` on its demo."""
    for tool in ("curl", "jq"):
        if shutil.which(tool) is None:
            pytest.skip(f"{tool} is not installed: the docs' examples call it (.ci/run installs it)")
    folder = tmp_path_factory.mktemp("checkout")
    (folder / ".venv").symlink_to(Path(sys.prefix), target_is_directory=True)
    run_demo(folder / "demo", echo=lambda line: None)
    port = _free_port()
    server = subprocess.Popen(
        [str(folder / ".venv" / "bin" / "roi"), "--config", "demo/roi.toml", "serve", "--port", str(port),
         "--workers", "1", "--no-access-log"],
        cwd=folder, stdout=subprocess.DEVNULL, stderr=subprocess.PIPE,
    )
    try:
        deadline = time.monotonic() + 60
        while True:
            try:
                if requests.get(f"http://127.0.0.1:{port}/healthz", timeout=2).status_code == 200:
                    break
            except requests.ConnectionError:
                pass
            if server.poll() is not None or time.monotonic() > deadline:
                raise AssertionError(f"roi serve did not start: {server.stderr.read().decode()[-2000:]}")
            time.sleep(0.2)
        yield folder, port
    finally:
        server.terminate()
        server.wait(timeout=30)
        server.stderr.close()


def test_the_docs_have_shell_examples():
    found = {path.name: len(shell_blocks(path)) for path in FILES}
    assert found["README.md"] >= 2 and found["api.md"] >= 7 and found["workbook.md"] >= 1, found


@pytest.mark.parametrize("path", FILES, ids=[path.name for path in FILES])
def test_every_shell_example_runs_against_the_demo(checkout, path):
    folder, port = checkout
    exports: list[str] = []
    for line, block in shell_blocks(path):
        script = [command.replace("127.0.0.1:8000", f"127.0.0.1:{port}") for command in commands(block)
                  if runnable(command)]
        if any(not command.startswith("export ") for command in script):  # a block of exports only sets up
            where = f"{path.name}:{line}"
            env = {key: value for key, value in os.environ.items() if not key.startswith("ROI_")}
            result = subprocess.run(["bash", "-c", "set -euo pipefail\n" + "\n".join([*exports, *script])],
                                    cwd=folder, capture_output=True, text=True, timeout=180, env=env)
            shown = result.stdout + result.stderr
            assert result.returncode == 0, f"{where}: exit {result.returncode}\n{shown[-3000:]}"
            assert shown.strip(), f"{where}: printed nothing"
            assert not EMPTY.search(shown), f"{where}: an empty answer\n{shown[-3000:]}"
            assert "error:" not in result.stderr and "warning:" not in result.stderr, f"{where}\n{result.stderr}"
        exports += [command for command in script if command.startswith("export ")]
