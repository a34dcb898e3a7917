// Device profiles (JSON), latency regressions and per-layer costs.
#include <nlohmann/json.hpp>

#include <algorithm>
#include <cmath>
#include <functional>
#include <limits>
#include <map>
#include <optional>
#include <set>
#include <string>
#include <utility>
#include <vector>

#include "deepedge/file_util.h"
#include "deepedge/partition.h"

namespace deepedge::partition {

std::string LayerClass(const Layer& l) {
  const std::string& t = l.type;
  // Transposed convolutions run on the engine's own kernel (scatter-adds of a product).
  if (t == "ConvTranspose") return "deconv";
  if (t == "Conv") {
    const bool one_channel_per_group = l.channels_per_group == 0 || l.channels_per_group == 1;
    if (l.group > 1) return one_channel_per_group ? "depthwise" : "gconv";
    // 1-D: outside XNNPACK, on the engine's own product (a spectrogram's STFT: one
    // channel, 512 taps, bound by its weights).
    if (t == "Conv" && l.kernel_shape.size() == 1) return "conv1d";
    if (t == "Conv" && l.kernel_size == 1) return "conv1x1";
    // A stem on the image's 1-4 channels: im2col rows of 9-147 taps, a third of the MAC
    // rate of the convolutions after it (MobileNet 0.25's 3 -> 8 stem: 0.3 ms, which the
    // kxk fit put at 0.16).
    if (t == "Conv" && l.channels_per_group >= 1 && l.channels_per_group <= 4) return "stem";
    // The engine's Winograd rule (src/engine/xnnpack/winograd.h): 16 channels in and out,
    // 32 tiles of 2x2 outputs.
    const std::vector<std::int64_t>& y = l.output_dims;
    if (t == "Conv" && l.kernel_shape == std::vector<std::int64_t>{3, 3} &&
        l.strides == std::vector<std::int64_t>{1, 1} && y.size() == 4 &&
        l.channels_per_group >= 16 && y[1] >= 16 && ((y[2] + 1) / 2) * ((y[3] + 1) / 2) >= 32)
      return "conv3x3";
    return "conv";
  }
  if (t == "Gemm" || t == "MatMul") {
    // Rows of the left operand: M = (M*K) * (M*N) / (M*K*N). One row streams the weights
    // once per MAC; many rows reuse them (a transformer's 40 tokens: 10-40x the MAC rate).
    const double mk = static_cast<double>(l.input_bytes) / 4,
                 mn = static_cast<double>(l.output_bytes) / 4;
    const double rows = l.macs > 0 ? mk * mn / static_cast<double>(l.macs) : 1;
    return rows >= 2 ? "matmul" : "fc";
  }
  if (t == "MaxPool" || t == "AveragePool" || t == "GlobalAveragePool" || t == "GlobalMaxPool")
    return "pool";
  if (t == "Add" || t == "Sub" || t == "Mul" || t == "Div" || t == "Sum" || t == "Max" ||
      t == "Min")
    return "eltwise";
  if (t == "Relu" || t == "Clip" || t == "LeakyRelu" || t == "HardSigmoid" || t == "HardSwish" ||
      t == "PRelu")
    return "activation";
  // An exp per element: 10-20x a Relu of the same size.
  if (t == "Sigmoid") return "sigmoid";
  if (t == "Resize" || t == "Upsample") return "resize";
  if (t == "BatchNormalization") return "batchnorm";
  if (t == "LRN") return "lrn";
  if (t == "Softmax" || t == "LogSoftmax") return "softmax";
  if (t == "LSTM") return "lstm";
  if (t == "Transpose") return "transpose";
  // SqueezeNet's fire modules and FPN necks join feature maps: a real copy, 5x a view
  // of the same bytes (SqueezeNet's 8 Concats: 0.215 ms, put at 0.043 as views).
  if (t == "Concat" && l.output_dims.size() == 4) return "concat";
  if (t == "Flatten" || t == "Reshape" || t == "Concat" || t == "Squeeze" || t == "Unsqueeze" ||
      t == "Identity" || t == "Dropout")
    return "memory";
  return "";
}

std::string ParentLayerClass(const std::string& c) {
  if (c == "conv3x3" || c == "conv1x1" || c == "gconv" || c == "conv1d" || c == "stem" ||
      c == "deconv")
    return "conv";
  if (c == "transpose" || c == "concat") return "memory";
  return c == "matmul" ? "fc" : "";
}

namespace {

constexpr int kFeatures = 5;               // intercept, macs, in, out, weights
constexpr int kFeaturesBeforeWeights = 4;  // profiles written before weights were a feature

std::vector<double> Features(const Sample& s, bool log) {
  auto f = [&](std::int64_t v) {
    return log ? std::log1p(static_cast<double>(std::max<std::int64_t>(v, 0)))
               : static_cast<double>(v);
  };
  return {1.0, f(s.macs), f(s.input_bytes), f(s.output_bytes), f(s.weight_bytes)};
}

// Weighted, ridge-regularised least squares on columns scaled to unit maximum, so that
// MACs (1e9) and bytes (1e6) are both well conditioned; a constant or all-zero column
// gets a zero coefficient instead of a singular system.
std::vector<double> LeastSquares(const std::vector<std::vector<double>>& x,
                                 const std::vector<double>& y, const std::vector<double>& w,
                                 unsigned mask) {
  std::vector<double> scale(kFeatures, 0);
  for (const auto& r : x)
    for (int j = 0; j < kFeatures; ++j)
      scale[static_cast<std::size_t>(j)] =
          std::max(scale[static_cast<std::size_t>(j)], std::abs(r[static_cast<std::size_t>(j)]));
  // Features left out of the subset get scale 0: a zero coefficient.
  for (int j = 1; j < kFeatures; ++j)
    if (!(mask >> (j - 1) & 1u)) scale[static_cast<std::size_t>(j)] = 0;
  double a[kFeatures][kFeatures + 1] = {};
  for (std::size_t i = 0; i < x.size(); ++i) {
    for (int j = 0; j < kFeatures; ++j) {
      const double xj = scale[static_cast<std::size_t>(j)] > 0
                            ? x[i][static_cast<std::size_t>(j)] / scale[static_cast<std::size_t>(j)]
                            : 0;
      for (int k = 0; k < kFeatures; ++k) {
        const double xk =
            scale[static_cast<std::size_t>(k)] > 0
                ? x[i][static_cast<std::size_t>(k)] / scale[static_cast<std::size_t>(k)]
                : 0;
        a[j][k] += w[i] * xj * xk;
      }
      a[j][kFeatures] += w[i] * xj * y[i];
    }
  }
  double wsum = 0;
  for (double v : w) wsum += v;
  for (int j = 0; j < kFeatures; ++j)
    a[j][j] += 1e-9 * wsum + (scale[static_cast<std::size_t>(j)] > 0 ? 0 : 1);
  for (int c = 0; c < kFeatures; ++c) {  // Gaussian elimination, partial pivoting
    int piv = c;
    for (int r = c + 1; r < kFeatures; ++r)
      if (std::abs(a[r][c]) > std::abs(a[piv][c])) piv = r;
    for (int k = 0; k <= kFeatures; ++k) std::swap(a[c][k], a[piv][k]);
    for (int r = 0; r < kFeatures; ++r) {
      if (r == c || a[c][c] == 0) continue;
      const double f = a[r][c] / a[c][c];
      for (int k = c; k <= kFeatures; ++k) a[r][k] -= f * a[c][k];
    }
  }
  std::vector<double> beta(kFeatures, 0);
  for (int j = 0; j < kFeatures; ++j) {
    if (scale[static_cast<std::size_t>(j)] > 0 && a[j][j] != 0)
      beta[static_cast<std::size_t>(j)] =
          a[j][kFeatures] / a[j][j] / scale[static_cast<std::size_t>(j)];
  }
  return beta;
}

LatencyFit Fit(const std::vector<Sample>& s, bool log, unsigned mask) {
  std::vector<std::vector<double>> x;
  std::vector<double> y, w;
  for (const Sample& v : s) {
    x.push_back(Features(v, log));
    y.push_back(log ? std::log(v.time_ms) : v.time_ms);
    // Linear: least squares on the relative error (weight 1/t^2), so that the 5 us
    // layers count as much as the 5 ms ones; unweighted, the large layers set the
    // intercept and small layers came out 10-100x too slow. Log-log residuals are
    // relative already.
    w.push_back(log ? 1.0 : 1.0 / (v.time_ms * v.time_ms));
  }
  LatencyFit f;
  f.form = log ? "loglog" : "linear";
  f.coef = LeastSquares(x, y, w, mask);
  f.samples = static_cast<int>(s.size());
  return f;
}

}  // namespace

double LatencyFit::Predict(std::int64_t macs, std::int64_t in, std::int64_t out,
                           std::int64_t weights) const {
  // Without a weights coefficient (a fit made before it was a feature) it is 0.
  if (coef.size() != kFeatures && coef.size() != kFeaturesBeforeWeights) return 0;
  const Sample s{macs, in, out, weights, 0};
  const std::vector<double> x = Features(s, form == "loglog");
  double v = 0;
  for (std::size_t j = 0; j < coef.size(); ++j) v += coef[j] * x[j];
  return form == "loglog" ? std::exp(v) : std::max(v, 0.0);
}

Expected<LatencyFit> FitLatency(const std::vector<Sample>& samples) {
  std::vector<Sample> s;
  for (const Sample& v : samples)
    if (v.time_ms > 0 && std::isfinite(v.time_ms)) s.push_back(v);
  if (s.size() < 2)
    return InvalidArgument("a latency fit needs at least 2 samples with positive times");
  LatencyFit best;
  // Every subset of the features (MACs, input, output and weight bytes) in both forms:
  // with a handful of samples, and input and output sizes often equal, the full model
  // overfits; leave-one-out error picks the subset that predicts.
  for (bool log : {false, true}) {
    for (unsigned mask = 0; mask < (1u << (kFeatures - 1)); ++mask) {
      double err = 0;
      for (std::size_t i = 0; i < s.size(); ++i) {
        std::vector<Sample> rest;
        for (std::size_t j = 0; j < s.size(); ++j)
          if (j != i) rest.push_back(s[j]);
        const LatencyFit f = Fit(rest, log, mask);
        err +=
            std::abs(f.Predict(s[i].macs, s[i].input_bytes, s[i].output_bytes, s[i].weight_bytes) -
                     s[i].time_ms) /
            s[i].time_ms;
      }
      LatencyFit f = Fit(s, log, mask);
      // Latency does not fall as a layer grows: a fit that says so has traded one
      // feature against another that moves with it in the samples (a classifier's MACs
      // and its input and output sizes), and extrapolates absurdly (a MatMul of 40 rows
      // at 1e16 ms). Only the intercept may be negative.
      if (std::any_of(f.coef.begin() + 1, f.coef.end(), [](double c) { return c < 0; })) continue;
      f.error = err / static_cast<double>(s.size());
      if (best.coef.empty() || f.error < best.error - 1e-12) best = f;
    }
  }
  return best;
}

// ---- JSON -----------------------------------------------------------------------------

namespace {
using nlohmann::json;
constexpr const char* kSchema = "deepedge.device_profile";

std::int64_t OptInt(const json& j, const char* k) {
  return j.contains(k) && j[k].is_number() ? j[k].get<std::int64_t>() : -1;
}

// Calibration cases by class (warm_cases, cold_cases): each case's features and its
// Sample::time_ms under `value_key`.
json CasesToJson(const std::map<std::string, std::vector<Sample>>& by_class,
                 const char* value_key) {
  json doc = json::object();
  for (const auto& [cls, cases] : by_class) {
    json list = json::array();
    for (const Sample& c : cases)
      list.push_back({{"macs", c.macs},
                      {"input_bytes", c.input_bytes},
                      {"output_bytes", c.output_bytes},
                      {"weight_bytes", c.weight_bytes},
                      {value_key, c.time_ms}});
    doc[cls] = std::move(list);
  }
  return doc;
}

// The inverse of CasesToJson for `doc[key]` (absent: none). A value must be positive and
// at most `max_value`, sizes not negative; else InvalidArgument: "`what` of 'CLASS' has
// `bad_value` or a negative size".
Status CasesFromJson(const json& doc, const char* key, const char* value_key, double max_value,
                     const std::string& what, const char* bad_value,
                     std::map<std::string, std::vector<Sample>>& out) {
  if (!doc.contains(key)) return Status::Ok();
  for (const auto& [cls, list] : doc[key].items()) {
    for (const json& c : list) {
      Sample s{OptInt(c, "macs"), OptInt(c, "input_bytes"), OptInt(c, "output_bytes"),
               OptInt(c, "weight_bytes"), c.at(value_key).get<double>()};
      if (!(s.time_ms > 0) || s.time_ms > max_value || s.macs < 0 || s.input_bytes < 0 ||
          s.output_bytes < 0 || s.weight_bytes < 0)
        return InvalidArgument(what + " of '" + cls + "' has " + bad_value + " or a negative size");
      out[cls].push_back(s);
    }
  }
  return Status::Ok();
}

}  // namespace

std::string DeviceProfileToJson(const DeviceProfile& p) {
  json doc = {{"schema", kSchema},
              {"schema_version", 1},
              {"device",
               {{"name", p.device},
                {"backend", p.backend},
                {"threads", p.threads},
                {"l2_cache_bytes", p.l2_cache_bytes},
                {"last_level_cache_bytes", p.last_level_cache_bytes}}},
              {"power",
               {{"compute_w", p.power.compute_w},
                {"idle_w", p.power.idle_w},
                {"radio_tx_w", p.power.radio_tx_w},
                {"radio_rx_w", p.power.radio_rx_w},
                {"provenance", p.power.estimated ? "estimated" : "measured"}}}};
  if (!p.model_sha256.empty() || !p.layers.empty()) {
    doc["model"] = {{"name", p.model_name},
                    {"sha256", p.model_sha256},
                    {"total_ms", p.model_total_ms >= 0 ? json(p.model_total_ms) : json()}};
    json layers = json::array();
    for (const LayerProfile& l : p.layers) {
      layers.push_back({{"name", l.name},
                        {"type", l.type},
                        {"time_ms", l.time_ms},
                        {"output_bytes", l.output_bytes >= 0 ? json(l.output_bytes) : json()},
                        {"macs", l.macs >= 0 ? json(l.macs) : json()}});
    }
    doc["layers"] = layers;
  }
  if (!p.fits.empty()) {
    json fits = json::object();
    for (const auto& [cls, f] : p.fits) {
      fits[cls] = {
          {"form", f.form}, {"coef", f.coef}, {"loo_rel_error", f.error}, {"samples", f.samples}};
    }
    doc["fits"] = fits;
    if (!p.warm_ratios.empty()) doc["warm_ratios"] = p.warm_ratios;
    if (!p.warm_cases.empty()) doc["warm_cases"] = CasesToJson(p.warm_cases, "ratio");
    if (!p.cold_cases.empty()) doc["cold_cases"] = CasesToJson(p.cold_cases, "time_ms");
    if (!p.reference_cases.empty()) doc["reference_cases"] = p.reference_cases;
    if (!p.in_model_ratios.empty()) doc["in_model_ratios"] = p.in_model_ratios;
  }
  return doc.dump(2) + "\n";
}

Expected<DeviceProfile> ParseDeviceProfile(std::string_view text, std::string_view origin) {
  const std::string o(origin);
  json doc = json::parse(text, nullptr, false);
  if (doc.is_discarded() || !doc.is_object()) return Corrupt(o + ": not a JSON object");
  DeviceProfile p;
  if (doc.value("schema", "") == "deepedge.profile") {
    // `deepedge profile --json`: layers of one model, without the model's hash.
    try {
      p.model_name = doc.value("model", "");
      p.backend = doc.value("backend", "");
      p.threads = doc.value("threads", 0);
      if (doc.contains("as_run_ms") && doc["as_run_ms"].is_number())
        p.model_total_ms = doc["as_run_ms"].get<double>();
      for (const json& l : doc.at("layers")) {
        LayerProfile lp;
        lp.name = l.at("name").get<std::string>();
        lp.type = l.value("type", "");
        lp.time_ms = l.at("median_ms").get<double>();
        lp.output_bytes = OptInt(l, "output_bytes");
        lp.macs = OptInt(l, "macs");
        p.layers.push_back(std::move(lp));
      }
    } catch (const json::exception& e) {
      return InvalidArgument(o + ": malformed profile: " + e.what());
    }
    if (p.layers.empty()) return InvalidArgument(o + ": the profile has no layers");
    return p;
  }
  if (doc.value("schema", "") != kSchema)
    return InvalidArgument(o + ": not a device profile (schema is not \"" + kSchema + "\")");
  try {
    if (doc.contains("device")) {
      p.device = doc["device"].value("name", "");
      p.backend = doc["device"].value("backend", "");
      p.threads = doc["device"].value("threads", 0);
      p.l2_cache_bytes = doc["device"].value("l2_cache_bytes", std::int64_t{0});
      p.last_level_cache_bytes = doc["device"].value("last_level_cache_bytes", std::int64_t{0});
      if (p.l2_cache_bytes < 0 || p.last_level_cache_bytes < 0)
        return InvalidArgument(o + ": a cache size is negative");
    }
    if (doc.contains("power")) {
      const json& w = doc["power"];
      p.power.compute_w = w.value("compute_w", p.power.compute_w);
      p.power.idle_w = w.value("idle_w", p.power.idle_w);
      p.power.radio_tx_w = w.value("radio_tx_w", p.power.radio_tx_w);
      p.power.radio_rx_w = w.value("radio_rx_w", p.power.radio_rx_w);
      p.power.estimated = w.value("provenance", "estimated") != "measured";
    }
    if (doc.contains("model")) {
      p.model_name = doc["model"].value("name", "");
      p.model_sha256 = doc["model"].value("sha256", "");
      if (doc["model"].contains("total_ms") && doc["model"]["total_ms"].is_number())
        p.model_total_ms = doc["model"]["total_ms"].get<double>();
    }
    if (doc.contains("layers")) {
      for (const json& l : doc["layers"]) {
        LayerProfile lp;
        lp.name = l.at("name").get<std::string>();
        lp.type = l.value("type", "");
        lp.time_ms = l.at("time_ms").get<double>();
        if (!(lp.time_ms >= 0))
          return InvalidArgument(o + ": layer '" + lp.name + "' has a negative time");
        lp.output_bytes = OptInt(l, "output_bytes");
        lp.macs = OptInt(l, "macs");
        p.layers.push_back(std::move(lp));
      }
    }
    if (doc.contains("fits")) {
      for (const auto& [cls, f] : doc["fits"].items()) {
        LatencyFit fit;
        fit.form = f.at("form").get<std::string>();
        fit.coef = f.at("coef").get<std::vector<double>>();
        fit.error = f.value("loo_rel_error", 0.0);
        fit.samples = f.value("samples", 0);
        // A profile from before weights were a feature: their coefficient is 0.
        if (fit.coef.size() == kFeaturesBeforeWeights) fit.coef.push_back(0);
        if ((fit.form != "linear" && fit.form != "loglog") || fit.coef.size() != kFeatures)
          return InvalidArgument(o + ": fit '" + cls + "' is malformed (form or coef)");
        p.fits[cls] = fit;
      }
    }
    if (doc.contains("warm_ratios")) {
      for (const auto& [cls, r] : doc["warm_ratios"].items()) {
        if (!r.is_number() || !(r.get<double>() > 0) || r.get<double>() > 1)
          return InvalidArgument(o + ": warm ratio '" + cls + "' is not in (0, 1]");
        p.warm_ratios[cls] = r.get<double>();
      }
    }
    DEEPEDGE_RETURN_IF_ERROR(CasesFromJson(doc, "warm_cases", "ratio", 1.0, o + ": a warm case",
                                           "a ratio outside (0, 1]", p.warm_cases));
    DEEPEDGE_RETURN_IF_ERROR(
        CasesFromJson(doc, "cold_cases", "time_ms", std::numeric_limits<double>::infinity(),
                      o + ": a calibration case", "a time that is not positive", p.cold_cases));
    if (doc.contains("reference_cases")) {
      for (const auto& [name, ms] : doc["reference_cases"].items()) {
        if (!ms.is_number() || !(ms.get<double>() > 0) || !std::isfinite(ms.get<double>()))
          return InvalidArgument(o + ": reference case '" + name + "' has no positive time");
        p.reference_cases[name] = ms.get<double>();
      }
    }
    if (doc.contains("in_model_ratios")) {
      for (const auto& [cls, r] : doc["in_model_ratios"].items()) {
        if (!r.is_number() || !(r.get<double>() > 0) || !std::isfinite(r.get<double>()))
          return InvalidArgument(o + ": in-model ratio '" + cls + "' is not a positive number");
        p.in_model_ratios[cls] = r.get<double>();
      }
    }
  } catch (const json::exception& e) {
    return InvalidArgument(o + ": malformed device profile: " + e.what());
  }
  if (p.layers.empty() && p.fits.empty())
    return InvalidArgument(o + ": the device profile has neither layers nor fits");
  return p;
}

Expected<DeviceProfile> ReadDeviceProfile(const std::filesystem::path& path) {
  DEEPEDGE_ASSIGN_OR_RETURN(std::string text, ReadFileText(path));
  return ParseDeviceProfile(text, path.string());
}

DeviceProfile ScaleProfile(const DeviceProfile& p, double factor) {
  DeviceProfile s = p;
  for (LayerProfile& l : s.layers) l.time_ms /= factor;
  if (s.model_total_ms >= 0) s.model_total_ms /= factor;
  for (auto& [cls, cases] : s.cold_cases)
    for (Sample& c : cases) c.time_ms /= factor;
  for (auto& [name, ms] : s.reference_cases) ms /= factor;
  for (auto& [cls, f] : s.fits) {
    if (f.form == "linear") {
      for (double& c : f.coef) c /= factor;
    } else {
      f.coef[0] -= std::log(factor);
    }
  }
  return s;
}

int MatchProfileEntry(const LayerGraph& graph, std::string_view name) {
  const int i = graph.Find(name);
  if (i >= 0) return i;
  const std::size_t plus = name.find('+');
  return plus == std::string_view::npos ? -1 : graph.Find(name.substr(0, plus));
}

bool RunsFromCaches(std::int64_t activation_bytes, std::int64_t weight_bytes,
                    std::int64_t l2_bytes) {
  return l2_bytes > 0 && activation_bytes <= l2_bytes && weight_bytes <= 2 * l2_bytes;
}

namespace {

// The case of `cases` nearest `l` by the squared distance of their log features (MACs,
// input, output and weight bytes), and that distance; null when `cases` is empty.
std::pair<const Sample*, double> NearestCase(const std::vector<Sample>& cases, const Layer& l) {
  const Sample layer{l.macs, l.input_bytes, l.output_bytes, l.weight_bytes, 0};
  const std::vector<double> x = Features(layer, /*log=*/true);
  const Sample* nearest = nullptr;
  double best = std::numeric_limits<double>::infinity();
  for (const Sample& s : cases) {
    const std::vector<double> y = Features(s, /*log=*/true);
    double d = 0;
    for (std::size_t j = 1; j < x.size(); ++j) d += (x[j] - y[j]) * (x[j] - y[j]);
    if (d < best) {
      best = d;
      nearest = &s;
    }
  }
  return {nearest, best};
}

// The warm ratio of `cls`'s calibration case nearest `l`, else the class's median;
// nullopt when the profile has neither.
std::optional<double> WarmRatio(const DeviceProfile& device, const std::string& cls,
                                const Layer& l) {
  if (auto c = device.warm_cases.find(cls); c != device.warm_cases.end() && !c->second.empty())
    return NearestCase(c->second, l).first->time_ms;
  if (auto r = device.warm_ratios.find(cls); r != device.warm_ratios.end()) return r->second;
  return std::nullopt;
}

// The squared log distance at which a calibration case's residual counts half: every
// feature a factor 2 from the layer's, 4 ln(2)^2.
constexpr double kLn2 = 0.6931471805599453;
constexpr double kHalfResidualDistance = 4 * kLn2 * kLn2;

// The factor by which `fit` (of `cls`) is corrected for `l`: the nearest cold case's
// measured / fitted time, raised to a weight falling from 1 at the case itself to 1/2 at
// kHalfResidualDistance and on towards 0; 1 without cases.
double ResidualFactor(const DeviceProfile& device, const std::string& cls, const LatencyFit& fit,
                      const Layer& l) {
  auto c = device.cold_cases.find(cls);
  if (c == device.cold_cases.end() || c->second.empty()) return 1;
  const auto [s, d] = NearestCase(c->second, l);
  const double fitted = fit.Predict(s->macs, s->input_bytes, s->output_bytes, s->weight_bytes);
  if (!(fitted > 0) || !(s->time_ms > 0)) return 1;
  const double weight = std::exp2(-d / kHalfResidualDistance);
  return std::pow(s->time_ms / fitted, weight);
}

}  // namespace

Expected<std::vector<LayerCost>> LayerCosts(const LayerGraph& graph, const DeviceProfile& device) {
  std::vector<LayerCost> out(graph.layers.size());
  if (!device.layers.empty()) {
    if (!device.model_sha256.empty() && !graph.sha256.empty() &&
        device.model_sha256 != graph.sha256) {
      return InvalidArgument("the device profile is of another model (sha256 " +
                             device.model_sha256.substr(0, 12) + "..., model " +
                             graph.sha256.substr(0, 12) + "...)");
    }
    std::size_t matched = 0;
    for (const LayerProfile& l : device.layers) {
      const int i = MatchProfileEntry(graph, l.name);
      if (i < 0) continue;
      out[static_cast<std::size_t>(i)].time_ms += l.time_ms;
      out[static_cast<std::size_t>(i)].measured = true;
      ++matched;
    }
    if (matched == 0)
      return InvalidArgument("no layer of the device profile is a node of the model");
    return out;
  }
  // The producer of layer i's first input when only layer i reads it, else -1.
  auto sole_producer = [&](std::size_t i) -> int {
    const Layer& l = graph.layers[i];
    if (l.inputs.empty()) return -1;
    const DataTensor& x = graph.tensors[static_cast<std::size_t>(l.inputs[0])];
    return x.consumers.size() == 1 && !x.graph_output ? x.producer : -1;
  };
  // HardSwish written out (src/engine/passes.cc, FuseHardSwish): Add(x, c) -> Clip ->
  // Mul(x, clip) -> Div(., c), each intermediate read once. The engine runs it as one
  // HardSwish pass, predicted here as an activation on the Div; the other three are
  // fused.
  std::vector<bool> hardswish_part(graph.layers.size(), false);
  std::vector<bool> hardswish_last(graph.layers.size(), false);
  auto type_of = [&](int i) -> const std::string& {
    return graph.layers[static_cast<std::size_t>(i)].type;
  };
  for (std::size_t i = 0; i < graph.layers.size(); ++i) {
    const Layer& d = graph.layers[i];
    if ((d.type != "Div" && d.type != "Mul") || d.inputs.size() != 1) continue;
    const int m = sole_producer(i);
    if (m < 0 || type_of(m) != "Mul") continue;
    const Layer& ml = graph.layers[static_cast<std::size_t>(m)];
    if (ml.inputs.size() != 2) continue;
    for (int side = 0; side < 2; ++side) {
      const DataTensor& ct = graph.tensors[static_cast<std::size_t>(ml.inputs[side])];
      const int c = ct.producer;
      if (c < 0 || ct.consumers.size() != 1 || ct.graph_output || type_of(c) != "Clip") continue;
      const int a = sole_producer(static_cast<std::size_t>(c));
      if (a < 0 || type_of(a) != "Add") continue;
      const Layer& al = graph.layers[static_cast<std::size_t>(a)];
      if (al.inputs.size() != 1 || al.inputs[0] != ml.inputs[1 - side]) continue;
      hardswish_part[static_cast<std::size_t>(a)] = hardswish_part[static_cast<std::size_t>(c)] =
          hardswish_part[static_cast<std::size_t>(m)] = true;
      hardswish_last[i] = true;
      break;
    }
  }
  // A constant scale and / or offset feeding only a 1x1 convolution folds into its weights
  // (src/engine/passes.cc, FoldAffineIntoPointwiseConv; the layer graph does not keep
  // pads: 1x1 convolutions are taken as unpadded, as they nearly always are).
  std::vector<bool> folded_forward(graph.layers.size(), false);
  for (std::size_t i = 0; i < graph.layers.size(); ++i) {
    const Layer& conv = graph.layers[i];
    if (conv.type != "Conv" || conv.kernel_size != 1 || conv.group != 1) continue;
    int q = sole_producer(i);
    for (const char* op : {"Add", "Mul"}) {
      if (q < 0 || type_of(q) != op) continue;
      if (graph.layers[static_cast<std::size_t>(q)].inputs.size() != 1 ||
          hardswish_part[static_cast<std::size_t>(q)] ||
          hardswish_last[static_cast<std::size_t>(q)])
        break;
      folded_forward[static_cast<std::size_t>(q)] = true;
      q = sole_producer(static_cast<std::size_t>(q));
    }
  }
  for (std::size_t i = 0; i < graph.layers.size(); ++i) {
    const Layer& l = graph.layers[i];
    if (hardswish_part[i] || folded_forward[i]) {
      out[i].fused = true;
      continue;
    }
    if (l.shape_computation) {
      // Measured in the engine: 0.2-1.5 us a node (Silero VAD's), against the 1.5-3 us
      // intercepts of the fits of tensor-sized layers.
      out[i].shape_computation = true;
      continue;
    }
    // Mirrors the engine's fusions (src/engine/xnnpack: BatchNormalization folded into
    // the weights, Relu / Clip into the producer's output clamp): these layers cost
    // nothing of their own, and predicting them as stand-alone passes over memory
    // over-predicted every MobileNet block by two layers.
    int p = sole_producer(i);
    // A convolution or fully connected layer, or a map folded into one (a chain of
    // BatchNormalization and constant Mul / Add after it).
    std::function<bool(int)> linear = [&](int q) {
      if (q < 0) return false;
      const std::string& t = type_of(q);
      if (t == "Conv" || t == "Gemm") return true;
      return out[static_cast<std::size_t>(q)].fused &&
             (t == "BatchNormalization" || t == "Mul" || t == "Add") &&
             linear(sole_producer(static_cast<std::size_t>(q)));
    };
    if (l.type == "BatchNormalization" && linear(p)) {
      out[i].fused = true;
      continue;
    }
    // A constant scale or offset of such an output (PP-LCNet's learnable affine blocks)
    // folds into its weights too.
    if ((l.type == "Mul" || l.type == "Add") && l.inputs.size() == 1 && !hardswish_last[i] &&
        linear(p)) {
      out[i].fused = true;
      continue;
    }
    if ((l.type == "Relu" || l.type == "Clip") && p >= 0) {
      if (out[static_cast<std::size_t>(p)].fused &&
          graph.layers[static_cast<std::size_t>(p)].type == "BatchNormalization")
        p = sole_producer(static_cast<std::size_t>(p));
      static const std::set<std::string> kTakesClamp = {
          "Conv",          "Gemm", "MatMul", "MaxPool", "AveragePool", "GlobalAveragePool",
          "GlobalMaxPool", "Add",  "Sub",    "Mul",     "Div"};
      if (p >= 0 && kTakesClamp.count(graph.layers[static_cast<std::size_t>(p)].type)) {
        out[i].fused = true;
        continue;
      }
    }
    if (!l.branches.empty()) {
      // An If on data: its costlier branch (a detector's verifying network runs on some
      // inputs only), by the branch's own layers ("<If>/<node>").
      double costliest = 0;
      for (const LayerGraph& b : l.branches) {
        DEEPEDGE_ASSIGN_OR_RETURN(std::vector<LayerCost> bc, LayerCosts(b, device));
        double sum = 0;
        for (std::size_t j = 0; j < b.layers.size(); ++j)
          if (b.layers[j].name.rfind(l.name + "/", 0) == 0) sum += bc[j].time_ms;
        costliest = std::max(costliest, sum);
      }
      out[i].time_ms = costliest;
      out[i].costlier_branch = true;
      continue;
    }
    // The HardSwish pass reads and writes its tensor once, as an activation does.
    const std::string cls = hardswish_last[i] ? "activation" : LayerClass(l);
    auto it = cls.empty() ? device.fits.end() : device.fits.find(cls);
    if (it == device.fits.end() && !ParentLayerClass(cls).empty()) {
      it = device.fits.find(ParentLayerClass(cls));
      if (it != device.fits.end()) out[i].fallback_class = ParentLayerClass(cls);
    }
    if (it == device.fits.end()) {
      // Not calibrated: a labelled estimate from the memory-bound eltwise fit (these
      // layers read and write their tensors once), not a silent 0.
      it = device.fits.find("eltwise");
      if (it == device.fits.end()) {
        return InvalidArgument("unknown layer type " + l.type + " (layer '" + l.name +
                               "'): the device profile has no latency fit for " +
                               (cls.empty() ? "it" : "class " + cls) +
                               " nor the eltwise fit to estimate it from");
      }
      out[i].fallback_class = "eltwise";
    }
    out[i].time_ms = it->second.Predict(l.macs, l.input_bytes, l.output_bytes, l.weight_bytes);
    // An uncalibrated type estimated from the eltwise fit is no eltwise layer: no case of
    // that class stands near it.
    if (out[i].fallback_class != "eltwise" || cls == "eltwise")
      out[i].time_ms *= ResidualFactor(device, it->first, it->second, l);
    // Cold runs measured 2-3x the in-model time of small memory-bound layers (a keyword
    // spotter's 1536 -> 128 fc: 45 us cold, 19 us in the model and warm); convolutions
    // change by a few percent. The ratio of the class whose fit was used.
    if (RunsFromCaches(l.input_bytes + l.output_bytes, l.weight_bytes, device.l2_cache_bytes)) {
      if (std::optional<double> r = WarmRatio(device, it->first, l)) {
        out[i].time_ms *= *r;
        out[i].warm = true;
      }
    }
    out[i].fit_class = it->first;
    if (auto r = device.in_model_ratios.find(it->first); r != device.in_model_ratios.end()) {
      out[i].time_ms *= r->second;
      out[i].in_model = true;
    }
  }
  return out;
}

void AddClassTimes(const std::vector<LayerCost>& predicted, const std::vector<double>& measured_ms,
                   std::map<std::string, ClassTimes>& sums) {
  for (std::size_t i = 0; i < predicted.size() && i < measured_ms.size(); ++i) {
    const LayerCost& c = predicted[i];
    if (c.fit_class.empty() || c.measured || measured_ms[i] < 0) continue;
    ClassTimes& t = sums[c.fit_class];
    ++t.layers;
    t.predicted_ms += c.time_ms;
    t.measured_ms += measured_ms[i];
  }
}

std::map<std::string, double> InModelRatios(const std::map<std::string, ClassTimes>& sums) {
  std::map<std::string, double> ratios;
  for (const auto& [cls, t] : sums) {
    if (t.predicted_ms < kMinInModelMs || !(t.measured_ms > 0)) continue;
    ratios[cls] = std::clamp(t.measured_ms / t.predicted_ms, 0.5, 2.0);
  }
  return ratios;
}

Expected<std::vector<bool>> ReadPlanEdgeSet(std::string_view plan_json, const LayerGraph& graph) {
  json doc = json::parse(plan_json, nullptr, false);
  if (doc.is_discarded() || !doc.is_object() ||
      doc.value("schema", "") != "deepedge.partition_plan")
    return InvalidArgument("not a partition plan (schema is not \"deepedge.partition_plan\")");
  const std::string sha = doc.contains("model") ? doc["model"].value("sha256", "") : "";
  if (!sha.empty() && !graph.sha256.empty() && sha != graph.sha256)
    return InvalidArgument("the plan does not match the model (sha256 " + sha.substr(0, 12) +
                           "..., model " + graph.sha256.substr(0, 12) + "...)");
  if (!doc.contains("edge_layers") || !doc["edge_layers"].is_array())
    return InvalidArgument("the plan has no edge_layers list");
  std::vector<bool> e(graph.layers.size(), false);
  for (const json& n : doc["edge_layers"]) {
    if (!n.is_string()) return InvalidArgument("the plan's edge_layers holds a non-string");
    const int i = graph.Find(n.get<std::string>());
    if (i < 0)
      return InvalidArgument("the plan does not match the model: no layer '" +
                             n.get<std::string>() + "'");
    e[static_cast<std::size_t>(i)] = true;
  }
  if (doc.contains("layers") && doc["layers"].is_number_integer() &&
      doc["layers"].get<std::size_t>() != graph.layers.size())
    return InvalidArgument("the plan does not match the model: it has " +
                           std::to_string(doc["layers"].get<std::size_t>()) +
                           " layers, the model " + std::to_string(graph.layers.size()));
  if (!IsValidPlan(graph, e))
    return InvalidArgument(
        "the plan is invalid: a layer on the edge reads a server layer's output");
  return e;
}

}  // namespace deepedge::partition
