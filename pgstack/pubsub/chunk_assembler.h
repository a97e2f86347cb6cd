// Live messages travel as NOTIFYs of "<message id>:<chunk>:<chunks>:<text>" on the
// channel "pgstack:<name>" (pgstack.pubsub_publish cuts a message into chunks of at most
// 7900 bytes); ChunkAssembler puts them together again. Anyone who may connect can
// NOTIFY, so every payload is untrusted: look-alikes are ignored, never trusted to size
// or index anything.
//
//   ChunkAssembler chunks;
//   if (auto m = chunks.add(n.channel, n.payload)) deliver(*m);   // once its last chunk came
#pragma once

#include <cstddef>
#include <cstdint>
#include <map>
#include <optional>
#include <string>
#include <string_view>
#include <vector>

#include "pgstack/pubsub/message.h"

namespace pgstack::pubsub {

// More chunks than a 1 MB message needs (133 of 7900 bytes): anything above is not pubsub's.
inline constexpr std::int64_t kMaxChunks = 200;

struct Chunk {
  std::int64_t message_id = 0;
  std::int64_t index = 0;  // 1..count
  std::int64_t count = 0;  // 1..kMaxChunks
  std::string_view text;   // points into the payload
};

// The chunk a payload carries, or nullopt when it is not one pubsub sends.
std::optional<Chunk> decode_chunk(std::string_view payload);

class ChunkAssembler {
 public:
  // A whole message once channel ("pgstack:<name>") and payload complete one; nullopt
  // for a chunk of a message still missing others, and for anything not pubsub's.
  std::optional<Message> add(std::string_view channel, std::string_view payload);
  // Forgets half-received messages (their missing chunks were lost with a connection).
  void clear() { partial_.clear(); }
  std::size_t partial_messages() const noexcept { return partial_.size(); }

 private:
  struct Partial {
    std::string channel;
    std::vector<std::string> chunks;
    std::vector<bool> have;
    std::size_t received = 0;
  };
  std::map<std::string, Partial> partial_;  // by channel and message id
};

}  // namespace pgstack::pubsub
