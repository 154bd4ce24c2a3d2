#!/usr/bin/env bash
# Builds the fuzz targets once (release, no sanitizer: stable toolchain) and runs each for
# SECONDS (default 60). New inputs go to target/fuzz-corpus/<target>; the checked-in seeds in
# fuzz/corpus/<target> are read, never written. Exits non-zero on the first crash.
#
#   fuzz/run.sh [SECONDS] [TARGET...]
set -euo pipefail
here="$(cd "$(dirname "$0")" && pwd)"
seconds="${1:-60}"
shift || true
cd "$here"
targets=("$@")
if [[ ${#targets[@]} -eq 0 ]]; then
    mapfile -t targets < <(cargo fuzz list)
fi

cargo fuzz build -s none -O
for target in "${targets[@]}"; do
    work="$here/../target/fuzz-corpus/$target"
    mkdir -p "$work"
    echo "fuzz: $target for ${seconds}s"
    log="$work.log"
    status=0
    cargo fuzz run -s none -O "$target" "$work" "corpus/$target" -- \
        -max_total_time="$seconds" -print_final_stats=1 >"$log" 2>&1 || status=$?
    grep -E "^(Done|stat::number_of_executed_units|stat::new_units_added)|panicked|SUMMARY|ERROR" "$log" || true
    if [[ $status -ne 0 ]]; then
        tail -n 40 "$log" >&2
        echo "fuzz: $target failed (exit $status); the input is in fuzz/artifacts/$target/" >&2
        exit "$status"
    fi
done
echo "fuzz: ${#targets[@]} targets ran ${seconds}s each without a crash"
