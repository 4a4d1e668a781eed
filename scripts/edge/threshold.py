#!/usr/bin/env python3
"""Fallback threshold sweep: edge alone, origin alone, edge + escalation.

Runs the native binary (`quarry understand --jsonl`) with the edge model,
and with the origin model when one is given, over the inputs of a labelled
set, and marks each answer right or wrong against its label (intent, denial,
and the tool calls compared as `quarry eval` compares them: name plus
normalised key arguments, as a multiset). For each candidate threshold it
prints the share of queries the edge escalates (confidence below the
threshold; denials never escalate), the wrong answers that escalation
catches, and, with an origin, the accuracy of edge + escalation (an
escalated query gets the origin's answer).

Recommended default: with an origin, the lowest threshold that gets 90% of
the best accuracy gain over the edge alone (most of the gain for the least
escalation); without one, the threshold with the largest Youden's J (share
of wrong answers escalated minus share of right answers escalated).

usage: threshold.py QUARRY_BIN EDGE_GGUF DATA_JSONL [--origin ORIGIN_GGUF] [--cache DIR]
  --cache DIR keeps each model's outputs (read if present, else written).
"""
import argparse
import json
import os
import subprocess
import sys
import time

KEYS = {
    "title_tool": ["title"], "company_tool": ["company"], "location_tool": ["location"],
    "seniority_tool": ["level"], "industry_tool": ["industry"],
    "workplace_type_tool": ["type"], "employment_type_tool": ["type"],
    "easy_apply_tool": [], "job_in_network_tool": [], "date_posted_tool": ["within"],
    "num_applicants_tool": ["max"], "salary_tool": ["min_annual", "currency"],
}


def normalize(text):
    """src/text.rs normalize: collapse whitespace, strip non-alphanumerics at the ends, lower-case."""
    s = " ".join(text.split())
    i, j = 0, len(s)
    while i < j and not s[i].isalnum():
        i += 1
    while j > i and not s[j - 1].isalnum():
        j -= 1
    return s[i:j].lower()


def signature(call):
    args = []
    for key in KEYS.get(call["name"], []):
        v = call.get("arguments", {}).get(key)
        args.append(normalize(v) if isinstance(v, str) else ("" if v is None else json.dumps(v)))
    return (call["name"], tuple(args))


def wrong(pred, exp):
    if pred["intent"] != exp["intent"] or bool(pred["denied"]) != bool(exp.get("denied", False)):
        return True
    return sorted(map(signature, pred["tools"])) != sorted(map(signature, exp.get("tools", [])))


def outputs(binary, model, rows, cache):
    """The native answers of `model` for each row's input, and the mean
    milliseconds per query of that run (one process, queries one after
    another, model load included), cached by file name."""
    path = None
    if cache:
        os.makedirs(cache, exist_ok=True)
        path = os.path.join(cache, f"{os.path.basename(model)}.{len(rows)}.jsonl")
    if path and os.path.exists(path) and os.path.exists(path + ".ms"):
        out = open(path).read().splitlines()
        mean_ms = float(open(path + ".ms").read())
    else:
        stdin = "".join(json.dumps(r["input"]) + "\n" for r in rows)
        start = time.perf_counter()
        out = subprocess.run([binary, "understand", "--jsonl", "--model", model], input=stdin,
                             capture_output=True, text=True, check=True).stdout.splitlines()
        mean_ms = (time.perf_counter() - start) * 1000 / max(1, len(rows))
        if path:
            open(path, "w").write("\n".join(out) + "\n")
            open(path + ".ms", "w").write(f"{mean_ms:.3f}\n")
    assert len(out) == len(rows), (len(out), len(rows))
    preds = [json.loads(line) for line in out]
    for row, pred in zip(rows, preds):
        if "error" in pred:
            raise SystemExit(f"{row['id']}: {pred['error']}")
    return preds, mean_ms


def main():
    ap = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    ap.add_argument("binary")
    ap.add_argument("edge")
    ap.add_argument("data")
    ap.add_argument("--origin", help="the origin model escalated queries go to")
    ap.add_argument("--cache", help="directory caching each model's outputs")
    args = ap.parse_args()
    rows = [json.loads(l) for l in open(args.data) if l.strip()]
    edge, edge_ms = outputs(args.binary, args.edge, rows, args.cache)
    origin, origin_ms = (outputs(args.binary, args.origin, rows, args.cache) if args.origin
                         else (None, 0.0))
    items = []  # (confidence, denied, edge wrong, origin wrong)
    for i, (row, pred) in enumerate(zip(rows, edge)):
        items.append((pred["confidence"], pred["denied"], wrong(pred, row["expected"]),
                      wrong(origin[i], row["expected"]) if origin else None))
    n = len(items)
    n_wrong = sum(w for _, _, w, _ in items)
    n_right = n - n_wrong
    table = []
    for t in [0.0, 0.1, 0.2, 0.3, 0.4, 0.5, 0.6, 0.7, 0.75, 0.8, 0.85, 0.9, 0.95, 1.0]:
        esc = [x for x in items if not x[1] and x[0] < t]
        caught = sum(x[2] for x in esc)
        row = {"threshold": t, "escalated": len(esc), "wrong_caught": caught,
               "right_escalated": len(esc) - caught,
               "youden_j": (caught / n_wrong if n_wrong else 0.0)
               - ((len(esc) - caught) / n_right if n_right else 0.0)}
        if origin:
            right = sum(not (w_origin if (not d and c < t) else w_edge)
                        for c, d, w_edge, w_origin in items)
            row["accuracy"] = right / n
            row["added_ms"] = len(esc) / n * origin_ms
        table.append(row)
    edge_acc = n_right / n
    if origin:
        origin_acc = sum(not x[3] for x in items) / n
        top = max(r["accuracy"] for r in table)
        gain = top - edge_acc
        best = next(r for r in table if r["accuracy"] - edge_acc >= 0.9 * gain - 1e-9)
        why = "lowest threshold with 90% of the best accuracy gain over the edge alone"
    else:
        best = max(table, key=lambda r: (round(r["youden_j"], 6), -r["threshold"]))
        why = "largest share of wrong answers caught minus share of right answers escalated"
    print(f"{os.path.basename(args.data)}: {n} queries; edge {os.path.basename(args.edge)} "
          f"right on {n_right} ({edge_acc:.1%})"
          + (f"; origin {os.path.basename(args.origin)} alone right on "
             f"{sum(not x[3] for x in items)} ({origin_acc:.1%})" if origin else "")
          + "; denials never escalate")
    print()
    print("| threshold | escalated | wrong answers caught | right answers escalated |"
          + (" edge + escalation right | added latency, mean per query |" if origin else ""))
    print("| ---: | ---: | ---: | ---: |" + (" ---: | ---: |" if origin else ""))
    for r in table:
        mark = " **(recommended)**" if r is best else ""
        print(f"| {r['threshold']:.2f}{mark} | {r['escalated']} ({r['escalated'] / n:.1%}) | "
              f"{r['wrong_caught']}/{n_wrong} ({r['wrong_caught'] / max(1, n_wrong):.1%}) | "
              f"{r['right_escalated']}/{n_right} |"
              + (f" {r['accuracy']:.1%} | {r['added_ms']:.1f} ms |" if origin else ""))
    print()
    if origin:
        print(f"native compute per query: edge {edge_ms:.1f} ms, origin {origin_ms:.1f} ms "
              "(mean over this set, one process, load included); an escalated query adds the "
              "origin's compute plus one round-trip to the origin, which the column leaves out")
    print(f"recommended QUARRY_FALLBACK_THRESHOLD = {best['threshold']:.2f} ({why})")
    confs = sorted(c for c, d, _, _ in items if not d)
    print(f"confidence of the edge's non-denied answers: min {confs[0]:.3f}, "
          f"median {confs[len(confs) // 2]:.3f}, max {confs[-1]:.3f}")


if __name__ == "__main__":
    main()
