// Small text helpers everyone needs, written once.
//
//   pgstack::trim("  5432\n")          // "5432"
//   pgstack::shell_quote("it's")       // 'it'\''s'  (a POSIX shell reads back: it's)
#pragma once

#include <string>
#include <string_view>

namespace pgstack {

// text without leading and trailing blanks (space, tab, CR, LF).
std::string_view trim(std::string_view text);

// text as one word for a POSIX shell: in single quotes, each ' written as '\''.
std::string shell_quote(std::string_view text);

}  // namespace pgstack
