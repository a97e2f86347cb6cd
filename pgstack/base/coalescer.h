// Turns many threads' concurrent calls into few batches, so N callers cost far fewer
// than N statements. A call runs at once, alone, while fewer than max_in_flight batches
// are running; otherwise it queues, and the next caller to find a free slot takes the
// whole queue (up to max_batch) and runs it as one batch on behalf of everyone in it
// (leader/follower: no thread of its own, no timer, no added wait when idle).
//
// Why it pays: on PostgreSQL a statement that reads or writes 8 keys costs little more
// than one that touches 1 (parse, plan, executor start-up, the round trip and two
// context switches are per statement), so when the server is the bottleneck, batches
// grow by themselves and throughput rises with load instead of falling.
//
//   Coalescer<std::string, std::optional<std::string>> gets({.max_in_flight = 2});
//   auto value = gets.submit(key, [&](Coalescer<...>::Batch batch) {
//     auto rows = lookup_all(batch);                 // one statement for every caller
//     for (auto* item : batch) item->reply = rows[item->request];
//   });
//
// The batch function runs on the calling thread of whichever caller leads. It must give
// every item a reply; if it throws, every item left without one gets the exception.
#pragma once

#include <algorithm>
#include <condition_variable>
#include <cstddef>
#include <deque>
#include <exception>
#include <memory>
#include <mutex>
#include <optional>
#include <span>
#include <stdexcept>
#include <vector>

namespace pgstack {

struct CoalescerOptions {
  std::size_t max_in_flight = 2;  // batches running at once; at least 1
  std::size_t max_batch = 64;     // calls per batch, at most
};

template <class Request, class Reply>
class Coalescer {
 public:
  struct Item {
    explicit Item(Request r) : request(std::move(r)) {}
    Request request;
    std::optional<Reply> reply;  // set by the batch function

   private:
    friend class Coalescer;
    enum State { waiting, lead, done };
    std::exception_ptr error;
    // Its own mutex, not the coalescer's: a woken caller must not block on the mutex
    // its waker still holds (that doubles the context switches, which on a busy
    // machine are what a call costs). std::atomic::wait would do, but libstdc++ spins
    // on sched_yield first, which costs more than it saves with more threads than cores.
    std::mutex mutex;
    std::condition_variable wake;
    State state = waiting;  // guarded by mutex
    bool taken = false;     // in a batch; guarded by the coalescer's mutex
  };
  using Batch = std::span<Item* const>;

  explicit Coalescer(CoalescerOptions options) : options_(options) {
    if (options_.max_in_flight == 0 || options_.max_batch == 0)
      throw std::invalid_argument("Coalescer: max_in_flight and max_batch must be at least 1");
  }
  Coalescer(const Coalescer&) = delete;
  Coalescer& operator=(const Coalescer&) = delete;

  // Returns this call's reply, from a batch this thread or another one ran.
  template <class RunBatch>
  Reply submit(Request request, RunBatch&& run) {
    // Shared: the leader that finishes this call may still be waking it when it returns.
    auto item = std::make_shared<Item>(std::move(request));
    std::unique_lock lock(mutex_);
    queue_.push_back(item);
    for (;;) {
      // Leads only while its own call is still queued: once another leader has taken
      // it, this thread just waits for that batch.
      if (!item->taken && in_flight_ < options_.max_in_flight) {
        lead(lock, run);
        if (state_of(*item) == Item::done) break;
        continue;
      }
      lock.unlock();
      {
        std::unique_lock mine(item->mutex);
        item->wake.wait(mine, [&] { return item->state != Item::waiting; });
        if (item->state == Item::done) break;
        item->state = Item::waiting;  // told to lead: try, under the coalescer's mutex
      }
      lock.lock();
    }
    if (lock.owns_lock()) lock.unlock();
    if (item->error) std::rethrow_exception(item->error);
    return std::move(*item->reply);
  }

  const CoalescerOptions& options() const noexcept { return options_; }

 private:
  using ItemPtr = std::shared_ptr<Item>;

  // Runs the oldest queued calls as one batch. Called with the lock held; returns with
  // it held.
  template <class RunBatch>
  void lead(std::unique_lock<std::mutex>& lock, RunBatch& run) {
    const auto n = static_cast<std::ptrdiff_t>(std::min(queue_.size(), options_.max_batch));
    std::vector<ItemPtr> batch(queue_.begin(), queue_.begin() + n);
    queue_.erase(queue_.begin(), queue_.begin() + n);
    for (auto& item : batch) item->taken = true;
    ++in_flight_;
    auto next = next_leader();  // more queued than one batch takes, and a slot still free
    lock.unlock();
    wake(next, Item::lead);
    std::vector<Item*> items;
    items.reserve(batch.size());
    for (auto& item : batch) items.push_back(item.get());
    std::exception_ptr failure;
    try {
      run(Batch(items));
    } catch (...) {
      failure = std::current_exception();
    }
    for (auto* item : items) {
      if (item->reply) continue;
      item->error = failure ? failure
                            : std::make_exception_ptr(std::logic_error("Coalescer: the batch gave a call no reply"));
    }
    lock.lock();
    --in_flight_;
    next = next_leader();
    lock.unlock();
    // The next batch first: it goes out while this thread wakes the callers it served.
    wake(next, Item::lead);
    for (auto& item : batch) wake(item, Item::done);
    lock.lock();
  }

  // The oldest queued call, to lead the next batch, when a slot is free. Under the lock.
  ItemPtr next_leader() {
    if (queue_.empty() || in_flight_ >= options_.max_in_flight) return nullptr;
    return queue_.front();
  }

  static typename Item::State state_of(Item& item) {
    std::lock_guard mine(item.mutex);
    return item.state;
  }

  // Notified after the item's mutex is released, so the woken thread does not block on it.
  static void wake(const ItemPtr& item, typename Item::State to) {
    if (!item) return;
    {
      std::lock_guard mine(item->mutex);
      if (item->state == Item::done) return;
      item->state = to;
    }
    item->wake.notify_one();
  }

  const CoalescerOptions options_;
  std::mutex mutex_;
  std::deque<ItemPtr> queue_;
  std::size_t in_flight_ = 0;
};

}  // namespace pgstack
