// pgstack::Coalescer on its own: concurrency, batch limits and errors (no server needed: the
// batch function here is plain code; the kv statements it drives are tested in
// batching_test.cc against a real PostgreSQL).
#include <gtest/gtest.h>

#include <algorithm>
#include <atomic>
#include <chrono>
#include <stdexcept>
#include <thread>
#include <vector>

#include "pgstack/base/coalescer.h"

namespace pgstack {
namespace {

using namespace std::chrono_literals;
using Doubler = Coalescer<int, int>;

TEST(CoalescerTest, ALoneCallRunsAtOnceInABatchOfItsOwn) {
  Doubler c({.max_in_flight = 1});
  std::size_t seen = 0;
  EXPECT_EQ(c.submit(21, [&](Doubler::Batch b) {
    seen = b.size();
    for (auto* i : b) i->reply = i->request * 2;
  }), 42);
  EXPECT_EQ(seen, 1u);
}

TEST(CoalescerTest, ConcurrentCallsShareBatchesWithinTheLimitsAndEachGetsItsOwnReply) {
  Doubler c({.max_in_flight = 2, .max_batch = 5});
  std::atomic<int> running{0}, most_running{0}, batches{0}, biggest{0}, calls{0};
  auto run = [&](Doubler::Batch b) {
    const int now = ++running;
    most_running = std::max(most_running.load(), now);
    biggest = std::max(biggest.load(), static_cast<int>(b.size()));
    ++batches;
    calls += static_cast<int>(b.size());
    std::this_thread::sleep_for(1ms);  // a statement's round trip
    for (auto* i : b) i->reply = i->request * 2;
    --running;
  };
  std::atomic<int> wrong{0};
  std::vector<std::thread> threads;
  for (int t = 0; t < 16; ++t)
    threads.emplace_back([&, t] {
      for (int n = 0; n < 100; ++n) {
        const int request = t * 1000 + n;
        if (c.submit(request, run) != request * 2) ++wrong;
      }
    });
  for (auto& t : threads) t.join();
  EXPECT_EQ(wrong, 0);
  EXPECT_EQ(calls, 1600);
  EXPECT_LE(most_running, 2);
  EXPECT_LE(biggest, 5);
  EXPECT_GT(biggest, 1);  // calls were coalesced...
  EXPECT_LT(batches, 1600 / 2);  // ...into far fewer batches than calls
}

TEST(CoalescerTest, ABatchThatThrowsFailsEveryCallInItAndTheNextBatchRunsNormally) {
  Doubler c({.max_in_flight = 1});
  std::atomic<bool> fail{true};
  auto run = [&](Doubler::Batch b) {
    if (fail) {
      std::this_thread::sleep_for(20ms);  // others queue behind this batch
      throw std::runtime_error("server gone");
    }
    for (auto* i : b) i->reply = i->request;
  };
  std::atomic<int> failed{0};
  std::vector<std::thread> threads;
  for (int t = 0; t < 4; ++t)
    threads.emplace_back([&, t] {
      try {
        c.submit(t, run);
      } catch (const std::runtime_error& e) {
        if (std::string(e.what()) == "server gone") ++failed;
      }
    });
  for (auto& t : threads) t.join();
  EXPECT_EQ(failed, 4);
  fail = false;
  EXPECT_EQ(c.submit(7, run), 7);
}

TEST(CoalescerTest, ACallTheBatchGaveNoReplyFailsAsABug) {
  Doubler c({.max_in_flight = 1});
  EXPECT_THROW(c.submit(1, [](Doubler::Batch) {}), std::logic_error);
}

TEST(CoalescerTest, ZeroLimitsAreRefused) {
  EXPECT_THROW(Doubler({.max_in_flight = 0}), std::invalid_argument);
  EXPECT_THROW(Doubler({.max_in_flight = 1, .max_batch = 0}), std::invalid_argument);
}

}  // namespace
}  // namespace pgstack
