"""The part of JQL the Jira emulator runs: clauses (=, !=, ~, in, not in, is EMPTY)
joined by AND, then ORDER BY; anything else is refused, as Jira refuses bad JQL.
"""

from __future__ import annotations

import re
from dataclasses import dataclass, field

__all__ = ["Clause", "JqlError", "Query", "parse_jql"]

_TOKEN = re.compile(
    r"""\s*(?:
        (?P<string>"(?:[^"\\]|\\.)*"|'(?:[^'\\]|\\.)*')
      | (?P<operator>!=|=|~|\(|\)|,)
      | (?P<word>[^\s"'=!~(),]+)
    )""",
    re.VERBOSE,
)
_ESCAPE = re.compile(r"\\(.)")


class JqlError(ValueError):
    """The query is not JQL the emulator can run; the message says where."""


@dataclass(frozen=True)
class Clause:
    """``field op values``; ``values`` holds ``None`` for EMPTY."""

    field: str
    op: str
    values: tuple[str | None, ...]


@dataclass(frozen=True)
class Query:
    clauses: tuple[Clause, ...]
    order: tuple[tuple[str, bool], ...] = field(default=())

    @property
    def bounded(self) -> bool:
        """Whether the query restricts the issues at all (Jira refuses it otherwise)."""
        return bool(self.clauses)


@dataclass
class _Token:
    kind: str
    text: str

    def word(self) -> str:
        return self.text.casefold() if self.kind == "word" else ""


def parse_jql(jql: str) -> Query:
    """Parse ``jql``; raises JqlError naming what it could not read."""
    tokens = _tokenise(jql)
    parser = _Parser(tokens)
    return parser.query()


def _tokenise(jql: str) -> list[_Token]:
    tokens = []
    position = 0
    text = jql.rstrip()
    while position < len(text):
        match = _TOKEN.match(text, position)
        if match is None or match.end() == position:
            raise JqlError(f"Error in the JQL query: cannot read {text[position:]!r}.")
        kind = match.lastgroup or "word"
        value = match.group(kind)
        if kind == "string":
            value = _ESCAPE.sub(r"\1", value[1:-1])
        tokens.append(_Token(kind, value))
        position = match.end()
    return tokens


class _Parser:
    def __init__(self, tokens: list[_Token]):
        self.tokens = tokens
        self.at = 0

    def peek(self) -> _Token | None:
        return self.tokens[self.at] if self.at < len(self.tokens) else None

    def take(self) -> _Token:
        token = self.peek()
        if token is None:
            raise JqlError("Error in the JQL query: the query ends too early.")
        self.at += 1
        return token

    def take_word(self, *words: str) -> None:
        token = self.take()
        if token.word() not in words:
            raise JqlError(
                f"Error in the JQL query: expected {' or '.join(words).upper()} "
                f"but found {token.text!r}."
            )

    def query(self) -> Query:
        clauses: list[Clause] = []
        token = self.peek()
        if token is not None and token.word() != "order":
            clauses.append(self.clause())
            while (token := self.peek()) is not None and token.word() != "order":
                if token.word() == "or":
                    raise JqlError("The emulator's JQL joins clauses with AND only.")
                self.take_word("and")
                clauses.append(self.clause())
        order = self.order_by() if self.peek() is not None else ()
        return Query(tuple(clauses), order)

    def clause(self) -> Clause:
        name = self.take()
        if name.kind == "operator":
            raise JqlError(
                f"Error in the JQL query: expected a field, found {name.text!r}."
            )
        operator = self.take()
        word = operator.word()
        if operator.kind == "operator" and operator.text in ("=", "!=", "~"):
            return Clause(name.text, operator.text, (self.value(),))
        if word == "in":
            return Clause(name.text, "in", self.values())
        if word == "not":
            self.take_word("in")
            return Clause(name.text, "not in", self.values())
        if word == "is":
            following = self.peek()
            negated = following is not None and following.word() == "not"
            if negated:
                self.take()
            self.take_word("empty", "null")
            return Clause(name.text, "is not" if negated else "is", (None,))
        raise JqlError(
            f"Error in the JQL query: the operator {operator.text!r} is not supported "
            "(use =, !=, ~, in, not in, is EMPTY)."
        )

    def value(self) -> str:
        token = self.take()
        if token.kind == "operator":
            raise JqlError(
                f"Error in the JQL query: expected a value, found {token.text!r}."
            )
        return token.text

    def values(self) -> tuple[str | None, ...]:
        opening = self.take()
        if opening.text != "(":
            raise JqlError("Error in the JQL query: a list of values starts with '('.")
        values = [self.value()]
        while (token := self.take()).text == ",":
            values.append(self.value())
        if token.text != ")":
            raise JqlError("Error in the JQL query: a list of values ends with ')'.")
        return tuple(values)

    def order_by(self) -> tuple[tuple[str, bool], ...]:
        self.take_word("order")
        self.take_word("by")
        order = []
        while True:
            name = self.take()
            descending = False
            token = self.peek()
            if token is not None and token.word() in ("asc", "desc"):
                descending = self.take().word() == "desc"
            order.append((name.text, descending))
            token = self.peek()
            if token is None:
                return tuple(order)
            if token.text != ",":
                raise JqlError(f"Error in the JQL query: unexpected {token.text!r}.")
            self.take()
