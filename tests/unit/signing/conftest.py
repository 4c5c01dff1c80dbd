"""Fixtures for the signed sign-off tests: one set of real ed25519 keys per module (ssh-keygen, no passphrase)."""

from __future__ import annotations

import shutil
from pathlib import Path

import pytest
from signing_helpers import keys_in


@pytest.fixture(scope="module")
def keys(tmp_path_factory: pytest.TempPathFactory) -> dict[str, Path]:
    if shutil.which("ssh-keygen") is None:
        pytest.skip("ssh-keygen (OpenSSH) is not installed")
    return keys_in(tmp_path_factory.mktemp("keys"))
