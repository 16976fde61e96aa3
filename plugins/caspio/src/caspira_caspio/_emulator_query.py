"""The emulator's reading of ``q.where``, ``q.orderBy`` and ``q.select``.

A small subset of the SQL Server dialect Caspio hands these clauses to.
"""

from __future__ import annotations

import re
from collections.abc import Callable, Mapping
from datetime import datetime
from typing import Any

__all__ = ["QueryError", "compile_where", "parse_order_by", "parse_select", "sort_key"]

Record = dict[str, Any]
_Truth = bool | None
_Test = Callable[[Record], _Truth]

DATE_TYPES = frozenset({"DATE/TIME", "TIMESTAMP"})

_TOKEN = re.compile(
    r"""\s*(?:
        (?P<string>'(?:[^']|'')*')
      | (?P<number>-?\d+(?:\.\d+)?)
      | (?P<name>\[[^\]]+\]|[A-Za-z_][A-Za-z0-9_]*)
      | (?P<op><=|>=|<>|!=|=|<|>)
      | (?P<punct>[(),])
    )""",
    re.VERBOSE,
)
_KEYWORDS = frozenset({"AND", "OR", "NOT", "IN", "LIKE", "IS", "NULL"})


class QueryError(Exception):
    """A clause the emulator cannot read; answered as Caspio's ``SqlServerError``."""


def compile_where(text: str, types: Mapping[str, str]) -> Callable[[Record], bool]:
    """A test for stored records; ``types`` maps each field name to its Caspio type.

    Understood: comparisons (``= <> != < <= > >=``), ``AND``, ``OR``, ``NOT``,
    ``[NOT] IN (...)``, ``[NOT] LIKE`` with ``%`` and ``_``, ``IS [NOT] NULL``,
    parentheses, quoted strings with ``''`` inside, numbers. Strings compare
    without regard to case, as in SQL Server's default collation; Yes/No fields
    compare as 1 and 0; a list field matches when any chosen text does; ``NULL``
    follows three-valued logic, so ``Field <> 'x'`` never matches a missing value.
    """
    parser = _Parser(_tokenize(text), types)
    test = parser.expression()
    parser.expect_end()
    return lambda record: test(record) is True


def parse_select(text: str | None, types: Mapping[str, str]) -> list[str] | None:
    """The field names of ``q.select``; ``None`` means every field."""
    if text is None or text.strip() in ("", "*"):
        return None
    return [_field_name(part, types) for part in text.split(",")]


def parse_order_by(
    text: str | None, types: Mapping[str, str]
) -> list[tuple[str, bool]]:
    """``(field, descending)`` pairs of ``q.orderBy``, most significant first."""
    if text is None or not text.strip():
        return []
    order = []
    for part in text.split(","):
        words = part.split()
        direction = words[-1].upper() if len(words) > 1 else "ASC"
        if direction not in ("ASC", "DESC") or len(words) > 2:
            raise QueryError(f"cannot read ORDER BY item {part.strip()!r}")
        order.append((_field_name(words[0], types), direction == "DESC"))
    return order


def sort_key(field_type: str, stored: Any) -> tuple[bool, Any]:
    """Sort stored values as SQL Server does: ``NULL`` first, text without case."""
    value = comparable(field_type, stored)
    if value is None:
        return (False, 0)
    if isinstance(value, tuple):
        return (True, " ".join(value).casefold())
    if isinstance(value, str):
        return (True, value.casefold())
    return (True, value)


def comparable(field_type: str, stored: Any) -> Any:
    """A stored value in the form comparisons use; list fields become tuples."""
    if stored is None:
        return None
    if field_type == "YES/NO":
        return 1 if stored else 0
    if field_type in DATE_TYPES:
        return datetime.fromisoformat(stored)
    if field_type.startswith("LIST-"):
        return tuple(str(text) for text in stored.values())
    return stored


def _field_name(word: str, types: Mapping[str, str]) -> str:
    name = word.strip()
    if name.startswith("[") and name.endswith("]"):
        name = name[1:-1]
    if name not in types:
        raise QueryError(f"Invalid column name {name!r}")
    return name


def _tokenize(text: str) -> list[tuple[str, str]]:
    tokens = []
    position = 0
    while position < len(text):
        if text[position:].strip() == "":
            break
        match = _TOKEN.match(text, position)
        if match is None or match.lastgroup is None:
            raise QueryError(f"syntax error near {text[position : position + 20]!r}")
        kind, value = match.lastgroup, match.group(match.lastgroup)
        if kind == "name" and value.upper() in _KEYWORDS:
            kind, value = "keyword", value.upper()
        tokens.append((kind, value))
        position = match.end()
    return tokens


class _Operand:
    def __init__(self, get: Callable[[Record], Any]) -> None:
        self.get = get


class _Parser:
    def __init__(self, tokens: list[tuple[str, str]], types: Mapping[str, str]):
        self._tokens = tokens
        self._at = 0
        self._types = types

    def expression(self) -> _Test:
        left = self._conjunction()
        while self._take("keyword", "OR"):
            left = _any_of(left, self._conjunction())
        return left

    def expect_end(self) -> None:
        if self._at < len(self._tokens):
            raise QueryError(f"unexpected {self._tokens[self._at][1]!r}")

    def _conjunction(self) -> _Test:
        left = self._negation()
        while self._take("keyword", "AND"):
            left = _all_of(left, self._negation())
        return left

    def _negation(self) -> _Test:
        if self._take("keyword", "NOT"):
            inner = self._negation()
            return lambda record: _not(inner(record))
        return self._primary()

    def _primary(self) -> _Test:
        if self._take("punct", "("):
            inner = self.expression()
            self._expect("punct", ")")
            return inner

        left = self._operand()
        if self._peek()[0] == "op":
            operator = self._next()[1]
            right = self._operand()
            return lambda record: _compare(
                operator, left.get(record), right.get(record)
            )
        if self._take("keyword", "IS"):
            negated = self._take("keyword", "NOT")
            self._expect("keyword", "NULL")
            return lambda record: (left.get(record) is None) != negated
        negated = self._take("keyword", "NOT")
        if self._take("keyword", "IN"):
            test = self._in_list(left)
        elif self._take("keyword", "LIKE"):
            test = self._like(left)
        else:
            raise QueryError(f"expected a comparison after {self._previous()!r}")
        if negated:
            return lambda record: _not(test(record))
        return test

    def _in_list(self, left: _Operand) -> _Test:
        self._expect("punct", "(")
        options = [self._operand()]
        while self._take("punct", ","):
            options.append(self._operand())
        self._expect("punct", ")")

        def test(record: Record) -> _Truth:
            value = left.get(record)
            answers = [_compare("=", value, option.get(record)) for option in options]
            if True in answers:
                return True
            return None if None in answers else False

        return test

    def _like(self, left: _Operand) -> _Test:
        kind, text = self._next()
        if kind != "string":
            raise QueryError("LIKE needs a quoted pattern")
        pattern = _like_pattern(_unquote(text))

        def test(record: Record) -> _Truth:
            value = left.get(record)
            if value is None:
                return None
            values = value if isinstance(value, tuple) else (value,)
            return any(pattern.fullmatch(_text(item)) for item in values)

        return test

    def _operand(self) -> _Operand:
        kind, value = self._next()
        if kind == "string":
            text = _unquote(value)
            return _Operand(lambda record: text)
        if kind == "number":
            number = float(value) if "." in value else int(value)
            return _Operand(lambda record: number)
        if kind == "keyword" and value == "NULL":
            return _Operand(lambda record: None)
        if kind == "name":
            name = _field_name(value, self._types)
            field_type = self._types[name]
            return _Operand(lambda record: comparable(field_type, record.get(name)))
        raise QueryError(f"expected a field or a value, found {value!r}")

    def _peek(self) -> tuple[str, str]:
        if self._at < len(self._tokens):
            return self._tokens[self._at]
        return ("end", "")

    def _next(self) -> tuple[str, str]:
        token = self._peek()
        if token[0] == "end":
            raise QueryError("the clause ends too early")
        self._at += 1
        return token

    def _previous(self) -> str:
        return self._tokens[self._at - 1][1] if self._at else ""

    def _take(self, kind: str, value: str) -> bool:
        if self._peek() == (kind, value):
            self._at += 1
            return True
        return False

    def _expect(self, kind: str, value: str) -> None:
        if not self._take(kind, value):
            raise QueryError(
                f"expected {value!r}, found {self._peek()[1] or 'the end'!r}"
            )


def _unquote(token: str) -> str:
    return token[1:-1].replace("''", "'")


def _like_pattern(pattern: str) -> re.Pattern[str]:
    parts = []
    for char in pattern:
        if char == "%":
            parts.append(".*")
        elif char == "_":
            parts.append(".")
        else:
            parts.append(re.escape(char))
    return re.compile("".join(parts), re.IGNORECASE | re.DOTALL)


def _text(value: Any) -> str:
    return value.isoformat() if isinstance(value, datetime) else str(value)


def _not(value: _Truth) -> _Truth:
    return None if value is None else not value


def _all_of(left: _Test, right: _Test) -> _Test:
    def test(record: Record) -> _Truth:
        answers = (left(record), right(record))
        if False in answers:
            return False
        return None if None in answers else True

    return test


def _any_of(left: _Test, right: _Test) -> _Test:
    def test(record: Record) -> _Truth:
        answers = (left(record), right(record))
        if True in answers:
            return True
        return None if None in answers else False

    return test


def _compare(operator: str, left: Any, right: Any) -> _Truth:
    if left is None or right is None:
        return None
    if isinstance(left, tuple):
        return any(_compare(operator, item, right) for item in left)
    if isinstance(right, tuple):
        return any(_compare(operator, left, item) for item in right)
    left, right = _aligned(left, right)
    if operator == "=":
        return left == right
    if operator in ("<>", "!="):
        return left != right
    if operator == "<":
        return left < right
    if operator == "<=":
        return left <= right
    if operator == ">":
        return left > right
    return left >= right


def _aligned(left: Any, right: Any) -> tuple[Any, Any]:
    """Bring two values to one type, converting as SQL Server would, or fail."""
    if isinstance(left, str) and isinstance(right, str):
        return left.casefold(), right.casefold()
    if isinstance(left, datetime) or isinstance(right, datetime):
        return _as_datetime(left), _as_datetime(right)
    if isinstance(left, str) or isinstance(right, str):
        return _as_number(left), _as_number(right)
    return left, right


def _as_datetime(value: Any) -> datetime:
    if isinstance(value, datetime):
        return value
    try:
        return datetime.fromisoformat(str(value))
    except ValueError:
        raise QueryError(f"conversion failed: {value!r} is not a date") from None


def _as_number(value: Any) -> float:
    try:
        return float(value)
    except (TypeError, ValueError):
        raise QueryError(f"conversion failed: {value!r} is not a number") from None
