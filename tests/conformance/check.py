#!/usr/bin/env python3
"""Compare a kosoku report (REPORTS/index.json) with one run of tests/conformance/expected.json.

Usage: check.py EXPECTED RUN REPORT_INDEX [--update]

A case passes when its behavior, behaviorClose and remoteCloseCode equal the expected ones.
FAILED is accepted only where expected.json says so AND the server closed with 1009 (a message
beyond the frame-size limit). Any other FAILED, a missing or extra case, or any difference is
an error. --update rewrites that run's cases from the report (review the diff before committing).
"""

import json
import sys

TOO_BIG = 1009
FIELDS = ("behavior", "behaviorClose", "remoteCloseCode")


def load_report(path):
    with open(path) as f:
        index = json.load(f)
    if len(index) != 1:
        sys.exit(f"{path}: expected one agent, found {list(index)}")
    cases = next(iter(index.values()))
    return {case: {k: r.get(k) for k in FIELDS} for case, r in cases.items()}


def dump(expected_all):
    """JSON with one line per case, so a changed case is a one-line diff."""
    out = ["{", f' "kosoku": {json.dumps(expected_all["kosoku"])},', ' "runs": {']
    runs = list(expected_all["runs"].items())
    for i, (name, run) in enumerate(runs):
        out.append(f"  {json.dumps(name)}: {{")
        for key in ("about", "server_args", "include", "exclude"):
            out.append(f"   {json.dumps(key)}: {json.dumps(run[key])},")
        out.append('   "cases": {')
        cases = list(run["cases"].items())
        for j, (case, result) in enumerate(cases):
            comma = "," if j + 1 < len(cases) else ""
            out.append(f"    {json.dumps(case)}: {json.dumps(result)}{comma}")
        out.append("   }")
        out.append("  }" + ("," if i + 1 < len(runs) else ""))
    out += [" }", "}", ""]
    return "\n".join(out)


def case_key(case):
    return tuple(int(p) for p in case.split("."))


def main():
    args = [a for a in sys.argv[1:] if a != "--update"]
    update = "--update" in sys.argv[1:]
    if len(args) != 3:
        sys.exit(__doc__)
    expected_path, run, report_path = args
    with open(expected_path) as f:
        expected_all = json.load(f)
    actual = load_report(report_path)

    if update:
        expected_all["runs"][run]["cases"] = {
            c: actual[c] for c in sorted(actual, key=case_key)
        }
        with open(expected_path, "w") as f:
            f.write(dump(expected_all))
        print(f"{run}: wrote {len(actual)} cases to {expected_path}")
        return

    expected = expected_all["runs"][run]["cases"]
    errors = []
    for case in sorted(set(expected) | set(actual), key=case_key):
        want, got = expected.get(case), actual.get(case)
        if want is None:
            errors.append(f"{case}: ran but is not in the expected results: {got}")
            continue
        if got is None:
            errors.append(f"{case}: expected {want} but the case did not run")
            continue
        if want["behavior"] == "FAILED" and want.get("remoteCloseCode") != TOO_BIG:
            errors.append(f"{case}: expected.json may only accept FAILED for a 1009 close")
        if got["behavior"] == "FAILED" and got.get("remoteCloseCode") != TOO_BIG:
            errors.append(f"{case}: FAILED (close {got.get('remoteCloseCode')})")
        diff = [f"{k} {want.get(k)!r} -> {got.get(k)!r}" for k in FIELDS if want.get(k) != got.get(k)]
        if diff:
            errors.append(f"{case}: " + ", ".join(diff))

    counts = {}
    for r in actual.values():
        label = r["behavior"]
        if label == "FAILED" and r["remoteCloseCode"] == TOO_BIG:
            label = "FAILED (1009, over the frame limit, expected)"
        counts[label] = counts.get(label, 0) + 1
    summary = ", ".join(f"{n} {b}" for b, n in sorted(counts.items()))
    print(f"{run}: {len(actual)} cases: {summary}")
    if errors:
        print(f"{run}: {len(errors)} deviation(s) from {expected_path}:")
        for e in errors:
            print(f"  {e}")
        sys.exit(1)
    print(f"{run}: matches the expected results")


if __name__ == "__main__":
    main()
