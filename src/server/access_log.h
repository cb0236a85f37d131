// Internal: the server's access log, one line per answered request on stderr.
//   text: 2026-11-30T14:02:03.512Z 4f1c9a0b2d3e4f50 POST /v1/embeddings 200 12.4ms items=2
//         in=1532B out=4410B model=clip
//   json: {"time": "...", "request_id": "...", "method": "POST", "route": "/v1/embeddings",
//          "status": 200, "duration_ms": 12.4, "items": 2, "bytes_in": 1532, "bytes_out": 4410,
//          "model": "clip"}
// A failure adds its error code (error=image_decode). Only what the server chose is written (the
// route, not the raw target; a sanitized request id): never a request body, header or key.
#pragma once

#include <string>
#include <string_view>

#include "server/http_connection.h"

namespace clipembed::server {

enum class LogFormat { kText, kJson, kOff };

// The line for one request, without its newline.
std::string access_log_line(const RequestRecord& record, LogFormat format);

// Writes the line to stderr in one write (lines from concurrent requests never interleave).
void write_access_log(const RequestRecord& record, LogFormat format);

// The server's other stderr lines (starting, loading, signals, stopping, fatal errors), in the
// same format as the access log, so that with json every line on stderr is one JSON object:
//   text: clipembed serve: SIGTERM received, draining
//   json: {"time": "...", "level": "info", "message": "SIGTERM received, draining"}
// (off turns off the access log only: these lines are then written as text.)
std::string event_log_line(std::string_view level, std::string_view message, LogFormat format);
void write_event_log(std::string_view level, std::string_view message, LogFormat format);

}  // namespace clipembed::server
