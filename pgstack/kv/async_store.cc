#include "pgstack/kv/async_store.h"

#include <iostream>


namespace pgstack::kv {

AsyncStore::AsyncStore(pg::Pool& pool, AsyncStoreOptions options) : pool_(pool), options_(std::move(options)) {
  pool_.query("select pgstack.kv_require_namespace($1)", options_.name_space);
  const std::size_t threads = options_.threads == 0 ? 1 : options_.threads;
  for (std::size_t i = 0; i < threads; ++i) threads_.emplace_back([this] { serve(); });
}

AsyncStore::~AsyncStore() {
  {
    std::lock_guard lock(mutex_);
    stopping_ = true;
  }
  work_.notify_all();
  for (auto& t : threads_) t.join();
}

void AsyncStore::get(std::string key, GetDone done) {
  {
    std::lock_guard lock(mutex_);
    gets_.push_back(Get{std::move(key), std::move(done)});
    ++outstanding_;
  }
  work_.notify_one();
}

void AsyncStore::set(std::string key, std::string value, std::optional<Ttl> ttl, SetDone done) {
  {
    std::lock_guard lock(mutex_);
    sets_.push_back(Set{batches::Set{std::move(key), std::move(value), ttl}, std::move(done)});
    ++outstanding_;
  }
  work_.notify_one();
}

void AsyncStore::drain() {
  std::unique_lock lock(mutex_);
  finished_.wait(lock, [&] { return outstanding_ == 0; });
}

// Each thread takes what is queued (up to a batch of gets and a batch of sets), sends
// it, answers it, and comes back for more. The queue is only left when stopping and
// empty, so the destructor answers every call.
void AsyncStore::serve() {
  std::unique_lock lock(mutex_);
  for (;;) {
    work_.wait(lock, [&] { return stopping_ || !gets_.empty() || !sets_.empty(); });
    if (gets_.empty() && sets_.empty()) return;  // stopping
    std::deque<Get> gets;
    std::deque<Set> sets;
    for (std::size_t i = 0; i < batches::kMaxKeys && !gets_.empty(); ++i) {
      gets.push_back(std::move(gets_.front()));
      gets_.pop_front();
    }
    for (std::size_t i = 0; i < batches::kMaxKeys && !sets_.empty(); ++i) {
      sets.push_back(std::move(sets_.front()));
      sets_.pop_front();
    }
    const std::size_t answered = gets.size() + sets.size();
    lock.unlock();
    if (!gets.empty()) run_gets(gets);
    if (!sets.empty()) run_sets(sets);
    lock.lock();
    outstanding_ -= answered;
    if (outstanding_ == 0) finished_.notify_all();
  }
}

void AsyncStore::run_gets(std::deque<Get>& gets) {
  std::vector<std::optional<std::string>> values;
  std::exception_ptr error;
  try {
    std::vector<const std::string*> keys;
    for (const auto& g : gets) keys.push_back(&g.key);
    values = batches::get(*pool_.acquire(), options_.name_space, keys);
  } catch (...) {
    error = std::current_exception();
  }
  for (std::size_t i = 0; i < gets.size(); ++i)
    call_back([&] { gets[i].done(error ? std::nullopt : std::move(values[i]), error); });
}

void AsyncStore::run_sets(std::deque<Set>& sets) {
  std::vector<Set*> batched, alone;  // alone: refused by the server, so its error is its own only
  std::vector<const batches::Set*> entries;
  for (auto& s : sets) {
    if (batches::valid_write(s.entry.key, s.entry.ttl)) {
      batched.push_back(&s);
      entries.push_back(&s.entry);
    } else {
      alone.push_back(&s);
    }
  }
  std::exception_ptr error;
  if (!entries.empty()) {
    try {
      batches::set(*pool_.acquire(), options_.name_space, entries);
    } catch (...) {
      error = std::current_exception();
    }
  }
  for (auto* s : batched) call_back([&] { s->done(error); });
  for (auto* s : alone) {
    std::exception_ptr own;
    try {
      batches::set_one(*pool_.acquire(), options_.name_space, s->entry.key, s->entry.value, s->entry.ttl, "always");
    } catch (...) {
      own = std::current_exception();
    }
    call_back([&] { s->done(own); });
  }
}

template <class F>
void AsyncStore::call_back(F&& callback) {
  try {
    callback();
  } catch (...) {
    if (options_.on_callback_error) {
      options_.on_callback_error(std::current_exception());
      return;
    }
    try {
      throw;
    } catch (const std::exception& e) {
      std::cerr << "pgstack kv::AsyncStore: a callback threw (its exception is dropped): " << e.what() << "\n";
    } catch (...) {
      std::cerr << "pgstack kv::AsyncStore: a callback threw a non-exception (dropped)\n";
    }
  }
}

}  // namespace pgstack::kv
