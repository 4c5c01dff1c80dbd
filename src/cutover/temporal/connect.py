"""Where Temporal is, and a client for it: `--temporal HOST:PORT --namespace NS`, else `CUTOVER_TEMPORAL` /
`CUTOVER_TEMPORAL_NAMESPACE`, else the embedded dev server `cutover server` started for this project (its address is
in `.cutover/temporal/address`).

`cutover.temporal` is the only package that imports `temporalio`: the rest of cutover talks to Temporal through it.
"""

from __future__ import annotations

import os
import re
from dataclasses import dataclass
from pathlib import Path
from typing import TYPE_CHECKING

from cutover.errors import EnvironmentProblem, UsageError
from cutover.redact import redact

if TYPE_CHECKING:
    from temporalio.client import Client

ENV_ADDRESS = "CUTOVER_TEMPORAL"
ENV_NAMESPACE = "CUTOVER_TEMPORAL_NAMESPACE"
ENV_API_KEY = "CUTOVER_TEMPORAL_API_KEY"  # a cluster that wants an API key (Temporal Cloud): implies TLS
ENV_TLS = "CUTOVER_TEMPORAL_TLS"  # "1": TLS with the system's CA certificates
DEFAULT_NAMESPACE = "default"
TASK_QUEUE = "cutover"
_ADDRESS = re.compile(r"^[A-Za-z0-9.\-\[\]:]+:\d{1,5}$")


@dataclass(frozen=True)
class Target:
    address: str
    namespace: str
    source: str  # "--temporal", "CUTOVER_TEMPORAL" or the embedded server's address file

    def describe(self) -> str:
        return f"{self.address} (namespace {self.namespace}, from {self.source})"


def address_file(project_dir: Path) -> Path:
    return project_dir / ".cutover" / "temporal" / "address"


def check_address(address: str, where: str) -> str:
    address = address.strip()
    if not _ADDRESS.match(address):
        raise UsageError(f"{where}: {address!r} is not HOST:PORT (e.g. localhost:7233)")
    return address


def resolve(project_dir: Path, address: str | None = None, namespace: str | None = None) -> Target:
    """The Temporal to use: the flag, else the environment, else the embedded server of this project."""
    ns = namespace or os.environ.get(ENV_NAMESPACE) or DEFAULT_NAMESPACE
    if address:
        return Target(check_address(address, "--temporal"), ns, "--temporal")
    env = os.environ.get(ENV_ADDRESS)
    if env:
        return Target(check_address(env, ENV_ADDRESS), ns, ENV_ADDRESS)
    path = address_file(project_dir)
    if path.is_file():
        return Target(check_address(path.read_text(encoding="utf-8"), str(path)), ns, "cutover server")
    raise UsageError(
        "no Temporal to connect to",
        hint="start the embedded one with `cutover server`, or pass --temporal HOST:PORT (or set CUTOVER_TEMPORAL)",
    )


async def connect(target: Target) -> Client:
    """A client for `target`; an unreachable server is an environment problem (exit 6) with one line."""
    from temporalio.client import Client

    api_key = os.environ.get(ENV_API_KEY) or None
    tls = bool(api_key) or os.environ.get(ENV_TLS, "").lower() in ("1", "true", "yes")
    try:
        return await Client.connect(target.address, namespace=target.namespace, api_key=api_key, tls=tls)
    except Exception as exc:  # the SDK raises RuntimeError / RPCError with a long text
        text = str(exc).strip()
        first = redact(text.splitlines()[0][:160]) if text else type(exc).__name__
        if "ConnectionRefused" in text or "Connection refused" in text:
            first = "connection refused"
        if api_key:
            first = first.replace(api_key, "***")
        raise EnvironmentProblem(
            f"cannot reach Temporal at {target.describe()}: {first}",
            hint="start it with `cutover server`, or check --temporal / CUTOVER_TEMPORAL",
        ) from None
