// Runs ONNX's backend node test suite (Debian's libonnx-testdata) through the
// DeepEdge engine: model.onnx plus input_N.pb / output_N.pb per test data set.
//
//   onnx_conformance [--data DIR] [--filter SUBSTRING] [--known-failures FILE]
//                    [--min-pass-rate R] [--verbose]
//
// Each case ends as passed, failed, or unsupported (the engine does not claim one of
// its operators or types). Exit status 1 when a claimed case fails that is not listed
// in the known-failures file, or when the pass rate over all cases is below R.
#include <algorithm>
#include <cmath>
#include <cstdio>
#include <cstring>
#include <filesystem>
#include <fstream>
#include <map>
#include <set>
#include <string>
#include <vector>

#include "deepedge/onnx_model.h"
#include "engine/executor.h"
#include "engine/kernel.h"
#include "support/tensor_values.h"

namespace fs = std::filesystem;
using namespace deepedge;

namespace {

enum class Outcome { kPassed, kFailed, kUnsupported };

struct CaseResult {
  Outcome outcome;
  std::string detail;
};

std::vector<fs::path> SortedFiles(const fs::path& dir, const std::string& prefix) {
  std::vector<std::pair<int, fs::path>> files;
  for (const auto& e : fs::directory_iterator(dir)) {
    const std::string name = e.path().filename().string();
    if (name.rfind(prefix, 0) == 0 && e.path().extension() == ".pb") {
      files.emplace_back(std::stoi(name.substr(prefix.size())), e.path());
    }
  }
  std::sort(files.begin(), files.end());
  std::vector<fs::path> out;
  for (auto& f : files) out.push_back(f.second);
  return out;
}

double ToDouble(const Tensor& t, std::size_t i) {
  return testing::ElementAsDouble(t, i);
}

// ONNX's backend tests compare with rtol 1e-3 and atol 1e-7.
std::string Compare(const Tensor& want, const Tensor& got, std::size_t index) {
  const std::string which = "output " + std::to_string(index);
  if (want.dtype() != got.dtype()) {
    return which + ": dtype " + std::string(DTypeName(got.dtype())) + ", expected " +
           std::string(DTypeName(want.dtype()));
  }
  if (want.shape() != got.shape()) {
    return which + ": shape " + got.shape().ToString() + ", expected " + want.shape().ToString();
  }
  const bool floating =
      want.dtype() == DType::kF32 || want.dtype() == DType::kF16 || want.dtype() == DType::kBF16;
  const double rtol = want.dtype() == DType::kF32 ? 1e-3 : 1e-2;
  const std::size_t n = static_cast<std::size_t>(want.element_count());
  for (std::size_t i = 0; i < n; ++i) {
    const double w = ToDouble(want, i), g = ToDouble(got, i);
    if (floating) {
      if (std::isnan(w) && std::isnan(g)) continue;
      if (std::isinf(w) && w == g) continue;
      if (std::fabs(w - g) <= 1e-7 + rtol * std::fabs(w)) continue;
    } else if (w == g) {
      continue;
    }
    char buf[160];
    std::snprintf(buf, sizeof buf, "%s[%zu] = %.9g, expected %.9g", which.c_str(), i, g, w);
    return buf;
  }
  return "";
}

CaseResult RunCase(const fs::path& dir, const engine::KernelRegistry& registry) {
  Expected<ir::Model> model = ImportOnnx(*ModelSource::FromFile(dir / "model.onnx"));
  if (!model) {
    const bool unsupported = model.status().code() == StatusCode::kUnsupported;
    return {unsupported ? Outcome::kUnsupported : Outcome::kFailed,
            "import: " + model.status().message()};
  }
  for (const ir::ValueInfo& v : model->graph.inputs) {
    if (!v.dtype)
      return {Outcome::kUnsupported, "input '" + v.name + "' is not a supported tensor type"};
  }
  for (const ir::ValueInfo& v : model->graph.outputs) {
    if (!v.dtype)
      return {Outcome::kUnsupported, "output '" + v.name + "' is not a supported tensor type"};
  }
  auto shared = std::make_shared<const ir::Model>(std::move(model).value());
  engine::ExecutorOptions options;
  options.threads = 1;
  Expected<std::unique_ptr<engine::Executor>> exec =
      engine::Executor::Create(shared, registry, options);
  if (!exec) {
    const bool unsupported = exec.status().code() == StatusCode::kUnsupported;
    return {unsupported ? Outcome::kUnsupported : Outcome::kFailed,
            "prepare: " + exec.status().message()};
  }
  int sets = 0;
  for (const auto& e : fs::directory_iterator(dir)) {
    if (!e.is_directory() || e.path().filename().string().rfind("test_data_set_", 0) != 0) continue;
    ++sets;
    std::vector<Tensor> inputs;
    for (const fs::path& f : SortedFiles(e.path(), "input_")) {
      Expected<Tensor> t = ReadOnnxTensorFile(f);
      if (!t) return {Outcome::kUnsupported, "input file: " + t.status().message()};
      inputs.push_back(std::move(t).value());
    }
    std::vector<Tensor> expected;
    for (const fs::path& f : SortedFiles(e.path(), "output_")) {
      Expected<Tensor> t = ReadOnnxTensorFile(f);
      if (!t) return {Outcome::kUnsupported, "output file: " + t.status().message()};
      expected.push_back(std::move(t).value());
    }
    if (inputs.size() != (*exec)->Inputs().size()) {
      return {Outcome::kUnsupported, "the test feeds " + std::to_string(inputs.size()) +
                                         " inputs to a graph of " +
                                         std::to_string((*exec)->Inputs().size())};
    }
    std::vector<Tensor> outputs;
    Status s = (*exec)->Run(inputs, outputs);
    if (!s.ok()) {
      return {s.code() == StatusCode::kUnsupported ? Outcome::kUnsupported : Outcome::kFailed,
              "run: " + s.message()};
    }
    if (outputs.size() != expected.size()) {
      return {Outcome::kFailed, "produced " + std::to_string(outputs.size()) +
                                    " outputs, expected " + std::to_string(expected.size())};
    }
    for (std::size_t i = 0; i < outputs.size(); ++i) {
      std::string diff = Compare(expected[i], outputs[i], i);
      if (!diff.empty()) return {Outcome::kFailed, e.path().filename().string() + ": " + diff};
    }
  }
  if (sets == 0) return {Outcome::kUnsupported, "no test data set"};
  return {Outcome::kPassed, ""};
}

// "case_name  # reason" per line; '#' starts a comment.
std::set<std::string> ReadKnownFailures(const fs::path& path) {
  std::set<std::string> known;
  std::ifstream in(path);
  std::string line;
  while (std::getline(in, line)) {
    line = line.substr(0, line.find('#'));
    line.erase(0, line.find_first_not_of(" \t"));
    line.erase(line.find_last_not_of(" \t\r") + 1);
    if (!line.empty()) known.insert(line);
  }
  return known;
}

}  // namespace

int main(int argc, char** argv) {
  fs::path data = "/usr/include/onnx/backend/test/data/node";
  fs::path known_path;
  std::string filter;
  double min_pass_rate = 0;
  bool verbose = false;
  for (int i = 1; i < argc; ++i) {
    const std::string a = argv[i];
    auto next = [&]() -> std::string { return i + 1 < argc ? argv[++i] : ""; };
    if (a == "--data")
      data = next();
    else if (a == "--filter")
      filter = next();
    else if (a == "--known-failures")
      known_path = next();
    else if (a == "--min-pass-rate")
      min_pass_rate = std::stod(next());
    else if (a == "--verbose" || a == "-v")
      verbose = true;
    else {
      std::fprintf(stderr, "onnx_conformance: unknown argument '%s'\n", a.c_str());
      return 2;
    }
  }
  if (!fs::is_directory(data)) {
    std::printf("onnx_conformance: %s not found (install libonnx-testdata); skipping\n",
                data.c_str());
    return 77;  // CTest's SKIP_RETURN_CODE
  }
  const std::set<std::string> known =
      known_path.empty() ? std::set<std::string>{} : ReadKnownFailures(known_path);
  engine::KernelRegistry registry;
  engine::RegisterAllKernels(registry);

  std::vector<fs::path> cases;
  for (const auto& e : fs::directory_iterator(data)) {
    if (e.is_directory() && e.path().filename().string().find(filter) != std::string::npos)
      cases.push_back(e.path());
  }
  std::sort(cases.begin(), cases.end());
  int passed = 0, failed = 0, unsupported = 0, unexpected = 0, fixed = 0;
  std::map<std::string, int> unsupported_reasons;
  for (const fs::path& dir : cases) {
    const std::string name = dir.filename().string();
    const CaseResult r = RunCase(dir, registry);
    const bool is_known = known.count(name) > 0;
    switch (r.outcome) {
      case Outcome::kPassed:
        ++passed;
        if (is_known) {
          ++fixed;
          std::printf("FIXED   %s (remove it from the known failures)\n", name.c_str());
        } else if (verbose) {
          std::printf("passed  %s\n", name.c_str());
        }
        break;
      case Outcome::kFailed:
        ++failed;
        if (!is_known) ++unexpected;
        if (!is_known || verbose)
          std::printf("%s %s: %s\n", is_known ? "known  " : "FAILED ", name.c_str(),
                      r.detail.c_str());
        break;
      case Outcome::kUnsupported: {
        ++unsupported;
        // Group by the unsupported operator, for the summary.
        std::string key = r.detail;
        if (auto p = key.find("unsupported operator "); p != std::string::npos) {
          key = key.substr(p + 21);
          key = key.substr(0, key.find(" ("));
        } else {
          key = "other";
        }
        ++unsupported_reasons[key];
        if (verbose) std::printf("unsupp. %s: %s\n", name.c_str(), r.detail.c_str());
        break;
      }
    }
  }
  const int total = passed + failed + unsupported;
  const double rate = total ? static_cast<double>(passed) / total : 0;
  std::printf("\nunsupported operators (cases):");
  for (const auto& [op, n] : unsupported_reasons) std::printf(" %s (%d)", op.c_str(), n);
  std::printf(
      "\nONNX node tests: %d cases, pass rate %.1f%% of all, %.1f%% of claimed; %d failures known, "
      "%d unexpected\n",
      total, rate * 100, passed + failed ? 100.0 * passed / (passed + failed) : 0.0,
      failed - unexpected, unexpected);
  std::printf("conformance: %d passed, %d failed, %d skipped\n", passed, failed, unsupported);
  if (unexpected > 0) return 1;
  if (rate < min_pass_rate) {
    std::printf("pass rate %.1f%% is below the required %.1f%%\n", rate * 100, min_pass_rate * 100);
    return 1;
  }
  (void)fixed;
  return 0;
}
