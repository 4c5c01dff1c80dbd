"""Signed sign-offs: people's SSH keys in the runbook, canonical statements signed with `ssh-keygen -Y sign`
(namespace `cutover-signoff`), verified against the keys of the runbook, delivered by file or through
`refs/cutover/signoffs/<run>` on the git remote.

Modules: `sshkeygen` (the only code that runs ssh-keygen), `keys` (who holds which key; fingerprints), `statement`
(the canonical statement and its file), `verify` (the verified identity), `intake` (build, sign, accept),
`transport` (the git ref), `flows` (what the commands do with them).
"""
