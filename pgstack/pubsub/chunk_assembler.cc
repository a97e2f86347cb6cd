#include "pgstack/pubsub/chunk_assembler.h"

#include <charconv>

#include <fmt/format.h>

namespace pgstack::pubsub {
namespace {

constexpr std::string_view kLivePrefix = "pgstack:";
// A transaction's chunks arrive together, so only a few messages are ever half
// received; more means someone sends look-alike notifications.
constexpr std::size_t kMaxPartialMessages = 64;

// Reads "<digits>:" at pos, advancing past the colon.
std::optional<std::int64_t> read_number(std::string_view s, std::size_t& pos) {
  std::int64_t value = 0;
  auto [end, ec] = std::from_chars(s.data() + pos, s.data() + s.size(), value);
  if (ec != std::errc() || end == s.data() + s.size() || *end != ':') return std::nullopt;
  pos = static_cast<std::size_t>(end - s.data()) + 1;
  return value;
}

}  // namespace

std::optional<Chunk> decode_chunk(std::string_view payload) {
  std::size_t pos = 0;
  auto id = read_number(payload, pos);
  auto index = id ? read_number(payload, pos) : std::nullopt;
  auto count = index ? read_number(payload, pos) : std::nullopt;
  if (!count || *index < 1 || *index > *count || *count > kMaxChunks) return std::nullopt;
  return Chunk{*id, *index, *count, payload.substr(pos)};
}

std::optional<Message> ChunkAssembler::add(std::string_view channel, std::string_view payload) {
  if (!channel.starts_with(kLivePrefix)) return std::nullopt;
  channel.remove_prefix(kLivePrefix.size());
  auto chunk = decode_chunk(payload);
  if (!chunk) return std::nullopt;
  if (chunk->count == 1) return Message{std::string(channel), std::string(chunk->text), chunk->message_id};
  const std::string key = fmt::format("{}/{}", channel, chunk->message_id);
  if (partial_.size() > kMaxPartialMessages && !partial_.contains(key)) partial_.clear();
  Partial& p = partial_[key];
  const auto count = static_cast<std::size_t>(chunk->count);
  if (!p.chunks.empty() && p.chunks.size() != count) {
    partial_.erase(key);  // chunks that disagree on their number: not one message
    return std::nullopt;
  }
  if (p.chunks.empty()) {
    p.channel = std::string(channel);
    p.chunks.resize(count);
    p.have.resize(count);
  }
  const auto i = static_cast<std::size_t>(chunk->index - 1);
  if (!p.have[i]) ++p.received;
  p.have[i] = true;
  p.chunks[i] = std::string(chunk->text);
  if (p.received < p.chunks.size()) return std::nullopt;
  Message m{p.channel, {}, chunk->message_id};
  for (auto& c : p.chunks) m.payload += c;
  partial_.erase(key);
  return m;
}

}  // namespace pgstack::pubsub
