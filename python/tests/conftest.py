"""Shared fixtures of the Python tests: the repository's data and the CLI binary."""

import os
import shutil
import subprocess
from pathlib import Path

import pytest

REPO = Path(__file__).resolve().parents[2]
DATA = REPO / "tests" / "data"


def cli_binary():
    """The pgmkit binary: $PGMKIT_BIN, else target/release/pgmkit, else None."""
    env = os.environ.get("PGMKIT_BIN")
    if env:
        if not Path(env).is_file():
            raise FileNotFoundError(f"PGMKIT_BIN={env} does not exist")
        return env
    p = REPO / "target" / "release" / "pgmkit"
    if p.is_file():
        return str(p)
    return shutil.which("pgmkit")


@pytest.fixture(scope="session")
def cli():
    b = cli_binary()
    if b is None:
        pytest.skip("no pgmkit binary (build it with cargo build --release or set PGMKIT_BIN)")

    class Cli:
        binary = b

        def __call__(self, *args):
            out = subprocess.run([b, *args], check=True, capture_output=True, text=True)
            return out.stdout

    return Cli()


@pytest.fixture(scope="session")
def data():
    return DATA
