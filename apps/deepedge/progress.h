// A progress bar on stderr for `deepedge bench`, drawn only when stderr is a terminal.
#pragma once

#include <chrono>
#include <string>

#include "deepedge/bench.h"

namespace deepedge::app {

class ProgressBar final : public BenchListener {
 public:
  explicit ProgressBar(std::string label);
  // False when stderr is not a terminal: the bar then draws nothing.
  bool enabled() const { return enabled_; }

  void OnPhaseBegin(Phase phase) override;
  void OnQuery(std::int64_t index, double latency_s, double progress) override;
  void OnPhaseEnd(Phase phase, double seconds) override;

 private:
  void Draw(double progress, std::int64_t queries);

  std::string label_;
  bool enabled_;
  Phase phase_ = Phase::kLoad;
  std::chrono::steady_clock::time_point last_draw_{};
};

}  // namespace deepedge::app
