#include "io/file.h"

#include <gtest/gtest.h>

#include <filesystem>

#include "clipembed/error.h"
#include "support/fixtures.h"

namespace clipembed::io {
namespace {

TEST(FileTest, WriteReadAndMapRoundTrip) {
  const std::string path = clipembed::testing::temp_path("clipembed_file_test.bin");
  const std::vector<uint8_t> data = {1, 2, 3, 250};
  write_file(path, data);
  EXPECT_EQ(read_file(path), data);
  MappedFile mapped(path);
  ASSERT_EQ(mapped.bytes().size(), data.size());
  EXPECT_TRUE(std::equal(data.begin(), data.end(), mapped.bytes().begin()));
  std::filesystem::remove(path);
}

TEST(FileTest, MissingFilesAndDirectoriesAreIoErrors) {
  try {
    read_file("/nonexistent/clipembed");
    FAIL();
  } catch (const Error& e) {
    EXPECT_EQ(e.code(), ErrorCode::kIo);
  }
  EXPECT_THROW(read_file("/tmp"), Error);  // A directory is not a regular file.
  EXPECT_THROW(MappedFile("/nonexistent/clipembed"), Error);
}

}  // namespace
}  // namespace clipembed::io
