// Keys and values without blocking: get() and set() return at once, and the reply comes
// to a callback. Calls made while a statement runs go out together in the next one, so
// one thread (an event loop, say) keeps many calls in flight and PostgreSQL sees a few
// statements of many keys each, not one statement per key. The same SQL and the same
// namespace as kv::Store (docs/kv.md); use Store for the rest of the API.
//
//   pgstack::kv::AsyncStore kv{pool};
//   kv.set("greeting", "hello", std::chrono::minutes{5}, [](std::exception_ptr error) {...});
//   kv.get("greeting", [](std::optional<std::string> value, std::exception_ptr error) {
//     if (error) return report(error);
//     if (value) use(*value);
//   });
//   kv.drain();                                      // every call so far has had its reply
//
// Callbacks run on the store's own thread, one at a time, in no promised order; keep them
// short (hand real work to your own executor). A callback may call get() and set() again.
// A callback that throws is a bug in it: the exception goes to on_callback_error.
#pragma once

#include <chrono>
#include <condition_variable>
#include <cstddef>
#include <deque>
#include <exception>
#include <functional>
#include <mutex>
#include <optional>
#include <string>
#include <thread>

#include "pgstack/kv/batches.h"
#include "pgstack/pg/pool.h"

namespace pgstack::kv {

struct AsyncStoreOptions {
  std::string name_space = "default";  // must exist (kv::Store creates namespaces)
  // Threads that send statements, each on its own pooled connection. One keeps one
  // statement in flight; two overlap one statement's round trip with another's work.
  std::size_t threads = 2;
  std::function<void(std::exception_ptr)> on_callback_error;  // default: print to stderr
};

class AsyncStore {
 public:
  using Ttl = std::chrono::microseconds;
  using GetDone = std::function<void(std::optional<std::string> value, std::exception_ptr error)>;
  using SetDone = std::function<void(std::exception_ptr error)>;

  // Throws when the namespace does not exist.
  explicit AsyncStore(pg::Pool& pool, AsyncStoreOptions options = {});
  // Replies to every call made before it, then stops its threads.
  ~AsyncStore();
  AsyncStore(const AsyncStore&) = delete;
  AsyncStore& operator=(const AsyncStore&) = delete;

  // nullopt in the callback: the key is absent or expired.
  void get(std::string key, GetDone done);
  // Sets the key (SetMode::always); no ttl: it never expires.
  void set(std::string key, std::string value, std::optional<Ttl> ttl, SetDone done);

  // Blocks until every call made so far (and any call their callbacks made) has had its
  // reply. Not from a callback.
  void drain();

 private:
  struct Get {
    std::string key;
    GetDone done;
  };
  struct Set {
    batches::Set entry;
    SetDone done;
  };
  void serve();
  void run_gets(std::deque<Get>& gets);
  void run_sets(std::deque<Set>& sets);
  template <class F>
  void call_back(F&& callback);

  pg::Pool& pool_;
  const AsyncStoreOptions options_;
  std::mutex mutex_;
  std::condition_variable work_;      // a call queued, or stopping
  std::condition_variable finished_;  // outstanding_ reached 0
  std::deque<Get> gets_;
  std::deque<Set> sets_;
  std::size_t outstanding_ = 0;  // calls made and not yet answered
  bool stopping_ = false;
  std::vector<std::thread> threads_;
};

}  // namespace pgstack::kv
