// A plain-text table with aligned columns (first column left, the rest right).
#pragma once

#include <string>
#include <vector>

namespace deepedge::report {

class TextTable {
 public:
  explicit TextTable(std::vector<std::string> header) : rows_{std::move(header)} {}
  void AddRow(std::vector<std::string> row) { rows_.push_back(std::move(row)); }
  std::string ToString(const std::string& indent = "") const;

 private:
  std::vector<std::vector<std::string>> rows_;
};

// printf-style formatting into a std::string.
std::string Format(const char* fmt, ...) __attribute__((format(printf, 1, 2)));

}  // namespace deepedge::report
