#!/usr/bin/env python3
"""The partition planner against exhaustive search, with measured profiles.

For each model: measure its per-layer profile on this machine (the edge), take the
server as 8x faster (server profile = edge profile / 8), and for three link profiles
run `deepedge partition` twice: with the measured profile and with the calibrated fits
(predictions only). Each chosen plan is then costed with the *measured* profile and
compared with the best of every valid plan (all down-sets of the layer DAG, enumerated
here in Python, independently of the C++ planner). Also prints the prediction error of
the whole model, and speed-ups of the planner's cut over all-edge and all-server.

  benchmarks/partition_planner.py --deepedge build/apps/deepedge/deepedge [--runs 10]
"""
import argparse
import json
import os
import subprocess
import sys
import tempfile

LINKS = [("1 Mbit/s, 100 ms", "1Mbit/s", 100.0), ("5 Mbit/s, 50 ms", "5Mbit/s", 50.0),
         ("50 Mbit/s, 5 ms", "50Mbit/s", 5.0)]
MODELS = ["alexnet_caffenet", "mobilenet_v1_1.0_224", "resnet18"]
SPEEDUP = 8.0


def run(cmd):
    r = subprocess.run(cmd, capture_output=True, text=True)
    if r.returncode != 0:
        sys.exit("failed: %s\n%s" % (" ".join(cmd), r.stderr))
    return r.stdout


def cost(plan, on_edge, edge_ms, rate_bps, rtt_ms):
    """Latency of `on_edge` (set of layer indices) with measured times: the same model
    as the planner's, written again here."""
    L = len(edge_ms)
    comp = sum(edge_ms[i] for i in on_edge) + sum(edge_ms[i] / SPEEDUP for i in range(L) if i not in on_edge)
    up = down = 0
    for t in plan["tensors"]:
        from_edge = t["producer"] < 0 or t["producer"] in on_edge
        if from_edge and any(c not in on_edge for c in t["consumers"]):
            up += t["bytes"]
        if t["graph_output"] and not from_edge:
            down += t["bytes"]
    any_server = len(on_edge) < L
    return comp + (up + down) / rate_bps * 1e3 + (rtt_ms if any_server else 0)


def exhaustive(plan, edge_ms, rate_bps, rtt_ms, limit=2_000_000):
    L = len(edge_ms)
    preds = [set() for _ in range(L)]
    for t in plan["tensors"]:
        if t["producer"] >= 0:
            for c in t["consumers"]:
                preds[c].add(t["producer"])
    seen = {frozenset()}
    frontier = [frozenset()]
    best = None
    while frontier:
        nxt = []
        for s in frontier:
            c = cost(plan, s, edge_ms, rate_bps, rtt_ms)
            if best is None or c < best[0]:
                best = (c, s)
            for i in range(L):
                if i not in s and preds[i] <= s:
                    n = s | {i}
                    if n not in seen:
                        seen.add(n)
                        nxt.append(n)
                        if len(seen) > limit:
                            sys.exit("too many valid plans")
        frontier = nxt
    return best[0], best[1], len(seen)


def main():
    ap = argparse.ArgumentParser()
    ap.add_argument("--deepedge", default="build/apps/deepedge/deepedge")
    ap.add_argument("--runs", type=int, default=10)
    ap.add_argument("--device", help="calibration file (default: run deepedge calibrate)")
    ap.add_argument("--models", nargs="*", default=MODELS)
    ap.add_argument("--extra-model", action="append", default=[],
                    help="an ONNX file to add (e.g. the PP-OCRv4 detector)")
    ap.add_argument("-O", "--backend-option", action="append", default=[])
    a = ap.parse_args()
    opts = sum((["-O", o] for o in a.backend_option), [])
    tmp = tempfile.mkdtemp(prefix="deepedge-partition-bench-")
    device = a.device
    if not device:
        device = os.path.join(tmp, "device.json")
        run([a.deepedge, "calibrate", "-o", device, "--runs", str(a.runs)] + opts)
    models = []
    for m in a.models:
        path = os.path.join(tmp, m + ".onnx")
        run([a.deepedge, "zoo", "export", m, "-o", path])
        models.append((m, path))
    for p in a.extra_model:
        models.append((os.path.basename(p), p))

    print("prediction (fits from %s) against measurement, whole model:" % device)
    rows = []
    for name, path in models:
        prof = os.path.join(tmp, name + ".edge.json")
        pj = os.path.join(tmp, name + ".pred.json")
        run([a.deepedge, "predict", path, "--device", device, "--measure", "--runs", str(a.runs),
             "--save-profile", prof, "--json", pj] + opts)
        pred = json.load(open(pj))
        print("  %-22s predicted %9.2f ms  measured %9.2f ms (as run; layer sum %9.2f)  error %+6.1f%%" % (
            name, pred["predicted_total_ms"], pred["measured_total_ms"], pred["measured_layers_sum_ms"],
            pred["rel_error"] * 100))
        for cls, c in sorted(pred["classes"].items()):
            if c["rel_error"] is not None:
                print("      %-10s %3d layers  predicted %8.2f ms  measured %8.2f ms  %+6.1f%%" % (
                    cls, c["layers"], c["predicted_ms"], c["measured_ms"], c["rel_error"] * 100))
        for label, rate, rtt in LINKS:
            plans = {}
            for kind, edge in (("measured", prof), ("predicted", device)):
                out = os.path.join(tmp, "%s.%s.%s.json" % (name, kind, rate.replace("/", "")))
                run([a.deepedge, "partition", path, "--edge", edge, "--server-speedup", str(SPEEDUP),
                     "--uplink", rate, "--downlink", rate, "--rtt", str(rtt), "--json", out])
                plans[kind] = json.load(open(out))
            plan = plans["measured"]
            edge_ms = [l["edge_ms"] for l in plan["layer_table"]]
            names = [l["name"] for l in plan["layer_table"]]
            rate_bps = plan["link"]["uplink_Bps"]
            chosen = {names.index(n) for n in plan["edge_layers"]}
            chosen_pred = {names.index(n) for n in plans["predicted"]["edge_layers"]}
            best, best_set, count = exhaustive(plan, edge_ms, rate_bps, rtt)
            c_meas = cost(plan, chosen, edge_ms, rate_bps, rtt)
            c_pred = cost(plan, chosen_pred, edge_ms, rate_bps, rtt)
            all_edge = cost(plan, set(range(len(names))), edge_ms, rate_bps, rtt)
            all_server = cost(plan, set(), edge_ms, rate_bps, rtt)
            rows.append((name, label, len(chosen), len(names), c_meas, best, count, c_pred,
                         len(chosen_pred), all_edge, all_server))
    print()
    print("| model | link | planner cut (edge layers) | planner ms | exhaustive best ms (plans) | "
          "planner = best | cut from predictions: ms (edge layers), vs best | all-edge ms | all-server ms | "
          "speed-up vs all-edge | vs all-server |")
    print("|---|---|---|---|---|---|---|---|---|---|---|")
    for (name, label, ne, L, c_meas, best, count, c_pred, ne_pred, ae, aserv) in rows:
        print("| %s | %s | %d / %d | %.2f | %.2f (%d) | %s | %.2f (%d), %+.1f%% | %.2f | %.2f | %.2fx | %.2fx |" % (
            name, label, ne, L, c_meas, best, count, "yes" if abs(c_meas - best) <= 1e-6 * max(1, best) else "NO",
            c_pred, ne_pred, (c_pred - best) / best * 100, ae, aserv, ae / c_meas, aserv / c_meas))


if __name__ == "__main__":
    main()
