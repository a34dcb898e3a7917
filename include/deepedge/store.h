// The results store: every run's RunRecord kept in one embedded SQLite file, and the
// `deepedge.results` JSON form that moves records between devices
// (docs/results-json.md).
//
// Durability: each Insert is one transaction in WAL mode with synchronous=FULL, so a
// process killed at any point leaves the store consistent and keeps every record whose
// Insert returned. The schema is versioned (PRAGMA user_version) and migrated forward
// on Open; a store written by a newer DeepEdge, or a file that is not a sound store, is
// refused and never modified.
#pragma once

#include <cstdint>
#include <filesystem>
#include <memory>
#include <span>
#include <string>
#include <string_view>
#include <vector>

#include "deepedge/run_record.h"
#include "deepedge/status.h"

namespace deepedge {

// Version of the store's SQL schema (PRAGMA user_version) this build reads and writes.
inline constexpr int kStoreSchemaVersion = 1;

// $XDG_DATA_HOME/deepedge/results.db, else ~/.local/share/deepedge/results.db, else
// (no HOME) ./deepedge-results.db.
std::filesystem::path DefaultStorePath();

// Which runs to return; an empty field matches every run. Fields match exactly.
struct RunFilter {
  std::string kind;
  std::string device;  // DeviceRecord::name
  std::string backend;
  std::string model;      // RunModel::name
  std::string precision;  // RunModel::precision
  bool Matches(const RunRecord& r) const;
};

// How much of each record List() reads: kSummary leaves latency_samples_ms and layers
// empty (what `results list` and `compare` need, without megabytes of samples).
enum class ListDetail { kFull, kSummary };

// One open store file.
// Thread-safety: one ResultsStore must not be used from two threads at once. Several
// objects, in this or other processes, may open the same file together: SQLite's
// locking serialises writers, and a writer waits up to 5 s for another to finish.
// Lifetime: the object owns the database connection and closes it when destroyed.
// Movable, not copyable; a moved-from store may only be destroyed or assigned to.
class ResultsStore {
 public:
  // Opens the store at `path`, creating the file and its directories when absent and
  // migrating an older schema forward in one transaction. Errors name the file:
  //  - kCorrupt: not an SQLite file, a failing `PRAGMA quick_check`, or an SQLite
  //    database that is not a DeepEdge store;
  //  - kUnsupported: a schema version newer than kStoreSchemaVersion;
  //  - kIo: the file or directory cannot be created or opened.
  // On every error the file is left exactly as it was.
  static Expected<ResultsStore> Open(const std::filesystem::path& path);

  ResultsStore(ResultsStore&&) noexcept;
  ResultsStore& operator=(ResultsStore&&) noexcept;
  ~ResultsStore();

  // Writes the whole record (record.id is ignored) in one transaction and returns the
  // new id. Non-finite numbers (NaN, inf) are refused (kInvalidArgument): neither JSON
  // nor a faithful round trip can carry them.
  Expected<std::int64_t> Insert(const RunRecord& record);
  // Writes every record in ONE transaction (all or none); returns the new ids in order.
  Expected<std::vector<std::int64_t>> InsertAll(std::span<const RunRecord> records);

  // The matching records ordered by id.
  Expected<std::vector<RunRecord>> List(const RunFilter& filter,
                                        ListDetail detail = ListDetail::kFull) const;
  // The record `id`; kNotFound naming the id and the file when there is none.
  Expected<RunRecord> Get(std::int64_t id) const;

  const std::filesystem::path& path() const;

 private:
  struct Impl;
  explicit ResultsStore(std::unique_ptr<Impl> impl);
  std::unique_ptr<Impl> impl_;
};

// {"schema": "deepedge.results", "schema_version": kRunRecordVersion, "records": [...]},
// indented, doubles written with enough digits to read back exactly.
std::string FormatResultsJson(std::span<const RunRecord> records);

// Parses FormatResultsJson's output. Refused, with the reason and `source_name` (the
// file, for messages) in the error: text that is not JSON (kCorrupt); another schema
// or a schema_version other than kRunRecordVersion (kUnsupported); a missing required
// field or one of the wrong type (kCorrupt, naming the field and the record index,
// "record 2: missing field 'model.precision'"). Unknown fields are ignored.
Expected<std::vector<RunRecord>> ParseResultsJson(std::string_view text,
                                                  std::string_view source_name);

}  // namespace deepedge
