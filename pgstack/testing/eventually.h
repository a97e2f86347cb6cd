// Waiting in tests for something that happens on another thread, process or server.
//
//   EXPECT_TRUE(pgstack::testing::eventually([&] { return rows() == 0; }, std::chrono::seconds(5)));
#pragma once

#include <chrono>
#include <thread>

namespace pgstack::testing {

// Polls pred every 20 ms until it holds or timeout passes; returns pred()'s last value.
template <class Pred>
bool eventually(Pred pred, std::chrono::milliseconds timeout = std::chrono::seconds(20)) {
  const auto deadline = std::chrono::steady_clock::now() + timeout;
  while (!pred()) {
    if (std::chrono::steady_clock::now() > deadline) return pred();
    std::this_thread::sleep_for(std::chrono::milliseconds(20));
  }
  return true;
}

}  // namespace pgstack::testing
