// Prometheus label escaping (pgstack/base/exposition.h): label values come from the
// database (queue, table, slot names) and may hold anything. Beyond not crashing: the
// sample line Exposition writes for a value is one line, and reading it back as
// Prometheus does (text format 0.0.4: \\ \" \n are the escapes) gives the value again.
#include <optional>

#include "fuzz/fuzz_support.h"
#include "pgstack/base/exposition.h"

using pgstack::fuzz::require;

namespace {

// The label value of `name{label="..."} value`, unescaped as Prometheus reads it; nullopt
// when the line is not one such sample.
std::optional<std::string> read_label_value(std::string_view line, std::string_view prefix) {
  if (!line.starts_with(prefix)) return std::nullopt;
  std::string value;
  for (std::size_t i = prefix.size(); i < line.size(); ++i) {
    const char c = line[i];
    if (c == '"') return line.substr(i + 1) == "} 1" ? std::optional(value) : std::nullopt;
    if (c == '\n') return std::nullopt;
    if (c != '\\') {
      value += c;
      continue;
    }
    if (++i == line.size()) return std::nullopt;
    if (line[i] == '\\') value += '\\';
    else if (line[i] == '"') value += '"';
    else if (line[i] == 'n') value += '\n';
    else return std::nullopt;  // Prometheus refuses any other escape
  }
  return std::nullopt;
}

}  // namespace

extern "C" int LLVMFuzzerTestOneInput(const std::uint8_t* data, std::size_t size) {
  if (size > 4096) return 0;
  const std::string value(pgstack::fuzz::as_text(data, size));
  pgstack::Exposition out;
  out.family("pgstack_fuzz", "gauge", "A label value from the fuzzer.");
  out.sample("pgstack_fuzz", {{"queue", value}}, 1);
  const std::string text = out.text();
  const std::string_view header = "# HELP pgstack_fuzz A label value from the fuzzer.\n# TYPE pgstack_fuzz gauge\n";
  require(text.starts_with(header) && text.ends_with("\n"), "the exposition's frame is wrong", text);
  const std::string_view sample = std::string_view(text).substr(header.size(), text.size() - header.size() - 1);
  require(sample.find('\n') == std::string_view::npos, "a label value broke the sample over two lines", sample);
  const auto read_back = read_label_value(sample, "pgstack_fuzz{queue=\"");
  require(read_back.has_value(), "Prometheus could not read the sample line", sample);
  require(*read_back == value, "the label value read back is not the one written", sample);
  require(pgstack::escape_label(value).size() >= value.size(), "escaping dropped characters");
  return 0;
}
