#!/usr/bin/python3
"""int8 against fp32 in DeepEdge's engine, side by side in one run.

Exports zoo MobileNet v1 and v2 (fp32, synthetic weights), quantizes each with
`deepedge quantize --calibration-random 8` (QDQ: per-channel int8 weights, per-tensor
activations), then runs the fp32 and the int8 model in their own processes, interleaved
over several rounds at each thread count, and prints the median latency and peak
resident memory of both with the ratios int8 / fp32, and the median and range of
the latency ratio paired within each round. Targets (issue 4): latency at most 0.6x
(judged on the paired median) and peak memory at most 0.5x of the fp32 model's.

  benchmarks/int8_vs_fp32.py [--rounds R] [--queries Q] [--models a,b] [--threads 1,2]

Needs build/apps/deepedge/deepedge (scripts/setup.sh); /usr/bin/time measures peak RSS.
"""
import os
import statistics
import subprocess
import sys
import tempfile

from engine_vs_peers import DEEPEDGE, parse_run_args, run_deepedge, write_npy


def main():
    args = parse_run_args(__doc__, "int8_vs_fp32", 60, "mobilenet_v1_1.0_224,mobilenet_v2_1.0_224")
    threads = [int(t) for t in args.threads.split(",")]
    results = {}
    with tempfile.TemporaryDirectory() as tmp:
        image = os.path.join(tmp, "image.npy")
        write_npy(image, (1, 3, 224, 224), 42)
        models = {}
        for name in args.models.split(","):
            fp32 = os.path.join(tmp, name + ".onnx")
            int8 = os.path.join(tmp, name + "_int8.onnx")
            subprocess.run([DEEPEDGE, "zoo", "export", name, "-o", fp32], check=True,
                           capture_output=True)
            subprocess.run([DEEPEDGE, "quantize", fp32, "-o", int8, "--calibration-random", "8"],
                           check=True, capture_output=True)
            models[name] = {"fp32": fp32, "int8": int8}
        # Interleaved: both precisions once per round, so drift hits them alike.
        for r in range(args.rounds):
            for name, paths in models.items():
                for t in threads:
                    for precision, path in paths.items():
                        m = run_deepedge("deepedge", path, t, args.queries, image, tmp)
                        results.setdefault((name, t, precision), []).append(m)
            print("round %d/%d done" % (r + 1, args.rounds), file=sys.stderr)

    print("\nmedian over %d rounds of the per-round median latency (%d queries each); "
          "zoo models, synthetic weights, int8 from deepedge quantize" % (args.rounds, args.queries))
    print("%-22s %3s %-9s %10s %9s %10s %10s" %
          ("model", "thr", "precision", "latency", "peak RSS", "lat/fp32", "mem/fp32"))
    verdicts = []
    for name in models:
        for t in threads:
            rows = {}
            for precision in ("fp32", "int8"):
                ms = results[(name, t, precision)]
                rows[precision] = (statistics.median(x[0] for x in ms),
                                   statistics.median(x[2] for x in ms))
            for precision in ("fp32", "int8"):
                lat, rss = rows[precision]
                print("%-22s %3d %-9s %7.2f ms %5.1f MiB %9.2fx %9.2fx" %
                      (name, t, precision, lat, rss, lat / rows["fp32"][0], rss / rows["fp32"][1]))
            # The two runs of a round are minutes closer than the medians' runs may be:
            # the latency target is judged on the median of the per-round ratios.
            ratios = sorted(i[0] / f[0] for i, f in zip(results[(name, t, "int8")],
                                                      results[(name, t, "fp32")]))
            lat_ratio = statistics.median(ratios)
            print("%-22s %3d paired int8/fp32 latency: median %.2fx [%.2f-%.2f]" %
                  (name, t, lat_ratio, ratios[0], ratios[-1]))
            mem_ratio = rows["int8"][1] / rows["fp32"][1]
            verdicts.append(("%s %dT int8 latency <= 0.6x fp32 (paired %.2fx)" % (name, t, lat_ratio),
                             lat_ratio <= 0.6))
            verdicts.append(("%s %dT int8 peak memory <= 0.5x fp32 (%.2fx)" % (name, t, mem_ratio),
                             mem_ratio <= 0.5))
    print("\ntargets:")
    for what, ok in verdicts:
        print("  %-60s %s" % (what, "met" if ok else "NOT met"))


if __name__ == "__main__":
    main()
