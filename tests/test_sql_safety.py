"""No SQL text in ``src/optout`` is built by string formatting.

Values reach SQL only as bind parameters (or through SQLAlchemy expressions). This scans
the source with :mod:`ast` for calls to ``sa.text(...)`` / ``text(...)``,
``exec_driver_sql(...)``, ``.execute(...)``, ``.executemany(...)`` and
``.executescript(...)`` whose first argument is built by formatting: an f-string with
placeholders, a ``%`` format, a ``.format()`` call, ``.join()``, or a concatenation
involving anything but string literals. A name passed as the first argument is followed
to its assignments in the same function (or module), so ``sql = f"..."; conn.execute(sql)``
is caught too.

The allow-list below names the few statements that cannot take bind parameters, each
with the reason its interpolated value is safe. An entry that no longer matches anything
fails the test, so the list cannot rot.
"""

from __future__ import annotations

import ast
import dataclasses
import pathlib
import textwrap

SOURCE = pathlib.Path(__file__).resolve().parents[1] / "src" / "optout"

SQL_CALLS = frozenset({"text", "exec_driver_sql", "execute", "executemany", "executescript"})

#: (file relative to src/optout, enclosing function, unparsed first argument) -> why.
ALLOWED: dict[tuple[str, str, str], str] = {
    (
        "_db.py",
        "_on_connect",
        "f'PRAGMA busy_timeout={int(SQLITE_BUSY_TIMEOUT_S * 1000)}'",
    ): "PRAGMA takes no bind parameters; the value is int() of a module constant",
}


@dataclasses.dataclass(frozen=True)
class Finding:
    file: str
    line: int
    function: str
    argument: str
    why: str

    @property
    def key(self) -> tuple[str, str, str]:
        return (self.file, self.function, self.argument)


def _called_name(call: ast.Call) -> str | None:
    func = call.func
    if isinstance(func, ast.Attribute):
        return func.attr
    if isinstance(func, ast.Name):
        return func.id
    return None


def _is_literal(node: ast.expr) -> bool:
    if isinstance(node, ast.Constant):
        return isinstance(node.value, str | bytes)
    if isinstance(node, ast.JoinedStr):
        return all(isinstance(v, ast.Constant) for v in node.values)
    if isinstance(node, ast.BinOp) and isinstance(node.op, ast.Add):
        return _is_literal(node.left) and _is_literal(node.right)
    return False


def _formatting(node: ast.expr) -> str | None:
    """Why ``node`` builds a string by formatting, or ``None``."""
    if isinstance(node, ast.JoinedStr) and not _is_literal(node):
        return "f-string"
    if isinstance(node, ast.BinOp) and isinstance(node.op, ast.Mod):
        return "% format"
    if isinstance(node, ast.BinOp) and isinstance(node.op, ast.Add) and not _is_literal(node):
        return "concatenation with a non-literal"
    if (
        isinstance(node, ast.Call)
        and isinstance(node.func, ast.Attribute)
        and node.func.attr in {"format", "format_map", "join", "replace"}
    ):
        return f".{node.func.attr}() call"
    return None


class _Scanner(ast.NodeVisitor):
    def __init__(self, file: str) -> None:
        self.file = file
        self.scopes: list[tuple[str, dict[str, list[ast.expr]]]] = [("<module>", {})]
        self.findings: list[Finding] = []

    def _visit_function(self, node: ast.FunctionDef | ast.AsyncFunctionDef) -> None:
        assigned: dict[str, list[ast.expr]] = {}
        for sub in ast.walk(node):
            if isinstance(sub, ast.Assign):
                for target in sub.targets:
                    if isinstance(target, ast.Name):
                        assigned.setdefault(target.id, []).append(sub.value)
            elif (
                isinstance(sub, ast.AnnAssign | ast.AugAssign)
                and sub.value is not None
                and isinstance(sub.target, ast.Name)
            ):
                value = sub.value
                if isinstance(sub, ast.AugAssign):  # sql += x is a concatenation
                    value = ast.BinOp(left=sub.target, op=sub.op, right=sub.value)
                assigned.setdefault(sub.target.id, []).append(value)
        self.scopes.append((node.name, assigned))
        self.generic_visit(node)
        self.scopes.pop()

    visit_FunctionDef = _visit_function
    visit_AsyncFunctionDef = _visit_function

    def visit_Module(self, node: ast.Module) -> None:
        for stmt in node.body:
            if isinstance(stmt, ast.Assign):
                for target in stmt.targets:
                    if isinstance(target, ast.Name):
                        self.scopes[0][1].setdefault(target.id, []).append(stmt.value)
        self.generic_visit(node)

    def _resolve(self, node: ast.expr) -> list[ast.expr]:
        if not isinstance(node, ast.Name):
            return [node]
        for _, assigned in reversed(self.scopes):
            if node.id in assigned:
                return assigned[node.id]
        return []

    def visit_Call(self, node: ast.Call) -> None:
        if _called_name(node) in SQL_CALLS and node.args:
            first = node.args[0]
            for candidate in self._resolve(first):
                why = _formatting(candidate)
                if why is not None:
                    self.findings.append(
                        Finding(
                            file=self.file,
                            line=node.lineno,
                            function=self.scopes[-1][0],
                            argument=ast.unparse(candidate),
                            why=why,
                        )
                    )
        self.generic_visit(node)


def scan_source(text: str, file: str) -> list[Finding]:
    scanner = _Scanner(file)
    scanner.visit(ast.parse(text, filename=file))
    return scanner.findings


def scan_tree(root: pathlib.Path) -> list[Finding]:
    findings = []
    for path in sorted(root.rglob("*.py")):
        findings += scan_source(path.read_text("utf-8"), path.relative_to(root).as_posix())
    return findings


def test_no_sql_is_built_by_string_formatting() -> None:
    findings = scan_tree(SOURCE)
    assert len(list(SOURCE.rglob("*.py"))) > 20, "the scan did not find the source"
    bad = [f for f in findings if f.key not in ALLOWED]
    assert not bad, "SQL built by string formatting (use bind parameters):\n" + "\n".join(
        f"  {f.file}:{f.line} in {f.function}: {f.why}: {f.argument}" for f in bad
    )
    stale = set(ALLOWED) - {f.key for f in findings}
    assert not stale, f"allow-list entries that match nothing any more: {stale}"


def test_the_scan_catches_formatted_sql() -> None:
    sample = textwrap.dedent(
        """
        import sqlalchemy as sa
        from sqlalchemy import text

        def bad(conn, x, table):
            conn.execute(sa.text(f"SELECT * FROM t WHERE a = {x}"))
            conn.execute(text("SELECT * FROM t WHERE a = %s" % x))
            conn.exec_driver_sql("DELETE FROM {}".format(table))
            conn.execute("SELECT " + x)
            sql = f"UPDATE t SET a = {x}"
            conn.execute(sa.text(sql))
            query = "SELECT 1"
            query += x
            conn.exec_driver_sql(query)

        def good(conn, x):
            conn.execute(sa.text("SELECT * FROM t WHERE a = :x"), {"x": x})
            conn.exec_driver_sql("SELECT " "1")
            conn.execute(sa.select(sa.literal(x)))
        """
    )
    findings = scan_source(sample, "sample.py")
    assert [(f.function, f.why) for f in findings] == [
        ("bad", "f-string"),
        ("bad", "% format"),
        ("bad", ".format() call"),
        ("bad", "concatenation with a non-literal"),
        ("bad", "f-string"),
        ("bad", "concatenation with a non-literal"),
    ]
