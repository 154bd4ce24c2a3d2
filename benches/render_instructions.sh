#!/usr/bin/env bash
# Instructions per drawn frame of the message pane with 100 and with 100 000 messages in
# scrollback, counted by callgrind (repeatable, unlike wall time on a busy 2-core machine).
# Runs the criterion bench binary of benches/client.rs under valgrind, collecting only inside
# client::ui::render, and divides by the number of calls. Needs valgrind and python3.
# Usage: benches/render_instructions.sh [seconds per size, default 3]
set -euo pipefail
cd "$(dirname "$0")/.."
secs="${1:-3}"
bin=$(cargo bench --bench client --no-run --message-format=json 2>/dev/null |
    python3 -c 'import json,sys
for l in sys.stdin:
    m=json.loads(l)
    if m.get("reason")=="compiler-artifact" and m["target"]["name"]=="client" and m.get("executable"):
        print(m["executable"])')
out=$(mktemp -d)
trap 'rm -rf "$out"' EXIT
for n in 100 100000; do
    valgrind --tool=callgrind --callgrind-out-file="$out/cg.$n" \
        --toggle-collect='clicom::client::ui::render' \
        "$bin" --bench --profile-time "$secs" "render/message_pane/$n\$" >"$out/log.$n" 2>&1
done
python3 - "$out" <<'PY'
import re, sys
target = "clicom::client::ui::render"
def per_frame(path):
    names, calls, pending, total = {}, 0, None, 0
    for line in open(path, errors="replace"):
        line = line.rstrip("\n")
        m = re.match(r"^(c?fn)=\((\d+)\)(?: (.*))?$", line)
        if m:
            kind, i, name = m.groups()
            if name:
                names[i] = name
            pending = names.get(i) if kind == "cfn" else None
            continue
        if line.startswith("calls=") and pending is not None:
            if pending == target:
                calls += int(line.split("=")[1].split()[0])
            pending = None
        elif line.startswith("summary:"):
            total = int(line.split()[1])
    return total, calls
small, big = (per_frame(f"{sys.argv[1]}/cg.{n}") for n in (100, 100000))
for n, (total, calls) in ((100, small), (100000, big)):
    print(f"{n:>6} messages: {total // calls:>10,} instructions per frame ({calls} frames)")
print(f"ratio 100000/100: {(big[0] / big[1]) / (small[0] / small[1]):.4f}")
PY
