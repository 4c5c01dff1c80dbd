"""Recursive-descent parser for the SOQL subset (grammar in the package docstring)."""

from __future__ import annotations

from orgsim.soql.dates import N_DATE_LITERALS, PLAIN_DATE_LITERALS
from orgsim.soql.errors import SoqlError, malformed
from orgsim.soql.lexer import Kind, Token, tokenize
from orgsim.soql.nodes import (
    Aggregate,
    BoolOp,
    ChildQuery,
    Comparison,
    Condition,
    FieldPath,
    FieldsFunction,
    Literal,
    Not,
    OrderItem,
    Query,
    SelectItem,
    SemiJoin,
)

# Words that can never be a field, object or alias name.
RESERVED = frozenset(
    {
        "SELECT", "FROM", "WHERE", "AND", "OR", "NOT", "IN", "LIKE", "LIMIT", "OFFSET", "ORDER", "BY", "GROUP",
        "HAVING", "WITH", "NULL", "TRUE", "FALSE", "INCLUDES", "EXCLUDES", "USING", "FOR", "ASC", "DESC", "NULLS",
        "TYPEOF", "END", "WHEN", "ELSE", "THEN",
    }
)  # fmt: skip
AGGREGATE_FUNCTIONS = frozenset({"COUNT", "COUNT_DISTINCT", "MIN", "MAX", "SUM", "AVG"})
DATE_FUNCTIONS = frozenset(
    {
        "CALENDAR_YEAR", "CALENDAR_QUARTER", "CALENDAR_MONTH", "DAY_IN_MONTH", "DAY_IN_WEEK", "DAY_IN_YEAR",
        "DAY_ONLY", "HOUR_IN_DAY", "WEEK_IN_MONTH", "WEEK_IN_YEAR", "FISCAL_YEAR", "FISCAL_QUARTER", "FISCAL_MONTH",
    }
)  # fmt: skip
COMPARISON_OPS = frozenset({"=", "!=", "<>", "<", ">", "<=", ">="})
MAX_NESTING = 50
MAX_OFFSET = 2000


_LITERAL_KINDS = {Kind.STRING: "string", Kind.NUMBER: "number", Kind.DATE: "date", Kind.DATETIME: "datetime"}


class Parser:
    def __init__(self, soql: str) -> None:
        self.soql = soql
        self.tokens = tokenize(soql)
        self.i = 0
        self.depth = 0
        self.in_subquery = False

    # --- token helpers --------------------------------------------------------------------------------------
    @property
    def tok(self) -> Token:
        return self.tokens[self.i]

    def peek(self, ahead: int = 1) -> Token:
        return self.tokens[min(self.i + ahead, len(self.tokens) - 1)]

    def advance(self) -> Token:
        token = self.tokens[self.i]
        if token.kind is not Kind.EOF:
            self.i += 1
        return token

    def unexpected(self, token: Token | None = None) -> SoqlError:
        token = token or self.tok
        return malformed(self.soql, token.pos, f"unexpected token: {token.describe()}")

    def expect_word(self, *words: str) -> Token:
        if not self.tok.is_word(*words):
            raise self.unexpected()
        return self.advance()

    def expect(self, kind: Kind) -> Token:
        if self.tok.kind is not kind:
            raise self.unexpected()
        return self.advance()

    def at_word(self, *words: str) -> bool:
        return self.tok.is_word(*words)

    def name(self) -> Token:
        """An identifier that is not a reserved word."""
        if self.tok.kind is not Kind.IDENT or self.tok.text.upper() in RESERVED:
            raise self.unexpected()
        return self.advance()

    # --- query ----------------------------------------------------------------------------------------------
    def parse(self) -> Query:
        if self.tok.kind is Kind.COLON:
            raise malformed(self.soql, self.tok.pos, "Bind variables only allowed in Apex code")
        query = self.query()
        if self.tok.kind is not Kind.EOF:
            raise self.unexpected()
        return query

    def query(self) -> Query:
        """One SELECT statement, stopping at the first token that cannot continue it (EOF, or the `)` that
        closes a semi-join)."""
        self.expect_word("SELECT")
        select = self.select_list()
        self.expect_word("FROM")
        sobject_token = self.name()
        if self.tok.kind is Kind.DOT:
            raise self.unexpected()
        query = Query(select=select, sobject=sobject_token.text, sobject_pos=sobject_token.pos)
        if self.tok.kind is Kind.IDENT and self.tok.text.upper() not in RESERVED:
            query.alias = self.advance().text
        if self.at_word("USING"):
            self.advance()
            self.expect_word("SCOPE")
            self.name()
        if self.at_word("WHERE"):
            self.advance()
            query.where = self.condition(allow_aggregates=False)
        if self.at_word("WITH"):
            self.advance()
            mode = self.expect_word("SECURITY_ENFORCED", "USER_MODE", "SYSTEM_MODE")
            query.with_clause = mode.text.upper()
        if self.at_word("GROUP"):
            self.advance()
            self.expect_word("BY")
            if self.at_word("ROLLUP", "CUBE"):
                raise malformed(self.soql, self.tok.pos, "GROUP BY ROLLUP/CUBE is not supported by orgsim")
            query.group_by.append(self.field_expr())
            while self.tok.kind is Kind.COMMA:
                self.advance()
                query.group_by.append(self.field_expr())
        if self.at_word("HAVING"):
            having_token = self.advance()
            if not query.group_by:
                raise malformed(self.soql, having_token.pos, "HAVING clause requires a GROUP BY clause")
            query.having = self.condition(allow_aggregates=True)
        if self.at_word("ORDER"):
            self.advance()
            self.expect_word("BY")
            query.order_by.append(self.order_item())
            while self.tok.kind is Kind.COMMA:
                self.advance()
                query.order_by.append(self.order_item())
        if self.at_word("LIMIT"):
            self.advance()
            query.limit = self.non_negative_int()
        if self.at_word("OFFSET"):
            self.advance()
            query.offset = self.non_negative_int()
            if query.offset > MAX_OFFSET:
                raise SoqlError("NUMBER_OUTSIDE_VALID_RANGE", f"Maximum SOQL offset allowed is {MAX_OFFSET}")
        if self.at_word("FOR"):
            self.advance()
            self.expect_word("VIEW", "REFERENCE", "UPDATE")
        return query

    def non_negative_int(self) -> int:
        token = self.tok
        if token.kind is not Kind.NUMBER or not isinstance(token.value, int) or token.value < 0:
            raise self.unexpected()
        self.advance()
        return token.value

    # --- SELECT ---------------------------------------------------------------------------------------------
    def select_list(self) -> list[SelectItem]:
        items = [self.select_item()]
        while self.tok.kind is Kind.COMMA:
            self.advance()
            items.append(self.select_item())
        return items

    def select_item(self) -> SelectItem:
        token = self.tok
        if token.kind is Kind.LPAREN:
            if not self.peek().is_word("SELECT") or self.in_subquery:
                raise self.unexpected(self.peek() if not self.in_subquery else token)
            self.advance()
            return ChildQuery(self._subquery(), token.pos)
        if token.kind is Kind.IDENT and self.peek().kind is Kind.LPAREN:
            function = token.text.upper()
            if function == "FIELDS":
                self.advance()
                self.advance()
                which = self.expect_word("ALL", "STANDARD", "CUSTOM").text.upper()
                self.expect(Kind.RPAREN)
                return FieldsFunction(which, token.pos)
            if function in AGGREGATE_FUNCTIONS:
                return self.aggregate()
            if function not in DATE_FUNCTIONS:
                raise malformed(self.soql, token.pos, f"function {token.text} is not supported by orgsim")
        if token.is_word("TYPEOF"):
            raise malformed(self.soql, token.pos, "TYPEOF is not supported by orgsim")
        path = self.field_expr()
        if self.tok.kind is Kind.IDENT and self.tok.text.upper() not in RESERVED:
            path = FieldPath(path.parts, path.pos, alias=self.advance().text, function=path.function)
        return path

    def field_expr(self) -> FieldPath:
        """A field path, or a date function of one: `CALENDAR_YEAR(CreatedDate)`, `DAY_ONLY(StartTime)`."""
        token = self.tok
        if token.kind is Kind.IDENT and self.peek().kind is Kind.LPAREN and token.text.upper() in DATE_FUNCTIONS:
            self.advance()
            self.advance()
            if self.tok.is_word("CONVERTTIMEZONE"):
                raise malformed(self.soql, self.tok.pos, "convertTimezone() is not supported by orgsim (UTC only)")
            inner = self.field_path()
            self.expect(Kind.RPAREN)
            return FieldPath(inner.parts, token.pos, function=token.text.upper())
        return self.field_path()

    def aggregate(self) -> Aggregate:
        token = self.advance()
        function = token.text.upper()
        self.expect(Kind.LPAREN)
        argument = None
        if self.tok.kind is not Kind.RPAREN:
            argument = self.field_path()
        elif function != "COUNT":
            raise self.unexpected()
        self.expect(Kind.RPAREN)
        alias = None
        if self.tok.kind is Kind.IDENT and self.tok.text.upper() not in RESERVED:
            alias = self.advance().text
        return Aggregate(function, argument, alias, token.pos)

    def field_path(self) -> FieldPath:
        first = self.name()
        parts = [first.text]
        while self.tok.kind is Kind.DOT:
            self.advance()
            parts.append(self.name().text)
        return FieldPath(tuple(parts), first.pos)

    # --- WHERE / HAVING -------------------------------------------------------------------------------------
    def condition(self, *, allow_aggregates: bool) -> Condition:
        """A run of operands joined by one kind of connective: SOQL needs parentheses to mix AND and OR."""
        first = self.unary(allow_aggregates=allow_aggregates)
        if not self.at_word("AND", "OR"):
            return first
        connective = self.tok.text.upper()
        operands = [first]
        while self.at_word(connective):
            self.advance()
            operands.append(self.unary(allow_aggregates=allow_aggregates))
        if self.at_word("AND", "OR"):
            raise self.unexpected()
        return BoolOp(connective, tuple(operands))

    def unary(self, *, allow_aggregates: bool) -> Condition:
        self.depth += 1
        try:
            if self.depth > MAX_NESTING:
                raise malformed(self.soql, self.tok.pos, "the filter is nested too deeply")
            if self.at_word("NOT"):
                self.advance()
                return Not(self.unary(allow_aggregates=allow_aggregates))
            if self.tok.kind is Kind.LPAREN:
                self.advance()
                inner = self.condition(allow_aggregates=allow_aggregates)
                self.expect(Kind.RPAREN)
                return inner
            return self.comparison(allow_aggregates=allow_aggregates)
        finally:
            self.depth -= 1

    def comparison(self, *, allow_aggregates: bool) -> Comparison:
        start = self.tok
        left: FieldPath | Aggregate
        if start.kind is Kind.IDENT and self.peek().kind is Kind.LPAREN and start.text.upper() in DATE_FUNCTIONS:
            left = self.field_expr()
        elif allow_aggregates and start.kind is Kind.IDENT and self.peek().kind is Kind.LPAREN:
            if start.text.upper() not in AGGREGATE_FUNCTIONS:
                raise self.unexpected()
            left = self.aggregate()
            if left.alias:
                raise self.unexpected(self.tokens[self.i - 1])
        else:
            left = self.field_path()
        token = self.tok
        if token.kind is Kind.OP:
            self.advance()
            op = "!=" if token.text == "<>" else token.text
            return Comparison(left, op, self.value(), start.pos)
        if token.is_word("LIKE"):
            self.advance()
            return Comparison(left, "LIKE", self.value(), start.pos)
        if token.is_word("NOT") and self.peek().is_word("IN"):
            self.advance()
            self.advance()
            return Comparison(left, "NOT_IN", self.value_list(allow_subquery=not allow_aggregates), start.pos)
        if token.is_word("IN", "INCLUDES", "EXCLUDES"):
            self.advance()
            semi_join_ok = token.is_word("IN") and not allow_aggregates
            return Comparison(left, token.text.upper(), self.value_list(allow_subquery=semi_join_ok), start.pos)
        raise self.unexpected()

    def _subquery(self) -> Query:
        """A nested SELECT up to its closing parenthesis (one level only: SOQL does not nest deeper)."""
        self.in_subquery = True
        try:
            query = self.query()
        finally:
            self.in_subquery = False
        self.expect(Kind.RPAREN)
        return query

    def value_list(self, *, allow_subquery: bool = False) -> tuple[Literal, ...] | SemiJoin:
        self.expect(Kind.LPAREN)
        if self.at_word("SELECT"):
            start = self.tok
            if not allow_subquery or self.in_subquery:
                raise malformed(self.soql, start.pos, "Nesting of semi join sub-selects is not supported")
            return SemiJoin(self._subquery(), start.pos)
        values = [self.value()]
        while self.tok.kind is Kind.COMMA:
            self.advance()
            values.append(self.value())
        self.expect(Kind.RPAREN)
        return tuple(values)

    def value(self) -> Literal:
        token = self.tok
        literal_kind = _LITERAL_KINDS.get(token.kind)
        if literal_kind is not None:
            self.advance()
            return Literal(literal_kind, token.value, token.pos, token.text)
        if token.kind is Kind.COLON:
            raise malformed(self.soql, token.pos, "Bind variables only allowed in Apex code")
        if token.kind is Kind.IDENT:
            word = token.text.upper()
            if word in ("TRUE", "FALSE"):
                self.advance()
                return Literal("boolean", word == "TRUE", token.pos, token.text)
            if word == "NULL":
                self.advance()
                return Literal("null", None, token.pos, token.text)
            if word in PLAIN_DATE_LITERALS:
                self.advance()
                return Literal("date_literal", word, token.pos, token.text)
            if word in N_DATE_LITERALS:
                self.advance()
                if self.tok.kind is not Kind.COLON:
                    raise self.unexpected()
                self.advance()
                number = self.tok
                if number.kind is not Kind.NUMBER or not isinstance(number.value, int) or number.text[0] in "+-":
                    raise self.unexpected()
                self.advance()
                return Literal("date_literal", word, token.pos, f"{token.text}:{number.text}", n=number.value)
        raise self.unexpected()

    def order_item(self) -> OrderItem:
        key: FieldPath | Aggregate
        if self.tok.kind is Kind.IDENT and self.peek().kind is Kind.LPAREN:
            if self.tok.text.upper() in DATE_FUNCTIONS:
                key = self.field_expr()
            elif self.tok.text.upper() in AGGREGATE_FUNCTIONS:
                key = self.aggregate()
            else:
                raise self.unexpected()
        else:
            key = self.field_path()
        descending = False
        if self.at_word("ASC", "DESC"):
            descending = self.advance().text.upper() == "DESC"
        nulls_last = descending
        if self.at_word("NULLS"):
            self.advance()
            nulls_last = self.expect_word("FIRST", "LAST").text.upper() == "LAST"
        return OrderItem(key, descending, nulls_last)


def parse(soql: str) -> Query:
    """Parse `soql` into a `Query`; raises `SoqlError` (MALFORMED_QUERY) on a syntax error."""
    if not isinstance(soql, str):
        raise SoqlError("MALFORMED_QUERY", "the query must be a string")
    return Parser(soql).parse()
