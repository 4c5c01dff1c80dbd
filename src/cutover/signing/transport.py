"""Sign-off statements through the git remote: `refs/cutover/signoffs/<run>`, a ref holding one file per statement
(`<step>/<statement sha256>.json`, the same file `--output` writes).

The signer adds their statement on top of the remote's ref and pushes it (fast-forward only: a concurrent push is
fetched and the statement added again, up to three times); `cutover resume` and `cutover status` fetch the ref and
import the statements the run does not have yet. Nothing here touches the work tree, the index or HEAD: git
plumbing (hash-object, a temporary index, commit-tree, update-ref) only, argv only, with timeouts.
"""

from __future__ import annotations

import os
import subprocess
import tempfile
from dataclasses import dataclass
from pathlib import Path

from cutover.errors import EnvironmentProblem, Failure, UsageError
from cutover.signing.statement import Envelope

GIT_TIMEOUT = 60
REF_PREFIX = "refs/cutover/signoffs/"


def ref_name(run_id: str) -> str:
    return REF_PREFIX + run_id


def _git(
    cwd: Path, *args: str, data: bytes | None = None, env: dict[str, str] | None = None
) -> subprocess.CompletedProcess[bytes]:
    try:
        return subprocess.run(
            ["git", *args],
            cwd=cwd,
            input=data,
            capture_output=True,
            timeout=GIT_TIMEOUT,
            check=False,
            env={**os.environ, "GIT_TERMINAL_PROMPT": "0", **(env or {})},
        )
    except FileNotFoundError:
        raise EnvironmentProblem("git not found: sign-offs through the git remote need git") from None
    except subprocess.TimeoutExpired:
        raise EnvironmentProblem(f"git {args[0]} did not finish within {GIT_TIMEOUT} s") from None


def _why(done: subprocess.CompletedProcess[bytes]) -> str:
    text = (done.stderr or done.stdout or b"").decode("utf-8", "replace").strip()
    return text.splitlines()[-1] if text else f"exit {done.returncode}"


def has_remote(project_dir: Path, remote: str) -> bool:
    done = _git(project_dir, "remote")
    return done.returncode == 0 and remote in done.stdout.decode().split()


def fetch(project_dir: Path, remote: str, run_id: str) -> tuple[bool, str | None]:
    """Fetch the run's statements ref: (the remote has it, a problem reaching the remote or None)."""
    ref = ref_name(run_id)
    done = _git(project_dir, "fetch", "--quiet", "--no-tags", remote, f"+{ref}:{ref}")
    if done.returncode == 0:
        return True, None
    why = _why(done)
    if "couldn't find remote ref" in why:
        return False, None
    return False, why


def _head(project_dir: Path, ref: str) -> str | None:
    done = _git(project_dir, "rev-parse", "--verify", "--quiet", ref + "^{commit}")
    return done.stdout.decode().strip() or None if done.returncode == 0 else None


@dataclass(frozen=True)
class Delivered:
    path: str  # inside the ref's tree: <step>/<sha>.json
    text: str


def read(project_dir: Path, run_id: str) -> list[Delivered]:
    """Every statement file in the local copy of the run's ref (fetched or pushed), oldest path order."""
    ref = ref_name(run_id)
    if _head(project_dir, ref) is None:
        return []
    listed = _git(project_dir, "ls-tree", "-r", "-z", ref)
    if listed.returncode != 0:
        return []
    out: list[Delivered] = []
    for entry in listed.stdout.decode("utf-8", "replace").split("\0"):
        meta, _, path = entry.partition("\t")
        parts = meta.split()
        if len(parts) != 3 or parts[1] != "blob" or not path.endswith(".json"):
            continue
        blob = _git(project_dir, "cat-file", "blob", parts[2])
        if blob.returncode == 0 and len(blob.stdout) <= 256 * 1024:
            out.append(Delivered(path, blob.stdout.decode("utf-8", "replace")))
    return out


def _commit_with(project_dir: Path, parent: str | None, path: str, content: bytes, who: str) -> str:
    blob = _git(project_dir, "hash-object", "-w", "--stdin", data=content)
    if blob.returncode != 0:
        raise Failure(f"git hash-object failed: {_why(blob)}")
    with tempfile.TemporaryDirectory(prefix="cutover-index-") as folder:
        env = {
            "GIT_INDEX_FILE": str(Path(folder) / "index"),
            "GIT_AUTHOR_NAME": who,
            "GIT_AUTHOR_EMAIL": "cutover-signoff@localhost",
            "GIT_COMMITTER_NAME": who,
            "GIT_COMMITTER_EMAIL": "cutover-signoff@localhost",
        }
        steps = [["read-tree", parent]] if parent else [["read-tree", "--empty"]]
        steps.append(["update-index", "--add", "--cacheinfo", f"100644,{blob.stdout.decode().strip()},{path}"])
        for args in steps:
            done = _git(project_dir, *args, env=env)
            if done.returncode != 0:
                raise Failure(f"git {args[0]} failed: {_why(done)}")
        tree = _git(project_dir, "write-tree", env=env)
        if tree.returncode != 0:
            raise Failure(f"git write-tree failed: {_why(tree)}")
        args = ["commit-tree", tree.stdout.decode().strip(), "-m", f"cutover sign-off {path}"]
        if parent:
            args += ["-p", parent]
        commit = _git(project_dir, *args, env=env)
        if commit.returncode != 0:
            raise Failure(f"git commit-tree failed: {_why(commit)}")
        return commit.stdout.decode().strip()


def push(project_dir: Path, remote: str, run_id: str, envelope: Envelope, *, attempts: int = 3) -> str:
    """Add `envelope` to the remote's `refs/cutover/signoffs/<run>`; the path it landed at."""
    if not has_remote(project_dir, remote):
        raise UsageError(
            f"this checkout has no git remote {remote!r} to push the sign-off to",
            hint="use --output FILE and send the file, or --remote NAME",
        )
    statement = envelope.statement
    path = f"{statement.step}/{envelope.sha256}.json"
    ref = ref_name(run_id)
    why = ""
    for _ in range(attempts):
        _, problem = fetch(project_dir, remote, run_id)
        if problem:
            raise Failure(f"cannot fetch {ref} from {remote}: {problem}")
        parent = _head(project_dir, ref)
        commit = _commit_with(project_dir, parent, path, envelope.dumps().encode("utf-8"), statement.by)
        done = _git(project_dir, "push", "--quiet", "--no-verify", remote, f"{commit}:{ref}")
        if done.returncode == 0:
            _git(project_dir, "update-ref", ref, commit)
            return path
        why = _why(done)  # someone pushed in between (non-fast-forward): fetch and add again
    raise Failure(f"cannot push the sign-off to {remote} {ref}: {why}")
