#include "clipembed/version.h"

namespace clipembed {

const char* version() { return CLIPEMBED_VERSION; }
const char* build_commit() { return CLIPEMBED_COMMIT; }

}  // namespace clipembed
