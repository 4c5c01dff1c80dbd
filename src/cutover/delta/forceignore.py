""".forceignore: files the sf CLI neither deploys nor retrieves (gitignore syntax), so the delta leaves them out too.

Supported: comments, blank lines, `!` negation (the last matching pattern wins), a leading `/` or an inner `/`
anchoring the pattern at the project folder, a trailing `/` matching folders only, `*`, `?`, `[...]` and `**`.
"""

from __future__ import annotations

import re
from dataclasses import dataclass


@dataclass(frozen=True)
class _Rule:
    regex: re.Pattern[str]
    negate: bool
    dir_only: bool


def _translate(glob: str) -> str:
    out = []
    i = 0
    while i < len(glob):
        if glob.startswith("**/", i):
            out.append("(?:.*/)?")
            i += 3
        elif glob.startswith("/**", i) and i + 3 == len(glob):
            out.append("/.*")
            i += 3
        elif glob.startswith("**", i):
            out.append(".*")
            i += 2
        elif glob[i] == "*":
            out.append("[^/]*")
            i += 1
        elif glob[i] == "?":
            out.append("[^/]")
            i += 1
        elif glob[i] == "[" and "]" in glob[i + 1 :]:
            end = glob.index("]", i + 1)
            body = glob[i + 1 : end].replace("\\", "\\\\")
            out.append("[" + ("^" + body[1:] if body.startswith("!") else body) + "]")
            i = end + 1
        else:
            out.append(re.escape(glob[i]))
            i += 1
    return "".join(out)


class ForceIgnore:
    def __init__(self, text: str = "") -> None:
        self.rules: list[_Rule] = []
        for raw in text.splitlines():
            line = raw.rstrip()
            if not line.strip() or line.lstrip().startswith("#"):
                continue
            line = line.strip()
            negate = line.startswith("!")
            if negate:
                line = line[1:]
            dir_only = line.endswith("/")
            line = line.rstrip("/")
            if not line:
                continue
            anchored = "/" in line
            line = line.lstrip("/")
            prefix = "" if anchored else "(?:.*/)?"
            self.rules.append(_Rule(re.compile(f"^{prefix}{_translate(line)}$"), negate, dir_only))

    def ignored(self, path: str) -> bool:
        """Whether `path` (relative to the project folder, `/`-separated) is ignored, itself or by a parent folder."""
        parts = path.strip("/").split("/")
        for depth in range(1, len(parts) + 1):  # a folder that is ignored hides everything inside it
            candidate = "/".join(parts[:depth])
            is_dir = depth < len(parts)
            state = False
            for rule in self.rules:
                if rule.dir_only and not is_dir:
                    continue
                if rule.regex.match(candidate):
                    state = not rule.negate
            if state:
                return True
        return False
