// The Unicode data of the BPE tokenizer (general categories, White_Space, canonical combining
// classes, canonical decompositions and compositions), generated into unicode_tables.cpp by
// scripts/make_unicode_tables.py. Every table is sorted by its first column.
#pragma once

#include <cstddef>
#include <cstdint>

namespace xlstm::generation::unicode {

struct CodeRange {
  uint32_t first, last;  // inclusive
};
struct ClassRange {
  uint32_t first, last;
  uint8_t combining_class;
};
struct Decomposition {
  uint32_t code, first, second;  // second 0: a singleton mapping
};
struct Composition {
  uint32_t first, second, composite;
};

extern const CodeRange kLetters[];
extern const size_t kLettersSize;
extern const CodeRange kNumbers[];
extern const size_t kNumbersSize;
extern const CodeRange kWhiteSpace[];
extern const size_t kWhiteSpaceSize;
extern const ClassRange kCombiningClasses[];
extern const size_t kCombiningClassesSize;
extern const Decomposition kDecompositions[];
extern const size_t kDecompositionsSize;
extern const Composition kCompositions[];
extern const size_t kCompositionsSize;

}  // namespace xlstm::generation::unicode
