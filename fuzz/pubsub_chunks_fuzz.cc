// Live pubsub's chunk header (pgstack/pubsub/chunk_assembler.h): every NOTIFY payload is
// untrusted, since anyone who may connect can send one (crafted NOTIFYs once wrote out of
// bounds). The input's first byte picks a mode:
//   even: every further line is one "channel payload" notification, fed as is; nothing
//         the assembler returns is bigger than the input or comes from another channel,
//         and half-received messages stay bounded.
//   odd:  a real message (the input's tail) is cut into chunks as pgstack.pubsub_publish
//         cuts them, sent in an order the input chooses, some twice, among look-alikes
//         from the input's head; it comes out once, whole and unchanged.
#include <algorithm>
#include <vector>

#include "fuzz/fuzz_support.h"
#include "pgstack/pubsub/chunk_assembler.h"

using namespace pgstack::pubsub;
using pgstack::fuzz::require;

namespace {

std::vector<std::string_view> lines(std::string_view text) {
  std::vector<std::string_view> out;
  while (!text.empty()) {
    const auto nl = text.find('\n');
    out.push_back(text.substr(0, nl));
    if (nl == std::string_view::npos) break;
    text.remove_prefix(nl + 1);
  }
  return out;
}

void feed_raw(std::string_view input) {
  ChunkAssembler assembler;
  for (auto line : lines(input)) {
    const auto space = line.find(' ');
    const auto channel = line.substr(0, space);
    const auto payload = space == std::string_view::npos ? std::string_view() : line.substr(space + 1);
    if (auto m = assembler.add(channel, payload)) {
      require(m->payload.size() <= input.size(), "a message bigger than everything sent");
      require(channel == "pgstack:" + m->channel, "a message completed on another channel", channel);
    }
    require(assembler.partial_messages() <= 66, "half-received messages grow without bound");
  }
}

void round_trip(std::string_view input) {
  if (input.size() < 2) return;
  // Head: up to 16 look-alike payloads; tail: the message. Both from the input.
  const auto split = std::min(input.size(), static_cast<std::size_t>(static_cast<unsigned char>(input[0])) * 4);
  const auto look_alikes = lines(input.substr(0, split));
  const std::string_view message = input.substr(split);
  const std::size_t chunk_size = 1 + static_cast<unsigned char>(input[1]) % 64;
  std::vector<std::string> chunks;
  for (std::size_t at = 0; at < message.size() || chunks.empty(); at += chunk_size)
    chunks.emplace_back(message.substr(std::min(at, message.size()), chunk_size));
  if (chunks.size() > static_cast<std::size_t>(kMaxChunks)) return;
  constexpr std::int64_t kId = 4242;
  std::vector<std::string> sends;
  for (std::size_t i = 0; i < chunks.size(); ++i)
    sends.push_back(std::to_string(kId) + ":" + std::to_string(i + 1) + ":" + std::to_string(chunks.size()) + ":" + chunks[i]);
  // The order: a rotation and a duplicate chosen by the input (PostgreSQL keeps order, a
  // sender that repeats itself is tolerated).
  std::rotate(sends.begin(), sends.begin() + static_cast<std::ptrdiff_t>(split % sends.size()), sends.end());
  if (sends.size() > 1) sends.insert(sends.begin(), sends[message.size() % sends.size()]);  // one chunk: each is a message

  ChunkAssembler assembler;
  std::optional<Message> got;
  int deliveries = 0;
  std::size_t next_look_alike = 0;
  for (const auto& payload : sends) {
    if (next_look_alike < look_alikes.size() && next_look_alike < 16) {
      const auto fake = look_alikes[next_look_alike++];
      auto chunk = decode_chunk(fake);
      if (!chunk || chunk->message_id != kId) assembler.add("pgstack:orders", fake);  // another message's, or junk
    }
    if (auto m = assembler.add("pgstack:orders", payload)) {
      got = std::move(m);
      ++deliveries;
    }
  }
  require(deliveries == 1, "the real message did not come out exactly once", std::to_string(deliveries));
  require(got->channel == "orders" && got->id == kId, "the message came out under another channel or id");
  require(got->payload == message, "the message came out changed", got->payload);
}

}  // namespace

extern "C" int LLVMFuzzerTestOneInput(const std::uint8_t* data, std::size_t size) {
  if (size == 0 || size > 8192) return 0;
  const auto input = pgstack::fuzz::as_text(data, size);
  if (input[0] % 2 == 0) feed_raw(input.substr(1));
  else round_trip(input.substr(1));
  return 0;
}
