# Sourced by the other scripts: make .venv hold this project with the given extras.
# Installs only when pyproject.toml changed since the last install of these extras;
# an install with the test extras also counts for the others (test includes embedded).
set -euo pipefail
extras="${1:-}"
python="${PYTHON:-python3}"
if ! "$python" -c 'import sys; sys.exit(sys.version_info < (3, 11))' 2>/dev/null; then
    echo "liaison-graph needs Python 3.11 or newer; set PYTHON=/path/to/python3.11" >&2
    exit 1
fi
[ -x .venv/bin/python ] || "$python" -m venv .venv
version="$(sha256sum pyproject.toml | cut -c1-16)"
stamp=".venv/.installed-$version${extras:+-$extras}"
if [ ! -e "$stamp" ] && [ ! -e ".venv/.installed-$version-test" ]; then
    .venv/bin/python -m pip install --quiet -e ".${extras:+[$extras]}"
    find .venv -maxdepth 1 -name '.installed-*' ! -name ".installed-$version*" -delete
    touch "$stamp"
fi
