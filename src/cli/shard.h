// Internal: `embed --shard K/N` and `clipembed merge`, the array-job path (docs/scale-out.md).
//
// Shard K of N takes inputs K, K+N, K+2N... of the streamed input (0-based K), so every process
// of an array job walks the same sorted input and no list needs splitting beforehand. Next to its
// npy output it writes FILE.shard.json: the shard, the count, how many inputs it took and which
// of them (by position within the shard) failed, which is what merge needs to restore the
// order of the unsharded run.
#pragma once

#include <cstddef>
#include <string>
#include <unordered_set>
#include <vector>

namespace clipembed::cli {

struct Shard {
  size_t index = 0;  // K, 0-based.
  size_t count = 1;  // N.
  bool takes(size_t ordinal) const { return ordinal % count == index; }
};

// Parses "K/N" with 0 <= K < N. Throws Error(kInvalidArgument) saying what a shard looks like.
Shard parse_shard(const std::string& text);

// Writes npy_path + ".shard.json" (through a temporary file and a rename): `inputs` are the
// shard's inputs in order, `failed` the inputs its errors file names.
void write_shard_manifest(const std::string& npy_path, const Shard& shard,
                          const std::vector<std::string>& inputs,
                          const std::unordered_set<std::string>& failed);

// Joins npy outputs (of `embed --output X.npy`, `--shard`, or clipembed.dask partitions) into
// `output` (+ .paths.txt + .errors.jsonl) in input order: shards interleaved as their manifests
// say (all N of them must be given, each once), other files concatenated in the order given.
// Returns the rows written. Throws Error (kInvalidArgument, kIo) naming the file at fault;
// nothing is written then.
size_t merge_outputs(const std::vector<std::string>& inputs, const std::string& output);

}  // namespace clipembed::cli
