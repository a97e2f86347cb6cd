#include "pgstack/metrics/http_endpoint.h"

#include <sys/socket.h>

#include <cerrno>
#include <cstring>

#include <fmt/format.h>
#include <httplib.h>

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
  httplib::Server server;
  int port = 0;
};

HttpEndpoint::HttpEndpoint(Scraper& scraper, const std::string& host, int port) : impl_(std::make_unique<Impl>()) {
  impl_->server.Get("/metrics", [&scraper](const httplib::Request&, httplib::Response& res) {
    try {
      res.set_content(scraper.scrape(), "text/plain; version=0.0.4; charset=utf-8");
    } catch (const std::exception& e) {
      res.status = 500;
      res.set_content(fmt::format("scrape failed: {}\n", e.what()), "text/plain");
    }
  });
  impl_->server.Get("/", [](const httplib::Request&, httplib::Response& res) {
    res.set_content("<html><body><h1>pgstack metrics</h1><p><a href=\"/metrics\">/metrics</a></p></body></html>\n",
                    "text/html");
  });
  // httplib's default also sets SO_REUSEPORT, which would let a second exporter share the
  // port silently; SO_REUSEADDR alone lets a restart rebind at once and still refuses a
  // port another process listens on.
  impl_->server.set_socket_options([](socket_t sock) {
    int yes = 1;
    ::setsockopt(sock, SOL_SOCKET, SO_REUSEADDR, &yes, sizeof yes);
  });
  if (port == 0) {
    impl_->port = impl_->server.bind_to_any_port(host);
  } else {
    impl_->port = impl_->server.bind_to_port(host, port) ? port : -1;
  }
  if (impl_->port < 0)
    throw Error(fmt::format("cannot listen on {}:{}: {}; is another exporter running there? pass "
                            "--listen with a free port",
                            host, port, std::strerror(errno)));
}

HttpEndpoint::~HttpEndpoint() { stop(); }

int HttpEndpoint::port() const { return impl_->port; }

void HttpEndpoint::serve() { impl_->server.listen_after_bind(); }

void HttpEndpoint::stop() {
  if (impl_ && impl_->server.is_running()) impl_->server.stop();
}

}  // namespace pgstack::metrics
