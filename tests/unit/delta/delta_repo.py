"""A throwaway git repository for delta tests: write files, commit, tag (real git)."""

from __future__ import annotations

import subprocess
from pathlib import Path

META = (
    '<?xml version="1.0" encoding="UTF-8"?>\n<{kind} xmlns="http://soap.sforce.com/2006/04/metadata">{body}</{kind}>\n'
)


class Repo:
    def __init__(self, root: Path) -> None:
        self.root = root
        root.mkdir(parents=True, exist_ok=True)
        self.git("init", "-q", "-b", "main")
        self.git("config", "user.email", "dev@example.com")
        self.git("config", "user.name", "Dev")
        self.git("config", "commit.gpgsign", "false")

    def git(self, *args: str) -> str:
        return subprocess.run(["git", *args], cwd=self.root, check=True, capture_output=True, text=True).stdout

    def write(self, files: dict[str, str]) -> None:
        for rel, text in files.items():
            path = self.root / rel
            path.parent.mkdir(parents=True, exist_ok=True)
            path.write_text(text, encoding="utf-8")

    def remove(self, *paths: str) -> None:
        self.git("rm", "-q", "-r", *paths)

    def move(self, old: str, new: str) -> None:
        (self.root / new).parent.mkdir(parents=True, exist_ok=True)
        self.git("mv", old, new)

    def commit(self, message: str, tag: str | None = None) -> None:
        self.git("add", "-A")
        self.git("commit", "-q", "--allow-empty", "-m", message)
        if tag:
            self.git("tag", "-a", tag, "-m", tag)


def apex_class(name: str, body: str = "") -> dict[str, str]:
    base = f"force-app/main/default/classes/{name}"
    return {
        f"{base}.cls": f"public class {name} {{ {body} }}\n",
        f"{base}.cls-meta.xml": META.format(
            kind="ApexClass", body="<apiVersion>62.0</apiVersion><status>Active</status>"
        ),
    }


def field(obj: str, name: str, label: str = "F") -> dict[str, str]:
    body = f"<fullName>{name}</fullName><label>{label}</label><type>Text</type><length>10</length>"
    return {
        f"force-app/main/default/objects/{obj}/fields/{name}.field-meta.xml": META.format(kind="CustomField", body=body)
    }


def custom_object(name: str) -> dict[str, str]:
    body = (
        f"<label>{name}</label><pluralLabel>{name}s</pluralLabel>"
        "<nameField><label>Name</label><type>Text</type></nameField>"
        "<deploymentStatus>Deployed</deploymentStatus><sharingModel>ReadWrite</sharingModel>"
    )
    return {
        f"force-app/main/default/objects/{name}/{name}.object-meta.xml": META.format(kind="CustomObject", body=body)
    }


def lwc(name: str, html: str = "<template></template>") -> dict[str, str]:
    base = f"force-app/main/default/lwc/{name}/{name}"
    return {
        f"{base}.js": "import { LightningElement } from 'lwc';\nexport default class X extends LightningElement {}\n",
        f"{base}.html": html + "\n",
        f"{base}.js-meta.xml": META.format(
            kind="LightningComponentBundle", body="<apiVersion>62.0</apiVersion><isExposed>false</isExposed>"
        ),
    }
