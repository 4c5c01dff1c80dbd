"""What `rollback.remove-added` deletes, in which order, and how the outcome is counted.

The rule (a real org must accept the destructive deploy, or the rollback fails exactly when it is needed):

1. **Proof.** A component is deleted only when the backup proved it absent before the release (`added_by_release`
   in `backup.json`) *and* the deploy created it: a `componentSuccesses` row with `created: true` in the deploy
   step's result (`deploy-result.json`), or, when that result carries no component details, in the validation's
   result (`validation-result.json`; a quick deploy promotes exactly the validated package). Without either proof
   the component is left in place, with the reason.
2. **Never standard components.** Standard objects (a `CustomObject` whose name has no custom suffix: `__c`,
   `__e`, `__mdt`, `__b`, `__x`, `__kav`, ...), standard fields (a `CustomField` whose field part has no `__c`:
   `Account.Name` is standard, `Account.Score__c` custom), standard tabs and apps (`standard-Account`,
   `standard__Sales`) and types that are not a release's to delete (`StandardValueSet`, `Profile`, `*Settings`,
   translations) are left in place.
3. **Never children of a deleted object.** Fields, list views, record types, compact layouts, validation rules,
   web links, field sets, business processes, sharing reasons, and the object's layouts (`Obj__c-Layout`) and quick
   actions (`Obj__c.Action`) are not listed when their custom object is deleted in the same changes: deleting the
   object deletes them. They are counted as "removed with their object", not as deletions.
4. **What references a component goes before it.** One deploy (an empty package.xml) with two manifests: the
   platform processes `destructiveChangesPre.xml` entirely before `destructiveChangesPost.xml`. *Pre* holds what
   references others: permission set groups, apps, permission sets, Lightning pages, layouts, quick actions, tabs,
   flows, reports and dashboards, email templates, Visualforce, Aura and LWC bundles, triggers, Apex classes.
   *Post* holds what is referenced: the data model (object children, fields, objects) and leaf resources (static
   resources, message channels, labels, custom metadata records, ...). Within each manifest the types are written
   in dependency order (`PRE_ORDER`, `POST_ORDER`: each type may reference those after it); a type in neither list
   opens Post (after every referencer, before the fields and objects it may name); report, dashboard, email
   template and document *folders* close Post, once their contents are gone. Members of one type are deleted
   together, and the platform resolves references among them (two added classes that call each other).
5. **Never what the restored backup still names.** The backup is redeployed first; a file of it (Apex, a page, a
   component, a flow) that names a custom object, custom field or class the release "created" would make
   Salesforce refuse the whole destructive deploy ("referenced elsewhere"), so that component is left in place with
   the file as the reason (`references_in`; in a consistent org this finds nothing).
6. **Counts.** From the destructive deploy's result: *deleted* (a `deleted: true` row), *already gone* (the "No T
   named: N found" warning that `--ignore-warnings` lets through), *removed with their object*, and *left in place*
   (each with its reason).
"""

from __future__ import annotations

import json
import re
from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import TYPE_CHECKING, Any
from xml.sax.saxutils import escape

if TYPE_CHECKING:
    from cutover.engine.store import Store
    from cutover.sf import DeployResult
    from cutover.sf.results_deploy import ComponentMessage

MD_NS = "http://soap.sforce.com/2006/04/metadata"

#: The referencing layer, deleted first (destructiveChangesPre.xml), in this order: each type may reference the ones
#: after it (a permission set names apps, tabs, classes, fields; an app names tabs and pages; a layout names quick
#: actions; a quick action names flows and components; a trigger names classes ...).
PRE_ORDER: tuple[str, ...] = (
    "PermissionSetGroup",
    "PermissionSet",
    "CustomApplication",
    "LightningExperienceTheme",
    "CustomTab",
    "FlexiPage",
    "Layout",
    "QuickAction",
    "Dashboard",
    "Report",
    "ReportType",
    "GenAiPromptTemplate",
    "Prompt",
    "Flow",
    "FlowDefinition",
    "EmailTemplate",
    "ApexPage",
    "ApexComponent",
    "AuraDefinitionBundle",
    "LightningComponentBundle",
    "ApexTrigger",
    "ApexClass",
)
#: The referenced layer, deleted after (destructiveChangesPost.xml): the data model, then leaf resources. Types in
#: neither list go first in Post (after every referencer in Pre, before the fields and objects they may name).
POST_ORDER: tuple[str, ...] = (
    "CustomMetadata",
    "CompactLayout",
    "ListView",
    "ValidationRule",
    "RecordType",
    "BusinessProcess",
    "WebLink",
    "FieldSet",
    "SharingReason",
    "CustomField",
    "CustomObject",
    "GlobalValueSet",
    "CustomPermission",
    "CustomLabel",
    "CustomLabels",
    "LightningMessageChannel",
    "StaticResource",
    "ContentAsset",
    "NamedCredential",
    "ExternalCredential",
    "RemoteSiteSetting",
    "BrandingSet",
)
DELETE_ORDER: tuple[str, ...] = PRE_ORDER + POST_ORDER
_RANK = {name: index for index, name in enumerate(PRE_ORDER)} | {
    name: len(PRE_ORDER) + 1 + index for index, name in enumerate(POST_ORDER)
}
_UNKNOWN_RANK = len(PRE_ORDER)  # first in Post
_FOLDER_RANK = len(DELETE_ORDER) + 1  # a folder goes last, once its reports/templates are gone
_PRE_TYPES = frozenset(PRE_ORDER)
#: Types whose members live in folders (`Folder/Item`); a member without `/` is the folder itself.
FOLDER_TYPES = frozenset({"Report", "Dashboard", "EmailTemplate", "Document"})

CUSTOM_OBJECT_SUFFIXES = ("__c", "__e", "__mdt", "__b", "__x", "__kav", "__ka", "__dlm")
#: Types named `Object.Child` that live and die with their object.
OBJECT_CHILD_TYPES = frozenset(
    {
        "CustomField",
        "ListView",
        "RecordType",
        "CompactLayout",
        "ValidationRule",
        "WebLink",
        "FieldSet",
        "BusinessProcess",
        "SharingReason",
        "QuickAction",
        "Index",
    }
)
#: Types a rollback never deletes (not the release's to delete, or not deletable with the Metadata API).
NEVER_DELETED_TYPES = frozenset(
    {"StandardValueSet", "Profile", "CustomObjectTranslation", "Translations", "AppMenu", "Role", "Territory"}
)
ALREADY_GONE = re.compile(r"\bNo\b.*\bnamed\b.*\bfound\b", re.IGNORECASE)


@dataclass(frozen=True, order=True)
class Item:
    """A metadata component by type and full name (the rollback's own plain pair)."""

    type: str
    name: str

    def __str__(self) -> str:
        return f"{self.type}:{self.name}"

    @property
    def key(self) -> tuple[str, str]:
        return (self.type, self.name.lower())


@dataclass(frozen=True)
class LeftInPlace:
    item: Item
    reason: str

    def __str__(self) -> str:
        return f"{self.item} ({self.reason})"


@dataclass
class DestructivePlan:
    """The components to delete (pre, then post), and those the rollback does not list, with why."""

    pre: list[Item] = field(default_factory=list)
    post: list[Item] = field(default_factory=list)
    with_parent: list[Item] = field(default_factory=list)
    left: list[LeftInPlace] = field(default_factory=list)

    @property
    def delete(self) -> list[Item]:
        return self.pre + self.post

    def to_json(self) -> dict[str, Any]:
        return {
            "destructiveChangesPre": [str(i) for i in self.pre],
            "destructiveChangesPost": [str(i) for i in self.post],
            "removed_with_their_object": [str(i) for i in self.with_parent],
            "left_in_place": [{"component": str(x.item), "reason": x.reason} for x in self.left],
        }


def is_custom_object(name: str) -> bool:
    return name.lower().endswith(CUSTOM_OBJECT_SUFFIXES)


def parent_object(item: Item) -> str | None:
    """The object a child component belongs to (`Obj__c.Field__c` → `Obj__c`, layout `Obj__c-Main` → `Obj__c`)."""
    if item.type in OBJECT_CHILD_TYPES and "." in item.name:
        return item.name.split(".", 1)[0]
    if item.type == "Layout" and "-" in item.name:
        return item.name.split("-", 1)[0]
    if item.type == "CustomMetadata" and "." in item.name:  # record `Config.Default` of type Config__mdt
        return item.name.split(".", 1)[0] + "__mdt"
    return None


def never_delete(item: Item) -> str | None:
    """Why a rollback must not delete `item` whatever the evidence says (None: it may)."""
    if item.type in NEVER_DELETED_TYPES or item.type.endswith("Settings"):
        return f"{item.type} is never deleted by a rollback"
    if item.type == "CustomObject" and not is_custom_object(item.name):
        return "standard object"
    if item.type == "CustomField":
        field_name = item.name.split(".", 1)[-1]
        if "." not in item.name or not field_name.lower().endswith("__c"):
            return "standard field"
    if item.type in FOLDER_TYPES and item.name.split("/", 1)[0].lower() == "unfiled$public" and "/" not in item.name:
        return "the standard unfiled$public folder"
    if item.type == "CustomTab" and item.name.lower().startswith("standard-"):
        return "standard tab"
    if item.type == "CustomApplication" and item.name.lower().startswith("standard__"):
        return "standard app"
    return None


def plan_deletions(
    added: Iterable[Item],
    created: set[tuple[str, str]] | None,
    referenced: Mapping[tuple[str, str], str] | None = None,
) -> DestructivePlan:
    """Apply rules 1-5 to the backup's `added_by_release`. `created`: (type, lower-case name) of what the deploy
    created; None when no deploy or validation result with component details was found. `referenced`: item key →
    the backup file that still names it once the backup is redeployed (`references_in`): left in place."""
    plan = DestructivePlan()
    candidates: list[Item] = []
    for item in sorted(set(added)):
        reason = never_delete(item)
        if reason is None and created is None:
            reason = "no deploy or validation result of this run shows that the release created it"
        elif reason is None and item.key not in created:
            reason = "the deploy did not create it (no created=true row in its result)"
        elif reason is None and referenced and item.key in referenced:
            reason = f"{referenced[item.key]}, restored from the backup, still references it"
        if reason is not None:
            plan.left.append(LeftInPlace(item, reason))
        else:
            candidates.append(item)
    deleted_objects = {i.name.lower() for i in candidates if i.type == "CustomObject"}
    for item in sorted(candidates, key=_order):
        parent = parent_object(item)
        if parent is not None and parent.lower() in deleted_objects:
            plan.with_parent.append(item)
        elif item.type in _PRE_TYPES and not _is_folder(item):
            plan.pre.append(item)
        else:
            plan.post.append(item)
    return plan


#: Types a restored file can hold a reference to that Salesforce refuses to delete ("referenced elsewhere").
REFERENCE_CHECKED_TYPES = frozenset({"CustomObject", "CustomField", "ApexClass"})
#: Files whose references block a deletion: code, pages, components, flows. A permission set, profile, layout or
#: list view does not: Salesforce drops its entries for the deleted component by itself.
BLOCKING_SUFFIXES = (
    ".cls",
    ".trigger",
    ".page",
    ".component",
    ".js",
    ".cmp",
    ".app",
    ".evt",
    ".intf",
    ".html",
    ".flow",
)
_IDENTIFIER = re.compile(r"[A-Za-z_][A-Za-z0-9_]*")


def references_in(folder: Path, items: Iterable[Item]) -> dict[tuple[str, str], str]:
    """Which of `items` a file of the backup folder names (Apex, Visualforce, Aura/LWC, flows: `BLOCKING_SUFFIXES`):
    once the backup is redeployed that file is in the org again, and Salesforce refuses to delete what it references.
    In a consistent org this finds nothing (the backup predates the release); it guards against an org that already
    used a component the release "created". A field counts when its file names both the field and its object."""
    wanted = [i for i in items if i.type in REFERENCE_CHECKED_TYPES]
    if not wanted:
        return {}
    found: dict[tuple[str, str], str] = {}
    for path in sorted(p for p in folder.rglob("*") if p.is_file() and p.name.endswith(BLOCKING_SUFFIXES)):
        try:
            tokens = {t.lower() for t in _IDENTIFIER.findall(path.read_text(encoding="utf-8", errors="replace"))}
        except OSError:
            continue
        for item in wanted:
            if item.key in found:
                continue
            if item.type == "CustomField":
                obj, _, field_name = item.name.lower().partition(".")
                hit = field_name in tokens and obj in tokens
            else:
                hit = item.name.lower() in tokens
            if hit:
                found[item.key] = path.relative_to(folder).as_posix()
    return found


def _is_folder(item: Item) -> bool:
    return item.type in FOLDER_TYPES and "/" not in item.name


def _order(item: Item) -> tuple[int, str, str]:
    rank = _FOLDER_RANK if _is_folder(item) else _RANK.get(item.type, _UNKNOWN_RANK)
    return (rank, item.type, item.name.lower())


def manifest_xml(items: Sequence[Item], api_version: str) -> str:
    """A package.xml / destructiveChanges*.xml listing `items` in the given order (types grouped where they first
    appear; `plan_deletions` already sorted them by DELETE_ORDER)."""
    by_type: dict[str, list[str]] = {}
    for item in items:
        members = by_type.setdefault(item.type, [])
        if item.name not in members:
            members.append(item.name)
    lines = ['<?xml version="1.0" encoding="UTF-8"?>', f'<Package xmlns="{MD_NS}">']
    for type_name, members in by_type.items():
        lines.append("    <types>")
        lines += [f"        <members>{escape(m)}</members>" for m in members]
        lines.append(f"        <name>{escape(type_name)}</name>")
        lines.append("    </types>")
    lines += [f"    <version>{escape(api_version)}</version>", "</Package>"]
    return "\n".join(lines) + "\n"


def created_components(deploy_result: Mapping[str, Any] | None) -> set[tuple[str, str]] | None:
    """(type, lower-case name) of every `created: true` component success of a deploy/validation result document
    (None when it lists no component details at all, so it proves nothing either way)."""
    from cutover.sf.results import parse_deploy_result

    if not deploy_result:
        return None
    result = parse_deploy_result(deploy_result)
    rows = [c for c in result.component_successes if c.type]
    if not rows:
        return None
    return {(c.type, c.name.lower()) for c in rows if c.created}


def _evidence_result(store: Store, item: Mapping[str, Any]) -> Mapping[str, Any] | None:
    """The `result` of an sf call recorded as evidence (`SfResult.to_evidence()`)."""
    try:
        doc = json.loads((store.cutover_dir / item["relpath"]).read_text(encoding="utf-8"))
    except (OSError, ValueError):
        return None
    envelope = doc.get("envelope") if isinstance(doc, Mapping) else None
    result = envelope.get("result") if isinstance(envelope, Mapping) else None
    return result if isinstance(result, Mapping) else None


def release_created(store: Store, run_id: str) -> set[tuple[str, str]] | None:
    """What the run's deploy created (`created: true` rows of `deploy-result.json`), else what its validation would
    have created (`validation-result.json`); None when neither result lists component details."""
    stages = {r.id: r.spec.stage for r in store.steps(run_id)}
    evidence = list(reversed(store.evidence(run_id)))
    for stage, prefix in (("deploy", "deploy-result"), ("validate", "validation-result")):
        for item in evidence:
            if stages.get(item["step_id"]) == stage and str(item["name"]).startswith(prefix):
                created = created_components(_evidence_result(store, item))
                if created is not None:
                    return created
    return None


@dataclass
class DeletionCounts:
    deleted: list[Item] = field(default_factory=list)
    already_gone: list[Item] = field(default_factory=list)
    unconfirmed: list[Item] = field(default_factory=list)


def count_deletions(listed: Sequence[Item], deploy_result: DeployResult) -> DeletionCounts:
    """Sort what the destructive deploy listed by what its result says happened to each."""
    rows: dict[tuple[str, str], ComponentMessage] = {}
    for row in (*deploy_result.component_successes, *deploy_result.component_failures):
        if row.type:
            rows.setdefault((row.type, row.name.lower()), row)
    counts = DeletionCounts()
    for item in listed:
        row = rows.get(item.key)
        if row is not None and row.deleted:
            counts.deleted.append(item)
        elif row is not None and ALREADY_GONE.search(row.problem or ""):
            counts.already_gone.append(item)
        elif row is None and not rows and deploy_result.succeeded:
            counts.deleted.append(item)  # a result without component details: the deploy succeeded as a whole
        else:
            counts.unconfirmed.append(item)
    return counts


def summary(plan: DestructivePlan, counts: DeletionCounts) -> str:
    """`deleted 52 component(s) (+41 removed with their object); 3 already gone; 2 left in place: ...`"""

    def names(items: Sequence[object], limit: int = 5) -> str:
        shown = ", ".join(str(i) for i in items[:limit])
        return shown + (f" (+{len(items) - limit} more)" if len(items) > limit else "")

    parts = [f"deleted {len(counts.deleted)} component(s) the release added"]
    if counts.deleted:
        parts[0] += f" ({names(counts.deleted)})"
    if plan.with_parent:
        parts.append(f"{len(plan.with_parent)} removed with their object")
    parts.append(f"{len(counts.already_gone)} already gone")
    left = plan.left
    parts.append(f"{len(left)} left in place" + (f": {names(left)}" if left else ""))
    return "; ".join(parts)
