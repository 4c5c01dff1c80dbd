"""Running a compiled query and shaping the answer: REST records (nested relationships and child
subqueries), AggregateResult rows, and the `columns=true` column metadata of `sf data query`."""

from __future__ import annotations

from collections.abc import Iterable
from typing import Any

from orgsim.schema import FieldDef
from orgsim.soql.bound import BoundAggregate, BoundChild, BoundField, _Ctx, _matching
from orgsim.soql.plan import _Plan
from orgsim.soql.values import _category, _field_value, _normalize, _raw


# --- shaping results ------------------------------------------------------------------------------------------
def _attributes(ctx: _Ctx, sobject: str, record: dict[str, Any]) -> dict[str, Any]:
    attributes: dict[str, Any] = {"type": sobject}
    record_id = _raw(record, "Id")
    if record_id:
        base = "/tooling" if ctx.api == "tooling" else ""
        attributes["url"] = f"/services/data/v{ctx.api_version}{base}/sobjects/{sobject}/{record_id}"
    return attributes


def _tree(columns: Iterable[BoundField | BoundChild]) -> dict[str, Any]:
    """Selected fields as a nested dict: leaf → FieldDef, relationship → (Hop, subtree); select order kept."""
    root: dict[str, Any] = {}
    for bound in columns:
        if isinstance(bound, BoundChild):
            root[bound.relationship] = bound
            continue
        node = root
        for hop in bound.hops:
            entry = node.get(hop.relationship)
            if entry is None:
                entry = (hop, {})
                node[hop.relationship] = entry
            node = entry[1]
        node[bound.field.name] = bound.field
    return root


def _shape(plan: _Plan, sobject: str, record: dict[str, Any], tree: dict[str, Any]) -> dict[str, Any]:
    out: dict[str, Any] = {"attributes": _attributes(plan.ctx, sobject, record)}
    for key, node in tree.items():
        if isinstance(node, FieldDef):
            out[key] = _field_value(record, node)
            continue
        if isinstance(node, BoundChild):
            rows = node.rows_for(_raw(record, "Id"))
            child_tree = _tree(c for c in node.plan.columns if isinstance(c, BoundField | BoundChild))
            shaped = [_shape(node.plan, node.plan.obj.name, row, child_tree) for row in rows]
            # Salesforce answers null, not an empty list, for a parent without children.
            out[key] = {"totalSize": len(shaped), "done": True, "records": shaped} if shaped else None
            continue
        hop, subtree = node
        fk = _raw(record, hop.fk_field)
        target = plan.ctx.get(fk) if isinstance(fk, str) and fk else None
        out[key] = _shape(plan, target[0], target[1], subtree) if target else None
    return out


def _run(plan: _Plan, store: Any, include_deleted: bool) -> dict[str, Any]:
    q = plan.q
    records = _matching(plan, store, include_deleted)
    start = q.offset or 0
    stop = None if q.limit is None else start + q.limit
    if q.count_only:
        return {"totalSize": len(records[start:stop]), "done": True, "records": []}
    if q.is_aggregate:
        return _run_aggregate(plan, records, start, stop)
    plan.sort(records, lambda r, b: plan.value(r, b))
    tree = _tree(c for c in plan.columns if isinstance(c, BoundField | BoundChild))
    shaped = [_shape(plan, plan.obj.name, r, tree) for r in records[start:stop]]
    return {"totalSize": len(shaped), "done": True, "records": shaped}


def _run_aggregate(plan: _Plan, records: list[dict[str, Any]], start: int, stop: int | None) -> dict[str, Any]:
    groups: dict[tuple[Any, ...], list[dict[str, Any]]] = {}
    if plan.group_by:
        for record in records:
            key = tuple(_normalize(plan.value(record, g), _category(g.type)) for g in plan.group_by)
            groups.setdefault(key, []).append(record)
    else:
        groups[()] = records  # no GROUP BY: one row, even over no records
    rows = [g for g in groups.values() if plan.having is None or (g and plan.having(g))]

    def key_of(group: list[dict[str, Any]], bound: BoundField | BoundAggregate) -> Any:
        if isinstance(bound, BoundAggregate):
            return plan._aggregate(bound, group)
        return plan.value(group[0], bound) if group else None

    plan.sort(rows, key_of)
    shaped = []
    for group in rows[start:stop]:
        row: dict[str, Any] = {"attributes": {"type": "AggregateResult"}}
        for column in plan.columns:
            if isinstance(column, BoundAggregate):
                row[column.column] = plan._aggregate(column, group)
            else:
                row[column.alias or column.field.name] = plan.value(group[0], column) if group else None
        shaped.append(row)
    return {"totalSize": len(shaped), "done": True, "records": shaped}


# --- column metadata (the `columns=true` request of `sf data query`) -----------------------------------------
def _column(f: FieldDef, display: str) -> dict[str, Any]:
    return {
        "aggregate": False,
        "apexType": f.apex_type,
        "booleanType": f.type == "boolean",
        "columnName": f.name,
        "custom": f.custom,
        "displayName": display,
        "foreignKeyName": None,
        "insertable": f.createable,
        "joinColumns": [],
        "numberType": f.is_number,
        "textType": f.is_text,
        "updatable": f.updateable,
    }


def _tree_columns(tree: dict[str, Any], prefix: str) -> list[dict[str, Any]]:
    columns = []
    for key, node in tree.items():
        display = f"{prefix}{key}"
        if isinstance(node, FieldDef):
            columns.append(_column(node, display))
            continue
        if isinstance(node, BoundChild):
            child_tree = _tree(c for c in node.plan.columns if isinstance(c, BoundField | BoundChild))
            columns.append(
                {
                    "aggregate": True,
                    "apexType": None,
                    "booleanType": False,
                    "columnName": node.relationship,
                    "custom": node.relationship.endswith("__r"),
                    "displayName": display,
                    "foreignKeyName": None,
                    "insertable": False,
                    "joinColumns": _tree_columns(child_tree, ""),
                    "numberType": False,
                    "textType": False,
                    "updatable": False,
                }
            )
            continue
        hop, subtree = node
        columns.append(
            {
                "aggregate": False,
                "apexType": None,
                "booleanType": False,
                "columnName": hop.relationship,
                "custom": hop.custom,
                "displayName": display,
                "foreignKeyName": None,
                "insertable": False,
                "joinColumns": _tree_columns(subtree, f"{display}."),
                "numberType": False,
                "textType": False,
                "updatable": False,
            }
        )
    return columns


def _metadata(plan: _Plan) -> dict[str, Any]:
    q = plan.q
    columns: list[dict[str, Any]] = []
    if q.is_aggregate:
        for column in plan.columns:
            if isinstance(column, BoundAggregate):
                number = _category(column.type) == "number"
                columns.append(
                    {
                        "aggregate": True,
                        "apexType": (
                            column.argument.field.apex_type
                            if column.function in ("MIN", "MAX") and column.argument
                            else {"int": "Integer", "double": "Double"}[column.type]
                        ),
                        "booleanType": False,
                        "columnName": column.column,
                        "custom": False,
                        "displayName": column.display,
                        "foreignKeyName": None,
                        "insertable": False,
                        "joinColumns": [],
                        "numberType": number,
                        "textType": _category(column.type) in ("text", "id"),
                        "updatable": False,
                    }
                )
            else:
                name = column.alias or column.field.name
                flat = {"columnName": name, "displayName": name, "insertable": False, "updatable": False}
                if column.function:
                    # The CLI shows function columns under their expression text and renames exprN to it.
                    flat |= {"aggregate": True, "displayName": column.display, "apexType": "Integer"}
                    flat |= {"numberType": column.type == "int", "textType": False}
                    if column.type == "date":
                        flat["apexType"] = "Date"
                columns.append(_column(column.field, name) | flat)
    elif not q.count_only:
        columns = _tree_columns(_tree(c for c in plan.columns if isinstance(c, BoundField | BoundChild)), "")
    id_selected = any(isinstance(c, BoundField) and not c.hops and c.field.name == "Id" for c in plan.columns)
    return {
        "columnMetadata": columns,
        "entityName": plan.obj.name,
        "groupBy": bool(q.group_by),
        "idSelected": id_selected and not q.is_aggregate,
        "keyPrefix": plan.obj.key_prefix,
    }
