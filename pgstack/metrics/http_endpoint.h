// The metrics endpoint: an HTTP server (cpp-httplib) answering GET /metrics with a
// scrape, and / with a page naming it. Listens on host:port until stop().
//
//   pgstack::metrics::HttpEndpoint endpoint(scraper, "127.0.0.1", 9187);  // throws if the port is taken
//   std::thread t([&] { endpoint.serve(); });
//   ...; endpoint.stop(); t.join();
#pragma once

#include <memory>
#include <string>

#include "pgstack/metrics/scraper.h"

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
  // Binds now, so a port in use is an error before anything runs. Port 0 picks a free one.
  HttpEndpoint(Scraper& scraper, const std::string& host, int port);
  ~HttpEndpoint();
  int port() const;
  void serve();  // blocks until stop()
  void stop();   // from any thread

 private:
  struct Impl;
  std::unique_ptr<Impl> impl_;
};

}  // namespace pgstack::metrics
