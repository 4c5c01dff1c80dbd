"""Before a project command runs: is what it needs there? (npm script in package.json, node_modules, the program.)

A runbook written for another project names `npm run test:all`; running it only says "exited 1" after npm's own
noise. These checks name the missing piece and the fix instead, without running anything.
"""

from __future__ import annotations

import json
import shutil
from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from pathlib import Path

#: Package managers whose `run SCRIPT` (and `test`) read package.json scripts; the command that installs the modules.
_RUNNERS = {"npm": "npm ci", "pnpm": "pnpm install", "yarn": "yarn install"}
_RUN_WORDS = ("run", "run-script", "rum", "urn")
_TEST_WORDS = ("test", "t", "tst")
#: npx options that take a value: their value is not the program.
_NPX_VALUE_OPTIONS = ("-p", "--package", "-c", "--call", "-w", "--workspace")


@dataclass(frozen=True)
class CommandProblem:
    """Why a command cannot work before it runs: `message` names what is missing and how to fix it."""

    message: str


def _fix(setting: str | None) -> str:
    if not setting:
        return "or change the command"
    return f"or set {setting} to the command you use, or null to drop the gate"


def _operands(argv: Sequence[str]) -> list[str]:
    """Non-option words after the program, up to `--` (options like `--silent` are skipped)."""
    words: list[str] = []
    for word in argv[1:]:
        if word == "--":
            break
        if not word.startswith("-"):
            words.append(word)
    return words


def npm_script(argv: Sequence[str]) -> tuple[str, str] | None:
    """(`npm`/`pnpm`/`yarn`, script name) when `argv` runs a package.json script, else None."""
    if not argv:
        return None
    program = Path(argv[0]).name
    if program not in _RUNNERS:
        return None
    words = _operands(argv)
    if not words:
        return None
    if words[0] in _RUN_WORDS:
        return (program, words[1]) if len(words) > 1 else None
    if words[0] in _TEST_WORDS:
        return program, "test"
    return None


def read_package_json(project: Path) -> tuple[Mapping[str, object] | None, str | None]:
    """(package.json as a mapping, None) or (None, why it cannot be used); (None, None) when there is none."""
    path = project / "package.json"
    if not path.is_file():
        return None, None
    try:
        data = json.loads(path.read_text(encoding="utf-8"))
    except OSError as exc:
        return None, f"cannot read package.json: {exc.strerror or exc}"
    except ValueError as exc:
        return None, f"package.json is not valid JSON ({exc})"
    if not isinstance(data, dict):
        return None, "package.json is not a JSON object"
    return data, None


def _has_dependencies(package: Mapping[str, object]) -> bool:
    return any(isinstance(package.get(key), dict) and package[key] for key in ("dependencies", "devDependencies"))


def _modules_missing(project: Path, package: Mapping[str, object], installer: str) -> CommandProblem | None:
    if installer == "npm ci" and not any(
        (project / lock).is_file() for lock in ("package-lock.json", "npm-shrinkwrap.json")
    ):
        installer = "npm install"  # npm ci needs a lock file
    if _has_dependencies(package) and not (project / "node_modules").is_dir():
        return CommandProblem(
            f"node_modules/ not found in {project.name or project}: the dependencies in package.json are not "
            f"installed; run `{installer}` there first"
        )
    return None


def check_script(argv: Sequence[str], project: Path, setting: str | None = None) -> CommandProblem | None:
    """A package.json script command: package.json exists, names the script, its dependencies are installed."""
    found = npm_script(argv)
    if found is None:
        return None
    program, script = found
    shown = " ".join(argv)
    package, problem = read_package_json(project)
    if problem:
        return CommandProblem(f"`{shown}`: {problem}")
    if package is None:
        return CommandProblem(
            f"`{shown}` runs a package.json script, but the project has no package.json; add one, {_fix(setting)}"
        )
    scripts = package.get("scripts")
    scripts = scripts if isinstance(scripts, dict) else {}
    if script not in scripts:
        have = f" (it has: {', '.join(sorted(scripts)[:8])})" if scripts else " (it has no scripts)"
        return CommandProblem(f"package.json has no script '{script}'{have}; add it, {_fix(setting)}")
    return _modules_missing(project, package, _RUNNERS[program])


def npx_program(argv: Sequence[str]) -> str | None:
    """The program `npx PROGRAM ...` runs (None when it is not npx, or a `--package` option decides it)."""
    if not argv or Path(argv[0]).name != "npx":
        return None
    for word in argv[1:]:
        if word == "--" or word.split("=", 1)[0] in _NPX_VALUE_OPTIONS:
            return None
        if not word.startswith("-"):
            return word.split("@", 1)[0] if not word.startswith("@") else "@" + word[1:].split("@", 1)[0]
    return None


def check_npx(
    argv: Sequence[str], project: Path, path: str | None, setting: str | None = None
) -> CommandProblem | None:
    """`npx TOOL`: TOOL is installed (node_modules/.bin or PATH); npx would otherwise download it from the registry."""
    program = npx_program(argv)
    if program is None:
        return None
    binary = program.rsplit("/", 1)[-1]
    if (project / "node_modules" / ".bin" / binary).exists() or shutil.which(binary, path=path):
        return None
    package, _ = read_package_json(project)
    if package is not None and not (project / "node_modules").is_dir():
        return CommandProblem(f"`{' '.join(argv)}`: node_modules/ not found; run `npm ci` first")
    return CommandProblem(
        f"`{' '.join(argv)}`: {binary} is not installed (not in node_modules/.bin nor on PATH) and cutover does not "
        f"let npx download it; add it to devDependencies and run `npm ci`, {_fix(setting)}"
    )


def check_program(argv: Sequence[str], path: str | None, setting: str | None = None) -> CommandProblem | None:
    """The program itself can be found (a bare name on PATH, a path relative to the project is left to the OS)."""
    program = argv[0]
    if "/" in program or shutil.which(program, path=path):
        return None
    hint = "install Node.js (it brings npm and npx)" if program in ("npm", "npx", "node") else f"install {program}"
    return CommandProblem(
        f"`{' '.join(argv)}`: {program} is not installed (not found on PATH); {hint}, {_fix(setting)}"
    )


def check_command(
    argv: Sequence[str], project: Path, path: str | None, setting: str | None = None
) -> CommandProblem | None:
    """The first reason `argv` cannot work in `project`, or None (then run it and see)."""
    return (
        check_program(argv, path, setting)
        or check_script(argv, project, setting)
        or check_npx(argv, project, path, setting)
    )
