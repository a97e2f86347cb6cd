// Small text files (pid files, config snippets, logs) read and written through
// close-on-exec descriptors: std::fstream opens without O_CLOEXEC, so a program another
// thread starts meanwhile would inherit the file.
//
//   std::string pid_line = pgstack::sys::read_text_file(data_dir + "/postmaster.pid");
//   pgstack::sys::write_text_file(data_dir + "/extra.conf", "port = 5433\n");
//   auto tail = pgstack::sys::read_text_file(log, /*offset=*/seen);
#pragma once

#include <cstdint>
#include <string>

namespace pgstack::sys {

// The file's contents from byte offset on; empty when it is missing or unreadable.
std::string read_text_file(const std::string& path, std::uint64_t offset = 0);

enum class WriteMode { replace, append };
// Creates the file (mode 0644) when missing; throws pgstack::Error naming the path.
void write_text_file(const std::string& path, const std::string& text, WriteMode mode = WriteMode::replace);

}  // namespace pgstack::sys
