"""The secrets gate knows CI, template and vault references: they are not hardcoded secrets; literals still are."""

import json
from pathlib import Path

import pytest
from checks_git_helpers import commit, git, write

from cutover.checks.secret_refs import assigned_values, is_ci_reference, is_reference
from cutover.checks.secrets import scan_repository

REFERENCES = [
    "${{ secrets.SF_PASSWORD }}",
    "${{secrets.SF_PASSWORD}}",
    "${{ vars.API_KEY }}",
    "$[ variables.sfPassword ]",
    "$(SF_PASSWORD)",
    "$(System.AccessToken)",
    "$(cat /run/secrets/sf)",
    "`vault read -field=pw secret/sf`",
    "${SF_PASSWORD}",
    "${env:SF_PASSWORD}",
    "$SF_PASSWORD",
    "{{ .Values.password }}",
    "{{ secret_password }}",
    "{!$Credential.Password}",
    "%env.SF_PASSWORD%",
    "#{SfPassword}#",
    "<%= ENV['SF_PASSWORD'] %>",
    "((sf-password))",
    "@Microsoft.KeyVault(SecretUri=https://x.vault.azure.net/secrets/k)",
    "Bearer ${{ secrets.TOKEN }}",
    "${{ secrets.SF_USER }}:${{ secrets.SF_PASSWORD }}",
]
LITERALS = ["hunter2longvalue", "hunter2${SUFFIX}", "sk_live_4eC39HqLyjWDarjtT1zdp7dc", "Bearer abcdef0123456789", ""]


@pytest.mark.parametrize("value", REFERENCES)
def test_references_are_not_secrets(value: str):
    assert is_reference(value) and is_reference(f'"{value}"')


@pytest.mark.parametrize("value", LITERALS)
def test_literals_are_not_references(value: str):
    assert not is_reference(value)


def test_the_filter_reads_the_whole_value_of_the_line():
    # detect-secrets may hand over only a part of the value ("Bearer"): the line decides.
    assert is_ci_reference("Bearer", 'client_secret: "Bearer ${{ secrets.TOKEN }}"')
    assert not is_ci_reference("hunter2longvalue", 'password: "hunter2longvalue"  # ${{ secrets.X }} later')
    assert is_ci_reference("vault read -field=pw secret/sf", 'run: "PASSWORD=`vault read -field=pw secret/sf`\\n"')
    assert not is_ci_reference("hunter2=", 'password: "hunter2=${X}"')
    assert assigned_values("<password>{!$Credential.Password}</password>")[0] == "{!$Credential.Password}"
    assert [v.strip() for v in assigned_values('"password": "${X}",')] == ['"${X}",']


def _repo(tmp_path: Path, baseline: dict | None = None) -> Path:
    repo = tmp_path / "r"
    repo.mkdir()
    git(repo, "init", "-q", "-b", "main")
    workflow = "\n".join(
        [
            "env:",
            "  SF_PASSWORD: ${{ secrets.SF_PASSWORD }}",
            "jobs:",
            "  deploy:",
            "    steps:",
            "      - with:",
            "          password: ${{ secrets.SF_PASSWORD }}",
            '          client_secret: "Bearer ${{ secrets.TOKEN }}"',
            '          api_key: "@Microsoft.KeyVault(SecretUri=https://x.vault.azure.net/secrets/k)"',
            "        run: |",
            "          PASSWORD=`vault read -field=pw secret/sf`",
            "",
        ]
    )
    write(repo, ".github/workflows/deploy.yml", workflow)
    write(repo, "azure-pipelines.yml", "variables:\n  password: $(SF_PASSWORD)\n  secret: '%env.SF_SECRET%'\n")
    write(repo, ".env.example", 'SF_PASSWORD=\nAPI_KEY=\nSECRET=""\n')
    write(repo, "sfdx-project.json", json.dumps({"packageDirectories": [{"path": "force-app", "default": True}]}))
    integrity = "sha512-BcYH1CVJBO9tvyIZ2jVeXgSIMvGZ2FDRvDdOIVQyuklNKSsx+eppDEBq/g47Ayw+RqNFE+URvOShmf+f/qwAlA=="
    lock = {"packages": {"node_modules/x": {"version": "1.0.0", "integrity": integrity}}}
    write(repo, "package-lock.json", json.dumps(lock, indent=2))
    write(repo, "config/real.yml", 'password: "hunter2longvalue"\n')
    if baseline is not None:
        write(repo, ".secrets.baseline", json.dumps(baseline))
    commit(repo, "init")
    return repo


def _found(repo: Path, baseline: Path | None = None) -> list[str]:
    scan = scan_repository(repo, baseline_path=baseline)
    return sorted(f"{f.path}:{f.line}" for f in scan.findings)


def test_ci_references_pass_and_a_real_literal_is_still_found(tmp_path: Path):
    repo = _repo(tmp_path)
    assert _found(repo) == ["config/real.yml:1"]


def test_a_baseline_with_fewer_filters_does_not_bring_false_positives_back(tmp_path: Path):
    # A baseline written by `detect-secrets scan --disable-filter ...` (or an old version) lists fewer filters.
    from detect_secrets.core.plugins.util import get_mapping_from_secret_type_to_class

    plugins = [{"name": cls.__name__} for cls in get_mapping_from_secret_type_to_class().values()]
    baseline = {
        "version": "1.5.0",
        "plugins_used": plugins,
        "filters_used": [{"path": "detect_secrets.filters.allowlist.is_line_allowlisted"}],
        "results": {},
    }
    repo = _repo(tmp_path, baseline)
    assert _found(repo, repo / ".secrets.baseline") == ["config/real.yml:1"]
