"""The compiled query: SELECT/GROUP BY/ORDER BY bound to the schema, WHERE/HAVING compiled to predicates,
relationship traversal, aggregation and ordering."""

from __future__ import annotations

from collections.abc import Callable, Iterable
from typing import Any

from orgsim.schema import ObjectDef
from orgsim.soql.bound import BoundAggregate, BoundChild, BoundField, Hop, _Ctx, _matching
from orgsim.soql.errors import (
    INVALID_RELATIONSHIP_HINT,
    SoqlError,
    invalid_field,
    invalid_relationship,
    invalid_type,
    malformed,
    positioned,
)
from orgsim.soql.filters import _comparison_test
from orgsim.soql.nodes import Aggregate, BoolOp, ChildQuery, Condition, FieldPath, FieldsFunction, Not, Query, SemiJoin
from orgsim.soql.values import _category, _date_function, _field_value, _normalize, _raw

FIELDS_FUNCTION_MAX_LIMIT = 200


class _Plan:
    def __init__(self, query: Query, ctx: _Ctx, obj: ObjectDef | None = None) -> None:
        self.q = query
        self.ctx = ctx
        obj = obj or ctx.schema.get_object(query.sobject, ctx.api)
        if obj is None:
            raise invalid_type(ctx.soql, query.sobject_pos, query.sobject)
        self.obj = obj
        self.columns: list[BoundField | BoundAggregate | BoundChild] = []
        self._bind_select()
        self.where = self._compile(query.where, having=False) if query.where else None
        self.group_by = [self.bind(p) for p in query.group_by]
        if query.is_aggregate:
            self._check_grouping()
        self.having = self._compile(query.having, having=True) if query.having else None
        self.order = [(self._bind_order_key(item.key), item.descending, item.nulls_last) for item in query.order_by]

    # binding ------------------------------------------------------------------------------------------------
    def bind(self, path: FieldPath) -> BoundField:
        ctx = self.ctx
        parts = list(path.parts)
        # `SELECT a.Name FROM Account a` and `SELECT Account.Name FROM Account` name the queried object itself.
        prefixes = {self.obj.name.lower()} | ({self.q.alias.lower()} if self.q.alias else set())
        if len(parts) > 1 and parts[0].lower() in prefixes and not self.obj.relationship(parts[0]):
            parts = parts[1:]
        current: tuple[ObjectDef, ...] = (self.obj,)
        hops: list[Hop] = []
        for name in parts[:-1]:
            fk = next((f for f in (o.relationship(name) for o in current) if f is not None), None)
            if fk is None:
                raise invalid_relationship(ctx.soql, path.pos, name)
            targets = tuple(t for t in (ctx.schema.get_object(n) for n in fk.reference_to) if t is not None)
            if not targets:
                raise invalid_relationship(ctx.soql, path.pos, name)
            hops.append(Hop(fk.relationship_name or name, fk.name, targets, fk.custom))
            current = targets
        last = parts[-1]
        found = next((f for f in (o.field(last) for o in current) if f is not None), None)
        if found is None:
            raise invalid_field(ctx.soql, path.pos, last, current[0].name)
        if path.function:
            allowed = ("datetime",) if path.function == "HOUR_IN_DAY" else ("date", "datetime")
            if found.type not in allowed:
                kind = "dateTime" if allowed == ("datetime",) else "date or dateTime"
                text = f"{path.function}() is only valid on a {kind} field, not on {found.name}"
                raise SoqlError("INVALID_FIELD", positioned(ctx.soql, path.pos, text))
        return BoundField(tuple(hops), found, function=path.function)

    def _bind_select(self) -> None:
        seen: set[str] = set()
        expr_index = 0
        q = self.q
        if any(isinstance(s, Aggregate) and s.function == "COUNT" and s.argument is None for s in q.select):
            if not q.count_only:
                item = next(s for s in q.select if isinstance(s, Aggregate) and s.argument is None)
                raise malformed(self.ctx.soql, item.pos, "COUNT() must be the only element in the SELECT list")
            if q.group_by:
                raise malformed(self.ctx.soql, q.select[0].pos, "COUNT() cannot be used with GROUP BY")
            return
        for item in q.select:
            if isinstance(item, ChildQuery):
                child = self._bind_child(item)
                if child.relationship.lower() in seen:
                    raise malformed(self.ctx.soql, item.pos, f"duplicate field selected: {child.relationship}")
                seen.add(child.relationship.lower())
                self.columns.append(child)
                continue
            if isinstance(item, FieldsFunction):
                if item.which != "STANDARD" and (q.limit is None or q.limit > FIELDS_FUNCTION_MAX_LIMIT):
                    text = f"The SOQL FIELDS function must have a LIMIT of at most {FIELDS_FUNCTION_MAX_LIMIT}"
                    raise malformed(self.ctx.soql, item.pos, text)
                for f in self.obj.fields.values():
                    wanted = item.which == "ALL" or (item.which == "CUSTOM") == f.custom
                    if wanted and f.name.lower() not in seen:
                        seen.add(f.name.lower())
                        self.columns.append(BoundField((), f))
                continue
            if isinstance(item, Aggregate):
                argument = self.bind(item.argument) if item.argument else None
                if item.alias:
                    column = item.alias
                else:
                    column = f"expr{expr_index}"
                    expr_index += 1
                if column.lower() in seen:
                    raise malformed(self.ctx.soql, item.pos, f"duplicate alias: {column}")
                seen.add(column.lower())
                bound = BoundAggregate(item.function, argument, column, item.pos)
                if item.function in ("SUM", "AVG") and argument and _category(argument.type) != "number":
                    text = f"field {argument.field.name} does not support aggregate operator {item.function}"
                    raise SoqlError("INVALID_FIELD", positioned(self.ctx.soql, item.pos, text))
                self.columns.append(bound)
                continue
            bound_field = self.bind(item)
            if item.alias and not q.is_aggregate:
                raise malformed(self.ctx.soql, item.pos, f"unexpected token: '{item.alias}'")
            if item.function and not q.is_aggregate:
                text = f"{item.function}() in the SELECT list needs a GROUP BY"
                raise malformed(self.ctx.soql, item.pos, text)
            alias = item.alias
            if item.function and not alias:
                # Date function columns are expressions: numbered together with the aggregates.
                alias = f"expr{expr_index}"
                expr_index += 1
            if alias:
                bound_field = BoundField(bound_field.hops, bound_field.field, alias, bound_field.function)
            if q.is_aggregate:
                # AggregateResult columns are flat: two grouped `X.Name` fields need aliases.
                column = (bound_field.alias or bound_field.field.name).lower()
                if column in seen:
                    raise malformed(
                        self.ctx.soql, item.pos, f"duplicate alias: {bound_field.alias or bound_field.field.name}"
                    )
                seen.add(column)
            elif bound_field.key in seen:
                raise malformed(self.ctx.soql, item.pos, f"duplicate field selected: {bound_field.display}")
            seen.add(bound_field.key)
            self.columns.append(bound_field)

    def _bind_child(self, item: ChildQuery) -> BoundChild:
        ctx, sub = self.ctx, item.query
        if self.q.is_aggregate:
            raise malformed(ctx.soql, item.pos, "child relationship subqueries are not allowed in aggregate queries")
        found = ctx.schema.child_relationships(self.obj.name).get(sub.sobject.lower())
        child_obj = ctx.schema.get_object(found[1]) if found else None
        if found is None or child_obj is None:
            text = (
                f"Didn't understand relationship '{sub.sobject}' in FROM part of query call. "
                f"{INVALID_RELATIONSHIP_HINT}"
            )
            raise SoqlError("INVALID_TYPE", positioned(ctx.soql, sub.sobject_pos, text))
        plan = _Plan(sub, ctx, child_obj)
        if sub.count_only or sub.is_aggregate:
            raise malformed(ctx.soql, item.pos, "aggregate functions are not allowed in a child relationship subquery")
        return BoundChild(found[0], found[2], plan)

    def _check_grouping(self) -> None:
        grouped = {g.key for g in self.group_by}
        for item in self.q.select:
            if isinstance(item, FieldsFunction):
                raise malformed(self.ctx.soql, item.pos, "FIELDS() cannot be used in an aggregate query")
            if isinstance(item, FieldPath):
                bound = self.bind(item)
                if bound.key not in grouped:
                    text = f"Field must be grouped or aggregated: {bound.field.name}"
                    raise malformed(self.ctx.soql, item.pos, text)

    def _bind_order_key(self, key: FieldPath | Aggregate) -> BoundField | BoundAggregate:
        if isinstance(key, Aggregate):
            if not self.q.is_aggregate:
                raise malformed(self.ctx.soql, key.pos, "Aggregate functions are only allowed in aggregate queries")
            return BoundAggregate(key.function, self.bind(key.argument) if key.argument else None, "", key.pos)
        bound = self.bind(key)
        if self.q.is_aggregate and bound.key not in {g.key for g in self.group_by}:
            raise malformed(self.ctx.soql, key.pos, f"Ordered field must be grouped or aggregated: {bound.field.name}")
        return bound

    def _compile(self, cond: Condition, *, having: bool) -> Callable[[Any], bool]:
        if isinstance(cond, BoolOp):
            parts = [self._compile(c, having=having) for c in cond.operands]
            if cond.op == "AND":
                return lambda row: all(p(row) for p in parts)
            return lambda row: any(p(row) for p in parts)
        if isinstance(cond, Not):
            inner = self._compile(cond.operand, having=having)
            return lambda row: not inner(row)
        left = cond.left
        if isinstance(left, Aggregate):
            bound_agg = BoundAggregate(left.function, self.bind(left.argument) if left.argument else None, "", left.pos)
            test = _comparison_test(self.ctx, cond, bound_agg.type, bound_agg.display, semi_join_ids=_semi_join_ids)
            category = _category(bound_agg.type)
            return lambda group: test(_normalize(self._aggregate(bound_agg, group), category))
        bound = self.bind(left)
        if having and bound.key not in {g.key for g in self.group_by}:
            text = f"Field must be grouped or aggregated: {bound.field.name}"
            raise malformed(self.ctx.soql, left.pos, text)
        test = _comparison_test(self.ctx, cond, bound.type, bound.field.name, semi_join_ids=_semi_join_ids)
        category = _category(bound.type)
        if having:
            return lambda group: test(_normalize(self.value(group[0], bound), category))
        return lambda record: test(_normalize(self.value(record, bound), category))

    # evaluation ---------------------------------------------------------------------------------------------
    def follow(self, record: dict[str, Any] | None, hops: Iterable[Hop]) -> tuple[str, dict[str, Any]] | None:
        found: tuple[str, dict[str, Any]] | None = (self.obj.name, record) if record is not None else None
        for hop in hops:
            if found is None:
                return None
            fk = _raw(found[1], hop.fk_field)
            if not isinstance(fk, str) or not fk:
                return None
            found = self.ctx.get(fk)
        return found

    def value(self, record: dict[str, Any], bound: BoundField) -> Any:
        target = self.follow(record, bound.hops) if bound.hops else (self.obj.name, record)
        value = None if target is None else _field_value(target[1], bound.field)
        return _date_function(bound.function, value) if bound.function else value

    def _aggregate(self, agg: BoundAggregate, group: list[dict[str, Any]]) -> Any:
        if agg.argument is None:
            return len(group)
        values = [self.value(r, agg.argument) for r in group]
        present = [v for v in values if v is not None]
        if agg.function == "COUNT":
            return len(present)
        category = _category(agg.argument.type)
        if agg.function == "COUNT_DISTINCT":
            return len({_normalize(v, category) for v in present})
        if not present:
            return None
        if agg.function in ("SUM", "AVG"):
            numbers = [n for n in (_normalize(v, "number") for v in present) if n is not None]
            if not numbers:
                return None
            total = sum(numbers)
            return total if agg.function == "SUM" else total / len(numbers)
        keyed = [(k, v) for v, k in ((v, _normalize(v, category)) for v in present) if k is not None]
        if not keyed:
            return None
        try:
            pick = min(keyed, key=lambda kv: kv[0]) if agg.function == "MIN" else max(keyed, key=lambda kv: kv[0])
        except TypeError:
            pick = (
                min(keyed, key=lambda kv: str(kv[0]))
                if agg.function == "MIN"
                else max(keyed, key=lambda kv: str(kv[0]))
            )
        return pick[1]

    def sort(self, rows: list[Any], key_of: Callable[[Any, BoundField | BoundAggregate], Any]) -> list[Any]:
        for bound, descending, nulls_last in reversed(self.order):
            f_type = bound.type
            category = _category(f_type)
            # With reverse=True the null rank is flipped so NULLS FIRST/LAST still holds.
            null_rank = (1 if nulls_last else 0) if not descending else (0 if nulls_last else 1)

            def sort_key(row: Any, bound: Any = bound, category: str = category, null_rank: int = null_rank) -> Any:
                value = _normalize(key_of(row, bound), category)
                return (null_rank, 0) if value is None else (1 - null_rank, value)

            try:
                rows.sort(key=sort_key, reverse=descending)
            except TypeError:
                rows.sort(key=lambda r, k=sort_key: (k(r)[0], str(k(r)[1])), reverse=descending)
        return rows


def _semi_join_ids(ctx: _Ctx, semi_join: SemiJoin) -> set[str]:
    """The 15-character ids the sub-select yields, evaluated once per query."""
    sub = semi_join.query
    if len(sub.select) != 1 or not isinstance(sub.select[0], FieldPath) or sub.group_by:
        text = "a semi join sub-select must select exactly one id or reference field"
        raise malformed(ctx.soql, semi_join.pos, text)
    plan = _Plan(sub, ctx)
    bound = plan.columns[0]
    assert isinstance(bound, BoundField)
    if bound.function or _category(bound.field.type) != "id":
        text = f"the field {bound.display} selected in a semi join sub-select must be an id or reference field"
        raise malformed(ctx.soql, semi_join.pos, text)
    records = _matching(plan, ctx.store, ctx.include_deleted)
    start = sub.offset or 0
    stop = None if sub.limit is None else start + sub.limit
    values = (_normalize(plan.value(r, bound), "id") for r in records[start:stop])
    return {v for v in values if v}
