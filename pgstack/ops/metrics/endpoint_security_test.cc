// Who may read the metrics endpoint: the rules for an address other machines reach, the
// credential files and their modes, the Authorization check; then the endpoint over
// TLS with basic and bearer auth, checked with curl and scraped by a real Prometheus
// (its `up` is 1 with the right credentials, 0 with wrong or none).
#include <crypt.h>
#include <signal.h>
#include <unistd.h>

#include <chrono>
#include <filesystem>
#include <fstream>
#include <thread>

#include <gtest/gtest.h>
#include <httplib.h>
#include <nlohmann/json.hpp>

#include "pgstack/ops/stack/tls.h"
#include "pgstack/ops/doctor/testing/observe_test_cluster.h"
#include "pgstack/ops/metrics/http_endpoint.h"
#include "pgstack/ops/metrics/metrics_config.h"
#include "pgstack/base/files.h"
#include "pgstack/sys/process.h"
#include "pgstack/testing/eventually.h"

namespace pgstack::metrics {
namespace {

using namespace std::chrono_literals;
namespace fs = std::filesystem;

// A crypt(3) hash of password in scheme ("$2b$" bcrypt, "$6$" sha512-crypt).
std::string hash_password(const std::string& password, const char* scheme = "$2b$") {
  char salt[CRYPT_GENSALT_OUTPUT_SIZE];
  EXPECT_NE(crypt_gensalt_rn(scheme, 0, nullptr, 0, salt, sizeof salt), nullptr);
  crypt_data data{};
  return crypt_rn(password.c_str(), salt, &data, sizeof data);
}

std::string basic_header(const std::string& user_and_password) {
  static const char* digits = "ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789+/";
  std::string out;
  std::uint32_t buffer = 0;
  int bits = 0;
  for (unsigned char c : user_and_password) {
    buffer = (buffer << 8) | c;
    bits += 8;
    while (bits >= 6) out += digits[(buffer >> (bits -= 6)) & 63];
  }
  if (bits > 0) out += digits[(buffer << (6 - bits)) & 63];
  while (out.size() % 4) out += '=';
  return "Basic " + out;
}

// A folder of secret files for one test, removed after it.
class SecretFiles : public ::testing::Test {
 protected:
  fs::path dir_ = [] {
    char tmpl[] = "/tmp/pgstack-metrics-auth-XXXXXX";
    return fs::path(::mkdtemp(tmpl));
  }();
  ~SecretFiles() override { fs::remove_all(dir_); }
  fs::path write(const std::string& name, const std::string& text, fs::perms mode = fs::perms::owner_read | fs::perms::owner_write) {
    auto path = dir_ / name;
    std::ofstream(path) << text;
    fs::permissions(path, mode, fs::perm_options::replace);
    return path;
  }
};

TEST(ExposureTest, LoopbackIsFreeAnythingElseNeedsTlsOrCredentialsOrTheInsecureFlag) {
  for (const char* host : {"127.0.0.1", "127.1.2.3", "::1", "localhost", "::ffff:127.0.0.1"}) {
    EXPECT_TRUE(is_loopback(host)) << host;
    EXPECT_NO_THROW(check_exposure(host, {})) << host;
    EXPECT_TRUE(exposure_warnings(host, {}).empty()) << host;
  }
  for (const char* host : {"0.0.0.0", "::", "10.0.0.5", "192.168.1.1", "metrics.example.com", "128.0.0.1"}) {
    EXPECT_FALSE(is_loopback(host)) << host;
    try {
      check_exposure(host, {});
      ADD_FAILURE() << host << " was allowed with no protection";
    } catch (const pg::UsageError& e) {
      const std::string why = e.what();
      for (const char* hint : {"--basic-auth-file", "--bearer-token-file", "--tls-cert", "--insecure-listen", "127.0.0.1"})
        EXPECT_NE(why.find(hint), std::string::npos) << hint << " in: " << why;
    }
  }
  EXPECT_NO_THROW(check_exposure("0.0.0.0", {.basic_auth_file = "/f"}));
  EXPECT_NO_THROW(check_exposure("0.0.0.0", {.bearer_token_file = "/f"}));
  EXPECT_NO_THROW(check_exposure("0.0.0.0", {.tls_cert = "/c", .tls_key = "/k"}));
  EXPECT_NO_THROW(check_exposure("0.0.0.0", {.insecure_listen = true}));
  EXPECT_THROW(check_exposure("127.0.0.1", {.tls_cert = "/c"}), pg::UsageError) << "a certificate without its key";
  // Allowed but weak: each says so.
  EXPECT_NE(exposure_warnings("0.0.0.0", {.insecure_listen = true}).at(0).find("anyone"), std::string::npos);
  EXPECT_NE(exposure_warnings("0.0.0.0", {.basic_auth_file = "/f"}).at(0).find("plain HTTP"), std::string::npos);
  EXPECT_NE(exposure_warnings("0.0.0.0", {.tls_cert = "/c", .tls_key = "/k"}).at(0).find("without credentials"),
            std::string::npos);
  EXPECT_TRUE(exposure_warnings("0.0.0.0", {.tls_cert = "/c", .tls_key = "/k", .basic_auth_file = "/f"}).empty());
}

TEST(BasicAuthFileTest, HashesAreRequiredAndAPasswordInClearIsNeverQuoted) {
  const auto bcrypt = hash_password("s3cret");
  const auto sha512 = hash_password("other", "$6$");
  auto users = parse_basic_auth_file("# scrapers\n\nprometheus:" + bcrypt + "\n  grafana:" + sha512 + "  \n", "f");
  ASSERT_EQ(users.size(), 2u);
  EXPECT_EQ(users[0].name, "prometheus");
  EXPECT_EQ(users[1].hash, sha512);
  struct Bad {
    std::string text;
    std::string says;
  };
  for (const auto& bad : {Bad{"prometheus:hunter2hunter2\n", "f:1: the password of prometheus is not a bcrypt"},
                          Bad{"ok:" + bcrypt + "\nhunter2hunter2\n", "f:2: expected user:hash"},
                          Bad{"md5:$1$abc$0123456789abcdefghijkl\n", "is not a bcrypt"},
                          Bad{"a:" + bcrypt + "\na:" + sha512 + "\n", "listed twice"},
                          Bad{"# nobody\n", "lists no user:hash line"}}) {
    try {
      parse_basic_auth_file(bad.text, "f");
      ADD_FAILURE() << "accepted: " << bad.text;
    } catch (const pg::UsageError& e) {
      EXPECT_NE(std::string(e.what()).find(bad.says), std::string::npos) << e.what();
      EXPECT_EQ(std::string(e.what()).find("hunter2"), std::string::npos) << "quoted a secret: " << e.what();
    }
  }
}

TEST_F(SecretFiles, SecretFilesOthersCanReadAreRefusedWithTheFix) {
  auto open_passwd = write("passwd", "p:" + hash_password("x") + "\n",
                           fs::perms::owner_read | fs::perms::owner_write | fs::perms::others_read);
  try {
    load_credentials({.basic_auth_file = open_passwd});
    ADD_FAILURE() << "a world-readable password file was accepted";
  } catch (const pg::UsageError& e) {
    EXPECT_NE(std::string(e.what()).find("mode 0604"), std::string::npos) << e.what();
    EXPECT_NE(std::string(e.what()).find("chmod 600 " + open_passwd.string()), std::string::npos) << e.what();
  }
  auto group_writable = write("token", std::string(32, 'a'),
                              fs::perms::owner_read | fs::perms::owner_write | fs::perms::group_write);
  EXPECT_THROW(load_credentials({.bearer_token_file = group_writable}), pg::UsageError);
  EXPECT_THROW(load_credentials({.bearer_token_file = dir_ / "missing"}), pg::UsageError);
  // Group-readable is fine (a scrape user's group), and the token loses its newline.
  auto token = write("token2", std::string(32, 'b') + "\n", fs::perms::owner_read | fs::perms::group_read);
  EXPECT_EQ(load_credentials({.bearer_token_file = token}).bearer_token, std::string(32, 'b'));
  auto short_token = write("short", "abc\n");
  try {
    load_credentials({.bearer_token_file = short_token});
    ADD_FAILURE() << "a 3-character token was accepted";
  } catch (const pg::UsageError& e) {
    EXPECT_NE(std::string(e.what()).find("openssl rand -hex 32"), std::string::npos) << e.what();
  }
}

TEST(AuthenticatorTest, OnlyTheRightBasicOrBearerCredentialsPass) {
  Authenticator auth({.users = {{"prometheus", hash_password("s3cret")}, {"grafana", hash_password("g", "$6$")}},
                      .bearer_token = "0123456789abcdef0123"});
  EXPECT_TRUE(auth.allows(basic_header("prometheus:s3cret")));
  EXPECT_TRUE(auth.allows(basic_header("grafana:g")));
  EXPECT_TRUE(auth.allows("bearer 0123456789abcdef0123")) << "the scheme is case-insensitive";
  EXPECT_TRUE(auth.allows("Basic  " + basic_header("prometheus:s3cret").substr(6)));
  for (const std::string& wrong :
       {basic_header("prometheus:s3cre"), basic_header("prometheus:s3cret "), basic_header("nobody:s3cret"),
        basic_header("prometheus"), basic_header("grafana:s3cret"), std::string("Basic !!!!"), std::string("Basic"),
        std::string(""), std::string("Bearer 0123456789abcdef012"), std::string("Bearer 0123456789abcdef01234"),
        std::string("Digest 0123456789abcdef0123"), std::string("0123456789abcdef0123")})
    EXPECT_FALSE(auth.allows(wrong)) << wrong;
  EXPECT_EQ(auth.challenges().size(), 2u);
  EXPECT_TRUE(Authenticator({}).allows("")) << "no credentials configured: open (loopback)";
  Authenticator bearer_only({.bearer_token = "0123456789abcdef0123"});
  EXPECT_FALSE(bearer_only.allows(basic_header("prometheus:s3cret")));
  EXPECT_EQ(bearer_only.challenges(), std::vector<std::string>{"Bearer realm=\"pgstack metrics\""});
}

TEST_F(SecretFiles, TheMetricsTableOfPgstackTomlSetsTheSameAsTheFlags) {
  auto file = write("pgstack.toml", R"(
[metrics]
listen = "0.0.0.0:9187"
tls_cert = "certs/metrics.crt"
tls_key = "/etc/pgstack/metrics.key"
basic_auth_file = "metrics.passwd"
bearer_token_file = "metrics.token"
insecure_listen = false
)");
  auto config = load_metrics_config(file);
  EXPECT_EQ(config.listen, "0.0.0.0:9187");
  EXPECT_EQ(config.security.tls_cert, dir_ / "certs/metrics.crt") << "relative to the file";
  EXPECT_EQ(config.security.tls_key, "/etc/pgstack/metrics.key");
  EXPECT_EQ(config.security.basic_auth_file, dir_ / "metrics.passwd");
  EXPECT_EQ(config.security.bearer_token_file, dir_ / "metrics.token");
  EXPECT_FALSE(config.tls_from_stack);
  EXPECT_FALSE(load_metrics_config(write("empty.toml", "[stack]\nmax_connections = 100\n")).listen);
  for (const auto& [text, says] : std::vector<std::pair<std::string, std::string>>{
           {"[metrics]\nlisten = 9187\n", "[metrics] listen must be a string"},
           {"[metrics]\npassword = \"x\"\n", "[metrics] password is not a setting pgstack knows"},
           {"[metrics]\ntls_from_stack = true\ntls_cert = \"a\"\ntls_key = \"b\"\n", "keep one of them"}}) {
    try {
      load_metrics_config(write("bad.toml", text));
      ADD_FAILURE() << "accepted: " << text;
    } catch (const Error& e) {
      EXPECT_NE(std::string(e.what()).find(says), std::string::npos) << e.what();
    }
  }
}

// The endpoint on every address, over TLS with the certificate the stack makes for
// PostgreSQL (tls.h), requiring basic or bearer credentials; scraping a real server.
class SecuredEndpointTest : public SecretFiles {
 protected:
  void SetUp() override {
    stack::ensure_certificate(dir_);
    cert_ = dir_ / "server.crt";
    passwd_ = write("passwd", "prometheus:" + hash_password("s3cret") + "\n");
    token_ = write("token", "0123456789abcdef0123456789abcdef\n");
    wrong_password_ = write("wrong_password", "s3cre7\n");
    right_password_ = write("right_password", "s3cret\n");
    options_.servers.push_back({"db", db_.dsn()});
    scraper_ = std::make_unique<Scraper>(options_);
    endpoint_ = std::make_unique<HttpEndpoint>(*scraper_, "0.0.0.0", 0,
                                               EndpointSecurity{.tls_cert = cert_,
                                                                .tls_key = dir_ / "server.key",
                                                                .basic_auth_file = passwd_,
                                                                .bearer_token_file = token_});
    serving_ = std::thread([this] { endpoint_->serve(); });
  }
  void TearDown() override {
    endpoint_->stop();
    serving_.join();
  }
  // curl's status line and headers (-i), trusting the stack's self-signed certificate.
  sys::RunResult curl(std::vector<std::string> extra, const std::string& scheme = "https") {
    std::vector<std::string> argv = {"curl", "-sS", "-i", "--max-time", "20", "--cacert", cert_.string()};
    argv.insert(argv.end(), extra.begin(), extra.end());
    argv.push_back(fmt::format("{}://127.0.0.1:{}/metrics", scheme, endpoint_->port()));
    return sys::run(argv, {.timeout = 30s});
  }
  pgstack::testing::TestDatabase db_ = doctor::observe_cluster().create_database();
  ScraperOptions options_;
  fs::path cert_, passwd_, token_, wrong_password_, right_password_;
  std::unique_ptr<Scraper> scraper_;
  std::unique_ptr<HttpEndpoint> endpoint_;
  std::thread serving_;
};

TEST_F(SecuredEndpointTest, CurlGets401WithAChallengeUnlessItSendsTheCredentials) {
  auto none = curl({});
  EXPECT_NE(none.output.find("HTTP/1.1 401"), std::string::npos) << none.output;
  EXPECT_NE(none.output.find("WWW-Authenticate: Basic realm=\"pgstack metrics\""), std::string::npos) << none.output;
  EXPECT_NE(none.output.find("WWW-Authenticate: Bearer realm=\"pgstack metrics\""), std::string::npos) << none.output;
  EXPECT_EQ(none.output.find("pgstack_up"), std::string::npos);
  auto wrong = curl({"-u", "prometheus:s3cre7"});
  EXPECT_NE(wrong.output.find("HTTP/1.1 401"), std::string::npos) << wrong.output;
  auto right = curl({"-u", "prometheus:s3cret"});
  EXPECT_NE(right.output.find("HTTP/1.1 200"), std::string::npos) << right.output;
  EXPECT_NE(right.output.find("pgstack_up{server=\"db\"} 1"), std::string::npos) << right.output;
  auto bearer = curl({"-H", "Authorization: Bearer 0123456789abcdef0123456789abcdef"});
  EXPECT_NE(bearer.output.find("pgstack_up{server=\"db\"} 1"), std::string::npos) << bearer.output;
  auto plain = curl({"-u", "prometheus:s3cret"}, "http");
  EXPECT_EQ(plain.output.find("pgstack_up"), std::string::npos) << "served without TLS: " << plain.output;
}

// A real Prometheus scrapes the endpoint with basic_auth, authorization and tls_config:
// `up` is 1 for the right credentials and 0 for a wrong password and for none.
TEST_F(SecuredEndpointTest, PrometheusScrapesWithBasicAuthBearerAndTls) {
  const auto target = fmt::format("127.0.0.1:{}", endpoint_->port());
  auto job = [&](const std::string& name, const std::string& auth) {
    return fmt::format(
        "  - job_name: {}\n    scheme: https\n    tls_config:\n      ca_file: {}\n{}    static_configs:\n"
        "      - targets: ['{}']\n",
        name, cert_.string(), auth, target);
  };
  const auto config = write(
      "prometheus.yml",
      "global:\n  scrape_interval: 2s\n  scrape_timeout: 2s\nscrape_configs:\n" +
          job("basic_right", fmt::format("    basic_auth:\n      username: prometheus\n      password_file: {}\n",
                                         right_password_.string())) +
          job("basic_wrong", fmt::format("    basic_auth:\n      username: prometheus\n      password_file: {}\n",
                                         wrong_password_.string())) +
          job("bearer", fmt::format("    authorization:\n      type: Bearer\n      credentials_file: {}\n",
                                    token_.string())) +
          job("no_credentials", ""));
  const int web_port = sys::free_tcp_port();
  const auto log = (dir_ / "prometheus.log").string();
  pid_t pid = sys::spawn({"prometheus", "--config.file=" + config.string(), "--storage.tsdb.path=" + (dir_ / "tsdb").string(),
                          fmt::format("--web.listen-address=127.0.0.1:{}", web_port)},
                         {}, log);
  httplib::Client api("127.0.0.1", web_port);
  api.set_read_timeout(5, 0);
  std::map<std::string, std::string> up;  // job -> value of up
  std::string last_answer;
  const bool scraped = pgstack::testing::eventually(
      [&] {
        auto res = api.Get("/api/v1/query?query=up");
        if (!res || res->status != 200) return false;
        last_answer = res->body;
        up.clear();
        const auto doc = nlohmann::json::parse(res->body);
        for (const auto& r : doc["data"]["result"])
          up[r["metric"]["job"].get<std::string>()] = r["value"][1].get<std::string>();
        return up.size() == 4;
      },
      30s);
  ::kill(pid, SIGTERM);
  EXPECT_TRUE(pgstack::testing::eventually([&] { return !sys::process_alive(pid); }, 10s));
  ASSERT_TRUE(scraped) << last_answer << "\n" << pgstack::read_text_file(log);
  EXPECT_EQ(up["basic_right"], "1");
  EXPECT_EQ(up["bearer"], "1");
  EXPECT_EQ(up["basic_wrong"], "0");
  EXPECT_EQ(up["no_credentials"], "0");
}

TEST_F(SecretFiles, ABadCertificateOrKeyIsAClearErrorBeforeListening) {
  stack::ensure_certificate(dir_);
  auto not_pem = write("not.pem", "hello\n");
  Scraper scraper(ScraperOptions{});
  try {
    HttpEndpoint endpoint(scraper, "127.0.0.1", 0, {.tls_cert = not_pem, .tls_key = dir_ / "server.key"});
    FAIL() << "a file that is no certificate was accepted";
  } catch (const pg::UsageError& e) {
    EXPECT_NE(std::string(e.what()).find("cannot use the TLS certificate " + not_pem.string()), std::string::npos)
        << e.what();
  }
  fs::permissions(dir_ / "server.key", fs::perms::owner_read | fs::perms::others_read, fs::perm_options::replace);
  EXPECT_THROW(HttpEndpoint(scraper, "127.0.0.1", 0, {.tls_cert = dir_ / "server.crt", .tls_key = dir_ / "server.key"}),
               pg::UsageError)
      << "a key others can read";
  EXPECT_THROW(HttpEndpoint(scraper, "0.0.0.0", 0), pg::UsageError) << "an open address with no protection";
}

}  // namespace
}  // namespace pgstack::metrics
