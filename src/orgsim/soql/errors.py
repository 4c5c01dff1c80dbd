"""SOQL errors with Salesforce's own error codes and message layouts."""

from __future__ import annotations

INVALID_TYPE_HINT = (
    "If you are attempting to use a custom object, be sure to append the '__c' after the entity name. "
    "Please reference your WSDL or the describe call for the appropriate names."
)
INVALID_FIELD_HINT = (
    "If you are attempting to use a custom field, be sure to append the '__c' after the custom field name. "
    "Please reference your WSDL or the describe call for the appropriate names."
)
INVALID_RELATIONSHIP_HINT = (
    "If you are attempting to use a custom relationship, be sure to append the '__r' after the custom "
    "relationship name. Please reference your WSDL or the describe call for the appropriate names."
)


class SoqlError(Exception):
    """A query Salesforce would reject. The server renders it as HTTP 400 `[{"message", "errorCode"}]`."""

    def __init__(self, error_code: str, message: str) -> None:
        super().__init__(message)
        self.error_code = error_code
        self.message = message

    def to_json(self) -> list[dict[str, str]]:
        return [{"message": self.message, "errorCode": self.error_code}]

    def __repr__(self) -> str:
        return f"SoqlError({self.error_code!r}, {self.message!r})"


def positioned(soql: str, offset: int, text: str) -> str:
    """Salesforce's layout: the offending line, a caret under the column, `ERROR at Row:r:Column:c`, the text."""
    offset = max(0, min(offset, len(soql)))
    row = soql.count("\n", 0, offset) + 1
    line_start = soql.rfind("\n", 0, offset) + 1
    line_end = soql.find("\n", offset)
    line = soql[line_start : line_end if line_end != -1 else len(soql)]
    column = offset - line_start + 1
    # Long lines are shown as a window ending near the error, as Salesforce does.
    window_start = 0
    if column > 100:
        window_start = column - 80
        space = line.find(" ", window_start)
        if 0 <= space < column - 1:
            window_start = space + 1
    shown = line[window_start : window_start + 200]
    caret = " " * (column - 1 - window_start) + "^"
    return f"\n{shown}\n{caret}\nERROR at Row:{row}:Column:{column}\n{text}"


def malformed(soql: str, offset: int, text: str) -> SoqlError:
    return SoqlError("MALFORMED_QUERY", positioned(soql, offset, text))


def invalid_type(soql: str, offset: int, name: str) -> SoqlError:
    return SoqlError(
        "INVALID_TYPE", positioned(soql, offset, f"sObject type '{name}' is not supported. {INVALID_TYPE_HINT}")
    )


def invalid_field(soql: str, offset: int, name: str, entity: str) -> SoqlError:
    text = f"No such column '{name}' on entity '{entity}'. {INVALID_FIELD_HINT}"
    return SoqlError("INVALID_FIELD", positioned(soql, offset, text))


def invalid_relationship(soql: str, offset: int, name: str) -> SoqlError:
    text = f"Didn't understand relationship '{name}' in field path. {INVALID_RELATIONSHIP_HINT}"
    return SoqlError("INVALID_FIELD", positioned(soql, offset, text))
