"""References to secrets are not secrets: CI, template and vault syntax that names a secret kept elsewhere.

`is_ci_reference` is a detect-secrets filter (its arguments are injected by name): a finding whose value is only
references (`${{ secrets.SF_PASSWORD }}`, `Bearer ${{ secrets.TOKEN }}`, `$(SF_PASSWORD)`, `${SF_PASSWORD}`,
`$SF_PASSWORD`, `{{ .Values.password }}`, `%env.SF_PASSWORD%`, `#{SfPassword}#`, `{!$Credential.Password}`,
`@Microsoft.KeyVault(...)`, `` `vault read ...` ``) is dropped. A literal next to a reference stays a finding.
"""

from __future__ import annotations

import re

REFERENCE = re.compile(
    r"""
      \$\{\{.*?\}\}                     # ${{ secrets.X }}, ${{ vars.X }}: GitHub Actions, Azure template expressions
    | \$\[.*?\]                         # $[ variables.x ]: Azure runtime expressions
    | \$\(\s*[\w.\-]+\s*\)              # $(SF_PASSWORD), $(System.AccessToken): Azure macros
    | \$\([^()]*\)                      # $(command): shell command substitution
    | `[^`]*`                           # `command`: shell command substitution
    | \$\{(?:env[:.])?[\w.\-]+\}        # ${VAR}, ${env:VAR}, ${env.VAR}: shell, Jenkins, PowerShell
    | \$(?:env:)?[A-Za-z_]\w*           # $VAR, $env:VAR
    | \{\{.*?\}\}                       # {{ .Values.x }}, {{ secret_password }}: Helm, Jinja, Mustache
    | \{!\$?[\w.]+\}                    # {!$Credential.Password}: Salesforce named credential merge fields
    | %[\w.\-]+%                        # %env.SF_PASSWORD%: TeamCity; %VAR%: Windows
    | \#\{[\w.\-]+\}\#?                 # #{SfPassword}#: Octopus, Azure token replacement
    | <%=?.*?%>                         # <%= ENV['X'] %>: ERB
    | \(\([\w.\-/]+\)\)                 # ((sf-password)): Concourse
    | @Microsoft\.KeyVault\([^)]*\)     # Azure App Service Key Vault reference
    """,
    re.VERBOSE,
)
#: What may stand next to references in a value that is still only a reference: quotes, separators, auth schemes.
_LEFTOVER = re.compile(r"(?i)^[\s\W_]*(?:(?:bearer|basic|token)\b[\s\W_]*)?$")
_TAG = re.compile(r"</?[\w:.\-]+/?>")
_ASSIGN = re.compile(r"[:=]")


def is_reference(value: str) -> bool:
    """True when `value` (quotes allowed) holds a secret reference and nothing else that could be a secret."""
    text = value.strip().removesuffix("\\n").strip(",;").strip().strip("'\"").removesuffix("\\n")
    if not text or not REFERENCE.search(text):
        return False
    return bool(_LEFTOVER.match(REFERENCE.sub(" ", text)))


def assigned_values(line: str) -> list[str]:
    """What may be the value on a line: what XML tags enclose, and the text after each `:` or `=` (outermost
    first: `run: "PASSWORD=$(cat f)"` gives `"PASSWORD=$(cat f)"`, then `$(cat f)"`)."""
    text = _TAG.sub(" ", line).strip()
    values = [text] if text != line.strip() else []
    values += [text[match.end() :] for match in _ASSIGN.finditer(text)]
    return values


def is_ci_reference(secret: str, line: str) -> bool:
    """detect-secrets filter: the finding is a reference to a secret, not a secret. The value holding the whole
    secret must be only references (`password: "hunter2${X}"` stays a finding)."""
    if is_reference(secret):
        return True
    return any(secret in value and is_reference(value) for value in assigned_values(line))
