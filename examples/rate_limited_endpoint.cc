// A rate-limited endpoint: handle_request() is what the handler of any HTTP framework
// calls first. Each client IP may make 5 requests a minute; past that it gets 429 with
// Retry-After. The decision is one statement in PostgreSQL (GCRA), so the limit is
// exact however many processes serve the endpoint. main() plays a client sending
// requests in a row.
//
//   DATABASE_URL=postgresql://app@localhost/app ./rate_limited_endpoint [requests] [client_ip]
#include <chrono>
#include <cstdlib>
#include <iostream>
#include <map>
#include <string>

#include "pgstack/pg/pool.h"
#include "pgstack/ratelimit/limiter.h"

struct Request {
  std::string client_ip;
  std::string path;
};

struct Response {
  int status = 200;
  std::map<std::string, std::string> headers;
  std::string body;
};

Response handle_request(pgstack::ratelimit::Limiter& limiter, const Request& request) {
  auto decision = limiter.allow("ip:" + request.client_ip, {.rate = 5, .per = std::chrono::minutes{1}});
  if (!decision.allowed) {
    auto wait = std::chrono::ceil<std::chrono::seconds>(decision.retry_after);
    return {429, {{"Retry-After", std::to_string(wait.count())}}, "too many requests\n"};
  }
  return {200, {{"RateLimit-Remaining", std::to_string(decision.remaining)}}, "hello from " + request.path + "\n"};
}

int main(int argc, char** argv) {
  const char* url = std::getenv("DATABASE_URL");
  if (url == nullptr || *url == '\0') {
    std::cerr << "rate_limited_endpoint: set DATABASE_URL to a database with pgstack installed\n";
    return 2;
  }
  try {
    const int requests = argc > 1 ? std::stoi(argv[1]) : 8;
    const std::string client_ip = argc > 2 ? argv[2] : "203.0.113.7";
    pgstack::pg::Pool pool({.primary = url, .max_size = 2});
    pgstack::ratelimit::Limiter limiter{pool};

    int allowed = 0, refused = 0;
    for (int i = 1; i <= requests; ++i) {
      Response response = handle_request(limiter, {.client_ip = client_ip, .path = "/api/orders"});
      std::cout << "request " << i << " from " << client_ip << ": " << response.status;
      if (response.status == 429) {
        ++refused;
        std::cout << " Too Many Requests, Retry-After: " << response.headers["Retry-After"] << " s\n";
      } else {
        ++allowed;
        std::cout << " OK, " << response.headers["RateLimit-Remaining"] << " left\n";
      }
    }
    std::cout << allowed << " allowed, " << refused << " refused\n";
    return 0;
  } catch (const std::exception& e) {
    std::cerr << "rate_limited_endpoint: " << e.what() << "\n";
    return 1;
  }
}
