#!/usr/bin/python3
"""DeepEdge's engine against ONNX Runtime and OpenCV DNN, side by side in one run.

For zoo MobileNet v1, MobileNet v2 and ResNet-18 (fp32, synthetic weights), at 1 and 2
threads, runs each framework in its own process, interleaved over several rounds, and
prints the median latency, session-creation time and peak resident memory with the
ratios to ONNX Runtime, and the median (and range) of the latency ratio within each round,
which a host whose speed drifts between rounds disturbs less. Targets (issue 3): latency
<= 1.0x ONNX Runtime's (judged on the paired median), >= 2x faster than OpenCV DNN, peak
memory <= ONNX Runtime's.

  benchmarks/engine_vs_peers.py [--rounds R] [--queries Q] [--models a,b] [--threads 1,2]

Needs build/apps/deepedge/deepedge (scripts/setup.sh), and tools/ort with
onnxruntime-node installed (scripts/fetch_fixtures.sh); /usr/bin/time measures peak RSS.
"""
import argparse
import json
import os
import statistics
import struct
import subprocess
import sys
import tempfile

ROOT = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))
DEEPEDGE = os.path.join(ROOT, "build", "apps", "deepedge", "deepedge")
RUN_ORT = os.path.join(ROOT, "tools", "ort", "run_ort.js")


def write_npy(path, shape, seed):
    # Deterministic pseudo-random f32 values in [-1, 1) (an LCG: no numpy needed).
    n = 1
    for d in shape:
        n *= d
    x = seed & 0xFFFFFFFF
    values = []
    for _ in range(n):
        x = (1103515245 * x + 12345) & 0x7FFFFFFF
        values.append(x / 0x40000000 - 1.0)
    header = "{'descr': '<f4', 'fortran_order': False, 'shape': (%s), }" % ", ".join(map(str, shape))
    header += " " * ((64 - (10 + len(header) + 1) % 64) % 64) + "\n"
    with open(path, "wb") as f:
        f.write(b"\x93NUMPY\x01\x00" + struct.pack("<H", len(header)) + header.encode())
        f.write(struct.pack("<%df" % n, *values))


def timed(cmd):
    """Runs cmd under /usr/bin/time; returns (stdout, peak RSS in MiB)."""
    with tempfile.NamedTemporaryFile("r", suffix=".time") as t:
        p = subprocess.run(["/usr/bin/time", "-f", "%M", "-o", t.name] + cmd,
                           capture_output=True, text=True)
        if p.returncode != 0:
            raise RuntimeError("%s failed: %s" % (" ".join(cmd[:3]), p.stderr.strip().splitlines()[-1:]))
        return p.stdout, int(open(t.name).read().split()[-1]) / 1024.0


def run_deepedge(backend, model, threads, queries, image, tmp):
    out = os.path.join(tmp, "bench.json")
    cmd = [DEEPEDGE, "bench", model, "-b", backend, "-t", str(threads), "--min-queries", str(queries),
           "--min-duration", "0", "--warmup-queries", "5", "--warmup-duration", "0",
           "--input", "input=" + image, "--json", out]
    _, rss = timed(cmd)
    rec = json.load(open(out))["records"][0]
    return rec["latency_ms"]["p50"], rec["phases"]["load_ms"], rss


def run_ort(model, threads, queries, image, tmp):
    cmd = ["node", RUN_ORT, "--bench", str(queries), "--threads", str(threads), model,
           os.path.join(tmp, "ort-out"), "input=" + image]
    stdout, rss = timed(cmd)
    rep = json.loads(stdout.strip().splitlines()[-1])
    return rep["median_ms"], rep["session_create_ms"], rss


def parse_run_args(doc, name, queries, models):
    """The options every side-by-side benchmark takes; exits when the binary is missing."""
    ap = argparse.ArgumentParser(description=doc.splitlines()[0])
    ap.add_argument("--rounds", type=int, default=3)
    ap.add_argument("--queries", type=int, default=queries)
    ap.add_argument("--models", default=models)
    ap.add_argument("--threads", default="1,2")
    args = ap.parse_args()
    if not os.path.exists(DEEPEDGE):
        sys.exit("%s: %s not found: run scripts/setup.sh" % (name, DEEPEDGE))
    return args


def main():
    args = parse_run_args(__doc__, "engine_vs_peers", 50,
                          "mobilenet_v1_1.0_224,mobilenet_v2_1.0_224,resnet18")
    have_ort = os.path.isdir(os.path.join(ROOT, "tools", "ort", "node_modules", "onnxruntime-node"))
    if not have_ort:
        print("engine_vs_peers: onnxruntime-node is not installed (scripts/fetch_fixtures.sh); "
              "comparing with OpenCV only")
    frameworks = ["deepedge", "opencv"] + (["onnxruntime"] if have_ort else [])
    threads = [int(t) for t in args.threads.split(",")]
    results = {}
    with tempfile.TemporaryDirectory() as tmp:
        image = os.path.join(tmp, "image.npy")
        write_npy(image, (1, 3, 224, 224), 42)
        models = {}
        for name in args.models.split(","):
            path = os.path.join(tmp, name + ".onnx")
            subprocess.run([DEEPEDGE, "zoo", "export", name, "-o", path], check=True, capture_output=True)
            models[name] = path
        # Interleaved: every framework once per round, so drift hits all alike; the order
        # rotates each round, so no framework always runs right after another one.
        for r in range(args.rounds):
            order = frameworks[r % len(frameworks):] + frameworks[:r % len(frameworks)]
            for name, path in models.items():
                for t in threads:
                    for fw in order:
                        if fw == "onnxruntime":
                            m = run_ort(path, t, args.queries, image, tmp)
                        else:
                            m = run_deepedge(fw, path, t, args.queries, image, tmp)
                        results.setdefault((name, t, fw), []).append(m)
            print("round %d/%d done" % (r + 1, args.rounds), file=sys.stderr)

    print("\nmedian over %d rounds of the per-round median latency (%d queries each); "
          "zoo models, synthetic weights" % (args.rounds, args.queries))
    print("%-22s %3s %-12s %10s %11s %9s %9s %9s %9s  %s" %
          ("model", "thr", "framework", "latency", "session", "peak RSS", "lat/ORT", "mem/ORT",
           "vs OpenCV", "paired lat/ORT: median [range]"))
    verdicts = []
    for name in models:
        for t in threads:
            rows = {}
            for fw in frameworks:
                ms = results[(name, t, fw)]
                rows[fw] = tuple(statistics.median(x[i] for x in ms) for i in range(3))
            ort = rows.get("onnxruntime")
            paired_de = None
            for fw in frameworks:
                lat, sess, rss = rows[fw]
                lr = "%.2fx" % (lat / ort[0]) if ort else "n/a"
                mr = "%.2fx" % (rss / ort[2]) if ort else "n/a"
                cv = "%.2fx" % (rows["opencv"][0] / lat)
                # The same round's two runs are minutes closer than the medians' runs may
                # be: the ratio within a round is less exposed to the host's drift.
                paired = ""
                if ort and fw != "onnxruntime":
                    ratios = [x[0] / o[0] for x, o in
                              zip(results[(name, t, fw)], results[(name, t, "onnxruntime")])]
                    med = statistics.median(ratios)
                    paired = "%.2fx [%.2f-%.2f]" % (med, min(ratios), max(ratios))
                    if fw == "deepedge":
                        paired_de = med
                print("%-22s %3d %-12s %7.2f ms %8.1f ms %5.0f MiB %9s %9s %9s  %s" %
                      (name, t, fw, lat, sess, rss, lr, mr, cv, paired))
            de = rows["deepedge"]
            if ort:
                verdicts.append(("%s %dT latency <= 1.0x ONNX Runtime (paired median)" % (name, t),
                                 paired_de <= 1.0))
                verdicts.append(("%s %dT peak memory <= ONNX Runtime" % (name, t), de[2] <= ort[2]))
            verdicts.append(("%s %dT >= 2x faster than OpenCV" % (name, t), rows["opencv"][0] >= 2 * de[0]))
    print("\ntargets:")
    for what, ok in verdicts:
        print("  %-55s %s" % (what, "met" if ok else "NOT met"))


if __name__ == "__main__":
    main()
