"""Progress display for runs: a Rich spinner with a live tail on a TTY, plain lines otherwise, nothing for JSON.

Everything goes to stderr so stdout stays clean for `--format json`. Text passed here is redacted first.
"""

from __future__ import annotations

import time
from typing import Any

from rich.console import Console
from rich.status import Status

from cutover.redact import redact

_MARKS = {
    "passed": "[green]✓[/green]",
    "failed": "[red]✗[/red]",
    "waived": "[yellow]~[/yellow]",
    "skipped": "[dim]-[/dim]",
    "waiting_signoff": "[yellow]⏸[/yellow]",
    "interrupted": "[red]![/red]",
}


class Progress:
    """No-op base: used with --format json, in tests, and by steps that run outside a terminal."""

    def step_started(self, step_id: str, title: str, position: int, total: int) -> None: ...

    def update(self, text: str) -> None: ...

    def step_finished(self, step_id: str, title: str, status: str, detail: str, seconds: float) -> None: ...

    def note(self, text: str) -> None: ...

    def close(self) -> None: ...


class ConsoleProgress(Progress):
    """Spinner + live tail when `console` is a terminal; otherwise one line per finished step."""

    def __init__(self, console: Console) -> None:
        self.console = console
        self.live = console.is_terminal
        self._status: Status | None = None
        self._label = ""
        self._last_update = 0.0

    def step_started(self, step_id: str, title: str, position: int, total: int) -> None:
        self._label = f"[{position}/{total}] {title} ({step_id})"
        if self.live:
            if self._status is None:
                self._status = self.console.status(self._escape(self._label))
                self._status.start()
            else:
                self._status.update(self._escape(self._label))

    def update(self, text: str) -> None:
        if not self.live or self._status is None:
            return
        now = time.monotonic()
        if now - self._last_update < 0.1:  # repainting on every output line would slow chatty commands down
            return
        self._last_update = now
        tail = redact(text).strip().replace("\n", " ")[-100:]
        self._status.update(self._escape(f"{self._label}  {tail}"))

    def step_finished(self, step_id: str, title: str, status: str, detail: str, seconds: float) -> None:
        mark = _MARKS.get(status, "?")
        suffix = f" — {self._escape(redact(detail))}" if detail else ""
        self._print(
            f"{mark} {self._escape(step_id)}  {self._escape(title)} [dim]({status}, {seconds:.1f}s)[/dim]{suffix}"
        )

    def note(self, text: str) -> None:
        self._print(self._escape(redact(text)))

    def close(self) -> None:
        if self._status is not None:
            self._status.stop()
            self._status = None

    def _print(self, markup: str) -> None:
        self.console.print(markup, highlight=False, soft_wrap=True)

    @staticmethod
    def _escape(text: Any) -> str:
        from rich.markup import escape

        return escape(str(text))
