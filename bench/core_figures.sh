#!/usr/bin/env bash
# The maintainability figures of issue 19's closing note, for the checkout in $1 (default: this
# one), with this checkout's .venv: mypy's errors with default flags and with --strict (both
# with Strawberry's and pydantic's plugins and ignore_missing_imports, as CI has them), the
# `type: ignore` comments and how many are unused, the modules, and the longest functions.
# Run it on two checkouts (git worktree add --detach DIR COMMIT) to compare them.
set -uo pipefail
here="$(cd "$(dirname "$0")/.." && pwd)"
tree="$(cd "${1:-$here}" && pwd)"
mypy="$here/.venv/bin/mypy"
config="$(mktemp)"
trap 'rm -f "$config"' EXIT
printf '[mypy]\nplugins = strawberry.ext.mypy_plugin, pydantic.mypy\nignore_missing_imports = True\npython_version = 3.11\n' >"$config"
cd "$tree"
packages="api schema resolvers db"
echo "tree: $tree ($(git log --format=%h -1))"
echo "mypy, default flags: $("$mypy" --config-file "$config" --no-incremental $packages 2>&1 | tail -1)"
echo "mypy, --strict: $("$mypy" --config-file "$config" --strict --no-incremental $packages 2>&1 | tail -1)"
echo "type: ignore comments: $(grep -rn 'type: *ignore' --include=*.py $packages | wc -l)"
echo "unused ignores: $("$mypy" --config-file "$config" --warn-unused-ignores --check-untyped-defs --no-incremental $packages 2>&1 | grep -c 'unused-ignore')"
echo "modules: $(find $packages -name '*.py' | wc -l)"
"$here/.venv/bin/python" - $packages <<'PY'
import ast
import pathlib
import sys

found = []
for package in sys.argv[1:]:
    for path in pathlib.Path(package).rglob("*.py"):
        for node in ast.walk(ast.parse(path.read_text())):
            if isinstance(node, ast.FunctionDef | ast.AsyncFunctionDef):
                found.append((node.end_lineno - node.lineno + 1, f"{path}:{node.name}"))
print("longest functions:", ", ".join(f"{n} lines {where}" for n, where in sorted(found, reverse=True)[:3]))
PY
