#include "progress.h"

#include <unistd.h>

#include <cstdio>

namespace deepedge::app {

ProgressBar::ProgressBar(std::string label)
    : label_(std::move(label)), enabled_(::isatty(STDERR_FILENO) == 1) {}

void ProgressBar::OnPhaseBegin(Phase phase) {
  phase_ = phase;
  if (!enabled_) return;
  std::fprintf(stderr, "\r\033[K%s: %s...", label_.c_str(), std::string(PhaseName(phase)).c_str());
  std::fflush(stderr);
}

void ProgressBar::OnQuery(std::int64_t index, double, double progress) {
  if (!enabled_) return;
  // Redraw at most ten times a second: the measured loop must stay cheap.
  const auto now = std::chrono::steady_clock::now();
  if (now - last_draw_ < std::chrono::milliseconds(100)) return;
  last_draw_ = now;
  Draw(progress, index + 1);
}

void ProgressBar::OnPhaseEnd(Phase phase, double) {
  if (!enabled_) return;
  if (phase == Phase::kMeasured) {
    std::fprintf(stderr, "\r\033[K");
    std::fflush(stderr);
  }
}

void ProgressBar::Draw(double progress, std::int64_t queries) {
  constexpr int kWidth = 30;
  const int filled = static_cast<int>(progress * kWidth);
  std::string bar(static_cast<std::size_t>(filled), '#');
  bar.append(static_cast<std::size_t>(kWidth - filled), '.');
  std::fprintf(stderr, "\r\033[K%s: [%s] %3.0f%% %lld queries", label_.c_str(), bar.c_str(),
               progress * 100, static_cast<long long>(queries));
  std::fflush(stderr);
}

}  // namespace deepedge::app
