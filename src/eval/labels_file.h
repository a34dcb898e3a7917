// The labels files of the eval data sets (text lines, photos, detection boxes, audio
// clips): one "FILE<TAB>REST" line per sample. Private to src/eval.
#pragma once

#include <filesystem>
#include <string>
#include <string_view>

#include "deepedge/file_util.h"
#include "deepedge/status.h"

namespace deepedge::eval_internal {

// Calls parse(file, rest) -> Status for every line of `labels` that is neither empty nor
// a '#' comment (a trailing CR is dropped), in order. Errors: NotFound "LABELS: no such
// file (HINT)"; Corrupt "LABELS: line N: expected FORMAT" for a line without a tab after
// a non-empty FILE; parse's own error, with the same "LABELS: line N: " prefix.
template <typename Parse>
Status ForEachLabelsLine(const std::filesystem::path& labels, std::string_view format,
                         std::string_view hint, Parse parse) {
  std::error_code ec;
  if (!std::filesystem::is_regular_file(labels, ec)) {
    return NotFound(labels.string() + ": no such file (" + std::string(hint) + ")");
  }
  DEEPEDGE_ASSIGN_OR_RETURN(std::string text, ReadFileText(labels));
  std::size_t start = 0, line_no = 0;
  while (start < text.size()) {
    std::size_t end = text.find('\n', start);
    if (end == std::string::npos) end = text.size();
    std::string_view line = std::string_view(text).substr(start, end - start);
    start = end + 1;
    ++line_no;
    if (!line.empty() && line.back() == '\r') line.remove_suffix(1);
    if (line.empty() || line[0] == '#') continue;
    const std::string where = labels.string() + ": line " + std::to_string(line_no) + ": ";
    const std::size_t tab = line.find('\t');
    if (tab == std::string_view::npos || tab == 0) {
      return Corrupt(where + "expected " + std::string(format));
    }
    if (Status s = parse(std::string(line.substr(0, tab)), line.substr(tab + 1)); !s.ok()) {
      return Status(s.code(), where + s.message());
    }
  }
  return Status::Ok();
}

}  // namespace deepedge::eval_internal
