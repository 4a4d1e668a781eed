#!/usr/bin/env python3
"""Fallback threshold sweep on the dev set.

Runs the native binary (`quarry understand --jsonl`) over the inputs of a
labelled set, marks each answer right or wrong against its label (intent,
and the tool calls compared as `quarry eval` compares them: name plus
normalised key arguments, as a multiset), and prints, for each candidate
threshold, the share of queries the edge would escalate (confidence below
the threshold; denials never escalate) and the share of wrong answers that
escalation would catch. The recommended default is the threshold with the
largest Youden's J: (share of wrong answers escalated) - (share of right
answers escalated), i.e. the best separation of wrong from right answers.

usage: threshold.py QUARRY_BIN MODEL_GGUF DEV_JSONL [OUTPUTS_JSONL]
  OUTPUTS_JSONL caches the native outputs: read if it exists, else written.
"""
import json
import os
import subprocess
import sys

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


def main():
    binary, model, dev = sys.argv[1], sys.argv[2], sys.argv[3]
    rows = [json.loads(l) for l in open(dev) if l.strip()]
    cache = sys.argv[4] if len(sys.argv) > 4 else None
    if cache and os.path.exists(cache):
        out = open(cache).read().splitlines()
    else:
        stdin = "".join(json.dumps(r["input"]) + "\n" for r in rows)
        out = subprocess.run([binary, "understand", "--jsonl", "--model", model], input=stdin,
                             capture_output=True, text=True, check=True).stdout.splitlines()
        if cache:
            open(cache, "w").write("\n".join(out) + "\n")
    assert len(out) == len(rows), (len(out), len(rows))
    items = []
    intent_wrong = 0
    for row, line in zip(rows, out):
        pred = json.loads(line)
        if "error" in pred:
            raise SystemExit(f"{row['id']}: {pred['error']}")
        items.append((pred["confidence"], pred["denied"], wrong(pred, row["expected"])))
        intent_wrong += pred["intent"] != row["expected"]["intent"]
    n = len(items)
    n_wrong = sum(w for _, _, w in items)
    table = []
    n_right = n - n_wrong
    for t in [0.0, 0.1, 0.15, 0.2, 0.25, 0.3, 0.35, 0.4, 0.45, 0.5, 0.6, 0.7, 0.8, 0.9, 1.0]:
        esc = [(c, d, w) for c, d, w in items if not d and c < t]
        caught = sum(w for _, _, w in esc)
        table.append({"threshold": t, "escalated": len(esc), "escalated_share": len(esc) / n,
                      "wrong_caught": caught, "wrong_caught_share": caught / n_wrong if n_wrong else 0.0,
                      "wrong_left_at_edge": n_wrong - caught,
                      "escalated_precision": caught / len(esc) if esc else 0.0,
                      "right_escalated": len(esc) - caught,
                      "youden_j": (caught / n_wrong if n_wrong else 0.0)
                      - ((len(esc) - caught) / n_right if n_right else 0.0)})
    best = max(table, key=lambda r: (round(r["youden_j"], 6), -r["threshold"]))
    print(f"{n} queries, {n_wrong} answered wrong by the edge model ({n_wrong / n:.1%}); "
          f"denials never escalate; {intent_wrong} with the wrong intent")
    print()
    print("| threshold | escalated | wrong answers caught | right answers escalated | wrong left at edge |")
    print("| ---: | ---: | ---: | ---: | ---: |")
    for r in table:
        mark = " **(default)**" if r is best else ""
        print(f"| {r['threshold']:.2f}{mark} | {r['escalated']} ({r['escalated_share']:.1%}) | "
              f"{r['wrong_caught']}/{n_wrong} ({r['wrong_caught_share']:.1%}) | "
              f"{r['right_escalated']}/{n_right} | {r['wrong_left_at_edge']} |")
    print()
    print(f"recommended QUARRY_FALLBACK_THRESHOLD = {best['threshold']:.2f} "
          f"(largest share of wrong answers caught minus share of right answers escalated)")
    confs = sorted(c for c, d, _ in items if not d)
    print(f"confidence of non-denied answers: min {confs[0]:.3f}, median {confs[len(confs)//2]:.3f}, max {confs[-1]:.3f}")


if __name__ == "__main__":
    main()
