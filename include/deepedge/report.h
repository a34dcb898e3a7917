// Writers for benchmark records: terminal table, JSON, CSV. They only format; they
// never measure. All return the whole document as a string; callers write it out
// (atomically, with WriteFileAtomic) so that a failure leaves no partial file.
#pragma once

#include <span>
#include <string>

#include "deepedge/record.h"

namespace deepedge {

// A human-readable report: one block per record (phases, latency distribution,
// throughput, CPU, memory, energy, validity, warnings) and, for several records, a
// comparison table with ratios to the first. Every figure carries its unit.
std::string FormatBenchText(std::span<const BenchRecord> records);

// {"schema": "deepedge.bench", "schema_version": 1, "records": [...]}, see
// docs/bench-json.md and docs/schema/bench.schema.json.
std::string FormatBenchJson(std::span<const BenchRecord> records);

// One header row, one row per record; units in the column names.
std::string FormatBenchCsv(std::span<const BenchRecord> records);

}  // namespace deepedge
