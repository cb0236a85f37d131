#include "cli/input_list.h"

#include <fnmatch.h>

#include <algorithm>
#include <filesystem>
#include <fstream>
#include <iostream>

namespace clipembed::cli {
namespace {

namespace fs = std::filesystem;

bool has_image_extension(const fs::path& path) {
  std::string ext = path.extension().string();
  std::transform(ext.begin(), ext.end(), ext.begin(),
                 [](unsigned char c) { return std::tolower(c); });
  return ext == ".jpg" || ext == ".jpeg" || ext == ".png" || ext == ".webp" || ext == ".bmp" ||
         ext == ".gif";
}

bool selected(const fs::path& path, const InputOptions& options) {
  if (options.glob.empty()) return has_image_extension(path);
  return ::fnmatch(options.glob.c_str(), path.filename().c_str(), 0) == 0;
}

void add_directory(const fs::path& dir, const InputOptions& options,
                   std::vector<std::string>* out) {
  std::vector<std::string> found;
  std::error_code ec;
  auto add = [&](const fs::directory_entry& entry) {
    if (entry.is_regular_file(ec) && selected(entry.path(), options)) {
      found.push_back(entry.path().string());
    }
  };
  if (options.recursive) {
    for (auto it = fs::recursive_directory_iterator(
             dir, fs::directory_options::skip_permission_denied, ec);
         it != fs::recursive_directory_iterator(); it.increment(ec)) {
      add(*it);
    }
  } else {
    for (const auto& entry : fs::directory_iterator(dir, ec)) add(entry);
  }
  std::sort(found.begin(), found.end());
  out->insert(out->end(), found.begin(), found.end());
}

void add_lines(std::istream& in, std::vector<std::string>* out) {
  for (std::string line; std::getline(in, line);) {
    while (!line.empty() && (line.back() == '\r' || line.back() == ' ')) line.pop_back();
    if (!line.empty() && line[0] != '#') out->push_back(line);
  }
}

}  // namespace

bool is_url(const std::string& input) {
  return input.rfind("http://", 0) == 0 || input.rfind("https://", 0) == 0;
}

std::vector<std::string> expand_inputs(const std::vector<std::string>& arguments,
                                       const InputOptions& options) {
  std::vector<std::string> out;
  auto add_list = [&](const std::string& source) {
    if (source == "-") {
      add_lines(std::cin, &out);
      return;
    }
    std::ifstream in(source);
    if (!in) {
      out.push_back(source);  // Reported as an unreadable input.
      return;
    }
    add_lines(in, &out);
  };
  for (const std::string& arg : arguments) {
    std::error_code ec;
    if (arg == "-") {
      add_list(arg);
    } else if (!is_url(arg) && fs::is_directory(arg, ec)) {
      add_directory(arg, options, &out);
    } else {
      out.push_back(arg);
    }
  }
  for (const std::string& list : options.files_from) add_list(list);
  return out;
}

}  // namespace clipembed::cli
