// Prometheus text exposition (format 0.0.4): metric families with HELP and TYPE, each
// family's samples kept together however they were added (the format requires it when
// several servers report the same family), label values escaped.
//
//   Exposition out;
//   out.family("pgstack_up", "gauge", "1 when the server answered this scrape.");
//   out.sample("pgstack_up", {{"server", "primary"}}, 1);
//   std::string text = out.text();
#pragma once

#include <string>
#include <unordered_map>
#include <string_view>
#include <utility>
#include <vector>

namespace pgstack {

using Labels = std::vector<std::pair<std::string, std::string>>;

class Exposition {
 public:
  // Declares a family; a second declaration of the same name is ignored.
  void family(std::string_view name, std::string_view type, std::string_view help);
  // A sample of a declared family (a counter's name ends in _total).
  void sample(std::string_view name, const Labels& labels, double value);
  // Moves other's families and samples in, after this one's.
  void merge(Exposition&& other);
  std::string text() const;
  std::size_t samples() const;

 private:
  struct Family {
    std::string name, type, help;
    std::vector<std::string> lines;
  };
  Family& find(std::string_view name);
  std::vector<Family> families_;
  std::unordered_map<std::string, std::size_t> index_;  // name -> position in families_: a scrape adds ~13k samples
};

// A label value as the format escapes it: backslash, double quote and newline.
std::string escape_label(std::string_view value);

}  // namespace pgstack
