#!/usr/bin/env bash
# Run irctest against Waggle through the Waggle irctest controller
# (waggle.py next to this script): irctest starts a fresh waggle
# for every test, on 127.0.0.1 and a free port, with a temp database, and
# registers accounts with `waggle user add`.
#
#   run.sh [PYTEST_NODE_ID_OR_PATH ...]
#
# With no arguments it runs the modules that need a controller (accounts,
# server password, history) and that the external-server subset leaves out;
# the modules about messages between two IRC users (echo_message,
# labeled_responses, message_tags) and readq (Waggle answers an over-long line
# with 417 instead of disconnecting) do not apply to a gateway.
# Paths are relative to the irctest checkout, e.g.
#   run.sh irctest/server_tests/sasl.py
#   run.sh 'irctest/server_tests/cap.py::CapTestCase::testReqOne'
#
# Environment:
#   IRCTEST_SRC      git repository (bare or not) of github.com/progval/irctest (required)
#   WAGGLE_BIN       the waggle binary to test (required)
#   IRCTEST_REF      irctest commit (default: b00c039766f5c497920dd787f7cb0e0005bd5ce0,
#                    the commit the reference results were taken at)
#   IRCTEST_LIST     file of pytest node ids, one per line (# comments), used
#                    instead of / in addition to the arguments
#   IRCTEST_TIMEOUT  per-test timeout in seconds (default 60)
#   IRCTEST_OUT      directory for report.xml, pytest.log, results.tsv
#                    (default: a temp dir, removed afterwards)
#   IRCTEST_K        a pytest -k expression (optional)
#   IRCTEST_DESELECT file of node ids (or id prefixes) to leave out, one per
#                    line with # comments (default: not-applicable.txt here)
#   WAGGLE_FLOOD_BURST / _RATE / _MAX_QUEUE  override waggle's [flood] config
#
# Last line of output:  irctest: N passed, M failed, K skipped, X xfailed, Y xpassed
# Exit status: 0 when nothing failed, 1 when a test failed, 2 when it could not run.
set -u -o pipefail

HERE=$(cd "$(dirname "$0")" && pwd)
IRCTEST_SRC=${IRCTEST_SRC:?set IRCTEST_SRC to a git repository of github.com/progval/irctest}
WAGGLE_BIN=${WAGGLE_BIN:?set WAGGLE_BIN to the waggle binary}
IRCTEST_REF=${IRCTEST_REF:-b00c039766f5c497920dd787f7cb0e0005bd5ce0}
IRCTEST_TIMEOUT=${IRCTEST_TIMEOUT:-60}
PY=${PYTHON:-python3}

case "$WAGGLE_BIN" in /*) ;; *) WAGGLE_BIN=$(cd "$(dirname "$WAGGLE_BIN")" && pwd)/$(basename "$WAGGLE_BIN") ;; esac
if [ ! -x "$WAGGLE_BIN" ]; then
    echo "WAGGLE_BIN=$WAGGLE_BIN is not an executable" >&2
    exit 2
fi
export WAGGLE_BIN

WORK=$(mktemp -d -t waggle-irctest.XXXXXX)
cleanup() { rm -rf "$WORK"; }
trap cleanup EXIT
OUT=${IRCTEST_OUT:-$WORK/out}
mkdir -p "$OUT"
OUT=$(cd "$OUT" && pwd)

# 1. irctest: a throw-away clone with the controller dropped in.
if ! git clone -q "$IRCTEST_SRC" "$WORK/irctest" 2>"$WORK/clone.err"; then
    echo "cannot clone irctest from $IRCTEST_SRC:" >&2
    cat "$WORK/clone.err" >&2
    exit 2
fi
if ! git -C "$WORK/irctest" checkout -q "$IRCTEST_REF" 2>/dev/null; then
    echo "warning: $IRCTEST_REF not found in $IRCTEST_SRC, using its HEAD" >&2
fi
cp "$HERE/waggle.py" "$WORK/irctest/irctest/controllers/waggle.py"
echo "irctest commit: $(git -C "$WORK/irctest" rev-parse HEAD)"
echo "waggle: $("$WAGGLE_BIN" --version 2>&1)"

# 2. Python dependencies (irctest's requirements.txt + pytest-timeout).
if ! "$PY" -c 'import pytest, pytest_timeout, ecdsa, filelock, websockets' 2>/dev/null; then
    echo "installing irctest requirements with pip..." >&2
    "$PY" -m pip install -q -r "$WORK/irctest/requirements.txt" pytest-timeout >&2 || {
        echo "pip install failed" >&2
        exit 2
    }
fi

# 3. What to run.
IDS=("$@")
if [ -n "${IRCTEST_LIST:-}" ]; then
    mapfile -t -O "${#IDS[@]}" IDS < <(grep -v '^[[:space:]]*\(#\|$\)' "$IRCTEST_LIST")
fi
if [ ${#IDS[@]} -eq 0 ]; then
    IDS=(
        irctest/server_tests/sasl.py
        irctest/server_tests/account_registration.py
        irctest/server_tests/connection_registration.py
        irctest/server_tests/chathistory.py
        irctest/server_tests/read_marker.py
    )
fi
KARGS=()
if [ -n "${IRCTEST_K:-}" ]; then KARGS=(-k "$IRCTEST_K"); fi
DESELECT=${IRCTEST_DESELECT:-$HERE/not-applicable.txt}
if [ -f "$DESELECT" ]; then
    while IFS= read -r id; do
        KARGS+=(--deselect "$id")
    done < <(grep -v '^[[:space:]]*\(#\|$\)' "$DESELECT")
fi

echo "running ${#IDS[@]} test selection(s) with the waggle controller"
(
    cd "$WORK/irctest" &&
    env -u IRCTEST_SERVER_HOSTNAME -u IRCTEST_SERVER_PORT \
        "$PY" -m pytest --controller irctest.controllers.waggle \
        -p no:cacheprovider --timeout="$IRCTEST_TIMEOUT" -q -rfEsxX \
        --junitxml="$OUT/report.xml" "${KARGS[@]}" "${IDS[@]}"
) >"$OUT/pytest.log" 2>&1
RC=$?

if [ ! -s "$OUT/report.xml" ]; then
    tail -50 "$OUT/pytest.log"
    echo "pytest produced no report (exit $RC)" >&2
    exit 2
fi
if [ -n "${IRCTEST_OUT:-}" ]; then
    echo "(report.xml, pytest.log and results.tsv are kept in $OUT)"
fi

# 4. Per-test table (results.tsv: node id, outcome, message) and summary.
echo "pytest: $(grep -E '(passed|failed|skipped|deselected).* in [0-9.]+s' "$OUT/pytest.log" | tail -1 | tr -d '=' | sed 's/^ *//')"
"$PY" - "$OUT/report.xml" "$OUT/results.tsv" "$OUT/pytest.log" <<'EOF'
import re, sys, xml.etree.ElementTree as ET
report, tsv, log = sys.argv[1:4]
# junit records a (non-strict) XPASS as a plain pass; -rX lists them in the log.
xpassed = set()
for line in open(log, errors="replace"):
    m = re.match(r"XPASS (\S.*?::.*?)(?: - .*)?$", line.rstrip("\n"))
    if m:
        xpassed.add(m.group(1))
counts = {}
rows = []
for tc in ET.parse(report).iter("testcase"):
    cls, name = tc.get("classname"), tc.get("name")
    mod, klass = cls.rsplit(".", 1)
    nid = f"{mod.replace('.', '/')}.py::{klass}::{name}"
    outcome, why = "passed", ""
    for child in tc:
        if child.tag in ("failure", "error"):
            outcome, why = "failed", child.get("message") or ""
        elif child.tag == "skipped":
            t = child.get("type") or ""
            msg = child.get("message") or ""
            outcome = "xfailed" if t == "pytest.xfail" or msg.startswith("xfail") else "skipped"
            why = msg
    if outcome == "passed" and nid in xpassed:
        outcome = "xpassed"
    rows.append((nid, outcome, why.replace("\n", " ").replace("\t", " ")[:200]))
    counts[outcome] = counts.get(outcome, 0) + 1
with open(tsv, "w") as out:
    for nid, outcome, why in rows:
        out.write(f"{nid}\t{outcome}\t{why}\n")
        short = nid.replace("irctest/server_tests/", "")
        print(f"{outcome.upper():8} {short}" + (f"  -- {why}" if why and outcome != "passed" else ""))
order = ["passed", "failed", "skipped", "xfailed", "xpassed"]
print("irctest: " + ", ".join(f"{counts.get(k, 0)} {k}" for k in order))
sys.exit(1 if counts.get("failed", 0) else 0)
EOF
