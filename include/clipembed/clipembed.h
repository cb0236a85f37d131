// clipembed: CLIP image embeddings in C++, equal to Hugging Face transformers' output.
//
//   #include <clipembed/clipembed.h>
//
//   auto model = clipembed::ClipModel::load(
//       clipembed::locate_model("openai/clip-vit-base-patch32"));
//   clipembed::Embedding v = model->embed_image("cat.jpg", {.normalize = true});
//
// Threading rule: models are immutable after load and safe to share between threads; all compute
// runs on the one process-wide runtime (runtime.h), and a blocking call from any thread, including
// a runtime thread, is safe. Errors are clipembed::Error (error.h), never a crash.
#pragma once

#include "clipembed/embedder.h"
#include "clipembed/error.h"
#include "clipembed/hub.h"
#include "clipembed/image.h"
#include "clipembed/index.h"
#include "clipembed/input.h"
#include "clipembed/model.h"
#include "clipembed/pool.h"
#include "clipembed/preprocess.h"
#include "clipembed/runtime.h"
#include "clipembed/version.h"
