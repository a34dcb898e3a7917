#include "deepedge/model_card.h"

#include <yaml-cpp/yaml.h>

#include <algorithm>
#include <charconv>
#include <cmath>
#include <cstdlib>
#include <limits>
#include <set>
#include <sstream>

#include "deepedge/file_util.h"

namespace deepedge {

std::string_view CardTaskName(CardTask t) {
  switch (t) {
    case CardTask::kClassification:
      return "classification";
    case CardTask::kTextRecognition:
      return "text_recognition";
    case CardTask::kKeywordSpotting:
      return "keyword_spotting";
    case CardTask::kVad:
      return "vad";
    case CardTask::kDetection:
      return "detection";
    case CardTask::kAudioClassification:
      return "audio_classification";
  }
  return "?";
}

std::string_view InputLayoutName(InputLayout l) {
  return l == InputLayout::kNCHW ? "NCHW" : "NHWC";
}

std::string_view ChannelOrderName(ChannelOrder c) {
  switch (c) {
    case ChannelOrder::kGray:
      return "gray";
    case ChannelOrder::kRgb:
      return "rgb";
    case ChannelOrder::kBgr:
      return "bgr";
  }
  return "?";
}

int ChannelCount(ChannelOrder c) {
  return c == ChannelOrder::kGray ? 1 : 3;
}

namespace {

// Reads one card, turning every problem into a Status that names the card and field.
// yaml-cpp reports through exceptions; they are caught here and never leave.
class CardReader {
 public:
  explicit CardReader(const std::filesystem::path& path) : path_(path.string()) {}

  Status Error(std::string_view field, std::string_view problem) const {
    return InvalidArgument("card " + path_ + ": field '" + std::string(field) +
                           "': " + std::string(problem));
  }
  Status Contradiction(std::string_view a, std::string_view b, std::string_view why) const {
    return InvalidArgument("card " + path_ + ": fields '" + std::string(a) + "' and '" +
                           std::string(b) + "' contradict: " + std::string(why));
  }

  // Every key of `map` must be one of `known`; `where` is the map's own field path.
  Status CheckKeys(const YAML::Node& map, std::string_view where,
                   std::initializer_list<std::string_view> known) const {
    for (const auto& kv : map) {
      if (!kv.first.IsScalar()) return Error(where, "a key is not a plain name");
      const std::string key = kv.first.as<std::string>();
      bool ok = false;
      for (std::string_view k : known) ok = ok || key == k;
      if (!ok) {
        std::string list;
        for (std::string_view k : known) list += (list.empty() ? "" : ", ") + std::string(k);
        return Error(Join(where, key), "unknown field (known: " + list + ")");
      }
    }
    return Status::Ok();
  }

  static std::string Join(std::string_view where, std::string_view key) {
    return where.empty() ? std::string(key) : std::string(where) + "." + std::string(key);
  }

  Expected<std::string> String(const YAML::Node& n, std::string_view field) const {
    if (!n.IsScalar()) return Error(field, "expected a text value");
    return n.as<std::string>();
  }

  // A number, or a fraction "A/B" (so that "1/255" can be written exactly).
  Expected<double> Number(const YAML::Node& n, std::string_view field) const {
    if (!n.IsScalar()) return Error(field, "expected a number");
    const std::string s = n.as<std::string>();
    const auto slash = s.find('/');
    if (slash != std::string::npos) {
      Expected<double> a = ParseDouble(s.substr(0, slash));
      Expected<double> b = ParseDouble(s.substr(slash + 1));
      if (!a || !b || *b == 0.0) return Error(field, "'" + s + "' is not a number or fraction");
      return *a / *b;
    }
    Expected<double> v = ParseDouble(s);
    if (!v) return Error(field, "'" + s + "' is not a number");
    return *v;
  }

  Expected<std::int64_t> Integer(const YAML::Node& n, std::string_view field) const {
    if (!n.IsScalar()) return Error(field, "expected an integer");
    const std::string s = n.as<std::string>();
    std::int64_t v = 0;
    const auto [end, ec] = std::from_chars(s.data(), s.data() + s.size(), v);
    if (ec != std::errc() || end != s.data() + s.size()) {
      return Error(field, "'" + s + "' is not an integer");
    }
    return v;
  }

  Expected<bool> Bool(const YAML::Node& n, std::string_view field) const {
    if (!n.IsScalar()) return Error(field, "expected true or false");
    const std::string s = n.as<std::string>();
    if (s == "true") return true;
    if (s == "false") return false;
    return Error(field, "'" + s + "' is not true or false");
  }

  // A number or a list of numbers.
  Expected<std::vector<double>> Numbers(const YAML::Node& n, std::string_view field) const {
    std::vector<double> out;
    if (n.IsScalar()) {
      DEEPEDGE_ASSIGN_OR_RETURN(double v, Number(n, field));
      out.push_back(v);
      return out;
    }
    if (!n.IsSequence() || n.size() == 0) return Error(field, "expected a number or a list");
    for (std::size_t i = 0; i < n.size(); ++i) {
      DEEPEDGE_ASSIGN_OR_RETURN(double v,
                                Number(n[i], std::string(field) + "[" + std::to_string(i) + "]"));
      out.push_back(v);
    }
    return out;
  }

  const std::string& path() const { return path_; }

 private:
  static Expected<double> ParseDouble(std::string s) {
    while (!s.empty() && s.front() == ' ') s.erase(s.begin());
    while (!s.empty() && s.back() == ' ') s.pop_back();
    if (s.empty()) return InvalidArgument("empty");
    std::istringstream in(s);
    in.imbue(std::locale::classic());
    double v = 0;
    in >> v;
    if (in.fail() || !in.eof() || !std::isfinite(v)) return InvalidArgument("not a number");
    return v;
  }

  std::string path_;
};

Status ParsePreprocessing(const CardReader& r, const YAML::Node& node, CardPreprocessing& p) {
  constexpr std::string_view kWhere = "preprocessing";
  if (!node) return r.Error(kWhere, "missing");
  if (!node.IsMap()) return r.Error(kWhere, "expected a mapping of fields");
  DEEPEDGE_RETURN_IF_ERROR(
      r.CheckKeys(node, kWhere,
                  {"input", "layout", "channels", "resize", "scale", "mean", "std", "input_dtype",
                   "input_quantization", "max_width", "fit", "crop_fraction"}));
  if (node["input"]) {
    DEEPEDGE_ASSIGN_OR_RETURN(p.input_name, r.String(node["input"], "preprocessing.input"));
  }

  if (!node["layout"]) return r.Error("preprocessing.layout", "missing (NCHW or NHWC)");
  DEEPEDGE_ASSIGN_OR_RETURN(std::string layout, r.String(node["layout"], "preprocessing.layout"));
  if (layout == "NCHW") {
    p.layout = InputLayout::kNCHW;
  } else if (layout == "NHWC") {
    p.layout = InputLayout::kNHWC;
  } else {
    return r.Error("preprocessing.layout", "'" + layout + "' is not NCHW or NHWC");
  }

  if (!node["channels"]) return r.Error("preprocessing.channels", "missing (gray, rgb or bgr)");
  DEEPEDGE_ASSIGN_OR_RETURN(std::string ch, r.String(node["channels"], "preprocessing.channels"));
  if (ch == "gray") {
    p.channels = ChannelOrder::kGray;
  } else if (ch == "rgb") {
    p.channels = ChannelOrder::kRgb;
  } else if (ch == "bgr") {
    p.channels = ChannelOrder::kBgr;
  } else {
    return r.Error("preprocessing.channels", "'" + ch + "' is not gray, rgb or bgr");
  }
  const int c = ChannelCount(p.channels);

  if (const YAML::Node rs = node["resize"]) {
    if (!rs.IsSequence() || rs.size() != 2) {
      return r.Error("preprocessing.resize", "expected [height, width]");
    }
    DEEPEDGE_ASSIGN_OR_RETURN(std::int64_t h, r.Integer(rs[0], "preprocessing.resize[0]"));
    DEEPEDGE_ASSIGN_OR_RETURN(std::int64_t w, r.Integer(rs[1], "preprocessing.resize[1]"));
    if (h < 1 || w < 1 || h > 16384 || w > 16384) {
      return r.Error("preprocessing.resize", "height and width must be in 1..16384");
    }
    p.resize_height = h;
    p.resize_width = w;
  }

  if (node["fit"]) {
    DEEPEDGE_ASSIGN_OR_RETURN(std::string fit, r.String(node["fit"], "preprocessing.fit"));
    if (fit == "stretch") {
      p.fit = ResizeFit::kStretch;
    } else if (fit == "letterbox") {
      p.fit = ResizeFit::kLetterbox;
    } else if (fit == "center_crop") {
      p.fit = ResizeFit::kCenterCrop;
    } else {
      return r.Error("preprocessing.fit", "'" + fit + "' is not stretch, letterbox or center_crop");
    }
    if (!p.resize_height) {
      return r.Contradiction("preprocessing.fit", "preprocessing.resize", "fit needs a resize");
    }
  }
  if (node["crop_fraction"]) {
    if (p.fit != ResizeFit::kCenterCrop) {
      return r.Contradiction("preprocessing.crop_fraction", "preprocessing.fit",
                             "a crop fraction needs fit: center_crop");
    }
    DEEPEDGE_ASSIGN_OR_RETURN(p.crop_fraction,
                              r.Number(node["crop_fraction"], "preprocessing.crop_fraction"));
    if (!(p.crop_fraction > 0.0 && p.crop_fraction <= 1.0)) {
      return r.Error("preprocessing.crop_fraction", "must be in (0, 1]");
    }
  }

  if (!node["scale"]) return r.Error("preprocessing.scale", "missing (e.g. 1/255, or 1)");
  DEEPEDGE_ASSIGN_OR_RETURN(p.scale, r.Number(node["scale"], "preprocessing.scale"));
  if (p.scale == 0.0) return r.Error("preprocessing.scale", "must not be 0");

  for (const char* key : {"mean", "std"}) {
    const std::string field = std::string("preprocessing.") + key;
    std::vector<double> v(static_cast<std::size_t>(c), key[0] == 'm' ? 0.0 : 1.0);
    if (node[key]) {
      DEEPEDGE_ASSIGN_OR_RETURN(v, r.Numbers(node[key], field));
      if (v.size() == 1) v.assign(static_cast<std::size_t>(c), v[0]);
      if (static_cast<int>(v.size()) != c) {
        return r.Contradiction(field, "preprocessing.channels",
                               std::to_string(v.size()) + " values for " + std::to_string(c) +
                                   " channel(s) (" + ch + ")");
      }
    }
    if (key[0] == 's') {
      for (double s : v) {
        if (s == 0.0) return r.Error(field, "a standard deviation of 0 divides by zero");
      }
      p.std = v;
    } else {
      p.mean = v;
    }
  }

  if (!node["input_dtype"]) {
    return r.Error("preprocessing.input_dtype", "missing (float32, int8 or uint8)");
  }
  DEEPEDGE_ASSIGN_OR_RETURN(std::string dt,
                            r.String(node["input_dtype"], "preprocessing.input_dtype"));
  if (dt == "float32") {
    p.input_dtype = DType::kF32;
  } else if (dt == "int8") {
    p.input_dtype = DType::kI8;
  } else if (dt == "uint8") {
    p.input_dtype = DType::kU8;
  } else {
    return r.Error("preprocessing.input_dtype", "'" + dt + "' is not float32, int8 or uint8");
  }

  const YAML::Node q = node["input_quantization"];
  if (p.input_dtype == DType::kF32) {
    if (q) {
      return r.Contradiction("preprocessing.input_quantization", "preprocessing.input_dtype",
                             "a float32 input is not quantized");
    }
    return Status::Ok();
  }
  if (!q) {
    return r.Error("preprocessing.input_quantization",
                   "missing: an " + dt + " input needs {scale, zero_point}");
  }
  if (!q.IsMap())
    return r.Error("preprocessing.input_quantization", "expected {scale, zero_point}");
  DEEPEDGE_RETURN_IF_ERROR(
      r.CheckKeys(q, "preprocessing.input_quantization", {"scale", "zero_point"}));
  InputQuantization iq;
  if (!q["scale"]) return r.Error("preprocessing.input_quantization.scale", "missing");
  if (!q["zero_point"]) return r.Error("preprocessing.input_quantization.zero_point", "missing");
  DEEPEDGE_ASSIGN_OR_RETURN(iq.scale,
                            r.Number(q["scale"], "preprocessing.input_quantization.scale"));
  if (!(iq.scale > 0.0)) return r.Error("preprocessing.input_quantization.scale", "must be > 0");
  DEEPEDGE_ASSIGN_OR_RETURN(
      std::int64_t zp, r.Integer(q["zero_point"], "preprocessing.input_quantization.zero_point"));
  const std::int64_t lo = p.input_dtype == DType::kI8 ? -128 : 0;
  const std::int64_t hi = p.input_dtype == DType::kI8 ? 127 : 255;
  if (zp < lo || zp > hi) {
    return r.Contradiction("preprocessing.input_quantization.zero_point",
                           "preprocessing.input_dtype",
                           std::to_string(zp) + " is outside " + dt + "'s range " +
                               std::to_string(lo) + ".." + std::to_string(hi));
  }
  iq.zero_point = static_cast<std::int32_t>(zp);
  p.input_quantization = iq;
  return Status::Ok();
}

Status ParseLabels(const CardReader& r, const YAML::Node& root, const std::filesystem::path& path,
                   std::vector<std::string>& labels) {
  const char* kinds[] = {"labels", "labels_file", "synthetic_labels"};
  std::vector<std::string> given;
  for (const char* k : kinds) {
    if (root[k]) given.emplace_back(k);
  }
  if (given.empty()) {
    return r.Error("labels", "missing (a list, labels_file: PATH or synthetic_labels: N)");
  }
  if (given.size() > 1) return r.Contradiction(given[0], given[1], "give exactly one");

  if (const YAML::Node n = root["labels"]) {
    if (!n.IsSequence() || n.size() == 0) return r.Error("labels", "expected a non-empty list");
    for (std::size_t i = 0; i < n.size(); ++i) {
      DEEPEDGE_ASSIGN_OR_RETURN(std::string s, r.String(n[i], "labels[" + std::to_string(i) + "]"));
      labels.push_back(std::move(s));
    }
  } else if (const YAML::Node f = root["labels_file"]) {
    DEEPEDGE_ASSIGN_OR_RETURN(std::string file, r.String(f, "labels_file"));
    std::filesystem::path p = file;
    if (p.is_relative()) p = path.parent_path() / p;
    Expected<std::string> text = ReadFileText(p);
    if (!text) return r.Error("labels_file", text.status().message());
    std::istringstream in(*text);
    std::string line;
    while (std::getline(in, line)) {
      if (!line.empty() && line.back() == '\r') line.pop_back();
      if (!line.empty()) labels.push_back(line);
    }
    if (labels.empty()) return r.Error("labels_file", p.string() + " holds no labels");
  } else {
    DEEPEDGE_ASSIGN_OR_RETURN(std::int64_t n,
                              r.Integer(root["synthetic_labels"], "synthetic_labels"));
    if (n < 1 || n > 1000000) return r.Error("synthetic_labels", "must be in 1..1000000");
    for (std::int64_t i = 0; i < n; ++i) labels.push_back("class " + std::to_string(i));
  }
  return Status::Ok();
}

// The text_recognition fields: charset, use_space_char, preprocessing.resize /
// max_width, postprocessing.decode.
Status ParseTextRecognition(const CardReader& r, const YAML::Node& root,
                            const std::filesystem::path& path, ModelCard& card) {
  for (const char* k : {"labels", "labels_file", "synthetic_labels"}) {
    if (root[k]) {
      return r.Contradiction(k, "task", "a text_recognition card gives a charset, not labels");
    }
  }
  CardTextRecognition& t = card.text;
  if (root["use_space_char"]) {
    DEEPEDGE_ASSIGN_OR_RETURN(t.use_space_char, r.Bool(root["use_space_char"], "use_space_char"));
  }
  if (!root["charset"]) {
    return r.Error("charset",
                   "missing: the file of the recogniser's characters, one a line (a path "
                   "relative to the card, or fixture:REL in the fixture cache)");
  }
  DEEPEDGE_ASSIGN_OR_RETURN(t.charset_source, r.String(root["charset"], "charset"));
  if (t.charset_source.empty() || t.charset_source == "fixture:") {
    return r.Error("charset", "empty path");
  }
  t.charset_path = ResolveCardFile(t.charset_source, path);
  Expected<std::string> text = ReadFileText(t.charset_path);
  if (!text) {
    std::string hint;
    if (t.charset_source.rfind("fixture:", 0) == 0) hint = " (run scripts/fetch_fixtures.sh)";
    return r.Error("charset", text.status().message() + hint);
  }
  Expected<std::vector<std::string>> charset = ParseCharset(*text, t.use_space_char);
  if (!charset)
    return r.Error("charset", t.charset_path.string() + ": " + charset.status().message());
  t.charset = std::move(*charset);

  const CardPreprocessing& pre = card.preprocessing;
  if (!pre.resize_height) {
    return r.Error("preprocessing.resize",
                   "missing: a text_recognition card needs [height, width] (e.g. [48, 320])");
  }
  if (pre.input_dtype != DType::kF32) {
    return r.Error("preprocessing.input_dtype", "text_recognition supports float32 inputs only");
  }
  t.max_width = *pre.resize_width;
  if (const YAML::Node mw = root["preprocessing"]["max_width"]) {
    DEEPEDGE_ASSIGN_OR_RETURN(t.max_width, r.Integer(mw, "preprocessing.max_width"));
    if (t.max_width < *pre.resize_width || t.max_width > 16384) {
      return r.Contradiction("preprocessing.max_width", "preprocessing.resize",
                             std::to_string(t.max_width) + " is not in " +
                                 std::to_string(*pre.resize_width) + "..16384 (the resize width)");
    }
  }

  const YAML::Node node = root["postprocessing"];
  if (!node) return r.Error("postprocessing", "missing (decode: ctc_greedy)");
  if (!node.IsMap()) return r.Error("postprocessing", "expected a mapping of fields");
  DEEPEDGE_RETURN_IF_ERROR(r.CheckKeys(node, "postprocessing", {"output", "softmax", "decode"}));
  CardPostprocessing& p = card.postprocessing;
  if (node["output"]) {
    DEEPEDGE_ASSIGN_OR_RETURN(p.output_name, r.String(node["output"], "postprocessing.output"));
  }
  if (node["softmax"]) {
    DEEPEDGE_ASSIGN_OR_RETURN(p.softmax, r.Bool(node["softmax"], "postprocessing.softmax"));
  }
  if (!node["decode"]) return r.Error("postprocessing.decode", "missing (ctc_greedy)");
  DEEPEDGE_ASSIGN_OR_RETURN(p.decode, r.String(node["decode"], "postprocessing.decode"));
  if (p.decode != "ctc_greedy") {
    return r.Error("postprocessing.decode", "'" + p.decode + "' is not ctc_greedy");
  }
  p.top_k = 1;
  return Status::Ok();
}

// An integer list of 1..max values (strides, anchor counts).
Expected<std::vector<std::int64_t>> PositiveIntegers(const CardReader& r, const YAML::Node& n,
                                                     const std::string& field, std::int64_t max) {
  if (!n || !n.IsSequence() || n.size() == 0) return r.Error(field, "expected a non-empty list");
  std::vector<std::int64_t> out;
  for (std::size_t i = 0; i < n.size(); ++i) {
    const std::string f = field + "[" + std::to_string(i) + "]";
    DEEPEDGE_ASSIGN_OR_RETURN(std::int64_t v, r.Integer(n[i], f));
    if (v < 1 || v > max) return r.Error(f, "must be in 1.." + std::to_string(max));
    out.push_back(v);
  }
  return out;
}

// A number in [lo, hi].
Expected<double> NumberIn(const CardReader& r, const YAML::Node& n, const std::string& field,
                          double lo, double hi) {
  DEEPEDGE_ASSIGN_OR_RETURN(double v, r.Number(n, field));
  if (v < lo || v > hi) {
    return r.Error(field, "must be in " + std::to_string(lo) + ".." + std::to_string(hi));
  }
  return v;
}

// The detection fields: one label, preprocessing.resize, postprocessing (decode:
// ssd_anchors, its outputs, anchors, scores, NMS and matching).
Status ParseDetection(const CardReader& r, const YAML::Node& root, ModelCard& card) {
  if (card.labels.size() != 1) {
    return r.Error("labels", "a detection card names exactly one class (" +
                                 std::to_string(card.labels.size()) + " given)");
  }
  if (!card.preprocessing.resize_height) {
    return r.Error("preprocessing.resize", "missing: a detection card needs [height, width]");
  }
  const YAML::Node node = root["postprocessing"];
  if (!node) return r.Error("postprocessing", "missing (decode: ssd_anchors, ...)");
  if (!node.IsMap()) return r.Error("postprocessing", "expected a mapping of fields");
  DEEPEDGE_RETURN_IF_ERROR(
      r.CheckKeys(node, "postprocessing",
                  {"decode", "boxes_output", "scores_output", "anchors", "box_scale", "scores",
                   "score_threshold", "nms", "nms_iou", "max_detections", "match_iou"}));
  CardDetection& d = card.detection;
  if (!node["decode"]) return r.Error("postprocessing.decode", "missing (ssd_anchors)");
  DEEPEDGE_ASSIGN_OR_RETURN(card.postprocessing.decode,
                            r.String(node["decode"], "postprocessing.decode"));
  if (card.postprocessing.decode != "ssd_anchors") {
    return r.Error("postprocessing.decode",
                   "'" + card.postprocessing.decode + "' is not ssd_anchors");
  }
  for (const char* k : {"boxes_output", "scores_output"}) {
    const std::string field = std::string("postprocessing.") + k;
    if (!node[k]) return r.Error(field, "missing: the model output's name");
    DEEPEDGE_ASSIGN_OR_RETURN(std::string name, r.String(node[k], field));
    (k[0] == 'b' ? d.boxes_output : d.scores_output) = std::move(name);
  }
  const YAML::Node a = node["anchors"];
  if (!a || !a.IsMap()) {
    return r.Error("postprocessing.anchors", "missing: {strides: [...], per_cell: [...]}");
  }
  DEEPEDGE_RETURN_IF_ERROR(
      r.CheckKeys(a, "postprocessing.anchors", {"strides", "per_cell", "offset"}));
  DEEPEDGE_ASSIGN_OR_RETURN(d.anchor_strides,
                            PositiveIntegers(r, a["strides"], "postprocessing.anchors.strides",
                                             *card.preprocessing.resize_height));
  DEEPEDGE_ASSIGN_OR_RETURN(
      d.anchors_per_cell,
      PositiveIntegers(r, a["per_cell"], "postprocessing.anchors.per_cell", 64));
  if (d.anchors_per_cell.size() != d.anchor_strides.size()) {
    return r.Contradiction("postprocessing.anchors.per_cell", "postprocessing.anchors.strides",
                           "one anchor count per stride");
  }
  if (a["offset"]) {
    DEEPEDGE_ASSIGN_OR_RETURN(d.anchor_offset,
                              NumberIn(r, a["offset"], "postprocessing.anchors.offset", 0, 1));
  }
  if (!node["box_scale"]) {
    return r.Error("postprocessing.box_scale",
                   "missing: what the raw box values are divided by (e.g. the input size)");
  }
  DEEPEDGE_ASSIGN_OR_RETURN(d.box_scale,
                            NumberIn(r, node["box_scale"], "postprocessing.box_scale", 1e-6, 1e9));
  if (!node["scores"]) return r.Error("postprocessing.scores", "missing (logits or probabilities)");
  DEEPEDGE_ASSIGN_OR_RETURN(std::string scores, r.String(node["scores"], "postprocessing.scores"));
  if (scores != "logits" && scores != "probabilities") {
    return r.Error("postprocessing.scores", "'" + scores + "' is not logits or probabilities");
  }
  d.logits = scores == "logits";
  if (node["score_threshold"]) {
    DEEPEDGE_ASSIGN_OR_RETURN(d.score_threshold, NumberIn(r, node["score_threshold"],
                                                          "postprocessing.score_threshold", 0, 1));
  }
  if (node["nms"]) {
    DEEPEDGE_ASSIGN_OR_RETURN(std::string nms, r.String(node["nms"], "postprocessing.nms"));
    if (nms != "weighted" && nms != "hard") {
      return r.Error("postprocessing.nms", "'" + nms + "' is not weighted or hard");
    }
    d.weighted_nms = nms == "weighted";
  }
  if (node["nms_iou"]) {
    DEEPEDGE_ASSIGN_OR_RETURN(d.nms_iou,
                              NumberIn(r, node["nms_iou"], "postprocessing.nms_iou", 0, 1));
  }
  if (node["match_iou"]) {
    DEEPEDGE_ASSIGN_OR_RETURN(d.match_iou,
                              NumberIn(r, node["match_iou"], "postprocessing.match_iou", 0.01, 1));
  }
  if (node["max_detections"]) {
    DEEPEDGE_ASSIGN_OR_RETURN(std::int64_t m,
                              r.Integer(node["max_detections"], "postprocessing.max_detections"));
    if (m < 1 || m > 100000)
      return r.Error("postprocessing.max_detections", "must be in 1..100000");
    d.max_detections = static_cast<int>(m);
  }
  card.postprocessing.top_k = 1;
  return Status::Ok();
}

// The vad fields: no labels; audio preprocessing (sample rate, frame, context, the
// recurrent state and sample-rate inputs) and the smoothing of the probabilities.
Status ParseVad(const CardReader& r, const YAML::Node& root, ModelCard& card) {
  for (const char* k : {"labels", "labels_file", "synthetic_labels", "charset", "use_space_char"}) {
    if (root[k]) return r.Contradiction(k, "task", "a vad card has no labels or charset");
  }
  CardVad& v = card.vad;
  const YAML::Node pre = root["preprocessing"];
  if (!pre) return r.Error("preprocessing", "missing (input, sample_rate, frame, ...)");
  if (!pre.IsMap()) return r.Error("preprocessing", "expected a mapping of fields");
  DEEPEDGE_RETURN_IF_ERROR(r.CheckKeys(
      pre, "preprocessing",
      {"input", "sample_rate", "frame", "context", "state_input", "state_output", "rate_input"}));
  if (pre["input"]) {
    DEEPEDGE_ASSIGN_OR_RETURN(card.preprocessing.input_name,
                              r.String(pre["input"], "preprocessing.input"));
  }
  if (!pre["sample_rate"]) return r.Error("preprocessing.sample_rate", "missing (Hz, e.g. 16000)");
  DEEPEDGE_ASSIGN_OR_RETURN(v.sample_rate,
                            r.Integer(pre["sample_rate"], "preprocessing.sample_rate"));
  if (v.sample_rate < 1000 || v.sample_rate > 384000) {
    return r.Error("preprocessing.sample_rate", "must be in 1000..384000 Hz");
  }
  if (!pre["frame"]) return r.Error("preprocessing.frame", "missing (samples per inference)");
  DEEPEDGE_ASSIGN_OR_RETURN(v.frame, r.Integer(pre["frame"], "preprocessing.frame"));
  if (v.frame < 1 || v.frame > 1048576)
    return r.Error("preprocessing.frame", "must be in 1..1048576");
  if (pre["context"]) {
    DEEPEDGE_ASSIGN_OR_RETURN(v.context, r.Integer(pre["context"], "preprocessing.context"));
    if (v.context < 0 || v.context > v.frame) {
      return r.Contradiction("preprocessing.context", "preprocessing.frame",
                             "the context is the end of the previous frame: 0..frame samples");
    }
  }
  for (const char* k : {"state_input", "state_output", "rate_input"}) {
    if (!pre[k]) continue;
    const std::string field = std::string("preprocessing.") + k;
    DEEPEDGE_ASSIGN_OR_RETURN(std::string name, r.String(pre[k], field));
    if (name.empty()) return r.Error(field, "empty name");
    (k[0] == 'r' ? v.rate_input : k[6] == 'i' ? v.state_input : v.state_output) = std::move(name);
  }
  if (v.state_input.empty() != v.state_output.empty()) {
    return r.Contradiction("preprocessing.state_input", "preprocessing.state_output",
                           "a recurrent state needs both (the output is fed back as the input)");
  }
  const std::string& in = card.preprocessing.input_name;
  if (!in.empty() && (in == v.state_input || in == v.rate_input)) {
    return r.Contradiction(
        "preprocessing.input",
        in == v.rate_input ? "preprocessing.rate_input" : "preprocessing.state_input",
        "the same input '" + in + "' named twice");
  }

  const YAML::Node post = root["postprocessing"];
  if (!post) return r.Error("postprocessing", "missing (output, threshold, ...)");
  if (!post.IsMap()) return r.Error("postprocessing", "expected a mapping of fields");
  DEEPEDGE_RETURN_IF_ERROR(
      r.CheckKeys(post, "postprocessing",
                  {"output", "threshold", "negative_threshold", "hangover_ms", "min_speech_ms"}));
  if (post["output"]) {
    DEEPEDGE_ASSIGN_OR_RETURN(card.postprocessing.output_name,
                              r.String(post["output"], "postprocessing.output"));
  }
  if (!post["threshold"]) {
    return r.Error("postprocessing.threshold", "missing (the speech probability, e.g. 0.5)");
  }
  DEEPEDGE_ASSIGN_OR_RETURN(v.threshold,
                            NumberIn(r, post["threshold"], "postprocessing.threshold", 0, 1));
  if (v.threshold <= 0) return r.Error("postprocessing.threshold", "must be above 0");
  // Silero's VADIterator and get_speech_timestamps: max(threshold - 0.15, 0.01).
  v.negative_threshold = std::max(v.threshold - 0.15, std::min(0.01, v.threshold));
  if (post["negative_threshold"]) {
    DEEPEDGE_ASSIGN_OR_RETURN(
        v.negative_threshold,
        NumberIn(r, post["negative_threshold"], "postprocessing.negative_threshold", 0, 1));
    if (v.negative_threshold > v.threshold) {
      return r.Contradiction("postprocessing.negative_threshold", "postprocessing.threshold",
                             "the quiet level must not be above the speech level");
    }
  }
  for (const char* k : {"hangover_ms", "min_speech_ms"}) {
    if (!post[k]) continue;
    const std::string field = std::string("postprocessing.") + k;
    DEEPEDGE_ASSIGN_OR_RETURN(double ms, NumberIn(r, post[k], field, 0, 3600e3));
    (k[0] == 'h' ? v.hangover_ms : v.min_speech_ms) = ms;
  }
  card.preprocessing.input_dtype = DType::kF32;
  card.postprocessing.top_k = 1;
  return Status::Ok();
}

// The keyword_spotting fields: the front-end models, the audio framing of the
// openWakeWord pipeline and the detection rule.
Status ParseKeywordSpotting(const CardReader& r, const YAML::Node& root,
                            const std::filesystem::path& path, ModelCard& card) {
  for (const char* k : {"labels", "labels_file", "synthetic_labels", "charset", "use_space_char"}) {
    if (root[k]) {
      return r.Contradiction(k, "task", "a keyword_spotting card has no labels or charset");
    }
  }
  CardKeywordSpotting& w = card.kws;
  const YAML::Node fe = root["frontend"];
  if (!fe) return r.Error("frontend", "missing (melspectrogram and embedding models)");
  if (!fe.IsMap()) return r.Error("frontend", "expected a mapping of fields");
  DEEPEDGE_RETURN_IF_ERROR(r.CheckKeys(fe, "frontend", {"melspectrogram", "embedding"}));
  for (const char* k : {"melspectrogram", "embedding"}) {
    const std::string field = std::string("frontend.") + k;
    if (!fe[k]) return r.Error(field, "missing (a model file)");
    DEEPEDGE_ASSIGN_OR_RETURN(std::string src, r.String(fe[k], field));
    if (src.empty()) return r.Error(field, "empty path");
    const bool mel = k[0] == 'm';
    (mel ? w.melspectrogram_path : w.embedding_path) = ResolveCardFile(src, path);
    (mel ? w.melspectrogram_source : w.embedding_source) = std::move(src);
  }

  const YAML::Node pre = root["preprocessing"];
  if (!pre) return r.Error("preprocessing", "missing (sample_rate, chunk, ...)");
  if (!pre.IsMap()) return r.Error("preprocessing", "expected a mapping of fields");
  DEEPEDGE_RETURN_IF_ERROR(
      r.CheckKeys(pre, "preprocessing",
                  {"sample_rate", "chunk", "context", "input_scale", "mel_bins", "mel_transform",
                   "window", "step", "embeddings"}));
  struct IntField {
    const char* key;
    std::int64_t* value;
    std::int64_t lo, hi;
    bool required;
  };
  const IntField ints[] = {{"sample_rate", &w.sample_rate, 1000, 384000, true},
                           {"chunk", &w.chunk, 1, 1048576, true},
                           {"context", &w.context, 0, 8388608, false},
                           {"mel_bins", &w.mel_bins, 1, 4096, true},
                           {"window", &w.window, 1, 4096, true},
                           {"step", &w.step, 1, 4096, true},
                           {"embeddings", &w.embeddings, 1, 4096, true}};
  for (const IntField& f : ints) {
    const std::string field = std::string("preprocessing.") + f.key;
    if (!pre[f.key]) {
      if (f.required) return r.Error(field, "missing");
      continue;
    }
    DEEPEDGE_ASSIGN_OR_RETURN(*f.value, r.Integer(pre[f.key], field));
    if (*f.value < f.lo || *f.value > f.hi) {
      return r.Error(field, "must be in " + std::to_string(f.lo) + ".." + std::to_string(f.hi));
    }
  }
  if (w.context > 8 * w.chunk) {
    return r.Contradiction("preprocessing.context", "preprocessing.chunk",
                           "at most 8 chunks of earlier audio");
  }
  if (w.step > w.window) {
    return r.Contradiction("preprocessing.step", "preprocessing.window",
                           "a step longer than the window skips mel frames");
  }
  if (pre["input_scale"]) {
    DEEPEDGE_ASSIGN_OR_RETURN(w.input_scale,
                              NumberIn(r, pre["input_scale"], "preprocessing.input_scale", 0, 1e9));
    if (w.input_scale <= 0) return r.Error("preprocessing.input_scale", "must be above 0");
  }
  const YAML::Node mt = pre["mel_transform"];
  if (!mt) return r.Error("preprocessing.mel_transform", "missing ({scale: 0.1, offset: 2})");
  if (!mt.IsMap()) return r.Error("preprocessing.mel_transform", "expected {scale, offset}");
  DEEPEDGE_RETURN_IF_ERROR(r.CheckKeys(mt, "preprocessing.mel_transform", {"scale", "offset"}));
  for (const char* k : {"scale", "offset"}) {
    const std::string field = std::string("preprocessing.mel_transform.") + k;
    if (!mt[k]) return r.Error(field, "missing");
    DEEPEDGE_ASSIGN_OR_RETURN(double v, NumberIn(r, mt[k], field, -1e6, 1e6));
    (k[0] == 's' ? w.mel_scale : w.mel_offset) = v;
  }
  if (w.mel_scale == 0) return r.Error("preprocessing.mel_transform.scale", "must not be 0");

  const YAML::Node post = root["postprocessing"];
  if (!post) return r.Error("postprocessing", "missing (threshold, refractory_ms)");
  if (!post.IsMap()) return r.Error("postprocessing", "expected a mapping of fields");
  DEEPEDGE_RETURN_IF_ERROR(
      r.CheckKeys(post, "postprocessing", {"threshold", "refractory_ms", "warmup_predictions"}));
  if (!post["threshold"]) return r.Error("postprocessing.threshold", "missing (e.g. 0.5)");
  DEEPEDGE_ASSIGN_OR_RETURN(w.threshold,
                            NumberIn(r, post["threshold"], "postprocessing.threshold", 0, 1));
  if (w.threshold <= 0) return r.Error("postprocessing.threshold", "must be above 0");
  if (post["refractory_ms"]) {
    DEEPEDGE_ASSIGN_OR_RETURN(w.refractory_ms, NumberIn(r, post["refractory_ms"],
                                                        "postprocessing.refractory_ms", 0, 3600e3));
  }
  if (post["warmup_predictions"]) {
    DEEPEDGE_ASSIGN_OR_RETURN(w.warmup_predictions, r.Integer(post["warmup_predictions"],
                                                              "postprocessing.warmup_predictions"));
    if (w.warmup_predictions < 0 || w.warmup_predictions > 1000000) {
      return r.Error("postprocessing.warmup_predictions",
                     "must be a non-negative integer (0..1000000 scores)");
    }
  }
  card.preprocessing.input_dtype = DType::kF32;
  card.postprocessing.top_k = 1;
  return Status::Ok();
}

Status ParsePostprocessing(const CardReader& r, const YAML::Node& node, std::size_t label_count,
                           CardPostprocessing& p);

// The audio_classification fields: the front-end model, the framing, the labels and a
// classification card's postprocessing.
Status ParseAudioClassification(const CardReader& r, const YAML::Node& root,
                                const std::filesystem::path& path, ModelCard& card) {
  for (const char* k : {"charset", "use_space_char"}) {
    if (root[k]) return r.Error(k, "only for text_recognition cards");
  }
  CardAudioClassification& a = card.audio;
  const YAML::Node fe = root["frontend"];
  if (!fe) return r.Error("frontend", "missing (model: the front-end model file)");
  if (!fe.IsMap()) return r.Error("frontend", "expected a mapping of fields");
  DEEPEDGE_RETURN_IF_ERROR(r.CheckKeys(fe, "frontend", {"model"}));
  if (!fe["model"]) return r.Error("frontend.model", "missing (a model file)");
  DEEPEDGE_ASSIGN_OR_RETURN(a.frontend_source, r.String(fe["model"], "frontend.model"));
  if (a.frontend_source.empty()) return r.Error("frontend.model", "empty path");

  const YAML::Node pre = root["preprocessing"];
  if (!pre) return r.Error("preprocessing", "missing (sample_rate, frame, stride, frames)");
  if (!pre.IsMap()) return r.Error("preprocessing", "expected a mapping of fields");
  DEEPEDGE_RETURN_IF_ERROR(
      r.CheckKeys(pre, "preprocessing", {"sample_rate", "frame", "stride", "frames"}));
  struct IntField {
    const char* key;
    std::int64_t* value;
    std::int64_t lo, hi;
  };
  const IntField ints[] = {{"sample_rate", &a.sample_rate, 1000, 384000},
                           {"frame", &a.frame, 1, 1048576},
                           {"stride", &a.stride, 1, 1048576},
                           {"frames", &a.frames, 1, 65536}};
  for (const IntField& f : ints) {
    const std::string field = std::string("preprocessing.") + f.key;
    if (!pre[f.key]) return r.Error(field, "missing");
    DEEPEDGE_ASSIGN_OR_RETURN(*f.value, r.Integer(pre[f.key], field));
    if (*f.value < f.lo || *f.value > f.hi) {
      return r.Error(field, "must be in " + std::to_string(f.lo) + ".." + std::to_string(f.hi));
    }
  }
  if (a.stride > a.frame) {
    return r.Contradiction("preprocessing.stride", "preprocessing.frame",
                           "a stride longer than the frame skips audio");
  }
  DEEPEDGE_RETURN_IF_ERROR(ParseLabels(r, root, path, card.labels));
  DEEPEDGE_RETURN_IF_ERROR(
      ParsePostprocessing(r, root["postprocessing"], card.labels.size(), card.postprocessing));
  card.preprocessing.input_dtype = DType::kI8;  // informative; the front end decides
  return Status::Ok();
}

Status ParsePostprocessing(const CardReader& r, const YAML::Node& node, std::size_t label_count,
                           CardPostprocessing& p) {
  if (!node) return r.Error("postprocessing", "missing");
  if (!node.IsMap()) return r.Error("postprocessing", "expected a mapping of fields");
  DEEPEDGE_RETURN_IF_ERROR(
      r.CheckKeys(node, "postprocessing", {"output", "softmax", "top_k", "decode"}));
  if (node["decode"]) {
    return r.Error("postprocessing.decode", "only for text_recognition cards");
  }
  if (node["output"]) {
    DEEPEDGE_ASSIGN_OR_RETURN(p.output_name, r.String(node["output"], "postprocessing.output"));
  }
  if (!node["softmax"]) {
    return r.Error("postprocessing.softmax",
                   "missing (true: the outputs are logits; false: they are already scores)");
  }
  DEEPEDGE_ASSIGN_OR_RETURN(p.softmax, r.Bool(node["softmax"], "postprocessing.softmax"));
  if (node["top_k"]) {
    DEEPEDGE_ASSIGN_OR_RETURN(std::int64_t k, r.Integer(node["top_k"], "postprocessing.top_k"));
    if (k < 1) return r.Error("postprocessing.top_k", "must be at least 1");
    if (static_cast<std::size_t>(k) > label_count) {
      return r.Contradiction(
          "postprocessing.top_k", "labels",
          "top " + std::to_string(k) + " of only " + std::to_string(label_count) + " labels");
    }
    p.top_k = static_cast<int>(k);
  } else {
    p.top_k = static_cast<int>(std::min<std::size_t>(5, label_count));
  }
  return Status::Ok();
}

Expected<ModelCard> ParseCardTree(const CardReader& r, const YAML::Node& root,
                                  const std::filesystem::path& path) {
  if (!root || root.IsNull()) return InvalidArgument("card " + r.path() + ": empty file");
  if (!root.IsMap()) return InvalidArgument("card " + r.path() + ": not a YAML mapping of fields");
  DEEPEDGE_RETURN_IF_ERROR(
      r.CheckKeys(root, "",
                  {"card_version", "name", "model", "description", "task", "weights", "dataset",
                   "preprocessing", "labels", "labels_file", "synthetic_labels", "postprocessing",
                   "charset", "use_space_char", "frontend"}));
  ModelCard card;
  card.path = path;
  if (!root["card_version"]) return r.Error("card_version", "missing (1)");
  DEEPEDGE_ASSIGN_OR_RETURN(std::int64_t version, r.Integer(root["card_version"], "card_version"));
  if (version != kModelCardVersion) {
    return r.Error("card_version", std::to_string(version) + " is not a version this DeepEdge " +
                                       "reads (" + std::to_string(kModelCardVersion) + ")");
  }
  card.name = path.stem().string();
  if (root["name"]) {
    DEEPEDGE_ASSIGN_OR_RETURN(card.name, r.String(root["name"], "name"));
  }
  if (root["model"]) {
    DEEPEDGE_ASSIGN_OR_RETURN(card.model, r.String(root["model"], "model"));
  }
  for (const char* k : {"description", "dataset"}) {
    if (root[k]) DEEPEDGE_RETURN_IF_ERROR(r.String(root[k], k).status());
  }

  if (!root["task"]) return r.Error("task", "missing (classification or text_recognition)");
  DEEPEDGE_ASSIGN_OR_RETURN(std::string task, r.String(root["task"], "task"));
  bool known = false;
  for (CardTask t :
       {CardTask::kClassification, CardTask::kTextRecognition, CardTask::kKeywordSpotting,
        CardTask::kVad, CardTask::kDetection, CardTask::kAudioClassification}) {
    if (task == CardTaskName(t)) {
      card.task = t;
      known = true;
    }
  }
  if (!known) {
    return r.Error("task", "'" + task +
                               "' is not one of classification, text_recognition, "
                               "keyword_spotting, vad, detection, audio_classification");
  }

  if (!root["weights"]) return r.Error("weights", "missing (trained or synthetic)");
  DEEPEDGE_ASSIGN_OR_RETURN(std::string weights, r.String(root["weights"], "weights"));
  if (weights != "trained" && weights != "synthetic") {
    return r.Error("weights", "'" + weights + "' is not trained or synthetic");
  }
  card.synthetic_weights = weights == "synthetic";
  if (card.task != CardTask::kKeywordSpotting && card.task != CardTask::kAudioClassification &&
      root["frontend"]) {
    return r.Error("frontend", "only for keyword_spotting and audio_classification cards");
  }
  if (card.task == CardTask::kAudioClassification) {
    DEEPEDGE_RETURN_IF_ERROR(ParseAudioClassification(r, root, path, card));
    return card;
  }
  if (card.task == CardTask::kVad) {
    DEEPEDGE_RETURN_IF_ERROR(ParseVad(r, root, card));
    return card;
  }
  if (card.task == CardTask::kKeywordSpotting) {
    DEEPEDGE_RETURN_IF_ERROR(ParseKeywordSpotting(r, root, path, card));
    return card;
  }

  DEEPEDGE_RETURN_IF_ERROR(ParsePreprocessing(r, root["preprocessing"], card.preprocessing));
  if (card.preprocessing.fit == ResizeFit::kLetterbox && card.task != CardTask::kDetection) {
    return r.Error("preprocessing.fit", "letterbox is only for detection cards");
  }
  if (card.preprocessing.fit == ResizeFit::kCenterCrop && card.task != CardTask::kClassification) {
    return r.Error("preprocessing.fit", "center_crop is only for classification cards");
  }
  if (card.task == CardTask::kTextRecognition) {
    DEEPEDGE_RETURN_IF_ERROR(ParseTextRecognition(r, root, path, card));
    return card;
  }
  for (const char* k : {"charset", "use_space_char"}) {
    if (root[k]) return r.Error(k, "only for text_recognition cards");
  }
  if (root["preprocessing"]["max_width"]) {
    return r.Error("preprocessing.max_width", "only for text_recognition cards");
  }
  DEEPEDGE_RETURN_IF_ERROR(ParseLabels(r, root, path, card.labels));
  if (card.task == CardTask::kDetection) {
    DEEPEDGE_RETURN_IF_ERROR(ParseDetection(r, root, card));
    return card;
  }

  DEEPEDGE_RETURN_IF_ERROR(
      ParsePostprocessing(r, root["postprocessing"], card.labels.size(), card.postprocessing));
  return card;
}

}  // namespace

Expected<ModelCard> ParseModelCard(std::string_view yaml, const std::filesystem::path& path) {
  const CardReader reader(path);
  try {
    const YAML::Node root = YAML::Load(std::string(yaml));
    return ParseCardTree(reader, root, path);
  } catch (const YAML::Exception& e) {
    // yaml-cpp's message carries the line and column of the syntax error.
    return InvalidArgument("card " + path.string() + ": not valid YAML: " + e.what());
  } catch (const std::exception& e) {
    return InvalidArgument("card " + path.string() + ": " + e.what());
  }
}

Expected<ModelCard> ReadModelCard(const std::filesystem::path& path) {
  DEEPEDGE_ASSIGN_OR_RETURN(std::string text, ReadFileText(path));
  return ParseModelCard(text, path);
}

Expected<std::vector<std::string>> ParseCharset(std::string_view text, bool use_space_char) {
  std::vector<std::string> out{""};  // class 0: the CTC blank
  std::size_t line_no = 0, start = 0;
  while (start < text.size()) {
    std::size_t end = text.find('\n', start);
    if (end == std::string_view::npos) end = text.size();
    std::string_view line = text.substr(start, end - start);
    ++line_no;
    if (!line.empty() && line.back() == '\r') line.remove_suffix(1);
    if (line.empty()) {
      return InvalidArgument("line " + std::to_string(line_no) +
                             " is empty (one character a line expected)");
    }
    out.emplace_back(line);
    start = end + 1;
  }
  if (out.size() == 1) return InvalidArgument("no characters");
  if (use_space_char) out.emplace_back(" ");
  return out;
}

std::filesystem::path ResolveCardFile(std::string_view file, const std::filesystem::path& card) {
  constexpr std::string_view kFixture = "fixture:";
  if (file.substr(0, kFixture.size()) == kFixture) {
    std::filesystem::path root;
    if (const char* env = std::getenv("DEEPEDGE_FIXTURES"); env && *env) {
      root = env;
    } else if (const char* home = std::getenv("HOME"); home && *home) {
      root = std::filesystem::path(home) / ".cache" / "deepedge" / "fixtures";
    }
    return root / std::filesystem::path(file.substr(kFixture.size()));
  }
  std::filesystem::path p(file);
  if (p.is_relative()) p = card.parent_path() / p;
  return p;
}

std::filesystem::path ResolveFrontendModel(std::string_view source,
                                           const std::filesystem::path& model) {
  const std::filesystem::path p(source);
  if (source.rfind("fixture:", 0) == 0 || p.is_absolute()) return ResolveCardFile(source, model);
  return model.parent_path() / p;
}

std::optional<std::filesystem::path> FindCardBeside(const std::filesystem::path& model) {
  std::filesystem::path card = model;
  card.replace_extension(".yaml");
  std::error_code ec;
  if (card != model && std::filesystem::is_regular_file(card, ec)) return card;
  return std::nullopt;
}

}  // namespace deepedge
