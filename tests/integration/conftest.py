"""Fixtures for integration tests: the real sf CLI (isolated HOME) against orgsim servers on loopback."""

from __future__ import annotations

import os
from collections.abc import Callable, Iterator
from pathlib import Path
from typing import Any

import pytest

from orgsim.scenario import Scenario, builtin_scenario_path
from orgsim.testing import OrgsimServer, login, sf_env

REPO_ROOT = Path(__file__).resolve().parents[2]


def pytest_collection_modifyitems(config: pytest.Config, items: list[pytest.Item]) -> None:
    here = Path(__file__).parent
    for item in items:
        if here in Path(str(item.fspath)).parents:
            item.add_marker(pytest.mark.integration)


@pytest.fixture(scope="session")
def sf_bin() -> Path:
    """The pinned real sf CLI (CUTOVER_SF, else .tools/bin/sf); a missing CLI fails the test, never skips it."""
    configured = os.environ.get("CUTOVER_SF")
    path = Path(configured) if configured else REPO_ROOT / ".tools" / "bin" / "sf"
    if not path.exists():
        pytest.fail(f"the sf CLI is missing at {path}: run `make setup`")
    return path


@pytest.fixture
def sf_home(tmp_path: Path) -> Path:
    """An empty HOME for sf, so auth files and aliases never leak between tests or from the machine."""
    home = tmp_path / "sf-home"
    home.mkdir()
    return home


@pytest.fixture
def sf_environment(sf_bin: Path, sf_home: Path, monkeypatch: pytest.MonkeyPatch) -> dict[str, str]:
    """For tests whose steps run in this process: only the isolated sf HOME and the pinned CLI in the environment."""
    env = sf_env(sf_home, sf_bin, {"CUTOVER_SF": str(sf_bin)})
    for key in [k for k in list(os.environ) if k not in env]:
        monkeypatch.delenv(key, raising=False)
    for key, value in env.items():
        monkeypatch.setenv(key, value)
    return env


OrgsimFactory = Callable[..., OrgsimServer]


@pytest.fixture
def orgsim_factory(tmp_path: Path) -> Iterator[OrgsimFactory]:
    """Start orgsim servers: `orgsim_factory(scenario, name="org")`; all are stopped at teardown."""
    servers: list[OrgsimServer] = []

    def start(scenario: Scenario | Path | str | dict[str, Any] | None = None, *, name: str = "org") -> OrgsimServer:
        if isinstance(scenario, str) and builtin_scenario_path(scenario).exists():
            scenario = builtin_scenario_path(scenario)
        server = OrgsimServer(tmp_path / f"orgsim-{name}-{len(servers)}", scenario)
        servers.append(server)
        return server

    yield start
    for server in servers:
        server.stop()


@pytest.fixture
def production_org(orgsim_factory: OrgsimFactory, sf_bin: Path, sf_home: Path) -> OrgsimServer:
    """The shipped `production.yaml` org, logged in as alias `production` in `sf_home`."""
    server = orgsim_factory(builtin_scenario_path("production"), name="production")
    login(sf_bin, sf_home, server.url, server.token, alias="production")
    return server
