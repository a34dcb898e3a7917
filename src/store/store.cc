// The results store on SQLite: schema, migrations, inserts and reads.
#include "deepedge/store.h"

#include <sqlite3.h>

#include <bit>
#include <cmath>
#include <cstdlib>
#include <cstring>
#include <fstream>
#include <utility>

namespace deepedge {
namespace {

// "DEEG": marks a database as a DeepEdge store, so that another program's SQLite file
// is refused instead of having our tables added to it.
constexpr std::int32_t kApplicationId = 0x44454547;

// Migration N takes the schema from version N-1 to N. Append only; never edit a
// released step (stores in the field have already run it).
constexpr const char* kMigrations[] = {
    // 1: the first schema.
    R"sql(
CREATE TABLE runs (
  id INTEGER PRIMARY KEY AUTOINCREMENT,
  kind TEXT NOT NULL,
  tool_version TEXT NOT NULL,
  timestamp_utc TEXT NOT NULL,
  device_name TEXT NOT NULL,
  device_cpu_model TEXT NOT NULL,
  device_cores INTEGER NOT NULL,
  device_memory_bytes INTEGER NOT NULL,
  device_os TEXT NOT NULL,
  device_kernel TEXT NOT NULL,
  backend TEXT NOT NULL,
  backend_version TEXT NOT NULL,
  model_name TEXT NOT NULL,
  model_sha256 TEXT NOT NULL,
  model_format TEXT NOT NULL,
  model_precision TEXT NOT NULL,
  model_synthetic_weights INTEGER NOT NULL,
  model_parameters INTEGER,
  model_macs INTEGER,
  latency_samples_ms BLOB NOT NULL,
  details_json TEXT NOT NULL
);
CREATE INDEX runs_device ON runs(device_name);
CREATE INDEX runs_model ON runs(model_name);
CREATE TABLE config (
  run_id INTEGER NOT NULL REFERENCES runs(id) ON DELETE CASCADE,
  key TEXT NOT NULL,
  value TEXT NOT NULL,
  PRIMARY KEY (run_id, key)
);
CREATE TABLE metrics (
  run_id INTEGER NOT NULL REFERENCES runs(id) ON DELETE CASCADE,
  position INTEGER NOT NULL,
  name TEXT NOT NULL,
  value REAL NOT NULL,
  unit TEXT NOT NULL,
  estimated INTEGER NOT NULL,
  ci_low REAL,
  ci_high REAL,
  PRIMARY KEY (run_id, position)
);
CREATE TABLE layers (
  run_id INTEGER NOT NULL REFERENCES runs(id) ON DELETE CASCADE,
  position INTEGER NOT NULL,
  name TEXT NOT NULL,
  type TEXT NOT NULL,
  time_ms REAL NOT NULL,
  output_bytes INTEGER NOT NULL,
  macs INTEGER NOT NULL,
  PRIMARY KEY (run_id, position)
);
CREATE TABLE warnings (
  run_id INTEGER NOT NULL REFERENCES runs(id) ON DELETE CASCADE,
  position INTEGER NOT NULL,
  text TEXT NOT NULL,
  PRIMARY KEY (run_id, position)
);
)sql",
};
constexpr int kMigrationCount = static_cast<int>(std::size(kMigrations));
static_assert(kMigrationCount == kStoreSchemaVersion, "one migration per schema version");

// A prepared statement, finalized with the object.
class Stmt {
 public:
  Stmt() = default;
  Stmt(const Stmt&) = delete;
  Stmt& operator=(const Stmt&) = delete;
  ~Stmt() { sqlite3_finalize(s_); }
  sqlite3_stmt** out() { return &s_; }
  sqlite3_stmt* get() const { return s_; }

 private:
  sqlite3_stmt* s_ = nullptr;
};

// Latency samples as little-endian IEEE-754 doubles, whatever the host's byte order,
// so that a store file copied between machines reads the same.
std::string EncodeDoubles(const std::vector<double>& v) {
  std::string out(v.size() * 8, '\0');
  for (std::size_t i = 0; i < v.size(); ++i) {
    const auto bits = std::bit_cast<std::uint64_t>(v[i]);
    for (int b = 0; b < 8; ++b) out[i * 8 + b] = static_cast<char>((bits >> (8 * b)) & 0xff);
  }
  return out;
}

std::vector<double> DecodeDoubles(const unsigned char* p, std::size_t bytes) {
  std::vector<double> v(bytes / 8);
  for (std::size_t i = 0; i < v.size(); ++i) {
    std::uint64_t bits = 0;
    for (int b = 0; b < 8; ++b) bits |= static_cast<std::uint64_t>(p[i * 8 + b]) << (8 * b);
    v[i] = std::bit_cast<double>(bits);
  }
  return v;
}

std::string ColumnText(sqlite3_stmt* s, int col) {
  const unsigned char* t = sqlite3_column_text(s, col);
  return t ? std::string(reinterpret_cast<const char*>(t),
                         static_cast<std::size_t>(sqlite3_column_bytes(s, col)))
           : std::string();
}

std::optional<double> ColumnOptDouble(sqlite3_stmt* s, int col) {
  if (sqlite3_column_type(s, col) == SQLITE_NULL) return std::nullopt;
  return sqlite3_column_double(s, col);
}

std::optional<std::int64_t> ColumnOptInt(sqlite3_stmt* s, int col) {
  if (sqlite3_column_type(s, col) == SQLITE_NULL) return std::nullopt;
  return sqlite3_column_int64(s, col);
}

Status CheckFinite(double v, const std::string& what) {
  if (!std::isfinite(v)) return InvalidArgument(what + " is not a finite number");
  return Status::Ok();
}

Status ValidateRecord(const RunRecord& r) {
  for (const RunMetric& m : r.metrics) {
    DEEPEDGE_RETURN_IF_ERROR(CheckFinite(m.value, "metric '" + m.name + "'"));
    if (m.ci_low) DEEPEDGE_RETURN_IF_ERROR(CheckFinite(*m.ci_low, "ci_low of '" + m.name + "'"));
    if (m.ci_high) {
      DEEPEDGE_RETURN_IF_ERROR(CheckFinite(*m.ci_high, "ci_high of '" + m.name + "'"));
    }
  }
  for (std::size_t i = 0; i < r.latency_samples_ms.size(); ++i) {
    DEEPEDGE_RETURN_IF_ERROR(
        CheckFinite(r.latency_samples_ms[i], "latency sample " + std::to_string(i)));
  }
  for (const RunLayer& l : r.layers) {
    DEEPEDGE_RETURN_IF_ERROR(CheckFinite(l.time_ms, "time of layer '" + l.name + "'"));
  }
  return Status::Ok();
}

// True when the file exists, is not empty and does not start with SQLite's header.
// An empty file is a valid empty database to SQLite (e.g. made by mktemp).
Expected<bool> HasForeignHeader(const std::filesystem::path& path) {
  std::ifstream in(path, std::ios::binary);
  if (!in) return IoError("cannot read results store " + path.string());
  char header[16] = {};
  in.read(header, sizeof header);
  const std::streamsize n = in.gcount();
  if (n == 0) return false;
  return n < 16 || std::memcmp(header, "SQLite format 3\0", 16) != 0;
}

}  // namespace

bool RunFilter::Matches(const RunRecord& r) const {
  return (kind.empty() || r.kind == kind) && (device.empty() || r.device.name == device) &&
         (backend.empty() || r.backend == backend) && (model.empty() || r.model.name == model) &&
         (precision.empty() || r.model.precision == precision);
}

std::filesystem::path DefaultStorePath() {
  if (const char* xdg = std::getenv("XDG_DATA_HOME"); xdg && *xdg) {
    return std::filesystem::path(xdg) / "deepedge" / "results.db";
  }
  if (const char* home = std::getenv("HOME"); home && *home) {
    return std::filesystem::path(home) / ".local" / "share" / "deepedge" / "results.db";
  }
  return "deepedge-results.db";
}

struct ResultsStore::Impl {
  std::filesystem::path path;
  sqlite3* db = nullptr;

  ~Impl() { sqlite3_close_v2(db); }

  Status Error(const std::string& what) const {
    return IoError("results store " + path.string() + ": " + what + ": " + sqlite3_errmsg(db));
  }

  Status Exec(const char* sql) const {
    char* err = nullptr;
    if (sqlite3_exec(db, sql, nullptr, nullptr, &err) != SQLITE_OK) {
      std::string msg = err ? err : sqlite3_errmsg(db);
      sqlite3_free(err);
      return IoError("results store " + path.string() + ": " + msg);
    }
    return Status::Ok();
  }

  Status Prepare(const char* sql, Stmt& st) const {
    if (sqlite3_prepare_v2(db, sql, -1, st.out(), nullptr) != SQLITE_OK) {
      return Error("cannot prepare statement");
    }
    return Status::Ok();
  }

  // The single integer a PRAGMA or query returns.
  Expected<std::int64_t> QueryInt(const char* sql) const {
    Stmt st;
    DEEPEDGE_RETURN_IF_ERROR(Prepare(sql, st));
    if (sqlite3_step(st.get()) != SQLITE_ROW) return Error(std::string("cannot run ") + sql);
    return sqlite3_column_int64(st.get(), 0);
  }

  Status Migrate();
  Expected<std::int64_t> InsertOne(const RunRecord& r);
  Status ReadChildren(RunRecord& r, ListDetail detail) const;
  // Runs matching `filter` (and `id` when given), ordered by id.
  Expected<std::vector<RunRecord>> ReadRuns(const RunFilter& filter, std::optional<std::int64_t> id,
                                            ListDetail detail) const;
};

Status ResultsStore::Impl::Migrate() {
  // IMMEDIATE: take the write lock first, then re-read the version, so that two
  // processes opening a new store at once do not both run the same migration.
  DEEPEDGE_RETURN_IF_ERROR(Exec("BEGIN IMMEDIATE"));
  auto fail = [this](Status s) {
    (void)Exec("ROLLBACK");
    return s;
  };
  Expected<std::int64_t> version = QueryInt("PRAGMA user_version");
  if (!version) return fail(version.status());
  for (int v = static_cast<int>(*version) + 1; v <= kMigrationCount; ++v) {
    if (Status s = Exec(kMigrations[v - 1]); !s.ok()) {
      return fail(s.WithContext("migration to schema version " + std::to_string(v)));
    }
  }
  if (*version < kMigrationCount) {
    const std::string set = "PRAGMA application_id = " + std::to_string(kApplicationId) +
                            "; PRAGMA user_version = " + std::to_string(kMigrationCount);
    if (Status s = Exec(set.c_str()); !s.ok()) return fail(s);
  }
  if (Status s = Exec("COMMIT"); !s.ok()) return fail(s);
  return Status::Ok();
}

ResultsStore::ResultsStore(std::unique_ptr<Impl> impl) : impl_(std::move(impl)) {}
ResultsStore::ResultsStore(ResultsStore&&) noexcept = default;
ResultsStore& ResultsStore::operator=(ResultsStore&&) noexcept = default;
ResultsStore::~ResultsStore() = default;

const std::filesystem::path& ResultsStore::path() const {
  return impl_->path;
}

Expected<ResultsStore> ResultsStore::Open(const std::filesystem::path& path) {
  const std::string name = path.string();
  std::error_code ec;
  const bool exists = std::filesystem::exists(path, ec);
  if (exists) {
    if (!std::filesystem::is_regular_file(path, ec)) {
      return IoError("results store " + name + " is not a regular file");
    }
    Expected<bool> foreign = HasForeignHeader(path);
    if (!foreign) return foreign.status();
    if (*foreign) {
      return Corrupt("results store " + name +
                     " is not an SQLite database (left untouched; move it away or pass "
                     "--store with another path)");
    }
  } else if (path.has_parent_path()) {
    std::filesystem::create_directories(path.parent_path(), ec);
    if (ec) {
      return IoError("cannot create the directory of results store " + name + ": " + ec.message());
    }
  }

  auto impl = std::make_unique<Impl>();
  impl->path = path;
  const int flags = SQLITE_OPEN_READWRITE | (exists ? 0 : SQLITE_OPEN_CREATE);
  if (sqlite3_open_v2(name.c_str(), &impl->db, flags, nullptr) != SQLITE_OK) {
    return IoError("cannot open results store " + name + ": " +
                   (impl->db ? sqlite3_errmsg(impl->db) : "out of memory"));
  }
  sqlite3_extended_result_codes(impl->db, 1);
  sqlite3_busy_timeout(impl->db, 5000);

  // Checks first, read-only: nothing below writes until the file is known to be a
  // sound store of a version this build understands.
  {
    Stmt st;
    if (sqlite3_prepare_v2(impl->db, "PRAGMA quick_check", -1, st.out(), nullptr) != SQLITE_OK) {
      return Corrupt("results store " + name + " is not a readable SQLite database (" +
                     sqlite3_errmsg(impl->db) + "); left untouched");
    }
    std::string problems;
    int rc;
    while ((rc = sqlite3_step(st.get())) == SQLITE_ROW) {
      const std::string line = ColumnText(st.get(), 0);
      if (line != "ok") problems += (problems.empty() ? "" : "; ") + line;
    }
    if (rc != SQLITE_DONE)
      problems += (problems.empty() ? "" : "; ") + std::string(sqlite3_errmsg(impl->db));
    if (!problems.empty()) {
      if (problems.size() > 300) problems = problems.substr(0, 300) + "...";
      return Corrupt("results store " + name + " is corrupt (quick_check: " + problems +
                     "); left untouched");
    }
  }
  Expected<std::int64_t> version = impl->QueryInt("PRAGMA user_version");
  if (!version) return version.status();
  Expected<std::int64_t> app_id = impl->QueryInt("PRAGMA application_id");
  if (!app_id) return app_id.status();
  if (*version > kStoreSchemaVersion) {
    return Unsupported("results store " + name + " has schema version " + std::to_string(*version) +
                       ", newer than this deepedge reads (" + std::to_string(kStoreSchemaVersion) +
                       "); left untouched: use a newer deepedge or another --store");
  }
  if (*version > 0 && *app_id != kApplicationId) {
    return Corrupt("results store " + name +
                   " is an SQLite database of another application; left untouched");
  }
  if (*version == 0) {
    Expected<std::int64_t> tables = impl->QueryInt("SELECT count(*) FROM sqlite_master");
    if (!tables) return tables.status();
    if (*tables > 0) {
      return Corrupt("results store " + name +
                     " is an SQLite database but not a DeepEdge results store (it has tables "
                     "and no schema version); left untouched");
    }
  }

  // WAL: a reader never blocks the writer, and a commit is one append to the log.
  // synchronous=FULL syncs the log at every commit, so a stored run survives a power
  // loss, not only a killed process.
  {
    Stmt st;
    DEEPEDGE_RETURN_IF_ERROR(impl->Prepare("PRAGMA journal_mode=WAL", st));
    if (sqlite3_step(st.get()) != SQLITE_ROW || ColumnText(st.get(), 0) != "wal") {
      return impl->Error("cannot switch to WAL mode");
    }
  }
  DEEPEDGE_RETURN_IF_ERROR(impl->Exec("PRAGMA synchronous=FULL; PRAGMA foreign_keys=ON"));
  DEEPEDGE_RETURN_IF_ERROR(impl->Migrate());
  return ResultsStore(std::move(impl));
}

Expected<std::int64_t> ResultsStore::Impl::InsertOne(const RunRecord& r) {
  DEEPEDGE_RETURN_IF_ERROR(ValidateRecord(r));
  Stmt run;
  DEEPEDGE_RETURN_IF_ERROR(Prepare(
      "INSERT INTO runs (kind, tool_version, timestamp_utc, device_name, device_cpu_model, "
      "device_cores, device_memory_bytes, device_os, device_kernel, backend, backend_version, "
      "model_name, model_sha256, model_format, model_precision, model_synthetic_weights, "
      "model_parameters, model_macs, latency_samples_ms, details_json) "
      "VALUES (?1, ?2, ?3, ?4, ?5, ?6, ?7, ?8, ?9, ?10, ?11, ?12, ?13, ?14, ?15, ?16, ?17, ?18, "
      "?19, ?20)",
      run));
  sqlite3_stmt* s = run.get();
  auto text = [s](int i, const std::string& v) {
    sqlite3_bind_text(s, i, v.data(), static_cast<int>(v.size()), SQLITE_TRANSIENT);
  };
  text(1, r.kind);
  text(2, r.tool_version);
  text(3, r.timestamp_utc);
  text(4, r.device.name);
  text(5, r.device.cpu_model);
  sqlite3_bind_int64(s, 6, r.device.cores);
  sqlite3_bind_int64(s, 7, r.device.memory_bytes);
  text(8, r.device.os);
  text(9, r.device.kernel);
  text(10, r.backend);
  text(11, r.backend_version);
  text(12, r.model.name);
  text(13, r.model.sha256);
  text(14, r.model.format);
  text(15, r.model.precision);
  sqlite3_bind_int(s, 16, r.model.synthetic_weights ? 1 : 0);
  if (r.model.parameters) sqlite3_bind_int64(s, 17, *r.model.parameters);
  if (r.model.macs) sqlite3_bind_int64(s, 18, *r.model.macs);
  const std::string blob = EncodeDoubles(r.latency_samples_ms);
  sqlite3_bind_blob(s, 19, blob.data(), static_cast<int>(blob.size()), SQLITE_TRANSIENT);
  text(20, r.details_json);
  if (sqlite3_step(s) != SQLITE_DONE) return Error("cannot insert run");
  const std::int64_t id = sqlite3_last_insert_rowid(db);

  Stmt cfg, met, lay, warn;
  DEEPEDGE_RETURN_IF_ERROR(
      Prepare("INSERT INTO config (run_id, key, value) VALUES (?1, ?2, ?3)", cfg));
  DEEPEDGE_RETURN_IF_ERROR(
      Prepare("INSERT INTO metrics (run_id, position, name, value, unit, estimated, ci_low, "
              "ci_high) VALUES (?1, ?2, ?3, ?4, ?5, ?6, ?7, ?8)",
              met));
  DEEPEDGE_RETURN_IF_ERROR(
      Prepare("INSERT INTO layers (run_id, position, name, type, time_ms, output_bytes, macs) "
              "VALUES (?1, ?2, ?3, ?4, ?5, ?6, ?7)",
              lay));
  DEEPEDGE_RETURN_IF_ERROR(
      Prepare("INSERT INTO warnings (run_id, position, text) VALUES (?1, ?2, ?3)", warn));
  auto step = [this](Stmt& st, const char* what) -> Status {
    const int rc = sqlite3_step(st.get());
    sqlite3_reset(st.get());
    sqlite3_clear_bindings(st.get());
    if (rc != SQLITE_DONE) return Error(std::string("cannot insert ") + what);
    return Status::Ok();
  };
  auto bind_text = [](Stmt& st, int i, const std::string& v) {
    sqlite3_bind_text(st.get(), i, v.data(), static_cast<int>(v.size()), SQLITE_TRANSIENT);
  };
  for (const auto& [key, value] : r.config) {
    sqlite3_bind_int64(cfg.get(), 1, id);
    bind_text(cfg, 2, key);
    bind_text(cfg, 3, value);
    DEEPEDGE_RETURN_IF_ERROR(step(cfg, "config"));
  }
  for (std::size_t i = 0; i < r.metrics.size(); ++i) {
    const RunMetric& m = r.metrics[i];
    sqlite3_bind_int64(met.get(), 1, id);
    sqlite3_bind_int64(met.get(), 2, static_cast<std::int64_t>(i));
    bind_text(met, 3, m.name);
    sqlite3_bind_double(met.get(), 4, m.value);
    bind_text(met, 5, m.unit);
    sqlite3_bind_int(met.get(), 6, m.estimated ? 1 : 0);
    if (m.ci_low) sqlite3_bind_double(met.get(), 7, *m.ci_low);
    if (m.ci_high) sqlite3_bind_double(met.get(), 8, *m.ci_high);
    DEEPEDGE_RETURN_IF_ERROR(step(met, "metric"));
  }
  for (std::size_t i = 0; i < r.layers.size(); ++i) {
    const RunLayer& l = r.layers[i];
    sqlite3_bind_int64(lay.get(), 1, id);
    sqlite3_bind_int64(lay.get(), 2, static_cast<std::int64_t>(i));
    bind_text(lay, 3, l.name);
    bind_text(lay, 4, l.type);
    sqlite3_bind_double(lay.get(), 5, l.time_ms);
    sqlite3_bind_int64(lay.get(), 6, l.output_bytes);
    sqlite3_bind_int64(lay.get(), 7, l.macs);
    DEEPEDGE_RETURN_IF_ERROR(step(lay, "layer"));
  }
  for (std::size_t i = 0; i < r.warnings.size(); ++i) {
    sqlite3_bind_int64(warn.get(), 1, id);
    sqlite3_bind_int64(warn.get(), 2, static_cast<std::int64_t>(i));
    bind_text(warn, 3, r.warnings[i]);
    DEEPEDGE_RETURN_IF_ERROR(step(warn, "warning"));
  }
  return id;
}

Expected<std::vector<std::int64_t>> ResultsStore::InsertAll(std::span<const RunRecord> records) {
  DEEPEDGE_RETURN_IF_ERROR(impl_->Exec("BEGIN IMMEDIATE"));
  std::vector<std::int64_t> ids;
  for (std::size_t i = 0; i < records.size(); ++i) {
    Expected<std::int64_t> id = impl_->InsertOne(records[i]);
    if (!id) {
      (void)impl_->Exec("ROLLBACK");
      return records.size() == 1 ? id.status()
                                 : id.status().WithContext("record " + std::to_string(i));
    }
    ids.push_back(*id);
  }
  if (Status s = impl_->Exec("COMMIT"); !s.ok()) {
    (void)impl_->Exec("ROLLBACK");
    return s;
  }
  return ids;
}

Expected<std::int64_t> ResultsStore::Insert(const RunRecord& record) {
  Expected<std::vector<std::int64_t>> ids = InsertAll(std::span<const RunRecord>(&record, 1));
  if (!ids) return ids.status();
  return ids->front();
}

Status ResultsStore::Impl::ReadChildren(RunRecord& r, ListDetail detail) const {
  {
    Stmt st;
    DEEPEDGE_RETURN_IF_ERROR(Prepare("SELECT key, value FROM config WHERE run_id = ?1", st));
    sqlite3_bind_int64(st.get(), 1, r.id);
    int rc;
    while ((rc = sqlite3_step(st.get())) == SQLITE_ROW) {
      r.config[ColumnText(st.get(), 0)] = ColumnText(st.get(), 1);
    }
    if (rc != SQLITE_DONE) return Error("cannot read config");
  }
  {
    Stmt st;
    DEEPEDGE_RETURN_IF_ERROR(
        Prepare("SELECT name, value, unit, estimated, ci_low, ci_high FROM metrics "
                "WHERE run_id = ?1 ORDER BY position",
                st));
    sqlite3_bind_int64(st.get(), 1, r.id);
    int rc;
    while ((rc = sqlite3_step(st.get())) == SQLITE_ROW) {
      RunMetric m;
      m.name = ColumnText(st.get(), 0);
      m.value = sqlite3_column_double(st.get(), 1);
      m.unit = ColumnText(st.get(), 2);
      m.estimated = sqlite3_column_int(st.get(), 3) != 0;
      m.ci_low = ColumnOptDouble(st.get(), 4);
      m.ci_high = ColumnOptDouble(st.get(), 5);
      r.metrics.push_back(std::move(m));
    }
    if (rc != SQLITE_DONE) return Error("cannot read metrics");
  }
  {
    Stmt st;
    DEEPEDGE_RETURN_IF_ERROR(
        Prepare("SELECT text FROM warnings WHERE run_id = ?1 ORDER BY position", st));
    sqlite3_bind_int64(st.get(), 1, r.id);
    int rc;
    while ((rc = sqlite3_step(st.get())) == SQLITE_ROW)
      r.warnings.push_back(ColumnText(st.get(), 0));
    if (rc != SQLITE_DONE) return Error("cannot read warnings");
  }
  if (detail == ListDetail::kSummary) return Status::Ok();
  {
    Stmt st;
    DEEPEDGE_RETURN_IF_ERROR(Prepare("SELECT latency_samples_ms FROM runs WHERE id = ?1", st));
    sqlite3_bind_int64(st.get(), 1, r.id);
    if (sqlite3_step(st.get()) != SQLITE_ROW) return Error("cannot read latency samples");
    const auto* p = static_cast<const unsigned char*>(sqlite3_column_blob(st.get(), 0));
    const int n = sqlite3_column_bytes(st.get(), 0);
    if (n % 8 != 0) {
      return Corrupt("results store " + path.string() + ": run " + std::to_string(r.id) +
                     ": latency samples of " + std::to_string(n) + " bytes (not whole doubles)");
    }
    if (p != nullptr) r.latency_samples_ms = DecodeDoubles(p, static_cast<std::size_t>(n));
  }
  {
    Stmt st;
    DEEPEDGE_RETURN_IF_ERROR(
        Prepare("SELECT name, type, time_ms, output_bytes, macs FROM layers WHERE run_id = ?1 "
                "ORDER BY position",
                st));
    sqlite3_bind_int64(st.get(), 1, r.id);
    int rc;
    while ((rc = sqlite3_step(st.get())) == SQLITE_ROW) {
      RunLayer l;
      l.name = ColumnText(st.get(), 0);
      l.type = ColumnText(st.get(), 1);
      l.time_ms = sqlite3_column_double(st.get(), 2);
      l.output_bytes = sqlite3_column_int64(st.get(), 3);
      l.macs = sqlite3_column_int64(st.get(), 4);
      r.layers.push_back(std::move(l));
    }
    if (rc != SQLITE_DONE) return Error("cannot read layers");
  }
  return Status::Ok();
}

Expected<std::vector<RunRecord>> ResultsStore::Impl::ReadRuns(const RunFilter& filter,
                                                              std::optional<std::int64_t> id,
                                                              ListDetail detail) const {
  Stmt st;
  DEEPEDGE_RETURN_IF_ERROR(Prepare(
      "SELECT id, kind, tool_version, timestamp_utc, device_name, device_cpu_model, "
      "device_cores, device_memory_bytes, device_os, device_kernel, backend, backend_version, "
      "model_name, model_sha256, model_format, model_precision, model_synthetic_weights, "
      "model_parameters, model_macs, details_json FROM runs "
      "WHERE (?1 = '' OR kind = ?1) AND (?2 = '' OR device_name = ?2) AND "
      "(?3 = '' OR backend = ?3) AND (?4 = '' OR model_name = ?4) AND "
      "(?5 = '' OR model_precision = ?5) AND (?6 IS NULL OR id = ?6) ORDER BY id",
      st));
  const std::string* fields[] = {&filter.kind, &filter.device, &filter.backend, &filter.model,
                                 &filter.precision};
  for (int i = 0; i < 5; ++i) {
    sqlite3_bind_text(st.get(), i + 1, fields[i]->data(), static_cast<int>(fields[i]->size()),
                      SQLITE_TRANSIENT);
  }
  if (id) sqlite3_bind_int64(st.get(), 6, *id);
  // A read transaction, so that the runs and their children come from one snapshot.
  DEEPEDGE_RETURN_IF_ERROR(Exec("BEGIN"));
  std::vector<RunRecord> out;
  int rc;
  Status status;
  while ((rc = sqlite3_step(st.get())) == SQLITE_ROW) {
    sqlite3_stmt* s = st.get();
    RunRecord r;
    r.id = sqlite3_column_int64(s, 0);
    r.kind = ColumnText(s, 1);
    r.tool_version = ColumnText(s, 2);
    r.timestamp_utc = ColumnText(s, 3);
    r.device.name = ColumnText(s, 4);
    r.device.cpu_model = ColumnText(s, 5);
    r.device.cores = static_cast<int>(sqlite3_column_int64(s, 6));
    r.device.memory_bytes = sqlite3_column_int64(s, 7);
    r.device.os = ColumnText(s, 8);
    r.device.kernel = ColumnText(s, 9);
    r.backend = ColumnText(s, 10);
    r.backend_version = ColumnText(s, 11);
    r.model.name = ColumnText(s, 12);
    r.model.sha256 = ColumnText(s, 13);
    r.model.format = ColumnText(s, 14);
    r.model.precision = ColumnText(s, 15);
    r.model.synthetic_weights = sqlite3_column_int(s, 16) != 0;
    r.model.parameters = ColumnOptInt(s, 17);
    r.model.macs = ColumnOptInt(s, 18);
    r.details_json = ColumnText(s, 19);
    status = ReadChildren(r, detail);
    if (!status.ok()) break;
    out.push_back(std::move(r));
  }
  if (status.ok() && rc != SQLITE_DONE) status = Error("cannot read runs");
  (void)Exec("COMMIT");
  if (!status.ok()) return status;
  return out;
}

Expected<std::vector<RunRecord>> ResultsStore::List(const RunFilter& filter,
                                                    ListDetail detail) const {
  return impl_->ReadRuns(filter, std::nullopt, detail);
}

Expected<RunRecord> ResultsStore::Get(std::int64_t id) const {
  Expected<std::vector<RunRecord>> found = impl_->ReadRuns(RunFilter{}, id, ListDetail::kFull);
  if (!found) return found.status();
  if (found->empty()) {
    return NotFound("no run " + std::to_string(id) + " in results store " + impl_->path.string());
  }
  return std::move(found->front());
}

}  // namespace deepedge
