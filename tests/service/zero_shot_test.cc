// Zero-shot classification's one orchestration (service/zero_shot.h): the template checked in one
// place, and scores under the model's rule.
#include "service/zero_shot.h"

#include <gtest/gtest.h>

#include <cmath>

#include "clipembed/error.h"

namespace clipembed::service {
namespace {

TEST(ZeroShotTest, PromptsPutLabelsInTheTemplate) {
  const ModelCapabilities clip;
  const std::vector<std::string> labels = {"cat", "dog"};
  EXPECT_EQ(label_prompts(labels, "", clip),
            (std::vector<std::string>{"a photo of a cat.", "a photo of a dog."}));
  EXPECT_EQ(label_prompts(labels, "{} in snow", clip),
            (std::vector<std::string>{"cat in snow", "dog in snow"}));
  EXPECT_THROW(label_prompts(labels, "no slot", clip), Error);
  EXPECT_THROW(label_prompts({}, "{}", clip), Error);
}

TEST(ZeroShotTest, SoftmaxAndSigmoidRules) {
  ModelCapabilities model;
  model.logit_scale = 10;
  const std::vector<float> image = {1, 0};
  const std::vector<Embedding> labels = {{1, 0}, {0, 1}};
  const std::vector<std::string> names = {"x", "y"};
  const auto softmax = rank_labels_for(model, image, labels, names, 0);
  EXPECT_EQ(softmax[0].label, "x");
  EXPECT_NEAR(softmax[0].score + softmax[1].score, 1.0, 1e-6);
  EXPECT_NEAR(softmax[0].score, 1.0 / (1.0 + std::exp(-10.0)), 1e-6);
  model.zero_shot = ZeroShotRule::kSigmoid;
  model.logit_bias = -10;
  const auto sigmoid = rank_labels_for(model, image, labels, names, 1);
  ASSERT_EQ(sigmoid.size(), 1u);
  EXPECT_NEAR(sigmoid[0].score, 0.5, 1e-6);  // sigmoid(10 * 1 - 10)
}

}  // namespace
}  // namespace clipembed::service
