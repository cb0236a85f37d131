// Test support: paths of the bundled reference fixtures (tests/fixtures, copied from the
// project's shared reference data) and the comparison the fixtures' README prescribes.
#pragma once

#include <gtest/gtest.h>

#include <string>
#include <vector>

namespace clipembed::testing {

std::string fixture_path(const std::string& relative);

// A path in the temporary directory unique to this process: ctest runs tests in parallel
// processes, which must not share scratch files.
std::string temp_path(const std::string& name);

// The valid images, in manifest order (the row order of crops_u8.npy and embeds_*.npy).
std::vector<std::string> valid_image_names();

// The bad images and what the reference raises on each.
std::vector<std::string> bad_image_names();

// cosine >= 0.99999 and max |diff| <= 1e-4 * max |expected|, as the fixtures' README states.
::testing::AssertionResult embeddings_match(const float* actual, const float* expected, int dim);

}  // namespace clipembed::testing
