// Internal: files assembled into the library's read-only data with .incbin. The translation unit
// that uses it is compiled with CLIPEMBED_DATA_DIR (the repository's data/ directory) and lists
// the files in its OBJECT_DEPENDS, so an edit to one rebuilds it. For data too large for a
// generated C array to compile quickly, or that must not depend on an install location.
#pragma once

// Defines symbol_begin and symbol_end around the bytes of CLIPEMBED_DATA_DIR/file.
#define CLIPEMBED_INCBIN(symbol, file)         \
  __asm__(                                     \
      ".section .rodata\n"                     \
      ".global " #symbol                       \
      "_begin\n"                               \
      ".hidden " #symbol "_begin\n" #symbol    \
      "_begin:\n"                              \
      ".incbin \"" CLIPEMBED_DATA_DIR "/" file \
      "\"\n"                                   \
      ".global " #symbol                       \
      "_end\n"                                 \
      ".hidden " #symbol "_end\n" #symbol      \
      "_end:\n"                                \
      ".previous\n");                          \
  extern "C" const char symbol##_begin[];      \
  extern "C" const char symbol##_end[];
