#!/usr/bin/env bash
# Autobahn WebSocket conformance: drives `clicom serve --conformance-echo` (path /echo, the same
# stack and limits as /ws) with kosoku, once per run in expected.json, and compares every case
# with the checked-in expected results. Exits non-zero on any FAILED case (other than the
# expected 1009 closes beyond the frame limit) or any deviation.
#
#   tests/conformance/run.sh            build the debug binary, run, compare
#   tests/conformance/run.sh --update   rewrite expected.json from this run (review the diff!)
#
# Environment: CLICOM_BIN (use this binary instead of building), REPORTS (report directory,
# default target/conformance).
set -euo pipefail
here="$(cd "$(dirname "$0")" && pwd)"
root="$(cd "$here/../.." && pwd)"
cd "$root"

update=""
if [[ "${1:-}" == "--update" ]]; then update="--update"; fi

pin="$(sed -n 's/^kosoku==//p' "$here/requirements.txt")"
have="$(python3 -c 'import importlib.metadata as m; print(m.version("kosoku"))' 2>/dev/null || true)"
if [[ "$have" != "$pin" ]]; then
    echo "conformance: kosoku $pin is needed (found: ${have:-none}); run: pip install -r tests/conformance/requirements.txt" >&2
    exit 2
fi

if [[ -z "${CLICOM_BIN:-}" ]]; then
    cargo build --quiet --bin clicom
    CLICOM_BIN="$root/target/debug/clicom"
fi
reports="${REPORTS:-$root/target/conformance}"
rm -rf "$reports"
mkdir -p "$reports"

server_pid=""
stop_server() {
    if [[ -n "$server_pid" ]]; then
        kill "$server_pid" 2>/dev/null || true
        wait "$server_pid" 2>/dev/null || true
        server_pid=""
    fi
}
trap stop_server EXIT

# Prints one field of a run in expected.json, one word per line.
run_field() {
    python3 - "$here/expected.json" "$1" "$2" <<'PY'
import json, sys
run = json.load(open(sys.argv[1]))["runs"][sys.argv[2]]
for word in run[sys.argv[3]]:
    print(word)
PY
}

status=0
for run in $(python3 -c 'import json,sys; print(" ".join(json.load(open(sys.argv[1]))["runs"]))' "$here/expected.json"); do
    mapfile -t server_args < <(run_field "$run" server_args)
    selection=()
    while read -r c; do selection+=(-i "$c"); done < <(run_field "$run" include)
    while read -r c; do selection+=(-x "$c"); done < <(run_field "$run" exclude)

    out="$reports/$run.server.out"
    : >"$out" # exists before the server (started in the background) opens it
    RUST_LOG=warn "$CLICOM_BIN" serve --bind 127.0.0.1 --port 0 --db :memory: \
        --conformance-echo "${server_args[@]}" >"$out" 2>"$reports/$run.server.err" &
    server_pid=$!
    addr=""
    for _ in $(seq 1 300); do # up to 30 s
        addr="$(sed -n 's#^Clicom server listening on ws://\(.*\)/ws$#\1#p' "$out")"
        [[ -n "$addr" ]] && break
        kill -0 "$server_pid" 2>/dev/null || break
        sleep 0.1
    done
    if [[ -z "$addr" ]]; then
        echo "conformance: the server did not start:" >&2
        cat "$reports/$run.server.err" >&2
        exit 1
    fi

    echo "conformance: run '$run' against ws://$addr/echo (server args: ${server_args[*]:-none})"
    # kosoku exits non-zero when any case FAILED; check.py decides which of those are expected.
    timeout 600 kosoku -o "$reports/$run" "${selection[@]}" "ws://$addr/echo" \
        >"$reports/$run.kosoku.log" 2>&1 || true
    if ! kill -0 "$server_pid" 2>/dev/null; then
        echo "conformance: the server died during run '$run':" >&2
        cat "$reports/$run.server.err" >&2
        exit 1
    fi
    stop_server
    if [[ ! -f "$reports/$run/index.json" ]]; then
        echo "conformance: kosoku wrote no report:" >&2
        cat "$reports/$run.kosoku.log" >&2
        exit 1
    fi
    python3 "$here/check.py" "$here/expected.json" "$run" "$reports/$run/index.json" $update || status=1
done
echo "conformance: reports in $reports"
exit $status
