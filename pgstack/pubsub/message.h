// One pubsub message, live or durable (pubsub.h).
#pragma once

#include <cstdint>
#include <string>

namespace pgstack::pubsub {

struct Message {
  std::string channel;
  std::string payload;
  std::int64_t id = 0;
};

}  // namespace pgstack::pubsub
