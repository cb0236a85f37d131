// Test support: paths of the bundled reference fixtures (tests/fixtures, copied from the
// project's shared reference data) and the comparison the fixtures' README prescribes.
#pragma once

#include <gtest/gtest.h>

#include <string>
#include <vector>

#include "clipembed/image.h"
#include "clipembed/input.h"

namespace clipembed::testing {

// How many times a latency bound a test asserts (a liveness check, not a benchmark) is stretched in
// this build: ThreadSanitizer slows the server's I/O path several times over, AddressSanitizer
// about 2x; the stretched bounds stay well under the server's 10 s deadlines. The macros are GCC's,
// as in the tests that skip under a sanitizer.
#if defined(__SANITIZE_THREAD__)
inline constexpr int kSanitizerSlowdown = 4;
#elif defined(__SANITIZE_ADDRESS__)
inline constexpr int kSanitizerSlowdown = 2;
#else
inline constexpr int kSanitizerSlowdown = 1;
#endif

std::string fixture_path(const std::string& relative);

// A path in the temporary directory unique to this process: ctest runs tests in parallel
// processes, which must not share scratch files.
std::string temp_path(const std::string& name);

// The valid images, in manifest order (the row order of crops_u8.npy and embeds_*.npy).
std::vector<std::string> valid_image_names();

// The texts of the SigLIP reference rows: text/strings.json's, then siglip/strings_extra.json's
// (the row order of siglip/tokens*.json and text_embeds_*.npy).
std::vector<std::string> siglip_reference_strings();
// The bad images and what the reference raises on each.
std::vector<std::string> bad_image_names();

// Decoded valid images, in manifest order.
std::vector<Image> valid_images();
// The same, as inputs for embed_images().
std::vector<ImageInput> valid_inputs();
std::vector<ImageInput> as_inputs(const std::vector<Image>& images);

// The directory of a full-size random-weight model (scripts/full_size_model NAME writes
// build/models/NAME; every `make test*` target writes vit-b-32, `make bench` also vit-l-14;
// CLIPEMBED_VIT_B_32 points vit-b-32 elsewhere), or "" when its weights are not there. Tests of
// vit-b-32 then fail (make test always writes it); tests of larger models skip.
std::string full_size_model_directory(const std::string& name);
inline constexpr const char* kNoFullSizeModel =
    "no full-size weights (scripts/full_size_model NAME writes them; make test and make bench do)";

double cosine(const float* a, const float* b, int dim);

// cosine >= 0.99999 and max |diff| <= 1e-4 * max |expected|, as the fixtures' README states.
::testing::AssertionResult embeddings_match(const float* actual, const float* expected, int dim);

}  // namespace clipembed::testing
