// Writes tests/fixtures/regression/NAME_PRECISION.npy: the vectors of the valid fixture images (and
// of the shared strings, for models with a text tower) that SavedOutputsTest compares against.
// Run it only when a change is meant to move the bits, and say so in the commit:
//   build/tests/clipembed_write_saved_outputs tests/fixtures tiny tests/fixtures/models/tiny ...
#include <cstdio>
#include <fstream>
#include <nlohmann/json.hpp>
#include <string>
#include <vector>

#include "clipembed/clipembed.h"

namespace {

void write_npy(const std::string& path, const std::vector<clipembed::Embedding>& rows) {
  std::string header = "{'descr': '<f4', 'fortran_order': False, 'shape': (" +
                       std::to_string(rows.size()) + ", " + std::to_string(rows.front().size()) +
                       "), }";
  while ((10 + header.size() + 1) % 64 != 0) header += ' ';
  header += '\n';
  std::ofstream out(path, std::ios::binary);
  out.write("\x93NUMPY\x01\x00", 8);
  const uint16_t length = static_cast<uint16_t>(header.size());
  out.write(reinterpret_cast<const char*>(&length), 2);
  out << header;
  for (const auto& r : rows) {
    out.write(reinterpret_cast<const char*>(r.data()),
              static_cast<std::streamsize>(r.size() * sizeof(float)));
  }
}

}  // namespace

int main(int argc, char** argv) {
  if (argc < 4 || argc % 2 != 0) {
    std::fprintf(stderr, "usage: %s FIXTURES NAME DIR [NAME DIR...]\n", argv[0]);
    return 2;
  }
  const std::string fixtures = argv[1];
  const nlohmann::json manifest = nlohmann::json::parse(std::ifstream(fixtures + "/manifest.json"));
  std::vector<clipembed::ImageInput> images;
  for (const auto& image : manifest["images"]) {
    images.emplace_back(fixtures + "/images/" + image["file"].get<std::string>());
  }
  const nlohmann::json strings =
      nlohmann::json::parse(std::ifstream(fixtures + "/text/strings.json"));
  std::vector<std::string> texts;
  for (const auto& s : strings["strings"]) texts.push_back(s["text"]);
  for (int i = 2; i < argc; i += 2) {
    for (auto precision :
         {clipembed::Precision::kF32, clipembed::Precision::kInt8, clipembed::Precision::kBf16}) {
      auto model = clipembed::ClipModel::load(argv[i + 1], {.input = {}, .precision = precision});
      const std::string stem =
          fixtures + "/regression/" + argv[i] + "_" + clipembed::precision_name(precision);
      write_npy(stem + ".npy", model->embed_images(images));
      if (model->has_text()) write_npy(stem + "_text.npy", model->embed_texts(texts));
      std::printf("%s written\n", stem.c_str());
    }
  }
  return 0;
}
