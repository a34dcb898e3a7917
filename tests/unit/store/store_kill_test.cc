// The kill test: a writer process inserting records is SIGKILLed, several times, in the
// middle of its work; the store must then pass `PRAGMA integrity_check`, hold every
// record whose id the writer printed, complete, and hold nothing half-written.
#include <fcntl.h>
#include <gtest/gtest.h>
#include <signal.h>
#include <sqlite3.h>
#include <sys/wait.h>
#include <unistd.h>

#include <cstdio>
#include <map>
#include <string>

#include "deepedge/store.h"
#include "support/temp_dir.h"
#include "unit/store/record_fixture.h"

namespace deepedge {
namespace {

// Starts the writer, reads "SEQ ID" lines until `lines` were printed, lets it run on
// for `extra_us` microseconds (so that the kill lands at varying points of a
// transaction), SIGKILLs it and returns seq -> id of every line read.
std::map<int, std::int64_t> RunAndKill(const std::filesystem::path& store, int first_seq, int lines,
                                       int extra_us) {
  int fds[2];
  EXPECT_EQ(pipe(fds), 0);
  const pid_t pid = fork();
  if (pid == 0) {
    dup2(fds[1], STDOUT_FILENO);
    close(fds[0]);
    close(fds[1]);
    const std::string first = std::to_string(first_seq);
    execl(STORE_KILL_WRITER, STORE_KILL_WRITER, store.c_str(), "-1", first.c_str(),
          static_cast<char*>(nullptr));
    _exit(127);
  }
  close(fds[1]);
  FILE* in = fdopen(fds[0], "r");
  std::map<int, std::int64_t> printed;
  int seq = 0;
  long long id = 0;
  while (static_cast<int>(printed.size()) < lines && std::fscanf(in, "%d %lld", &seq, &id) == 2) {
    printed[seq] = id;
  }
  usleep(static_cast<useconds_t>(extra_us));
  kill(pid, SIGKILL);
  // Lines written between the last read and the kill were committed too.
  while (std::fscanf(in, "%d %lld", &seq, &id) == 2) printed[seq] = id;
  std::fclose(in);
  int status = 0;
  waitpid(pid, &status, 0);
  EXPECT_TRUE(WIFSIGNALED(status) && WTERMSIG(status) == SIGKILL)
      << "the writer ended before the kill (status " << status << ")";
  return printed;
}

std::string IntegrityCheck(const std::filesystem::path& path) {
  sqlite3* db = nullptr;
  if (sqlite3_open(path.c_str(), &db) != SQLITE_OK) return "cannot open";
  sqlite3_stmt* st = nullptr;
  std::string out;
  if (sqlite3_prepare_v2(db, "PRAGMA integrity_check", -1, &st, nullptr) == SQLITE_OK) {
    while (sqlite3_step(st) == SQLITE_ROW) {
      out += (out.empty() ? "" : "; ") +
             std::string(reinterpret_cast<const char*>(sqlite3_column_text(st, 0)));
    }
  } else {
    out = sqlite3_errmsg(db);
  }
  sqlite3_finalize(st);
  sqlite3_close(db);
  return out;
}

TEST(StoreKill, KilledWriterLeavesAConsistentStoreWithEveryCommittedRecord) {
  testing::TempDir dir;
  const auto path = dir / "results.db";
  std::map<int, std::int64_t> printed;
  int next_seq = 0;
  const int extra_us[] = {0, 300, 1500, 5000, 20000};
  for (int round = 0; round < 5; ++round) {
    const std::map<int, std::int64_t> got = RunAndKill(path, next_seq, 3 + round, extra_us[round]);
    ASSERT_GE(got.size(), static_cast<std::size_t>(3 + round));
    for (const auto& [seq, id] : got) printed[seq] = id;
    // Each round starts past every sequence number the last one may have written.
    next_seq += 100000;
    ASSERT_EQ(IntegrityCheck(path), "ok") << "after round " << round;
  }

  Expected<ResultsStore> store = ResultsStore::Open(path);
  ASSERT_TRUE(store) << store.status().message();
  Expected<std::vector<RunRecord>> all = store->List({});
  ASSERT_TRUE(all) << all.status().message();
  std::map<std::int64_t, const RunRecord*> by_id;
  for (const RunRecord& r : *all) by_id[r.id] = &r;
  // Every printed id is there, complete.
  for (const auto& [seq, id] : printed) {
    SCOPED_TRACE("seq " + std::to_string(seq) + ", id " + std::to_string(id));
    ASSERT_TRUE(by_id.count(id)) << "a committed record was lost";
    RunRecord expected = testing::KillTestRecord(seq);
    expected.id = id;
    testing::ExpectSameRecord(expected, *by_id[id]);
  }
  // And every record there is complete: a kill may land after a commit and before the
  // print, never leave half a record.
  for (const RunRecord& r : *all) {
    SCOPED_TRACE("id " + std::to_string(r.id));
    ASSERT_TRUE(r.config.count("seq"));
    RunRecord expected = testing::KillTestRecord(std::stoi(r.config.at("seq")));
    expected.id = r.id;
    testing::ExpectSameRecord(expected, r);
  }
  EXPECT_GE(all->size(), printed.size());
  // The store still takes new records after the kills.
  EXPECT_TRUE(store->Insert(testing::FullRecord(1)));
}

}  // namespace
}  // namespace deepedge
