"""The `when` language: a small, safe expression compiler over metrics and settings.

Source is parsed with ``ast`` (mode "eval"), checked against a whitelist of node types and
names, and compiled into a tree of small node objects. User text is never passed to eval/exec.

Semantics (DESIGN.md "Rules: YAML", agent/core/metrics.py):
- any comparison with None is False; arithmetic with None gives None (so the rule stays quiet);
- division by zero, overflow and type mismatches give None instead of an error;
- ``and`` / ``or`` / ``not`` return booleans; None counts as false;
- ``x in [a, b]`` needs a list or tuple literal on the right;
- ``x is None`` / ``x is not None`` are the only identity tests (comparisons with None are false).

Resource limits guard against hostile input: expression length, nesting depth, string literal
size, list literal size, and the size of integer results (so ``9**9**9`` is refused).
"""

from __future__ import annotations

import ast
import math
import operator
from collections.abc import Callable, Collection, Mapping
from dataclasses import dataclass, field
from typing import Any

MAX_LENGTH = 1000
MAX_DEPTH = 40
MAX_STRING = 200
MAX_ITEMS = 100
# Integers beyond this many bits are treated as overflow: far above any real metric, far below
# the sizes that take noticeable time or memory.
MAX_INT_BITS = 256
MAX_EXPONENT = 256

Env = Mapping[str, Any]
FUNCTIONS = ("min", "max", "abs")

# Static kinds, used to reject nonsense (arithmetic on dates) at load time.
NUM, TEXT, BOOL, ANY = "number", "text", "boolean", "any"


class ExprError(ValueError):
    """A problem in an expression; ``column`` is 1-based when known."""

    def __init__(self, message: str, column: int | None = None) -> None:
        super().__init__(message)
        self.message = message
        self.column = column

    def __str__(self) -> str:
        return f"{self.message} (column {self.column})" if self.column else self.message


@dataclass(frozen=True)
class Comparison:
    """One comparison as evaluated: what it says, the values it saw, whether it held."""

    text: str
    left: Any
    op: str
    right: Any
    holds: bool

    @property
    def distance(self) -> float | None:
        """How far the two sides are apart (None unless both are numbers)."""
        if not (_is_number(self.left) and _is_number(self.right)):
            return None
        if self.op not in ("<", "<=", ">", ">=", "==", "!="):
            return None
        return float(abs(self.left - self.right))

    @property
    def relative(self) -> float | None:
        """distance relative to the smaller side (at least 1): 25 vs 30 -> 0.2."""
        dist = self.distance
        if dist is None:
            return None
        return dist / max(min(abs(float(self.left)), abs(float(self.right))), 1.0)

    def describe(self) -> str:
        if not self.op:
            return f"{self.text} is {_show(self.left)}"
        verdict = "holds" if self.holds else "fails"
        if not self.holds and None in (self.left, self.right) and self.op not in _IS_OPS:
            return f"{self.text}: fails (no value)"
        dist = self.distance
        by = f" (by {_show(dist)})" if dist is not None and not self.holds else ""
        return f"{self.text}: {_show(self.left)} {self.op} {_show(self.right)} {verdict}{by}"


_IS_OPS = ("is", "is not")


@dataclass(frozen=True)
class Trace:
    """An evaluation with its reasons: comparisons that held, and those that kept it false."""

    value: Any
    hits: tuple[Comparison, ...] = ()
    misses: tuple[Comparison, ...] = ()


def _show(value: Any) -> str:
    if isinstance(value, float):
        return f"{value:.2f}".rstrip("0").rstrip(".") if value == value else "nan"
    return "None" if value is None else str(value)


def _numeric(value: Any) -> bool:
    """Usable in arithmetic: numbers and booleans (True + True is 2), never text or None."""
    return isinstance(value, int | float)


def _is_number(value: Any) -> bool:
    return isinstance(value, int | float) and not isinstance(value, bool)


# --- nodes ---------------------------------------------------------------------------------


@dataclass(frozen=True)
class Node:
    text: str

    def ev(self, env: Env) -> Any:
        raise NotImplementedError

    def tr(self, env: Env) -> Trace:
        value = self.ev(env)
        if value:
            return Trace(value)
        return Trace(value, misses=(Comparison(self.text, value, "", None, False),))


@dataclass(frozen=True)
class Const(Node):
    value: Any

    def ev(self, env: Env) -> Any:
        return self.value


@dataclass(frozen=True)
class Var(Node):
    name: str

    def ev(self, env: Env) -> Any:
        return env.get(self.name)


@dataclass(frozen=True)
class And(Node):
    items: tuple[Node, ...]

    def ev(self, env: Env) -> Any:
        return all(item.ev(env) for item in self.items)

    def tr(self, env: Env) -> Trace:
        # No short-circuit: explaining a near miss needs every failing part.
        traces = [item.tr(env) for item in self.items]
        value = all(t.value for t in traces)
        hits = tuple(h for t in traces for h in t.hits) if value else ()
        misses = tuple(m for t in traces if not t.value for m in t.misses)
        return Trace(value, hits, misses)


@dataclass(frozen=True)
class Or(Node):
    items: tuple[Node, ...]

    def ev(self, env: Env) -> Any:
        return any(item.ev(env) for item in self.items)

    def tr(self, env: Env) -> Trace:
        traces = [item.tr(env) for item in self.items]
        for t in traces:
            if t.value:
                return Trace(True, t.hits)
        closest = min(traces, key=_miss_cost)
        return Trace(False, misses=closest.misses)


def _miss_cost(trace: Trace) -> float:
    costs = [m.relative for m in trace.misses]
    return math.inf if not costs or None in costs else sum(c for c in costs if c is not None)


@dataclass(frozen=True)
class Not(Node):
    item: Node

    def ev(self, env: Env) -> Any:
        return not self.item.ev(env)


_COMPARE: dict[type, tuple[str, Callable[[Any, Any], bool]]] = {
    ast.Lt: ("<", operator.lt),
    ast.LtE: ("<=", operator.le),
    ast.Gt: (">", operator.gt),
    ast.GtE: (">=", operator.ge),
    ast.Eq: ("==", operator.eq),
    ast.NotEq: ("!=", operator.ne),
    ast.In: ("in", lambda a, b: a in b),
    ast.NotIn: ("not in", lambda a, b: a not in b),
}


@dataclass(frozen=True)
class Pair:
    op: str
    fn: Callable[[Any, Any], bool]
    right: Node
    text: str


@dataclass(frozen=True)
class Compare(Node):
    left: Node
    pairs: tuple[Pair, ...]

    def ev(self, env: Env) -> Any:
        left = self.left.ev(env)
        for pair in self.pairs:
            right = pair.right.ev(env)
            if not _compare(pair, left, right):
                return False
            left = right
        return True

    def tr(self, env: Env) -> Trace:
        checks: list[Comparison] = []
        left = self.left.ev(env)
        for pair in self.pairs:
            right = pair.right.ev(env)
            checks.append(Comparison(pair.text, left, pair.op, right, _compare(pair, left, right)))
            left = right
        if all(c.holds for c in checks):
            return Trace(True, hits=tuple(checks))
        return Trace(False, misses=tuple(c for c in checks if not c.holds))


def _compare(pair: Pair, left: Any, right: Any) -> bool:
    if pair.op == "is":
        return left is None
    if pair.op == "is not":
        return left is not None
    if left is None or right is None:
        return False
    try:
        return bool(pair.fn(left, right))
    except TypeError:
        return False


@dataclass(frozen=True)
class Items(Node):
    """The list or tuple literal on the right of ``in``; None items never match."""

    items: tuple[Node, ...]

    def ev(self, env: Env) -> Any:
        return tuple(v for v in (item.ev(env) for item in self.items) if v is not None)


def _checked(value: Any) -> Any:
    if not isinstance(value, int | float):  # e.g. (-8) ** 0.5 is complex
        return None
    if isinstance(value, int) and not isinstance(value, bool):
        return value if value.bit_length() <= MAX_INT_BITS else None
    if isinstance(value, float) and not math.isfinite(value):
        return None
    return value


def _pow(base: Any, exp: Any) -> Any:
    if abs(exp) > MAX_EXPONENT:
        return None
    # Estimate the size before computing it: this is what stops 9**9**9.
    if (
        isinstance(base, int)
        and isinstance(exp, int)
        and exp * (abs(base).bit_length() - 1) > MAX_INT_BITS
    ):
        return None
    return base**exp


_BINARY: dict[type, tuple[str, Callable[[Any, Any], Any]]] = {
    ast.Add: ("+", operator.add),
    ast.Sub: ("-", operator.sub),
    ast.Mult: ("*", operator.mul),
    ast.Div: ("/", operator.truediv),
    ast.FloorDiv: ("//", operator.floordiv),
    ast.Mod: ("%", operator.mod),
    ast.Pow: ("**", _pow),
}


@dataclass(frozen=True)
class Binary(Node):
    fn: Callable[[Any, Any], Any]
    left: Node
    right: Node

    def ev(self, env: Env) -> Any:
        a, b = self.left.ev(env), self.right.ev(env)
        if not (_numeric(a) and _numeric(b)):
            return None
        try:
            return _checked(self.fn(a, b))
        except (ZeroDivisionError, OverflowError, ValueError, TypeError):
            return None


@dataclass(frozen=True)
class Negate(Node):
    item: Node
    sign: int

    def ev(self, env: Env) -> Any:
        value = self.item.ev(env)
        return self.sign * value if _numeric(value) else None


def _call_abs(args: list[Any]) -> Any:
    return abs(args[0])


_CALLS: dict[str, Callable[[list[Any]], Any]] = {"min": min, "max": max, "abs": _call_abs}


@dataclass(frozen=True)
class Call(Node):
    fn: Callable[[list[Any]], Any]
    args: tuple[Node, ...]

    def ev(self, env: Env) -> Any:
        values = [arg.ev(env) for arg in self.args]
        if not all(_numeric(v) for v in values):
            return None  # min(None, 3) is unknown, not 3: a missing metric must not fire a rule
        return self.fn(values)


# --- the compiled expression ---------------------------------------------------------------


@dataclass(frozen=True)
class Expression:
    """A compiled `when` (or score) expression. Evaluation never raises on odd data."""

    source: str
    root: Node
    names: tuple[str, ...] = field(default=())  # names used, in order of first appearance

    def evaluate(self, env: Env) -> Any:
        try:
            return self.root.ev(env)
        except RecursionError:  # pragma: no cover - depth is bounded at compile time
            return None

    def holds(self, env: Env) -> bool:
        return bool(self.evaluate(env))

    def trace(self, env: Env) -> Trace:
        """Evaluate and say why: comparisons that held, or those that kept it false."""
        return self.root.tr(env)


def compile_expr(
    source: str, names: Collection[str], kinds: Mapping[str, str] | None = None
) -> Expression:
    """Compile ``source`` allowing only ``names`` (metrics and settings).

    ``kinds`` optionally gives a name's static kind ("number", "text", "boolean") so that
    arithmetic on a date is refused here rather than silently never firing.
    Raises ExprError with a 1-based column where one is known.

    >>> compile_expr("silence_days > 2 * x", {"silence_days", "x"}).holds(
    ...     {"silence_days": 30, "x": 10})
    True
    """
    if not isinstance(source, str) or not source.strip():
        raise ExprError("empty expression")
    if len(source) > MAX_LENGTH:
        raise ExprError(f"expression longer than {MAX_LENGTH} characters")
    # A multi-line YAML string is one logical line; columns then refer to this form.
    text = " ".join(source.split()) if "\n" in source or "\r" in source else source.strip()
    tree = _parse(text)
    _check_depth(tree)
    compiler = _Compiler(text, frozenset(names), dict(kinds or {}))
    root, _ = compiler.node(tree.body)
    return Expression(text, root, tuple(compiler.used))


def _parse(source: str) -> ast.Expression:
    try:
        return ast.parse(source, mode="eval")
    except SyntaxError as exc:
        # CPython reports offset 0 when the text ends too early: point just past the end.
        column = exc.offset if exc.offset else len(source) + 1
        raise ExprError(f"invalid syntax: {exc.msg}", column) from None
    except (ValueError, RecursionError, MemoryError) as exc:
        raise ExprError(f"cannot parse: {type(exc).__name__}") from None


def _check_depth(tree: ast.AST) -> None:
    stack: list[tuple[ast.AST, int]] = [(tree, 0)]
    while stack:
        node, depth = stack.pop()
        if depth > MAX_DEPTH:
            raise ExprError(f"expression nested deeper than {MAX_DEPTH} levels")
        stack.extend((child, depth + 1) for child in ast.iter_child_nodes(node))


class _Compiler:
    """Turns a checked AST into nodes; every method returns (node, static kind)."""

    def __init__(self, source: str, names: frozenset[str], kinds: dict[str, str]) -> None:
        self.source = source
        self.names = names
        self.kinds = kinds
        self.used: list[str] = []

    def fail(self, node: ast.AST, message: str) -> ExprError:
        return ExprError(message, getattr(node, "col_offset", -1) + 1 or None)

    def text(self, node: ast.AST) -> str:
        return ast.get_source_segment(self.source, node) or ast.unparse(node)

    def node(self, node: ast.expr) -> tuple[Node, str]:
        handler = getattr(self, "n_" + type(node).__name__, None)
        if handler is None:
            raise self.fail(node, f"not allowed in rule expressions: {_describe(node)}")
        result: tuple[Node, str] = handler(node)
        return result

    def n_Constant(self, node: ast.Constant) -> tuple[Node, str]:
        value = node.value
        if isinstance(value, str):
            if len(value) > MAX_STRING:
                raise self.fail(node, f"text longer than {MAX_STRING} characters")
            return Const(self.text(node), value), TEXT
        if value is None or isinstance(value, bool):
            return Const(self.text(node), value), BOOL if value is not None else ANY
        if isinstance(value, int | float) and not isinstance(value, complex):
            if isinstance(value, int) and value.bit_length() > MAX_INT_BITS:
                raise self.fail(node, "number too large")
            return Const(self.text(node), value), NUM
        raise self.fail(node, f"{type(value).__name__} literals are not allowed")

    def n_Name(self, node: ast.Name) -> tuple[Node, str]:
        if node.id in FUNCTIONS:
            raise self.fail(node, f"{node.id} is a function: call it, e.g. {node.id}(a, b)")
        if node.id not in self.names:
            raise self.fail(node, f"unknown name {node.id!r}{_suggest(node.id, self.names)}")
        if node.id not in self.used:
            self.used.append(node.id)
        return Var(node.id, node.id), self.kinds.get(node.id, ANY)

    def n_BoolOp(self, node: ast.BoolOp) -> tuple[Node, str]:
        items = tuple(self.node(v)[0] for v in node.values)
        kind = And if isinstance(node.op, ast.And) else Or
        return kind(self.text(node), items), BOOL

    def n_UnaryOp(self, node: ast.UnaryOp) -> tuple[Node, str]:
        item, kind = self.node(node.operand)
        if isinstance(node.op, ast.Not):
            return Not(self.text(node), item), BOOL
        if isinstance(node.op, ast.USub | ast.UAdd):
            self.need_number(node.operand, kind)
            sign = -1 if isinstance(node.op, ast.USub) else 1
            return self.fold(Negate(self.text(node), item, sign), node), NUM
        raise self.fail(node, "the ~ operator is not allowed")

    def n_BinOp(self, node: ast.BinOp) -> tuple[Node, str]:
        entry = _BINARY.get(type(node.op))
        if entry is None:
            symbol = _OPERATOR_SYMBOLS.get(type(node.op).__name__, type(node.op).__name__)
            raise self.fail(node, f"operator {symbol} is not allowed")
        left, lkind = self.node(node.left)
        right, rkind = self.node(node.right)
        self.need_number(node.left, lkind)
        self.need_number(node.right, rkind)
        return self.fold(Binary(self.text(node), entry[1], left, right), node), NUM

    def need_number(self, node: ast.expr, kind: str) -> None:
        if kind == TEXT:
            raise self.fail(node, f"arithmetic needs numbers, {self.text(node)!r} is text/date")

    def fold(self, built: Node, node: ast.expr) -> Node:
        """Evaluate literal-only arithmetic now, so 9**9**9 fails at load, not at 8 am."""
        if any(isinstance(n, ast.Name) and n.id not in FUNCTIONS for n in ast.walk(node)):
            return built
        value = built.ev({})
        if value is None:
            raise self.fail(node, f"{self.text(node)!r} is too large or undefined")
        return Const(built.text, value)

    def n_Compare(self, node: ast.Compare) -> tuple[Node, str]:
        left, lkind = self.node(node.left)
        pairs: list[Pair] = []
        prev, prev_kind = node.left, lkind
        for op, comparator in zip(node.ops, node.comparators, strict=True):
            pair, kind = self.pair(prev, prev_kind, op, comparator)
            pairs.append(pair)
            prev, prev_kind = comparator, kind
        return Compare(self.text(node), left, tuple(pairs)), BOOL

    def pair(self, left: ast.expr, lkind: str, op: ast.cmpop, right: ast.expr) -> tuple[Pair, str]:
        text = f"{self.text(left)} {_op_text(op)} {self.text(right)}"
        if isinstance(op, ast.Is | ast.IsNot):
            if not (isinstance(right, ast.Constant) and right.value is None):
                raise self.fail(right, "'is' / 'is not' may only be used with None")
            name = "is" if isinstance(op, ast.Is) else "is not"
            return Pair(name, operator.is_, Const("None", None), text), ANY
        entry = _COMPARE.get(type(op))
        if entry is None:  # pragma: no cover - every Python comparison is listed
            raise self.fail(right, "comparison not allowed")
        if isinstance(op, ast.In | ast.NotIn):
            return Pair(entry[0], entry[1], self.items(right), text), ANY
        rnode, rkind = self.node(right)
        if entry[0] not in ("==", "!=") and {lkind, rkind} == {TEXT, NUM}:
            raise self.fail(right, f"{text!r} compares text/date with a number")
        return Pair(entry[0], entry[1], rnode, text), rkind

    def items(self, node: ast.expr) -> Node:
        if not isinstance(node, ast.List | ast.Tuple):
            raise self.fail(node, "'in' needs a list literal on the right, e.g. x in [1, 2]")
        if len(node.elts) > MAX_ITEMS:
            raise self.fail(node, f"list longer than {MAX_ITEMS} items")
        return Items(self.text(node), tuple(self.node(e)[0] for e in node.elts))

    def n_Call(self, node: ast.Call) -> tuple[Node, str]:
        if not isinstance(node.func, ast.Name) or node.func.id not in _CALLS:
            raise self.fail(node, f"only {', '.join(FUNCTIONS)} may be called")
        if node.keywords or any(isinstance(a, ast.Starred) for a in node.args):
            raise self.fail(node, f"{node.func.id}() takes plain arguments only")
        name = node.func.id
        if (name == "abs" and len(node.args) != 1) or (name != "abs" and len(node.args) < 2):
            wanted = "one argument" if name == "abs" else "at least two arguments"
            raise self.fail(node, f"{name}() takes {wanted}")
        args = []
        for arg in node.args:
            compiled, kind = self.node(arg)
            self.need_number(arg, kind)
            args.append(compiled)
        return self.fold(Call(self.text(node), _CALLS[name], tuple(args)), node), NUM


_OPERATOR_SYMBOLS = {
    "LShift": "<<",
    "RShift": ">>",
    "BitOr": "|",
    "BitAnd": "&",
    "BitXor": "^",
    "MatMult": "@",
}


def _op_text(op: ast.cmpop) -> str:
    if isinstance(op, ast.Is):
        return "is"
    if isinstance(op, ast.IsNot):
        return "is not"
    return _COMPARE[type(op)][0]


_DESCRIPTIONS = {
    "Attribute": "attribute access (a.b)",
    "Subscript": "subscripts (a[b])",
    "Lambda": "lambda",
    "ListComp": "comprehensions",
    "SetComp": "comprehensions",
    "DictComp": "comprehensions",
    "GeneratorExp": "comprehensions",
    "IfExp": "'x if c else y'",
    "NamedExpr": "assignment (:=)",
    "JoinedStr": "f-strings",
    "Starred": "*unpacking",
}


def _describe(node: ast.AST) -> str:
    name = type(node).__name__
    return _DESCRIPTIONS.get(name, name)


def _suggest(name: str, names: Collection[str]) -> str:
    import difflib

    close = difflib.get_close_matches(name, sorted(names), n=1)
    return f" (did you mean {close[0]!r}?)" if close else ""
