#include "cli/input_list.h"

#include <fnmatch.h>

#include <algorithm>
#include <cstring>
#include <fstream>
#include <iostream>
#include <string_view>

#include "clipembed/input.h"

namespace clipembed::cli {
namespace {

namespace fs = std::filesystem;

bool has_image_extension(std::string_view name) {
  const size_t dot = name.rfind('.');
  if (dot == std::string_view::npos) return false;
  std::string ext(name.substr(dot));
  std::transform(ext.begin(), ext.end(), ext.begin(),
                 [](unsigned char c) { return static_cast<char>(std::tolower(c)); });
  return ext == ".jpg" || ext == ".jpeg" || ext == ".png" || ext == ".webp" || ext == ".bmp" ||
         ext == ".gif";
}

bool selected(const std::string& name, const InputOptions& options) {
  if (options.glob.empty()) return has_image_extension(name);
  return ::fnmatch(options.glob.c_str(), name.c_str(), 0) == 0;
}

}  // namespace

InputSource::InputSource(std::vector<std::string> arguments, InputOptions options)
    : options_(std::move(options)) {
  for (std::string& a : arguments) {
    const bool list = a == "-";
    sources_.push_back({list, std::move(a)});
  }
  for (const std::string& list : options_.files_from) sources_.push_back({true, list});
}

InputSource::~InputSource() = default;

// Lists the files the walk takes from `dir` and (when recursive) its subdirectories, sorted so
// that the walk yields paths in plain string order: a subdirectory sorts as "name/", exactly where
// its files would sort among full paths.
InputSource::Listing InputSource::list_directory(const fs::path& dir) const {
  Listing listing;
  listing.dir = dir;
  std::error_code ec;
  for (fs::directory_iterator it(dir, fs::directory_options::skip_permission_denied, ec), end;
       !ec && it != end; it.increment(ec)) {
    const fs::directory_entry& entry = *it;
    std::string name = entry.path().filename().string();
    std::error_code type_ec;
    if (options_.recursive && entry.is_directory(type_ec) && !entry.is_symlink(type_ec)) {
      name.push_back('/');
    } else if (!entry.is_regular_file(type_ec) || !selected(name, options_)) {
      continue;
    }
    listing.offsets.push_back(static_cast<uint32_t>(listing.names.size()));
    listing.names.append(name).push_back('\0');
  }
  const char* base = listing.names.data();
  std::sort(listing.offsets.begin(), listing.offsets.end(),
            [base](uint32_t a, uint32_t b) { return std::strcmp(base + a, base + b) < 0; });
  return listing;
}

std::optional<std::string> InputSource::next_in_walk() {
  while (!walk_.empty()) {
    Listing& top = walk_.back();
    if (top.position == top.offsets.size()) {
      walk_.pop_back();
      continue;
    }
    const std::string_view name(top.names.data() + top.offsets[top.position++]);
    if (name.back() == '/') {
      Listing sub = list_directory(top.dir / name.substr(0, name.size() - 1));
      walk_.push_back(std::move(sub));  // `top` and `name` are not used after this.
      continue;
    }
    return (top.dir / name).string();
  }
  return std::nullopt;
}

std::optional<std::string> InputSource::next_line() {
  for (std::string line; lines_ != nullptr && std::getline(*lines_, line);) {
    while (!line.empty() && (line.back() == '\r' || line.back() == ' ')) line.pop_back();
    if (!line.empty() && line[0] != '#') return line;
  }
  lines_ = nullptr;
  file_.reset();
  return std::nullopt;
}

// Starts reading a list; false when it cannot be opened (the caller reports it as an input).
bool InputSource::open_source(const std::string& source) {
  if (source == "-") {
    lines_ = &std::cin;
    return true;
  }
  auto in = std::make_unique<std::ifstream>(source);
  if (!*in) return false;
  file_ = std::move(in);
  lines_ = file_.get();
  return true;
}

std::optional<std::string> InputSource::next() {
  while (true) {
    if (auto path = next_in_walk()) return path;
    if (lines_ != nullptr) {
      if (auto line = next_line()) return line;
    }
    if (next_source_ == sources_.size()) return std::nullopt;
    const Source& source = sources_[next_source_++];
    std::error_code ec;
    if (source.is_list) {
      if (!open_source(source.value)) return source.value;  // Reported as an unreadable input.
    } else if (!is_url(source.value) && fs::is_directory(source.value, ec)) {
      walk_.push_back(list_directory(source.value));
    } else {
      return source.value;
    }
  }
}

std::optional<size_t> InputSource::count() const {
  std::vector<std::string> arguments;
  InputOptions options = options_;
  options.files_from.clear();
  for (const Source& s : sources_) {
    if (s.is_list && s.value == "-") return std::nullopt;
    if (s.is_list) {
      options.files_from.push_back(s.value);
    } else {
      arguments.push_back(s.value);
    }
  }
  // Lists given as arguments ("-") are excluded above, so the order change is harmless: only the
  // number is wanted.
  InputSource again(std::move(arguments), std::move(options));
  size_t n = 0;
  while (again.next()) ++n;
  return n;
}

}  // namespace clipembed::cli
