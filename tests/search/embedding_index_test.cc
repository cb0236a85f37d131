// The search index: exact text-to-image and image-to-image rankings against the reference
// vectors, resumable writes, identity checks, bad files, approximate types and near duplicates.
#include <gtest/gtest.h>

#include <algorithm>
#include <cmath>
#include <cstdlib>
#include <filesystem>
#include <fstream>
#include <iterator>
#include <map>
#include <numeric>
#include <optional>

#include "clipembed/error.h"
#include "clipembed/index.h"
#include "clipembed/model.h"
#include "support/fixtures.h"
#include "support/npy.h"

namespace clipembed {
namespace {

namespace fs = std::filesystem;
using testing::fixture_path;
using testing::temp_path;

std::shared_ptr<const ClipModel> tiny_clip() {
  static auto model = ClipModel::load(fixture_path("models/tiny-clip"));
  return model;
}

std::vector<ImageInput> valid_files() {
  std::vector<ImageInput> inputs;
  for (const std::string& name : testing::valid_image_names()) {
    inputs.push_back(ImageInput::file(fixture_path("images/" + name)));
  }
  return inputs;
}

std::string fresh_directory(const std::string& name) {
  const std::string dir = temp_path(name);
  fs::remove_all(dir);
  return dir;
}

// Rows of a float32 [N, D] reference array, normalized in double precision.
std::vector<std::vector<double>> normalized_rows(const testing::NpyArray& a, int64_t count) {
  std::vector<std::vector<double>> rows;
  for (int64_t i = 0; i < count; ++i) {
    const float* row = a.as<float>() + i * a.shape[1];
    std::vector<double> v(row, row + a.shape[1]);
    const double norm = std::sqrt(std::inner_product(v.begin(), v.end(), v.begin(), 0.0));
    for (double& x : v) x /= norm;
    rows.push_back(std::move(v));
  }
  return rows;
}

TEST(EmbeddingIndexTest, TextSearchRanksEveryImageAsTheReferenceCosinesDo) {
  const std::string dir = fresh_directory("index-text");
  const auto inputs = valid_files();
  const IndexInfo info = EmbeddingIndex::add(dir, *tiny_clip(), "tiny-clip", inputs);
  EXPECT_EQ(info.count, inputs.size());
  EXPECT_EQ(info.settings.type, IndexType::kFlat);
  const auto index = EmbeddingIndex::open(dir);
  const auto images =
      normalized_rows(testing::read_npy(fixture_path("text/embeds_image_tiny-clip.npy")), 23);
  const auto texts =
      normalized_rows(testing::read_npy(fixture_path("text/embeds_text_tiny-clip.npy")), 5);
  ASSERT_EQ(images.size(), inputs.size());
  const std::vector<std::string> labels = {"a photo of a cat", "a photo of a dog",
                                           "a photo of a car", "a diagram",
                                           "a painting of a sunset over the sea"};
  for (size_t l = 0; l < labels.size(); ++l) {
    // By hand: the cosine of every image with the label, from the reference vectors.
    std::vector<double> cosines;
    for (const auto& image : images) {
      cosines.push_back(std::inner_product(image.begin(), image.end(), texts[l].begin(), 0.0));
    }
    std::vector<size_t> expected(images.size());
    std::iota(expected.begin(), expected.end(), size_t{0});
    std::stable_sort(expected.begin(), expected.end(),
                     [&](size_t a, size_t b) { return cosines[a] > cosines[b]; });
    const auto hits = index->search(tiny_clip()->embed_text(labels[l]), inputs.size())[0];
    ASSERT_EQ(hits.size(), inputs.size());
    for (size_t r = 0; r < hits.size(); ++r) {
      EXPECT_EQ(hits[r].row, expected[r]) << labels[l] << " rank " << r;
      EXPECT_EQ(hits[r].path, inputs[expected[r]].text());
      EXPECT_NEAR(hits[r].score, cosines[expected[r]], 1e-5);
    }
  }
}

TEST(EmbeddingIndexTest, AnImageFindsItselfFirstWithScoreOne) {
  const std::string dir = fresh_directory("index-image");
  const auto inputs = valid_files();
  EmbeddingIndex::add(dir, *tiny_clip(), "tiny-clip", inputs);
  const auto index = EmbeddingIndex::open(dir);
  for (size_t i = 0; i < inputs.size(); ++i) {
    const auto hits = index->search(tiny_clip()->embed_image(inputs[i]), 3)[0];
    ASSERT_EQ(hits.size(), 3u);
    EXPECT_EQ(hits[0].path, inputs[i].text());
    EXPECT_NEAR(hits[0].score, 1.0, 1e-6);
    EXPECT_GE(hits[0].score, hits[1].score);
  }
}

TEST(EmbeddingIndexTest, QueriesOfTheWrongSizeOrNotFiniteAreRefused) {
  const std::string dir = fresh_directory("index-bad-query");
  EmbeddingIndex::add(dir, *tiny_clip(), "tiny-clip", valid_files());
  const auto index = EmbeddingIndex::open(dir);
  const auto dim = static_cast<size_t>(index->info().dimension);
  std::vector<float> queries(2 * dim, 0.5f);
  EXPECT_EQ(index->search(queries, 2).size(), 2u);
  auto code_of = [&](std::span<const float> q) -> std::optional<ErrorCode> {
    try {
      index->search(q, 2);
    } catch (const Error& e) {
      return e.code();
    }
    return std::nullopt;
  };
  EXPECT_EQ(code_of({queries.data(), dim + 1}), ErrorCode::kInvalidArgument);
  queries[dim + 3] = std::nanf("");
  EXPECT_EQ(code_of(queries), ErrorCode::kInvalidArgument);
  queries[dim + 3] = INFINITY;
  EXPECT_EQ(code_of(queries), ErrorCode::kInvalidArgument);
}

TEST(EmbeddingIndexTest, AddSkipsWhatIsPresentAndAResumedWriteEqualsOneRun) {
  const auto inputs = valid_files();
  const std::string whole = fresh_directory("index-whole");
  EmbeddingIndex::add(whole, *tiny_clip(), "tiny-clip", inputs);
  // A flat index is searched in vectors.npy: no search structure beside it.
  EXPECT_FALSE(fs::exists(whole + "/index.faiss"));
  // A write cut after some rows (as a kill leaves it: flushed rows, index.json not updated), then
  // resumed with every input.
  const std::string parts = fresh_directory("index-parts");
  {
    IndexWriter writer(parts, model_identity(*tiny_clip(), "tiny-clip"));
    for (size_t i = 0; i < 7; ++i) {
      writer.add(inputs[i].text(), tiny_clip()->embed_image(inputs[i], {.normalize = true}));
    }
    writer.flush();
  }
  EXPECT_THROW(EmbeddingIndex::open(parts), Error);  // Unfinished: index.json counts none.
  EmbeddingIndex::add(parts, *tiny_clip(), "tiny-clip", inputs);
  for (const char* file : {"/vectors.npy", "/vectors.npy.paths.txt"}) {
    std::ifstream a(whole + file, std::ios::binary), b(parts + file, std::ios::binary);
    EXPECT_TRUE(std::equal(std::istreambuf_iterator<char>(a), std::istreambuf_iterator<char>(),
                           std::istreambuf_iterator<char>(b), std::istreambuf_iterator<char>()))
        << file;
  }
  const IndexInfo again = EmbeddingIndex::add(parts, *tiny_clip(), "tiny-clip", inputs);
  EXPECT_EQ(again.count, inputs.size());
}

TEST(EmbeddingIndexTest, VectorsOfAnotherModelOrPrecisionAreRefused) {
  const std::string dir = fresh_directory("index-identity");
  EmbeddingIndex::add(dir, *tiny_clip(), "tiny-clip", valid_files());
  const auto other = ClipModel::load(fixture_path("models/tiny-p16"));
  const auto int8 = ClipModel::load(fixture_path("models/tiny-clip"),
                                    LoadOptions{.input = {}, .precision = Precision::kInt8});
  for (const auto& model : {other, int8}) {
    try {
      IndexWriter writer(dir, model_identity(*model, "other"));
      ADD_FAILURE() << "accepted another model's vectors";
    } catch (const Error& e) {
      EXPECT_EQ(e.code(), ErrorCode::kIndexInvalid);
      EXPECT_NE(std::string(e.what()).find("not comparable"), std::string::npos) << e.what();
    }
  }
}

TEST(EmbeddingIndexTest, MissingAndTruncatedFilesAreTypedErrors) {
  const std::string dir = fresh_directory("index-bad");
  EmbeddingIndex::add(dir, *tiny_clip(), "tiny-clip", valid_files(), {.type = IndexType::kHnsw});
  auto code_of_open = [&] {
    try {
      EmbeddingIndex::open(dir);
    } catch (const Error& e) {
      return e.code();
    }
    return ErrorCode::kInternal;
  };
  EXPECT_FALSE(fs::exists(dir + "/index.faiss"));
  const auto graph_bytes = fs::file_size(dir + "/index.hnsw");
  for (auto bytes : {graph_bytes / 2, graph_bytes - 1, uintmax_t{10}, uintmax_t{0}}) {
    fs::copy_file(dir + "/index.hnsw", dir + "/whole.hnsw", fs::copy_options::overwrite_existing);
    fs::resize_file(dir + "/index.hnsw", bytes);
    EXPECT_EQ(code_of_open(), ErrorCode::kIndexInvalid) << bytes << " bytes";
    fs::rename(dir + "/whole.hnsw", dir + "/index.hnsw");
  }
  EXPECT_NO_THROW(EmbeddingIndex::open(dir));
  fs::rename(dir + "/vectors.npy", dir + "/moved.npy");
  EXPECT_EQ(code_of_open(), ErrorCode::kIndexInvalid);
  fs::rename(dir + "/moved.npy", dir + "/vectors.npy");
  fs::resize_file(dir + "/vectors.npy", fs::file_size(dir + "/vectors.npy") - 4);
  EXPECT_EQ(code_of_open(), ErrorCode::kIndexInvalid);
  fs::remove(dir + "/index.hnsw");
  EXPECT_EQ(code_of_open(), ErrorCode::kIndexInvalid);
  EXPECT_THROW(EmbeddingIndex::open(fresh_directory("index-none")), Error);
}

// Versions before hnswlib built HNSW graphs with FAISS (index.faiss); CLIPEMBED_HNSW_LIBRARY=faiss
// still does. Such an index opens and finds what the hnswlib graph finds, and a truncated one is
// refused; rebuilding it with hnswlib replaces its file.
TEST(EmbeddingIndexTest, HnswIndexesFaissBuiltStillOpen) {
  const std::string dir = fresh_directory("index-faiss-hnsw");
  const std::string fresh = fresh_directory("index-hnswlib");
  ::setenv("CLIPEMBED_HNSW_LIBRARY", "faiss", 1);
  EmbeddingIndex::add(dir, *tiny_clip(), "tiny-clip", valid_files(), {.type = IndexType::kHnsw});
  ::unsetenv("CLIPEMBED_HNSW_LIBRARY");
  EmbeddingIndex::add(fresh, *tiny_clip(), "tiny-clip", valid_files(), {.type = IndexType::kHnsw});
  ASSERT_TRUE(fs::exists(dir + "/index.faiss"));
  ASSERT_FALSE(fs::exists(dir + "/index.hnsw"));
  const auto query = tiny_clip()->embed_text("a photo", {.normalize = true});
  const auto from_faiss = EmbeddingIndex::open(dir)->search(query, 5)[0];
  const auto from_hnswlib = EmbeddingIndex::open(fresh)->search(query, 5)[0];
  ASSERT_EQ(from_faiss.size(), from_hnswlib.size());
  for (size_t i = 0; i < from_faiss.size(); ++i) {
    EXPECT_EQ(from_faiss[i].row, from_hnswlib[i].row) << i;
    EXPECT_NEAR(from_faiss[i].score, from_hnswlib[i].score, 1e-5) << i;
  }
  fs::copy_file(dir + "/index.faiss", dir + "/whole.faiss");
  fs::resize_file(dir + "/index.faiss", fs::file_size(dir + "/index.faiss") / 2);
  EXPECT_THROW(EmbeddingIndex::open(dir), Error);
  fs::rename(dir + "/whole.faiss", dir + "/index.faiss");
  IndexWriter(dir, model_identity(*tiny_clip(), "tiny-clip")).finish();
  EXPECT_FALSE(fs::exists(dir + "/index.faiss"));
  EXPECT_TRUE(fs::exists(dir + "/index.hnsw"));
}

TEST(EmbeddingIndexTest, EveryTypeFindsTheNearestOnAClusteredSet) {
  // 600 vectors around 60 centres.
  const int dim = 16;
  std::vector<std::vector<float>> vectors;
  uint32_t seed = 12345;
  auto next = [&] {
    return static_cast<float>((seed = seed * 1664525u + 1013904223u) >> 8) / (1 << 24) - 0.5f;
  };
  for (int c = 0; c < 60; ++c) {
    std::vector<float> centre(dim);
    for (float& x : centre) x = next();
    for (int m = 0; m < 10; ++m) {
      std::vector<float> v(centre);
      for (float& x : v) x += 0.05f * next();
      normalize_embedding(v);
      vectors.push_back(v);
    }
  }
  IndexInfo identity;
  identity.model = "synthetic";
  identity.model_hash = "synthetic";
  identity.dimension = dim;
  identity.precision = "fp32";
  for (const char* type : {"flat", "hnsw", "ivfpq"}) {
    const std::string dir = fresh_directory(std::string("index-") + type);
    IndexSettings settings;
    settings.type = parse_index_type(type);
    IndexWriter writer(dir, identity, settings);
    for (size_t i = 0; i < vectors.size(); ++i) writer.add(std::to_string(i), vectors[i]);
    const IndexInfo info = writer.finish();
    EXPECT_STREQ(index_type_name(info.settings.type), type);
    const auto index = EmbeddingIndex::open(dir);
    // Flat and HNSW keep the vectors and find each one itself; PQ codes cannot tell the members
    // of a tight cluster apart, but must land in the right cluster.
    size_t found = 0;
    for (size_t i = 0; i < vectors.size(); ++i) {
      const auto hits = index->search(vectors[i], 1)[0];
      const bool exact = settings.type != IndexType::kIvfPq;
      found += !hits.empty() && (exact ? hits[0].row == i : hits[0].row / 10 == i / 10) ? 1 : 0;
    }
    EXPECT_GE(found, vectors.size() * 95 / 100) << type;
  }
}

TEST(EmbeddingIndexTest, DuplicateGroupsAreTheComponentsOfPairsAboveTheThreshold) {
  const std::string dir = fresh_directory("index-dedup");
  const auto inputs = valid_files();
  EmbeddingIndex::add(dir, *tiny_clip(), "tiny-clip", inputs);
  const auto index = EmbeddingIndex::open(dir);
  const auto ref =
      normalized_rows(testing::read_npy(fixture_path("text/embeds_image_tiny-clip.npy")), 23);
  // A threshold between two of the reference cosines, far from both, so that rounding cannot
  // move a pair across it: the median of all pairwise cosines.
  std::vector<double> all;
  for (size_t i = 0; i < ref.size(); ++i) {
    for (size_t j = i + 1; j < ref.size(); ++j) {
      all.push_back(std::inner_product(ref[i].begin(), ref[i].end(), ref[j].begin(), 0.0));
    }
  }
  std::sort(all.begin(), all.end());
  const size_t mid = all.size() * 9 / 10;
  const auto threshold = static_cast<float>((all[mid] + all[mid + 1]) / 2);
  ASSERT_GT(all[mid + 1] - all[mid], 1e-5);
  // Components by hand.
  std::vector<size_t> component(ref.size());
  std::iota(component.begin(), component.end(), size_t{0});
  for (bool changed = true; changed;) {
    changed = false;
    for (size_t i = 0; i < ref.size(); ++i) {
      for (size_t j = 0; j < ref.size(); ++j) {
        const double c = std::inner_product(ref[i].begin(), ref[i].end(), ref[j].begin(), 0.0);
        if (i != j && c > threshold && component[j] > component[i]) {
          component[j] = component[i];
          changed = true;
        }
      }
    }
  }
  std::map<size_t, std::vector<size_t>> expected_by_root;
  for (size_t i = 0; i < ref.size(); ++i) expected_by_root[component[i]].push_back(i);
  std::vector<std::vector<size_t>> expected;
  for (auto& [root, members] : expected_by_root) {
    if (members.size() > 1) expected.push_back(members);
  }
  EXPECT_EQ(index->duplicate_groups(threshold), expected);
  EXPECT_GE(expected.size(), 1u);
}

}  // namespace
}  // namespace clipembed
