#!/usr/bin/env bash
# The one test command (README): lint, then the whole test suite.
#
#   bash scripts/test.sh [pytest args...]      e.g. bash scripts/test.sh -q tests/store
#
# Works on a fresh machine with only python3 (>= 3.11): creates .venv when missing and
# (re)installs the project with its test extras only when pyproject.toml changed since
# the last install (a hash stamp in .venv), so repeated runs start fast.
# Exit code: pytest's; a lint failure alone gives 1; "no tests collected" (pytest 5) is
# turned into a failure with a message, so a wrong path or filter cannot pass silently.
set -euo pipefail

cd "$(dirname "${BASH_SOURCE[0]}")/.."

PYTHON="${PYTHON:-python3}"
VENV=.venv
STAMP="$VENV/.charterbot-install-stamp"

if [ ! -x "$VENV/bin/python" ]; then
    echo "test.sh: creating $VENV with $("$PYTHON" --version 2>&1)"
    if ! "$PYTHON" -m venv "$VENV"; then
        echo "test.sh: '$PYTHON -m venv' failed; on Debian/Ubuntu install python3-venv" >&2
        exit 1
    fi
fi

wanted="$("$VENV/bin/python" -c 'import hashlib, sys; print(hashlib.sha256(open("pyproject.toml", "rb").read()).hexdigest())')"
if [ ! -f "$STAMP" ] || [ "$(cat "$STAMP")" != "$wanted" ]; then
    echo "test.sh: installing charterbot[test] into $VENV (pyproject.toml changed or first run)"
    # Build-backend warnings are noise here; the full log is shown only if pip fails.
    if ! "$VENV/bin/python" -m pip install --quiet --disable-pip-version-check -e '.[test]' \
        >"$VENV/pip-install.log" 2>&1; then
        cat "$VENV/pip-install.log" >&2
        echo "test.sh: pip install failed (log: $VENV/pip-install.log)" >&2
        exit 1
    fi
    echo "$wanted" > "$STAMP"
fi

# Tell up front whether the PostgreSQL leg runs (details in tests/fakes/postgres.py).
"$VENV/bin/python" - <<'PY'
from tests.fakes.postgres import find_pg_bindir

bindir = find_pg_bindir()
if bindir is None:
    print("test.sh: PostgreSQL leg SKIPPED: no server binaries found (install Debian's postgresql)")
else:
    print(f"test.sh: PostgreSQL leg runs with the server binaries in {bindir}")
PY

# The Matrix tests run a real Synapse from its own venv (.venv-synapse; its pins conflict
# with ours). Install it here, before pytest, so a missing PyPI shows up as a clear setup
# failure; the tests would fail (not skip) without it. Instant once its stamp is there.
echo "test.sh: ensuring matrix-synapse in .venv-synapse for the Matrix tests (first run: ~1 min)"
if ! "$VENV/bin/python" -c 'from tests.fakes.synapse import ensure_synapse; ensure_synapse()'; then
    echo "test.sh: FAILED: could not install matrix-synapse into .venv-synapse (pip log above;" \
        "details in tests/fakes/synapse.py)" >&2
    exit 1
fi

lint_status=0
echo "test.sh: ruff check ."
"$VENV/bin/ruff" check . || lint_status=$?

# The whole suite (no paths, -m or -k given): the reliability suite (marker `reliability`)
# runs in a second pytest process alongside the rest. Most of its time is waiting (a
# minute of platform faults, processes killed and restarted), so the two together take
# about the time of the longer one, which keeps a fresh CI machine within its 20 minutes.
# Its output (and its table of figures) is printed once it is done.
split=1
for arg in "$@"; do
    case "$arg" in
        -m|-k|-m*|-k*|--*marker*|--keyword*) split=0 ;;
        -*) ;;
        *) split=0 ;;  # a path or an option's value: run exactly what was asked
    esac
done

test_status=0
if [ "$split" -eq 1 ]; then
    reliability_log="$(mktemp)"
    "$VENV/bin/python" -m pytest "$@" -p no:cacheprovider -m reliability \
        >"$reliability_log" 2>&1 &
    reliability_pid=$!
    echo "test.sh: the reliability suite runs alongside (pid $reliability_pid); its output follows the rest"
    "$VENV/bin/python" -m pytest "$@" -m "not reliability" || test_status=$?
    reliability_status=0
    wait "$reliability_pid" || reliability_status=$?
    echo "test.sh: the reliability suite (pytest -m reliability), exit code $reliability_status:"
    cat "$reliability_log"
    rm -f "$reliability_log"
    if [ "$test_status" -eq 0 ]; then
        test_status=$reliability_status
    fi
else
    "$VENV/bin/python" -m pytest "$@" || test_status=$?
fi

if [ "$test_status" -eq 5 ]; then
    echo "test.sh: FAILED: pytest collected no tests (check the paths/filters: $*)" >&2
    exit 5
fi
if [ "$lint_status" -ne 0 ]; then
    echo "test.sh: FAILED: ruff found problems (see above)" >&2
    [ "$test_status" -ne 0 ] && exit "$test_status"
    exit 1
fi
exit "$test_status"
