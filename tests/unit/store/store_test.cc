// The results store: round trips, filters, migrations, and refusing files it must not touch.
#include "deepedge/store.h"

#include <gtest/gtest.h>
#include <sqlite3.h>

#include <cmath>
#include <cstdlib>
#include <limits>
#include <string>

#include "deepedge/file_util.h"
#include "support/temp_dir.h"
#include "unit/store/record_fixture.h"

namespace deepedge {
namespace {

using testing::ExpectSameRecord;
using testing::FullRecord;
using testing::TempDir;

// Runs SQL on a store file directly, as another program (or an older or newer
// DeepEdge) would.
void RawSql(const std::filesystem::path& path, const std::string& sql) {
  sqlite3* db = nullptr;
  ASSERT_EQ(sqlite3_open(path.string().c_str(), &db), SQLITE_OK);
  char* err = nullptr;
  const int rc = sqlite3_exec(db, sql.c_str(), nullptr, nullptr, &err);
  EXPECT_EQ(rc, SQLITE_OK) << (err ? err : "");
  sqlite3_free(err);
  sqlite3_close(db);
}

TEST(ResultsStore, InsertGetRoundTripIsExact) {
  TempDir dir;
  const auto path = dir / "sub" / "dir" / "results.db";  // directories are created
  Expected<ResultsStore> store = ResultsStore::Open(path);
  ASSERT_TRUE(store) << store.status().message();
  EXPECT_TRUE(std::filesystem::exists(path));
  for (int seq = 0; seq < 4; ++seq) {
    RunRecord in = FullRecord(seq);
    in.id = 999;  // ignored: the store assigns ids
    Expected<std::int64_t> id = store->Insert(in);
    ASSERT_TRUE(id) << id.status().message();
    EXPECT_EQ(*id, seq + 1);
    Expected<RunRecord> out = store->Get(*id);
    ASSERT_TRUE(out) << out.status().message();
    in.id = *id;
    ExpectSameRecord(in, *out);
  }
  // An empty record round-trips too (no optional value, no child rows).
  RunRecord empty;
  empty.kind = "run";
  Expected<std::int64_t> id = store->Insert(empty);
  ASSERT_TRUE(id);
  empty.id = *id;
  ExpectSameRecord(empty, store->Get(*id).value());
}

TEST(ResultsStore, ReopenKeepsRecordsAndGetOfUnknownIdIsNotFound) {
  TempDir dir;
  const auto path = dir / "results.db";
  {
    ResultsStore store = ResultsStore::Open(path).value();
    ASSERT_TRUE(store.Insert(FullRecord(1)));
    ASSERT_TRUE(store.Insert(FullRecord(2)));
  }
  ResultsStore store = ResultsStore::Open(path).value();
  Expected<std::vector<RunRecord>> all = store.List({});
  ASSERT_TRUE(all);
  ASSERT_EQ(all->size(), 2u);
  RunRecord second = FullRecord(2);
  second.id = 2;
  ExpectSameRecord(second, (*all)[1]);
  Expected<RunRecord> missing = store.Get(3);
  ASSERT_FALSE(missing);
  EXPECT_EQ(missing.status().code(), StatusCode::kNotFound);
  EXPECT_NE(missing.status().message().find("no run 3"), std::string::npos);
  EXPECT_NE(missing.status().message().find(path.string()), std::string::npos);
}

TEST(ResultsStore, ListFiltersByEachFieldInIdOrder) {
  TempDir dir;
  ResultsStore store = ResultsStore::Open(dir / "r.db").value();
  // seq parity decides the kind: even -> bench, odd -> profile.
  ASSERT_TRUE(store.Insert(FullRecord(0, "pi", "deepedge", "fp32")));      // 1 bench
  ASSERT_TRUE(store.Insert(FullRecord(1, "pi", "opencv", "fp32")));        // 2 profile
  ASSERT_TRUE(store.Insert(FullRecord(2, "laptop", "deepedge", "int8")));  // 3 bench
  ASSERT_TRUE(store.Insert(FullRecord(4, "laptop", "opencv", "fp32")));    // 4 bench
  auto ids = [&](const RunFilter& f) {
    std::vector<std::int64_t> out;
    const std::vector<RunRecord> runs = store.List(f).value();
    for (const RunRecord& r : runs) out.push_back(r.id);
    return out;
  };
  auto by = [](std::string RunFilter::*field, const std::string& value) {
    RunFilter f;
    f.*field = value;
    return f;
  };
  EXPECT_EQ(ids({}), (std::vector<std::int64_t>{1, 2, 3, 4}));
  EXPECT_EQ(ids(by(&RunFilter::kind, "bench")), (std::vector<std::int64_t>{1, 3, 4}));
  EXPECT_EQ(ids(by(&RunFilter::device, "laptop")), (std::vector<std::int64_t>{3, 4}));
  EXPECT_EQ(ids(by(&RunFilter::backend, "opencv")), (std::vector<std::int64_t>{2, 4}));
  EXPECT_EQ(ids(by(&RunFilter::precision, "int8")), (std::vector<std::int64_t>{3}));
  EXPECT_EQ(ids(by(&RunFilter::model, "nope")), (std::vector<std::int64_t>{}));
  RunFilter three = by(&RunFilter::kind, "bench");
  three.device = "pi";
  three.backend = "deepedge";
  EXPECT_EQ(ids(three), (std::vector<std::int64_t>{1}));
  // Matches() agrees with the SQL filter.
  const std::vector<RunRecord> all = store.List({}).value();
  for (const RunRecord& r : all) {
    EXPECT_EQ(by(&RunFilter::device, "pi").Matches(r), r.device.name == "pi");
    EXPECT_EQ(three.Matches(r), r.id == 1);
  }
  // A summary leaves out samples and layers but keeps metrics.
  const RunRecord s = store.List({}, ListDetail::kSummary).value().front();
  EXPECT_TRUE(s.latency_samples_ms.empty());
  EXPECT_TRUE(s.layers.empty());
  EXPECT_EQ(s.metrics.size(), 4u);
}

TEST(ResultsStore, InsertAllIsAllOrNothing) {
  TempDir dir;
  ResultsStore store = ResultsStore::Open(dir / "r.db").value();
  std::vector<RunRecord> batch = {FullRecord(0), FullRecord(1), FullRecord(2)};
  batch[2].metrics[0].value = std::numeric_limits<double>::quiet_NaN();
  Expected<std::vector<std::int64_t>> ids = store.InsertAll(batch);
  ASSERT_FALSE(ids);
  EXPECT_EQ(ids.status().code(), StatusCode::kInvalidArgument);
  EXPECT_NE(ids.status().message().find("record 2"), std::string::npos) << ids.status().message();
  EXPECT_NE(ids.status().message().find("latency.p50"), std::string::npos);
  EXPECT_TRUE(store.List({}).value().empty());  // the first two were rolled back
  batch[2].metrics[0].value = 1.5;
  ids = store.InsertAll(batch);
  ASSERT_TRUE(ids) << ids.status().message();
  EXPECT_EQ(*ids, (std::vector<std::int64_t>{1, 2, 3}));
}

TEST(ResultsStore, NewStoreIsMigratedToTheCurrentVersionInWalMode) {
  TempDir dir;
  const auto path = dir / "r.db";
  // An empty file (as mktemp makes) is an empty database: migrated from version 0.
  dir.Write("r.db", "");
  ASSERT_TRUE(ResultsStore::Open(path)) << ResultsStore::Open(path).status().message();
  sqlite3* db = nullptr;
  ASSERT_EQ(sqlite3_open(path.string().c_str(), &db), SQLITE_OK);
  auto query = [&](const char* sql) {
    sqlite3_stmt* st = nullptr;
    EXPECT_EQ(sqlite3_prepare_v2(db, sql, -1, &st, nullptr), SQLITE_OK);
    EXPECT_EQ(sqlite3_step(st), SQLITE_ROW);
    std::string v = reinterpret_cast<const char*>(sqlite3_column_text(st, 0));
    sqlite3_finalize(st);
    return v;
  };
  EXPECT_EQ(query("PRAGMA user_version"), std::to_string(kStoreSchemaVersion));
  EXPECT_EQ(query("PRAGMA journal_mode"), "wal");
  EXPECT_EQ(query("SELECT count(*) FROM sqlite_master WHERE type = 'table' AND name IN "
                  "('runs', 'metrics', 'layers', 'warnings', 'config')"),
            "5");
  sqlite3_close(db);
  // Reopening does not run the migration again (it would fail on existing tables).
  EXPECT_TRUE(ResultsStore::Open(path));
}

TEST(ResultsStore, ForeignKeysHoldChildRowsToTheirRun) {
  TempDir dir;
  const auto path = dir / "r.db";
  ResultsStore store = ResultsStore::Open(path).value();
  ASSERT_TRUE(store.Insert(FullRecord(0)));
  // Deleting a run cascades to its children (foreign keys on, ON DELETE CASCADE).
  RawSql(path, "PRAGMA foreign_keys=ON; DELETE FROM runs WHERE id = 1");
  sqlite3* db = nullptr;
  ASSERT_EQ(sqlite3_open(path.string().c_str(), &db), SQLITE_OK);
  sqlite3_stmt* st = nullptr;
  ASSERT_EQ(sqlite3_prepare_v2(db, "SELECT count(*) FROM metrics", -1, &st, nullptr), SQLITE_OK);
  ASSERT_EQ(sqlite3_step(st), SQLITE_ROW);
  EXPECT_EQ(sqlite3_column_int(st, 0), 0);
  sqlite3_finalize(st);
  sqlite3_close(db);
}

TEST(ResultsStore, NewerSchemaVersionIsRefusedAndTheFileIsUntouched) {
  TempDir dir;
  const auto path = dir / "r.db";
  {
    ResultsStore store = ResultsStore::Open(path).value();
    ASSERT_TRUE(store.Insert(FullRecord(0)));
  }
  // A future DeepEdge migrated it to a version this build does not know; the WAL is
  // checkpointed into the main file first so that the bytes below are the whole store.
  RawSql(path, "PRAGMA user_version = " + std::to_string(kStoreSchemaVersion + 1) +
                   "; PRAGMA wal_checkpoint(TRUNCATE); PRAGMA journal_mode=DELETE");
  const std::vector<std::uint8_t> before = ReadFileBytes(path).value();
  Expected<ResultsStore> store = ResultsStore::Open(path);
  ASSERT_FALSE(store);
  EXPECT_EQ(store.status().code(), StatusCode::kUnsupported);
  EXPECT_NE(store.status().message().find(path.string()), std::string::npos);
  EXPECT_NE(store.status().message().find("newer"), std::string::npos) << store.status().message();
  EXPECT_EQ(ReadFileBytes(path).value(), before);
  EXPECT_FALSE(std::filesystem::exists(path.string() + "-wal"));
}

TEST(ResultsStore, NonSqliteFileIsRefusedAndUntouched) {
  TempDir dir;
  const std::string content = "these are my notes, not a database\n";
  const auto path = dir.Write("notes.db", content);
  Expected<ResultsStore> store = ResultsStore::Open(path);
  ASSERT_FALSE(store);
  EXPECT_EQ(store.status().code(), StatusCode::kCorrupt);
  EXPECT_NE(store.status().message().find(path.string()), std::string::npos);
  EXPECT_NE(store.status().message().find("not an SQLite database"), std::string::npos);
  EXPECT_EQ(ReadFileText(path).value(), content);
}

TEST(ResultsStore, DamagedStoreIsRefusedAndUntouched) {
  TempDir dir;
  const auto path = dir / "r.db";
  {
    ResultsStore store = ResultsStore::Open(path).value();
    for (int i = 0; i < 40; ++i) ASSERT_TRUE(store.Insert(FullRecord(i)));
  }
  RawSql(path, "PRAGMA wal_checkpoint(TRUNCATE); PRAGMA journal_mode=DELETE");
  std::vector<std::uint8_t> bytes = ReadFileBytes(path).value();
  ASSERT_GT(bytes.size(), 8192u);
  // Keep the header page, overwrite the rest with garbage (a disk error, a bad copy).
  for (std::size_t i = 4096; i < bytes.size(); ++i) bytes[i] = static_cast<std::uint8_t>(i * 7);
  ASSERT_TRUE(WriteFileAtomic(path, bytes).ok());
  Expected<ResultsStore> store = ResultsStore::Open(path);
  ASSERT_FALSE(store);
  EXPECT_EQ(store.status().code(), StatusCode::kCorrupt) << store.status().message();
  EXPECT_NE(store.status().message().find(path.string()), std::string::npos);
  EXPECT_EQ(ReadFileBytes(path).value(), bytes);
}

TEST(ResultsStore, AnotherProgramsSqliteDatabaseIsRefused) {
  TempDir dir;
  const auto path = dir / "other.db";
  RawSql(path, "CREATE TABLE songs (title TEXT)");
  const std::vector<std::uint8_t> before = ReadFileBytes(path).value();
  Expected<ResultsStore> store = ResultsStore::Open(path);
  ASSERT_FALSE(store);
  EXPECT_EQ(store.status().code(), StatusCode::kCorrupt);
  EXPECT_NE(store.status().message().find("not a DeepEdge results store"), std::string::npos);
  EXPECT_EQ(ReadFileBytes(path).value(), before);
}

TEST(ResultsStore, NonFiniteNumbersAreRefused) {
  TempDir dir;
  ResultsStore store = ResultsStore::Open(dir / "r.db").value();
  RunRecord r = FullRecord(0);
  r.latency_samples_ms[3] = std::numeric_limits<double>::infinity();
  Expected<std::int64_t> id = store.Insert(r);
  ASSERT_FALSE(id);
  EXPECT_NE(id.status().message().find("latency sample 3"), std::string::npos);
}

TEST(ResultsStore, DefaultPathFollowsXdgDataHome) {
  const char* old = std::getenv("XDG_DATA_HOME");
  const std::string saved = old ? old : "";
  setenv("XDG_DATA_HOME", "/tmp/xdg-data", 1);
  EXPECT_EQ(DefaultStorePath(), std::filesystem::path("/tmp/xdg-data/deepedge/results.db"));
  unsetenv("XDG_DATA_HOME");
  if (const char* home = std::getenv("HOME"); home && *home) {
    EXPECT_EQ(DefaultStorePath(), std::filesystem::path(home) / ".local/share/deepedge/results.db");
  }
  if (old) setenv("XDG_DATA_HOME", saved.c_str(), 1);
}

}  // namespace
}  // namespace deepedge
