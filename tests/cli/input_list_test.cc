#include "cli/input_list.h"

#include <gtest/gtest.h>

#include <algorithm>
#include <filesystem>
#include <fstream>

#include "support/fixtures.h"

namespace clipembed::cli {
namespace {

namespace fs = std::filesystem;

InputOptions options(bool recursive, std::string glob = "", std::vector<std::string> lists = {}) {
  InputOptions o;
  o.recursive = recursive;
  o.glob = std::move(glob);
  o.files_from = std::move(lists);
  return o;
}

std::vector<std::string> drain(InputSource& source) {
  std::vector<std::string> out;
  while (auto input = source.next()) out.push_back(*input);
  return out;
}

class InputSourceTest : public ::testing::Test {
 protected:
  void SetUp() override {
    root_ = testing::temp_path("clipembed_input_source");
    fs::remove_all(root_);
    // Names chosen so that a naive per-directory sort ("b" before "b.png") would differ from
    // full-path order ("b.png" before "b/x.png").
    for (const char* dir : {"b", "b/c", "a-dir"}) fs::create_directories(root_ / dir);
    for (const char* file : {"b.png", "b/x.png", "b/c/y.JPG", "a-dir/z.webp", "a.gif", "note.txt",
                             "b/c/skip.txt", "B.bmp"}) {
      std::ofstream(root_ / file) << "x";
    }
  }
  void TearDown() override { fs::remove_all(root_); }
  std::string p(const std::string& relative) const { return (root_ / relative).string(); }

  fs::path root_;
};

TEST_F(InputSourceTest, RecursiveWalkIsInFullPathOrderAndTakesOnlyImages) {
  InputSource source({root_.string()}, options(true));
  const std::vector<std::string> got = drain(source);
  std::vector<std::string> want = {p("B.bmp"), p("a-dir/z.webp"), p("a.gif"),
                                   p("b.png"), p("b/c/y.JPG"),    p("b/x.png")};
  std::vector<std::string> sorted = want;
  std::sort(sorted.begin(), sorted.end());
  EXPECT_EQ(want, sorted);  // The expectation itself is plain string order.
  EXPECT_EQ(got, want);
  EXPECT_EQ(source.count(), want.size());
}

TEST_F(InputSourceTest, FlatWalkSkipsSubdirectoriesAndGlobFilters) {
  InputSource flat({root_.string()}, {});
  EXPECT_EQ(drain(flat), (std::vector<std::string>{p("B.bmp"), p("a.gif"), p("b.png")}));
  InputSource globbed({root_.string()}, options(true, "*.txt"));
  EXPECT_EQ(drain(globbed), (std::vector<std::string>{p("b/c/skip.txt"), p("note.txt")}));
}

TEST_F(InputSourceTest, ArgumentsListsAndMissingPathsKeepTheirOrder) {
  const std::string list = p("list.txt");
  std::ofstream(list) << "one.jpg\n# a comment\n\n  \nhttp://example.com/x.png\r\ntwo.png \n";
  InputSource source({"missing.jpg", "https://example.com/a.jpg", p("a-dir")},
                     options(false, "", {list, p("no-such-list")}));
  const std::vector<std::string> want = {
      "missing.jpg",    "https://example.com/a.jpg", p("a-dir/z.webp"),
      "one.jpg",        "http://example.com/x.png",  "two.png",
      p("no-such-list")};
  EXPECT_EQ(drain(source), want);
  EXPECT_EQ(source.count(), want.size());
}

TEST_F(InputSourceTest, StdinHasNoCount) {
  InputSource source({"-"}, {});
  EXPECT_EQ(source.count(), std::nullopt);
  InputSource listed({}, options(false, "", {"-"}));
  EXPECT_EQ(listed.count(), std::nullopt);
}

TEST(InputSourceUrlTest, RecognisesHttpAndHttpsOnly) {
  EXPECT_TRUE(is_url("http://a/b"));
  EXPECT_TRUE(is_url("https://a/b"));
  EXPECT_FALSE(is_url("ftp://a/b"));
  EXPECT_FALSE(is_url("http.jpg"));
}

}  // namespace
}  // namespace clipembed::cli
