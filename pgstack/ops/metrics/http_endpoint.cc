#include "pgstack/ops/metrics/http_endpoint.h"

#include <sys/socket.h>

#include <cerrno>
#include <cstring>

#include <fmt/format.h>
#include <httplib.h>
#include <openssl/err.h>

#include "pgstack/pg/errors.h"

namespace pgstack::metrics {

ListenAddress parse_listen_address(const std::string& text) {
  auto colon = text.rfind(':');
  if (colon == std::string::npos)
    throw pg::UsageError(fmt::format("--listen {}: expected HOST:PORT, for example 127.0.0.1:9187", text));
  ListenAddress a;
  a.host = text.substr(0, colon);
  if (a.host.size() >= 2 && a.host.front() == '[' && a.host.back() == ']') a.host = a.host.substr(1, a.host.size() - 2);
  if (a.host.empty()) a.host = "0.0.0.0";
  auto port = text.substr(colon + 1);
  char* end = nullptr;
  long p = std::strtol(port.c_str(), &end, 10);
  if (port.empty() || *end != '\0' || p < 0 || p > 65535)
    throw pg::UsageError(fmt::format("--listen {}: the port \"{}\" is not a number from 0 to 65535", text, port));
  a.port = static_cast<int>(p);
  return a;
}

struct HttpEndpoint::Impl {
  std::unique_ptr<httplib::Server> server;
  int port = 0;
  bool tls = false;
};

namespace {

// An HTTPS server from the PEM files, or a plain one without them. httplib only says
// whether loading worked, so OpenSSL's queue tells why not.
std::unique_ptr<httplib::Server> make_server(const EndpointSecurity& security) {
  if (!security.tls()) return std::make_unique<httplib::Server>();
  check_secret_file_mode(security.tls_key, "the TLS key");
  auto server = std::make_unique<httplib::SSLServer>(security.tls_cert.c_str(), security.tls_key.c_str());
  if (!server->is_valid()) {
    char why[256] = "unknown reason";
    if (auto code = ERR_get_error()) ERR_error_string_n(code, why, sizeof why);
    throw pg::UsageError(fmt::format("cannot use the TLS certificate {} with the key {} ({}); give a PEM certificate "
                                     "and the private key that matches it",
                                     security.tls_cert.string(), security.tls_key.string(), why));
  }
  return server;
}

// Answers 401 with the challenges before any handler runs, when credentials are set.
void require_credentials(httplib::Server& server, std::shared_ptr<const Authenticator> auth) {
  server.set_pre_routing_handler([auth](const httplib::Request& req, httplib::Response& res) {
    if (auth->allows(req.get_header_value("Authorization"))) return httplib::Server::HandlerResponse::Unhandled;
    res.status = 401;
    for (const auto& challenge : auth->challenges()) res.headers.emplace("WWW-Authenticate", challenge);
    res.set_content("pgstack metrics: credentials missing or wrong\n", "text/plain");
    return httplib::Server::HandlerResponse::Handled;
  });
}

}  // namespace

HttpEndpoint::HttpEndpoint(Scraper& scraper, const std::string& host, int port, const EndpointSecurity& security)
    : impl_(std::make_unique<Impl>()) {
  check_exposure(host, security);
  auto credentials = load_credentials(security);
  impl_->server = make_server(security);
  impl_->tls = security.tls();
  auto& server = *impl_->server;
  if (credentials.any()) require_credentials(server, std::make_shared<const Authenticator>(std::move(credentials)));
  server.Get("/metrics", [&scraper](const httplib::Request&, httplib::Response& res) {
    try {
      res.set_content(scraper.scrape(), "text/plain; version=0.0.4; charset=utf-8");
    } catch (const std::exception& e) {
      res.status = 500;
      res.set_content(fmt::format("scrape failed: {}\n", e.what()), "text/plain");
    }
  });
  server.Get("/", [](const httplib::Request&, httplib::Response& res) {
    res.set_content("<html><body><h1>pgstack metrics</h1><p><a href=\"/metrics\">/metrics</a></p></body></html>\n",
                    "text/html");
  });
  // httplib's default also sets SO_REUSEPORT, which would let a second exporter share the
  // port silently; SO_REUSEADDR alone lets a restart rebind at once and still refuses a
  // port another process listens on.
  server.set_socket_options([](socket_t sock) {
    int yes = 1;
    ::setsockopt(sock, SOL_SOCKET, SO_REUSEADDR, &yes, sizeof yes);
  });
  if (port == 0) {
    impl_->port = server.bind_to_any_port(host);
  } else {
    impl_->port = server.bind_to_port(host, port) ? port : -1;
  }
  if (impl_->port < 0)
    throw Error(fmt::format("cannot listen on {}:{}: {}; is another exporter running there? pass "
                            "--listen with a free port",
                            host, port, std::strerror(errno)));
}

HttpEndpoint::~HttpEndpoint() { stop(); }

int HttpEndpoint::port() const { return impl_->port; }

bool HttpEndpoint::tls() const { return impl_->tls; }

void HttpEndpoint::serve() { impl_->server->listen_after_bind(); }

void HttpEndpoint::stop() {
  if (impl_ && impl_->server && impl_->server->is_running()) impl_->server->stop();
}

}  // namespace pgstack::metrics
