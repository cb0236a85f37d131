// Embeds the images given on the command line and prints their cosine similarity to the first.
// Uses only the public headers: build against libclipembed and include <clipembed/clipembed.h>.
//
//   embed_example MODEL_DIR a.jpg b.png ...
#include <clipembed/clipembed.h>

#include <cstdio>
#include <vector>

int main(int argc, char** argv) {
  if (argc < 3) {
    std::fprintf(stderr, "usage: %s MODEL_DIR IMAGE...\n", argv[0]);
    return 2;
  }
  try {
    auto model = clipembed::ClipModel::load(argv[1]);
    std::printf("model: %s, %d-dimensional embeddings\n", argv[1], model->dimension());
    std::vector<float> first;
    for (int i = 2; i < argc; ++i) {
      try {
        std::vector<float> v = model->embed_image(argv[i], {.normalize = true});
        if (first.empty()) first = v;
        float cosine = 0.0f;
        for (size_t k = 0; k < v.size(); ++k) cosine += v[k] * first[k];
        std::printf("%-40s cosine to first: %.4f\n", argv[i], cosine);
      } catch (const clipembed::Error& e) {
        // One bad image does not stop the others.
        std::printf("%-40s %s: %s\n", argv[i], std::string(clipembed::code_name(e.code())).c_str(),
                    e.what());
      }
    }
  } catch (const clipembed::Error& e) {
    std::fprintf(stderr, "%s\n", e.what());
    return 2;
  }
  return 0;
}
