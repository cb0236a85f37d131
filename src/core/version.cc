#include "clipembed/version.h"

#include "kernels/gemm_bf16.h"
#include "kernels/isa.h"

namespace clipembed {

const char* version() { return CLIPEMBED_VERSION; }
const char* build_commit() { return CLIPEMBED_COMMIT; }
const char* kernel_isa() { return kernels::isa_name(kernels::active_isa()); }
const char* bf16_kernel() { return kernels::bf16_path_name(); }

}  // namespace clipembed
