// Small text files (pid files, config snippets, logs) read and written through
// close-on-exec descriptors: std::fstream opens without O_CLOEXEC, so a program another
// thread starts meanwhile would inherit the file.
//
//   std::string pid_line = pgstack::read_text_file(data_dir + "/postmaster.pid");
//   pgstack::write_text_file(data_dir + "/extra.conf", "port = 5433\n");
//   auto tail = pgstack::read_text_file(log, /*offset=*/seen);
#pragma once

#include <cstdint>
#include <optional>
#include <string>

namespace pgstack {

// The file's contents from byte offset on; empty when it is missing or unreadable.
std::string read_text_file(const std::string& path, std::uint64_t offset = 0);
// The same, for callers that must tell a missing or unreadable file from an empty one:
// nullopt when the file cannot be opened, with errno saying why.
std::optional<std::string> read_text_file_if_readable(const std::string& path);

enum class WriteMode { replace, append };
// Creates the file (mode 0644) when missing; throws pgstack::Error naming the path.
void write_text_file(const std::string& path, const std::string& text, WriteMode mode = WriteMode::replace);

// For managed config files: writes text to path only when it differs from what is
// there, atomically (a temp file with the given mode, fsynced, then renamed), so a
// reader never sees half a file and a secret is never readable by others. Returns true
// when it wrote. Throws pgstack::Error naming the path.
bool replace_file_if_changed(const std::string& path, const std::string& text, unsigned mode = 0644);

}  // namespace pgstack
