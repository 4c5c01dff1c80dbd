"""Alert channels: where a notification goes.

A runbook channel (`alerts.channels[]`: id, type, target, url, min_severity) becomes one of:

- `OutboxChannel` for `url: file://PATH` (relative paths are relative to the project folder): appends one JSON line
  per message. Rehearsals, the demo and the tests use it: nothing leaves the machine.
- `AppriseChannel` for any other URL (mailto://, slack://, pagerduty://, json://, ...): sent with apprise.
  `${ENV_VAR}` in the URL is expanded from the environment, so webhook tokens stay out of the runbook file; the
  expanded values are registered as secrets and the URL itself never reaches a log, event or evidence file.
- `RecordOnlyChannel` for a channel without a url (the seed's channels have none): the message is kept in the run's
  outbox with status `not_sent`, and the release record says so.

`deliver()` raises `ChannelError` on failure; the `Notifier` turns that into a recorded failure, never a crash.
"""

from __future__ import annotations

import fcntl
import json
import os
import re
from dataclasses import dataclass
from pathlib import Path
from typing import TYPE_CHECKING, Any, Protocol

from cutover.redact import redact, redact_obj, register_secret

if TYPE_CHECKING:
    from collections.abc import Mapping

    from cutover.notify.notifier import Message
    from cutover.runbook.models import AlertChannel, Runbook

_ENV_RE = re.compile(r"\$\{([A-Za-z_][A-Za-z0-9_]*)\}")


class ChannelError(Exception):
    """A channel could not deliver (its message is redacted and safe to record)."""


class Channel(Protocol):
    id: str
    type: str
    target: str
    min_severity: str

    #: "sent" when `deliver` returns normally; "not_sent" for channels that only record.
    delivered_status: str

    def deliver(self, message: Message) -> None: ...


def append_json_line(path: Path, document: dict[str, Any]) -> None:
    """Append one redacted JSON line under an exclusive lock (a monitor and `cutover ack` may write at once)."""
    path.parent.mkdir(parents=True, exist_ok=True)
    line = json.dumps(redact_obj(document), sort_keys=True, ensure_ascii=False) + "\n"
    with open(path, "a", encoding="utf-8") as handle:
        fcntl.flock(handle.fileno(), fcntl.LOCK_EX)
        try:
            handle.write(line)
            handle.flush()
            os.fsync(handle.fileno())
        finally:
            fcntl.flock(handle.fileno(), fcntl.LOCK_UN)


def read_json_lines(path: Path) -> list[dict[str, Any]]:
    """The documents of a JSON-lines file (a torn last line, from a crash mid-write, is ignored)."""
    try:
        text = path.read_text(encoding="utf-8")
    except FileNotFoundError:
        return []
    out = []
    for line in text.splitlines():
        try:
            item = json.loads(line)
        except ValueError:
            continue
        if isinstance(item, dict):
            out.append(item)
    return out


@dataclass
class OutboxChannel:
    id: str
    type: str
    target: str
    path: Path
    min_severity: str = "LOW"
    delivered_status: str = "sent"

    def deliver(self, message: Message) -> None:
        try:
            from datetime import UTC, datetime

            at = datetime.now(UTC).strftime("%Y-%m-%dT%H:%M:%SZ")
            line = {"at": at, "channel": self.id, "type": self.type, "target": self.target, **message.to_json()}
            append_json_line(self.path, line)
        except OSError as exc:
            raise ChannelError(redact(f"cannot write {self.path}: {exc.strerror or exc}")) from None


@dataclass
class RecordOnlyChannel:
    """No url in the runbook: nothing is sent; the run outbox keeps the message marked `not_sent`."""

    id: str
    type: str
    target: str
    min_severity: str = "LOW"
    delivered_status: str = "not_sent"

    def deliver(self, message: Message) -> None:
        return None


@dataclass
class AppriseChannel:
    id: str
    type: str
    target: str
    url: str  # expanded; a secret: never recorded
    min_severity: str = "LOW"
    delivered_status: str = "sent"

    def deliver(self, message: Message) -> None:
        import apprise

        sender = apprise.Apprise()
        if not sender.add(self.url):
            raise ChannelError(f"{self.type} channel {self.id}: apprise does not understand its url")
        kind = {
            "CRITICAL": apprise.NotifyType.FAILURE,
            "HIGH": apprise.NotifyType.FAILURE,
            "MEDIUM": apprise.NotifyType.WARNING,
        }.get(message.severity, apprise.NotifyType.INFO)
        try:
            with apprise.LogCapture(level=apprise.logging.WARNING) as log:
                ok = bool(sender.notify(title=message.subject, body=message.text(), notify_type=kind))
            captured = log.getvalue()
        except Exception as exc:  # apprise plugins raise all sorts of things; none may stop the run
            raise ChannelError(redact(scrub_url(f"{type(exc).__name__}: {exc}", self.url))) from None
        if not ok:
            reason = " ".join(line.split(" - ", 2)[-1].strip() for line in captured.splitlines() if line.strip())
            raise ChannelError(redact(scrub_url(reason, self.url)[:300] or "apprise reported a failed delivery"))


@dataclass
class BrokenChannel:
    """A channel whose configuration cannot work (an unset ${VAR}): every delivery fails with the reason."""

    id: str
    type: str
    target: str
    reason: str
    min_severity: str = "LOW"
    delivered_status: str = "sent"

    def deliver(self, message: Message) -> None:
        raise ChannelError(self.reason)


def expand_env(url: str, environ: dict[str, str] | None = None) -> tuple[str, list[str]]:
    """`${NAME}` → its value (registered as a secret). Returns the URL and the names that are not set."""
    env = os.environ if environ is None else environ
    missing: list[str] = []

    def sub(match: re.Match[str]) -> str:
        value = env.get(match.group(1))
        if value is None:
            missing.append(match.group(1))
            return match.group(0)
        register_secret(value)
        return value

    return _ENV_RE.sub(sub, url), missing


def channel_from_config(
    config: AlertChannel | Mapping[str, object], project_dir: Path, environ: dict[str, str] | None = None
) -> Channel:
    """A runbook `AlertChannel` (or a dict with the same keys) as a Channel."""

    def get(key: str, default: object = None) -> object:
        return config.get(key, default) if isinstance(config, dict) else getattr(config, key, default)

    cid, ctype, target = str(get("id")), str(get("type", "apprise")), str(get("target", ""))
    minimum = str(get("min_severity", "LOW") or "LOW")
    url = get("url")
    if not url:
        return RecordOnlyChannel(cid, ctype, target, minimum)
    expanded, missing = expand_env(str(url), environ)
    if missing:
        return BrokenChannel(
            cid, ctype, target, f"environment variable(s) {', '.join(missing)} not set for its url", minimum
        )
    if expanded.startswith("file://"):
        raw = Path(expanded[len("file://") :])
        path = raw if raw.is_absolute() else Path(project_dir) / raw
        return OutboxChannel(cid, ctype, target, path, minimum)
    return AppriseChannel(cid, ctype, target, expanded, minimum)


def scrub_url(text: str, url: str) -> str:
    """Remove the URL and its token-like parts (slack://A/B/C path pieces, mailto://user:pass@) from `text`."""
    text = text.replace(url, "[url]")
    tail = url.split("://", 1)[-1]
    for piece in re.split(r"[/:@?&=#]", tail):
        if len(piece) >= 8 and not piece.replace(".", "").isdigit():
            text = text.replace(piece, "[REDACTED]")
    return text


def channels_from_runbook(runbook: Runbook, project_dir: Path, environ: dict[str, str] | None = None) -> list[Channel]:
    alerts = getattr(runbook, "alerts", None)
    return [channel_from_config(c, project_dir, environ) for c in getattr(alerts, "channels", None) or ()]
