"""Check that the names the docs use exist: the attributes, keywords and CLI options of
every Python example and inline `code` span in README.md and docs/.

It reads the examples as the package's user would: an attribute chain that starts at an
``outlast`` name (imported, or a public name used bare as the prose does) is followed
through the real objects, through constructors and the return annotations of the calls
on the way; a keyword given to a call must be a parameter of it (or a key of its
``**options: Unpack[TypedDict]``). What it cannot type (a local helper, a ``dict``) it
leaves alone, so it reports only names that are certainly wrong.
"""

from __future__ import annotations

import ast
import importlib
import inspect
import re
import shlex
import typing
from collections.abc import AsyncIterator, Iterable, Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import click
from typing_extensions import Unpack

import outlast
from outlast.cli.main import cli

#: a fenced block: its language and its text
FENCE = re.compile(r"^```(\w*)[^\n]*\n(.*?)^```", re.S | re.M)
#: an inline code span
SPAN = re.compile(r"(?<!`)`([^`\n]+)`(?!`)")
#: ``self.name = Something(`` in a class's source: the attribute's class
SELF_ASSIGN = re.compile(r"self\.(\w+)\s*(?::[^=\n]+)?=\s*([A-Za-z_][\w.]*)\(")
SELF_ATTR = re.compile(r"self\.(\w+)\s*(?::[^=\n]+)?=")
#: names an example may use unbound, as the prose does, and what they stand for
CONVENTIONS = {"client": "Client", "aclient": "AsyncClient", "ctx": "RunContext",
               "env": "outlast.testing.TestRuns"}
ITERABLES = {list, Iterator, AsyncIterator, Iterable, tuple}


@dataclass(frozen=True)
class Known:
    """What an expression is: ``value`` itself, or (``instance``) an instance of it."""

    value: Any
    instance: bool = False


def code_of(path: Path) -> tuple[list[str], list[str], list[str]]:
    """The Python blocks, the shell lines and the inline spans of a Markdown page."""
    text = path.read_text()
    blocks = [m.group(2) for m in FENCE.finditer(text) if m.group(1) == "python"]
    shell = [line for m in FENCE.finditer(text) if m.group(1) in ("bash", "sh", "console", "")
             for line in m.group(2).splitlines()]
    prose = FENCE.sub("", text)
    return blocks, shell, SPAN.findall(prose)


def _convention(name: str) -> Known | None:
    target = CONVENTIONS.get(name)
    if target is None:
        return None
    module, _, attr = target.rpartition(".")
    return Known(getattr(importlib.import_module(module or "outlast"), attr), instance=True)


def _annotation(owner: Any, name: str) -> Any:
    try:
        return typing.get_type_hints(owner, include_extras=True).get(name)
    except Exception:  # an annotation that names what only type checkers import
        return None


def _as_known(hint: Any) -> Known | None:
    return Known(hint, instance=True) if isinstance(hint, type) and hint is not Any else None


def _element(hint: Any) -> Known | None:
    """The element type of ``list[Run]``, ``Iterator[Run]``, ``tuple[Run, ...]``."""
    origin, args = typing.get_origin(hint), typing.get_args(hint)
    if origin in ITERABLES and args:
        return _as_known(args[0])
    return None


def _instance_attrs(cls: type) -> dict[str, Any]:
    """Attributes an instance gets in ``__init__`` (name → its class when it is plain)."""
    found: dict[str, Any] = {}
    for klass in reversed(cls.__mro__[:-1]):
        try:
            source = inspect.getsource(klass)
        except (OSError, TypeError):
            continue
        module = inspect.getmodule(klass)
        for name in SELF_ATTR.findall(source):
            found.setdefault(name, None)
        for name, ctor in SELF_ASSIGN.findall(source):
            value: Any = module
            for part in ctor.split("."):
                value = getattr(value, part, None)
            if isinstance(value, type):
                found[name] = value
    return found


class Checker:
    """Follows the names of one example; ``problems`` lists what does not exist."""

    def __init__(self, where: str, bare_public: bool = True) -> None:
        self.where = where
        self.names: dict[str, Known | None] = {}
        self.bare_public = bare_public
        self.problems: list[str] = []

    def problem(self, node: ast.AST, text: str) -> None:
        self.problems.append(f"{self.where}: line {getattr(node, 'lineno', '?')}: {text}")

    # -- statements ------------------------------------------------------------------------

    def run(self, tree: ast.AST) -> None:
        for node in ast.iter_child_nodes(tree):
            self.statement(node)

    def statement(self, node: ast.AST) -> None:
        if isinstance(node, ast.ImportFrom):
            self.import_from(node)
        elif isinstance(node, ast.Import):
            for alias in node.names:
                if alias.name.split(".")[0] == "outlast":
                    self.names[alias.asname or "outlast"] = Known(outlast)
        elif isinstance(node, ast.FunctionDef | ast.AsyncFunctionDef):
            self.function(node)
        elif isinstance(node, ast.Assign | ast.AnnAssign):
            self.assign(node)
        elif isinstance(node, ast.With | ast.AsyncWith):
            self.with_(node)
        elif isinstance(node, ast.For | ast.AsyncFor):
            self.bind(node.target, self.element_of(node.iter))
            self.body(node.body + node.orelse)
        else:
            self.expressions_and_bodies(node)

    def body(self, nodes: Iterable[ast.AST]) -> None:
        for node in nodes:
            self.statement(node)

    def expressions_and_bodies(self, node: ast.AST) -> None:
        for field, value in ast.iter_fields(node):
            items = value if isinstance(value, list) else [value]
            for item in items:
                if isinstance(item, ast.expr):
                    self.expr(item)
                elif isinstance(item, ast.stmt):
                    self.statement(item)
                elif isinstance(item, ast.AST) and field in ("handlers", "cases"):
                    self.expressions_and_bodies(item)

    def import_from(self, node: ast.ImportFrom) -> None:
        if not (node.module or "").startswith("outlast"):
            for alias in node.names:
                self.names[alias.asname or alias.name] = None
            return
        try:
            module = importlib.import_module(node.module or "outlast")
        except ModuleNotFoundError as exc:
            if (exc.name or "").startswith("outlast"):
                self.problem(node, f"no module {node.module}")
            return
        for alias in node.names:
            if not hasattr(module, alias.name):
                self.problem(node, f"{node.module} has no {alias.name}")
            self.names[alias.asname or alias.name] = (
                Known(getattr(module, alias.name)) if hasattr(module, alias.name) else None)

    def function(self, node: ast.FunctionDef | ast.AsyncFunctionDef) -> None:
        is_task = False
        for decorator in node.decorator_list:
            target = self.expr(decorator.func if isinstance(decorator, ast.Call) else decorator)
            self.expr(decorator) if isinstance(decorator, ast.Call) else None
            is_task |= target is not None and target.value in (outlast.task,
                                                                outlast.schedules.task)
        params = node.args.posonlyargs + node.args.args + node.args.kwonlyargs
        for index, arg in enumerate(params):
            hint = self.expr(arg.annotation) if arg.annotation is not None else None
            known = Known(hint.value, True) if hint and isinstance(hint.value, type) else None
            if known is None and is_task and index == 1:
                known = Known(outlast.RunContext, True)
            self.names[arg.arg] = known
        self.body(node.body)
        self.names[node.name] = Known(outlast.Task, True) if is_task else None

    def assign(self, node: ast.Assign | ast.AnnAssign) -> None:
        known = self.expr(node.value) if node.value is not None else None
        targets = node.targets if isinstance(node, ast.Assign) else [node.target]
        for target in targets:
            self.bind(target, known)

    def with_(self, node: ast.With | ast.AsyncWith) -> None:
        for item in node.items:
            known = self.expr(item.context_expr)
            if item.optional_vars is not None:
                self.bind(item.optional_vars, self.entered(known, node))
        self.body(node.body)

    def entered(self, known: Known | None, node: ast.With | ast.AsyncWith) -> Known | None:
        if known is None or not known.instance:
            return None
        method = "__aenter__" if isinstance(node, ast.AsyncWith) else "__enter__"
        enter = getattr(known.value, method, None)
        return _as_known(_annotation(enter, "return")) if enter else None

    def bind(self, target: ast.AST, known: Known | None) -> None:
        if isinstance(target, ast.Name):
            self.names[target.id] = known
        elif isinstance(target, ast.Tuple | ast.List):
            for element in target.elts:
                self.bind(element, None)
        else:
            self.expr(target)  # ``x.attr = ...``: the chain must exist

    def element_of(self, node: ast.expr) -> Known | None:
        if isinstance(node, ast.Call):
            self.expr(node)
            function = self.expr(node.func)
            if function is not None and callable(function.value):
                return _element(_annotation(function.value, "return"))
            return None
        self.expr(node)
        return None

    # -- expressions -----------------------------------------------------------------------

    def expr(self, node: ast.expr) -> Known | None:
        if isinstance(node, ast.Name):
            return self.name(node.id)
        if isinstance(node, ast.Attribute):
            return self.attribute(node)
        if isinstance(node, ast.Call):
            return self.call(node)
        if isinstance(node, ast.Await):
            return self.expr(node.value)
        for child in ast.iter_child_nodes(node):
            if isinstance(child, ast.expr):
                self.expr(child)
            elif isinstance(child, ast.comprehension):
                self.expr(child.iter)
                self.bind(child.target, None)
                for condition in child.ifs:
                    self.expr(condition)
        return None

    def name(self, name: str) -> Known | None:
        if name in self.names:
            return self.names[name]
        if self.bare_public and name in outlast.__all__:
            return Known(getattr(outlast, name))
        return _convention(name)

    def attribute(self, node: ast.Attribute) -> Known | None:
        base = self.expr(node.value)
        if base is None:
            return None
        if not base.instance:
            if hasattr(base.value, node.attr):
                return Known(getattr(base.value, node.attr))
            self.problem(node, f"{_label(base)} has no attribute {node.attr!r}")
            return None
        return self.member(base, node)

    def member(self, base: Known, node: ast.Attribute) -> Known | None:
        """An attribute of an instance of ``base.value``: a method, a property, a field
        (annotated, or set in ``__init__``)."""
        cls, name = base.value, node.attr
        if hasattr(cls, name):
            member = inspect.getattr_static(cls, name)
            if isinstance(member, property):
                return _as_known(_annotation(member.fget, "return"))
            if callable(member) or isinstance(member, staticmethod | classmethod):
                return Known(getattr(cls, name))
            return _as_known(_annotation(cls, name))  # a field with a default
        attrs = _instance_attrs(cls)
        if attrs.get(name) is not None:
            return Known(attrs[name], True)
        annotated = any(name in getattr(k, "__annotations__", {}) for k in cls.__mro__)
        if name in attrs or annotated or hasattr(cls, "__getattr__"):
            return _as_known(_annotation(cls, name))
        self.problem(node, f"{_label(base)} has no attribute {name!r}")
        return None

    def call(self, node: ast.Call) -> Known | None:
        function = self.expr(node.func)
        for arg in [*node.args, *(k.value for k in node.keywords)]:
            self.expr(arg)
        if function is None:
            return None
        if function.instance:  # ``fetch_price(payload)``: the class's own ``__call__``
            function = Known(next((k.__dict__["__call__"] for k in function.value.__mro__
                                   if "__call__" in k.__dict__), None))
        target = function.value
        if target is None or not callable(target):
            return None
        self.keywords(node, target)
        if isinstance(target, type):
            return Known(target, True)
        return _as_known(_annotation(target, "return"))

    def keywords(self, node: ast.Call, target: Any) -> None:
        try:
            signature = inspect.signature(target)
        except (TypeError, ValueError):
            return
        params = signature.parameters
        named = {n for n, p in params.items() if p.kind not in (p.VAR_POSITIONAL,
                                                                p.VAR_KEYWORD, p.POSITIONAL_ONLY)}
        var = next((p for p in params.values() if p.kind == p.VAR_KEYWORD), None)
        allowed = self.unpacked(target, var.name) if var is not None else set()
        for keyword in node.keywords:
            name = keyword.arg
            if name is None or name in named or (var is not None and allowed is None):
                continue
            if name not in (allowed or set()):
                self.problem(node, f"{_name_of(target)}() takes no keyword {name!r}")

    @staticmethod
    def unpacked(target: Any, var: str) -> set[str] | None:
        """The keys ``**var: Unpack[TypedDict]`` accepts; None when it accepts any."""
        hint = _annotation(target.__init__ if isinstance(target, type) else target, var)
        if typing.get_origin(hint) is Unpack:
            return set(typing.get_type_hints(typing.get_args(hint)[0]))
        return None


def _label(known: Known) -> str:
    value = known.value
    name = getattr(value, "__qualname__", None) or getattr(value, "__name__", None)
    return f"a {name}" if known.instance else str(name or type(value).__name__)


def _name_of(target: Any) -> str:
    return str(getattr(target, "__qualname__", None) or getattr(target, "__name__", target))


def check_python(code: str, where: str) -> list[str]:
    checker = Checker(where)
    checker.run(ast.parse(code))
    return checker.problems


def check_span(span: str, where: str) -> list[str]:
    """An inline span that is a Python expression starting at an outlast name."""
    try:
        tree = ast.parse(span.strip(), mode="eval")
    except SyntaxError:
        return []
    root = tree.body
    while isinstance(root, ast.Attribute | ast.Call | ast.Subscript | ast.Await):
        root = root.value if not isinstance(root, ast.Call) else root.func
    if not isinstance(root, ast.Name) or root is tree.body:
        return []
    if root.id == "outlast" and "(" not in span:
        return []  # ``outlast.toml``, a metric's or a span's name
    if root.id != "outlast" and root.id not in outlast.__all__ and root.id not in CONVENTIONS:
        return []
    checker = Checker(where)
    checker.names["outlast"] = Known(outlast)
    if root.id == "task":  # prose's ``task.trigger(...)``: a task, not the decorator
        checker.names["task"] = Known(outlast.Task, True)
    checker.expr(tree.body)
    return checker.problems


def check_command(line: str, where: str) -> list[str]:
    """``outlast GROUP CMD --option``: the commands and options exist."""
    text = line.strip().removeprefix("$ ").split(" #")[0]
    for separator in ("|", "&&", ";", ">"):
        text = text.split(separator)[0]
    try:
        words = shlex.split(text)
    except ValueError:
        return []
    if len(words) < 2 or words[0] != "outlast":
        return []
    command: click.Command = cli
    path = ["outlast"]
    for word in words[1:]:
        if isinstance(command, click.Group) and not word.startswith("-"):
            sub = command.get_command(click.Context(command), word)
            if sub is None:
                if "|" in word or word.isupper() or "…" in word:
                    return []
                return [f"{where}: `{line.strip()}`: no command {' '.join(path)} {word}"]
            command, path = sub, [*path, word]
            continue
        if word.startswith("-") and word not in ("-", "--"):
            flag = word.split("=")[0].rstrip(",")
            if flag not in _flags(command):
                return [f"{where}: `{line.strip()}`: {' '.join(path)} has no option {flag}"]
    return []


def _flags(command: click.Command) -> set[str]:
    flags = {"--help"}
    for param in command.params:
        flags |= {*getattr(param, "opts", []), *getattr(param, "secondary_opts", [])}
    return flags
