"""Delta releases: the components changed since the last release tag, as package.xml and destructiveChangesPost.xml.

API (consumed by relevant tests, the bench and the run): `Component`, `Delta`, `compute_delta`, `write_manifests`.
"""

from __future__ import annotations

from cutover.delta.compute import Component, Delta, DeltaError, compute_delta, git_command
from cutover.delta.manifest import manifest_text, read_members, write_manifests

__all__ = [
    "Component",
    "Delta",
    "DeltaError",
    "compute_delta",
    "git_command",
    "manifest_text",
    "read_members",
    "write_manifests",
]
