// Where the integration tests find the fetched fixtures: $DEEPEDGE_FIXTURES, else
// ~/.cache/deepedge/fixtures, as scripts/fetch_fixtures.sh fills it (docs/fixtures.md).
#pragma once

#include <cstdlib>
#include <filesystem>

namespace deepedge::testing {

// Empty when neither variable is set: every fixture then counts as absent (tests skip).
inline std::filesystem::path FixtureDir() {
  if (const char* d = std::getenv("DEEPEDGE_FIXTURES"); d && *d) return d;
  if (const char* home = std::getenv("HOME"); home && *home) {
    return std::filesystem::path(home) / ".cache/deepedge/fixtures";
  }
  return {};
}

}  // namespace deepedge::testing
