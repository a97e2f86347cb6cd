// The metrics endpoint: an HTTP(S) server (cpp-httplib with OpenSSL) answering GET
// /metrics with a scrape, and / with a page naming it. Listens on host:port until stop().
// With TLS files it speaks HTTPS only; with credentials (endpoint_security.h) every
// request without them gets 401 and a WWW-Authenticate challenge.
//
//   pgstack::metrics::HttpEndpoint endpoint(scraper, "127.0.0.1", 9187);  // throws if the port is taken
//   std::thread t([&] { endpoint.serve(); });
//   ...; endpoint.stop(); t.join();
#pragma once

#include <memory>
#include <string>

#include "pgstack/ops/metrics/endpoint_security.h"
#include "pgstack/ops/metrics/scraper.h"

namespace pgstack::metrics {

// "127.0.0.1:9187", "[::1]:9187" or ":9187" (every address); throws UsageError naming
// what is wrong.
struct ListenAddress {
  std::string host;
  int port = 0;
};
ListenAddress parse_listen_address(const std::string& text);

class HttpEndpoint {
 public:
  // Binds now, so a port in use, an open address (check_exposure), unreadable TLS files
  // or bad credentials are errors before anything runs. Port 0 picks a free one.
  HttpEndpoint(Scraper& scraper, const std::string& host, int port, const EndpointSecurity& security = {});
  bool tls() const;
  ~HttpEndpoint();
  int port() const;
  void serve();  // blocks until stop()
  void stop();   // from any thread

 private:
  struct Impl;
  std::unique_ptr<Impl> impl_;
};

}  // namespace pgstack::metrics
