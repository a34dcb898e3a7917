#include "deepedge/remote.h"

#include <httplib.h>

#include <cctype>
#include <chrono>
#include <cstring>
#include <optional>
#include <string>

namespace deepedge::remote {
namespace {

using Clock = std::chrono::steady_clock;

double Ms(Clock::time_point a, Clock::time_point b) {
  return std::chrono::duration<double, std::milli>(b - a).count();
}

// An HTTP error status as a Status carrying the server's message.
Status FromHttp(int status, const std::string& body, const std::string& what) {
  const std::string msg =
      what + ": HTTP " + std::to_string(status) + ": " + kserve::DecodeError(body);
  switch (status) {
    case 400:
    case 413:
      return InvalidArgument(msg);
    case 404:
      return NotFound(msg);
    case 503:
    case 504:
      return Unavailable(msg);
    default:
      return Internal(msg);
  }
}

std::optional<double> ParamMs(const kserve::Parameters& p, const char* name) {
  auto it = p.find(name);
  if (it == p.end()) return std::nullopt;
  if (const auto* i = std::get_if<std::int64_t>(&it->second)) return static_cast<double>(*i) / 1e3;
  if (const auto* d = std::get_if<double>(&it->second)) return *d / 1e3;
  return std::nullopt;
}

// Percent-encodes everything but unreserved characters (RFC 3986), so any model
// name stays one path segment.
std::string EncodeSegment(std::string_view s) {
  static const char kHex[] = "0123456789ABCDEF";
  std::string out;
  for (unsigned char c : s) {
    if (std::isalnum(c) || c == '-' || c == '_' || c == '.' || c == '~') {
      out.push_back(static_cast<char>(c));
    } else {
      out += '%';
      out += kHex[c >> 4];
      out += kHex[c & 15];
    }
  }
  return out;
}

std::string ModelPath(const Url& u, std::string_view model) {
  return u.base_path + "/v2/models/" + EncodeSegment(model);
}

}  // namespace

Expected<Url> ParseUrl(std::string_view url) {
  const std::string text(url);
  std::string_view rest = url;
  if (rest.starts_with("https://"))
    return Unsupported("server URL '" + text + "': https is not supported (use http://)");
  if (!rest.starts_with("http://"))
    return InvalidArgument("server URL '" + text + "': expected http://HOST[:PORT]");
  rest.remove_prefix(7);
  const std::size_t slash = rest.find('/');
  std::string_view hostport = rest.substr(0, slash);
  Url u;
  if (slash != std::string_view::npos) {
    u.base_path = std::string(rest.substr(slash));
    while (!u.base_path.empty() && u.base_path.back() == '/') u.base_path.pop_back();
  }
  std::size_t colon = std::string_view::npos;
  if (hostport.starts_with("[")) {
    const std::size_t close = hostport.find(']');
    if (close == std::string_view::npos) return InvalidArgument("server URL '" + text + "': bad [");
    u.host = std::string(hostport.substr(1, close - 1));
    if (close + 1 < hostport.size()) {
      if (hostport[close + 1] != ':') return InvalidArgument("server URL '" + text + "': bad port");
      colon = close + 1;
    }
  } else {
    colon = hostport.rfind(':');
    u.host = std::string(hostport.substr(0, colon));
  }
  if (colon != std::string_view::npos) {
    const std::string_view port = hostport.substr(colon + 1);
    if (port.empty() || port.size() > 5 ||
        port.find_first_not_of("0123456789") != std::string::npos ||
        std::stoi(std::string(port)) > 65535 || std::stoi(std::string(port)) == 0)
      return InvalidArgument("server URL '" + text + "': port must be a number in 1..65535");
    u.port = std::stoi(std::string(port));
  }
  if (u.host.empty()) return InvalidArgument("server URL '" + text + "': no host");
  return u;
}

namespace {

// A request that could not be written was not processed: the usual cause is a keep-alive
// connection the server closed as idle (its keep-alive timeout, 5 s for `deepedge serve`)
// just as the request started on it. It is sent once more, on a new connection, before the
// server counts as unreachable. (Requests that were written are never repeated.)
bool StaleConnection(httplib::Error e) {
  return e == httplib::Error::Write;
}

}  // namespace

struct Client::Impl {
  ClientOptions options;
  Url url;
  std::unique_ptr<httplib::Client> http;

  // What went wrong with a request that got no response.
  Status Transport(httplib::Error e, const std::string& what) const {
    return Unavailable(what + ": server " + options.url + " unreachable: " + httplib::to_string(e));
  }

  Expected<std::string> Get(const std::string& path, const std::string& what) {
    httplib::Result r = http->Get(path);
    if (!r && StaleConnection(r.error())) r = http->Get(path);
    if (!r) return Transport(r.error(), what);
    if (r->status != 200) return FromHttp(r->status, r->body, what);
    return r->body;
  }
};

Client::Client(std::unique_ptr<Impl> impl) : impl_(std::move(impl)) {}
Client::~Client() = default;

Expected<std::unique_ptr<Client>> Client::Create(const ClientOptions& options) {
  DEEPEDGE_ASSIGN_OR_RETURN(Url url, ParseUrl(options.url));
  if (!(options.connect_timeout_s > 0) || !(options.timeout_s > 0))
    return InvalidArgument("client timeouts must be positive");
  auto impl = std::make_unique<Impl>();
  impl->options = options;
  impl->url = url;
  impl->http = std::make_unique<httplib::Client>(url.host, url.port);
  auto split = [](double s) {
    const auto sec = static_cast<time_t>(s);
    return std::pair<time_t, time_t>(sec,
                                     static_cast<time_t>((s - static_cast<double>(sec)) * 1e6));
  };
  const auto [cs, cus] = split(options.connect_timeout_s);
  const auto [ts, tus] = split(options.timeout_s);
  impl->http->set_connection_timeout(cs, cus);
  impl->http->set_read_timeout(ts, tus);
  impl->http->set_write_timeout(ts, tus);
  impl->http->set_keep_alive(true);
  impl->http->set_tcp_nodelay(true);
  return std::unique_ptr<Client>(new Client(std::move(impl)));
}

const std::string& Client::url() const {
  return impl_->options.url;
}

Status Client::Live() {
  Expected<std::string> r = impl_->Get(impl_->url.base_path + "/v2/health/live", "live");
  return r.status();
}

Status Client::ModelReady(std::string_view model) {
  Expected<std::string> r =
      impl_->Get(ModelPath(impl_->url, model) + "/ready", "model '" + std::string(model) + "'");
  return r.status();
}

Expected<kserve::ModelMetadata> Client::ModelMetadata(std::string_view model) {
  const std::string what = "model '" + std::string(model) + "' metadata";
  DEEPEDGE_ASSIGN_OR_RETURN(std::string body, impl_->Get(ModelPath(impl_->url, model), what));
  Expected<kserve::ModelMetadata> m = kserve::DecodeModelMetadata(body);
  if (!m) return Internal(what + ": " + m.status().message());
  return m;
}

Expected<std::vector<kserve::NamedTensor>> Client::Infer(
    std::string_view model, std::span<const kserve::NamedTensor> inputs, InferTiming* timing) {
  const std::string what = "infer on model '" + std::string(model) + "'";
  InferTiming t;
  const Clock::time_point t0 = Clock::now();
  kserve::InferRequest request;
  request.parameters["binary_data_output"] = true;
  for (const kserve::NamedTensor& in : inputs) {
    // The encoder only reads: borrow instead of copying the input's bytes.
    Expected<Tensor> view =
        Tensor::Borrow(in.tensor.dtype(), in.tensor.shape(), const_cast<void*>(in.tensor.data()),
                       in.tensor.byte_size());
    if (!view) return view.status().WithContext(what + ": input '" + in.name + "'");
    request.inputs.push_back({in.name, std::move(*view), true});
  }
  DEEPEDGE_ASSIGN_OR_RETURN(kserve::EncodedBody body, kserve::EncodeInferRequest(request, true));
  const Clock::time_point t1 = Clock::now();

  httplib::Request req;
  req.method = "POST";
  req.path = ModelPath(impl_->url, model) + "/infer";
  req.headers.emplace(std::string(kserve::kHeaderLengthHeader), std::to_string(body.json_size));
  req.headers.emplace("Content-Type", "application/octet-stream");
  req.body = std::move(body.body);
  t.request_bytes = req.body.size();
  std::optional<Clock::time_point> t_headers;
  std::string response_body;
  req.response_handler = [&](const httplib::Response&) {
    t_headers = Clock::now();
    return true;
  };
  req.content_receiver = [&](const char* data, std::size_t n, std::uint64_t, std::uint64_t) {
    response_body.append(data, n);
    return true;
  };
  httplib::Response res;
  httplib::Error err = httplib::Error::Success;
  bool sent = impl_->http->send(req, res, err);
  if (!sent && StaleConnection(err)) {
    t_headers.reset();
    response_body.clear();
    res = httplib::Response();
    sent = impl_->http->send(req, res, err);
  }
  const Clock::time_point t2 = Clock::now();
  if (!sent) return impl_->Transport(err, what);
  t.response_bytes = response_body.size();
  if (res.status != 200) return FromHttp(res.status, response_body, what);

  std::optional<std::size_t> header_length;
  if (res.has_header(std::string(kserve::kHeaderLengthHeader))) {
    Expected<std::optional<std::size_t>> h = kserve::ParseHeaderLength(
        res.get_header_value(std::string(kserve::kHeaderLengthHeader)), response_body.size());
    if (!h) return Internal(what + ": " + h.status().message());
    header_length = *h;
  }
  Expected<kserve::InferResponse> response =
      kserve::DecodeInferResponse(response_body, header_length);
  if (!response) return Internal(what + ": bad response: " + response.status().message());
  const Clock::time_point t3 = Clock::now();

  t.serialize_ms = Ms(t0, t1);
  t.round_trip_ms = Ms(t1, t2);
  const Clock::time_point th = t_headers.value_or(t2);
  t.download_ms = Ms(th, t2);
  t.deserialize_ms = Ms(t2, t3);
  t.server_queue_ms = ParamMs(response->parameters, "queue_time_us").value_or(-1);
  t.server_compute_ms = ParamMs(response->parameters, "compute_time_us").value_or(-1);
  double server_ms = 0;
  if (t.server_queue_ms > 0) server_ms += t.server_queue_ms;
  if (t.server_compute_ms > 0) server_ms += t.server_compute_ms;
  t.upload_ms = std::max(0.0, Ms(t1, th) - server_ms);
  if (timing != nullptr) *timing = t;
  return std::move(response->outputs);
}

}  // namespace deepedge::remote
