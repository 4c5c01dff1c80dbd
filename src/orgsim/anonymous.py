"""Anonymous Apex (`sf apex run`): the SOAP `executeAnonymous` call and a tiny interpreter for job scheduling.

orgsim does not run Apex. It understands the statements a release manager runs to re-create scheduled jobs:
variable declarations of strings, `new ClassName()`, SOQL in brackets, `for (X x : [SELECT ...]) { ... }` loops,
`System.schedule(name, cron, new Cls())`, `System.abortJob(id)` and `System.debug(...)`. Anything else is reported as
a compile problem naming the statement, so a script never "succeeds" without having had its effect.
"""

from __future__ import annotations

import re
import xml.etree.ElementTree as ET
from dataclasses import dataclass, field
from typing import TYPE_CHECKING, Any
from xml.sax.saxutils import escape

from orgsim import cron, soql_bridge
from orgsim.ids import is_valid_id
from orgsim.wire import Request, Response, SalesforceApiError, SoapFault, json_response

if TYPE_CHECKING:
    from orgsim.org import Org


class ApexCompileError(Exception):
    def __init__(self, message: str, line: int, column: int) -> None:
        super().__init__(message)
        self.message, self.line, self.column = message, line, column


class ApexRuntimeError(Exception):
    def __init__(self, message: str, line: int) -> None:
        super().__init__(message)
        self.message, self.line = message, line


@dataclass
class Token:
    kind: str  # "str", "num", "ident", "soql", "op"
    text: str
    line: int
    column: int


@dataclass
class ApexObject:
    class_name: str


@dataclass
class ExecutionResult:
    compiled: bool = True
    success: bool = True
    compile_problem: str | None = None
    exception_message: str | None = None
    exception_stack_trace: str | None = None
    line: int = -1
    column: int = -1
    debug_lines: list[str] = field(default_factory=list)


_TOKEN = re.compile(
    r"(?P<ws>\s+)|(?P<comment>//[^\n]*|/\*.*?\*/)|(?P<str>'(?:\\.|[^'\\])*')|(?P<soql>\[\s*SELECT\b[^\]]*\])"
    r"|(?P<num>\d+(?:\.\d+)?)|(?P<ident>[A-Za-z_]\w*)|(?P<op>[{}()\[\];,.=+<>:!])",
    re.S | re.I,
)


def tokenize(code: str) -> list[Token]:
    tokens: list[Token] = []
    position = 0
    while position < len(code):
        found = _TOKEN.match(code, position)
        line = code.count("\n", 0, position) + 1
        column = position - (code.rfind("\n", 0, position) + 1) + 1
        if found is None:
            raise ApexCompileError(f"Unexpected character: '{code[position]}'", line, column)
        kind = found.lastgroup or "op"
        if kind not in ("ws", "comment"):
            tokens.append(Token(kind, found.group(0), line, column))
        position = found.end()
    return tokens


def _unquote(literal: str) -> str:
    body = literal[1:-1]
    return re.sub(r"\\(.)", lambda m: {"n": "\n", "t": "\t", "r": "\r"}.get(m.group(1), m.group(1)), body)


class Interpreter:
    """Recursive descent over the token list; statements run as they are parsed."""

    def __init__(self, org: Org, tokens: list[Token]) -> None:
        self.org = org
        self.tokens = tokens
        self.position = 0
        self.variables: dict[str, Any] = {}
        self.debug_lines: list[str] = []

    # -- token helpers ------------------------------------------------------------------------------------------
    def peek(self, offset: int = 0) -> Token | None:
        index = self.position + offset
        return self.tokens[index] if index < len(self.tokens) else None

    def next(self) -> Token:
        token = self.peek()
        if token is None:
            last = self.tokens[-1] if self.tokens else Token("op", "", 1, 1)
            raise ApexCompileError("Unexpected end of input", last.line, last.column + len(last.text))
        self.position += 1
        return token

    def expect(self, text: str) -> Token:
        token = self.next()
        if token.text.lower() != text.lower():
            raise ApexCompileError(f"Unexpected token '{token.text}'.", token.line, token.column)
        return token

    def at(self, text: str, offset: int = 0) -> bool:
        token = self.peek(offset)
        return token is not None and token.text.lower() == text.lower()

    # -- statements ---------------------------------------------------------------------------------------------
    def run(self) -> None:
        while self.peek() is not None:
            self.statement(execute=True)

    def compile_only(self) -> None:
        while self.peek() is not None:
            self.statement(execute=False)

    def statement(self, *, execute: bool) -> None:
        start = self.peek()
        assert start is not None
        if self.at("{"):
            self.next()
            while not self.at("}"):
                self.statement(execute=execute)
            self.next()
            return
        if self.at("for"):
            self.for_loop(execute=execute)
            return
        if self.at(";"):
            self.next()
            return
        declaration = self._declaration_length()
        if declaration:
            self.position += declaration
            name = self.next()
            value = None
            if self.at("="):
                self.next()
                value = self.expression(execute=execute)
            self.expect(";")
            if execute:
                self.variables[name.text.lower()] = value
            return
        if start.kind == "ident" and self.at("=", 1):
            name = self.next()
            self.next()
            value = self.expression(execute=execute)
            self.expect(";")
            if execute:
                if name.text.lower() not in self.variables:
                    raise ApexCompileError(f"Variable does not exist: {name.text}", name.line, name.column)
                self.variables[name.text.lower()] = value
            return
        if start.kind == "ident" and not self._is_call():
            raise ApexCompileError(
                f"orgsim cannot simulate this anonymous Apex statement (starting '{start.text}'); it understands "
                "System.schedule, System.abortJob, System.debug, variables and for loops over SOQL",
                start.line,
                start.column,
            )
        self.expression(execute=execute)
        self.expect(";")

    def _is_call(self) -> bool:
        offset = 0
        while self.peek(offset) is not None and self.peek(offset).kind == "ident" and self.at(".", offset + 1):  # type: ignore[union-attr]
            offset += 2
        return self.at("(", offset + 1)

    def _declaration_length(self) -> int:
        """Number of tokens of a type name if a declaration (`Type name`) starts here, else 0."""
        token = self.peek()
        if token is None or token.kind != "ident" or token.text.lower() in ("new", "system", "return"):
            return 0
        offset = 1
        while self.at(".", offset) and self.peek(offset + 1) and self.peek(offset + 1).kind == "ident":  # type: ignore[union-attr]
            offset += 2
        if self.at("<", offset):
            depth = 0
            while self.peek(offset) is not None:
                if self.at("<", offset):
                    depth += 1
                elif self.at(">", offset):
                    depth -= 1
                    if depth == 0:
                        offset += 1
                        break
                offset += 1
        if self.at("[", offset) and self.at("]", offset + 1):
            offset += 2
        following = self.peek(offset)
        if (
            following is not None
            and following.kind == "ident"
            and (self.at("=", offset + 1) or self.at(";", offset + 1))
        ):
            return offset
        return 0

    def for_loop(self, *, execute: bool) -> None:
        keyword = self.expect("for")
        self.expect("(")
        type_length = self._declaration_length() or 1
        self.position += type_length
        variable = self.next()
        if not self.at(":"):
            raise ApexCompileError(
                "orgsim only simulates for-each loops ('for (Type x : [SELECT ...])')", keyword.line, keyword.column
            )
        self.next()
        items = self.expression(execute=execute)
        self.expect(")")
        body_start = self.position
        if not execute:
            self.statement(execute=False)
            return
        if not isinstance(items, list):
            raise ApexCompileError("Loop must iterate over a collection", keyword.line, keyword.column)
        if not items:
            self.statement(execute=False)
        for item in items:
            self.position = body_start
            self.variables[variable.text.lower()] = item
            self.statement(execute=True)

    # -- expressions --------------------------------------------------------------------------------------------
    def expression(self, *, execute: bool) -> Any:
        value = self.term(execute=execute)
        while self.at("+"):
            self.next()
            right = self.term(execute=execute)
            if execute:
                value = f"{_apex_string(value)}{_apex_string(right)}"
        return value

    def term(self, *, execute: bool) -> Any:
        token = self.next()
        if token.kind == "str":
            return _unquote(token.text)
        if token.kind == "num":
            return float(token.text) if "." in token.text else int(token.text)
        if token.kind == "soql":
            value = self.query(token) if execute else []
            return self.member_access(value, execute=execute)
        if token.text == "(":
            value = self.expression(execute=execute)
            self.expect(")")
            return value
        if token.kind != "ident":
            raise ApexCompileError(f"Unexpected token '{token.text}'.", token.line, token.column)
        lowered = token.text.lower()
        if lowered in ("null", "true", "false"):
            return {"null": None, "true": True, "false": False}[lowered]
        if lowered == "new":
            class_token = self.next()
            self.expect("(")
            self.expect(")")
            if (
                execute
                and self.org.apex_class_id(class_token.text) is None
                and not _deployed_class(self.org, class_token.text)
            ):
                raise ApexCompileError(f"Invalid type: {class_token.text}", class_token.line, class_token.column)
            return ApexObject(class_token.text)
        dotted = [token]
        while self.at(".") and self.peek(1) is not None and self.peek(1).kind == "ident":  # type: ignore[union-attr]
            self.next()
            dotted.append(self.next())
        if self.at("("):
            return self.call(dotted, execute=execute)
        if lowered not in self.variables and len(dotted) == 2:
            # `ElaroAuditTrailPoller.JOB_NAME`: a static constant of a deployed class.
            return self.class_constant(dotted[0], dotted[1]) if execute else None
        if lowered not in self.variables and execute:
            raise ApexCompileError(f"Variable does not exist: {token.text}", token.line, token.column)
        value = self.variables.get(lowered)
        for member in dotted[1:]:
            value = _field(value, member) if execute else None
        return value

    def class_constant(self, class_token: Token, name_token: Token) -> Any:
        body = _class_body(self.org, class_token.text)
        if body is None:
            raise ApexCompileError(f"Variable does not exist: {class_token.text}", class_token.line, class_token.column)
        found = re.search(
            rf"\bstatic\s+final\s+(?:String|Integer|Long|Decimal)\s+{re.escape(name_token.text)}\s*=\s*"
            r"('(?:\\.|[^'\\])*'|-?\d+(?:\.\d+)?)\s*;",
            body,
            re.IGNORECASE,
        )
        if found is None:
            raise ApexCompileError(
                f"orgsim can only read static final String/number constants; {class_token.text}.{name_token.text} "
                "is not one",
                name_token.line,
                name_token.column,
            )
        literal = found.group(1)
        if literal.startswith("'"):
            return _unquote(literal)
        return float(literal) if "." in literal else int(literal)

    def member_access(self, value: Any, *, execute: bool) -> Any:
        while self.at("["):
            self.next()
            index = self.expression(execute=execute)
            self.expect("]")
            if execute:
                try:
                    value = value[int(index)]
                except (IndexError, TypeError, ValueError):
                    raise ApexRuntimeError("System.ListException: List index out of bounds: " + str(index), 1) from None
        while self.at(".") and self.peek(1) is not None:
            self.next()
            member = self.next()
            value = _field(value, member) if execute else None
        return value

    def arguments(self, *, execute: bool) -> list[Any]:
        self.expect("(")
        values: list[Any] = []
        while not self.at(")"):
            values.append(self.expression(execute=execute))
            if self.at(","):
                self.next()
        self.expect(")")
        return values

    def call(self, dotted: list[Token], *, execute: bool) -> Any:
        name = ".".join(token.text for token in dotted).lower()
        first = dotted[0]
        arguments = self.arguments(execute=execute)
        if name not in ("system.schedule", "system.abortjob", "system.debug"):
            raise ApexCompileError(
                f"orgsim cannot simulate the method {'.'.join(t.text for t in dotted)}(); it understands "
                "System.schedule, System.abortJob and System.debug",
                first.line,
                first.column,
            )
        if not execute:
            return None
        if name == "system.debug":
            self.debug_lines.append(f"[{first.line}]|DEBUG|{_apex_string(arguments[0] if arguments else None)}")
            return None
        if name == "system.abortjob":
            if len(arguments) != 1:
                raise ApexCompileError(
                    "Method does not exist or incorrect signature: System.abortJob", first.line, first.column
                )
            job_id = arguments[0]
            if not isinstance(job_id, str) or not is_valid_id(job_id):
                raise ApexRuntimeError(f"System.StringException: Invalid id: {job_id}", first.line)
            # Aborting a job that is already gone is harmless, so re-running a clean-up script stays safe.
            self.org.abort_job(job_id)
            return None
        if len(arguments) != 3 or not isinstance(arguments[2], ApexObject):
            raise ApexCompileError(
                "Method does not exist or incorrect signature: "
                "void schedule(String, String, Object) from the type System",
                first.line,
                first.column,
            )
        job_name, cron_expression, target = arguments
        if not isinstance(job_name, str) or not isinstance(cron_expression, str):
            raise ApexRuntimeError("System.StringException: Invalid argument to System.schedule", first.line)
        if self.org.scheduled_job_named(job_name) is not None:
            raise ApexRuntimeError(
                f'System.AsyncException: The Apex job named "{job_name}" is already scheduled for execution.',
                first.line,
            )
        try:
            return self.org.schedule_job(job_name, target.class_name, cron_expression)
        except cron.CronError as error:
            raise ApexRuntimeError(f"System.StringException: {error}", first.line) from None

    def query(self, token: Token) -> list[dict[str, Any]]:
        soql = token.text.strip()[1:-1].strip()
        soql = re.sub(r":(\w+)", lambda m: _soql_literal(self.variables.get(m.group(1).lower())), soql)
        try:
            result = soql_bridge.execute(soql, self.org, api="rest")
        except SalesforceApiError as error:
            raise ApexCompileError(error.message, token.line, token.column) from None
        return [{k: v for k, v in record.items() if k != "attributes"} for record in result.get("records", [])]


def _soql_literal(value: Any) -> str:
    if isinstance(value, str):
        return "'" + value.replace("'", "\\'") + "'"
    return "null" if value is None else str(value)


def _field(value: Any, member: Token) -> Any:
    if isinstance(value, dict):
        for key, item in value.items():
            if key.lower() == member.text.lower():
                return item
        return None
    if value is None:
        raise ApexRuntimeError("System.NullPointerException: Attempt to de-reference a null object", member.line)
    raise ApexCompileError(f"Variable does not exist: {member.text}", member.line, member.column)


def _apex_string(value: Any) -> str:
    if value is None:
        return "null"
    if isinstance(value, bool):
        return "true" if value else "false"
    if isinstance(value, ApexObject):
        return f"{value.class_name}:[]"
    return str(value)


def _class_body(org: Org, class_name: str) -> str | None:
    """Source of the deployed Apex class `class_name`, if the org has one."""
    for record in org.store.list("ApexClass"):
        if str(record.get("Name", "")).lower() == class_name.lower() and record.get("Body"):
            return str(record["Body"])
    try:
        from orgsim.metadata.store import apex_sources
    except ImportError:
        return None
    for source in apex_sources(org):
        if source.name.lower() == class_name.lower() and source.kind == "Class":
            return source.body
    return None


def _deployed_class(org: Org, class_name: str) -> bool:
    """True if the Metadata API side knows an Apex class called `class_name`."""
    try:
        from orgsim.metadata.store import apex_sources
    except ImportError:
        return False
    return any(source.name.lower() == class_name.lower() and source.kind == "Class" for source in apex_sources(org))


def execute(org: Org, code: str) -> ExecutionResult:
    result = ExecutionResult()
    try:
        tokens = tokenize(code)
        # Compile first (no side effects), then run: Salesforce never half-runs a script that does not compile.
        Interpreter(org, tokens).compile_only()
        interpreter = Interpreter(org, tokens)
        with org.store.transaction():
            interpreter.run()
        result.debug_lines = interpreter.debug_lines
    except ApexCompileError as error:
        result.compiled = result.success = False
        result.compile_problem, result.line, result.column = error.message, error.line, error.column
    except RecursionError:  # the parser recurses per nesting level; Salesforce also refuses absurd nesting
        result.compiled = result.success = False
        result.compile_problem, result.line, result.column = "Expression is too deeply nested", 1, 1
    except ApexRuntimeError as error:
        result.success = False
        result.exception_message = error.message
        result.exception_stack_trace = f"AnonymousBlock: line {error.line}, column 1"
        result.line, result.column = error.line, 1
    return result


def debug_log(org: Org, code: str, result: ExecutionResult) -> str:
    stamp = org.now().strftime("%H:%M:%S.0")
    lines = [f"{org.api_version} APEX_CODE,DEBUG;APEX_PROFILING,INFO"]
    lines += [f"Execute Anonymous: {line}" for line in code.splitlines()]
    lines.append(f"{stamp} (1000000)|EXECUTION_STARTED")
    lines += [f"{stamp} (2000000)|USER_DEBUG|{entry}" for entry in result.debug_lines]
    if result.exception_message:
        lines.append(f"{stamp} (3000000)|FATAL_ERROR|{result.exception_message}")
    lines.append(f"{stamp} (4000000)|EXECUTION_FINISHED")
    return "\n".join(lines) + "\n"


def _nil(tag: str, value: Any) -> str:
    if value is None:
        return f'<{tag} xsi:nil="true"/>'
    return f"<{tag}>{escape(str(value))}</{tag}>"


def soap_execute(request: Request) -> Response:
    try:
        root = ET.fromstring(request.body)
    except ET.ParseError as error:
        raise SoapFault("INVALID_XML", f"The request is not well-formed XML: {error}") from None
    code = None
    for element in root.iter():
        if element.tag.rsplit("}", 1)[-1] in ("apexcode", "String"):
            code = element.text or ""
    if code is None:
        raise SoapFault("INVALID_OPERATION", "executeAnonymous needs an <apexcode> element")
    org = request.org
    result = execute(org, code)
    log = debug_log(org, code, result)
    body = (
        '<?xml version="1.0" encoding="UTF-8"?>'
        '<soapenv:Envelope xmlns:soapenv="http://schemas.xmlsoap.org/soap/envelope/" '
        'xmlns="http://soap.sforce.com/2006/08/apex" xmlns:xsi="http://www.w3.org/2001/XMLSchema-instance">'
        f"<soapenv:Header><DebuggingInfo><debugLog>{escape(log)}</debugLog></DebuggingInfo></soapenv:Header>"
        "<soapenv:Body><executeAnonymousResponse><result>"
        f"<column>{result.column}</column>"
        f"{_nil('compileProblem', result.compile_problem)}"
        f"<compiled>{'true' if result.compiled else 'false'}</compiled>"
        f"{_nil('exceptionMessage', result.exception_message)}"
        f"{_nil('exceptionStackTrace', result.exception_stack_trace)}"
        f"<line>{result.line}</line>"
        f"<success>{'true' if result.success else 'false'}</success>"
        "</result></executeAnonymousResponse></soapenv:Body></soapenv:Envelope>"
    )
    return Response(status=200, body=body.encode("utf-8"), content_type="text/xml;charset=UTF-8")


def rest_execute(request: Request) -> Response:
    """`GET tooling/executeAnonymous?anonymousBody=...` (the Tooling REST flavour)."""
    code = request.arg("anonymousBody")
    if code is None:
        raise SalesforceApiError(400, "MISSING_ARGUMENT", "anonymousBody is required")
    result = execute(request.org, code)
    return json_response(
        {
            "line": result.line,
            "column": result.column,
            "compiled": result.compiled,
            "success": result.success,
            "compileProblem": result.compile_problem,
            "exceptionStackTrace": result.exception_stack_trace,
            "exceptionMessage": result.exception_message,
        }
    )
