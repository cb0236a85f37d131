// clipembed: CLIP image embeddings in C++, equal to Hugging Face transformers' output.
//
//   #include <clipembed/clipembed.h>
//
//   auto model = clipembed::ClipVisionModel::load("clip-vit-base-patch32");
//   std::vector<float> v = model->embed_file("cat.jpg", {.normalize = true});
//
// Threading rule: models are immutable after load and safe to share between threads; all compute
// runs on the one process-wide runtime (runtime.h), and a blocking call from any thread, including
// a runtime thread, is safe. Errors are clipembed::Error (error.h), never a crash.
#pragma once

#include "clipembed/embedder.h"
#include "clipembed/error.h"
#include "clipembed/image.h"
#include "clipembed/model.h"
#include "clipembed/pool.h"
#include "clipembed/preprocess.h"
#include "clipembed/runtime.h"
