// deepedge eval MODEL --data PATH: accuracy on labelled data, with its confidence
// interval, as the model card says to prepare inputs and read outputs.
#include <unistd.h>

#include <chrono>
#include <cmath>
#include <cstdio>
#include <filesystem>

#include "app.h"
#include "common.h"
#include "deepedge/environment.h"
#include "deepedge/eval.h"
#include "deepedge/file_util.h"
#include "deepedge/monitors.h"
#include "deepedge/npy.h"
#include "deepedge/report.h"
#include "deepedge/stats.h"
#include "model_info_util.h"
#include "store_util.h"

namespace deepedge::app {
namespace {

struct EvalCmdOptions {
  std::string model;
  std::string weights;
  std::string data;
  std::string split = "test";
  std::string card;
  std::int64_t limit = 0;
  bool keep_going = false;
  std::string json_path;
  std::string predictions_path;
  std::string save_inputs_dir;
  bool end_to_end = false;
  std::string backend;
  std::vector<std::string> backend_options;
  int threads = 0;
  StoreOptions store;
};

constexpr std::size_t kBadSamplesPrinted = 20;

std::string Percent(double v) {
  char buf[32];
  std::snprintf(buf, sizeof buf, "%.2f %%", v * 100.0);
  return buf;
}

void PrintMetric(const char* label, const ProportionMetric& m) {
  std::printf("%-6s %s (%lld / %lld), 95%% Wilson interval [%.2f, %.2f] %%\n", label,
              Percent(m.value).c_str(), static_cast<long long>(m.successes),
              static_cast<long long>(m.trials), m.ci_low * 100.0, m.ci_high * 100.0);
}

void PrintTimes(const char* label, const std::vector<double>& ms) {
  if (ms.empty()) return;
  const Summary s = Summarize(ms);
  std::printf("  %-15s mean %.3f ms, p50 %.3f ms, p99 %.3f ms, max %.3f ms (%lld samples)\n", label,
              s.mean, s.p50, s.p99, s.max, static_cast<long long>(s.count));
}

AccuracyMetricRecord ToRecord(const ProportionMetric& m) {
  return {m.name, m.value, m.ci_low, m.ci_high, m.confidence};
}

// A progress line on stderr, only when stderr is a terminal, redrawn at most 5 times/s.
class EvalProgress {
 public:
  EvalProgress() : enabled_(::isatty(STDERR_FILENO) == 1) {}
  void operator()(std::int64_t done, std::int64_t total) {
    if (!enabled_) return;
    const auto now = std::chrono::steady_clock::now();
    if (done < total && now - last_ < std::chrono::milliseconds(200)) return;
    last_ = now;
    std::fprintf(stderr, "\r  eval %lld / %lld samples", static_cast<long long>(done),
                 static_cast<long long>(total));
    if (done == total) std::fputs("\r\033[K", stderr);
    std::fflush(stderr);
  }

 private:
  bool enabled_;
  std::chrono::steady_clock::time_point last_{};
};

// What both tasks' reports need from the run.
struct EvalRun {
  const EvalCmdOptions& o;
  AppContext& ctx;
  const ModelSource& src;
  const ModelCard& card;
  const std::filesystem::path& card_path;
  const std::string& data;  // the data set's Description()
  Session& session;
  const ModelRecord& model_record;
  const std::string& backend;
  const std::map<std::string, std::string>& options;
  double load_ms;
  const EnvironmentInfo& environment;
  std::unique_ptr<Monitor> (&monitors)[3];
  const ModelInfo& info;
};

// Writes the per-sample predictions (--predictions, or beside the cache) and lists the
// bad samples on stderr; returns the file's path. R is either task's result.
template <typename R>
Expected<std::string> WritePredictions(const EvalRun& run, const R& r) {
  std::string path = run.o.predictions_path;
  if (path.empty()) {
    const std::filesystem::path dir = std::filesystem::path(CacheDir()) / "eval";
    std::error_code ec;
    std::filesystem::create_directories(dir, ec);
    path = (dir / (run.src.path.stem().string() + ".predictions.tsv")).string();
  }
  DEEPEDGE_RETURN_IF_ERROR(WriteFileAtomic(path, r.predictions));
  for (std::size_t i = 0; i < r.bad_samples.size() && i < kBadSamplesPrinted; ++i) {
    std::fprintf(stderr, "deepedge: bad sample: %s\n", r.bad_samples[i].reason.c_str());
  }
  if (r.bad_samples.size() > kBadSamplesPrinted) {
    std::fprintf(stderr, "deepedge: ... and %zu more bad samples (all in %s)\n",
                 r.bad_samples.size() - kBadSamplesPrinted, path.c_str());
  }
  return path;
}

template <typename R>
void PrintHeader(const EvalRun& run, const R& r) {
  std::printf("model %s%s, backend %s, card %s\n", run.src.display_name().c_str(),
              run.card.synthetic_weights ? " (SYNTHETIC weights: accuracy meaningless)" : "",
              run.backend.c_str(), run.card_path.c_str());
  std::printf("data  %s\n", run.data.c_str());
  std::printf("samples %lld evaluated, %zu bad, of %lld considered\n",
              static_cast<long long>(r.samples_evaluated), r.bad_samples.size(),
              static_cast<long long>(r.samples_considered));
}

template <typename R>
void PrintFooter(const EvalRun& run, const R& r, const std::string& predictions_path) {
  std::printf("accuracy run: %.2f s, each sample once (latency: use `deepedge bench`)\n", r.wall_s);
  PrintTimes("inference", r.inference_ms);
  if (run.o.end_to_end) {
    PrintTimes("preprocessing", r.preprocess_ms);
    PrintTimes("postprocessing", r.postprocess_ms);
  }
  std::printf("predictions -> %s\n", predictions_path.c_str());
}

// The bench-format record of the run, without its accuracy (each task adds its own).
template <typename R>
BenchRecord MakeRecord(const EvalRun& run, const R& r) {
  BenchRecord rec;
  rec.tool_version = DEEPEDGE_VERSION;
  rec.timestamp_utc = UtcNowIso();
  rec.environment = run.environment;
  rec.warnings = EnvironmentWarnings(run.environment);
  rec.warnings.push_back(
      "accuracy run: every sample ran once without warm-up; its latency figures are not a "
      "benchmark (use deepedge bench)");
  if (run.card.synthetic_weights) {
    rec.warnings.push_back("synthetic weights: the accuracy is meaningless");
  }
  rec.model = run.model_record;
  rec.backend = run.backend;
  rec.backend_version = run.ctx.backends.Find(run.backend)->Version();
  rec.backend_options = run.options;
  rec.threads = run.o.threads;
  rec.input = "data: " + run.data;
  BenchResult& b = rec.result;
  b.stop = StopRule{};
  b.phases.load_ms = run.load_ms;
  b.phases.first_inference_ms = r.first_inference_ms;
  b.phases.measured_s = r.wall_s;
  b.queries = static_cast<std::int64_t>(r.inference_ms.size());
  b.samples = b.queries;
  b.latency_ms = Summarize(r.inference_ms);
  if (r.wall_s > 0) {
    b.throughput_qps = static_cast<double>(b.queries) / r.wall_s;
    b.throughput_samples_per_s = b.throughput_qps;
  }
  if (auto arena = run.session.ArenaBytes()) b.arena_mib = static_cast<double>(*arena) / 1048576.0;
  b.layer_profile_status = "not collected by eval";
  for (auto& m : run.monitors) b.monitors.push_back(m->Report());
  return rec;
}

template <typename R>
AccuracyRecord MakeAccuracy(const EvalRun& run, const R& r) {
  AccuracyRecord acc;
  acc.samples = r.samples_evaluated;
  acc.bad_samples = static_cast<std::int64_t>(r.bad_samples.size());
  acc.dataset = run.data;
  acc.card = run.card_path.string();
  return acc;
}

// Writes --json and adds the record to the results store; the command's exit status.
int SaveRecord(const EvalRun& run, BenchRecord rec) {
  const std::vector<BenchRecord> records{std::move(rec)};
  if (!run.o.json_path.empty()) {
    if (Status s = WriteFileAtomic(run.o.json_path, FormatBenchJson(records)); !s.ok()) {
      return ReportError(s);
    }
  }
  return StoreBenchRecords(run.o.store, records, run.environment, run.info);
}

// text_recognition: exact-match accuracy the headline, CER another metric.
int ReportText(const EvalRun& run, const TextRecognitionEval& r) {
  Expected<std::string> predictions = WritePredictions(run, r);
  if (!predictions) return ReportError(predictions.status());
  PrintHeader(run, r);
  PrintMetric("exact", r.exact_match);
  std::printf("CER    %s (%lld edits / %lld reference characters)\n",
              Percent(r.cer.value()).c_str(), static_cast<long long>(r.cer.edits),
              static_cast<long long>(r.cer.reference_chars));
  PrintFooter(run, r, *predictions);

  BenchRecord rec = MakeRecord(run, r);
  AccuracyRecord acc = MakeAccuracy(run, r);
  acc.metric = ToRecord(r.exact_match);
  // CER as a proportion of reference characters with its Wilson interval, which treats
  // characters as independent (so it is too narrow); capped at 1 (the record's range).
  const ProportionMetric cer = MakeProportionMetric(
      "cer", std::min(r.cer.edits, r.cer.reference_chars), r.cer.reference_chars);
  acc.others.push_back(ToRecord(cer));
  rec.accuracy = std::move(acc);
  return SaveRecord(run, std::move(rec));
}

// classification: top-1 the headline, top-5 when the card asks, a confusion matrix for
// small label sets.
int ReportClassification(const EvalRun& run, const ClassificationEval& r) {
  Expected<std::string> predictions = WritePredictions(run, r);
  if (!predictions) return ReportError(predictions.status());
  PrintHeader(run, r);
  PrintMetric("top-1", r.top1);
  if (r.top5) PrintMetric("top-5", *r.top5);
  if (r.confusion.classes() <= 20 && r.samples_evaluated > 0) {
    std::printf("confusion matrix (rows: true class, columns: predicted class):\n%s",
                r.confusion.Format(run.card.labels).c_str());
  }
  PrintFooter(run, r, *predictions);

  BenchRecord rec = MakeRecord(run, r);
  Expected<ClassificationPlan> plan = PlanClassification(run.session, run.card);
  if (plan) {
    TensorInfo in = run.session.Inputs()[static_cast<std::size_t>(plan->input_index)];
    in.shape = plan->input_shape;
    rec.result.inputs.push_back(std::move(in));
  }
  AccuracyRecord acc = MakeAccuracy(run, r);
  acc.metric = ToRecord(r.top1);
  if (r.top5) acc.others.push_back(ToRecord(*r.top5));
  rec.accuracy = std::move(acc);
  return SaveRecord(run, std::move(rec));
}

// detection: recall at the card's threshold the headline; precision and AP others.
int ReportDetection(const EvalRun& run, const DetectionEval& r) {
  Expected<std::string> predictions = WritePredictions(run, r);
  if (!predictions) return ReportError(predictions.status());
  PrintHeader(run, r);
  const CardDetection& d = run.card.detection;
  std::printf("objects %lld labelled '%s' boxes; operating point: score >= %.2f, IoU >= %.2f\n",
              static_cast<long long>(r.objects), run.card.labels.front().c_str(), d.score_threshold,
              d.match_iou);
  PrintMetric("recall", r.recall);
  PrintMetric("precision", r.precision);
  std::printf("AP@%.2f %s, 95%% bootstrap interval over images [%.2f, %.2f] %%\n", d.match_iou,
              Percent(r.average_precision).c_str(), r.ap_ci_low * 100.0, r.ap_ci_high * 100.0);
  PrintFooter(run, r, *predictions);

  BenchRecord rec = MakeRecord(run, r);
  AccuracyRecord acc = MakeAccuracy(run, r);
  acc.metric = ToRecord(r.recall);
  acc.others.push_back(ToRecord(r.precision));
  char name[32];
  std::snprintf(name, sizeof name, "ap%02d", static_cast<int>(std::lround(d.match_iou * 100)));
  acc.others.push_back({name, r.average_precision, r.ap_ci_low, r.ap_ci_high, 0.95});
  rec.accuracy = std::move(acc);
  return SaveRecord(run, std::move(rec));
}

// vad: clips detected the headline; false alarms in the padding, frame precision and
// recall others.
int ReportVad(const EvalRun& run, const VadEval& r) {
  Expected<std::string> predictions = WritePredictions(run, r);
  if (!predictions) return ReportError(predictions.status());
  PrintHeader(run, r);
  const CardVad& v = run.card.vad;
  const VadTally& t = r.tally;
  std::printf(
      "frames %lld inside labelled speech, %lld padding (%lld samples at %lld Hz); "
      "threshold %.2f / %.2f, hangover %.0f ms, min speech %.0f ms\n",
      static_cast<long long>(t.speech_frames), static_cast<long long>(t.padding_frames),
      static_cast<long long>(v.frame), static_cast<long long>(v.sample_rate), v.threshold,
      v.negative_threshold, v.hangover_ms, v.min_speech_ms);
  PrintMetric("clips", r.clip_detection);
  PrintMetric("false alarms", r.false_alarm);
  PrintMetric("precision", r.frame_precision);
  PrintMetric("recall", r.frame_recall);
  PrintFooter(run, r, *predictions);

  BenchRecord rec = MakeRecord(run, r);
  AccuracyRecord acc = MakeAccuracy(run, r);
  acc.metric = ToRecord(r.clip_detection);
  acc.others.push_back(ToRecord(r.false_alarm));
  acc.others.push_back(ToRecord(r.frame_precision));
  acc.others.push_back(ToRecord(r.frame_recall));
  rec.accuracy = std::move(acc);
  return SaveRecord(run, std::move(rec));
}

// keyword_spotting: wake-word clips detected the headline; negative clips with a false
// alarm the other (a proportion); false alarms per hour of negative audio printed.
int ReportKws(const EvalRun& run, const KwsEval& r) {
  Expected<std::string> predictions = WritePredictions(run, r);
  if (!predictions) return ReportError(predictions.status());
  PrintHeader(run, r);
  const CardKeywordSpotting& w = run.card.kws;
  std::printf(
      "clips %lld with the wake word, %lld without (%.3f h); threshold %.2f, refractory "
      "%.0f ms\n",
      static_cast<long long>(r.positive_clips), static_cast<long long>(r.negative_clips),
      r.negative_hours, w.threshold, w.refractory_ms);
  std::printf("melspectrogram: %lld frames per chunk of %lld samples (+ %lld of context)\n",
              static_cast<long long>(r.mel_frames_per_chunk), static_cast<long long>(w.chunk),
              static_cast<long long>(w.context));
  PrintMetric("detected", r.tpr);
  PrintMetric("false-alarm clips", r.false_alarm_clip_rate);
  std::printf("false alarms %lld in %.3f h of negative audio: %.1f per hour\n",
              static_cast<long long>(r.false_alarms), r.negative_hours, r.false_alarms_per_hour);
  PrintFooter(run, r, *predictions);

  BenchRecord rec = MakeRecord(run, r);
  AccuracyRecord acc = MakeAccuracy(run, r);
  acc.metric = ToRecord(r.tpr);
  acc.others.push_back(ToRecord(r.false_alarm_clip_rate));
  rec.accuracy = std::move(acc);
  return SaveRecord(run, std::move(rec));
}

int RunEval(const EvalCmdOptions& o, AppContext& ctx) {
  if (Status s = CheckOutputPath(o.json_path, "--json"); !s.ok()) return ReportError(s);
  if (Status s = CheckOutputPath(o.predictions_path, "--predictions"); !s.ok()) {
    return ReportError(s);
  }
  Expected<ModelSource> src = ResolveModel(o.model, o.weights);
  if (!src) return ReportError(src.status());

  std::filesystem::path card_path = o.card;
  if (card_path.empty()) {
    std::optional<std::filesystem::path> beside = FindCardBeside(src->path);
    if (!beside) {
      return ReportError(NotFound("no model card for " + src->display_name() +
                                  ": pass --card CARD.yaml (or put one beside the model with "
                                  "the extension .yaml)"));
    }
    card_path = *beside;
  }
  Expected<ModelCard> card = ReadModelCard(card_path);
  if (!card) return ReportError(card.status());

  const bool text = card->task == CardTask::kTextRecognition;
  const bool detection = card->task == CardTask::kDetection;
  const bool kws = card->task == CardTask::kKeywordSpotting;
  const bool audio_class = card->task == CardTask::kAudioClassification;
  const bool vad = card->task == CardTask::kVad || kws || audio_class;
  Expected<std::unique_ptr<AudioDataset>> clips = kws ? OpenKwsDataset(o.data)
                                                  : audio_class
                                                      ? OpenAudioClassDataset(o.data, card->labels)
                                                  : vad ? OpenVadDataset(o.data)
                                                        : std::unique_ptr<AudioDataset>();
  if (!clips) return ReportError(clips.status().WithContext("--data"));
  // A classifier reads IDX files, or a labels file (.tsv) of photos.
  const bool image_list = std::filesystem::path(o.data).extension() == ".tsv";
  Expected<std::unique_ptr<ImageDataset>> data = vad          ? std::unique_ptr<ImageDataset>()
                                                 : text       ? OpenTextLineDataset(o.data)
                                                 : detection  ? OpenDetectionDataset(o.data)
                                                 : image_list ? OpenImageListDataset(o.data)
                                                              : OpenIdxDataset(o.data, o.split);
  if (!data) return ReportError(data.status().WithContext("--data"));

  Expected<ModelInfo> info = DescribeModel(*src);
  if (!info) return ReportError(info.status());
  Expected<ModelRecord> model_record = MakeModelRecord(*src, *info);
  if (!model_record) return ReportError(model_record.status());
  model_record->synthetic_weights = model_record->synthetic_weights || card->synthetic_weights;

  Expected<std::string> backend = ChooseBackend(ctx, o.backend, src->format);
  if (!backend) return ReportError(backend.status());
  Expected<std::map<std::string, std::string>> options = ParseBackendOptions(o.backend_options);
  if (!options) return ReportError(options.status());

  SessionOptions so;
  so.threads = o.threads;
  so.backend_options = *options;
  const auto load_start = std::chrono::steady_clock::now();
  Expected<std::unique_ptr<Session>> session = ctx.backends.Load(*backend, *src, so);
  if (!session) return ReportError(session.status());
  // A keyword_spotting card names its front-end models: loaded with the same backend.
  std::unique_ptr<Session> frontend[2];
  for (int k = 0; kws && k < 2; ++k) {
    const std::filesystem::path& p =
        k == 0 ? card->kws.melspectrogram_path : card->kws.embedding_path;
    const char* field = k == 0 ? "frontend.melspectrogram" : "frontend.embedding";
    Expected<ModelSource> fsrc = ResolveModel(p.string(), "");
    if (!fsrc) {
      return ReportError(fsrc.status().WithContext("card " + card_path.string() + ": " + field));
    }
    Expected<std::unique_ptr<Session>> fs = ctx.backends.Load(*backend, *fsrc, so);
    if (!fs)
      return ReportError(fs.status().WithContext("card " + card_path.string() + ": " + field));
    frontend[k] = std::move(*fs);
  }
  // An audio_classification card's front end: checked to load now, then loaded fresh
  // per clip (its state starts at zero), with the same backend.
  SessionFactory make_frontend;
  if (audio_class) {
    const std::string where = "card " + card_path.string() + ": frontend.model";
    Expected<ModelSource> fsrc =
        ResolveModel(ResolveFrontendModel(card->audio.frontend_source, src->path).string(), "");
    if (!fsrc) return ReportError(fsrc.status().WithContext(where));
    make_frontend = [&ctx, backend = *backend, fsrc = *fsrc, so]() {
      return ctx.backends.Load(backend, fsrc, so);
    };
    if (Expected<std::unique_ptr<Session>> fs = make_frontend(); !fs) {
      return ReportError(fs.status().WithContext(where));
    }
  }
  const double load_ms =
      std::chrono::duration<double, std::milli>(std::chrono::steady_clock::now() - load_start)
          .count();

  // Monitors around the accuracy loop, so that the record carries CPU, memory and
  // energy of the run like a bench record.
  const MonitorPaths paths;
  const EnvironmentInfo environment = CaptureEnvironment(paths, DEEPEDGE_BUILD_TYPE);
  std::unique_ptr<Monitor> monitors[] = {MakeCpuMonitor(paths, SteadyNowNs),
                                         MakeMemoryMonitor(paths, SteadyNowNs),
                                         MakeEnergyMonitor(paths, SteadyNowNs)};
  for (auto& m : monitors) (void)m->Start();

  EvalOptions eo;
  eo.limit = o.limit;
  eo.keep_going = o.keep_going;
  eo.end_to_end = o.end_to_end;
  if (!o.save_inputs_dir.empty()) {
    std::error_code ec;
    std::filesystem::create_directories(o.save_inputs_dir, ec);
    if (ec || !std::filesystem::is_directory(o.save_inputs_dir)) {
      return ReportError(IoError("--save-inputs " + o.save_inputs_dir + ": cannot create it"));
    }
    eo.on_input = [dir = std::filesystem::path(o.save_inputs_dir)](std::int64_t i,
                                                                   const Tensor& input) {
      char name[32];
      std::snprintf(name, sizeof name, "%06lld.npy", static_cast<long long>(i));
      return WriteFileAtomic(dir / name, EncodeNpy(input));
    };
  }
  EvalProgress progress;
  eo.progress = [&progress](std::int64_t done, std::int64_t total) { progress(done, total); };
  const std::string description = vad ? (*clips)->Description() : (*data)->Description();
  const EvalRun run{o,           ctx,         *src,          *card,    card_path,
                    description, **session,   *model_record, *backend, *options,
                    load_ms,     environment, monitors,      *info};
  if (kws) {
    const KwsSessions sessions{frontend[0].get(), frontend[1].get(), session->get()};
    Expected<KwsEval> t = EvaluateKeywordSpotting(sessions, *card, **clips, eo);
    for (auto& m : monitors) (void)m->Stop();
    if (!t) return ReportError(t.status());
    return ReportKws(run, *t);
  }
  if (audio_class) {
    Expected<ClassificationEval> t =
        EvaluateAudioClassification(make_frontend, **session, *card, **clips, eo);
    for (auto& m : monitors) (void)m->Stop();
    if (!t) return ReportError(t.status());
    return ReportClassification(run, *t);
  }
  if (vad) {
    Expected<VadEval> t = EvaluateVad(**session, *card, **clips, eo);
    for (auto& m : monitors) (void)m->Stop();
    if (!t) return ReportError(t.status());
    return ReportVad(run, *t);
  }
  if (text) {
    Expected<TextRecognitionEval> t = EvaluateTextRecognition(**session, *card, **data, eo);
    for (auto& m : monitors) (void)m->Stop();
    if (!t) return ReportError(t.status());
    return ReportText(run, *t);
  }
  if (detection) {
    Expected<DetectionEval> t = EvaluateDetection(**session, *card, **data, eo);
    for (auto& m : monitors) (void)m->Stop();
    if (!t) return ReportError(t.status());
    return ReportDetection(run, *t);
  }
  Expected<ClassificationEval> r = EvaluateClassification(**session, *card, **data, eo);
  for (auto& m : monitors) (void)m->Stop();
  if (!r) return ReportError(r.status());
  return ReportClassification(run, *r);
}

}  // namespace

void AddEvalCommand(CLI::App& app, AppContext& ctx) {
  static EvalCmdOptions o;
  CLI::App* cmd = app.add_subcommand(
      "eval",
      "Accuracy of a model on labelled data (each sample once), with its 95% Wilson interval;\n"
      "inputs and outputs as the model card says (MODEL.yaml beside the model, or --card)");
  cmd->add_option("model", o.model, "Model file")->required();
  cmd->add_option("--weights", o.weights, "Weights file for two-file formats");
  cmd->add_option(
         "--data", o.data,
         "Labelled data: a directory of IDX files (Fashion-MNIST's names; Debian's "
         "dataset-fashion-mnist installs them in /usr/share/datasets/fashion-mnist) or "
         "an *images-idx3-ubyte[.gz] file; for a text_recognition card a directory "
         "with labels.tsv and PGM/PPM line images (deepedge-render-text); for a "
         "detection card a labels file of images and boxes; for a vad card a labels "
         "file of WAV clips and speech segments (deepedge-make-vad-set); for a keyword_spotting "
         "card a labels file of WAV clips labelled 1 / 0 (deepedge-make-kws-set); for an "
         "audio_classification card a labels file of WAV clips and class names "
         "(deepedge-make-kws-set --micro-speech) "
         "(docs/model-cards.md)")
      ->required();
  cmd->add_option("--split", o.split, "With a directory: test or train")
      ->check(CLI::IsMember({"test", "train"}))
      ->capture_default_str();
  cmd->add_option("--card", o.card, "Model card (YAML; default: MODEL with .yaml)");
  cmd->add_option("--limit", o.limit, "Evaluate only the first N samples (0: all)")
      ->check(CLI::NonNegativeNumber);
  cmd->add_flag("--keep-going", o.keep_going,
                "Count bad samples (label outside the label set, wrong size, ...) and go on "
                "instead of stopping at the first");
  cmd->add_option("--json", o.json_path,
                  "Write a bench-format record with an \"accuracy\" object (docs/bench-json.md)");
  cmd->add_option("--predictions", o.predictions_path,
                  "Predictions file, one line per sample (default: in the cache directory)");
  cmd->add_option("--save-inputs", o.save_inputs_dir,
                  "Also write each sample's input, as the card prepares it, as DIR/NNNNNN.npy "
                  "(calibration data for `deepedge quantize --calibration DIR`)");
  cmd->add_flag("--end-to-end", o.end_to_end,
                "Also time preprocessing and postprocessing per sample");
  AddBackendOptions(cmd, o.backend, o.backend_options, o.threads);
  AddStoreOptions(cmd, o.store);
  cmd->callback([&ctx] { ctx.exit_code = RunEval(o, ctx); });
}

}  // namespace deepedge::app
