#!/usr/bin/env bash
# Installs the build into a temporary prefix, then builds examples/ out of the tree against that
# copy twice (CMake package, then pkg-config) and runs both builds on a fixture image.
#   install_test.sh BUILD_DIR SOURCE_DIR
set -euo pipefail
build=$1
source=$2
work=$(mktemp -d)
trap 'rm -rf "$work"' EXIT
prefix=$work/prefix

cmake --install "$build" --prefix "$prefix" >/dev/null
for f in bin/clipembed include/clipembed/clipembed.h lib/libclipembed.a \
         lib/cmake/clipembed/clipembedConfig.cmake lib/pkgconfig/clipembed.pc; do
  [[ -e "$prefix/$f" ]] || { echo "not installed: $f"; exit 1; }
done
"$prefix/bin/clipembed" --version

model=$source/tests/fixtures/models/tiny
image=$source/tests/fixtures/images/gray.png

# find_package(clipembed) with the imported target clipembed::clipembed.
cmake -S "$source/examples" -B "$work/cmake-build" -DCMAKE_PREFIX_PATH="$prefix" \
      -DCMAKE_BUILD_TYPE=Release >/dev/null
cmake --build "$work/cmake-build" -j 2 >/dev/null
out=$("$work/cmake-build/embed_example" "$model" "$image" "$image")
echo "$out"
grep -q "cosine to first: 1.0000" <<<"$out"

# pkg-config: one compile-and-link line, as a Makefile user would write it.
PKG_CONFIG_PATH="$prefix/lib/pkgconfig" \
  c++ -std=c++20 -O1 "$source/examples/embed_example.cc" -o "$work/pc_example" \
  $(PKG_CONFIG_PATH="$prefix/lib/pkgconfig" pkg-config --cflags --libs clipembed)
"$work/pc_example" "$model" "$image" | grep -q "cosine to first: 1.0000"
echo "install test: CMake package and pkg-config builds ran"
