// What a person types into a search box, turned into an SQLite FTS5 query.
//
// The language: words separated by spaces must all occur (AND); "a quoted phrase" must occur as
// written; a word or phrase ending in * matches as a prefix (amia*); OR between two terms accepts
// either. Everything else is text: each term is passed to FTS5 as a quoted string, so no input
// can reach FTS5's own syntax (column filters, NEAR, parentheses) or make the query invalid.
// Matching folds case and diacritics (the index's unicode61 tokenizer, migrations.h).
#pragma once

#include <string>
#include <string_view>
#include <vector>

#include "core/error.h"

namespace podfleet {

// One term of a search: a word or a quoted phrase, matched as a prefix when `prefix`.
struct SearchTerm {
  std::string text;
  bool prefix = false;
};

// The search as an AND of groups, each an OR of terms ("a b OR c" is a AND (b OR c)), for stores
// that build their own query language from it (PostgreSQL's tsquery, store_pg_transcripts.cc).
// kInvalidArgument when it holds no term to search for.
Result<std::vector<std::vector<SearchTerm>>> ParseSearch(std::string_view text);

// The FTS5 MATCH expression for `text`. kInvalidArgument when it holds no term to search for
// (empty, only spaces or quotes, or only OR).
Result<std::string> ToFtsQuery(std::string_view text);

}  // namespace podfleet
