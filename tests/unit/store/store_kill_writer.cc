// For the kill test: inserts records into a store in a loop, printing "SEQ ID" (flushed)
// after each Insert has returned, until killed or `count` records are written.
//   store_kill_writer STORE [COUNT] [FIRST_SEQ]
#include <cstdio>
#include <cstdlib>
#include <string>

#include "deepedge/store.h"
#include "unit/store/record_fixture.h"

int main(int argc, char** argv) {
  if (argc < 2) {
    std::fprintf(stderr, "usage: store_kill_writer STORE [COUNT] [FIRST_SEQ]\n");
    return 2;
  }
  const long count = argc > 2 ? std::atol(argv[2]) : -1;
  const int first = argc > 3 ? std::atoi(argv[3]) : 0;
  deepedge::Expected<deepedge::ResultsStore> store = deepedge::ResultsStore::Open(argv[1]);
  if (!store) {
    std::fprintf(stderr, "store_kill_writer: %s\n", store.status().message().c_str());
    return 1;
  }
  for (long i = 0; count < 0 || i < count; ++i) {
    const int seq = first + static_cast<int>(i);
    deepedge::Expected<std::int64_t> id = store->Insert(deepedge::testing::KillTestRecord(seq));
    if (!id) {
      std::fprintf(stderr, "store_kill_writer: %s\n", id.status().message().c_str());
      return 1;
    }
    std::printf("%d %lld\n", seq, static_cast<long long>(*id));
    std::fflush(stdout);
  }
  return 0;
}
