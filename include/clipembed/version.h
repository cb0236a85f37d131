// clipembed/version.h: which clipembed this is.
//
//   std::printf("clipembed %s (%s)\n", clipembed::version(), clipembed::build_commit());
//
// Thread-safe: constants.
#pragma once

namespace clipembed {

// The release version, e.g. "0.1.0".
const char* version();
// The git commit the library was built from (short hash), or "unknown".
const char* build_commit();

}  // namespace clipembed
