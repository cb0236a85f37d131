#include "support/fixtures.h"

#include <unistd.h>

#include <cmath>
#include <cstdlib>
#include <filesystem>
#include <fstream>
#include <iterator>
#include <nlohmann/json.hpp>

namespace clipembed::testing {
namespace {

nlohmann::json manifest() {
  std::ifstream in(fixture_path("manifest.json"));
  return nlohmann::json::parse(in);
}

}  // namespace

std::string temp_path(const std::string& name) {
  // The process id goes before the extension, which some callers rely on (e.g. ".npy").
  const size_t dot = name.find('.');
  const std::string stem = name.substr(0, dot);
  const std::string ext = dot == std::string::npos ? "" : name.substr(dot);
  return (std::filesystem::temp_directory_path() /
          (stem + "_" + std::to_string(static_cast<long>(::getpid())) + ext))
      .string();
}

std::string fixture_path(const std::string& relative) {
  return std::string(CLIPEMBED_FIXTURES_DIR) + "/" + relative;
}

std::vector<std::string> siglip_reference_strings() {
  std::vector<std::string> texts;
  for (const char* file : {"text/strings.json", "siglip/strings_extra.json"}) {
    std::ifstream in(fixture_path(file));
    const nlohmann::json root = nlohmann::json::parse(in);
    for (const auto& s : root["strings"]) texts.push_back(s["text"]);
  }
  return texts;
}

std::vector<std::string> valid_image_names() {
  const nlohmann::json m = manifest();
  std::vector<std::string> names;
  for (const auto& entry : m["images"]) names.push_back(entry["file"]);
  return names;
}

std::vector<std::string> bad_image_names() {
  const nlohmann::json m = manifest();
  std::vector<std::string> names;
  for (const auto& [name, _] : m["bad_images"].items()) names.push_back(name);
  return names;
}

std::vector<Image> valid_images() {
  std::vector<Image> images;
  for (const auto& name : valid_image_names()) {
    images.push_back(read_image_file(fixture_path("images/" + name)));
  }
  return images;
}

std::vector<ImageInput> valid_inputs() { return as_inputs(valid_images()); }

std::vector<ImageInput> as_inputs(const std::vector<Image>& images) {
  return {images.begin(), images.end()};
}

std::string full_size_model_directory(const std::string& name) {
  const char* env = name == "vit-b-32" ? std::getenv("CLIPEMBED_VIT_B_32") : nullptr;
  const std::string dir =
      env != nullptr ? std::string(env) : std::string(CLIPEMBED_MODELS_DIR) + "/" + name;
  return std::filesystem::exists(dir + "/model.safetensors") ? dir : "";
}

double cosine(const float* a, const float* b, int dim) {
  double ab = 0, aa = 0, bb = 0;
  for (int i = 0; i < dim; ++i) {
    ab += double{a[i]} * b[i];
    aa += double{a[i]} * a[i];
    bb += double{b[i]} * b[i];
  }
  return ab / std::sqrt(aa * bb);
}

::testing::AssertionResult embeddings_match(const float* actual, const float* expected, int dim) {
  double max_diff = 0, max_expected = 0;
  for (int i = 0; i < dim; ++i) {
    max_diff = std::max(max_diff, std::abs(double{actual[i]} - expected[i]));
    max_expected = std::max(max_expected, std::abs(double{expected[i]}));
  }
  const double c = cosine(actual, expected, dim);
  if (c >= 0.99999 && max_diff <= 1e-4 * max_expected) {
    return ::testing::AssertionSuccess();
  }
  return ::testing::AssertionFailure() << "cosine " << c << ", max |diff| " << max_diff
                                       << " (limit " << 1e-4 * max_expected << ")";
}

}  // namespace clipembed::testing
